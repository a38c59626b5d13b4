//! `cargo xtask lab up|seed|down|status|rtt MS`: the lab for developers and CI.

use std::path::Path;

use anyhow::{Context, Result, bail};
use regpeek_lab::Lab;

use crate::{lab_dir, stop_lab_on_interrupt};

pub(crate) fn lab(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("up") => {
            regpeek_lab::ensure_packages()?;
            stop_lab_on_interrupt();
            lab_up()?;
            lab_seed()?;
            lab_status()
        }
        Some("seed") => lab_seed(),
        Some("down") => lab_down(),
        Some("status") => lab_status(),
        Some("helper") => Lab::serve_helper(Path::new(args.get(1).context("lab helper DIR")?)),
        // A lab behind delay relays, to try things under an emulated round trip by
        // hand: it lives until Ctrl-C.
        Some("rtt") => {
            let ms: u64 = args.get(1).context("lab rtt MS")?.parse()?;
            regpeek_lab::ensure_packages()?;
            let lab = Lab::start_with_rtt(std::time::Duration::from_millis(ms))?;
            println!(
                "lab behind {ms} ms relays: {} (Ctrl-C stops it)",
                lab.info.dir.join("lab.json").display()
            );
            loop {
                std::thread::park();
            }
        }
        _ => bail!("usage: cargo xtask lab <up|seed|down|status|rtt MS>"),
    }
}

pub(crate) fn lab_up() -> Result<()> {
    let dir = lab_dir();
    if dir.join("lab.json").exists() {
        if lab_status().is_ok() {
            eprintln!("xtask: the lab is already up");
            return Ok(());
        }
        lab_down()?;
    }
    let exe = std::env::current_exe()?.display().to_string();
    let helper = vec![
        exe,
        "lab".into(),
        "helper".into(),
        dir.display().to_string(),
    ];
    // A failed attempt stops what it started and removes lab.json before the next.
    let lab = Lab::with_retries(|| {
        Lab::start_in(
            &dir,
            regpeek_lab::Ports::random()?,
            regpeek_lab::Keep::Detached,
            Some(&helper),
        )
    })?;
    eprintln!("xtask: lab up in {}", lab.info.dir.display());
    Ok(())
}

pub(crate) fn lab_seed() -> Result<()> {
    let info = regpeek_lab::LabInfo::load(&lab_dir().join("lab.json"))?;
    let lab = Lab::shared_from(info);
    lab.seed()?;
    eprintln!("xtask: lab seeded");
    Ok(())
}

pub(crate) fn lab_down() -> Result<()> {
    let dir = lab_dir();
    if !dir.join("lab.json").exists() {
        eprintln!("xtask: no lab is up");
        return Ok(());
    }
    Lab::down(&dir)?;
    eprintln!("xtask: lab down");
    Ok(())
}

pub(crate) fn lab_status() -> Result<()> {
    let info = regpeek_lab::LabInfo::load(&lab_dir().join("lab.json"))
        .context("no lab is up (cargo xtask lab up)")?;
    // A zombie (state Z) is as dead as a missing process.
    let dead: Vec<u32> = info
        .pids
        .iter()
        .copied()
        .filter(|p| !regpeek_lab::alive(*p))
        .collect();
    println!("lab dir:      {}", info.dir.display());
    println!(
        "open:         http://{}   (lab/rich, lab/multi, lab/many-tags, lab/many-layers)",
        info.plain()
    );
    println!(
        "token auth:   http://{}   (public/*, private/*; realm {})",
        info.token(),
        info.realm()
    );
    println!(
        "basic + TLS:  https://{}  (lab/*; --ca-file {})",
        info.basic(),
        info.ca_file().display()
    );
    println!(
        "mTLS:         https://{}  (client cert in {})",
        info.mtls(),
        info.cert_dir().display()
    );
    println!(
        "token + TLS:  https://{}  (the token registry behind nginx, HTTP/2)",
        info.token_tls()
    );
    println!("issuer down:  http://{}", info.issuer_down());
    println!("user:         {}", info.creds());
    println!("CDN log:      {}", info.cdn_log().display());
    if !dead.is_empty() {
        bail!("lab processes not running: {dead:?}");
    }
    println!("status:       all {} processes running", info.pids.len());
    Ok(())
}
