//! The JSON shapes `inspect` and `ref` print. Field names follow `skopeo inspect` where
//! the two overlap, so skopeo scripts keep working (see README.md). Typed structs keep
//! the field order fixed.

use std::collections::BTreeMap;

use anyhow::Context as _;
use regpeek_client::unpacked::Unpacked;
use regpeek_proto::manifest::Manifest;
use regpeek_proto::{Inspection, Reference, Security};
use serde::Serialize;
use serde_json::Value;

/// One entry of `LayersData`, as skopeo prints it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct LayerData {
    #[serde(rename = "MIMEType")]
    mime_type: String,
    digest: String,
    size: i64,
    annotations: Option<BTreeMap<String, String>>,
    /// With `--uncompressed`.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    unpacked: Option<UnpackedOut>,
}

/// What a layer unpacks to, as `--uncompressed` prints it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct UnpackedOut {
    uncompressed_size: Option<u64>,
    exact: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    why: Option<String>,
}

impl UnpackedOut {
    fn of(u: &Unpacked) -> UnpackedOut {
        UnpackedOut {
            uncompressed_size: u.size,
            exact: u.exact,
            why: u.why.clone(),
        }
    }
}

/// `regpeek inspect` output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectOutput {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    tag: Option<String>,
    digest: String,
    media_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    manifest_digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    manifest_media_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    config_digest: Option<String>,
    /// Compressed size: the config plus every layer, as registries' web pages show it.
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    /// With `--uncompressed`: what the layers unpack to, added up.
    #[serde(skip_serializing_if = "Option::is_none")]
    uncompressed_size: Option<u64>,
    /// With `--uncompressed`: whether every layer's size is exact.
    #[serde(skip_serializing_if = "Option::is_none")]
    uncompressed_exact: Option<bool>,
    platform: Option<String>,
    platforms: Option<Vec<String>>,
    attestations: usize,
    created: Option<String>,
    docker_version: String,
    author: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    /// The image manifest's annotations (OCI `annotations`), when it has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<BTreeMap<String, String>>,
    /// The index's annotations, when the reference names an index that has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    index_annotations: Option<BTreeMap<String, String>>,
    /// The manifest this one refers to (OCI `subject`), when it is a referrer.
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<SubjectOut>,
    architecture: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<String>,
    os: String,
    layers: Vec<String>,
    layers_data: Vec<LayerData>,
    env: Option<Vec<String>>,
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    working_dir: Option<String>,
    user: Option<String>,
    exposed_ports: Option<Vec<String>>,
    volumes: Option<Vec<String>>,
    stop_signal: Option<String>,
    history: usize,
}

/// A manifest's `subject`: the manifest it refers to.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SubjectOut {
    media_type: String,
    digest: String,
    size: u64,
}

impl SubjectOut {
    fn of(d: &regpeek_proto::manifest::Descriptor) -> SubjectOut {
        SubjectOut {
            media_type: d.media_type.clone(),
            digest: d.digest.to_string(),
            size: d.size,
        }
    }
}

fn non_empty<T, C: IntoIterator<Item = T>>(c: C) -> Option<Vec<T>> {
    let v: Vec<T> = c.into_iter().collect();
    (!v.is_empty()).then_some(v)
}

fn keys(m: &BTreeMap<String, Value>) -> Option<Vec<String>> {
    non_empty(m.keys().cloned())
}

/// The config's and the layers' sizes added up (what a pull downloads, compressed).
pub fn compressed_size(manifest: Option<&Manifest>) -> Option<u64> {
    match manifest? {
        Manifest::Image(m) => Some(
            m.layers
                .iter()
                .map(|l| l.size)
                .fold(m.config.size, u64::saturating_add),
        ),
        _ => None,
    }
}

/// One row of `regpeek platforms` (and `inspect --platform all`).
#[derive(Serialize, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct PlatformRow {
    pub platform: String,
    pub digest: String,
    pub size: Option<u64>,
    pub layers: usize,
    pub created: Option<String>,
    pub attestation: bool,
    /// With `--uncompressed`: what its layers unpack to, added up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uncompressed_size: Option<u64>,
}

/// The platform inspected: the one chosen from an index, else a single image's own
/// (from its config; none when the config names no os and architecture).
pub fn platform_of(insp: &Inspection) -> Option<String> {
    insp.platform.as_ref().map(ToString::to_string)
}

/// The row for one inspected platform; `attested` says whether the index holds an
/// attestation manifest for it.
pub fn platform_row(insp: &Inspection, attested: bool) -> PlatformRow {
    let m = insp.manifest.as_ref();
    let parsed = m.and_then(|m| m.manifest.as_ref());
    let cfg = insp.config.as_ref().and_then(|c| c.config.as_ref());
    PlatformRow {
        platform: platform_of(insp).unwrap_or_default(),
        digest: m.map_or_else(|| insp.digest.to_string(), |m| m.digest.to_string()),
        size: compressed_size(parsed),
        layers: match parsed {
            Some(Manifest::Image(i)) => i.layers.len(),
            Some(Manifest::Schema1(s)) => s.layers.len(),
            _ => 0,
        },
        created: cfg.and_then(|c| c.created.clone()),
        attestation: attested,
        uncompressed_size: None,
    }
}

/// One row of `regpeek referrers`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReferrerRow {
    pub artifact_type: Option<String>,
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    pub source: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub predicate_types: Vec<String>,
    pub annotations: BTreeMap<String, String>,
}

/// `regpeek referrers` rows.
pub fn referrer_rows(r: &regpeek_proto::Referrers) -> Vec<ReferrerRow> {
    r.items
        .iter()
        .map(|i| ReferrerRow {
            artifact_type: i.descriptor.artifact_type.clone(),
            media_type: i.descriptor.media_type.clone(),
            digest: i.descriptor.digest.to_string(),
            size: i.descriptor.size,
            source: match i.source {
                regpeek_proto::ReferrerSource::Api => "api",
                regpeek_proto::ReferrerSource::TagSchema => "tag-schema",
                regpeek_proto::ReferrerSource::Attestation => "attestation",
                _ => "other",
            },
            predicate_types: i.predicate_types.clone(),
            annotations: i.descriptor.annotations.clone(),
        })
        .collect()
}

/// `regpeek inspect`.
pub fn inspect_output(insp: &Inspection) -> InspectOutput {
    let r = &insp.reference;
    let image = insp.manifest.as_ref();
    let parsed = image.and_then(|m| m.manifest.as_ref());
    let cfg = insp.config.as_ref().and_then(|c| c.config.as_ref());
    let rt = cfg.map(|c| &c.config);

    let layers_data: Vec<LayerData> = match parsed {
        Some(Manifest::Image(m)) => m
            .layers
            .iter()
            .map(|l| LayerData {
                mime_type: l.media_type.clone(),
                digest: l.digest.to_string(),
                size: i64::try_from(l.size).unwrap_or(i64::MAX),
                annotations: (!l.annotations.is_empty()).then(|| l.annotations.clone()),
                unpacked: None,
            })
            .collect(),
        Some(Manifest::Schema1(s)) => s
            .layers
            .iter()
            .map(|d| LayerData {
                mime_type: "application/vnd.docker.image.rootfs.diff.tar.gzip".into(),
                digest: d.to_string(),
                size: -1,
                annotations: None,
                unpacked: None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let (architecture, os, variant) = match (cfg, parsed) {
        (Some(c), _) => (c.architecture.clone(), c.os.clone(), c.variant.clone()),
        (None, Some(Manifest::Schema1(s))) => (s.architecture.clone(), "linux".into(), None),
        _ => (String::new(), String::new(), None),
    };
    let variant = variant
        .or_else(|| insp.platform.as_ref().and_then(|p| p.variant.clone()))
        .filter(|v| !v.is_empty());
    let text = |s: Option<&String>| s.filter(|s| !s.is_empty()).cloned();

    let shown = crate::local::shown_name(r);
    InspectOutput {
        name: shown.as_ref().map_or_else(|| r.name(), |(n, _)| n.clone()),
        tag: match shown {
            Some((_, tag)) => tag,
            None => r.tag().map(str::to_owned),
        },
        digest: insp.digest.to_string(),
        media_type: insp.media_type.clone(),
        manifest_digest: image.map(|m| m.digest.to_string()),
        manifest_media_type: image.map(|m| m.media_type.clone()),
        config_digest: insp.config.as_ref().map(|c| c.digest.to_string()),
        size: compressed_size(parsed),
        uncompressed_size: None,
        uncompressed_exact: None,
        platform: platform_of(insp),
        platforms: Some(insp.platforms.clone())
            .filter(|p| !p.is_empty())
            .map(|p| p.iter().map(ToString::to_string).collect()),
        attestations: insp.index.as_ref().map_or(0, |i| {
            i.manifests.iter().filter(|d| d.is_attestation()).count()
        }),
        created: cfg.and_then(|c| c.created.clone()),
        docker_version: cfg
            .and_then(|c| c.docker_version.clone())
            .unwrap_or_default(),
        author: cfg.and_then(|c| c.author.clone()),
        labels: rt.map(|c| c.labels.clone()).filter(|l| !l.is_empty()),
        annotations: match parsed {
            Some(Manifest::Image(m)) => Some(m.annotations.clone()).filter(|a| !a.is_empty()),
            _ => None,
        },
        index_annotations: insp
            .index
            .as_ref()
            .map(|i| i.annotations.clone())
            .filter(|a| !a.is_empty()),
        subject: match parsed {
            Some(Manifest::Image(m)) => m.subject.as_deref().map(SubjectOut::of),
            _ => None,
        }
        .or_else(|| {
            let index = insp.index.as_ref()?;
            index.subject.as_deref().map(SubjectOut::of)
        }),
        architecture,
        variant,
        os,
        layers: layers_data.iter().map(|l| l.digest.clone()).collect(),
        layers_data,
        env: rt.and_then(|c| non_empty(c.env.iter().cloned())),
        entrypoint: rt.and_then(|c| c.entrypoint.clone()),
        cmd: rt.and_then(|c| c.cmd.clone()),
        working_dir: text(rt.and_then(|c| c.working_dir.as_ref())),
        user: text(rt.and_then(|c| c.user.as_ref())),
        exposed_ports: rt.and_then(|c| keys(&c.exposed_ports)),
        volumes: rt.and_then(|c| keys(&c.volumes)),
        stop_signal: text(rt.and_then(|c| c.stop_signal.as_ref())),
        history: cfg.map_or(0, |c| c.history.len()),
    }
}

impl InspectOutput {
    /// With what each layer unpacks to (`--uncompressed`), per layer and in total.
    pub fn with_unpacked(mut self, sizes: &[Unpacked]) -> InspectOutput {
        for (layer, u) in self.layers_data.iter_mut().zip(sizes) {
            layer.unpacked = Some(UnpackedOut::of(u));
        }
        let total = regpeek_client::unpacked::total(sizes);
        self.uncompressed_size = total.size;
        self.uncompressed_exact = Some(total.exact);
        self
    }
}

/// `regpeek ref` output.
#[derive(Serialize)]
pub struct RefOutput {
    input: String,
    canonical: String,
    familiar: String,
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
    api_base: String,
    http_fallback: bool,
}

/// `regpeek ref`.
pub fn reference_output(input: &str, r: &Reference, security: Security) -> RefOutput {
    let scheme = match security {
        Security::Http => "http",
        _ => "https",
    };
    RefOutput {
        input: input.to_owned(),
        canonical: r.to_string(),
        familiar: r.familiar(),
        registry: r.registry().to_owned(),
        repository: r.repository().to_owned(),
        tag: r.tag().map(str::to_owned),
        digest: r.digest().map(|d| d.to_string()),
        api_base: format!("{scheme}://{}", r.api_host()),
        http_fallback: security == Security::HttpsThenHttp,
    }
}

/// One step of `regpeek history`.
#[derive(Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct HistoryRow {
    pub created: Option<String>,
    pub created_by: Option<String>,
    pub comment: Option<String>,
    /// The step made no layer.
    pub empty_layer: bool,
    /// The layer it made, and its compressed size.
    pub layer: Option<String>,
    pub size: Option<u64>,
    /// With `--uncompressed`: what its layer unpacks to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uncompressed_size: Option<u64>,
}

/// The config's history, newest first, each step that made a layer matched to the
/// next layer of the manifest in order (as `docker history` does). Layers the history
/// does not account for get a row of their own, with nothing known of their step.
pub fn history(insp: &Inspection, sizes: Option<&[Unpacked]>) -> anyhow::Result<Vec<HistoryRow>> {
    let config = insp
        .config
        .as_ref()
        .and_then(|c| c.config.as_ref())
        .with_context(|| format!("{} has no image config", insp.reference.familiar()))?;
    let layers: &[regpeek_proto::manifest::Descriptor] =
        match insp.manifest.as_ref().and_then(|m| m.manifest.as_ref()) {
            Some(Manifest::Image(m)) => &m.layers,
            _ => &[],
        };
    let unpacked = |d: &regpeek_proto::manifest::Descriptor| -> Option<u64> {
        let at = layers.iter().position(|l| l.digest == d.digest)?;
        sizes?.get(at)?.size
    };
    let mut layers_left = layers.iter();
    let mut rows: Vec<HistoryRow> = config
        .history
        .iter()
        .map(|h| {
            let layer = if h.empty_layer {
                None
            } else {
                layers_left.next()
            };
            HistoryRow {
                created: h.created.clone(),
                created_by: h.created_by.clone(),
                comment: h.comment.clone(),
                empty_layer: h.empty_layer,
                layer: layer.map(|d| d.digest.to_string()),
                size: layer.map(|d| d.size),
                uncompressed_size: layer.and_then(unpacked),
            }
        })
        .collect();
    rows.extend(layers_left.map(|d| HistoryRow {
        created: None,
        created_by: None,
        comment: None,
        empty_layer: false,
        layer: Some(d.digest.to_string()),
        size: Some(d.size),
        uncompressed_size: unpacked(d),
    }));
    rows.reverse();
    Ok(rows)
}
