//! Every reference command × output mode × {one reference, several, --file, recorded
//! then replayed}: each cell gives its documented result or a clear refusal (exit 2,
//! before any request). A flag never works on one path and is ignored on another.

use super::*;

/// What a cell must give.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    /// One JSON document.
    Json,
    /// A bare digest line.
    Digest,
    /// One `name@digest` line.
    FullRef,
    /// One line of text (what `--jq` made of a document).
    Text,
    /// A table with this first header word.
    Table(&'static str),
    /// JSON lines, one per reference, each with this field.
    Lines(&'static str),
    /// Exit 2, before anything is sent.
    Refused,
}

/// (command and flags, what one reference gives, what several give).
fn cells() -> Vec<(Vec<&'static str>, Want, Want)> {
    vec![
        (vec!["inspect"], Want::Json, Want::Lines("Digest")),
        (
            vec!["inspect", "-o", "table"],
            Want::Table("FIELD"),
            Want::Refused,
        ),
        (
            vec!["inspect", "--raw"],
            Want::Json,
            Want::Lines("Manifest"),
        ),
        (
            vec!["inspect", "--config"],
            Want::Json,
            Want::Lines("Config"),
        ),
        (
            vec!["inspect", "--platform", "all"],
            Want::Json,
            Want::Lines("Platforms"),
        ),
        (
            vec!["inspect", "--platform", "all", "-o", "table"],
            Want::Table("PLATFORM"),
            Want::Refused,
        ),
        (
            vec!["inspect", "--jq", ".Digest"],
            Want::Digest,
            Want::Lines(""),
        ),
        (vec!["manifest"], Want::Json, Want::Lines("Manifest")),
        (
            vec!["manifest", "--platform", "linux/arm64"],
            Want::Json,
            Want::Lines("Manifest"),
        ),
        (vec!["config"], Want::Json, Want::Lines("Config")),
        (vec!["digest"], Want::Digest, Want::Lines("Digest")),
        (
            vec!["digest", "--full-ref"],
            Want::FullRef,
            Want::Lines("FullRef"),
        ),
        (
            vec!["digest", "--jq", ".Digest"],
            Want::Digest,
            Want::Lines(""),
        ),
        (
            vec!["digest", "--platform", "linux/arm64"],
            Want::Digest,
            Want::Lines("Digest"),
        ),
        (vec!["ratelimit"], Want::Json, Want::Lines("RateLimit")),
        (vec!["platforms"], Want::Json, Want::Lines("Platforms")),
        (
            vec!["platforms", "-o", "table"],
            Want::Table("PLATFORM"),
            Want::Refused,
        ),
        (
            vec!["platforms", "--jq", ".[0].Platform"],
            Want::Text,
            Want::Lines(""),
        ),
        (vec!["history"], Want::Json, Want::Lines("History")),
        (
            vec!["history", "-o", "table"],
            Want::Table("CREATED"),
            Want::Refused,
        ),
        (
            vec!["history", "--jq", ".[0].CreatedBy"],
            Want::Text,
            Want::Lines(""),
        ),
        // Always JSON lines (and a table of any number of rows).
        (vec!["outdated"], Want::Lines("Tag"), Want::Lines("Tag")),
        (
            vec!["outdated", "-o", "table"],
            Want::Table("REFERENCE"),
            Want::Table("REFERENCE"),
        ),
        (
            vec!["outdated", "--jq", ".Tag"],
            Want::Lines(""),
            Want::Lines(""),
        ),
    ]
}

fn check(cell: &[&str], refs: &str, want: Want, out: &Output, n: usize) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let what = format!("{cell:?} with {refs}: {}", stderr_of(out));
    if want == Want::Refused {
        assert_eq!(out.status.code(), Some(2), "{what}");
        assert!(stdout.is_empty(), "{what}");
        assert!(stderr_of(out).starts_with("regpeek: error: "), "{what}");
        return;
    }
    assert!(out.status.success(), "{what}");
    match want {
        Want::Json => {
            let _: Value = serde_json::from_str(stdout.trim())
                .unwrap_or_else(|e| panic!("{what}: not one JSON document ({e}): {stdout}"));
        }
        Want::Digest => {
            assert_eq!(stdout.lines().count(), 1, "{what}");
            assert!(stdout.starts_with("sha256:"), "{what}: {stdout}");
        }
        Want::FullRef => {
            assert_eq!(stdout.lines().count(), 1, "{what}");
            assert!(stdout.contains("/lab/multi:v1@sha256:"), "{what}: {stdout}");
        }
        Want::Text => {
            assert_eq!(stdout.lines().count(), 1, "{what}: {stdout}");
            assert!(
                !stdout.starts_with('{'),
                "{what}: --jq was not applied: {stdout}"
            );
        }
        Want::Table(head) => {
            assert!(stdout.starts_with(head), "{what}: {stdout}");
        }
        Want::Lines("") => {
            // --jq applied to each line.
            assert_eq!(stdout.lines().count(), n, "{what}: {stdout}");
            for l in stdout.lines() {
                assert!(!l.starts_with('{'), "{what}: --jq was not applied: {l}");
            }
        }
        Want::Lines(field) => {
            let lines: Vec<Value> = stdout.lines().map(|l| json(l.as_bytes())).collect();
            assert_eq!(lines.len(), n, "{what}: {stdout}");
            for l in &lines {
                assert!(l.get(field).is_some(), "{what}: no {field}: {l}");
                assert!(l.get("Reference").is_some(), "{what}: {l}");
            }
        }
        Want::Refused => unreachable!(),
    }
}

#[test]
fn every_reference_command_on_every_path() {
    let a = r("lab/multi:v1");
    let b = r("lab/rich:v1");
    let scratch = empty_home();
    let list = scratch.join("refs.txt");
    write(&list, &format!("{a}\n# a comment\n{b}\n"));
    for (cell, one, several) in cells() {
        // One reference.
        let mut args = cell.clone();
        args.push(&a);
        check(&cell, "one reference", one, &regpeek(&args), 1);
        // Several.
        let mut args = cell.clone();
        args.extend([a.as_str(), b.as_str()]);
        check(&cell, "two references", several, &regpeek(&args), 2);
        // --file.
        let mut args = cell.clone();
        args.extend(["--file", list.to_str().unwrap()]);
        check(&cell, "--file", several, &regpeek(&args), 2);
        // Recorded, then replayed: the same stdout and exit code, for one reference,
        // several, and --file (its file kept in the recording, then removed here).
        let copy = scratch.join("copy.txt");
        std::fs::copy(&list, &copy).unwrap();
        let paths: [Vec<&str>; 3] = [
            vec![a.as_str()],
            vec![a.as_str(), b.as_str()],
            vec!["--file", copy.to_str().unwrap()],
        ];
        for (i, refs) in paths.iter().enumerate() {
            let name = cell.join("-").replace(['/', '.', '[', ']'], "_");
            let dir = scratch.join(format!("rec-{name}-{i}"));
            let mut args = vec!["--record", dir.to_str().unwrap()];
            args.extend(cell.iter().copied());
            args.extend(refs.iter().copied());
            let recorded = regpeek(&args);
            if i == 2 {
                std::fs::remove_file(&copy).unwrap();
            }
            let replayed = regpeek(&["replay", dir.to_str().unwrap()]);
            let what = format!("{cell:?} {refs:?}: {}", stderr_of(&replayed));
            assert_eq!(recorded.status.code(), replayed.status.code(), "{what}");
            assert_eq!(
                String::from_utf8_lossy(&recorded.stdout),
                String::from_utf8_lossy(&replayed.stdout),
                "{what}: the replay printed something else"
            );
            assert!(!stderr_of(&replayed).contains("never asked for"), "{what}");
            assert_no_secret_in_dir(&dir);
        }
    }
}

#[test]
fn any_command_that_talks_to_a_registry_is_recorded_and_replayed() {
    let scratch = empty_home();
    let compose = scratch.join("compose.yaml");
    write(
        &compose,
        &format!(
            "services:\n  a:\n    image: {}\n  b:\n    image: {}\n",
            r("lab/rich:v1"),
            r("lab/multi:v1")
        ),
    );
    let runs: Vec<Vec<String>> = vec![
        vec!["diff".into(), r("lab/rich:v1"), r("lab/multi:v1")],
        vec![
            "inspect".into(),
            "--from".into(),
            compose.display().to_string(),
        ],
        vec![
            "tags".into(),
            r("lab/many-tags"),
            "-o".into(),
            "table".into(),
        ],
        vec!["referrers".into(), r("lab/multi:v1")],
        vec!["base".into(), r("lab/based:fresh"), r("lab/based:stale")],
        vec![
            "digest".into(),
            t("private/rich:v1"),
            "--creds".into(),
            creds(),
        ],
    ];
    for (i, run) in runs.iter().enumerate() {
        let dir = scratch.join(format!("rec-{i}"));
        let mut args = vec!["--record", dir.to_str().unwrap()];
        args.extend(run.iter().map(String::as_str));
        let recorded = regpeek(&args);
        let replayed = regpeek(&["replay", dir.to_str().unwrap()]);
        let what = format!("{run:?}: {}", stderr_of(&replayed));
        assert!(recorded.stdout.len() > 10, "{what}");
        assert_eq!(recorded.status.code(), replayed.status.code(), "{what}");
        assert_eq!(recorded.stdout, replayed.stdout, "{what}");
        assert_no_secret_in_dir(&dir);
    }
    // What cannot be recorded is refused up front, saying what.
    let dir = scratch.join("nothing");
    for cmd in [
        vec!["login", "localhost:5000", "--creds", "u:p"],
        vec!["cache", "info"],
        vec!["auth", "show", "localhost:5000"],
    ] {
        let mut args = vec!["--record", dir.to_str().unwrap()];
        args.extend(cmd.iter().copied());
        let out = regpeek(&args);
        assert_eq!(out.status.code(), Some(2), "{cmd:?}: {}", stderr_of(&out));
        assert!(
            stderr_of(&out).contains("--record cannot record"),
            "{}",
            stderr_of(&out)
        );
        assert!(!dir.exists());
    }
}

#[test]
fn each_command_lists_and_takes_only_its_own_flags() {
    let help = String::from_utf8(ok(&["login", "--help"])).unwrap();
    for own in [
        "--username",
        "--password-stdin",
        "--password",
        "--authfile",
        "--ca-file",
    ] {
        assert!(help.contains(own), "login --help lacks {own}: {help}");
    }
    for foreign in [
        "--platform",
        "--override-os",
        "--registry-token",
        "--no-creds",
        "--jobs",
    ] {
        assert!(
            !help.contains(foreign),
            "login --help lists {foreign}: {help}"
        );
    }
    let out = regpeek(&["login", "localhost:5000", "--platform", "linux/amd64"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    let help = String::from_utf8(ok(&["logout", "--help"])).unwrap();
    assert!(
        !help.contains("--creds") && !help.contains("--timeout"),
        "{help}"
    );

    // docker's and skopeo's `login -u USER -p PASSWORD`, with docker's warning.
    let info = &lab().info;
    let home = empty_home();
    let env = [("HOME", home.to_str().unwrap())];
    let (user, password) = creds()
        .split_once(':')
        .map(|(u, p)| (u.to_owned(), p.to_owned()))
        .unwrap();
    let out = regpeek_in(
        &["login", &info.token(), "-u", &user, "-p", &password],
        &env,
        None,
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("--password-stdin"),
        "the warning: {}",
        stderr_of(&out)
    );
    ok_in(&["digest", &t("private/rich:v1")], &env, None);
}
