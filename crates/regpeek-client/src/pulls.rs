//! What a run spends of registries' pull limits. Docker Hub counts every manifest `GET`
//! as a pull (a `HEAD` is free) and states what is left in `ratelimit-remaining` on
//! every response, `HEAD` included (docs/protocol.md §9). [`Counted`] stands around a
//! run's transports: it counts manifest `GET`s per host, keeps the last
//! `ratelimit-remaining` each host stated, and refuses a `GET` that would spend more
//! than the budget, so that a batch stops before it, while what a `HEAD` or the cache
//! answers goes on.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use regpeek_proto::{RequestKind, Transmit, TransportErrorKind};
use regpeek_ureq::{Reply, Transport, TransportFailure};

/// A run's pulls: the budget, and per host what was spent and what it says is left.
#[derive(Debug, Default)]
pub struct Pulls {
    budget: Option<usize>,
    /// Manifest `GET`s sent and not refused, and those in flight.
    spent: AtomicUsize,
    /// Per host: pulls spent, and the lowest `ratelimit-remaining` it stated.
    hosts: Mutex<BTreeMap<String, (usize, Option<String>)>>,
}

/// The budget is spent: the `GET` was not sent.
#[derive(Debug, thiserror::Error)]
#[error(
    "the pull budget of {budget} is spent (manifest GETs count as pulls; none was sent past it)"
)]
pub struct BudgetSpent {
    /// The budget.
    pub budget: usize,
}

impl Pulls {
    /// At most `budget` manifest `GET`s in the run (`None`: no limit).
    pub fn new(budget: Option<usize>) -> Pulls {
        Pulls {
            budget,
            ..Pulls::default()
        }
    }

    /// Whether the run has a budget.
    pub fn budgeted(&self) -> bool {
        self.budget.is_some()
    }

    /// Pulls spent so far (manifest `GET`s answered `2xx`, and those in flight).
    pub fn spent(&self) -> usize {
        self.spent.load(Ordering::SeqCst)
    }

    /// Per host: pulls spent, and the lowest `ratelimit-remaining` it stated.
    pub fn hosts(&self) -> BTreeMap<String, (usize, Option<String>)> {
        self.hosts.lock().map(|h| h.clone()).unwrap_or_default()
    }

    /// The lowest `ratelimit-remaining` stated so far (for a progress line).
    pub fn remaining(&self) -> Option<String> {
        self.hosts()
            .into_values()
            .filter_map(|(_, r)| r)
            .min_by_key(|r| leading_number(r))
    }

    /// Takes one pull of the budget: `false` when it is spent.
    fn take(&self) -> bool {
        let budget = self.budget.unwrap_or(usize::MAX);
        self.spent
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < budget).then_some(n + 1)
            })
            .is_ok()
    }

    /// Gives a pull back (the `GET` was not answered with a manifest).
    fn give_back(&self) {
        self.spent.fetch_sub(1, Ordering::SeqCst);
    }

    /// Notes a response of `host`: a pull spent, and what it says is left.
    fn note(
        &self,
        host: &str,
        pulled: bool,
        headers: &regpeek_proto::http::HeaderMap,
    ) -> Option<String> {
        let remaining = headers
            .get("ratelimit-remaining")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if !pulled && remaining.is_none() {
            return None;
        }
        let mut hosts = self.hosts.lock().ok()?;
        let entry = hosts.entry(host.to_owned()).or_default();
        entry.0 += usize::from(pulled);
        // What is left only falls within a window: answers that arrive out of order
        // must not raise it again.
        if let Some(r) = &remaining
            && entry
                .1
                .as_deref()
                .is_none_or(|kept| leading_number(r) <= leading_number(kept))
        {
            entry.1 = remaining.clone();
        }
        remaining
    }
}

/// The number a `ratelimit-remaining` starts with (`97;w=21600`: 97).
fn leading_number(value: &str) -> u64 {
    value
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX)
}

/// A transport counting the pulls of the one it stands around.
pub struct Counted {
    /// The transport that sends.
    pub inner: Arc<dyn Transport>,
    /// The run's pulls.
    pub pulls: Arc<Pulls>,
}

/// Whether a request is a pull: a manifest `GET`.
fn is_pull(send: &Transmit) -> bool {
    send.kind == RequestKind::Manifest && send.request.method() == regpeek_proto::http::Method::GET
}

impl Transport for Counted {
    fn send(&self, send: &Transmit, budget: Option<Duration>) -> Result<Reply, TransportFailure> {
        let pull = is_pull(send);
        if pull && !self.pulls.take() {
            let spent = BudgetSpent {
                budget: self.pulls.budget.unwrap_or(0),
            };
            self.inner.trace(&format!("! {spent}"));
            return Err(TransportFailure {
                kind: TransportErrorKind::Declined,
                source: Box::new(spent),
            });
        }
        let result = self.inner.send(send, budget);
        let answered = matches!(&result, Ok(r) if r.response.status().is_success());
        if pull && !answered {
            self.pulls.give_back();
        }
        if let Ok(reply) = &result {
            let host = send.request.uri().authority().map_or("", |a| a.as_str());
            let headers = reply.response.headers();
            if let Some(left) = self.pulls.note(host, pull && answered, headers) {
                self.inner.trace(&format!(
                    "* {host}: ratelimit-remaining {left}; {} pulls spent this run",
                    self.pulls.spent()
                ));
            }
        }
        result
    }

    fn trace(&self, line: &str) {
        self.inner.trace(line);
    }

    fn multiplexes(&self, host: &str) -> bool {
        self.inner.multiplexes(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers every request 200 with `ratelimit-remaining` counting down from 10.
    struct Hub(AtomicUsize);

    impl Transport for Hub {
        fn send(&self, _: &Transmit, _: Option<Duration>) -> Result<Reply, TransportFailure> {
            let left = 10 - self.0.fetch_add(1, Ordering::SeqCst);
            let mut response = regpeek_proto::http::Response::new(Vec::new());
            response.headers_mut().insert(
                "ratelimit-remaining",
                format!("{left};w=21600").parse().unwrap(),
            );
            Ok(Reply::whole(response))
        }
    }

    fn transmit(method: &str, path: &str) -> Transmit {
        let request = regpeek_proto::http::Request::builder()
            .method(method)
            .uri(format!("https://registry-1.docker.io{path}"))
            .body(Vec::new())
            .unwrap();
        let kind = match path.contains("/manifests/") {
            true => RequestKind::Manifest,
            false => RequestKind::Blob,
        };
        Transmit {
            request,
            max_body: 1 << 20,
            kind,
            stream: false,
            deadline: None,
        }
    }

    #[test]
    fn a_budget_stops_manifest_gets_but_never_heads_or_blobs() {
        let pulls = Arc::new(Pulls::new(Some(2)));
        let counted = Counted {
            inner: Arc::new(Hub(AtomicUsize::new(0))),
            pulls: pulls.clone(),
        };
        let get = transmit("GET", "/v2/library/nginx/manifests/1.27");
        let head = transmit("HEAD", "/v2/library/nginx/manifests/1.27");
        let blob = transmit("GET", "/v2/library/nginx/blobs/sha256:00");
        assert!(counted.send(&get, None).is_ok());
        assert!(counted.send(&head, None).is_ok());
        assert!(counted.send(&get, None).is_ok());
        let Err(refused) = counted.send(&get, None) else {
            panic!("a third pull was sent");
        };
        assert_eq!(refused.kind, TransportErrorKind::Declined);
        assert!(
            refused.source.to_string().contains("pull budget of 2"),
            "{refused}"
        );
        assert!(counted.send(&head, None).is_ok(), "HEADs go on");
        assert!(counted.send(&blob, None).is_ok(), "blobs go on");
        assert_eq!(pulls.spent(), 2);
        let hosts = pulls.hosts();
        let (spent, left) = &hosts["registry-1.docker.io"];
        assert_eq!(*spent, 2);
        assert_eq!(left.as_deref(), Some("6;w=21600"), "the lowest stated");
        assert_eq!(pulls.remaining().as_deref(), Some("6;w=21600"));
    }
}
