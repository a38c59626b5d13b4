//! The images with files in them that `ls`, `cat`, `os` and the readers are tried on:
//! `lab/fs`, `lab/overlay`, `lab/zstd`, `lab/big` and `lab/hostile`.

use flate2::Compression;

use super::*;

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
