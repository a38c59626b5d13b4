//! Trust where features meet (issue 13): a login is checked by the registry and
//! never by a cached token, a broken credential helper does not block anything, and
//! nothing regpeek prints or records holds a secret.

use super::*;

fn config_bytes(home: &std::path::Path) -> Option<Vec<u8>> {
    std::fs::read(home.join(".docker/config.json")).ok()
}

#[test]
fn a_wrong_password_never_logs_in_nor_replaces_a_stored_one() {
    let info = &lab().info;
    let (user, good) = creds()
        .split_once(':')
        .map(|(u, p)| (u.to_owned(), p.to_owned()))
        .unwrap();
    // Both auth schemes: the token registry (where a cached token once answered the
    // check) and Basic over TLS.
    for (registry, tls) in [(info.token(), None), (info.basic(), Some(ca()))] {
        let home = empty_home();
        let env = [("HOME", home.to_str().unwrap())];
        let with_tls = |mut args: Vec<String>| {
            if let Some(ca) = &tls {
                args.extend(["--ca-file".to_owned(), ca.clone()]);
            }
            args
        };
        let login = |password: &str, verbose: bool| {
            let mut args = vec!["login".to_owned(), registry.clone()];
            args.extend([
                "--username".to_owned(),
                user.clone(),
                "--password-stdin".to_owned(),
            ]);
            if verbose {
                args.push("-v".into());
            }
            let args = with_tls(args);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            regpeek_in(&args, &env, Some(&format!("{password}\n")))
        };
        let out = login(&good, false);
        assert!(out.status.success(), "{registry}: {}", stderr_of(&out));
        let stored = config_bytes(&home).expect("stored after a good login");

        let out = login("WRONG", true);
        let err = stderr_of(&out);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{registry}: a wrong password must fail: {err}"
        );
        assert!(!String::from_utf8_lossy(&out.stdout).contains("Login succeeded"));
        assert!(err.contains("rejected"), "{registry}: {err}");
        assert!(
            err.contains("the --username flag"),
            "{registry}: -v names the real source: {err}"
        );
        assert!(!err.contains("--no-creds"), "{registry}: {err}");
        assert!(
            !err.contains("WRONG"),
            "{registry}: the password is never printed: {err}"
        );
        assert_eq!(
            config_bytes(&home).as_deref(),
            Some(&stored[..]),
            "{registry}: the stored entry is untouched after a refused login"
        );

        // Nor does a token fetched with the good password answer for a wrong one.
        let image = format!(
            "{registry}/{}",
            if tls.is_some() {
                "lab/rich:v1"
            } else {
                "private/rich:v1"
            }
        );
        let args = with_tls(vec![
            "digest".into(),
            image.clone(),
            "--creds".into(),
            format!("{user}:WRONG"),
        ]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = regpeek_in(&args, &env, None);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{image} with a wrong password: {}",
            stderr_of(&out)
        );
        // The stored (good) credentials still work.
        let args = with_tls(vec!["digest".into(), image]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ok_in(&args, &env, None);
    }
}

#[test]
fn a_missing_credential_helper_warns_once_and_goes_on_anonymously() {
    let info = &lab().info;
    let home = empty_home();
    write(
        &home.join(".docker/config.json"),
        r#"{"credsStore":"nonexist"}"#,
    );
    let env = [("HOME", home.to_str().unwrap())];
    let helper = "docker-credential-nonexist";

    // An open registry: answered, with one warning naming the helper, alone or in
    // a batch.
    for args in [
        vec!["digest".to_owned(), r("lab/rich:v1")],
        vec![
            "digest".to_owned(),
            r("lab/rich:v1"),
            r("lab/multi:v1"),
            r("lab/rich:v1"),
        ],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = ok_in(&args, &env, None);
        let err = stderr_of(&out);
        assert_eq!(
            err.matches(helper).count(),
            1,
            "one warning naming the helper: {err}"
        );
        assert!(err.contains("regpeek: warning: "), "{err}");
        assert!(err.contains("config.json"), "{err}");
    }

    // A registry that wants credentials: the error's hint names the helper.
    let out = regpeek_in(&["digest", &t("private/rich:v1")], &env, None);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("hint: ") && l.contains(helper)),
        "the hint names the helper that could not give credentials: {err}"
    );

    // login refuses clearly, before anything is sent or stored.
    let before = config_bytes(&home);
    let out = regpeek_in(&["login", &info.token(), "--creds", &creds()], &env, None);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(helper) && err.contains("credsStore"), "{err}");
    assert!(
        err.contains("--authfile"),
        "says where else they can go: {err}"
    );
    assert_eq!(config_bytes(&home), before);
    // ... and with --authfile, the login goes there.
    let file = home.join("auth.json");
    ok_in(
        &[
            "login",
            &info.token(),
            "--creds",
            &creds(),
            "--authfile",
            file.to_str().unwrap(),
        ],
        &env,
        None,
    );
    assert!(file.exists());
}

#[test]
fn secrets_a_registry_hands_out_or_echoes_reach_no_trace_error_or_recording() {
    // `leaky`: a token reply with four secrets, an `Authorization` echoed back in a
    // header, a cookie, and a config behind a signed redirect. Every output of these
    // runs is scanned by `regpeek_in`, and every recording here.
    let image = format!("{}/leaky:v1", hostile().addr());
    for command in ["inspect", "digest", "manifest", "config"] {
        let out = regpeek(&["-v", "--no-cache", "--plain-http", command, &image]);
        let err = stderr_of(&out);
        assert!(out.status.success(), "{command}: {err}");
        // The trace shows what happened, with the secrets' places marked.
        if command == "inspect" {
            assert!(err.contains("< location: http://"), "{err}");
            assert!(err.contains("X-Amz-Signature=REDACTED"), "{err}");
            assert!(
                err.contains("x-echo-authorization: Bearer <redacted>"),
                "{err}"
            );
            assert!(err.contains("set-cookie: <redacted>"), "{err}");
        }
        let scratch = empty_home();
        let dir = scratch.join("rec");
        let out = regpeek(&[
            "-v",
            "--plain-http",
            "--record",
            dir.to_str().unwrap(),
            command,
            &image,
        ]);
        assert!(
            out.status.success(),
            "{command} --record: {}",
            stderr_of(&out)
        );
        let text = std::fs::read_to_string(dir.join("exchanges.http")).unwrap();
        assert!(text.contains("<scrubbed-refresh-token>"), "{text}");
        assert_no_secret_in_dir(&dir);
        let replayed = regpeek(&["replay", dir.to_str().unwrap()]);
        assert!(replayed.status.success(), "{}", stderr_of(&replayed));
    }
}

#[test]
fn parallel_runs_lose_no_cache_update() {
    // 150 tags, 32 workers each, two processes at once, one cache: every tag is then
    // answered offline, so every update of the cache index survived.
    let scratch = empty_home();
    let cache = scratch.join("cache");
    let list = scratch.join("tags.txt");
    let tags: Vec<String> = (0..regpeek_lab::image::MANY_TAGS)
        .map(|i| r(&format!("lab/many-tags:t{i:03}")))
        .collect();
    write(&list, &tags.join("\n"));
    let (cache, list) = (cache.to_str().unwrap(), list.to_str().unwrap());
    let run = || {
        regpeek(&[
            "--cache-dir",
            cache,
            "digest",
            "--jobs",
            "32",
            "--file",
            list,
        ])
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(run);
        let b = s.spawn(run);
        (a.join().unwrap(), b.join().unwrap())
    });
    for out in [a, b] {
        assert!(out.status.success(), "{}", stderr_of(&out));
        assert_eq!(lines(&out.stdout).len(), tags.len());
    }
    let info = json(&ok(&["--cache-dir", cache, "cache", "info"]));
    assert_eq!(info["Tags"], tags.len(), "{info}");
    let out = regpeek(&[
        "--cache-dir",
        cache,
        "--offline",
        "digest",
        "--jobs",
        "8",
        "--file",
        list,
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let answered = lines(&out.stdout);
    assert_eq!(answered.len(), tags.len());
    assert!(
        answered.iter().all(|l| l.contains("sha256:")),
        "{answered:?}"
    );
}

/// Runs regpeek, reading its stdout as it comes: each line with the time it came.
fn timed_lines(args: &[&str]) -> (Vec<(std::time::Duration, String)>, Output) {
    use std::io::BufRead as _;
    let home = empty_home();
    let start = std::time::Instant::now();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_regpeek"));
    isolate(&mut cmd);
    let mut child = cmd
        .args(args)
        .env("HOME", &*home)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("running regpeek");
    let stdout = child.stdout.take().unwrap();
    let lines: Vec<(std::time::Duration, String)> = std::io::BufReader::new(stdout)
        .lines()
        .map(|l| (start.elapsed(), l.unwrap()))
        .collect();
    let out = child.wait_with_output().unwrap();
    assert_no_secret("a batch's output", &stderr_of(&out));
    (lines, out)
}

#[test]
fn one_silent_registry_does_not_sink_a_batch() {
    // Good references on the lab, then one on a registry that never answers and one
    // on a server that never accepts: each bad one ends at its own deadline as an
    // Error line; the good ones are answered (and printed) as if alone.
    let good: Vec<String> = [
        "lab/rich:v1",
        "lab/multi:v1",
        "lab/many-tags:t001",
        "lab/many-tags:t002",
    ]
    .iter()
    .map(|p| r(p))
    .collect();
    let silent = format!("{}/silent:v1", hostile().addr());
    let never = format!("{}/app:v1", hostile().never_accepts());
    let mut args = vec![
        "--no-cache",
        "digest",
        "--plain-http",
        "--jobs",
        "2",
        "--timeout",
        "3",
    ];
    args.extend(good.iter().map(String::as_str));
    args.extend([silent.as_str(), never.as_str()]);
    let (lines, out) = timed_lines(&args);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert_eq!(lines.len(), good.len() + 2, "{lines:?}");
    for (took, line) in &lines[..good.len()] {
        assert!(
            line.contains("sha256:") && !line.contains("Error"),
            "{line}"
        );
        assert!(
            *took < std::time::Duration::from_millis(2500),
            "a good reference waited for the silent ones ({took:?}): {line}"
        );
    }
    for (took, line) in &lines[good.len()..] {
        assert!(line.contains("\"Error\""), "{line}");
        assert!(
            *took < std::time::Duration::from_millis(3000 + 2500),
            "the bad ones end at their deadline ({took:?}): {line}"
        );
    }
}

#[test]
fn a_429_holds_back_only_its_own_registry_and_never_past_the_deadline() {
    // `limited` answers 429 with Retry-After: 3600: its references end at once as
    // rate-limit errors saying when to retry; the lab's are answered meanwhile.
    let limited: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|t| format!("{}/limited:{t}", hostile().addr()))
        .collect();
    let good = [r("lab/rich:v1"), r("lab/multi:v1"), r("lab/many-tags:t003")];
    let mut args = vec![
        "--no-cache",
        "digest",
        "--plain-http",
        "--jobs",
        "2",
        "--timeout",
        "20",
    ];
    args.extend(limited.iter().map(String::as_str));
    args.extend(good.iter().map(String::as_str));
    let (lines, out) = timed_lines(&args);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert_eq!(lines.len(), limited.len() + good.len(), "{lines:?}");
    let (_, last) = lines.last().unwrap();
    for (took, line) in &lines {
        assert!(
            *took < std::time::Duration::from_secs(5),
            "nothing waits out the hour, nor a 30 s cap ({took:?}): {line}"
        );
    }
    for (_, line) in &lines[..limited.len()] {
        assert!(line.contains("429"), "{line}");
        assert!(line.contains("retry"), "says when to retry: {line}");
    }
    for (_, line) in &lines[limited.len()..] {
        assert!(
            line.contains("sha256:") && !line.contains("Error"),
            "{line}"
        );
    }
    assert!(last.contains("sha256:"));
    // Alone, a Retry-After past the deadline is a rate-limit error at once too.
    let out = regpeek(&[
        "--no-cache",
        "digest",
        "--plain-http",
        "--timeout",
        "20",
        &limited[0],
    ]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("rate limited") && err.contains("retry after 3600"),
        "{err}"
    );
}
