//! `platforms`: every platform of an image, one reference of the batch like any other:
//! its flows share the registry's client, tokens and hold, and all of them end by the
//! deadline of the reference (the whole `--timeout`, from when it started).

use std::time::SystemTime;

use anyhow::Result;
use regpeek_proto::Goal;

use super::{BatchState, Job, flow_options, run_flow};
use crate::summary::{self, PlatformRow};

/// How many platforms of one image are inspected at once.
const PLATFORMS_AT_ONCE: usize = 8;

/// Every platform of the image `input` names, inspected in parallel; a single-platform
/// image gives one row.
pub(super) fn platforms(
    job: &Job,
    shared: &BatchState,
    input: &str,
    started: SystemTime,
) -> Result<Vec<PlatformRow>> {
    let r = crate::flags::parse_reference(input)?;
    let (client, options) = flow_options(job, shared, &r, Goal::Manifest(None), started)?;
    let top = run_flow(job, &*client, r.clone(), options.clone())?.into_image()?;
    job.session.warn(&top.warnings);
    // Kept as inspect keeps what it reads: a warm run revalidates the tag with a HEAD
    // and asks nothing of what the cache holds (on Docker Hub: no pull spent).
    let kept = |insp: &regpeek_proto::Inspection| {
        job.session.remember(insp);
        super::keep_in_memory(job.session, shared, insp);
    };
    kept(&top);
    let pinned = |digest: &regpeek_proto::Digest| {
        crate::flags::parse_reference(&format!("{}@{digest}", r.name()))
    };
    let inspect = |digest: &regpeek_proto::Digest,
                   platform: regpeek_proto::Platform|
     -> Result<regpeek_proto::Inspection> {
        let pinned = pinned(digest)?;
        let mut o = options.clone();
        o.goal = Goal::Inspect(platform);
        // What the cache vouches for is asked of this reference, not of the tag.
        o.known = job.session.known_for(&pinned, Some(shared.known.clone()));
        let insp = run_flow(job, &*client, pinned, o)?.into_image()?;
        kept(&insp);
        Ok(insp)
    };
    // With --uncompressed: what the platform's layers unpack to, added up.
    let row_of = |insp: &regpeek_proto::Inspection, attested: bool| {
        let mut row = summary::platform_row(insp, attested);
        if job.sizes.uncompressed {
            let sizes = super::unpacked::of_image(job, insp);
            row.uncompressed_size = regpeek_client::unpacked::total(&sizes).size;
        }
        row
    };
    let Some(index) = &top.index else {
        let insp = inspect(&top.digest, crate::flags::host_platform())?;
        return Ok(vec![row_of(&insp, false)]);
    };
    // BuildKit attestations point at their image with this annotation.
    let attested: Vec<&str> = index.manifests.iter().filter_map(|d| d.attests()).collect();
    let entries: Vec<_> = index
        .manifests
        .iter()
        .filter(|d| !d.is_attestation())
        .filter_map(|d| d.platform.clone().map(|p| (d, p)))
        .collect();
    let mut rows = Vec::with_capacity(entries.len());
    // One registry: one lane of the batch engine.
    regpeek_client::batch::run(
        &vec![String::new(); entries.len()],
        PLATFORMS_AT_ONCE,
        |i| -> Result<PlatformRow> {
            let (desc, platform) = &entries[i];
            let insp = inspect(&desc.digest, platform.clone())?;
            let attested = attested.contains(&desc.digest.to_string().as_str());
            let mut row = row_of(&insp, attested);
            row.platform = platform.to_string();
            Ok(row)
        },
        |_, row| {
            rows.push(row?);
            Ok(())
        },
    )?;
    Ok(rows)
}
