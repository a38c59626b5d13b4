//! What a run knows of each registry, learnt once and shared by all its flows:
//! challenges and tokens without the cache too, credentials read once, and credentials
//! given on the command line only for the registry they are for.

use super::*;

/// A relay of our own in front of `target` (plain http), counting what crosses it.
fn relay(target: &str) -> regpeek_lab::relay::Relay {
    let target: std::net::SocketAddr = target.parse().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    regpeek_lab::relay::start(listener, target, std::time::Duration::ZERO).unwrap()
}

/// The requests of a `-v` trace to the registry and its token server (not the CDN a
/// blob is redirected to), sorted.
fn to_registry(out: &Output) -> Vec<String> {
    let mut sent: Vec<String> = requests(out)
        .into_iter()
        .filter(|l| !l.contains("//127.0.0.2:"))
        .collect();
    sent.sort();
    sent
}

#[test]
fn a_run_without_the_cache_asks_for_a_token_once() {
    // ls of a 40-layer image on the token registry: one flow for the manifest, one
    // for each layer. Each used to probe https, meet the 401 and fetch a token again
    // with --no-cache or --record, since only the cache on disk carried them over.
    let image = t("public/many-layers:v1");
    let home = empty_home();
    let cache = home.join("cache");
    let record = home.join("rec");
    let runs: Vec<(&str, Vec<&str>)> = vec![
        ("a cold cache", vec!["--cache-dir", cache.to_str().unwrap()]),
        ("--no-cache", vec!["--no-cache"]),
        ("--record", vec!["--record", record.to_str().unwrap()]),
    ];
    let mut seen: Vec<(&str, Vec<String>)> = Vec::new();
    for (what, flags) in runs {
        let mut args = flags.clone();
        args.extend(["-v", "ls", &image]);
        let out = regpeek(&args);
        assert!(out.status.success(), "{what}: {}", stderr_of(&out));
        let sent = to_registry(&out);
        let tokens = sent.iter().filter(|l| l.contains("/token?")).count();
        assert_eq!(tokens, 1, "{what}: token requests in {sent:#?}");
        let probes = sent.iter().filter(|l| l.contains(" https://")).count();
        assert_eq!(probes, 1, "{what}: https probes in {sent:#?}");
        let blobs = sent.iter().filter(|l| l.contains("/blobs/")).count();
        assert_eq!(blobs, 40, "{what}: one request per layer");
        seen.push((what, sent));
    }
    for (what, sent) in &seen[1..] {
        assert_eq!(
            sent, &seen[0].1,
            "{what} asks what a cold run with the cache asks"
        );
    }
    // The replay asks what the recording holds, and answers the same.
    let replayed = regpeek(&["replay", record.to_str().unwrap()]);
    assert!(replayed.status.success(), "{}", stderr_of(&replayed));
}

#[test]
fn password_stdin_is_read_once_for_the_whole_run() {
    // Each of these runs several flows against a private repository; standard input
    // holds one password, which every flow of the run uses.
    let (rich, multi) = (t("private/rich:v1"), t("private/multi:v1"));
    let password = creds().split_once(':').unwrap().1.to_owned();
    let stdin = format!("{password}\n");
    let runs: Vec<Vec<&str>> = vec![
        vec!["cat", &rich, "/etc/os-release"],
        vec!["ls", &rich],
        vec!["diff", &rich, &multi],
        vec!["sbom", &rich],
    ];
    for run in runs {
        let mut args = vec!["--no-cache", "--username", "lab-user", "--password-stdin"];
        args.extend(&run);
        let out = regpeek_in(&args, &[], Some(&stdin));
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            stderr_of(&out)
        );
        match run[0] {
            // diff exits 1: the images differ.
            "diff" => assert_eq!(out.status.code(), Some(1), "{run:?}: {all}"),
            // rich carries no SBOM: said on its line, after it was read.
            "sbom" => assert!(all.contains("carries no SBOM"), "{run:?}: {all}"),
            _ => assert!(out.status.success(), "{run:?}: {all}"),
        }
        assert!(
            !all.contains("password") && !all.contains("denied") && !all.contains("401"),
            "{run:?}: {all}"
        );
    }
}

#[test]
fn credentials_on_the_command_line_reach_only_their_registry() {
    let (plain, token) = (relay(&lab().info.plain()), relay(&lab().info.token()));
    let on_plain = format!("{}/lab/rich:v1", plain.addr);
    let on_token = format!("{}/private/rich:v1", token.addr);
    let user = creds();
    // A plain --creds with references on two registries: refused, nothing sent.
    for flag in [
        vec!["--creds", user.as_str()],
        vec!["--username", "lab-user", "--password-stdin"],
    ] {
        for command in ["digest", "inspect", "ls", "os"] {
            let mut args = vec!["--no-cache", "-v"];
            args.extend(&flag);
            args.extend([command, &on_plain, &on_token]);
            let out = regpeek_in(&args, &[], Some("pw\n"));
            assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
            let err = stderr_of(&out);
            assert!(
                err.contains(&plain.addr.to_string())
                    && err.contains(&token.addr.to_string())
                    && err.contains("--creds-for"),
                "{err}"
            );
            assert_eq!(requests(&out), Vec::<String>::new(), "{args:?}");
        }
        let mut args = vec!["--no-cache"];
        args.extend(&flag);
        args.extend(["diff", &on_plain, &on_token]);
        let out = regpeek_in(&args, &[], Some("pw\n"));
        assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    }
    assert_eq!(
        plain.counters.read(),
        (0, 0),
        "nothing reached the open registry"
    );
    assert_eq!(
        token.counters.read(),
        (0, 0),
        "nothing reached the token registry"
    );
    // --creds-for names the registry: the open one gets no Authorization at all, and
    // the token registry only tokens (the password goes to its realm alone).
    let creds_for = format!("{}={user}", token.addr);
    let out = regpeek(&[
        "--no-cache",
        "--creds-for",
        &creds_for,
        "digest",
        &on_plain,
        &on_token,
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(lines(&out.stdout).len(), 2);
    assert!(plain.counters.read().1 >= 1);
    assert_eq!(plain.counters.authorizations(), (0, 0), "the open registry");
    let (basic, any) = token.counters.authorizations();
    assert_eq!(basic, 0, "no password to the token registry itself");
    assert!(any >= 1, "its token was used");
    // A plain --creds where every reference is on one registry is for that registry.
    let out = regpeek(&[
        "--no-cache",
        "--creds",
        &user,
        "digest",
        &on_token,
        &on_token,
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    // A --creds-for without '=' is a usage error that shows no password.
    let out = regpeek(&["--creds-for", &user, "digest", &on_token]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr_of(&out).contains(user.split_once(':').unwrap().1));
}
