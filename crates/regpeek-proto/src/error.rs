//! The core's one error type, split by who is to blame (h11 style): the caller, access
//! control, or the registry and its network.

use crate::platform::{Platform, PlatformError};
use crate::reference::ReferenceError;

/// Everything that can end an inspection without a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- The caller's fault ---
    /// The reference does not parse.
    #[error(transparent)]
    InvalidReference(#[from] ReferenceError),
    /// The platform does not parse.
    #[error(transparent)]
    InvalidPlatform(#[from] PlatformError),
    /// The flow was driven out of order (a bug in the driver).
    #[error("flow misuse: {0}")]
    Misuse(&'static str),

    // --- Access ---
    /// The registry (or its token server) wants credentials and none were given.
    #[error("authentication required by {registry}")]
    AuthRequired {
        /// The registry host.
        registry: String,
    },
    /// The registry or its token server refused the credentials given.
    #[error("{registry} rejected the credentials for user {username:?}")]
    BadCredentials {
        /// The registry host.
        registry: String,
        /// The user (never the secret).
        username: String,
    },
    /// Access was refused even after authenticating; registries such as Docker Hub
    /// answer this way for repositories that do not exist, too.
    #[error("{what}: not found or access denied{detail}")]
    Denied {
        /// What was asked for.
        what: String,
        /// `: CODE: message` from the registry, or empty.
        detail: String,
    },
    /// The registry's challenge names no scheme we can answer.
    #[error("{registry} asks for unsupported authentication ({schemes})")]
    UnsupportedAuth {
        /// The registry host.
        registry: String,
        /// Schemes offered.
        schemes: String,
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
        reason: String,
    },

    // --- The registry's answers and faults ---
    /// The registry answered with an error status and (usually) an error body.
    #[error("{what}: {summary}")]
    Registry {
        /// What was asked for (`manifest docker.io/library/x:tag`).
        what: String,
        /// HTTP status.
        status: u16,
        /// The first error code, e.g. `MANIFEST_UNKNOWN`.
        code: Option<String>,
        /// `CODE: message` or the status text.
        summary: String,
    },
    /// The registry limited our request rate.
    #[error("{what}: rate limited by the registry (HTTP 429){retry}")]
    RateLimited {
        /// What was asked for.
        what: String,
        /// `, retry after …` when the registry said.
        retry: String,
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
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What was fetched.
        what: String,
        /// The digest asked for or announced.
        expected: String,
        /// The digest of the bytes received.
        actual: String,
    },
    /// Content was not the size its descriptor says.
    #[error("size mismatch for {what}: descriptor says {expected} bytes, got {actual}")]
    SizeMismatch {
        /// What was fetched.
        what: String,
        /// Size in the descriptor.
        expected: u64,
        /// Bytes received.
        actual: u64,
    },
    /// A response body was larger than the cap for its kind.
    #[error("{what}: response body exceeds the {limit}-byte limit")]
    BodyTooLarge {
        /// What was fetched.
        what: String,
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
    #[error("{what}: more than {limit} redirects")]
    TooManyRedirects {
        /// What was fetched.
        what: String,
        /// The limit.
        limit: u8,
    },
    /// A redirect we refuse to follow (https to http, bad `Location`).
    #[error("{what}: refusing redirect to {location}: {reason}")]
    BadRedirect {
        /// What was fetched.
        what: String,
        /// The `Location`.
        location: String,
        /// Why.
        reason: &'static str,
    },
    /// The registry answered with a status that makes no sense here.
    #[error("{what}: unexpected HTTP {status} from {url}")]
    UnexpectedStatus {
        /// What was fetched.
        what: String,
        /// HTTP status.
        status: u16,
        /// URL (no query).
        url: String,
    },
    /// The transport could not complete a request (reported by the driver).
    #[error("{what} {url}: {message}")]
    Transport {
        /// `registry`, `token server`, `redirected download from`.
        what: &'static str,
        /// URL (no query).
        url: String,
        /// The driver's description.
        message: String,
    },
    /// The deadline passed (or the connection sat idle too long) at `stage`.
    #[error("{what} {url}: timed out {stage}{}", .status.map(|s| format!(" after HTTP {s}")).unwrap_or_default())]
    Timeout {
        /// `registry`, `token server`, `redirected download from`.
        what: &'static str,
        /// URL (no query).
        url: String,
        /// Where the time ran out.
        stage: TimeoutStage,
        /// For [`TimeoutStage::RetryWait`]: the status that asked for the retry.
        status: Option<u16>,
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
    /// Resolving the host or opening the TCP connection (or the next request was due
    /// after the deadline).
    Connect,
    /// The TLS handshake.
    TlsHandshake,
    /// Waiting for the response headers.
    Response,
    /// Reading the response body.
    Body,
    /// Waiting to retry after 429/5xx or a reset connection.
    RetryWait,
}

impl std::fmt::Display for TimeoutStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimeoutStage::Connect => "connecting",
            TimeoutStage::TlsHandshake => "in the TLS handshake",
            TimeoutStage::Response => "waiting for the response",
            TimeoutStage::Body => "reading the body",
            TimeoutStage::RetryWait => "waiting to retry",
        })
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

impl Error {
    /// True when the caller misused the library or gave bad input, rather than the
    /// registry or network failing.
    pub fn is_caller_error(&self) -> bool {
        matches!(
            self,
            Error::InvalidReference(_) | Error::InvalidPlatform(_) | Error::Misuse(_)
        )
    }
}

/// One entry of a registry error body (`{"errors":[{"code","message","detail"}]}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct RegistryErrorItem {
    /// The code; unknown codes are kept as sent.
    #[serde(default)]
    pub code: String,
    /// The message.
    #[serde(default)]
    pub message: String,
}

/// Reads a registry error body; HTML, empty or odd bodies give an empty list.
pub fn parse_registry_errors(body: &[u8]) -> Vec<RegistryErrorItem> {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        errors: Vec<RegistryErrorItem>,
    }
    serde_json::from_slice::<Body>(body)
        .map(|b| b.errors)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies() {
        let e = parse_registry_errors(
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#,
        );
        assert_eq!(e[0].code, "MANIFEST_UNKNOWN");
        assert_eq!(e[0].message, "manifest unknown");
        assert!(parse_registry_errors(b"<html>502</html>").is_empty());
        assert!(parse_registry_errors(b"").is_empty());
        assert_eq!(
            parse_registry_errors(br#"{"errors":[{"code":"X"}]}"#)[0].message,
            ""
        );
    }
}
