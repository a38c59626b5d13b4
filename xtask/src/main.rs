//! `cargo xtask …`: project chores that need more than cargo.
//!
//! - `demo`: start a local registry, push test images, run `regpeek inspect` on them.
//! - `test`: install what the tests need, then fmt, clippy and every test (CI runs this).
//! - `lab`: start a seeded local registry and keep it up until Enter is pressed.
//! - `record REF --out DIR [--goal G] [--platform P] [--creds U:P] [--security S]
//!   [--description TEXT]`: record one scenario from a real registry (scrubbed).
//! - `record-lab`: start the lab and re-record every `fixtures/lab-*` scenario.
//! - `model`: rewrite the hand-modelled `fixtures/model-*` scenarios.

mod model;
mod record;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use regpeek_lab::Lab;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::env::set_current_dir(project_root()).context("entering the project root")?;
    match args.first().map(String::as_str) {
        Some("demo") => demo(),
        Some("test") => test(),
        Some("lab") => lab(),
        Some("record") => record::record_cli(&args[1..]),
        Some("record-lab") => record::record_lab(),
        Some("model") => model::model(),
        _ => {
            eprintln!("usage: cargo xtask <demo|test|lab|record|record-lab|model>");
            std::process::exit(2);
        }
    }
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn build_regpeek() -> Result<PathBuf> {
    run(cargo().args(["build", "--quiet", "-p", "regpeek-cli"]))?;
    Ok(project_root().join("target/debug/regpeek"))
}

fn demo() -> Result<()> {
    regpeek_lab::ensure_packages()?;
    let regpeek = build_regpeek()?;
    let lab = Lab::start()?;
    let host = &lab.registry.host;
    eprintln!(
        "xtask: registry (CNCF distribution) up on http://{host} with lab/rich and lab/multi pushed"
    );
    for args in [
        vec!["inspect".to_owned(), format!("{host}/lab/multi:v1")],
        vec![
            "inspect".to_owned(),
            format!("{host}/lab/multi:v1"),
            "--platform".to_owned(),
            "linux/arm/v7".to_owned(),
        ],
        vec!["inspect".to_owned(), format!("{host}/lab/rich:v1")],
    ] {
        eprintln!("\n$ regpeek {}", args.join(" "));
        run(Command::new(&regpeek).args(&args))?;
    }
    eprintln!("\nxtask: demo done; the registry stops now.");
    eprintln!("With internet access, try: regpeek inspect nginx");
    Ok(())
}

fn test() -> Result<()> {
    regpeek_lab::ensure_packages()?;
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--quiet",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    run(cargo()
        .args(["test", "--workspace", "--all-targets"])
        .env("INSTA_UPDATE", "no"))?;
    run(cargo().args(["test", "--workspace", "--doc"]))?;
    Ok(())
}

fn lab() -> Result<()> {
    regpeek_lab::ensure_packages()?;
    let lab = Lab::start()?;
    println!("registry: http://{}", lab.registry.host);
    println!(
        "images:   {0}/lab/rich:v1  {0}/lab/multi:v1",
        lab.registry.host
    );
    println!("press Enter to stop");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(())
}
