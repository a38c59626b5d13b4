//! The core's one error type, split by who is to blame (h11 style): the caller, access
//! control, or the registry and its network.

use std::fmt;

use crate::platform::Platform;

pub use crate::parse_error::ParseError;

/// What a request was for, in errors.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Subject {
    /// The manifest a reference names (its familiar form).
    Manifest(String),
    /// A manifest fetched by digest (a platform's, out of an index).
    ManifestDigest(String),
    /// The config blob with this digest.
    ConfigBlob(String),
    /// A blob with this digest (`Goal::Blob`).
    Blob(String),
    /// The tag list of a repository (`registry/repository`).
    TagList(String),
    /// The catalog of a registry.
    Catalog(String),
    /// The login check at a registry.
    Login(String),
    /// A token reply from a token server.
    TokenReply,
    /// The referrers of a manifest (by digest).
    Referrers(String),
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Manifest(r) => write!(f, "manifest {r}"),
            Subject::ManifestDigest(d) => write!(f, "manifest {d}"),
            Subject::ConfigBlob(d) => write!(f, "config blob {d}"),
            Subject::Blob(d) => write!(f, "blob {d}"),
            Subject::TagList(n) => write!(f, "tag list of {n}"),
            Subject::Catalog(r) => write!(f, "catalog of {r}"),
            Subject::Login(r) => write!(f, "login to {r}"),
            Subject::TokenReply => f.write_str("token reply"),
            Subject::Referrers(d) => write!(f, "referrers of {d}"),
        }
    }
}

/// Which server a request went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Peer {
    /// The registry (or the mirror standing in for it).
    Registry,
    /// The token server a registry's challenge named.
    TokenServer,
    /// Another origin a registry redirected to (a CDN).
    Redirect,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Peer::Registry => "registry",
            Peer::TokenServer => "token server",
            Peer::Redirect => "redirected download from",
        })
    }
}

/// Which credentials were refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Identity {
    /// A user name and password, for this user.
    User(String),
    /// A registry bearer token given by the caller.
    RegistryToken,
    /// An identity (refresh) token, with its user when known.
    IdentityToken(Option<String>),
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::User(u) => write!(f, "the credentials for user {u:?}"),
            Identity::RegistryToken => f.write_str("the registry token"),
            Identity::IdentityToken(Some(u)) => write!(f, "the identity token of user {u:?}"),
            Identity::IdentityToken(None) => f.write_str("the identity token"),
        }
    }
}

/// A driver's own error, kept with the flow's [`Error::Transport`] or
/// [`Error::Timeout`] it led to (and returned by their `source()`), so that a driver
/// need not wrap the flow's error in a type of its own to keep it. It derefs to the
/// error as the driver handed it over (`e.downcast_ref::<io::Error>()`). Compared by
/// identity.
#[derive(Debug, Clone)]
pub struct DriverError(std::sync::Arc<dyn std::error::Error + Send + Sync>);

impl DriverError {
    /// Wraps a driver's error.
    pub(crate) fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        DriverError(std::sync::Arc::new(error))
    }
}

impl std::ops::Deref for DriverError {
    type Target = dyn std::error::Error + Send + Sync + 'static;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

impl PartialEq for DriverError {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for DriverError {}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for DriverError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Everything that can end an inspection without a result. Each variant holds what
/// happened as data; `Display` is for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- The caller's fault ---
    /// A reference, platform or digest does not parse.
    #[error(transparent)]
    Invalid(#[from] ParseError),
    /// The flow was driven out of order (a bug in the driver).
    #[error("flow misuse: {0}")]
    Misuse(&'static str),
    /// An invariant of the core itself broke (a bug in regpeek, not the caller's nor
    /// the registry's). Like a registry's fault, it moves a flow on to the next
    /// endpoint.
    #[error("internal error in regpeek: {0} (please report it)")]
    Internal(&'static str),

    // --- Access ---
    /// The registry (or its token server) wants credentials and none were given.
    #[error("authentication required by {registry}")]
    AuthRequired {
        /// The registry host.
        registry: String,
    },
    /// The registry or its token server refused the credentials given.
    #[error("{registry} rejected {identity}")]
    BadCredentials {
        /// The registry host.
        registry: String,
        /// Whose credentials (never the secret).
        identity: Identity,
    },
    /// Access was refused even after authenticating; registries such as Docker Hub
    /// answer this way for repositories that do not exist, too. With `anonymous`,
    /// no credentials were given: the registry most likely wants some (as opposed to
    /// refusing the ones given).
    #[error("{subject}: {}{}", if *.anonymous { "access denied to anonymous requests: it needs credentials, or does not exist" } else { "not found or access denied" }, fmt_code(.code, .message))]
    Denied {
        /// What was asked for.
        subject: Subject,
        /// The HTTP status (401 or 403).
        status: u16,
        /// The registry's first error code, if it sent one (`UNAUTHORIZED`, `DENIED`).
        code: Option<RegistryCode>,
        /// Its message.
        message: Option<String>,
        /// No credentials were sent: read it as "needs credentials".
        anonymous: bool,
    },
    /// The registry's challenge names no scheme we can answer.
    #[error("{registry} asks for unsupported authentication ({})", .schemes.join(", "))]
    UnsupportedAuth {
        /// The registry host.
        registry: String,
        /// Schemes offered.
        schemes: Vec<String>,
    },
    /// The registry refused a token its own token server had just issued
    /// (`error="invalid_token"`): the token server and registry disagree.
    #[error("{registry} rejected the token just issued by {realm} (invalid_token)")]
    TokenRejected {
        /// The registry host.
        registry: String,
        /// The realm (no query).
        realm: String,
    },
    /// The realm a registry named is not safe to contact.
    #[error("refusing token realm {realm}: {reason}")]
    UnsafeRealm {
        /// The realm URL.
        realm: String,
        /// Why.
        reason: &'static str,
    },

    // --- The registry's answers and faults ---
    /// The registry answered with an error status.
    #[error("{subject}{}: {}", if *.default_tag { " (no tag was given, so \"latest\" was used)" } else { "" }, fmt_status(*.status, .code, .message))]
    Registry {
        /// What was asked for.
        subject: Subject,
        /// HTTP status.
        status: u16,
        /// The first error code, e.g. `MANIFEST_UNKNOWN`.
        code: Option<RegistryCode>,
        /// Its message.
        message: Option<String>,
        /// True when the reference named no tag and `latest` was asked for.
        default_tag: bool,
    },
    /// The registry limited our request rate, asking for a longer wait than the flow
    /// waits (30 s), or still after the retries.
    #[error("{subject}: rate limited by the registry (HTTP 429){}{}", .retry_after.as_ref().map(|r| format!(", retry after {r}")).unwrap_or_default(), .remaining.as_ref().map(|r| format!(", ratelimit-remaining {r}")).unwrap_or_default())]
    RateLimited {
        /// What was asked for.
        subject: Subject,
        /// `Retry-After` as sent.
        retry_after: Option<String>,
        /// `RateLimit-Remaining` as sent (Docker Hub).
        remaining: Option<String>,
    },
    /// The token server answered with an unexpected status.
    #[error("token server {realm} answered HTTP {status}")]
    TokenServer {
        /// The realm URL (no query).
        realm: String,
        /// HTTP status.
        status: u16,
    },
    /// No index entry matches the wanted platform.
    #[error("no image for platform {wanted} in {reference}; it offers: {}", fmt_platforms(.available))]
    NoMatchingPlatform {
        /// The reference.
        reference: String,
        /// What was asked for.
        wanted: Box<Platform>,
        /// What the index offers (attestations left out).
        available: Vec<Platform>,
    },
    /// Content did not hash to the digest it should have.
    #[error("digest mismatch for {subject}: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What was fetched.
        subject: Subject,
        /// The digest asked for or announced.
        expected: String,
        /// The digest of the bytes received.
        actual: String,
    },
    /// Content was not the size its descriptor says.
    #[error("size mismatch for {subject}: descriptor says {expected} bytes, got {actual}")]
    SizeMismatch {
        /// What was fetched.
        subject: Subject,
        /// Size in the descriptor.
        expected: u64,
        /// Bytes received.
        actual: u64,
    },
    /// A response body was larger than the cap for its kind.
    #[error("{subject}: response body exceeds the {limit}-byte limit")]
    BodyTooLarge {
        /// What was fetched.
        subject: Subject,
        /// The cap.
        limit: usize,
    },
    /// A manifest could not be read.
    #[error("invalid manifest: {0}")]
    InvalidManifest(String),
    /// An image config could not be read.
    #[error("invalid image config: {0}")]
    InvalidConfig(String),
    /// A tag or catalog page could not be read, or its pagination misbehaved.
    #[error("invalid listing: {detail}")]
    InvalidListing {
        /// What is wrong.
        detail: String,
    },
    /// The registry does not offer what was asked (Docker Hub's catalog).
    #[error("{0}")]
    Unsupported(String),
    /// A `WWW-Authenticate` header could not be read.
    #[error("invalid authentication challenge: {0}")]
    InvalidChallenge(String),
    /// A token server's reply could not be read.
    #[error("invalid token reply: {0}")]
    InvalidTokenReply(String),
    /// A header the protocol needs was malformed.
    #[error("invalid {header} header from the registry: {detail}")]
    InvalidHeader {
        /// Header name.
        header: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// More redirects than allowed.
    #[error("{subject}: more than {limit} redirects")]
    TooManyRedirects {
        /// What was fetched.
        subject: Subject,
        /// The limit.
        limit: u8,
    },
    /// A redirect we refuse to follow (https to http, bad `Location`).
    #[error("{subject}: refusing redirect to {location}: {reason}")]
    BadRedirect {
        /// What was fetched.
        subject: Subject,
        /// The `Location` (no query).
        location: String,
        /// Why.
        reason: &'static str,
    },
    /// The registry answered with a status that makes no sense here.
    #[error("{subject}: unexpected HTTP {status} from {url}")]
    UnexpectedStatus {
        /// What was fetched.
        subject: Subject,
        /// HTTP status.
        status: u16,
        /// URL (no query).
        url: String,
    },
    /// The transport could not complete a request (reported by the driver, with its
    /// own error when it gave one through [`Flow::handle_transport_error_with`](crate::Flow::handle_transport_error_with)).
    #[error("{peer} {url}: {kind}")]
    Transport {
        /// Which server.
        peer: Peer,
        /// URL (no query).
        url: String,
        /// How it failed.
        kind: TransportErrorKind,
        /// The driver's own error, as it handed it over (also [`std::error::Error::source`]).
        #[source]
        source: Option<DriverError>,
    },
    /// The deadline passed (or the connection sat idle too long) at `stage`.
    #[error("{peer} {url}: timed out {stage}{}", .status.map(|s| format!(" after HTTP {s}")).unwrap_or_default())]
    Timeout {
        /// Which server.
        peer: Peer,
        /// URL (no query).
        url: String,
        /// Where the time ran out.
        stage: TimeoutStage,
        /// For [`TimeoutStage::RetryWait`]: the status that asked for the retry.
        status: Option<u16>,
        /// The driver's own error, when the timeout was its report.
        #[source]
        source: Option<DriverError>,
    },
    /// Offline, and what the flow needs is not among the known content.
    #[error("{subject}: not in the cache, and offline")]
    Offline {
        /// What would have been fetched.
        subject: Subject,
    },
    /// A URL from the registry (or a mirror endpoint) that cannot be requested.
    #[error("{what}: unusable URL {url}: {reason}")]
    InvalidUrl {
        /// Where it came from.
        what: String,
        /// The URL as given (no query).
        url: String,
        /// Why it cannot be used.
        reason: &'static str,
    },
}

/// Where a request ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutStage {
    /// Resolving the host or opening the TCP connection.
    Connect,
    /// The TLS handshake.
    TlsHandshake,
    /// Waiting for the response headers.
    Response,
    /// Reading the response body.
    Body,
    /// Waiting to retry after 429/5xx or a reset connection.
    RetryWait,
    /// The deadline passed before the next request was sent (the flow's, or the
    /// driver's when no time was left to send it).
    BeforeSending,
}

impl fmt::Display for TimeoutStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutStage::Connect => "connecting",
            TimeoutStage::TlsHandshake => "in the TLS handshake",
            TimeoutStage::Response => "waiting for the response",
            TimeoutStage::Body => "reading the body",
            TimeoutStage::RetryWait => "waiting to retry",
            TimeoutStage::BeforeSending => "before the next request was sent",
        })
    }
}

/// How a request failed below HTTP, as the driver reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The TLS handshake failed because the server does not speak TLS (it answered in
    /// plain text). The only failure that allows the loopback fallback to http.
    Tls,
    /// The server's certificate is not trusted (unknown CA, wrong name, expired).
    /// Never a reason to fall back to http.
    Certificate,
    /// The server refused the TLS handshake (an alert, often: it wants a client
    /// certificate). Never a reason to fall back to http.
    TlsRefused,
    /// The host name did not resolve. Not retried.
    Resolve,
    /// Connecting failed (refused, unreachable). `GET`s and `HEAD`s are retried.
    Connect,
    /// The connection was reset or closed before the response was complete. `GET`s
    /// and `HEAD`s are retried.
    Reset,
    /// A timeout, and where it happened. Not retried: the deadline is the caller's.
    Timeout(TimeoutStage),
    /// The body is longer than the `Transmit`'s `max_body`: the cheapest way for a
    /// driver to say so (no need to hand over `max_body + 1` bytes). The flow reports
    /// it as [`Error::BodyTooLarge`].
    TooLarge,
    /// The driver cannot speak TLS, and the request is for `https://` (see
    /// [`Options::tls`](crate::Options::tls)).
    NoTls,
    /// Anything else (a malformed response head, headers too large, …).
    Other,
    /// The driver chose not to send the request: a policy of its caller's (a budget
    /// of pulls, say) refused it. Not retried.
    Declined,
}

impl fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportErrorKind::Tls => {
                f.write_str("TLS handshake failed (the server does not speak TLS)")
            }
            TransportErrorKind::Certificate => f.write_str("TLS certificate not trusted"),
            TransportErrorKind::TlsRefused => f.write_str("TLS handshake refused by the server"),
            TransportErrorKind::Resolve => f.write_str("could not resolve the host"),
            TransportErrorKind::Connect => f.write_str("cannot connect"),
            TransportErrorKind::Reset => f.write_str("connection reset or closed early"),
            TransportErrorKind::Timeout(stage) => write!(f, "timed out {stage}"),
            TransportErrorKind::TooLarge => f.write_str("the response body is too large"),
            TransportErrorKind::NoTls => f.write_str("this transport cannot speak TLS (https)"),
            TransportErrorKind::Other => f.write_str("the response could not be read"),
            TransportErrorKind::Declined => f.write_str("not sent"),
        }
    }
}

fn fmt_platforms(ps: &[Platform]) -> String {
    if ps.is_empty() {
        return "no platforms".to_owned();
    }
    ps.iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn fmt_code(code: &Option<RegistryCode>, message: &Option<String>) -> String {
    match (code, message) {
        (Some(c), Some(m)) => format!(": {c}: {m}"),
        (Some(c), None) => format!(": {c}"),
        (None, Some(m)) => format!(": {m}"),
        (None, None) => String::new(),
    }
}

fn fmt_status(status: u16, code: &Option<RegistryCode>, message: &Option<String>) -> String {
    match (code, message) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_string(),
        (None, Some(m)) => m.clone(),
        (None, None) => {
            let reason = http::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("");
            format!("HTTP {status} {reason}").trim_end().to_owned()
        }
    }
}

impl Error {
    /// True when the caller misused the library or gave bad input, rather than the
    /// registry or network failing.
    pub(crate) fn is_caller_error(&self) -> bool {
        matches!(self, Error::Invalid(_) | Error::Misuse(_))
    }

    /// True when the registry said the thing asked for does not exist: a 404 (a
    /// `HEAD` answer has no body to name a code), or `MANIFEST_UNKNOWN` or
    /// `NAME_UNKNOWN` whatever the status. A 401 or 403 is not "not found", though
    /// some registries answer so for a repository they will not name.
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::Registry { status, code, .. } => {
                *status == 404 || code.as_ref().is_some_and(RegistryCode::is_not_found)
            }
            _ => false,
        }
    }
}

pub use crate::codes::RegistryCode;
pub(crate) use crate::codes::parse_registry_errors;
