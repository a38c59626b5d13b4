//! The inspection state machine: every transition lives in this file; `options`
//! holds what callers ask, `action` what the flow hands out, `check` the response
//! readings the transitions share.
//!
//! ```text
//!            ┌──────────── 3xx: follow (≤5 hops, Authorization only to the registry) ──┐
//!            v                                                                          │
//!  start ─> Resource(step) ── 2xx ──> next step or Done ──────────────────────────────>─┘
//!            │   ^   │
//!            │   │   └─ 401 Bearer ─> Token ─ 200 ─┐ (retry step; once more on insufficient_scope)
//!            │   │   └─ 401 Basic ──> retry with credentials (once)
//!            │   │   └─ 401 without challenge ─> Ping GET /v2/ ─ 401 ─┘
//!            │   └──────────────────────────────────────────────┘
//!            └─ 4xx/5xx, bad body, digest mismatch ─> Done(Err)
//!
//!  steps: Top (HEAD or GET manifest) ─> [Child (platform manifest)] ─> [Config blob]
//! ```

use std::time::{Duration, SystemTime};

use http::header::{ACCEPT, AUTHORIZATION, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, Method, StatusCode};
use url::Url;

use crate::auth::{
    BearerRealm, Credentials, Scope, TokenCache, TokenKey, parse_token_reply, token_request,
    union_scopes,
};
use crate::challenge::{parse_challenges, preferred};
use crate::config::parse_config;
use crate::digest::{Algorithm, Digest};
use crate::error::{Error, TimeoutStage, parse_registry_errors};
use crate::inspection::{FetchedConfig, FetchedManifest, Inspection};
use crate::list::Listing;
use crate::manifest::{Descriptor, Manifest, media, parse_manifest};
use crate::platform::{Platform, offered, select};
use crate::reference::Reference;
use crate::uri;

mod action;
mod check;
mod options;

pub use action::{Action, Outcome, RequestKind, Send, TransportErrorKind};
#[cfg(feature = "fuzzing")]
pub use check::retry_after;
#[cfg(not(feature = "fuzzing"))]
use check::retry_after;
use check::{
    check_size, collect_warnings, content_length, content_type, docker_digest, same_origin,
    strip_query, verify,
};
pub use options::{Goal, Limits, Options, Security};

/// Redirect hops allowed for one request.
pub const MAX_REDIRECTS: u8 = 5;
/// Pages a listing may follow before the flow calls it a loop.
pub const MAX_PAGES: usize = 10_000;
/// Retries of one request after 429, 502, 503 or 504.
pub const MAX_RETRIES: u8 = 3;
/// The longest `Retry-After` the flow waits for; longer ones are reported instead.
pub const MAX_WAIT: Duration = Duration::from_secs(30);
/// A connection that sends nothing for this long is dead, even before the deadline:
/// drivers use it as their connect and per-read timeout.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
enum Step {
    Top {
        head: bool,
    },
    Child {
        desc: Descriptor,
        depth: u8,
    },
    Config(Descriptor),
    /// A listing page, on the registry's origin.
    Page(Url),
    /// `GET /v2/` with credentials (login).
    Check,
}

#[derive(Debug, Clone)]
enum SentAuth {
    None,
    Basic,
    Bearer(Option<TokenKey>),
}

#[derive(Debug)]
enum Pending {
    Start,
    Resource {
        url: Url,
        hops: u8,
        sent: SentAuth,
    },
    Token {
        key: TokenKey,
        scopes: Vec<Scope>,
        realm: String,
        /// True for the OAuth2 POST flow (which falls back to GET on 404/405).
        post: bool,
    },
    Ping,
    /// A retry is due at `until`.
    Waiting {
        until: SystemTime,
        retry: Retry,
    },
    Finished,
}

/// What a retry sends again.
#[derive(Debug)]
enum Retry {
    Resource { url: Url, hops: u8 },
    Token { key: TokenKey, post: bool },
    Ping,
}

#[derive(Debug, Clone)]
enum HostAuth {
    None,
    Basic,
    Bearer {
        realm: BearerRealm,
        scopes: Vec<Scope>,
    },
}

/// One inspection of one reference, as a sans-IO state machine.
///
/// Call order: [`poll_action`](Flow::poll_action) → perform the `Send` →
/// [`handle_response`](Flow::handle_response) (or
/// [`handle_transport_error`](Flow::handle_transport_error)) → `poll_action` … until
/// `Action::Done`.
#[derive(Debug)]
pub struct Flow {
    reference: Reference,
    goal: Goal,
    credentials: Option<Credentials>,
    security: Security,
    limits: Limits,
    deadline: Option<SystemTime>,
    seed: u64,
    tokens: TokenCache,
    base: Url,
    auth: HostAuth,
    step: Step,
    pending: Pending,
    auth_tries: u8,
    /// Retries of the current request after 429/502/503/504.
    retries: u8,
    pinged: bool,
    /// The token this flow fetched last (as opposed to one found in the cache).
    fetched: Option<TokenKey>,
    next: Option<Action>,
    result: Partial,
}

#[derive(Debug, Default)]
struct Partial {
    digest: Option<Digest>,
    media_type: Option<String>,
    size: Option<u64>,
    raw: Option<Vec<u8>>,
    index: Option<crate::manifest::ImageIndex>,
    platform: Option<Platform>,
    manifest: Option<FetchedManifest>,
    config: Option<FetchedConfig>,
    warnings: Vec<String>,
    items: Vec<String>,
    /// Listing pages fetched so far, in order.
    seen_pages: Vec<Url>,
}

impl Flow {
    /// Starts an inspection. `tokens` is the caller's cache; take it back with
    /// [`Flow::into_tokens`].
    pub fn new(reference: Reference, options: Options, tokens: TokenCache) -> Flow {
        let scheme = match options.security {
            Security::Http => "http",
            Security::Https | Security::HttpsThenHttp => "https",
        };
        let mut security = options.security;
        let base = match &options.endpoint {
            Some(url) => {
                security = if url.scheme() == "http" {
                    Security::Http
                } else {
                    Security::Https
                };
                let mut origin = url.clone();
                origin.set_path("/");
                origin.set_query(None);
                origin.set_fragment(None);
                uri::checked(origin).map_err(|reason| Error::InvalidUrl {
                    what: "mirror endpoint".into(),
                    url: strip_query(url),
                    reason,
                })
            }
            None => {
                let raw = reference.api_base(scheme);
                Url::parse(&raw)
                    .map_err(|_| "not a valid URL")
                    .and_then(uri::checked)
                    .map_err(|reason| Error::InvalidUrl {
                        what: format!("registry {}", reference.registry()),
                        url: raw,
                        reason,
                    })
            }
        };
        let first_page = |base: &Url| {
            let path = match options.goal {
                Goal::Catalog { .. } => "/v2/_catalog".to_owned(),
                _ => format!("/v2/{}/tags/list", reference.repository()),
            };
            let (limit, page_size) = options.goal.listing().unwrap_or_default();
            let limit = limit.map(|l| u32::try_from(l.min(1000)).unwrap_or(1000));
            let path = match page_size.or(limit) {
                Some(n) => format!("{path}?n={n}"),
                None => path,
            };
            uri::join(base, &path).map_err(|reason| Error::InvalidUrl {
                what: "tag list".into(),
                url: path,
                reason,
            })
        };
        let built = base.and_then(|base| {
            let step = match &options.goal {
                Goal::Digest(None) => Step::Top { head: true },
                Goal::Login => Step::Check,
                Goal::Tags { .. } | Goal::Catalog { .. } => Step::Page(first_page(&base)?),
                _ => Step::Top { head: false },
            };
            Ok((base, step))
        });
        let (base, step, next) = match built {
            Ok((base, step)) => (base, step, None),
            // The flow ends at its first poll; this placeholder is never requested.
            Err(e) => (
                Url::parse("https://invalid.invalid/").expect("a constant, valid URL"),
                Step::Check,
                Some(Action::Done(Err(e))),
            ),
        };
        let pending = if next.is_some() {
            Pending::Finished
        } else {
            Pending::Start
        };
        Flow {
            reference,
            goal: options.goal,
            credentials: options.credentials,
            security,
            limits: options.limits,
            deadline: options.deadline,
            seed: options.seed,
            tokens,
            base,
            auth: HostAuth::None,
            step,
            pending,
            auth_tries: 0,
            retries: 0,
            pinged: false,
            fetched: None,
            next,
            result: Partial::default(),
        }
    }

    /// Starts a catalog listing of `registry` (`ghcr.io`, `localhost:5000`); `goal` in
    /// `options` must be [`Goal::Catalog`]. Docker Hub has no catalog API.
    pub fn catalog(registry: &str, options: Options, tokens: TokenCache) -> Result<Flow, Error> {
        if !matches!(options.goal, Goal::Catalog { .. }) {
            return Err(Error::Misuse("Flow::catalog needs Goal::Catalog"));
        }
        let reference = Reference::for_registry(registry)?;
        if reference.registry() == crate::reference::DOCKER_HUB {
            return Err(Error::Unsupported(
                "Docker Hub has no catalog API; list a repository's tags instead".into(),
            ));
        }
        Ok(Flow::new(reference, options, tokens))
    }

    /// The reference being inspected.
    pub fn reference(&self) -> &Reference {
        &self.reference
    }

    /// `host[:port]` of the origin requests go to (the registry's API host or a mirror).
    fn host(&self) -> String {
        match (self.base.host_str(), self.base.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => self.reference.api_host().to_owned(),
        }
    }

    /// The registry API base in use (its scheme may have fallen back to http).
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// Gives the token cache back, with whatever tokens this flow obtained.
    pub fn into_tokens(self) -> TokenCache {
        self.tokens
    }

    /// The next thing to do. `now` is the caller's clock; it decides token freshness.
    pub fn poll_action(&mut self, now: SystemTime) -> Action {
        if matches!(self.pending, Pending::Start) {
            self.dispatch(now);
        }
        if let Pending::Waiting { until, .. } = self.pending {
            if now < until {
                return Action::Wait(until);
            }
            if let Pending::Waiting { retry, .. } =
                std::mem::replace(&mut self.pending, Pending::Finished)
            {
                match retry {
                    Retry::Resource { url, hops } => self.send_resource(now, url, hops),
                    Retry::Token { key, post } => self.send_token_request(key, post),
                    Retry::Ping => self.send_ping(),
                }
            }
        }
        // The deadline is checked before any request goes out; a response that came in
        // time is still used.
        if let (Some(Action::Send(send)), Some(deadline)) = (&self.next, self.deadline) {
            if now >= deadline {
                let (what, url) = self.describe_target(&send.request);
                self.finish(Err(Error::Timeout {
                    what,
                    url,
                    stage: TimeoutStage::Connect,
                    status: None,
                }));
            }
        }
        match self.next.take() {
            Some(a) => a,
            None if matches!(self.pending, Pending::Finished) => {
                Action::Done(Err(Error::Misuse("the flow has already finished")))
            }
            None => Action::Done(Err(Error::Misuse(
                "poll_action called while a response was awaited",
            ))),
        }
    }

    /// Hands back the response to the last `Send`. The body must be at most the
    /// `max_body` plus one bytes the `Send` allowed.
    pub fn handle_response(&mut self, now: SystemTime, response: http::Response<Vec<u8>>) {
        let pending = std::mem::replace(&mut self.pending, Pending::Finished);
        if let Err(e) = self.on_response(now, pending, response) {
            self.finish(Err(e));
        }
    }

    /// Reports that the last `Send` failed below HTTP.
    pub fn handle_transport_error(
        &mut self,
        now: SystemTime,
        kind: TransportErrorKind,
        message: &str,
    ) {
        let pending = std::mem::replace(&mut self.pending, Pending::Finished);
        let (url, what, retry) = match pending {
            Pending::Resource { url, hops, .. } => {
                let what = if same_origin(&url, &self.base) {
                    "registry"
                } else {
                    "redirected download from"
                };
                (strip_query(&url), what, Retry::Resource { url, hops })
            }
            Pending::Ping => (
                self.ping_url().map(|u| strip_query(&u)).unwrap_or_default(),
                "registry",
                Retry::Ping,
            ),
            Pending::Token {
                realm, key, post, ..
            } => (realm, "token server", Retry::Token { key, post }),
            Pending::Start | Pending::Finished | Pending::Waiting { .. } => {
                return self.finish(Err(Error::Misuse("no request was outstanding")));
            }
        };
        let on_registry = matches!(&retry, Retry::Ping)
            || matches!(&retry, Retry::Resource { url, .. } if same_origin(url, &self.base));
        let fallback = kind == TransportErrorKind::Tls
            && self.security == Security::HttpsThenHttp
            && self.base.scheme() == "https"
            && on_registry;
        if fallback {
            self.security = Security::Http;
            let _ = self.base.set_scheme("http");
            // The pages of a listing were resolved on the https origin.
            if let Step::Page(page) = &mut self.step {
                let _ = page.set_scheme("http");
            }
            self.dispatch(now);
            return;
        }
        // Idempotent requests (never the token POST) are tried again after a refused or
        // reset connection.
        let idempotent = !matches!(retry, Retry::Token { post: true, .. });
        let retryable = matches!(
            kind,
            TransportErrorKind::Connect | TransportErrorKind::Reset
        );
        if idempotent && retryable && self.retries < MAX_RETRIES {
            if let Err(e) = self.schedule_retry(now, None, None, retry, what, &url) {
                self.finish(Err(e));
            }
            return;
        }
        self.finish(Err(match kind {
            TransportErrorKind::Timeout(stage) => Error::Timeout {
                what,
                url,
                stage,
                status: None,
            },
            _ => Error::Transport {
                what,
                url,
                message: message.to_owned(),
            },
        }));
    }

    /// Waits before sending `retry` again, with exponential backoff and jitter (or the
    /// server's `Retry-After`), at most [`MAX_RETRIES`] times. A wait that would pass the
    /// deadline is reported at once.
    fn schedule_retry(
        &mut self,
        now: SystemTime,
        status: Option<u16>,
        retry_after: Option<Duration>,
        retry: Retry,
        what: &'static str,
        url: &str,
    ) -> Result<(), Error> {
        let delay = retry_after.unwrap_or_else(|| self.backoff());
        self.retries += 1;
        let until = now.checked_add(delay);
        if until.is_none_or(|until| self.deadline.is_some_and(|d| until >= d)) {
            return Err(Error::Timeout {
                what,
                url: url.to_owned(),
                stage: TimeoutStage::RetryWait,
                status,
            });
        }
        if let Some(until) = until {
            self.pending = Pending::Waiting { until, retry };
        }
        Ok(())
    }

    /// 0.5 s, 1 s, 2 s for the first, second and third retry, each cut by a random 0
    /// to 50 % drawn from the caller's seed (so that many clients do not retry in step).
    fn backoff(&self) -> Duration {
        let base = Duration::from_millis(500) * 2u32.pow(u32::from(self.retries.min(4)));
        let r = splitmix64(self.seed ^ u64::from(self.retries).wrapping_mul(0x9e37_79b9));
        // `r % 501` thousandths of a half: 0 to 50 %.
        base - base / 2 * u32::try_from(r % 501).unwrap_or(0) / 500
    }

    /// `(what, url)` of an outgoing request, for errors.
    fn describe_target(&self, req: &http::Request<Vec<u8>>) -> (&'static str, String) {
        let url = Url::parse(&req.uri().to_string()).ok();
        let what = match &url {
            Some(u) if same_origin(u, &self.base) => "registry",
            _ if matches!(self.pending, Pending::Token { .. }) => "token server",
            _ => "redirected download from",
        };
        (
            what,
            url.map(|u| strip_query(&u))
                .unwrap_or_else(|| req.uri().to_string()),
        )
    }

    fn finish(&mut self, result: Result<Outcome, Error>) {
        self.pending = Pending::Finished;
        self.next = Some(Action::Done(result));
    }

    fn what(&self) -> String {
        match &self.step {
            Step::Top { .. } => format!("manifest {}", self.reference.familiar()),
            Step::Child { desc, .. } => format!("manifest {}", desc.digest),
            Step::Config(d) => format!("config blob {}", d.digest),
            Step::Page(_) if matches!(self.goal, Goal::Catalog { .. }) => {
                format!("catalog of {}", self.reference.registry())
            }
            Step::Page(_) => format!("tag list of {}", self.reference.name()),
            Step::Check => format!("login to {}", self.reference.registry()),
        }
    }

    fn step_url(&self) -> Result<Url, Error> {
        let repo = self.reference.repository();
        let path = match &self.step {
            Step::Top { .. } => format!(
                "/v2/{repo}/manifests/{}",
                self.reference.manifest_reference()
            ),
            Step::Child { desc, .. } => format!("/v2/{repo}/manifests/{}", desc.digest),
            Step::Config(d) => format!("/v2/{repo}/blobs/{}", d.digest),
            Step::Page(url) => return Ok(url.clone()),
            Step::Check => "/v2/".to_owned(),
        };
        uri::join(&self.base, &path).map_err(|reason| Error::InvalidUrl {
            what: self.what(),
            url: path,
            reason,
        })
    }

    fn ping_url(&self) -> Result<Url, Error> {
        uri::join(&self.base, "/v2/").map_err(|reason| Error::InvalidUrl {
            what: self.what(),
            url: "/v2/".into(),
            reason,
        })
    }

    fn identity(&self) -> String {
        self.credentials
            .as_ref()
            .map(Credentials::identity)
            .unwrap_or_default()
    }

    /// The scope this flow needs; none for a login check.
    fn scope(&self) -> Option<Scope> {
        match self.goal {
            Goal::Catalog { .. } => Some(Scope {
                kind: "registry".into(),
                name: "catalog".into(),
                actions: vec!["*".into()],
            }),
            Goal::Login => None,
            _ => Some(Scope::pull(self.reference.repository())),
        }
    }

    fn token_key(&self, realm: &BearerRealm, scopes: &[Scope]) -> TokenKey {
        TokenKey {
            realm: realm.realm.as_str().to_owned(),
            service: realm.service.clone().unwrap_or_default(),
            scopes: scopes.iter().map(Scope::to_string).collect(),
            identity: self.identity(),
        }
    }

    /// Issues the request for the current step, fetching a token first when needed.
    fn dispatch(&mut self, now: SystemTime) {
        let url = match self.step_url() {
            Ok(url) => url,
            Err(e) => return self.finish(Err(e)),
        };
        if let HostAuth::Bearer { realm, scopes } = &self.auth {
            let key = self.token_key(realm, scopes);
            if self.tokens.get(&key, now).is_none() {
                let post = self
                    .credentials
                    .as_ref()
                    .is_some_and(Credentials::wants_post);
                self.send_token_request(key, post);
                return;
            }
        }
        self.send_resource(now, url, 0);
    }

    fn send_token_request(&mut self, key: TokenKey, post: bool) {
        let HostAuth::Bearer { realm, scopes } = &self.auth else {
            return self.finish(Err(Error::Misuse(
                "token request without a bearer challenge",
            )));
        };
        let req = match token_request(realm, scopes, self.credentials.as_ref(), !post) {
            Ok(req) => req,
            Err(e) => return self.finish(Err(e)),
        };
        self.pending = Pending::Token {
            key,
            scopes: scopes.clone(),
            realm: strip_query(&realm.realm),
            post,
        };
        self.next = Some(Action::Send(Send {
            request: req,
            max_body: self.limits.small,
            kind: RequestKind::Token,
            deadline: self.deadline,
        }));
    }

    fn send_resource(&mut self, now: SystemTime, url: Url, hops: u8) {
        let (method, kind, max_body) = match &self.step {
            Step::Top { head: true } => (Method::HEAD, RequestKind::Manifest, self.limits.small),
            Step::Top { head: false } | Step::Child { .. } => {
                (Method::GET, RequestKind::Manifest, self.limits.manifest)
            }
            Step::Config(_) => (Method::GET, RequestKind::Blob, self.limits.config),
            Step::Page(_) => (Method::GET, RequestKind::List, self.limits.list),
            Step::Check => (Method::GET, RequestKind::Ping, self.limits.small),
        };
        let target = match uri::to_uri(&url) {
            Ok(t) => t,
            Err(reason) => {
                return self.finish(Err(Error::InvalidUrl {
                    what: self.what(),
                    url: strip_query(&url),
                    reason,
                }));
            }
        };
        let mut req = http::Request::builder().method(method).uri(target);
        match kind {
            RequestKind::Manifest => req = req.header(ACCEPT, media::ACCEPT),
            RequestKind::List => req = req.header(ACCEPT, "application/json"),
            _ => {}
        }
        let mut sent = SentAuth::None;
        // Credentials go to the registry's own origin only, never across a redirect.
        if same_origin(&url, &self.base) {
            match (&self.auth, &self.credentials) {
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
                        self.tokens.find(&registry, &self.identity(), &scope, now)
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
        // registry token given by the user with a line break in it).
        let request = match req.body(Vec::new()) {
            Ok(r) => r,
            Err(_) => {
                return self.finish(Err(Error::BadCredentials {
                    registry: self.host(),
                    username: self.identity(),
                }));
            }
        };
        self.pending = Pending::Resource { url, hops, sent };
        self.next = Some(Action::Send(Send {
            request,
            max_body,
            kind,
            deadline: self.deadline,
        }));
    }

    fn send_ping(&mut self) {
        let request = self
            .ping_url()
            .and_then(|u| uri::to_uri(&u).map_err(|_| Error::Misuse("ping URL")))
            .and_then(|u| {
                http::Request::get(u)
                    .body(Vec::new())
                    .map_err(|_| Error::Misuse("ping request"))
            });
        match request {
            Ok(request) => {
                self.pending = Pending::Ping;
                self.next = Some(Action::Send(Send {
                    request,
                    max_body: self.limits.small,
                    kind: RequestKind::Ping,
                    deadline: self.deadline,
                }));
            }
            Err(e) => self.finish(Err(e)),
        }
    }

    fn on_response(
        &mut self,
        now: SystemTime,
        pending: Pending,
        resp: http::Response<Vec<u8>>,
    ) -> Result<(), Error> {
        collect_warnings(resp.headers(), &mut self.result.warnings);
        match pending {
            Pending::Start | Pending::Finished | Pending::Waiting { .. } => {
                Err(Error::Misuse("no request was outstanding"))
            }
            Pending::Ping => self.on_ping(now, resp),
            Pending::Token {
                key,
                scopes,
                realm,
                post,
            } => {
                if post && matches!(resp.status().as_u16(), 404 | 405) {
                    // The realm has no OAuth2 endpoint: the GET flow, as docker does.
                    self.send_token_request(key, false);
                    return Ok(());
                }
                self.on_token(now, key, &scopes, &realm, post, resp)
            }
            Pending::Resource { url, hops, sent } => self.on_resource(now, url, hops, sent, resp),
        }
    }

    fn on_ping(&mut self, now: SystemTime, resp: http::Response<Vec<u8>>) -> Result<(), Error> {
        if resp.status() == StatusCode::UNAUTHORIZED {
            return self.on_challenge(now, resp.headers(), SentAuth::None, true);
        }
        Err(Error::UnexpectedStatus {
            what: format!("{} (401 without a challenge)", self.what()),
            status: resp.status().as_u16(),
            url: self.ping_url().map(|u| strip_query(&u)).unwrap_or_default(),
        })
    }

    fn on_token(
        &mut self,
        now: SystemTime,
        key: TokenKey,
        scopes: &[Scope],
        realm: &str,
        post: bool,
        resp: http::Response<Vec<u8>>,
    ) -> Result<(), Error> {
        let registry = self.host();
        match resp.status().as_u16() {
            // A token server's 5xx is retried like a registry's, never for the POST.
            status @ 500..=599 if !post && self.retries < MAX_RETRIES => {
                let after = retry_after(resp.headers()).filter(|d| *d <= MAX_WAIT);
                self.schedule_retry(
                    now,
                    Some(status),
                    after,
                    Retry::Token { key, post },
                    "token server",
                    realm,
                )
            }
            200 => {
                self.retries = 0;
                check_size(resp.body(), self.limits.small, "token reply")?;
                let reply = parse_token_reply(resp.body())?;
                self.fetched = Some(key.clone());
                self.tokens.insert(key, &registry, scopes, &reply, now);
                self.dispatch(now);
                Ok(())
            }
            401 | 403 => Err(match &self.credentials {
                Some(c) => Error::BadCredentials {
                    registry,
                    username: c.identity(),
                },
                None => Error::AuthRequired { registry },
            }),
            status => Err(Error::TokenServer {
                realm: realm.to_owned(),
                status,
            }),
        }
    }

    fn on_challenge(
        &mut self,
        now: SystemTime,
        headers: &HeaderMap,
        sent: SentAuth,
        from_ping: bool,
    ) -> Result<(), Error> {
        let registry = self.host();
        let values: Vec<&str> = headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let challenges =
            parse_challenges(values).map_err(|e| Error::InvalidChallenge(e.to_string()))?;
        if challenges.is_empty() {
            if self.pinged || from_ping {
                return Err(Error::InvalidChallenge(format!(
                    "{registry} answered 401 without a WWW-Authenticate challenge"
                )));
            }
            // Some registries (GCR) send no challenge on resource 401s: learn it at /v2/.
            self.pinged = true;
            self.send_ping();
            return Ok(());
        }
        let Some(challenge) = preferred(&challenges) else {
            return Err(Error::UnsupportedAuth {
                registry,
                schemes: challenges
                    .iter()
                    .map(|c| c.scheme.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        self.auth_tries += 1;
        let what = self.what();
        let refused = move || Error::Denied {
            what,
            detail: String::new(),
        };
        if challenge.is_basic() {
            let creds = match &self.credentials {
                Some(c @ Credentials::Basic { .. }) => c,
                _ => return Err(Error::AuthRequired { registry }),
            };
            if matches!(sent, SentAuth::Basic) {
                return Err(Error::BadCredentials {
                    registry,
                    username: creds.identity(),
                });
            }
            self.auth = HostAuth::Basic;
            self.dispatch(now);
            return Ok(());
        }
        // Bearer.
        let with_creds = matches!(
            self.credentials,
            Some(Credentials::Basic { .. } | Credentials::IdentityToken { .. })
        );
        let realm = BearerRealm::from_challenge(challenge, &self.base, with_creds)?;
        let insufficient = challenge.param("error") == Some("insufficient_scope");
        let asked = challenge
            .param("scope")
            .map(Scope::parse_list)
            .unwrap_or_default();
        let mut scopes: Vec<Scope> = self.scope().into_iter().collect();
        if let HostAuth::Bearer { scopes: had, .. } = &self.auth {
            scopes = union_scopes(&scopes, had);
        }
        let new_scope = asked.iter().any(|a| !scopes.iter().any(|s| s.covers(a)));
        if insufficient {
            scopes = union_scopes(&asked, &scopes);
        }
        match sent {
            SentAuth::Bearer(key) => {
                if let Some(k) = &key {
                    self.tokens.remove(k);
                }
                let fresh = key.is_some() && key == self.fetched;
                if fresh && challenge.param("error") == Some("invalid_token") {
                    return Err(Error::TokenRejected {
                        registry,
                        realm: strip_query(&realm.realm),
                    });
                }
                if key.is_none() {
                    // A registry token given by the user was refused.
                    return Err(Error::BadCredentials {
                        registry,
                        username: self.identity(),
                    });
                }
                // A token for the same scopes will not help (Docker Hub answers this way
                // for missing and private repositories); otherwise one more token, once.
                if (insufficient && !new_scope)
                    || self.auth_tries > 2
                    || (self.auth_tries > 1 && !insufficient)
                {
                    return Err(refused());
                }
            }
            SentAuth::Basic | SentAuth::None => {
                if self.auth_tries > 2 {
                    return Err(refused());
                }
            }
        }
        self.auth = HostAuth::Bearer { realm, scopes };
        self.dispatch(now);
        Ok(())
    }

    fn on_resource(
        &mut self,
        now: SystemTime,
        url: Url,
        hops: u8,
        sent: SentAuth,
        resp: http::Response<Vec<u8>>,
    ) -> Result<(), Error> {
        let status = resp.status();
        if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
            return self.on_redirect(now, &url, hops, resp.headers());
        }
        if status == StatusCode::UNAUTHORIZED && same_origin(&url, &self.base) {
            return self.on_challenge(now, resp.headers(), sent, false);
        }
        if !status.is_success() {
            if let Some(after) = self.retry_delay(&resp) {
                let what = if same_origin(&url, &self.base) {
                    "registry"
                } else {
                    "redirected download from"
                };
                let shown = strip_query(&url);
                return self.schedule_retry(
                    now,
                    Some(status.as_u16()),
                    after,
                    Retry::Resource { url, hops },
                    what,
                    &shown,
                );
            }
            return Err(self.status_error(&url, &resp));
        }
        self.auth_tries = 0;
        self.retries = 0;
        let step = self.step.clone();
        match step {
            Step::Top { head: true } => self.on_top_head(now, &resp),
            Step::Top { head: false } => self.on_top_get(now, resp),
            Step::Child { desc, depth } => self.on_child(now, &desc, depth, resp),
            Step::Config(desc) => self.on_config(&desc, resp),
            Step::Page(page) => self.on_page(now, &url, page, resp),
            Step::Check => {
                let authenticated = !matches!(self.auth, HostAuth::None)
                    || self
                        .credentials
                        .as_ref()
                        .is_some_and(|c| matches!(c, Credentials::Bearer(_)));
                self.finish(Ok(Outcome::LoggedIn { authenticated }));
                Ok(())
            }
        }
    }

    /// Whether to retry a 429/502/503/504, and the server's `Retry-After` if it gave
    /// one (`Some(None)`: back off on our own). `None` gives up: after [`MAX_RETRIES`],
    /// or when the registry asks for a longer wait than [`MAX_WAIT`] (Docker Hub's pull
    /// limit says hours; spinning on it helps nobody).
    fn retry_delay(&self, resp: &http::Response<Vec<u8>>) -> Option<Option<Duration>> {
        if !matches!(resp.status().as_u16(), 429 | 502 | 503 | 504) || self.retries >= MAX_RETRIES {
            return None;
        }
        match retry_after(resp.headers()) {
            Some(d) if d > MAX_WAIT => None,
            after => Some(after),
        }
    }

    fn on_redirect(
        &mut self,
        now: SystemTime,
        from: &Url,
        hops: u8,
        headers: &HeaderMap,
    ) -> Result<(), Error> {
        let what = self.what();
        let location = headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Error::BadRedirect {
                what: what.clone(),
                location: String::new(),
                reason: "no usable Location header",
            })?;
        let to = uri::join(from, location).map_err(|reason| Error::BadRedirect {
            what: what.clone(),
            location: location.split('?').next().unwrap_or_default().to_owned(),
            reason,
        })?;
        if from.scheme() == "https" && to.scheme() == "http" {
            return Err(Error::BadRedirect {
                what,
                location: strip_query(&to),
                reason: "https to plain http",
            });
        }
        if hops >= MAX_REDIRECTS {
            return Err(Error::TooManyRedirects {
                what,
                limit: MAX_REDIRECTS,
            });
        }
        self.send_resource(now, to, hops + 1);
        Ok(())
    }

    fn status_error(&self, url: &Url, resp: &http::Response<Vec<u8>>) -> Error {
        let status = resp.status();
        let what = self.what();
        let errors = parse_registry_errors(resp.body());
        let first = errors.first();
        let summary = match first {
            Some(e) if !e.message.is_empty() => format!("{}: {}", e.code, e.message),
            Some(e) => e.code.clone(),
            None => format!(
                "HTTP {} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            )
            .trim_end()
            .to_owned(),
        };
        match status.as_u16() {
            429 => Error::RateLimited {
                what,
                retry: {
                    let h = resp.headers();
                    let text = |name| {
                        h.get(name)
                            .and_then(|v: &http::HeaderValue| v.to_str().ok())
                    };
                    let mut s = text(RETRY_AFTER.as_str())
                        .map(|v| format!(", retry after {v}"))
                        .unwrap_or_default();
                    if let Some(rem) = text("ratelimit-remaining") {
                        s.push_str(&format!(", ratelimit-remaining {rem}"));
                    }
                    s
                },
            },
            401 | 403 => Error::Denied {
                what,
                detail: format!(": {summary}"),
            },
            400..=599 => Error::Registry {
                what: if matches!(self.step, Step::Top { .. })
                    && self.reference.tag_is_default()
                    && status == StatusCode::NOT_FOUND
                {
                    format!("{what} (no tag was given, so \"latest\" was used)")
                } else {
                    what
                },
                status: status.as_u16(),
                code: first.map(|e| e.code.clone()),
                summary,
            },
            s => Error::UnexpectedStatus {
                what,
                status: s,
                url: strip_query(url),
            },
        }
    }

    fn on_top_head(
        &mut self,
        now: SystemTime,
        resp: &http::Response<Vec<u8>>,
    ) -> Result<(), Error> {
        let media_type = content_type(resp.headers());
        let header_digest = docker_digest(resp.headers())?;
        let wants_index = self.goal.platform().is_some()
            && media_type
                .as_deref()
                .is_some_and(|t| t == media::OCI_INDEX || t == media::DOCKER_LIST);
        let Some(digest) = header_digest.filter(|_| !wants_index) else {
            // No digest header (old registries), or an index to look into: GET it.
            self.step = Step::Top { head: false };
            self.dispatch(now);
            return Ok(());
        };
        if let Some(want) = self.reference.digest() {
            if *want != digest {
                return Err(Error::DigestMismatch {
                    what: self.what(),
                    expected: want.to_string(),
                    actual: digest.to_string(),
                });
            }
        }
        self.result.digest = Some(digest);
        self.result.media_type = media_type;
        self.result.size = content_length(resp.headers());
        self.done();
        Ok(())
    }

    fn on_top_get(&mut self, now: SystemTime, resp: http::Response<Vec<u8>>) -> Result<(), Error> {
        let what = self.what();
        check_size(resp.body(), self.limits.manifest, &what)?;
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
            .reference
            .digest()
            .or(header_digest.as_ref())
            .map_or(Algorithm::Sha256, Digest::algorithm);
        let actual = canonical.unwrap_or_else(|| alg.digest(&body));
        for expected in [self.reference.digest(), header_digest.as_ref()]
            .into_iter()
            .flatten()
        {
            if expected.algorithm() == actual.algorithm() && *expected != actual {
                return Err(Error::DigestMismatch {
                    what,
                    expected: expected.to_string(),
                    actual: actual.to_string(),
                });
            }
        }
        self.result.digest = Some(actual.clone());
        self.result.media_type = Some(manifest.media_type().to_owned());
        self.result.size = Some(body.len() as u64);
        self.result.raw = Some(body.clone());
        self.after_manifest(now, actual, body, manifest, 0)
    }

    fn on_child(
        &mut self,
        now: SystemTime,
        desc: &Descriptor,
        depth: u8,
        resp: http::Response<Vec<u8>>,
    ) -> Result<(), Error> {
        let what = self.what();
        check_size(resp.body(), self.limits.manifest, &what)?;
        verify(desc, resp.body(), &what)?;
        let ctype = content_type(resp.headers()).or_else(|| Some(desc.media_type.clone()));
        let body = resp.into_body();
        let manifest = parse_manifest(ctype.as_deref(), &body)?;
        self.after_manifest(now, desc.digest.clone(), body, manifest, depth)
    }

    /// Decides what follows a manifest: an index leads to a platform, an image to its
    /// config (for `Inspect`), anything else ends the flow.
    fn after_manifest(
        &mut self,
        now: SystemTime,
        digest: Digest,
        body: Vec<u8>,
        manifest: Manifest,
        depth: u8,
    ) -> Result<(), Error> {
        match manifest {
            Manifest::Index(index) => {
                let Some(wanted) = self.goal.platform().cloned() else {
                    self.result.index.get_or_insert(index);
                    self.done();
                    return Ok(());
                };
                if depth >= 2 {
                    return Err(Error::InvalidManifest("indexes nested too deep".into()));
                }
                let chosen = select(&index.manifests, &wanted).cloned();
                let Some(desc) = chosen else {
                    return Err(Error::NoMatchingPlatform {
                        reference: self.reference.familiar(),
                        wanted: Box::new(wanted),
                        available: offered(&index.manifests),
                    });
                };
                self.result.platform = desc.platform.clone();
                self.result.index.get_or_insert(index);
                if matches!(self.goal, Goal::Digest(_)) {
                    self.result.manifest = Some(FetchedManifest {
                        digest: desc.digest.clone(),
                        media_type: desc.media_type.clone(),
                        size: desc.size,
                        raw: None,
                        manifest: None,
                    });
                    self.done();
                    return Ok(());
                }
                self.step = Step::Child {
                    desc,
                    depth: depth + 1,
                };
                self.dispatch(now);
            }
            Manifest::Image(ref image) => {
                let config = image.config.clone();
                self.result.manifest = Some(FetchedManifest {
                    digest,
                    media_type: image.media_type.clone(),
                    size: body.len() as u64,
                    raw: Some(body),
                    manifest: Some(manifest),
                });
                if matches!(self.goal, Goal::Inspect(_)) {
                    self.step = Step::Config(config);
                    self.dispatch(now);
                } else {
                    self.done();
                }
            }
            Manifest::Schema1(ref s) => {
                self.result.manifest = Some(FetchedManifest {
                    digest,
                    media_type: s.media_type.clone(),
                    size: body.len() as u64,
                    raw: Some(body),
                    manifest: Some(manifest),
                });
                self.done();
            }
        }
        Ok(())
    }

    fn on_config(&mut self, desc: &Descriptor, resp: http::Response<Vec<u8>>) -> Result<(), Error> {
        let what = self.what();
        check_size(resp.body(), self.limits.config, &what)?;
        verify(desc, resp.body(), &what)?;
        let raw = resp.into_body();
        let is_image_config =
            desc.media_type == media::OCI_CONFIG || desc.media_type == media::DOCKER_CONFIG;
        let config = if is_image_config {
            Some(parse_config(&raw)?)
        } else {
            None
        };
        self.result.config = Some(FetchedConfig {
            digest: desc.digest.clone(),
            media_type: desc.media_type.clone(),
            raw,
            config,
        });
        self.done();
        Ok(())
    }

    fn on_page(
        &mut self,
        now: SystemTime,
        url: &Url,
        page: Url,
        resp: http::Response<Vec<u8>>,
    ) -> Result<(), Error> {
        let what = self.what();
        check_size(resp.body(), self.limits.list, &what)?;
        let key = match self.goal {
            Goal::Catalog { .. } => "repositories",
            _ => "tags",
        };
        let entries = crate::list::parse_page(resp.body(), key)?;
        self.result.seen_pages.push(page);
        self.result.items.extend(entries);
        let (limit, _) = self.goal.listing().unwrap_or_default();
        let next = crate::list::next_link(
            resp.headers()
                .get_all(http::header::LINK)
                .iter()
                .filter_map(|v| v.to_str().ok()),
            url,
        )
        .map_err(|reason| Error::InvalidListing {
            detail: format!("{what}: the next page's Link is unusable: {reason}"),
        })?;
        if let Some(l) = limit {
            if self.result.items.len() >= l {
                let more = self.result.items.len() > l || next.is_some();
                self.result.items.truncate(l);
                return self.listing_done(!more);
            }
        }
        let Some(next) = next else {
            return self.listing_done(true);
        };
        if !same_origin(&next, &self.base) {
            return Err(Error::InvalidListing {
                detail: format!(
                    "{what}: next page {} is on another origin",
                    strip_query(&next)
                ),
            });
        }
        if self.result.seen_pages.contains(&next) || self.result.seen_pages.len() >= MAX_PAGES {
            return Err(Error::InvalidListing {
                detail: format!("{what}: pagination loops or exceeds {MAX_PAGES} pages"),
            });
        }
        self.step = Step::Page(next);
        self.dispatch(now);
        Ok(())
    }

    fn listing_done(&mut self, complete: bool) -> Result<(), Error> {
        let r = std::mem::take(&mut self.result);
        self.finish(Ok(Outcome::List(Listing {
            items: r.items,
            pages: r.seen_pages.len(),
            complete,
        })));
        Ok(())
    }

    fn done(&mut self) {
        let r = std::mem::take(&mut self.result);
        let result = match (r.digest, r.media_type) {
            (Some(digest), media_type) => Ok(Outcome::Image(Box::new(Inspection {
                reference: self.reference.clone(),
                digest,
                media_type: media_type.unwrap_or_default(),
                size: r.size,
                raw: r.raw,
                index: r.index,
                platform: r.platform,
                manifest: r.manifest,
                config: r.config,
                warnings: r.warnings,
            }))),
            (None, _) => Err(Error::Misuse("finished without a digest")),
        };
        self.finish(result);
    }
}

/// A fast, well-mixed 64-bit hash (SplitMix64), for backoff jitter.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
