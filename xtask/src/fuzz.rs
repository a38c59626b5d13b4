//! `cargo xtask fuzz [--secs N] [TARGET…]`: seeds each fuzz target's corpus from
//! `fixtures/`, then runs every target in turn for N seconds (default 60) with
//! cargo-fuzz on the nightly toolchain, and prints executions per target. Any crash,
//! hang (10 s per input) or OOM (2 GiB) fails the run; libFuzzer leaves the input in
//! `fuzz/artifacts/TARGET/` for a regression test.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use regpeek_replay::fixture::{Reply, Scenario};

const TARGETS: &[&str] = &[
    "reference",
    "www_authenticate",
    "token_reply",
    "manifest",
    "config",
    "link",
    "dates",
    "credentials",
    "flow",
    "layer",
];

/// Content types in the order the `manifest` target's first byte picks them.
const MANIFEST_TYPES: &[&str] = &[
    "",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
];

pub fn fuzz(args: &[String]) -> Result<()> {
    let mut secs = 60u64;
    let mut only: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--secs" => {
                secs = it
                    .next()
                    .context("--secs N")?
                    .parse()
                    .context("--secs N: a number of seconds")?;
            }
            t if TARGETS.contains(&t) => only.push(t.to_owned()),
            other => bail!("usage: cargo xtask fuzz [--secs N] [TARGET…]; unknown {other:?}"),
        }
    }
    ensure_cargo_fuzz()?;
    let root = crate::project_root();
    let fuzz_dir = root.join("fuzz");
    seed(&root.join("fixtures"), &fuzz_dir.join("corpus"))?;
    let targets: Vec<&str> = if only.is_empty() {
        TARGETS.to_vec()
    } else {
        TARGETS
            .iter()
            .copied()
            .filter(|t| only.iter().any(|o| o == t))
            .collect()
    };
    let mut report = String::new();
    let mut total = 0u64;
    let mut failed = Vec::new();
    for target in &targets {
        eprintln!("xtask: fuzzing {target} for {secs} s");
        let max_len = if matches!(*target, "flow" | "manifest" | "config") {
            "65536"
        } else {
            "4096"
        };
        let out = Command::new("cargo")
            .current_dir(&fuzz_dir)
            // Optimised, with debug assertions: the flow checks every transition
            // against its table (flow/table.rs) only when they are on.
            .args(["+nightly", "fuzz", "run", "-O", "-a", target])
            .arg(fuzz_dir.join("corpus").join(target))
            .args([
                "--",
                &format!("-max_total_time={secs}"),
                "-print_final_stats=1",
                "-rss_limit_mb=2048",
                "-timeout=10",
                &format!("-max_len={max_len}"),
            ])
            .output()
            .with_context(|| format!("running cargo fuzz run {target}"))?;
        // The credentials target writes into a scratch directory of its own, which
        // libFuzzer's exit at the time limit leaves behind: removed here.
        for entry in std::fs::read_dir(std::env::temp_dir())
            .into_iter()
            .flatten()
            .flatten()
        {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with("regpeek-fuzz-")
            {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let execs = stderr
            .lines()
            .find_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0);
        total += execs;
        let status = if out.status.success() { "ok" } else { "FAILED" };
        writeln!(report, "{target:<18} {execs:>12} executions  {status}")?;
        if !out.status.success() {
            // The panic or sanitizer report, then where libFuzzer left the input.
            for line in stderr.lines().filter(|l| {
                l.contains("panicked")
                    || l.contains("ERROR")
                    || l.contains("artifacts/")
                    || l.starts_with("thread '")
            }) {
                eprintln!("  {line}");
            }
            failed.push(*target);
        }
    }
    println!("{report}{:<18} {total:>12} executions", "total");
    if !failed.is_empty() {
        bail!("fuzzing found problems in: {}", failed.join(", "));
    }
    Ok(())
}

fn ensure_cargo_fuzz() -> Result<()> {
    let ok = Command::new("cargo")
        .args(["+nightly", "fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        crate::run(Command::new("cargo").args(["install", "--locked", "cargo-fuzz"]))?;
    }
    Ok(())
}

/// Writes one corpus file named by its content's hash.
fn put(dir: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let name = regpeek_proto::Digest::sha256(bytes).to_string();
    let path = dir.join(name.trim_start_matches("sha256:"));
    if !path.exists() {
        std::fs::write(path, bytes)?;
    }
    Ok(())
}

/// Seeds every target's corpus from the fixtures (and a few hand-written inputs).
fn seed(fixtures: &Path, corpus: &Path) -> Result<()> {
    let c = |t: &str| -> PathBuf { corpus.join(t) };
    for r in [
        "nginx",
        "docker.io/library/nginx:1.25@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "[::1]:5000/a/b:c",
        "localhost:5000/x",
        "Registry.Example:443/Org/x",
        "a/b/c/d:tag",
    ] {
        put(&c("reference"), r.as_bytes())?;
    }
    for creds in [
        r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dXNlcjpwYXNz"}}}"#,
        r#"{"auths":{"localhost:5000":{"username":"u","password":"p"},"quay.io/org":{"identitytoken":"t"}}}"#,
        r#"{"auths":{"https://localhost:5000/v2/":{"registrytoken":"t"}},"credsStore":""}"#,
        r#"{"credHelpers":{"quay.io":""},"auths":{"docker.io":{"auth":"!!"}}}"#,
    ] {
        put(&c("credentials"), creds.as_bytes())?;
    }
    // Layers: the packing byte, a piece size, the blob (the lab's, and zstd's own).
    for (packing, layer) in [
        (1u8, regpeek_lab::image::fs_image().layers[1].bytes.clone()),
        (
            1,
            regpeek_lab::image::estargz_image().layers[0].bytes.clone(),
        ),
        (2, regpeek_lab::image::zstd_image().layers[1].bytes.clone()),
        (
            2,
            include_bytes!("../../crates/regpeek-layer/testdata/frames.tar.zst").to_vec(),
        ),
        (
            0,
            regpeek_lab::image::tar_of(&[regpeek_lab::image::Node::File("etc/x", b"x")]),
        ),
    ] {
        let mut input = vec![packing, 61];
        input.extend(layer);
        put(&c("layer"), &input)?;
    }
    put(&c("dates"), b"2024-01-02T03:04:05.5+02:00")?;
    put(&c("dates"), b"120\nSun, 06 Nov 1994 08:49:37 GMT")?;
    put(
        &c("dates"),
        b"Sun, 06 Nov 1994 08:51:37 GMT\nSun, 06 Nov 1994 08:49:37 GMT",
    )?;
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("exchanges.http").exists())
        .collect();
    dirs.sort();
    for dir in dirs {
        let text = std::fs::read_to_string(dir.join("exchanges.http"))?;
        let s = Scenario::parse(&text).with_context(|| format!("{}", dir.display()))?;
        if let Some(r) = s.get("reference") {
            put(&c("reference"), r.as_bytes())?;
        }
        let mut script: Vec<u8> = vec![0, goal_byte(s.get("goal")), 0, 0, 0, 0, 0, 0xff];
        for (i, ex) in s.exchanges.iter().enumerate() {
            if i > 0 {
                script.extend_from_slice(b"\n<<<");
            }
            match &ex.reply {
                Reply::Failure { kind, .. } => {
                    script.push(b'!');
                    script.push(match kind.as_str() {
                        "tls" => 0,
                        "certificate" => 1,
                        "connect" => 3,
                        "reset" => 4,
                        _ => 8,
                    });
                }
                Reply::Response {
                    status,
                    headers,
                    body,
                } => {
                    script.extend_from_slice(status.to_string().as_bytes());
                    for (k, v) in headers {
                        script.extend_from_slice(format!("\n{k}: {v}").as_bytes());
                    }
                    script.extend_from_slice(b"\n\n");
                    script.extend_from_slice(body);
                    let header = |name: &'static str| {
                        headers
                            .iter()
                            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
                            .map(|(_, v)| v.as_str())
                    };
                    for v in header("www-authenticate") {
                        put(&c("www_authenticate"), v.as_bytes())?;
                    }
                    for v in header("link") {
                        put(&c("link"), v.as_bytes())?;
                    }
                    for v in header("retry-after") {
                        let date = header("date").next().unwrap_or("");
                        put(&c("dates"), format!("{v}\n{date}").as_bytes())?;
                    }
                    let ctype = header("content-type").next().unwrap_or("");
                    let ctype = ctype.split(';').next().unwrap_or("").trim();
                    if let Some(i) = MANIFEST_TYPES.iter().position(|t| *t == ctype) {
                        let mut input = vec![u8::try_from(i).unwrap_or(0)];
                        input.extend_from_slice(body);
                        put(&c("manifest"), &input)?;
                    } else if ex.request.url.contains("/token") {
                        put(&c("token_reply"), body)?;
                    } else if !body.is_empty() {
                        put(&c("config"), body)?;
                    }
                }
            }
        }
        put(&c("flow"), &script)?;
    }
    Ok(())
}

fn goal_byte(goal: Option<&str>) -> u8 {
    match goal.unwrap_or("inspect") {
        "manifest" => 1,
        "digest" => 3,
        "tags" | "catalog" => 5,
        "login" => 6,
        _ => 0,
    }
}
