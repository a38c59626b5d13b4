//! Where a file names images, with the bytes they are written at: compose files,
//! Kubernetes manifests (and Helm values' `image: {repository, tag}`), GitHub Actions
//! workflows, GitLab CI files and plain reference lists (the Dockerfile's are in
//! `dockerfile.rs`). `--from` reads the images, `pin` rewrites
//! them in place.

use std::ops::Range;

use anyhow::Result;

use super::marked::Yaml;

/// One image named by a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    /// The 1-based line it is written on (for an `ARG` default, the `ARG`'s).
    pub line: usize,
    /// What names it: `FROM`, `service web`, `container app`, `job build`, …
    pub context: String,
    /// The image, as the file's tool reads it (compose variables are interpolated
    /// later; Dockerfile `ARG`s already are).
    pub image: String,
    /// Whether and where it can be rewritten.
    pub edit: Edit,
    /// The platform the file asks of it (`FROM --platform=linux/arm64`), when literal.
    pub platform: Option<String>,
}

/// What `pin` may do with a place.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// The reference is written at these bytes, as it reads.
    At(Range<usize>),
    /// Not an image at all (`scratch`, a stage name or index): nothing to pin.
    NotAnImage(String),
    /// An image that cannot be rewritten in place, and why.
    Cannot(String),
}

/// What kind of file names the images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FileKind {
    Dockerfile,
    Compose,
    /// Kubernetes manifests, and any other YAML (Helm values among them).
    Kubernetes,
    Actions,
    /// `.gitlab-ci.yml`: `image:` and `services:`, at the top, in `default:` and in
    /// each job, as a string or as `name:`.
    #[value(name = "gitlab")]
    GitLab,
    /// One reference a line, `#` comments (what `--file` reads).
    List,
}

/// The places of a YAML file, its kind told by its content: compose (`services`),
/// GitHub Actions (`jobs` with `runs-on` or `steps`), GitLab CI (`stages`, or a job
/// with a `script`), else Kubernetes manifests (every `containers`, `initContainers`
/// and `ephemeralContainers` list, in every document) and Helm values.
pub fn yaml_places(text: &str, kind: Option<FileKind>) -> Result<(FileKind, Vec<Place>)> {
    let y = Yaml::parse(text)?;
    let kind = kind.unwrap_or_else(|| yaml_kind(&y));
    let mut out = Vec::new();
    let mut push = |id: usize, context: String, prefix: &str, platform: Option<&str>| {
        let Some(value) = y.str(id) else { return };
        let Some(image) = value.strip_prefix(prefix) else {
            return;
        };
        let line = match &y.nodes[id] {
            super::marked::Node::Scalar { line, .. } => *line,
            _ => 0,
        };
        let edit = match y.span(id, text) {
            _ if image.is_empty() => return,
            Ok(span) => Edit::At(span.start + prefix.len()..span.end),
            Err(why) => Edit::Cannot(why),
        };
        // An alias names the same bytes twice: one place.
        if out
            .iter()
            .any(|p: &Place| p.edit == edit && matches!(edit, Edit::At(_)))
        {
            return;
        }
        out.push(Place {
            line,
            context,
            image: image.to_owned(),
            edit,
            platform: platform.map(str::to_owned),
        });
    };
    let mut values = Vec::new();
    for &doc in &y.docs {
        match kind {
            FileKind::Compose => {
                let Some(services) = y.get(doc, "services") else {
                    continue;
                };
                for &(name, svc) in y.pairs(services) {
                    if let Some(image) = y.get(svc, "image") {
                        // `platform: linux/arm64` is the one compose pulls.
                        let platform = y.get(svc, "platform").and_then(|p| y.str(p));
                        let name = y.str(name).unwrap_or("?");
                        push(image, format!("service {name}"), "", platform);
                    }
                }
            }
            FileKind::Actions => {
                let Some(jobs) = y.get(doc, "jobs") else {
                    continue;
                };
                for &(name, job) in y.pairs(jobs) {
                    let name = y.str(name).unwrap_or("?");
                    if let Some(c) = y.get(job, "container") {
                        let image = y.get(c, "image").unwrap_or(c);
                        push(image, format!("job {name} container"), "", None);
                    }
                    if let Some(services) = y.get(job, "services") {
                        for &(svc, def) in y.pairs(services) {
                            let image = y.get(def, "image").unwrap_or(def);
                            let svc = y.str(svc).unwrap_or("?");
                            push(image, format!("job {name} service {svc}"), "", None);
                        }
                    }
                    for &step in y.get(job, "steps").map_or(&[][..], |s| y.items(s)) {
                        if let Some(uses) = y.get(step, "uses") {
                            push(uses, format!("job {name} step"), "docker://", None);
                        }
                    }
                }
            }
            FileKind::GitLab => gitlab(&y, doc, &mut push),
            _ => {
                kubernetes(&y, doc, &mut push);
                helm(&y, doc, &mut values);
            }
        }
    }
    if !values.is_empty() {
        out.extend(values);
        out.sort_by_key(|p| p.line);
    }
    Ok((kind, out))
}

/// The keys of a GitLab CI file that are not jobs (and hold no image).
const GITLAB_GLOBALS: [&str; 7] = [
    "stages",
    "variables",
    "include",
    "workflow",
    "cache",
    "before_script",
    "after_script",
];

/// A GitLab CI file's images: `image:` and `services:` at the top (the old global
/// form), in `default:` and in every job (hidden `.templates` too), each a string or
/// a mapping with `name:`.
fn gitlab(y: &Yaml, doc: usize, push: &mut Push) {
    let mut images = |owner: usize, context: &str| {
        if let Some(image) = y.get(owner, "image") {
            let name = y.get(image, "name").unwrap_or(image);
            push(name, format!("{context}image"), "", None);
        }
        if let Some(services) = y.get(owner, "services") {
            for &svc in y.items(services) {
                let name = y.get(svc, "name").unwrap_or(svc);
                push(name, format!("{context}service"), "", None);
            }
        }
    };
    images(doc, "");
    for &(key, job) in y.pairs(doc) {
        match y.str(key).unwrap_or_default() {
            "image" | "services" => {}
            k if GITLAB_GLOBALS.contains(&k) => {}
            "default" => images(job, "default "),
            k => images(job, &format!("job {k} ")),
        }
    }
}

/// Helm values' images, `image: {registry, repository, tag, digest}` anywhere below
/// `root`: reported (the chart's template joins them), never rewritten; one with
/// neither tag nor digest is the chart's `appVersion`, not an image this file names.
fn helm(y: &Yaml, root: usize, out: &mut Vec<Place>) {
    let mut seen = vec![false; y.nodes.len()];
    let mut stack = vec![(root, String::new())];
    while let Some((id, path)) = stack.pop() {
        if std::mem::replace(&mut seen[id], true) {
            continue;
        }
        let mut children = Vec::new();
        for &(k, v) in y.pairs(id) {
            let key = y.str(k).unwrap_or_default();
            let here = if path.is_empty() {
                key.to_owned()
            } else {
                format!("{path}.{key}")
            };
            match y.get(v, "repository").and_then(|r| y.str(r)) {
                Some(repository) if key.eq_ignore_ascii_case("image") => {
                    out.push(helm_place(y, v, repository, here));
                }
                _ => children.push((v, here)),
            }
        }
        for (i, &item) in y.items(id).iter().enumerate() {
            children.push((item, format!("{path}[{i}]")));
        }
        stack.extend(children.into_iter().rev());
    }
}

/// One Helm image value, joined as the usual chart template joins it.
fn helm_place(y: &Yaml, value: usize, repository: &str, path: String) -> Place {
    let field = |k: &str| {
        y.get(value, k)
            .and_then(|n| y.str(n))
            .filter(|s| !s.is_empty())
    };
    let mut image = match field("registry") {
        Some(registry) => format!("{registry}/{repository}"),
        None => repository.to_owned(),
    };
    if let Some(tag) = field("tag") {
        image = format!("{image}:{tag}");
    }
    if let Some(digest) = field("digest") {
        image = format!("{image}@{digest}");
    }
    let untagged = field("tag").is_none() && field("digest").is_none();
    // The `repository` line: where a reader looks for it.
    let line = match y.get(value, "repository").map(|r| &y.nodes[r]) {
        Some(super::marked::Node::Scalar { line, .. }) => *line,
        _ => 0,
    };
    Place {
        line,
        context: format!("value {path}"),
        edit: if untagged {
            Edit::NotAnImage(
                "a Helm value with no tag or digest: the chart's appVersion names the image".into(),
            )
        } else {
            Edit::Cannot(
                "a Helm value (repository and tag apart): set its digest field to pin it".into(),
            )
        },
        image,
        platform: None,
    }
}

/// What a place is pushed with: its node, context, the prefix before the image
/// (`docker://`), and the platform asked of it.
type Push<'a> = dyn FnMut(usize, String, &str, Option<&str>) + 'a;

/// Every container image below `root`, each node visited once (aliases may share).
fn kubernetes(y: &Yaml, root: usize, push: &mut Push) {
    let mut seen = vec![false; y.nodes.len()];
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        if std::mem::replace(&mut seen[id], true) {
            continue;
        }
        let mut children: Vec<usize> = Vec::new();
        for &(k, v) in y.pairs(id) {
            let key = y.str(k).unwrap_or_default();
            if matches!(key, "containers" | "initContainers" | "ephemeralContainers") {
                for &c in y.items(v) {
                    if let Some(image) = y.get(c, "image") {
                        let name = y.get(c, "name").and_then(|n| y.str(n)).unwrap_or("?");
                        push(image, format!("{} {name}", container_word(key)), "", None);
                    }
                }
            }
            children.push(v);
        }
        children.extend_from_slice(y.items(id));
        // Depth first, in file order.
        stack.extend(children.into_iter().rev());
    }
}

fn container_word(key: &str) -> &'static str {
    match key {
        "initContainers" => "init container",
        "ephemeralContainers" => "ephemeral container",
        _ => "container",
    }
}

fn yaml_kind(y: &Yaml) -> FileKind {
    let has = |key: &str| y.docs.iter().any(|&d| y.get(d, key).is_some());
    // GitLab: `stages`, or a job with a `script` (compose's `services` is a mapping
    // of services; GitLab's old global `services` is a list).
    let gitlab = y.docs.iter().any(|&d| {
        y.get(d, "stages").is_some()
            || y.pairs(d)
                .iter()
                .any(|&(_, job)| y.get(job, "script").is_some())
    });
    if gitlab && !has("jobs") {
        return FileKind::GitLab;
    }
    if has("services") && !has("jobs") {
        return FileKind::Compose;
    }
    let actions = y.docs.iter().any(|&d| {
        y.get(d, "jobs").is_some_and(|jobs| {
            y.pairs(jobs)
                .iter()
                .any(|&(_, j)| y.get(j, "runs-on").is_some() || y.get(j, "steps").is_some())
        })
    });
    if actions {
        FileKind::Actions
    } else {
        FileKind::Kubernetes
    }
}

/// A file's kind from its name (`Dockerfile`, `*.Containerfile`, a workflow under
/// `.github/workflows/`, `*.yaml`, `*.txt`), else its content.
pub fn kind_of(name: &str, text: &str) -> FileKind {
    let lower = name.to_ascii_lowercase();
    let file = lower.rsplit('/').next().unwrap_or(&lower);
    if file.contains("dockerfile") || file.contains("containerfile") {
        return FileKind::Dockerfile;
    }
    if file.ends_with(".txt") || file.ends_with(".list") {
        return FileKind::List;
    }
    let yaml_name = [".yaml", ".yml", ".json"].iter().any(|e| file.ends_with(e));
    if yaml_name && file.contains("gitlab-ci") {
        return FileKind::GitLab;
    }
    if yaml_name && lower.contains(".github/workflows/") {
        return FileKind::Actions;
    }
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or_default();
    let word = first.split_whitespace().next().unwrap_or_default();
    if !yaml_name && (word.eq_ignore_ascii_case("FROM") || word.eq_ignore_ascii_case("ARG")) {
        return FileKind::Dockerfile;
    }
    // YAML that is a mapping; a list of references reads as one plain scalar.
    let mapping = first.contains(": ") || first.ends_with(':') || first.starts_with('{');
    if yaml_name || mapping || first == "---" {
        match yaml_places(text, None) {
            Ok((kind, _)) => kind,
            // Named YAML: read as YAML, to say what is wrong with it.
            Err(_) if yaml_name => FileKind::Kubernetes,
            Err(_) => FileKind::List,
        }
    } else {
        FileKind::List
    }
}

/// The places of a reference list: one a line, `#` comments and blank lines skipped.
pub fn list_places(text: &str) -> Vec<Place> {
    let mut out = Vec::new();
    let mut offset = 0;
    for (i, raw) in text.split_inclusive('\n').enumerate() {
        let code = raw.split('#').next().unwrap_or_default();
        let trimmed = code.trim();
        if !trimmed.is_empty() {
            let start = offset + (trimmed.as_ptr() as usize - raw.as_ptr() as usize);
            out.push(Place {
                line: i + 1,
                context: "line".into(),
                image: trimmed.to_owned(),
                edit: Edit::At(start..start + trimmed.len()),
                platform: None,
            });
        }
        offset += raw.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at<'a>(text: &'a str, p: &Place) -> &'a str {
        match &p.edit {
            Edit::At(r) => &text[r.clone()],
            other => panic!("{p:?}: {other:?}"),
        }
    }

    #[test]
    fn compose_actions_kubernetes_lists() {
        let compose = "services:\n  web:\n    image: nginx:1.27\n  db:\n    image: \"postgres:16\"\n  built:\n    build: .\n";
        let (kind, places) = yaml_places(compose, None).unwrap();
        assert_eq!(kind, FileKind::Compose);
        assert_eq!(places.len(), 2);
        assert_eq!(
            (places[1].line, places[1].context.as_str()),
            (5, "service db")
        );
        assert_eq!(at(compose, &places[1]), "postgres:16");

        let gha = "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    container: node:20\n    services:\n      redis:\n        image: redis:7\n    steps:\n      - uses: actions/checkout@v4\n      - uses: docker://alpine:3.20\n  other:\n    runs-on: x\n    container:\n      image: golang:1.22\n";
        let (kind, places) = yaml_places(gha, None).unwrap();
        assert_eq!(kind, FileKind::Actions);
        let shown: Vec<&str> = places.iter().map(|p| at(gha, p)).collect();
        assert_eq!(shown, ["node:20", "redis:7", "alpine:3.20", "golang:1.22"]);

        let k8s = "kind: Pod\nspec:\n  initContainers:\n    - name: init\n      image: busybox:1.36\n  containers:\n    - name: app\n      image: ghcr.io/org/app:v1\n---\nkind: CronJob\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers:\n            - image: alpine:3.20\n";
        let (kind, places) = yaml_places(k8s, None).unwrap();
        assert_eq!(kind, FileKind::Kubernetes);
        let shown: Vec<(&str, &str)> = places
            .iter()
            .map(|p| (p.context.as_str(), at(k8s, p)))
            .collect();
        assert_eq!(
            shown,
            [
                ("init container init", "busybox:1.36"),
                ("container app", "ghcr.io/org/app:v1"),
                ("container ?", "alpine:3.20")
            ]
        );

        let list = "# base images\nnginx:1.27\n\n  redis:7  # cache\r\nalpine\n";
        let places = list_places(list);
        let shown: Vec<(usize, &str)> = places.iter().map(|p| (p.line, at(list, p))).collect();
        assert_eq!(shown, [(2, "nginx:1.27"), (4, "redis:7"), (5, "alpine")]);
    }

    #[test]
    fn gitlab_ci_images_and_services_in_both_forms() {
        let ci = "stages: [build, test]\nvariables:\n  image: not-an-image\nimage: ruby:3.3\nservices:\n  - postgres:16\ndefault:\n  image:\n    name: alpine:3.20\n    entrypoint: [\"\"]\n  services:\n    - name: redis:7\n      alias: cache\n.template:\n  image: golang:1.22\nbuild:\n  extends: .template\n  script: [make]\ntest:\n  image: $CI_REGISTRY_IMAGE:latest\n  services:\n    - docker:27-dind\n    - name: mysql:8\n  script: make test\n";
        let (kind, places) = yaml_places(ci, None).unwrap();
        assert_eq!(kind, FileKind::GitLab);
        assert_eq!(kind_of("ci/.gitlab-ci.yml", "{}"), FileKind::GitLab);
        let shown: Vec<(usize, &str, &str)> = places
            .iter()
            .map(|p| (p.line, p.context.as_str(), p.image.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                (4, "image", "ruby:3.3"),
                (6, "service", "postgres:16"),
                (9, "default image", "alpine:3.20"),
                (12, "default service", "redis:7"),
                (15, "job .template image", "golang:1.22"),
                (20, "job test image", "$CI_REGISTRY_IMAGE:latest"),
                (22, "job test service", "docker:27-dind"),
                (23, "job test service", "mysql:8"),
            ]
        );
        assert_eq!(at(ci, &places[3]), "redis:7");
        // Not GitLab: compose's services are a mapping, and Actions have `jobs`.
        let compose = "services:\n  web:\n    image: nginx:1.27\n";
        assert_eq!(yaml_places(compose, None).unwrap().0, FileKind::Compose);
    }

    #[test]
    fn helm_values_are_reported_never_written() {
        let values = "image:\n  registry: ghcr.io\n  repository: org/app\n  tag: \"1.4.2\"\nsidecars:\n  - name: proxy\n    image:\n      repository: envoyproxy/envoy\n      tag: v1.31.0\n      digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\nworker:\n  image:\n    repository: org/worker\n    pullPolicy: IfNotPresent\n";
        let (kind, places) = yaml_places(values, None).unwrap();
        assert_eq!(kind, FileKind::Kubernetes);
        let shown: Vec<(usize, &str, &str)> = places
            .iter()
            .map(|p| (p.line, p.context.as_str(), p.image.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                (3, "value image", "ghcr.io/org/app:1.4.2"),
                (
                    8,
                    "value sidecars[0].image",
                    "envoyproxy/envoy:v1.31.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
                ),
                (13, "value worker.image", "org/worker"),
            ]
        );
        assert!(matches!(&places[0].edit, Edit::Cannot(why) if why.contains("digest field")));
        assert!(matches!(&places[2].edit, Edit::NotAnImage(why) if why.contains("appVersion")));
        // Beside a manifest's containers, in file order.
        let both = "kind: Pod\nspec:\n  containers:\n    - name: app\n      image: nginx:1.27\nimage:\n  repository: redis\n  tag: \"7\"\n";
        let (_, places) = yaml_places(both, None).unwrap();
        let images: Vec<&str> = places.iter().map(|p| p.image.as_str()).collect();
        assert_eq!(images, ["nginx:1.27", "redis:7"]);
    }
}
