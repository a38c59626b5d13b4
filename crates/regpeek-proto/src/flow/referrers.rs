//! Transitions of the referrers walk: the OCI 1.1 referrers API (with `Link` pages),
//! else the `sha256-<hex>` tag schema, then each BuildKit attestation manifest of the
//! index for its in-toto predicate types.

use url::Url;

use super::check::{check_size, content_type};
use super::{Action, Flow, Go, Goal, Next, Outcome, Step, Wait};
use crate::digest::Digest;
use crate::error::Error;
use crate::inspection::{Referrer, ReferrerSource, Referrers};
use crate::manifest::{Descriptor, Manifest, media, parse_manifest};
use crate::uri;

/// The media type of in-toto statements, the layers of attestation manifests.
const IN_TOTO: &str = "application/vnd.in-toto+json";

impl Flow {
    fn artifact_filter(&self) -> Option<&str> {
        match &self.cfg.goal {
            Goal::Referrers { artifact_type, .. } => artifact_type.as_deref(),
            _ => None,
        }
    }

    fn wanted(&self, d: &Descriptor) -> bool {
        match self.artifact_filter() {
            None => true,
            Some(t) => d.artifact_type.as_deref() == Some(t),
        }
    }

    /// Starts listing what refers to `subject`.
    pub(super) fn start_referrers(&mut self, subject: Digest) -> Next {
        let mut path = format!(
            "/v2/{}/referrers/{subject}",
            self.cfg.reference.repository()
        );
        if let Some(t) = self.artifact_filter() {
            let q: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("artifactType", t)
                .finish();
            path.push('?');
            path.push_str(&q);
        }
        let url = uri::join(&self.state.at.base, &path).map_err(|reason| Error::InvalidUrl {
            what: format!("referrers of {subject}"),
            url: path.clone(),
            reason,
        })?;
        self.state.at.result.subject = Some(subject.clone());
        self.state.at.step = Step::Referrers { subject, url };
        Ok(Go::Issue)
    }

    /// The referrers listed in an index body (the API's answer, or the fallback tag).
    fn index_entries(&mut self, resp: http::Response<Vec<u8>>) -> Result<Vec<Descriptor>, Error> {
        check_size(resp.body(), self.cfg.limits.manifest, self.subject())?;
        let ctype = content_type(resp.headers()).or_else(|| Some(media::OCI_INDEX.to_owned()));
        match parse_manifest(ctype.as_deref(), resp.body())? {
            Manifest::Index(index) => Ok(index.manifests),
            _ => Err(Error::InvalidManifest(
                "the referrers answer is not an index".into(),
            )),
        }
    }

    /// A page of the referrers API.
    pub(super) fn on_referrers_page(
        &mut self,
        url: &Url,
        subject: Digest,
        resp: http::Response<Vec<u8>>,
    ) -> Next {
        let what = format!("referrers of {subject}");
        let next = super::listing::next_page(resp.headers(), url, &what)?;
        self.keep_referrers(resp, ReferrerSource::Api)?;
        self.state.at.result.seen_pages.push(url.clone());
        match next {
            Some(next) => {
                let url = self.follow(next, &what)?;
                self.state.at.step = Step::Referrers { subject, url };
                Ok(Go::Issue)
            }
            None => self.next_attestation(),
        }
    }

    /// The wanted entries of an index of referrers, kept with where they came from.
    fn keep_referrers(
        &mut self,
        resp: http::Response<Vec<u8>>,
        source: ReferrerSource,
    ) -> Result<(), Error> {
        for d in self.index_entries(resp)? {
            if self.wanted(&d) {
                self.state.at.result.referrers.push(Referrer {
                    descriptor: d,
                    source,
                    predicate_types: Vec::new(),
                });
            }
        }
        Ok(())
    }

    /// The `sha256-<hex>` fallback tag: an index of referrers.
    pub(super) fn on_referrers_tag(&mut self, resp: http::Response<Vec<u8>>) -> Next {
        self.keep_referrers(resp, ReferrerSource::TagSchema)?;
        self.next_attestation()
    }

    /// Reads the next attestation manifest, or finishes.
    pub(super) fn next_attestation(&mut self) -> Next {
        // An artifact-type filter other than in-toto's leaves attestations out.
        if self.artifact_filter().is_some_and(|t| t != IN_TOTO) {
            self.state.at.result.attestations.clear();
        }
        if self.state.at.result.attestations.is_empty() {
            return Ok(self.referrers_done().into());
        }
        let desc = self.state.at.result.attestations.remove(0);
        self.state.at.step = Step::Attestation(desc);
        Ok(Go::Issue)
    }

    /// An attestation manifest: its layers' predicate types.
    pub(super) fn on_attestation(
        &mut self,
        desc: &Descriptor,
        resp: http::Response<Vec<u8>>,
    ) -> Next {
        let predicate_types = match self.manifest_of(desc, resp)?.1 {
            Manifest::Image(m) => m
                .layers
                .iter()
                .filter_map(|l| l.annotations.get("in-toto.io/predicate-type"))
                .cloned()
                .collect(),
            _ => Vec::new(),
        };
        self.state.at.result.referrers.push(Referrer {
            descriptor: desc.clone(),
            source: ReferrerSource::Attestation,
            predicate_types,
        });
        self.next_attestation()
    }

    fn referrers_done(&mut self) -> (Wait, Action) {
        let r = std::mem::take(&mut self.state.at.result);
        match r.subject {
            Some(subject) => (
                Wait::Done,
                Action::Done(Ok(Outcome::Referrers(Referrers {
                    subject,
                    items: r.referrers,
                }))),
            ),
            None => (
                Wait::Done,
                Action::Done(Err(Error::Internal("referrers without a subject"))),
            ),
        }
    }
}
