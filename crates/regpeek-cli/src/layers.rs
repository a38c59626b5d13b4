//! The run's side of the image model: a [`Session`] and the command's flags as the
//! [`regpeek_client::source::Source`] its images read their manifests and blobs from.

use std::io::Read;

use anyhow::Result;
use regpeek_client::source::Source;
use regpeek_proto::manifest::Descriptor;
use regpeek_proto::{Digest, Goal, Reference};

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
        // Kept, so that the layers' contents the cache keeps answer `--offline`.
        self.session.remember(&insp);
        regpeek_client::source::layers_of(insp)
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
        session.registries.blob(&*client, r.clone(), options)
    }

    fn warn(&self, text: &str) {
        self.session.warn_once(text);
    }
}
