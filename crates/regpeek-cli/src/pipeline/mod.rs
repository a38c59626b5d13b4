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
use regpeek_proto::{Goal, Inspection, Options};
use regpeek_ureq::Transport;
use serde_json::{Map, Value};

use crate::args::{Command, Common, OutputFormat};
use crate::session::Session;
use crate::summary::PlatformRow;

pub mod inventory;
pub mod listed;
mod lookups;
mod platforms;
mod print;
mod unpacked;

pub use lookups::{existence, platforms_of, tags_now};

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
    /// `digest` (`--full-ref`: as `name:tag@digest`).
    Digest {
        /// Print `name:tag@digest`.
        full_ref: bool,
        /// Without the tag: `name@digest`.
        omit_tag: bool,
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
    /// The platform the file asks of a reference (`FROM --platform=`, compose's
    /// `platform:`), by its index, which it is answered for; the others: the
    /// command's.
    platforms: HashMap<usize, regpeek_proto::Platform>,
    /// One reference, typed alone: printed as itself, not as a JSON line.
    single: bool,
    common: &'a Common,
    session: &'a Session,
    jobs: regpeek_client::batch::Jobs,
    /// Digests by `HEAD` only ([`regpeek_proto::Options::pull_free`]).
    pull_free: bool,
    /// `--uncompressed`, `--exact`.
    sizes: crate::args::SizeArgs,
}

impl<'a> Job<'a> {
    /// The job of a command that takes image references; `None` for the others.
    pub fn from_command(command: &'a Command, session: &'a Session) -> Result<Option<Job<'a>>> {
        let none = crate::args::SizeArgs::default();
        let (shape, refs, batch, common, sizes) = match command {
            Command::Inspect {
                references,
                batch,
                raw,
                config,
                output,
                sizes,
                common,
                ..
            } => {
                if sizes.uncompressed && (*raw || *config) {
                    return Err(crate::errors::usage(
                        "--uncompressed adds to inspect's summary; --raw and --config print bytes as stored",
                    ));
                }
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
                (shape, references, batch, common, *sizes)
            }
            Command::Platforms {
                references,
                batch,
                output,
                sizes,
                common,
            } => (Shape::Platforms(*output), references, batch, common, *sizes),
            Command::History {
                references,
                batch,
                output,
                sizes,
                common,
            } => (Shape::History(*output), references, batch, common, *sizes),
            Command::Manifest {
                references,
                batch,
                common,
            } => (Shape::Manifest, references, batch, common, none),
            Command::Config {
                references,
                batch,
                common,
            } => (Shape::Config, references, batch, common, none),
            Command::Digest {
                references,
                full_ref,
                omit_tag,
                batch,
                common,
            } => (
                Shape::Digest {
                    full_ref: *full_ref,
                    omit_tag: *omit_tag,
                },
                references,
                batch,
                common,
                none,
            ),
            Command::Ratelimit {
                references,
                batch,
                common,
            } => (Shape::RateLimit, references, batch, common, none),
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
        let mut platforms = HashMap::new();
        let asked = collected.sources.iter().zip(&collected.platforms);
        for (i, (source, asked)) in asked.enumerate() {
            let Some(p) = asked else { continue };
            match regpeek_proto::Platform::parse(p, "amd64") {
                Ok(p) => {
                    platforms.insert(all.len() + i, p);
                }
                Err(e) => {
                    session.warn_once(&format!("{source}: {e}; the command's platform is used"));
                }
            }
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
            jobs: session.jobs(batch.jobs),
            pull_free: false,
            sizes,
        }))
    }
}

/// What one reference gave.
pub enum Answer {
    /// An image (or its digest), with what its layers unpack to when asked.
    Image(
        Box<Inspection>,
        Option<Vec<regpeek_client::unpacked::Unpacked>>,
    ),
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
        let shared = BatchState::new();
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

/// Runs the references of `job` through the batch engine (a lane per registry),
/// handing `each` one JSON object per input reference (with its index), in input
/// order, each as soon as it and every one before it are known. Identical references
/// (for the same platform) are asked once. True when any failed.
fn batch(job: &Job, mut each: impl FnMut(usize, &Value) -> Result<()>) -> Result<bool> {
    // The first index of each distinct (reference, platform): what is asked.
    let mut unique: Vec<usize> = Vec::new();
    let mut slot_of: Vec<usize> = Vec::with_capacity(job.references.len());
    // One lookup a reference, whatever the batch's size.
    let mut seen: HashMap<(&str, Option<String>), usize> = HashMap::new();
    for (i, r) in job.references.iter().enumerate() {
        let platform = job.platforms.get(&i).map(|p| format!("{p:?}"));
        let slot = *seen.entry((r.as_str(), platform)).or_insert_with(|| {
            unique.push(i);
            unique.len() - 1
        });
        slot_of.push(slot);
    }
    drop(seen);
    // A lane's name is kept once, however many references it has.
    let mut names: HashMap<String, Arc<str>> = HashMap::new();
    let lanes: Vec<Arc<str>> = unique
        .iter()
        .map(|&i| {
            let lane = crate::flags::lane_of(&job.references[i]);
            names
                .entry(lane)
                .or_insert_with_key(|k| k.as_str().into())
                .clone()
        })
        .collect();
    drop(names);
    let shared = BatchState::new();
    let mut progress = print::Progress::on_terminal(unique.len());
    // Each answer waits until its lines are written, then goes: memory holds the
    // answers ahead of the next line, not every answer of the batch.
    let mut results: Vec<Option<Value>> = vec![None; unique.len()];
    let mut lines_left = vec![0usize; unique.len()];
    for &u in &slot_of {
        lines_left[u] += 1;
    }
    let (mut next, mut failed) = (0, false);
    let printed = regpeek_client::batch::run(
        &lanes,
        job.jobs.clone(),
        |u| one(job, &shared, unique[u]),
        |u, value| {
            if let Some(p) = &mut progress {
                p.inc(job.session.pulls.get().and_then(|p| p.remaining()));
            }
            results[u] = Some(value);
            // Every line whose answer is known is written now, not at the end.
            while let Some(&at) = slot_of.get(next) {
                let Some(value) = results[at].as_ref() else {
                    break;
                };
                failed |= value.get("Error").is_some();
                match &mut progress {
                    Some(p) => p.suspend(|| each(next, value))?,
                    None => each(next, value)?,
                }
                next += 1;
                lines_left[at] -= 1;
                if lines_left[at] == 0 {
                    results[at] = None;
                }
            }
            Ok(())
        },
    );
    if let Some(p) = &mut progress {
        p.clear();
    }
    shared.offline_note();
    printed?;
    Ok(failed)
}

impl BatchState {
    /// A fresh batch's: nothing yet.
    fn new() -> BatchState {
        BatchState {
            clients: Mutex::new(HashMap::new()),
            known: Arc::new(Mutex::new(BTreeMap::new())),
            in_memory_bytes: AtomicUsize::new(0),
            offline_tags: AtomicUsize::new(0),
        }
    }

    /// The one line a batch gives for the tags `--offline` took from the cache.
    fn offline_note(&self) {
        let n = self.offline_tags.load(Ordering::Relaxed);
        if n > 0 {
            let (tags, they) = if n == 1 {
                ("tag", "it")
            } else {
                ("tags", "they")
            };
            eprintln!(
                "regpeek: offline: {n} {tags} taken from the cache as last seen ({they} may have moved since)"
            );
        }
    }
}

/// A registry's transport and the options its flows start from.
type Prepared = (Arc<dyn Transport>, Options);

/// What a batch shares beyond the run's [`crate::session::Session::registries`] (its
/// tokens, and the 429 holds: a registry that answered 429 is asked nothing before
/// then, by any worker).
struct BatchState {
    /// One client (one keep-alive pool) per registry, with its options.
    clients: Mutex<HashMap<String, Prepared>>,
    /// Manifests and configs fetched by this batch, by digest, for later references
    /// that share them (looked up, never copied per reference).
    known: regpeek_client::cache::InMemory,
    /// The bytes in `known`.
    in_memory_bytes: AtomicUsize,
    /// Tags `--offline` took as the digest the cache saw.
    offline_tags: AtomicUsize,
}

/// How much content a batch holds in memory for its later references, when there is
/// no cache on disk to hold it.
const MAX_IN_MEMORY: usize = 16 << 20;

/// Keeps what later references may share: platform manifests and configs (a top-level
/// manifest is always asked for again, so it is not kept). With a cache, the cache
/// already has them; without, memory does, up to [`MAX_IN_MEMORY`].
fn keep_in_memory(session: &Session, shared: &BatchState, insp: &regpeek_proto::Inspection) {
    if session.cache.is_some() {
        return;
    }
    let Ok(mut kept) = shared.known.lock() else {
        return;
    };
    let manifest = insp
        .manifest
        .as_ref()
        .and_then(|m| Some((&m.digest, m.raw.as_ref()?)));
    let config = insp.config.as_ref().map(|c| (&c.digest, &c.raw));
    for (digest, raw) in manifest.into_iter().chain(config) {
        let total = shared.in_memory_bytes.load(Ordering::Relaxed);
        if total + raw.len() > MAX_IN_MEMORY || kept.contains_key(digest) {
            continue;
        }
        kept.insert(digest.clone(), raw.clone());
        shared
            .in_memory_bytes
            .store(total + raw.len(), Ordering::Relaxed);
    }
}

/// One reference: its JSON line.
/// One reference of several: its JSON line.
fn one(job: &Job, shared: &BatchState, i: usize) -> Value {
    let (input, platform) = (&job.references[i], job.platforms.get(&i));
    let fields =
        answer(job, shared, input, platform).and_then(|a| to_line(job, a, platform.is_some()));
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
/// 429 hold.
fn answer(
    job: &Job,
    shared: &BatchState,
    input: &str,
    asked: Option<&regpeek_proto::Platform>,
) -> Result<Answer> {
    // Each reference has the whole --timeout, from when it starts.
    let started = std::time::SystemTime::now();
    if let Shape::Platforms(_) = job.shape {
        return Ok(Answer::Platforms(platforms::platforms(
            job, shared, input, started,
        )?));
    }
    let insp = look(job, shared, input, goal_of(job, asked)?, started)?;
    let sizes = job
        .sizes
        .uncompressed
        .then(|| unpacked::of_image(job, &insp));
    Ok(Answer::Image(Box::new(insp), sizes))
}

/// One flow for `input` towards `goal` on the batch's client for its registry, what
/// it learnt kept for the run (the cache, the batch's memory).
fn look(
    job: &Job,
    shared: &BatchState,
    input: &str,
    goal: Goal,
    started: std::time::SystemTime,
) -> Result<Inspection> {
    let r = crate::flags::parse_reference(input)?;
    // Offline, the core takes a tag as the digest the cache saw; say which.
    let local = r.registry() == crate::local::REGISTRY;
    let offline_tag = (job.session.offline && !local && r.digest().is_none()).then(|| r.familiar());
    let (client, options) = flow_options(job, shared, &r, goal, started)?;
    let insp = run_flow(job, &*client, r, options)?.into_image()?;
    match offline_tag {
        // In a batch, one line for them all, when it ends ([`BatchState::offline_note`]).
        Some(_) if !job.single => {
            shared.offline_tags.fetch_add(1, Ordering::Relaxed);
        }
        Some(tag) => eprintln!(
            "regpeek: offline: {tag} taken from the cache as {} (it may have moved since)",
            insp.digest
        ),
        None => {}
    }
    job.session.remember(&insp);
    keep_in_memory(job.session, shared, &insp);
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
    Ok(insp)
}

/// The registry's client (one per registry for the batch) and the options of a flow
/// for `r` towards `goal`: the batch's shared content, the deadline of a reference
/// that started at `started`, and the registry's 429 hold (the core waits it out, or
/// ends the reference at once saying when to retry).
fn flow_options(
    job: &Job,
    shared: &BatchState,
    r: &regpeek_proto::Reference,
    goal: Goal,
    started: std::time::SystemTime,
) -> Result<(Arc<dyn Transport>, Options)> {
    let registry = r.registry().to_owned();
    let (client, mut options) = {
        let mut clients = shared
            .clients
            .lock()
            .map_err(|_| anyhow::anyhow!("a worker panicked"))?;
        match clients.get(&registry) {
            Some((c, o)) => (c.clone(), o.clone()),
            None => {
                let (o, c) = job.session.prepare(r, job.common, goal.clone())?;
                clients.insert(registry.clone(), (c.clone(), o.clone()));
                (c, o)
            }
        }
    };
    options.goal = goal;
    options.pull_free = job.pull_free;
    options.known = job.session.known_for(r, Some(shared.known.clone()));
    options.deadline = crate::session::deadline_from(job.common, started)?;
    Ok((client, options))
}

/// Runs one flow in its turn at the registry, noting a 429's hold for the registry's
/// later flows and keeping what it learnt for the run.
fn run_flow(
    job: &Job,
    client: &dyn Transport,
    r: regpeek_proto::Reference,
    options: Options,
) -> Result<regpeek_proto::Outcome> {
    Ok(job.session.registries.run(client, r, options)?)
}
