//! Pull-through mirrors for Docker Hub, from Docker's `daemon.json`
//! (`registry-mirrors`) and containers' `registries.conf` (`[[registry.mirror]]`).
//! Mirrors are tried in order before the source; any failure moves on to the next.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use regpeek_proto::url;
use serde::Deserialize;

/// Docker's daemon configuration.
pub(crate) const DAEMON_JSON: &str = "/etc/docker/daemon.json";
/// containers' system-wide registries configuration.
pub(crate) const REGISTRIES_CONF: &str = "/etc/containers/registries.conf";

/// One mirror: its API origin and the file that named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// `https://host[:port]` or `http://…` for insecure mirrors.
    pub url: url::Url,
    /// Where it was configured.
    pub source: PathBuf,
}

/// `registry-mirrors` from a `daemon.json`; a missing file has none.
pub(crate) fn from_daemon_json(path: &Path) -> Result<Vec<Mirror>> {
    let text = match crate::bounded::read_text(path, crate::bounded::MAX_CONFIG) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let v = crate::creds::parse_json(path, text.as_bytes())?;
    let Some(list) = v.get("registry-mirrors") else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .with_context(|| format!("{}: registry-mirrors is not a list", path.display()))?;
    list.iter()
        .map(|m| {
            let s = m.as_str().with_context(|| {
                format!("{}: registry-mirrors holds a non-string", path.display())
            })?;
            let url = url::Url::parse(s)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                .with_context(|| format!("{}: invalid registry mirror {s:?}", path.display()))?;
            Ok(Mirror {
                url,
                source: path.to_owned(),
            })
        })
        .collect()
}

#[derive(Deserialize)]
struct RegistriesConf {
    #[serde(default)]
    registry: Vec<RegistryEntry>,
}

#[derive(Deserialize)]
struct RegistryEntry {
    prefix: Option<String>,
    location: Option<String>,
    #[serde(default)]
    mirror: Vec<MirrorEntry>,
}

#[derive(Deserialize)]
struct MirrorEntry {
    location: String,
    #[serde(default)]
    insecure: bool,
}

/// Docker Hub's `[[registry.mirror]]` entries from a `registries.conf` (v2 format).
pub(crate) fn from_registries_conf(path: &Path) -> Result<Vec<Mirror>> {
    let text = match crate::bounded::read_text(path, crate::bounded::MAX_CONFIG) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let conf: RegistriesConf = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))?;
    let hub = |name: &str| {
        regpeek_proto::Reference::for_registry(name)
            .is_ok_and(|r| r.registry() == regpeek_proto::DOCKER_HUB)
    };
    let mut out = Vec::new();
    for entry in conf.registry {
        let name = entry
            .prefix
            .as_deref()
            .or(entry.location.as_deref())
            .unwrap_or_default();
        if !hub(name) {
            continue;
        }
        for m in entry.mirror {
            let scheme = if m.insecure { "http" } else { "https" };
            let host = m.location.trim_end_matches('/');
            if host.contains("://") {
                bail!(
                    "{}: mirror location {:?} must not have a scheme",
                    path.display(),
                    m.location
                );
            }
            let url = url::Url::parse(&format!("{scheme}://{host}"))
                .ok()
                .filter(|u| u.host_str().is_some())
                .with_context(|| {
                    format!(
                        "{}: invalid mirror location {:?}",
                        path.display(),
                        m.location
                    )
                })?;
            out.push(Mirror {
                url,
                source: path.to_owned(),
            });
        }
    }
    Ok(out)
}

/// Every Docker Hub mirror configured on this machine, containers' first (from
/// `$CONTAINERS_REGISTRIES_CONF`, else the user's file, else the system's), then Docker's.
pub fn docker_hub_mirrors() -> Result<Vec<Mirror>> {
    let conf = match std::env::var_os("CONTAINERS_REGISTRIES_CONF") {
        Some(p) => PathBuf::from(p),
        None => {
            let user = std::env::var_os("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
                .map(|d| d.join("containers/registries.conf"));
            match user {
                Some(u) if u.exists() => u,
                _ => PathBuf::from(REGISTRIES_CONF),
            }
        }
    };
    let mut mirrors = from_registries_conf(&conf)?;
    mirrors.extend(from_daemon_json(Path::new(DAEMON_JSON))?);
    mirrors.dedup_by(|a, b| a.url == b.url);
    Ok(mirrors)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` as the file `name` in a scratch directory (removed with the guard).
    fn file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::Builder::new()
            .prefix("regpeek-mirrors-")
            .tempdir()
            .unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    #[test]
    fn daemon_json() {
        let (_dir, p) = file(
            "daemon.json",
            r#"{"registry-mirrors":["https://mirror.example","http://127.0.0.1:5000/"],"debug":true}"#,
        );
        let m = from_daemon_json(&p).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].url.as_str(), "http://127.0.0.1:5000/");
        let (_dir, p) = file("bad.json", r#"{"registry-mirrors":["ftp://x"]}"#);
        assert!(
            from_daemon_json(&p)
                .unwrap_err()
                .to_string()
                .contains("invalid registry mirror")
        );
        let (_dir, p) = file("broken.json", "{");
        assert!(
            from_daemon_json(&p)
                .unwrap_err()
                .to_string()
                .contains("not valid JSON")
        );
        assert!(
            from_daemon_json(Path::new("/nonexistent/daemon.json"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn registries_conf() {
        let (_dir, p) = file(
            "registries.conf",
            r#"
unqualified-search-registries = ["docker.io"]

[[registry]]
prefix = "docker.io"
location = "registry-1.docker.io"

[[registry.mirror]]
location = "mirror.example:5000"

[[registry.mirror]]
location = "127.0.0.1:5001"
insecure = true

[[registry]]
location = "quay.io"

[[registry.mirror]]
location = "not-for-hub.example"
"#,
        );
        let m = from_registries_conf(&p).unwrap();
        let urls: Vec<&str> = m.iter().map(|m| m.url.as_str()).collect();
        assert_eq!(
            urls,
            ["https://mirror.example:5000/", "http://127.0.0.1:5001/"]
        );
        let (_dir, p) = file("broken.conf", "[[registry]\n");
        assert!(
            from_registries_conf(&p)
                .unwrap_err()
                .to_string()
                .contains("broken.conf")
        );
    }
}
