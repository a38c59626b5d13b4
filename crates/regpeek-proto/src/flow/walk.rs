//! Transitions of the manifest walk: top-level manifest or index, the platform's
//! manifest out of an index, the config blob. Every body is checked against its size
//! cap, its descriptor and its digest before it is parsed.

use super::check::{check_size, content_length, content_type, docker_digest, verify};
use super::{Action, Flow, Go, Goal, Next, Outcome, Step, Wait};
use crate::config::parse_config;
use crate::digest::{Algorithm, Digest};
use crate::error::Error;
use crate::inspection::{FetchedConfig, FetchedManifest, Inspection};
use crate::manifest::{Descriptor, Manifest, media, parse_manifest};
use crate::select::{offered, select};

impl Flow {
    /// `HEAD` of the top-level manifest (`Goal::Digest` without a platform).
    pub(super) fn on_top_head(&mut self, resp: &http::Response<Vec<u8>>) -> Next {
        let media_type = content_type(resp.headers());
        let header_digest = docker_digest(resp.headers())?;
        if !matches!(self.cfg.goal, Goal::Digest(None)) {
            // A revalidation: when the tag still points at content the caller holds,
            // everything else comes from it; otherwise the manifest is fetched.
            // (The HEAD has just confirmed the repository has it.)
            let held = header_digest
                .as_ref()
                .and_then(|d| Some((d.clone(), self.cfg.known.get(d)?)));
            self.state.at.step = Step::Top { head: false };
            let Some((digest, bytes)) = held else {
                return Ok(Go::Issue);
            };
            let mut r = http::Response::builder()
                .status(200)
                .header("docker-content-digest", digest.to_string());
            if let Some(t) = &media_type {
                r = r.header(http::header::CONTENT_TYPE, t.as_str());
            }
            let resp = r
                .body(bytes)
                .map_err(|_| Error::Internal("a response from known content"))?;
            return self.on_top_get(resp);
        }
        let wants_index = self.cfg.goal.platform().is_some()
            && media_type
                .as_deref()
                .is_some_and(|t| t == media::OCI_INDEX || t == media::DOCKER_LIST);
        let Some(digest) = header_digest.filter(|_| !wants_index) else {
            // No digest header (old registries), or an index to look into: GET it.
            self.state.at.step = Step::Top { head: false };
            return Ok(Go::Issue);
        };
        if let Some(want) = self.cfg.reference.digest()
            && *want != digest
        {
            return Err(Error::DigestMismatch {
                subject: self.subject(),
                expected: want.to_string(),
                actual: digest.to_string(),
            });
        }
        self.state.at.result.digest = Some(digest);
        self.state.at.result.media_type = media_type;
        self.state.at.result.size = content_length(resp.headers());
        self.done()
    }

    /// `GET` of the top-level manifest or index.
    pub(super) fn on_top_get(&mut self, resp: http::Response<Vec<u8>>) -> Next {
        let subject = self.subject();
        check_size(resp.body(), self.cfg.limits.manifest, subject.clone())?;
        let header_digest = docker_digest(resp.headers())?;
        let ctype = content_type(resp.headers());
        let body = resp.into_body();
        let manifest = parse_manifest(ctype.as_deref(), &body)?;
        let canonical = match &manifest {
            Manifest::Schema1(s) if s.media_type == media::SCHEMA1_SIGNED => {
                Some(s.canonical_digest.clone())
            }
            _ => None,
        };
        let alg = self
            .cfg
            .reference
            .digest()
            .or(header_digest.as_ref())
            .map_or(Algorithm::Sha256, Digest::algorithm);
        let actual = canonical.unwrap_or_else(|| alg.digest(&body));
        for expected in [self.cfg.reference.digest(), header_digest.as_ref()]
            .into_iter()
            .flatten()
        {
            if expected.algorithm() == actual.algorithm() && *expected != actual {
                return Err(Error::DigestMismatch {
                    subject,
                    expected: expected.to_string(),
                    actual: actual.to_string(),
                });
            }
        }
        self.state.at.result.digest = Some(actual.clone());
        self.state.at.result.media_type = Some(manifest.media_type().to_owned());
        self.state.at.result.size = Some(body.len() as u64);
        self.state.at.result.raw = Some(body.clone());
        self.after_manifest(actual, body, manifest, 0)
    }

    /// `GET` of a platform's manifest, by digest, out of an index.
    pub(super) fn on_child(
        &mut self,
        desc: &Descriptor,
        depth: u8,
        resp: http::Response<Vec<u8>>,
    ) -> Next {
        let (body, manifest) = self.manifest_of(desc, resp)?;
        self.after_manifest(desc.digest.clone(), body, manifest, depth)
    }

    /// A manifest fetched by its descriptor: within the size limit, matching the
    /// descriptor's digest, parsed by its content type (else the descriptor's).
    pub(super) fn manifest_of(
        &self,
        desc: &Descriptor,
        resp: http::Response<Vec<u8>>,
    ) -> Result<(Vec<u8>, Manifest), Error> {
        let subject = self.subject();
        check_size(resp.body(), self.cfg.limits.manifest, subject.clone())?;
        verify(desc, resp.body(), subject)?;
        let ctype = content_type(resp.headers()).or_else(|| Some(desc.media_type.clone()));
        let body = resp.into_body();
        let manifest = parse_manifest(ctype.as_deref(), &body)?;
        Ok((body, manifest))
    }

    /// What follows a manifest: an index leads to a platform, an image to its config
    /// (for `Inspect`), anything else ends the flow.
    fn after_manifest(
        &mut self,
        digest: Digest,
        body: Vec<u8>,
        manifest: Manifest,
        depth: u8,
    ) -> Next {
        match manifest {
            Manifest::Index(index) => {
                if let (Goal::Referrers { .. }, None) = (&self.cfg.goal, self.cfg.goal.platform()) {
                    // The index's own referrers, and every attestation inside it.
                    self.state.at.result.attestations = index
                        .manifests
                        .iter()
                        .filter(|d| d.is_attestation())
                        .cloned()
                        .collect();
                    self.state.at.result.index.get_or_insert(index);
                    return self.start_referrers(digest);
                }
                let Some(wanted) = self.cfg.goal.platform().cloned() else {
                    self.state.at.result.index.get_or_insert(index);
                    return self.done();
                };
                if depth >= 2 {
                    return Err(Error::InvalidManifest("indexes nested too deep".into()));
                }
                let Some(desc) = select(&index.manifests, &wanted).cloned() else {
                    return Err(Error::NoMatchingPlatform {
                        reference: self.cfg.reference.familiar(),
                        wanted: Box::new(wanted),
                        available: offered(&index.manifests),
                    });
                };
                self.state.at.result.platform = desc.platform.clone();
                if matches!(self.cfg.goal, Goal::Referrers { .. }) {
                    // The attestations that are about this platform's manifest.
                    let target = desc.digest.to_string();
                    self.state.at.result.attestations = index
                        .manifests
                        .iter()
                        .filter(|d| d.attests() == Some(target.as_str()))
                        .cloned()
                        .collect();
                }
                self.state.at.result.index.get_or_insert(index);
                if matches!(self.cfg.goal, Goal::Digest(_)) {
                    self.state.at.result.manifest = Some(FetchedManifest {
                        digest: desc.digest.clone(),
                        media_type: desc.media_type.clone(),
                        size: desc.size,
                        raw: None,
                        manifest: None,
                    });
                    return self.done();
                }
                self.state.at.step = Step::Child {
                    desc,
                    depth: depth + 1,
                };
                Ok(Go::Issue)
            }
            Manifest::Image(_) if matches!(self.cfg.goal, Goal::Referrers { .. }) => {
                self.start_referrers(digest)
            }
            Manifest::Image(_) | Manifest::Schema1(_) => {
                // Only an image manifest has a config blob (schema 1 carries its config
                // in its history).
                let config = match &manifest {
                    Manifest::Image(image) if matches!(self.cfg.goal, Goal::Inspect(_)) => {
                        Some(image.config.clone())
                    }
                    _ => None,
                };
                self.state.at.result.manifest = Some(FetchedManifest {
                    digest,
                    media_type: manifest.media_type().to_owned(),
                    size: body.len() as u64,
                    raw: Some(body),
                    manifest: Some(manifest),
                });
                match config {
                    Some(config) => {
                        self.state.at.step = Step::Config(config);
                        Ok(Go::Issue)
                    }
                    None => self.done(),
                }
            }
        }
    }

    /// The config blob.
    pub(super) fn on_config(&mut self, desc: &Descriptor, resp: http::Response<Vec<u8>>) -> Next {
        let subject = self.subject();
        check_size(resp.body(), self.cfg.limits.config, subject.clone())?;
        verify(desc, resp.body(), subject)?;
        let raw = resp.into_body();
        let is_image_config =
            desc.media_type == media::OCI_CONFIG || desc.media_type == media::DOCKER_CONFIG;
        let config = if is_image_config {
            Some(parse_config(&raw)?)
        } else {
            None
        };
        // A single-platform image's platform is what its config says.
        if let (None, Some(c)) = (&self.state.at.result.platform, &config)
            && !c.os.is_empty()
            && !c.architecture.is_empty()
        {
            let mut p = crate::Platform::new(&c.os, &c.architecture, c.variant.as_deref());
            p.os_version = c.os_version.clone();
            self.state.at.result.platform = Some(p);
        }
        self.state.at.result.config = Some(FetchedConfig {
            digest: desc.digest.clone(),
            media_type: desc.media_type.clone(),
            raw,
            config,
        });
        self.done()
    }

    /// The image outcome, from what the walk gathered.
    pub(super) fn done(&mut self) -> Next {
        let r = std::mem::take(&mut self.state.at.result);
        let Some(digest) = r.digest else {
            return Err(Error::Internal("finished without a digest"));
        };
        let ep = &self.cursor.endpoints[self.state.at.endpoint];
        let platform_matched = self
            .cfg
            .goal
            .platform()
            .zip(r.platform.as_ref())
            .map(|(asked, found)| asked.matches(found));
        let platforms = match &r.index {
            Some(index) => crate::select::offered(&index.manifests),
            None => r.platform.iter().cloned().collect(),
        };
        let inspection = Inspection {
            reference: self.cfg.reference.clone(),
            digest,
            platform_matched,
            platforms,
            media_type: r.media_type.unwrap_or_default(),
            size: r.size,
            raw: r.raw,
            index: r.index,
            platform: r.platform,
            manifest: r.manifest,
            config: r.config,
            warnings: r.warnings,
            rate_limit: r.rate_limit,
            mirror: ep.mirror.clone(),
            skipped_mirrors: std::mem::take(&mut self.cursor.skipped),
        };
        Ok(Go::To(
            Wait::Done,
            Action::Done(Ok(Outcome::Image(Box::new(inspection)))),
        ))
    }
}
