//! What flags mean, with no session needed: the platform asked for, references and
//! registries as typed, the scheme and TLS policy.

use anyhow::{Result, bail};
use regpeek_proto::{Platform, Reference, Security};

use crate::args::Common;
use crate::errors::usage;

/// The platform this program was built for, as registries name it (`linux/amd64`,
/// `linux/arm64`): what `docker pull` picks on this machine. On 32-bit ARM the CPU
/// tells the variant (`linux/arm/v7` when it does not).
pub fn host_platform() -> Platform {
    // Parsing normalises, as containerd does (`arm` alone is `arm/v7`).
    let parse = |s: &str| Platform::parse(s, "amd64");
    let arch = go_arch(std::env::consts::ARCH);
    let host =
        parse(&format!("linux/{arch}")).unwrap_or_else(|_| Platform::new("linux", arch, None));
    match (host.architecture == "arm").then(arm_variant).flatten() {
        Some(v) => parse(&format!("linux/arm/{v}")).unwrap_or(host),
        None => host,
    }
}

/// Go's name (which registries use) for a Rust `std::env::consts::ARCH`.
fn go_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
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
pub fn explicit_platform(common: &Common) -> Result<Option<Platform>> {
    let overridden = common.override_os.is_some()
        || common.override_arch.is_some()
        || common.override_variant.is_some();
    (common.platform.is_some() || overridden)
        .then(|| platform(common))
        .transpose()
}

/// `--platform`, or skopeo's `--override-os/arch/variant`, or this machine's.
pub fn platform(common: &Common) -> Result<Platform> {
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
pub fn parse_reference(input: &str) -> Result<Reference> {
    let bare = input.strip_prefix("docker://").unwrap_or(input);
    for scheme in ["http://", "https://"] {
        if let Some(rest) = bare.strip_prefix(scheme) {
            return Err(usage(format!(
                "{input:?}: a reference has no scheme: drop {scheme:?} ({rest}){}",
                if scheme == "http://" {
                    ", and add --plain-http for a registry that speaks plain http"
                } else {
                    ""
                }
            )));
        }
    }
    if let Some(local) = crate::local::reference(bare) {
        return local;
    }
    if let Some((transport, _)) = bare.split_once(':') {
        let known = ["dir", "docker-daemon", "containers-storage"];
        if known.contains(&transport) {
            bail!(
                "{transport}: is a skopeo transport regpeek does not read yet (it reads registries, docker://REF or just REF, and OCI layouts, oci:DIR[:TAG])"
            );
        }
    }
    Ok(Reference::parse(bare)?)
}

/// `--insecure`, or skopeo's `--tls-verify=false`.
pub fn insecure(common: &Common) -> bool {
    common.reach.insecure || common.reach.tls_verify == Some(false)
}

/// `--http` and `--http2-prior-knowledge`.
pub fn http(common: &Common) -> regpeek_h2::H2Options {
    use crate::args::HttpVersion;
    regpeek_h2::H2Options {
        http: match common.reach.http {
            HttpVersion::Auto => regpeek_h2::Http::Auto,
            HttpVersion::Http1 => regpeek_h2::Http::Http1,
            HttpVersion::Http2 => regpeek_h2::Http::Http2,
        },
        prior_knowledge: common.reach.http2_prior_knowledge,
    }
}

/// `--plain-http`; `--tls-verify=false` allows plain http too (skopeo's insecure
/// registry); else Docker's rule (the core applies it).
pub fn security(common: &Common) -> Security {
    if common.reach.plain_http {
        Security::Http
    } else if common.reach.tls_verify == Some(false) {
        Security::HttpsThenHttp
    } else {
        Security::Auto
    }
}

/// A whole registry (`auth show`, `login`, `logout`, `catalog`); an image reference
/// names its registry and repository (for namespaced credentials).
pub fn registry_target(registry: &str) -> Result<Reference> {
    if registry.trim().is_empty() {
        return Err(usage(
            "no registry given: name one, such as `docker.io` or `localhost:5000`",
        ));
    }
    let host = regpeek_client::names::without_scheme(registry);
    if host.contains('/') {
        return Ok(Reference::parse(host)?);
    }
    Ok(Reference::for_registry(registry)?)
}

/// Lets a command's flags come before the command (`regpeek -v inspect X`, as docker
/// and skopeo users type them) by moving them after it; clap then checks them against
/// that command, so each command's `--help` still lists only its own flags.
pub fn hoist_command_flags(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    use clap::CommandFactory;
    let cli = crate::args::Cli::command();
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
        // `-vv`: one counted short flag, repeated.
        let repeated = |a: &&&clap::Arg| {
            let shorts: Vec<char> = name.chars().skip(1).collect();
            shorts.len() > 1
                && !name.starts_with("--")
                && matches!(a.get_action(), clap::ArgAction::Count)
                && shorts.iter().all(|c| a.get_short() == Some(*c))
        };
        args.iter()
            .find(|a| match name.strip_prefix("--") {
                Some(long) => a.get_long() == Some(long),
                None => name.len() == 2 && a.get_short() == name.chars().nth(1) || repeated(a),
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

/// The batch lane of a reference: its registry (a reference that does not parse fails
/// on its own, in a lane of its own kind).
pub(crate) fn lane_of(reference: &str) -> String {
    parse_reference(reference)
        .map(|r| r.registry().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_platform_is_named_as_registries_name_it() {
        assert_eq!(go_arch("x86_64"), "amd64");
        assert_eq!(go_arch("aarch64"), "arm64");
        assert_eq!(go_arch("x86"), "386");
        assert_eq!(go_arch("riscv64"), "riscv64");
        let host = host_platform().to_string();
        if cfg!(target_arch = "x86_64") {
            assert_eq!(host, "linux/amd64");
        }
        assert_eq!(
            Platform::parse(&host, "amd64").unwrap().to_string(),
            host,
            "already normalised"
        );
    }
}
