//! TLS conventions users already have (docs/protocol.md §10): `certs.d` directories
//! (`*.crt` extra CAs, `*.cert` + `*.key` client certificates), `--cert-dir`,
//! `--ca-file`, `--insecure`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use regpeek_ureq::TlsOptions;

/// The `certs.d` directories searched for `host[:port]`, first existing wins
/// (containers' order, then Docker's, then rootless Docker's). Docker Hub gets none, as
/// in Docker.
pub(crate) fn cert_dirs(
    registry: &str,
    api_host: &str,
    home: Option<&Path>,
    xdg_config: Option<&Path>,
) -> Vec<PathBuf> {
    if registry == regpeek_proto::DOCKER_HUB {
        return Vec::new();
    }
    let mut out = Vec::new();
    match (xdg_config, home) {
        (Some(x), _) => out.push(x.join("containers/certs.d").join(api_host)),
        (None, Some(h)) => out.push(h.join(".config/containers/certs.d").join(api_host)),
        _ => {}
    }
    out.push(Path::new("/etc/containers/certs.d").join(api_host));
    out.push(Path::new("/etc/docker/certs.d").join(api_host));
    // Rootless Docker's place.
    match (xdg_config, home) {
        (Some(x), _) => out.push(x.join("docker/certs.d").join(api_host)),
        (None, Some(h)) => out.push(h.join(".config/docker/certs.d").join(api_host)),
        _ => {}
    }
    out
}

/// Reads one certs.d directory into TLS options.
pub(crate) fn read_cert_dir(dir: &Path, tls: &mut TlsOptions) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading certificate directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in &entries {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        match ext {
            "crt" => {
                let pem = crate::bounded::read(path, crate::bounded::MAX_CONFIG)
                    .with_context(|| format!("reading {}", path.display()))?;
                tls.extra_roots.push((path.display().to_string(), pem));
            }
            "cert" => {
                let key = path.with_extension("key");
                if !key.exists() {
                    bail!(
                        "{}: client certificate without its key {}",
                        path.display(),
                        key.display()
                    );
                }
                if tls.client_cert.is_some() {
                    bail!("{}: more than one client certificate", dir.display());
                }
                let cert_pem = crate::bounded::read(path, crate::bounded::MAX_CONFIG)
                    .with_context(|| format!("reading {}", path.display()))?;
                let key_pem = crate::bounded::read(&key, crate::bounded::MAX_CONFIG)
                    .with_context(|| format!("reading {}", key.display()))?;
                tls.client_cert = Some((path.display().to_string(), cert_pem, key_pem));
            }
            "key" if !path.with_extension("cert").exists() => {
                bail!(
                    "{}: client key without its certificate {}",
                    path.display(),
                    path.with_extension("cert").display()
                );
            }
            _ => {}
        }
    }
    Ok(())
}

/// TLS options for one registry: `--cert-dir` (only that directory) or the first
/// existing certs.d directory, plus `--ca-file`, plus `--insecure`. Returns the
/// directory used, for `-v`.
pub fn options_for(
    registry: &str,
    api_host: &str,
    cert_dir: Option<&Path>,
    ca_file: Option<&Path>,
    insecure: bool,
) -> Result<(TlsOptions, Option<PathBuf>)> {
    let mut tls = TlsOptions {
        insecure,
        ..TlsOptions::default()
    };
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let xdg = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from);
    let dir = match cert_dir {
        Some(d) => Some(d.to_owned()),
        None => cert_dirs(registry, api_host, home.as_deref(), xdg.as_deref())
            .into_iter()
            .find(|d| d.is_dir()),
    };
    if let Some(d) = &dir {
        read_cert_dir(d, &mut tls)?;
    }
    if let Some(f) = ca_file {
        let pem = crate::bounded::read(f, crate::bounded::MAX_CONFIG)
            .with_context(|| format!("reading CA file {}", f.display()))?;
        tls.extra_roots.push((f.display().to_string(), pem));
    }
    Ok((tls, dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch certs.d directory holding `files` (removed with the guard).
    fn dir(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
        let scratch = tempfile::Builder::new()
            .prefix("regpeek-certsd-")
            .tempdir()
            .unwrap();
        let d = scratch.path().to_owned();
        for (name, text) in files {
            std::fs::write(d.join(name), text).unwrap();
        }
        (scratch, d)
    }

    #[test]
    fn certs_d_files() {
        let (_scratch, d) = dir(&[
            ("ca.crt", "A"),
            ("other.crt", "B"),
            ("client.cert", "C"),
            ("client.key", "K"),
            ("README", "x"),
        ]);
        let mut tls = TlsOptions::default();
        read_cert_dir(&d, &mut tls).unwrap();
        assert_eq!(tls.extra_roots.len(), 2);
        let (_, cert, key) = tls.client_cert.unwrap();
        assert_eq!((cert.as_slice(), key.as_slice()), (&b"C"[..], &b"K"[..]));

        let (_scratch, d) = dir(&[("client.cert", "C")]);
        let err = read_cert_dir(&d, &mut TlsOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("client certificate without its key"), "{err}");
        let (_scratch, d) = dir(&[("client.key", "K")]);
        let err = read_cert_dir(&d, &mut TlsOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("client key without its certificate"), "{err}");
        let err = read_cert_dir(
            Path::new("/nonexistent/certs.d"),
            &mut TlsOptions::default(),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/certs.d"));
    }

    #[test]
    fn search_order() {
        let dirs = cert_dirs(
            "r.example:5000",
            "r.example:5000",
            Some(Path::new("/home/u")),
            None,
        );
        let dirs: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        assert_eq!(
            dirs,
            [
                "/home/u/.config/containers/certs.d/r.example:5000",
                "/etc/containers/certs.d/r.example:5000",
                "/etc/docker/certs.d/r.example:5000",
                "/home/u/.config/docker/certs.d/r.example:5000"
            ]
        );
        assert!(
            cert_dirs(
                "docker.io",
                "registry-1.docker.io",
                Some(Path::new("/h")),
                None
            )
            .is_empty()
        );
    }
}
