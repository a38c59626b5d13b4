//! `cargo xtask …`: project chores that need more than cargo.
//!
//! - `demo`: start a local registry, push test images, run `regpeek inspect` on them.
//! - `test`: install what the tests need, then fmt, clippy and every test (CI runs this).
//! - `lab up|seed|down|status`: the detached lab in `.lab/` (see crates/regpeek-lab).
//! - `record REF --out DIR [--registry open|token|basic|issuer-down] [--goal G]
//!   [--platform P] [--creds U:P] [--security S] [--limit N] [--page-size N]
//!   [--ca-file F] [--description TEXT]`: record one scenario (scrubbed) from any
//!   registry, or with `--registry` from the running lab.
//! - `record-lab`: start the lab and re-record every `fixtures/lab-*` scenario.
//! - `model`: rewrite the hand-modelled `fixtures/model-*` scenarios.
//! - `bench [--rtt MS] [--runs N]`: regpeek against skopeo and a curl floor behind a delay relay.
//! - `fuzz [--secs N] [TARGET…]`: every fuzz target in turn, seeded from the fixtures.
//! - `man`: the man pages (clap_mangen, through the CLI) in the target directory's `man/`.

mod api;
mod bench;
mod dist;
mod fuzz;
mod lab;
mod model;
mod record;
mod scale;
mod shape;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use lab::{lab, lab_down, lab_seed, lab_up};
use regpeek_lab::Lab;

/// Held while the lab is being stopped: `main` takes it before returning, so a
/// Ctrl-C handler that is stopping the lab finishes before the process exits.
static LAB_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn main() -> Result<()> {
    let result = real_main();
    let _wait_for_cleanup = LAB_LOCK.lock();
    result
}

fn real_main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::env::set_current_dir(project_root()).context("entering the project root")?;
    match args.first().map(String::as_str) {
        Some("demo") => demo(),
        Some("test") => test(),
        Some("lab") => lab(&args[1..]),
        Some("record") => record::record_cli(&args[1..]),
        Some("record-lab") => record::record_lab(),
        Some("model") => model::model(),
        Some("bench") => bench::bench(&args[1..]),
        Some("fuzz") => fuzz::fuzz(&args[1..]),
        Some("dist") => dist::dist(&args[1..]),
        Some("publish-check") => dist::publish::publish_check(),
        Some("man") => man(),
        Some("api") => api::api(&args[1..]),
        Some("cycles") => shape::cycles_cli(),
        Some("shape") => shape::shape_cli(),
        _ => {
            eprintln!(
                "usage: cargo xtask <demo|test|lab|record|record-lab|model|bench|fuzz|dist|publish-check|man|api|cycles|shape>"
            );
            std::process::exit(2);
        }
    }
}

pub(crate) fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

/// The variables `cargo run` sets for the program it runs (this one). An inner cargo
/// must not see them: build scripts that watch them (ring's watches
/// `CARGO_MANIFEST_DIR`) would be rebuilt each time, and the outer cargo's next
/// `cargo xtask` would rebuild them back.
const RUN_VARIABLES: [&str; 6] = [
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_RUSTC_CURRENT_DIR",
];

pub(crate) fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    for var in RUN_VARIABLES {
        cmd.env_remove(var);
    }
    for (var, _) in std::env::vars_os() {
        if var.to_str().is_some_and(|v| v.starts_with("CARGO_PKG_")) {
            cmd.env_remove(var);
        }
    }
    cmd
}

/// Runs `cmd`, which shows its own progress (cargo's bar on a terminal), and says how
/// long it took.
pub(crate) fn run(cmd: &mut Command) -> Result<()> {
    let shown = shown(cmd);
    eprintln!("xtask: $ {shown}");
    let start = std::time::Instant::now();
    let status = cmd.status().with_context(|| format!("starting {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    eprintln!(
        "xtask: done in {:.1} s: {shown}",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A command as a user would type it (program name, then arguments).
fn shown(cmd: &Command) -> String {
    let program = Path::new(cmd.get_program()).file_name().map_or_else(
        || cmd.get_program().to_string_lossy(),
        |n| n.to_string_lossy(),
    );
    std::iter::once(program.into_owned())
        .chain(cmd.get_args().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Builds a binary with cargo (progress shown as cargo shows it) and returns where
/// cargo put it, wherever `CARGO_TARGET_DIR` or a config sends the target directory.
pub(crate) fn build_bin(args: &[&str], bin: &str) -> Result<PathBuf> {
    let mut cmd = cargo();
    cmd.arg("build")
        .args(args)
        .arg("--message-format=json-render-diagnostics")
        .stdout(std::process::Stdio::piped());
    let shown = shown(&cmd);
    eprintln!("xtask: $ {shown}");
    let start = std::time::Instant::now();
    let out = cmd
        .spawn()
        .and_then(|c| c.wait_with_output())
        .with_context(|| format!("starting {shown}"))?;
    if !out.status.success() {
        bail!("{shown} failed with {}", out.status);
    }
    eprintln!(
        "xtask: done in {:.1} s: {shown}",
        start.elapsed().as_secs_f64()
    );
    executable(&String::from_utf8_lossy(&out.stdout), bin)
        .with_context(|| format!("cargo built no executable named {bin}"))
}

/// One run of `program` under GNU time, no proxy variables, its output dropped: the
/// wall time and the peak RSS in KiB; an error saying what it printed if it failed.
pub(crate) fn timed(program: &Path, args: &[String]) -> Result<(std::time::Duration, u64)> {
    let start = std::time::Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .env_remove("HTTPS_PROXY")
        .env_remove("HTTP_PROXY")
        .env_remove("ALL_PROXY")
        .output()
        .with_context(|| format!("running {}", program.display()))?;
    let elapsed = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("{} {args:?} failed: {stderr}", program.display());
    }
    let kib = stderr
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .context("GNU time printed no max RSS")?;
    Ok((elapsed, kib))
}

/// The path of the executable `bin` in cargo's JSON messages.
fn executable(messages: &str, bin: &str) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == bin)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
}

/// The target directory, as cargo resolves it (`CARGO_TARGET_DIR`, config, default).
pub(crate) fn target_dir() -> Result<PathBuf> {
    target_dir_of(cargo())
}

/// [`target_dir`], asking this `cargo` command.
fn target_dir_of(mut cargo: Command) -> Result<PathBuf> {
    let out = cargo
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata failed with {}", out.status);
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    meta["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("cargo metadata names no target directory")
}

fn build_regpeek() -> Result<PathBuf> {
    build_bin(&["-p", "regpeek-cli"], "regpeek")
}

fn demo() -> Result<()> {
    regpeek_lab::ensure_packages()?;
    let regpeek = build_regpeek()?;
    eprintln!(
        "xtask: starting the lab (CNCF distribution registries, nginx, token issuer) on loopback"
    );
    let lab = Lab::start()?;
    let i = &lab.info;
    eprintln!(
        "xtask: open registry http://{} and token-auth registry http://{} are up, images pushed",
        i.plain(),
        i.token()
    );
    // A throwaway cache: the demo never writes to the user's own (its lab's ports
    // and tokens mean nothing after it ends).
    let cache = std::env::temp_dir().join(format!("regpeek-demo-cache-{}", std::process::id()));
    let result = demo_runs(&i.plain(), &i.token(), &cache)
        .into_iter()
        .try_for_each(|args| {
            eprintln!();
            run(Command::new(&regpeek).args(&args))
        });
    let _ = std::fs::remove_dir_all(&cache);
    result?;
    eprintln!("\nxtask: demo done; the lab stops now.");
    eprintln!("With internet access, try: regpeek inspect nginx");
    Ok(())
}

/// The demo's command lines against the lab's open (`plain`) and token (`token`)
/// registries, each with `cache` as its cache.
fn demo_runs(plain: &str, token: &str, cache: &Path) -> Vec<Vec<String>> {
    let runs: Vec<Vec<String>> = vec![
        vec!["inspect".into(), format!("{plain}/lab/multi:v1")],
        vec![
            "inspect".into(),
            format!("{plain}/lab/multi:v1"),
            "--platform".into(),
            "linux/arm/v7".into(),
        ],
        vec!["inspect".into(), format!("{plain}/lab/rich:v1")],
        vec!["digest".into(), format!("{token}/public/multi:v1")],
    ];
    runs.into_iter()
        .map(|run| {
            let mut args = vec!["--cache-dir".to_owned(), cache.display().to_string()];
            args.extend(run);
            args
        })
        .collect()
}

/// `cargo xtask man`: regpeek.1 and one page per command, in the target dir's `man/`.
fn man() -> Result<()> {
    let regpeek = build_regpeek()?;
    let dir = target_dir()?.join("man");
    run(Command::new(&regpeek).arg("man").arg(&dir))?;
    eprintln!(
        "xtask: man pages in {} (try: man {}/regpeek.1)",
        dir.display(),
        dir.display()
    );
    Ok(())
}

fn lab_dir() -> PathBuf {
    project_root().join(".lab")
}

/// `cargo xtask test`: packages, lab up + seed, fmt, clippy, tests, lab down (always).
/// Each phase says when it starts and how long it took; cargo shows its own progress.
fn test() -> Result<()> {
    let start = std::time::Instant::now();
    phase("packages", regpeek_lab::ensure_packages)?;
    phase("format", || {
        run(cargo().args(["fmt", "--all", "--", "--check"]))
    })?;
    phase("clippy", || {
        run(cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    // The library crates' docs build without a warning (broken links, missing docs).
    phase("docs", || {
        run(cargo()
            .args([
                "doc",
                "--no-deps",
                "-p",
                "regpeek-proto",
                "-p",
                "regpeek-ureq",
                "-p",
                "regpeek-h2",
                "-p",
                "regpeek-replay",
                "-p",
                "regpeek-client",
            ])
            .env("RUSTDOCFLAGS", "-D warnings"))
    })?;
    // Build before the lab is up so the lab does not idle through a long compile.
    phase("build tests", || {
        run(cargo().args(["test", "--workspace", "--all-targets", "--no-run"]))
    })?;
    let _ = lab_down();
    stop_lab_on_interrupt();
    // Stops the lab however this function ends: error, panic or success.
    let _guard = LabGuard;
    phase("lab up", || {
        lab_up()?;
        lab_seed()
    })?;
    let state = lab_dir().join("lab.json");
    let before = scratch_entries();
    phase("tests", || {
        run(cargo()
            .args(["test", "--workspace", "--all-targets"])
            .env("INSTA_UPDATE", "no")
            .env("REGPEEK_LAB", &state))
    })?;
    // Tests clean up after themselves: nothing of theirs is left in the temp dir.
    let left: Vec<String> = scratch_entries().difference(&before).cloned().collect();
    if !left.is_empty() {
        bail!(
            "the tests left {} entries in {}: {}",
            left.len(),
            std::env::temp_dir().display(),
            left.join(", ")
        );
    }
    phase("doctests", || {
        run(cargo().args(["test", "--workspace", "--doc"]))
    })?;
    // The release artifacts, built and proved (a lab of their own).
    phase("dist", || dist::dist(&["--check".to_owned()]))?;
    eprintln!(
        "xtask: all checks passed in {:.0} s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The temp dir's entries that tests of this project create (`regpeek-*`).
fn scratch_entries() -> std::collections::BTreeSet<String> {
    std::fs::read_dir(std::env::temp_dir())
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.starts_with("regpeek-"))
                .collect()
        })
        .unwrap_or_default()
}

/// One phase of a chore: a line when it starts, and one with its time when it ends.
fn phase(name: &str, work: impl FnOnce() -> Result<()>) -> Result<()> {
    phase_to(&mut std::io::stderr(), name, work)
}

/// [`phase`], saying so to `log`.
fn phase_to(
    log: &mut impl std::io::Write,
    name: &str,
    work: impl FnOnce() -> Result<()>,
) -> Result<()> {
    let _ = writeln!(log, "xtask: == {name}");
    let start = std::time::Instant::now();
    let result = work();
    let took = start.elapsed().as_secs_f64();
    let _ = match &result {
        Ok(()) => writeln!(log, "xtask: == {name}: ok in {took:.1} s"),
        Err(_) => writeln!(log, "xtask: == {name}: FAILED after {took:.1} s"),
    };
    result
}

/// Stops the detached lab when dropped (also while unwinding from a panic).
struct LabGuard;

impl Drop for LabGuard {
    fn drop(&mut self) {
        if let Err(e) = lab_down() {
            eprintln!("xtask: stopping the lab: {e:#}");
        }
    }
}

/// On Ctrl-C, TERM or HUP: stop whatever lab.json lists (also a half-started lab),
/// then exit. The lab's processes run in their own process groups, so the terminal's
/// SIGINT does not reach them.
fn stop_lab_on_interrupt() {
    let _ = ctrlc::set_handler(|| {
        let _cleaning = LAB_LOCK.lock();
        eprintln!("\nxtask: interrupted; stopping the lab");
        let _ = lab_down();
        std::process::exit(130);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_never_touches_the_users_cache() {
        let cache = std::env::temp_dir().join("regpeek-demo-cache-1");
        let runs = demo_runs("127.0.0.1:1", "127.0.0.1:2", &cache);
        assert!(!runs.is_empty());
        for args in runs {
            assert_eq!(args[0], "--cache-dir", "{args:?}");
            assert_eq!(args[1], cache.display().to_string());
        }
    }

    #[test]
    fn inner_cargo_does_not_see_what_cargo_run_set_for_xtask() {
        // `cargo test` sets CARGO_MANIFEST_DIR and CARGO_PKG_NAME for this process,
        // as `cargo run` does for xtask: the inner cargo must not inherit them.
        let cmd = cargo();
        let removed: Vec<String> = cmd
            .get_envs()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        for var in ["CARGO_MANIFEST_DIR", "CARGO_PKG_NAME", "CARGO_PKG_VERSION"] {
            assert!(
                removed.iter().any(|r| r == var),
                "{var} reaches the inner cargo"
            );
        }
    }

    #[test]
    fn every_phase_says_when_it_starts_and_how_long_it_took() {
        let mut log = Vec::new();
        phase_to(&mut log, "clippy", || Ok(())).unwrap();
        assert!(phase_to(&mut log, "tests", || anyhow::bail!("no")).is_err());
        let log = String::from_utf8(log).unwrap();
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines[0], "xtask: == clippy");
        assert!(lines[1].starts_with("xtask: == clippy: ok in ") && lines[1].ends_with(" s"));
        assert_eq!(lines[2], "xtask: == tests");
        assert!(
            lines[3].starts_with("xtask: == tests: FAILED after "),
            "{log}"
        );
        // Inner cargo calls show cargo's own progress: none is told to be quiet.
        let source = include_str!("main.rs");
        assert!(!source.contains(concat!("\"--", "quiet\"")));
    }

    #[test]
    fn binaries_and_the_target_dir_are_where_cargo_says() {
        let messages = r#"{"reason":"compiler-artifact","target":{"name":"regpeek_proto"},"executable":null}
{"reason":"compiler-artifact","target":{"name":"regpeek"},"executable":"/elsewhere/debug/regpeek"}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            executable(messages, "regpeek"),
            Some(PathBuf::from("/elsewhere/debug/regpeek"))
        );
        assert_eq!(executable(messages, "other"), None);
        let dir = tempfile::tempdir().unwrap();
        let mut elsewhere = cargo();
        elsewhere.env("CARGO_TARGET_DIR", dir.path());
        assert_eq!(target_dir_of(elsewhere).unwrap(), dir.path());
    }
}
