//! Deterministic test images, built byte for byte without a Docker engine: the same
//! inputs give the same digests on every machine.

use std::io::Write as _;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};

/// The OCI and Docker media types the lab writes (OCI image spec `media-types.md`,
/// Docker image manifest v2 schema 2).
pub mod media {
    /// OCI image manifest.
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image index.
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// OCI image config.
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    /// Docker image manifest, schema 2.
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker image config.
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

    /// OCI gzip layer.
    pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    /// OCI zstd layer.
    pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
    /// Docker gzip layer.
    pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    /// in-toto statement.
    pub const IN_TOTO: &str = "application/vnd.in-toto+json";
}

/// One gzip member of `bytes`, at `level` (the lab's layers, eStargz members).
fn gzip(bytes: &[u8], level: Compression) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), level);
    gz.write_all(bytes).expect("in-memory gzip");
    gz.finish().expect("in-memory gzip")
}

/// `sha256:<hex>` of bytes.
pub fn sha256(bytes: &[u8]) -> String {
    regpeek_proto::Digest::sha256(bytes).to_string()
}

/// Content with its digest and media type.
#[derive(Debug, Clone)]
pub struct Blob {
    /// Media type.
    pub media_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// `sha256:…`.
    pub digest: String,
}

impl Blob {
    /// Wraps bytes.
    pub fn new(media_type: &str, bytes: Vec<u8>) -> Blob {
        Blob {
            media_type: media_type.to_owned(),
            digest: sha256(&bytes),
            bytes,
        }
    }

    /// An OCI descriptor for it.
    pub fn descriptor(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.bytes.len()})
    }
}

/// A gzip-compressed tar layer holding `files`, with all metadata fixed; returns the
/// layer and its diff ID (digest of the uncompressed tar).
pub fn layer(media_type: &str, files: &[(&str, &[u8])]) -> (Blob, String) {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_path(path).expect("short test paths");
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        tar.append(&h, *data).expect("in-memory tar");
    }
    let raw = tar.into_inner().expect("in-memory tar");
    let diff_id = sha256(&raw);
    (
        Blob::new(media_type, gzip(&raw, Compression::default())),
        diff_id,
    )
}

/// An entry of a [`layer_of`] layer.
#[derive(Debug, Clone)]
pub enum Node<'a> {
    /// A regular file and its bytes.
    File(&'a str, &'a [u8]),
    /// A directory.
    Dir(&'a str),
    /// A symbolic link at the first path to the second.
    Symlink(&'a str, &'a str),
    /// A hard link at the first path to the second.
    Hardlink(&'a str, &'a str),
}

/// A gzip-compressed tar layer of any entries (whiteouts are files named `.wh.…`),
/// every metadata fixed: mode 0644 (0755 for directories), uid and gid 0, mtime
/// 2024-01-02.
pub fn layer_of(media_type: &str, nodes: &[Node]) -> Blob {
    let raw = tar_of(nodes);
    Blob::new(media_type, gzip(&raw, Compression::default()))
}

/// [`layer_of`] compressed with zstd as zstd:chunked layers are: the tar cut in two
/// frames, with a skippable frame between them (RFC 8878 §3.1.2).
pub fn zstd_layer_of(nodes: &[Node]) -> Blob {
    use ruzstd::encoding::{CompressionLevel, compress_to_vec};
    let raw = tar_of(nodes);
    let cut = raw.len() / 2;
    let mut out = compress_to_vec(&raw[..cut], CompressionLevel::Fastest);
    out.extend(0x184D_2A5Eu32.to_le_bytes());
    out.extend(8u32.to_le_bytes());
    out.extend(b"lab-skip");
    out.extend(compress_to_vec(&raw[cut..], CompressionLevel::Fastest));
    Blob::new(media::OCI_LAYER_ZSTD, out)
}

/// The tar stream of `nodes`, every metadata fixed (see [`layer_of`]).
pub fn tar_of(nodes: &[Node]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for node in nodes {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_704_164_645);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mode(0o644);
        h.set_size(0);
        let (path, data): (&str, &[u8]) = match node {
            Node::File(p, d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(d.len() as u64);
                (p, d)
            }
            Node::Dir(p) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                (p, &[])
            }
            Node::Symlink(p, target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_link_name(target).expect("short test links");
                (p, &[])
            }
            Node::Hardlink(p, target) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_link_name(target).expect("short test links");
                (p, &[])
            }
        };
        h.set_path(path).expect("short test paths");
        h.set_cksum();
        tar.append(&h, data).expect("in-memory tar");
    }
    tar.into_inner().expect("in-memory tar")
}

/// The uncompressed tar stream of one of the lab's layers (every gzip member, every
/// zstd frame).
pub fn unpacked(layer: &Blob) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut raw = Vec::new();
    if layer.media_type.ends_with("zstd") {
        let mut rest = &layer.bytes[..];
        while !rest.is_empty() {
            let magic = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes"));
            if magic & 0xFFFF_FFF0 == 0x184D_2A50 {
                let len = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes")) as usize;
                rest = &rest[8 + len..];
                continue;
            }
            let mut frame = ruzstd::decoding::StreamingDecoder::new(&mut rest)
                .map_err(std::io::Error::other)?;
            frame.read_to_end(&mut raw)?;
        }
    } else if layer.media_type.ends_with("gzip") {
        flate2::read::MultiGzDecoder::new(&layer.bytes[..]).read_to_end(&mut raw)?;
    } else {
        raw.extend(&layer.bytes);
    }
    Ok(raw)
}

/// An OCI linux/amd64 image (`Cmd ["/bin/sh"]`, created 2024-01-02) of `layers`, base
/// first, each with its descriptor (which may carry annotations): its config lists
/// each layer's diff ID and one history entry per layer, as a builder writes them.
pub fn image_of(layers: Vec<(Blob, Value)>) -> Image {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|(b, _)| sha256(&unpacked(b).expect("the lab's own layers")))
        .collect();
    assemble(layers, diff_ids)
}

/// [`image_of`] with the diff IDs given.
fn assemble(layers: Vec<(Blob, Value)>, diff_ids: Vec<String>) -> Image {
    let history: Vec<Value> = (0..layers.len())
        .map(|i| json!({"created": "2024-01-02T03:04:05Z", "created_by": format!("COPY layer{i} / # buildkit")}))
        .collect();
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "created": "2024-01-02T03:04:05Z",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    });
    let config = Blob::new(media::OCI_CONFIG, canonical(&config));
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": layers.iter().map(|(_, d)| d.clone()).collect::<Vec<_>>(),
    });
    Image {
        manifest: Blob::new(media::OCI_MANIFEST, canonical_pretty(&manifest)),
        config,
        layers: layers.into_iter().map(|(b, _)| b).collect(),
    }
}

/// [`image_of`] layers with plain descriptors.
fn plain(layers: Vec<Blob>) -> Image {
    image_of(
        layers
            .into_iter()
            .map(|b| {
                let d = b.descriptor();
                (b, d)
            })
            .collect(),
    )
}

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

/// `lab/fs`: three layers that exercise a container's view of its files. The base
/// has a merged-usr layout (`bin` → `usr/bin`), an `os-release` reached through a
/// link (`etc/os-release` → `../usr/lib/os-release`), a directory `opt/old` and a
/// file `tmp/gone`; the middle layer deletes `tmp/gone` (a whiteout), makes `opt/old`
/// opaque with one new file, and hard-links `usr/bin/sh2` to `usr/bin/sh`; the top
/// layer changes `etc/motd` and adds a link that tries to leave the root, and two
/// links that point at each other.
pub fn fs_image() -> Image {
    let oci = media::OCI_LAYER;
    let base = layer_of(
        oci,
        &[
            Node::Dir("usr"),
            Node::Dir("usr/bin"),
            Node::File("usr/bin/sh", b"#!shell\n"),
            Node::Symlink("bin", "usr/bin"),
            Node::Dir("usr/lib"),
            Node::File(
                "usr/lib/os-release",
                b"NAME=\"Lab Linux\"\nID=lablinux\nVERSION_ID=\"3.1\"\nPRETTY_NAME=\"Lab Linux 3.1 (test)\"\n",
            ),
            Node::Dir("etc"),
            Node::Symlink("etc/os-release", "../usr/lib/os-release"),
            Node::File("etc/motd", b"old motd\n"),
            Node::Dir("opt"),
            Node::Dir("opt/old"),
            Node::File("opt/old/a", b"a\n"),
            Node::Dir("tmp"),
            Node::File("tmp/gone", b"deleted above\n"),
        ],
    );
    let middle = layer_of(
        oci,
        &[
            Node::File("tmp/.wh.gone", b""),
            Node::File("opt/old/.wh..wh..opq", b""),
            Node::File("opt/old/b", b"b\n"),
            Node::Hardlink("usr/bin/sh2", "usr/bin/sh"),
        ],
    );
    let top = layer_of(
        oci,
        &[
            Node::File("etc/motd", b"new motd\n"),
            Node::Symlink("etc/escape", "../../../../etc/motd"),
            Node::Symlink("etc/loop1", "loop2"),
            Node::Symlink("etc/loop2", "/etc/loop1"),
        ],
    );
    plain(vec![base, middle, top])
}

/// `lab/overlay`: three layers with every case of the overlay rules (docs/protocol.md
/// §8.2) that unpackers and regpeek must agree on: a directory replaced by a file and
/// by a symbolic link, each with and without a whiteout for the directory (BuildKit
/// and umoci write one, other tools do not); the usr-merge (`lib` → `usr/lib` over a
/// `lib` directory); a hard link whose target an upper layer replaces; an opaque
/// directory; a file deleted, then written again.
pub fn overlay_image() -> Image {
    let oci = media::OCI_LAYER;
    let base = layer_of(
        oci,
        &[
            Node::Dir("usr"),
            Node::Dir("usr/bin"),
            Node::File("usr/bin/tool", b"tool v1\n"),
            Node::Hardlink("usr/bin/tool-link", "usr/bin/tool"),
            Node::Symlink("bin", "usr/bin"),
            Node::Dir("usr/lib"),
            Node::File("usr/lib/libc.so", b"libc in usr\n"),
            Node::Dir("lib"),
            Node::File("lib/libc.so", b"libc in lib\n"),
            Node::Dir("lib64"),
            Node::File("lib64/ld.so", b"ld in lib64\n"),
            Node::Dir("srv"),
            Node::Dir("srv/plain"),
            Node::File("srv/plain/x", b"x\n"),
            Node::Dir("srv/marked"),
            Node::File("srv/marked/x", b"x\n"),
            Node::Dir("opt"),
            Node::Dir("opt/d"),
            Node::File("opt/d/x", b"x\n"),
            Node::File("opt/d/y", b"y\n"),
            Node::Dir("etc"),
            Node::File("etc/conf", b"conf v1\n"),
        ],
    );
    let middle = layer_of(
        oci,
        &[
            // Directories replaced: by a file and a link without a whiteout, and by a
            // file and a link with one.
            Node::File("srv/plain", b"now a file\n"),
            Node::Symlink("lib", "usr/lib"),
            Node::File("srv/.wh.marked", b""),
            Node::File("srv/marked", b"now a file too\n"),
            Node::File(".wh.lib64", b""),
            Node::Dir("usr/lib64"),
            Node::File("usr/lib64/ld.so", b"ld in usr/lib64\n"),
            Node::Symlink("lib64", "usr/lib64"),
            Node::File("opt/d/.wh..wh..opq", b""),
            Node::File("opt/d/z", b"z\n"),
            Node::File("etc/.wh.conf", b""),
        ],
    );
    let top = layer_of(
        oci,
        &[
            Node::File("usr/bin/tool", b"tool v2\n"),
            Node::File("etc/conf", b"conf v3\n"),
        ],
    );
    plain(vec![base, middle, top])
}

/// `lab/zstd`: a gzip base (`etc/os-release` → `../usr/lib/os-release`, `usr/bin/sh`,
/// `tmp/gone`) under a zstd layer of two frames and a skippable frame, which deletes
/// `tmp/gone`, changes `etc/motd` and adds `usr/bin/tool`.
pub fn zstd_image() -> Image {
    let base = layer_of(
        media::OCI_LAYER,
        &[
            Node::Dir("etc"),
            Node::Symlink("etc/os-release", "../usr/lib/os-release"),
            Node::File("etc/motd", b"gzip base\n"),
            Node::Dir("usr"),
            Node::Dir("usr/lib"),
            Node::File("usr/lib/os-release", b"ID=zlab\nVERSION_ID=\"2\"\n"),
            Node::Dir("usr/bin"),
            Node::File("usr/bin/sh", b"#!shell\n"),
            Node::Dir("tmp"),
            Node::File("tmp/gone", b"deleted above\n"),
        ],
    );
    let tool: Vec<u8> = (0..40_000u32)
        .flat_map(|i| (i % 251).to_le_bytes())
        .collect();
    let top = zstd_layer_of(&[
        Node::File("tmp/.wh.gone", b""),
        Node::File("etc/motd", b"zstd on top\n"),
        Node::File("usr/bin/tool", &tool),
    ]);
    plain(vec![base, top])
}

/// `lab/big` (pushed by `cargo xtask bench`, not by `lab seed`): a base layer of
/// `mib` MiB of incompressible bytes (`opt/big.bin`) under `etc/os-release`, and a
/// small top layer (`etc/motd`): for peak RSS and bytes fetched on a layer of any size.
pub fn big_image(mib: usize) -> Image {
    // xorshift64*: deterministic, and gzip cannot shrink it.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut big = Vec::with_capacity(mib << 20);
    while big.len() < mib << 20 {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        big.extend(x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    let fast =
        |nodes: &[Node]| Blob::new(media::OCI_LAYER, gzip(&tar_of(nodes), Compression::fast()));
    let base = fast(&[
        Node::Dir("etc"),
        Node::File("etc/os-release", b"ID=big\nVERSION_ID=1\n"),
        Node::Dir("opt"),
        Node::File("opt/big.bin", &big),
    ]);
    let top = fast(&[Node::File("etc/motd", b"on top of a big layer\n")]);
    plain(vec![base, top])
}

/// The tags of `lab/hostile`, each an image whose one layer a reader must refuse:
/// `bomb` (a gzip layer that unpacks to 128 MiB of zeros from about 130 KiB),
/// `lying` (a tar header that says 10 MiB where 100 bytes follow), `truncated` (a
/// gzip stream cut short, served as stored), and `mismatch` (a layer whose stored
/// bytes the lab overwrites after the push: the registry serves bytes that do not
/// hash to the digest it was asked for).
pub const HOSTILE_TAGS: [&str; 4] = ["bomb", "lying", "truncated", "mismatch"];

/// The images of [`HOSTILE_TAGS`], in that order.
pub fn hostile_images() -> Vec<Image> {
    let member = |bytes: &[u8]| gzip(bytes, Compression::best());
    let header = |path: &str, size: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_path(path).expect("short test paths");
        h.set_size(size);
        h.set_mode(0o644);
        h.set_mtime(1_704_164_645);
        h.set_cksum();
        h.as_bytes().to_vec()
    };
    // Members are concatenated: one MiB of zeros, compressed once, written 128 times.
    let mut bomb = member(&header("zeros", 128 << 20));
    let mib = member(&vec![0u8; 1 << 20]);
    for _ in 0..128 {
        bomb.extend(&mib);
    }
    bomb.extend(member(&[0u8; 1024]));
    let mut lying = header("big", 10 << 20);
    lying.extend([b'x'; 100]);
    lying.extend([0u8; 412 + 1024]);
    let lying = member(&lying);
    let whole = layer_of(
        media::OCI_LAYER,
        &[
            Node::Dir("etc"),
            Node::File("etc/os-release", b"ID=truncated\n"),
            Node::File("etc/filler", &[7u8; 4096]),
        ],
    );
    let truncated = whole.bytes[..whole.bytes.len() * 2 / 3].to_vec();
    let mismatch = layer_of(
        media::OCI_LAYER,
        &[
            Node::Dir("etc"),
            Node::File("etc/os-release", b"ID=mismatch\n"),
        ],
    );
    [bomb, lying, truncated, mismatch.bytes]
        .into_iter()
        .enumerate()
        .map(|(i, bytes)| {
            let b = Blob::new(media::OCI_LAYER, bytes);
            let d = b.descriptor();
            // Made up: the layers cannot be unpacked (or should not be) to hash them.
            let diff = sha256(format!("hostile layer {i}").as_bytes());
            assemble(vec![(b, d)], vec![diff])
        })
        .collect()
}

/// Bytes of the same length as `bytes` that hash to something else: what the lab
/// writes over a stored blob for `lab/hostile:mismatch`.
pub fn corrupted(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    if let Some(last) = out.last_mut() {
        *last ^= 0xff;
    }
    out
}

/// Writes `images` (each under its tag) as an OCI image layout in `dir`: `oci-layout`,
/// `index.json` (each tag an `org.opencontainers.image.ref.name`) and `blobs/sha256/`.
pub fn write_oci_layout(dir: &std::path::Path, images: &[(&str, &Image)]) -> std::io::Result<()> {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs)?;
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let mut manifests = Vec::new();
    for (tag, img) in images {
        for b in img.layers.iter().chain([&img.config, &img.manifest]) {
            std::fs::write(blobs.join(b.digest.trim_start_matches("sha256:")), &b.bytes)?;
        }
        let mut d = img.manifest.descriptor();
        d["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        manifests.push(d);
    }
    let index = json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": manifests});
    std::fs::write(dir.join("index.json"), canonical_pretty(&index))
}

/// Writes the OCI layout of [`write_oci_layout`] as one tar file (`oci-archive:`).
pub fn write_oci_archive(file: &std::path::Path, images: &[(&str, &Image)]) -> std::io::Result<()> {
    let dir = tempfile_dir(file)?;
    write_oci_layout(&dir, images)?;
    let mut tar = tar::Builder::new(std::fs::File::create(file)?);
    tar.mode(tar::HeaderMode::Deterministic);
    tar.append_dir_all(".", &dir)?;
    tar.into_inner()?.sync_all()?;
    std::fs::remove_dir_all(&dir)
}

/// A scratch directory next to `file`.
fn tempfile_dir(file: &std::path::Path) -> std::io::Result<std::path::PathBuf> {
    let dir = file.with_extension("layout.tmp");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Writes `images` (each under its `name:tag`) as `docker save` does (`docker-archive:`):
/// `manifest.json`, each config as `<hex>.json`, each layer uncompressed as
/// `<diff hex>/layer.tar`.
pub fn write_docker_archive(
    file: &std::path::Path,
    images: &[(&str, &Image)],
) -> std::io::Result<()> {
    let mut tar = tar::Builder::new(std::fs::File::create(file)?);
    let mut written = std::collections::BTreeSet::new();
    let mut add = |tar: &mut tar::Builder<std::fs::File>, name: &str, bytes: &[u8]| {
        if !written.insert(name.to_owned()) {
            return Ok(());
        }
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_704_164_645);
        h.set_cksum();
        tar.append_data(&mut h, name, bytes)
    };
    let mut manifest = Vec::new();
    for (name, img) in images {
        let config = format!("{}.json", img.config.digest.trim_start_matches("sha256:"));
        add(&mut tar, &config, &img.config.bytes)?;
        let mut layers = Vec::new();
        for l in &img.layers {
            let raw = unpacked(l)?;
            let path = format!("{}/layer.tar", sha256(&raw).trim_start_matches("sha256:"));
            add(&mut tar, &path, &raw)?;
            layers.push(path);
        }
        manifest.push(json!({"Config": config, "RepoTags": [name], "Layers": layers}));
    }
    add(&mut tar, "manifest.json", &canonical(&json!(manifest)))?;
    tar.into_inner()?.sync_all()
}

/// The lab's images with files in them, by repository (`lab/fs`…), each tagged `v1`:
/// what `lab seed` also writes to disk as an OCI layout (tags `fs`, `esgz`…), an
/// oci-archive and a docker-archive ([`write_layouts`]).
pub fn file_images() -> Vec<(&'static str, Image)> {
    vec![
        ("lab/fs", fs_image()),
        ("lab/overlay", overlay_image()),
        ("lab/esgz", estargz_image()),
        ("lab/zstd", zstd_image()),
        ("lab/rich", rich()),
    ]
}

/// Writes [`file_images`] under `dir`: `oci/` (an OCI layout, each tagged by the last
/// part of its name), `images.oci.tar` (the same as an oci-archive) and
/// `images.docker.tar` (a docker-archive, each named `lab/…:v1`).
pub fn write_layouts(dir: &std::path::Path) -> std::io::Result<()> {
    let images = file_images();
    let short: Vec<(&str, &Image)> = images
        .iter()
        .map(|(n, i)| (n.rsplit('/').next().unwrap_or(n), i))
        .collect();
    write_oci_layout(&dir.join("oci"), &short)?;
    write_oci_archive(&dir.join("images.oci.tar"), &short)?;
    let named: Vec<String> = images.iter().map(|(n, _)| format!("{n}:v1")).collect();
    let named: Vec<(&str, &Image)> = named
        .iter()
        .map(String::as_str)
        .zip(images.iter().map(|(_, i)| i))
        .collect();
    write_docker_archive(&dir.join("images.docker.tar"), &named)
}

/// One image: manifest, config and layers.
#[derive(Debug, Clone)]
pub struct Image {
    /// The manifest blob (digest = the image's digest).
    pub manifest: Blob,
    /// The config blob.
    pub config: Blob,
    /// Layers, base first.
    pub layers: Vec<Blob>,
}

/// What an image should contain.
pub struct Spec<'a> {
    /// `true` for Docker v2s2 media types, `false` for OCI.
    pub docker: bool,
    /// `os`, `architecture`, variant.
    pub platform: (&'a str, &'a str, Option<&'a str>),
    /// The `config` section of the image config.
    pub runtime: Value,
    /// Files, one layer each.
    pub layers: Vec<Vec<(&'a str, Vec<u8>)>>,
    /// Extra top-level config fields (created, author, docker_version…).
    pub extra: Value,
}

/// Builds an image from a spec.
pub fn build(spec: &Spec) -> Image {
    let (manifest_type, config_type, layer_type) = if spec.docker {
        (
            media::DOCKER_MANIFEST,
            media::DOCKER_CONFIG,
            media::DOCKER_LAYER,
        )
    } else {
        (media::OCI_MANIFEST, media::OCI_CONFIG, media::OCI_LAYER)
    };
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    let mut history = Vec::new();
    for (i, files) in spec.layers.iter().enumerate() {
        let borrowed: Vec<(&str, &[u8])> = files.iter().map(|(p, d)| (*p, d.as_slice())).collect();
        let (blob, diff) = layer(layer_type, &borrowed);
        layers.push(blob);
        diff_ids.push(diff);
        history.push(
            json!({"created": "2024-01-02T03:04:05Z", "created_by": format!("COPY layer{i} /")}),
        );
    }
    history.push(
        json!({"created": "2024-01-02T03:04:05Z", "created_by": "ENV lab=1", "empty_layer": true}),
    );
    let (os, arch, variant) = spec.platform;
    let mut config = json!({
        "architecture": arch,
        "os": os,
        "config": spec.runtime,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    });
    if let Some(v) = variant {
        config["variant"] = json!(v);
    }
    if let (Some(obj), Some(extra)) = (config.as_object_mut(), spec.extra.as_object()) {
        for (k, v) in extra {
            obj.insert(k.clone(), v.clone());
        }
    }
    let config = Blob::new(config_type, canonical(&config));
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": config.descriptor(),
        "layers": layers.iter().map(Blob::descriptor).collect::<Vec<_>>(),
    });
    let manifest = Blob::new(manifest_type, canonical_pretty(&manifest));
    Image {
        manifest,
        config,
        layers,
    }
}

/// An index over images, with optional attestation manifests.
#[derive(Debug, Clone)]
pub struct Index {
    /// The index blob.
    pub index: Blob,
    /// Child images (platform images and attestations), in index order.
    pub children: Vec<Image>,
}

/// The rich single-arch Docker v2s2 image (`lab/rich`).
pub fn rich() -> Image {
    build(&Spec {
        docker: true,
        platform: ("linux", "amd64", None),
        runtime: json!({
            "User": "app:app",
            "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "LAB_GREETING=hello world", "EMPTY="],
            "Entrypoint": ["/docker-entrypoint.sh"],
            "Cmd": ["serve", "--port", "8080"],
            "WorkingDir": "/srv/app",
            "Labels": {
                "org.opencontainers.image.title": "regpeek lab rich image",
                "org.opencontainers.image.source": "https://example.invalid/regpeek",
                "com.example.multi-line": "a\nb"
            },
            "ExposedPorts": {"8080/tcp": {}, "9090/udp": {}},
            "Volumes": {"/data": {}, "/cache": {}},
            "StopSignal": "SIGQUIT",
            "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 30000000000u64}
        }),
        layers: vec![
            vec![("etc/os-release", b"ID=lab\n".to_vec())],
            vec![("srv/app/app.sh", b"#!/bin/sh\necho hi\n".to_vec())],
            vec![("docker-entrypoint.sh", b"#!/bin/sh\nexec \"$@\"\n".to_vec())],
        ],
        extra: json!({
            "created": "2024-01-02T03:04:05Z",
            "author": "regpeek lab",
            "docker_version": "24.0.7"
        }),
    })
}

fn platform_image(os: &str, arch: &str, variant: Option<&str>) -> Image {
    let name = format!(
        "{os}/{arch}{}",
        variant.map(|v| format!("/{v}")).unwrap_or_default()
    );
    build(&Spec {
        docker: false,
        platform: (os, arch, variant),
        runtime: json!({
            "Env": ["PATH=/usr/bin:/bin", format!("LAB_PLATFORM={name}")],
            "Cmd": ["/bin/sh"],
            "Labels": {"lab.platform": name}
        }),
        layers: vec![vec![("platform.txt", name.clone().into_bytes())]],
        extra: json!({"created": "2024-01-02T03:04:05Z"}),
    })
}

/// A BuildKit-style attestation manifest describing `subject`.
fn attestation(subject: &Image) -> Image {
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://spdx.dev/Document",
        "subject": [{"name": "lab", "digest": {"sha256": subject.manifest.digest.trim_start_matches("sha256:")}}],
        "predicate": {"spdxVersion": "SPDX-2.3"}
    });
    let layer = Blob::new(media::IN_TOTO, canonical(&statement));
    let config = Blob::new(
        media::OCI_CONFIG,
        canonical(&json!({
            "architecture": "unknown", "os": "unknown", "config": {},
            "rootfs": {"type": "layers", "diff_ids": [layer.digest]}
        })),
    );
    let mut layer_desc = layer.descriptor();
    layer_desc["annotations"] = json!({"in-toto.io/predicate-type": "https://spdx.dev/Document"});
    let manifest = Blob::new(
        media::OCI_MANIFEST,
        canonical_pretty(&json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_MANIFEST,
            "config": config.descriptor(),
            "layers": [layer_desc],
        })),
    );
    Image {
        manifest,
        config,
        layers: vec![layer],
    }
}

/// The predicate types of the statements `lab/attested` carries.
pub const SPDX: &str = "https://spdx.dev/Document";
/// SLSA provenance v0.2, as BuildKit writes it.
pub const SLSA_02: &str = "https://slsa.dev/provenance/v0.2";

/// `lab/attested`: an index of one linux/amd64 image and its BuildKit attestation
/// manifest, which holds an SPDX SBOM (two packages) and SLSA v0.2 provenance (its
/// builder, source, commit, build arguments and materials, the base image among
/// them, named `base`); plus a CycloneDX SBOM attached as a referrer of the image
/// (through the `sha256-<hex>` tag): what `regpeek sbom` and `provenance` read.
pub fn attested(base: &str, base_digest: &str) -> (Index, Referring) {
    let image = platform_image("linux", "amd64", None);
    // BuildKit's purl of an image: `pkg:docker/REPOSITORY@TAG`.
    let purl_name = match base.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => format!("{repo}@{tag}"),
        _ => base.to_owned(),
    };
    let subject = json!([{"name": "lab/attested", "digest": {"sha256": image.manifest.digest.trim_start_matches("sha256:")}}]);
    let spdx = json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": SPDX,
        "subject": subject,
        "predicate": {
            "spdxVersion": "SPDX-2.3",
            "name": "lab/attested",
            "packages": [
                {"name": "busybox", "versionInfo": "1.36.1-r2", "licenseConcluded": "GPL-2.0-only",
                 "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:apk/alpine/busybox@1.36.1-r2?arch=x86_64"}]},
                {"name": "musl", "versionInfo": "1.2.4-r2", "licenseDeclared": "MIT",
                 "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64"}]}
            ]
        }
    });
    let provenance = json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": SLSA_02,
        "subject": subject,
        "predicate": {
            "builder": {"id": "https://github.com/example/app/actions/runs/1"},
            "buildType": "https://mobyproject.org/buildkit@v1",
            "materials": [
                {"uri": format!("pkg:docker/{purl_name}?platform=linux%2Famd64"), "digest": {"sha256": base_digest.trim_start_matches("sha256:")}},
                {"uri": "https://github.com/example/app.git#refs/heads/main", "digest": {"sha1": "0123456789abcdef0123456789abcdef01234567"}}
            ],
            "invocation": {
                "configSource": {"uri": "https://github.com/example/app.git#refs/heads/main", "digest": {"sha1": "0123456789abcdef0123456789abcdef01234567"}, "entryPoint": "Dockerfile"},
                "parameters": {"frontend": "dockerfile.v0", "args": {"build-arg:VERSION": "1.2.3", "label:team": "lab"}}
            },
            "metadata": {"https://mobyproject.org/buildkit@v1#metadata": {"vcs": {"source": "https://github.com/example/app.git", "revision": "0123456789abcdef0123456789abcdef01234567"}}}
        }
    });
    let statements: Vec<(Blob, &str)> = [(spdx, SPDX), (provenance, SLSA_02)]
        .into_iter()
        .map(|(s, t)| (Blob::new(media::IN_TOTO, canonical(&s)), t))
        .collect();
    let config = Blob::new(
        media::OCI_CONFIG,
        canonical(
            &json!({"architecture": "unknown", "os": "unknown", "config": {}, "rootfs": {"type": "layers", "diff_ids": []}}),
        ),
    );
    let layers: Vec<Value> = statements
        .iter()
        .map(|(b, t)| {
            let mut d = b.descriptor();
            d["annotations"] = json!({"in-toto.io/predicate-type": t});
            d
        })
        .collect();
    let att = Image {
        manifest: Blob::new(
            media::OCI_MANIFEST,
            canonical_pretty(&json!({
                "schemaVersion": 2, "mediaType": media::OCI_MANIFEST,
                "config": config.descriptor(), "layers": layers,
            })),
        ),
        config,
        layers: statements.into_iter().map(|(b, _)| b).collect(),
    };
    let mut att_desc = att.manifest.descriptor();
    att_desc["platform"] = json!({"architecture": "unknown", "os": "unknown"});
    att_desc["annotations"] = json!({
        "vnd.docker.reference.type": "attestation-manifest",
        "vnd.docker.reference.digest": image.manifest.digest,
    });
    let mut image_desc = image.manifest.descriptor();
    image_desc["platform"] = json!({"architecture": "amd64", "os": "linux"});
    let index = oci_index(vec![image_desc, att_desc]);
    // A CycloneDX SBOM attached as a referrer, found through the tag schema.
    let empty = Blob::new("application/vnd.oci.empty.v1+json", b"{}".to_vec());
    let bom = Blob::new(
        CYCLONEDX_TYPE,
        canonical(&json!({
            "bomFormat": "CycloneDX", "specVersion": "1.5",
            "components": [{"type": "library", "name": "openssl", "version": "3.1.4", "purl": "pkg:apk/alpine/openssl@3.1.4", "licenses": [{"license": {"id": "Apache-2.0"}}]}]
        })),
    );
    let artifact = Image {
        manifest: Blob::new(
            media::OCI_MANIFEST,
            canonical_pretty(&json!({
                "schemaVersion": 2, "mediaType": media::OCI_MANIFEST,
                "artifactType": CYCLONEDX_TYPE,
                "config": empty.descriptor(), "layers": [bom.descriptor()],
                "subject": image.manifest.descriptor(),
            })),
        ),
        config: empty,
        layers: vec![bom],
    };
    let mut d = artifact.manifest.descriptor();
    d["artifactType"] = json!(CYCLONEDX_TYPE);
    let referring = Referring {
        index: oci_index(vec![d]),
        tag: image.manifest.digest.replace(':', "-"),
        artifacts: vec![artifact],
    };
    (
        Index {
            index,
            children: vec![image, att],
        },
        referring,
    )
}

/// A CycloneDX SBOM's artifact type.
pub const CYCLONEDX_TYPE: &str = "application/vnd.cyclonedx+json";

/// The multi-arch OCI index (`lab/multi`): linux/amd64, linux/arm64/v8, linux/arm/v7
/// and an attestation for the amd64 image, listed first as BuildKit sometimes does.
pub fn multi() -> Index {
    let images = [
        platform_image("linux", "amd64", None),
        platform_image("linux", "arm64", Some("v8")),
        platform_image("linux", "arm", Some("v7")),
    ];
    let att = attestation(&images[0]);
    let mut entries = Vec::new();
    let mut att_desc = att.manifest.descriptor();
    att_desc["platform"] = json!({"architecture": "unknown", "os": "unknown"});
    att_desc["annotations"] = json!({
        "vnd.docker.reference.type": "attestation-manifest",
        "vnd.docker.reference.digest": images[0].manifest.digest,
    });
    entries.push(att_desc);
    for img in &images {
        let cfg: Value = serde_json::from_slice(&img.config.bytes).expect("json");
        let mut d = img.manifest.descriptor();
        let mut p = json!({"architecture": cfg["architecture"], "os": cfg["os"]});
        if let Some(v) = cfg.get("variant") {
            p["variant"] = v.clone();
        }
        d["platform"] = p;
        entries.push(d);
    }
    let index = oci_index(entries);
    let mut children = vec![att];
    children.extend(images);
    Index { index, children }
}

/// An OCI image with `n` small layers (`lab/many-layers`).
pub fn many_layers(n: usize) -> Image {
    let layers = (0..n)
        .map(|i| vec![("layer.txt", format!("layer {i}\n").into_bytes())])
        .collect();
    build(&Spec {
        docker: false,
        platform: ("linux", "amd64", None),
        runtime: json!({"Cmd": ["/bin/true"]}),
        layers,
        extra: json!({"created": "2024-01-02T03:04:05Z"}),
    })
}

/// An OCI image that says, in its manifest's annotations, which image it was built
/// on (`org.opencontainers.image.base.name` and `.base.digest`), as BuildKit writes
/// them: what `regpeek base` reads.
pub fn based_on(base_name: &str, base_digest: &str) -> Image {
    let mut img = build(&Spec {
        docker: false,
        platform: ("linux", "amd64", None),
        runtime: json!({"Cmd": ["/app"]}),
        layers: vec![vec![("app", b"built on a base\n".to_vec())]],
        extra: json!({"created": "2024-01-02T03:04:05Z"}),
    });
    let mut manifest: Value = serde_json::from_slice(&img.manifest.bytes).expect("our own JSON");
    manifest["annotations"] = json!({
        "org.opencontainers.image.base.name": base_name,
        "org.opencontainers.image.base.digest": base_digest,
    });
    img.manifest = Blob::new(media::OCI_MANIFEST, canonical_pretty(&manifest));
    img
}

/// How many tags `lab/many-tags` has.
pub const MANY_TAGS: usize = 150;
/// How many layers `lab/many-layers` has.
pub const MANY_LAYERS: usize = 40;

/// The tags of `lab/many-tags`: `t000` … `t149`.
pub fn many_tag_names() -> Vec<String> {
    (0..MANY_TAGS).map(|i| format!("t{i:03}")).collect()
}

/// The tags of `lab/versions`: versions of every shape `outdated` reads (patch,
/// minor and major steps, two precisions, a variant family, a pre-release) and a name
/// that is none.
pub const VERSION_TAGS: &[&str] = &[
    "1.24.0",
    "1.25.3",
    "1.25.4",
    "1.25.10",
    "1.26.0",
    "1.27.1",
    "2.0.0",
    "2.1.0-rc.1",
    "1.25",
    "1.26",
    "1.25.3-alpine3.19",
    "1.25.5-alpine3.20",
    "latest",
];

/// The standard lab content.
pub struct Seeded {
    /// `lab/rich:v1`.
    pub rich: Image,
    /// `lab/multi:v1`.
    pub multi: Index,
    /// `lab/many-layers:v1`.
    pub many_layers: Image,
    /// What refers to the rich image in `lab/signed` (a signature and an SBOM).
    pub signed: Referring,
}

/// Artifacts that refer to a subject image (OCI 1.1, with `subject`), and the
/// `sha256-<hex>` fallback-tag index that lists them, for registries without the
/// referrers API.
pub struct Referring {
    /// The signature-like and the SBOM-like artifact.
    pub artifacts: Vec<Image>,
    /// The fallback-tag index.
    pub index: Blob,
    /// Its tag, `sha256-<hex of the subject>`.
    pub tag: String,
}

/// Artifact types of the lab's referrers.
pub const SIGNATURE_TYPE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
/// The SBOM's artifact type.
pub const SBOM_TYPE: &str = "application/spdx+json";

/// A signature-like and an SBOM-like artifact referring to `subject`.
pub fn referrers_of(subject: &Image) -> Referring {
    let empty = Blob::new("application/vnd.oci.empty.v1+json", b"{}".to_vec());
    let artifact = |artifact_type: &str, layer_type: &str, payload: &[u8]| {
        let layer = Blob::new(layer_type, payload.to_vec());
        let annotations = json!({"org.opencontainers.image.created": "2026-01-01T00:00:00Z"});
        let manifest = Blob::new(
            media::OCI_MANIFEST,
            canonical_pretty(&json!({
                "schemaVersion": 2,
                "mediaType": media::OCI_MANIFEST,
                "artifactType": artifact_type,
                "config": empty.descriptor(),
                "layers": [layer.descriptor()],
                "subject": subject.manifest.descriptor(),
                "annotations": annotations,
            })),
        );
        Image {
            manifest,
            config: empty.clone(),
            layers: vec![layer],
        }
    };
    let signature = artifact(
        SIGNATURE_TYPE,
        "application/vnd.dev.cosign.simplesigning.v1+json",
        br#"{"critical":{"identity":{"docker-reference":"lab/signed"},"type":"cosign container image signature"}}"#,
    );
    let sbom = artifact(
        SBOM_TYPE,
        SBOM_TYPE,
        br#"{"spdxVersion":"SPDX-2.3","name":"lab/signed"}"#,
    );
    let entries: Vec<Value> = [(&signature, SIGNATURE_TYPE), (&sbom, SBOM_TYPE)]
        .iter()
        .map(|(a, t)| {
            let mut d = a.manifest.descriptor();
            d["artifactType"] = json!(t);
            d["annotations"] = json!({"org.opencontainers.image.created": "2026-01-01T00:00:00Z"});
            d
        })
        .collect();
    let index = oci_index(entries);
    Referring {
        artifacts: vec![signature, sbom],
        index,
        tag: subject.manifest.digest.replace(':', "-"),
    }
}

/// Repository and tag of the rich image.
pub const RICH: (&str, &str) = ("lab/rich", "v1");
/// Repository and tag of the multi-arch image.
pub const MULTI: (&str, &str) = ("lab/multi", "v1");

impl Seeded {
    /// Builds the images (pure, deterministic).
    pub fn build() -> Seeded {
        let rich = rich();
        Seeded {
            signed: referrers_of(&rich),
            rich,
            multi: multi(),
            many_layers: many_layers(MANY_LAYERS),
        }
    }

    /// Pushes the open registry's content under `prefix` (`lab`, `public`, `private`):
    /// `<prefix>/rich`, `<prefix>/multi` (tags `v1`, `latest`), and with `all`, also
    /// `<prefix>/many-tags` (150 tags), `<prefix>/many-layers` and `<prefix>/versions`
    /// ([`VERSION_TAGS`]).
    pub fn push(
        &self,
        target: &crate::push::Target,
        prefix: &str,
        all: bool,
    ) -> anyhow::Result<()> {
        target.image(&format!("{prefix}/rich"), &self.rich, &["v1", "latest"])?;
        target.index(&format!("{prefix}/multi"), &self.multi, &["v1", "latest"])?;
        if all {
            target.image(&format!("{prefix}/many-layers"), &self.many_layers, &["v1"])?;
            let names = many_tag_names();
            let tags: Vec<&str> = names.iter().map(String::as_str).collect();
            target.image(&format!("{prefix}/many-tags"), &self.rich, &tags)?;
            target.image(&format!("{prefix}/versions"), &self.rich, VERSION_TAGS)?;
            target.image(&format!("{prefix}/fs"), &fs_image(), &["v1"])?;
            target.image(&format!("{prefix}/overlay"), &overlay_image(), &["v1"])?;
            target.image(&format!("{prefix}/esgz"), &estargz_image(), &["v1"])?;
            target.image(&format!("{prefix}/zstd"), &zstd_image(), &["v1"])?;
            let bad = format!("sha256:{}", "0".repeat(64));
            target.image(
                &format!("{prefix}/esgz"),
                &estargz_image_annotated(Some(&bad)),
                &["badtoc"],
            )?;
            let signed = format!("{prefix}/signed");
            target.image(&signed, &self.rich, &["v1"])?;
            for a in &self.signed.artifacts {
                target.image(&signed, a, &[])?;
            }
            target.manifest(&signed, &self.signed.index, &self.signed.tag)?;
        }
        Ok(())
    }
}

/// An OCI image index of `manifests`.
fn oci_index(manifests: Vec<Value>) -> Blob {
    Blob::new(
        media::OCI_INDEX,
        canonical_pretty(&json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_INDEX,
            "manifests": manifests,
        })),
    )
}

/// `v` as JSON with every object's keys sorted, whatever serde_json's
/// features: `cargo test --workspace` turns on `preserve_order` (the CLI's)
/// and `cargo xtask lab seed` does not, and both must build the same bytes,
/// the same digests.
fn canonical(v: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&sorted(v)).expect("a JSON value serialises")
}

/// [`canonical`], pretty-printed like `docker push` prints manifests.
fn canonical_pretty(v: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec_pretty(&sorted(v)).expect("a JSON value serialises")
}

fn sorted(v: &serde_json::Value) -> serde_json::Value {
    let mut v = v.clone();
    v.sort_all_objects();
    v
}

#[cfg(test)]
mod tests {
    /// The lab's images are the same bytes in every build: `cargo xtask lab
    /// seed` (serde_json without `preserve_order`) pushes what the tests
    /// (with it, through the CLI) expect, and what the recorded fixtures hold.
    #[test]
    fn images_do_not_depend_on_serde_json_features() {
        assert_eq!(
            super::rich().manifest.digest,
            "sha256:fd2a95589e50d13fab3bad4690b8c33adc2e48c016a0d9ccdac631fd7240c88d"
        );
        let v: serde_json::Value = serde_json::from_slice(&super::rich().config.bytes).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }
}
