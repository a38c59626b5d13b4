//! The state machine. This file holds the states, the one transition function and the
//! public methods; each concern's transitions live in a file of their own:
//! `request` (building requests), `auth` (challenges and tokens), `redirect`, `retry`
//! (backoff, transport failures, the loopback fallback), `walk` (manifest, index,
//! config) and `listing` (tag and catalog pages). `options` holds what callers ask,
//! `action` what the flow hands out, `check` the response readings they share.

use std::time::{Duration, SystemTime};

use url::Url;

use crate::auth::{Credentials, Scope};
use crate::digest::Digest;
use crate::error::{Error, Peer, Subject, TimeoutStage, TransportErrorKind};
use crate::inspection::{FetchedConfig, FetchedManifest};
use crate::manifest::{Descriptor, ImageIndex};
use crate::platform::Platform;
use crate::reference::{DOCKER_HUB, Reference};
use crate::token::{TokenCache, TokenKey};
use crate::uri;

mod action;
mod attempt;
mod auth;
pub(crate) mod check;
mod endpoint;
mod listing;
mod options;
mod redirect;
mod referrers;
mod request;
mod response;
mod retry;
mod table;
#[cfg(test)]
mod tests;
mod walk;

pub use action::{Action, Hold, Outcome, RequestKind, Transmit};
use attempt::{Attempt, Config, Cursor, Endpoint, HostAuth, SentAuth, Step};
pub use options::{Goal, Known, Limits, Mirror, Options, Security};

/// Redirect hops allowed for one request.
pub(crate) const MAX_REDIRECTS: u8 = 5;
/// Pages a listing may follow before the flow calls it a loop.
pub(crate) const MAX_PAGES: usize = 10_000;
/// Retries of one request (after 429/502/503/504, token-server 5xx, or a refused or
/// reset connection).
pub(crate) const MAX_RETRIES: u8 = 3;
/// The longest `Retry-After` the flow waits for; longer ones are reported instead.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(30);

/// The first retry's backoff, before jitter.
pub(crate) const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// A connection that sends nothing for this long (10 seconds) is dead, even before
/// the deadline: drivers use it as their connect and per-read timeout.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the flow waits for. The table in [`Flow`]'s docs lists every transition.
#[derive(Debug)]
enum Wait {
    /// Nothing is out: the current step's request (or its token) is next.
    Start,
    /// A registry (or redirected) request is out.
    Resource { url: Url, hops: u8, sent: SentAuth },
    /// A token request is out.
    Token {
        key: TokenKey,
        scopes: Vec<Scope>,
        /// The realm without its query, for messages.
        realm: String,
        /// The OAuth2 POST flow (which falls back to GET on 404/405).
        post: bool,
    },
    /// `GET /v2/` is out, to learn the challenge a bare 401 did not give.
    Ping,
    /// Waiting to send `retry` at `until`.
    Backoff { until: SystemTime, retry: Retry },
    /// Finished.
    Done,
}

#[cfg(test)]
impl Wait {
    /// Every state's name, as the graph in the docs spells it.
    const NAMES: [&'static str; 6] = [
        table::Name::ALL[0].as_str(),
        table::Name::ALL[1].as_str(),
        table::Name::ALL[2].as_str(),
        table::Name::ALL[3].as_str(),
        table::Name::ALL[4].as_str(),
        table::Name::ALL[5].as_str(),
    ];

    fn name(&self) -> &'static str {
        table::Name::of(self).as_str()
    }
}

/// What moves the flow.
enum Input {
    Poll,
    Response(http::Response<Vec<u8>>),
    Failure(TransportErrorKind),
}

/// Where a handler sends the flow.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "one value per transition, moved once: boxing would allocate for nothing"
)]
enum Go {
    /// This state, handing the driver this action.
    To(Wait, Action),
    /// `Start`, polled at once: the current step's request (or its token, or the
    /// answer known content gives) is issued next. Every change of step, and every
    /// request sent again, goes through it.
    Issue,
}

impl From<(Wait, Action)> for Go {
    fn from((wait, action): (Wait, Action)) -> Go {
        Go::To(wait, action)
    }
}

/// Where the flow goes next, or an error that ends it (or moves it to the next
/// mirror).
type Next = Result<Go, Error>;

/// What a retry sends again.
#[derive(Debug)]
enum Retry {
    Resource { url: Url, hops: u8 },
    Token { key: TokenKey, post: bool },
    Ping,
}

/// Where a flow is: what it waits for, and the progress of its attempt at the
/// current endpoint. Only [`Flow::step`]'s transition changes it.
#[derive(Debug)]
struct State {
    wait: Wait,
    at: Attempt,
}

#[doc = include_str!("graph.md")]
#[derive(Debug)]
pub struct Flow {
    cfg: Config,
    cursor: Cursor,
    tokens: TokenCache,
    /// Where the flow is: what it waits for, and its attempt at the current endpoint.
    state: State,
    /// [`Options::hold`], until it has been waited out.
    hold: Option<Hold>,
    /// [`Options::location`], until the first request takes it.
    location: Option<Url>,
    /// The request out is to [`Options::location`]: a failure goes to the registry.
    via_location: bool,
    /// The driver's own error for the failure being handled, if it gave one.
    failure: Option<crate::error::DriverError>,
    /// The body cap of the request handed out last.
    last_limit: usize,
    /// An action decided by a `handle_*` call, handed out by the next poll.
    queued: Option<Action>,
    /// Why the flow cannot go on (Docker Hub's catalog, a listing's bad first page):
    /// the first poll ends it with this.
    broken: Option<Error>,
    /// Every transition taken, as the graph's rows name them (tests only).
    #[cfg(test)]
    taken: Vec<(&'static str, String, &'static str)>,
}

impl Flow {
    /// Starts a flow for `reference` towards the goal `options` ask. `tokens` is the
    /// caller's cache; read it back with [`Flow::tokens`].
    ///
    /// [`Goal::Login`] and [`Goal::Catalog`] concern the reference's registry alone:
    /// give it as [`Reference::for_registry`] reads it (`ghcr.io`, `localhost:5000`).
    /// Docker Hub has no catalog API; its catalog flow ends at once with
    /// [`Error::Unsupported`].
    pub fn new(reference: Reference, options: Options, tokens: TokenCache) -> Flow {
        let registry_only = matches!(options.goal, Goal::Login | Goal::Catalog { .. });
        let reference = if registry_only {
            reference.registry_only()
        } else {
            reference
        };
        // Offline, a tag cannot be revalidated: it is taken as the digest the caller
        // saw it resolve to here (which may be stale; the inspection names it).
        let reference = match (
            options.offline,
            reference.digest(),
            options.known.resolved.as_ref(),
        ) {
            (true, None, Some(d)) => reference.pinned(d.clone()),
            _ => reference,
        };
        // Mirrors first; one whose URL cannot be used is left at once, as a mirror
        // that fails is.
        let mut endpoints: Vec<Endpoint> = Vec::new();
        let mut skipped = Vec::new();
        if options.goal.uses_mirrors() {
            for m in &options.mirrors {
                let mut origin = m.url.clone();
                origin.set_path("/");
                origin.set_query(None);
                origin.set_fragment(None);
                match uri::checked(origin) {
                    Ok(base) => endpoints.push(Endpoint {
                        base,
                        security: if m.url.scheme() == "http" {
                            Security::Http
                        } else {
                            Security::Https
                        },
                        credentials: m.credentials.clone(),
                        mirror: Some(m.url.clone()),
                    }),
                    Err(reason) => skipped.push((
                        m.url.clone(),
                        Error::InvalidUrl {
                            what: "mirror".into(),
                            url: check::strip_query(&m.url),
                            reason,
                        },
                    )),
                }
            }
        }
        let security = match options.security.resolve(&reference) {
            // A driver without TLS cannot take part in Docker's https probe.
            Security::HttpsThenHttp if !options.tls => Security::Http,
            s => s,
        };
        let scheme = if security == Security::Http {
            "http"
        } else {
            "https"
        };
        endpoints.push(Endpoint {
            base: reference.api_url(scheme),
            security,
            credentials: options.credentials,
            mirror: None,
        });
        let is_blob = matches!(options.goal, Goal::Blob(_));
        let first = Attempt::on(&endpoints, 0);
        let mut flow = Flow {
            cfg: Config {
                reference,
                goal: options.goal,
                limits: options.limits,
                deadline: options.deadline,
                seed: options.seed,
                known: options.known,
                offline: options.offline,
                tls: options.tls,
                client_id: options.client_id,
                user_agent: options
                    .user_agent
                    .and_then(|u| http::HeaderValue::from_str(&u).ok()),
                pull_free: options.pull_free,
                range: options.range,
            },
            cursor: Cursor { endpoints, skipped },
            tokens,
            state: State {
                wait: Wait::Start,
                at: first,
            },
            hold: options.hold,
            location: options
                .location
                .filter(|u| is_blob && matches!(u.scheme(), "http" | "https")),
            via_location: false,
            failure: None,
            last_limit: 0,
            queued: None,
            broken: None,
            #[cfg(test)]
            taken: Vec::new(),
        };
        if matches!(flow.cfg.goal, Goal::Catalog { .. })
            && flow.cfg.reference.registry() == DOCKER_HUB
        {
            flow.broken = Some(Error::Unsupported(
                "Docker Hub has no catalog API; list a repository's tags instead".into(),
            ));
        } else if let Err(e) = flow.enter(0) {
            flow.broken = Some(e);
        }
        flow
    }

    /// The token cache as the flow has it now: the caller's, with whatever tokens and
    /// challenges this flow has learnt so far. Clone it for the next flow, at the end
    /// or as soon as a request past its authentication succeeded (so that flows
    /// waiting on this one's first contact can start).
    pub fn tokens(&self) -> &TokenCache {
        &self.tokens
    }

    /// The next thing to do. `now` is the caller's clock: it decides token freshness,
    /// waits and the deadline.
    pub fn poll_action(&mut self, now: SystemTime) -> Action {
        match self.queued.take() {
            // A wait decided earlier that is already over: go on at once.
            Some(Action::Wait(until)) if now >= until => self.step(now, Input::Poll),
            Some(action) => action,
            None => self.step(now, Input::Poll),
        }
    }

    /// Hands back the response to the last `Transmit`. The body must be at most the
    /// `max_body` plus one bytes it allowed.
    pub fn handle_response(&mut self, now: SystemTime, response: http::Response<Vec<u8>>) {
        let action = self.step(now, Input::Response(response));
        self.queued = Some(action);
    }

    /// Reports that the last `Transmit` failed below HTTP; the flow needs only its
    /// kind. To keep the driver's own error with the flow's, use
    /// [`Flow::handle_transport_error_with`].
    pub fn handle_transport_error(&mut self, now: SystemTime, kind: TransportErrorKind) {
        let action = self.step(now, Input::Failure(kind));
        self.queued = Some(action);
    }

    /// [`Flow::handle_transport_error`], keeping `error` (the driver's own): if the
    /// flow ends on this failure, its [`Error::Transport`] or [`Error::Timeout`]
    /// carries it as a [`DriverError`](crate::DriverError) (and as its `source()`);
    /// if the flow retries, it is dropped.
    pub fn handle_transport_error_with(
        &mut self,
        now: SystemTime,
        kind: TransportErrorKind,
        error: impl std::error::Error + Send + Sync + 'static,
    ) {
        self.failure = Some(crate::error::DriverError::new(error));
        self.handle_transport_error(now, kind);
        self.failure = None;
    }

    /// Runs the transition function and keeps the new state: the only place the
    /// state changes.
    fn step(&mut self, now: SystemTime, input: Input) -> Action {
        let wait = std::mem::replace(&mut self.state.wait, Wait::Done);
        let (from, on) = (table::Name::of(&wait), table::On::of(&input));
        let skipped = self.cursor.skipped.len();
        #[cfg(test)]
        let before = (wait.name(), tests::graph::Seen::of(&wait, &input, self));
        let (wait, action) = self.transition(now, wait, input);
        // Every transition is one of the table's rows (checked in debug builds).
        let moved = self.cursor.skipped.len() > skipped;
        table::check(from, on, &action, moved, table::Name::of(&wait));
        #[cfg(test)]
        self.taken.push(
            before
                .1
                .taken(before.0, &wait, &action, self.cursor.skipped.len()),
        );
        self.state.wait = wait;
        action
    }

    /// The one transition function: `(state, input) → (state, action)`.
    fn transition(&mut self, now: SystemTime, state: Wait, input: Input) -> (Wait, Action) {
        let next = match (state, input) {
            (Wait::Start, Input::Poll) => match (self.broken.take(), self.hold.take()) {
                (Some(e), _) => Err(e),
                (None, Some(hold)) if hold.until > now => self.held(now, hold),
                (None, _) => Ok(Go::Issue),
            },
            (Wait::Backoff { until, retry }, Input::Poll) if now < until => {
                Ok(Go::To(Wait::Backoff { until, retry }, Action::Wait(until)))
            }
            (Wait::Backoff { retry, .. }, Input::Poll) => self.resend(now, retry),
            (Wait::Resource { url, hops, sent }, Input::Response(r)) => {
                self.on_resource(now, url, hops, sent, r)
            }
            (
                Wait::Token {
                    key,
                    scopes,
                    realm,
                    post,
                },
                Input::Response(r),
            ) => self.on_token(now, key, &scopes, realm, post, r),
            (Wait::Ping, Input::Response(r)) => self.on_ping(r),
            (
                state @ (Wait::Resource { .. } | Wait::Token { .. } | Wait::Ping),
                Input::Failure(kind),
            ) => self.on_failure(now, state, kind),
            (Wait::Done, _) => Err(Error::Misuse("the flow has already finished")),
            (Wait::Resource { .. } | Wait::Token { .. } | Wait::Ping, Input::Poll) => Err(
                Error::Misuse("poll_action called while a response was awaited"),
            ),
            (Wait::Start | Wait::Backoff { .. }, Input::Response(_) | Input::Failure(_)) => {
                Err(Error::Misuse("no request was outstanding"))
            }
        };
        // `Issue` is `Start` polled at once; what it issues may change the step
        // again (known content answering it), so it is entered until it settles.
        let mut next = next;
        while let Ok(Go::Issue) = next {
            next = self.issue(now);
        }
        let (state, action) = match next {
            Ok(Go::To(state, action)) => (state, action),
            Ok(Go::Issue) => unreachable!("the loop above leaves no Issue"),
            Err(e) => self.fail(now, e),
        };
        self.guard(now, state, action)
    }

    /// Before the first request, a registry's hold ([`Options::hold`]): wait it out
    /// when it ends in time, else end now with a rate-limit error.
    fn held(&mut self, now: SystemTime, hold: Hold) -> Next {
        if hold.waitable(now, self.cfg.deadline) {
            let until = hold.until;
            self.hold = Some(hold);
            return Ok(Go::To(Wait::Start, Action::Wait(until)));
        }
        Err(Error::RateLimited {
            subject: self.subject(),
            retry_after: hold.retry_after,
            remaining: None,
        })
    }

    /// What every request must pass before it is handed out, checked as part of the
    /// transition that produced it: a driver without TLS gets no `https://`, an
    /// offline flow sends nothing, and nothing goes out past the deadline (a response
    /// that came in time is still used). A request that passes gets the caller's
    /// `User-Agent`, and its body cap is noted.
    fn guard(&mut self, now: SystemTime, state: Wait, mut action: Action) -> (Wait, Action) {
        let Action::Send(t) = &mut action else {
            return (state, action);
        };
        let refusal = if !self.cfg.tls
            && t.request.uri().scheme() == Some(&http::uri::Scheme::HTTPS)
        {
            let (peer, url) = self.describe_target(t);
            Some(Error::Transport {
                peer,
                url,
                kind: TransportErrorKind::NoTls,
                source: None,
            })
        } else if self.cfg.offline {
            Some(Error::Offline {
                subject: self.subject(),
            })
        } else if self.cfg.pull_free
            && t.kind == RequestKind::Manifest
            && t.request.method() == http::Method::GET
        {
            Some(Error::Unsupported(format!(
                "{}: the digest would take a manifest GET (no Docker-Content-Digest on HEAD, or an index to descend), which Docker Hub counts as a pull; only HEAD is sent here",
                self.subject()
            )))
        } else if self.cfg.deadline.is_some_and(|d| now >= d) {
            let (peer, url) = self.describe_target(t);
            Some(Error::Timeout {
                peer,
                url,
                stage: TimeoutStage::BeforeSending,
                status: None,
                source: None,
            })
        } else {
            None
        };
        if let Some(e) = refusal {
            // One exit for every failure: on a mirror, the next endpoint (whose own
            // first request is checked in turn), else the end.
            let (state, action) = self.fail(now, e);
            return self.guard(now, state, action);
        }
        self.last_limit = t.max_body;
        if let Some(agent) = &self.cfg.user_agent {
            t.request
                .headers_mut()
                .insert(http::header::USER_AGENT, agent.clone());
        }
        (state, action)
    }

    /// Ends the flow with `e`, or, on a mirror, moves on to the next endpoint.
    fn fail(&mut self, now: SystemTime, e: Error) -> (Wait, Action) {
        let on_mirror = self.cursor.endpoints[self.state.at.endpoint].mirror.clone();
        match on_mirror {
            Some(mirror) if !e.is_caller_error() => {
                self.cursor.skipped.push((mirror, e));
                match self.enter(self.state.at.endpoint + 1) {
                    Ok(()) => self.transition(now, Wait::Start, Input::Poll),
                    Err(e) => self.fail(now, e),
                }
            }
            _ => (Wait::Done, Action::Done(Err(e))),
        }
    }
}
