//! What a running lab is: its ports, directory, password and pids (`lab.json`), and
//! the addresses tests use.

use anyhow::{Context, Result};
use base64::Engine as _;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

use crate::*;

/// Everything a client needs to know about a running lab; saved as `lab.json`.
#[derive(Debug, Clone)]
pub struct LabInfo {
    /// The lab's directory (config, certs, data, logs).
    pub dir: PathBuf,
    /// Ports.
    pub ports: Ports,
    /// The lab user's password (a throw-away).
    pub password: String,
    /// Pids of detached processes.
    pub pids: Vec<u32>,
}

impl LabInfo {
    /// `127.0.0.1:PORT` of the open registry's front.
    pub fn plain(&self) -> String {
        format!("127.0.0.1:{}", self.ports.plain)
    }
    /// `127.0.0.1:PORT` of the token registry's front.
    pub fn token(&self) -> String {
        format!("127.0.0.1:{}", self.ports.token)
    }
    /// `localhost:PORT` of the token registry's TLS front (HTTP/2 by ALPN; the lab's
    /// certificate names `localhost`).
    pub fn token_tls(&self) -> String {
        format!("localhost:{}", self.ports.token_tls)
    }
    /// `127.0.0.1:PORT` of the TLS + Basic registry.
    pub fn basic(&self) -> String {
        format!("127.0.0.1:{}", self.ports.basic)
    }
    /// `127.0.0.1:PORT` of the mTLS registry.
    pub fn mtls(&self) -> String {
        format!("127.0.0.1:{}", self.ports.mtls)
    }
    /// `127.0.0.1:PORT` of the token registry whose issuer is down.
    pub fn issuer_down(&self) -> String {
        format!("127.0.0.1:{}", self.ports.issuer_down)
    }
    /// `127.0.0.1:PORT` where nothing listens: picked with the others, below the
    /// ephemeral range, so neither an outgoing connection nor a test server bound to
    /// port 0 can take it while the lab runs.
    pub fn dead(&self) -> String {
        format!("127.0.0.1:{}", self.ports.dead)
    }
    /// The token realm.
    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.ports.helper)
    }
    /// The lab CA (PEM file).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }
    /// A certs.d-style directory for the TLS registries (`ca.crt`, `client.cert`, `client.key`).
    pub fn cert_dir(&self) -> PathBuf {
        self.dir.join("certs.d")
    }
    /// `http://127.0.0.1:PORT`, a forward proxy.
    pub fn proxy(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.proxy)
    }

    /// The forward proxy's access log.
    pub fn proxy_log(&self) -> PathBuf {
        self.dir.join("proxy.log")
    }

    /// The CDN's access log.
    pub fn cdn_log(&self) -> PathBuf {
        self.dir.join("cdn.log")
    }
    /// The lab user's identity token (OAuth2 refresh token) for the token registry.
    pub fn identity_token(&self) -> String {
        token::identity_token(&self.password)
    }

    /// `user:password` of the lab user.
    pub fn creds(&self) -> String {
        format!("{}:{}", token::USER, self.password)
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "dir": self.dir, "password": self.password, "pids": self.pids,
            "ports": self.ports.named().into_iter().collect::<serde_json::Map<String, Value>>(),
        })
    }

    /// Reads `lab.json`.
    pub fn load(path: &Path) -> Result<LabInfo> {
        let v: Value = serde_json::from_slice(
            &std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        )?;
        let port = |name: &str| -> Result<u16> {
            v["ports"][name]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .with_context(|| format!("{}: no port {name:?}", path.display()))
        };
        Ok(LabInfo {
            dir: PathBuf::from(v["dir"].as_str().context("dir")?),
            ports: Ports {
                plain: port("plain")?,
                token: port("token")?,
                basic: port("basic")?,
                mtls: port("mtls")?,
                issuer_down: port("issuer_down")?,
                helper: port("helper")?,
                plain_backend: port("plain_backend")?,
                token_backend: port("token_backend")?,
                cdn_plain: port("cdn_plain")?,
                cdn_token: port("cdn_token")?,
                cdn_https: port("cdn_https")?,
                dead: port("dead")?,
                proxy: port("proxy")?,
                token_tls: port("token_tls")?,
            },
            password: v["password"].as_str().context("password")?.to_owned(),
            pids: v["pids"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|p| p.as_u64().map(|p| p as u32))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// The push target for each registry, with the lab's credentials.
    pub fn targets(&self) -> Result<Targets> {
        let ca = std::fs::read_to_string(self.ca_file())?;
        let pki_key = std::fs::read(self.dir.join("issuer.pk8"))?;
        let kid = std::fs::read_to_string(self.dir.join("issuer.kid"))?;
        let issuer = std::sync::Arc::new(token::Issuer::new(&pki_key, &kid, &self.password)?);
        let basic_auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(self.creds())
        );
        let user_auth = basic_auth.clone();
        Ok(Targets {
            plain: push::Target::open(&format!("http://127.0.0.1:{}", self.ports.plain_backend)),
            token: push::Target {
                base: format!("http://127.0.0.1:{}", self.ports.token_backend),
                agent: push::agent(),
                auth: Box::new(move |repo| {
                    let scope = format!("repository:{repo}:pull,push");
                    match issuer.grant(Some(&user_auth), &[scope]).ok()? {
                        token::Grant::Token(v) => Some(format!("Bearer {}", v["token"].as_str()?)),
                        token::Grant::Denied => None,
                    }
                }),
            },
            basic: push::Target {
                base: format!("https://{}", self.basic()),
                agent: push::agent_with_ca(Some(&ca)),
                auth: Box::new(move |_| Some(basic_auth.clone())),
            },
        })
    }
}

/// Push targets for the registries that get content.
pub struct Targets {
    /// The open registry (backend).
    pub plain: push::Target,
    /// The token registry (backend), with minted push tokens.
    pub token: push::Target,
    /// The TLS + Basic registry.
    pub basic: push::Target,
}
