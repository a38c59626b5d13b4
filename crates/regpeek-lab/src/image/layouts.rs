//! The lab's images on disk: an OCI layout, an oci-archive and a docker-archive.

use serde_json::json;

use super::*;

/// Writes `images` (each under its tag) as an OCI image layout in `dir`: `oci-layout`,
/// `index.json` (each tag an `org.opencontainers.image.ref.name`) and `blobs/sha256/`.
pub fn write_oci_layout(dir: &std::path::Path, images: &[(&str, &Image)]) -> std::io::Result<()> {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs)?;
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let mut manifests = Vec::new();
    for (tag, img) in images {
        for b in img.layers.iter().chain([&img.config, &img.manifest]) {
            std::fs::write(blobs.join(b.digest.trim_start_matches("sha256:")), &b.bytes)?;
        }
        let mut d = img.manifest.descriptor();
        d["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        manifests.push(d);
    }
    let index = json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": manifests});
    std::fs::write(dir.join("index.json"), canonical_pretty(&index))
}

/// Writes the OCI layout of [`write_oci_layout`] as one tar file (`oci-archive:`).
pub fn write_oci_archive(file: &std::path::Path, images: &[(&str, &Image)]) -> std::io::Result<()> {
    let dir = tempfile_dir(file)?;
    write_oci_layout(&dir, images)?;
    let mut tar = tar::Builder::new(std::fs::File::create(file)?);
    tar.mode(tar::HeaderMode::Deterministic);
    tar.append_dir_all(".", &dir)?;
    tar.into_inner()?.sync_all()?;
    std::fs::remove_dir_all(&dir)
}

/// A scratch directory next to `file`.
fn tempfile_dir(file: &std::path::Path) -> std::io::Result<std::path::PathBuf> {
    let dir = file.with_extension("layout.tmp");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Writes `images` (each under its `name:tag`) as `docker save` does (`docker-archive:`):
/// `manifest.json`, each config as `<hex>.json`, each layer uncompressed as
/// `<diff hex>/layer.tar`.
pub fn write_docker_archive(
    file: &std::path::Path,
    images: &[(&str, &Image)],
) -> std::io::Result<()> {
    let mut tar = tar::Builder::new(std::fs::File::create(file)?);
    let mut written = std::collections::BTreeSet::new();
    let mut add = |tar: &mut tar::Builder<std::fs::File>, name: &str, bytes: &[u8]| {
        if !written.insert(name.to_owned()) {
            return Ok(());
        }
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_704_164_645);
        h.set_cksum();
        tar.append_data(&mut h, name, bytes)
    };
    let mut manifest = Vec::new();
    for (name, img) in images {
        let config = format!("{}.json", img.config.digest.trim_start_matches("sha256:"));
        add(&mut tar, &config, &img.config.bytes)?;
        let mut layers = Vec::new();
        for l in &img.layers {
            let raw = unpacked(l)?;
            let path = format!("{}/layer.tar", sha256(&raw).trim_start_matches("sha256:"));
            add(&mut tar, &path, &raw)?;
            layers.push(path);
        }
        manifest.push(json!({"Config": config, "RepoTags": [name], "Layers": layers}));
    }
    add(&mut tar, "manifest.json", &canonical(&json!(manifest)))?;
    tar.into_inner()?.sync_all()
}

/// Writes [`file_images`] under `dir`: `oci/` (an OCI layout, each tagged by the last
/// part of its name), `images.oci.tar` (the same as an oci-archive) and
/// `images.docker.tar` (a docker-archive, each named `lab/…:v1`).
pub fn write_layouts(dir: &std::path::Path) -> std::io::Result<()> {
    let images = file_images();
    let short: Vec<(&str, &Image)> = images
        .iter()
        .map(|(n, i)| (n.rsplit('/').next().unwrap_or(n), i))
        .collect();
    write_oci_layout(&dir.join("oci"), &short)?;
    write_oci_archive(&dir.join("images.oci.tar"), &short)?;
    let named: Vec<String> = images.iter().map(|(n, _)| format!("{n}:v1")).collect();
    let named: Vec<(&str, &Image)> = named
        .iter()
        .map(String::as_str)
        .zip(images.iter().map(|(_, i)| i))
        .collect();
    write_docker_archive(&dir.join("images.docker.tar"), &named)
}
