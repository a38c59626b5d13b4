//! Recording: a scrubbed scenario built from what a driver observed ([`Recorder`]),
//! and a recording served back to any number of flows in any order ([`Pool`]).

use anyhow::{Context, Result};
use regpeek_proto::{RequestKind, TransportErrorKind, http, redact};

use crate::fixture::{Exchange, Reply, Request, Scenario};
use crate::{KEPT, SIGNIFICANT, header_pairs, kind_name};

/// A recording served back to any number of flows, in any order: each request is
/// answered by the first exchange not yet used whose method, URL and kind of
/// `Authorization` (none, or its scheme) match. A command run again against its
/// recording makes the same requests, so its flows get the same answers, however
/// its workers interleave.
pub struct Pool {
    exchanges: std::sync::Mutex<Vec<(Exchange, bool)>>,
}

impl Pool {
    /// Serves `scenario`'s exchanges.
    pub fn new(scenario: &Scenario) -> Pool {
        Pool {
            exchanges: std::sync::Mutex::new(
                scenario
                    .exchanges
                    .iter()
                    .cloned()
                    .map(|e| (e, false))
                    .collect(),
            ),
        }
    }

    /// The recorded reply to `request`, or `None` when the recording holds none.
    pub fn answer(&self, request: &http::Request<Vec<u8>>) -> Option<Reply> {
        let url = redact::url(&request.uri().to_string());
        let scheme =
            |v: Option<&str>| v.map(|v| v.split(' ').next().unwrap_or_default().to_owned());
        let sent = scheme(
            request
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok()),
        );
        let mut exchanges = self.exchanges.lock().unwrap_or_else(|e| e.into_inner());
        let exact = exchanges.iter().position(|(e, used)| {
            let recorded = scheme(
                e.request
                    .headers
                    .iter()
                    .find(|(k, _)| k == "authorization")
                    .map(|(_, v)| v.as_str()),
            );
            !*used
                && e.request.method == request.method().as_str()
                && e.request.url == url
                && recorded == sent
        });
        // A TLS handshake or a connection fails before any path is sent: it is the
        // origin's answer, whichever request met it first. Which of a run's flows
        // probes a host first depends on how its workers interleave, so a replay
        // answers any request to that origin with the failure recorded there.
        let at = exact.or_else(|| {
            let asked = origin(&url)?;
            exchanges.iter().position(|(e, _)| {
                matches!(&e.reply, Reply::Failure { kind, .. } if kind == "tls" || kind == "connect")
                    && origin(&e.request.url) == Some(asked)
            })
        })?;
        let (exchange, used) = &mut exchanges[at];
        *used = true;
        Some(exchange.reply.clone())
    }

    /// Exchanges never asked for (a replay that went another way).
    pub fn unused(&self) -> usize {
        let exchanges = self.exchanges.lock().unwrap_or_else(|e| e.into_inner());
        exchanges.iter().filter(|(_, used)| !used).count()
    }
}

/// `scheme://authority` of a URL.
fn origin(url: &str) -> Option<&str> {
    let rest = url.find("://")? + 3;
    let end = url[rest..].find('/').map_or(url.len(), |i| rest + i);
    Some(&url[..end])
}

/// Builds a scrubbed scenario from what a driver observed: requests lose their
/// `Authorization` values (bearer tokens become `<scrubbed-token-N>`), token replies
/// lose their tokens, and `user:password` settings keep only the user.
pub struct Recorder {
    scenario: Scenario,
    /// Tokens from token replies, numbered in the order they came.
    tokens: Vec<String>,
    /// Every other secret a request carried (a Basic credential, a registry token),
    /// scrubbed wherever a server echoes it.
    sent: Vec<String>,
}

impl Recorder {
    /// Starts a recording with these settings (see the fixture format); credential
    /// settings are scrubbed here.
    pub fn new(mut settings: Vec<(String, String)>) -> Recorder {
        for (_, v) in settings
            .iter_mut()
            .filter(|(k, _)| k == "credentials" || k == "identity-token")
        {
            let user = v.split_once(':').map_or(v.as_str(), |(u, _)| u).to_owned();
            *v = format!("{user}:<redacted>");
        }
        Recorder {
            scenario: Scenario {
                settings,
                exchanges: Vec::new(),
            },
            tokens: Vec::new(),
            sent: Vec::new(),
        }
    }

    /// The scrubbed form of a request, to pass to [`Recorder::response`] or
    /// [`Recorder::failure`] once it is answered.
    pub fn request(&mut self, req: &http::Request<Vec<u8>>) -> Request {
        for secret in redact::secrets_of(req.headers()) {
            if !self.sent.contains(&secret) {
                self.sent.push(secret);
            }
        }
        let mut headers = header_pairs(req.headers(), SIGNIFICANT);
        for (k, v) in &mut headers {
            if k == "authorization" {
                *v = scrub_authorization(v, &self.tokens);
            }
        }
        Request {
            method: req.method().to_string(),
            url: redact::url(&req.uri().to_string()),
            headers,
        }
    }

    /// Every secret seen so far: sent ones and tokens handed out.
    fn secrets(&self) -> Vec<String> {
        self.tokens.iter().chain(&self.sent).cloned().collect()
    }

    /// Records a response (its token, if a token reply, is scrubbed).
    pub fn response(
        &mut self,
        request: Request,
        kind: RequestKind,
        resp: &http::Response<Vec<u8>>,
    ) -> Result<()> {
        let mut body = resp.body().clone();
        if kind == RequestKind::Token && resp.status() == 200 {
            body = scrub_token_reply(&body, &mut self.tokens, &mut self.sent)?;
        }
        // A server may echo what it was sent (or hand out) anywhere: in any header
        // kept, and in any body that is text.
        let secrets = self.secrets();
        if let Ok(text) = std::str::from_utf8(&body) {
            let scrubbed = redact::echoes(text, &secrets);
            if scrubbed != text {
                body = scrubbed.into_bytes();
            }
        }
        let mut keep: Vec<&str> = KEPT.to_vec();
        if body != *resp.body() {
            keep.retain(|k| *k != "content-length");
        }
        let mut headers = header_pairs(resp.headers(), &keep);
        for (k, v) in &mut headers {
            *v = redact::echoes(&redact::header(k, v.as_bytes()), &secrets);
        }
        self.scenario.exchanges.push(Exchange {
            request,
            reply: Reply::Response {
                status: resp.status().as_u16(),
                headers,
                body,
            },
        });
        Ok(())
    }

    /// Records a transport failure.
    pub fn failure(&mut self, request: Request, kind: TransportErrorKind, message: &str) {
        self.scenario.exchanges.push(Exchange {
            request,
            reply: Reply::Failure {
                kind: kind_name(kind).into(),
                message: message.to_owned(),
            },
        });
    }

    /// The recorded scenario.
    pub fn finish(self) -> Scenario {
        self.scenario
    }
}

fn scrub_authorization(v: &str, tokens: &[String]) -> String {
    match v.split_once(' ') {
        Some(("Bearer", tok)) => match tokens.iter().position(|t| t == tok) {
            Some(i) => format!("Bearer <scrubbed-token-{}>", i + 1),
            None => "Bearer <redacted>".to_owned(),
        },
        Some((scheme, _)) => format!("{scheme} <redacted>"),
        None => "<redacted>".to_owned(),
    }
}

/// A token reply with its secrets replaced: bearer tokens numbered into `tokens`,
/// the others (refresh and ID tokens) kept in `others` to be scrubbed where echoed.
fn scrub_token_reply(
    body: &[u8],
    tokens: &mut Vec<String>,
    others: &mut Vec<String>,
) -> Result<Vec<u8>> {
    let mut v: serde_json::Value =
        serde_json::from_slice(body).context("token reply is not JSON")?;
    let obj = v.as_object_mut().context("token reply is not an object")?;
    for key in redact::TOKEN_FIELDS {
        let Some(serde_json::Value::String(tok)) = obj.get(key) else {
            continue;
        };
        let tok = tok.clone();
        // The bearer tokens are numbered, so that the replay can tell which one a
        // request carries; the others (refresh and ID tokens) only need to be gone.
        let stand_in = if matches!(key, "token" | "access_token") {
            let n = match tokens.iter().position(|t| *t == tok) {
                Some(i) => i + 1,
                None => {
                    tokens.push(tok);
                    tokens.len()
                }
            };
            format!("<scrubbed-token-{n}>")
        } else {
            others.push(tok);
            format!("<scrubbed-{}>", key.replace('_', "-"))
        };
        obj.insert(key.into(), stand_in.into());
    }
    // Recording time is volatile; the replay clock is not.
    if obj.contains_key("issued_at") {
        obj.insert("issued_at".into(), "2026-01-01T00:00:00Z".into());
    }
    Ok(serde_json::to_vec(&v)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorder_scrubs_what_a_server_echoes() {
        let mut rec = Recorder::new(Vec::new());
        let req = http::Request::get("https://reg.example/v2/a/manifests/v1?sig=abcd")
            .header("authorization", "Basic dXNlcjpodW50ZXIy")
            .body(Vec::new())
            .unwrap();
        let request = rec.request(&req);
        assert_eq!(
            request.url,
            "https://reg.example/v2/a/manifests/v1?sig=REDACTED"
        );
        let resp = http::Response::builder()
            .status(401)
            .header("www-authenticate", "Basic realm=\"dXNlcjpodW50ZXIy\"")
            .header("location", "https://u:p@cdn.example/b?X-Amz-Signature=s")
            .body(br#"{"errors":[{"message":"hunter2 is wrong"}]}"#.to_vec())
            .unwrap();
        rec.response(request, RequestKind::Manifest, &resp).unwrap();
        let text = rec.finish().render().unwrap();
        for secret in ["dXNlcjpodW50ZXIy", "hunter2", "u:p@", "=s\n"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }

    #[test]
    fn a_failed_handshake_answers_any_request_to_its_origin() {
        let get = |url: &str| http::Request::get(url).body(Vec::new()).unwrap();
        let mut rec = Recorder::new(Vec::new());
        let r = rec.request(&get("https://h:1/v2/a/tags/list"));
        rec.failure(r, TransportErrorKind::Tls, "not TLS");
        let r = rec.request(&get("http://h:1/v2/a/tags/list"));
        let ok = http::Response::builder()
            .status(200)
            .body(Vec::new())
            .unwrap();
        rec.response(r, RequestKind::List, &ok).unwrap();
        let r = rec.request(&get("http://h:1/v2/b/tags/list"));
        rec.response(r, RequestKind::List, &ok).unwrap();
        let pool = Pool::new(&rec.finish());
        // The replay's workers probe in another order: b first.
        let failed =
            |r: Option<Reply>| matches!(r, Some(Reply::Failure { kind, .. }) if kind == "tls");
        assert!(failed(pool.answer(&get("https://h:1/v2/b/tags/list"))));
        assert!(failed(pool.answer(&get("https://h:1/v2/a/tags/list"))));
        assert!(pool.answer(&get("http://h:1/v2/b/tags/list")).is_some());
        assert!(pool.answer(&get("http://h:1/v2/a/tags/list")).is_some());
        assert_eq!(pool.unused(), 0);
        // Another origin, or a path never recorded on one that answered, has no answer.
        assert!(pool.answer(&get("https://h:2/v2/a/tags/list")).is_none());
        assert!(pool.answer(&get("http://h:1/v2/c/tags/list")).is_none());
    }

    #[test]
    fn scrubbing() {
        let (mut tokens, mut others) = (Vec::new(), Vec::new());
        let body = scrub_token_reply(
            br#"{"token":"abc","access_token":"abc","refresh_token":"rrr","id_token":"iii","expires_in":60}"#,
            &mut tokens,
            &mut others,
        )
        .unwrap();
        let text = String::from_utf8(body).unwrap();
        for secret in ["abc", "rrr", "iii"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(text.contains("<scrubbed-token-1>"));
        assert!(text.contains("<scrubbed-refresh-token>") && text.contains("<scrubbed-id-token>"));
        assert_eq!(tokens, ["abc"], "only bearer tokens are numbered");
        assert_eq!(
            scrub_authorization("Bearer abc", &tokens),
            "Bearer <scrubbed-token-1>"
        );
        assert_eq!(
            scrub_authorization("Bearer zzz", &tokens),
            "Bearer <redacted>"
        );
        assert_eq!(
            scrub_authorization("Basic dTpw", &tokens),
            "Basic <redacted>"
        );
        assert_eq!(
            redact::url("https://cdn.example/b?X-Amz-Signature=s3cr3t&n=2"),
            "https://cdn.example/b?X-Amz-Signature=REDACTED&n=2"
        );
        assert_eq!(
            redact::url(r#"</v2/a/tags/list?last=b&sig=x>; rel="next""#),
            r#"</v2/a/tags/list?last=b&sig=REDACTED>; rel="next""#
        );
        assert_eq!(redact::url("https://a/b"), "https://a/b");
    }
}
