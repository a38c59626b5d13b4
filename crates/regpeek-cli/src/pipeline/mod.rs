//! One pipeline for every command that takes image references: `inspect`,
//! `manifest`, `config`, `digest`, `ratelimit` and `platforms`, with one reference or
//! many (`inspect A B C`, `--file F`, `--from compose.yaml`), and the lookups of `pin`
//! ([`digests`]). A reference is a batch of one.
//!
//! Flows run in parallel (`--jobs` per registry), one client (so one connection pool)
//! per registry and one token cache for the run: the first reference of each registry
//! goes first, so a registry is challenged and a repository's token fetched once;
//! identical references are inspected once; a 429 from a registry holds back every
//! worker that would ask it next.
//!
//! Output: one reference typed alone prints as itself (the summary, the exact bytes,
//! the bare digest, rows); several (or `--file`, `--from`) print one JSON object per
//! line, in input order, each as soon as it and those before it are known; a failure
//! is `{"Reference": …, "Error": …}` and the others go on; exit 1 if any failed.
//! What cannot apply to several (`-o table`) is refused with exit 2 before anything
//! is sent.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Result, bail};
use regpeek_proto::{Flow, Goal, Inspection, Options};
use regpeek_ureq::Client;
use serde_json::{Map, Value};

use crate::args::{Command, Common, OutputFormat};
use crate::session::Session;
use crate::summary::{self, PlatformRow};

mod print;

use print::{print_single, to_line};

/// What is printed for each reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `inspect`: the summary (JSON).
    Summary,
    /// `inspect -o table`: the summary as field and value.
    Table,
    /// `inspect --raw`: the top-level manifest or index as served.
    Raw,
    /// `manifest`: the manifest as served (with `--platform`, that platform's).
    Manifest,
    /// `config`, `inspect --config`: the config blob as stored.
    Config,
    /// `ratelimit`: the pull limit the registry states.
    RateLimit,
    /// `digest` (`--full-ref`: as `name@digest`).
    Digest {
        /// Print `name@digest`.
        full_ref: bool,
    },
    /// `platforms`, `inspect --platform all`: one row per platform.
    Platforms(OutputFormat),
    /// `history`: the config's history, matched to layers.
    History(OutputFormat),
}

/// The image Docker documents for checking its pull limit.
const DOCKER_HUB_CHECK: &str = "docker.io/ratelimitpreview/test:latest";

/// The references of a command and how to answer them.
pub struct Job<'a> {
    shape: Shape,
    references: Vec<String>,
    /// Where each reference was read (`--file`, `--from`); `None` when typed.
    sources: Vec<Option<String>>,
    /// The platform the file asks of each (`FROM --platform=`, compose's
    /// `platform:`), which it is answered for; `None`: the command's.
    platforms: Vec<Option<regpeek_proto::Platform>>,
    /// One reference, typed alone: printed as itself, not as a JSON line.
    single: bool,
    common: &'a Common,
    session: &'a Session,
    jobs: usize,
    /// Digests by `HEAD` only ([`regpeek_proto::Options::pull_free`]).
    pull_free: bool,
}

impl<'a> Job<'a> {
    /// The job of a command that takes image references; `None` for the others.
    pub fn from_command(command: &'a Command, session: &'a Session) -> Result<Option<Job<'a>>> {
        let (shape, refs, batch, common) = match command {
            Command::Inspect {
                references,
                batch,
                raw,
                config,
                output,
                common,
                ..
            } => {
                let shape = if common.platform.as_deref() == Some("all") {
                    Shape::Platforms(*output)
                } else if *raw {
                    Shape::Raw
                } else if *config {
                    Shape::Config
                } else if *output == OutputFormat::Table {
                    Shape::Table
                } else {
                    Shape::Summary
                };
                (shape, references, batch, common)
            }
            Command::Platforms {
                references,
                batch,
                output,
                common,
            } => (Shape::Platforms(*output), references, batch, common),
            Command::History {
                references,
                batch,
                output,
                common,
            } => (Shape::History(*output), references, batch, common),
            Command::Manifest {
                references,
                batch,
                common,
            } => (Shape::Manifest, references, batch, common),
            Command::Config {
                references,
                batch,
                common,
            } => (Shape::Config, references, batch, common),
            Command::Digest {
                references,
                full_ref,
                batch,
                common,
            } => (
                Shape::Digest {
                    full_ref: *full_ref,
                },
                references,
                batch,
                common,
            ),
            Command::Ratelimit {
                references,
                batch,
                common,
            } => (Shape::RateLimit, references, batch, common),
            _ => return Ok(None),
        };
        // `ratelimit` alone asks about Docker Hub.
        let default = [DOCKER_HUB_CHECK.to_owned()];
        let refs = match (shape, refs.is_empty(), &batch.file, &batch.from) {
            (Shape::RateLimit, true, None, None) => &default[..],
            _ => &refs[..],
        };
        let single = refs.len() == 1 && batch.file.is_none() && batch.from.is_none();
        if refs.is_empty() && batch.file.is_none() && batch.from.is_none() {
            return Err(crate::errors::usage(
                "give an image reference (or several, or --file, or --from)",
            ));
        }
        let table = matches!(
            shape,
            Shape::Table
                | Shape::Platforms(OutputFormat::Table)
                | Shape::History(OutputFormat::Table)
        );
        if !single && table {
            return Err(crate::errors::usage(
                "-o table shows one image; with several references (or --file, --from) the output is JSON lines, one per reference (filter them with --jq)",
            ));
        }
        let stdin = std::path::Path::new("-");
        let readers = [
            batch.file.as_deref() == Some(stdin),
            batch.from.as_deref() == Some(stdin),
            common.credentials.password_stdin,
        ];
        if readers.iter().filter(|r| **r).count() > 1 {
            return Err(crate::errors::usage(
                "standard input can be read once: give only one of --file -, --from - and --password-stdin",
            ));
        }
        let mut all = refs.to_vec();
        let collected = crate::inputs::collect(batch, &|p| session.shown(p))?;
        for warning in &collected.warnings {
            session.warn_once(warning);
        }
        let mut sources = vec![None; all.len()];
        sources.extend(collected.sources.iter().cloned().map(Some));
        let mut platforms = vec![None; all.len()];
        for (source, asked) in collected.sources.iter().zip(&collected.platforms) {
            platforms.push(asked.as_deref().and_then(|p| {
                match regpeek_proto::Platform::parse(p, "amd64") {
                    Ok(p) => Some(p),
                    Err(e) => {
                        session
                            .warn_once(&format!("{source}: {e}; the command's platform is used"));
                        None
                    }
                }
            }));
        }
        all.extend(collected.references);
        if all.is_empty() {
            bail!("no image references found");
        }
        session.scope_credentials(common, all.iter().map(String::as_str))?;
        Ok(Some(Job {
            shape,
            references: all,
            sources,
            platforms,
            single,
            common,
            session,
            jobs: batch.jobs as usize,
            pull_free: false,
        }))
    }
}

/// What one reference gave.
pub enum Answer {
    /// An image (or its digest).
    Image(Box<Inspection>),
    /// Every platform of an image.
    Platforms(Vec<PlatformRow>),
}

/// Runs a batch and prints one JSON object per input line, each as soon as it and
/// every line before it are known.
///
/// Each registry is served by workers of its own (`--jobs` of them), so that a
/// registry that never answers, or asks to slow down, holds up only its own
/// references; each reference has its own deadline, counted from when it starts.
/// A registry's first reference goes alone: its challenge and token serve the others.
pub fn run(job: Job, out: &mut impl Write) -> Result<ExitCode> {
    let session = job.session;
    if job.single {
        let shared = Shared::new();
        let result = answer(&job, &shared, &job.references[0], None);
        print_single(out, &job, result?)?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let failed = batch(&job, |i, value| {
        match job.sources.get(i).cloned().flatten() {
            // `Source` follows `Reference`: where the file names it.
            Some(source) => {
                let mut line = Map::new();
                let fields = value.as_object().into_iter().flatten();
                for (k, v) in fields {
                    line.insert(k.clone(), v.clone());
                    if k == "Reference" {
                        line.insert("Source".into(), Value::String(source.clone()));
                    }
                }
                session.out.line(out, &Value::Object(line))?;
            }
            None => session.out.line(out, value)?,
        }
        out.flush()?;
        Ok(())
    })?;
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The digests `references` resolve to now (with `--platform`, that platform's), in
/// order, each an error of its own, through the same batch as `digest A B C`:
/// workers per registry, the cache, holds, deadlines. Pull-free (`HEAD` only) unless
/// a platform is asked, which reads the index.
pub fn digests(
    session: &Session,
    common: &Common,
    references: Vec<String>,
    jobs: usize,
) -> Result<Vec<Result<regpeek_proto::Digest, String>>> {
    let pull_free = crate::flags::explicit_platform(common)?.is_none();
    session.scope_credentials(common, references.iter().map(String::as_str))?;
    let job = Job {
        shape: Shape::Digest { full_ref: false },
        sources: Vec::new(),
        platforms: Vec::new(),
        references,
        single: false,
        common,
        session,
        jobs,
        pull_free,
    };
    let mut out = Vec::with_capacity(job.references.len());
    batch(&job, |_, value| {
        out.push(
            match (
                value.get("Digest").and_then(Value::as_str),
                value.get("Error"),
            ) {
                (Some(d), _) => regpeek_proto::Digest::parse(d).map_err(|e| e.to_string()),
                (None, Some(Value::String(e))) => Err(e.clone()),
                _ => Err("no digest in the answer".to_owned()),
            },
        );
        Ok(())
    })?;
    Ok(out)
}

/// Runs the references of `job` as a batch, handing `each` one JSON object per input
/// reference (with its index), in input order, each as soon as it and every one
/// before it are known. True when any failed.
fn batch(job: &Job, mut each: impl FnMut(usize, &Value) -> Result<()>) -> Result<bool> {
    // Identical references (for the same platform) are inspected once.
    let mut unique: Vec<(String, Option<regpeek_proto::Platform>)> = Vec::new();
    let mut slot_of: Vec<usize> = Vec::with_capacity(job.references.len());
    for (i, r) in job.references.iter().enumerate() {
        let key = (r.clone(), job.platforms.get(i).cloned().flatten());
        match unique.iter().position(|u| *u == key) {
            Some(i) => slot_of.push(i),
            None => {
                slot_of.push(unique.len());
                unique.push(key);
            }
        }
    }
    // References by registry, in input order (an unparsable one fails on its own).
    let mut registries: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, (r, _)) in unique.iter().enumerate() {
        let reg = crate::flags::parse_reference(r)
            .map(|r| r.registry().to_owned())
            .unwrap_or_default();
        match registries.iter_mut().find(|(name, _)| *name == reg) {
            Some((_, list)) => list.push(i),
            None => registries.push((reg, vec![i])),
        }
    }
    let shared = Shared::new();
    let progress = progress_bar(unique.len());
    let jobs = job.jobs.max(1);
    // Registries served at once: bounded, so that a file naming thousands of
    // registries does not start thousands of threads.
    let lanes = Lanes::new((MAX_THREADS / jobs).max(1));
    let mut results: Vec<Option<Value>> = vec![None; unique.len()];
    let (mut next, mut failed) = (0, false);
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Value)>();
    let printed: Result<()> = std::thread::scope(|s| {
        for (_, refs) in &registries {
            let tx = tx.clone();
            let (shared, unique, job, lanes) = (&shared, &unique, &job, &lanes);
            s.spawn(move || {
                let _lane = lanes.take();
                let Some((first, rest)) = refs.split_first() else {
                    return;
                };
                if tx
                    .send((*first, one(job, shared, &unique[*first])))
                    .is_err()
                {
                    return;
                }
                let next = AtomicUsize::new(0);
                std::thread::scope(|s| {
                    for _ in 0..jobs.min(rest.len()) {
                        let (tx, next) = (tx.clone(), &next);
                        s.spawn(move || {
                            while let Some(&i) = rest.get(next.fetch_add(1, Ordering::Relaxed)) {
                                if tx.send((i, one(job, shared, &unique[i]))).is_err() {
                                    break;
                                }
                            }
                        });
                    }
                });
            });
        }
        drop(tx);
        for (i, value) in rx {
            if let Some(p) = &progress {
                p.inc(1);
            }
            results[i] = Some(value);
            // Every line whose turn has come is written now, not at the end.
            while let Some(Some(value)) = slot_of.get(next).map(|&u| &results[u]) {
                failed |= value.get("Error").is_some();
                match &progress {
                    Some(p) => p.suspend(|| each(next, value))?,
                    None => each(next, value)?,
                }
                next += 1;
            }
        }
        Ok(())
    });
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    printed?;
    Ok(failed)
}

/// The most worker threads a batch starts (registries served at once × `--jobs`).
const MAX_THREADS: usize = 256;

/// A counting semaphore: how many registries are served at once.
struct Lanes {
    free: Mutex<usize>,
    freed: std::sync::Condvar,
}

impl Lanes {
    fn new(n: usize) -> Lanes {
        Lanes {
            free: Mutex::new(n),
            freed: std::sync::Condvar::new(),
        }
    }

    /// Waits for a free lane; it is given back when the guard drops.
    fn take(&self) -> Lane<'_> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        Lane(self)
    }
}

/// A lane in use; given back on drop.
struct Lane<'a>(&'a Lanes);

impl Drop for Lane<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}

impl Shared {
    /// A fresh batch's: nothing yet.
    fn new() -> Shared {
        Shared {
            clients: Mutex::new(HashMap::new()),
            known: Arc::new(Mutex::new(BTreeMap::new())),
            held_bytes: AtomicUsize::new(0),
        }
    }
}

/// What a batch shares beyond the run's [`crate::session::Session::registries`] (its
/// tokens, and the 429 holds: a registry that answered 429 is asked nothing before
/// then, by any worker).
struct Shared {
    /// One client (one keep-alive pool) per registry, with its options.
    clients: Mutex<HashMap<String, (Arc<Client>, Options)>>,
    /// Manifests and configs fetched by this batch, by digest, for later references
    /// that share them (looked up, never copied per reference).
    known: crate::session::Held,
    /// The bytes in `known`.
    held_bytes: AtomicUsize,
}

/// How much content a batch holds in memory for its later references, when there is
/// no cache on disk to hold it.
const MAX_HELD: usize = 64 << 20;

/// Keeps what later references may share: platform manifests and configs (a top-level
/// manifest is always asked for again, so it is not kept). With a cache, the cache
/// already has them; without, memory does, up to [`MAX_HELD`].
fn hold(session: &Session, shared: &Shared, insp: &regpeek_proto::Inspection) {
    if session.cache.is_some() {
        return;
    }
    let Ok(mut held) = shared.known.lock() else {
        return;
    };
    let manifest = insp
        .manifest
        .as_ref()
        .and_then(|m| Some((&m.digest, m.raw.as_ref()?)));
    let config = insp.config.as_ref().map(|c| (&c.digest, &c.raw));
    for (digest, raw) in manifest.into_iter().chain(config) {
        let total = shared.held_bytes.load(Ordering::Relaxed);
        if total + raw.len() > MAX_HELD || held.contains_key(digest) {
            continue;
        }
        held.insert(digest.clone(), raw.clone());
        shared
            .held_bytes
            .store(total + raw.len(), Ordering::Relaxed);
    }
}

fn progress_bar(n: usize) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal as _;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(n as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}") {
        bar.set_style(style);
    }
    Some(bar)
}

/// One reference: its JSON line.
/// One reference of several: its JSON line.
fn one(
    job: &Job,
    shared: &Shared,
    (input, platform): &(String, Option<regpeek_proto::Platform>),
) -> Value {
    let fields = answer(job, shared, input, platform.as_ref())
        .and_then(|a| to_line(job, a, platform.is_some()));
    crate::output::answer_line(input, None, fields).0
}

/// The goal that answers a shape, for the platform the file asks (`asked`), else the
/// command's.
fn goal_of(job: &Job, asked: Option<&regpeek_proto::Platform>) -> Result<Goal> {
    let explicit = match asked {
        Some(p) => Some(p.clone()),
        None => crate::flags::explicit_platform(job.common)?,
    };
    Ok(match job.shape {
        Shape::Manifest => Goal::Manifest(explicit),
        Shape::Digest { .. } => Goal::Digest(explicit),
        // A HEAD: no pull counted.
        Shape::RateLimit => Goal::Digest(None),
        Shape::Summary
        | Shape::Table
        | Shape::Raw
        | Shape::Config
        | Shape::Platforms(_)
        | Shape::History(_) => Goal::Inspect(match explicit {
            Some(p) => p,
            None => crate::flags::platform(job.common)?,
        }),
    })
}

/// Answers one reference: its flow (or, for platforms, its flows), run on the
/// registry's shared client and tokens, within its own deadline and the registry's
/// 429 hold; recorded into `record` when given.
fn answer(
    job: &Job,
    shared: &Shared,
    input: &str,
    asked: Option<&regpeek_proto::Platform>,
) -> Result<Answer> {
    if let Shape::Platforms(_) = job.shape {
        return Ok(Answer::Platforms(platforms(
            job.session,
            input,
            job.common,
        )?));
    }
    let r = crate::flags::parse_reference(input)?;
    // Offline, the core takes a tag as the digest the cache saw; say which.
    let offline_tag = (job.session.offline && r.digest().is_none()).then(|| r.familiar());
    let goal = goal_of(job, asked)?;
    let registry = r.registry().to_owned();
    let (client, mut options) = {
        let mut clients = shared
            .clients
            .lock()
            .map_err(|_| anyhow::anyhow!("a worker panicked"))?;
        match clients.get(&registry) {
            Some((c, o)) => (c.clone(), o.clone()),
            None => {
                let (o, c) = job.session.prepare(&r, job.common, goal.clone())?;
                clients.insert(registry.clone(), (c.clone(), o.clone()));
                (c, o)
            }
        }
    };
    options.goal = goal;
    options.pull_free = job.pull_free;
    options.known = job.session.known_for(&r, Some(shared.known.clone()));
    // Each reference has the whole --timeout, from when it starts.
    let now = std::time::SystemTime::now();
    options.deadline = crate::session::deadline_from(job.common, now)?;
    // A registry that asked to slow down is left alone until then: the core waits
    // out the hold, or ends the reference at once saying when to retry.
    let registries = &job.session.registries;
    options.hold = registries.hold(&registry);
    let (turn, tokens) = job.session.turn(&r);
    let (result, tokens) = client.run_observed(Flow::new(r, options, tokens), &mut |_, reply| {
        let hold = reply
            .ok()
            .and_then(|resp| regpeek_proto::Hold::of(resp, std::time::SystemTime::now()));
        if let Some(hold) = hold {
            registries.hold_off(&registry, hold);
        }
    });
    job.session.keep_tokens(&tokens);
    drop(turn);
    let insp = result?.into_image()?;
    if let Some(tag) = offline_tag {
        eprintln!(
            "regpeek: offline: {tag} taken from the cache as {} (it may have moved since)",
            insp.digest
        );
    }
    job.session.remember(&insp);
    hold(job.session, shared, &insp);
    if job.common.verbose > 0 {
        for (mirror, e) in &insp.skipped_mirrors {
            eprintln!(
                "regpeek: mirror {mirror} failed: {}",
                crate::output::safe_line(&e.to_string())
            );
        }
        if let Some(m) = &insp.mirror {
            eprintln!("regpeek: answered by mirror {m}");
        }
    }
    Ok(Answer::Image(Box::new(insp)))
}

/// Every platform of an image, inspected in parallel on the shared connections with
/// the token the index was fetched with; a single-platform image gives one row.
fn platforms(session: &Session, reference: &str, common: &Common) -> Result<Vec<PlatformRow>> {
    let r = crate::flags::parse_reference(reference)?;
    let (options, client) = session.prepare(&r, common, Goal::Manifest(None))?;
    let (turn, tokens) = session.turn(&r);
    let (top, tokens) = client.run(Flow::new(r.clone(), options.clone(), tokens));
    session.keep_tokens(&tokens);
    drop(turn);
    let top = top?.into_image()?;
    session.warn(&top.warnings);
    let pinned = |digest: &regpeek_proto::Digest| {
        crate::flags::parse_reference(&format!("{}@{digest}", r.name()))
    };
    let Some(index) = &top.index else {
        let mut o = options.clone();
        o.goal = Goal::Inspect(crate::flags::host_platform());
        let (insp, _) = client.run(Flow::new(pinned(&top.digest)?, o, tokens));
        return Ok(vec![summary::platform_row(&insp?.into_image()?, false)]);
    };
    // BuildKit attestations point at their image with this annotation.
    let attested: Vec<&str> = index.manifests.iter().filter_map(|d| d.attests()).collect();
    let entries: Vec<_> = index
        .manifests
        .iter()
        .filter(|d| !d.is_attestation())
        .filter_map(|d| d.platform.clone().map(|p| (d, p)))
        .collect();
    let mut rows = Vec::with_capacity(entries.len());
    for chunk in entries.chunks(8) {
        let results: Vec<Result<PlatformRow>> = std::thread::scope(|s| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|(desc, platform)| {
                    let (client, tokens, options) = (&client, tokens.clone(), options.clone());
                    let attested = attested.contains(&desc.digest.to_string().as_str());
                    let reference = pinned(&desc.digest);
                    s.spawn(move || -> Result<PlatformRow> {
                        let mut o = options;
                        o.goal = Goal::Inspect(platform.clone());
                        let (insp, _) = client.run(Flow::new(reference?, o, tokens));
                        let mut row = summary::platform_row(&insp?.into_image()?, attested);
                        row.platform = platform.to_string();
                        Ok(row)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("a worker thread panicked")))
                })
                .collect()
        });
        for r in results {
            rows.push(r?);
        }
    }
    Ok(rows)
}
