//! Image references (`nginx`, `ghcr.io/o/r:tag`, `[::1]:5000/x@sha256:…`), parsed and
//! normalised the way distribution's `reference` package does (docs/protocol.md §1).

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

use crate::digest::Digest;
use crate::parse_error::ParseError;

/// The registry Docker Hub references normalise to.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that serves Docker Hub's registry API.
pub(crate) const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// Every name that means Docker Hub, in references, credential files and mirror
/// configurations.
pub(crate) const DOCKER_HUB_ALIASES: [&str; 3] = [DOCKER_HUB, DOCKER_HUB_INDEX, DOCKER_HUB_API];
/// Docker Hub's legacy index host; in a reference it means `docker.io`.
const DOCKER_HUB_INDEX: &str = "index.docker.io";

/// True for any of Docker Hub's names: `docker.io`, `index.docker.io`, `registry-1.docker.io`.
fn is_docker_hub(host: &str) -> bool {
    DOCKER_HUB_ALIASES.contains(&host)
}
/// The tag used when a reference names neither a tag nor a digest.
pub(crate) const DEFAULT_TAG: &str = "latest";
const MAX_NAME_LEN: usize = 255;

// The patterns below are constants (their `unwrap`s cannot fail at run time; every test
// that parses a reference compiles them).
static DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    let component = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
    let host = format!(r"(?:{component}(?:\.{component})*|\[[a-fA-F0-9:]+\])");
    Regex::new(&format!(r"^{host}(?::[0-9]+)?$")).unwrap()
});
static PATH_COMPONENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$").unwrap());
static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$").unwrap());
static DIGEST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$").unwrap()
});

/// A parsed, normalised image reference. It displays as its fully qualified form,
/// `docker.io/library/nginx:latest`; [`Reference::familiar`] gives the short one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses a reference as `docker pull` would, filling in `docker.io`, `library/` and
    /// (for display) `latest`.
    pub fn parse(input: &str) -> Result<Reference, ParseError> {
        let err = |reason: &str| ParseError::new("reference", input, reason);
        if input.is_empty() {
            return Err(err("reference is empty"));
        }
        if input.trim() != input || input.chars().any(char::is_whitespace) {
            return Err(err("reference must not contain white space"));
        }
        if input.len() == 64
            && input
                .bytes()
                .all(|b| matches!(b, b'a'..=b'f' | b'0'..=b'9'))
        {
            return Err(err(
                "a bare 64-character hex string is an image ID, not a reference",
            ));
        }
        let (registry, remainder) = split_domain(input);
        if remainder.is_empty() {
            return Err(err("repository name is empty"));
        }

        // `remainder` is `path[:tag][@digest]`; the tag is after the last `:` that
        // follows the last `/`, and the digest after the `@`.
        let (name_tag, digest) = match remainder.as_str().split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (remainder.as_str(), None),
        };
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (path, tag) = match name_tag[last_slash..].find(':') {
            Some(i) => (
                &name_tag[..last_slash + i],
                Some(&name_tag[last_slash + i + 1..]),
            ),
            None => (name_tag, None),
        };

        if !DOMAIN.is_match(&registry) {
            return Err(err(&format!("invalid registry host {registry:?}")));
        }
        check_host(&registry).map_err(|why| err(&why))?;
        if path.to_lowercase() != path {
            return Err(err("repository name must be lowercase"));
        }
        if path.is_empty() {
            return Err(err("repository name is empty"));
        }
        for component in path.split('/') {
            if component.is_empty() {
                return Err(err("repository name has an empty path component"));
            }
            if !PATH_COMPONENT.is_match(component) {
                return Err(err(&format!(
                    "invalid repository path component {component:?} (allowed: a-z, 0-9, \
                     separated by '.', '_', '__' or '-')"
                )));
            }
        }
        // As current distribution/reference: the limit is on the path, not the domain.
        if path.len() > MAX_NAME_LEN {
            return Err(err(&format!(
                "repository name must not be more than {MAX_NAME_LEN} characters"
            )));
        }
        if let Some(tag) = tag {
            if tag.is_empty() {
                return Err(err("tag is empty"));
            }
            if tag.len() > 128 {
                return Err(err("tag must not be more than 128 characters"));
            }
            if !TAG.is_match(tag) {
                return Err(err(&format!(
                    "invalid tag {tag:?} (allowed: A-Z a-z 0-9 _ . -, not starting with . or -)"
                )));
            }
        }
        let digest = match digest {
            None => None,
            Some(d) => {
                if !DIGEST.is_match(d) {
                    let why = match Digest::parse(d) {
                        Err(e) => e.reason().to_owned(),
                        Ok(_) => "invalid digest".to_owned(),
                    };
                    return Err(err(&why));
                }
                Some(Digest::parse(d).map_err(|e| err(e.reason()))?)
            }
        };
        Ok(Reference {
            registry,
            repository: path.to_owned(),
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// A registry with no repository (`ghcr.io`, `localhost:5000`, `https://reg/`), for
    /// a catalog listing or a login check; Docker Hub's names (`index.docker.io`,
    /// `registry-1.docker.io`) become [`DOCKER_HUB`].
    pub fn for_registry(registry: &str) -> Result<Reference, ParseError> {
        let host = registry
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/');
        let host = if is_docker_hub(host) {
            DOCKER_HUB
        } else {
            host
        };
        if !DOMAIN.is_match(host) {
            return Err(ParseError::new(
                "reference",
                registry,
                "invalid registry host",
            ));
        }
        check_host(host).map_err(|why| ParseError::new("reference", registry, why))?;
        Ok(Reference {
            registry: host.to_owned(),
            repository: String::new(),
            tag: None,
            digest: None,
        })
    }

    /// The registry alone, without repository, tag or digest.
    pub(crate) fn registry_only(&self) -> Reference {
        Reference {
            registry: self.registry.clone(),
            repository: String::new(),
            tag: None,
            digest: None,
        }
    }

    /// The normalised registry, e.g. `docker.io` or `localhost:5000`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path, e.g. `library/nginx`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag: the one written, or `latest` when the reference names neither a tag
    /// nor a digest (as `docker pull` reads it). `None` for a reference pinned by
    /// digest alone.
    pub fn tag(&self) -> Option<&str> {
        match (&self.tag, &self.digest) {
            (Some(t), _) => Some(t),
            (None, None) => Some(DEFAULT_TAG),
            (None, Some(_)) => None,
        }
    }

    /// True when the tag was filled in as `latest` rather than written.
    pub(crate) fn tag_is_default(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// The digest, if the reference pins one.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What goes after `/manifests/`: the digest when pinned (it wins over a tag), else the tag.
    /// The same reference resolved to `digest` (its tag kept, for display).
    pub(crate) fn pinned(&self, digest: Digest) -> Reference {
        Reference {
            digest: Some(digest),
            ..self.clone()
        }
    }

    pub(crate) fn manifest_reference(&self) -> String {
        match (&self.digest, self.tag()) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.to_owned(),
            (None, None) => DEFAULT_TAG.to_owned(),
        }
    }

    /// `registry/repository` without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The fully qualified form: `docker.io/library/nginx:latest` (what `Display` writes).
    fn canonical(&self) -> String {
        self.with_name(self.name())
    }

    /// The short form users type: `nginx:latest`, `ghcr.io/o/r:v1`. It always parses
    /// back to this reference: a Docker Hub path whose first component would read as a
    /// registry (`docker.io/my.org/app`) keeps its `docker.io/`, where docker's
    /// familiar form would not.
    pub fn familiar(&self) -> String {
        let name = if self.registry == DOCKER_HUB {
            let short = match self.repository.strip_prefix("library/") {
                Some(rest) if !rest.contains('/') => rest.to_owned(),
                _ => self.repository.clone(),
            };
            let first = short.split('/').next().unwrap_or_default();
            let reads_as_domain = short.contains('/') && first.contains(['.', ':'])
                || first == "localhost" && short.contains('/');
            if reads_as_domain { self.name() } else { short }
        } else {
            self.name()
        };
        self.with_name(name)
    }

    fn with_name(&self, mut name: String) -> String {
        if let Some(t) = self.tag() {
            name.push(':');
            name.push_str(t);
        }
        if let Some(d) = &self.digest {
            name.push('@');
            name.push_str(&d.to_string());
        }
        name
    }

    /// The host (and port) that serves the registry API: `registry-1.docker.io` for Docker Hub.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// True for registries on loopback (`localhost`, `*.localhost`, `127.0.0.0/8`,
    /// `::1`), which Docker's rule lets fall back to plain http.
    pub(crate) fn is_loopback(&self) -> bool {
        let host = match self.registry.strip_prefix('[') {
            Some(rest) => rest.split(']').next().unwrap_or_default(),
            None => self.registry.split(':').next().unwrap_or_default(),
        };
        crate::auth::is_loopback_host(host)
    }

    /// The API base URL for a scheme (`http` or `https`), e.g.
    /// `https://registry-1.docker.io/`.
    pub(crate) fn api_url(&self, scheme: &str) -> url::Url {
        // infallible: `parse` and `for_registry`, the only constructors, hold every
        // registry to `check_host`, which parses this very URL (`DOCKER_HUB_API` is a
        // constant).
        url::Url::parse(&format!("{scheme}://{}/", self.api_host()))
            .expect("check_host admits only registries that make a URL")
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

/// Checks what the grammar leaves open, so that every reference that parses can be
/// requested: the port fits in 16 bits, a bracketed host is an IPv6 address, and the URL
/// parser reads the host back unchanged (`999.1.1.1` is refused, and `0x7f.1` or
/// `127.1` are not silently read as `127.0.0.1`).
fn check_host(registry: &str) -> Result<(), String> {
    let (host, port, bracketed) = match registry.strip_prefix('[') {
        Some(rest) => {
            let (ip, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("invalid registry host {registry:?}"))?;
            if ip.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(format!("invalid IPv6 address [{ip}] in registry host"));
            }
            (&registry[..ip.len() + 2], after.strip_prefix(':'), true)
        }
        None => match registry.rsplit_once(':') {
            Some((h, p)) => (h, Some(p), false),
            None => (registry, None, false),
        },
    };
    if let Some(p) = port
        && !matches!(p.parse::<u16>(), Ok(1..))
    {
        return Err(format!(
            "invalid port {p:?} in registry host {registry:?} (allowed: 1 to 65535)"
        ));
    }
    let url = url::Url::parse(&format!("https://{registry}/v2/"))
        .map_err(|e| format!("invalid registry host {registry:?}: {e}"))
        .and_then(|u| {
            crate::uri::checked(u).map_err(|e| format!("invalid registry host {registry:?}: {e}"))
        })?;
    let read = url.host_str().unwrap_or_default();
    if !bracketed && !read.eq_ignore_ascii_case(host) {
        return Err(format!(
            "invalid registry host {registry:?}: a URL parser would read it as {read:?}"
        ));
    }
    Ok(())
}

/// Splits the registry off per distribution's `splitDockerDomain`, adding Docker Hub's
/// `library/` prefix to single-component paths.
fn split_domain(input: &str) -> (String, String) {
    let (domain, remainder) = match input.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_lowercase() != first =>
        {
            (first, rest)
        }
        _ => (DOCKER_HUB, input),
    };
    let domain = if domain == DOCKER_HUB_INDEX {
        DOCKER_HUB
    } else {
        domain
    };
    let path_part = remainder.split('@').next().unwrap_or_default();
    if domain == DOCKER_HUB && !path_part.contains('/') {
        return (domain.to_owned(), format!("library/{remainder}"));
    }
    (domain.to_owned(), remainder.to_owned())
}
