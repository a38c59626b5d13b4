//! Layers: tar streams of any entries, every metadata fixed, compressed with gzip
//! or cut in zstd frames.

use flate2::Compression;

use super::*;

/// A gzip-compressed tar layer holding `files`, with all metadata fixed; returns the
/// layer and its diff ID (digest of the uncompressed tar).
pub fn layer(media_type: &str, files: &[(&str, &[u8])]) -> (Blob, String) {
    let files: Vec<(&str, &[u8], u32)> = files.iter().map(|(p, d)| (*p, *d, 0o644)).collect();
    let raw = files_tar(&files);
    let diff_id = sha256(&raw);
    (
        Blob::new(media_type, gzip(&raw, Compression::default())),
        diff_id,
    )
}

/// A gzip-compressed tar layer of regular files, each with its mode (`0o755` for a
/// program), every other metadata fixed: what `COPY --chmod` writes.
pub fn layer_with_modes(files: &[(&str, &[u8], u32)]) -> Blob {
    Blob::new(
        media::OCI_LAYER,
        gzip(&files_tar(files), Compression::default()),
    )
}

/// The ustar stream of regular files with their modes, owned by root, at mtime 0.
fn files_tar(files: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, data, mode) in files {
        let mut h = tar::Header::new_ustar();
        // infallible: the lab's own short, relative paths (and dist's two)
        h.set_path(path).expect("short test paths");
        h.set_size(data.len() as u64);
        h.set_mode(*mode);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        tar.append(&h, *data).expect("in-memory tar");
    }
    // infallible: the tar is written to a Vec
    tar.into_inner().expect("in-memory tar")
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
