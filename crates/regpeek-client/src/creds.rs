//! Where credentials come from, the way docker, podman and skopeo users already keep
//! them (docs/protocol.md §4): containers' `auth.json`, Docker's `config.json` with its
//! credential helpers, then anonymous. The core only ever receives the result.
//!
//! Errors name the file, key or helper, never a secret.

use std::fmt;

use std::path::{Path, PathBuf};

use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use regpeek_proto::{Credentials, Secret};
use serde_json::Value;

use regpeek_proto::{DOCKER_HUB, Reference};

/// Docker Hub's key in Docker's `config.json` (docs/protocol.md §8), which `docker
/// login` writes for `docker.io`.
pub(crate) const DOCKER_HUB_CONFIG_KEY: &str = "https://index.docker.io/v1/";

/// The environment credential lookup reads; injected so tests use temp dirs.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// `$HOME`.
    pub home: Option<PathBuf>,
    /// `$DOCKER_CONFIG` (a directory).
    pub docker_config: Option<PathBuf>,
    /// `--authfile`, else `$REGISTRY_AUTH_FILE`: when set, the only containers file read.
    pub auth_file: Option<PathBuf>,
    /// `$XDG_RUNTIME_DIR`.
    pub xdg_runtime_dir: Option<PathBuf>,
    /// `$XDG_CONFIG_HOME`.
    pub xdg_config_home: Option<PathBuf>,
    /// `$DOCKER_AUTH_CONFIG` (JSON).
    pub docker_auth_config: Option<String>,
    /// How long a credential helper may take.
    pub helper_timeout: Duration,
    /// Directories searched for `docker-credential-*` before `$PATH` (tests).
    pub helper_dirs: Vec<PathBuf>,
}

impl Env {
    /// This process's environment.
    pub fn from_process(auth_file: Option<PathBuf>) -> Env {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Env {
            home: var("HOME"),
            docker_config: var("DOCKER_CONFIG"),
            auth_file: auth_file.or_else(|| var("REGISTRY_AUTH_FILE")),
            xdg_runtime_dir: var("XDG_RUNTIME_DIR"),
            xdg_config_home: var("XDG_CONFIG_HOME"),
            docker_auth_config: std::env::var("DOCKER_AUTH_CONFIG")
                .ok()
                .filter(|v| !v.is_empty()),
            helper_timeout: Duration::from_secs(10),
            helper_dirs: Vec::new(),
        }
    }

    /// containers' `auth.json` files in search order.
    fn containers_files(&self) -> Vec<PathBuf> {
        if let Some(f) = &self.auth_file {
            return vec![f.clone()];
        }
        let mut out = Vec::new();
        if let Some(d) = &self.xdg_runtime_dir {
            out.push(d.join("containers/auth.json"));
        }
        match (&self.xdg_config_home, &self.home) {
            (Some(x), _) => out.push(x.join("containers/auth.json")),
            (None, Some(h)) => out.push(h.join(".config/containers/auth.json")),
            _ => {}
        }
        out
    }

    /// Docker's `config.json`.
    pub(crate) fn docker_file(&self) -> Option<PathBuf> {
        match (&self.docker_config, &self.home) {
            (Some(d), _) => Some(d.join("config.json")),
            (None, Some(h)) => Some(h.join(".docker/config.json")),
            _ => None,
        }
    }
}

/// Where credentials were found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag (or, for `login`, the terminal prompt).
    Flag(&'static str),
    /// `$DOCKER_AUTH_CONFIG`.
    DockerAuthConfigEnv,
    /// An `auths` entry of a file.
    File {
        /// The file.
        path: PathBuf,
        /// The key that matched.
        key: String,
    },
    /// A credential helper.
    Helper {
        /// `docker-credential-<name>`.
        name: String,
        /// The file that configured it.
        path: PathBuf,
    },
    /// Nothing found: anonymous.
    Anonymous,
    /// The credential helper configured for this registry could not be used (missing,
    /// failing, hanging, or printing garbage): anonymous, and this says why.
    Unusable {
        /// `docker-credential-<name>`.
        name: String,
        /// The file that configured it.
        path: PathBuf,
        /// What went wrong (never a secret: helpers' output is not quoted).
        why: String,
    },
}

impl Source {
    /// For a helper that could not be used: the one warning that says so.
    fn unusable_warning(&self) -> Option<String> {
        let Source::Unusable { path, why, .. } = self else {
            return None;
        };
        Some(format!(
            "{why} (configured in {}); going on without its credentials",
            path.display()
        ))
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) if flag.starts_with('-') => write!(f, "the {flag} flag"),
            Source::Flag(other) => write!(f, "the {other}"),
            Source::DockerAuthConfigEnv => write!(f, "$DOCKER_AUTH_CONFIG"),
            Source::File { path, key } => write!(f, "{} (key {key:?})", path.display()),
            Source::Helper { name, path } => {
                write!(
                    f,
                    "credential helper docker-credential-{name} (from {})",
                    path.display()
                )
            }
            Source::Anonymous => write!(f, "none (anonymous)"),
            Source::Unusable { name, path, .. } => write!(
                f,
                "none: credential helper docker-credential-{name} (from {}) could not be used",
                path.display()
            ),
        }
    }
}

/// Credentials and where they came from.
#[derive(Debug, Clone)]
pub struct Found {
    /// The credentials, `None` for anonymous.
    pub credentials: Option<Credentials>,
    /// Their source.
    pub source: Source,
    /// A credential helper that could not be used on the way (the command goes on
    /// without it, as skopeo does): said once, as a warning.
    pub warning: Option<String>,
}

impl Found {
    /// `credentials` from `source`, after passing over the helper in `unusable`.
    fn new(credentials: Option<Credentials>, source: Source, unusable: Option<Source>) -> Found {
        let warning = unusable.as_ref().and_then(Source::unusable_warning);
        Found {
            credentials,
            source,
            warning,
        }
    }

    /// `credentials` from the entry `key` of the file at `path`.
    fn in_file(
        credentials: Credentials,
        path: PathBuf,
        key: &str,
        unusable: Option<Source>,
    ) -> Found {
        let source = Source::File {
            path,
            key: key.to_owned(),
        };
        Found::new(Some(credentials), source, unusable)
    }

    /// Anonymous: nothing found, or only a helper that could not be used.
    fn anonymous(unusable: Option<Source>) -> Found {
        let warning = unusable.as_ref().and_then(Source::unusable_warning);
        Found {
            credentials: None,
            source: unusable.unwrap_or(Source::Anonymous),
            warning,
        }
    }

    /// What kind of credential this is, for `auth show` (never the secret).
    pub fn kind(&self) -> &'static str {
        match &self.credentials {
            None => "anonymous",
            Some(Credentials::Basic { .. }) => "username and password",
            Some(Credentials::Bearer(_)) => "registry token",
            Some(Credentials::IdentityToken { .. }) => "identity token",
            Some(_) => "other",
        }
    }
}

/// Basic credentials from a user name and a password.
pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Credentials {
    Credentials::Basic {
        username: username.into(),
        password: regpeek_proto::Secret::from(password.into()),
    }
}

/// The Docker `config.json` key for a registry.
pub(crate) fn docker_key(registry: &str) -> String {
    if registry == DOCKER_HUB {
        DOCKER_HUB_CONFIG_KEY.to_owned()
    } else {
        registry.to_owned()
    }
}

/// `https://host:port/v1/` → `host:port`; Docker Hub's names → `docker.io`.
fn normalize_key(key: &str) -> String {
    let k = crate::names::without_scheme(key);
    let host = k.split('/').next().unwrap_or(k);
    match Reference::for_registry(host) {
        Ok(r) => r.registry().to_owned(),
        Err(_) => host.to_owned(),
    }
}

fn read_json(path: &Path) -> Result<Option<Value>> {
    let bytes = match crate::bounded::read(path, crate::bounded::MAX_CONFIG) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let v = parse_json(path, &bytes)?;
    if !v.is_object() {
        bail!("{}: not a JSON object", path.display());
    }
    Ok(Some(v))
}

/// Parses a user's JSON file. serde's messages can quote values, and values in these
/// files are secrets, so errors say only where.
pub(crate) fn parse_json(path: &Path, bytes: &[u8]) -> Result<Value> {
    serde_json::from_slice(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{}: not valid JSON (line {}, column {})",
            path.display(),
            e.line(),
            e.column()
        )
    })
}

/// Reads one `auths` entry; `Ok(None)` for an entry with no secret in it (`{}`, meaning
/// a helper holds it).
fn parse_entry(entry: &Value, path: &Path, key: &str) -> Result<Option<Credentials>> {
    let field = |name: &str| {
        entry
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let mut username = field("username").map(str::to_owned);
    let mut password = field("password").map(str::to_owned);
    if let Some(auth) = field("auth") {
        let decoded = STANDARD.decode(auth.trim()).map_err(|_| {
            anyhow::anyhow!(
                "{}: auths[{key:?}].auth is not valid base64",
                path.display()
            )
        })?;
        let text = String::from_utf8(decoded).map_err(|_| {
            anyhow::anyhow!(
                "{}: auths[{key:?}].auth is not UTF-8 user:password",
                path.display()
            )
        })?;
        let Some((user, pass)) = text.split_once(':') else {
            bail!(
                "{}: auths[{key:?}].auth does not hold user:password",
                path.display()
            );
        };
        if user.is_empty() {
            bail!(
                "{}: auths[{key:?}].auth has an empty user name",
                path.display()
            );
        }
        username = Some(user.to_owned());
        password = Some(pass.trim_end_matches('\0').to_owned());
    }
    if let Some(tok) = field("identitytoken") {
        return Ok(Some(Credentials::IdentityToken {
            username,
            token: Secret::from(tok),
        }));
    }
    if let Some(tok) = field("registrytoken") {
        return Ok(Some(Credentials::Bearer(Secret::from(tok))));
    }
    match (username, password) {
        (Some(u), Some(p)) => Ok(Some(basic(u, p))),
        (Some(_), None) => bail!(
            "{}: auths[{key:?}] has a username but no password",
            path.display()
        ),
        (None, Some(_)) => bail!(
            "{}: auths[{key:?}] has a password but no username",
            path.display()
        ),
        (None, None) => Ok(None),
    }
}

/// Finds the `auths` entry for a registry: exact keys first (with containers'
/// namespaces, longest first), then any key naming the same host.
fn find_auth<'a>(
    auths: &'a serde_json::Map<String, Value>,
    candidates: &[String],
    registry: &str,
) -> Option<(&'a String, &'a Value)> {
    for c in candidates {
        if let Some(kv) = auths.get_key_value(c) {
            return Some(kv);
        }
    }
    // Legacy keys carry a scheme and a path (`https://reg:5000/v2/`); a key without a
    // scheme but with a path is a namespace and only matched above.
    auths.iter().find(|(k, _)| {
        let legacy = k.starts_with("https://") || k.starts_with("http://");
        (legacy || !k.contains('/')) && normalize_key(k) == registry
    })
}

fn helper_for(doc: &Value, registry: &str, use_store: bool) -> Option<String> {
    let helpers = doc.get("credHelpers").and_then(Value::as_object);
    let by_key = helpers.and_then(|h| {
        h.iter()
            .find(|(k, _)| normalize_key(k) == registry)
            .and_then(|(_, v)| v.as_str())
            .map(str::to_owned)
    });
    by_key
        .or_else(|| {
            use_store
                .then(|| {
                    doc.get("credsStore")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .flatten()
        })
        .filter(|h| !h.is_empty())
}

/// What helper `name` (configured in `path`) gives for `registry`; a helper that cannot
/// be used is noted in `unusable` (the first one only) and passed over.
fn ask_helper(
    name: &str,
    registry: &str,
    path: &Path,
    env: &Env,
    unusable: &mut Option<Source>,
) -> Option<Found> {
    match from_helper(name, registry, path, env) {
        Ok(found) => found,
        Err(e) => {
            unusable.get_or_insert(Source::Unusable {
                name: name.to_owned(),
                path: path.to_owned(),
                why: format!("{e:#}"),
            });
            None
        }
    }
}

/// Looks up credentials for `registry` (normalised, e.g. `docker.io`) and `repository`.
pub fn lookup(registry: &str, repository: &str, env: &Env) -> Result<Found> {
    // 1. $DOCKER_AUTH_CONFIG: only `auth` entries.
    if let Some(text) = &env.docker_auth_config {
        let doc: Value = serde_json::from_str(text).map_err(|e| {
            anyhow::anyhow!(
                "$DOCKER_AUTH_CONFIG: not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            )
        })?;
        if let Some(auths) = doc.get("auths").and_then(Value::as_object) {
            let key = docker_key(registry);
            if let Some((k, entry)) = find_auth(auths, &[key], registry) {
                let path = PathBuf::from("$DOCKER_AUTH_CONFIG");
                if let Some(c) = parse_entry(entry, &path, k)? {
                    return Ok(Found::new(Some(c), Source::DockerAuthConfigEnv, None));
                }
            }
        }
    }

    // A helper that cannot be used is passed over (said once, as a warning), as
    // skopeo does: one broken `credsStore` must not block every registry.
    let mut unusable: Option<Source> = None;

    // 2. containers' auth.json: credHelpers, then namespaced `auths` keys.
    let mut candidates: Vec<String> = Vec::new();
    let parts: Vec<&str> = repository.split('/').collect();
    for n in (1..=parts.len()).rev() {
        candidates.push(format!("{registry}/{}", parts[..n].join("/")));
    }
    candidates.push(registry.to_owned());
    for path in env.containers_files() {
        let Some(doc) = read_json(&path)? else {
            continue;
        };
        if let Some(helper) = helper_for(&doc, registry, false)
            && let Some(found) = ask_helper(&helper, registry, &path, env, &mut unusable)
        {
            return Ok(found);
        }
        if let Some(auths) = doc.get("auths").and_then(Value::as_object)
            && let Some((k, entry)) = find_auth(auths, &candidates, registry)
            && let Some(c) = parse_entry(entry, &path, k)?
        {
            return Ok(Found::in_file(c, path, k, unusable));
        }
    }
    if env.auth_file.is_some() {
        return Ok(Found::anonymous(unusable));
    }

    // 3. Docker's config.json: credHelpers[key], else credsStore, else `auths`.
    if let Some(path) = env.docker_file()
        && let Some(doc) = read_json(&path)?
    {
        let key = docker_key(registry);
        let auths = doc.get("auths").and_then(Value::as_object);
        let entry = auths.and_then(|a| find_auth(a, &[key], registry));
        if let Some(helper) = helper_for(&doc, registry, true)
            && let Some(mut found) = ask_helper(&helper, registry, &path, env, &mut unusable)
        {
            // A helper's `<token>` user gets its name from `auths` when known.
            if let (Some(Credentials::IdentityToken { username, .. }), Some((_, e))) =
                (&mut found.credentials, entry)
            {
                *username = e.get("username").and_then(Value::as_str).map(str::to_owned);
            }
            return Ok(found);
        }
        if let Some((k, e)) = entry
            && let Some(c) = parse_entry(e, &path, k)?
        {
            return Ok(Found::in_file(c, path, k, unusable));
        }
    }

    // 4. Anonymous.
    Ok(Found::anonymous(unusable))
}

#[path = "creds/helper.rs"]
mod helper;
#[path = "creds/store.rs"]
mod store;

pub(crate) use helper::run_helper;
use helper::{from_helper, helper_program};
pub use store::{check_store, erase, store};

#[cfg(test)]
mod tests;
