//! How a local image is named. The user types it as skopeo does (`oci:DIR[:TAG]`,
//! `oci:DIR@DIGEST`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:NAME:TAG]`); the
//! core is given a reference on the registry [`REGISTRY`] whose repository says the
//! transport and spells the absolute path in hex (a valid repository name, whatever
//! the path holds); and everything the user reads (`Name`, `--full-ref`, errors,
//! notes) names it the way it was typed again ([`shown_name`], [`humane`]), never by
//! that stand-in.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use regpeek_proto::Reference;

/// The registry name that stands for local images, to the core only.
pub const REGISTRY: &str = "oci-layout.local";

/// A local image's kind, as its prefix names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Oci,
    OciArchive,
    DockerArchive,
}

impl Transport {
    const ALL: [Transport; 3] = [
        Transport::Oci,
        Transport::OciArchive,
        Transport::DockerArchive,
    ];

    /// Its prefix, without the colon (also the repository's first component).
    fn name(self) -> &'static str {
        match self {
            Transport::Oci => "oci",
            Transport::OciArchive => "oci-archive",
            Transport::DockerArchive => "docker-archive",
        }
    }
}

/// `spec` (what follows `oci:`, `oci-archive:` or `docker-archive:` in `typed`) as the
/// reference the core is given; `None` when `typed` names no local image.
pub fn reference(typed: &str) -> Option<Result<Reference>> {
    let (transport, spec) = transport_of(typed)?;
    Some(match transport {
        Transport::DockerArchive => docker_archive(spec),
        t => layout(t, spec),
    })
}

/// `docker-archive:FILE[:NAME:TAG]`: the archive, and the image its `RepoTags` name
/// (its only one, without a name). `NAME:TAG` is normalised as a reference is, so that
/// `rv/fs:v1` and `docker.io/rv/fs:v1` name the same image (as skopeo matches them).
fn docker_archive(spec: &str) -> Result<Reference> {
    let (file, name) = split_archive(spec);
    let path = canonical(Transport::DockerArchive, file)?;
    if !path.is_file() {
        bail!("docker-archive:{file}: not a file");
    }
    let tag = match name {
        Some(n) => tag_for(n).with_context(|| {
            format!("docker-archive:{file}:{n}: not an image name this archive can hold")
        })?,
        None => "latest".to_owned(),
    };
    stand_in(Transport::DockerArchive, &path, &format!(":{tag}"))
}

/// The tag a `RepoTags` name (`nginx:1.27`) is served under: the name normalised
/// (`docker.io/library/nginx:1.27`), escaped into what a tag may hold (`_` → `_u`,
/// `/` → `_s`, `:` → `_c`; [`name_of_tag`] reverses it). `None` when it is too long
/// for a tag.
pub(super) fn tag_for(name: &str) -> Option<String> {
    let normal = Reference::parse(name)
        .map(|r| format!("{}:{}", r.name(), r.tag().unwrap_or("latest")))
        .unwrap_or_else(|_| name.to_owned());
    let mut tag = String::new();
    for c in normal.chars() {
        match c {
            '_' => tag.push_str("_u"),
            '/' => tag.push_str("_s"),
            ':' => tag.push_str("_c"),
            c if c.is_ascii_alphanumeric() || matches!(c, '.' | '-') => tag.push(c),
            _ => return None,
        }
    }
    (tag.len() <= 128).then_some(tag)
}

/// The `NAME:TAG` a tag of [`tag_for`] stands for.
fn name_of_tag(tag: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = tag.chars();
    while let Some(c) = chars.next() {
        out.push(match c {
            '_' => match chars.next()? {
                'u' => '_',
                's' => '/',
                'c' => ':',
                _ => return None,
            },
            c => c,
        });
    }
    Some(out)
}

/// `oci:DIR[:TAG]`, `oci:DIR@DIGEST`, `oci-archive:FILE[:TAG]`.
fn layout(transport: Transport, spec: &str) -> Result<Reference> {
    let (path, which) = split_layout(spec);
    let dir = canonical(transport, path)?;
    if transport == Transport::OciArchive && !dir.is_file() {
        bail!("oci-archive:{path}: not a file (oci:DIR reads a layout directory)");
    }
    if transport == Transport::Oci && !dir.join("index.json").is_file() {
        bail!("oci:{path}: not an OCI image layout (no index.json)");
    }
    // Without a tag: `latest`, which a layout of one image answers with that image.
    stand_in(transport, &dir, which.as_deref().unwrap_or(":latest"))
}

/// A typed local image's transport, and what follows its prefix.
fn transport_of(typed: &str) -> Option<(Transport, &str)> {
    Transport::ALL
        .into_iter()
        .find_map(|t| Some((t, typed.strip_prefix(t.name())?.strip_prefix(':')?)))
}

/// A layout's or OCI archive's spec as its path and what it asks of it: `:TAG`,
/// `@DIGEST` (`DIR:TAG@DIGEST`, what --full-ref prints: the digest decides), or none.
fn split_layout(spec: &str) -> (&str, Option<String>) {
    match spec.rsplit_once('@') {
        Some((p, d)) if d.contains(':') => match p.rsplit_once(':') {
            Some((dir, t)) if !t.contains('/') && !t.is_empty() && !Path::new(p).exists() => {
                (dir, Some(format!("@{d}")))
            }
            _ => (p, Some(format!("@{d}"))),
        },
        _ => match spec.rsplit_once(':') {
            Some((p, t)) if !t.contains('/') && !t.is_empty() => (p, Some(format!(":{t}"))),
            _ => (spec, None),
        },
    }
}

/// A docker archive's spec as its file and the `NAME:TAG` it names, if any.
fn split_archive(spec: &str) -> (&str, Option<&str>) {
    match spec.split_once(':') {
        Some((f, n)) => (f, Some(n)),
        None => (spec, None),
    }
}

fn canonical(transport: Transport, path: &str) -> Result<PathBuf> {
    std::fs::canonicalize(path)
        .with_context(|| format!("{}:{path}: no such file or directory", transport.name()))
}

/// The core's stand-in: `REGISTRY/<transport>/<hex of path><which>`.
fn stand_in(transport: Transport, path: &Path, which: &str) -> Result<Reference> {
    let hex = regpeek_layer::hex(path.as_os_str().as_encoded_bytes());
    let r = format!("{REGISTRY}/{}/{hex}{which}", transport.name());
    Reference::parse(&r).with_context(|| {
        format!(
            "{}:{}: a path too long to name",
            transport.name(),
            path.display()
        )
    })
}

/// The transport and the path a repository of [`REGISTRY`] spells.
fn decode(repository: &str) -> Option<(Transport, PathBuf)> {
    let (kind, hex) = repository.split_once('/')?;
    let transport = Transport::ALL.into_iter().find(|t| t.name() == kind)?;
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect();
    Some((transport, PathBuf::from(String::from_utf8(bytes?).ok()?)))
}

/// How the user names the local image a repository of [`REGISTRY`] spells
/// (`oci:/abs/dir`).
pub(super) fn shown_repository(repository: &str) -> Option<String> {
    decode(repository).map(|(t, p)| format!("{}:{}", t.name(), p.display()))
}

/// The path a repository of [`REGISTRY`] spells, and whether it is a layout directory.
pub(super) fn layout_of(repository: &str) -> Option<(bool, PathBuf)> {
    decode(repository).map(|(t, p)| (t == Transport::Oci, p))
}

/// The file or directory a command-line argument names as a local image (typed, or
/// spelled on [`REGISTRY`]), as given (not resolved); `None` for anything else.
pub fn path_of(arg: &str) -> Option<PathBuf> {
    let bare = arg.strip_prefix("docker://").unwrap_or(arg);
    if let Some((t, spec)) = transport_of(bare) {
        let path = match t {
            Transport::DockerArchive => split_archive(spec).0,
            _ => split_layout(spec).0,
        };
        return Some(PathBuf::from(path));
    }
    let repo = bare.strip_prefix(REGISTRY)?.strip_prefix('/')?;
    let repo = repo.split([':', '@']).next().unwrap_or_default();
    Some(decode(repo).map_or_else(|| PathBuf::from(repo), |(_, p)| p))
}

/// How the user names the local image `r` stands for, and its tag: `oci:/abs/dir`
/// and `fs`; `docker-archive:/abs/file:docker.io/lab/fs` and `v1`. `None` when `r` is
/// not local.
pub fn shown_name(r: &Reference) -> Option<(String, Option<String>)> {
    if r.registry() != REGISTRY {
        return None;
    }
    let (t, path) = decode(r.repository())?;
    let base = format!("{}:{}", t.name(), path.display());
    let tag = r.tag().map(str::to_owned);
    if t == Transport::DockerArchive
        && let Some((name, tag)) = tag
            .as_deref()
            .and_then(name_of_tag)
            .as_deref()
            .and_then(|n| n.rsplit_once(':'))
            .map(|(n, t)| (n.to_owned(), t.to_owned()))
    {
        return Some((format!("{base}:{name}"), Some(tag)));
    }
    Some((base, tag))
}

/// `text` with every stand-in reference of a local image named as the user names it
/// (`oci-layout.local/oci/2f74…:fs` → `oci:/tmp/layout:fs`): for errors and notes.
pub fn humane(text: &str) -> String {
    let marker = format!("{REGISTRY}/");
    let repo_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '/';
    let tag_char = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(&marker) {
        out.push_str(&rest[..at]);
        let after = &rest[at + marker.len()..];
        let len = after.find(|c| !repo_char(c)).unwrap_or(after.len());
        let Some((t, path)) = decode(&after[..len]) else {
            out.push_str(&rest[at..at + marker.len() + len]);
            rest = &after[len..];
            continue;
        };
        out.push_str(&format!("{}:{}", t.name(), path.display()));
        rest = &after[len..];
        // A docker archive's tag stands for the image's NAME:TAG.
        if t == Transport::DockerArchive
            && let Some(tag) = rest.strip_prefix(':')
        {
            let n = tag.find(|c| !tag_char(c)).unwrap_or(tag.len());
            if let Some(name) = name_of_tag(&tag[..n]) {
                out.push(':');
                out.push_str(&name);
                rest = &tag[n..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_image_is_named_as_typed_and_the_stand_in_never_shows() {
        let dir = tempfile::tempdir().unwrap();
        let layout = dir.path().join("my layout");
        std::fs::create_dir_all(&layout).unwrap();
        std::fs::write(
            layout.join("index.json"),
            r#"{"manifests":[{"digest":"sha256:aa","annotations":{"org.opencontainers.image.ref.name":"fs"}},{"digest":"sha256:bb","annotations":{"org.opencontainers.image.ref.name":"zstd"}}]}"#,
        )
        .unwrap();
        let typed = format!("oci:{}:fs", layout.display());
        let r = reference(&typed).unwrap().unwrap();
        let real = layout.canonicalize().unwrap();
        assert_eq!(
            shown_name(&r).unwrap(),
            (format!("oci:{}", real.display()), Some("fs".to_owned()))
        );
        let error = format!("manifest {}: MANIFEST_UNKNOWN", r.familiar());
        assert_eq!(
            humane(&error),
            format!("manifest oci:{}:fs: MANIFEST_UNKNOWN", real.display())
        );
        assert_eq!(path_of(&r.to_string()).unwrap(), real);
        assert_eq!(path_of(&typed).unwrap(), layout);
        // A digest instead of a tag.
        let d = format!("sha256:{}", "a".repeat(64));
        let r = reference(&format!("oci:{}@{d}", layout.display()))
            .unwrap()
            .unwrap();
        assert_eq!(r.digest().map(|d| d.to_string()), Some(d));
        // Not local: untouched.
        assert!(reference("nginx:1.27").is_none());
        assert_eq!(
            humane("registry example.com/a:b"),
            "registry example.com/a:b"
        );
    }

    #[test]
    fn docker_archive_names_are_normalised_as_references_are() {
        assert_eq!(tag_for("rv/fs:v1"), tag_for("docker.io/rv/fs:v1"));
        assert_eq!(tag_for("nginx"), tag_for("docker.io/library/nginx:latest"));
        assert_ne!(tag_for("rv/fs:v1"), tag_for("rv/fs:v2"));
        for name in ["my_app/x__y:v1", "localhost:5000/a/b:1.2-rc_1"] {
            let tag = tag_for(name).unwrap();
            let back = name_of_tag(&tag).unwrap();
            assert_eq!(tag_for(&back).unwrap(), tag, "{name}");
        }
        assert_eq!(
            name_of_tag(&tag_for("lab/fs:v1").unwrap()).unwrap(),
            "docker.io/lab/fs:v1"
        );
        assert!(tag_for(&format!("a/{}:v1", "b".repeat(200))).is_none());
        let text = format!(
            "manifest {REGISTRY}/docker-archive/2f61:{}: nope",
            tag_for("lab/fs:v1").unwrap()
        );
        assert_eq!(
            humane(&text),
            "manifest docker-archive:/a:docker.io/lab/fs:v1: nope"
        );
    }
}
