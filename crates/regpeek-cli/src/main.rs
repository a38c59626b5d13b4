//! `regpeek`: inspect container images in remote registries without pulling them.
//!
//! Thin by design: parse arguments, build options, run the driver, print. No protocol
//! logic lives here.

mod args;
mod batch;
mod cache;
mod creds;
mod diff;
mod files;
mod jq;
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
    execute(std::env::args_os().collect())
}

/// Parses a command line, runs it and says how it ended (also for the command line a
/// recording holds, run again by `replay`).
fn execute(argv: Vec<std::ffi::OsString>) -> ExitCode {
    let argv = hoist_command_flags(argv);
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and --version go to stdout and succeed; usage errors say `regpeek:`
            // like every other error, and exit 2.
            if !e.use_stderr() {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            let text = e.render().to_string();
            let text = text.strip_prefix("error: ").unwrap_or(&text);
            eprint!("regpeek: error: {text}");
            return ExitCode::from(2);
        }
    };
    // `diff` exits 2 on error, as diff(1) does (1 means "they differ").
    let error_code = if matches!(cli.command, Command::Diff { .. }) {
        2
    } else {
        1
    };
    let mut result = run(cli, &argv[1..]);
    // A recording is written however the command ended.
    if let Some(recording) = RECORDING.get()
        && let Err(e) = recording.finish()
        && result.is_ok()
    {
        result = Err(e);
    }
    match result {
        Ok(code) => code,
        Err(err) => {
            if broken_pipe(&err) {
                // The reader went away (`regpeek … | head`): nothing to say.
                return ExitCode::SUCCESS;
            }
            // Error text carries server-controlled strings: escape it for the terminal.
            eprintln!("regpeek: error: {}", output::safe_line(&format!("{err:#}")));
            if let Some(hint) = hint(&err) {
                eprintln!("hint: {}", output::safe_line(&hint));
            }
            if err.downcast_ref::<Usage>().is_some() {
                return ExitCode::from(2);
            }
            ExitCode::from(error_code)
        }
    }
}

/// Whether `err` comes from writing to a pipe nobody reads any more, however it was
/// wrapped on the way (context, serde_json's writer).
fn broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        let kind = if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            Some(io.kind())
        } else {
            cause
                .downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
        };
        kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}

/// A usage error found after parsing (arguments clap cannot judge alone: flags that
/// do not go together, values that cannot be right): exit 2, like clap's own.
#[derive(Debug)]
struct Usage(String);

/// A [`Usage`] error.
fn usage(message: impl Into<String>) -> anyhow::Error {
    Usage(message.into()).into()
}

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// Where the credentials of this run came from, for hints after a refusal.
#[derive(Clone)]
enum CredsUsed {
    None,
    Flag,
    Stored(String),
    /// Anonymous because this credential helper could not be used.
    Unusable(String),
}

static CREDS_USED: std::sync::Mutex<Option<CredsUsed>> = std::sync::Mutex::new(None);

fn remember_credentials(_registry: &str, found: &creds::Found) {
    let used = match (&found.credentials, &found.source) {
        (None, creds::Source::Unusable { name, path, .. }) => CredsUsed::Unusable(format!(
            "credential helper docker-credential-{name} (configured in {})",
            path.display()
        )),
        (None, _) => CredsUsed::None,
        (Some(_), creds::Source::Flag(_)) => CredsUsed::Flag,
        (Some(_), source) => CredsUsed::Stored(source.to_string()),
    };
    if let Ok(mut slot) = CREDS_USED.lock() {
        *slot = Some(used);
    }
}

fn credentials_used() -> Option<CredsUsed> {
    CREDS_USED.lock().ok().and_then(|s| s.clone())
}

/// Lets a command's flags come before the command (`regpeek -v inspect X`, as docker
/// and skopeo users type them) by moving them after it; clap then checks them against
/// that command, so each command's `--help` still lists only its own flags.
fn hoist_command_flags(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    use clap::CommandFactory;
    let cli = Cli::command();
    let top: Vec<&clap::Arg> = cli.get_arguments().collect();
    let nested: Vec<&clap::Arg> = cli
        .get_subcommands()
        .flat_map(|c| c.get_arguments())
        .collect();
    let find = |args: &[&clap::Arg], flag: &str| -> Option<bool> {
        let (name, inline) = match flag.split_once('=') {
            Some((n, _)) => (n, true),
            None => (flag, false),
        };
        args.iter()
            .find(|a| match name.strip_prefix("--") {
                Some(long) => a.get_long() == Some(long),
                None => name.len() == 2 && a.get_short() == name.chars().nth(1),
            })
            .map(|a| !inline && a.get_action().takes_values())
    };
    let mut moved = Vec::new();
    let mut kept = Vec::new();
    let mut iter = args.into_iter();
    if let Some(program) = iter.next() {
        kept.push(program);
    }
    let mut rest: Vec<std::ffi::OsString> = iter.collect();
    let i = 0;
    while i < rest.len() {
        let Some(arg) = rest[i].to_str().map(str::to_owned) else {
            break;
        };
        if arg == "--" || !arg.starts_with('-') {
            break;
        }
        let take_value = |i: usize| usize::from(i + 1 < rest.len());
        if let Some(value) = find(&top, &arg) {
            let n = 1 + if value { take_value(i) } else { 0 };
            kept.extend(rest.drain(i..i + n));
            continue;
        }
        match find(&nested, &arg) {
            Some(value) => {
                let n = 1 + if value { take_value(i) } else { 0 };
                moved.extend(rest.drain(i..i + n));
            }
            None => break,
        }
    }
    // `rest` now starts with the command (or whatever clap should complain about).
    let mut out = kept;
    let mut rest = rest.into_iter();
    if let Some(command) = rest.next() {
        out.push(command);
        // A nested command (`auth show`) takes the flags after its own name.
        if out.last().and_then(|c| c.to_str()) == Some("auth") {
            out.extend(rest.next());
        }
    }
    out.extend(moved);
    out.extend(rest);
    out
}

/// A next step for the user, for errors that have an obvious one: chosen by the
/// error's type and data, never its text.
fn hint(err: &anyhow::Error) -> Option<String> {
    use regpeek_proto::{Error as E, Peer, TimeoutStage, TransportErrorKind as K};
    let e = err
        .downcast_ref::<regpeek_ureq::RunError>()
        .map(|r| &r.error)
        .or_else(|| err.downcast_ref::<E>())?;
    let unusable = match credentials_used() {
        Some(CredsUsed::Unusable(helper)) => Some(helper),
        _ => None,
    };
    Some(match e {
        E::AuthRequired { .. } | E::Denied { .. } if unusable.is_some() => format!(
            "the registry wants credentials, and the {} that should give them could not be used (see the warning above); fix it, or pass --creds USER[:PASSWORD]",
            unusable.unwrap_or_default()
        ),
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
        E::BadCredentials { registry, .. } => match credentials_used() {
            Some(CredsUsed::Stored(source)) => format!(
                "the stored credentials come from {source}: run `regpeek logout {registry}` and log in again, or pass --no-creds"
            ),
            _ => "check the user name and password given with --creds".into(),
        },
        E::Denied { .. } if matches!(credentials_used(), Some(CredsUsed::None)) => {
            "no credentials were sent: pass --creds USER[:PASSWORD] or run `regpeek login`; \
             a repository that does not exist is refused the same way"
                .into()
        }
        E::Registry {
            code: Some(code), ..
        } if code.is_not_found() => {
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

/// What stands between this run's clients and the network: a recording (`--record`)
/// or a replay (`replay`).
static EXCHANGES: std::sync::OnceLock<Arc<dyn regpeek_ureq::Exchanges>> =
    std::sync::OnceLock::new();
/// `--record DIR`: written when the command ends.
static RECORDING: std::sync::OnceLock<Arc<record::Recording>> = std::sync::OnceLock::new();

fn run(mut cli: Cli, argv: &[std::ffi::OsString]) -> Result<ExitCode> {
    if let Some(dir) = &cli.record {
        let unrecordable = match &cli.command {
            Command::Login { .. } | Command::Logout { .. } | Command::Auth { .. } => {
                Some("credentials: login, logout and auth change or show stored secrets")
            }
            Command::Cache { .. } => Some("the cache: it sends no request"),
            Command::Completions { .. } | Command::Man { .. } => Some("help texts"),
            Command::Replay { .. } => Some("a replay: it sends no request"),
            _ => None,
        };
        if let Some(what) = unrecordable {
            return Err(usage(format!("--record cannot record {what}")));
        }
        let recording = Arc::new(record::Recording::start(dir, argv)?);
        let _ = RECORDING.set(recording.clone());
        let _ = EXCHANGES.set(recording);
    }
    if let Command::Replay { dir } = &cli.command {
        return replay(dir);
    }
    if EXCHANGES.get().is_some() {
        // A recording starts cold, so that it holds every exchange its replay needs;
        // a replay knows nothing a cache taught.
        cli.no_cache = true;
    }
    let stdout = std::io::stdout();
    let tty = stdout.is_terminal();
    let color = tty
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb");
    let mut out = stdout.lock();
    if cli.record.is_some() && cli.offline {
        return Err(usage(
            "--record records a run over the network, and --offline sends nothing",
        ));
    }
    if !cli.no_cache {
        // A cache that cannot be opened (a read-only home) only costs speed.
        match cache::Cache::open(cli.cache_dir.as_deref()) {
            Ok(c) => {
                let _ = CACHE.set(c);
            }
            Err(e) if cli.cache_dir.is_some() || cli.offline => return Err(e),
            Err(_) => {}
        }
    }
    OFFLINE.store(cli.offline, std::sync::atomic::Ordering::Relaxed);
    if cli.offline && CACHE.get().is_none() {
        return Err(usage(
            "--offline answers from the cache, and the cache is off (--no-cache)",
        ));
    }
    let table = match &cli.command {
        Command::Inspect { output, .. }
        | Command::Platforms { output, .. }
        | Command::Referrers { output, .. } => *output == args::OutputFormat::Table,
        Command::Tags { list, .. } | Command::Catalog { list, .. } => {
            list.output == Some(args::OutputFormat::Table)
        }
        _ => false,
    };
    if let Some(expr) = &cli.jq {
        if matches!(
            cli.command,
            Command::Digest { .. }
                | Command::Completions { .. }
                | Command::Auth { .. }
                | Command::Login { .. }
                | Command::Logout { .. }
        ) {
            return Err(usage(
                "--jq applies to JSON output; this command prints none (for a digest: `regpeek inspect REF --jq .Digest`)",
            ));
        }
        jq::check(expr).map_err(|e| usage(format!("{e:#}")))?;
        output::set_jq(expr);
    }
    if table {
        refuse_table_with_jq()?;
    }
    // Every command that takes image references runs through one pipeline.
    if let Some(job) = batch::Job::from_command(&cli.command)? {
        return batch::run(job, &mut out, tty, color);
    }
    match &cli.command {
        Command::Cache { command } => {
            let c = match CACHE.get() {
                Some(c) => c,
                None => bail!("the cache is off (--no-cache)"),
            };
            match command {
                args::CacheCommand::Info => output::print_json(&mut out, &c.info(), tty, color)?,
                args::CacheCommand::Clear => {
                    c.clear()?;
                    writeln!(out, "Removed {}", c.dir().display())?;
                }
                args::CacheCommand::Prune { max_size } => {
                    let (n, bytes) = c.prune(max_size.saturating_mul(1024 * 1024));
                    writeln!(out, "Removed {n} entries ({})", output::human_size(bytes))?;
                }
            }
        }
        Command::Man { dir } => {
            let cmd = <Cli as clap::CommandFactory>::command();
            std::fs::create_dir_all(dir)?;
            clap_mangen::generate_to(cmd.clone(), dir)
                .with_context(|| format!("writing man pages to {}", dir.display()))?;
            // The main page again, with the sections a user looks for first.
            let page = dir.join("regpeek.1");
            let mut text = Vec::new();
            output::man_page(cmd, &mut text)?;
            std::fs::write(&page, text).with_context(|| format!("writing {}", page.display()))?;
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            // Into memory first: clap_complete panics when its writer fails (a closed
            // pipe, `regpeek completions bash | head`); ours ends quietly.
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "regpeek", &mut script);
            out.write_all(&script)?;
        }
        Command::Ref { reference, common } => {
            let r = parse_reference(reference)?;
            let security = match security(common) {
                Security::Auto if r.is_loopback() => Security::HttpsThenHttp,
                Security::Auto => Security::Https,
                s => s,
            };
            let value = summary::reference_output(reference, &r, security);
            output::print_json(&mut out, &value, tty, color)?;
        }
        Command::Diff { a, b, common } => {
            let platform = platform(common)?;
            let ia = inspect(a, common, Goal::Inspect(platform.clone()))?;
            let ib = inspect(b, common, Goal::Inspect(platform))?;
            warn(&ia.warnings);
            warn(&ib.warnings);
            let d = diff::compare(a, &ia, b, &ib);
            let printed = if tty && !output::jq_enabled() {
                diff::print_human(&mut out, &d, color)
            } else {
                output::print_json(&mut out, &d, tty, color)
            }
            .and_then(|()| Ok(out.flush()?));
            match printed {
                // Nobody reads the diff any more; the status still tells the answer.
                Err(e) if broken_pipe(&e) => {}
                other => other?,
            }
            return Ok(if d.equal {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        Command::Referrers {
            reference,
            artifact_type,
            output,
            common,
        } => {
            let r = parse_reference(reference)?;
            let goal = Goal::Referrers {
                platform: explicit_platform(common)?,
                artifact_type: artifact_type.clone(),
            };
            let (options, client) = prepare(&r, common, goal)?;
            let flow = Flow::new(r, options, cached_tokens());
            let outcome = finish(client.run(flow))?;
            let Outcome::Referrers(found) = outcome else {
                bail!("the flow ended without a list of referrers");
            };
            print_referrers(&mut out, &found, *output, tty, color)?;
        }
        Command::Replay { .. } => bail!("internal: replay reached the per-command dispatch"),
        Command::Tags {
            repository,
            list,
            common,
        } => {
            let r = parse_reference(repository)?;
            let goal = Goal::Tags {
                limit: list.limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX)),
                page_size: list.page_size,
            };
            let filter = list_filter(list)?;
            let (options, client) = prepare(&r, common, goal)?;
            let flow = Flow::new(r.clone(), options, cached_tokens());
            let mut listing = finish(client.run(flow))?.into_listing()?;
            arrange(&mut listing.items, list.sort, filter.as_ref());
            let format = list_format(list);
            print_listing(&mut out, "tags", &r.name(), format, &listing, tty, color)?;
        }
        Command::Catalog {
            registry,
            list,
            common,
        } => {
            let goal = Goal::Catalog {
                limit: list.limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX)),
                page_size: list.page_size,
            };
            let filter = list_filter(list)?;
            if registry
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .contains('/')
            {
                return Err(usage(format!(
                    "catalog lists a registry's repositories: give a registry host such as `localhost:5000`, not a repository ({registry:?}); `regpeek tags {registry}` lists its tags"
                )));
            }
            let target = registry_target(registry)?;
            let (options, client) = prepare(&target, common, goal)?;
            let flow = Flow::catalog(target.registry(), options, cached_tokens())?;
            let mut listing = finish(client.run(flow))?.into_listing()?;
            arrange(&mut listing.items, list.sort, filter.as_ref());
            let name = target.registry().to_owned();
            let format = list_format(list);
            print_listing(&mut out, "catalog", &name, format, &listing, tty, color)?;
        }
        Command::Auth {
            command: AuthCommand::Show { registry, args },
        } => {
            let common = &args.common();
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
        Command::Login { registry, args } => {
            if args.password.is_some() {
                // As docker says it.
                eprintln!(
                    "regpeek: warning: a password given with --password (-p) stays in your shell history and the process list; use --password-stdin"
                );
            }
            let common = &args.common();
            let r = registry_target(registry)?;
            let env = creds::Env::from_process(common.authfile.clone());
            // Where they would be stored must work before anything is asked or checked.
            creds::check_store(r.registry(), &env)?;
            let (user, password, flag) = login_credentials(&r, common)?;
            // The flow gets exactly the credentials being checked, nothing stored, and
            // no cached token answers for them (the core asks the registry afresh).
            let checked = creds::Found {
                credentials: Some(Credentials::basic(&user, &password)),
                source: creds::Source::Flag(flag),
                warning: None,
            };
            let (options, client) = prepare_as(&r, common, Goal::Login, Some(checked))?;
            let flow = Flow::login(r.registry(), options, cached_tokens())?;
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
            let dest = creds::store(r.registry(), &user, &password, &env)?;
            writeln!(
                out,
                "Login succeeded for {user} at {}; credentials stored in {dest}",
                r.registry()
            )?;
        }
        Command::Logout { registry, args } => {
            let common = &args.common();
            let r = registry_target(registry)?;
            let env = creds::Env::from_process(common.authfile.clone());
            // Tokens obtained with those credentials go too.
            if let Some(c) = CACHE.get() {
                c.update_tokens(|tokens| tokens.forget_host(r.api_host()))?;
            }
            if creds::erase(r.registry(), &env)? {
                writeln!(out, "Removed credentials for {}", r.registry())?;
            } else {
                writeln!(out, "Not logged in to {}", r.registry())?;
            }
        }
        // Answered by the pipeline above.
        Command::Inspect { .. }
        | Command::Platforms { .. }
        | Command::Manifest { .. }
        | Command::Config { .. }
        | Command::Digest { .. } => {
            bail!("internal: a reference command reached the per-command dispatch")
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Prints a warning of ours once per run, however many references meet it.
fn warn_once(warning: &str) {
    static SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let Ok(mut said) = SAID.lock() else { return };
    if !said.iter().any(|w| w == warning) {
        said.push(warning.to_owned());
        eprintln!("regpeek: warning: {}", output::safe_line(warning));
    }
}

fn warn(warnings: &[String]) {
    for w in warnings {
        eprintln!("regpeek: registry warning: {}", output::safe_line(w));
    }
}

fn host_platform() -> Platform {
    let host = Platform::host();
    match (host.architecture == "arm").then(arm_variant).flatten() {
        // Parsing normalises, as containerd does.
        Some(v) => Platform::parse(&format!("linux/arm/{v}"), "arm").unwrap_or(host),
        None => host,
    }
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
    let overridden = common.override_os.is_some()
        || common.override_arch.is_some()
        || common.override_variant.is_some();
    (common.platform.is_some() || overridden)
        .then(|| platform(common))
        .transpose()
}

/// `--platform`, or skopeo's `--override-os/arch/variant`, or this machine's.
fn platform(common: &Common) -> Result<Platform> {
    let host = host_platform();
    let spelled = match (&common.platform, &common.override_os, &common.override_arch) {
        (Some(p), _, _) => p.clone(),
        (None, None, None) if common.override_variant.is_none() => return Ok(host),
        (None, os, arch) => {
            let mut p = format!(
                "{}/{}",
                os.as_deref().unwrap_or("linux"),
                arch.as_deref().unwrap_or(&host.architecture)
            );
            if let Some(v) = &common.override_variant {
                p.push('/');
                p.push_str(v);
            }
            p
        }
    };
    if spelled.eq_ignore_ascii_case("all") {
        return Err(usage(
            "--platform all works with `inspect` (and `platforms`); here, name one platform",
        ));
    }
    Platform::parse(&spelled, &host.architecture).map_err(|e| usage(e.to_string()))
}

/// Parses a reference as typed, accepting skopeo's `docker://` transport prefix and
/// refusing its other transports clearly.
fn parse_reference(input: &str) -> Result<Reference> {
    let bare = input.strip_prefix("docker://").unwrap_or(input);
    if let Some((transport, _)) = bare.split_once(':') {
        let known = [
            "oci",
            "oci-archive",
            "dir",
            "docker-archive",
            "docker-daemon",
            "containers-storage",
        ];
        if known.contains(&transport) {
            bail!(
                "{transport}: is a skopeo transport for local images; regpeek reads registries only (docker://REF or just REF)"
            );
        }
    }
    Ok(Reference::parse(bare)?)
}

/// Warns, as docker does, when a single-platform image is not the platform asked for
/// (the core's judgement: [`regpeek_proto::Inspection::platform_matched`]).
fn warn_platform_mismatch(insp: &regpeek_proto::Inspection, asked: Option<&Platform>) {
    if let (Some(asked), Some(false), Some(image)) = (asked, insp.platform_matched, &insp.platform)
    {
        eprintln!(
            "regpeek: warning: the image's platform ({image}) does not match the requested platform ({asked})"
        );
    }
}

/// `--insecure`, or skopeo's `--tls-verify=false`.
fn insecure(common: &Common) -> bool {
    common.insecure || common.tls_verify == Some(false)
}

/// `--plain-http`; `--tls-verify=false` allows plain http too (skopeo's insecure
/// registry); else Docker's rule (the core applies it).
fn security(common: &Common) -> Security {
    if common.plain_http {
        Security::Http
    } else if common.tls_verify == Some(false) {
        Security::HttpsThenHttp
    } else {
        Security::Auto
    }
}

/// Every platform of an image, inspected in parallel on the shared connections with
/// the token the index was fetched with; a single-platform image gives one row.
fn platforms(reference: &str, common: &Common) -> Result<Vec<summary::PlatformRow>> {
    let r = parse_reference(reference)?;
    let (options, client) = prepare(&r, common, Goal::Manifest(None))?;
    let (top, tokens) = client.run(Flow::new(r.clone(), options.clone(), cached_tokens()));
    keep_tokens(&tokens);
    let top = top?.into_image()?;
    warn(&top.warnings);
    let pinned =
        |digest: &regpeek_proto::Digest| parse_reference(&format!("{}@{digest}", r.name()));
    let Some(index) = &top.index else {
        let mut o = options.clone();
        o.goal = Goal::Inspect(host_platform());
        let (insp, _) = client.run(Flow::new(pinned(&top.digest)?, o, tokens));
        return Ok(vec![summary::platform_row(&insp?.into_image()?, false)]);
    };
    // BuildKit attestations point at their image with this annotation.
    let attested: Vec<&str> = index.manifests.iter().filter_map(|d| d.attests()).collect();
    let entries: Vec<_> = index
        .manifests
        .iter()
        .filter(|d| !d.is_attestation())
        .filter_map(|d| d.platform.clone().map(|p| (d, p)))
        .collect();
    let mut rows = Vec::with_capacity(entries.len());
    for chunk in entries.chunks(8) {
        let results: Vec<Result<summary::PlatformRow>> = std::thread::scope(|s| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|(desc, platform)| {
                    let (client, tokens, options) = (&client, tokens.clone(), options.clone());
                    let attested = attested.contains(&desc.digest.to_string().as_str());
                    let reference = pinned(&desc.digest);
                    s.spawn(move || -> Result<summary::PlatformRow> {
                        let mut o = options;
                        o.goal = Goal::Inspect(platform.clone());
                        let (insp, _) = client.run(Flow::new(reference?, o, tokens));
                        let mut row = summary::platform_row(&insp?.into_image()?, attested);
                        row.platform = platform.to_string();
                        Ok(row)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("a worker thread panicked")))
                })
                .collect()
        });
        for r in results {
            rows.push(r?);
        }
    }
    Ok(rows)
}

fn print_referrers(
    out: &mut impl Write,
    found: &regpeek_proto::Referrers,
    format: args::OutputFormat,
    tty: bool,
    color: bool,
) -> Result<()> {
    let rows = summary::referrer_rows(found);
    let header = [
        "ARTIFACT TYPE",
        "DIGEST",
        "SIZE",
        "SOURCE",
        "PREDICATE TYPES",
    ];
    print_rows(out, &rows, format, tty, color, &header, |r| {
        vec![
            r.artifact_type.clone().unwrap_or_else(|| "-".into()),
            r.digest.clone(),
            output::human_size(r.size),
            r.source.to_owned(),
            if r.predicate_types.is_empty() {
                "-".into()
            } else {
                r.predicate_types.join(", ")
            },
        ]
    })
}

fn print_platforms(
    out: &mut impl Write,
    rows: &[summary::PlatformRow],
    format: args::OutputFormat,
    tty: bool,
    color: bool,
) -> Result<()> {
    let header = [
        "PLATFORM",
        "DIGEST",
        "SIZE",
        "LAYERS",
        "CREATED",
        "ATTESTATION",
    ];
    print_rows(out, rows, format, tty, color, &header, |r| {
        vec![
            r.platform.clone(),
            r.digest.clone(),
            r.size.map_or_else(|| "-".into(), output::human_size),
            r.layers.to_string(),
            r.created.clone().unwrap_or_else(|| "-".into()),
            if r.attestation { "yes" } else { "no" }.into(),
        ]
    })
}

/// Prints rows as JSON (through `--jq` when given) or, with `-o table`, as
/// columns under `header`, one `cells` call a row.
fn print_rows<T: serde::Serialize>(
    out: &mut impl Write,
    rows: &[T],
    format: args::OutputFormat,
    tty: bool,
    color: bool,
    header: &[&str],
    cells: impl Fn(&T) -> Vec<String>,
) -> Result<()> {
    match format {
        args::OutputFormat::Json => output::print_json(out, &rows, tty, color),
        args::OutputFormat::Table => {
            let table: Vec<Vec<String>> = rows.iter().map(cells).collect();
            output::print_columns(out, header, &table)
        }
    }
}

/// `-o table` prints no JSON for `--jq` to read.
fn refuse_table_with_jq() -> Result<()> {
    if output::jq_enabled() {
        return Err(usage("-o table and --jq do not go together"));
    }
    Ok(())
}

/// `--filter`, compiled.
fn list_filter(list: &args::ListArgs) -> Result<Option<regex::Regex>> {
    list.filter
        .as_deref()
        .map(|f| {
            regex::Regex::new(f).map_err(|e| {
                // The parser's message draws the pattern over lines; its last says why.
                let text = e.to_string();
                let why = text.lines().rev().find(|l| !l.trim().is_empty());
                let why = why.unwrap_or_default().trim_start_matches("error: ");
                usage(format!(
                    "--filter {f:?} is not a valid regular expression: {why}"
                ))
            })
        })
        .transpose()
}

/// Filters and orders listing entries as `--filter` and `--sort` ask.
fn arrange(items: &mut Vec<String>, sort: args::SortOrder, filter: Option<&regex::Regex>) {
    if let Some(re) = filter {
        items.retain(|i| re.is_match(i));
    }
    match sort {
        args::SortOrder::Registry => {}
        args::SortOrder::Lexical => items.sort(),
        args::SortOrder::Semver => items.sort_by(|a, b| version_order(a, b)),
    }
}

/// Versions first, by their numbers (`v1.2.10` after `1.2.9`; a pre-release such as
/// `1.0.0-rc1` before `1.0.0`); names that are not versions after them, lexically.
fn version_order(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    fn parse(t: &str) -> Option<(Vec<u64>, Option<&str>)> {
        let t = t.strip_prefix(['v', 'V']).unwrap_or(t);
        let (core, pre) = match t.split_once(['-', '+']) {
            Some((c, p)) => (c, Some(p)),
            None => (t, None),
        };
        let nums: Option<Vec<u64>> = core.split('.').map(|n| n.parse().ok()).collect();
        nums.filter(|n| !n.is_empty()).map(|n| (n, pre))
    }
    match (parse(a), parse(b)) {
        (Some((na, pa)), Some((nb, pb))) => {
            let len = na.len().max(nb.len());
            let pad = |n: &Vec<u64>| -> Vec<u64> {
                let mut n = n.clone();
                n.resize(len, 0);
                n
            };
            pad(&na)
                .cmp(&pad(&nb))
                .then_with(|| match (pa, pb) {
                    (None, None) => na.len().cmp(&nb.len()),
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (Some(x), Some(y)) => x.cmp(y),
                })
                .then_with(|| a.cmp(b))
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// A whole registry (`auth show`, `login`, `logout`, `catalog`); an image reference
/// names its registry and repository (for namespaced credentials).
fn registry_target(registry: &str) -> Result<Reference> {
    if registry.trim().is_empty() {
        return Err(usage(
            "no registry given: name one, such as `docker.io` or `localhost:5000`",
        ));
    }
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

/// Flags first, then the credential files and helpers, then anonymous (in a replay:
/// what the recorded run used).
fn resolve_credentials(r: &Reference, common: &Common) -> Result<creds::Found> {
    use creds::{Found, Source};
    if let Some(recorded) = REPLAY_CREDENTIALS.get() {
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

/// The user and password `login` checks, and the flag (or prompt) they came from.
fn login_credentials(r: &Reference, common: &Common) -> Result<(String, String, &'static str)> {
    let asked = common.creds.is_some() || common.username.is_some();
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
        let password = prompt_password(&user, r.registry())?;
        return Ok((user, password, "terminal prompt"));
    }
    match resolve_credentials(r, common)? {
        creds::Found {
            credentials: Some(Credentials::Basic { username, password }),
            source: creds::Source::Flag(flag),
            ..
        } => Ok((username, password.expose().to_owned(), flag)),
        _ => bail!("login needs --creds USER[:PASSWORD] or --username USER [--password-stdin]"),
    }
}

/// Options and a client for one registry: credentials, scheme, TLS, trace.
fn prepare(r: &Reference, common: &Common, goal: Goal) -> Result<(Options, Client)> {
    prepare_as(r, common, goal, None)
}

/// [`prepare`], with these credentials instead of the ones the flags and files give.
fn prepare_as(
    r: &Reference,
    common: &Common,
    goal: Goal,
    credentials: Option<creds::Found>,
) -> Result<(Options, Client)> {
    let mut options = Options::new(goal);
    let found = match credentials {
        Some(found) => found,
        None => resolve_credentials(r, common)?,
    };
    if let Some(recording) = RECORDING.get() {
        recording.note_credentials(r.registry(), found.credentials.as_ref());
    }
    remember_credentials(r.registry(), &found);
    if let Some(w) = &found.warning {
        warn_once(w);
    }
    if common.verbose > 0 {
        // "none (anonymous)" already says what kind it is.
        match found.credentials {
            None => eprintln!(
                "regpeek: credentials for {}: {}",
                r.registry(),
                found.source
            ),
            Some(_) => eprintln!(
                "regpeek: credentials for {}: {} ({})",
                r.registry(),
                found.source,
                found.kind()
            ),
        }
    }
    options.credentials = found.credentials;
    options.security = security(common);
    let (mut tls, dir) = tls::options_for(
        r.registry(),
        r.api_host(),
        common.cert_dir.as_deref(),
        common.ca_file.as_deref(),
        insecure(common),
    )?;
    if insecure(common) {
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
    options.offline = offline();
    if matches!(
        options.goal,
        Goal::Digest(_) | Goal::Manifest(_) | Goal::Inspect(_) | Goal::Referrers { .. }
    ) {
        options.known = known_for(r, None);
    }
    let image_goal = options.goal.uses_mirrors();
    // A replay asks only what the recorded run asked: no mirrors of this machine's.
    if r.registry() == regpeek_proto::DOCKER_HUB && image_goal && REPLAY_CREDENTIALS.get().is_none()
    {
        add_mirrors(r, common, &mut options, &mut tls)?;
    }
    let client = Client::new(&ClientOptions {
        tls,
        trace,
        exchanges: EXCHANGES.get().cloned(),
        ..ClientOptions::default()
    })?;
    Ok((options, client))
}

/// The cache of this run (none with --no-cache).
static CACHE: std::sync::OnceLock<cache::Cache> = std::sync::OnceLock::new();
/// --offline.
static OFFLINE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn offline() -> bool {
    OFFLINE.load(std::sync::atomic::Ordering::Relaxed)
}

/// Tokens and registry knowledge from earlier runs (empty without a cache).
fn cached_tokens() -> TokenCache {
    CACHE.get().map(cache::Cache::tokens).unwrap_or_default()
}

/// Content held in memory by a batch, by digest.
type Held = Arc<std::sync::Mutex<std::collections::BTreeMap<regpeek_proto::Digest, Vec<u8>>>>;

/// What the caller holds for a reference: content from `held` (a batch's), then from
/// the cache, read only when the flow asks; and where the cache saw the reference
/// resolve at this repository.
fn known_for(r: &Reference, held: Option<Held>) -> regpeek_proto::Known {
    let cache = CACHE.get();
    if cache.is_none() && held.is_none() {
        return regpeek_proto::Known::default();
    }
    let known = regpeek_proto::Known::lookup(move |d| {
        let from_batch = held
            .as_ref()
            .and_then(|h| h.lock().ok().and_then(|m| m.get(d).cloned()));
        from_batch.or_else(|| cache?.get(d))
    });
    match cache.and_then(|c| c.resolved(r)) {
        Some(d) => known.resolved(d),
        None => known,
    }
}

/// Keeps what an inspection fetched in the cache.
fn remember(insp: &regpeek_proto::Inspection) {
    if let Some(c) = CACHE.get() {
        let _ = c.remember(insp);
        c.prune(cache::DEFAULT_MAX_BYTES);
    }
}

/// Keeps this run's tokens for later runs, merged into what other runs kept meanwhile.
fn keep_tokens(tokens: &TokenCache) {
    if let Some(c) = CACHE.get() {
        let _ = c.update_tokens(|kept| kept.merge(tokens));
    }
}

/// When this process started: the deadline counts from here.
static STARTED: std::sync::LazyLock<std::time::SystemTime> =
    std::sync::LazyLock::new(std::time::SystemTime::now);

/// The command's deadline from `--timeout` (`0`: none), counted from the start.
fn deadline(common: &Common) -> Result<Option<std::time::SystemTime>> {
    deadline_from(common, *STARTED)
}

/// `--timeout` counted from `start` (a batch gives each reference its own).
fn deadline_from(
    common: &Common,
    start: std::time::SystemTime,
) -> Result<Option<std::time::SystemTime>> {
    Ok(timeout_budget(common)?.and_then(|b| start.checked_add(b)))
}

/// `--timeout` as a duration (`None` for `0`: no deadline).
fn timeout_budget(common: &Common) -> Result<Option<std::time::Duration>> {
    let secs = common.timeout;
    if secs == 0.0 {
        return Ok(None);
    }
    let budget = std::time::Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| *d <= std::time::Duration::from_secs(365 * 86_400))
        .with_context(|| format!("--timeout {secs}: give seconds from 0 to 31536000"))?;
    Ok(Some(budget))
}

/// A seed for retry jitter that differs between processes.
fn seed() -> u64 {
    let nanos = STARTED
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    (u64::from(std::process::id()) << 32) ^ u64::from(nanos)
}

/// A flow's outcome; its tokens are kept for later runs.
fn finish(run: (Result<Outcome, regpeek_ureq::RunError>, TokenCache)) -> Result<Outcome> {
    keep_tokens(&run.1);
    Ok(run.0?)
}

/// In a replay: per registry, the credentials the recorded run used (stand-ins for
/// the secrets). The machine's own credential files play no part.
static REPLAY_CREDENTIALS: std::sync::OnceLock<
    std::collections::BTreeMap<String, Option<Credentials>>,
> = std::sync::OnceLock::new();

/// `replay DIR`: the recorded command line, run again with the recording answering
/// in the network's place; its exit code as it was.
fn replay(dir: &std::path::Path) -> Result<ExitCode> {
    let recorded = record::load(dir)?;
    let _ = REPLAY_CREDENTIALS.set(recorded.credentials);
    let replaying = Arc::new(recorded.exchanges);
    if EXCHANGES.set(replaying.clone()).is_err() {
        return Err(usage("a replay cannot be recorded"));
    }
    let mut argv = vec![std::ffi::OsString::from("regpeek")];
    argv.extend(recorded.argv);
    let code = execute(argv);
    let unused = replaying.unused();
    if unused > 0 {
        eprintln!(
            "regpeek: replay: {unused} recorded exchange{} never asked for (the command went another way)",
            if unused == 1 { " was" } else { "s were" }
        );
    }
    Ok(code)
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
        let (mirror_tls, _) = tls::options_for(&host, &host, None, None, insecure(common))?;
        // Its CAs are trusted for what it redirects to as well; its client
        // certificate is shown to it alone.
        tls.extra_roots
            .extend(mirror_tls.extra_roots.iter().cloned());
        if mirror_tls.client_cert.is_some() {
            tls.per_host.push((host.clone(), mirror_tls));
        }
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

/// Offline, a tag cannot be revalidated: it is taken as the digest the cache saw it
/// point at (which may be stale, and says so). Online, or for a digest, `r` itself.
fn offline_pinned(r: Reference) -> Result<Reference> {
    let (true, None, Some(c)) = (offline(), r.digest(), CACHE.get()) else {
        return Ok(r);
    };
    let digest = c
        .tag(&r)
        .with_context(|| format!("{}: not in the cache, and offline", r.familiar()))?;
    eprintln!(
        "regpeek: offline: {} taken from the cache as {digest} (it may have moved since)",
        r.familiar()
    );
    parse_reference(&format!("{}@{digest}", r.name()))
}

/// One image, as `diff` compares them.
fn inspect(reference: &str, common: &Common, goal: Goal) -> Result<regpeek_proto::Inspection> {
    let r = offline_pinned(parse_reference(reference)?)?;
    let (options, client) = prepare(&r, common, goal)?;
    let flow = Flow::new(r, options, cached_tokens());
    let insp = finish(client.run(flow))?.into_image()?;
    if let Some(c) = CACHE.get() {
        let _ = c.remember(&insp);
        c.prune(cache::DEFAULT_MAX_BYTES);
    }
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

/// How a listing is printed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ListFormat {
    Lines,
    Json,
    Table,
}

fn list_format(list: &args::ListArgs) -> ListFormat {
    match (list.json, list.output) {
        (true, _) | (_, Some(args::OutputFormat::Json)) => ListFormat::Json,
        (_, Some(args::OutputFormat::Table)) => ListFormat::Table,
        _ => ListFormat::Lines,
    }
}

/// Prints a tag or catalog listing (also for `replay`).
fn print_listing(
    out: &mut impl Write,
    command: &str,
    name: &str,
    format: ListFormat,
    listing: &regpeek_proto::Listing,
    tty: bool,
    color: bool,
) -> Result<()> {
    if format == ListFormat::Table {
        let header = if command == "catalog" {
            "REPOSITORY"
        } else {
            "TAG"
        };
        let rows: Vec<Vec<String>> = listing.items.iter().map(|i| vec![i.clone()]).collect();
        output::print_columns(out, &[header], &rows)?;
    } else if format == ListFormat::Json || output::jq_enabled() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_order() {
        let mut tags: Vec<String> = [
            "latest",
            "1.10.0",
            "v1.2.10",
            "1.2.9",
            "1.0.0",
            "1.0.0-rc1",
            "2",
            "1.2",
            "alpine",
            "1.0.0-beta",
        ]
        .map(String::from)
        .to_vec();
        arrange(&mut tags, args::SortOrder::Semver, None);
        assert_eq!(
            tags,
            [
                "1.0.0-beta",
                "1.0.0-rc1",
                "1.0.0",
                "1.2",
                "1.2.9",
                "v1.2.10",
                "1.10.0",
                "2",
                "alpine",
                "latest"
            ]
        );
        let re = regex::Regex::new(r"^1\.").unwrap();
        arrange(&mut tags, args::SortOrder::Lexical, Some(&re));
        assert_eq!(
            tags,
            ["1.0.0", "1.0.0-beta", "1.0.0-rc1", "1.10.0", "1.2", "1.2.9"]
        );
    }
}
