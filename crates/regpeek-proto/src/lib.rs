//! The sans-IO core of regpeek: inspect container images in a registry without pulling.
//!
//! This crate turns "inspect this reference" into a state machine ([`Flow`]) that hands
//! out HTTP requests and takes responses back, built on pure parsers of references,
//! `WWW-Authenticate`, token replies, manifests and indexes, configs and registry
//! errors. Bring your own transport: blocking or async, real or replayed.
//!
//! # Contract
//! - **No I/O.** No sockets, files, environment variables, threads or clock. The caller
//!   performs each request and passes the current time in; the same inputs always give
//!   the same outputs.
//! - **Whole messages.** The flow deals in complete [`http`] requests and responses;
//!   each [`Transmit`] carries a body cap the driver must honour (read at most
//!   `max_body + 1` bytes; the flow rejects anything longer). The caps are
//!   [`Options::limits`]; by default ([`Limits::default`]) manifests and indexes
//!   4 MiB, configs 32 MiB, token replies, errors and pings 256 KiB, one page of a
//!   listing 4 MiB.
//! - **The flow follows redirects**, drops `Authorization` when the origin changes and
//!   refuses https→http. Drivers must not follow redirects.
//! - **Deadlines and retries are decided here.** With [`Options::deadline`] set, each
//!   `Transmit` carries it: the driver gives the request at most
//!   [`Transmit::time_left`] and drops a connection idle for [`IDLE_TIMEOUT`] (10 s). The flow
//!   retries idempotent requests after 429/502/503/504, token-server 5xx and refused or
//!   reset connections (3 times at most, backoff with jitter from [`Options::seed`]) by
//!   returning [`Action::Wait`], and reports a wait that would pass the deadline at once.
//! - **Scheme, mirrors and login are decided here**: Docker's loopback rule
//!   ([`Security::Auto`]), pull-through mirrors with fallback ([`Options::mirrors`]),
//!   the registry-level check ([`Goal::Login`]).
//! - **Credentials are inputs.** Reading credential files is the caller's job.
//!
//! Out of scope: TLS, connection pooling, proxies, and enforcing timeouts on sockets
//! (all the driver's).
//!
//! # Driving a flow
//! The whole driver loop: poll for an [`Action`]; perform each `Send` within its time
//! left and hand back the response, or the kind of transport failure; sleep through a
//! `Wait`; stop at `Done`. Here a closure plays the network:
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use regpeek_proto::{
//!     Action, Flow, Goal, Options, Platform, Reference, TokenCache, TransportErrorKind, http,
//! };
//!
//! let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
//!   "config":{"mediaType":"application/vnd.oci.image.config.v1+json",
//!   "digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},
//!   "layers":[]}"#;
//! // A transport: performs a request within a time budget, or fails with a kind.
//! let mut calls = 0;
//! let mut transport = |req: &http::Request<Vec<u8>>, _budget: Option<Duration>|
//!     -> Result<http::Response<Vec<u8>>, TransportErrorKind> {
//!     calls += 1;
//!     if calls == 1 {
//!         return Err(TransportErrorKind::Reset); // retried by the flow, after a wait
//!     }
//!     let (ctype, body): (&str, &[u8]) = if req.uri().path().contains("/manifests/") {
//!         ("application/vnd.oci.image.manifest.v1+json", manifest)
//!     } else {
//!         ("application/octet-stream", b"{}")
//!     };
//!     Ok(http::Response::builder().status(200).header("content-type", ctype)
//!         .body(body.to_vec()).unwrap())
//! };
//!
//! let reference = Reference::parse("localhost:5000/app:v1")?;
//! let mut options = Options::new(Goal::Inspect(Platform::parse("linux/amd64", "amd64")?));
//! options.deadline = Some(SystemTime::now() + Duration::from_secs(30));
//! let mut flow = Flow::new(reference, options, TokenCache::default());
//! let inspection = loop {
//!     let now = SystemTime::now();
//!     match flow.poll_action(now) {
//!         Action::Send(send) => match transport(&send.request, send.time_left(now)) {
//!             Ok(response) => flow.handle_response(SystemTime::now(), response),
//!             Err(kind) => flow.handle_transport_error(SystemTime::now(), kind),
//!         },
//!         Action::Wait(until) => {
//!             std::thread::sleep(until.duration_since(SystemTime::now()).unwrap_or_default())
//!         }
//!         Action::Done(result) => break result?.into_image()?,
//!     }
//! };
//! assert_eq!(inspection.config.unwrap().raw, b"{}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Writing a driver
//! A driver performs each [`Transmit`] and reports what happened; the flow decides
//! everything else. Three drivers live in the repository: `regpeek-ureq` (blocking,
//! TLS), `examples/async-tokio` (tokio and hyper) and `examples/std-http1` (blocking
//! HTTP/1.1 over `std::net` alone, written from this checklist; its lab tests show
//! each item at work, and a test checks that it cites every item):
//!
//! 1. **Do not follow redirects; treat every status as data.** Hand 3xx, 4xx and 5xx
//!    responses to [`Flow::handle_response`] as they are: the flow follows redirects
//!    itself (dropping `Authorization` across origins), answers challenges and retries.
//! 2. **Add `Host`, `Content-Length` (when there is a body) and `User-Agent`.** The
//!    flow sets `Accept`, `Authorization`, `Content-Type` (on the token `POST`) and,
//!    when [`Options::user_agent`] is set, `User-Agent`; the connection's own headers
//!    (`Host`, `Content-Length`, `Connection`, `Transfer-Encoding`) are the driver's.
//! 3. **Read no body for `HEAD`**, 204 and 304: a `HEAD`'s `Content-Length` announces
//!    the body a `GET` would get. Skip interim responses (1xx, such as
//!    `100 Continue`): read the next head, and hand the flow the final one only.
//! 4. **Honour [`Transmit::max_body`].** Read at most `max_body + 1` bytes and hand
//!    them over, or, cheaper, report [`TransportErrorKind::TooLarge`] as soon as a
//!    `Content-Length` or the bytes read pass `max_body` (nothing to allocate).
//! 5. **Honour [`Transmit::time_left`]:** the whole request (connect, send, response,
//!    body) within it, and no socket idle for longer than [`IDLE_TIMEOUT`].
//! 6. **Map failures to [`TransportErrorKind`]**, keeping your own error with
//!    [`Flow::handle_transport_error_with`]. It comes back as the
//!    [`source`](std::error::Error::source) of the flow's [`Error::Transport`] or
//!    [`Error::Timeout`], whose `Display` says only what failed where: print the chain
//!    (anyhow's `{:#}`, or walk `source()`) to show the reason.
//!
//!    | what failed | kind |
//!    |---|---|
//!    | name resolution | `Resolve` |
//!    | connect: refused, unreachable | `Connect` (retried) |
//!    | reset, closed early, unexpected EOF, broken pipe | `Reset` (retried) |
//!    | `io::ErrorKind::TimedOut` / `WouldBlock` from a timeout you set | `Timeout(stage)`: `Connect`, `TlsHandshake`, `Response` (head), `Body` |
//!    | TLS: the peer does not speak TLS | `Tls` (allows Docker's http fallback on loopback) |
//!    | TLS: untrusted certificate | `Certificate` |
//!    | TLS: handshake refused (an alert) | `TlsRefused` |
//!    | a body over `max_body` | `TooLarge` |
//!    | an `https://` request and no TLS in this driver | `NoTls` (or set [`Options::tls`] to `false`, and the flow never asks) |
//!    | anything else (a malformed response head) | `Other` |
//!    | a request your own policy will not send (a budget) | `Declined` (not retried) |
//!
//! 7. **Redact what you log.** Query strings of signed URLs and `Authorization` carry
//!    secrets: [`redact::url`] and [`redact::header`] apply the one policy the project
//!    uses.
//! 8. **Pass a random [`Options::seed`]** for retry jitter; with std alone:
//!    `use std::hash::BuildHasher;` then
//!    `std::hash::RandomState::new().hash_one(std::time::SystemTime::now())`.
//! 9. **Hand the [`TokenCache`] from flow to flow** ([`Flow::tokens`], cloned, then the
//!    next [`Flow::new`]): tokens and what each registry taught (its challenge, plain
//!    http on loopback) save round trips; persist it with
//!    [`TokenCache::to_json`]`(now)` (tokens still fresh at `now`) and read it back
//!    with [`TokenCache::from_json`].
//! 10. **Say whether you speak TLS.** A driver without TLS (plain http only) sets
//!     [`Options::tls`] to `false`: the flow then goes to a loopback registry over
//!     plain http at once, refuses an `https://` request before handing it out, and
//!     passes over an `https` mirror to the next endpoint. A TLS driver leaves it
//!     `true` and reports a peer that does not speak TLS as `Tls`.
//!
//! A flow's result is [`Outcome`]: [`Outcome::into_image`] for the image goals, and
//! for the others a `match` (`Outcome::List` for tags and catalogs,
//! `Outcome::Referrers`, `Outcome::Blob`, `Outcome::LoggedIn`).
//!
//! Streaming blobs is optional. A driver that offers [`Goal::Blob`] (layers, which
//! can be gigabytes) honours [`Transmit::stream`]: on a `2xx` it hands the flow the
//! response with an empty body and keeps the body for its caller, who reads it as
//! it arrives and checks it against the digest before using any of it
//! (`regpeek-ureq`'s `Client::run_blob`). A driver that does not stream reads the
//! body as for anything else, and the flow refuses a blob over
//! [`Transmit::max_body`].
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod auth;
mod challenge;
mod codes;
pub mod config;
mod digest;
mod error;
mod flow;
mod inspection;
mod list;
pub mod manifest;
mod parse_error;
mod platform;
pub mod redact;
mod reference;
mod select;
mod time;
mod token;
mod uri;

pub use auth::{Credentials, Secret};
pub use digest::Digest;
pub use error::{
    DriverError, Error, Identity, ParseError, Peer, RegistryCode, Subject, TimeoutStage,
    TransportErrorKind,
};
pub use flow::{
    Action, Flow, Goal, Hold, IDLE_TIMEOUT, Known, Limits, Mirror, Options, Outcome, RequestKind,
    Security, Transmit,
};
/// The HTTP types requests and responses are made of, re-exported.
pub use http;
pub use inspection::{
    FetchedConfig, FetchedManifest, Inspection, RateLimit, Referrer, ReferrerSource, Referrers,
};
pub use list::{Listing, TagDetail};
pub use platform::Platform;
pub use reference::{DOCKER_HUB, Reference};
pub use token::TokenCache;
/// The URL type of [`Mirror::url`], re-exported.
pub use url;

#[cfg(test)]
mod reference_tests;

/// Internal parsers behind small wrappers, for the fuzz targets in `fuzz/` only
/// (`--features fuzzing`); not part of the API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    use std::time::SystemTime;

    /// `Retry-After` (against `Date`) as a duration.
    pub fn retry_after(h: &http::HeaderMap) -> Option<std::time::Duration> {
        crate::flow::check::retry_after(h)
    }

    /// An RFC 3339 timestamp.
    pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
        crate::time::parse_rfc3339(s)
    }

    /// Parses challenge header values; the realms accepted for each registry URL.
    pub fn challenges(values: &[&str], registry: &url::Url) -> Vec<url::Url> {
        let Ok(challenges) = crate::challenge::parse_challenges(values.iter().copied()) else {
            return Vec::new();
        };
        let _ = crate::challenge::preferred(&challenges);
        challenges
            .iter()
            .filter_map(|c| crate::auth::BearerRealm::from_challenge(c, registry, true).ok())
            .map(|r| r.realm)
            .collect()
    }

    /// Parses a token reply, caches it at `now` and reads it back; the token.
    pub fn token_reply(body: &[u8], now: SystemTime) -> Option<String> {
        let reply = crate::token::parse_token_reply(body).ok()?;
        let mut cache = crate::TokenCache::default();
        let key = crate::token::TokenKey {
            realm: "https://auth.example/token".into(),
            service: "s".into(),
            scopes: vec!["repository:a:pull".into()],
            identity: String::new(),
        };
        let scope = crate::auth::Scope::pull("a");
        cache.insert(
            key.clone(),
            "reg",
            std::slice::from_ref(&scope),
            &reply,
            now,
        );
        let _ = cache.get(&key, now);
        let _ = cache.find("reg", "", &scope, now);
        Some(reply.token.expose().to_owned())
    }

    /// Parses a manifest and, for an index, selects each of a few platforms.
    pub fn manifest(content_type: Option<&str>, body: &[u8]) {
        if let Ok(crate::manifest::Manifest::Index(index)) =
            crate::manifest::parse_manifest(content_type, body)
        {
            let _ = crate::select::offered(&index.manifests);
            for p in [
                "linux/amd64",
                "linux/arm/v7",
                "linux/arm64/v8",
                "windows/amd64",
            ] {
                if let Ok(wanted) = crate::Platform::parse(p, "amd64") {
                    let _ = crate::select::select(&index.manifests, &wanted);
                }
            }
        }
    }

    /// The other JSON a registry sends: configs, error bodies, listing pages.
    pub fn json(body: &[u8]) {
        let _ = crate::config::parse_config(body);
        let _ = crate::error::parse_registry_errors(body);
        let _ = crate::list::parse_page(body, "tags");
    }

    /// `Link` values: the next page.
    pub fn next_link(
        values: &[&str],
        current: &url::Url,
    ) -> Result<Option<url::Url>, &'static str> {
        crate::list::next_link(values.iter().copied(), current)
    }
}
