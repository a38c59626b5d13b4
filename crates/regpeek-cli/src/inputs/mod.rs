//! Where a batch's references come from besides the command line: `--file` (one a
//! line, `#` comments) and `--from` (compose files, Kubernetes manifests,
//! Dockerfiles, read as their own tools read them), all bounded against hostile input
//! (size, alias bombs, `ARG` growth). A UTF-8 BOM is accepted; `-` reads stdin.

mod compose;
mod dockerfile;

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::args::BatchArgs;

/// What `--file` and `--from` gave.
pub struct Collected {
    /// The references, in file order.
    pub references: Vec<String>,
    /// What the user should hear about (compose variables that were not set).
    pub warnings: Vec<String>,
}

/// References from `--file` and `--from`.
pub fn collect(batch: &BatchArgs) -> Result<Collected> {
    let mut out = Collected {
        references: Vec::new(),
        warnings: Vec::new(),
    };
    if let Some(file) = &batch.file {
        let text = read_input(file)?;
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if !line.is_empty() {
                out.references.push(line.to_owned());
            }
        }
    }
    if let Some(path) = &batch.from {
        let found = from(path)?;
        out.references.extend(found.references);
        out.warnings.extend(found.warnings);
    }
    Ok(out)
}

/// What a recording keeps of the file `--from path` names: its bytes as they are,
/// except for a compose file that interpolates variables. What that names depends on
/// the environment and the `.env` beside it (which may hold secrets), neither of which
/// is kept, so it is kept as a compose file of the images it resolved to.
pub fn kept_from(path: &Path) -> Result<Vec<u8>> {
    let bytes = crate::files::read(path, MAX_INPUT)
        .with_context(|| format!("reading {} to keep it with the recording", path.display()))?;
    // What does not read here fails the replay as it fails the live run: kept as is.
    let Ok(text) = std::str::from_utf8(&bytes).map(strip_bom) else {
        return Ok(bytes);
    };
    if kind(path, text) == Kind::Dockerfile {
        return Ok(bytes);
    }
    let Ok(images) = yaml_images(text) else {
        return Ok(bytes);
    };
    if !images.iter().any(YamlImage::interpolates) {
        return Ok(bytes);
    }
    let mut kept = String::from("services:\n");
    for (i, image) in resolve(path, images)?.references.iter().enumerate() {
        kept.push_str(&format!(
            "  s{i}:\n    image: {}\n",
            serde_json::json!(image)
        ));
    }
    Ok(kept.into_bytes())
}

/// The references `--from path` names.
pub fn from(path: &Path) -> Result<Collected> {
    let text = read_input(path)?;
    if kind(path, &text) == Kind::Dockerfile {
        let references = dockerfile::images(&text).with_context(|| reading(path))?;
        return Ok(Collected {
            references,
            warnings: Vec::new(),
        });
    }
    let images = yaml_images(&text).with_context(|| reading(path))?;
    resolve(path, images)
}

/// The references of the YAML file `path`: compose images interpolated, each once.
fn resolve(path: &Path, images: Vec<YamlImage>) -> Result<Collected> {
    let mut out = Collected {
        references: Vec::new(),
        warnings: Vec::new(),
    };
    // Variables are read (and `.env` with them) only when a compose image has one:
    // a Kubernetes manifest never depends on a `.env` that happens to lie beside it.
    let vars = if images.iter().any(YamlImage::interpolates) {
        compose_vars(path)?
    } else {
        compose::Vars {
            env: HashMap::new(),
            dotenv: HashMap::new(),
        }
    };
    let mut unset = Vec::new();
    for image in images {
        let image = if image.is_compose {
            compose::interpolate(&image.text, &vars, &mut unset).with_context(|| reading(path))?
        } else {
            image.text
        };
        if !image.is_empty() && !out.references.contains(&image) {
            out.references.push(image);
        }
    }
    out.warnings.extend(unset.into_iter().map(|name| {
        format!(
            "{}: the {name:?} variable is not set; it stands for an empty string",
            shown(path)
        )
    }));
    Ok(out)
}

fn reading(path: &Path) -> String {
    format!("reading {}", shown(path))
}

/// A compose file's variables: the environment (what is valid UTF-8 of it), then the
/// `.env` beside the file (the working directory's for stdin), as `docker compose`
/// reads them.
fn compose_vars(path: &Path) -> Result<compose::Vars> {
    let dir = match path.parent() {
        Some(p) if path != Path::new("-") && !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let env: HashMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let dotenv_path = dir.join(".env");
    let dotenv = match crate::files::read_text(&dotenv_path, MAX_INPUT) {
        Ok(text) => compose::dotenv(strip_bom(&text), &env)
            .with_context(|| format!("reading {}", dotenv_path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dotenv_path.display())),
    };
    Ok(compose::Vars { env, dotenv })
}

/// What `--from` reads.
#[derive(Debug, PartialEq)]
enum Kind {
    Dockerfile,
    /// Compose files and Kubernetes manifests (told apart by their content).
    Yaml,
}

/// A `--from` file's kind, from its name (`Dockerfile`, `Containerfile`,
/// `*.dockerfile`, `*.yaml`), else from its content (stdin, odd names): a Dockerfile's
/// first instruction is `FROM` or `ARG`.
fn kind(path: &Path, text: &str) -> Kind {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if name.contains("dockerfile") || name.contains("containerfile") {
        return Kind::Dockerfile;
    }
    if [".yaml", ".yml", ".json"].iter().any(|e| name.ends_with(e)) {
        return Kind::Yaml;
    }
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or_default();
    let word = first.split_whitespace().next().unwrap_or_default();
    if word.eq_ignore_ascii_case("FROM") || word.eq_ignore_ascii_case("ARG") {
        Kind::Dockerfile
    } else {
        Kind::Yaml
    }
}

/// A path as the user gave it, `-` as "standard input".
fn shown(path: &Path) -> String {
    if path == Path::new("-") {
        "standard input".to_owned()
    } else {
        path.display().to_string()
    }
}

/// The text of `path` (`-`: stdin), bounded, its BOM removed.
fn read_input(path: &Path) -> Result<String> {
    let text = if path == Path::new("-") {
        read_capped(std::io::stdin().lock()).context("reading standard input")?
    } else {
        crate::files::read_text(path, MAX_INPUT)
            .with_context(|| format!("reading {}", path.display()))?
    };
    Ok(strip_bom(&text).to_owned())
}

fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// The most a list of references may hold: far beyond any real file, short of what
/// would exhaust memory.
const MAX_INPUT: u64 = 16 << 20;

/// All of `input` as UTF-8, refused beyond [`MAX_INPUT`].
fn read_capped(input: impl std::io::Read) -> Result<String> {
    let bytes = crate::files::read_capped(input, MAX_INPUT)?;
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("not UTF-8 text"))
}

/// An `image` found in YAML.
#[derive(Debug)]
pub struct YamlImage {
    /// As written.
    pub text: String,
    /// From a compose file's `services`, so interpolated as compose does.
    pub is_compose: bool,
}

impl YamlImage {
    /// Whether compose interpolation changes it.
    fn interpolates(&self) -> bool {
        self.is_compose && self.text.contains('$')
    }
}

/// Images of a compose file (`services.*.image`) or of Kubernetes manifests (every
/// `image` of `containers`, `initContainers` and `ephemeralContainers`, in every
/// document, any kind).
pub fn yaml_images(text: &str) -> Result<Vec<YamlImage>> {
    use yaml_rust2::{Yaml, YamlLoader};
    check_alias_expansion(text)?;
    let docs = YamlLoader::load_from_str(text).map_err(|e| anyhow::anyhow!("not YAML: {e}"))?;
    let mut out: Vec<YamlImage> = Vec::new();
    let mut push = |s: &str, is_compose: bool| {
        if !s.is_empty() && !out.iter().any(|o| o.text == s) {
            out.push(YamlImage {
                text: s.to_owned(),
                is_compose,
            });
        }
    };
    fn walk(y: &Yaml, push: &mut dyn FnMut(&str, bool)) {
        match y {
            Yaml::Hash(h) => {
                for (k, v) in h {
                    let key = k.as_str().unwrap_or_default();
                    if matches!(key, "containers" | "initContainers" | "ephemeralContainers")
                        && let Yaml::Array(list) = v
                    {
                        for c in list {
                            if let Some(image) = merged(c, "image").and_then(Yaml::as_str) {
                                push(image, false);
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
                    push(image, true);
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

    fn texts(images: Vec<YamlImage>) -> Vec<String> {
        images.into_iter().map(|i| i.text).collect()
    }

    #[test]
    fn kinds_from_names_then_content() {
        let df = "# syntax=docker/dockerfile:1\n\nfrom alpine\n";
        assert_eq!(kind(Path::new("Dockerfile.prod"), ""), Kind::Dockerfile);
        assert_eq!(kind(Path::new("app.Containerfile"), ""), Kind::Dockerfile);
        assert_eq!(kind(Path::new("compose.yaml"), df), Kind::Yaml);
        assert_eq!(kind(Path::new("-"), df), Kind::Dockerfile);
        assert_eq!(kind(Path::new("-"), "ARG X=1\nFROM $X"), Kind::Dockerfile);
        assert_eq!(kind(Path::new("-"), "services: {}\n"), Kind::Yaml);
        assert_eq!(strip_bom("\u{feff}FROM x"), "FROM x");
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
            texts(yaml_images(compose).unwrap()),
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
        assert_eq!(
            texts(yaml_images(compose).unwrap()),
            ["nginx:1.27", "postgres:16"]
        );
        let k8s = "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      initContainers:\n        - name: init\n          image: busybox:1.36\n      containers:\n        - name: app\n          image: ghcr.io/org/app:v1\n---\nkind: CronJob\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers:\n            - image: alpine:3.20\n          ephemeralContainers:\n            - image: debug:1\n";
        assert_eq!(
            texts(yaml_images(k8s).unwrap()),
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
