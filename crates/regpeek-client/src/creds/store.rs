//! Storing and erasing credentials where docker would (the configured helper, else
//! `config.json`, 0600), or in the containers auth file `--authfile` names.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::{Env, docker_key, helper_for, helper_program, normalize_key, read_json, run_helper};

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
