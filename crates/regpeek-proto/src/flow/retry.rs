//! Transitions of adversity: backoff and retries, transport failures, and Docker's
//! loopback fallback from https to plain http.

use std::time::{Duration, SystemTime};

use super::check::{same_origin, strip_query, wait_asked};
use super::{Action, Flow, Go, MAX_RETRIES, MAX_WAIT, Next, Retry, Security, Step, Wait};
use crate::error::{Error, Peer, TimeoutStage, TransportErrorKind};

impl Flow {
    /// The request out in `state` failed below HTTP.
    pub(super) fn on_failure(
        &mut self,
        now: SystemTime,
        state: Wait,
        kind: TransportErrorKind,
    ) -> Next {
        // A remembered location that cannot be reached: ask the registry.
        if std::mem::take(&mut self.via_location) && matches!(state, Wait::Resource { .. }) {
            return Ok(Go::Issue);
        }
        let (url, peer, retry) = match state {
            Wait::Resource { url, hops, .. } => {
                let peer = if same_origin(&url, &self.state.at.base) {
                    Peer::Registry
                } else {
                    Peer::Redirect
                };
                (strip_query(&url), peer, Retry::Resource { url, hops })
            }
            Wait::Ping => (
                self.ping_url().map(|u| strip_query(&u)).unwrap_or_default(),
                Peer::Registry,
                Retry::Ping,
            ),
            Wait::Token {
                realm, key, post, ..
            } => (realm, Peer::TokenServer, Retry::Token { key, post }),
            Wait::Start | Wait::Backoff { .. } | Wait::Done => {
                return Err(Error::Misuse("no request was outstanding"));
            }
        };
        // Docker's rule: a loopback registry that does not speak TLS is spoken to over
        // plain http. Only that failure (not an untrusted certificate) allows it.
        let fallback = kind == TransportErrorKind::Tls
            && self.state.at.security == Security::HttpsThenHttp
            && self.state.at.base.scheme() == "https"
            && peer == Peer::Registry;
        if fallback {
            self.state.at.security = Security::Http;
            let _ = self.state.at.base.set_scheme("http");
            let host = self.host();
            self.tokens.learn(&host, |k| k.plain_http = true);
            // The pages of a listing were resolved on the https origin.
            if let Step::Page(page) = &mut self.state.at.step {
                let _ = page.set_scheme("http");
            }
            return Ok(Go::Issue);
        }
        // Idempotent requests (never the token POST) are tried again after a refused or
        // reset connection; a refused one on loopback ends at once, as skopeo's does (a
        // local registry that is not up will not be in two seconds).
        let idempotent = !matches!(retry, Retry::Token { post: true, .. });
        let loopback = url::Url::parse(&url)
            .ok()
            .and_then(|u| u.host_str().map(crate::auth::is_loopback_host))
            .unwrap_or(false);
        let retryable = match kind {
            TransportErrorKind::Connect => !loopback,
            TransportErrorKind::Reset => true,
            _ => false,
        };
        if idempotent && retryable && self.state.at.retries < MAX_RETRIES {
            return self.schedule_retry(now, None, None, retry, peer, &url);
        }
        let source = self.failure.take();
        Err(match kind {
            TransportErrorKind::Timeout(stage) => Error::Timeout {
                peer,
                url,
                stage,
                status: None,
                source,
            },
            // A driver that read no further than the cap says so without the bytes.
            TransportErrorKind::TooLarge => Error::BodyTooLarge {
                subject: self.subject(),
                limit: self.last_limit,
            },
            kind => Error::Transport {
                peer,
                url,
                kind,
                source,
            },
        })
    }

    /// Whether to retry a 429/502/503/504, and the server's `Retry-After` if it gave
    /// one (`Some(None)`: back off on our own). `None` gives up: after [`MAX_RETRIES`],
    /// or when the registry asks for a longer wait than [`MAX_WAIT`] (Docker Hub's pull
    /// limit says hours; spinning on it helps nobody).
    pub(super) fn retry_delay(&self, resp: &http::Response<Vec<u8>>) -> Option<Option<Duration>> {
        if !matches!(resp.status().as_u16(), 429 | 502 | 503 | 504)
            || self.state.at.retries >= MAX_RETRIES
        {
            return None;
        }
        match wait_asked(resp) {
            Some(d) if d > MAX_WAIT => None,
            after => Some(after),
        }
    }

    /// Waits before sending `retry` again: the server's `Retry-After`, else exponential
    /// backoff with jitter. A wait that would pass the deadline is reported at once.
    pub(super) fn schedule_retry(
        &mut self,
        now: SystemTime,
        status: Option<u16>,
        retry_after: Option<Duration>,
        retry: Retry,
        peer: Peer,
        url: &str,
    ) -> Next {
        let delay = retry_after.unwrap_or_else(|| self.backoff());
        self.state.at.retries += 1;
        let until = now
            .checked_add(delay)
            .filter(|until| self.cfg.deadline.is_none_or(|d| *until < d));
        let Some(until) = until else {
            return Err(Error::Timeout {
                peer,
                url: url.to_owned(),
                stage: TimeoutStage::RetryWait,
                status,
                source: None,
            });
        };
        Ok(Go::To(Wait::Backoff { until, retry }, Action::Wait(until)))
    }

    /// 0.5 s, 1 s, 2 s for the first, second and third retry, each cut by a random 0
    /// to 50 % drawn from the caller's seed (so that many clients do not retry in step).
    fn backoff(&self) -> Duration {
        let base = super::FIRST_BACKOFF * 2u32.pow(u32::from(self.state.at.retries.min(4)));
        let r =
            splitmix64(self.cfg.seed ^ u64::from(self.state.at.retries).wrapping_mul(0x9e37_79b9));
        // `r % 501` thousandths of a half: 0 to 50 %.
        base - base / 2 * u32::try_from(r % 501).unwrap_or(0) / 500
    }
}

/// A fast, well-mixed 64-bit hash (SplitMix64), for backoff jitter.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
