//! The scaling rows of `cargo xtask bench` (`--scale 1000,10000[,100000]`): batches of
//! N references to one repository of N tags, on the lab's open registry at loopback
//! (its backend, behind no delay relay: what is measured is regpeek's cost per
//! reference, not round trips). For each N: a cold `digest` with the cache and
//! without, a warm `digest --offline`, `inspect` with the cache warm and cold
//! (`--no-cache`, with its peak RSS); then how the offline time grows from one N to
//! the next.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use regpeek_lab::Lab;

/// One timed run: wall seconds and peak RSS in KiB.
fn timed(regpeek: &Path, args: &[String]) -> Result<(f64, u64)> {
    let (elapsed, kib) = crate::timed(regpeek, args)?;
    Ok((elapsed.as_secs_f64(), kib))
}

/// Pushes tags `s000000`… up to `n` of the rich image to `lab/scale`, eight at once.
fn push_tags(lab: &Lab, n: usize) -> Result<()> {
    let (image, info) = (&lab.seeded.rich, &lab.info);
    let targets = info.targets()?;
    targets.plain.image("lab/scale", image, &[])?;
    let started = Instant::now();
    std::thread::scope(|s| -> Result<()> {
        let workers: Vec<_> = (0..8)
            .map(|w| {
                s.spawn(move || -> Result<()> {
                    let target = info.targets()?.plain;
                    for i in (w..n).step_by(8) {
                        target.manifest("lab/scale", &image.manifest, &format!("s{i:06}"))?;
                    }
                    Ok(())
                })
            })
            .collect();
        for w in workers {
            w.join()
                .map_err(|_| anyhow::anyhow!("a push worker panicked"))??;
        }
        Ok(())
    })?;
    eprintln!(
        "xtask: {n} tags pushed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs the rows for each of `sizes` (ascending) and prints them.
pub fn rows(lab: &Lab, regpeek: &Path, sizes: &[usize], scratch: &Path) -> Result<()> {
    let Some(&largest) = sizes.iter().max() else {
        return Ok(());
    };
    push_tags(lab, largest)?;
    let host = format!("127.0.0.1:{}", lab.info.ports.plain_backend);
    println!(
        "\nScaling: N references to N tags of one repository, at loopback (no relay), --jobs 8\n"
    );
    println!(
        "{:>7} {:>10} {:>10} {:>6} {:>10} {:>9} {:>11} {:>11} {:>10} {:>9}",
        "N",
        "cold s",
        "no-cache s",
        "ratio",
        "offline s",
        "refs/s",
        "insp warm s",
        "insp cold s",
        "insp RSS",
        "growth"
    );
    let mut previous: Option<(usize, f64)> = None;
    for &n in sizes {
        let file: PathBuf = scratch.join(format!("refs-{n}.txt"));
        let refs: Vec<String> = (0..n)
            .map(|i| format!("{host}/lab/scale:s{i:06}"))
            .collect();
        std::fs::write(&file, refs.join("\n"))?;
        let cache = scratch.join(format!("cache-{n}"));
        let _ = std::fs::remove_dir_all(&cache);
        let (f, c) = (file.display().to_string(), cache.display().to_string());
        let args = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        // The registry's storage warmed first: the first run measured would pay it.
        timed(
            regpeek,
            &args(&["--no-cache", "digest", "--plain-http", "--file", &f]),
        )?;
        let (cold, _) = timed(
            regpeek,
            &args(&["--cache-dir", &c, "digest", "--plain-http", "--file", &f]),
        )?;
        let (no_cache, _) = timed(
            regpeek,
            &args(&["--no-cache", "digest", "--plain-http", "--file", &f]),
        )?;
        let (offline, _) = timed(
            regpeek,
            &args(&["--cache-dir", &c, "--offline", "digest", "--file", &f]),
        )?;
        // Warm: one HEAD a tag, the manifest and config from the cache.
        timed(
            regpeek,
            &args(&["--cache-dir", &c, "inspect", "--plain-http", &refs[0]]),
        )?;
        let (inspect, _) = timed(
            regpeek,
            &args(&["--cache-dir", &c, "inspect", "--plain-http", "--file", &f]),
        )?;
        let (inspect_cold, rss) = timed(
            regpeek,
            &args(&["--no-cache", "inspect", "--plain-http", "--file", &f]),
        )?;
        let growth = previous.map_or_else(
            || "-".to_owned(),
            |(m, t)| format!("{:.1}x/{}x", offline / t, n / m),
        );
        println!(
            "{:>7} {:>10.2} {:>10.2} {:>6.2} {:>10.2} {:>9.0} {:>11.2} {:>11.2} {:>8.1}Mi {:>9}",
            n,
            cold,
            no_cache,
            cold / no_cache,
            offline,
            n as f64 / offline,
            inspect,
            inspect_cold,
            rss as f64 / 1024.0,
            growth
        );
        previous = Some((n, offline));
        let _ = std::fs::remove_dir_all(&cache);
    }
    println!(
        "\n(ratio: cold with the cache / --no-cache; growth: the offline time's growth / N's)"
    );
    Ok(())
}
