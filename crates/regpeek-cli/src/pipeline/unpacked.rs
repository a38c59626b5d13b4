//! `--uncompressed`: what each layer of an image unpacks to
//! ([`regpeek_client::unpacked`]), every layer at once (a `Range` request of a few
//! bytes each), each answer kept in the cache for good under the layer's digest.

use regpeek_client::unpacked::{self, Unpacked};
use regpeek_proto::manifest::{Descriptor, Manifest};
use regpeek_proto::{Inspection, Reference};

use super::Job;
use crate::args::Common;
use crate::layers::Reading;
use crate::session::Session;

/// The most layers measured at once: a few bytes each, so all of a 40-layer image in
/// one round.
const AT_ONCE: usize = 64;

/// What each layer of the image `insp` found unpacks to, in order (none for an index
/// or an artifact without layers). A layer that cannot be measured says why.
pub fn of_image(job: &Job, insp: &Inspection) -> Vec<Unpacked> {
    let layers = match insp.manifest.as_ref().and_then(|m| m.manifest.as_ref()) {
        Some(Manifest::Image(m)) => m.layers.clone(),
        _ => return Vec::new(),
    };
    of_layers(
        job.session,
        job.common,
        job.sizes.exact,
        &insp.reference,
        &layers,
    )
}

/// What each of `layers` (of `r`'s repository) unpacks to, in order; `exact`: each
/// read whole.
pub fn of_layers(
    session: &Session,
    common: &Common,
    exact: bool,
    r: &Reference,
    layers: &[Descriptor],
) -> Vec<Unpacked> {
    let source = Reading { session, common };
    let mut out: Vec<Option<Unpacked>> = vec![None; layers.len()];
    // A lane each (of one worker), so that none waits for a first to go alone: the
    // image's manifest was just fetched, so the registry's scheme and token are known,
    // and each blob's redirect is its own. At most AT_ONCE layers at once (Docker
    // builds at most 127; more than AT_ONCE go round again).
    let lanes: Vec<String> = (0..layers.len())
        .map(|i| (i % AT_ONCE).to_string())
        .collect();
    let run = regpeek_client::batch::run(
        &lanes,
        1,
        |i| one(session, exact, &source, r, &layers[i]),
        |i, u| {
            out[i] = Some(u);
            Ok(())
        },
    );
    let failed = run.err().map(|e| format!("{e:#}"));
    out.into_iter()
        .map(|u| {
            u.unwrap_or_else(|| Unpacked {
                size: None,
                exact: false,
                why: Some(failed.clone().unwrap_or_else(|| "not measured".into())),
            })
        })
        .collect()
}

/// One layer: from the cache, else measured (read whole with `--exact`), then kept.
fn one(
    session: &Session,
    exact: bool,
    source: &Reading,
    r: &Reference,
    desc: &Descriptor,
) -> Unpacked {
    let cache = session.cache.as_deref();
    let kept = cache.and_then(|c| c.unpacked(&desc.digest));
    if let Some(u) = kept.filter(|u| u.exact || !exact) {
        return u;
    }
    let measured = if exact {
        unpacked::read(source, r, desc)
    } else {
        unpacked::measure(source, r, desc)
    };
    match measured {
        Ok(u) => {
            // What the layer's bytes say is theirs for good; a registry's refusal of
            // `Range` is not.
            if let (Some(c), Some(_)) = (cache, u.size) {
                c.keep_unpacked(&desc.digest, &u);
            }
            u
        }
        Err(e) => Unpacked {
            size: None,
            exact: false,
            why: Some(crate::output::safe_line(&crate::local::humane(&format!(
                "{e:#}"
            )))),
        },
    }
}
