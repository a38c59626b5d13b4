//! `cargo xtask record` and `record-lab`: the only way recorded fixtures are made.

use std::path::Path;

use anyhow::{Context, Result, bail};
use regpeek_lab::image::{MULTI, RICH};
use regpeek_lab::record::record;
use regpeek_lab::{Keep, Lab, Ports};
use regpeek_replay::replay;
use regpeek_ureq::{Client, ClientOptions};

/// Records, checks that the recording replays, and writes `DIR/exchanges.http`.
fn record_to(client: &Client, out: &Path, settings: Vec<(String, String)>) -> Result<()> {
    let scenario = record(client, settings)?;
    replay(&scenario)
        .with_context(|| format!("{}: the recording does not replay", out.display()))?;
    let text = scenario.render()?;
    // Belt and braces: nothing that looks like a credential may reach the file.
    for line in text.lines() {
        let credential = line.to_ascii_lowercase().starts_with("authorization:")
            || line.contains("\"token\":")
            || line.contains("\"access_token\":");
        let scrubbed = line.contains("<redacted>") || line.contains("<scrubbed-token-");
        if (credential && !scrubbed) || line.contains("lab-pw-") {
            bail!("refusing to write an unscrubbed credential line: {line:?}");
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
    let mut ca = None;
    let mut registry = None;
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
            "--registry" => registry = Some(value("--registry")?),
            "--ca-file" => ca = Some(value("--ca-file")?),
            "--goal" => settings.push(("goal".into(), value("--goal")?)),
            "--platform" => settings.push(("platform".into(), value("--platform")?)),
            "--creds" => settings.push(("credentials".into(), value("--creds")?)),
            "--security" => settings.push(("security".into(), value("--security")?)),
            "--limit" => settings.push(("limit".into(), value("--limit")?)),
            "--page-size" => settings.push(("page-size".into(), value("--page-size")?)),
            "--description" => settings.push(("description".into(), value("--description")?)),
            s if s.starts_with('-') => bail!("unknown flag {s}"),
            s => reference = Some(s.to_owned()),
        }
    }
    let mut reference = reference.context("usage: cargo xtask record REF --out DIR [...]")?;
    let out = out.context("--out DIR is required")?;
    if let Some(name) = registry {
        // REF is a path on one of the registries of the lab that `cargo xtask lab up` runs.
        let state = crate::project_root().join(".lab/lab.json");
        let info =
            regpeek_lab::LabInfo::load(&state).context("no lab is up: run `cargo xtask lab up`")?;
        let (host, security) = match name.as_str() {
            "open" | "plain" => (info.plain(), "http"),
            "token" => (info.token(), "http"),
            "basic" => (info.basic(), "https"),
            "issuer-down" => (info.issuer_down(), "http"),
            other => bail!("unknown lab registry {other:?} (open, token, basic, issuer-down)"),
        };
        reference = format!("{host}/{reference}");
        if !settings.iter().any(|(k, _)| k == "security") {
            settings.push(("security".into(), security.into()));
        }
        ca.get_or_insert(info.ca_file().display().to_string());
    }
    settings.insert(0, ("reference".into(), reference));
    settings.push(("source".into(), "recorded by `cargo xtask record`".into()));
    let ca_pem = ca
        .map(|p| -> Result<_> { Ok((p.clone(), std::fs::read(&p)?)) })
        .transpose()?;
    let client = Client::new(&ClientOptions {
        tls: regpeek_ureq::TlsOptions {
            extra_roots: ca_pem.into_iter().collect(),
            ..Default::default()
        },
        ..ClientOptions::default()
    })?;
    record_to(&client, Path::new(&out), settings)
}

/// The first of the fixed loopback ports the lab uses while recording.
const RECORD_PORTS: u16 = 48550;

/// Starts the lab on fixed ports and records every standard scenario into `fixtures/lab-*`.
pub fn record_lab() -> Result<()> {
    regpeek_lab::ensure_packages()?;
    // Fixed ports keep re-recordings from churning every URL in the fixtures.
    let dir = regpeek_lab::scratch_dir("record")?;
    let lab = Lab::start_in(&dir, Ports::fixed(RECORD_PORTS), Keep::Owned, None)?;
    lab.seed()?;
    let i = &lab.info;
    let ca = std::fs::read(i.ca_file())?;
    let client = Client::new(&ClientOptions {
        tls: regpeek_ureq::TlsOptions {
            extra_roots: vec![(i.ca_file().display().to_string(), ca)],
            ..Default::default()
        },
        ..ClientOptions::default()
    })?;
    let (p, t, b) = (i.plain(), i.token(), i.basic());
    let rich = format!("{p}/{}:{}", RICH.0, RICH.1);
    let multi = format!("{p}/{}:{}", MULTI.0, MULTI.1);
    let multi_digest = format!("{p}/{}@{}", MULTI.0, lab.seeded.multi.index.digest);
    let creds = i.creds();
    let wrong = format!("{}:not-the-password", regpeek_lab::token::USER);
    let expired = format!("{}:{}", regpeek_lab::token::EXPIRED_USER, i.password);

    let open = "recorded by `cargo xtask record-lab` from CNCF distribution (Debian docker-registry) behind the lab's nginx front, no auth";
    let token = "recorded by `cargo xtask record-lab` from CNCF distribution with token auth (the lab's ES256 issuer) behind the lab's nginx front";
    let basic = "recorded by `cargo xtask record-lab` from CNCF distribution with htpasswd Basic auth over TLS (lab CA)";
    let down = "recorded by `cargo xtask record-lab` from CNCF distribution with token auth whose issuer is down";
    type Case<'a> = (&'a str, &'a str, &'a str, Vec<(&'a str, String)>);
    let http = || ("security", "http".to_owned());
    let cases: Vec<Case> = vec![
        (
            "lab-v2s2-single-arch",
            open,
            "Docker v2 schema 2 single-arch image; the config blob is redirected to the CDN host",
            vec![
                ("reference", rich.clone()),
                ("goal", "inspect".into()),
                http(),
            ],
        ),
        (
            "lab-https-fallback",
            open,
            "loopback registry: https fails the TLS handshake, the flow falls back to http",
            vec![
                ("reference", rich.clone()),
                ("goal", "digest".into()),
                ("security", "https-then-http".into()),
            ],
        ),
        (
            "lab-oci-index-attestation",
            open,
            "OCI index with an attestation entry; linux/amd64 chosen, attestation never",
            vec![
                ("reference", multi.clone()),
                ("goal", "inspect".into()),
                http(),
            ],
        ),
        (
            "lab-oci-index-arm-v7",
            open,
            "OCI index, --platform linux/arm/v7",
            vec![
                ("reference", multi.clone()),
                ("goal", "inspect".into()),
                ("platform", "linux/arm/v7".into()),
                http(),
            ],
        ),
        (
            "lab-oci-index-arm64-fallback",
            open,
            "OCI index, --platform linux/arm64/v8.2 falls back to linux/arm64/v8",
            vec![
                ("reference", multi.clone()),
                ("goal", "manifest".into()),
                ("platform", "linux/arm64/v8.2".into()),
                http(),
            ],
        ),
        (
            "lab-no-platform-match",
            open,
            "OCI index without the wanted platform: the error lists what it offers",
            vec![
                ("reference", multi.clone()),
                ("goal", "inspect".into()),
                ("platform", "linux/s390x".into()),
                http(),
            ],
        ),
        (
            "lab-pinned-digest",
            open,
            "reference pinned by digest: the index bytes are verified against it",
            vec![
                ("reference", multi_digest),
                ("goal", "manifest".into()),
                http(),
            ],
        ),
        (
            "lab-digest-head",
            open,
            "digest by HEAD only (no body, not a Docker Hub pull)",
            vec![
                ("reference", multi.clone()),
                ("goal", "digest".into()),
                http(),
            ],
        ),
        (
            "lab-digest-platform",
            open,
            "digest with --platform: GET the index, report the platform's manifest digest",
            vec![
                ("reference", multi.clone()),
                ("goal", "digest".into()),
                ("platform", "linux/arm64".into()),
                http(),
            ],
        ),
        (
            "lab-many-layers",
            open,
            "an image with 40 layers",
            vec![
                ("reference", format!("{p}/lab/many-layers:v1")),
                ("goal", "inspect".into()),
                http(),
            ],
        ),
        (
            "lab-unknown-tag",
            open,
            "unknown tag: MANIFEST_UNKNOWN from the registry",
            vec![
                ("reference", format!("{p}/{}:nope", RICH.0)),
                ("goal", "inspect".into()),
                http(),
            ],
        ),
        (
            "lab-unknown-repo",
            open,
            "unknown repository with the default tag",
            vec![
                ("reference", format!("{p}/lab/missing")),
                ("goal", "inspect".into()),
                http(),
            ],
        ),
        (
            "lab-referrers-tag-schema",
            open,
            "referrers on distribution 2.8: the referrers API answers 404, so the sha256-<hex> fallback tag lists them",
            vec![
                ("reference", format!("{p}/lab/signed:v1")),
                ("goal", "referrers".into()),
                http(),
            ],
        ),
        (
            "lab-referrers-attestations",
            open,
            "referrers of an index: no API, no fallback tag, and the BuildKit attestation manifest read for its predicate type",
            vec![
                ("reference", format!("{p}/lab/multi:v1")),
                ("goal", "referrers".into()),
                http(),
            ],
        ),
        (
            "lab-tags-pages",
            open,
            "150 tags in pages of 40: Link headers alternate relative and absolute",
            vec![
                ("reference", format!("{p}/lab/many-tags")),
                ("goal", "tags".into()),
                ("page-size", "40".into()),
                http(),
            ],
        ),
        (
            "lab-tags-default-pages",
            open,
            "tags without n: the server's default page size (50) still paginates",
            vec![
                ("reference", format!("{p}/lab/many-tags")),
                ("goal", "tags".into()),
                http(),
            ],
        ),
        (
            "lab-tags-limit",
            open,
            "--limit 45 with pages of 40 stops in the second page",
            vec![
                ("reference", format!("{p}/lab/many-tags")),
                ("goal", "tags".into()),
                ("limit", "45".into()),
                ("page-size", "40".into()),
                http(),
            ],
        ),
        (
            "lab-catalog",
            open,
            "catalog of the open registry",
            vec![("reference", p.clone()), ("goal", "catalog".into()), http()],
        ),
        (
            "lab-token-anonymous-public",
            token,
            "token auth: anonymous token for public/*; config redirected to the CDN without the token",
            vec![
                ("reference", format!("{t}/public/multi:v1")),
                ("goal", "inspect".into()),
                http(),
            ],
        ),
        (
            "lab-token-private-denied",
            token,
            "token auth: anonymous access to private/* is denied after one token",
            vec![
                ("reference", format!("{t}/private/rich:v1")),
                ("goal", "inspect".into()),
                http(),
            ],
        ),
        (
            "lab-token-private-credentials",
            token,
            "token auth with credentials: Basic to the realm only, bearer to the registry",
            vec![
                ("reference", format!("{t}/private/rich:v1")),
                ("goal", "inspect".into()),
                ("credentials", creds.clone()),
                http(),
            ],
        ),
        (
            "lab-token-wrong-password",
            token,
            "token auth: the issuer refuses a wrong password",
            vec![
                ("reference", format!("{t}/private/rich:v1")),
                ("goal", "inspect".into()),
                ("credentials", wrong.clone()),
                http(),
            ],
        ),
        (
            "lab-token-expired",
            token,
            "token auth: the issuer hands out an expired token; the registry says invalid_token",
            vec![
                ("reference", format!("{t}/private/rich:v1")),
                ("goal", "digest".into()),
                ("credentials", expired),
                http(),
            ],
        ),
        (
            "lab-token-tags",
            token,
            "token auth: tags of a public repository, paginated",
            vec![
                ("reference", format!("{t}/public/many-tags")),
                ("goal", "tags".into()),
                ("page-size", "100".into()),
                http(),
            ],
        ),
        (
            "lab-token-identity-token",
            token,
            "token auth with an identity token: the OAuth2 POST flow (grant_type=refresh_token)",
            vec![
                ("reference", format!("{t}/private/rich:v1")),
                ("goal", "digest".into()),
                ("identity-token", format!("lab-user:{}", i.identity_token())),
                http(),
            ],
        ),
        (
            "lab-login-token",
            token,
            "login check on the token registry: GET /v2/, a token without scope",
            vec![
                ("reference", format!("{t}/x")),
                ("goal", "login".into()),
                ("credentials", creds.clone()),
                http(),
            ],
        ),
        (
            "lab-login-basic",
            basic,
            "login check on the Basic registry",
            vec![
                ("reference", format!("{b}/x")),
                ("goal", "login".into()),
                ("credentials", creds.clone()),
                ("security", "https".into()),
            ],
        ),
        (
            "lab-token-catalog",
            token,
            "token auth: catalog with the registry:catalog:* scope",
            vec![
                ("reference", t.clone()),
                ("goal", "catalog".into()),
                ("credentials", creds.clone()),
                http(),
            ],
        ),
        (
            "lab-basic-tls",
            basic,
            "Basic auth over TLS: credentials on every request to the registry, none to the CDN",
            vec![
                ("reference", format!("{b}/lab/multi:v1")),
                ("goal", "inspect".into()),
                ("credentials", creds.clone()),
                ("security", "https".into()),
            ],
        ),
        (
            "lab-basic-no-credentials",
            basic,
            "Basic auth over TLS without credentials",
            vec![
                ("reference", format!("{b}/lab/rich:v1")),
                ("goal", "inspect".into()),
                ("security", "https".into()),
            ],
        ),
        (
            "lab-basic-wrong-password",
            basic,
            "Basic auth over TLS with a wrong password",
            vec![
                ("reference", format!("{b}/lab/rich:v1")),
                ("goal", "inspect".into()),
                ("credentials", wrong),
                ("security", "https".into()),
            ],
        ),
        (
            "lab-issuer-down",
            down,
            "token registry whose issuer is down",
            vec![
                ("reference", format!("{}/public/rich:v1", i.issuer_down())),
                ("goal", "inspect".into()),
                http(),
            ],
        ),
    ];
    for (dir, source, description, settings) in cases {
        let mut s: Vec<(String, String)> = settings
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        s.push(("description".into(), description.into()));
        s.push(("source".into(), source.into()));
        record_to(&client, &Path::new("fixtures").join(dir), s)?;
    }
    Ok(())
}
