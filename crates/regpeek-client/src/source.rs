//! Where an image's manifest and blobs come from: the one seam between the image model
//! (layers, eStargz, the merged view) and the transports that fetch them.

use std::io::Read;

use anyhow::Result;
use regpeek_proto::manifest::Descriptor;
use regpeek_proto::{Digest, Reference};

/// Where an image's manifest and blobs come from. The front end implements it over
/// its transports (the registry, a recording or a replay, a local layout).
pub trait Source: Sync {
    /// The layers of the image `r` names (for an index, the platform's), base first.
    fn layers(&self, r: &Reference) -> Result<Vec<Descriptor>>;
    /// A blob of `r`'s repository, streamed; with `range`, the bytes `first..=last`.
    /// The flag says whether the body is that range (`false`: the whole blob).
    fn blob(
        &self,
        r: &Reference,
        digest: &Digest,
        range: Option<(u64, u64)>,
    ) -> Result<(Box<dyn Read + Send>, bool)>;
    /// Tells the user something once per run (a layer that cannot be read).
    fn warn(&self, text: &str);
}

/// The layers of the image an inspection found (for an index, the platform's), base
/// first: what [`Source::layers`] answers.
pub fn layers_of(insp: regpeek_proto::Inspection) -> Result<Vec<Descriptor>> {
    use regpeek_proto::manifest::Manifest;
    let name = insp.reference.familiar();
    match insp.manifest.and_then(|m| m.manifest) {
        Some(Manifest::Image(m)) => Ok(m.layers),
        Some(_) => anyhow::bail!("{name} has no image manifest to read layers from"),
        None => anyhow::bail!("the registry sent no manifest for {name}"),
    }
}
