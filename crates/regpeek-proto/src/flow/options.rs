//! What a caller asks of a [`Flow`](super::Flow): goal, scheme policy, limits, credentials.

use std::time::SystemTime;

use url::Url;

use crate::auth::Credentials;
use crate::platform::Platform;

/// How far an inspection goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Goal {
    /// Resolve the reference to a digest with `HEAD` (a `GET` and a hash when the
    /// registry sends no `Docker-Content-Digest`). With a platform, an index is fetched
    /// and the platform's manifest digest is reported too.
    Digest(Option<Platform>),
    /// Fetch the manifest exactly as served; with a platform, descend from an index to
    /// that platform's manifest.
    Manifest(Option<Platform>),
    /// Fetch the manifest, the platform's manifest and the image config.
    Inspect(Platform),
    /// List the repository's tags, following `Link` pagination.
    Tags {
        /// Stop after this many tags.
        limit: Option<usize>,
        /// Ask for pages of this size (`n=`).
        page_size: Option<u32>,
    },
    /// Check that the credentials are accepted (`GET /v2/` with auth, a token without
    /// scope): what `regpeek login` verifies before storing anything.
    Login,
    /// List the registry's repositories (`/v2/_catalog`), following `Link` pagination.
    /// Build the flow with [`Flow::catalog`].
    Catalog {
        /// Stop after this many repositories.
        limit: Option<usize>,
        /// Ask for pages of this size (`n=`).
        page_size: Option<u32>,
    },
}

impl Goal {
    pub(super) fn platform(&self) -> Option<&Platform> {
        match self {
            Goal::Digest(p) | Goal::Manifest(p) => p.as_ref(),
            Goal::Inspect(p) => Some(p),
            Goal::Tags { .. } | Goal::Catalog { .. } | Goal::Login => None,
        }
    }

    pub(super) fn listing(&self) -> Option<(Option<usize>, Option<u32>)> {
        match self {
            Goal::Tags { limit, page_size } | Goal::Catalog { limit, page_size } => {
                Some((*limit, *page_size))
            }
            _ => None,
        }
    }
}

/// Which scheme to speak to the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// https only.
    Https,
    /// Plain http only.
    Http,
    /// https first; on a TLS failure (reported with
    /// [`TransportErrorKind::Tls`]) switch to plain http. Docker's rule for loopback.
    HttpsThenHttp,
}

/// Body size caps handed out with each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Manifests and indexes (containerd uses about 4 MiB).
    pub manifest: usize,
    /// Config blobs.
    pub config: usize,
    /// Token replies, error bodies and pings.
    pub small: usize,
    /// One page of a tag or catalog listing.
    pub list: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            manifest: 4 * 1024 * 1024,
            config: 32 * 1024 * 1024,
            small: 256 * 1024,
            list: 4 * 1024 * 1024,
        }
    }
}

/// Inputs to a [`Flow`].
#[derive(Debug, Clone)]
pub struct Options {
    /// How far to go.
    pub goal: Goal,
    /// Credentials for this registry, if any; anonymous otherwise.
    pub credentials: Option<Credentials>,
    /// Scheme policy.
    pub security: Security,
    /// Body caps.
    pub limits: Limits,
    /// Send every registry request to this origin instead of the registry's own API
    /// host: a pull-through mirror (`https://mirror.example`, `http://127.0.0.1:5000`).
    /// Its scheme overrides `security`.
    pub endpoint: Option<Url>,
    /// When the whole command must be over (`None`: no deadline). The flow hands it out
    /// with each request, ends with [`Error::Timeout`](crate::Error::Timeout) once it
    /// has passed, and reports a retry that would wait past it at once.
    pub deadline: Option<SystemTime>,
    /// Seeds the jitter of retry backoffs, so that runs are reproducible in tests and
    /// different between processes in production (pass something random there).
    pub seed: u64,
}

impl Options {
    /// Anonymous https with default limits.
    pub fn new(goal: Goal) -> Options {
        Options {
            goal,
            credentials: None,
            security: Security::Https,
            limits: Limits::default(),
            endpoint: None,
            deadline: None,
            seed: 0,
        }
    }
}
