//! Performing one request: sent within its budget (through its proxy, if any), traced
//! with secrets redacted, its body read up to the cap or handed over as a stream, and
//! a failure classified for the core.

use std::cell::Cell;
use std::io::Read;
use std::time::Duration;

use regpeek_proto::{TimeoutStage, TransportErrorKind, redact};

use crate::agent::STAGE;
use crate::classify::{classify, classify_body};
use crate::trace::{trace_head, trace_request, without_userinfo};
use crate::{Client, TransportFailure};

impl Client {
    /// [`Client::perform_within`] for a streamed request: a `2xx` comes back with an
    /// empty body, its body kept for the caller; anything else is read as usual.
    pub(crate) fn perform_streaming(
        &self,
        request: http::Request<Vec<u8>>,
        max_body: usize,
        budget: Option<Duration>,
    ) -> Result<(http::Response<Vec<u8>>, Option<ureq::Body>), TransportFailure> {
        let (secrets, response) = self.send_traced(request, budget)?;
        if !response.status().is_success() {
            return Ok((self.read_traced(response, max_body, &secrets)?, None));
        }
        let (parts, body) = response.into_parts();
        self.trace_head(&parts, &secrets);
        self.trace("< (body streamed to the caller)");
        Ok((http::Response::from_parts(parts, Vec::new()), Some(body)))
    }

    /// Sends `request` (traced, redacted), within `budget`; what it carries that a
    /// server could echo comes back with the response.
    pub(crate) fn send_traced(
        &self,
        request: http::Request<Vec<u8>>,
        budget: Option<Duration>,
    ) -> Result<(Vec<String>, http::Response<ureq::Body>), TransportFailure> {
        if budget.is_some_and(|b| b.is_zero()) {
            return Err(TransportFailure {
                kind: TransportErrorKind::Timeout(TimeoutStage::BeforeSending),
                source: "the deadline has passed".into(),
            });
        }
        // What this request carries that the server could echo back.
        let secrets = match &self.trace {
            Some(t) => trace_request(&**t, &request),
            None => Vec::new(),
        };
        let (parts, body) = request.into_parts();
        let connect = budget.map_or(self.idle, |b| b.min(self.idle));
        STAGE.with(|s| s.set(TimeoutStage::Response));
        let proxy = self.proxy_for.as_ref().and_then(|f| f(&parts.uri));
        if let Some(p) = &proxy {
            self.trace(&format!(
                "> (through the proxy {})",
                redact::url(&without_userinfo(p))
            ));
        }
        let result = if body.is_empty() {
            let req = http::Request::from_parts(parts, ());
            self.configured(req, connect, budget, proxy.as_deref())
        } else {
            let req = http::Request::from_parts(parts, body);
            self.configured(req, connect, budget, proxy.as_deref())
        };
        let response = result.map_err(|e| {
            let kind = classify(&e, STAGE.with(Cell::get));
            let source: Box<dyn std::error::Error + Send + Sync> = match &proxy {
                // Name the proxy: the registry is not the one that failed to answer.
                Some(p) => format!(
                    "through the proxy {}: {e}",
                    redact::url(&without_userinfo(p))
                )
                .into(),
                None => Box::new(e),
            };
            let failure = TransportFailure { kind, source };
            if failure.kind == TransportErrorKind::Tls {
                // Expected for a loopback registry speaking plain http: one quiet line.
                self.trace(&format!("! {}", failure.kind));
            } else {
                self.trace(&format!("! {}: {}", failure.kind, failure.source));
            }
            failure
        })?;
        Ok((secrets, response))
    }

    /// Reads at most `max_body + 1` body bytes of `response` (traced).
    pub(crate) fn read_traced(
        &self,
        mut response: http::Response<ureq::Body>,
        max_body: usize,
        secrets: &[String],
    ) -> Result<http::Response<Vec<u8>>, TransportFailure> {
        let mut bytes = Vec::new();
        let limit = u64::try_from(max_body)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        response
            .body_mut()
            .as_reader()
            .take(limit)
            .read_to_end(&mut bytes)
            .map_err(|e| {
                let failure = TransportFailure {
                    kind: classify_body(&e),
                    source: Box::new(e),
                };
                self.trace(&format!(
                    "! {} while reading the body: {}",
                    failure.kind, failure.source
                ));
                failure
            })?;
        let (parts, _) = response.into_parts();
        self.trace_head(&parts, secrets);
        self.trace(&format!("< ({} body bytes)", bytes.len()));
        Ok(http::Response::from_parts(parts, bytes))
    }

    fn trace_head(&self, parts: &http::response::Parts, secrets: &[String]) {
        if let Some(t) = &self.trace {
            trace_head(&**t, parts, secrets);
        }
    }
    fn configured<S: ureq::AsSendBody>(
        &self,
        req: http::Request<S>,
        connect: Duration,
        budget: Option<Duration>,
        proxy: Option<&str>,
    ) -> Result<http::Response<ureq::Body>, ureq::Error> {
        use ureq::RequestExt as _;
        let proxy = proxy.map(ureq::Proxy::new).transpose()?;
        let authority = req.uri().authority().map(|a| a.as_str());
        let agent = self
            .per_host
            .iter()
            .find(|(host, _)| authority.is_some_and(|a| a.eq_ignore_ascii_case(host)))
            .map_or(&self.agent, |(_, agent)| agent);
        req.with_agent(agent)
            .configure()
            .proxy(proxy)
            .timeout_connect(Some(connect))
            .timeout_global(budget)
            .build()
            .run()
    }
}
