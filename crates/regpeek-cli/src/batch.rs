//! One pipeline for every command that takes image references: `inspect`,
//! `manifest`, `config`, `digest` and `platforms`, with one reference or many
//! (`inspect A B C`, `--file F`, `--from compose.yaml`). A reference is a batch of one.
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
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use regpeek_proto::{Flow, Goal, Inspection, Options, TokenCache};
use regpeek_ureq::Client;
use serde_json::{Map, Value};

use crate::args::{BatchArgs, Command, Common, OutputFormat};
use crate::summary::PlatformRow;

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
    /// `digest`.
    Digest,
    /// `platforms`, `inspect --platform all`: one row per platform.
    Platforms(OutputFormat),
}

/// The references of a command and how to answer them.
pub struct Job<'a> {
    shape: Shape,
    references: Vec<String>,
    /// One reference, typed alone: printed as itself, not as a JSON line.
    single: bool,
    common: &'a Common,
    jobs: usize,
}

impl<'a> Job<'a> {
    /// The job of a command that takes image references; `None` for the others.
    pub fn from_command(command: &'a Command) -> Result<Option<Job<'a>>> {
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
                batch,
                common,
            } => (Shape::Digest, references, batch, common),
            _ => return Ok(None),
        };
        let single = refs.len() == 1 && batch.file.is_none() && batch.from.is_none();
        if refs.is_empty() && batch.file.is_none() && batch.from.is_none() {
            return Err(crate::usage(
                "give an image reference (or several, or --file, or --from)",
            ));
        }
        if !single && matches!(shape, Shape::Table | Shape::Platforms(OutputFormat::Table)) {
            return Err(crate::usage(
                "-o table shows one image; with several references (or --file, --from) the output is JSON lines, one per reference (filter them with --jq)",
            ));
        }
        let mut all = refs.clone();
        all.extend(collect(batch)?);
        if all.is_empty() {
            bail!("no image references found");
        }
        Ok(Some(Job {
            shape,
            references: all,
            single,
            common,
            jobs: batch.jobs as usize,
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

/// References from `--file` and `--from`.
fn collect(batch: &BatchArgs) -> Result<Vec<String>> {
    let mut out = Vec::new();
    if let Some(file) = &batch.file {
        let text = if file == Path::new("-") {
            read_capped(std::io::stdin().lock()).context("reading standard input")?
        } else {
            crate::files::read_text(file, MAX_INPUT)
                .with_context(|| format!("reading {}", file.display()))?
        };
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if !line.is_empty() {
                out.push(line.to_owned());
            }
        }
    }
    if let Some(path) = &batch.from {
        let text = crate::files::read_text(path, MAX_INPUT)
            .with_context(|| format!("reading {}", path.display()))?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if name.contains("dockerfile") || name.contains("containerfile") {
            out.extend(
                dockerfile_images(&text).with_context(|| format!("reading {}", path.display()))?,
            );
        } else {
            out.extend(yaml_images(&text).with_context(|| format!("reading {}", path.display()))?);
        }
    }
    Ok(out)
}

/// The most a list of references may hold: far beyond any real file, short of what
/// would exhaust memory.
const MAX_INPUT: u64 = 16 << 20;

/// The longest an `ARG` value may grow by substitution (a reference is far shorter).
const MAX_ARG: usize = 4096;

/// All of `input` as UTF-8, refused beyond [`MAX_INPUT`].
fn read_capped(input: impl std::io::Read) -> Result<String> {
    let bytes = crate::files::read_capped(input, MAX_INPUT)?;
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("not UTF-8 text"))
}

/// `FROM` images of a Dockerfile, `ARG` defaults substituted (as Docker does, also
/// in later `ARG`s), stage names and `scratch` skipped.
pub fn dockerfile_images(text: &str) -> Result<Vec<String>> {
    let mut args: HashMap<String, String> = HashMap::new();
    let mut stages: Vec<String> = Vec::new();
    let mut out = Vec::new();
    // Line continuations join lines.
    let joined = text.replace("\\\r\n", " ").replace("\\\n", " ");
    for line in joined.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let Some(instr) = words.next() else { continue };
        match instr.to_ascii_uppercase().as_str() {
            "ARG" => {
                for w in words {
                    if let Some((k, v)) = w.split_once('=') {
                        let v = substitute(v.trim_matches('"'), &args);
                        if v.len() > MAX_ARG {
                            bail!("ARG {k} grows past {MAX_ARG} characters");
                        }
                        args.insert(k.to_owned(), v);
                    }
                }
            }
            "FROM" => {
                let rest: Vec<&str> = words.filter(|w| !w.starts_with("--")).collect();
                let Some(image) = rest.first() else { continue };
                let image = substitute(image, &args);
                if let (Some(as_kw), Some(stage)) = (rest.get(1), rest.get(2))
                    && as_kw.eq_ignore_ascii_case("as")
                {
                    stages.push(stage.to_ascii_lowercase());
                }
                let lower = image.to_ascii_lowercase();
                if lower == "scratch"
                    || stages[..stages.len().saturating_sub(usize::from(
                        rest.get(1).is_some_and(|k| k.eq_ignore_ascii_case("as")),
                    ))]
                        .contains(&lower)
                {
                    continue;
                }
                if !image.is_empty() && !out.contains(&image) {
                    out.push(image);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// `$NAME` and `${NAME}` replaced by `ARG` defaults (unknown names become empty).
fn substitute(word: &str, args: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut chars = word.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let braced = chars.peek() == Some(&'{');
        if braced {
            chars.next();
        }
        let mut name = String::new();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphanumeric() || n == '_' {
                name.push(n);
                chars.next();
            } else {
                break;
            }
        }
        if braced {
            // `${NAME:-default}` and friends: the default after `:-`.
            let mut tail = String::new();
            for n in chars.by_ref() {
                if n == '}' {
                    break;
                }
                tail.push(n);
            }
            match (args.get(&name), tail.strip_prefix(":-")) {
                (Some(v), _) if !v.is_empty() => out.push_str(v),
                (_, Some(default)) => out.push_str(default),
                (Some(v), None) => out.push_str(v),
                _ => {}
            }
        } else if let Some(v) = args.get(&name) {
            out.push_str(v);
        }
    }
    out
}

/// Images of a compose file (`services.*.image`) or of Kubernetes manifests (every
/// `image` of `containers`, `initContainers` and `ephemeralContainers`, in every
/// document, any kind).
pub fn yaml_images(text: &str) -> Result<Vec<String>> {
    use yaml_rust2::{Yaml, YamlLoader};
    check_alias_expansion(text)?;
    let docs = YamlLoader::load_from_str(text).map_err(|e| anyhow::anyhow!("not YAML: {e}"))?;
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: &str| {
        if !s.is_empty() && !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    };
    fn walk(y: &Yaml, push: &mut dyn FnMut(&str)) {
        match y {
            Yaml::Hash(h) => {
                for (k, v) in h {
                    let key = k.as_str().unwrap_or_default();
                    if matches!(key, "containers" | "initContainers" | "ephemeralContainers")
                        && let Yaml::Array(list) = v
                    {
                        for c in list {
                            if let Some(image) = merged(c, "image").and_then(Yaml::as_str) {
                                push(image);
                            }
                        }
                    }
                    walk(v, push);
                }
            }
            Yaml::Array(a) => a.iter().for_each(|v| walk(v, push)),
            _ => {}
        }
    }
    for doc in &docs {
        if let Yaml::Hash(services) = &doc["services"] {
            for (_, svc) in services {
                if let Some(image) = merged(svc, "image").and_then(Yaml::as_str) {
                    push(image);
                }
            }
        } else {
            walk(doc, &mut push);
        }
    }
    Ok(out)
}

/// `node[key]`, or else what a merge key (`<<: *base`, `<<: [*a, *b]`) brings in, as
/// compose files use them.
fn merged<'a>(node: &'a yaml_rust2::Yaml, key: &str) -> Option<&'a yaml_rust2::Yaml> {
    use yaml_rust2::Yaml;
    let Yaml::Hash(h) = node else { return None };
    if let Some(v) = h.get(&Yaml::String(key.to_owned())) {
        return Some(v);
    }
    match h.get(&Yaml::String("<<".to_owned()))? {
        base @ Yaml::Hash(_) => merged(base, key),
        Yaml::Array(bases) => bases.iter().find_map(|b| merged(b, key)),
        _ => None,
    }
}

/// Refuses YAML whose aliases would expand it far beyond its own size (the "billion
/// laughs"): the loader copies every alias, so it would take all memory. Counted on
/// the parser's events, before anything is built.
fn check_alias_expansion(text: &str) -> Result<()> {
    use yaml_rust2::parser::{Event, Parser};
    let mut parser = Parser::new_from_str(text);
    // The expanded size of each anchored node, and of each collection still open.
    let mut sizes: HashMap<usize, u64> = HashMap::new();
    let mut open: Vec<(usize, u64)> = Vec::new();
    let (mut events, mut expanded) = (0u64, 0u64);
    loop {
        let (event, _) = parser
            .next_token()
            .map_err(|e| anyhow::anyhow!("not YAML: {e}"))?;
        events += 1;
        let node = match event {
            Event::StreamEnd => break,
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                open.push((anchor, 1));
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match open.pop() {
                Some((anchor, n)) => {
                    if anchor > 0 {
                        sizes.insert(anchor, n);
                    }
                    n
                }
                None => 1,
            },
            Event::Scalar(_, _, anchor, _) => {
                if anchor > 0 {
                    sizes.insert(anchor, 1);
                }
                1
            }
            Event::Alias(anchor) => sizes.get(&anchor).copied().unwrap_or(1),
            _ => continue,
        };
        match open.last_mut() {
            Some((_, n)) => *n = n.saturating_add(node),
            None => expanded = expanded.saturating_add(node),
        }
        let biggest = open.iter().map(|(_, n)| *n).max().unwrap_or(0);
        if expanded.max(biggest) > 1_000_000u64.max(events.saturating_mul(8)) {
            bail!("its aliases expand it to more than a million nodes; refused");
        }
    }
    Ok(())
}

/// Runs a batch and prints one JSON object per input line, each as soon as it and
/// every line before it are known.
///
/// Each registry is served by workers of its own (`--jobs` of them), so that a
/// registry that never answers, or asks to slow down, holds up only its own
/// references; each reference has its own deadline, counted from when it starts.
/// A registry's first reference goes alone: its challenge and token serve the others.
pub fn run(job: Job, out: &mut impl Write, tty: bool, color: bool) -> Result<ExitCode> {
    if job.single {
        let shared = Shared::new();
        let result = answer(&job, &shared, &job.references[0]);
        crate::keep_tokens(&shared.tokens.lock().map(|t| t.clone()).unwrap_or_default());
        print_single(out, &job, result?, tty, color)?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    // Identical references are inspected once.
    let mut unique: Vec<String> = Vec::new();
    let mut slot_of: Vec<usize> = Vec::with_capacity(job.references.len());
    for r in &job.references {
        match unique.iter().position(|u| u == r) {
            Some(i) => slot_of.push(i),
            None => {
                slot_of.push(unique.len());
                unique.push(r.clone());
            }
        }
    }
    // References by registry, in input order (an unparsable one fails on its own).
    let mut registries: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, r) in unique.iter().enumerate() {
        let reg = crate::parse_reference(r)
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
                let mut line = || -> Result<()> {
                    crate::output::print_json(out, value, false, false)?;
                    out.flush()?;
                    Ok(())
                };
                match &progress {
                    Some(p) => p.suspend(line)?,
                    None => line()?,
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
    crate::keep_tokens(&shared.tokens.lock().map(|t| t.clone()).unwrap_or_default());
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
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
    /// A fresh run's: tokens from the cache, nothing else yet.
    fn new() -> Shared {
        Shared {
            tokens: Mutex::new(crate::cached_tokens()),
            clients: Mutex::new(HashMap::new()),
            held_until: Mutex::new(HashMap::new()),
            known: Arc::new(Mutex::new(BTreeMap::new())),
            held_bytes: AtomicUsize::new(0),
        }
    }
}

struct Shared {
    tokens: Mutex<TokenCache>,
    /// One client (one keep-alive pool) per registry, with its options.
    clients: Mutex<HashMap<String, (Arc<Client>, Options)>>,
    /// A registry that answered 429: nobody asks it again before then (as it said,
    /// uncapped: a reference whose deadline or wait cap ends first fails at once).
    held_until: Mutex<HashMap<String, (Instant, String)>>,
    /// Manifests and configs fetched by this batch, by digest, for later references
    /// that share them (looked up, never copied per reference).
    known: crate::Held,
    /// The bytes in `known`.
    held_bytes: AtomicUsize,
}

/// The longest a reference waits for a registry that asked to slow down (the
/// flow's own cap on `Retry-After`).
const MAX_HOLD: Duration = Duration::from_secs(30);

/// How much content a batch holds in memory for its later references, when there is
/// no cache on disk to hold it.
const MAX_HELD: usize = 64 << 20;

/// Keeps what later references may share: platform manifests and configs (a top-level
/// manifest is always asked for again, so it is not kept). With a cache, the cache
/// already has them; without, memory does, up to [`MAX_HELD`].
fn hold(shared: &Shared, insp: &regpeek_proto::Inspection) {
    if crate::CACHE.get().is_some() {
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
fn one(job: &Job, shared: &Shared, input: &str) -> Value {
    let mut line = Map::new();
    line.insert("Reference".into(), Value::String(input.to_owned()));
    let fields = answer(job, shared, input).and_then(|a| to_line(job, a));
    match fields {
        Ok(Value::Object(fields)) => line.extend(fields),
        Ok(other) => {
            line.insert("Result".into(), other);
        }
        Err(e) => {
            line.insert("Error".into(), Value::String(format!("{e:#}")));
        }
    }
    Value::Object(line)
}

/// The fields of one reference's JSON line.
fn to_line(job: &Job, answer: Answer) -> Result<Value> {
    let insp = match answer {
        Answer::Platforms(rows) => return Ok(serde_json::json!({ "Platforms": rows })),
        Answer::Image(insp) => insp,
    };
    let explicit = crate::explicit_platform(job.common)?.is_some();
    Ok(match job.shape {
        Shape::Digest => serde_json::json!({ "Digest": chosen_digest(&insp, explicit) }),
        Shape::Manifest | Shape::Raw => {
            let raw = chosen_manifest(&insp, explicit && job.shape == Shape::Manifest)?;
            serde_json::json!({ "Manifest": serde_json::from_slice::<Value>(&raw)? })
        }
        Shape::Config => {
            let config = image_config(&insp)?;
            serde_json::json!({ "Config": serde_json::from_slice::<Value>(config)? })
        }
        Shape::Summary | Shape::Table | Shape::Platforms(_) => {
            serde_json::to_value(crate::summary::inspect_output(&insp))?
        }
    })
}

/// Prints the answer for a reference typed alone, as itself.
fn print_single(
    out: &mut impl Write,
    job: &Job,
    answer: Answer,
    tty: bool,
    color: bool,
) -> Result<()> {
    let insp = match answer {
        Answer::Platforms(rows) => {
            let format = match job.shape {
                Shape::Platforms(f) => f,
                _ => OutputFormat::Json,
            };
            return crate::print_platforms(out, &rows, format, tty, color);
        }
        Answer::Image(insp) => insp,
    };
    let explicit = crate::explicit_platform(job.common)?;
    print_image(out, job.shape, &insp, explicit.as_ref(), tty, color)
}

/// Prints an image as `shape` asks (also for `replay`); `explicit` is the platform
/// `--platform` named, if any.
pub fn print_image(
    out: &mut impl Write,
    shape: Shape,
    insp: &Inspection,
    explicit: Option<&regpeek_proto::Platform>,
    tty: bool,
    color: bool,
) -> Result<()> {
    crate::warn(&insp.warnings);
    if matches!(shape, Shape::Summary | Shape::Table | Shape::Config) {
        crate::warn_platform_mismatch(insp, explicit);
    }
    match shape {
        Shape::Digest => {
            writeln!(out, "{}", chosen_digest(insp, explicit.is_some()))?;
            Ok(())
        }
        Shape::Manifest => {
            let raw = chosen_manifest(insp, explicit.is_some())?;
            crate::output::print_bytes(out, &raw, tty, color)
        }
        Shape::Raw => crate::output::print_bytes(out, &chosen_manifest(insp, false)?, tty, color),
        Shape::Config => crate::output::print_bytes(out, image_config(insp)?, tty, color),
        Shape::Table => {
            let value = serde_json::to_value(crate::summary::inspect_output(insp))?;
            crate::output::print_table(out, &value)
        }
        Shape::Summary | Shape::Platforms(_) => {
            crate::output::print_json(out, &crate::summary::inspect_output(insp), tty, color)
        }
    }
}

/// The digest asked for: with `--platform`, that platform's manifest's.
fn chosen_digest(insp: &Inspection, explicit: bool) -> String {
    match (explicit, &insp.manifest) {
        (true, Some(m)) => m.digest.to_string(),
        _ => insp.digest.to_string(),
    }
}

/// The manifest bytes asked for: with `--platform`, that platform's.
fn chosen_manifest(insp: &Inspection, explicit: bool) -> Result<Vec<u8>> {
    match (explicit, &insp.manifest) {
        (true, Some(m)) => m.raw.clone(),
        _ => insp.raw.clone(),
    }
    .context("the registry sent no manifest body")
}

/// The config blob's bytes, or why there is none.
fn image_config(insp: &Inspection) -> Result<&[u8]> {
    match &insp.config {
        Some(c) => Ok(&c.raw),
        None => bail!(
            "{} is a {} and has no image config",
            insp.reference.familiar(),
            insp.manifest
                .as_ref()
                .map_or(insp.media_type.as_str(), |m| m.media_type.as_str())
        ),
    }
}

/// The goal that answers a shape.
fn goal_of(job: &Job) -> Result<Goal> {
    let explicit = crate::explicit_platform(job.common)?;
    Ok(match job.shape {
        Shape::Manifest => Goal::Manifest(explicit),
        Shape::Digest => Goal::Digest(explicit),
        Shape::Summary | Shape::Table | Shape::Raw | Shape::Config | Shape::Platforms(_) => {
            Goal::Inspect(crate::platform(job.common)?)
        }
    })
}

/// Answers one reference: its flow (or, for platforms, its flows), run on the
/// registry's shared client and tokens, within its own deadline and the registry's
/// 429 hold; recorded into `record` when given.
fn answer(job: &Job, shared: &Shared, input: &str) -> Result<Answer> {
    if let Shape::Platforms(_) = job.shape {
        return Ok(Answer::Platforms(crate::platforms(input, job.common)?));
    }
    let r = crate::offline_pinned(crate::parse_reference(input)?)?;
    let goal = goal_of(job)?;
    let registry = r.registry().to_owned();
    let (client, mut options) = {
        let mut clients = shared
            .clients
            .lock()
            .map_err(|_| anyhow::anyhow!("a worker panicked"))?;
        match clients.get(&registry) {
            Some((c, o)) => (c.clone(), o.clone()),
            None => {
                let (o, c) = crate::prepare(&r, job.common, goal.clone())?;
                let c = Arc::new(c);
                clients.insert(registry.clone(), (c.clone(), o.clone()));
                (c, o)
            }
        }
    };
    options.goal = goal;
    options.known = crate::known_for(&r, Some(shared.known.clone()));
    // Each reference has the whole --timeout, from when it starts.
    let started = Instant::now();
    options.deadline = crate::deadline_from(job.common, std::time::SystemTime::now())?;
    // A registry that asked to slow down is left alone until then; a reference that
    // cannot wait that long ends now, saying when to retry.
    let held = shared
        .held_until
        .lock()
        .ok()
        .and_then(|m| m.get(&registry).cloned())
        .and_then(|(t, said)| Some((t.checked_duration_since(started)?, said)));
    if let Some((wait, said)) = held {
        let budget = crate::timeout_budget(job.common)?;
        if wait > MAX_HOLD || budget.is_some_and(|b| wait >= b) {
            bail!(
                "{registry} asked to slow down (HTTP 429, Retry-After: {said}); not asked again before the deadline: retry in {} s",
                wait.as_secs().max(1)
            );
        }
        std::thread::sleep(wait);
    }
    let tokens = shared.tokens.lock().map(|t| t.clone()).unwrap_or_default();
    let (result, tokens) = client.run_observed(Flow::new(r, options, tokens), &mut |_, reply| {
        if let Ok(resp) = reply
            && resp.status() == 429
        {
            // Held as long as the registry said (1 s when unsaid, about the flow's own
            // first backoff); the flow decides its own wait.
            let said = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("unsaid")
                .to_owned();
            let after =
                regpeek_proto::retry_after(resp.headers()).unwrap_or(Duration::from_secs(1));
            if let (Ok(mut m), Some(until)) =
                (shared.held_until.lock(), Instant::now().checked_add(after))
            {
                m.insert(registry.clone(), (until, said));
            }
        }
    });
    if let Ok(mut t) = shared.tokens.lock() {
        t.merge(&tokens);
    }
    let insp = result?.into_image()?;
    crate::remember(&insp);
    hold(shared, &insp);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerfile_from_lines() {
        let text = "ARG BASE=debian\nARG TAG=12\nFROM --platform=$BUILDPLATFORM golang:1.22 AS build\nRUN go build\nFROM ${BASE}:${TAG}-slim\nCOPY --from=build /x /x\nFROM build AS test\nFROM scratch\nFROM ghcr.io/org/app:${VERSION:-1.0} \\\n  AS final\n";
        assert_eq!(
            dockerfile_images(text).unwrap(),
            ["golang:1.22", "debian:12-slim", "ghcr.io/org/app:1.0"]
        );
        // ARG values see earlier ARGs, as in Docker.
        let text = "ARG REGISTRY=ghcr.io\nARG IMAGE=${REGISTRY}/org/app\nFROM $IMAGE:v1\n";
        assert_eq!(dockerfile_images(text).unwrap(), ["ghcr.io/org/app:v1"]);
        // ... and cannot grow without bound.
        let mut text = String::from("ARG A0=xxxxxxxx\n");
        for i in 1..40 {
            text.push_str(&format!("ARG A{i}=${{A{}}}${{A{}}}\n", i - 1, i - 1));
        }
        text.push_str("FROM $A39\n");
        let err = dockerfile_images(&text).unwrap_err().to_string();
        assert!(err.contains("grows past"), "{err}");
    }

    #[test]
    fn yaml_aliases_cannot_blow_up() {
        let mut text = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        let names: Vec<char> = ('b'..='j').collect();
        let mut prev = 'a';
        for n in names {
            let items = vec![format!("*{prev}"); 9].join(", ");
            text.push_str(&format!("{n}: &{n} [{items}]\n"));
            prev = n;
        }
        text.push_str(&format!("services:\n  x:\n    image: *{prev}\n"));
        let err = yaml_images(&text).unwrap_err().to_string();
        assert!(err.contains("aliases expand"), "{err}");
        // Anchors as compose files use them are fine.
        let compose = "x-base: &base\n  image: nginx:1.27\n  restart: always\nservices:\n  web:\n    <<: *base\n  api:\n    image: &api ghcr.io/org/api:v2\n  worker:\n    image: *api\n";
        assert_eq!(
            yaml_images(compose).unwrap(),
            ["nginx:1.27", "ghcr.io/org/api:v2"]
        );
    }

    #[test]
    fn reference_lists_are_capped() {
        let big = vec![b'a'; (MAX_INPUT + 1) as usize];
        let err = read_capped(&big[..]).unwrap_err().to_string();
        assert!(err.contains("larger than 16 MiB"), "{err}");
        assert!(read_capped(&b"\xff"[..]).is_err());
        assert_eq!(read_capped(&b"nginx\n"[..]).unwrap(), "nginx\n");
    }

    #[test]
    fn compose_and_kubernetes() {
        let compose = "services:\n  web:\n    image: nginx:1.27\n  db:\n    image: postgres:16\n  built:\n    build: .\n";
        assert_eq!(yaml_images(compose).unwrap(), ["nginx:1.27", "postgres:16"]);
        let k8s = "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      initContainers:\n        - name: init\n          image: busybox:1.36\n      containers:\n        - name: app\n          image: ghcr.io/org/app:v1\n---\nkind: CronJob\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers:\n            - image: alpine:3.20\n          ephemeralContainers:\n            - image: debug:1\n";
        assert_eq!(
            yaml_images(k8s).unwrap(),
            [
                "busybox:1.36",
                "ghcr.io/org/app:v1",
                "alpine:3.20",
                "debug:1"
            ]
        );
        assert!(yaml_images("a: [").is_err());
    }
}
