//! eStargz layers read in part, over a [`Source`]: the ranges `regpeek_layer::estargz`
//! plans are fetched with HTTP `Range` requests, the footer, then the table of
//! contents (checked against the digest the layer's descriptor annotates), then only
//! the chunks of the file asked for. A registry that ignores `Range` (a `200` where a
//! `206` was asked) gives `None`, and the caller reads the layer whole instead.
//!
//! The format and its checks are `regpeek_layer::estargz`'s (docs/protocol.md §8.3).

use std::io::Read;

use anyhow::{Result, bail};
use regpeek_layer::estargz::{self as format, Toc};
use regpeek_proto::manifest::Descriptor;
use regpeek_proto::{Digest, Reference};

use crate::contents::Contents;
use crate::layers::{self, Entry, Kind};
use crate::source::Source;

pub use regpeek_layer::estargz::TOC_DIGEST;

/// The entries of `toc` as a tar reading shows them (chunks after a file's first left
/// out), with each regular file's `digest` from the TOC (unverified until a chunk is
/// read; the TOC itself is checked against its annotation).
pub fn contents(toc: &Toc) -> Contents {
    let (entries, digests) = toc
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
    // The footer alone, then exactly the TOC it points at: no byte beyond the TOC and
    // the file's chunks is read. The TOC and the chunks go straight to where the
    // registry sent the footer's request (a CDN), so this costs no round trip more
    // than asking for a larger tail at first would behind a redirect.
    let Some(footer) = range(source, r, &desc.digest, format::footer_range(desc.size)?)? else {
        return Ok(None);
    };
    let (first, last) = format::toc_range(&footer, desc.size)?;
    let Some(packed) = range(source, r, &desc.digest, (first, last))? else {
        return Ok(None);
    };
    Ok(Some(Toc::parse(&packed, first, &want)?))
}

/// The contents of the file `path` names in the TOC, chunk by chunk, each checked
/// against its digest (and the whole against the file's); `Ok(None)` when the
/// registry ignores `Range`.
pub(crate) fn read_file(
    source: &dyn Source,
    r: &Reference,
    desc: &Descriptor,
    toc: &Toc,
    path: &str,
    out: &mut impl std::io::Write,
) -> Result<Option<()>> {
    let plan = toc.plan(path)?;
    let Some(packed) = range(source, r, &desc.digest, plan.range())? else {
        return Ok(None);
    };
    plan.unpack(&packed, out)?;
    Ok(Some(()))
}

/// Whether `e` is one of the image's files: an eStargz layer's own TOC is not.
pub(crate) fn of_the_image(desc: &Descriptor, e: &Entry) -> bool {
    !(e.path == "stargz.index.json" && desc.annotations.contains_key(TOC_DIGEST))
}
