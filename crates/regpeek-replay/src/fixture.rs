//! The plain-text fixture format: one scenario = settings + ordered HTTP exchanges.
//! See `fixtures/README.md` for the format; `cargo xtask record` writes it and the
//! replay tests read it.

use std::fmt::Write as _;

use anyhow::{Context, Result, bail};

/// A request as recorded: method, absolute URL and the headers that matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `HEAD`, …
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Headers (lowercase names), in order.
    pub headers: Vec<(String, String)>,
}

/// What came back: a response, or a failure below HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// An HTTP response.
    Response {
        /// Status code.
        status: u16,
        /// Headers (lowercase names), in order.
        headers: Vec<(String, String)>,
        /// Exact body bytes.
        body: Vec<u8>,
    },
    /// A transport failure: kind (`tls`, `connect`, `timeout`, `other`) and message.
    Failure {
        /// The kind.
        kind: String,
        /// The message.
        message: String,
    },
}

/// One request and its reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The request.
    pub request: Request,
    /// The reply.
    pub reply: Reply,
}

/// A scenario file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scenario {
    /// `key: value` settings from the top of the file.
    pub settings: Vec<(String, String)>,
    /// Exchanges in order.
    pub exchanges: Vec<Exchange>,
}

impl Scenario {
    /// A setting by key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Parses the text format.
    pub fn parse(text: &str) -> Result<Scenario> {
        let mut s = Scenario::default();
        let mut lines = text.split_inclusive('\n').peekable();
        // Settings until the first `>>>`.
        while let Some(line) = lines.peek() {
            if line.starts_with(">>> ") {
                break;
            }
            let line = lines.next().unwrap_or_default().trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (k, v) = line
                .split_once(':')
                .with_context(|| format!("setting line without ':': {line:?}"))?;
            s.settings.push((k.trim().to_owned(), v.trim().to_owned()));
        }
        while let Some(line) = lines.next() {
            let head = line.trim_end_matches(['\n', '\r']);
            let Some(rest) = head.strip_prefix(">>> ") else {
                bail!("expected '>>> METHOD URL', found {head:?}");
            };
            let (method, url) = rest
                .split_once(' ')
                .with_context(|| format!("bad request line {head:?}"))?;
            let headers = read_headers(&mut lines)?;
            let status_line = lines
                .next()
                .with_context(|| format!("{method} {url}: no reply"))?
                .trim_end_matches(['\n', '\r']);
            let reply = if let Some(rest) = status_line.strip_prefix("!!! ") {
                let (kind, message) = rest.split_once(' ').unwrap_or((rest, ""));
                Reply::Failure {
                    kind: kind.to_owned(),
                    message: message.to_owned(),
                }
            } else if let Some(rest) = status_line.strip_prefix("<<< ") {
                let status: u16 = rest
                    .trim()
                    .parse()
                    .with_context(|| format!("bad status line {status_line:?}"))?;
                let headers = read_headers(&mut lines)?;
                let mut body = String::new();
                while let Some(line) = lines.peek() {
                    if line.starts_with(">>> ") {
                        break;
                    }
                    body.push_str(lines.next().unwrap_or_default());
                }
                // The newline that ends the body's last line belongs to the file.
                if body.ends_with('\n') {
                    body.pop();
                }
                let mut headers = headers;
                let encoded = headers
                    .iter()
                    .position(|(k, v)| k == BODY_ENCODING && v == "base64");
                let body = match encoded {
                    Some(i) => {
                        headers.remove(i);
                        let packed: String = body.split_whitespace().collect();
                        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, packed)
                            .with_context(|| {
                            format!("{method} {url}: a base64 body that does not decode")
                        })?
                    }
                    None => body.into_bytes(),
                };
                Reply::Response {
                    status,
                    headers,
                    body,
                }
            } else {
                bail!("expected '<<< STATUS' or '!!! KIND', found {status_line:?}");
            };
            s.exchanges.push(Exchange {
                request: Request {
                    method: method.to_owned(),
                    url: url.to_owned(),
                    headers,
                },
                reply,
            });
        }
        Ok(s)
    }

    /// Writes the text format. Bodies must be UTF-8 and hold no line starting with `>>> `.
    pub fn render(&self) -> Result<String> {
        let mut out = String::new();
        for (k, v) in &self.settings {
            writeln!(out, "{k}: {v}")?;
        }
        if !self.settings.is_empty() {
            writeln!(out)?;
        }
        // No blank line between exchanges: a body runs up to the next `>>> ` line.
        for ex in &self.exchanges {
            writeln!(out, ">>> {} {}", ex.request.method, ex.request.url)?;
            for (k, v) in &ex.request.headers {
                writeln!(out, "{k}: {v}")?;
            }
            writeln!(out)?;
            match &ex.reply {
                Reply::Failure { kind, message } => writeln!(out, "!!! {kind} {message}")?,
                Reply::Response {
                    status,
                    headers,
                    body,
                } => {
                    writeln!(out, "<<< {status}")?;
                    for (k, v) in headers {
                        writeln!(out, "{k}: {v}")?;
                    }
                    // A body that is not text (a layer), or that would read as the next
                    // exchange, is written in base64, 76 characters a line.
                    let text = std::str::from_utf8(body)
                        .ok()
                        .filter(|t| !t.lines().any(|l| l.starts_with(">>> ")));
                    match text {
                        Some(text) => {
                            writeln!(out)?;
                            writeln!(out, "{text}")?;
                        }
                        None => {
                            writeln!(out, "{BODY_ENCODING}: base64")?;
                            writeln!(out)?;
                            let packed = base64::Engine::encode(
                                &base64::engine::general_purpose::STANDARD,
                                body,
                            );
                            for chunk in packed.as_bytes().chunks(76) {
                                writeln!(out, "{}", String::from_utf8_lossy(chunk))?;
                            }
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The pseudo-header that marks a body written in base64 (never sent or received).
const BODY_ENCODING: &str = "x-regpeek-body-encoding";

/// Header lines up to (and eating) the blank line that ends them.
fn read_headers<'a>(lines: &mut impl Iterator<Item = &'a str>) -> Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    for line in lines {
        let line = line.trim_end_matches(['\n', '\r']);
        if line.is_empty() {
            break;
        }
        headers.push(split_header(line)?);
    }
    Ok(headers)
}

fn split_header(line: &str) -> Result<(String, String)> {
    let (k, v) = line
        .split_once(':')
        .with_context(|| format!("header line without ':': {line:?}"))?;
    Ok((k.trim().to_ascii_lowercase(), v.trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_that_are_not_text_round_trip_in_base64() {
        let exchange = |body: Vec<u8>| Exchange {
            request: Request {
                method: "GET".into(),
                url: "http://localhost/v2/x/blobs/sha256:0".into(),
                headers: vec![],
            },
            reply: Reply::Response {
                status: 200,
                headers: vec![("content-type".into(), "application/octet-stream".into())],
                body,
            },
        };
        let gzip: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let s = Scenario {
            settings: vec![("reference".into(), "localhost/x".into())],
            exchanges: vec![
                exchange(gzip),
                exchange(b"text\n>>> GET not an exchange\n".to_vec()),
                exchange(b"plain text".to_vec()),
            ],
        };
        let text = s.render().unwrap();
        assert_eq!(
            text.matches("x-regpeek-body-encoding: base64").count(),
            2,
            "{text}"
        );
        assert_eq!(Scenario::parse(&text).unwrap(), s);
    }

    #[test]
    fn round_trip_keeps_exact_bodies() {
        let s = Scenario {
            settings: vec![("reference".into(), "localhost/x".into())],
            exchanges: vec![
                Exchange {
                    request: Request {
                        method: "GET".into(),
                        url: "https://localhost/v2/x/manifests/latest".into(),
                        headers: vec![("accept".into(), "a, b".into())],
                    },
                    reply: Reply::Failure {
                        kind: "tls".into(),
                        message: "handshake failed".into(),
                    },
                },
                Exchange {
                    request: Request {
                        method: "GET".into(),
                        url: "http://localhost/v2/x/manifests/latest".into(),
                        headers: vec![],
                    },
                    reply: Reply::Response {
                        status: 200,
                        headers: vec![("content-type".into(), "t".into())],
                        body: b"{\n  \"a\": 1\n}\n\n".to_vec(),
                    },
                },
                Exchange {
                    request: Request {
                        method: "HEAD".into(),
                        url: "http://localhost/v2/x/blobs/y".into(),
                        headers: vec![],
                    },
                    reply: Reply::Response {
                        status: 200,
                        headers: vec![],
                        body: Vec::new(),
                    },
                },
            ],
        };
        let text = s.render().unwrap();
        assert_eq!(Scenario::parse(&text).unwrap(), s);
    }
}
