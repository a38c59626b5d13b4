#![no_main]
//! Layers: any bytes, fed in any pieces, as tar, tar+gzip or tar+zstd (the first
//! byte picks the packing, the second the piece size); the blob's digest is its own,
//! so the reader goes past the digest check into the decoders and the tar parser. It
//! must end in `Ok` or an `Err`, never a panic, and never keep more than a bounded
//! amount (the sink counts what it was given).
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
    let g = given.clone();
    let mut visit = move |e: &regpeek_layer::Entry| {
        assert!(!e.path.starts_with('/') && !e.path.split('/').any(|c| c == ".."));
        Take::Bytes(Box::new(Count(g.clone())))
    };
    for piece in blob.chunks(usize::from(*step).max(1)) {
        if reader.feed(piece, &mut visit).is_err() {
            return;
        }
    }
    let _ = reader.finish(&mut visit);
    assert!(given.get() <= regpeek_layer::MAX_UNPACKED);
});
