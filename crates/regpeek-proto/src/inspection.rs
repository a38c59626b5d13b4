//! What a finished [`Flow`](crate::Flow) hands back.

use crate::config::ImageConfig;
use crate::digest::Digest;
use crate::manifest::{ImageIndex, Manifest};
use crate::platform::Platform;
use crate::reference::Reference;

/// Everything one flow learned about a reference. Which parts are filled depends on the
/// [`Goal`](crate::Goal).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Inspection {
    /// The reference inspected.
    pub reference: Reference,
    /// Digest of the top-level manifest or index (what the tag points at).
    pub digest: Digest,
    /// Media type of the top-level manifest or index.
    pub media_type: String,
    /// Size of the top-level manifest in bytes, when known.
    pub size: Option<u64>,
    /// The top-level manifest or index exactly as served (absent after a bare HEAD).
    pub raw: Option<Vec<u8>>,
    /// The index, when the reference points at one.
    pub index: Option<ImageIndex>,
    /// The image's platform: the index entry chosen, or for a single-platform image
    /// what its config says (once the config is fetched).
    pub platform: Option<Platform>,
    /// Whether [`Inspection::platform`] is the platform the goal asked for (or one
    /// that runs in its place, as containerd matches): `Some(false)` when a
    /// single-platform image is not what was asked for; `None` when no platform was
    /// asked, or the image's is unknown.
    pub platform_matched: Option<bool>,
    /// The platforms the image offers: an index's (attestations left out), or the
    /// single platform of an image that is not an index (empty when unknown).
    pub platforms: Vec<Platform>,
    /// The image manifest: the chosen platform's, or the top-level one.
    pub manifest: Option<FetchedManifest>,
    /// The image config blob.
    pub config: Option<FetchedConfig>,
    /// `Warning: 299` texts the registry sent, deduplicated.
    pub warnings: Vec<String>,
    /// What the registry said of its pull limit, if it said (Docker Hub does, on a
    /// manifest `HEAD` too, which costs no pull).
    pub rate_limit: Option<RateLimit>,
    /// The mirror that answered, when one did ([`Options::mirrors`](crate::Options)).
    pub mirror: Option<url::Url>,
    /// Mirrors tried first that failed, with why.
    pub skipped_mirrors: Vec<(url::Url, crate::Error)>,
}

/// A registry's pull limit as its headers state it (values as sent, e.g.
/// `100;w=21600`: 100 pulls per 21600 s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// `ratelimit-limit`.
    pub limit: Option<String>,
    /// `ratelimit-remaining`.
    pub remaining: Option<String>,
    /// `docker-ratelimit-source`: the address or account the limit counts against.
    pub source: Option<String>,
}

/// A fetched (or, for `Goal::Digest`, only located) image manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedManifest {
    /// Its digest.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// The exact bytes, when fetched.
    pub raw: Option<Vec<u8>>,
    /// The parsed manifest, when fetched.
    pub manifest: Option<Manifest>,
}

/// What a `Referrers` flow found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Referrers {
    /// The manifest (or index) they refer to.
    pub subject: Digest,
    /// Signatures, SBOMs, attestations…, in the order found.
    pub items: Vec<Referrer>,
}

/// One thing that refers to an image.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Referrer {
    /// Its descriptor: artifact type, media type, digest, size, annotations.
    pub descriptor: crate::manifest::Descriptor,
    /// Where it was found.
    pub source: ReferrerSource,
    /// For BuildKit attestations: the in-toto predicate types (SPDX, provenance, …).
    pub predicate_types: Vec<String>,
}

/// Where a referrer was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReferrerSource {
    /// The OCI 1.1 referrers API.
    Api,
    /// The `sha256-<hex>` tag schema (registries without the API).
    TagSchema,
    /// A BuildKit attestation manifest inside the index.
    Attestation,
}

/// A fetched config blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedConfig {
    /// Its digest.
    pub digest: Digest,
    /// Its media type, from the manifest.
    pub media_type: String,
    /// The exact bytes.
    pub raw: Vec<u8>,
    /// The parsed config, when the media type is an image config.
    pub config: Option<ImageConfig>,
}
