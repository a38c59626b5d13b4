//! The answers users come for: all platforms and sizes, diff, --jq, referrers.

use super::*;

#[test]
fn platforms_lists_every_platform_with_its_size() {
    let multi = format!("{}/lab/multi:v1", lab().info.plain());
    let rows: Value = serde_json::from_slice(&ok(&["platforms", &multi])).unwrap();
    let rows = rows.as_array().unwrap();
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["Platform"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]);
    for row in rows {
        let p = row["Platform"].as_str().unwrap();
        let digest = String::from_utf8(ok(&["digest", &multi, "--platform", p])).unwrap();
        assert_eq!(row["Digest"].as_str().unwrap(), digest.trim(), "{p}");
        // Size is the config plus the layers, as inspect reports them.
        let insp: Value =
            serde_json::from_slice(&ok(&["inspect", &multi, "--platform", p])).unwrap();
        assert_eq!(row["Size"], insp["Size"], "{p}");
        assert_eq!(
            row["Layers"].as_u64().unwrap() as usize,
            insp["Layers"].as_array().unwrap().len()
        );
        assert!(row["Created"].is_string(), "{row}");
    }
    // The lab's index carries one attestation, for one platform.
    let attested = rows.iter().filter(|r| r["Attestation"] == true).count();
    assert_eq!(attested, 1, "{rows:?}");
    // `inspect --platform all` is the same thing; a table is for people.
    assert_eq!(
        serde_json::from_slice::<Value>(&ok(&["inspect", &multi, "--platform", "all"])).unwrap(),
        Value::Array(rows.clone())
    );
    let table = String::from_utf8(ok(&["platforms", &multi, "-o", "table"])).unwrap();
    assert!(table.starts_with("PLATFORM"), "{table}");
    assert_eq!(table.lines().count(), 4, "{table}");
    // A single-platform image gives one row.
    let rich = format!("{}/lab/rich:v1", lab().info.plain());
    let rows: Value = serde_json::from_slice(&ok(&["platforms", &rich])).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["Platform"], "linux/amd64");
}

#[test]
fn inspect_reports_the_compressed_size_and_the_config_digest() {
    let rich = format!("{}/lab/rich:v1", lab().info.plain());
    let insp: Value = serde_json::from_slice(&ok(&["inspect", &rich])).unwrap();
    let config = ok(&["config", &rich]);
    let layers: u64 = insp["LayersData"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["Size"].as_u64().unwrap())
        .sum();
    assert_eq!(insp["Size"].as_u64().unwrap(), layers + config.len() as u64);
    assert_eq!(
        insp["ConfigDigest"].as_str().unwrap(),
        regpeek_lab::image::sha256(&config)
    );
    let table = String::from_utf8(ok(&["inspect", &rich, "-o", "table"])).unwrap();
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("ConfigDigest") && l.contains("sha256:")),
        "{table}"
    );
}

#[test]
fn diff_compares_two_images_with_diff_exit_codes() {
    let plain = lab().info.plain();
    let rich = format!("{plain}/lab/rich:v1");
    let multi = format!("{plain}/lab/multi:v1");
    // Equal: exit 0.
    let out = regpeek(&["diff", &rich, &format!("{plain}/lab/rich:latest")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["Equal"], true);
    // Different: exit 1, with what changed.
    let out = regpeek(&["diff", &rich, &multi, "--platform", "linux/amd64"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["Equal"], false);
    assert_eq!(d["Platform"], "linux/amd64");
    let added: Vec<&str> = d["Platforms"]["Added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    // rich is linux/amd64 itself, so only the others are new.
    assert_eq!(added, ["linux/arm/v7", "linux/arm64/v8"]);
    assert!(d["Digest"]["A"] != d["Digest"]["B"]);
    let (a, b) = (
        d["Size"]["A"].as_i64().unwrap(),
        d["Size"]["B"].as_i64().unwrap(),
    );
    assert_eq!(d["Size"]["Delta"].as_i64().unwrap(), b - a);
    assert!(
        d["Layers"]["Removed"].as_array().unwrap().len()
            + d["Layers"]["Shared"].as_u64().unwrap() as usize
            > 0
    );
    assert!(d["Env"].is_object() || d["Labels"].is_object(), "{d}");
    // An error: exit 2, as diff(1).
    let out = regpeek(&["diff", &rich, &format!("{plain}/lab/rich:nope")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    // On a terminal: a readable, coloured diff.
    let screen = on_a_terminal(&["diff", &rich, &multi, "--platform", "linux/amd64"], &[]);
    assert!(
        screen.contains("--- ") && screen.contains("+++ "),
        "{screen}"
    );
    assert!(
        screen.contains("\x1b[32m+ platform linux/arm64/v8"),
        "{screen:?}"
    );
    assert!(screen.contains("layers shared"), "{screen}");
    // Changed values of any type, as compact JSON.
    assert!(
        screen.contains(r#"~ cmd ["serve","--port","8080"] → ["/bin/sh"]"#),
        "{screen}"
    );
    assert!(
        screen.contains(r#"~ working dir "/srv/app" → null"#),
        "{screen}"
    );
}

#[test]
fn jq_filters_every_json_output() {
    let plain = lab().info.plain();
    let multi = format!("{plain}/lab/multi:v1");
    let digest = String::from_utf8(ok(&["digest", &multi])).unwrap();
    assert_eq!(
        String::from_utf8(ok(&["inspect", &multi, "--jq", ".Digest"])).unwrap(),
        digest
    );
    // Global flags go anywhere, before the command too.
    assert_eq!(
        String::from_utf8(ok(&["--jq", ".Digest", "inspect", &multi])).unwrap(),
        digest
    );
    assert_eq!(
        String::from_utf8(ok(&[
            "tags",
            &format!("{plain}/lab/many-tags"),
            "--jq",
            ".Tags | length"
        ]))
        .unwrap(),
        "150\n"
    );
    assert_eq!(
        String::from_utf8(ok(&["manifest", &multi, "--jq", ".schemaVersion"])).unwrap(),
        "2\n"
    );
    let platforms = String::from_utf8(ok(&["platforms", &multi, "--jq", ".[].Platform"])).unwrap();
    assert_eq!(platforms.lines().count(), 3, "{platforms}");
    // Nothing listens at `dead`: these are found before any request.
    let dead = format!("{}/x", lab().info.dead());
    for (args, says) in [
        (vec!["inspect", &dead, "--jq", ".["], "does not parse"),
        (
            vec!["inspect", &dead, "--jq", "nosuchfilter"],
            "does not compile",
        ),
        (
            vec![
                "blob",
                &dead,
                &format!("sha256:{}", "a".repeat(64)),
                "--jq",
                ".",
            ],
            "prints none",
        ),
    ] {
        // Usage errors: exit 2.
        let out = regpeek(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr_of(&out).contains(says),
            "{args:?}: {}",
            stderr_of(&out)
        );
    }
}

#[test]
fn command_flags_may_come_before_the_command() {
    let rich = format!("{}/lab/rich:v1", lab().info.plain());
    let out = regpeek(&["-v", "--timeout", "20", "digest", &rich]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("> HEAD "), "{}", stderr_of(&out));
    // The loopback fallback to http is one quiet trace line.
    assert!(
        stderr_of(&out).contains("! TLS handshake failed (the server does not speak TLS)"),
        "{}",
        stderr_of(&out)
    );
    assert!(!stderr_of(&out).contains("corrupt"), "{}", stderr_of(&out));
    // A counted flag repeated (`-vv`) before the command too.
    let out = regpeek(&["-vv", "digest", &rich]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("> HEAD "), "{}", stderr_of(&out));
    // Each command's help lists its own flags only.
    let help = String::from_utf8(ok(&["completions", "--help"])).unwrap();
    assert!(!help.contains("--creds"), "{help}");
    let out = regpeek(&["-v", "completions", "bash"]);
    assert_eq!(out.status.code(), Some(2));
    // `replay` runs a recording: it lists no --record (nor other global flags).
    let help = String::from_utf8(ok(&["replay", "--help"])).unwrap();
    assert!(
        !help.contains("--record <DIR>") && !help.contains("--jq"),
        "{help}"
    );
}

#[test]
fn a_manifest_on_a_terminal_keeps_the_served_key_order() {
    let rich = format!("{}/lab/rich:v1", lab().info.plain());
    let raw = String::from_utf8(ok(&["manifest", &rich])).unwrap();
    let screen = on_a_terminal(&["manifest", &rich], &[]);
    let keys = |text: &str| -> Vec<String> {
        let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    // The terminal copy is coloured; strip the colours and compare key order.
    let plain: String = {
        let mut out = String::new();
        let mut chars = screen.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for d in chars.by_ref() {
                    if d == 'm' {
                        break;
                    }
                }
            } else if c != '\r' {
                out.push(c);
            }
        }
        out
    };
    assert_eq!(keys(&plain), keys(&raw), "{plain}");
    assert!(!keys(&raw).is_empty());
}

#[test]
fn referrers_fall_back_to_the_tag_schema_on_distribution() {
    let plain = lab().info.plain();
    let signed = format!("{plain}/lab/signed:v1");
    // distribution 2.8 has no referrers API (404): the sha256-<hex> tag lists them.
    let rows: Value = serde_json::from_slice(&ok(&["referrers", &signed])).unwrap();
    let rows = rows.as_array().unwrap();
    let types: Vec<&str> = rows
        .iter()
        .map(|r| r["ArtifactType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            regpeek_lab::image::SIGNATURE_TYPE,
            regpeek_lab::image::SBOM_TYPE
        ]
    );
    let seeded = &lab().seeded.signed;
    for (row, artifact) in rows.iter().zip(&seeded.artifacts) {
        assert_eq!(row["Source"], "tag-schema");
        assert_eq!(row["Digest"], artifact.manifest.digest.as_str());
        assert_eq!(row["Size"], artifact.manifest.bytes.len());
        assert_eq!(
            row["Annotations"]["org.opencontainers.image.created"],
            "2026-01-01T00:00:00Z"
        );
    }
    // --artifact-type keeps one kind.
    let rows: Value = serde_json::from_slice(&ok(&[
        "referrers",
        &signed,
        "--artifact-type",
        regpeek_lab::image::SBOM_TYPE,
    ]))
    .unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    // An image nothing refers to: an empty list.
    let rows: Value =
        serde_json::from_slice(&ok(&["referrers", &format!("{plain}/lab/rich:v1")])).unwrap();
    assert_eq!(rows, json!([]));
    let table = String::from_utf8(ok(&["referrers", &signed, "-o", "table"])).unwrap();
    assert!(table.starts_with("ARTIFACT TYPE"), "{table}");
}

#[test]
fn referrers_include_buildkit_attestations_with_their_predicate_types() {
    let multi = format!("{}/lab/multi:v1", lab().info.plain());
    let rows: Value = serde_json::from_slice(&ok(&["referrers", &multi])).unwrap();
    let attestations: Vec<&Value> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["Source"] == "attestation")
        .collect();
    assert_eq!(attestations.len(), 1, "{rows}");
    assert_eq!(
        attestations[0]["PredicateTypes"],
        json!(["https://spdx.dev/Document"])
    );
    // --platform applies: the amd64 image has the attestation, arm64 none.
    let rows: Value =
        serde_json::from_slice(&ok(&["referrers", &multi, "--platform", "linux/amd64"])).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    let rows: Value =
        serde_json::from_slice(&ok(&["referrers", &multi, "--platform", "linux/arm64"])).unwrap();
    assert_eq!(rows, json!([]));
}

#[test]
fn man_pages_and_table_listings() {
    let dir_home = empty_home();
    let dir = dir_home.join("man");
    ok(&["man", dir.to_str().unwrap()]);
    for page in [
        "regpeek.1",
        "regpeek-inspect.1",
        "regpeek-referrers.1",
        "regpeek-diff.1",
    ] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap_or_default();
        assert!(text.contains(".TH"), "{page} is not a man page");
    }
    let main = std::fs::read_to_string(dir.join("regpeek.1")).unwrap();
    assert!(
        main.contains("regpeek \\- Inspect container images"),
        "the NAME line names the program once: {main}"
    );
    for section in [
        ".SH EXAMPLES",
        ".SH EXIT STATUS",
        ".SH OPTIONS",
        ".SH SUBCOMMANDS",
    ] {
        assert!(main.contains(section), "regpeek.1 has no {section}");
    }
    // Rendered by man(1), if it is here, without a warning.
    if let Ok(out) = Command::new("man")
        .args(["--warnings", "-l", "-P", "cat"])
        .arg(dir.join("regpeek.1"))
        .env("MANWIDTH", "100")
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        if out.status.success() {
            assert!(text.contains("EXIT STATUS"), "{text}");
        }
    }
    let repo = format!("{}/lab/many-tags", lab().info.plain());
    let table = String::from_utf8(ok(&["tags", &repo, "-o", "table", "--limit", "3"])).unwrap();
    assert_eq!(
        table.lines().collect::<Vec<_>>(),
        ["TAG", "t000", "t001", "t002"]
    );
}

#[test]
fn login_on_a_terminal_asks_for_the_user_then_the_password() {
    let info = &lab().info;
    // `script` runs login on a pseudo-terminal; the user and password are typed.
    let screen = on_a_terminal(
        &["login", &info.token()],
        &[
            ("Username for ", "lab-user"),
            ("Password for lab-user@", &info.password),
        ],
    );
    assert!(screen.contains("Username for "), "{screen}");
    assert!(screen.contains("Password for lab-user@"), "{screen}");
    assert!(screen.contains("Login succeeded for lab-user"), "{screen}");
    assert!(
        !screen.contains(&info.password),
        "the password was echoed: {screen}"
    );
}

#[test]
fn colour_honours_no_color_and_dumb_terminals() {
    let rich = format!("{}/lab/rich:v1", lab().info.plain());
    let screen = on_a_terminal_env(&["inspect", &rich], &[("TERM", "dumb")]);
    assert!(
        !screen.contains('\x1b'),
        "colour on a dumb terminal: {screen:?}"
    );
    assert!(
        screen.lines().count() > 20,
        "still pretty-printed: {screen}"
    );
    let screen = on_a_terminal_env(&["inspect", &rich], &[("NO_COLOR", "1")]);
    assert!(
        !screen.contains('\x1b'),
        "colour despite NO_COLOR: {screen:?}"
    );
}
