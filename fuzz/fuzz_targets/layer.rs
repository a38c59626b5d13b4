#![no_main]
//! Layers: any bytes, fed in any pieces, as tar, tar+gzip or tar+zstd (the first
//! byte picks the packing, the second the piece size); the blob's digest is its own,
//! so the reader goes past the digest check into the decoders and the tar parser. It
//! must end in `Ok` or an `Err`, never a panic, and never keep more than a bounded
//! amount (the sink counts what it was given). A plain tar that both this reader and
//! the tar crate's own read whole must give the same paths, kinds and sizes.
use libfuzzer_sys::fuzz_target;
use regpeek_layer::{Reader, Take};

struct Count(std::rc::Rc<std::cell::Cell<u64>>);

impl std::io::Write for Count {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.set(self.0.get() + buf.len() as u64);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let [kind, step, blob @ ..] = data else {
        return;
    };
    let media_type = match kind % 3 {
        0 => "application/vnd.oci.image.layer.v1.tar",
        1 => "application/vnd.oci.image.layer.v1.tar+gzip",
        _ => "application/vnd.oci.image.layer.v1.tar+zstd",
    };
    let digest = regpeek_proto::Digest::sha256(blob);
    let Ok(mut reader) = Reader::new(media_type, &digest, blob.len() as u64) else {
        return;
    };
    let given = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let (g, s) = (given.clone(), seen.clone());
    let mut visit = move |e: &regpeek_layer::Entry| {
        assert!(!e.path.starts_with('/') && !e.path.split('/').any(|c| c == ".."));
        s.borrow_mut().push((e.path.clone(), e.size));
        Take::Bytes(Box::new(Count(g.clone())))
    };
    for piece in blob.chunks(usize::from(*step).max(1)) {
        if reader.feed(piece, &mut visit).is_err() {
            return;
        }
    }
    let ours = reader.finish(&mut visit);
    assert!(given.get() <= regpeek_layer::MAX_UNPACKED);
    if kind % 3 == 0 && ours.is_ok() {
        if let Some(reference) = by_the_tar_crate(blob) {
            assert_eq!(*seen.borrow(), reference);
        }
    }
});

/// (path, size) of each entry as the tar crate reads `blob`, when it reads it whole.
fn by_the_tar_crate(blob: &[u8]) -> Option<Vec<(String, u64)>> {
    let mut out = Vec::new();
    let mut archive = tar::Archive::new(blob);
    for entry in archive.entries().ok()? {
        let entry = entry.ok()?;
        let t = entry.header().entry_type();
        if t.is_gnu_sparse() {
            return None;
        }
        let path = regpeek_layer::normalize(&String::from_utf8_lossy(&entry.path_bytes()));
        if path.is_empty() {
            continue;
        }
        if path.len() > regpeek_layer::MAX_PATH {
            return None;
        }
        out.push((path, entry.size()));
    }
    Some(out)
}
