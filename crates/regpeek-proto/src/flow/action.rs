//! What a [`Flow`](super::Flow) hands out: requests to perform, and its outcome.

use std::time::{Duration, SystemTime};

use crate::error::{Error, TimeoutStage};
use crate::inspection::Inspection;
use crate::list::Listing;

/// What a request is for (for logs and transcripts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// `GET /v2/` to learn a challenge.
    Ping,
    /// A token server request.
    Token,
    /// A manifest `GET` or `HEAD`.
    Manifest,
    /// A blob `GET`.
    Blob,
    /// A page of a tag or catalog listing.
    List,
}

/// A request for the driver to perform.
#[derive(Debug)]
#[must_use]
pub struct Send {
    /// The request, with an absolute URI. It may hold an `Authorization` header: never
    /// log it unredacted.
    pub request: http::Request<Vec<u8>>,
    /// Read at most this many body bytes plus one; the flow rejects larger bodies.
    pub max_body: usize,
    /// What the request is for.
    pub kind: RequestKind,
    /// The command's deadline, if it has one ([`Options::deadline`](crate::Options)).
    /// Give the whole request (connect, TLS, response and body) at most
    /// [`time_left`](Send::time_left), and treat a connection idle for
    /// [`IDLE_TIMEOUT`](crate::IDLE_TIMEOUT) as dead even with time left.
    pub deadline: Option<SystemTime>,
}

impl Send {
    /// The time left before the deadline (`None`: no deadline). Zero when it has passed.
    pub fn time_left(&self, now: SystemTime) -> Option<Duration> {
        self.deadline
            .map(|d| d.duration_since(now).unwrap_or(Duration::ZERO))
    }
}

/// What the driver should do next.
#[derive(Debug)]
#[must_use]
// `Done` is returned once per flow; boxing it would only cost the caller.
#[allow(clippy::large_enum_variant)]
pub enum Action {
    /// Perform this request and hand the response to [`Flow::handle_response`].
    Send(Send),
    /// Nothing to do until this time (a retry after 429/502/503/504); then poll again.
    Wait(SystemTime),
    /// The flow has finished.
    Done(Result<Outcome, Error>),
}

/// What a finished flow learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// From `Digest`, `Manifest` and `Inspect` goals.
    Image(Box<Inspection>),
    /// From `Tags` and `Catalog` goals.
    List(Listing),
    /// From `Login`: the registry accepted the credentials (or needs none).
    LoggedIn {
        /// True when the registry asked for authentication at all.
        authenticated: bool,
    },
}

impl Outcome {
    /// The inspection, for image goals.
    pub fn into_image(self) -> Result<Inspection, Error> {
        match self {
            Outcome::Image(i) => Ok(*i),
            _ => Err(Error::Misuse("this flow has no inspection")),
        }
    }

    /// The listing, for `Tags` and `Catalog` goals.
    pub fn into_listing(self) -> Result<Listing, Error> {
        match self {
            Outcome::List(l) => Ok(l),
            _ => Err(Error::Misuse("this flow has no listing")),
        }
    }
}

/// How a request failed below HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The TLS handshake failed (for instance, the server speaks plain http).
    Tls,
    /// TLS failed for a reason plain http would not fix (an untrusted certificate, a
    /// server that wants a client certificate). Never a reason to fall back to http.
    Certificate,
    /// The host name did not resolve. Not retried.
    Resolve,
    /// Connecting failed (refused, unreachable). `GET`s and `HEAD`s are retried.
    Connect,
    /// The connection was reset or closed before the response was complete. `GET`s
    /// and `HEAD`s are retried.
    Reset,
    /// A timeout, and where it happened. Not retried: the deadline is the caller's.
    Timeout(TimeoutStage),
    /// Anything else.
    Other,
}
