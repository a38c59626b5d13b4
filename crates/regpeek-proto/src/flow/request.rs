//! Building requests: the current step's URL, `Authorization` (only ever to the
//! registry's own origin), body caps, and the token and ping requests.

use std::time::SystemTime;

use http::Method;
use http::header::{ACCEPT, AUTHORIZATION};
use url::Url;

use super::check::{same_origin, strip_query};
use super::{Action, Flow, Go, HostAuth, Next, RequestKind, Retry, SentAuth, Step, Transmit, Wait};
use crate::auth::{BearerRealm, Credentials, Scope};
use crate::error::{Error, Identity};
use crate::manifest::media;
use crate::token::{TokenKey, token_request};
use crate::uri;

impl Flow {
    /// The current step's request, fetching a token first when one is needed.
    pub(super) fn issue(&mut self, now: SystemTime) -> Next {
        if let Some(next) = self.answer_from_known() {
            return next;
        }
        // A blob where the registry sent it before: asked there first, once.
        if let (Step::Blob(_), Some(location)) = (&self.state.at.step, self.location.take()) {
            self.via_location = true;
            return self.resource_request(now, location, 1);
        }
        let url = self.step_url()?;
        if let HostAuth::Bearer { realm, scopes } = &self.state.at.auth {
            let key = self.token_key(realm, scopes);
            // A login checks the credentials it was given: only a token this flow
            // fetched with them proves anything, never one from the cache.
            let login = matches!(self.cfg.goal, super::Goal::Login);
            let unproven = login && self.state.at.fetched.as_ref() != Some(&key);
            if unproven || self.tokens.get(&key, now).is_none() {
                let post = self
                    .state
                    .at
                    .credentials
                    .as_ref()
                    .is_some_and(Credentials::wants_post);
                return self.token_request(key, post);
            }
        }
        self.resource_request(now, url, 0)
    }

    /// The current step answered from known content, when the caller holds it (and it
    /// hashes to its digest: a corrupt entry is never trusted, the flow fetches instead).
    fn answer_from_known(&mut self) -> Option<Next> {
        let digest = match &self.state.at.step {
            // Only what the caller saw this repository serve: the bytes of a digest
            // say nothing of whether this repository has it.
            Step::Top { .. } => self
                .cfg
                .reference
                .digest()
                .filter(|d| self.cfg.known.resolved.as_ref() == Some(*d))
                .cloned()?,
            Step::Child { desc, .. } | Step::Config(desc) | Step::Attestation(desc) => {
                desc.digest.clone()
            }
            _ => return None,
        };
        let held = self.cfg.known.get(&digest);
        if let (Step::Top { .. }, super::Goal::Digest(None), None) =
            (&self.state.at.step, &self.cfg.goal, &held)
        {
            // The digest of a digest this repository was seen to serve: it is the
            // answer, and nothing needs asking (offline, or not).
            self.state.at.result.digest = Some(digest);
            return Some(self.done());
        }
        let bytes = held?;
        let resp = http::Response::builder().status(200).body(bytes).ok()?;
        Some(match self.state.at.step.clone() {
            Step::Top { .. } => {
                self.state.at.step = Step::Top { head: false };
                self.on_top_get(resp)
            }
            Step::Child { desc, depth } => self.on_child(&desc, depth, resp),
            Step::Config(desc) => self.on_config(&desc, resp),
            Step::Attestation(desc) => self.on_attestation(&desc, resp),
            _ => Err(Error::Internal("known content for a step without a digest")),
        })
    }

    /// Sends a request again after a backoff.
    pub(super) fn resend(&mut self, now: SystemTime, retry: Retry) -> Next {
        match retry {
            Retry::Resource { url, hops } => self.resource_request(now, url, hops),
            Retry::Token { key, post } => self.token_request(key, post),
            Retry::Ping => self.ping_request(),
        }
    }

    pub(super) fn step_url(&self) -> Result<Url, Error> {
        let repo = self.cfg.reference.repository();
        let path = match &self.state.at.step {
            Step::Top { .. } => format!(
                "/v2/{repo}/manifests/{}",
                self.cfg.reference.manifest_reference()
            ),
            Step::Child { desc, .. } => format!("/v2/{repo}/manifests/{}", desc.digest),
            Step::Config(d) => format!("/v2/{repo}/blobs/{}", d.digest),
            Step::Blob(d) => format!("/v2/{repo}/blobs/{d}"),
            Step::Page(url) | Step::Referrers { url, .. } => return Ok(url.clone()),
            Step::Check => "/v2/".to_owned(),
            Step::ReferrersTag { subject } => format!(
                "/v2/{repo}/manifests/{}-{}",
                subject.algorithm().name(),
                subject.hex()
            ),
            Step::Attestation(d) => format!("/v2/{repo}/manifests/{}", d.digest),
        };
        uri::join(&self.state.at.base, &path).map_err(|reason| Error::InvalidUrl {
            what: self.subject().to_string(),
            url: path,
            reason,
        })
    }

    pub(super) fn ping_url(&self) -> Result<Url, Error> {
        uri::join(&self.state.at.base, "/v2/").map_err(|reason| Error::InvalidUrl {
            what: self.subject().to_string(),
            url: "/v2/".into(),
            reason,
        })
    }

    /// Who is asking, in token cache keys (hashed before use, see `identity_key`).
    pub(super) fn identity(&self) -> String {
        self.state
            .at
            .credentials
            .as_ref()
            .map(Credentials::identity)
            .unwrap_or_default()
    }

    /// Whose credentials a refusal is about.
    pub(super) fn refused_identity(&self) -> Identity {
        match &self.state.at.credentials {
            Some(Credentials::Basic { username, .. }) => Identity::User(username.clone()),
            Some(Credentials::Bearer(_)) => Identity::RegistryToken,
            Some(Credentials::IdentityToken { username, .. }) => {
                Identity::IdentityToken(username.clone())
            }
            None => Identity::User(String::new()),
        }
    }

    /// The scope this flow needs; none for a login check.
    pub(super) fn scope(&self) -> Option<Scope> {
        match self.cfg.goal {
            super::Goal::Catalog { .. } => Some(Scope {
                kind: "registry".into(),
                name: "catalog".into(),
                actions: vec!["*".into()],
            }),
            super::Goal::Login => None,
            _ => Some(Scope::pull(self.cfg.reference.repository())),
        }
    }

    pub(super) fn token_key(&self, realm: &BearerRealm, scopes: &[Scope]) -> TokenKey {
        TokenKey {
            realm: realm.realm.as_str().to_owned(),
            service: realm.service.clone().unwrap_or_default(),
            scopes: scopes.iter().map(Scope::to_string).collect(),
            identity: crate::token::identity_key(&self.identity()),
        }
    }

    fn transmit(
        &self,
        request: http::Request<Vec<u8>>,
        max_body: usize,
        kind: RequestKind,
    ) -> Action {
        Action::Send(Transmit {
            request,
            max_body,
            kind,
            stream: kind == RequestKind::Blob && matches!(self.state.at.step, Step::Blob(_)),
            deadline: self.cfg.deadline,
        })
    }

    pub(super) fn token_request(&self, key: TokenKey, post: bool) -> Next {
        let HostAuth::Bearer { realm, scopes } = &self.state.at.auth else {
            return Err(Error::Internal("token request without a bearer challenge"));
        };
        let req = token_request(
            realm,
            scopes,
            self.state.at.credentials.as_ref(),
            !post,
            &self.cfg.client_id,
        )?;
        let state = Wait::Token {
            key,
            scopes: scopes.clone(),
            realm: strip_query(&realm.realm),
            post,
        };
        Ok(Go::To(
            state,
            self.transmit(req, self.cfg.limits.small, RequestKind::Token),
        ))
    }

    pub(super) fn ping_request(&self) -> Next {
        let url = self.ping_url()?;
        let uri = uri::to_uri(&url).map_err(|reason| Error::InvalidUrl {
            what: self.subject().to_string(),
            url: strip_query(&url),
            reason,
        })?;
        let req = http::Request::get(uri)
            .body(Vec::new())
            .map_err(|_| Error::Internal("cannot build the ping request"))?;
        Ok(Go::To(
            Wait::Ping,
            self.transmit(req, self.cfg.limits.small, RequestKind::Ping),
        ))
    }

    /// A request to `url` for the current step, `hops` redirects deep.
    pub(super) fn resource_request(&self, now: SystemTime, url: Url, hops: u8) -> Next {
        let (method, kind, max_body) = match &self.state.at.step {
            Step::Top { head: true } => {
                (Method::HEAD, RequestKind::Manifest, self.cfg.limits.small)
            }
            Step::Top { head: false }
            | Step::Child { .. }
            | Step::Referrers { .. }
            | Step::ReferrersTag { .. }
            | Step::Attestation(_) => {
                (Method::GET, RequestKind::Manifest, self.cfg.limits.manifest)
            }
            Step::Config(_) => (Method::GET, RequestKind::Blob, self.cfg.limits.config),
            // Only an error body is read into memory; the blob is the caller's.
            Step::Blob(_) => (Method::GET, RequestKind::Blob, self.cfg.limits.small),
            Step::Page(_) => (Method::GET, RequestKind::List, self.cfg.limits.list),
            Step::Check => (Method::GET, RequestKind::Ping, self.cfg.limits.small),
        };
        let target = uri::to_uri(&url).map_err(|reason| Error::InvalidUrl {
            what: self.subject().to_string(),
            url: strip_query(&url),
            reason,
        })?;
        let mut req = http::Request::builder().method(method).uri(target);
        match (kind, &self.state.at.step) {
            // The referrers API answers with an OCI index.
            (_, Step::Referrers { .. }) => req = req.header(ACCEPT, media::OCI_INDEX),
            (RequestKind::Manifest, _) => req = req.header(ACCEPT, media::ACCEPT),
            (RequestKind::List, _) => req = req.header(ACCEPT, "application/json"),
            (_, Step::Blob(_)) => {
                if let Some((first, last)) = self.cfg.range {
                    req = req.header(http::header::RANGE, format!("bytes={first}-{last}"));
                }
            }
            _ => {}
        }
        let mut sent = SentAuth::None;
        // Credentials go to the registry's own origin only, never across a redirect.
        if same_origin(&url, &self.state.at.base) {
            match (&self.state.at.auth, &self.state.at.credentials) {
                (HostAuth::Basic, Some(c)) => {
                    if let Some(h) = c.basic_header() {
                        req = req.header(AUTHORIZATION, h);
                        sent = SentAuth::Basic;
                    }
                }
                (HostAuth::Bearer { realm, scopes }, _) => {
                    let key = self.token_key(realm, scopes);
                    if let Some(t) = self.tokens.get(&key, now) {
                        req = req.header(AUTHORIZATION, format!("Bearer {}", t.expose()));
                        sent = SentAuth::Bearer(Some(key));
                    }
                }
                (HostAuth::None, Some(Credentials::Bearer(t))) => {
                    req = req.header(AUTHORIZATION, format!("Bearer {}", t.expose()));
                    sent = SentAuth::Bearer(None);
                }
                (HostAuth::None, _) => {
                    let registry = self.host();
                    let cached = self.scope().and_then(|scope| {
                        let who = crate::token::identity_key(&self.identity());
                        self.tokens.find(&registry, &who, &scope, now)
                    });
                    if let Some((key, t)) = cached {
                        req = req.header(AUTHORIZATION, format!("Bearer {}", t.expose()));
                        sent = SentAuth::Bearer(Some(key.clone()));
                    }
                }
                (HostAuth::Basic, None) => {}
            }
        }
        // The URI was checked above; what is left to refuse is a header value (a
        // registry token given by the caller with a line break in it).
        let request = req.body(Vec::new()).map_err(|_| Error::BadCredentials {
            registry: self.host(),
            identity: self.refused_identity(),
        })?;
        Ok(Go::To(
            Wait::Resource { url, hops, sent },
            self.transmit(request, max_body, kind),
        ))
    }
}
