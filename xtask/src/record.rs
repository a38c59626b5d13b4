//! `cargo xtask record` and `record-lab`: the only way recorded fixtures are made.

use std::path::Path;

use anyhow::{Context, Result, bail};
use regpeek_lab::Lab;
use regpeek_lab::image::{MULTI, RICH};
use regpeek_lab::replay::{record, replay};
use regpeek_ureq::{Client, ClientOptions};

/// Records, checks the recording replays, and writes `DIR/exchanges.http`.
fn record_to(out: &Path, settings: Vec<(String, String)>) -> Result<()> {
    let client = Client::new(&ClientOptions::default())?;
    let scenario = record(&client, settings)?;
    replay(&scenario)
        .with_context(|| format!("{}: the recording does not replay", out.display()))?;
    let text = scenario.render()?;
    // Belt and braces: nothing that looks like a credential may reach the file.
    for needle in ["Basic ", "Bearer "] {
        for line in text.lines().filter(|l| l.contains(needle)) {
            if !line.contains("<redacted>") && !line.contains("<scrubbed-token-") {
                bail!("refusing to write an unscrubbed credential line: {line:?}");
            }
        }
    }
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("exchanges.http"), text)?;
    eprintln!("xtask: wrote {}", out.join("exchanges.http").display());
    Ok(())
}

pub fn record_cli(args: &[String]) -> Result<()> {
    let mut reference = None;
    let mut out = None;
    let mut settings: Vec<(String, String)> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| -> Result<String> {
            it.next()
                .cloned()
                .with_context(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--out" => out = Some(value("--out")?),
            "--goal" => settings.push(("goal".into(), value("--goal")?)),
            "--platform" => settings.push(("platform".into(), value("--platform")?)),
            "--creds" => settings.push(("credentials".into(), value("--creds")?)),
            "--security" => settings.push(("security".into(), value("--security")?)),
            "--description" => settings.push(("description".into(), value("--description")?)),
            s if s.starts_with('-') => bail!("unknown flag {s}"),
            s => reference = Some(s.to_owned()),
        }
    }
    let reference = reference.context("usage: cargo xtask record REF --out DIR [...]")?;
    let out = out.context("--out DIR is required")?;
    settings.insert(0, ("reference".into(), reference));
    settings.push(("source".into(), "recorded by `cargo xtask record`".into()));
    record_to(Path::new(&out), settings)
}

/// The first of the fixed loopback ports the lab uses while recording.
const RECORD_PORTS: u16 = 48550;

/// The standard lab scenarios: (directory, description, settings).
pub fn record_lab() -> Result<()> {
    regpeek_lab::ensure_packages()?;
    // Fixed ports keep re-recordings from churning every URL in the fixtures.
    let dir = regpeek_lab::scratch_dir("record")?;
    let lab = Lab::start_in(&dir, regpeek_lab::Ports::fixed(RECORD_PORTS), regpeek_lab::Keep::Owned, None)?;
    lab.seed()?;
    let plain = lab.info.plain();
    let h = &plain;
    let rich = format!("{h}/{}:{}", RICH.0, RICH.1);
    let multi = format!("{h}/{}:{}", MULTI.0, MULTI.1);
    let multi_digest = format!("{h}/{}@{}", MULTI.0, lab.seeded.multi.index.digest);
    let source = "recorded by `cargo xtask record-lab` from CNCF distribution (Debian docker-registry), no auth";
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, String)>);
    let cases: Vec<Case> = vec![
        (
            "lab-v2s2-single-arch",
            "Docker v2 schema 2 single-arch image, no auth, plain http",
            vec![
                ("reference", rich.clone()),
                ("goal", "inspect".into()),
                ("security", "http".into()),
            ],
        ),
        (
            "lab-https-fallback",
            "loopback registry: https fails the TLS handshake, the flow falls back to http",
            vec![
                ("reference", rich.clone()),
                ("goal", "digest".into()),
                ("security", "https-then-http".into()),
            ],
        ),
        (
            "lab-oci-index-attestation",
            "OCI index with an attestation entry; linux/amd64 chosen, attestation never",
            vec![
                ("reference", multi.clone()),
                ("goal", "inspect".into()),
                ("security", "http".into()),
            ],
        ),
        (
            "lab-oci-index-arm-v7",
            "OCI index, --platform linux/arm/v7",
            vec![
                ("reference", multi.clone()),
                ("goal", "inspect".into()),
                ("platform", "linux/arm/v7".into()),
                ("security", "http".into()),
            ],
        ),
        (
            "lab-oci-index-arm64-fallback",
            "OCI index, --platform linux/arm64/v8.2 falls back to linux/arm64/v8",
            vec![
                ("reference", multi.clone()),
                ("goal", "manifest".into()),
                ("platform", "linux/arm64/v8.2".into()),
                ("security", "http".into()),
            ],
        ),
        (
            "lab-no-platform-match",
            "OCI index without the wanted platform: the error lists what it offers",
            vec![
                ("reference", multi.clone()),
                ("goal", "inspect".into()),
                ("platform", "linux/s390x".into()),
                ("security", "http".into()),
            ],
        ),
        (
            "lab-pinned-digest",
            "reference pinned by digest: the index bytes are verified against it",
            vec![
                ("reference", multi_digest),
                ("goal", "manifest".into()),
                ("security", "http".into()),
            ],
        ),
        (
            "lab-digest-head",
            "digest by HEAD only (no body, not a Docker Hub pull)",
            vec![
                ("reference", multi.clone()),
                ("goal", "digest".into()),
                ("security", "http".into()),
            ],
        ),
        (
            "lab-digest-platform",
            "digest with --platform: GET the index, report the platform's manifest digest",
            vec![
                ("reference", multi.clone()),
                ("goal", "digest".into()),
                ("platform", "linux/arm64".into()),
                ("security", "http".into()),
            ],
        ),
        (
            "lab-unknown-tag",
            "unknown tag: MANIFEST_UNKNOWN from the registry",
            vec![
                ("reference", format!("{h}/{}:nope", RICH.0)),
                ("goal", "inspect".into()),
                ("security", "http".into()),
            ],
        ),
        (
            "lab-unknown-repo",
            "unknown repository with the default tag",
            vec![
                ("reference", format!("{h}/lab/missing")),
                ("goal", "inspect".into()),
                ("security", "http".into()),
            ],
        ),
    ];
    for (dir, description, settings) in cases {
        let mut s: Vec<(String, String)> = settings
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        s.push(("description".into(), description.into()));
        s.push(("source".into(), source.into()));
        record_to(&Path::new("fixtures").join(dir), s)?;
    }
    Ok(())
}
