//! Local images as another transport: `oci:DIR[:TAG]`, an OCI image layout on disk
//! (as skopeo names it). The core's flow is the same as for a registry; this driver
//! answers its requests from the layout (`index.json`, `blobs/ALG/HEX`), through the
//! ureq client's [`Exchanges`] hook, so nothing goes to the network. It is also the
//! proof that the core runs behind any transport. The layout: docs/protocol.md §8.6.
//!
//! A layout is named in a reference as the registry [`REGISTRY`] and a repository
//! that spells the layout's absolute directory in hex (a valid repository name,
//! whatever the path holds): every command that takes references takes it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use regpeek_proto::{Reference, Transmit, http};
use regpeek_ureq::{Exchanges, TransportFailure};
use serde_json::Value;

/// The registry name that stands for local layouts.
pub const REGISTRY: &str = "oci-layout.local";
/// The tag the layout's `org.opencontainers.image.ref.name` annotations name.
const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The largest file answered (manifests, configs and layers are read whole here).
const MAX_FILE: u64 = 4 << 30;

/// `oci:DIR[:TAG]` as a reference the core can be given.
pub fn reference(spec: &str) -> Result<Reference> {
    let (dir, tag) = match spec.rsplit_once(':') {
        Some((d, t)) if !t.contains('/') && !t.is_empty() => (d, Some(t)),
        _ => (spec, None),
    };
    let dir =
        std::fs::canonicalize(dir).with_context(|| format!("oci:{dir}: no such directory"))?;
    if !dir.join("index.json").is_file() {
        bail!(
            "oci:{}: not an OCI image layout (no index.json)",
            dir.display()
        );
    }
    let hex: String = dir
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let r = format!("{REGISTRY}/{hex}:{}", tag.unwrap_or("latest"));
    Reference::parse(&r).with_context(|| format!("oci:{}: a path too long to name", dir.display()))
}

/// The layout a repository of [`REGISTRY`] spells.
fn layout_dir(repository: &str) -> Option<PathBuf> {
    let bytes: Option<Vec<u8>> = (0..repository.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(repository.get(i..i + 2)?, 16).ok())
        .collect();
    let bytes = bytes?;
    Some(PathBuf::from(String::from_utf8(bytes).ok()?))
}

/// Answers the flow's requests from the layouts its references name.
pub struct Layouts;

impl Exchanges for Layouts {
    /// A blob as a file to read, never held whole.
    fn answer_stream(&self, request: &Transmit) -> Option<regpeek_ureq::StreamedAnswer> {
        let path = request.request.uri().path();
        let rest = path.strip_prefix("/v2/")?;
        let (repo, what) = rest.split_once('/')?;
        let digest = what.strip_prefix("blobs/")?;
        let opened = layout_dir(repo)
            .context("not a layout")
            .and_then(|dir| blob_path(&dir, digest))
            .and_then(|p| {
                let file =
                    std::fs::File::open(&p).with_context(|| format!("opening {}", p.display()))?;
                let len = file.metadata()?.len();
                Ok((file, len))
            });
        Some(Ok(match opened {
            Ok((file, len)) => {
                let head = ok("application/octet-stream", Some(digest), Vec::new(), true);
                let (mut parts, _) = head.into_parts();
                parts
                    .headers
                    .insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(len));
                (
                    http::Response::from_parts(parts, Vec::new()),
                    Box::new(file) as Box<dyn std::io::Read + Send>,
                )
            }
            Err(e) => (
                error(404, &format!("BLOB_UNKNOWN: {e:#}")),
                Box::new(std::io::empty()) as _,
            ),
        }))
    }

    fn answer(
        &self,
        request: &Transmit,
    ) -> Option<Result<http::Response<Vec<u8>>, TransportFailure>> {
        let path = request.request.uri().path().to_owned();
        let head = request.request.method() == http::Method::HEAD;
        Some(Ok(
            respond(&path, head).unwrap_or_else(|e| error(404, &format!("{e:#}")))
        ))
    }
}

fn respond(path: &str, head: bool) -> Result<http::Response<Vec<u8>>> {
    if path == "/v2/" {
        return Ok(ok("application/json", None, b"{}".to_vec(), head));
    }
    let rest = path.strip_prefix("/v2/").context("not an API path")?;
    let (repo, what) = rest.split_once('/').context("no repository")?;
    let dir = layout_dir(repo).context("not a layout")?;
    let index: Value = serde_json::from_slice(&read(&dir.join("index.json"))?)
        .context("index.json is not JSON")?;
    let manifests = index["manifests"].as_array().cloned().unwrap_or_default();
    if what == "tags/list" {
        let tags: Vec<&str> = manifests
            .iter()
            .filter_map(|d| d["annotations"][REF_NAME].as_str())
            .collect();
        let body = serde_json::to_vec(&serde_json::json!({"name": repo, "tags": tags}))?;
        return Ok(ok("application/json", None, body, head));
    }
    if let Some(reference) = what.strip_prefix("manifests/") {
        let desc = if reference.contains(':') {
            // By digest: any manifest the layout holds, its type read from it.
            let bytes = blob(&dir, reference)?;
            let media = serde_json::from_slice::<Value>(&bytes)?["mediaType"]
                .as_str()
                .unwrap_or("application/vnd.oci.image.manifest.v1+json")
                .to_owned();
            return Ok(ok(&media, Some(reference), bytes, head));
        } else {
            let named = manifests
                .iter()
                .find(|d| d["annotations"][REF_NAME].as_str() == Some(reference));
            // `latest` asked of a layout holding one image without a name: that one.
            match (named, manifests.as_slice()) {
                (Some(d), _) => d.clone(),
                (None, [only]) if reference == "latest" => only.clone(),
                _ => return Ok(error(404, "MANIFEST_UNKNOWN")),
            }
        };
        let digest = desc["digest"]
            .as_str()
            .context("a descriptor without a digest")?;
        let media = desc["mediaType"]
            .as_str()
            .unwrap_or("application/vnd.oci.image.manifest.v1+json");
        return Ok(ok(media, Some(digest), blob(&dir, digest)?, head));
    }
    if let Some(digest) = what.strip_prefix("blobs/") {
        return Ok(ok(
            "application/octet-stream",
            Some(digest),
            blob(&dir, digest)?,
            head,
        ));
    }
    Ok(error(404, "NAME_UNKNOWN"))
}

fn blob(dir: &Path, digest: &str) -> Result<Vec<u8>> {
    read(&blob_path(dir, digest)?)
}

/// Where the layout keeps `digest`: `blobs/ALG/HEX` (nothing else can be named).
fn blob_path(dir: &Path, digest: &str) -> Result<PathBuf> {
    let (alg, hex) = digest.split_once(':').context("not a digest")?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit())
        || !alg.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        bail!("not a digest");
    }
    Ok(dir.join("blobs").join(alg).join(hex))
}

fn read(path: &Path) -> Result<Vec<u8>> {
    crate::files::read(path, MAX_FILE).with_context(|| format!("reading {}", path.display()))
}

fn ok(media: &str, digest: Option<&str>, body: Vec<u8>, head: bool) -> http::Response<Vec<u8>> {
    let mut b = http::Response::builder()
        .status(200)
        .header("content-type", media)
        .header("content-length", body.len());
    if let Some(d) = digest {
        b = b.header("docker-content-digest", d);
    }
    b.body(if head { Vec::new() } else { body })
        .unwrap_or_else(|_| error(500, "a response that could not be built"))
}

fn error(status: u16, code: &str) -> http::Response<Vec<u8>> {
    let body = serde_json::json!({"errors": [{"code": code.split(':').next().unwrap_or("UNKNOWN"), "message": code}]});
    let mut r = http::Response::new(serde_json::to_vec(&body).unwrap_or_default());
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::NOT_FOUND);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}
