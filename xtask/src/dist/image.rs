//! The `FROM scratch` image of `dist/Containerfile`, built without a container
//! engine: its context in `target/dist/context`, and the image itself as an OCI layout
//! written by the lab's image writer (one layer: the binary, mode 0755, and the CA
//! bundle; the Containerfile's `ENV` and `ENTRYPOINT` in its config). The SBOM of
//! the binary is attached to it as an OCI 1.1 referrer (artifact type
//! `application/vnd.cyclonedx+json`), listed under the `sha256-<hex>` tag of the
//! referrers tag schema, so `regpeek sbom oci:…` reads it as it would from a registry.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::json;

/// The CA bundle the image carries (Debian's, as `ca-certificates` builds it).
pub const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The SBOM's artifact type (CycloneDX's registered media type).
pub const SBOM_TYPE: &str = "application/vnd.cyclonedx+json";

/// Writes the context beside `layout` and the image into `layout`, tagged `version`,
/// with `sbom` (CycloneDX JSON) attached as a referrer.
pub fn write(binary: &Path, layout: &Path, version: &str, sbom: &[u8]) -> Result<()> {
    let context = layout.with_file_name("context");
    std::fs::create_dir_all(&context)?;
    std::fs::copy(binary, context.join("regpeek"))?;
    std::fs::copy(CA_BUNDLE, context.join("ca-certificates.crt"))
        .with_context(|| format!("reading {CA_BUNDLE} (apt-get install ca-certificates)"))?;
    let program = std::fs::read(binary)?;
    let cas = std::fs::read(CA_BUNDLE)?;
    let layer = regpeek_lab::image::layer_with_modes(&[
        ("usr/bin/regpeek", &program, 0o755),
        ("etc/ssl/certs/ca-certificates.crt", &cas, 0o644),
    ]);
    let image = regpeek_lab::image::image_with(
        vec![layer],
        json!({
            "Env": ["PATH=/usr/bin", format!("SSL_CERT_FILE={CA_BUNDLE}")],
            "Entrypoint": ["/usr/bin/regpeek"],
        }),
    );
    regpeek_lab::image::write_oci_layout(layout, &[(version, &image)])?;
    attach(layout, &image.manifest, sbom)
}

/// Attaches `sbom` to `subject` in the layout at `layout`: the document, an empty
/// config and the artifact manifest as blobs, and a `sha256-<hex of subject>` index
/// listing the artifact, named in `index.json`.
fn attach(layout: &Path, subject: &regpeek_lab::image::Blob, sbom: &[u8]) -> Result<()> {
    use regpeek_lab::image::{Blob, media};
    let document = Blob::new(SBOM_TYPE, sbom.to_vec());
    let empty = Blob::new("application/vnd.oci.empty.v1+json", b"{}".to_vec());
    let manifest = Blob::new(
        media::OCI_MANIFEST,
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_MANIFEST,
            "artifactType": SBOM_TYPE,
            "config": empty.descriptor(),
            "layers": [document.descriptor()],
            "subject": subject.descriptor(),
        }))?,
    );
    let mut entry = manifest.descriptor();
    entry["artifactType"] = json!(SBOM_TYPE);
    let referrers = Blob::new(
        media::OCI_INDEX,
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_INDEX,
            "manifests": [entry],
        }))?,
    );
    let blobs = layout.join("blobs/sha256");
    for b in [&document, &empty, &manifest, &referrers] {
        std::fs::write(blobs.join(b.digest.trim_start_matches("sha256:")), &b.bytes)?;
    }
    let path = layout.join("index.json");
    let mut index: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    let mut named = referrers.descriptor();
    named["annotations"] =
        json!({"org.opencontainers.image.ref.name": subject.digest.replace(':', "-")});
    index["manifests"]
        .as_array_mut()
        .context("the layout's index.json has manifests")?
        .push(named);
    std::fs::write(&path, serde_json::to_vec_pretty(&index)?)?;
    Ok(())
}
