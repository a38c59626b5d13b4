//! Recordings for users: --record DIR, regpeek replay DIR.

use super::*;

#[test]
fn a_recording_replays_offline_to_the_same_output() {
    let info = &lab().info;
    let private = t("private/multi:v1");
    let (live, _, text) = record_then_replay(&["inspect", &private, "--creds", &info.creds()]);
    assert!(
        live.status.success(),
        "{}",
        String::from_utf8_lossy(&live.stderr)
    );
    assert!(
        text.contains(r#""--creds","lab-user:<redacted>""#),
        "{text}"
    );
    assert!(
        text.contains(r#"basic:lab-user"#),
        "the kind of credentials used: {text}"
    );
    assert!(
        !text.contains(&info.password),
        "the password leaked into the recording"
    );
    assert!(text.contains("<scrubbed-token-1>"), "{text}");
    for line in text.lines().filter(|l| l.starts_with("authorization:")) {
        assert!(
            line.ends_with("<redacted>") || line.contains("<scrubbed-token-"),
            "an Authorization value leaked: {line}"
        );
    }

    // A warm cache does not leak into a recording: it starts cold, and replays.
    let cache_home = empty_home();
    let cache = cache_home.join("cache");
    let rich = format!("{}/lab/rich:v1", info.plain());
    ok(&["--cache-dir", cache.to_str().unwrap(), "inspect", &rich]);
    let (live, _, text) =
        record_then_replay(&["--cache-dir", cache.to_str().unwrap(), "inspect", &rich]);
    assert!(live.status.success(), "{}", stderr_of(&live));
    assert!(text.contains(">>> GET https://"), "the https probe: {text}");

    // Listings, digests with a platform, and raw manifests too.
    let (live, _, _) = record_then_replay(&["tags", &t("public/many-tags"), "--json"]);
    assert!(String::from_utf8_lossy(&live.stdout).contains("\"t149\""));
    let (live, _, _) = record_then_replay(&[
        "digest",
        &format!("{}/lab/multi:v1", info.plain()),
        "--platform",
        "linux/arm64",
    ]);
    assert!(String::from_utf8_lossy(&live.stdout).starts_with("sha256:"));
    record_then_replay(&["manifest", &format!("{}/lab/rich:v1", info.plain())]);
}

#[test]
fn a_failing_command_is_recorded_too() {
    let (live, replayed, text) =
        record_then_replay(&["inspect", &format!("{}/lab/rich:nope", lab().info.plain())]);
    assert_eq!(live.status.code(), Some(1));
    assert!(text.contains("<<< 404"), "{text}");
    let e = String::from_utf8_lossy(&replayed.stderr);
    assert!(e.contains("MANIFEST_UNKNOWN"), "{e}");
}

#[test]
fn replaying_something_that_is_not_a_recording_is_a_clear_error() {
    let dir = empty_home();
    let out = regpeek(&["replay", dir.to_str().unwrap()]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{e}");
    assert!(e.contains("exchanges.http"), "{e}");
    std::fs::write(dir.join("exchanges.http"), "garbage\n>>> nonsense").unwrap();
    let out = regpeek(&["replay", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

#[test]
fn a_recorded_compose_file_replays_without_its_environment() {
    // What an interpolating compose file names depends on the environment and its
    // `.env`; the recording keeps the images it resolved to, never the `.env`.
    let plain = lab().info.plain();
    let dir = empty_home();
    let compose = dir.join("compose.yaml");
    write(
        &compose,
        "services:\n  web:\n    image: ${REG}/lab/${WEB:-nope}:v1\n  db:\n    image: ${REG}/lab/multi:v1\n",
    );
    write(
        &dir.join(".env"),
        &format!("REG={plain}\nDB_PASSWORD=dotenv-secret-4711\n"),
    );
    let recording = dir.join("recording");
    let args = [
        "--record",
        recording.to_str().unwrap(),
        "digest",
        "--from",
        compose.to_str().unwrap(),
    ];
    let live = ok_in(&args, &[("WEB", "rich")], None);
    assert_eq!(lines(&live.stdout).len(), 2, "{}", stderr_of(&live));
    // The replay names the file, and its lines, as the live run did.
    let source = format!("\"Source\":\"{}:3 service web\"", compose.display());
    assert!(
        String::from_utf8_lossy(&live.stdout).contains(&source),
        "{source}"
    );
    let replayed = regpeek(&["replay", recording.to_str().unwrap()]);
    assert_eq!(
        String::from_utf8_lossy(&live.stdout),
        String::from_utf8_lossy(&replayed.stdout),
        "{}",
        stderr_of(&replayed)
    );
    let mut kept = String::new();
    for entry in std::fs::read_dir(recording.join("inputs")).unwrap() {
        kept.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    assert!(kept.contains(&format!("{plain}/lab/rich:v1")), "{kept}");
    assert!(
        !kept.contains("dotenv-secret") && !kept.contains('$'),
        "{kept}"
    );
    // Standard input cannot be kept: refused before anything is sent.
    let out = regpeek_in(
        &[
            "--record",
            recording.to_str().unwrap(),
            "digest",
            "--from",
            "-",
        ],
        &[],
        Some("FROM x\n"),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
}

#[test]
fn a_recording_is_never_overwritten_unless_forced_and_a_refused_one_leaves_nothing() {
    let scratch = empty_home();
    let dir = scratch.join("rec");
    let d = dir.to_str().unwrap();
    let (a, b) = (r("lab/rich:v1"), r("lab/multi:v1"));
    let first = regpeek(&["--record", d, "digest", &a]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr_of(&first));
    let kept = std::fs::read(dir.join("exchanges.http")).unwrap();
    // Again into the same directory: refused before anything is sent, untouched.
    let again = regpeek(&["--record", d, "digest", &b]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr_of(&again).contains("already holds a recording"),
        "{}",
        stderr_of(&again)
    );
    assert!(stderr_of(&again).contains("--force"));
    assert!(again.stdout.is_empty());
    assert_eq!(std::fs::read(dir.join("exchanges.http")).unwrap(), kept);
    // --force replaces it.
    let forced = regpeek(&["--record", d, "--force", "digest", &b]);
    assert_eq!(forced.status.code(), Some(0), "{}", stderr_of(&forced));
    let text = std::fs::read_to_string(dir.join("exchanges.http")).unwrap();
    assert!(text.contains("lab/multi"), "{text}");
    assert!(
        !text.contains("--force"),
        "the kept command line has no --force: {text}"
    );
    // --force means nothing without --record.
    assert_eq!(regpeek(&["--force", "digest", &a]).status.code(), Some(2));
    // A recording refused as it starts (standard input cannot be kept) leaves no
    // directory behind.
    // (the list given first is kept before `--from -` is refused).
    let none = scratch.join("never");
    let list = scratch.join("refs.txt");
    write(&list, &format!("{a}\n"));
    let out = regpeek_in(
        &[
            "--record",
            none.to_str().unwrap(),
            "digest",
            "--file",
            list.to_str().unwrap(),
            "--from",
            "-",
        ],
        &[],
        Some(&format!("{a}\n")),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(!none.exists());
}
