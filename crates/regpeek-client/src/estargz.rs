//! eStargz layers read in part: the footer and the table of contents with HTTP
//! `Range` requests, the TOC checked against the digest the layer's descriptor
//! annotates, then only the chunks of the file asked for, each checked against its
//! own digest. A registry that ignores `Range` (a `200` where a `206` was asked)
//! gives `None`, and the caller reads the layer whole instead.
//!
//! The format (docs/protocol.md §8.3; containerd's stargz-snapshotter): a gzip stream of
//! members, each file's contents starting a member of their own; then a member
//! holding a tar with one entry, `stargz.index.json` (the TOC); then a 51-byte footer,
//! an empty gzip member whose header's extra field holds the TOC's offset as 16 hex
//! digits followed by `STARGZ`.

use std::io::Read;

use anyhow::{Context, Result, bail};
use regpeek_proto::manifest::Descriptor;
use regpeek_proto::{Digest, Reference};
use serde::Deserialize;

use crate::contents::Contents;
use crate::layers::{self, Entry, Kind};
use crate::source::Source;

/// The annotation that names an eStargz layer's TOC digest.
pub const TOC_DIGEST: &str = "containerd.io/snapshot/stargz/toc.digest";
/// The footer's size.
const FOOTER: u64 = 51;
/// The largest TOC read.
const MAX_TOC: u64 = 64 << 20;

/// One entry of the TOC (the names are the format's own).
#[derive(Debug, Clone, Deserialize)]
#[allow(missing_docs)]
pub struct TocEntry {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default, rename = "linkName")]
    pub link_name: String,
    #[serde(default)]
    pub mode: u32,
    #[serde(default)]
    pub uid: u64,
    #[serde(default)]
    pub gid: u64,
    #[serde(default)]
    pub offset: u64,
    #[serde(default, rename = "chunkOffset")]
    pub chunk_offset: u64,
    #[serde(default, rename = "chunkSize")]
    pub chunk_size: u64,
    #[serde(default, rename = "chunkDigest")]
    pub chunk_digest: Option<String>,
    #[serde(default)]
    pub digest: Option<String>,
    #[serde(default)]
    pub modtime: Option<String>,
}

/// A layer's TOC, and where it starts.
pub struct Toc {
    /// Its entries, chunks included.
    pub entries: Vec<TocEntry>,
    offset: u64,
}

impl Toc {
    /// The bytes of its regular files (each file's `size`, its chunks not counted
    /// again).
    pub fn file_bytes(&self) -> u64 {
        self.entries
            .iter()
            .filter(|e| e.kind == "reg")
            .map(|e| e.size)
            .fold(0, u64::saturating_add)
    }

    /// The entries as a tar reading shows them (chunks after a file's first left out),
    /// with each regular file's `digest` from the TOC (unverified until a chunk is
    /// read; the TOC itself is checked against its annotation).
    pub fn as_contents(&self) -> Contents {
        let (entries, digests) = self
            .entries
            .iter()
            .filter_map(|e| {
                let kind = match e.kind.as_str() {
                    "reg" => Kind::File,
                    "dir" => Kind::Dir,
                    "symlink" => Kind::Symlink(e.link_name.clone()),
                    "hardlink" => Kind::Hardlink(layers::normalize(&e.link_name)),
                    "chunk" => return None,
                    _ => Kind::Other('?'),
                };
                let digest = e
                    .digest
                    .as_deref()
                    .filter(|_| kind == Kind::File)
                    .and_then(|d| d.strip_prefix("sha256:"))
                    .map(str::to_owned);
                let entry = Entry {
                    path: layers::normalize(&e.name),
                    kind,
                    mode: e.mode,
                    uid: e.uid,
                    gid: e.gid,
                    size: e.size,
                    mtime: e
                        .modtime
                        .as_deref()
                        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                        .map_or(0, |t| t.as_second().max(0) as u64),
                };
                Some((entry, digest))
            })
            .filter(|(e, _)| !e.path.is_empty())
            .unzip();
        Contents::listed(entries, digests)
    }
}

/// The bytes `first..=last` of the blob, or `None` when the registry sent it whole.
fn range(
    source: &dyn Source,
    r: &Reference,
    digest: &Digest,
    (first, last): (u64, u64),
) -> Result<Option<Vec<u8>>> {
    let (body, partial) = source.blob(r, digest, Some((first, last)))?;
    if !partial {
        return Ok(None);
    }
    let want = last - first + 1;
    let mut bytes = Vec::new();
    body.take(want + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 != want {
        bail!("asked for {want} bytes of {digest}, got {}", bytes.len());
    }
    Ok(Some(bytes))
}

/// The TOC of the eStargz layer `desc`, checked against its annotated digest;
/// `Ok(None)` when the layer is no eStargz, or the registry ignores `Range`.
pub fn toc(source: &dyn Source, r: &Reference, desc: &Descriptor) -> Result<Option<Toc>> {
    let Some(want) = desc.annotations.get(TOC_DIGEST) else {
        return Ok(None);
    };
    let want = Digest::parse(want).map_err(|e| anyhow::anyhow!("the layer's TOC digest: {e}"))?;
    if desc.size <= FOOTER {
        bail!(
            "an eStargz layer of {} bytes has no room for its footer",
            desc.size
        );
    }
    // The footer alone, then exactly the TOC it points at: no byte beyond the TOC and
    // the file's chunks is read. The TOC and the chunks go straight to where the
    // registry sent the footer's request (a CDN), so this costs no round trip more
    // than asking for a larger tail at first would behind a redirect.
    let toc_end = desc.size - FOOTER;
    let Some(footer) = range(source, r, &desc.digest, (toc_end, desc.size - 1))? else {
        return Ok(None);
    };
    let offset = toc_offset(&footer).context("the eStargz footer")?;
    if offset >= toc_end || toc_end - offset > MAX_TOC {
        bail!(
            "the eStargz footer points its TOC at {offset}, outside the layer (or past {MAX_TOC} bytes)"
        );
    }
    let Some(packed) = range(source, r, &desc.digest, (offset, toc_end - 1))? else {
        return Ok(None);
    };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&packed[..]).take(MAX_TOC));
    let mut json = Vec::new();
    for entry in archive.entries().context("the eStargz TOC")? {
        let mut entry = entry.context("the eStargz TOC")?;
        if entry.path_bytes().as_ref() == b"stargz.index.json" {
            entry.read_to_end(&mut json).context("the eStargz TOC")?;
            break;
        }
    }
    if Digest::sha256(&json) != want {
        bail!(
            "the eStargz TOC does not match the digest its layer annotates: nothing of it is used"
        );
    }
    #[derive(Deserialize)]
    struct Index {
        entries: Vec<TocEntry>,
    }
    let index: Index = serde_json::from_slice(&json).context("the eStargz TOC is not its JSON")?;
    Ok(Some(Toc {
        entries: index.entries,
        offset,
    }))
}

/// The TOC offset a footer holds: 16 hex digits before `STARGZ` in its extra field.
fn toc_offset(footer: &[u8]) -> Result<u64> {
    let at = footer
        .windows(6)
        .position(|w| w == b"STARGZ")
        .context("no STARGZ mark")?;
    let hex = footer
        .get(at.checked_sub(16).context("no offset before the mark")?..at)
        .context("short")?;
    u64::from_str_radix(std::str::from_utf8(hex)?, 16).context("the offset is not hex")
}

/// The contents of the file `path` names in the TOC, chunk by chunk, each checked
/// against its digest (and the whole against the file's); `Ok(None)` when the
/// registry ignores `Range`.
pub fn read_file(
    source: &dyn Source,
    r: &Reference,
    desc: &Descriptor,
    toc: &Toc,
    path: &str,
    out: &mut impl std::io::Write,
) -> Result<Option<()>> {
    let mut chunks: Vec<&TocEntry> = toc
        .entries
        .iter()
        .filter(|e| {
            layers::normalize(&e.name) == path && matches!(e.kind.as_str(), "reg" | "chunk")
        })
        .collect();
    chunks.sort_by_key(|e| e.chunk_offset);
    let Some(first) = chunks.first() else {
        bail!("/{path} is not in the layer's TOC");
    };
    let size = first.size;
    // Where each chunk's member ends: where the next member an entry starts, or the TOC.
    let end_of = |offset: u64| {
        toc.entries
            .iter()
            .map(|e| e.offset)
            .filter(|o| *o > offset)
            .min()
            .unwrap_or(toc.offset)
    };
    // The chunks of a file lie one after the other: one request for them all.
    let span = (
        first.offset,
        end_of(chunks.last().map_or(first.offset, |c| c.offset)),
    );
    if span.0 >= span.1 || span.1 > toc.offset {
        bail!("/{path}: chunks outside the layer");
    }
    let Some(packed) = range(source, r, &desc.digest, (span.0, span.1 - 1))? else {
        return Ok(None);
    };
    // The whole file's digest, when the TOC gives one.
    let mismatch = || anyhow::anyhow!("/{path} does not match its digest: nothing of it is used");
    let mut whole = match &first.digest {
        Some(d) => Some(regpeek_layer::Check::new(
            &Digest::parse(d).map_err(|_| mismatch())?,
        )?),
        None => None,
    };
    let mut written = 0u64;
    for chunk in &chunks {
        let (from, to) = (chunk.offset, end_of(chunk.offset));
        if from < span.0 || to > span.1 || from >= to {
            bail!("/{path}: a chunk outside the file's span");
        }
        let member = &packed[(from - span.0) as usize..(to - span.0) as usize];
        let len = if chunk.chunk_size > 0 {
            chunk.chunk_size
        } else {
            size - chunk.chunk_offset
        };
        let mut data = Vec::new();
        flate2::read::GzDecoder::new(member)
            .take(len)
            .read_to_end(&mut data)
            .with_context(|| format!("/{path}: a chunk that does not unpack"))?;
        if data.len() as u64 != len {
            bail!(
                "/{path}: a chunk of {} bytes where the TOC says {len}",
                data.len()
            );
        }
        if let Some(d) = &chunk.chunk_digest
            && Digest::sha256(&data).to_string() != *d
        {
            bail!("/{path}: a chunk does not match its digest: nothing of it is used");
        }
        if let Some(whole) = &mut whole {
            whole.update(&data);
        }
        written += len;
        out.write_all(&data)?;
    }
    if written != size {
        bail!("/{path}: its chunks hold {written} bytes where the TOC says {size}");
    }
    if let Some(whole) = whole {
        whole.finish(None).map_err(|_| mismatch())?;
    }
    Ok(Some(()))
}

/// Whether `e` is one of the image's files: an eStargz layer's own TOC is not.
pub fn of_the_image(desc: &Descriptor, e: &Entry) -> bool {
    !(e.path == "stargz.index.json" && desc.annotations.contains_key(TOC_DIGEST))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_footer_says_where_the_toc_is() {
        let mut footer = vec![
            0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, 26, 0, b'S', b'G', 22, 0,
        ];
        footer.extend(b"00000000000004d2STARGZ");
        footer.extend([1, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(footer.len(), 51);
        assert_eq!(super::toc_offset(&footer).unwrap(), 1234);
        assert!(super::toc_offset(&footer[..20]).is_err());
        footer[16..32].copy_from_slice(b"zzzzzzzzzzzzzzzz");
        assert!(super::toc_offset(&footer).is_err());
    }
}
