//! Where a batch's references come from besides the command line: `--file` (one a
//! line, `#` comments) and `--from` (compose files, Kubernetes manifests,
//! Dockerfiles, read as their own tools read them), all bounded against hostile input
//! (size, alias bombs, nesting, `ARG` growth). A UTF-8 BOM is accepted; `-` reads stdin.

mod compose;
pub mod dockerfile;
mod marked;
pub mod places;

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};

use crate::args::BatchArgs;

/// What `--file` and `--from` gave: one reference per place it is written, so that
/// each place is reported (the pipeline inspects each distinct reference once).
pub struct Collected {
    /// The references, in file order.
    pub references: Vec<String>,
    /// Where each was read: `file:line`, and for `--from` what names it
    /// (`compose.yaml:4 service web`, `Dockerfile:3 FROM`).
    pub sources: Vec<String>,
    /// The platform the file asks of each (`FROM --platform=`, compose's
    /// `platform:`), when it asks one.
    pub platforms: Vec<Option<String>>,
    /// What the user should hear about (compose variables that were not set).
    pub warnings: Vec<String>,
}

impl Collected {
    fn push(&mut self, reference: String, source: String, platform: Option<String>) {
        self.references.push(reference);
        self.sources.push(source);
        self.platforms.push(platform);
    }
}

/// References from `--file` and `--from`; `shown` names a path as the user gave it.
pub fn collect(batch: &BatchArgs, shown: &dyn Fn(&Path) -> String) -> Result<Collected> {
    let mut out = Collected {
        references: Vec::new(),
        sources: Vec::new(),
        platforms: Vec::new(),
        warnings: Vec::new(),
    };
    if let Some(file) = &batch.file {
        let text = read_input(file)?;
        let name = shown(file);
        for (i, line) in text.lines().enumerate() {
            let line_ref = line.split('#').next().unwrap_or_default().trim();
            if !line_ref.is_empty() {
                out.push(line_ref.to_owned(), format!("{name}:{}", i + 1), None);
            }
        }
    }
    if let Some(path) = &batch.from {
        let found = from(path, &shown(path))?;
        out.references.extend(found.references);
        out.sources.extend(found.sources);
        out.platforms.extend(found.platforms);
        out.warnings.extend(found.warnings);
    }
    Ok(out)
}

/// What a recording keeps of the file `--from path` names: its bytes as they are,
/// except for a compose file whose images interpolate variables. What those name
/// depends on the environment and the `.env` beside it (which may hold secrets),
/// neither of which is kept: the file is kept with each such image replaced, in
/// place, by what it resolved to (so lines and names stay), and nothing else of the
/// environment.
pub fn kept_from(path: &Path) -> Result<Vec<u8>> {
    let bytes = regpeek_client::bounded::read(path, MAX_INPUT)
        .with_context(|| format!("reading {} to keep it with the recording", path.display()))?;
    // What does not read here fails the replay as it fails the live run: kept as is.
    let Ok(text) = std::str::from_utf8(&bytes).map(strip_bom) else {
        return Ok(bytes);
    };
    if places::kind_of(&path.display().to_string(), text) != places::FileKind::Compose {
        return Ok(bytes);
    }
    let Ok((_, found)) = places::yaml_places(text, Some(places::FileKind::Compose)) else {
        return Ok(bytes);
    };
    if !found.iter().any(|p| p.image.contains('$')) {
        return Ok(bytes);
    }
    let vars = compose_vars(path)?;
    let mut kept = String::with_capacity(text.len());
    let mut at = 0;
    let mut spans: Vec<&places::Place> = found.iter().filter(|p| p.image.contains('$')).collect();
    spans.sort_by_key(|p| match &p.edit {
        places::Edit::At(span) => span.start,
        _ => 0,
    });
    for place in spans {
        let resolved = compose::interpolate(&place.image, &vars, &mut Vec::new())?;
        match &place.edit {
            places::Edit::At(span) if span.start >= at => {
                kept.push_str(&text[at..span.start]);
                kept.push_str(&resolved);
                at = span.end;
            }
            // Written so that it cannot be replaced in place: the variable's value
            // is not kept, and the replay says so as the live run could not.
            _ => {}
        }
    }
    kept.push_str(&text[at..]);
    Ok(kept.into_bytes())
}

/// The references `--from path` names (`name`: the path as the user gave it), one
/// per place.
pub fn from(path: &Path, name: &str) -> Result<Collected> {
    let text = read_input(path)?;
    let mut out = Collected {
        references: Vec::new(),
        sources: Vec::new(),
        platforms: Vec::new(),
        warnings: Vec::new(),
    };
    let source = |p: &places::Place| format!("{name}:{} {}", p.line, p.context);
    let (kind, found) = match places::kind_of(&path.display().to_string(), &text) {
        places::FileKind::Dockerfile => (
            places::FileKind::Dockerfile,
            dockerfile::places(&text).with_context(|| reading(name))?,
        ),
        places::FileKind::List => (places::FileKind::List, places::list_places(&text)),
        kind => places::yaml_places(&text, Some(kind)).with_context(|| reading(name))?,
    };
    let compose = kind == places::FileKind::Compose;
    // Variables are read (and `.env` with them) only when a compose image has one:
    // a Kubernetes manifest never depends on a `.env` that happens to lie beside it.
    let vars = if compose && found.iter().any(|p| p.image.contains('$')) {
        compose_vars(path)?
    } else {
        compose::Vars {
            env: HashMap::new(),
            dotenv: HashMap::new(),
        }
    };
    let mut unset = Vec::new();
    for place in &found {
        if matches!(place.edit, places::Edit::NotAnImage(_)) {
            continue;
        }
        // A CI variable is set where this file cannot see (GitLab's CI/CD settings).
        if !compose && place.image.contains('$') {
            out.warnings.push(format!(
                "{}: {} is set by a variable this file does not define; left out",
                source(place),
                place.image
            ));
            continue;
        }
        let image = if compose {
            compose::interpolate(&place.image, &vars, &mut unset).with_context(|| reading(name))?
        } else {
            place.image.clone()
        };
        if !image.is_empty() {
            out.push(image, source(place), place.platform.clone());
        }
    }
    unset.dedup();
    out.warnings.extend(unset.into_iter().map(|var| {
        format!("{name}: the {var:?} variable is not set; it stands for an empty string")
    }));
    Ok(out)
}

fn reading(name: &str) -> String {
    format!("reading {name}")
}

/// A compose file's variables: the environment (what is valid UTF-8 of it), then the
/// `.env` beside the file (the working directory's for stdin), as `docker compose`
/// reads them.
/// A compose file's image that interpolates variables, as `--from` resolves it: from
/// the environment and the `.env` beside the file; the names of unset variables.
pub fn resolve_compose_image(path: &Path, image: &str) -> Result<(String, Vec<String>)> {
    let vars = compose_vars(path)?;
    let mut unset = Vec::new();
    let resolved = compose::interpolate(image, &vars, &mut unset)?;
    Ok((resolved, unset))
}

fn compose_vars(path: &Path) -> Result<compose::Vars> {
    let dir = match path.parent() {
        Some(p) if path != Path::new("-") && !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let env: HashMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let dotenv_path = dir.join(".env");
    let dotenv = match regpeek_client::bounded::read_text(&dotenv_path, MAX_INPUT) {
        Ok(text) => compose::dotenv(strip_bom(&text), &env)
            .with_context(|| format!("reading {}", dotenv_path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dotenv_path.display())),
    };
    Ok(compose::Vars { env, dotenv })
}

/// The text of `path` (`-`: stdin), bounded, its BOM removed.
fn read_input(path: &Path) -> Result<String> {
    let text = if path == Path::new("-") {
        read_capped(std::io::stdin().lock()).context("reading standard input")?
    } else {
        regpeek_client::bounded::read_text(path, MAX_INPUT)
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
    let bytes = regpeek_client::bounded::read_capped(input, MAX_INPUT)?;
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("not UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The images of a YAML file, each once.
    fn yaml_images(text: &str) -> Result<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        for p in places::yaml_places(text, None)?.1 {
            if !out.contains(&p.image) {
                out.push(p.image);
            }
        }
        Ok(out)
    }

    fn texts(images: Vec<String>) -> Vec<String> {
        images
    }

    #[test]
    fn a_bom_is_dropped() {
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
        // Aliases are shared, never copied: read at once, and it names no image.
        assert!(yaml_images(&text).unwrap().is_empty());
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
