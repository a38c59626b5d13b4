//! What a caller asks of a [`Flow`](super::Flow): goal, scheme policy, limits, credentials.

use std::sync::Arc;
use std::time::SystemTime;

use url::Url;

use crate::digest::Digest;

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
    /// List what refers to the image (OCI 1.1 referrers: signatures, SBOMs, …): the
    /// referrers API, else the `sha256-<hex>` tag schema, plus BuildKit attestation
    /// manifests inside an index with their in-toto predicate types. With a platform,
    /// the referrers of that platform's manifest.
    Referrers {
        /// Descend to this platform's manifest first.
        platform: Option<Platform>,
        /// Keep only referrers of this artifact type.
        artifact_type: Option<String>,
    },
    /// Check that the credentials are accepted (`GET /v2/` with auth, a token without
    /// scope): what `regpeek login` verifies before storing anything. The flow's
    /// reference names the registry ([`Reference::for_registry`](crate::Reference::for_registry)).
    Login,
    /// One blob of the reference's repository, by digest (a layer, a config, an
    /// attestation's statement), for the caller to stream: its request's
    /// [`Transmit::stream`](crate::Transmit::stream) is set, and on a `2xx` (after
    /// auth and redirects, as for anything else) the flow ends with
    /// [`Outcome::Blob`](crate::Outcome::Blob) and the caller reads the body itself,
    /// checking it against the digest before using any of it.
    Blob(Digest),
    /// List the registry's repositories (`/v2/_catalog`), following `Link` pagination.
    /// The flow's reference names the registry ([`Reference::for_registry`](crate::Reference::for_registry)).
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
            Goal::Referrers { platform, .. } => platform.as_ref(),
            Goal::Inspect(p) => Some(p),
            Goal::Tags { .. } | Goal::Catalog { .. } | Goal::Login | Goal::Blob(_) => None,
        }
    }

    /// Whether pull-through mirrors ([`Options::mirrors`]) stand in for the registry:
    /// for what a pull fetches (`Digest`, `Manifest`, `Inspect`), as Docker uses its
    /// `registry-mirrors`; never for listings or referrers, which a mirror does not
    /// keep (an empty answer from one would hide the registry's).
    pub fn uses_mirrors(&self) -> bool {
        matches!(
            self,
            Goal::Digest(_) | Goal::Manifest(_) | Goal::Inspect(_) | Goal::Blob(_)
        )
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Security {
    /// Docker's rule: https, except that a loopback registry (`localhost`,
    /// `127.0.0.0/8`, `::1`) that does not speak TLS at all is spoken to over http.
    #[default]
    Auto,
    /// https only.
    Https,
    /// Plain http only.
    Http,
    /// https first; on a TLS failure (reported with
    /// [`TransportErrorKind::Tls`](crate::TransportErrorKind::Tls)) switch to plain http. Docker's rule for loopback.
    HttpsThenHttp,
}

impl Security {
    /// What this policy means for `reference`: [`Security::Auto`] becomes
    /// [`Security::HttpsThenHttp`] for a loopback registry and [`Security::Https`]
    /// otherwise; the others stay as they are. The flow applies it; a caller that
    /// shows what would be spoken (`regpeek ref`) asks the same question here.
    pub fn resolve(self, reference: &crate::Reference) -> Security {
        match self {
            Security::Auto if reference.is_loopback() => Security::HttpsThenHttp,
            Security::Auto => Security::Https,
            s => s,
        }
    }
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

/// A pull-through mirror of a registry (Docker Hub's `registry-mirrors`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// The mirror's origin (`https://mirror.example`, `http://127.0.0.1:5000`); its
    /// scheme is the one spoken.
    pub url: Url,
    /// Credentials for the mirror itself (never the registry's).
    pub credentials: Option<Credentials>,
}

/// Inputs to a [`Flow`](crate::Flow).
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
    /// Pull-through mirrors to try, in order, before the registry itself (for the
    /// goals that [`Goal::uses_mirrors`]). Any failure on a mirror moves on
    /// to the next one, and finally to the registry.
    pub mirrors: Vec<Mirror>,
    /// When the whole command must be over (`None`: no deadline). The flow hands it out
    /// with each request, ends with [`Error::Timeout`](crate::Error::Timeout) once it
    /// has passed, and reports a retry that would wait past it at once.
    pub deadline: Option<SystemTime>,
    /// What the caller already holds (from a cache of its own): manifests and config
    /// blobs by digest, and where this reference resolved when last inspected. See
    /// [`Known`].
    pub known: Known,
    /// Send nothing: answer from `known` (and cached tokens), or end with
    /// [`Error::Offline`](crate::Error::Offline) naming what is missing. A tag is taken
    /// as the digest [`Known::resolved`] says it had (it cannot be revalidated); the
    /// inspection's reference then carries that digest.
    pub offline: bool,
    /// Seeds the jitter of retry backoffs, so that runs are reproducible in tests and
    /// different between processes in production (pass something random there).
    pub seed: u64,
    /// Whether the driver can speak TLS (default `true`). A driver without it says
    /// so here: a loopback registry under [`Security::Auto`] is then spoken to over
    /// plain http at once (no https probe a plain driver could not answer honestly),
    /// and a request that needs `https://` ends the flow with
    /// [`TransportErrorKind::NoTls`](crate::TransportErrorKind::NoTls) before it is
    /// handed out.
    pub tls: bool,
    /// The `client_id` sent to token servers (default `regpeek`): name your program.
    pub client_id: String,
    /// A `User-Agent` for every request, set by the flow itself; `None` (the default)
    /// leaves the header to the driver.
    pub user_agent: Option<String>,
    /// A pause the registry asked of every client (a 429 another flow saw,
    /// [`Hold::of`](crate::Hold::of)). The flow sends nothing before it ends; when it
    /// outlasts the deadline, or the 30 s the flow itself would wait for a
    /// `Retry-After`, the flow ends at once with
    /// [`Error::RateLimited`](crate::Error::RateLimited), saying when to retry.
    pub hold: Option<crate::Hold>,
    /// Learn digests with `HEAD` only, never a manifest `GET` (which Docker Hub counts
    /// as a pull; a `HEAD` it does not). Where a `GET` would be needed (a registry
    /// that sends no `Docker-Content-Digest` on `HEAD`, an index to descend for a
    /// platform the caller does not already hold), the flow ends with
    /// [`Error::Unsupported`](crate::Error::Unsupported) instead; a refused `HEAD` is
    /// reported as its status, without the `GET` that would fetch the registry's
    /// error code. For [`Goal::Digest`].
    pub pull_free: bool,
    /// For [`Goal::Blob`]: only these bytes of the blob, first and last included (an
    /// HTTP `Range`). A registry that honours it answers `206`; one that ignores it
    /// sends the whole blob ([`Outcome::Blob`](crate::Outcome::Blob) says which).
    pub range: Option<(u64, u64)>,
    /// For [`Goal::Blob`]: where the registry sent this blob before (the `location`
    /// of an earlier [`Outcome::Blob`](crate::Outcome::Blob), a CDN's signed URL).
    /// It is asked first, without credentials; any failure there (an expired URL, a
    /// refused connection) falls back to the registry, as if it had not been given.
    pub location: Option<url::Url>,
}

impl Options {
    /// Anonymous, Docker's scheme rule ([`Security::Auto`]), default limits, no mirrors,
    /// no deadline.
    pub fn new(goal: Goal) -> Options {
        Options {
            goal,
            credentials: None,
            security: Security::Auto,
            limits: Limits::default(),
            mirrors: Vec::new(),
            deadline: None,
            known: Known::default(),
            offline: false,
            seed: 0,
            tls: true,
            client_id: "regpeek".to_owned(),
            user_agent: None,
            hold: None,
            pull_free: false,
            range: None,
            location: None,
        }
    }
}

/// Content the caller already holds, asked for by digest when the flow is about to
/// fetch it. Whatever the lookup returns is used only if it hashes to that digest: a
/// corrupt or truncated entry is fetched again, never trusted.
///
/// The lookup serves what lies *below* a top-level manifest the registry has
/// confirmed (platform manifests, configs, attestations), so a cache shared by many
/// repositories or a whole batch can sit behind it. The top-level manifest itself is
/// taken from it only as [`Known::resolved`] allows: content-addressed bytes say
/// nothing about whether *this* repository has them.
///
/// ```
/// use regpeek_proto::{Digest, Known};
/// let manifest = br#"{"schemaVersion":2}"#.to_vec();
/// let digest = Digest::sha256(&manifest);
/// // A cache of one entry; the tag pointed at it when last seen, so the flow
/// // revalidates the tag with one HEAD and, unchanged, sends nothing more.
/// let held = std::collections::BTreeMap::from([(digest.clone(), manifest)]);
/// let mut known = Known::lookup(move |d| held.get(d).cloned());
/// known.resolved = Some(digest);
/// # let _ = known;
/// ```
#[derive(Clone, Default)]
pub struct Known {
    lookup: Option<Lookup>,
    /// When last inspected at this registry and repository, the reference resolved
    /// to this digest. A tag is then revalidated with one `HEAD` (and, unchanged,
    /// everything else comes from the lookup); a reference pinned to this digest needs
    /// no request at all. Without it, the top-level manifest is always fetched: a
    /// `HEAD` first would only add a round trip for content the caller most likely
    /// lacks.
    pub resolved: Option<Digest>,
}

/// Bytes by digest, shared by the clones of a [`Known`].
type Lookup = Arc<dyn Fn(&Digest) -> Option<Vec<u8>> + Send + Sync>;

impl Known {
    /// Content found by `lookup` (a cache read, say), asked for one digest at a time
    /// and only when needed. It is called from inside [`Flow::poll_action`] and
    /// [`Flow::handle_response`](crate::Flow::handle_response), so it should be quick:
    /// a map, or a small local file (an async driver with slow storage loads what it
    /// needs beforehand).
    ///
    /// [`Flow::poll_action`]: crate::Flow::poll_action
    pub fn lookup(lookup: impl Fn(&Digest) -> Option<Vec<u8>> + Send + Sync + 'static) -> Known {
        Known {
            lookup: Some(Arc::new(lookup)),
            resolved: None,
        }
    }

    /// Content held in a map (the tests' shorthand for a lookup).
    #[cfg(test)]
    pub(crate) fn from_map(map: std::collections::BTreeMap<Digest, Vec<u8>>) -> Known {
        Known::lookup(move |d| map.get(d).cloned())
    }

    /// The content of `digest`, if the lookup has it and it hashes to that digest.
    pub(crate) fn get(&self, digest: &Digest) -> Option<Vec<u8>> {
        let bytes = (self.lookup.as_ref()?)(digest)?;
        (digest.algorithm().digest(&bytes) == *digest).then_some(bytes)
    }
}

impl std::fmt::Debug for Known {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Known")
            .field("lookup", &self.lookup.is_some())
            .field("resolved", &self.resolved)
            .finish()
    }
}
