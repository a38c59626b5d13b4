//! Where a batch's references come from besides the command line: `--file` (one a
//! line, `#` comments) and `--from` (compose files, Kubernetes manifests,
//! Dockerfiles), all bounded against hostile input (size, alias bombs, `ARG` growth).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::args::BatchArgs;

/// References from `--file` and `--from`.
pub fn collect(batch: &BatchArgs) -> Result<Vec<String>> {
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
