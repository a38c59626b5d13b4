//! eStargz layers read in part, sans-IO: which byte ranges to ask for, and what the
//! bytes that come back mean. The caller fetches each range (HTTP `Range`, a file
//! read) and hands the bytes in; nothing here reads them itself.
//!
//! The format (docs/protocol.md §8.3; containerd's stargz-snapshotter): a gzip stream
//! of members, each file's contents starting a member of their own; then a member
//! holding a tar with one entry, `stargz.index.json` (the TOC); then a 51-byte footer,
//! an empty gzip member whose header's extra field holds the TOC's offset as 16 hex
//! digits followed by `STARGZ`.
//!
//! Reading one file costs three ranges: [`footer_range`], then [`toc_range`] (checked
//! with [`Toc::parse`] against the digest the layer's descriptor annotates,
//! [`TOC_DIGEST`]), then [`Toc::plan`]'s one span holding the file's chunks, unpacked
//! and checked chunk by chunk by [`Plan::unpack`].
//!
//! ```
//! # fn fetch(_: (u64, u64)) -> Vec<u8> { Vec::new() }
//! # fn run(size: u64, toc_digest: &regpeek_proto::Digest) -> Result<(), regpeek_layer::Error> {
//! use regpeek_layer::estargz::{Toc, footer_range, toc_range};
//! let footer = fetch(footer_range(size)?);
//! let (first, last) = toc_range(&footer, size)?;
//! let toc = Toc::parse(&fetch((first, last)), first, toc_digest)?;
//! let plan = toc.plan("etc/os-release")?;
//! let mut file = Vec::new();
//! plan.unpack(&fetch(plan.range()), &mut file)?;
//! # Ok(())
//! # }
//! ```

use std::io::{Read, Write};

use regpeek_proto::Digest;
use serde::Deserialize;

use crate::{Check, Error, normalize};

/// The annotation on a layer's descriptor that names its TOC's digest.
pub const TOC_DIGEST: &str = "containerd.io/snapshot/stargz/toc.digest";
/// The footer's size.
pub const FOOTER: u64 = 51;
/// The largest TOC read, packed or unpacked.
pub const MAX_TOC: u64 = 64 << 20;

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

/// Something of an eStargz layer that is not as the format says.
fn bad(what: impl Into<String>) -> Error {
    Error::Estargz { what: what.into() }
}

/// The byte range (inclusive) of a layer of `size` bytes that holds its footer.
pub fn footer_range(size: u64) -> Result<(u64, u64), Error> {
    if size <= FOOTER {
        return Err(bad(format!(
            "a layer of {size} bytes has no room for its footer"
        )));
    }
    Ok((size - FOOTER, size - 1))
}

/// The byte range (inclusive) of the packed TOC, as `footer` (the bytes of
/// [`footer_range`]) points at it.
pub fn toc_range(footer: &[u8], size: u64) -> Result<(u64, u64), Error> {
    let offset = toc_offset(footer)?;
    let toc_end = size.saturating_sub(FOOTER);
    if offset >= toc_end || toc_end - offset > MAX_TOC {
        return Err(bad(format!(
            "the footer points its TOC at {offset}, outside the layer (or past {MAX_TOC} bytes)"
        )));
    }
    Ok((offset, toc_end - 1))
}

/// The TOC offset a footer holds: 16 hex digits before `STARGZ` in its extra field.
fn toc_offset(footer: &[u8]) -> Result<u64, Error> {
    let at = footer
        .windows(6)
        .position(|w| w == b"STARGZ")
        .ok_or_else(|| bad("the footer has no STARGZ mark"))?;
    let hex = at
        .checked_sub(16)
        .and_then(|start| footer.get(start..at))
        .ok_or_else(|| bad("the footer has no offset before its mark"))?;
    std::str::from_utf8(hex)
        .ok()
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .ok_or_else(|| bad("the footer's TOC offset is not hex"))
}

/// A layer's TOC, and where it starts.
#[derive(Debug, Clone)]
pub struct Toc {
    /// Its entries, chunks included.
    pub entries: Vec<TocEntry>,
    offset: u64,
}

impl Toc {
    /// The TOC from the bytes of [`toc_range`] (which starts at `offset`), checked
    /// against `want`, the digest the layer's descriptor annotates ([`TOC_DIGEST`]).
    pub fn parse(packed: &[u8], offset: u64, want: &Digest) -> Result<Toc, Error> {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(packed).take(MAX_TOC + 1));
        let mut json = Vec::new();
        let entries = archive
            .entries()
            .map_err(|e| bad(format!("the TOC does not unpack: {e}")))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| bad(format!("the TOC does not unpack: {e}")))?;
            if entry.path_bytes().as_ref() == b"stargz.index.json" {
                entry
                    .read_to_end(&mut json)
                    .map_err(|e| bad(format!("the TOC does not unpack: {e}")))?;
                break;
            }
        }
        if json.len() as u64 > MAX_TOC {
            return Err(bad(format!("the TOC is larger than {MAX_TOC} bytes")));
        }
        let got = Digest::sha256(&json);
        if got != *want {
            return Err(bad(format!(
                "the TOC does not match the digest its layer annotates ({want}; it hashes to {got}): nothing of it is used"
            )));
        }
        #[derive(Deserialize)]
        struct Index {
            entries: Vec<TocEntry>,
        }
        let index: Index = serde_json::from_slice(&json)
            .map_err(|e| bad(format!("the TOC is not its JSON: {e}")))?;
        Ok(Toc {
            entries: index.entries,
            offset,
        })
    }

    /// The bytes of its regular files (each file's `size`, its chunks not counted
    /// again).
    pub fn file_bytes(&self) -> u64 {
        self.entries
            .iter()
            .filter(|e| e.kind == "reg")
            .map(|e| e.size)
            .fold(0, u64::saturating_add)
    }

    /// How to read the file `path` (normalised, as [`normalize`] writes it): the one
    /// span of the layer that holds its chunks, and what each chunk must be.
    pub fn plan(&self, path: &str) -> Result<Plan, Error> {
        let mut chunks: Vec<&TocEntry> = self
            .entries
            .iter()
            .filter(|e| normalize(&e.name) == path && matches!(e.kind.as_str(), "reg" | "chunk"))
            .collect();
        chunks.sort_by_key(|e| e.chunk_offset);
        let Some(first) = chunks.first() else {
            return Err(bad(format!("/{path} is not in the layer's TOC")));
        };
        let size = first.size;
        // Where each chunk's member ends: where the next member an entry starts, or
        // the TOC.
        let end_of = |offset: u64| {
            self.entries
                .iter()
                .map(|e| e.offset)
                .filter(|o| *o > offset)
                .min()
                .unwrap_or(self.offset)
        };
        // The chunks of a file lie one after the other: one request for them all.
        let span = (
            first.offset,
            end_of(chunks.last().map_or(first.offset, |c| c.offset)),
        );
        if span.0 >= span.1 || span.1 > self.offset {
            return Err(bad(format!("/{path}: chunks outside the layer")));
        }
        let mut planned = Vec::with_capacity(chunks.len());
        for chunk in &chunks {
            let (from, to) = (chunk.offset, end_of(chunk.offset));
            if from < span.0 || to > span.1 || from >= to {
                return Err(bad(format!("/{path}: a chunk outside the file's span")));
            }
            let len = if chunk.chunk_size > 0 {
                chunk.chunk_size
            } else {
                size.checked_sub(chunk.chunk_offset)
                    .ok_or_else(|| bad(format!("/{path}: a chunk past the file's end")))?
            };
            planned.push(Chunk {
                from: from - span.0,
                to: to - span.0,
                len,
                digest: chunk.chunk_digest.clone(),
            });
        }
        Ok(Plan {
            path: path.to_owned(),
            span,
            size,
            digest: first.digest.clone(),
            chunks: planned,
        })
    }
}

/// One chunk of a planned file: where its gzip member lies within the span, and
/// what it unpacks to.
#[derive(Debug, Clone)]
struct Chunk {
    from: u64,
    to: u64,
    len: u64,
    digest: Option<String>,
}

/// How to read one file of an eStargz layer: see [`Toc::plan`].
#[derive(Debug, Clone)]
pub struct Plan {
    path: String,
    span: (u64, u64),
    size: u64,
    digest: Option<String>,
    chunks: Vec<Chunk>,
}

impl Plan {
    /// The byte range (inclusive) of the layer to fetch.
    pub fn range(&self) -> (u64, u64) {
        (self.span.0, self.span.1 - 1)
    }

    /// Unpacks the file from `packed` (the bytes of [`Plan::range`]) into `out`,
    /// checking each chunk against its digest and the whole against the file's. On
    /// an error, what was written must not be used.
    pub fn unpack(&self, packed: &[u8], out: &mut impl Write) -> Result<(), Error> {
        let path = &self.path;
        if packed.len() as u64 != self.span.1 - self.span.0 {
            return Err(Error::Truncated {
                at: format!(
                    "/{path}: {} bytes of the {} its chunks span",
                    packed.len(),
                    self.span.1 - self.span.0
                ),
            });
        }
        let mismatch = |got: String| Error::DigestMismatch {
            digest: format!("/{path}"),
            got,
        };
        let mut whole = match &self.digest {
            Some(d) => Some(Check::new(
                &Digest::parse(d).map_err(|_| bad(format!("/{path}: its digest {d:?}")))?,
            )?),
            None => None,
        };
        let mut written = 0u64;
        for chunk in &self.chunks {
            let member = &packed[chunk.from as usize..chunk.to as usize];
            let mut data = Vec::new();
            flate2::read::GzDecoder::new(member)
                .take(chunk.len)
                .read_to_end(&mut data)
                .map_err(|e| bad(format!("/{path}: a chunk that does not unpack: {e}")))?;
            if data.len() as u64 != chunk.len {
                return Err(bad(format!(
                    "/{path}: a chunk of {} bytes where the TOC says {}",
                    data.len(),
                    chunk.len
                )));
            }
            if let Some(d) = &chunk.digest {
                let got = Digest::sha256(&data).to_string();
                if got != *d {
                    return Err(mismatch(format!("{got} (a chunk)")));
                }
            }
            if let Some(whole) = &mut whole {
                whole.update(&data);
            }
            written += chunk.len;
            out.write_all(&data).map_err(|e| Error::Malformed {
                what: format!("/{path}: writing it out: {e}"),
            })?;
        }
        if written != self.size {
            return Err(bad(format!(
                "/{path}: its chunks hold {written} bytes where the TOC says {}",
                self.size
            )));
        }
        if let Some(whole) = whole {
            whole
                .finish(None)
                .map_err(|_| mismatch("another digest".into()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_footer_says_where_the_toc_is() {
        let mut footer = vec![
            0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, 26, 0, b'S', b'G', 22, 0,
        ];
        footer.extend(b"00000000000004d2STARGZ");
        footer.extend([1, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(footer.len(), 51);
        assert_eq!(toc_range(&footer, 5000).unwrap(), (1234, 5000 - 52));
        assert!(matches!(
            toc_range(&footer, 1000),
            Err(Error::Estargz { .. })
        ));
        assert!(toc_range(&footer[..20], 5000).is_err());
        footer[16..32].copy_from_slice(b"zzzzzzzzzzzzzzzz");
        assert!(toc_range(&footer, 5000).is_err());
        assert!(footer_range(51).is_err());
        assert_eq!(footer_range(100).unwrap(), (49, 99));
    }

    /// A one-file eStargz-shaped layer: the file's member, the TOC member.
    fn layer(contents: &[u8], toc_says: Option<&str>) -> (Vec<u8>, Toc) {
        use flate2::{Compression, write::GzEncoder};
        let mut blob = GzEncoder::new(Vec::new(), Compression::default());
        blob.write_all(contents).unwrap();
        let blob = blob.finish().unwrap();
        let digest = toc_says
            .map(str::to_owned)
            .unwrap_or_else(|| Digest::sha256(contents).to_string());
        let json = serde_json::json!({"version": 1, "entries": [
            {"name": "etc/os-release", "type": "reg", "size": contents.len(),
             "offset": 0, "digest": digest, "chunkDigest": digest},
        ]})
        .to_string();
        let mut t = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(json.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, "stargz.index.json", json.as_bytes())
            .unwrap();
        let mut z = GzEncoder::new(Vec::new(), Compression::default());
        z.write_all(&t.into_inner().unwrap()).unwrap();
        let packed = z.finish().unwrap();
        let toc = Toc::parse(&packed, blob.len() as u64, &Digest::sha256(json.as_bytes())).unwrap();
        assert!(matches!(
            Toc::parse(&packed, blob.len() as u64, &Digest::sha256(b"other")),
            Err(Error::Estargz { what }) if what.contains("does not match the digest its layer annotates")
        ));
        (blob, toc)
    }

    #[test]
    fn a_file_is_read_from_its_span_and_checked() {
        let (blob, toc) = layer(b"ID=debian\n", None);
        assert_eq!(toc.file_bytes(), 10);
        let plan = toc.plan("etc/os-release").unwrap();
        assert_eq!(plan.range(), (0, blob.len() as u64 - 1));
        let mut out = Vec::new();
        plan.unpack(&blob, &mut out).unwrap();
        assert_eq!(out, b"ID=debian\n");
        assert!(matches!(
            plan.unpack(&blob[1..], &mut Vec::new()),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(toc.plan("etc/passwd"), Err(Error::Estargz { .. })));

        let lie = Digest::sha256(b"something else").to_string();
        let (blob, toc) = layer(b"ID=debian\n", Some(&lie));
        let plan = toc.plan("etc/os-release").unwrap();
        assert!(matches!(
            plan.unpack(&blob, &mut Vec::new()),
            Err(Error::DigestMismatch { .. })
        ));
    }
}
