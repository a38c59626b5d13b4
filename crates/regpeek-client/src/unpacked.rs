//! How many bytes a layer unpacks to, without reading it: the 4-byte `ISIZE` at the
//! end of a gzip stream, or a zstd frame's content size at its start, each by one
//! `Range` request of a few bytes; an eStargz layer's TOC; an uncompressed layer's own
//! size. Where those cannot be trusted the answer says so ([`Unpacked::exact`],
//! [`Unpacked::why`]), and [`read`] counts the layer itself (`--exact`).
//!
//! A size is content-addressed: the caller keeps it under the blob's digest for good
//! ([`Unpacked::to_json`]).

use anyhow::Result;
use regpeek_layer::{Packing, Take};
use regpeek_proto::Reference;
use regpeek_proto::manifest::Descriptor;
use serde::{Deserialize, Serialize};

use crate::source::Source;

/// The bytes asked of a gzip layer's end: its CRC-32 and `ISIZE`.
pub(crate) const GZIP_TAIL: u64 = 8;
/// The bytes asked of a zstd layer's start: room for the longest frame header.
pub(crate) const ZSTD_HEAD: u64 = 18;

/// How big a layer is unpacked, and how sure that is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Unpacked {
    /// The bytes it unpacks to (its tar stream's length), when known.
    pub size: Option<u64>,
    /// Whether `size` is that length for certain.
    pub exact: bool,
    /// Why it is not, or not known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

impl Unpacked {
    fn certain(size: u64) -> Unpacked {
        Unpacked {
            size: Some(size),
            exact: true,
            why: None,
        }
    }

    fn guess(size: Option<u64>, why: impl Into<String>) -> Unpacked {
        Unpacked {
            size,
            exact: false,
            why: Some(why.into()),
        }
    }

    /// As kept in a cache.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// From what [`Unpacked::to_json`] kept.
    pub(crate) fn from_json(text: &str) -> Option<Unpacked> {
        serde_json::from_str(text).ok()
    }
}

/// What the last [`GZIP_TAIL`] bytes of a gzip layer of `compressed` bytes say.
///
/// `ISIZE` is the size modulo 2³² of the last member only. Deflate cannot make data
/// smaller than its stored blocks do (5 bytes a 65,535), so the size is at least about
/// the compressed size: the smallest value ISIZE + k·2³² that reaches it is taken, and
/// marked not exact when a multiple was needed (a layer past 4 GiB, or several gzip
/// members) or when one 4 GiB larger would still be a plausible ratio (under 32:1).
pub(crate) fn from_gzip_tail(tail: &[u8], compressed: u64) -> Unpacked {
    let Some(isize) = tail
        .len()
        .checked_sub(4)
        .and_then(|at| tail.get(at..))
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes)
    else {
        return Unpacked::guess(None, "no gzip trailer");
    };
    const WRAP: u64 = 1 << 32;
    let floor = compressed
        .saturating_sub(64)
        .saturating_sub(compressed / 13_000);
    let mut size = u64::from(isize);
    let mut wraps = 0u64;
    while size < floor {
        size += WRAP;
        wraps += 1;
    }
    if wraps > 0 {
        return Unpacked::guess(
            Some(size),
            format!(
                "the gzip trailer says {isize} bytes, less than the {compressed} compressed: a layer past 4 GiB (taken as the smallest size that fits) or several gzip members; --exact reads it"
            ),
        );
    }
    if (size + WRAP) / compressed.max(1) < 32 {
        return Unpacked::guess(
            Some(size),
            "gzip keeps the size modulo 4 GiB, and 4 GiB more would fit this layer too; --exact reads it",
        );
    }
    Unpacked::certain(size)
}

/// What the first bytes of a zstd layer say: its first frame's content size, when
/// the frame header has one. A layer may hold more frames than the first, which a
/// header cannot tell: the value is not marked exact.
pub(crate) fn from_zstd_head(head: &[u8]) -> Unpacked {
    use regpeek_layer::ZstdHead;
    match regpeek_layer::zstd_head(head) {
        Ok(ZstdHead::Size(size)) => Unpacked::guess(
            Some(size),
            "the first zstd frame's content size; a layer of several frames holds more (--exact reads it)",
        ),
        Ok(ZstdHead::Unstated) => Unpacked::guess(
            None,
            "the zstd frame does not state its content size (a streaming writer's); --exact reads it",
        ),
        Ok(ZstdHead::Skippable) => Unpacked::guess(
            None,
            "the layer starts with a skippable zstd frame; --exact reads it",
        ),
        Ok(ZstdHead::Short) => Unpacked::guess(None, "a truncated zstd frame header"),
        Err(_) => Unpacked::guess(None, "not a zstd frame"),
    }
}

/// How big `desc` (a layer of `r`) is unpacked, by the fewest bytes read: none for an
/// uncompressed layer, the TOC for eStargz, else one `Range` request of a few bytes.
/// A registry that ignores `Range` is not read on (the whole blob would come).
pub fn measure(source: &dyn Source, r: &Reference, desc: &Descriptor) -> Result<Unpacked> {
    let packing = match regpeek_layer::packing(&desc.media_type) {
        Ok(p) => p,
        Err(why) => return Ok(Unpacked::guess(None, why)),
    };
    if desc.annotations.contains_key(crate::estargz::TOC_DIGEST)
        && let Some(toc) = crate::estargz::toc(source, r, desc)?
    {
        let files: u64 = toc.file_bytes();
        return Ok(Unpacked::guess(
            Some(files),
            "eStargz: the files' sizes from its TOC, without the tar headers; --exact reads it",
        ));
    }
    let (range, parse): (_, fn(&[u8], u64) -> Unpacked) = match packing {
        Packing::Tar => return Ok(Unpacked::certain(desc.size)),
        Packing::Gzip if desc.size >= 18 => {
            ((desc.size - GZIP_TAIL, desc.size - 1), from_gzip_tail)
        }
        Packing::Gzip => return Ok(Unpacked::guess(None, "too short for a gzip stream")),
        Packing::Zstd => ((0, desc.size.clamp(1, ZSTD_HEAD) - 1), |b, _| {
            from_zstd_head(b)
        }),
    };
    let (body, partial) = source.blob(r, &desc.digest, Some(range))?;
    if !partial {
        // Dropped unread: the connection closes rather than download the layer.
        return Ok(Unpacked::guess(
            None,
            "the registry ignores Range requests; --exact reads the layer",
        ));
    }
    let want = range.1 - range.0 + 1;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(body, want + 1), &mut bytes)?;
    if bytes.len() as u64 != want {
        anyhow::bail!(
            "asked for {want} bytes of {}, got {}",
            desc.digest,
            bytes.len()
        );
    }
    Ok(parse(&bytes, desc.size))
}

/// Layers' sizes added up: known when each is, exact when each is.
pub fn total(sizes: &[Unpacked]) -> Unpacked {
    let size = sizes
        .iter()
        .try_fold(0u64, |n, u| Some(n.saturating_add(u.size?)));
    let exact = size.is_some() && sizes.iter().all(|u| u.exact);
    Unpacked {
        size,
        exact,
        why: (!exact).then(|| "not every layer's size is exact".into()),
    }
}

/// Reads the layer whole and counts what it unpacks to, checked against its digest:
/// exact for any layer regpeek can read.
pub fn read(source: &dyn Source, r: &Reference, desc: &Descriptor) -> Result<Unpacked> {
    let reader = regpeek_layer::Reader::new(&desc.media_type, &desc.digest, desc.size)?;
    let body = source.blob(r, &desc.digest, None)?.0;
    let size = crate::layers::read_layer_with(body, desc, reader.to_the_end(), |_| Take::Skip)?;
    Ok(Unpacked::certain(size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(isize: u32) -> Vec<u8> {
        let mut t = vec![0u8; 4];
        t.extend_from_slice(&isize.to_le_bytes());
        t
    }

    #[test]
    fn a_gzip_trailer_read_against_the_compressed_size() {
        // A small layer: 4 GiB more would be a ratio past 32:1 only once compressed
        // is small enough; here 1 MB compressed, 3 MB unpacked: 4 GiB more is 4000:1.
        assert_eq!(
            from_gzip_tail(&tail(3_000_000), 1_000_000),
            Unpacked::certain(3_000_000)
        );
        // Past 4 GiB: ISIZE wrapped below the compressed size: one wrap added.
        let got = from_gzip_tail(&tail(1_000), 2_000_000_000);
        assert_eq!(got.size, Some((1 << 32) + 1_000));
        assert!(!got.exact && got.why.as_deref().unwrap().contains("past 4 GiB"));
        // A large layer where 4 GiB more is plausible: not exact.
        let got = from_gzip_tail(&tail(900_000_000), 300_000_000);
        assert_eq!(got.size, Some(900_000_000));
        assert!(!got.exact);
        // Incompressible data: the stored size is just under the compressed one.
        assert_eq!(
            from_gzip_tail(&tail(99_990), 100_000),
            Unpacked::certain(99_990)
        );
        assert_eq!(from_gzip_tail(&[1, 2], 10).size, None);
    }

    #[test]
    fn a_zstd_frame_header_states_its_content_size_or_not() {
        // Single segment, 1-byte content size.
        let got = from_zstd_head(&[0x28, 0xB5, 0x2F, 0xFD, 0x20, 100, 0, 0]);
        assert_eq!(got.size, Some(100));
        // Two-byte content size: 256 more than it says.
        let got = from_zstd_head(&[0x28, 0xB5, 0x2F, 0xFD, 0x60, 0x00, 0x01, 0, 0]);
        assert_eq!(got.size, Some(256 + 256));
        // A window descriptor, then a 4-byte size.
        let got = from_zstd_head(&[0x28, 0xB5, 0x2F, 0xFD, 0x80, 0x50, 0x40, 0x42, 0x0F, 0x00]);
        assert_eq!(got.size, Some(1_000_000));
        // No content size: unknown.
        let got = from_zstd_head(&[0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x50]);
        assert_eq!(got.size, None);
        assert!(got.why.unwrap().contains("does not state"));
        // A skippable frame first.
        let got = from_zstd_head(&[0x50, 0x2A, 0x4D, 0x18, 4, 0, 0, 0]);
        assert!(got.why.unwrap().contains("skippable"));
        assert_eq!(from_zstd_head(b"nope").size, None);
    }
}
