//! What a flow holds besides its state: the caller's configuration, fixed for its
//! life; the cursor over the endpoints (mirrors, then the registry); and the attempt
//! at the current one (how it is spoken to, the step of the walk, its counters and
//! what it has found), which a new endpoint starts afresh.

use super::*;

/// Which `Authorization` a resource request carried.
#[derive(Debug, Clone)]
pub(super) enum SentAuth {
    None,
    Basic,
    Bearer(Option<TokenKey>),
}

/// How the current endpoint wants to be authenticated, as learnt from its challenges.
#[derive(Debug, Clone)]
pub(super) enum HostAuth {
    None,
    Basic,
    Bearer {
        realm: crate::auth::BearerRealm,
        scopes: Vec<Scope>,
    },
}

/// What the flow is fetching: the step of the manifest walk or listing.
#[derive(Debug, Clone)]
pub(super) enum Step {
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
    /// A page of the referrers API for `subject`.
    Referrers {
        subject: Digest,
        url: Url,
    },
    /// The `sha256-<hex>` fallback tag of `subject`.
    ReferrersTag {
        subject: Digest,
    },
    /// An attestation manifest of the index, for its predicate types.
    Attestation(Descriptor),
    /// A blob the caller streams (`Goal::Blob`).
    Blob(Digest),
}

/// One endpoint's attempt at the goal: which endpoint and how it is spoken to, where
/// the walk is, what it has tried there, and what it has found. A new endpoint (the
/// next mirror, or the registry) starts afresh.
#[derive(Debug)]
pub(super) struct Attempt {
    /// Index into the cursor's endpoints of the one in use.
    pub(super) endpoint: usize,
    /// Its origin (its scheme turns to `http` on the loopback fallback).
    pub(super) base: Url,
    pub(super) security: Security,
    pub(super) credentials: Option<Credentials>,
    /// How it wants to be authenticated, as learnt from its challenges.
    pub(super) auth: HostAuth,
    /// What is being fetched: the step of the manifest walk or listing.
    pub(super) step: Step,
    /// Challenges answered for the current request.
    pub(super) auth_tries: u8,
    /// Retries of the current request.
    pub(super) retries: u8,
    /// `GET /v2/` was asked to learn a challenge.
    pub(super) pinged: bool,
    /// The token this attempt fetched last (as opposed to one found in the cache).
    pub(super) fetched: Option<TokenKey>,
    /// What it has found so far.
    pub(super) result: Partial,
}

impl Attempt {
    /// A fresh attempt at endpoint `i` of `endpoints`, before its first step is known.
    pub(super) fn on(endpoints: &[Endpoint], i: usize) -> Attempt {
        let ep = &endpoints[i];
        Attempt {
            endpoint: i,
            base: ep.base.clone(),
            security: ep.security,
            credentials: ep.credentials.clone(),
            auth: HostAuth::None,
            step: Step::Check,
            auth_tries: 0,
            retries: 0,
            pinged: false,
            fetched: None,
            result: Partial::default(),
        }
    }
}

/// One place to ask: a mirror or the registry itself.
#[derive(Debug, Clone)]
pub(super) struct Endpoint {
    pub(super) base: Url,
    pub(super) security: Security,
    pub(super) credentials: Option<Credentials>,
    pub(super) mirror: Option<Url>,
}

#[derive(Debug, Default)]
pub(super) struct Partial {
    pub(super) digest: Option<Digest>,
    pub(super) media_type: Option<String>,
    pub(super) size: Option<u64>,
    pub(super) raw: Option<Vec<u8>>,
    pub(super) index: Option<ImageIndex>,
    pub(super) platform: Option<Platform>,
    pub(super) manifest: Option<FetchedManifest>,
    pub(super) config: Option<FetchedConfig>,
    pub(super) warnings: Vec<String>,
    pub(super) rate_limit: Option<crate::RateLimit>,
    pub(super) items: Vec<String>,
    /// Listing pages fetched so far, in order.
    pub(super) seen_pages: Vec<Url>,
    /// What the pages said of their tags beyond their names (GCR's `manifest` map).
    pub(super) details: Vec<crate::list::TagDetail>,
    /// Referrers found so far, and attestation manifests still to read.
    pub(super) referrers: Vec<crate::inspection::Referrer>,
    pub(super) attestations: Vec<Descriptor>,
    pub(super) subject: Option<Digest>,
}

/// What the caller asked ([`Options`]): fixed for the flow's life.
#[derive(Debug)]
pub(super) struct Config {
    pub(super) reference: Reference,
    pub(super) goal: Goal,
    pub(super) limits: Limits,
    pub(super) deadline: Option<SystemTime>,
    pub(super) seed: u64,
    pub(super) known: Known,
    pub(super) offline: bool,
    /// Whether the driver speaks TLS ([`Options::tls`]).
    pub(super) tls: bool,
    pub(super) client_id: String,
    pub(super) user_agent: Option<http::HeaderValue>,
    /// [`Options::pull_free`].
    pub(super) pull_free: bool,
    /// [`Options::range`].
    pub(super) range: Option<(u64, u64)>,
}

/// The places to ask, in order (mirrors, then the registry), and why those left
/// behind were left.
#[derive(Debug)]
pub(super) struct Cursor {
    /// Never empty: the registry is last.
    pub(super) endpoints: Vec<Endpoint>,
    /// Mirrors left, and why.
    pub(super) skipped: Vec<(Url, Error)>,
}
