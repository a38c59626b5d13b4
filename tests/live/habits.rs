//! Habits of skopeo, crane and docker users; clear errors; the terminal.

use super::*;

#[test]
fn skopeo_command_lines_keep_working() {
    let info = &lab().info;
    let multi = format!("{}/lab/multi:v1", info.plain());
    let docker = format!("docker://{multi}");
    // docker:// is skopeo's transport prefix; --no-tags is accepted.
    let with: Value = serde_json::from_slice(&ok(&["inspect", &docker, "--no-tags"])).unwrap();
    let plain: Value = serde_json::from_slice(&ok(&["inspect", &multi])).unwrap();
    assert_eq!(with["Digest"], plain["Digest"]);
    // --raw and --config print the manifest and config bytes, as skopeo inspect does.
    assert_eq!(ok(&["inspect", &multi, "--raw"]), ok(&["manifest", &multi]));
    assert_eq!(
        ok(&["inspect", &multi, "--config"]),
        ok(&["config", &multi])
    );
    // --override-os/--override-arch stand for --platform.
    assert_eq!(
        ok(&[
            "digest",
            &multi,
            "--override-os",
            "linux",
            "--override-arch",
            "arm64"
        ]),
        ok(&["digest", &multi, "--platform", "linux/arm64"])
    );
    // --tls-verify=false is --insecure: the TLS registry without its CA.
    let out = regpeek(&[
        "inspect",
        &b("lab/rich:v1"),
        "--creds",
        &creds(),
        "--tls-verify=false",
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("verification is OFF"),
        "{}",
        stderr_of(&out)
    );
    // Said once per host, however many flows the command runs there (two tag lists).
    let out = regpeek(&[
        "outdated",
        &b("lab/rich:v1"),
        &b("lab/multi:v1"),
        "--creds",
        &creds(),
        "--tls-verify=false",
    ]);
    assert_eq!(
        stderr_of(&out).matches("verification is OFF").count(),
        1,
        "{}",
        stderr_of(&out)
    );
    // Other skopeo transports are refused clearly (oci: layouts are read).
    let out = regpeek(&["inspect", "docker-daemon:nginx:latest"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("a skopeo transport regpeek does not read yet"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn a_platform_that_a_single_image_does_not_have_is_warned_about() {
    let rich = format!("{}/lab/rich:v1", lab().info.plain());
    let out = regpeek(&["inspect", &rich, "--platform", "linux/arm64"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("does not match the requested platform (linux/arm64"),
        "{}",
        stderr_of(&out)
    );
    let out = regpeek(&["inspect", &rich, "--platform", "linux/amd64"]);
    assert!(
        !stderr_of(&out).contains("does not match"),
        "{}",
        stderr_of(&out)
    );
    // `--platform all` on a single-arch image: its one platform, no warning.
    let out = regpeek(&["inspect", &rich, "--platform", "all"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
    assert_eq!(rows[0]["Platform"], "linux/amd64");
    assert_eq!(
        rows[0]["Digest"],
        lab().seeded.rich.manifest.digest.as_str()
    );
    assert!(!stderr_of(&out).contains("does not match"));
    // `manifest` shows one manifest: naming every platform is a usage error.
    let out = regpeek(&["manifest", &rich, "--platform", "all"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("--platform all"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn completions_version_and_usage_errors() {
    let bash = String::from_utf8(ok(&["completions", "bash"])).unwrap();
    assert!(
        bash.contains("_regpeek") && bash.contains("inspect"),
        "{bash}"
    );
    assert!(!ok(&["completions", "zsh"]).is_empty());
    let short = String::from_utf8(ok(&["-V"])).unwrap();
    assert!(
        short.starts_with("regpeek 0.") && short.contains("(commit "),
        "{short}"
    );
    // --version: the commit, whether the tree had changes, rustc and the TLS stack;
    // `version -o json` the same.
    let long = String::from_utf8(ok(&["--version"])).unwrap();
    let json_version = json(&ok(&["version", "-o", "json"]));
    for (key, line) in [
        ("Commit", "commit: "),
        ("Rustc", "rustc: "),
        ("Tls", "tls: "),
    ] {
        let value = json_version[key].as_str().unwrap();
        assert!(
            long.contains(&format!("{line}{value}")),
            "{long} {json_version}"
        );
    }
    assert!(
        json_version["Rustc"]
            .as_str()
            .unwrap()
            .starts_with("rustc 1.")
    );
    assert!(json_version["Dirty"].is_boolean(), "{json_version}");
    assert!(json_version["Commit"].as_str().unwrap().len() >= 7);
    // Usage errors: `regpeek: error:` like every other error, exit 2.
    for args in [
        &["inspect"][..],
        &["tags", "localhost:5000/x", "--limit", "0"],
        &["inspect", "x", "--timeout", "soon"],
        &["nonsense"],
        // Found after parsing, still usage errors, before any request.
        &["inspect", "127.0.0.1:9/x", "-o", "table", "--jq", "."],
        &["tags", "127.0.0.1:9/x", "-o", "table", "--jq", "."],
        &["inspect", "127.0.0.1:9/x", "--offline", "--no-cache"],
    ] {
        let out = regpeek(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
        assert!(
            stderr_of(&out).starts_with("regpeek: error: "),
            "{}",
            stderr_of(&out)
        );
    }
}

#[test]
fn bad_arguments_get_clear_errors() {
    for (args, says) in [
        (
            &["inspect", "localhost:5000/x", "--creds", ""][..],
            "empty user name",
        ),
        (&["auth", "show", ""], "no registry given"),
        (&["catalog", "localhost:5000/lab/rich"], "not a repository"),
        (
            &["tags", "localhost:5000/x", "--filter", "("],
            "not a valid regular expression: unclosed group",
        ),
        (
            &["digest", "localhost:5000/x", "--platform", "linux/arm/v7/x"],
            "invalid platform",
        ),
    ] {
        // Usage errors, found before any request: exit 2, as clap's own.
        let out = regpeek(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
        assert!(
            stderr_of(&out).contains(says),
            "{args:?}: {}",
            stderr_of(&out)
        );
    }
}

#[test]
fn tags_can_be_filtered_and_sorted() {
    let repo = format!("{}/lab/many-tags", lab().info.plain());
    let out = String::from_utf8(ok(&[
        "tags", &repo, "--filter", "^t14", "--sort", "lexical",
    ]))
    .unwrap();
    let tags: Vec<&str> = out.lines().collect();
    let want: Vec<String> = (140..150).map(|i| format!("t{i}")).collect();
    assert_eq!(tags, want);
    // --limit applies to what --filter and --sort leave (it stopped the listing at
    // the registry's first three tags, which the filter then emptied).
    let out = regpeek(&[
        "tags", &repo, "--filter", "^t14", "--sort", "semver", "--limit", "3",
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(lines(&out.stdout), ["t140", "t141", "t142"]);
    assert!(
        stderr_of(&out).contains("stopped after --limit 3"),
        "{}",
        stderr_of(&out)
    );
    // Without --filter or --sort, --limit still stops paging early.
    let out = regpeek(&["-v", "tags", &repo, "--limit", "2", "--page-size", "2"]);
    assert_eq!(lines(&out.stdout).len(), 2);
    assert_eq!(
        stderr_of(&out).matches("> GET").count(),
        2,
        "one page (after the https probe)"
    );
}

#[test]
fn full_references_as_crane_prints_them() {
    let plain = lab().info.plain();
    let repo = format!("{plain}/lab/many-tags");
    assert_eq!(
        lines(&ok(&["tags", &repo, "--limit", "2", "--full-ref"])),
        [format!("{repo}:t000"), format!("{repo}:t001")]
    );
    let repos = lines(&ok(&["catalog", &plain, "--full-ref"]));
    assert!(repos.contains(&format!("{plain}/lab/rich")), "{repos:?}");
    let rich = format!("{plain}/lab/rich:v1");
    let pinned = String::from_utf8(ok(&["digest", &rich, "--full-ref"])).unwrap();
    let digest = String::from_utf8(ok(&["digest", &rich])).unwrap();
    // The tag kept, as `pin` writes it; --omit-tag gives crane's form.
    assert_eq!(
        pinned.trim(),
        format!("{plain}/lab/rich:v1@{}", digest.trim())
    );
    let bare = String::from_utf8(ok(&["digest", &rich, "--full-ref", "--omit-tag"])).unwrap();
    assert_eq!(bare.trim(), format!("{plain}/lab/rich@{}", digest.trim()));
    assert_eq!(
        regpeek(&["digest", &rich, "--omit-tag"]).status.code(),
        Some(2)
    );
    // Each pinned reference works as a reference.
    for p in [&pinned, &bare] {
        assert_eq!(
            String::from_utf8(ok(&["digest", p.trim()])).unwrap(),
            digest
        );
    }
    // --jq reads a digest's fields, for one reference as for several.
    let one = String::from_utf8(ok(&["digest", &rich, "--full-ref", "--jq", ".FullRef"])).unwrap();
    assert_eq!(one, pinned);
    let multi = format!("{plain}/lab/multi:v1");
    let two = String::from_utf8(ok(&["digest", &rich, &multi, "--jq", ".Digest"])).unwrap();
    assert_eq!(two.lines().next(), Some(digest.trim()));
    assert_eq!(two.lines().count(), 2);
}

#[test]
fn tags_can_leave_out_the_referrer_tags() {
    let signed = format!("{}/lab/signed", lab().info.plain());
    let all = lines(&ok(&["tags", &signed]));
    assert!(all.iter().any(|t| t.starts_with("sha256-")), "{all:?}");
    let kept = lines(&ok(&["tags", &signed, "--omit-digest-tags"]));
    assert!(!kept.is_empty());
    assert!(kept.iter().all(|t| !t.starts_with("sha256-")), "{kept:?}");
    assert_eq!(kept.len() + 1, all.len());
    let out = regpeek(&["catalog", &lab().info.plain(), "--omit-digest-tags"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
}

#[test]
fn the_digest_of_an_unknown_tag_names_the_registry_error() {
    let out = regpeek(&["digest", &format!("{}/lab/rich:nope", lab().info.plain())]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("MANIFEST_UNKNOWN"),
        "{}",
        stderr_of(&out)
    );
    assert!(
        stderr_of(&out).contains("hint: check the repository name and tag"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn login_and_logout_use_the_auth_file_the_next_command_reads() {
    let info = &lab().info;
    let home = empty_home();
    let authfile = home.join("auth.json");
    let env = [
        ("HOME", home.to_str().unwrap()),
        ("REGISTRY_AUTH_FILE", authfile.to_str().unwrap()),
    ];
    let out = ok_in(
        &[
            "login",
            &info.token(),
            "--username",
            "lab-user",
            "--password-stdin",
        ],
        &env,
        Some(&info.password),
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(authfile.to_str().unwrap()),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!home.join(".docker/config.json").exists());
    // The next command finds them there.
    ok_in(&["inspect", &t("private/rich:v1")], &env, None);
    let out = ok_in(&["logout", &info.token()], &env, None);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Removed"));
    let out = regpeek_in(&["inspect", &t("private/rich:v1")], &env, None);
    assert_eq!(out.status.code(), Some(1));
    // Anonymous and refused: the hint says no credentials were sent.
    assert!(
        stderr_of(&out).contains("no credentials were sent"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn stored_credentials_that_are_refused_name_their_file() {
    let info = &lab().info;
    let home = empty_home();
    let config = home.join(".docker/config.json");
    write(
        &config,
        &format!(
            r#"{{"auths":{{"{}":{{"auth":"{}"}}}}}}"#,
            info.token(),
            b64("lab-user:wrong")
        ),
    );
    let out = regpeek_in(
        &["inspect", &t("private/rich:v1")],
        &[("HOME", home.to_str().unwrap())],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let e = stderr_of(&out);
    assert!(e.contains(config.to_str().unwrap()), "{e}");
    assert!(
        e.contains("regpeek logout") && e.contains("--no-creds"),
        "{e}"
    );
}

#[test]
fn ratelimit_reads_the_pull_limit_with_a_head() {
    let limits = format!("{}/limits:v1", hostile().addr());
    let out = regpeek(&["-v", "--no-cache", "--plain-http", "ratelimit", &limits]);
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    let v = json(&out.stdout);
    assert_eq!(v["Limit"], 100, "{v}");
    assert_eq!(v["Remaining"], 76, "{v}");
    assert_eq!(v["WindowSeconds"], 21600, "{v}");
    assert_eq!(v["Source"], "192.0.2.7", "{v}");
    // A HEAD, which costs no pull; -v shows the headers as sent.
    assert!(err.contains("> HEAD http://"), "{err}");
    assert!(!err.contains("> GET"), "{err}");
    assert!(err.contains("< ratelimit-remaining: 76;w=21600"), "{err}");
    // Several (one a registry that states none): one line each.
    let open = r("lab/rich:v1");
    let out = regpeek(&["--no-cache", "--plain-http", "ratelimit", &limits, &open]);
    let lines: Vec<Value> = lines(&out.stdout)
        .iter()
        .map(|l| json(l.as_bytes()))
        .collect();
    assert_eq!(lines[0]["RateLimit"]["Remaining"], 76);
    assert_eq!(lines[1]["RateLimit"]["Limit"], Value::Null);
}
