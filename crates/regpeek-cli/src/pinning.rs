//! What `pin` changes in a file, with no I/O: the image places of the file
//! ([`crate::inputs`]), each looked up, and the new bytes, where only references
//! change (by byte span, never by re-serialising: comments, quoting, anchors, CRLF, a
//! BOM and a missing final newline stay as they were).

use std::collections::BTreeMap;
use std::ops::Range;

use anyhow::{Context, Result};
use regpeek_proto::{Digest, Platform, Reference};
use serde_json::{Value, json};

use crate::inputs::dockerfile;
use crate::inputs::places::{self, Edit, FileKind, Place};

/// What happened, or would happen, at one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The digest is (or would be) written next to the tag.
    Pinned,
    /// Already pinned to the digest its tag has now.
    Current,
    /// Already pinned, but its tag has moved (written only with `--update`).
    Moved,
    /// A moved pin rewritten (`--update`).
    Updated,
    /// A digest without a tag: nothing to check it against.
    DigestOnly,
    /// Not an image (`scratch`, a stage).
    Skipped,
    /// An image that cannot be rewritten in place.
    Cannot,
    /// Its digest could not be learnt.
    Failed,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Pinned => "pinned",
            Status::Current => "current",
            Status::Moved => "moved",
            Status::Updated => "updated",
            Status::DigestOnly => "digest-only",
            Status::Skipped => "skipped",
            Status::Cannot => "cannot",
            Status::Failed => "failed",
        }
    }

    /// Whether `--check` fails on it: something to pin, a stale pin, or no answer.
    pub fn is_stale(self) -> bool {
        matches!(
            self,
            Status::Pinned | Status::Moved | Status::Updated | Status::Failed
        )
    }
}

/// One place and what became of it.
#[derive(Debug, Clone)]
pub struct Row {
    pub line: usize,
    pub context: String,
    /// As written in the file (for a place that cannot be rewritten: as it reads).
    pub written: String,
    pub digest: Option<Digest>,
    pub status: Status,
    pub reason: Option<String>,
}

impl Row {
    /// The JSON line `pin` prints for it.
    pub fn to_json(&self, file: &str) -> Value {
        let mut v = json!({
            "File": file,
            "Line": self.line,
            "Context": self.context,
            "Reference": self.written,
            "Status": self.status.name(),
        });
        if let Some(d) = &self.digest {
            v["Digest"] = json!(d.to_string());
        }
        if let Some(r) = &self.reason {
            v["Reason"] = json!(r);
        }
        v
    }

    /// `file:line: …` for a place that needs the user's eyes, else `None`.
    pub fn warning(&self, file: &str) -> Option<String> {
        let why = self.reason.as_deref().unwrap_or_default();
        let at = format!("{file}:{}: {} {}", self.line, self.context, self.written);
        match self.status {
            Status::Cannot => Some(format!("{at}: not pinned: {why}")),
            Status::Failed => Some(format!("{at}: {why}")),
            Status::Updated if self.reason.is_some() => Some(format!("{at}: updated: {why}")),
            Status::Moved => {
                let now = self.digest.as_ref().map(ToString::to_string);
                Some(match &self.reason {
                    Some(why) => format!("{at}: {why} (--update rewrites it)"),
                    None => format!(
                        "{at}: its tag has moved to {} (--update writes it)",
                        now.unwrap_or_default()
                    ),
                })
            }
            _ => None,
        }
    }
}

/// The largest file read for its images (no Dockerfile or manifest comes near it).
pub const MAX_FILE: u64 = 16 << 20;

/// The text of the file at `path` (`shown` as the user named it) and its image
/// places, as [`places_of`] finds them.
pub fn read_places(
    path: &std::path::Path,
    shown: &str,
    kind: Option<FileKind>,
) -> Result<(String, FileKind, Vec<Place>)> {
    let bytes = regpeek_client::bounded::read(path, MAX_FILE)
        .with_context(|| format!("reading {shown}"))?;
    let text = String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{shown}: not UTF-8 text"))?;
    let (kind, places) =
        places_of(shown, &text, kind).with_context(|| format!("reading {shown}"))?;
    Ok((text, kind, places))
}

/// A file's places: the kind (given, or told from its name and content), and each
/// image place with its span in `text` (which may start with a BOM).
pub fn places_of(name: &str, text: &str, kind: Option<FileKind>) -> Result<(FileKind, Vec<Place>)> {
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let body = &text[bom..];
    let kind = kind.unwrap_or_else(|| places::kind_of(name, body));
    let (kind, mut found) = match kind {
        FileKind::Dockerfile => (kind, dockerfile::places(body)?),
        FileKind::List => (kind, places::list_places(body)),
        _ => places::yaml_places(body, Some(kind))?,
    };
    for place in &mut found {
        if let Edit::At(span) = &mut place.edit {
            *span = span.start + bom..span.end + bom;
        }
        // A variable names it: the value is set elsewhere (.env, the shell, CI/CD
        // settings).
        let tool = match kind {
            FileKind::Compose => Some("compose"),
            FileKind::GitLab => Some("GitLab CI"),
            _ => None,
        };
        if let Some(tool) = tool.filter(|_| place.image.contains('$')) {
            place.edit = Edit::Cannot(format!(
                "it is set by a {tool} variable; pin the value where the variable is set"
            ));
        }
    }
    Ok((kind, found))
}

/// What a place asks to be looked up: its reference without the digest
/// (`nginx:1.27` for `nginx:1.27@sha256:…`), or why it needs none.
pub fn lookup_key(text: &str, place: &Place) -> Result<String, (Status, String)> {
    let span = match &place.edit {
        Edit::At(span) => span,
        Edit::NotAnImage(why) => return Err((Status::Skipped, why.clone())),
        Edit::Cannot(why) => return Err((Status::Cannot, why.clone())),
    };
    let written = &text[span.clone()];
    let r = Reference::parse(written).map_err(|e| (Status::Cannot, e.to_string()))?;
    let without = written.split('@').next().unwrap_or(written);
    if r.digest().is_some() && !has_tag(without) {
        // `name@digest`, no tag: nothing says what it should follow.
        return Err((
            Status::DigestOnly,
            "pinned by digest alone: no tag to follow".into(),
        ));
    }
    Ok(without.to_owned())
}

/// The digest a reference as written is pinned to, if it is.
pub fn pinned_digest(written: &str) -> Option<Digest> {
    written
        .split_once('@')
        .and_then(|(_, d)| Digest::parse(d).ok())
}

/// Whether `name` (no digest) ends in a tag: a `:` after the last `/`.
fn has_tag(name: &str) -> bool {
    name.rsplit('/')
        .next()
        .is_some_and(|last| last.contains(':'))
}

/// What a tag points at now, as a pin is judged against it (one rule for `pin`,
/// `pin --check` and `outdated`).
#[derive(Debug, Clone)]
pub struct TagNow {
    /// The tag's digest: its index, for an image of several platforms.
    pub digest: Digest,
    /// The platform asked for (`--platform`), and its entry in the index.
    pub asked: Option<(Platform, Digest)>,
    /// The index's entries, when the tag is an index and they were read.
    pub entries: Option<Vec<(Digest, Option<Platform>)>>,
}

/// What became, or would become, of one reference: its status, the digest shown (and
/// written, for `Pinned` and `Updated`), and why, when it needs saying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub status: Status,
    pub digest: Digest,
    pub reason: Option<String>,
}

impl TagNow {
    /// The digest a new pin gets: the asked platform's entry, else the tag's.
    pub fn to_write(&self) -> &Digest {
        self.asked.as_ref().map_or(&self.digest, |(_, d)| d)
    }

    /// Whether a pin to `pinned` is current: `Ok` (with what it is, when it is an
    /// entry of the index), or `Err` with why not (`None`: the tag has moved). A pin
    /// to the index is current, and so is a pin to one of its entries: to any when no
    /// platform is asked, to the asked one's only when one is.
    pub fn judge(&self, pinned: &Digest) -> Result<Option<String>, Option<String>> {
        if *pinned == self.digest {
            return Ok(None);
        }
        let entry = self.entries.iter().flatten().find(|(d, _)| d == pinned);
        let Some((_, platform)) = entry else {
            return Err(None);
        };
        let name = platform
            .as_ref()
            .map_or_else(|| "a platformless".to_owned(), |p| format!("the {p}"));
        match &self.asked {
            Some((_, d)) if d == pinned => Ok(Some(format!("{name} entry of the tag's index"))),
            Some((want, _)) => Err(Some(format!(
                "pinned to {name} entry of the tag's index, not {want}'s"
            ))),
            None => Ok(Some(format!("{name} entry of the tag's index"))),
        }
    }

    /// What `--update` writes for a pin that is no longer current and was to an image
    /// for `was` (`None`: to an index, or to an image whose platform is unknown): a
    /// platform pin stays a platform pin, to its platform's entry now.
    pub fn update_for(&self, was: Option<&Platform>) -> Result<Digest, String> {
        if let Some((_, d)) = &self.asked {
            return Ok(d.clone());
        }
        match (was, &self.entries) {
            (Some(p), Some(entries)) => entries
                .iter()
                .find(|(_, e)| e.as_ref().is_some_and(|e| e.same(p)))
                .map(|(d, _)| d.clone())
                .ok_or_else(|| {
                    format!("it is pinned to {p}'s image, and the tag's index has no {p} now")
                }),
            _ => Ok(self.digest.clone()),
        }
    }

    /// The decision for a reference pinned to `pinned` (`None`: not pinned); with
    /// `update`, a pin that is not current is rewritten ([`TagNow::update_for`]).
    pub fn decide(
        &self,
        pinned: Option<&Digest>,
        update: bool,
        was: Option<&Platform>,
    ) -> Result<Decision, String> {
        let decision = |status, digest: &Digest, reason| Decision {
            status,
            digest: digest.clone(),
            reason,
        };
        let Some(pinned) = pinned else {
            return Ok(decision(Status::Pinned, self.to_write(), None));
        };
        Ok(match self.judge(pinned) {
            Ok(why) => decision(Status::Current, pinned, why),
            Err(why) if update => decision(Status::Updated, &self.update_for(was)?, why),
            Err(why) => decision(Status::Moved, self.to_write(), why),
        })
    }
}

/// What becomes of a reference, given its [`lookup_key`] and the digest it is
/// pinned to (`None`: not pinned); `Err` when its tag cannot be learnt.
pub type Decide<'a> = dyn Fn(&str, Option<&Digest>) -> Result<Decision, String> + 'a;

/// The new text of a file and a row per place: each reference gets what `decide`
/// says of it, given its [`lookup_key`] and the digest it is pinned to; `@digest` is
/// written for `Pinned` and `Updated`. Places sharing bytes (one `ARG` default for two
/// `FROM`s) are edited once.
pub fn plan(text: &str, found: &[Place], decide: &Decide) -> (String, Vec<Row>) {
    let mut edits: BTreeMap<usize, (Range<usize>, String)> = BTreeMap::new();
    let mut rows = Vec::new();
    for place in found {
        let written = match &place.edit {
            Edit::At(span) => text[span.clone()].to_owned(),
            _ => place.image.clone(),
        };
        let mut row = Row {
            line: place.line,
            context: place.context.clone(),
            written: written.clone(),
            digest: None,
            status: Status::Pinned,
            reason: None,
        };
        let key = match lookup_key(text, place) {
            Ok(key) => key,
            Err((status, why)) => {
                row.status = status;
                row.reason = Some(why);
                rows.push(row);
                continue;
            }
        };
        let Edit::At(span) = &place.edit else {
            continue;
        };
        let pinned = pinned_digest(&written);
        match decide(&key, pinned.as_ref()) {
            Err(why) => {
                row.status = Status::Failed;
                row.reason = Some(why);
            }
            Ok(decision) => {
                row.status = decision.status;
                row.reason = decision.reason;
                if matches!(row.status, Status::Pinned | Status::Updated) {
                    // An untagged reference follows `latest`: say so, or the next
                    // run would read `name@digest` as pinned by digest alone.
                    let tag = if has_tag(&key) { "" } else { ":latest" };
                    let new = format!("{key}{tag}@{}", decision.digest);
                    edits.insert(span.start, (span.clone(), new));
                }
                row.digest = Some(decision.digest);
            }
        }
        rows.push(row);
    }
    let mut out = String::with_capacity(text.len() + edits.len() * 72);
    let mut at = 0;
    for (span, new) in edits.values() {
        out.push_str(&text[at..span.start]);
        out.push_str(new);
        at = span.end;
    }
    out.push_str(&text[at..]);
    (out, rows)
}

/// The unified diff from `old` to `new`, as `diff -u` and `git diff` show it.
pub fn unified_diff(name: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}

#[cfg(test)]
mod tests;
