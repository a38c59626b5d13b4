//! `cargo xtask bench`: regpeek against skopeo on the same lab images, in the same run.
//!
//! skopeo runs with `--no-tags`, so both do the same requests, and both find out by
//! trying https that the loopback registries speak plain http.
//! Wall time (median of N runs) and peak memory (max RSS from GNU time) for each
//! scenario, printed as ratios. Numbers, not assertions: targets are judged here, never
//! in tests.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use regpeek_lab::Lab;

const RUNS: usize = 15;

struct Sample {
    median_ms: f64,
    max_rss_kib: u64,
}

fn measure(program: &Path, args: &[String]) -> Result<Sample> {
    let mut times = Vec::with_capacity(RUNS);
    let mut rss = 0u64;
    for _ in 0..RUNS {
        let start = Instant::now();
        let out = Command::new("/usr/bin/time")
            .args(["-f", "%M"])
            .arg(program)
            .args(args)
            .env_remove("HTTPS_PROXY")
            .env_remove("HTTP_PROXY")
            .output()
            .with_context(|| format!("running {}", program.display()))?;
        let elapsed = start.elapsed();
        if !out.status.success() {
            bail!(
                "{} {:?} failed: {}",
                program.display(),
                args,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let kib: u64 = stderr
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .context("GNU time printed no max RSS")?;
        rss = rss.max(kib);
        times.push(elapsed.as_secs_f64() * 1000.0);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok(Sample {
        median_ms: times[RUNS / 2],
        max_rss_kib: rss,
    })
}

pub fn bench() -> Result<()> {
    regpeek_lab::ensure_packages()?;
    if !Path::new("/usr/bin/time").exists() {
        bail!("GNU time is missing: apt-get install time");
    }
    crate::run(crate::cargo().args(["build", "--quiet", "--release", "-p", "regpeek-cli"]))?;
    let regpeek = crate::project_root().join("target/release/regpeek");
    let skopeo = Path::new("/usr/bin/skopeo");
    let lab = Lab::start()?;
    let i = &lab.info;
    let creds = i.creds();
    type Case = (&'static str, Vec<String>, Vec<String>);
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    let cases: Vec<Case> = vec![
        (
            "inspect, open registry, single-arch",
            s(&["inspect", &format!("{}/lab/rich:v1", i.plain())]),
            s(&[
                "inspect",
                "--tls-verify=false",
                &format!("docker://{}/lab/rich:v1", i.plain()),
            ]),
        ),
        (
            "inspect, open registry, multi-arch index",
            s(&[
                "inspect",
                &format!("{}/lab/multi:v1", i.plain()),
                "--platform",
                "linux/arm64",
            ]),
            s(&[
                "--override-arch",
                "arm64",
                "inspect",
                "--tls-verify=false",
                &format!("docker://{}/lab/multi:v1", i.plain()),
            ]),
        ),
        (
            "inspect, token auth, with credentials",
            s(&[
                "inspect",
                &format!("{}/private/rich:v1", i.token()),
                "--creds",
                &creds,
            ]),
            s(&[
                "inspect",
                "--tls-verify=false",
                "--creds",
                &creds,
                &format!("docker://{}/private/rich:v1", i.token()),
            ]),
        ),
        (
            "raw manifest",
            s(&["manifest", &format!("{}/lab/multi:v1", i.plain())]),
            s(&[
                "inspect",
                "--raw",
                "--tls-verify=false",
                &format!("docker://{}/lab/multi:v1", i.plain()),
            ]),
        ),
        (
            "tags, 150 tags in pages",
            s(&["tags", &format!("{}/lab/many-tags", i.plain())]),
            s(&[
                "list-tags",
                "--tls-verify=false",
                &format!("docker://{}/lab/many-tags", i.plain()),
            ]),
        ),
    ];
    println!(
        "{RUNS} runs each, median wall time and max RSS; ratio = regpeek / skopeo (lower is better)\n"
    );
    println!(
        "{:<42} {:>12} {:>12} {:>7}   {:>10} {:>10} {:>7}",
        "scenario", "regpeek ms", "skopeo ms", "ratio", "regpeek KiB", "skopeo KiB", "ratio"
    );
    for (name, ours, theirs) in cases {
        let a = measure(&regpeek, &ours)?;
        let b = measure(skopeo, &theirs)?;
        println!(
            "{:<42} {:>12.1} {:>12.1} {:>7.2}   {:>10} {:>10} {:>7.2}",
            name,
            a.median_ms,
            b.median_ms,
            a.median_ms / b.median_ms,
            a.max_rss_kib,
            b.max_rss_kib,
            a.max_rss_kib as f64 / b.max_rss_kib as f64
        );
    }
    Ok(())
}
