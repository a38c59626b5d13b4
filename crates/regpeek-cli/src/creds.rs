//! Where credentials come from, the way docker, podman and skopeo users already keep
//! them (docs/protocol.md §4): containers' `auth.json`, Docker's `config.json` with its
//! credential helpers, then anonymous. The core only ever receives the result.
//!
//! Errors name the file, key or helper, never a secret.

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use regpeek_proto::{Credentials, Secret};
use serde_json::Value;

use regpeek_proto::{DOCKER_HUB, DOCKER_HUB_CONFIG_KEY, is_docker_hub};

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
    pub fn docker_file(&self) -> Option<PathBuf> {
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

/// The Docker `config.json` key for a registry.
pub fn docker_key(registry: &str) -> String {
    if registry == DOCKER_HUB {
        DOCKER_HUB_CONFIG_KEY.to_owned()
    } else {
        registry.to_owned()
    }
}

/// `https://host:port/v1/` → `host:port`; Docker Hub's names → `docker.io`.
fn normalize_key(key: &str) -> String {
    let k = key
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = k.split('/').next().unwrap_or(k);
    if is_docker_hub(host) {
        DOCKER_HUB.to_owned()
    } else {
        host.to_owned()
    }
}

fn read_json(path: &Path) -> Result<Option<Value>> {
    let bytes = match crate::files::read(path, crate::files::MAX_CONFIG) {
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
pub fn parse_json(path: &Path, bytes: &[u8]) -> Result<Value> {
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
            token: Secret::new(tok),
        }));
    }
    if let Some(tok) = field("registrytoken") {
        return Ok(Some(Credentials::Bearer(Secret::new(tok))));
    }
    match (username, password) {
        (Some(u), Some(p)) => Ok(Some(Credentials::basic(u, p))),
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
        if let Some(helper) = helper_for(&doc, registry, false) {
            match from_helper(&helper, registry, &path, env) {
                Ok(Some(found)) => return Ok(found),
                Ok(None) => {}
                Err(e) => {
                    unusable.get_or_insert(Source::Unusable {
                        name: helper,
                        path: path.clone(),
                        why: format!("{e:#}"),
                    });
                }
            }
        }
        if let Some(auths) = doc.get("auths").and_then(Value::as_object)
            && let Some((k, entry)) = find_auth(auths, &candidates, registry)
            && let Some(c) = parse_entry(entry, &path, k)?
        {
            return Ok(Found::new(
                Some(c),
                Source::File {
                    path,
                    key: k.clone(),
                },
                unusable,
            ));
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
        if let Some(helper) = helper_for(&doc, registry, true) {
            match from_helper(&helper, registry, &path, env) {
                Ok(Some(mut found)) => {
                    // A helper's `<token>` user gets its name from `auths` when known.
                    if let (Some(Credentials::IdentityToken { username, .. }), Some((_, e))) =
                        (&mut found.credentials, entry)
                    {
                        *username = e.get("username").and_then(Value::as_str).map(str::to_owned);
                    }
                    return Ok(found);
                }
                Ok(None) => {}
                Err(e) => {
                    unusable.get_or_insert(Source::Unusable {
                        name: helper,
                        path: path.clone(),
                        why: format!("{e:#}"),
                    });
                }
            }
        }
        if let Some((k, e)) = entry
            && let Some(c) = parse_entry(e, &path, k)?
        {
            return Ok(Found::new(
                Some(c),
                Source::File {
                    path,
                    key: k.clone(),
                },
                unusable,
            ));
        }
    }

    // 4. Anonymous.
    Ok(Found::anonymous(unusable))
}

/// The server URL a helper is asked about.
pub fn helper_server_url(registry: &str) -> String {
    docker_key(registry)
}

fn from_helper(name: &str, registry: &str, path: &Path, env: &Env) -> Result<Option<Found>> {
    let server = helper_server_url(registry);
    let reply = run_helper(name, "get", &server, env)?;
    let Some(stdout) = reply else { return Ok(None) };
    let v: Value = serde_json::from_slice(&stdout).map_err(|_| {
        anyhow::anyhow!("credential helper docker-credential-{name} printed something that is not JSON credentials")
    })?;
    let user = v
        .get("Username")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let secret = v.get("Secret").and_then(Value::as_str).unwrap_or_default();
    if secret.is_empty() {
        bail!("credential helper docker-credential-{name} returned no Secret for {server}");
    }
    let credentials = if user == "<token>" {
        Credentials::IdentityToken {
            username: None,
            token: Secret::new(secret),
        }
    } else if user.is_empty() {
        bail!("credential helper docker-credential-{name} returned no Username for {server}");
    } else {
        Credentials::basic(user, secret)
    };
    Ok(Some(Found {
        credentials: Some(credentials),
        source: Source::Helper {
            name: name.to_owned(),
            path: path.to_owned(),
        },
        warning: None,
    }))
}

/// Runs `docker-credential-<name> <action>` with `input` on stdin. `Ok(None)` when the
/// helper says it has no credentials.
pub fn run_helper(name: &str, action: &str, input: &str, env: &Env) -> Result<Option<Vec<u8>>> {
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        bail!("invalid credential helper name {name:?}");
    }
    let timeout = env.helper_timeout;
    let program = format!("docker-credential-{name}");
    let Some(path) = helper_program(name, env) else {
        bail!("credential helper {program} is configured but not found on PATH")
    };
    let mut child = match Command::new(&path)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("credential helper {program} is configured but not found on PATH")
        }
        Err(e) => return Err(e).with_context(|| format!("starting credential helper {program}")),
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input.as_bytes());
    }
    // Read output on threads so a chatty helper cannot block on a full pipe.
    // Both were set to `Stdio::piped()` above: taking them cannot fail.
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let out_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.by_ref().take(1 << 20).read_to_end(&mut b);
        b
    });
    let err_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.by_ref().take(1 << 16).read_to_end(&mut b);
        b
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "credential helper {program} did not answer within {}s",
                timeout.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    if status.success() {
        return Ok(Some(stdout));
    }
    let text = String::from_utf8_lossy(&stdout);
    if text.contains("credentials not found") {
        return Ok(None);
    }
    let detail = text
        .lines()
        .chain(String::from_utf8_lossy(&stderr).lines())
        .find(|l| !l.trim().is_empty())
        .map(|l| l.chars().take(200).collect::<String>())
        .unwrap_or_else(|| status.to_string());
    bail!("credential helper {program} {action} failed: {detail}")
}

/// Refuses, before anything is checked or stored, a `login` whose credentials would
/// go to a credential helper that cannot be run (configured in `config.json` but not
/// installed): saying so, and where else they could go.
pub fn check_store(registry: &str, env: &Env) -> Result<()> {
    if env.auth_file.is_some() {
        return Ok(());
    }
    let Some(path) = env.docker_file() else {
        return Ok(());
    };
    let Some(doc) = read_json(&path)? else {
        return Ok(());
    };
    let Some(helper) = helper_for(&doc, registry, true) else {
        return Ok(());
    };
    if helper_program(&helper, env).is_some() {
        return Ok(());
    }
    let field = if doc
        .get("credHelpers")
        .and_then(Value::as_object)
        .is_some_and(|h| h.keys().any(|k| normalize_key(k) == registry))
    {
        "credHelpers"
    } else {
        "credsStore"
    };
    bail!(
        "credentials for {registry} would be stored by credential helper docker-credential-{helper} ({field} in {}), which is not found on PATH; nothing was checked or stored. Install the helper, remove {field:?} from that file to store them in it, or store them elsewhere with --authfile FILE",
        path.display()
    )
}

/// Where `docker-credential-<name>` is: the test directories, then `$PATH`.
fn helper_program(name: &str, env: &Env) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let program = format!("docker-credential-{name}");
    let path = std::env::var_os("PATH").unwrap_or_default();
    env.helper_dirs
        .iter()
        .cloned()
        .chain(std::env::split_paths(&path))
        .map(|d| d.join(&program))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Stores credentials where docker would: the configured helper, else `auths` in
/// `config.json` (created 0600). Returns where they went.
pub fn store(registry: &str, username: &str, password: &str, env: &Env) -> Result<String> {
    // `--authfile` / `$REGISTRY_AUTH_FILE` is where the next command reads: write there
    // (containers' format: the registry host as the key), as podman does.
    let (path, key, helpers) = match &env.auth_file {
        Some(file) => (file.clone(), registry.to_owned(), false),
        None => (
            env.docker_file()
                .context("no $HOME or $DOCKER_CONFIG to store credentials in")?,
            docker_key(registry),
            true,
        ),
    };
    let mut doc = read_json(&path)?.unwrap_or_else(|| serde_json::json!({}));
    if let Some(helper) = helpers.then(|| helper_for(&doc, registry, true)).flatten() {
        let input = serde_json::json!({"ServerURL": key, "Username": username, "Secret": password});
        run_helper(&helper, "store", &input.to_string(), env)?.with_context(|| {
            format!("credential helper docker-credential-{helper} store failed")
        })?;
        return Ok(format!("credential helper docker-credential-{helper}"));
    }
    let auth = STANDARD.encode(format!("{username}:{password}"));
    let obj = doc
        .as_object_mut()
        .context("config.json is not an object")?;
    let auths = obj.entry("auths").or_insert_with(|| serde_json::json!({}));
    let auths = auths
        .as_object_mut()
        .context("config.json: auths is not an object")?;
    auths.insert(key, serde_json::json!({ "auth": auth }));
    write_private(&path, &doc)?;
    Ok(path.display().to_string())
}

/// Removes stored credentials (helper `erase`, or the `auths` entry). True if any were.
pub fn erase(registry: &str, env: &Env) -> Result<bool> {
    let (path, helpers) = match &env.auth_file {
        Some(file) => (file.clone(), false),
        None => (
            env.docker_file().context("no $HOME or $DOCKER_CONFIG")?,
            true,
        ),
    };
    let Some(mut doc) = read_json(&path)? else {
        return Ok(false);
    };
    let key = docker_key(registry);
    if let Some(helper) = helpers.then(|| helper_for(&doc, registry, true)).flatten() {
        return Ok(run_helper(&helper, "erase", &key, env)?.is_some());
    }
    let mut removed = false;
    if let Some(auths) = doc.get_mut("auths").and_then(Value::as_object_mut) {
        let keys: Vec<String> = auths
            .keys()
            .filter(|k| normalize_key(k) == registry)
            .cloned()
            .collect();
        for k in keys {
            auths.remove(&k);
            removed = true;
        }
    }
    if removed {
        write_private(&path, &doc)?;
    }
    Ok(removed)
}

fn write_private(path: &Path, doc: &Value) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(&serde_json::to_vec_pretty(doc)?)?;
    f.sync_all()?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests;
