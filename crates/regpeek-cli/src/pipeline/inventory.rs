//! What every tag of a repository points at (`tags --long`, `--points-at`, `--sort
//! created`): one `HEAD` a tag, cold or warm; the manifests and configs behind each
//! distinct digest read once, by digest, so the cache keeps them for good. A warm
//! rerun where nothing moved makes only the `HEAD`s; tags sharing a digest cost one
//! read.

use regpeek_client::batch::Jobs;
use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::Result;
use regpeek_proto::manifest::Manifest;
use regpeek_proto::{Digest, Goal, Inspection, Platform};
use serde::Serialize;

use super::lookups::{IMAGE_MANIFESTS, inspections, looked_up};
use crate::args::Common;
use crate::session::Session;
use crate::summary::compressed_size;

/// One row of `tags --long`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagRow {
    /// The tag.
    pub tag: String,
    /// What it points at (a manifest or an index).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Its media type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// An index's platforms (attestations left out); `null` for a single image.
    pub platforms: Option<Vec<String>>,
    /// Compressed size (config and layers) of the platform's image: the host's, or
    /// `--platform`'s.
    pub size: Option<u64>,
    /// With `--platform all`: each platform's compressed size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sizes: Option<BTreeMap<String, u64>>,
    /// The config's `created`.
    pub created: Option<String>,
    /// With `--uncompressed`: what the image's layers unpack to, added up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uncompressed_size: Option<u64>,
    /// With `--uncompressed`: whether that is exact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uncompressed_exact: Option<bool>,
    /// When the registry says the tag was pushed (its own API; `null` elsewhere).
    pub pushed: Option<String>,
    /// Why this tag could not be answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl TagRow {
    /// A tag's row with what its `HEAD` (or the registry's list) said, or why not.
    pub fn of(tag: &str, head: Result<Head, String>) -> TagRow {
        let (head, error) = match head {
            Ok(h) => (Some(h), None),
            Err(e) => (None, Some(e)),
        };
        TagRow {
            tag: tag.to_owned(),
            digest: head.as_ref().map(|h| h.digest.to_string()),
            media_type: head.as_ref().map(|h| h.media_type.clone()),
            platforms: None,
            size: None,
            sizes: None,
            created: None,
            uncompressed_size: None,
            uncompressed_exact: None,
            pushed: head.and_then(|h| h.pushed),
            error,
        }
    }
}

/// Which platform's image a row's size and date are of.
#[derive(Debug, Clone)]
pub enum SizeOf {
    /// One platform's (the host's, or `--platform`'s).
    One(Platform),
    /// Every platform's size, the host's date.
    All(Platform),
}

/// What `tags --long` asks of each distinct image.
pub struct Wanted {
    /// Whose size and date.
    pub sized: SizeOf,
    /// `--uncompressed` (`Some(true)`: `--exact`).
    pub unpacked: Option<bool>,
    /// How many at once.
    pub jobs: Jobs,
}

/// What a digest holds, read once for every tag pointing at it.
#[derive(Debug, Clone, Default)]
struct Held {
    platforms: Option<Vec<String>>,
    /// An index's image entries with their platforms (attestations left out); for
    /// an image, itself with its platform.
    images: Vec<(Digest, String)>,
    size: Option<u64>,
    sizes: Option<BTreeMap<String, u64>>,
    created: Option<String>,
    /// The platform's image's layers (for `--uncompressed`).
    layers: Vec<regpeek_proto::manifest::Descriptor>,
    unpacked: Option<regpeek_client::unpacked::Unpacked>,
}

/// What a tag points at: learnt by `HEAD`, or as the registry's own tag list says
/// ([`super::listed`]), with when it was pushed where that says it.
#[derive(Debug, Clone)]
pub struct Head {
    /// The manifest's or index's digest.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// When the registry says the tag was pushed (RFC 3339).
    pub pushed: Option<String>,
}

/// Each of `tags` of repository `name` as it points now, `HEAD` only: digest and
/// media type, or why not.
pub fn heads(
    session: &Session,
    common: &Common,
    name: &str,
    tags: &[String],
    jobs: Jobs,
) -> Result<Vec<Result<Head, String>>> {
    let refs = tags.iter().map(|t| format!("{name}:{t}")).collect();
    Ok(
        inspections(session, common, refs, jobs.clone(), Goal::Digest(None))?
            .into_iter()
            .map(|r| {
                r.map(|i| Head {
                    digest: i.digest,
                    media_type: i.media_type,
                    pushed: None,
                })
            })
            .collect(),
    )
}

/// The rows of `tags --long` for `tags` of `name` with what their `HEAD`s found
/// (`heads`, in the same order).
pub fn rows(
    session: &Session,
    common: &Common,
    name: &str,
    tags: &[String],
    heads: Vec<Result<Head, String>>,
    wanted: &Wanted,
) -> Result<Vec<TagRow>> {
    let digests = distinct(&heads);
    let mut held = held(
        session,
        common,
        name,
        &digests,
        &wanted.sized,
        wanted.jobs.clone(),
    )?;
    if let Some(exact) = wanted.unpacked {
        let r = crate::flags::parse_reference(name)?;
        for h in held.values_mut().flatten() {
            let sizes = super::unpacked::of_layers(session, common, exact, &r, &h.layers);
            h.unpacked = Some(regpeek_client::unpacked::total(&sizes));
        }
    }
    Ok(tags
        .iter()
        .zip(heads)
        .map(|(tag, head)| {
            let digest = head.as_ref().ok().map(|h| h.digest.clone());
            let mut row = TagRow::of(tag, head);
            match digest.and_then(|d| held.get(&d)) {
                Some(Ok(h)) => {
                    row.platforms = h.platforms.clone();
                    row.size = h.size;
                    row.sizes = h.sizes.clone();
                    row.created = h.created.clone();
                    if let Some(u) = &h.unpacked {
                        row.uncompressed_size = u.size;
                        row.uncompressed_exact = Some(u.exact);
                    }
                }
                Some(Err(e)) => row.error = Some(e.clone()),
                None => {}
            }
            row
        })
        .collect())
}

/// The tags (of `tags`, with their `heads`) that point at `wanted`: their digest is
/// it, or their index holds it as an entry. An index is read once, by digest (so the
/// cache keeps it for good), and only when its own digest is not `wanted`.
pub fn points_at(
    session: &Session,
    common: &Common,
    name: &str,
    heads: &[Result<Head, String>],
    wanted: &Digest,
    jobs: Jobs,
) -> Result<Vec<bool>> {
    let indexes: Vec<Digest> = distinct(heads)
        .into_iter()
        .filter(|d| d != wanted)
        .filter(|d| {
            heads
                .iter()
                .flatten()
                // What is not an image's manifest may be an index (or a list).
                .any(|h| h.digest == *d && !IMAGE_MANIFESTS.contains(&h.media_type.as_str()))
        })
        .collect();
    let refs = indexes.iter().map(|d| format!("{name}@{d}")).collect();
    let read = looked_up(session, common, refs, jobs.clone(), Goal::Manifest(None))?;
    let holding: HashSet<&Digest> = indexes
        .iter()
        .zip(&read)
        .filter(|(_, r)| {
            r.as_ref()
                .is_ok_and(|i| entries(i).iter().any(|e| e == wanted))
        })
        .map(|(d, _)| d)
        .collect();
    Ok(heads
        .iter()
        .map(|h| {
            h.as_ref()
                .is_ok_and(|h| h.digest == *wanted || holding.contains(&h.digest))
        })
        .collect())
}

/// The digests `heads` found, each once, in order.
fn distinct(heads: &[Result<Head, String>]) -> Vec<Digest> {
    let mut seen = HashSet::new();
    heads
        .iter()
        .flatten()
        .filter(|h| seen.insert(h.digest.clone()))
        .map(|h| h.digest.clone())
        .collect()
}

/// An index's entry digests (none for an image).
fn entries(insp: &Inspection) -> Vec<Digest> {
    insp.index
        .as_ref()
        .map(|i| i.manifests.iter().map(|d| d.digest.clone()).collect())
        .unwrap_or_default()
}

/// What each of `digests` (of repository `name`) holds: the platform's image (its
/// manifest and config), and with [`SizeOf::All`] every platform's manifest.
fn held(
    session: &Session,
    common: &Common,
    name: &str,
    digests: &[Digest],
    sized: &SizeOf,
    jobs: Jobs,
) -> Result<HashMap<Digest, Result<Held, String>>> {
    let platform = match sized {
        SizeOf::One(p) | SizeOf::All(p) => p.clone(),
    };
    let refs: Vec<String> = digests.iter().map(|d| format!("{name}@{d}")).collect();
    let found = looked_up(
        session,
        common,
        refs.clone(),
        jobs.clone(),
        Goal::Inspect(platform),
    )?;
    let mut held: HashMap<Digest, Result<Held, String>> = HashMap::new();
    // An index without the platform still has platforms to show: read it alone.
    let mut bare: Vec<Digest> = Vec::new();
    for (d, found) in digests.iter().zip(found) {
        match found {
            Ok(insp) => {
                held.insert(d.clone(), Ok(held_of(&insp)));
            }
            Err(e) if no_such_platform(&e) => bare.push(d.clone()),
            Err(e) => {
                held.insert(d.clone(), Err(crate::local::humane(&format!("{e:#}"))));
            }
        }
    }
    let refs = bare.iter().map(|d| format!("{name}@{d}")).collect();
    for (d, found) in bare.iter().zip(looked_up(
        session,
        common,
        refs,
        jobs.clone(),
        Goal::Manifest(None),
    )?) {
        let h = found
            .map(|insp| held_of(&insp))
            .map_err(|e| crate::local::humane(&format!("{e:#}")));
        held.insert(d.clone(), h);
    }
    if matches!(sized, SizeOf::All(_)) {
        every_size(session, common, name, &mut held, jobs.clone())?;
    }
    Ok(held)
}

/// With `--platform all`: the size of every platform's image of each index, from its
/// manifest (read by digest, once for all the indexes holding it).
fn every_size(
    session: &Session,
    common: &Common,
    name: &str,
    held: &mut HashMap<Digest, Result<Held, String>>,
    jobs: Jobs,
) -> Result<()> {
    let mut wanted: Vec<Digest> = Vec::new();
    let mut seen = HashSet::new();
    for h in held.values().flatten() {
        for (e, _) in &h.images {
            if seen.insert(e.clone()) {
                wanted.push(e.clone());
            }
        }
    }
    let refs = wanted.iter().map(|d| format!("{name}@{d}")).collect();
    let read = looked_up(session, common, refs, jobs.clone(), Goal::Manifest(None))?;
    let size_of: HashMap<&Digest, u64> = wanted
        .iter()
        .zip(&read)
        .filter_map(|(d, r)| {
            let m = r.as_ref().ok()?.manifest.as_ref()?.manifest.as_ref();
            Some((d, compressed_size(m)?))
        })
        .collect();
    for h in held.values_mut().flatten() {
        let sizes = h
            .images
            .iter()
            .filter_map(|(d, p)| Some((p.clone(), *size_of.get(d)?)))
            .collect();
        h.sizes = Some(sizes);
    }
    Ok(())
}

/// What an inspection by digest says of the image it names.
fn held_of(insp: &Inspection) -> Held {
    let image = insp.manifest.as_ref().and_then(|m| m.manifest.as_ref());
    let platforms = insp.index.as_ref().map(|_| {
        insp.platforms
            .clone()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    });
    let images = match &insp.index {
        Some(index) => index
            .manifests
            .iter()
            .filter(|d| !d.is_attestation())
            .filter_map(|d| Some((d.digest.clone(), d.platform.as_ref()?.to_string())))
            .collect(),
        None => insp
            .manifest
            .as_ref()
            .zip(insp.platform.as_ref())
            .map(|(m, p)| (m.digest.clone(), p.to_string()))
            .into_iter()
            .collect(),
    };
    Held {
        platforms,
        images,
        layers: match image {
            Some(Manifest::Image(m)) => m.layers.clone(),
            _ => Vec::new(),
        },
        unpacked: None,
        size: match image {
            Some(m @ Manifest::Image(_)) => compressed_size(Some(m)),
            _ => None,
        },
        sizes: None,
        created: insp
            .config
            .as_ref()
            .and_then(|c| c.config.as_ref())
            .and_then(|c| c.created.clone()),
    }
}

/// Whether the flow failed because an index has no image for the platform.
fn no_such_platform(e: &anyhow::Error) -> bool {
    matches!(
        crate::errors::core_error(e),
        Some(regpeek_proto::Error::NoMatchingPlatform { .. })
    )
}
