//! eStargz layers (containerd's stargz-snapshotter format) and `lab/esgz`.

use flate2::Compression;
use serde_json::json;

use super::*;

/// An eStargz layer of `nodes` (containerd's stargz-snapshotter format): each
/// tar header, and each `chunk`-byte piece of a file (64 KiB pieces for files past
/// 4 KiB), in a gzip member of its own;
/// then the TOC (`stargz.index.json`) in a member of its own; then the 51-byte
/// footer that says where the TOC starts. The blob carries the TOC's digest as the
/// `containerd.io/snapshot/stargz/toc.digest` annotation of its descriptor.
pub fn estargz_layer(nodes: &[Node], chunk: usize) -> (Blob, String) {
    // What every tar header says (`h.set_mtime` below), as the TOC spells it.
    const MODTIME: &str = "2024-01-02T03:04:05Z";
    let member = |bytes: &[u8]| gzip(bytes, Compression::default());
    let header = |path: &str, kind: tar::EntryType, size: u64, link: Option<&str>| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(match kind {
            tar::EntryType::Directory => 0o755,
            tar::EntryType::Symlink => 0o777,
            _ => 0o644,
        });
        h.set_mtime(1_704_164_645);
        if let Some(l) = link {
            h.set_link_name(l).expect("short test links");
        }
        h.set_path(path).expect("short test paths");
        h.set_cksum();
        h.as_bytes().to_vec()
    };
    let mut out = Vec::new();
    let mut toc = Vec::new();
    for node in nodes {
        match node {
            Node::File(path, data) => {
                out.extend(member(&header(
                    path,
                    tar::EntryType::Regular,
                    data.len() as u64,
                    None,
                )));
                // Files past 4 KiB go in 64 KiB chunks (a TOC entry each).
                let chunk = if data.len() > 4096 { 64 << 10 } else { chunk };
                let pieces: Vec<&[u8]> = data.chunks(chunk.max(1)).collect();
                let pad = (512 - data.len() % 512) % 512;
                for (i, piece) in pieces.iter().enumerate() {
                    let offset = out.len();
                    let mut bytes = piece.to_vec();
                    if i + 1 == pieces.len() {
                        bytes.extend(std::iter::repeat_n(0u8, pad));
                    }
                    out.extend(member(&bytes));
                    let mut e = json!({
                        "name": path, "offset": offset, "chunkOffset": i * chunk,
                        "chunkSize": if pieces.len() > 1 { piece.len() } else { 0 },
                        "chunkDigest": sha256(piece),
                    });
                    e["modtime"] = json!(MODTIME);
                    if i == 0 {
                        e["type"] = json!("reg");
                        e["size"] = json!(data.len());
                        e["digest"] = json!(sha256(data));
                        e["mode"] = json!(0o644);
                    } else {
                        e["type"] = json!("chunk");
                    }
                    toc.push(e);
                }
            }
            Node::Dir(path) => {
                out.extend(member(&header(path, tar::EntryType::Directory, 0, None)));
                toc.push(json!({"name": path, "type": "dir", "mode": 0o755, "modtime": MODTIME}));
            }
            Node::Symlink(path, target) => {
                out.extend(member(&header(
                    path,
                    tar::EntryType::Symlink,
                    0,
                    Some(target),
                )));
                toc.push(
                    json!({"name": path, "type": "symlink", "linkName": target, "mode": 0o777, "modtime": MODTIME}),
                );
            }
            Node::Hardlink(path, target) => {
                out.extend(member(&header(path, tar::EntryType::Link, 0, Some(target))));
                toc.push(json!({"name": path, "type": "hardlink", "linkName": target, "mode": 0o644, "modtime": MODTIME}));
            }
        }
    }
    let index = canonical(&json!({"version": 1, "entries": toc}));
    let toc_digest = sha256(&index);
    let toc_offset = out.len();
    let mut tar_toc = header(
        "stargz.index.json",
        tar::EntryType::Regular,
        index.len() as u64,
        None,
    );
    tar_toc.extend(&index);
    tar_toc.extend(std::iter::repeat_n(
        0u8,
        (512 - index.len() % 512) % 512 + 1024,
    ));
    out.extend(member(&tar_toc));
    // The footer: an empty gzip member whose extra field says where the TOC starts.
    out.extend([
        0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, 26, 0, b'S', b'G', 22, 0,
    ]);
    out.extend(format!("{toc_offset:016x}STARGZ").as_bytes());
    out.extend([0x01, 0x00, 0x00, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
    (Blob::new(media::OCI_LAYER, out), toc_digest)
}

/// `lab/esgz`: one eStargz layer (a link to `os-release`, a directory, a file of
/// several 16-byte chunks, and 256 KiB of incompressible filler in 64 KiB chunks), for
/// `cat` that reads the TOC and the chunks it needs, and no more.
pub fn estargz_image() -> Image {
    estargz_image_annotated(None)
}

/// [`estargz_image`], its layer annotated with `toc` instead of its TOC's digest
/// (`lab/esgz:badtoc`: a TOC that must not be trusted).
pub fn estargz_image_annotated(toc_override: Option<&str>) -> Image {
    let mut x: u32 = 0x2545_F491;
    let filler: Vec<u8> = (0..256 << 10)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    let (layer, toc) = estargz_layer(
        &[
            Node::Dir("etc"),
            Node::Symlink("etc/os-release", "../usr/lib/os-release"),
            Node::Dir("usr"),
            Node::Dir("usr/lib"),
            Node::File("usr/lib/os-release", b"ID=esgz\nVERSION_ID=1\n"),
            Node::File(
                "data/big.txt",
                b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n",
            ),
            Node::File("data/other.txt", b"not asked for\n"),
            // Incompressible, so that the layer is far larger than what `cat` reads.
            Node::File("data/filler.bin", &filler),
        ],
        16,
    );
    let mut desc = layer.descriptor();
    let toc = toc_override.map_or(toc, str::to_owned);
    desc["annotations"] = json!({"containerd.io/snapshot/stargz/toc.digest": toc});
    image_of(vec![(layer, desc)])
}
