//! The run's side of the image model: a [`Session`] and the command's flags as the
//! [`regpeek_client::source::Source`] its images read their manifests and blobs from.

use std::io::Read;

use anyhow::{Result, bail};
use regpeek_client::source::Source;
use regpeek_proto::manifest::{Descriptor, Manifest};
use regpeek_proto::{Digest, Flow, Goal, Reference};

use crate::args::Common;
use crate::session::Session;

/// A session and the command's flags, as the source of images' content.
pub struct Reading<'a> {
    pub session: &'a Session,
    pub common: &'a Common,
}

impl Source for Reading<'_> {
    fn layers(&self, r: &Reference) -> Result<Vec<Descriptor>> {
        let platform = crate::flags::platform(self.common)?;
        let insp = self
            .session
            .run(r, self.common, Goal::Manifest(Some(platform)))?
            .into_image()?;
        match insp.manifest.and_then(|m| m.manifest) {
            Some(Manifest::Image(m)) => Ok(m.layers),
            Some(_) => bail!("{} has no image manifest to read layers from", r.familiar()),
            None => bail!("the registry sent no manifest for {}", r.familiar()),
        }
    }

    fn blob(
        &self,
        r: &Reference,
        digest: &Digest,
        range: Option<(u64, u64)>,
    ) -> Result<(Box<dyn Read + Send>, bool)> {
        let (session, common) = (self.session, self.common);
        let (mut options, client) = session.prepare(r, common, Goal::Blob(digest.clone()))?;
        options.range = range;
        // Where the registry sent this blob before in the run: asked there first.
        let key = format!("{}/{}@{digest}", r.registry(), r.repository());
        options.location = session.blob_location(&key);
        let (turn, tokens) = session.turn(r);
        let flow = Flow::new(r.clone(), options, tokens);
        let (result, tokens) = client.run_blob(flow);
        session.keep_tokens(&tokens);
        drop(turn);
        let (outcome, body) = result?;
        let (partial, location) = match outcome {
            regpeek_proto::Outcome::Blob {
                partial, location, ..
            } => (partial, location),
            _ => (false, None),
        };
        session.remember_blob_location(&key, location);
        Ok((Box::new(body.into_reader()), partial))
    }

    fn warn(&self, text: &str) {
        self.session.warn_once(text);
    }
}
