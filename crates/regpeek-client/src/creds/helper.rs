//! Credential helpers: `docker-credential-<name> get|store|erase`, run with a time
//! limit, their output bounded and never quoted in errors.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use regpeek_proto::{Credentials, Secret};
use serde_json::Value;

use super::{Env, Found, Source, docker_key};

/// The server URL a helper is asked about.
fn helper_server_url(registry: &str) -> String {
    docker_key(registry)
}

pub(super) fn from_helper(
    name: &str,
    registry: &str,
    path: &Path,
    env: &Env,
) -> Result<Option<Found>> {
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
            token: Secret::from(secret),
        }
    } else if user.is_empty() {
        bail!("credential helper docker-credential-{name} returned no Username for {server}");
    } else {
        crate::creds::basic(user, secret)
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
pub(crate) fn run_helper(
    name: &str,
    action: &str,
    input: &str,
    env: &Env,
) -> Result<Option<Vec<u8>>> {
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
    // infallible: both were set to `Stdio::piped()` above and are taken only here.
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

/// Where `docker-credential-<name>` is: the test directories, then `$PATH`.
pub(super) fn helper_program(name: &str, env: &Env) -> Option<PathBuf> {
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
