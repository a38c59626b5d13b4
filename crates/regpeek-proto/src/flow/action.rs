//! What a [`Flow`](super::Flow) hands out: requests to perform, and its outcome.

use std::time::{Duration, SystemTime};

use crate::error::Error;
use crate::inspection::{Inspection, Referrers};
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
pub struct Transmit {
    /// The request, with an absolute URI. It may hold an `Authorization` header: never
    /// log it unredacted.
    pub request: http::Request<Vec<u8>>,
    /// Read at most this many body bytes plus one; the flow rejects larger bodies.
    pub max_body: usize,
    /// What the request is for.
    pub kind: RequestKind,
    /// The body is the caller's to stream ([`Goal::Blob`](crate::Goal::Blob)): on a
    /// `2xx`, hand the flow the response with an empty body and keep reading the
    /// body yourself; any other status is read as usual, within `max_body`.
    pub stream: bool,
    /// The command's deadline, if it has one ([`Options::deadline`](crate::Options)).
    /// Give the whole request (connect, TLS, response and body) at most
    /// [`time_left`](Transmit::time_left), and treat a connection idle for
    /// [`IDLE_TIMEOUT`](crate::IDLE_TIMEOUT) as dead even with time left.
    pub deadline: Option<SystemTime>,
}

impl Transmit {
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
    /// Perform this request and hand the response to
    /// [`Flow::handle_response`](crate::Flow::handle_response) (or its failure to
    /// [`Flow::handle_transport_error`](crate::Flow::handle_transport_error)).
    Send(Transmit),
    /// Nothing to do until this time (a retry after 429/502/503/504); then poll again.
    Wait(SystemTime),
    /// The flow has finished.
    Done(Result<Outcome, Error>),
}

/// What a finished flow learned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// From `Digest`, `Manifest` and `Inspect` goals.
    Image(Box<Inspection>),
    /// From `Tags` and `Catalog` goals.
    List(Listing),
    /// From the `Referrers` goal.
    Referrers(Referrers),
    /// From `Blob`: the registry is sending the blob; its body is the caller's to read
    /// (and to check against `digest`: nothing of it is verified yet).
    Blob {
        /// The blob asked for.
        digest: crate::Digest,
        /// Its size, when the response said (`Content-Length`): of the range, when
        /// `partial`.
        size: Option<u64>,
        /// The body is the range asked for ([`Options::range`](crate::Options::range),
        /// a `206`); `false`: the whole blob.
        partial: bool,
        /// Where the body came from when the registry sent the flow elsewhere (a
        /// redirect to a CDN): give it as [`Options::location`](crate::Options::location)
        /// to ask there first for this blob again. It may be a signed URL: keep it
        /// out of logs and files.
        location: Option<url::Url>,
    },
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
}

/// A registry's request to slow down (HTTP 429), which every client of that registry
/// should obey, not only the flow that was told: a batch hands it to its other flows
/// to that registry as [`Options::hold`](crate::Options::hold), and they wait, or
/// refuse at once, as the flow itself would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// Until when.
    pub until: SystemTime,
    /// When to retry, as the registry said it (`Retry-After`'s value, a reset header,
    /// or the body's phrase), if it did.
    pub retry_after: Option<String>,
}

impl Hold {
    /// The hold a response asks for: a 429, until its `Retry-After` (seconds, or an
    /// HTTP-date against its `Date`), a rate-limit reset header, or a `retry-after:`
    /// phrase in its body (GitHub's registry), else for the flow's own first backoff
    /// (0.5 s).
    pub fn of(response: &http::Response<Vec<u8>>, now: SystemTime) -> Option<Hold> {
        if response.status() != http::StatusCode::TOO_MANY_REQUESTS {
            return None;
        }
        let wait = super::check::wait_asked(response).unwrap_or(super::FIRST_BACKOFF);
        Some(Hold {
            until: now.checked_add(wait)?,
            retry_after: super::check::wait_asked_text(response),
        })
    }

    /// Whether a request may wait for the hold to end: it ends before `deadline`, and
    /// within what the flow itself waits for a `Retry-After` (30 s). Otherwise the
    /// request is better refused at once, saying when to retry.
    pub(crate) fn waitable(&self, now: SystemTime, deadline: Option<SystemTime>) -> bool {
        let within_cap = now
            .checked_add(super::MAX_WAIT)
            .is_some_and(|cap| self.until <= cap);
        within_cap && deadline.is_none_or(|d| self.until < d)
    }
}
