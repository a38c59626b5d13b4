//! Credentials for a registry, once per run: the command line's flags (bound to the one
//! registry they are for, or `--creds-for`'s), then the credential files and helpers,
//! then anonymous; and the prompts that ask for a password.

use std::io::IsTerminal;

use anyhow::{Context, Result, bail};
use regpeek_client::creds;
use regpeek_proto::{Credentials, Reference};

use super::Session;
use crate::args::Common;
use crate::errors::usage;
use crate::flags;

/// Where the credentials of this run came from, for hints after a refusal.
#[derive(Clone)]
pub enum CredsUsed {
    None,
    /// Given on the command line, with this flag.
    Flag(&'static str),
    Stored(String),
    /// Anonymous because this credential helper could not be used.
    Unusable(String),
}

impl Session {
    /// What credentials are resolved once for: the registry when flags give them,
    /// else the registry and repository (stored credentials may be per repository).
    pub(super) fn credentials_key(&self, r: &Reference, common: &Common) -> String {
        let c = &common.credentials;
        let flagged = c.no_creds
            || c.registry_token.is_some()
            || c.creds.is_some()
            || c.username.is_some()
            || creds_for(common, r.registry()).ok().flatten().is_some();
        if flagged || self.replay_credentials.is_some() {
            r.registry().to_owned()
        } else {
            format!("{}/{}", r.registry(), r.repository())
        }
    }

    /// Flags first, then the credential files and helpers, then anonymous (in a replay:
    /// what the recorded run used).
    pub fn resolve_credentials(&self, r: &Reference, common: &Common) -> Result<creds::Found> {
        use creds::{Found, Source};
        if let Some(recorded) = self.replay_credentials.as_ref() {
            return Ok(Found {
                credentials: recorded.get(r.registry()).cloned().flatten(),
                source: Source::Flag("recording"),
                warning: None,
            });
        }
        let flag = |credentials, flag| {
            Ok(Found {
                credentials,
                source: Source::Flag(flag),
                warning: None,
            })
        };
        if common.credentials.no_creds {
            return flag(None, "--no-creds");
        }
        if let Some((user, pass)) = creds_for(common, r.registry())? {
            let pass = match pass {
                Some(p) => p,
                None => prompt_password(&user, r.registry())?,
            };
            return flag(Some(creds::basic(user, pass)), "--creds-for");
        }
        if self.flags_are_for(r.registry(), common)? {
            if let Some(t) = &common.credentials.registry_token {
                return flag(
                    Some(Credentials::Bearer(regpeek_proto::Secret::from(t.clone()))),
                    "--registry-token",
                );
            }
            if let Some(c) = &common.credentials.creds {
                if c.is_empty() || c.starts_with(':') {
                    return Err(usage(
                        "--creds has an empty user name: give USER[:PASSWORD]",
                    ));
                }
                let (user, pass) = match c.split_once(':') {
                    Some((u, p)) => (u.to_owned(), p.to_owned()),
                    None => (c.clone(), prompt_password(c, r.registry())?),
                };
                if user.is_empty() {
                    return Err(usage("--creds has an empty user name"));
                }
                return flag(Some(creds::basic(user, pass)), "--creds");
            }
            if let Some(user) = &common.credentials.username {
                let pass = if common.credentials.password_stdin {
                    read_password_stdin()?
                } else {
                    prompt_password(user, r.registry())?
                };
                return flag(Some(creds::basic(user.clone(), pass)), "--username");
            }
        }
        creds::lookup(
            r.registry(),
            r.repository(),
            &creds::Env::from_process(common.credentials.authfile.clone()),
        )
    }

    /// Whether --creds, --username and --registry-token (when given) are for
    /// `registry`: the registry [`Session::scope_credentials`] found, else the first
    /// registry that asks claims them; any other gets its stored credentials.
    fn flags_are_for(&self, registry: &str, common: &Common) -> Result<bool> {
        let c = &common.credentials;
        if c.registry_token.is_none() && c.creds.is_none() && c.username.is_none() {
            return Ok(false);
        }
        let mut claimed = self
            .flagged_registry
            .lock()
            .map_err(|_| anyhow::anyhow!("internal: a worker panicked"))?;
        let owner = claimed.get_or_insert_with(|| registry.to_owned());
        Ok(owner == registry)
    }

    /// Binds --creds, --username and --registry-token to the one registry that
    /// `references` reach, before any request; refuses them (exit 2) when they reach
    /// several, naming them: a password must never go to a registry it is not for.
    /// Local layouts, and registries --creds-for names, need no flag.
    pub fn scope_credentials<'r>(
        &self,
        common: &Common,
        references: impl IntoIterator<Item = &'r str>,
    ) -> Result<()> {
        let c = &common.credentials;
        let flag = if c.creds.is_some() {
            "--creds"
        } else if c.username.is_some() {
            "--username"
        } else if c.registry_token.is_some() {
            "--registry-token"
        } else {
            return Ok(());
        };
        let mut registries = std::collections::BTreeSet::new();
        for input in references {
            // A reference that does not parse fails on its own line later.
            let Ok(r) = flags::parse_reference(input) else {
                continue;
            };
            if r.registry() == crate::local::REGISTRY || creds_for(common, r.registry())?.is_some()
            {
                continue;
            }
            registries.insert(r.registry().to_owned());
        }
        if registries.len() > 1 {
            let names: Vec<&str> = registries.iter().map(String::as_str).collect();
            return Err(usage(format!(
                "{flag} is for one registry, and these references reach {}: {}; give each registry its own with --creds-for HOST=USER[:PASSWORD], or store them with `regpeek login HOST`",
                names.len(),
                names.join(", ")
            )));
        }
        if let (Some(only), Ok(mut claimed)) =
            (registries.into_iter().next(), self.flagged_registry.lock())
        {
            *claimed = Some(only);
        }
        Ok(())
    }

    pub(super) fn remember_credentials(&self, found: &creds::Found) {
        let used = match (&found.credentials, &found.source) {
            (None, creds::Source::Unusable { name, path, .. }) => CredsUsed::Unusable(format!(
                "credential helper docker-credential-{name} (configured in {})",
                path.display()
            )),
            (None, _) => CredsUsed::None,
            (Some(_), creds::Source::Flag(flag)) => CredsUsed::Flag(flag),
            (Some(_), source) => CredsUsed::Stored(source.to_string()),
        };
        if let Ok(mut slot) = self.creds_used.lock() {
            *slot = Some(used);
        }
    }

    pub fn credentials_used(&self) -> Option<CredsUsed> {
        self.creds_used.lock().ok().and_then(|s| s.clone())
    }
}

/// The `--creds-for` entry for `registry` (its host as typed, Docker Hub's aliases
/// folded): the user, and the password when given.
fn creds_for(common: &Common, registry: &str) -> Result<Option<(String, Option<String>)>> {
    for entry in &common.credentials.creds_for {
        let Some((host, cred)) = entry.split_once('=') else {
            return Err(usage(format!(
                "--creds-for {}: give HOST=USER[:PASSWORD]",
                entry.split(':').next().unwrap_or_default()
            )));
        };
        let host = regpeek_client::names::without_scheme(host);
        let named = Reference::for_registry(host)
            .map(|r| r.registry().to_owned())
            .unwrap_or_else(|_| host.to_owned());
        if named != registry {
            continue;
        }
        let (user, pass) = match cred.split_once(':') {
            Some((u, p)) => (u.to_owned(), Some(p.to_owned())),
            None => (cred.to_owned(), None),
        };
        if user.is_empty() {
            return Err(usage(format!("--creds-for {host}: the user name is empty")));
        }
        return Ok(Some((user, pass)));
    }
    Ok(None)
}

/// Asks for a password without echo, when there is a terminal to ask on.
pub fn prompt_password(user: &str, registry: &str) -> Result<String> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "no password for {user}: there is no terminal to ask on; use --username {user} --password-stdin"
        );
    }
    Ok(rpassword::prompt_password(format!(
        "Password for {user}@{registry}: "
    ))?)
}

/// The password `--password-stdin` gives: one line of standard input.
pub fn read_password_stdin() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let pw = line.trim_end_matches(['\n', '\r']).to_owned();
    if pw.is_empty() {
        bail!("--password-stdin: standard input held no password");
    }
    Ok(pw)
}
