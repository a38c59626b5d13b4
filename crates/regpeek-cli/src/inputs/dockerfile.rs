//! The images a Dockerfile builds from, read as BuildKit reads them: parser
//! directives (`# escape=`), line continuations, heredocs, `ARG` scope (only the
//! `ARG`s before the first `FROM` reach `FROM` lines; a stage sees its own `ARG`s),
//! stage names and indexes, `COPY --from=` and `RUN --mount=…,from=`.

use std::collections::HashMap;

use anyhow::{Result, bail};

/// The longest an `ARG` value may grow by substitution (a reference is far shorter).
const MAX_ARG: usize = 4096;

/// Images of a Dockerfile, each once, in the order they first appear: `FROM` images,
/// `COPY --from=` and `RUN --mount=from=` images; stage names, stage indexes and
/// `scratch` are not images.
pub fn images(text: &str) -> Result<Vec<String>> {
    let mut global: HashMap<String, String> = HashMap::new();
    // The `ARG`s of the stage being read; `None` before the first `FROM`.
    let mut stage: Option<HashMap<String, String>> = None;
    let mut stages: Vec<String> = Vec::new();
    let mut out: Vec<String> = Vec::new();
    let mut push = |image: String, stages: &[String]| {
        let lower = image.to_ascii_lowercase();
        if image.is_empty()
            || lower == "scratch"
            || stages.contains(&lower)
            || image.parse::<usize>().is_ok()
            || out.contains(&image)
        {
            return;
        }
        out.push(image);
    };
    for line in logical_lines(text) {
        let mut words = line.split_whitespace();
        let Some(instr) = words.next() else { continue };
        match instr.to_ascii_uppercase().as_str() {
            "ARG" => {
                for w in words {
                    let (name, value) = match w.split_once('=') {
                        Some((k, v)) => (k, Some(v)),
                        None => (w, None),
                    };
                    let scope = stage.as_ref().unwrap_or(&global);
                    let value = match value {
                        Some(v) => Some(substitute(unquote(v), scope)),
                        // `ARG NAME` in a stage brings the global default in.
                        None if stage.is_some() => global.get(name).cloned(),
                        None => None,
                    };
                    if value.as_ref().is_some_and(|v| v.len() > MAX_ARG) {
                        bail!("ARG {name} grows past {MAX_ARG} characters");
                    }
                    let scope = stage.as_mut().unwrap_or(&mut global);
                    match value {
                        Some(v) => scope.insert(name.to_owned(), v),
                        None => scope.remove(name),
                    };
                }
            }
            "FROM" => {
                let rest: Vec<&str> = words.filter(|w| !w.starts_with("--")).collect();
                let Some(image) = rest.first() else { continue };
                // FROM lines see only the global ARGs.
                push(substitute(image, &global), &stages);
                if let (Some(as_kw), Some(name)) = (rest.get(1), rest.get(2))
                    && as_kw.eq_ignore_ascii_case("as")
                {
                    stages.push(name.to_ascii_lowercase());
                }
                stage = Some(HashMap::new());
            }
            "COPY" | "RUN" => {
                let scope = stage.as_ref().unwrap_or(&global);
                for flag in words.take_while(|w| w.starts_with("--")) {
                    let from = if let Some(v) = flag.strip_prefix("--from=") {
                        Some(v)
                    } else if let Some(mount) = flag.strip_prefix("--mount=") {
                        mount.split(',').find_map(|kv| kv.strip_prefix("from="))
                    } else {
                        None
                    };
                    if let Some(from) = from {
                        push(substitute(unquote(from), scope), &stages);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The instructions of a Dockerfile, one string each: parser directives read, the
/// escape character honoured, continuations joined (comment lines inside them dropped,
/// as BuildKit does), heredoc bodies skipped, comments and blank lines left out.
fn logical_lines(text: &str) -> Vec<String> {
    let mut escape = '\\';
    let mut lines = text.lines().peekable();
    // Parser directives: `# key=value` lines before anything else.
    while let Some(line) = lines.peek() {
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
    let mut current = String::new();
    let mut heredocs: Vec<String> = Vec::new();
    for line in lines {
        if let Some(end) = heredocs.first() {
            if line.trim_start_matches('\t') == end {
                heredocs.remove(0);
            }
            continue;
        }
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if !current.is_empty() && trimmed.starts_with('#') {
            continue;
        }
        if let Some(body) = trimmed.strip_suffix(escape) {
            current.push_str(body);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        heredocs = heredoc_ends(&current);
        out.push(std::mem::take(&mut current));
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
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
        let value = args.get(&name).filter(|v| !v.is_empty());
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
