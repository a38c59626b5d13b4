use std::cell::RefCell;
use std::io::Write as _;
use std::rc::Rc;

use super::*;

const TAR: &str = "application/vnd.oci.image.layer.v1.tar";
const GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// Written by the `zstd` program (1.5.4), not by the decoder under test: a tar of
/// `etc/os-release`, `usr/bin/sh` and `usr/bin/big` (300000 × `z`), cut in two frames
/// (level 19, then level 3, each with a content checksum) with a skippable frame
/// between them.
const FRAMES: &[u8] = include_bytes!("../testdata/frames.tar.zst");
/// `zstd --ultra -22 --long=27` from a pipe: a frame that asks for a 128 MiB window.
const WINDOW_128M: &[u8] = include_bytes!("../testdata/window-128m.tar.zst");

type Files = Vec<(String, Kind, Vec<u8>)>;
/// A file's bytes as a sink wrote them.
type Buffer = Rc<RefCell<Vec<u8>>>;

/// A sink whose bytes the test reads back.
struct Sink(Rc<RefCell<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Reads `blob` fed in pieces of `step` bytes; every entry, with a regular file's bytes.
fn read_in(media_type: &str, blob: &[u8], step: usize) -> Result<Files, String> {
    let digest = Digest::sha256(blob);
    let mut reader =
        Reader::new(media_type, &digest, blob.len() as u64).map_err(|e| e.to_string())?;
    let kept: Rc<RefCell<Vec<(String, Kind, Buffer)>>> = Rc::default();
    let k = kept.clone();
    let mut visit = move |e: &Entry| {
        let buf = Rc::new(RefCell::new(Vec::new()));
        k.borrow_mut()
            .push((e.path.clone(), e.kind.clone(), buf.clone()));
        if e.kind == Kind::File {
            Take::Bytes(Box::new(Sink(buf)))
        } else {
            Take::Skip
        }
    };
    for piece in blob.chunks(step.max(1)) {
        reader.feed(piece, &mut visit).map_err(|e| e.to_string())?;
    }
    reader.finish(&mut visit).map_err(|e| e.to_string())?;
    let files = kept
        .borrow()
        .iter()
        .map(|(p, k, b)| (p.clone(), k.clone(), b.borrow().clone()))
        .collect();
    Ok(files)
}

fn read(media_type: &str, blob: &[u8]) -> Result<Files, String> {
    read_in(media_type, blob, 64 << 10)
}

fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(raw).unwrap();
    gz.finish().unwrap()
}

fn header(path: &str, kind: u8, size: u64) -> Vec<u8> {
    let mut h = tar::Header::new_ustar();
    h.set_path(path).unwrap();
    h.set_entry_type(tar::EntryType::new(kind));
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    h.set_cksum();
    h.as_bytes().to_vec()
}

fn padded(data: &[u8]) -> Vec<u8> {
    let mut v = data.to_vec();
    v.resize(data.len().div_ceil(512) * 512, 0);
    v
}

/// PAX records (`LEN key=value\n`, LEN counting itself).
fn pax_records(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        let body = format!(" {k}={v}\n");
        let mut n = body.len() + 1;
        while format!("{n}{body}").len() != n {
            n += 1;
        }
        out.push_str(&format!("{n}{body}"));
    }
    out
}

/// A tar of every kind of header a layer may hold: plain files, a directory, links,
/// a GNU long name and long link, a PAX header with a path, size and owner, a PAX
/// global header, and the end blocks.
fn every_kind() -> Vec<u8> {
    let mut t = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o755);
    h.set_entry_type(tar::EntryType::Directory);
    h.set_size(0);
    h.set_cksum();
    t.append_data(&mut h, "etc/", &b""[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(5);
    h.set_cksum();
    t.append_data(&mut h, "./etc/hostname", &b"box1\n"[..])
        .unwrap();
    // Past 100 bytes: a GNU long name ('L'), and a long link ('K').
    let long = format!("usr/share/{}/file", "d".repeat(150));
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(3);
    h.set_cksum();
    t.append_data(&mut h, &long, &b"abc"[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    t.append_link(&mut h, "usr/link", &long).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Link);
    h.set_size(0);
    t.append_link(&mut h, "usr/hard", "etc/hostname").unwrap();
    let mut raw = t.into_inner().unwrap();
    // The end blocks go; PAX headers follow, then the end again.
    raw.truncate(raw.len() - 1024);
    let global = pax_records(&[("comment", "made by hand")]);
    raw.extend(header("pax_global_header", b'g', global.len() as u64));
    raw.extend(padded(global.as_bytes()));
    let pax_path = format!("opt/{}/pax", "p".repeat(200));
    let local = pax_records(&[("path", &pax_path), ("uid", "1234"), ("size", "7")]);
    raw.extend(header("PaxHeaders/x", b'x', local.len() as u64));
    raw.extend(padded(local.as_bytes()));
    // The header says 0; the PAX size (7) is the one that holds.
    raw.extend(header("short-name", b'0', 0));
    raw.extend(padded(b"paxdata"));
    raw.extend([0u8; 1024]);
    raw
}

#[test]
fn every_kind_of_header_is_read() {
    let files = read(TAR, &every_kind()).unwrap();
    let long = format!("usr/share/{}/file", "d".repeat(150));
    let pax_path = format!("opt/{}/pax", "p".repeat(200));
    let want: Files = vec![
        ("etc".into(), Kind::Dir, vec![]),
        ("etc/hostname".into(), Kind::File, b"box1\n".to_vec()),
        (long.clone(), Kind::File, b"abc".to_vec()),
        ("usr/link".into(), Kind::Symlink(long), vec![]),
        (
            "usr/hard".into(),
            Kind::Hardlink("etc/hostname".into()),
            vec![],
        ),
        (pax_path, Kind::File, b"paxdata".to_vec()),
    ];
    assert_eq!(files, want);
}

#[test]
fn any_split_of_the_input_reads_the_same() {
    // Sans-IO: the driver's chunks fall anywhere, in a header, a block, a frame.
    let raw = every_kind();
    let mut members = gzip(&raw[..700]);
    members.extend(gzip(&raw[700..]));
    for (media_type, blob) in [
        (TAR, raw.clone()),
        (GZIP, gzip(&raw)),
        (GZIP, members),
        (ZSTD, FRAMES.to_vec()),
    ] {
        let whole = read(media_type, &blob).unwrap();
        assert!(!whole.is_empty());
        for step in [1, 2, 3, 7, 511, 512, 513, 4096, 131_075] {
            assert_eq!(
                read_in(media_type, &blob, step).unwrap(),
                whole,
                "{media_type} {step}"
            );
        }
    }
}

#[test]
fn a_zstd_layer_of_several_frames_is_read_whole() {
    let files = read(ZSTD, FRAMES).unwrap();
    let names: Vec<&str> = files.iter().map(|(p, _, _)| p.as_str()).collect();
    assert_eq!(
        names,
        [
            "etc",
            "etc/os-release",
            "usr",
            "usr/bin",
            "usr/bin/sh",
            "usr/bin/big"
        ]
    );
    assert_eq!(files[1].2, b"ID=zstdlinux\nVERSION_ID=1\n");
    assert_eq!(files[5].2, vec![b'z'; 300_000]);
}

#[test]
fn broken_zstd_is_refused() {
    // Cut short, inside the second frame, and inside the skippable frame.
    let at = FRAMES
        .windows(4)
        .position(|w| w == [0x50, 0x2a, 0x4d, 0x18])
        .unwrap();
    for cut in [FRAMES.len() - 20, at + 10, at + 3, 2] {
        let e = read(ZSTD, &FRAMES[..cut]).unwrap_err();
        assert!(e.contains("truncated") || e.contains("zstd"), "{cut}: {e}");
    }
    // Not zstd at all; gzip said to be zstd, and the other way round.
    let gz = gzip(&every_kind());
    assert!(read(ZSTD, &gz).unwrap_err().contains("not a zstd frame"));
    assert!(read(GZIP, FRAMES).unwrap_err().contains("gzip"));
    let e = read(ZSTD, WINDOW_128M).unwrap_err();
    assert!(e.contains("window"), "{e}");
}

#[test]
fn bombs_are_refused() {
    // 70 MiB of zeros compress to KiBs: past the 64 MiB floor and the ratio.
    let mut raw = header("zeros", b'0', 70 << 20);
    raw.resize(512 + (70 << 20) + 1024, 0);
    let gz = gzip(&raw);
    let zs =
        ruzstd::encoding::compress_to_vec(&raw[..], ruzstd::encoding::CompressionLevel::Fastest);
    for (media_type, blob) in [(GZIP, gz), (ZSTD, zs)] {
        assert!(blob.len() < 1 << 20, "{}", blob.len());
        let e = read(media_type, &blob).unwrap_err();
        assert!(e.contains("decompression bomb"), "{media_type}: {e}");
    }
}

#[test]
fn lying_and_broken_tar_is_refused() {
    // A header that says 10 MiB where 100 bytes follow.
    let mut lying = header("big", b'0', 10 << 20);
    lying.extend([b'x'; 100]);
    let e = read(TAR, &lying).unwrap_err();
    assert!(e.contains("states a size its data does not have"), "{e}");
    // A header whose checksum is wrong; a size that is no number; a sparse file.
    let mut bad = header("a", b'0', 1);
    bad[0] ^= 1;
    assert!(read(TAR, &bad).unwrap_err().contains("checksum"));
    let mut bad = header("a", b'0', 1);
    bad[124..136].copy_from_slice(b"zzzzzzzzzzz\0");
    assert!(
        read(TAR, &bad).unwrap_err().contains("checksum")
            || read(TAR, &bad).unwrap_err().contains("size")
    );
    assert!(
        read(TAR, &header("s", b'S', 0))
            .unwrap_err()
            .contains("sparse")
    );
    // A path or link past the bound.
    let body = pax_records(&[("path", &"a/".repeat(MAX_PATH))]);
    let mut long = header("PaxHeaders/x", b'x', body.len() as u64);
    long.extend(padded(body.as_bytes()));
    long.extend(header("f", b'0', 0));
    assert!(read(TAR, &long).unwrap_err().contains("longer than"));
    // Truncated at every kind of place: never a panic, always an error.
    let raw = every_kind();
    // (At 512 the stream ends at a header boundary: a shorter tar, whole.)
    for cut in [1, 100, 511, 600, 1500, raw.len() - 1030] {
        assert!(read(TAR, &raw[..cut]).is_err(), "{cut}");
    }
}

#[test]
fn the_digest_and_size_are_checked_first() {
    let blob = gzip(&every_kind());
    let digest = Digest::sha256(b"something else");
    let mut reader = Reader::new(GZIP, &digest, blob.len() as u64).unwrap();
    let mut visit = |_: &Entry| Take::Skip;
    reader.feed(&blob, &mut visit).unwrap();
    let e = reader.finish(&mut visit).unwrap_err().to_string();
    assert!(e.contains("does not match its digest"), "{e}");
    // A corrupted blob whose contents also fail says the digest, the cause.
    let mut broken = blob.clone();
    broken[20] ^= 0xff;
    let digest = Digest::sha256(&blob);
    let mut reader = Reader::new(GZIP, &digest, blob.len() as u64).unwrap();
    reader.feed(&broken, &mut visit).unwrap();
    let e = reader.finish(&mut visit).unwrap_err().to_string();
    assert!(e.contains("does not match its digest"), "{e}");
    // More bytes than the descriptor says: refused as they come.
    let mut reader = Reader::new(GZIP, &digest, 10).unwrap();
    assert!(
        reader
            .feed(&blob, &mut visit)
            .unwrap_err()
            .to_string()
            .contains("larger than")
    );
    let mut reader = Reader::new(GZIP, &digest, blob.len() as u64 + 1).unwrap();
    reader.feed(&blob, &mut visit).unwrap();
    assert!(
        reader
            .finish(&mut visit)
            .unwrap_err()
            .to_string()
            .contains("descriptor says")
    );
}

#[test]
fn mangled_layers_never_panic() {
    // A bounded, deterministic mutation run over each packing (the fuzz target
    // `layer` goes further).
    let raw = every_kind();
    let mut x: u64 = 0x1234_5678;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for (media_type, blob) in [
        (TAR, raw.clone()),
        (GZIP, gzip(&raw)),
        (ZSTD, FRAMES.to_vec()),
    ] {
        for _ in 0..300 {
            let mut m = blob.clone();
            for _ in 0..1 + next() % 4 {
                let i = (next() as usize) % m.len();
                m[i] = next() as u8;
            }
            let cut = (next() as usize) % (m.len() + 1);
            let _ = read_in(media_type, &m[..cut.max(1)], 1 + (next() as usize) % 700);
        }
    }
}

#[test]
fn paths_and_whiteouts() {
    assert_eq!(normalize("./a//b/../c/"), "a/c");
    assert_eq!(normalize("/../../etc/x"), "etc/x");
    assert_eq!(whiteout("a/.wh.b"), Some(("a/b".into(), false)));
    assert_eq!(whiteout(".wh.b"), Some(("b".into(), false)));
    assert_eq!(whiteout("a/.wh..wh..opq"), Some(("a".into(), true)));
    assert_eq!(whiteout("a/b"), None);
    assert_eq!(packing(ZSTD), Ok(Packing::Zstd));
    assert!(packing("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip").is_err());
}

/// Written by GNU tar 1.34 (`--format=pax` and `--format=gnu`, as in
/// `testdata/README`): a 120-byte directory name, a file under it past 200 bytes of
/// path, a symbolic link to it (a long link target), a hard link, an empty directory.
const GNU_TARS: [&[u8]; 2] = [
    include_bytes!("../testdata/pax.tar"),
    include_bytes!("../testdata/gnu.tar"),
];

/// An entry as a test compares it: path, kind, bytes, mode, uid, gid, mtime.
type Seen = (String, Kind, Vec<u8>, u32, u64, u64, u64);

/// What the tar crate's own reader (the reference) makes of `raw`.
fn by_the_tar_crate(raw: &[u8]) -> Vec<Seen> {
    use std::io::Read as _;
    let mut out = Vec::new();
    let mut archive = tar::Archive::new(raw);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let h = entry.header().clone();
        let path = normalize(&String::from_utf8_lossy(&entry.path_bytes()));
        if path.is_empty() {
            continue;
        }
        let link = || String::from_utf8_lossy(&entry.link_name_bytes().unwrap()).into_owned();
        let t = h.entry_type();
        let kind = if t.is_file() {
            Kind::File
        } else if t.is_dir() {
            Kind::Dir
        } else if t.is_symlink() {
            Kind::Symlink(link())
        } else if t.is_hard_link() {
            Kind::Hardlink(normalize(&link()))
        } else {
            Kind::Other(t.as_byte() as char)
        };
        let mut data = Vec::new();
        if kind == Kind::File {
            entry.read_to_end(&mut data).unwrap();
        }
        let uid = entry.header().uid().unwrap();
        out.push((
            path,
            kind,
            data,
            h.mode().unwrap(),
            uid,
            h.gid().unwrap(),
            h.mtime().unwrap(),
        ));
    }
    out
}

#[test]
fn gnu_tar_archives_read_as_the_tar_crate_reads_them() {
    // A differential check against the reference reader, on archives GNU tar wrote.
    for raw in GNU_TARS {
        let want = by_the_tar_crate(raw);
        assert!(
            want.iter().any(|e| e.0.len() > 200),
            "a long path is in the vector"
        );
        let digest = Digest::sha256(raw);
        let mut reader = Reader::new(TAR, &digest, raw.len() as u64).unwrap();
        let got: Rc<RefCell<Vec<(Entry, Buffer)>>> = Rc::default();
        let g = got.clone();
        let mut visit = move |e: &Entry| {
            let buf: Buffer = Rc::default();
            g.borrow_mut().push((e.clone(), buf.clone()));
            if e.kind == Kind::File {
                Take::Bytes(Box::new(Sink(buf)))
            } else {
                Take::Skip
            }
        };
        for piece in raw.chunks(100) {
            reader.feed(piece, &mut visit).unwrap();
        }
        reader.finish(&mut visit).unwrap();
        let got: Vec<Seen> = got
            .borrow()
            .iter()
            .map(|(e, b)| {
                (
                    e.path.clone(),
                    e.kind.clone(),
                    b.borrow().clone(),
                    e.mode,
                    e.uid,
                    e.gid,
                    e.mtime,
                )
            })
            .collect();
        assert_eq!(got, want);
    }
}

/// Each failure has its kind, so a caller chooses what to say by type, not text.
#[test]
fn failures_are_typed() {
    let kind = |media_type: &str, blob: &[u8], digest: &Digest, size: u64| {
        let mut visit = |_: &Entry| Take::Skip;
        let mut reader = match Reader::new(media_type, digest, size) {
            Ok(r) => r,
            Err(e) => return e,
        };
        match reader.feed(blob, &mut visit) {
            Err(e) => e,
            Ok(()) => reader.finish(&mut visit).unwrap_err(),
        }
    };
    let whole =
        |media: &str, blob: &[u8]| kind(media, blob, &Digest::sha256(blob), blob.len() as u64);
    // A bomb.
    let mut zeros = header("zeros", b'0', 70 << 20);
    zeros.resize(512 + (70 << 20) + 1024, 0);
    assert!(matches!(whole(GZIP, &gzip(&zeros)), Error::Bomb { .. }));
    // A digest mismatch, and sizes that are not the descriptor's.
    let blob = gzip(&every_kind());
    let other = Digest::sha256(b"x");
    assert!(matches!(
        kind(GZIP, &blob, &other, blob.len() as u64),
        Error::DigestMismatch { .. }
    ));
    let e = kind(GZIP, &blob, &Digest::sha256(&blob), blob.len() as u64 - 1);
    assert!(
        matches!(e, Error::SizeMismatch { read, size, .. } if read > size),
        "{e}"
    );
    assert!(e.to_string().contains("is larger than the"), "{e}");
    let e = kind(GZIP, &blob, &Digest::sha256(&blob), blob.len() as u64 + 1);
    assert!(
        matches!(e, Error::SizeMismatch { read, size, .. } if read < size),
        "{e}"
    );
    // Truncation, a malformed header, an unsupported format.
    let mut lying = header("big", b'0', 10 << 20);
    lying.extend([b'x'; 100]);
    assert!(matches!(whole(TAR, &lying), Error::Truncated { .. }));
    let mut bad = header("a", b'0', 1);
    bad[0] ^= 1;
    assert!(matches!(whole(TAR, &bad), Error::Malformed { .. }));
    let e = kind(
        "application/vnd.example.unknown",
        b"",
        &Digest::sha256(b""),
        0,
    );
    assert!(matches!(e, Error::Unsupported { .. }), "{e}");
}
