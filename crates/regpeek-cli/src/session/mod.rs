//! The session: everything a command line resolves once (the cache, `--offline`, the
//! deadline's start, what stands between the clients and the network for `--record`
//! and `replay`, how output is printed) and the decisions built on it (credentials,
//! TLS and options for a registry), passed down to every command. No process-wide
//! mutable state: a replay runs its recorded command line in a session of its own.

pub mod credentials;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use regpeek_proto::{Credentials, Goal, Options, Outcome, Reference};
use regpeek_ureq::{ClientOptions, Transport};

use crate::args::{Cli, Command, Common, OutputFormat};
use crate::errors::usage;
use crate::output::Printer;
use crate::{flags, output, record};
pub use credentials::CredsUsed;
use regpeek_client::registries::Registries;
use regpeek_client::{cache, creds, mirrors, tls};

/// What a command line resolved to, for every command to use.
pub struct Session {
    /// The cache across runs (none with `--no-cache`, `--record`, or in a replay).
    pub cache: Option<Arc<cache::Cache>>,
    /// `--offline`: nothing is sent; answers come from the cache.
    pub offline: bool,
    /// When the command started: its deadline counts from here.
    pub started: SystemTime,
    /// In a replay: the recording, answering in the network's place.
    pub replaying: Option<Arc<record::Replaying>>,
    /// Local layouts and archives (`oci:`, `oci-archive:`), answering from disk.
    pub layouts: Arc<crate::local::Layouts>,
    /// `--record DIR`: written when the command ends.
    pub recording: Option<Arc<record::Recording>>,
    /// In a replay: per registry, the credentials the recorded run used (stand-ins
    /// for the secrets); the machine's own credential files play no part.
    pub replay_credentials: Option<BTreeMap<String, Option<Credentials>>>,
    /// In a replay: the kept input files, by the names the recorded run gave them.
    pub replay_names: std::collections::HashMap<std::path::PathBuf, String>,
    /// How output is printed.
    pub out: Printer,
    /// Where the credentials of the last registry came from, for hints.
    creds_used: Mutex<Option<CredsUsed>>,
    /// Warnings already said once.
    warned: Mutex<Vec<String>>,
    /// What the layers read in this run hold, by digest (`cat`, `ls`, `os`).
    pub layer_index: regpeek_client::layers::Index,
    /// What the run knows of each registry: clients, credentials, tokens, holds.
    pub registries: Registries,
    /// The proxies of the environment, read once.
    proxies: Arc<regpeek_client::proxies::Proxies>,
    /// The pulls the run spends (`--pull-budget`), counted around every registry's
    /// transport.
    pub pulls: std::sync::OnceLock<Arc<regpeek_client::pulls::Pulls>>,
    /// The registry that --creds, --username or --registry-token are for: the one
    /// registry the command reaches ([`Session::scope_credentials`]), else the first
    /// that asks.
    flagged_registry: Mutex<Option<String>>,
}

/// What a replay brings to the session of the command line it runs again.
pub struct Replayed {
    /// The recording, answering in the network's place.
    pub exchanges: Arc<record::Replaying>,
    /// Per registry, the credentials the recorded run used (stand-ins).
    pub credentials: BTreeMap<String, Option<Credentials>>,
    /// The kept input files, by the names the recorded run gave them.
    pub names: std::collections::HashMap<std::path::PathBuf, String>,
    /// The recording's directory: the only place a replayed command line may name.
    pub dir: std::path::PathBuf,
}

impl Session {
    /// A session with nothing resolved yet: no cache, online, printing to stdout.
    pub fn new(started: SystemTime, out: Printer) -> Session {
        Session {
            cache: None,
            offline: false,
            started,
            replaying: None,
            layouts: Arc::default(),
            recording: None,
            replay_credentials: None,
            replay_names: Default::default(),
            out,
            creds_used: Mutex::new(None),
            warned: Mutex::new(Vec::new()),
            layer_index: regpeek_client::layers::Index::default(),
            registries: Registries::default(),
            proxies: Arc::new(regpeek_client::proxies::Proxies::from_process()),
            pulls: std::sync::OnceLock::new(),
            flagged_registry: Mutex::new(None),
        }
    }

    /// Options and a client for one registry: credentials, scheme, TLS, trace.
    pub fn prepare(
        &self,
        r: &Reference,
        common: &Common,
        goal: Goal,
    ) -> Result<(Options, Arc<dyn Transport>)> {
        self.prepare_as(r, common, goal, None)
    }

    /// [`prepare`], with these credentials instead of the ones the flags and files give.
    pub fn prepare_as(
        &self,
        r: &Reference,
        common: &Common,
        goal: Goal,
        credentials: Option<creds::Found>,
    ) -> Result<(Options, Arc<dyn Transport>)> {
        let mut options = Options::new(goal);
        // Resolved once per run: a password is read from stdin or a prompt at most
        // once, and a helper runs once per registry and repository.
        let (found, first) = match credentials {
            Some(found) => (found, true),
            None => self
                .registries
                .credentials(&self.credentials_key(r, common), || {
                    self.resolve_credentials(r, common)
                })?,
        };
        if let Some(recording) = self.recording.as_ref() {
            recording.note_credentials(r.registry(), found.credentials.as_ref());
        }
        self.remember_credentials(&found);
        if let Some(w) = &found.warning {
            self.warn_once(w);
        }
        if common.verbose > 0 && first {
            // "none (anonymous)" already says what kind it is.
            match found.credentials {
                None => eprintln!(
                    "regpeek: credentials for {}: {}",
                    r.registry(),
                    found.source
                ),
                Some(_) => eprintln!(
                    "regpeek: credentials for {}: {} ({})",
                    r.registry(),
                    found.source,
                    found.kind()
                ),
            }
        }
        options.credentials = found.credentials;
        options.security = flags::security(common);
        let (mut tls, dir) = tls::options_for(
            r.registry(),
            r.api_host(),
            common.reach.cert_dir.as_deref(),
            common.reach.ca_file.as_deref(),
            flags::insecure(common),
        )?;
        if flags::insecure(common) {
            // Once per host, however many flows a command runs there.
            self.warn_once(&format!(
                "TLS certificate verification is OFF for {} (--insecure)",
                r.api_host()
            ));
        }
        if let (Some(d), true) = (&dir, common.verbose > 0) {
            eprintln!(
                "regpeek: TLS settings for {} from {}",
                r.api_host(),
                d.display()
            );
        }
        let trace: Option<regpeek_ureq::Trace> = (common.verbose > 0).then(|| {
            Arc::new(|line: &str| eprintln!("{}", output::safe_line(line))) as regpeek_ureq::Trace
        });
        options.deadline = self.deadline(common)?;
        options.seed = self.seed();
        // A local image is read from disk, --offline or not.
        options.offline = self.offline && r.registry() != crate::local::REGISTRY;
        if matches!(
            options.goal,
            Goal::Digest(_) | Goal::Manifest(_) | Goal::Inspect(_) | Goal::Referrers { .. }
        ) {
            options.known = self.known_for(r, None);
        }
        let image_goal = options.goal.uses_mirrors();
        // A replay asks only what the recorded run asked: no mirrors of this machine's.
        if r.registry() == regpeek_proto::DOCKER_HUB
            && image_goal
            && self.replay_credentials.as_ref().is_none()
        {
            self.add_mirrors(r, common, &mut options, &mut tls)?;
        }
        let local = r.registry() == crate::local::REGISTRY;
        if local && (self.recording.is_some() || self.replaying.is_some()) {
            return Err(usage(
                "a local layout (oci:DIR) is read from disk: there is nothing to record or replay",
            ));
        }
        // One transport (one keep-alive pool) per registry for the whole run: a command
        // that reads several layers, or looks several times, reuses its connections.
        // It depends only on the registry's TLS settings (and, on Docker Hub, its
        // mirrors'), which a run does not change. In the network's place: a local
        // layout, or a replay; around it: a recording.
        let key = (r.registry().to_owned(), image_goal);
        let client = self.registries.client(key, r.api_host(), || {
            if local {
                return Ok(self.layouts.clone() as Arc<dyn Transport>);
            }
            let pulls = self
                .pulls
                .get_or_init(|| {
                    let budget = common.reach.pull_budget.map(|n| n as usize);
                    Arc::new(regpeek_client::pulls::Pulls::new(budget))
                })
                .clone();
            let counted = |inner: Arc<dyn Transport>| -> Arc<dyn Transport> {
                Arc::new(regpeek_client::pulls::Counted { inner, pulls })
            };
            if let Some(replaying) = &self.replaying {
                return Ok(counted(replaying.clone()));
            }
            let proxies = self.proxies.clone();
            let options = ClientOptions {
                tls,
                trace,
                proxy_for: Some(Arc::new(move |uri| proxies.for_uri(uri))),
                ..ClientOptions::default()
            };
            let network = regpeek_client::network(&options, flags::http(common), &self.registries)?;
            Ok(counted(match &self.recording {
                Some(recording) => Arc::new(record::Recorded {
                    inner: network,
                    recording: recording.clone(),
                }),
                None => network,
            }))
        })?;
        Ok((options, client))
    }

    /// `--jobs` as asked, else as each registry's transport carries them.
    pub fn jobs(&self, asked: Option<u32>) -> regpeek_client::batch::Jobs {
        match asked {
            Some(n) => regpeek_client::batch::Jobs::Fixed(n as usize),
            None => self.registries.jobs(),
        }
    }

    /// How a file the command line names is shown: as given (in a replay, as the
    /// recorded run gave it, not where the recording keeps it).
    pub fn shown(&self, path: &std::path::Path) -> String {
        match self.replay_names.get(path) {
            Some(name) => name.clone(),
            None if path == std::path::Path::new("-") => "standard input".to_owned(),
            None => path.display().to_string(),
        }
    }

    /// Prints a warning of ours once per run, however many references meet it.
    pub fn warn_once(&self, warning: &str) {
        let Ok(mut said) = self.warned.lock() else {
            return;
        };
        if !said.iter().any(|w| w == warning) {
            said.push(warning.to_owned());
            eprintln!(
                "regpeek: warning: {}",
                output::safe_line(&crate::local::humane(warning))
            );
        }
    }

    /// What the caller holds for a reference: content from `held` (a batch's), then from
    /// the cache, read only when the flow asks; and where the cache saw the reference
    /// resolve at this repository.
    pub fn known_for(
        &self,
        r: &Reference,
        in_memory: Option<cache::InMemory>,
    ) -> regpeek_proto::Known {
        // A local image is read from disk, never from the cache.
        let cache = match r.registry() == crate::local::REGISTRY {
            true => None,
            false => self.cache.clone(),
        };
        cache::known(cache, in_memory, r)
    }

    /// Keeps what an inspection fetched in the cache.
    pub fn remember(&self, insp: &regpeek_proto::Inspection) {
        // A local image is on disk already: the cache keeps registries' content.
        // Offline, everything came from the cache: nothing to keep.
        if insp.reference.registry() == crate::local::REGISTRY || self.offline {
            return;
        }
        if let Some(c) = self.cache.as_ref() {
            let _ = c.remember(insp);
        }
    }

    /// After the run, on stderr: what it spent of Docker Hub's pull limit (each manifest
    /// `GET` there is a pull: `platforms` spends one for the index and one a platform,
    /// none for what the cache holds), for `platforms` (`always`) and whenever
    /// `--pull-budget` was given.
    pub fn say_pulls(&self, always: bool) {
        let Some(pulls) = self.pulls.get() else {
            return;
        };
        let hub = regpeek_proto::Reference::for_registry(regpeek_proto::DOCKER_HUB)
            .map(|r| r.api_host().to_owned())
            .unwrap_or_default();
        for (host, (spent, left)) in pulls.hosts() {
            let said =
                (host == hub && (always || pulls.budgeted())) || (pulls.budgeted() && spent > 0);
            if !said {
                continue;
            }
            let left = left
                .map(|l| format!(" (ratelimit-remaining {})", output::safe_line(&l)))
                .unwrap_or_default();
            let which = if host == hub {
                "Docker Hub"
            } else {
                host.as_str()
            };
            eprintln!("regpeek: {spent} pulls spent on {which}{left}");
        }
    }

    /// Keeps the run's tokens and what its registries taught in the cache, merged into
    /// what other runs kept meanwhile, writes what waits, and prunes when due: once,
    /// when the command ends. A cache that failed to write says so, once.
    pub fn save_tokens(&self) {
        if let Some(c) = self.cache.as_ref() {
            let learnt = self.registries.tokens();
            let _ = c.update_tokens(|kept| kept.merge(&learnt));
            c.finish();
            if let Some(why) = c.write_failure() {
                self.warn_once(&cache_warning(&why));
            }
        }
    }

    /// The deadline from `--timeout` (`0`: none), counted from the start of the
    /// reference being answered ([`Common::starting_now`]), else of the command.
    pub fn deadline(&self, common: &Common) -> Result<Option<std::time::SystemTime>> {
        deadline_from(common, common.started.unwrap_or(self.started))
    }

    /// A seed for retry jitter that differs between processes.
    pub fn seed(&self) -> u64 {
        let nanos = self
            .started
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        (u64::from(std::process::id()) << 32) ^ u64::from(nanos)
    }

    /// One flow for `r` towards `goal`, run to its outcome on the registry's client
    /// ([`Session::prepare`], then [`Registries::run`]).
    pub fn run(&self, r: &Reference, common: &Common, goal: Goal) -> Result<Outcome> {
        let (options, client) = self.prepare(r, common, goal)?;
        Ok(self.registries.run(&*client, r.clone(), options)?)
    }

    /// Docker Hub mirrors from registries.conf and daemon.json, tried by the core before
    /// Docker Hub itself. A mirror gets only credentials stored for its own host, never
    /// Docker Hub's, and its certs.d CAs are trusted too.
    fn add_mirrors(
        &self,
        r: &Reference,
        common: &Common,
        options: &mut Options,
        tls: &mut regpeek_ureq::TlsOptions,
    ) -> Result<()> {
        let env = creds::Env::from_process(common.credentials.authfile.clone());
        for mirror in mirrors::docker_hub_mirrors()? {
            let Some(host) = mirror.url.host_str() else {
                bail!("mirror {} has no host", mirror.url);
            };
            let host = match mirror.url.port() {
                Some(p) => format!("{host}:{p}"),
                None => host.to_owned(),
            };
            let found = creds::lookup(&host, r.repository(), &env)?;
            let (mirror_tls, _) =
                tls::options_for(&host, &host, None, None, flags::insecure(common))?;
            // Its CAs are trusted for what it redirects to as well; its client
            // certificate is shown to it alone.
            tls.extra_roots
                .extend(mirror_tls.extra_roots.iter().cloned());
            if mirror_tls.client_cert.is_some() {
                tls.per_host.push((host.clone(), mirror_tls));
            }
            if common.verbose > 0 {
                eprintln!(
                    "regpeek: mirror {} (from {}), credentials: {}",
                    mirror.url,
                    mirror.source.display(),
                    found.source
                );
            }
            options.mirrors.push(regpeek_proto::Mirror {
                url: mirror.url,
                credentials: found.credentials,
            });
        }
        Ok(())
    }

    /// The session of a parsed command line: its recording or replay, its cache, and
    /// how it prints; refuses (exit 2) flags that cannot apply together.
    pub fn open(
        cli: &mut Cli,
        argv: &[std::ffi::OsString],
        started: SystemTime,
        replayed: Option<Replayed>,
    ) -> Result<Session> {
        if let Some(expr) = &cli.jq {
            if matches!(
                cli.command,
                Command::Blob { .. }
                    | Command::Completions { .. }
                    | Command::Auth { .. }
                    | Command::Login { .. }
                    | Command::Logout { .. }
            ) {
                return Err(usage(
                    "--jq applies to JSON output; this command prints none",
                ));
            }
            crate::jq::check(expr).map_err(|e| usage(format!("{e:#}")))?;
        }
        let mut session = Session::new(started, Printer::for_stdout(cli.jq.clone()));
        if let Some(dir) = &cli.record {
            let unrecordable = match &cli.command {
                Command::Login { .. } | Command::Logout { .. } | Command::Auth { .. } => {
                    Some("credentials: login, logout and auth change or show stored secrets")
                }
                Command::Cache { .. } => Some("the cache: it sends no request"),
                Command::Completions { .. } | Command::Man { .. } => Some("help texts"),
                Command::Replay { .. } => Some("a replay: it sends no request"),
                Command::Pin { check, diff, .. } if !check && !diff => Some(
                    "pin as it writes files (a replay would rewrite the recording's copies): record `pin --diff` or `pin --check`",
                ),
                _ => None,
            };
            if let Some(what) = unrecordable {
                return Err(usage(format!("--record cannot record {what}")));
            }
            if cli.offline {
                return Err(usage(
                    "--record records a run over the network, and --offline sends nothing",
                ));
            }
            if replayed.is_some() {
                return Err(usage("a replay cannot be recorded"));
            }
            session.recording = Some(Arc::new(record::Recording::start(dir, argv, cli.force)?));
        }
        if let Some(r) = replayed {
            session.replaying = Some(r.exchanges);
            session.replay_credentials = Some(r.credentials);
            session.replay_names = r.names;
        }
        if session.recording.is_some() || session.replaying.is_some() {
            // A recording starts cold, so that it holds every exchange its replay
            // needs; a replay knows nothing a cache taught.
            cli.no_cache = true;
        }
        if !cli.no_cache {
            // A cache that cannot be opened (a read-only home) only costs speed.
            match cache::Cache::open(cli.cache_dir.as_deref()) {
                Ok(c) => {
                    // An index that cannot be used costs speed, never the answer;
                    // --offline has nothing else to answer from.
                    if let Some(why) = c.problem() {
                        if cli.offline {
                            return Err(anyhow::anyhow!(
                                "--offline answers from the cache, and its index cannot be used: {why} (regpeek cache clear starts a new one)"
                            ));
                        }
                        if !matches!(cli.command, Command::Cache { .. }) {
                            session.warn_once(&cache_warning(&why));
                        }
                    }
                    session.cache = Some(Arc::new(c));
                    // What layers hold lasts across runs too.
                    session.layer_index = regpeek_client::layers::Index::keeping(
                        session
                            .cache
                            .clone()
                            .map(|c| c as Arc<dyn regpeek_client::contents::Keep>),
                    );
                }
                Err(e) if cli.cache_dir.is_some() || cli.offline => return Err(e),
                Err(_) => {}
            }
        }
        session.registries = Registries::new(
            session
                .cache
                .as_ref()
                .map(|c| c.tokens())
                .unwrap_or_default(),
        );
        session.offline = cli.offline;
        if cli.offline && session.cache.is_none() {
            return Err(usage(
                "--offline answers from the cache, and the cache is off (--no-cache)",
            ));
        }
        let table = match &cli.command {
            Command::Inspect { output, .. }
            | Command::Platforms { output, .. }
            | Command::Referrers { output, .. } => *output == OutputFormat::Table,
            Command::Tags { list, .. } | Command::Catalog { list, .. } => {
                list.output == Some(OutputFormat::Table)
            }
            _ => false,
        };
        if table {
            session.out.refuse_table_with_jq()?;
        }
        Ok(session)
    }

    /// Prints registry warnings (`Warning: 299`).
    pub fn warn(&self, warnings: &[String]) {
        for w in warnings {
            eprintln!("regpeek: registry warning: {}", output::safe_line(w));
        }
    }

    /// Writes the recording, if this run is recorded.
    pub fn finish_recording(&self) -> Result<()> {
        match &self.recording {
            Some(r) => r.finish(),
            None => Ok(()),
        }
    }
}

/// `--timeout` counted from `start` (a batch gives each reference its own).
pub fn deadline_from(
    common: &Common,
    start: std::time::SystemTime,
) -> Result<Option<std::time::SystemTime>> {
    Ok(timeout_budget(common)?.and_then(|b| start.checked_add(b)))
}

/// `--timeout` as a duration (`None` for `0`: no deadline).
pub fn timeout_budget(common: &Common) -> Result<Option<std::time::Duration>> {
    let secs = common.reach.timeout;
    if secs == 0.0 {
        return Ok(None);
    }
    let budget = std::time::Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| *d <= std::time::Duration::from_secs(365 * 86_400))
        .with_context(|| format!("--timeout {secs}: give seconds from 0 to 31536000"))?;
    Ok(Some(budget))
}

/// The one warning a cache that cannot be used gives: what, and the remedy.
fn cache_warning(why: &str) -> String {
    format!(
        "the cache is not used: {why}; the command goes on without it (regpeek cache clear starts a new one)"
    )
}
