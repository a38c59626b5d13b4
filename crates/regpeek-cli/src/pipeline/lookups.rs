//! What `pin` and `outdated` ask of many tags at once, through the same batch as
//! `digest A B C` (workers per registry, the cache, holds, deadlines): each tag's
//! digest now ([`tags_now`]), with its index's entries where a pin needs them, and the
//! platform of the image an old pin names ([`platforms_of`]).

use std::collections::HashMap;

use anyhow::Result;
use regpeek_client::batch::Jobs;
use regpeek_proto::{Digest, Goal, Inspection, Platform};

use super::{BatchState, Job, Shape, look};
use crate::args::Common;
use crate::pinning::TagNow;
use crate::session::Session;

/// The media types of a single image's manifest: a tag serving one has no entries.
pub(super) const IMAGE_MANIFESTS: [&str; 2] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// What each tag of `keys` (distinct, `name:tag`) points at now. Pull-free (`HEAD`
/// only) unless a platform is asked, which reads the index. A tag some pin of `pins`
/// (`key`, digest) is not the digest of is read as an index (by digest, so the cache
/// keeps it for good): a pin to one of its entries is current.
pub fn tags_now(
    session: &Session,
    common: &Common,
    keys: &[String],
    pins: &[(String, Digest)],
    jobs: Jobs,
) -> Result<HashMap<String, Result<TagNow, String>>> {
    let asked = crate::flags::explicit_platform(common)?;
    let found = inspections(
        session,
        common,
        keys.to_vec(),
        jobs.clone(),
        Goal::Digest(asked.clone()),
    )?;
    let mut now: HashMap<String, Result<(TagNow, String), String>> = HashMap::new();
    for (key, found) in keys.iter().zip(found) {
        let tag = found.map(|insp| {
            let tag = TagNow {
                digest: insp.digest.clone(),
                asked: asked
                    .clone()
                    .zip(insp.manifest.as_ref().map(|m| m.digest.clone())),
                entries: entries_of(&insp),
            };
            (tag, insp.media_type)
        });
        now.insert(key.clone(), tag);
    }
    // The indexes some pin may be an entry of, each read once.
    let mut indexes: Vec<(String, String)> = Vec::new();
    for (key, pinned) in pins {
        let Some(Ok(tag)) = now.get(key) else {
            continue;
        };
        let single = IMAGE_MANIFESTS.contains(&tag.1.as_str());
        if tag.0.entries.is_some() || single || tag.0.judge(pinned).is_ok() {
            continue;
        }
        let at = format!("{}@{}", name_of(key)?, tag.0.digest);
        if !indexes.iter().any(|(_, a)| *a == at) {
            indexes.push((key.clone(), at));
        }
    }
    let refs: Vec<String> = indexes.iter().map(|(_, at)| at.clone()).collect();
    let read = inspections(session, common, refs, jobs, Goal::Manifest(None))?;
    for ((key, _), found) in indexes.iter().zip(read) {
        if let (Some(Ok(tag)), Ok(insp)) = (now.get_mut(key), found) {
            tag.0.entries = entries_of(&insp);
        }
        // An index that cannot be read leaves the pin judged by the tag's digest.
    }
    Ok(now
        .into_iter()
        .map(|(k, v)| (k, v.map(|(t, _)| t)))
        .collect())
}

/// What [`platforms_of`] found of each pin: by (`name:tag` key, digest), the image's
/// platform (`None`: an index, or an image that does not say), or why it is unknown.
pub type WasOf = HashMap<(String, Digest), Result<Option<Platform>, String>>;

/// What each pin of `pins` (`name:tag` key, digest) was: the platform of the image it
/// names, `None` for an index (or an image that does not say). A manifest, then, for
/// an image, its config: by digest, so the cache keeps both for good.
pub fn platforms_of(
    session: &Session,
    common: &Common,
    pins: &[(String, Digest)],
    jobs: Jobs,
) -> Result<WasOf> {
    let references: Vec<String> = pins
        .iter()
        .map(|(key, d)| Ok(format!("{}@{d}", name_of(key)?)))
        .collect::<Result<_>>()?;
    let read = inspections(
        session,
        common,
        references.clone(),
        jobs.clone(),
        Goal::Manifest(None),
    )?;
    let images: Vec<String> = references
        .iter()
        .zip(&read)
        .filter(|(_, r)| r.as_ref().is_ok_and(|i| i.index.is_none()))
        .map(|(r, _)| r.clone())
        .collect();
    let host = crate::flags::host_platform();
    let configs = inspections(session, common, images.clone(), jobs, Goal::Inspect(host))?;
    let platform: HashMap<String, Result<Option<Platform>, String>> = images
        .into_iter()
        .zip(configs)
        .map(|(r, c)| (r, c.map(|i| i.platform)))
        .collect();
    Ok(pins
        .iter()
        .cloned()
        .zip(references.iter().zip(read))
        .map(|(pin, (r, read))| {
            let was = match read {
                Err(e) => Err(e),
                Ok(i) if i.index.is_some() => Ok(None),
                Ok(_) => platform[r].clone(),
            };
            (pin, was)
        })
        .collect())
}

/// The repository of a `name:tag` key.
fn name_of(key: &str) -> Result<String> {
    Ok(crate::flags::parse_reference(key)?.name())
}

/// An index's entries, with their platforms.
fn entries_of(insp: &Inspection) -> Option<Vec<(Digest, Option<Platform>)>> {
    let index = insp.index.as_ref()?;
    Some(
        index
            .manifests
            .iter()
            .map(|d| (d.digest.clone(), d.platform.clone()))
            .collect(),
    )
}

/// `goal` for each of `references` (distinct), in order, each an error of its own.
pub(super) fn inspections(
    session: &Session,
    common: &Common,
    references: Vec<String>,
    jobs: Jobs,
    goal: Goal,
) -> Result<Vec<Result<Inspection, String>>> {
    Ok(looked_up(session, common, references, jobs, goal)?
        .into_iter()
        .map(|r| r.map_err(|e| crate::local::humane(&format!("{e:#}"))))
        .collect())
}

/// What `exists` learns of each of `references`, in order: by `HEAD` only, unless
/// a platform is asked (`--platform`), which reads the index.
pub fn existence(
    session: &Session,
    common: &Common,
    references: Vec<String>,
    jobs: Jobs,
) -> Result<Vec<Result<Inspection, anyhow::Error>>> {
    let asked = crate::flags::explicit_platform(common)?;
    looked_up(session, common, references, jobs, Goal::Digest(asked))
}

/// [`inspections`], the errors as they came.
pub(super) fn looked_up(
    session: &Session,
    common: &Common,
    references: Vec<String>,
    jobs: Jobs,
    goal: Goal,
) -> Result<Vec<Result<Inspection, anyhow::Error>>> {
    if references.is_empty() {
        return Ok(Vec::new());
    }
    session.scope_credentials(common, references.iter().map(String::as_str))?;
    let job = Job {
        shape: Shape::Digest {
            full_ref: false,
            omit_tag: false,
        },
        sources: Vec::new(),
        platforms: HashMap::new(),
        single: false,
        common,
        session,
        jobs: jobs.clone(),
        pull_free: matches!(goal, Goal::Digest(None)),
        references,
        sizes: crate::args::SizeArgs::default(),
    };
    let shared = BatchState::new();
    let lanes: Vec<String> = job
        .references
        .iter()
        .map(|r| crate::flags::lane_of(r))
        .collect();
    let mut out: Vec<Option<Result<Inspection, anyhow::Error>>> =
        (0..lanes.len()).map(|_| None).collect();
    regpeek_client::batch::run(
        &lanes,
        jobs.clone(),
        |i| {
            let started = std::time::SystemTime::now();
            look(&job, &shared, &job.references[i], goal.clone(), started)
        },
        |i, found| {
            out[i] = Some(found);
            Ok(())
        },
    )?;
    shared.offline_note();
    Ok(out
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Err(anyhow::anyhow!("not looked up"))))
        .collect())
}
