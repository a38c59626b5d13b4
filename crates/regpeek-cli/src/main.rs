//! `regpeek`: inspect container images in remote registries without pulling them.
//!
//! Thin by design: parse arguments, build options, run the driver, print. No protocol
//! logic lives here.

mod args;
mod creds;
mod mirrors;
mod output;
mod record;
mod summary;
mod tls;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Parser;
use regpeek_proto::{
    Credentials, Flow, Goal, Options, Outcome, Platform, Reference, Security, TokenCache,
};
use regpeek_ureq::{Client, ClientOptions};

use crate::args::{AuthCommand, Cli, Command, Common};

fn main() -> ExitCode {
    // The command's deadline counts from here.
    let _ = *STARTED;
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if let Some(io) = err.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            // Error text carries server-controlled strings: escape it for the terminal.
            eprintln!("regpeek: error: {}", output::safe_line(&format!("{err:#}")));
            if let Some(hint) = hint(&err) {
                eprintln!("hint: {}", output::safe_line(&hint));
            }
            ExitCode::from(1)
        }
    }
}

/// A next step for the user, for errors that have an obvious one: chosen by the
/// error's type and data, never its text.
fn hint(err: &anyhow::Error) -> Option<String> {
    use regpeek_proto::{Error as E, Peer, TimeoutStage, TransportErrorKind as K};
    let e = err
        .downcast_ref::<regpeek_ureq::RunError>()
        .map(|r| &r.error)
        .or_else(|| err.downcast_ref::<E>())?;
    Some(match e {
        E::AuthRequired { .. } => {
            "pass credentials with --creds USER[:PASSWORD], or store them with `regpeek login`"
                .into()
        }
        E::BadCredentials {
            identity: regpeek_proto::Identity::RegistryToken,
            ..
        } => "the token given with --registry-token was refused".into(),
        E::BadCredentials {
            identity: regpeek_proto::Identity::IdentityToken(_),
            registry,
        } => format!(
            "the stored identity token was refused: run `regpeek logout {registry}` and log in again, or pass --no-creds"
        ),
        E::BadCredentials { registry, .. } => format!(
            "check the user name and password; `regpeek auth show {registry}` says where they come from"
        ),
        E::Registry {
            code: Some(code), ..
        } if code == "MANIFEST_UNKNOWN" || code == "NAME_UNKNOWN" => {
            "check the repository name and tag; `regpeek ref REF` shows what is asked for".into()
        }
        E::RateLimited { .. } => "the registry asked for a longer pause than regpeek waits \
             (30 s); for Docker Hub, `regpeek login` raises the pull limit"
            .into(),
        E::Timeout {
            stage: TimeoutStage::RetryWait,
            ..
        } => "the registry asked to wait past the deadline; raise it with --timeout SECS \
              (0 = none)"
            .into(),
        E::Timeout { .. } => "the registry or network is too slow or unresponsive; raise the \
                              deadline with --timeout SECS (0 = none)"
            .into(),
        E::Transport { kind: K::Tls, .. } => {
            "use --plain-http for a registry that speaks plain http".into()
        }
        E::Transport {
            kind: K::Certificate,
            ..
        } => "trust its CA with --ca-file FILE or a certs.d directory (--cert-dir DIR)".into(),
        E::Transport {
            kind: K::TlsRefused,
            ..
        } => "does it want a client certificate? give one with --cert-dir DIR".into(),
        E::Transport {
            peer: Peer::TokenServer,
            ..
        } => "the registry sends clients to this token server, which is unreachable".into(),
        E::Transport {
            kind: K::Connect | K::Resolve,
            ..
        } => "is the registry up, and is the host and port right?".into(),
        _ => return None,
    })
}

fn run(cli: Cli) -> Result<()> {
    let stdout = std::io::stdout();
    let tty = stdout.is_terminal();
    let color = tty && std::env::var_os("NO_COLOR").is_none();
    let mut out = stdout.lock();
    let rec = cli.record.as_deref();
    match &cli.command {
        Command::Ref { reference, common } => {
            let r = Reference::parse(reference)?;
            let security = match security(common) {
                Security::Auto if r.is_loopback() => Security::HttpsThenHttp,
                Security::Auto => Security::Https,
                s => s,
            };
            let value = summary::reference_output(reference, &r, security);
            output::print_json(&mut out, &value, tty, color)?;
        }
        Command::Inspect { reference, common } => {
            let platform = platform(common)?;
            let insp = inspect(reference, common, Goal::Inspect(platform), rec, "inspect")?;
            print_image(&mut out, "inspect", insp, false, tty, color)?;
        }
        Command::Manifest { reference, common } => {
            let explicit = explicit_platform(common)?;
            let goal = Goal::Manifest(explicit.clone());
            let insp = inspect(reference, common, goal, rec, "manifest")?;
            print_image(&mut out, "manifest", insp, explicit.is_some(), tty, color)?;
        }
        Command::Config { reference, common } => {
            let platform = platform(common)?;
            let insp = inspect(reference, common, Goal::Inspect(platform), rec, "config")?;
            print_image(&mut out, "config", insp, false, tty, color)?;
        }
        Command::Replay { dir } => {
            let (scenario, outcome) = record::replay(dir)?;
            let command = scenario.get("command").unwrap_or("inspect");
            let outcome = outcome?;
            match command {
                "tags" | "catalog" => {
                    let listing = outcome.into_listing()?;
                    let name = scenario.get("reference").unwrap_or_default();
                    let json = scenario.get("output") == Some("json");
                    print_listing(&mut out, command, name, json, &listing, tty, color)?;
                }
                _ => {
                    let explicit = scenario.get("platform").is_some();
                    print_image(
                        &mut out,
                        command,
                        outcome.into_image()?,
                        explicit,
                        tty,
                        color,
                    )?;
                }
            }
        }
        Command::Tags {
            repository,
            list,
            common,
        } => {
            let r = Reference::parse(repository)?;
            let goal = Goal::Tags {
                limit: list.limit,
                page_size: list.page_size,
            };
            let (options, client) = prepare(&r, common, goal)?;
            let recording = rec.map(|dir| {
                let mut rec = record::Recording::new(dir, "tags", &r.name(), &options);
                rec.set("output", if list.json { "json" } else { "lines" });
                rec
            });
            let flow = Flow::new(r.clone(), options, TokenCache::new());
            let listing = record::run(&client, flow, recording)?.into_listing()?;
            print_listing(&mut out, "tags", &r.name(), list.json, &listing, tty, color)?;
        }
        Command::Catalog {
            registry,
            list,
            common,
        } => {
            let goal = Goal::Catalog {
                limit: list.limit,
                page_size: list.page_size,
            };
            let target = registry_target(registry)?;
            let (options, client) = prepare(&target, common, goal)?;
            let recording = rec.map(|dir| {
                let mut rec = record::Recording::new(dir, "catalog", target.registry(), &options);
                rec.set("output", if list.json { "json" } else { "lines" });
                rec
            });
            let flow = Flow::catalog(target.registry(), options, TokenCache::new())?;
            let listing = record::run(&client, flow, recording)?.into_listing()?;
            let name = target.registry().to_owned();
            print_listing(&mut out, "catalog", &name, list.json, &listing, tty, color)?;
        }
        Command::Auth {
            command: AuthCommand::Show { registry, common },
        } => {
            let r = registry_target(registry)?;
            let found = resolve_credentials(&r, common)?;
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
        }
        Command::Login { registry, common } => {
            let r = registry_target(registry)?;
            let (user, password) = login_credentials(&r, common)?;
            // The flow gets exactly the credentials being checked, nothing stored.
            let mut checking = common.clone();
            checking.creds = None;
            checking.username = None;
            checking.password_stdin = false;
            checking.no_creds = true;
            let (mut options, client) = prepare(&r, &checking, Goal::Login)?;
            options.credentials = Some(Credentials::basic(&user, &password));
            let flow = Flow::login(r.registry(), options, TokenCache::new())?;
            let outcome = finish(client.run(flow))?;
            if let Outcome::LoggedIn {
                authenticated: false,
            } = outcome
            {
                eprintln!(
                    "regpeek: {} did not ask for credentials; storing them anyway",
                    r.registry()
                );
            }
            let env = creds::Env::from_process(common.authfile.clone());
            let dest = creds::store(r.registry(), &user, &password, &env)?;
            writeln!(
                out,
                "Login succeeded for {user} at {}; credentials stored in {dest}",
                r.registry()
            )?;
        }
        Command::Logout { registry, common } => {
            let r = registry_target(registry)?;
            let env = creds::Env::from_process(common.authfile.clone());
            if creds::erase(r.registry(), &env)? {
                writeln!(out, "Removed credentials for {}", r.registry())?;
            } else {
                writeln!(out, "Not logged in to {}", r.registry())?;
            }
        }
        Command::Digest { reference, common } => {
            let explicit = explicit_platform(common)?;
            let goal = Goal::Digest(explicit.clone());
            let insp = inspect(reference, common, goal, rec, "digest")?;
            print_image(&mut out, "digest", insp, explicit.is_some(), tty, color)?;
        }
    }
    out.flush()?;
    Ok(())
}

fn warn(warnings: &[String]) {
    for w in warnings {
        eprintln!("regpeek: registry warning: {}", output::safe_line(w));
    }
}

fn host_platform() -> Platform {
    let arch = Platform::go_arch(std::env::consts::ARCH);
    let variant = (arch == "arm").then(arm_variant).flatten();
    let spelled = match variant {
        Some(v) => format!("linux/{arch}/{v}"),
        None => format!("linux/{arch}"),
    };
    // Parsing normalises (armhf, aarch64, …) as containerd does.
    Platform::parse(&spelled, arch).unwrap_or_else(|_| Platform::new("linux", arch, None))
}

/// The ARM variant of this CPU, as containerd reads it from `/proc/cpuinfo`.
fn arm_variant() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("CPU architecture"))?;
    let v = line.split(':').nth(1)?.trim();
    Some(format!("v{}", v.trim_start_matches("AArch64").trim()))
}

/// The platform given with `--platform`, if any (manifest and digest descend into an
/// index only when asked).
fn explicit_platform(common: &Common) -> Result<Option<Platform>> {
    common
        .platform
        .as_ref()
        .map(|_| platform(common))
        .transpose()
}

fn platform(common: &Common) -> Result<Platform> {
    match &common.platform {
        None => Ok(host_platform()),
        Some(p) => Ok(Platform::parse(p, &host_platform().architecture)?),
    }
}

/// `--plain-http`, else Docker's rule (the core applies it).
fn security(common: &Common) -> Security {
    if common.plain_http {
        Security::Http
    } else {
        Security::Auto
    }
}

/// A whole registry (`auth show`, `login`, `logout`, `catalog`); an image reference
/// names its registry and repository (for namespaced credentials).
fn registry_target(registry: &str) -> Result<Reference> {
    let host = registry
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    if host.contains('/') {
        return Ok(Reference::parse(host)?);
    }
    Ok(Reference::for_registry(registry)?)
}

/// Asks for a password without echo, when there is a terminal to ask on.
fn prompt_password(user: &str, registry: &str) -> Result<String> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "no password for {user}: there is no terminal to ask on; use --username {user} --password-stdin"
        );
    }
    Ok(rpassword::prompt_password(format!(
        "Password for {user}@{registry}: "
    ))?)
}

fn read_password_stdin() -> Result<String> {
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

/// Flags first, then the credential files and helpers, then anonymous.
fn resolve_credentials(r: &Reference, common: &Common) -> Result<creds::Found> {
    use creds::{Found, Source};
    let flag = |credentials, flag| {
        Ok(Found {
            credentials,
            source: Source::Flag(flag),
        })
    };
    if common.no_creds {
        return flag(None, "--no-creds");
    }
    if let Some(t) = &common.registry_token {
        return flag(
            Some(Credentials::Bearer(regpeek_proto::Secret::new(t.clone()))),
            "--registry-token",
        );
    }
    if let Some(c) = &common.creds {
        let (user, pass) = match c.split_once(':') {
            Some((u, p)) => (u.to_owned(), p.to_owned()),
            None => (c.clone(), prompt_password(c, r.registry())?),
        };
        if user.is_empty() {
            bail!("--creds has an empty user name");
        }
        return flag(Some(Credentials::basic(user, pass)), "--creds");
    }
    if let Some(user) = &common.username {
        let pass = if common.password_stdin {
            read_password_stdin()?
        } else {
            prompt_password(user, r.registry())?
        };
        return flag(Some(Credentials::basic(user.clone(), pass)), "--username");
    }
    creds::lookup(
        r.registry(),
        r.repository(),
        &creds::Env::from_process(common.authfile.clone()),
    )
}

fn login_credentials(r: &Reference, common: &Common) -> Result<(String, String)> {
    match resolve_credentials(r, common)? {
        creds::Found {
            credentials: Some(Credentials::Basic { username, password }),
            source: creds::Source::Flag(_),
        } => Ok((username, password.expose().to_owned())),
        _ => bail!("login needs --creds USER[:PASSWORD] or --username USER [--password-stdin]"),
    }
}

/// Options and a client for one registry: credentials, scheme, TLS, trace.
fn prepare(r: &Reference, common: &Common, goal: Goal) -> Result<(Options, Client)> {
    let mut options = Options::new(goal);
    let found = resolve_credentials(r, common)?;
    if common.verbose > 0 {
        eprintln!(
            "regpeek: credentials for {}: {} ({})",
            r.registry(),
            found.source,
            found.kind()
        );
    }
    options.credentials = found.credentials;
    options.security = security(common);
    let (mut tls, dir) = tls::options_for(
        r.registry(),
        r.api_host(),
        common.cert_dir.as_deref(),
        common.ca_file.as_deref(),
        common.insecure,
    )?;
    if common.insecure {
        eprintln!(
            "regpeek: warning: TLS certificate verification is OFF for {} (--insecure)",
            r.api_host()
        );
    }
    if let (Some(d), true) = (&dir, common.verbose > 0) {
        eprintln!(
            "regpeek: TLS settings for {} from {}",
            r.api_host(),
            d.display()
        );
    }
    let trace: Option<regpeek_ureq::Trace> = (common.verbose > 0).then(|| {
        Arc::new(|line: &str| eprintln!("{}", output::safe_line(line))) as regpeek_ureq::Trace
    });
    options.deadline = deadline(common)?;
    options.seed = seed();
    let image_goal = matches!(
        options.goal,
        Goal::Digest(_) | Goal::Manifest(_) | Goal::Inspect(_)
    );
    if r.registry() == regpeek_proto::DOCKER_HUB && image_goal {
        add_mirrors(r, common, &mut options, &mut tls)?;
    }
    let client = Client::new(&ClientOptions {
        tls,
        trace,
        ..ClientOptions::default()
    })?;
    Ok((options, client))
}

/// When this process started: the deadline counts from here.
static STARTED: std::sync::LazyLock<std::time::SystemTime> =
    std::sync::LazyLock::new(std::time::SystemTime::now);

/// The command's deadline from `--timeout` (`0`: none).
fn deadline(common: &Common) -> Result<Option<std::time::SystemTime>> {
    let secs = common.timeout;
    if secs == 0.0 {
        return Ok(None);
    }
    let budget = std::time::Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| *d <= std::time::Duration::from_secs(365 * 86_400))
        .with_context(|| format!("--timeout {secs}: give seconds from 0 to 31536000"))?;
    Ok(STARTED.checked_add(budget))
}

/// A seed for retry jitter that differs between processes.
fn seed() -> u64 {
    let nanos = STARTED
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    (u64::from(std::process::id()) << 32) ^ u64::from(nanos)
}

fn finish(run: (Result<Outcome, regpeek_ureq::RunError>, TokenCache)) -> Result<Outcome> {
    Ok(run.0?)
}

/// Docker Hub mirrors from registries.conf and daemon.json, tried by the core before
/// Docker Hub itself. A mirror gets only credentials stored for its own host, never
/// Docker Hub's, and its certs.d CAs are trusted too.
fn add_mirrors(
    r: &Reference,
    common: &Common,
    options: &mut Options,
    tls: &mut regpeek_ureq::TlsOptions,
) -> Result<()> {
    let env = creds::Env::from_process(common.authfile.clone());
    for mirror in mirrors::docker_hub_mirrors()? {
        let Some(host) = mirror.url.host_str() else {
            bail!("mirror {} has no host", mirror.url);
        };
        let host = match mirror.url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        let found = creds::lookup(&host, r.repository(), &env)?;
        let (mirror_tls, _) = tls::options_for(&host, &host, None, None, common.insecure)?;
        tls.extra_roots.extend(mirror_tls.extra_roots);
        if common.verbose > 0 {
            eprintln!(
                "regpeek: mirror {} (from {}), credentials: {}",
                mirror.url,
                mirror.source.display(),
                found.source
            );
        }
        options.mirrors.push(regpeek_proto::Mirror {
            url: mirror.url,
            credentials: found.credentials,
        });
    }
    Ok(())
}

fn inspect(
    reference: &str,
    common: &Common,
    goal: Goal,
    record: Option<&std::path::Path>,
    command: &str,
) -> Result<regpeek_proto::Inspection> {
    let r = Reference::parse(reference)?;
    let (options, client) = prepare(&r, common, goal)?;
    let recording =
        record.map(|dir| record::Recording::new(dir, command, &r.canonical(), &options));
    let flow = Flow::new(r, options, TokenCache::new());
    let insp = record::run(&client, flow, recording)?.into_image()?;
    if common.verbose > 0 {
        for (mirror, e) in &insp.skipped_mirrors {
            eprintln!(
                "regpeek: mirror {mirror} failed: {}",
                output::safe_line(&e.to_string())
            );
        }
        if let Some(m) = &insp.mirror {
            eprintln!("regpeek: answered by mirror {m}");
        }
    }
    Ok(insp)
}

/// Prints what an image command asked for (also for `replay`).
fn print_image(
    out: &mut impl Write,
    command: &str,
    insp: regpeek_proto::Inspection,
    explicit_platform: bool,
    tty: bool,
    color: bool,
) -> Result<()> {
    warn(&insp.warnings);
    match command {
        "manifest" => {
            let bytes = match (explicit_platform, &insp.manifest) {
                (true, Some(m)) => m.raw.clone(),
                _ => insp.raw.clone(),
            }
            .context("the registry sent no manifest body")?;
            output::print_bytes(out, &bytes, tty, color)
        }
        "config" => {
            let Some(config) = insp.config else {
                bail!(
                    "{} is a {} and has no image config",
                    insp.reference.familiar(),
                    insp.manifest.map_or(insp.media_type, |m| m.media_type)
                );
            };
            output::print_bytes(out, &config.raw, tty, color)
        }
        "digest" => {
            let digest = match (explicit_platform, &insp.manifest) {
                (true, Some(m)) => &m.digest,
                _ => &insp.digest,
            };
            writeln!(out, "{digest}")?;
            Ok(())
        }
        _ => output::print_json(out, &summary::inspect_output(&insp), tty, color),
    }
}

/// Prints a tag or catalog listing (also for `replay`).
fn print_listing(
    out: &mut impl Write,
    command: &str,
    name: &str,
    json: bool,
    listing: &regpeek_proto::Listing,
    tty: bool,
    color: bool,
) -> Result<()> {
    if json {
        let value = if command == "catalog" {
            serde_json::json!({"Registry": name, "Repositories": listing.items})
        } else {
            serde_json::json!({"Repository": name, "Tags": listing.items})
        };
        output::print_json(out, &value, tty, color)?;
    } else {
        for item in &listing.items {
            writeln!(out, "{}", output::safe_line(item))?;
        }
    }
    if !listing.complete {
        eprintln!(
            "regpeek: stopped after --limit {}; the registry has more",
            listing.items.len()
        );
    }
    Ok(())
}
