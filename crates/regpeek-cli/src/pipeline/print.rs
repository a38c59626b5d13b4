//! Printing what a reference gave: as itself (one reference typed alone) or as the
//! fields of its JSON line (several).

use std::io::Write;

use anyhow::{Context, Result, bail};
use regpeek_proto::Inspection;
use serde_json::Value;

use super::{Answer, Job, Shape};
use crate::args::OutputFormat;
use crate::session::Session;
use crate::summary::PlatformRow;

/// The fields of one reference's JSON line.
/// `asked`: the file asked a platform of this reference (as `--platform` would).
pub(super) fn to_line(job: &Job, answer: Answer, asked: bool) -> Result<Value> {
    let (insp, sizes) = match answer {
        Answer::Platforms(rows) => return Ok(serde_json::json!({ "Platforms": rows })),
        Answer::Image(insp, sizes) => (insp, sizes),
    };
    let explicit = asked || crate::flags::explicit_platform(job.common)?.is_some();
    Ok(match job.shape {
        Shape::RateLimit => serde_json::json!({ "RateLimit": rate_limit(&insp) }),
        Shape::Digest { full_ref, omit_tag } => digest_line(&insp, explicit, full_ref, omit_tag),
        Shape::Manifest | Shape::Raw => {
            let raw = chosen_manifest(&insp, explicit && job.shape == Shape::Manifest)?;
            serde_json::json!({ "Manifest": serde_json::from_slice::<Value>(&raw)? })
        }
        Shape::Config => {
            let config = image_config(&insp)?;
            serde_json::json!({ "Config": serde_json::from_slice::<Value>(config)? })
        }
        Shape::Summary | Shape::Table | Shape::Platforms(_) => {
            serde_json::to_value(summary_of(&insp, sizes.as_deref()))?
        }
        Shape::History(_) => {
            serde_json::json!({ "History": crate::summary::history(&insp, sizes.as_deref())? })
        }
    })
}

/// `inspect`'s summary, with what the layers unpack to when it was asked.
fn summary_of(
    insp: &Inspection,
    sizes: Option<&[regpeek_client::unpacked::Unpacked]>,
) -> crate::summary::InspectOutput {
    let summary = crate::summary::inspect_output(insp);
    match sizes {
        Some(sizes) => summary.with_unpacked(sizes),
        None => summary,
    }
}

/// Prints the answer for a reference typed alone, as itself.
pub(super) fn print_single(out: &mut impl Write, job: &Job, answer: Answer) -> Result<()> {
    let insp = match answer {
        Answer::Platforms(rows) => {
            let format = match job.shape {
                Shape::Platforms(f) => f,
                _ => OutputFormat::Json,
            };
            return print_platforms(job.session, out, &rows, format);
        }
        Answer::Image(insp, sizes) => (insp, sizes),
    };
    let explicit = crate::flags::explicit_platform(job.common)?;
    print_image(
        job.session,
        out,
        job.shape,
        &insp.0,
        insp.1.as_deref(),
        explicit.as_ref(),
    )
}

/// Prints an image as `shape` asks (also for `replay`); `explicit` is the platform
/// `--platform` named, if any.
fn print_image(
    session: &Session,
    out: &mut impl Write,
    shape: Shape,
    insp: &Inspection,
    sizes: Option<&[regpeek_client::unpacked::Unpacked]>,
    explicit: Option<&regpeek_proto::Platform>,
) -> Result<()> {
    session.warn(&insp.warnings);
    if matches!(shape, Shape::Summary | Shape::Table | Shape::Config) {
        warn_platform_mismatch(insp, explicit);
    }
    match shape {
        Shape::RateLimit => {
            if insp.rate_limit.is_none() {
                eprintln!(
                    "regpeek: {} states no pull limit",
                    insp.reference.registry()
                );
            }
            session.out.json(out, &rate_limit(insp))
        }
        Shape::Digest { full_ref, omit_tag } => {
            let line = digest_line(insp, explicit.is_some(), full_ref, omit_tag);
            if session.out.jq.is_some() {
                // --jq reads the fields a batch line has.
                return session.out.line(out, &line);
            }
            let field = if full_ref { "FullRef" } else { "Digest" };
            writeln!(out, "{}", line[field].as_str().unwrap_or_default())?;
            Ok(())
        }
        Shape::Manifest => {
            let raw = chosen_manifest(insp, explicit.is_some())?;
            session.out.bytes(out, &raw)
        }
        Shape::Raw => session.out.bytes(out, &chosen_manifest(insp, false)?),
        Shape::Config => session.out.bytes(out, image_config(insp)?),
        Shape::Table => {
            let value = serde_json::to_value(summary_of(insp, sizes))?;
            crate::output::print_table(out, &value)
        }
        Shape::Summary | Shape::Platforms(_) => session.out.json(out, &summary_of(insp, sizes)),
        Shape::History(format) => {
            let rows = crate::summary::history(insp, sizes)?;
            let mut header = vec!["CREATED", "LAYER", "SIZE", "CREATED BY", "COMMENT"];
            if sizes.is_some() {
                header.insert(3, "UNPACKED");
            }
            session.out.rows(out, &rows, format, &header, |r| {
                let mut cells = vec![
                    r.created.clone().unwrap_or_else(|| "-".into()),
                    match (&r.layer, r.empty_layer) {
                        (Some(d), _) => d.chars().skip(7).take(12).collect(),
                        (None, true) => "(empty)".into(),
                        (None, false) => "<missing>".into(),
                    },
                    r.size
                        .map_or_else(|| "0 B".into(), crate::output::human_size),
                    r.created_by.clone().unwrap_or_default(),
                    r.comment.clone().unwrap_or_default(),
                ];
                if sizes.is_some() {
                    let unpacked = r.uncompressed_size.map(crate::output::human_size);
                    cells.insert(3, unpacked.unwrap_or_else(|| "-".into()));
                }
                cells
            })
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

/// A digest answer's fields: `Digest`, and with `--full-ref` the reference pinned to
/// it, `FullRef`: `name:tag@digest` (the tag kept, as `pin` writes it; `omit_tag`:
/// `name@digest`), the name a local image's as the user names it (`oci:/abs/dir`).
fn digest_line(insp: &Inspection, explicit: bool, full_ref: bool, omit_tag: bool) -> Value {
    let digest = chosen_digest(insp, explicit);
    if !full_ref {
        return serde_json::json!({ "Digest": digest });
    }
    let r = &insp.reference;
    let (name, tag) = match crate::local::shown_name(r) {
        Some((name, tag)) => (name, tag),
        None => (r.name(), r.tag().map(str::to_owned)),
    };
    let full = match tag.filter(|_| !omit_tag) {
        Some(tag) => format!("{name}:{tag}@{digest}"),
        None => format!("{name}@{digest}"),
    };
    serde_json::json!({ "Digest": digest, "FullRef": full })
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

fn print_platforms(
    session: &Session,
    out: &mut impl Write,
    rows: &[PlatformRow],
    format: OutputFormat,
) -> Result<()> {
    let header = [
        "PLATFORM",
        "DIGEST",
        "SIZE",
        "LAYERS",
        "CREATED",
        "ATTESTATION",
    ];
    session.out.rows(out, rows, format, &header, |r| {
        vec![
            r.platform.clone(),
            r.digest.clone(),
            r.size.map_or_else(|| "-".into(), crate::output::human_size),
            r.layers.to_string(),
            r.created.clone().unwrap_or_else(|| "-".into()),
            if r.attestation { "yes" } else { "no" }.into(),
        ]
    })
}

/// Warns, as docker does, when a single-platform image is not the platform asked for
/// (the core's judgement: [`regpeek_proto::Inspection::platform_matched`]).
fn warn_platform_mismatch(insp: &Inspection, asked: Option<&regpeek_proto::Platform>) {
    if let (Some(asked), Some(false), Some(image)) = (asked, insp.platform_matched, &insp.platform)
    {
        eprintln!(
            "regpeek: warning: the image's platform ({image}) does not match the requested platform ({asked})"
        );
    }
}

/// The pull limit a registry stated, as JSON: `Limit` and `Remaining` as counts, with
/// the window in seconds (`100;w=21600`), and the headers as sent.
fn rate_limit(insp: &Inspection) -> Value {
    let parse = |v: &Option<String>| {
        v.as_deref().map(|v| {
            let mut parts = v.split(';');
            let count = parts.next().and_then(|n| n.trim().parse::<u64>().ok());
            let window = parts
                .find_map(|p| p.trim().strip_prefix("w="))
                .and_then(|w| w.parse::<u64>().ok());
            (count, window)
        })
    };
    let r = insp.rate_limit.as_ref();
    let limit = r.and_then(|r| parse(&r.limit));
    let remaining = r.and_then(|r| parse(&r.remaining));
    serde_json::json!({
        "Registry": insp.reference.registry(),
        "Limit": limit.and_then(|l| l.0),
        "Remaining": remaining.and_then(|r| r.0),
        "WindowSeconds": limit.and_then(|l| l.1).or(remaining.and_then(|r| r.1)),
        "Source": r.and_then(|r| r.source.clone()),
        "Headers": r.map(|r| serde_json::json!({
            "ratelimit-limit": r.limit,
            "ratelimit-remaining": r.remaining,
        })),
    })
}

/// A batch's progress on stderr (`done/total`), when stderr is a terminal; drawn at
/// most ten times a second, cleared before a line is printed and at the end. (A
/// counter, not a library's bar: one line is all it shows.)
pub(super) struct Progress {
    total: usize,
    done: usize,
    drawn: Option<std::time::Instant>,
    /// The lowest `ratelimit-remaining` a registry stated, when one did.
    remaining: Option<String>,
}

impl Progress {
    /// `None` when stderr is no terminal.
    pub(super) fn on_terminal(total: usize) -> Option<Progress> {
        use std::io::IsTerminal as _;
        std::io::stderr().is_terminal().then_some(Progress {
            total,
            done: 0,
            drawn: None,
            remaining: None,
        })
    }

    /// One more answered; what the registries say is left of their pull limits.
    pub(super) fn inc(&mut self, remaining: Option<String>) {
        self.done += 1;
        self.remaining = remaining;
        let due = self
            .drawn
            .is_none_or(|t| t.elapsed() >= std::time::Duration::from_millis(100));
        if due || self.done == self.total {
            self.draw();
        }
    }

    fn draw(&mut self) {
        match &self.remaining {
            Some(left) => eprint!(
                "\r\x1b[2K{}/{}  ratelimit-remaining {}",
                self.done,
                self.total,
                crate::output::safe_line(left)
            ),
            None => eprint!("\r\x1b[2K{}/{}", self.done, self.total),
        }
        self.drawn = Some(std::time::Instant::now());
    }

    /// Runs `f` (which prints a line) with the counter out of its way.
    pub(super) fn suspend<T>(&mut self, f: impl FnOnce() -> T) -> T {
        self.clear();
        let out = f();
        self.draw();
        out
    }

    /// Takes the counter off the terminal.
    pub(super) fn clear(&mut self) {
        eprint!("\r\x1b[2K");
    }
}
