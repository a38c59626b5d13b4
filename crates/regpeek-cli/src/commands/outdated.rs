//! `outdated FILE…|REF…`: for each tagged reference, the newer tags of its repository
//! on the same track (newest patch, minor and major; [`crate::versions`]), learnt from
//! tag lists; for a pinned reference, whether its tag has moved (a `HEAD`). Never a
//! manifest `GET`: nothing counts as a pull.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use regpeek_proto::Reference;
use serde_json::{Value, json};

use crate::args::{BatchArgs, Common, OutputFormat};
use crate::inputs::places::Edit;
use crate::session::Session;
use crate::versions::{Newer, Version};

/// What `outdated` is asked.
pub struct Outdated<'a> {
    pub targets: &'a [String],
    pub exit_code: bool,
    pub output: OutputFormat,
    pub batch: &'a BatchArgs,
    pub common: &'a Common,
}

/// One reference to look at, and where it was read.
struct Entry {
    reference: String,
    source: Option<String>,
}

pub fn outdated(session: &Session, args: &Outdated, out: &mut impl Write) -> Result<ExitCode> {
    if args.output == OutputFormat::Table {
        session.out.refuse_table_with_jq()?;
    }
    let entries = entries(session, args)?;
    if entries.is_empty() {
        anyhow::bail!("no image references found");
    }
    // One tag list per repository, and one HEAD per pinned tag, all at once.
    let parsed: Vec<Result<Reference, String>> = entries
        .iter()
        .map(|e| crate::flags::parse_reference(&e.reference).map_err(|e| format!("{e:#}")))
        .collect();
    let mut repos: Vec<String> = Vec::new();
    let (mut keys, mut pins) = (Vec::new(), Vec::new());
    for r in parsed.iter().flatten() {
        let Some(tag) = r.tag() else { continue };
        if Version::parse(tag).is_some() && !repos.contains(&r.name()) {
            repos.push(r.name());
        }
        let key = format!("{}:{tag}", r.name());
        if let Some(d) = r.digest() {
            if !keys.contains(&key) {
                keys.push(key.clone());
            }
            pins.push((key, d.clone()));
        }
    }
    let lists = tag_lists(session, args.common, &repos, session.jobs(args.batch.jobs));
    // A pin is judged as pin judges it: an entry of the tag's index is current.
    let jobs = session.jobs(args.batch.jobs);
    let now = crate::pipeline::tags_now(session, args.common, &keys, &pins, jobs)?;
    let mut rows = Vec::new();
    let (mut failed, mut stale) = (false, false);
    for (entry, r) in entries.iter().zip(parsed) {
        let mut row = json!({ "Reference": entry.reference });
        if let Some(s) = &entry.source {
            row["Source"] = json!(s);
        }
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                failed = true;
                row["Error"] = json!(e);
                rows.push(row);
                continue;
            }
        };
        let Some(tag) = r.tag() else {
            row["Note"] = json!("pinned by digest alone: no tag to follow");
            rows.push(row);
            continue;
        };
        row["Tag"] = json!(tag);
        match Version::parse(tag) {
            Some(current) => match &lists[&r.name()] {
                Ok(tags) if !tags.iter().any(|t| t == tag) => {
                    failed = true;
                    row["Error"] = json!(format!("no such tag: {} has no tag {tag}", r.name()));
                }
                Ok(tags) => {
                    let newer = crate::versions::newer(&current, tags);
                    stale |= newer.any();
                    add_newer(&mut row, &newer);
                }
                Err(e) => {
                    failed = true;
                    row["Error"] = json!(e);
                }
            },
            None => row["Note"] = json!("not a version: only a pinned digest is checked"),
        }
        if let Some(digest) = r.digest() {
            match &now[&format!("{}:{tag}", r.name())] {
                Ok(now) => {
                    let judged = now.judge(digest);
                    let moved = judged.is_err();
                    row["Moved"] = json!(moved);
                    row["Digest"] = json!(now.to_write().to_string());
                    if let Ok(Some(what)) | Err(Some(what)) = judged {
                        row["Pin"] = json!(what);
                    }
                    stale |= moved;
                }
                Err(e) => {
                    failed = true;
                    row["Error"] = json!(e);
                }
            }
        }
        rows.push(row);
    }
    print(session, out, args.output, &rows)?;
    Ok(if failed || (args.exit_code && stale) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn add_newer(row: &mut Value, newer: &Newer) {
    row["Patch"] = json!(newer.patch);
    row["Minor"] = json!(newer.minor);
    row["Major"] = json!(newer.major);
    row["Outdated"] = json!(newer.any());
}

/// The references of the command line (a path that names a file is read for its
/// images, as `pin` reads it), then `--file` and `--from`.
fn entries(session: &Session, args: &Outdated) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for target in args.targets {
        let path = Path::new(target);
        if !path.is_file() {
            out.push(Entry {
                reference: target.clone(),
                source: None,
            });
            continue;
        }
        let shown = session.shown(path);
        let (text, kind, places) = crate::pinning::read_places(path, &shown, None)?;
        let compose = kind == crate::inputs::places::FileKind::Compose;
        for place in places {
            let mut written = match &place.edit {
                Edit::NotAnImage(_) => continue,
                Edit::At(span) => text[span.clone()].to_owned(),
                Edit::Cannot(_) => place.image.clone(),
            };
            let source = format!("{shown}:{} {}", place.line, place.context);
            // A compose variable resolves as `--from` resolves it.
            if written.contains('$') && compose {
                let (resolved, unset) = crate::inputs::resolve_compose_image(path, &written)?;
                for name in unset {
                    session.warn_once(&format!("{source}: ${name} is not set"));
                }
                written = resolved;
            }
            if written.contains('$') || written.is_empty() {
                session.warn_once(&format!(
                    "{source}: {} is set by a variable; skipped",
                    place.image
                ));
                continue;
            }
            out.push(Entry {
                reference: written,
                source: Some(source),
            });
        }
    }
    let collected = crate::inputs::collect(args.batch, &|p| session.shown(p))?;
    for warning in &collected.warnings {
        session.warn_once(warning);
    }
    for (reference, source) in collected.references.into_iter().zip(collected.sources) {
        out.push(Entry {
            reference,
            source: Some(source),
        });
    }
    Ok(out)
}

/// The tags of each repository (`registry/repository`), through the batch engine
/// (`jobs` per registry).
fn tag_lists(
    session: &Session,
    common: &Common,
    repos: &[String],
    jobs: regpeek_client::batch::Jobs,
) -> HashMap<String, Result<Vec<String>, String>> {
    let mut out = HashMap::new();
    let lanes: Vec<String> = repos.iter().map(|r| crate::flags::lane_of(r)).collect();
    // Collecting cannot fail.
    let _ = regpeek_client::batch::run(
        &lanes,
        jobs,
        |i| {
            crate::flags::parse_reference(&repos[i])
                .and_then(|r| super::listing::tag_list(session, common, &r))
                .map_err(|e| format!("{e:#}"))
        },
        |i, found| {
            out.insert(repos[i].clone(), found);
            Ok(())
        },
    );
    out
}

fn print(
    session: &Session,
    out: &mut impl Write,
    format: OutputFormat,
    rows: &[Value],
) -> Result<()> {
    match format {
        OutputFormat::Json => {
            for row in rows {
                session.out.line(out, row)?;
            }
        }
        OutputFormat::Table => {
            let cell = |v: &Value, k: &str| match &v[k] {
                Value::String(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                _ => String::new(),
            };
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|v| {
                    let note = match (&v["Error"], v["Moved"].as_bool()) {
                        (Value::String(e), _) => e.clone(),
                        (_, Some(true)) => "tag moved".into(),
                        _ => cell(v, "Note"),
                    };
                    ["Reference", "Tag", "Patch", "Minor", "Major", "Source"]
                        .iter()
                        .map(|k| cell(v, k))
                        .chain([note])
                        .collect()
                })
                .collect();
            crate::output::print_columns(
                out,
                &[
                    "REFERENCE",
                    "TAG",
                    "PATCH",
                    "MINOR",
                    "MAJOR",
                    "SOURCE",
                    "NOTE",
                ],
                &table,
            )?;
        }
    }
    out.flush()?;
    Ok(())
}
