//! The sans-IO core of regpeek: inspect container images in a registry without pulling.
//!
//! This crate turns "inspect this reference" into a state machine ([`Flow`]) that hands
//! out HTTP requests and takes responses back, plus the pure parsers it is built on:
//! [`Reference`], [`challenge`], [`auth`] (token exchange and cache), [`manifest`],
//! [`platform`] and [`config`].
//!
//! # Contract
//! - **No I/O.** No sockets, files, environment variables, threads or clock. The caller
//!   performs each request and passes the current time in; the same inputs always give
//!   the same outputs.
//! - **Whole messages.** The flow deals in complete `http` requests and responses; each
//!   [`Send`] carries a body cap the driver must honour (read at most `max_body + 1`
//!   bytes; the flow rejects anything longer).
//! - **The flow follows redirects** (at most [`MAX_REDIRECTS`]), drops `Authorization`
//!   when the origin changes and refuses https→http. Drivers must not follow redirects.
//! - **Credentials are inputs.** Reading credential files is the caller's job.
//!
//! - **Deadlines and retries are decided here.** With [`Options::deadline`] set, each
//!   `Send` carries it: the driver gives the request at most [`Send::time_left`] and
//!   drops a connection idle for [`IDLE_TIMEOUT`]. The flow retries idempotent requests
//!   after 429/502/503/504, token-server 5xx and refused or reset connections (at most
//!   [`MAX_RETRIES`], backoff with jitter from [`Options::seed`]) by returning
//!   [`Action::Wait`], and reports a wait that would pass the deadline at once.
//!
//! Out of scope: TLS, connection pooling, proxies, and enforcing timeouts on sockets
//! (all the driver's).
//!
//! # Driving a flow
//! Poll for an [`Action`]; perform each `Send`; hand the response back; repeat until
//! `Done`. Here a closure plays the registry:
//!
//! ```
//! use std::time::SystemTime;
//! use regpeek_proto::{Action, Flow, Goal, Options, Platform, Reference, TokenCache};
//!
//! let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
//!   "config":{"mediaType":"application/vnd.oci.image.config.v1+json",
//!   "digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},
//!   "layers":[]}"#;
//! let transport = |req: &http::Request<Vec<u8>>| -> http::Response<Vec<u8>> {
//!     let path = req.uri().path();
//!     let (ctype, body): (&str, &[u8]) = if path.contains("/manifests/") {
//!         ("application/vnd.oci.image.manifest.v1+json", manifest)
//!     } else {
//!         ("application/octet-stream", b"{}")
//!     };
//!     http::Response::builder().status(200).header("content-type", ctype)
//!         .body(body.to_vec()).unwrap()
//! };
//!
//! let reference = Reference::parse("localhost:5000/app:v1")?;
//! let goal = Goal::Inspect(Platform::parse("linux/amd64", "amd64")?);
//! let mut flow = Flow::new(reference, Options::new(goal), TokenCache::new());
//! let inspection = loop {
//!     match flow.poll_action(SystemTime::now()) {
//!         Action::Send(send) => {
//!             // A real transport bounds the request by `send.time_left(now)` and
//!             // reports failures with `flow.handle_transport_error(now, kind, msg)`.
//!             let response = transport(&send.request);
//!             flow.handle_response(SystemTime::now(), response);
//!         }
//!         Action::Wait(until) => { /* sleep until `until`, then poll again */ }
//!         Action::Done(result) => break result?.into_image()?,
//!     }
//! };
//! assert_eq!(inspection.config.unwrap().raw, b"{}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod auth;
pub mod challenge;
pub mod config;
pub mod digest;
mod error;
mod flow;
mod inspection;
pub mod list;
pub mod manifest;
pub mod platform;
pub mod reference;
mod time;
mod uri;

pub use auth::{Credentials, Secret, TokenCache, is_loopback_host};
pub use digest::Digest;
pub use error::{
    Error, Identity, Peer, RegistryErrorItem, Subject, TimeoutStage, TransportErrorKind,
    parse_registry_errors,
};
pub use flow::{
    Action, Flow, Goal, IDLE_TIMEOUT, Limits, MAX_PAGES, MAX_REDIRECTS, MAX_RETRIES, MAX_WAIT,
    Mirror, Options, Outcome, RequestKind, Security, Transmit,
};
pub use inspection::{FetchedConfig, FetchedManifest, Inspection};
pub use list::Listing;
pub use platform::Platform;
pub use reference::Reference;
/// The URL type of [`Options::endpoint`], re-exported.
pub use url;

#[cfg(test)]
mod reference_tests;

/// Internal parsers, exposed only to the fuzz targets (`--features fuzzing`).
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::flow::retry_after;
    pub use crate::time::parse_rfc3339;
}
