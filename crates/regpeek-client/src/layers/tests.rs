use std::io::Write as _;

use super::*;

const GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(raw).unwrap();
    gz.finish().unwrap()
}

fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        // Written as is (absolute, `..`): what a hostile layer may hold.
        h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append(&h, *data).unwrap();
    }
    tar.into_inner().unwrap()
}

fn desc(media_type: &str, bytes: &[u8]) -> Descriptor {
    serde_json::from_value(serde_json::json!({
        "mediaType": media_type,
        "digest": Digest::sha256(bytes).to_string(),
        "size": bytes.len(),
    }))
    .unwrap()
}

/// Reads `blob` as the layer `d`, keeping every file's bytes; `Err` as a string.
fn read(blob: &[u8], d: &Descriptor) -> Result<Vec<(String, Vec<u8>)>, String> {
    let kept: Rc<RefCell<Vec<(String, Buffer)>>> = Rc::default();
    let k = kept.clone();
    read_layer(blob, d, |e| {
        if e.kind != Kind::File {
            return Take::Skip;
        }
        let buf = Rc::new(RefCell::new(Vec::new()));
        k.borrow_mut().push((e.path.clone(), buf.clone()));
        Take::Bytes(Box::new(Sink(buf)))
    })
    .map_err(|e| format!("{e:#}"))?;
    let out = kept
        .borrow()
        .iter()
        .map(|(p, b)| (p.clone(), b.borrow().clone()))
        .collect();
    Ok(out)
}

use std::cell::RefCell;
use std::rc::Rc;

/// A file's bytes as a sink wrote them.
type Buffer = Rc<RefCell<Vec<u8>>>;

struct Sink(Buffer);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_layer_is_read_and_verified() {
    let blob = gzip(&tar_of(&[
        ("./etc/os-release", b"ID=x\n"),
        ("/usr/../bin/sh", b"#!"),
    ]));
    let got = read(&blob, &desc(GZIP, &blob)).unwrap();
    assert_eq!(
        got,
        [
            ("etc/os-release".to_owned(), b"ID=x\n".to_vec()),
            ("bin/sh".to_owned(), b"#!".to_vec())
        ]
    );
    // Several gzip members (pigz, eStargz): every one is read.
    let raw = tar_of(&[("a", b"1"), ("b", b"2")]);
    let mut blob = gzip(&raw[..512 * 2]);
    blob.extend(gzip(&raw[512 * 2..]));
    let names: Vec<String> = read(&blob, &desc(GZIP, &blob))
        .unwrap()
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(names, ["a", "b"]);
    // Plain tar too.
    let raw = tar_of(&[("a", b"1")]);
    let plain = "application/vnd.oci.image.layer.v1.tar";
    assert_eq!(read(&raw, &desc(plain, &raw)).unwrap().len(), 1);
}

#[test]
fn nothing_unverified_is_used() {
    let blob = gzip(&tar_of(&[("secret", b"tampered")]));
    let mut d = desc(GZIP, &blob);
    d.digest = Digest::sha256(b"something else");
    let err = read(&blob, &d).unwrap_err();
    assert!(err.contains("does not match its digest"), "{err}");
    // A size that lies, longer or shorter.
    let mut d = desc(GZIP, &blob);
    d.size += 10;
    assert!(
        read(&blob, &d)
            .unwrap_err()
            .contains("bytes where its descriptor says")
    );
    let mut d = desc(GZIP, &blob);
    d.size -= 10;
    assert!(read(&blob, &d).unwrap_err().contains("larger than"));
    // Truncated: the gzip stream or the tar stream breaks, or the digest does.
    let cut = &blob[..blob.len() / 2];
    let mut d = desc(GZIP, &blob);
    d.size = cut.len() as u64;
    assert!(read(cut, &d).is_err());
    // A tar header that claims more data than follows.
    let mut raw = tar_of(&[("f", b"12345678")]);
    raw[124..135].copy_from_slice(b"00004000000"); // 1 MiB, in octal
    let mut h = tar::Header::new_gnu();
    h.as_mut_bytes().copy_from_slice(&raw[..512]);
    h.set_cksum();
    raw[..512].copy_from_slice(h.as_bytes());
    let blob = gzip(&raw[..1024]);
    assert!(read(&blob, &desc(GZIP, &blob)).is_err());
}

#[test]
fn a_decompression_bomb_is_refused() {
    // 200 MiB of zeros compress to about 200 KiB: a ratio near 1000.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let mut h = tar::Header::new_gnu();
    h.set_path("zeros").unwrap();
    h.set_size(70 << 20);
    h.set_cksum();
    gz.write_all(h.as_bytes()).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..200 {
        gz.write_all(&chunk).unwrap();
    }
    let blob = gz.finish().unwrap();
    let err = read(&blob, &desc(GZIP, &blob)).unwrap_err();
    assert!(err.contains("decompression bomb"), "{err}");
}

#[test]
fn paths_whiteouts_and_packings() {
    assert_eq!(normalize("/a/./b/../c//d"), "a/c/d");
    assert_eq!(normalize("../../etc/passwd"), "etc/passwd");
    assert_eq!(whiteout("tmp/.wh.gone"), Some(("tmp/gone".into(), false)));
    assert_eq!(whiteout(".wh.top"), Some(("top".into(), false)));
    assert_eq!(
        whiteout("opt/old/.wh..wh..opq"),
        Some(("opt/old".into(), true))
    );
    assert_eq!(whiteout("etc/motd"), None);
    assert_eq!(packing(GZIP), Ok(regpeek_layer::Packing::Gzip));
    assert_eq!(
        packing("application/vnd.docker.image.rootfs.diff.tar.gzip"),
        Ok(regpeek_layer::Packing::Gzip)
    );
    assert_eq!(
        packing("application/vnd.oci.image.layer.v1.tar+zstd"),
        Ok(regpeek_layer::Packing::Zstd)
    );
    assert!(
        packing("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip")
            .unwrap_err()
            .contains("foreign")
    );
    let long = format!("{}x", "a/".repeat(regpeek_layer::MAX_PATH));
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(0);
    h.set_cksum();
    tar.append_data(&mut h, &long, &[][..]).unwrap();
    let blob = gzip(&tar.into_inner().unwrap());
    assert!(
        read(&blob, &desc(GZIP, &blob))
            .unwrap_err()
            .contains("longer than")
    );
}

#[test]
fn the_run_index_is_bounded_in_bytes() {
    let entry = |path: String| Entry {
        path,
        kind: Kind::File,
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: 0,
        mtime: 0,
    };
    use crate::contents::Contents;
    let index = Index::default();
    let small = Digest::sha256(b"small");
    index.put(
        &small,
        Contents::listed(vec![entry("etc/os-release".into())], vec![None]),
    );
    assert_eq!(index.get(&small).unwrap()[0].path, "etc/os-release");
    // Long paths weigh what they hold: a layer past the bound is not kept (and is
    // read again when asked), and the ones kept before stay.
    let big = Digest::sha256(b"big");
    let long: Vec<Entry> = (0..5000)
        .map(|i| entry(format!("{i}/{}", "p".repeat(regpeek_layer::MAX_PATH - 8))))
        .collect();
    assert!(long.iter().map(Entry::weight).sum::<usize>() > MAX_INDEXED);
    let n = long.len();
    assert_eq!(
        index.put(&big, Contents::listed(long, vec![None; n])).len(),
        5000
    );
    assert!(index.get(&big).is_none());
    assert!(index.get(&small).is_some());
}

#[test]
fn a_broken_layer_is_not_read_to_its_end() {
    // A bad header first, then 40 MiB: the error is known at once, and the rest is
    // not downloaded just to hash it (a hostile layer may be gigabytes).
    let mut h = tar::Header::new_gnu();
    h.set_path("a").unwrap();
    h.set_size(0);
    h.set_cksum();
    let mut blob = h.as_bytes().to_vec();
    blob[0] ^= 1;
    blob.resize(40 << 20, 0);
    let d = desc("application/vnd.oci.image.layer.v1.tar", &blob);
    let read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    struct Counted<'a>(&'a [u8], std::sync::Arc<std::sync::atomic::AtomicU64>);
    impl std::io::Read for Counted<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = std::io::Read::read(&mut self.0, buf)?;
            self.1
                .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
            Ok(n)
        }
    }
    let e = read_layer(Counted(&blob, read.clone()), &d, |_| Take::Skip).unwrap_err();
    assert!(format!("{e:#}").contains("checksum"), "{e:#}");
    let read = read.load(std::sync::atomic::Ordering::Relaxed);
    assert!(read < 20 << 20, "{read} bytes read");
    // A smaller one is read to its end, so that a corrupted blob says so.
    let mut small = blob[..1 << 20].to_vec();
    let d = desc("application/vnd.oci.image.layer.v1.tar", &small);
    small[700] = 1;
    let e = read_layer(&small[..], &d, |_| Take::Skip).unwrap_err();
    assert!(
        format!("{e:#}").contains("does not match its digest"),
        "{e:#}"
    );
}
