//! Local images as another transport: `oci:DIR[:TAG]`, an OCI image layout on disk,
//! `oci-archive:FILE[:TAG]`, one in a tar file, and `docker-archive:FILE[:NAME:TAG]`,
//! what `docker save` writes (as skopeo names them). A docker archive is seen as a
//! layout: each image's Docker manifest is made from its `manifest.json` entry (its
//! config and its uncompressed layer tars, hashed once a run). The core's flow is the same as for a registry; this driver
//! answers its requests from the layout (`index.json`, `blobs/ALG/HEX`), through the
//! [`Transport`] of its own, so nothing goes to the network. It is also the
//! proof that the core runs behind any transport. The layout: docs/protocol.md §8.6.
//!
//! How a local image is named, to the core and to the user: [`names`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use regpeek_proto::{Transmit, http};
use regpeek_ureq::{Blob, Reply, Transport, TransportFailure};
use serde_json::Value;

mod names;

pub use names::{REGISTRY, humane, path_of, reference, shown_name};
use names::{layout_of, tag_for};

/// The tag the layout's `org.opencontainers.image.ref.name` annotations name.
const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The largest file answered (manifests, configs and layers are read whole here).
const MAX_FILE: u64 = 4 << 30;

/// Where a layout's files are: a directory, or a tar file (indexed once per run).
enum Store {
    Dir(PathBuf),
    Tar(PathBuf, std::sync::Arc<TarIndex>),
}

/// The files of a tar archive: path → (offset of the data, size); and files made up
/// for it (a docker archive's `index.json` and manifests).
#[derive(Default)]
struct TarIndex {
    files: std::collections::HashMap<String, (u64, u64)>,
    made: std::collections::HashMap<String, Vec<u8>>,
}

impl Store {
    fn open(&self, rel: &str) -> Result<(Box<dyn std::io::Read + Send>, u64)> {
        use std::io::{Read, Seek};
        match self {
            Store::Dir(dir) => {
                let p = dir.join(rel);
                let file =
                    std::fs::File::open(&p).with_context(|| format!("opening {}", p.display()))?;
                let len = file.metadata()?.len();
                Ok((Box::new(file), len))
            }
            Store::Tar(path, index) => {
                if let Some(bytes) = index.made.get(rel) {
                    let len = bytes.len() as u64;
                    return Ok((Box::new(std::io::Cursor::new(bytes.clone())), len));
                }
                let &(at, len) = index
                    .files
                    .get(rel)
                    .with_context(|| format!("{rel}: not in {}", path.display()))?;
                let mut file = std::fs::File::open(path)?;
                file.seek(std::io::SeekFrom::Start(at))?;
                Ok((Box::new(file.take(len)), len))
            }
        }
    }

    fn read(&self, rel: &str) -> Result<Vec<u8>> {
        use std::io::Read;
        let (mut r, len) = self.open(rel)?;
        if len > MAX_FILE {
            bail!("{rel}: larger than {MAX_FILE} bytes");
        }
        let mut bytes = Vec::with_capacity(len as usize);
        r.read_to_end(&mut bytes)?;
        Ok(bytes)
    }
}

/// The files of the tar archive `path`, its headers read once (the data skipped).
fn index_tar(path: &Path) -> Result<TarIndex> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut archive = tar::Archive::new(file);
    let mut index = TarIndex::default();
    for entry in archive.entries_with_seek().context("reading the archive")? {
        let entry = entry.context("reading the archive")?;
        if entry.header().entry_type().is_file() {
            let name = regpeek_layer::normalize(&String::from_utf8_lossy(&entry.path_bytes()));
            index
                .files
                .insert(name, (entry.raw_file_position(), entry.size()));
        }
    }
    if !index.files.contains_key("index.json") && index.files.contains_key("manifest.json") {
        docker_layout(path, &mut index)?;
    }
    Ok(index)
}

/// Makes a layout of a docker archive: a Docker manifest per `manifest.json` entry
/// (config and layers named by their digests, the layers as uncompressed tars), and an
/// `index.json` that names each by its `RepoTags` (as [`tag_for`] spells them).
fn docker_layout(path: &Path, index: &mut TarIndex) -> Result<()> {
    use std::io::{Read, Seek};
    let mut file = std::fs::File::open(path)?;
    let mut digest_of = |rel: &str| -> Result<(String, u64)> {
        let &(at, len) = index
            .files
            .get(rel)
            .with_context(|| format!("{rel}: not in the archive"))?;
        file.seek(std::io::SeekFrom::Start(at))?;
        let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
        std::io::copy(&mut (&mut file).take(len), &mut hasher)?;
        let hex = regpeek_layer::hex(&sha2::Digest::finalize(hasher));
        Ok((format!("sha256:{hex}"), len))
    };
    let (at, len) = index.files["manifest.json"];
    let mut raw = vec![0u8; usize::try_from(len.min(MAX_FILE))?];
    let mut f = std::fs::File::open(path)?;
    f.seek(std::io::SeekFrom::Start(at))?;
    f.read_exact(&mut raw)?;
    let entries: Vec<Value> =
        serde_json::from_slice(&raw).context("manifest.json is not a list")?;
    let mut manifests = Vec::new();
    let mut aliases = Vec::new();
    for entry in &entries {
        let config = entry["Config"]
            .as_str()
            .context("an image without a Config")?;
        let (config_digest, config_size) = digest_of(config)?;
        aliases.push((config_digest.clone(), config.to_owned()));
        let mut layers = Vec::new();
        for l in entry["Layers"].as_array().into_iter().flatten() {
            let l = l.as_str().context("a layer that is not a path")?;
            let (d, size) = digest_of(l)?;
            aliases.push((d.clone(), l.to_owned()));
            layers.push(serde_json::json!({
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar",
                "size": size, "digest": d,
            }));
        }
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": config_size, "digest": config_digest},
            "layers": layers,
        }))?;
        let digest = regpeek_proto::Digest::sha256(&manifest).to_string();
        let tags: Vec<String> = entry["RepoTags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().and_then(tag_for))
            .collect();
        for tag in tags.iter().map(Some).chain(tags.is_empty().then_some(None)) {
            let mut d = serde_json::json!({
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "size": manifest.len(), "digest": digest,
            });
            if let Some(t) = tag {
                d["annotations"] = serde_json::json!({ REF_NAME: t });
            }
            manifests.push(d);
        }
        let hex = digest.trim_start_matches("sha256:").to_owned();
        index.made.insert(format!("blobs/sha256/{hex}"), manifest);
    }
    for (digest, rel) in aliases {
        let place = index.files[&rel];
        index.files.insert(
            format!("blobs/sha256/{}", digest.trim_start_matches("sha256:")),
            place,
        );
    }
    let layout = serde_json::json!({"schemaVersion": 2, "manifests": manifests});
    index
        .made
        .insert("index.json".into(), serde_json::to_vec(&layout)?);
    Ok(())
}

/// Answers the flow's requests from the layouts its references name (archives
/// indexed once per run).
#[derive(Default)]
pub struct Layouts {
    tars: std::sync::Mutex<std::collections::HashMap<PathBuf, std::sync::Arc<TarIndex>>>,
}

impl Layouts {
    fn store(&self, repository: &str) -> Result<Store> {
        let (is_dir, path) = layout_of(repository).context("not a layout")?;
        if is_dir {
            return Ok(Store::Dir(path));
        }
        // The archive: one index a run.
        let mut tars = self
            .tars
            .lock()
            .map_err(|_| anyhow::anyhow!("a worker panicked"))?;
        let index = match tars.get(&path) {
            Some(i) => i.clone(),
            None => {
                let i = std::sync::Arc::new(index_tar(&path)?);
                tars.insert(path.clone(), i.clone());
                i
            }
        };
        Ok(Store::Tar(path, index))
    }
}

impl Transport for Layouts {
    /// Answers from disk: a blob as a file to read as it comes (never held whole),
    /// anything else as the registry API would.
    fn send(&self, send: &Transmit, _budget: Option<Duration>) -> Result<Reply, TransportFailure> {
        let path = send.request.uri().path().to_owned();
        if send.stream
            && let Some((repo, what)) = path.strip_prefix("/v2/").and_then(api_path)
            && let Some(digest) = what.strip_prefix("blobs/")
        {
            let opened = self
                .store(repo)
                .and_then(|store| store.open(&blob_path(digest)?));
            return Ok(match opened {
                Ok((body, len)) => {
                    let head = ok("application/octet-stream", Some(digest), Vec::new(), true);
                    let (mut parts, _) = head.into_parts();
                    parts
                        .headers
                        .insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(len));
                    Reply {
                        response: http::Response::from_parts(parts, Vec::new()),
                        body: Some(Blob::new(body)),
                    }
                }
                Err(e) => Reply::whole(error(404, &format!("BLOB_UNKNOWN: {e:#}"))),
            });
        }
        let head = send.request.method() == http::Method::HEAD;
        Ok(Reply::whole(
            self.respond(&path, head)
                .unwrap_or_else(|e| error(404, &format!("{e:#}"))),
        ))
    }
}

impl Layouts {
    fn respond(&self, path: &str, head: bool) -> Result<http::Response<Vec<u8>>> {
        if path == "/v2/" {
            return Ok(ok("application/json", None, b"{}".to_vec(), head));
        }
        let rest = path.strip_prefix("/v2/").context("not an API path")?;
        let (repo, what) = api_path(rest).context("no repository")?;
        let store = self.store(repo)?;
        let index: Value =
            serde_json::from_slice(&store.read("index.json")?).context("index.json is not JSON")?;
        let manifests = index["manifests"].as_array().cloned().unwrap_or_default();
        let blob = |digest: &str| store.read(&blob_path(digest)?);
        if what == "tags/list" {
            let tags: Vec<&str> = manifests
                .iter()
                .filter_map(|d| d["annotations"][REF_NAME].as_str())
                .collect();
            let body = serde_json::to_vec(&serde_json::json!({"name": repo, "tags": tags}))?;
            return Ok(ok("application/json", None, body, head));
        }
        if let Some(reference) = what.strip_prefix("manifests/") {
            if reference.contains(':') {
                // By digest: any manifest the layout holds, its type read from it.
                let bytes = blob(reference)?;
                let media = serde_json::from_slice::<Value>(&bytes)?["mediaType"]
                    .as_str()
                    .unwrap_or("application/vnd.oci.image.manifest.v1+json")
                    .to_owned();
                return Ok(ok(&media, Some(reference), bytes, head));
            }
            let named = manifests
                .iter()
                .find(|d| d["annotations"][REF_NAME].as_str() == Some(reference));
            // `latest` (what a local image typed without a tag asks) of a layout of
            // one image: that one.
            let desc = match (named, manifests.as_slice()) {
                (Some(d), _) => d.clone(),
                (None, [only]) if reference == "latest" => only.clone(),
                (None, all) => {
                    let names: Vec<&str> = all
                        .iter()
                        .filter_map(|d| d["annotations"][REF_NAME].as_str())
                        .collect();
                    let mut listed: Vec<&str> = names.iter().copied().take(8).collect();
                    if names.len() > listed.len() {
                        listed.push("…");
                    }
                    let name = names::shown_repository(repo).unwrap_or_default();
                    let message = format!(
                        "no image named {reference}: {name} holds {} image{} ({}); name one as {name}:TAG",
                        all.len(),
                        if all.len() == 1 { "" } else { "s" },
                        listed.join(", ")
                    );
                    return Ok(error_with(404, "MANIFEST_UNKNOWN", &message));
                }
            };
            let digest = desc["digest"]
                .as_str()
                .context("a descriptor without a digest")?;
            let media = desc["mediaType"]
                .as_str()
                .unwrap_or("application/vnd.oci.image.manifest.v1+json");
            return Ok(ok(media, Some(digest), blob(digest)?, head));
        }
        if let Some(digest) = what.strip_prefix("blobs/") {
            return Ok(ok(
                "application/octet-stream",
                Some(digest),
                blob(digest)?,
                head,
            ));
        }
        Ok(error(404, "NAME_UNKNOWN"))
    }
}

/// `REPO/manifests/…`, `REPO/blobs/…`, `REPO/tags/list` (after `/v2/`) as the repository
/// (`<transport>/<hex>`: two components) and what is asked of it.
fn api_path(rest: &str) -> Option<(&str, &str)> {
    let (kind, after) = rest.split_once('/')?;
    let (hex, what) = after.split_once('/')?;
    Some((&rest[..kind.len() + 1 + hex.len()], what))
}

/// Where a layout keeps `digest`: `blobs/ALG/HEX` (nothing else can be named).
fn blob_path(digest: &str) -> Result<String> {
    let (alg, hex) = digest.split_once(':').context("not a digest")?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit())
        || !alg.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        bail!("not a digest");
    }
    Ok(format!("blobs/{alg}/{hex}"))
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
    error_with(status, code.split(':').next().unwrap_or("UNKNOWN"), code)
}

/// A registry error with its code and message.
fn error_with(status: u16, code: &str, message: &str) -> http::Response<Vec<u8>> {
    let body = serde_json::json!({"errors": [{"code": code, "message": message}]});
    let mut r = http::Response::new(serde_json::to_vec(&body).unwrap_or_default());
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::NOT_FOUND);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}
