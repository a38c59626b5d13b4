//! Manifests and indexes: Docker v2 schema 2, Docker manifest lists, OCI manifests and
//! indexes, and legacy schema 1 (docs/protocol.md §5).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::Error;
use crate::platform::Platform;

/// The media types the core reads, and the `Accept` it sends for manifests.
pub(crate) mod media {
    /// OCI image manifest.
    pub(crate) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image index.
    pub(crate) const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// OCI image config.
    pub(crate) const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    /// Docker image manifest, schema 2.
    pub(crate) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker manifest list.
    pub(crate) const DOCKER_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    /// Docker image config.
    pub(crate) const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    /// Docker schema 1 (unsigned).
    pub(crate) const SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
    /// Docker schema 1, signed.
    pub(crate) const SCHEMA1_SIGNED: &str =
        "application/vnd.docker.distribution.manifest.v1+prettyjws";

    /// The `Accept` value for manifest requests: every type we can read, v2/OCI first.
    pub(crate) const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
        application/vnd.docker.distribution.manifest.list.v2+json, \
        application/vnd.oci.image.manifest.v1+json, \
        application/vnd.docker.distribution.manifest.v2+json, \
        application/vnd.docker.distribution.manifest.v1+prettyjws;q=0.5, \
        application/vnd.docker.distribution.manifest.v1+json;q=0.5";
}

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    pub media_type: String,
    /// Digest of the referenced content.
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
    /// Alternate download URLs (foreign layers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Platform, in index entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Artifact type, for artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    /// True for BuildKit attestation entries, which are never a platform to pick.
    pub fn is_attestation(&self) -> bool {
        self.annotations
            .get("vnd.docker.reference.type")
            .is_some_and(|t| t == "attestation-manifest")
            || self
                .platform
                .as_ref()
                .is_some_and(|p| p.os == "unknown" && p.architecture == "unknown")
    }

    /// For a BuildKit attestation entry: the digest of the image manifest it is about
    /// (its `vnd.docker.reference.digest` annotation). `None` for anything else.
    pub fn attests(&self) -> Option<&str> {
        self.is_attestation()
            .then(|| self.annotations.get("vnd.docker.reference.digest"))
            .flatten()
            .map(String::as_str)
    }
}

/// An image manifest (Docker v2 schema 2 or OCI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageManifest {
    /// The media type (from the body, else the response).
    pub media_type: String,
    /// The config blob.
    pub config: Descriptor,
    /// Layers, base first.
    pub layers: Vec<Descriptor>,
    /// OCI annotations.
    pub annotations: BTreeMap<String, String>,
    /// OCI artifact type.
    pub artifact_type: Option<String>,
    /// OCI subject (referrers).
    pub subject: Option<Box<Descriptor>>,
}

/// An index or manifest list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageIndex {
    /// The media type.
    pub media_type: String,
    /// Entries, in order; entries we cannot parse are dropped.
    pub manifests: Vec<Descriptor>,
    /// OCI annotations.
    pub annotations: BTreeMap<String, String>,
    /// OCI subject: the manifest this index refers to, when it is a referrer.
    pub subject: Option<Box<Descriptor>>,
}

/// A legacy schema 1 manifest: recognised and summarised, not fetched further.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema1Manifest {
    /// The media type (signed or not).
    pub media_type: String,
    /// The repository name it claims.
    pub name: String,
    /// The tag it claims.
    pub tag: String,
    /// Its architecture.
    pub architecture: String,
    /// Layer digests, **base first** (the wire order is top first).
    pub layers: Vec<Digest>,
    /// The digest a registry gives this manifest (over the payload without signatures).
    pub canonical_digest: Digest,
}

/// Any manifest a registry may serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    /// A single image.
    Image(Box<ImageManifest>),
    /// A multi-platform index.
    Index(ImageIndex),
    /// Legacy schema 1.
    Schema1(Schema1Manifest),
}

impl Manifest {
    /// The media type.
    pub(crate) fn media_type(&self) -> &str {
        match self {
            Manifest::Image(m) => &m.media_type,
            Manifest::Index(i) => &i.media_type,
            Manifest::Schema1(s) => &s.media_type,
        }
    }
}

fn is_index_type(t: &str) -> bool {
    t == media::OCI_INDEX || t == media::DOCKER_LIST
}

fn is_image_type(t: &str) -> bool {
    t == media::OCI_MANIFEST || t == media::DOCKER_MANIFEST
}

fn is_schema1_type(t: &str) -> bool {
    t == media::SCHEMA1 || t == media::SCHEMA1_SIGNED
}

/// The media type of a `Content-Type` value, parameters dropped, lowercased.
pub(crate) fn bare_media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// True when the first non-blank byte opens a JSON object (serde would otherwise accept
/// an array for a struct).
pub(crate) fn is_json_object(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    schema_version: Option<serde_json::Value>,
    media_type: Option<String>,
    config: Option<serde_json::Value>,
    layers: Option<Vec<serde_json::Value>>,
    manifests: Option<Vec<serde_json::Value>>,
    annotations: Option<BTreeMap<String, String>>,
    artifact_type: Option<String>,
    subject: Option<serde_json::Value>,
    // schema 1
    name: Option<String>,
    tag: Option<String>,
    architecture: Option<String>,
    fs_layers: Option<Vec<FsLayer>>,
    signatures: Option<Vec<serde_json::Value>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FsLayer {
    blob_sum: String,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::InvalidManifest(msg.into())
}

fn descriptor(v: serde_json::Value, what: &str) -> Result<Descriptor, Error> {
    serde_json::from_value(v).map_err(|e| bad(format!("{what}: {e}")))
}

/// The `subject` descriptor of a manifest or index, when it has one.
fn subject_of(v: Option<serde_json::Value>) -> Result<Option<Box<Descriptor>>, Error> {
    v.map(|v| descriptor(v, "subject").map(Box::new))
        .transpose()
}

/// Parses a manifest body. `content_type` is the response's `Content-Type`, if any; a
/// known manifest type there must agree with the body's `mediaType`.
pub(crate) fn parse_manifest(content_type: Option<&str>, body: &[u8]) -> Result<Manifest, Error> {
    if !is_json_object(body) {
        return Err(bad("not a JSON object"));
    }
    let raw: RawManifest =
        serde_json::from_slice(body).map_err(|e| bad(format!("not a JSON manifest: {e}")))?;
    let header_type = content_type
        .map(bare_media_type)
        .filter(|t| is_index_type(t) || is_image_type(t) || is_schema1_type(t));
    if let (Some(h), Some(b)) = (&header_type, &raw.media_type) {
        // Signed and unsigned schema 1 share a body; only v2 types must agree.
        if h != b && !(is_schema1_type(h) && is_schema1_type(b)) {
            return Err(bad(format!(
                "body says mediaType {b:?} but the registry sent Content-Type {h:?}"
            )));
        }
    }
    let schema_version = raw.schema_version.as_ref().and_then(|v| v.as_u64());
    let media_type = match (&header_type, &raw.media_type) {
        (Some(h), _) => h.clone(),
        (None, Some(b)) => b.clone(),
        (None, None) if schema_version == Some(1) => media::SCHEMA1.to_owned(),
        (None, None) if raw.manifests.is_some() => media::OCI_INDEX.to_owned(),
        (None, None) if raw.config.is_some() => media::OCI_MANIFEST.to_owned(),
        (None, None) => return Err(bad("cannot tell what kind of manifest this is")),
    };
    if is_schema1_type(&media_type) || schema_version == Some(1) {
        return parse_schema1(raw, body, media_type);
    }
    if schema_version != Some(2) {
        return Err(bad(format!(
            "unsupported schemaVersion {}",
            raw.schema_version
                .map_or("(missing)".to_owned(), |v| v.to_string())
        )));
    }
    if is_index_type(&media_type) {
        let entries = raw
            .manifests
            .ok_or_else(|| bad("index has no \"manifests\""))?;
        // Entries we cannot read (odd artifact descriptors) are skipped, not fatal.
        let manifests = entries
            .into_iter()
            .filter_map(|v| descriptor(v, "index entry").ok())
            .collect();
        return Ok(Manifest::Index(ImageIndex {
            media_type,
            manifests,
            annotations: raw.annotations.unwrap_or_default(),
            subject: subject_of(raw.subject)?,
        }));
    }
    if is_image_type(&media_type) {
        let config = descriptor(
            raw.config
                .ok_or_else(|| bad("manifest has no \"config\""))?,
            "config descriptor",
        )?;
        let layers = raw
            .layers
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, v)| descriptor(v, &format!("layer {i}")))
            .collect::<Result<_, _>>()?;
        let subject = subject_of(raw.subject)?;
        return Ok(Manifest::Image(Box::new(ImageManifest {
            media_type,
            config,
            layers,
            annotations: raw.annotations.unwrap_or_default(),
            artifact_type: raw.artifact_type,
            subject,
        })));
    }
    Err(bad(format!(
        "unsupported manifest media type {media_type:?}"
    )))
}

fn parse_schema1(raw: RawManifest, body: &[u8], media_type: String) -> Result<Manifest, Error> {
    let mut layers = raw
        .fs_layers
        .ok_or_else(|| bad("schema 1 manifest has no fsLayers"))?
        .into_iter()
        .map(|l| Digest::parse(&l.blob_sum).map_err(|e| bad(format!("fsLayers: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    layers.reverse();
    let canonical_digest = match raw.signatures.as_deref() {
        Some([first, ..]) => Digest::sha256(&schema1_payload(first, body)?),
        _ => Digest::sha256(body),
    };
    Ok(Manifest::Schema1(Schema1Manifest {
        media_type: if raw.signatures.is_some() {
            media::SCHEMA1_SIGNED.to_owned()
        } else {
            media_type
        },
        name: raw.name.unwrap_or_default(),
        tag: raw.tag.unwrap_or_default(),
        architecture: raw.architecture.unwrap_or_default(),
        layers,
        canonical_digest,
    }))
}

/// The JWS payload of a signed schema 1 manifest: the first `formatLength` bytes plus the
/// decoded `formatTail`, per the signature's protected header.
fn schema1_payload(signature: &serde_json::Value, body: &[u8]) -> Result<Vec<u8>, Error> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Protected {
        format_length: usize,
        format_tail: String,
    }
    let protected = signature
        .get("protected")
        .and_then(|p| p.as_str())
        .ok_or_else(|| bad("schema 1 signature has no protected header"))?;
    let decoded = URL_SAFE_NO_PAD
        .decode(protected.trim_end_matches('='))
        .map_err(|_| bad("schema 1 protected header is not base64url"))?;
    let p: Protected = serde_json::from_slice(&decoded)
        .map_err(|e| bad(format!("schema 1 protected header: {e}")))?;
    let tail = URL_SAFE_NO_PAD
        .decode(p.format_tail.trim_end_matches('='))
        .map_err(|_| bad("schema 1 formatTail is not base64url"))?;
    let head = body
        .get(..p.format_length)
        .ok_or_else(|| bad("schema 1 formatLength exceeds the body"))?;
    Ok([head, &tail].concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn v2s2() -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{D1}","size":7}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"{D1}","size":32}}]}}"#,
            media::DOCKER_MANIFEST,
            media::DOCKER_CONFIG
        )
    }

    fn summary(m: &Manifest) -> String {
        match m {
            Manifest::Image(m) => format!("image {} layers={}", m.media_type, m.layers.len()),
            Manifest::Index(i) => format!(
                "index {} [{}]",
                i.media_type,
                i.manifests
                    .iter()
                    .map(|d| d.platform.as_ref().map_or("-".into(), |p| p.to_string()))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Manifest::Schema1(s) => format!(
                "schema1 {} {}:{} {} layers={}",
                s.media_type,
                s.name,
                s.tag,
                s.architecture,
                s.layers.len()
            ),
        }
    }

    fn check(content_type: Option<&str>, body: &str, expect: &str) {
        let got = match parse_manifest(content_type, body.as_bytes()) {
            Ok(m) => summary(&m),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expect, "body: {body}");
    }

    #[test]
    fn table() {
        check(
            Some(media::DOCKER_MANIFEST),
            &v2s2(),
            "image application/vnd.docker.distribution.manifest.v2+json layers=1",
        );
        check(
            Some("application/vnd.docker.distribution.manifest.v2+json; charset=utf-8"),
            &v2s2(),
            "image application/vnd.docker.distribution.manifest.v2+json layers=1",
        );
        check(
            Some(media::OCI_MANIFEST),
            &v2s2(),
            "error: invalid manifest: body says mediaType \"application/vnd.docker.distribution.manifest.v2+json\" but the registry sent Content-Type \"application/vnd.oci.image.manifest.v1+json\"",
        );
        // No usable Content-Type: the body decides.
        check(
            Some("application/json"),
            &format!(
                r#"{{"schemaVersion":2,"config":{{"mediaType":"{}","digest":"{D1}","size":2}},"layers":[]}}"#,
                media::OCI_CONFIG
            ),
            "image application/vnd.oci.image.manifest.v1+json layers=0",
        );
        check(
            None,
            &format!(
                r#"{{"schemaVersion":2,"manifests":[
                    {{"mediaType":"{m}","digest":"{D1}","size":1,"platform":{{"architecture":"amd64","os":"linux"}}}},
                    {{"mediaType":"{m}","digest":"{D1}","size":1,"platform":{{"architecture":"arm","os":"linux","variant":"v7"}}}},
                    {{"mediaType":"{m}","digest":"not-a-digest","size":1}},
                    {{"mediaType":"{m}","digest":"{D1}","size":1}}]}}"#,
                m = media::OCI_MANIFEST
            ),
            "index application/vnd.oci.image.index.v1+json [linux/amd64,linux/arm/v7,-]",
        );
        check(
            Some(media::DOCKER_LIST),
            r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[]}"#,
            "index application/vnd.docker.distribution.manifest.list.v2+json []",
        );
        check(
            None,
            &format!(
                r#"{{"schemaVersion":1,"name":"library/x","tag":"old","architecture":"amd64","fsLayers":[{{"blobSum":"{D1}"}}]}}"#
            ),
            "schema1 application/vnd.docker.distribution.manifest.v1+json library/x:old amd64 layers=1",
        );
        check(
            None,
            "{}",
            "error: invalid manifest: cannot tell what kind of manifest this is",
        );
        check(None, "[1,2]", "error: invalid manifest: not a JSON object");
        check(None, "", "error: invalid manifest: not a JSON object");
        check(
            None,
            "{\"schemaVersion\":2,",
            "error: invalid manifest: not a JSON manifest: EOF while parsing a value at line 1 column 19",
        );
        check(
            Some(media::DOCKER_MANIFEST),
            r#"{"schemaVersion":3,"mediaType":"application/vnd.docker.distribution.manifest.v2+json"}"#,
            "error: invalid manifest: unsupported schemaVersion 3",
        );
        check(
            Some(media::OCI_MANIFEST),
            r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}"#,
            "error: invalid manifest: manifest has no \"config\"",
        );
        check(
            Some(media::OCI_MANIFEST),
            &format!(
                r#"{{"schemaVersion":2,"config":{{"mediaType":"x","digest":"{D1}","size":-1}}}}"#
            ),
            "error: invalid manifest: config descriptor: invalid value: integer `-1`, expected u64",
        );
    }

    #[test]
    fn attestation_entries_are_recognised() {
        let d: Descriptor = serde_json::from_str(&format!(
            r#"{{"mediaType":"x","digest":"{D1}","size":1,"platform":{{"architecture":"unknown","os":"unknown"}},"annotations":{{"vnd.docker.reference.type":"attestation-manifest"}}}}"#
        ))
        .unwrap();
        assert!(d.is_attestation());
    }

    #[test]
    fn signed_schema1_digest_is_over_the_payload() {
        let payload = format!(
            "{{\n   \"schemaVersion\": 1,\n   \"name\": \"a/b\",\n   \"tag\": \"t\",\n   \"architecture\": \"amd64\",\n   \"fsLayers\": [{{\"blobSum\": \"{D1}\"}}]"
        );
        let tail = "\n}";
        let protected = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"formatLength":{},"formatTail":"{}"}}"#,
            payload.len(),
            URL_SAFE_NO_PAD.encode(tail)
        ));
        let body = format!(
            "{payload},\n   \"signatures\": [{{\"protected\": \"{protected}\", \"signature\": \"x\"}}]\n}}"
        );
        let m = parse_manifest(Some(media::SCHEMA1_SIGNED), body.as_bytes()).unwrap();
        let Manifest::Schema1(s) = m else { panic!() };
        assert_eq!(
            s.canonical_digest,
            Digest::sha256(format!("{payload}{tail}").as_bytes())
        );
        assert_eq!(s.media_type, media::SCHEMA1_SIGNED);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let body = v2s2();
        for i in 0..body.len() {
            assert!(parse_manifest(Some(media::DOCKER_MANIFEST), &body.as_bytes()[..i]).is_err());
        }
    }

    #[test]
    fn an_index_keeps_its_subject_and_annotations() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[],"annotations":{{"a":"b"}},"subject":{{"mediaType":"{}","digest":"{D1}","size":3}}}}"#,
            media::OCI_INDEX,
            media::OCI_MANIFEST
        );
        let Ok(Manifest::Index(i)) = parse_manifest(None, body.as_bytes()) else {
            panic!("not an index");
        };
        assert_eq!(i.annotations.get("a").map(String::as_str), Some("b"));
        assert_eq!(i.subject.map(|s| s.digest.to_string()).as_deref(), Some(D1));
        // A subject that is no descriptor is an error, as for an image.
        let broken = body.replace(r#""size":3"#, r#""size":"x""#);
        assert!(parse_manifest(None, broken.as_bytes()).is_err());
    }
}
