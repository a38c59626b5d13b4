//! `regpeek`: inspect container images in remote registries without pulling them.
//!
//! Thin by design: parse arguments, build options, run the driver, print. No protocol
//! logic lives here.

mod args;
mod output;
mod summary;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Parser;
use regpeek_proto::{
    Credentials, Flow, Goal, Options, Outcome, Platform, Reference, Security, TokenCache,
};
use regpeek_ureq::{Client, ClientOptions};

use crate::args::{Cli, Command, Common, ListArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if let Some(io) = err.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            eprintln!("regpeek: error: {err:#}");
            if let Some(hint) = hint(&err) {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(1)
        }
    }
}

/// A next step for the user, for errors that have an obvious one.
fn hint(err: &anyhow::Error) -> Option<String> {
    let e = err.downcast_ref::<regpeek_proto::Error>()?;
    match e {
        regpeek_proto::Error::AuthRequired { .. } => {
            Some("pass credentials with --creds USER:PASSWORD".into())
        }
        regpeek_proto::Error::BadCredentials { .. } => {
            Some("check the user name and password given with --creds".into())
        }
        regpeek_proto::Error::Registry {
            code: Some(code), ..
        } if code == "MANIFEST_UNKNOWN" || code == "NAME_UNKNOWN" => Some(
            "check the repository name and tag; `regpeek ref REF` shows what is asked for".into(),
        ),
        regpeek_proto::Error::Transport { what, message, .. } => {
            if message.starts_with("TLS handshake failed") {
                Some("use --plain-http for a registry that speaks plain http".into())
            } else if *what == "token server" {
                Some("the registry sends clients to this token server, which is unreachable".into())
            } else if message.starts_with("cannot connect") || message.starts_with("cannot resolve")
            {
                Some("is the registry up, and is the host and port right?".into())
            } else {
                None
            }
        }
        _ => None,
    }
}

fn run(cli: Cli) -> Result<()> {
    let stdout = std::io::stdout();
    let tty = stdout.is_terminal();
    let color = tty && std::env::var_os("NO_COLOR").is_none();
    let mut out = stdout.lock();
    match &cli.command {
        Command::Ref { reference, common } => {
            let r = Reference::parse(reference)?;
            let security = security(&r, common);
            let value = summary::reference_output(reference, &r, security);
            output::print_json(&mut out, &value, tty, color)?;
        }
        Command::Inspect { reference, common } => {
            let platform = platform(common)?;
            let insp = inspect(reference, common, Goal::Inspect(platform))?;
            warn(&insp.warnings);
            output::print_json(&mut out, &summary::inspect_output(&insp), tty, color)?;
        }
        Command::Manifest { reference, common } => {
            let explicit = common
                .platform
                .as_ref()
                .map(|_| platform(common))
                .transpose()?;
            let insp = inspect(reference, common, Goal::Manifest(explicit.clone()))?;
            warn(&insp.warnings);
            let bytes = match (&explicit, &insp.manifest) {
                (Some(_), Some(m)) => m.raw.clone(),
                _ => insp.raw.clone(),
            }
            .context("the registry sent no manifest body")?;
            output::print_bytes(&mut out, &bytes, tty, color)?;
        }
        Command::Config { reference, common } => {
            let platform = platform(common)?;
            let insp = inspect(reference, common, Goal::Inspect(platform))?;
            warn(&insp.warnings);
            let Some(config) = insp.config else {
                bail!(
                    "{} is a {} and has no image config",
                    insp.reference.familiar(),
                    insp.manifest.map_or(insp.media_type, |m| m.media_type)
                );
            };
            output::print_bytes(&mut out, &config.raw, tty, color)?;
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
            let flow = Flow::new(r.clone(), options(&r, common, goal)?, TokenCache::new());
            let listing = run_flow(common, flow)?.into_listing()?;
            let value = serde_json::json!({"Repository": r.name(), "Tags": listing.items});
            print_listing(&mut out, list, &listing, &value, tty, color)?;
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
            // Scheme and credentials are decided as for any reference on that registry.
            let probe = Reference::parse(&format!("{}/x", registry.trim_end_matches('/')))
                .with_context(|| format!("invalid registry {registry:?}"))?;
            let flow = Flow::catalog(registry, options(&probe, common, goal)?, TokenCache::new())?;
            let listing = run_flow(common, flow)?.into_listing()?;
            let value =
                serde_json::json!({"Registry": probe.registry(), "Repositories": listing.items});
            print_listing(&mut out, list, &listing, &value, tty, color)?;
        }
        Command::Digest { reference, common } => {
            let explicit = common
                .platform
                .as_ref()
                .map(|_| platform(common))
                .transpose()?;
            let insp = inspect(reference, common, Goal::Digest(explicit.clone()))?;
            warn(&insp.warnings);
            let digest = match (&explicit, &insp.manifest) {
                (Some(_), Some(m)) => &m.digest,
                _ => &insp.digest,
            };
            writeln!(out, "{digest}")?;
        }
    }
    out.flush()?;
    Ok(())
}

fn warn(warnings: &[String]) {
    for w in warnings {
        eprintln!("regpeek: registry warning: {w}");
    }
}

fn host_platform() -> Platform {
    let arch = regpeek_proto::platform::go_arch(std::env::consts::ARCH);
    let variant = (arch == "arm").then(arm_variant).flatten();
    Platform::new("linux", arch, variant.as_deref()).normalized()
}

/// The ARM variant of this CPU, as containerd reads it from `/proc/cpuinfo`.
fn arm_variant() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("CPU architecture"))?;
    let v = line.split(':').nth(1)?.trim();
    Some(format!("v{}", v.trim_start_matches("AArch64").trim()))
}

fn platform(common: &Common) -> Result<Platform> {
    match &common.platform {
        None => Ok(host_platform()),
        Some(p) => Ok(Platform::parse(p, &host_platform().architecture)?),
    }
}

fn security(r: &Reference, common: &Common) -> Security {
    if common.plain_http {
        Security::Http
    } else if regpeek_proto::is_loopback_host(host_only(r.api_host())) {
        // Docker's rule: loopback registries are insecure-allowed; try TLS, then http.
        Security::HttpsThenHttp
    } else {
        Security::Https
    }
}

fn host_only(host_port: &str) -> &str {
    if let Some(rest) = host_port.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    host_port.split(':').next().unwrap_or(host_port)
}

fn credentials(common: &Common) -> Result<Option<Credentials>> {
    let Some(creds) = &common.creds else {
        return Ok(None);
    };
    let Some((user, pass)) = creds.split_once(':') else {
        bail!("--creds needs USER:PASSWORD");
    };
    if user.is_empty() {
        bail!("--creds has an empty user name");
    }
    Ok(Some(Credentials::basic(user, pass)))
}

fn options(r: &Reference, common: &Common, goal: Goal) -> Result<Options> {
    let mut options = Options::new(goal);
    options.credentials = credentials(common)?;
    options.security = security(r, common);
    Ok(options)
}

fn run_flow(common: &Common, flow: Flow) -> Result<Outcome> {
    let ca_pem = match &common.ca_file {
        None => None,
        Some(path) => Some((
            path.display().to_string(),
            std::fs::read(path).with_context(|| format!("reading CA file {}", path.display()))?,
        )),
    };
    let trace: Option<regpeek_ureq::Trace> = (common.verbose > 0)
        .then(|| Arc::new(|line: &str| eprintln!("{line}")) as regpeek_ureq::Trace);
    let client = Client::new(&ClientOptions {
        ca_pem,
        trace,
        ..ClientOptions::default()
    })?;
    let (result, _tokens) = client.run(flow);
    Ok(result?)
}

fn inspect(reference: &str, common: &Common, goal: Goal) -> Result<regpeek_proto::Inspection> {
    let r = Reference::parse(reference)?;
    let flow = Flow::new(r.clone(), options(&r, common, goal)?, TokenCache::new());
    Ok(run_flow(common, flow)?.into_image()?)
}

fn print_listing(
    out: &mut impl Write,
    args: &ListArgs,
    listing: &regpeek_proto::Listing,
    value: &serde_json::Value,
    tty: bool,
    color: bool,
) -> Result<()> {
    if args.json {
        output::print_json(out, value, tty, color)?;
    } else {
        for item in &listing.items {
            writeln!(out, "{item}")?;
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
