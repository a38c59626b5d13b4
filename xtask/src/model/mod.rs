//! `cargo xtask model`: writes the hand-modelled fixtures (`fixtures/model-*`), and the
//! modelled command-line recordings the live tests replay (`fixtures/cli/*`).
//!
//! These cover what the local lab cannot show yet (bearer and Basic auth, CDN redirects,
//! Docker Hub's hosts and quirks) and hostile registries. Every exchange is written
//! here by hand after docs/protocol.md; the bodies are the lab's deterministic images, so
//! their digests are real.

mod adversity;
mod basics;
mod hub;
mod quirks;
mod warm;

use std::path::Path;

use anyhow::{Context, Result};
use regpeek_lab::image::{self, Image};
use regpeek_replay::MANIFEST_ACCEPT as ACCEPT;
use regpeek_replay::fixture::{Exchange, Reply, Request, Scenario};

fn req(method: &str, url: &str, headers: &[(&str, &str)]) -> Request {
    Request {
        method: method.into(),
        url: url.into(),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
    }
}

fn manifest_req(url: &str, auth: Option<&str>) -> Request {
    let mut h = vec![("accept", ACCEPT)];
    if let Some(a) = auth {
        h.push(("authorization", a));
    }
    req("GET", url, &h)
}

fn blob_req(url: &str, auth: Option<&str>) -> Request {
    match auth {
        Some(a) => req("GET", url, &[("authorization", a)]),
        None => req("GET", url, &[]),
    }
}

fn resp(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    Reply::Response {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
        body: body.to_vec(),
    }
}

fn ex(request: Request, reply: Reply) -> Exchange {
    Exchange { request, reply }
}

fn ok_manifest(img: &Image) -> Reply {
    resp(
        200,
        &[
            ("content-type", &img.manifest.media_type),
            ("docker-content-digest", &img.manifest.digest),
        ],
        &img.manifest.bytes,
    )
}

fn ok_blob(img: &Image) -> Reply {
    resp(
        200,
        &[("content-type", "application/octet-stream")],
        &img.config.bytes,
    )
}

fn unauthorized(challenge: &str) -> Reply {
    resp(
        401,
        &[("content-type", "application/json"), ("www-authenticate", challenge)],
        br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}"#,
    )
}

fn token(body: &str) -> Reply {
    resp(
        200,
        &[("content-type", "application/json")],
        body.as_bytes(),
    )
}

fn scenario(settings: &[(&str, &str)], exchanges: Vec<Exchange>) -> Scenario {
    let mut s: Vec<(String, String)> = settings
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    s.push((
        "source".into(),
        "modelled by hand after docs/protocol.md (xtask/src/model.rs); bodies are the lab's images"
            .into(),
    ));
    Scenario {
        settings: s,
        exchanges,
    }
}

const REG: &str = "https://registry.example";
const REALM: &str = r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:team/app:pull""#;
const TOKEN_URL: &str = "https://auth.example/token?service=registry.example&scope=repository%3Ateam%2Fapp%3Apull&client_id=regpeek";

fn scenarios() -> Vec<(&'static str, Scenario)> {
    let mut out = Vec::new();
    basics::scenarios(&mut out);
    hub::scenarios(&mut out);
    adversity::scenarios(&mut out);
    quirks::scenarios(&mut out);
    warm::scenarios(&mut out);
    out
}

pub fn model() -> Result<()> {
    for (name, s) in scenarios() {
        regpeek_replay::replay_in(&s, Path::new("fixtures"))
            .with_context(|| format!("{name}: the model does not replay"))?;
        let dir = Path::new("fixtures").join(name);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("exchanges.http"), s.render()?)?;
        eprintln!("xtask: wrote {}", dir.join("exchanges.http").display());
    }
    let mut recordings = Vec::new();
    hub::recordings(&mut recordings);
    hub::platforms_recording(&mut recordings);
    for (name, s) in recordings {
        let dir = Path::new("fixtures/cli").join(name);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("exchanges.http"), s.render()?)?;
        eprintln!("xtask: wrote {}", dir.join("exchanges.http").display());
    }
    Ok(())
}
