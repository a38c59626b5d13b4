//! The images a Dockerfile builds from, read as BuildKit reads them: parser
//! directives (`# escape=`), line continuations, heredocs, `ARG` scope (only the
//! `ARG`s before the first `FROM` reach `FROM` lines; a stage sees its own `ARG`s),
//! stage names and indexes, `COPY --from=` and `RUN --mount=…,from=`.

use std::collections::HashMap;
use std::ops::Range;

use anyhow::{Result, bail};

use super::places::{Edit, Place};

/// The longest an `ARG` value may grow by substitution (a reference is far shorter).
const MAX_ARG: usize = 4096;

/// Images of a Dockerfile, each once, in the order they first appear: `FROM` images,
/// `COPY --from=` and `RUN --mount=from=` images; stage names, stage indexes and
/// `scratch` are not images (what `--from` reads, less its places).
#[cfg(test)]
pub fn images(text: &str) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for place in places(text)? {
        let image = !matches!(place.edit, Edit::NotAnImage(_)) && !place.image.is_empty();
        if image && !out.contains(&place.image) {
            out.push(place.image);
        }
    }
    Ok(out)
}

/// An `ARG` value: what it expands to, and where it is written when it is a literal
/// (no `$`), so that a `FROM $NAME` can be pinned where the name is set.
#[derive(Clone)]
struct Arg {
    value: String,
    literal: Option<(usize, Range<usize>)>,
}

/// Every image place of a Dockerfile, in file order: `FROM` images (pinned where
/// written, or at the default of the one global `ARG` they name), `COPY --from=` and
/// `RUN --mount=from=` images, and what is no image (`scratch`, stage names and
/// indexes) or cannot be pinned in place (several `ARG`s, an `ARG` without a
/// literal default), each with why.
pub fn places(text: &str) -> Result<Vec<Place>> {
    let mut global: HashMap<String, Arg> = HashMap::new();
    // The `ARG`s of the stage being read; `None` before the first `FROM`.
    let mut stage: Option<HashMap<String, Arg>> = None;
    let mut stages: Vec<String> = Vec::new();
    let mut out: Vec<Place> = Vec::new();
    for logical in logical_lines(text) {
        let mut words = logical.words.iter();
        let Some(instr) = words.next() else { continue };
        match instr.text.to_ascii_uppercase().as_str() {
            "ARG" => {
                for w in words {
                    let (name, value) = match w.text.split_once('=') {
                        Some((k, v)) => (k, Some(v)),
                        None => (w.text.as_str(), None),
                    };
                    let scope = stage.as_ref().unwrap_or(&global);
                    let arg = match value {
                        Some(v) => {
                            let inner = unquoted_span(v, w.start + name.len() + 1);
                            let value = substitute(unquote(v), scope);
                            let literal = (!v.contains('$')).then_some((logical.line, inner));
                            Some(Arg { value, literal })
                        }
                        // `ARG NAME` in a stage brings the global default in.
                        None if stage.is_some() => global.get(name).cloned(),
                        None => None,
                    };
                    if arg.as_ref().is_some_and(|a| a.value.len() > MAX_ARG) {
                        bail!("ARG {name} grows past {MAX_ARG} characters");
                    }
                    let scope = stage.as_mut().unwrap_or(&mut global);
                    match arg {
                        Some(a) => scope.insert(name.to_owned(), a),
                        None => scope.remove(name),
                    };
                }
            }
            "FROM" => {
                let (flags, rest): (Vec<&Word>, Vec<&Word>) =
                    words.partition(|w| w.text.starts_with("--"));
                let Some(image) = rest.first() else { continue };
                // FROM lines see only the global ARGs.
                let span = image.start..image.start + image.text.len();
                let mut found = place(logical.line, "FROM", &image.text, span, &global, &stages);
                // `--platform=linux/arm64` picks that platform; `$BUILDPLATFORM` and
                // the like are the build's own, which the command's platform stands for.
                found.platform = flags
                    .iter()
                    .find_map(|f| f.text.strip_prefix("--platform="))
                    .map(|p| substitute(unquote(p), &global))
                    .filter(|p| !p.is_empty() && !p.contains('$'));
                out.push(found);
                if let (Some(as_kw), Some(name)) = (rest.get(1), rest.get(2))
                    && as_kw.text.eq_ignore_ascii_case("as")
                {
                    stages.push(name.text.to_ascii_lowercase());
                }
                stage = Some(HashMap::new());
            }
            "COPY" | "RUN" => {
                let scope = stage.as_ref().unwrap_or(&global);
                for w in words.take_while(|w| w.text.starts_with("--")) {
                    let from = if let Some(v) = w.text.strip_prefix("--from=") {
                        Some(("COPY --from", "--from=".len(), v))
                    } else if let Some(mount) = w.text.strip_prefix("--mount=") {
                        let mut at = "--mount=".len();
                        mount.split(',').find_map(|kv| {
                            let found =
                                kv.strip_prefix("from=").map(|v| ("RUN --mount", at + 5, v));
                            at += kv.len() + 1;
                            found
                        })
                    } else {
                        None
                    };
                    if let Some((context, offset, value)) = from {
                        let span = unquoted_span(value, w.start + offset);
                        let written = unquote(value);
                        out.push(place(logical.line, context, written, span, scope, &stages));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The place of an image written as `word` at `span`, with the `ARG`s in `scope`.
fn place(
    line: usize,
    context: &str,
    word: &str,
    span: Range<usize>,
    scope: &HashMap<String, Arg>,
    stages: &[String],
) -> Place {
    let image = substitute(word, scope);
    let lower = image.to_ascii_lowercase();
    let (line, edit) = if image.is_empty() {
        (
            line,
            Edit::Cannot(format!("{word} is empty: no ARG gives it a value")),
        )
    } else if lower == "scratch" {
        (line, Edit::NotAnImage("scratch is the empty image".into()))
    } else if stages.contains(&lower) {
        (line, Edit::NotAnImage(format!("{image} names a stage")))
    } else if image.parse::<usize>().is_ok() {
        (line, Edit::NotAnImage(format!("{image} is a stage index")))
    } else if !word.contains('$') {
        (line, Edit::At(span))
    } else {
        match lone_arg(word).and_then(|name| Some((name, scope.get(name)?))) {
            Some((
                _,
                Arg {
                    literal: Some((at, span)),
                    ..
                },
            )) => (*at, Edit::At(span.clone())),
            Some((name, _)) => (
                line,
                Edit::Cannot(format!(
                    "ARG {name} is built from other ARGs; pin them where they are set"
                )),
            ),
            None => (
                line,
                Edit::Cannot(format!(
                    "{word} is built from several ARGs (or one without a default)"
                )),
            ),
        }
    };
    Place {
        line,
        context: context.to_owned(),
        image,
        edit,
        platform: None,
    }
}

/// `NAME` when `word` is exactly `$NAME` or `${NAME}`.
fn lone_arg(word: &str) -> Option<&str> {
    let name = word
        .strip_prefix("${")
        .and_then(|w| w.strip_suffix('}'))
        .or_else(|| word.strip_prefix('$'))?;
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .then_some(name)
}

/// The span of `value` (written at `start`) without its quotes.
fn unquoted_span(value: &str, start: usize) -> Range<usize> {
    let inner = unquote(value);
    let lead = value.find(inner).unwrap_or(0);
    start + lead..start + lead + inner.len()
}

/// A word of an instruction and where it starts in the file.
struct Word {
    text: String,
    start: usize,
}

/// An instruction: its first physical line (1-based) and its words.
struct Logical {
    line: usize,
    words: Vec<Word>,
}

/// The instructions of a Dockerfile: parser directives read, the escape character
/// honoured, continuations joined (comment lines inside them dropped, as BuildKit
/// does), heredoc bodies skipped, comments and blank lines left out. Each word keeps
/// its byte offset in `text`.
fn logical_lines(text: &str) -> Vec<Logical> {
    let mut escape = '\\';
    // Physical lines: (1-based number, byte offset, content without its line break).
    let mut lines = text
        .split_inclusive('\n')
        .scan(0usize, |offset, raw| {
            let at = *offset;
            *offset += raw.len();
            let content = raw.strip_suffix('\n').unwrap_or(raw);
            Some((at, content.strip_suffix('\r').unwrap_or(content)))
        })
        .enumerate()
        .map(|(i, (at, content))| (i + 1, at, content))
        .peekable();
    // Parser directives: `# key=value` lines before anything else.
    while let Some((_, _, line)) = lines.peek() {
        let Some(body) = line.trim().strip_prefix('#') else {
            break;
        };
        let Some((key, value)) = body.split_once('=') else {
            break;
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
            break;
        }
        if key.eq_ignore_ascii_case("escape") && value.trim() == "`" {
            escape = '`';
        }
        lines.next();
    }
    let mut out = Vec::new();
    let mut current: Option<Logical> = None;
    let mut joined = String::new();
    let mut heredocs: Vec<String> = Vec::new();
    for (number, at, line) in lines {
        if let Some(end) = heredocs.first() {
            if line.trim_start_matches('\t') == end {
                heredocs.remove(0);
            }
            continue;
        }
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (current.is_none() && trimmed.is_empty()) {
            continue;
        }
        let (body, continues) = match trimmed.strip_suffix(escape) {
            Some(body) => (body, true),
            None => (trimmed, false),
        };
        let logical = current.get_or_insert_with(|| Logical {
            line: number,
            words: Vec::new(),
        });
        let base = at + (trimmed.as_ptr() as usize - line.as_ptr() as usize);
        logical.words.extend(words_of(body, base));
        joined.push_str(body);
        joined.push(' ');
        if continues {
            continue;
        }
        heredocs = heredoc_ends(&joined);
        joined.clear();
        out.extend(current.take());
    }
    out.extend(current.take().filter(|l| !l.words.is_empty()));
    out
}

/// The whitespace-separated words of `text`, which starts at byte `base`.
fn words_of(text: &str, base: usize) -> Vec<Word> {
    let mut words = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                words.push(Word {
                    text: text[s..i].to_owned(),
                    start: base + s,
                });
                start = None;
            }
            _ => {}
        }
    }
    words
}

/// The terminators of the heredocs an instruction opens (`<<EOF`, `<<-EOF`, `<<"EOF"`).
fn heredoc_ends(instruction: &str) -> Vec<String> {
    let mut ends = Vec::new();
    let mut rest = instruction;
    while let Some(at) = rest.find("<<") {
        rest = &rest[at + 2..];
        let word = rest.strip_prefix('-').unwrap_or(rest);
        let word: String = word
            .chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, '>' | '|' | '&' | ';'))
            .collect();
        let word = word.trim_matches(|c| c == '"' || c == '\'');
        if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            ends.push(word.to_owned());
        }
    }
    ends
}

fn unquote(value: &str) -> &str {
    value.trim_matches('"').trim_matches('\'')
}

/// `$NAME`, `${NAME}`, `${NAME:-default}` and `${NAME:+alternative}` expanded from
/// `args` (unknown names become empty), as BuildKit does.
fn substitute(word: &str, args: &HashMap<String, Arg>) -> String {
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
        let value = args
            .get(&name)
            .map(|a| a.value.as_str())
            .filter(|v| !v.is_empty());
        if braced {
            let mut tail = String::new();
            for n in chars.by_ref() {
                if n == '}' {
                    break;
                }
                tail.push(n);
            }
            if let Some(default) = tail.strip_prefix(":-").or(tail.strip_prefix('-')) {
                match value {
                    Some(v) => out.push_str(v),
                    None => out.push_str(default),
                }
            } else if let Some(alternative) = tail.strip_prefix(":+").or(tail.strip_prefix('+')) {
                if value.is_some() {
                    out.push_str(alternative);
                }
            } else if let Some(v) = value {
                out.push_str(v);
            }
        } else if let Some(v) = value {
            out.push_str(v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_lines() {
        let text = "ARG BASE=debian\nARG TAG=12\nFROM --platform=$BUILDPLATFORM golang:1.22 AS build\nRUN go build\nFROM ${BASE}:${TAG}-slim\nCOPY --from=build /x /x\nFROM build AS test\nFROM scratch\nFROM ghcr.io/org/app:${VERSION:-1.0} \\\n  AS final\n";
        assert_eq!(
            images(text).unwrap(),
            ["golang:1.22", "debian:12-slim", "ghcr.io/org/app:1.0"]
        );
        // ARG values see earlier ARGs, as in Docker.
        let text = "ARG REGISTRY=ghcr.io\nARG IMAGE=${REGISTRY}/org/app\nFROM $IMAGE:v1\n";
        assert_eq!(images(text).unwrap(), ["ghcr.io/org/app:v1"]);
        // ... and cannot grow without bound.
        let mut text = String::from("ARG A0=xxxxxxxx\n");
        for i in 1..40 {
            text.push_str(&format!("ARG A{i}=${{A{}}}${{A{}}}\n", i - 1, i - 1));
        }
        text.push_str("FROM $A39\n");
        let err = images(&text).unwrap_err().to_string();
        assert!(err.contains("grows past"), "{err}");
    }

    #[test]
    fn arg_scope_is_buildkits() {
        // An ARG inside a stage does not reach the next FROM; the global one does.
        let text = "ARG TAG=12\nFROM debian:$TAG AS one\nARG TAG=13\nFROM debian:$TAG\n";
        assert_eq!(images(text).unwrap(), ["debian:12"]);
        // A stage sees a global ARG only when it declares it again.
        let text = "ARG HELPER=busybox:1.36\nFROM alpine:3.20\nCOPY --from=$HELPER /bin/sh /x\nARG HELPER\nCOPY --from=$HELPER /bin/sh /y\n";
        assert_eq!(images(text).unwrap(), ["alpine:3.20", "busybox:1.36"]);
    }

    #[test]
    fn copy_and_mount_sources() {
        let text = "FROM golang:1.22 AS build\nFROM alpine:3.20\nCOPY --from=build /a /a\nCOPY --from=0 /b /b\nCOPY --chown=1:1 --from=ghcr.io/org/tools:v1 /c /c\nRUN --mount=type=bind,from=busybox:1.36,target=/mnt \\\n    --mount=type=cache,target=/root/.cache ls /mnt\nRUN --mount=from=build,target=/src true\n";
        assert_eq!(
            images(text).unwrap(),
            [
                "golang:1.22",
                "alpine:3.20",
                "ghcr.io/org/tools:v1",
                "busybox:1.36"
            ]
        );
    }

    #[test]
    fn directives_comments_and_heredocs() {
        // The backtick escape of Windows Dockerfiles; a comment inside a continuation.
        let text = "# syntax=docker/dockerfile:1\n# escape=`\nFROM mcr.microsoft.com/windows/nanoserver:ltsc2022 `\n# a comment\n  AS base\nRUN echo C:\\\nFROM base\n";
        assert_eq!(
            images(text).unwrap(),
            ["mcr.microsoft.com/windows/nanoserver:ltsc2022"]
        );
        // A heredoc body that looks like an instruction is not one.
        let text = "FROM alpine:3.20\nRUN <<EOF\nFROM not-an-image\nEOF\nCOPY <<-'END' /etc/x\n\tFROM neither\n\tEND\nFROM debian:12\n";
        assert_eq!(images(text).unwrap(), ["alpine:3.20", "debian:12"]);
        // CRLF line endings and continuations.
        let text = "ARG V=1\r\nFROM nginx:${V} \\\r\n  AS web\r\n";
        assert_eq!(images(text).unwrap(), ["nginx:1"]);
    }
}
