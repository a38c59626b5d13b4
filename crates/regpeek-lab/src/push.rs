//! Pushing blobs and manifests through the registry API (what `docker push` does).

use anyhow::{Context, Result, bail};

use crate::image::{Blob, Image, Index};

/// An agent for lab set-up traffic: status codes are data, no proxies (loopback only).
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .new_agent()
}

/// Uploads a blob unless the registry has it (POST an upload, then PUT with the digest).
pub fn blob(agent: &ureq::Agent, base: &str, repo: &str, blob: &Blob) -> Result<()> {
    let head = agent
        .head(&format!("{base}/v2/{repo}/blobs/{}", blob.digest))
        .call()?;
    if head.status() == 200 {
        return Ok(());
    }
    let r = agent
        .post(&format!("{base}/v2/{repo}/blobs/uploads/"))
        .send_empty()?;
    if r.status() != 202 {
        bail!("starting a blob upload to {repo}: HTTP {}", r.status());
    }
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .context("upload answer has no Location")?;
    let mut url = if location.starts_with("http") {
        location.to_owned()
    } else {
        format!("{base}{location}")
    };
    url.push(if url.contains('?') { '&' } else { '?' });
    url.push_str("digest=");
    url.push_str(&blob.digest);
    let r = agent
        .put(&url)
        .header("content-type", "application/octet-stream")
        .send(&blob.bytes[..])?;
    if r.status() != 201 {
        bail!(
            "uploading blob {} to {repo}: HTTP {}",
            blob.digest,
            r.status()
        );
    }
    Ok(())
}

/// PUTs a manifest under a tag or its digest.
pub fn manifest(
    agent: &ureq::Agent,
    base: &str,
    repo: &str,
    m: &Blob,
    reference: &str,
) -> Result<()> {
    let mut r = agent
        .put(&format!("{base}/v2/{repo}/manifests/{reference}"))
        .header("content-type", &m.media_type)
        .send(&m.bytes[..])?;
    if r.status() != 201 {
        let body = r.body_mut().read_to_string().unwrap_or_default();
        bail!(
            "putting manifest {repo}:{reference}: HTTP {}: {body}",
            r.status()
        );
    }
    Ok(())
}

/// Pushes an image's blobs and manifest, tagged when `tag` is given.
pub fn image(
    agent: &ureq::Agent,
    base: &str,
    repo: &str,
    img: &Image,
    tag: Option<&str>,
) -> Result<()> {
    for b in img.layers.iter().chain([&img.config]) {
        blob(agent, base, repo, b)?;
    }
    manifest(
        agent,
        base,
        repo,
        &img.manifest,
        tag.unwrap_or(&img.manifest.digest),
    )
}

/// Pushes every child of an index by digest, then the index under `tag`.
pub fn index(agent: &ureq::Agent, base: &str, repo: &str, idx: &Index, tag: &str) -> Result<()> {
    for child in &idx.children {
        image(agent, base, repo, child, None)?;
    }
    manifest(agent, base, repo, &idx.index, tag)
}
