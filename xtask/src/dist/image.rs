//! The `FROM scratch` image of `dist/Containerfile`, built without a container
//! engine: its context in `target/dist/context`, and the image itself as an OCI layout
//! written by the lab's image writer (one layer: the binary, mode 0755, and the CA
//! bundle; the Containerfile's `ENV` and `ENTRYPOINT` in its config).

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::json;

/// The CA bundle the image carries (Debian's, as `ca-certificates` builds it).
pub const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Writes the context beside `layout` and the image into `layout`, tagged `version`.
pub fn write(binary: &Path, layout: &Path, version: &str) -> Result<()> {
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
    Ok(())
}
