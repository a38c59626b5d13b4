//! The cache across runs.

use super::*;

/// A registry on the IPv6 loopback (`[::1]:PORT`, through a relay of our own): the
/// bracketed host in URLs, Docker's loopback rule (https tried, then plain http), and
/// a token from a realm on another host.
#[test]
fn a_registry_on_the_ipv6_loopback() {
    let relay_to = |target: String| {
        let listener = std::net::TcpListener::bind("[::1]:0")
            .expect("the IPv6 loopback [::1] is needed for this test (disabled on this machine?)");
        regpeek_lab::relay::start(listener, target.parse().unwrap(), std::time::Duration::ZERO)
            .unwrap()
    };
    let plain = relay_to(lab().info.plain());
    let host = plain.addr.to_string();
    assert!(host.starts_with("[::1]:"), "{host}");
    let out = ok(&["--no-cache", "digest", &format!("{host}/lab/rich:v1")]);
    assert_eq!(
        String::from_utf8_lossy(&out).trim(),
        lab().seeded.rich.manifest.digest
    );
    let token = relay_to(lab().info.token());
    let multi = format!("{}/public/multi:v1", token.addr);
    let v = json(&ok(&[
        "--no-cache",
        "inspect",
        &multi,
        "--platform",
        "linux/arm64",
    ]));
    assert_eq!(v["Platform"], "linux/arm64/v8", "{v}");
    assert_eq!(v["Name"], format!("{}/public/multi", token.addr), "{v}");
}

#[test]
fn a_warm_cache_needs_one_head_and_a_pinned_digest_none() {
    let cache_home = empty_home();
    let cache = cache_home.join("cache");
    let dir = cache.to_str().unwrap();
    // The token registry behind a relay of our own, which counts the requests that
    // reach the registry on the wire (regpeek's own trace is checked as well).
    let target: std::net::SocketAddr = lab().info.token().parse().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let relay = regpeek_lab::relay::start(listener, target, std::time::Duration::ZERO).unwrap();
    let host = relay.addr.to_string();
    let wire = || relay.counters.read().1;
    let multi = format!("{host}/public/multi:v1");
    let cold = regpeek(&["--cache-dir", dir, "-v", "inspect", &multi]);
    assert!(cold.status.success(), "{}", stderr_of(&cold));
    assert!(requests(&cold).len() >= 5, "{:?}", requests(&cold));
    assert!(
        wire() >= 4,
        "cold: {} requests reached the registry",
        wire()
    );
    // Warm: the challenge and token are known, the tag revalidated with one HEAD.
    relay.counters.reset();
    let warm = regpeek(&["--cache-dir", dir, "-v", "inspect", &multi]);
    assert!(warm.status.success(), "{}", stderr_of(&warm));
    let sent = requests(&warm);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].starts_with("HEAD http://"), "{sent:?}");
    assert_eq!(wire(), 1, "warm: requests that reached the registry");
    assert_eq!(cold.stdout, warm.stdout, "a warm answer is the same answer");
    // Pinned by digest, inspected before: no request at all.
    relay.counters.reset();
    let digest = json(&cold.stdout)["Digest"].as_str().unwrap().to_owned();
    let pinned = format!("{host}/public/multi@{digest}");
    let out = regpeek(&["--cache-dir", dir, "-v", "inspect", &pinned]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(requests(&out), Vec::<String>::new());
    assert_eq!(
        relay.counters.read(),
        (0, 0),
        "pinned: connections, requests"
    );
    // Offline answers from the cache, and says what is missing.
    let out = regpeek(&[
        "--cache-dir",
        dir,
        "--offline",
        "inspect",
        &multi,
        "--jq",
        ".Digest",
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), digest);
    let out = regpeek(&[
        "--cache-dir",
        dir,
        "--offline",
        "inspect",
        &t("public/rich:v1"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("not in the cache, and offline"),
        "{}",
        stderr_of(&out)
    );
    let info = json(&ok(&["--cache-dir", dir, "cache", "info"]));
    assert!(info["Blobs"].as_u64().unwrap() >= 3, "{info}");
}

#[test]
fn a_corrupt_cache_entry_is_fetched_again() {
    let cache_home = empty_home();
    let cache = cache_home.join("cache");
    let dir = cache.to_str().unwrap();
    let rich = format!("{}/lab/rich:v1", lab().info.plain());
    let first = ok(&["--cache-dir", dir, "inspect", &rich]);
    let config = regpeek_lab::image::sha256(&ok(&["config", &rich]));
    let blob = cache
        .join("blobs/sha256")
        .join(config.trim_start_matches("sha256:"));
    std::fs::write(&blob, b"{\"truncated").unwrap();
    let out = regpeek(&["--cache-dir", dir, "-v", "inspect", &rich]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(out.stdout, first);
    assert!(
        requests(&out)
            .iter()
            .any(|r| r.contains(config.trim_start_matches("sha256:"))),
        "the config is fetched again: {:?}",
        requests(&out)
    );
    assert_eq!(
        regpeek_lab::image::sha256(&std::fs::read(&blob).unwrap()),
        config
    );
}

#[test]
fn cached_tokens_are_private_and_hold_no_password() {
    use std::os::unix::fs::PermissionsExt as _;
    let info = &lab().info;
    let cache_home = empty_home();
    let cache = cache_home.join("cache");
    let dir = cache.to_str().unwrap();
    ok(&[
        "--cache-dir",
        dir,
        "inspect",
        &t("private/rich:v1"),
        "--creds",
        &creds(),
    ]);
    let db = cache.join("cache.db");
    let mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let dir_mode = std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700);
    let text = cache_bytes(&cache);
    assert!(text.contains("\"token\":\"ey"), "the token is kept");
    assert!(!text.contains(&info.password), "a password on disk");
    assert!(
        !text.contains("lab-user"),
        "the user name is hashed: {text}"
    );
    // Logout drops that registry's tokens.
    let home = empty_home();
    let env = [("HOME", home.to_str().unwrap())];
    ok_in(&["--cache-dir", dir, "logout", &info.token()], &env, None);
    assert!(!cache_bytes(&cache).contains("\"token\":\"ey"));
    // --no-cache writes nothing.
    let other_home = empty_home();
    let other = other_home.join("nocache");
    ok(&[
        "--cache-dir",
        other.to_str().unwrap(),
        "--no-cache",
        "digest",
        &t("public/rich:v1"),
    ]);
    assert!(!other.exists());
}
