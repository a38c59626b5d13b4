//! What a run knows of each registry, learnt once and shared by every flow of the run:
//! its client (one keep-alive pool), the credentials it gets (resolved once, so a
//! password is read from stdin or a prompt at most once), what its challenge taught
//! and the tokens it handed out, plain http on loopback, a 429 hold, and where it
//! redirected each blob. This holds with the cache off (`--no-cache`, a recording, a
//! replay) too: the cache on disk only makes it last across runs.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};

use anyhow::Result;
use regpeek_proto::{Flow, Hold, Options, Outcome, Reference, TokenCache, url::Url};
use regpeek_ureq::{Blob, RunError, Transport};

use crate::creds::Found;

/// The run's knowledge of its registries. Every method takes `&self`: workers share one.
#[derive(Default)]
pub struct Registries {
    /// Tokens and what each host taught, merged from every flow of the run.
    tokens: Mutex<TokenCache>,
    /// Credentials by registry, resolved once.
    credentials: Mutex<HashMap<String, Found>>,
    /// Transports by key (the registry, and whether Docker Hub's mirrors apply), with
    /// the registry's API host.
    clients: Arc<Mutex<Clients>>,
    /// A 429's hold by registry.
    holds: Mutex<HashMap<String, Hold>>,
    /// The run's HTTP/2 connections, shared by its registries' transports.
    connections: std::sync::OnceLock<Arc<regpeek_h2::Connections>>,
    /// Where each blob (`registry/repo@digest`) was found, in memory only: a CDN's URL
    /// may be signed.
    locations: Mutex<HashMap<String, Url>>,
    /// First contacts: by registry, and by registry and repository.
    first: Mutex<HashMap<String, Arc<Gate>>>,
}

/// The run's transports by key, with the API host of each key's registry.
type Clients = HashMap<(String, bool), (Arc<dyn Transport>, String)>;

/// A first contact under way: closed until its flow has ended.
#[derive(Default)]
struct Gate {
    done: Mutex<bool>,
    opened: Condvar,
}

/// A flow's turn ([`Registries::turn`]): while it lives, flows waiting to learn from
/// this one's first contact wait. Release it (or drop it) once what the flow learnt is
/// in [`Registries::learn`].
pub struct Turn(Vec<Arc<Gate>>);

impl Turn {
    /// Lets the flows waiting on this one go (again: harmless).
    pub(crate) fn release(&self) {
        for gate in &self.0 {
            if let Ok(mut done) = gate.done.lock() {
                *done = true;
            }
            gate.opened.notify_all();
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.release();
    }
}

impl Registries {
    /// A run that starts knowing `tokens` (from the cache on disk, or nothing).
    pub fn new(tokens: TokenCache) -> Registries {
        Registries {
            tokens: Mutex::new(tokens),
            ..Registries::default()
        }
    }

    /// The tokens and host knowledge of the run so far, for a new flow.
    pub fn tokens(&self) -> TokenCache {
        self.tokens.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// Takes in what a flow learnt (its tokens, challenges, the plain-http fallback).
    pub fn learn(&self, tokens: &TokenCache) {
        if let Ok(mut t) = self.tokens.lock() {
            t.merge(tokens);
        }
    }

    /// A flow's turn at `registry` and `repository`. The first flow of the run to a
    /// registry, and the first to each of its repositories, goes alone: the others wait
    /// until it is past its first contact ([`Registries::run`] releases the turn at
    /// its first 2xx or 3xx), or has ended, then start with what it learnt (the
    /// scheme, the challenge, the repository's token). So a run asks each of these once, whatever its workers do
    /// at the same moment, and a replay meets the requests its recording holds.
    pub fn turn(&self, registry: &str, repository: &str) -> Turn {
        let mut mine = Vec::new();
        for key in [registry.to_owned(), format!("{registry}/{repository}")] {
            let (gate, first) = {
                let Ok(mut gates) = self.first.lock() else {
                    continue;
                };
                match gates.get(&key) {
                    Some(g) => (g.clone(), false),
                    None => {
                        let g = Arc::new(Gate::default());
                        gates.insert(key, g.clone());
                        (g, true)
                    }
                }
            };
            if first {
                mine.push(gate);
                continue;
            }
            let Ok(mut done) = gate.done.lock() else {
                continue;
            };
            while !*done {
                done = match gate.opened.wait(done) {
                    Ok(d) => d,
                    Err(_) => break,
                };
            }
        }
        Turn(mine)
    }

    /// Runs one flow for `r` on `client` to its outcome: in its turn at the registry
    /// ([`Registries::turn`]), starting with what the run knows, within the registry's
    /// 429 hold (`options.hold`), noting a 429's hold for the registry's later flows,
    /// and keeping what it learnt for the run.
    pub fn run(
        &self,
        client: &dyn Transport,
        r: Reference,
        options: Options,
    ) -> Result<Outcome, RunError> {
        let registry = r.registry().to_owned();
        let result = self.in_turn(r, options, |flow, turn| {
            let mut released = false;
            regpeek_ureq::drive(client, flow, &mut |send, reply, tokens| {
                let now = std::time::SystemTime::now();
                if let Some(hold) = reply.ok().and_then(|resp| Hold::of(resp, now)) {
                    self.hold_off(&registry, hold);
                }
                // Past authentication (a registry request answered 2xx or 3xx): what
                // the flow learnt is all the waiting flows need, so they go now, not
                // when this one has also fetched its config.
                let through = reply
                    .is_ok_and(|resp| resp.status().is_success() || resp.status().is_redirection());
                if !released && through && send.kind != regpeek_proto::RequestKind::Token {
                    released = true;
                    self.learn(tokens);
                    turn.release();
                }
            })
        });
        result.map(|(outcome, _)| outcome)
    }

    /// Runs a [`Goal::Blob`](regpeek_proto::Goal::Blob) flow for `r` as [`Registries::run`]
    /// does, asking first where the registry sent the blob earlier in the run and
    /// remembering where it came from this time; the body is the caller's to read and
    /// verify.
    pub(crate) fn run_blob(
        &self,
        client: &dyn Transport,
        r: Reference,
        mut options: Options,
    ) -> Result<(Outcome, Blob), RunError> {
        let key = match &options.goal {
            regpeek_proto::Goal::Blob(digest) => {
                format!("{}/{}@{digest}", r.registry(), r.repository())
            }
            _ => String::new(),
        };
        options.location = self.location(&key);
        let (outcome, body) =
            self.in_turn(r, options, |flow, _| regpeek_ureq::run_blob(client, flow))?;
        if let Outcome::Blob { location, .. } = &outcome {
            self.remember_location(&key, location.clone());
        }
        Ok((outcome, body))
    }

    /// What every flow of the run goes through: the registry's 429 hold, its turn at
    /// the registry and repository, the run's tokens in, and what it learnt kept.
    fn in_turn<T>(
        &self,
        r: Reference,
        mut options: Options,
        go: impl FnOnce(Flow, &Turn) -> (T, TokenCache),
    ) -> T {
        options.hold = options.hold.or_else(|| self.hold(r.registry()));
        let turn = self.turn(r.registry(), r.repository());
        let (result, tokens) = go(Flow::new(r, options, self.tokens()), &turn);
        self.learn(&tokens);
        drop(turn);
        result
    }

    /// `Registries::run_blob` as a [`Source`](crate::source::Source) hands it on:
    /// the body to read, and whether it is the range asked for.
    pub fn blob(
        &self,
        client: &dyn Transport,
        r: Reference,
        options: Options,
    ) -> Result<(Box<dyn std::io::Read + Send>, bool)> {
        let (outcome, body) = self.run_blob(client, r, options)?;
        let partial = matches!(outcome, Outcome::Blob { partial: true, .. });
        Ok((Box::new(body.into_reader()), partial))
    }

    /// Forgets the tokens of `host` and what it taught (after a logout), so that the
    /// run keeps none of them.
    pub fn forget_host(&self, host: &str) {
        if let Ok(mut t) = self.tokens.lock() {
            t.forget_host(host);
        }
    }

    /// The credentials for `key` (a registry, or a registry and repository): resolved
    /// by `resolve` the first time it is asked in the run, then the same answer (the
    /// flag: whether this call resolved them). Resolving holds the run's lock, so two
    /// workers never prompt at once.
    pub fn credentials(
        &self,
        key: &str,
        resolve: impl FnOnce() -> Result<Found>,
    ) -> Result<(Found, bool)> {
        let mut known = self
            .credentials
            .lock()
            .map_err(|_| anyhow::anyhow!("internal: a worker panicked"))?;
        if let Some(found) = known.get(key) {
            return Ok((found.clone(), false));
        }
        let found = resolve()?;
        known.insert(key.to_owned(), found.clone());
        Ok((found, true))
    }

    /// The run's transport for `key` (one keep-alive pool, or one HTTP/2 connection),
    /// made by `make` the first time; `api_host` is where the key's registry answers
    /// (`host[:port]`).
    pub fn client(
        &self,
        key: (String, bool),
        api_host: &str,
        make: impl FnOnce() -> Result<Arc<dyn Transport>>,
    ) -> Result<Arc<dyn Transport>> {
        let mut clients = self
            .clients
            .lock()
            .map_err(|_| anyhow::anyhow!("internal: a worker panicked"))?;
        if let Some((client, _)) = clients.get(&key) {
            return Ok(client.clone());
        }
        let client = make()?;
        clients.insert(key, (client.clone(), api_host.to_owned()));
        Ok(client)
    }

    /// The run's HTTP/2 connections (their runtime started the first time).
    pub fn connections(&self) -> Result<Arc<regpeek_h2::Connections>> {
        if let Some(c) = self.connections.get() {
            return Ok(c.clone());
        }
        let made = regpeek_h2::Connections::new()?;
        Ok(self.connections.get_or_init(|| made).clone())
    }

    /// `--jobs` left to the run: each lane (a registry) as many at once as its
    /// transport carries, asked once the lane's first reference is answered.
    pub fn jobs(&self) -> crate::batch::Jobs {
        let clients = self.clients.clone();
        crate::batch::Jobs::auto(Arc::new(move |registry: &str| {
            let Ok(clients) = clients.lock() else {
                return false;
            };
            clients
                .iter()
                .any(|((r, _), (client, host))| r == registry && client.multiplexes(host))
        }))
    }

    /// The hold a 429 of `registry` asked for, if any.
    pub fn hold(&self, registry: &str) -> Option<Hold> {
        self.holds.lock().ok()?.get(registry).cloned()
    }

    /// Notes a 429's hold of `registry`, for its later flows.
    pub(crate) fn hold_off(&self, registry: &str, hold: Hold) {
        if let Ok(mut m) = self.holds.lock() {
            m.insert(registry.to_owned(), hold);
        }
    }

    /// Where the registry sent the blob `key` (`registry/repo@digest`) earlier in this
    /// run, if it did.
    pub fn location(&self, key: &str) -> Option<Url> {
        self.locations.lock().ok()?.get(key).cloned()
    }

    /// Notes where the blob `key` came from (or, with `None`, that it came from the
    /// registry itself).
    pub(crate) fn remember_location(&self, key: &str, location: Option<Url>) {
        if let Ok(mut held) = self.locations.lock() {
            match location {
                Some(l) => held.insert(key.to_owned(), l),
                None => held.remove(key),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Condvar, Mutex};
    use std::time::Duration;

    use regpeek_proto::{Goal, Options, Platform, Reference, TokenCache, Transmit, http};
    use regpeek_ureq::{Reply, Transport, TransportFailure};

    use super::Registries;

    const MANIFEST: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;

    /// A registry whose config blob, asked by the first image, is answered only once
    /// the second image's manifest has been asked (or 500 after a few seconds).
    #[derive(Default)]
    struct Gated {
        seen: Mutex<Vec<String>>,
        changed: Condvar,
    }

    impl Gated {
        /// Waits until `pred` holds of the requests seen, or `limit` passes.
        fn wait(&self, limit: Duration, pred: impl Fn(&[String]) -> bool) -> bool {
            let seen = self.seen.lock().unwrap();
            let (seen, _) = self
                .changed
                .wait_timeout_while(seen, limit, |s| !pred(s))
                .unwrap();
            pred(&seen)
        }
    }

    impl Transport for Gated {
        fn send(&self, send: &Transmit, _: Option<Duration>) -> Result<Reply, TransportFailure> {
            let path = send.request.uri().path().to_owned();
            self.seen.lock().unwrap().push(path.clone());
            self.changed.notify_all();
            let ok = |body: &[u8], ctype: &str| {
                let r = http::Response::builder()
                    .status(200)
                    .header("content-type", ctype)
                    .header("content-length", body.len())
                    .body(body.to_vec())
                    .unwrap();
                Ok(Reply::whole(r))
            };
            if path.contains("/blobs/") {
                let b_asked = |s: &[String]| s.iter().any(|p| p.ends_with("/manifests/b"));
                if !self.wait(Duration::from_secs(5), b_asked) {
                    let r = http::Response::builder().status(500).body(Vec::new());
                    return Ok(Reply::whole(r.unwrap()));
                }
                return ok(b"{}", "application/vnd.oci.image.config.v1+json");
            }
            ok(MANIFEST, "application/vnd.oci.image.manifest.v1+json")
        }
    }

    /// The first flow to a repository goes alone only until it is past its first
    /// contact (here, its manifest's 2xx): a second image's flow starts while the first
    /// still fetches its config, not after it ends.
    #[test]
    fn the_first_flow_lets_the_others_go_once_past_its_first_contact() {
        let registries = Arc::new(Registries::new(TokenCache::default()));
        let transport = Arc::new(Gated::default());
        let inspect = || Options::new(Goal::Inspect(Platform::new("linux", "amd64", None)));
        let run = |tag: &str| {
            let (registries, transport) = (registries.clone(), transport.clone());
            let r = Reference::parse(&format!("registry.example/app:{tag}")).unwrap();
            std::thread::spawn(move || registries.run(&*transport, r, inspect()))
        };
        let a = run("a");
        // `a` has the turn before `b` asks for it.
        assert!(transport.wait(Duration::from_secs(5), |s| !s.is_empty()));
        let b = run("b");
        let a = a.join().unwrap();
        let b = b.join().unwrap();
        let a = a.unwrap_or_else(|e| panic!("the first image: {e}"));
        assert!(b.is_ok());
        // Its config came, once the second image's manifest had been asked.
        assert!(a.into_image().unwrap().config.is_some());
    }
}
