//! The lab helper, one small HTTP server on 127.0.0.1 with two jobs:
//! - `/token`: the token issuer for the token-auth registry (GET flow);
//! - a `CONNECT` proxy for proxy tests (see [`start_connect_proxy`]);
//! - a pager for `tags/list` and `_catalog`, which nginx routes here with the header
//!   `X-Lab-Backend: http://127.0.0.1:PORT`. distribution 2.8 ignores `n`/`last` and
//!   returns tags unsorted, so the pager fetches the full list from the backend (with the
//!   client's `Authorization`), sorts it, and serves pages with `Link: <…>; rel="next"`,
//!   alternately relative and absolute.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{Result, anyhow};
use serde_json::{Value, json};
use tiny_http::{Header, Method, Request, Response, Server};

use crate::token::{Grant, Issuer};

/// Requests the helper answers at once.
const WORKERS: usize = 8;

/// The default page size when the client names none.
pub const DEFAULT_PAGE: usize = 50;

/// A forward proxy for `HTTP(S)_PROXY` tests: it answers `CONNECT` to loopback targets
/// only, logs each target to a file and tunnels the bytes. (nginx cannot `CONNECT`, and
/// ureq tunnels every request through `CONNECT`.)
pub fn start_connect_proxy(port: u16, log: PathBuf) -> Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let log = log.clone();
            std::thread::spawn(move || {
                let _ = tunnel(conn, &log);
            });
        }
    });
    Ok(())
}

fn tunnel(mut client: TcpStream, log: &Path) -> Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 8192 || client.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let target = head
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("CONNECT "))
        .and_then(|l| l.split(' ').next())
        .unwrap_or_default()
        .to_owned();
    let loopback = target
        .rsplit_once(':')
        .and_then(|(h, _)| h.trim_matches(['[', ']']).parse::<std::net::IpAddr>().ok())
        .is_some_and(|ip| ip.is_loopback());
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
    {
        let _ = writeln!(
            f,
            "CONNECT {target} {}",
            if loopback { "allowed" } else { "refused" }
        );
    }
    if !loopback {
        client.write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")?;
        return Ok(());
    }
    let upstream = match TcpStream::connect(&target) {
        Ok(u) => u,
        Err(_) => {
            client.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")?;
            return Ok(());
        }
    };
    client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")?;
    let (mut c2, mut u2) = (client.try_clone()?, upstream.try_clone()?);
    let (mut c1, mut u1) = (client, upstream);
    let t = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut u2);
        let _ = u2.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut u1, &mut c1);
    let _ = c1.shutdown(std::net::Shutdown::Write);
    let _ = t.join();
    Ok(())
}

/// A running helper; stops when dropped.
pub struct Helper {
    server: Arc<Server>,
    thread: Option<JoinHandle<()>>,
    /// `127.0.0.1:PORT`.
    pub host: String,
}

impl Helper {
    /// Serves on `127.0.0.1:port` (0 for any) in a background thread.
    pub fn start(port: u16, issuer: Issuer) -> Result<Helper> {
        let server =
            Arc::new(Server::http(("127.0.0.1", port)).map_err(|e| anyhow!("helper: {e}"))?);
        let host = format!(
            "127.0.0.1:{}",
            server
                .server_addr()
                .to_ip()
                .map(|a| a.port())
                .unwrap_or(port)
        );
        let s = Arc::clone(&server);
        let thread = std::thread::spawn(move || {
            // Several requests at once: one slow answer (a proxied page, a scenario
            // that answers late on purpose) must not hold up another test's token.
            std::thread::scope(|scope| {
                for _ in 0..WORKERS {
                    let (s, issuer) = (&s, &issuer);
                    scope.spawn(move || {
                        let agent = crate::push::agent();
                        for req in s.incoming_requests() {
                            let _ = handle(&agent, issuer, req);
                        }
                    });
                }
            });
        });
        Ok(Helper {
            server,
            thread: Some(thread),
            host,
        })
    }

    /// Blocks until the server stops (for the detached `lab up` process).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        for _ in 0..WORKERS {
            self.server.unblock();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
}

fn get_header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

fn json_response(status: u16, v: &Value) -> Response<std::io::Cursor<Vec<u8>>> {
    Response::from_data(serde_json::to_vec(v).unwrap_or_default())
        .with_status_code(status)
        .with_header(header("Content-Type", "application/json"))
}

fn handle(agent: &ureq::Agent, issuer: &Issuer, mut req: Request) -> Result<()> {
    let url = url::Url::parse(&format!("http://lab{}", req.url()))?;
    if url.path() == "/token" {
        let scopes: Vec<String> = url
            .query_pairs()
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.into_owned())
            .collect();
        let grant = if *req.method() == Method::Post {
            // The OAuth2 flow: a form with one space-separated `scope`.
            let mut body = String::new();
            req.as_reader().take(64 * 1024).read_to_string(&mut body)?;
            let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            issuer.grant_form(&form)?
        } else {
            let auth = get_header(&req, "authorization").map(str::to_owned);
            issuer.grant(auth.as_deref(), &scopes)?
        };
        let resp = match grant {
            Grant::Token(v) => json_response(200, &v),
            Grant::Denied => {
                json_response(401, &json!({"details": "incorrect username or password"}))
            }
        };
        req.respond(resp)?;
        return Ok(());
    }
    if let Some(backend) = get_header(&req, "x-lab-backend").map(str::to_owned) {
        return page(agent, &backend, &url, req);
    }
    req.respond(json_response(
        404,
        &json!({"errors": [{"code": "UNSUPPORTED", "message": "not a lab helper path"}]}),
    ))?;
    Ok(())
}

fn page(agent: &ureq::Agent, backend: &str, url: &url::Url, req: Request) -> Result<()> {
    let mut upstream = agent.get(&format!("{backend}{}", url.path()));
    if let Some(a) = get_header(&req, "authorization") {
        upstream = upstream.header("Authorization", a);
    }
    let mut resp = upstream.call()?;
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_vec().unwrap_or_default();
    if status != 200 {
        let mut out = Response::from_data(body).with_status_code(status);
        for name in ["www-authenticate", "content-type"] {
            if let Some(v) = resp.headers().get(name).and_then(|v| v.to_str().ok()) {
                out = out.with_header(header(name, v));
            }
        }
        req.respond(out)?;
        return Ok(());
    }
    let mut v: Value = serde_json::from_slice(&body)?;
    let key = if url.path().ends_with("/_catalog") {
        "repositories"
    } else {
        "tags"
    };
    let mut all: Vec<String> = v[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    all.sort();
    let q: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let n = q
        .iter()
        .find(|(k, _)| k == "n")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(DEFAULT_PAGE);
    let last = q.iter().find(|(k, _)| k == "last").map(|(_, v)| v.clone());
    let start = match &last {
        Some(l) => all.iter().position(|t| t > l).unwrap_or(all.len()),
        None => 0,
    };
    let end = (start + n).min(all.len());
    let page: Vec<String> = all[start..end].to_vec();
    if let Some(map) = gcr_style_map(url.path(), &page, start) {
        v["manifest"] = map;
    }
    v[key] = json!(page);
    let mut out = json_response(200, &v);
    if n > 0 && end < all.len() {
        let next_path = format!(
            "{}?n={n}&last={}",
            url.path(),
            url::form_urlencoded::byte_serialize(
                page.last().map(String::as_bytes).unwrap_or_default()
            )
            .collect::<String>()
        );
        // Alternate relative and absolute links so clients must handle both.
        let page_no = start / n.max(1);
        let link = if page_no % 2 == 0 {
            next_path
        } else {
            let host = get_header(&req, "host").unwrap_or("127.0.0.1");
            // Behind the TLS front, the origin the client sees.
            let scheme = get_header(&req, "x-forwarded-proto").unwrap_or("http");
            format!("{scheme}://{host}{next_path}")
        };
        out = out.with_header(header("Link", &format!("<{link}>; rel=\"next\"")));
    }
    req.respond(out)?;
    Ok(())
}

/// For `public/inventory` and `public/inventory-liar` (the token registry's), the
/// `manifest` map Google Container Registry and Artifact Registry add to each page of
/// `tags/list` (digest -> mediaType, tag, imageSizeBytes, timeCreatedMs,
/// timeUploadedMs, numbers as strings), from the lab's own inventory. The liar's map
/// names a wrong digest for the first tag of its second page (`start` 50 with the
/// default page size): what a client must catch by checking one tag a page.
fn gcr_style_map(path: &str, page: &[String], start: usize) -> Option<Value> {
    let liar = path.ends_with("/public/inventory-liar/tags/list");
    if !liar && !path.ends_with("/public/inventory/tags/list") {
        return None;
    }
    let inv = crate::image::inventory();
    let mut map = serde_json::Map::new();
    for (at, tag) in page.iter().enumerate() {
        let (_, entry) = inv.tags.iter().find(|(t, _)| t == tag)?;
        let (mut digest, media_type, size) = match entry {
            crate::image::Entry::Image(i) => {
                let img = &inv.images[*i];
                let size = img.config.bytes.len()
                    + img.layers.iter().map(|l| l.bytes.len()).sum::<usize>();
                (
                    img.manifest.digest.clone(),
                    img.manifest.media_type.clone(),
                    size,
                )
            }
            crate::image::Entry::Index(k) => {
                let idx = &inv.indexes[*k];
                (idx.index.digest.clone(), idx.index.media_type.clone(), 0)
            }
        };
        if liar && start > 0 && at == 0 {
            digest = inv.images[0].manifest.digest.clone();
        }
        let n = start + at;
        let e = map.entry(digest).or_insert_with(|| {
            json!({
                "imageSizeBytes": size.to_string(),
                "layerId": "",
                "mediaType": media_type,
                "tag": [],
                "timeCreatedMs": "1704067200000",
                "timeUploadedMs": (1_767_225_600_000u64 + n as u64 * 60_000).to_string(),
            })
        });
        if let Some(tags) = e["tag"].as_array_mut() {
            tags.push(json!(tag));
        }
    }
    Some(Value::Object(map))
}
