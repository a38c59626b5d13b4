//! Deterministic test images, built byte for byte without a Docker engine: the same
//! inputs give the same digests on every machine.

use std::io::Write as _;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};

/// The OCI and Docker media types the lab writes (OCI image spec `media-types.md`,
/// Docker image manifest v2 schema 2).
pub mod media {
    /// OCI image manifest.
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image index.
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// OCI image config.
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    /// Docker image manifest, schema 2.
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker image config.
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

    /// OCI gzip layer.
    pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    /// OCI zstd layer.
    pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
    /// Docker gzip layer.
    pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    /// in-toto statement.
    pub const IN_TOTO: &str = "application/vnd.in-toto+json";
}

mod catalog;
mod estargz;
mod files;
mod inventory;
mod layers;
mod layouts;
mod packages;

pub use catalog::*;
pub use estargz::*;
pub use files::*;
pub use inventory::*;
pub use layers::*;
pub use layouts::*;
pub use packages::*;

/// One gzip member of `bytes`, at `level` (the lab's layers, eStargz members).
fn gzip(bytes: &[u8], level: Compression) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), level);
    gz.write_all(bytes).expect("in-memory gzip");
    gz.finish().expect("in-memory gzip")
}

/// `sha256:<hex>` of bytes.
pub fn sha256(bytes: &[u8]) -> String {
    regpeek_proto::Digest::sha256(bytes).to_string()
}

/// Content with its digest and media type.
#[derive(Debug, Clone)]
pub struct Blob {
    /// Media type.
    pub media_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// `sha256:…`.
    pub digest: String,
}

impl Blob {
    /// Wraps bytes.
    pub fn new(media_type: &str, bytes: Vec<u8>) -> Blob {
        Blob {
            media_type: media_type.to_owned(),
            digest: sha256(&bytes),
            bytes,
        }
    }

    /// An OCI descriptor for it.
    pub fn descriptor(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.bytes.len()})
    }
}

/// An OCI linux/amd64 image (`Cmd ["/bin/sh"]`, created 2024-01-02) of `layers`, base
/// first, each with its descriptor (which may carry annotations): its config lists
/// each layer's diff ID and one history entry per layer, as a builder writes them.
pub fn image_of(layers: Vec<(Blob, Value)>) -> Image {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|(b, _)| sha256(&unpacked(b).expect("the lab's own layers")))
        .collect();
    assemble(layers, diff_ids)
}

/// An image of `layers` (base first) whose config's `config` section is `runtime`
/// (`Entrypoint`, `Env`…): what a `FROM scratch` build with those layers writes.
pub fn image_with(layers: Vec<Blob>, runtime: Value) -> Image {
    let mut image = plain(layers);
    let mut config: Value = serde_json::from_slice(&image.config.bytes).expect("the lab's config");
    config["config"] = runtime;
    image.config = Blob::new(media::OCI_CONFIG, canonical(&config));
    let mut manifest: Value =
        serde_json::from_slice(&image.manifest.bytes).expect("the lab's manifest");
    manifest["config"] = image.config.descriptor();
    image.manifest = Blob::new(media::OCI_MANIFEST, canonical_pretty(&manifest));
    image
}

/// An image of `layers` whose diff IDs are given, not computed (a layer too large
/// to unpack in memory, a hostile one).
pub fn image_with_diff_ids(layers: Vec<Blob>, diff_ids: Vec<String>) -> Image {
    assemble(described(layers), diff_ids)
}

/// Each layer with its plain descriptor.
fn described(layers: Vec<Blob>) -> Vec<(Blob, Value)> {
    layers
        .into_iter()
        .map(|b| {
            let d = b.descriptor();
            (b, d)
        })
        .collect()
}

/// [`image_of`] with the diff IDs given.
fn assemble(layers: Vec<(Blob, Value)>, diff_ids: Vec<String>) -> Image {
    let history: Vec<Value> = (0..layers.len())
        .map(|i| json!({"created": "2024-01-02T03:04:05Z", "created_by": format!("COPY layer{i} / # buildkit")}))
        .collect();
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "created": "2024-01-02T03:04:05Z",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    });
    let config = Blob::new(media::OCI_CONFIG, canonical(&config));
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": layers.iter().map(|(_, d)| d.clone()).collect::<Vec<_>>(),
    });
    Image {
        manifest: Blob::new(media::OCI_MANIFEST, canonical_pretty(&manifest)),
        config,
        layers: layers.into_iter().map(|(b, _)| b).collect(),
    }
}

/// [`image_of`] layers with plain descriptors.
pub fn plain(layers: Vec<Blob>) -> Image {
    image_of(described(layers))
}

/// One image: manifest, config and layers.
#[derive(Debug, Clone)]
pub struct Image {
    /// The manifest blob (digest = the image's digest).
    pub manifest: Blob,
    /// The config blob.
    pub config: Blob,
    /// Layers, base first.
    pub layers: Vec<Blob>,
}

/// What an image should contain.
pub struct Spec<'a> {
    /// `true` for Docker v2s2 media types, `false` for OCI.
    pub docker: bool,
    /// `os`, `architecture`, variant.
    pub platform: (&'a str, &'a str, Option<&'a str>),
    /// The `config` section of the image config.
    pub runtime: Value,
    /// Files, one layer each.
    pub layers: Vec<Vec<(&'a str, Vec<u8>)>>,
    /// Extra top-level config fields (created, author, docker_version…).
    pub extra: Value,
}

/// Builds an image from a spec.
pub fn build(spec: &Spec) -> Image {
    let (manifest_type, config_type, layer_type) = if spec.docker {
        (
            media::DOCKER_MANIFEST,
            media::DOCKER_CONFIG,
            media::DOCKER_LAYER,
        )
    } else {
        (media::OCI_MANIFEST, media::OCI_CONFIG, media::OCI_LAYER)
    };
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    let mut history = Vec::new();
    for (i, files) in spec.layers.iter().enumerate() {
        let borrowed: Vec<(&str, &[u8])> = files.iter().map(|(p, d)| (*p, d.as_slice())).collect();
        let (blob, diff) = layer(layer_type, &borrowed);
        layers.push(blob);
        diff_ids.push(diff);
        history.push(
            json!({"created": "2024-01-02T03:04:05Z", "created_by": format!("COPY layer{i} /")}),
        );
    }
    history.push(
        json!({"created": "2024-01-02T03:04:05Z", "created_by": "ENV lab=1", "empty_layer": true}),
    );
    let (os, arch, variant) = spec.platform;
    let mut config = json!({
        "architecture": arch,
        "os": os,
        "config": spec.runtime,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    });
    if let Some(v) = variant {
        config["variant"] = json!(v);
    }
    if let (Some(obj), Some(extra)) = (config.as_object_mut(), spec.extra.as_object()) {
        for (k, v) in extra {
            obj.insert(k.clone(), v.clone());
        }
    }
    let config = Blob::new(config_type, canonical(&config));
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": config.descriptor(),
        "layers": layers.iter().map(Blob::descriptor).collect::<Vec<_>>(),
    });
    let manifest = Blob::new(manifest_type, canonical_pretty(&manifest));
    Image {
        manifest,
        config,
        layers,
    }
}

/// An index over images, with optional attestation manifests.
#[derive(Debug, Clone)]
pub struct Index {
    /// The index blob.
    pub index: Blob,
    /// Child images (platform images and attestations), in index order.
    pub children: Vec<Image>,
}

/// `img`'s descriptor for an index, with the platform its config names.
pub fn platform_descriptor(img: &Image) -> Value {
    // infallible: every lab image's config is JSON the lab wrote
    let cfg: Value = serde_json::from_slice(&img.config.bytes).expect("the lab's config");
    let mut d = img.manifest.descriptor();
    let mut p = json!({"architecture": cfg["architecture"], "os": cfg["os"]});
    if let Some(v) = cfg.get("variant") {
        p["variant"] = v.clone();
    }
    d["platform"] = p;
    d
}

/// An OCI image index of `manifests`.
fn oci_index(manifests: Vec<Value>) -> Blob {
    Blob::new(
        media::OCI_INDEX,
        canonical_pretty(&json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_INDEX,
            "manifests": manifests,
        })),
    )
}

/// `v` as JSON with every object's keys sorted, whatever serde_json's
/// features: `cargo test --workspace` turns on `preserve_order` (the CLI's)
/// and `cargo xtask lab seed` does not, and both must build the same bytes,
/// the same digests.
fn canonical(v: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&sorted(v)).expect("a JSON value serialises")
}

/// [`canonical`], pretty-printed like `docker push` prints manifests.
fn canonical_pretty(v: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec_pretty(&sorted(v)).expect("a JSON value serialises")
}

fn sorted(v: &serde_json::Value) -> serde_json::Value {
    let mut v = v.clone();
    v.sort_all_objects();
    v
}

#[cfg(test)]
mod tests {
    /// The lab's images are the same bytes in every build: `cargo xtask lab
    /// seed` (serde_json without `preserve_order`) pushes what the tests
    /// (with it, through the CLI) expect, and what the recorded fixtures hold.
    #[test]
    fn images_do_not_depend_on_serde_json_features() {
        assert_eq!(
            super::rich().manifest.digest,
            "sha256:fd2a95589e50d13fab3bad4690b8c33adc2e48c016a0d9ccdac631fd7240c88d"
        );
        let v: serde_json::Value = serde_json::from_slice(&super::rich().config.bytes).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }
}
