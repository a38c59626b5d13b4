//! `login`, `logout` and `auth show`: credentials, checked with the registry before
//! they are stored, removed, or shown (never the secret).

use std::io::{IsTerminal, Write};

use anyhow::{Context, Result, bail};
use regpeek_proto::{Credentials, Goal, Outcome, Reference};

use crate::args::{AuthArgs, Common, LoginArgs, LogoutArgs};
use crate::flags::registry_target;
use crate::session::Session;
use regpeek_client::creds;

/// `login`: the credentials are checked by the registry (never by a cached token),
/// then stored where docker would; nothing is stored when they are refused.
pub fn login(
    session: &Session,
    registry: &str,
    args: &LoginArgs,
    out: &mut impl Write,
) -> Result<()> {
    if args.password.is_some() {
        // As docker says it.
        eprintln!(
            "regpeek: warning: a password given with --password (-p) stays in your shell history and the process list; use --password-stdin"
        );
    }
    let common = &args.common();
    let r = registry_target(registry)?;
    let env = creds::Env::from_process(common.credentials.authfile.clone());
    // Where they would be stored must work before anything is asked or checked.
    creds::check_store(r.registry(), &env)?;
    let (user, password, flag) = login_credentials(session, &r, common)?;
    // The flow gets exactly the credentials being checked, nothing stored, and no
    // cached token answers for them (the core asks the registry afresh).
    let checked = creds::Found {
        credentials: Some(regpeek_client::creds::basic(&user, &password)),
        source: creds::Source::Flag(flag),
        warning: None,
    };
    let (options, client) = session.prepare_as(&r, common, Goal::Login, Some(checked))?;
    let outcome = session.registries.run(&*client, r.clone(), options)?;
    if let Outcome::LoggedIn {
        authenticated: false,
    } = outcome
    {
        eprintln!(
            "regpeek: {} did not ask for credentials; storing them anyway",
            r.registry()
        );
    }
    let dest = creds::store(r.registry(), &user, &password, &env)?;
    writeln!(
        out,
        "Login succeeded for {user} at {}; credentials stored in {dest}",
        r.registry()
    )?;
    Ok(())
}

/// `logout`: stored credentials go, and the tokens obtained with them.
pub fn logout(
    session: &Session,
    registry: &str,
    args: &LogoutArgs,
    out: &mut impl Write,
) -> Result<()> {
    let common = &args.common();
    let r = registry_target(registry)?;
    let env = creds::Env::from_process(common.credentials.authfile.clone());
    session.registries.forget_host(r.api_host());
    if let Some(c) = &session.cache {
        c.update_tokens(|tokens| tokens.forget_host(r.api_host()))?;
    }
    if creds::erase(r.registry(), &env)? {
        writeln!(out, "Removed credentials for {}", r.registry())?;
    } else {
        writeln!(out, "Not logged in to {}", r.registry())?;
    }
    Ok(())
}

/// `auth show`: which credentials a registry would get, and from where.
pub fn show(
    session: &Session,
    registry: &str,
    args: &AuthArgs,
    out: &mut impl Write,
) -> Result<()> {
    let common = &args.common();
    let r = registry_target(registry)?;
    let found = session.resolve_credentials(&r, common)?;
    writeln!(out, "registry: {}", r.registry())?;
    writeln!(out, "source:   {}", found.source)?;
    writeln!(out, "kind:     {}", found.kind())?;
    if let Some(c) = &found.credentials {
        match c {
            Credentials::Basic { username, .. } => writeln!(out, "user:     {username}")?,
            Credentials::IdentityToken {
                username: Some(u), ..
            } => writeln!(out, "user:     {u}")?,
            Credentials::IdentityToken { username: None, .. } => {
                writeln!(out, "user:     <identity-token>")?
            }
            Credentials::Bearer(_) => writeln!(out, "user:     <registry-token>")?,
            _ => {}
        }
    }
    Ok(())
}

/// The user and password `login` checks, and the flag (or prompt) they came from.
fn login_credentials(
    session: &Session,
    r: &Reference,
    common: &Common,
) -> Result<(String, String, &'static str)> {
    let asked = common.credentials.creds.is_some() || common.credentials.username.is_some();
    if !asked && std::io::stdin().is_terminal() {
        // As `docker login`: ask for the user, then the password without echo.
        eprint!("Username for {}: ", r.registry());
        let mut user = String::new();
        std::io::stdin()
            .read_line(&mut user)
            .context("reading the user name")?;
        let user = user.trim().to_owned();
        if user.is_empty() {
            bail!("no user name given");
        }
        let password = crate::session::credentials::prompt_password(&user, r.registry())?;
        return Ok((user, password, "terminal prompt"));
    }
    match session.resolve_credentials(r, common)? {
        creds::Found {
            credentials: Some(Credentials::Basic { username, password }),
            source: creds::Source::Flag(flag),
            ..
        } => Ok((username, password.expose().to_owned(), flag)),
        _ => bail!("login needs --creds USER[:PASSWORD] or --username USER [--password-stdin]"),
    }
}
