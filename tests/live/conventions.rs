//! Credentials, TLS and network conventions users already have: config files, helpers, certs.d, proxies, login and mirrors.

use super::*;

#[test]
fn credentials_from_docker_config_json() {
    let info = &lab().info;
    let home = empty_home();
    write(
        &home.join(".docker/config.json"),
        &format!(
            r#"{{"auths":{{"{}":{{"auth":"{}"}}}}}}"#,
            info.basic(),
            b64(&creds())
        ),
    );
    let env = [("HOME", home.to_str().unwrap())];
    let out = ok_in(
        &["digest", &b("lab/rich:v1"), "--ca-file", &ca()],
        &env,
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        lab().seeded.rich.manifest.digest
    );

    let out = ok_in(&["auth", "show", &info.basic()], &env, None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(".docker/config.json") && text.contains("username and password"),
        "{text}"
    );
    assert!(
        text.contains("user:     lab-user") && !text.contains(&info.password),
        "{text}"
    );

    // -v names the source, never the secret.
    let out = ok_in(
        &["digest", &b("lab/rich:v1"), "--ca-file", &ca(), "-v"],
        &env,
        None,
    );
    let err = stderr_of(&out);
    assert!(
        err.contains("credentials for") && err.contains("config.json"),
        "{err}"
    );
    assert!(
        !err.contains(&info.password) && !err.contains(&b64(&creds())),
        "{err}"
    );

    // --no-creds wins over the file.
    let out = regpeek_in(
        &[
            "digest",
            &b("lab/rich:v1"),
            "--ca-file",
            &ca(),
            "--no-creds",
        ],
        &env,
        None,
    );
    assert!(
        stderr_of(&out).contains("authentication required"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn credentials_from_containers_auth_json() {
    let home = empty_home();
    let file = home.join("auth.json");
    write(
        &file,
        &format!(
            r#"{{"auths":{{"{}/private":{{"auth":"{}"}}}}}}"#,
            lab().info.token(),
            b64(&creds())
        ),
    );
    let out = ok_in(
        &["digest", &t("private/rich:v1")],
        &[("REGISTRY_AUTH_FILE", file.to_str().unwrap())],
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        lab().seeded.rich.manifest.digest
    );
    // The same through --authfile, and the namespace key does not match other repos.
    let out = regpeek_in(
        &[
            "digest",
            &t("public/rich:v1"),
            "--authfile",
            file.to_str().unwrap(),
            "-v",
        ],
        &[],
        None,
    );
    assert!(out.status.success());
    assert!(
        stderr_of(&out).contains("none (anonymous)"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn credentials_from_a_credential_helper() {
    let info = &lab().info;
    let home = empty_home();
    let bin = home.join("bin");
    let (user, pass) = creds()
        .split_once(':')
        .map(|(u, p)| (u.to_owned(), p.to_owned()))
        .unwrap();
    write(
        &bin.join("docker-credential-lab"),
        &format!(
            "#!/bin/sh\nread -r server || true\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"{user}\",\"Secret\":\"{pass}\"}}' \"$server\"\n"
        ),
    );
    std::fs::set_permissions(
        bin.join("docker-credential-lab"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let helpers = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/helpers");
    write(
        &home.join(".docker/config.json"),
        &format!(
            r#"{{"credHelpers":{{"{}":"lab","{}":"regpeek-test"}},"credsStore":"missing-helper"}}"#,
            info.token(),
            info.basic()
        ),
    );
    let path = format!(
        "{}:{}:{}",
        bin.display(),
        helpers.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let env = [("HOME", home.to_str().unwrap()), ("PATH", path.as_str())];
    let out = ok_in(&["digest", &t("private/rich:v1"), "-v"], &env, None);
    assert!(
        stderr_of(&out).contains("credential helper docker-credential-lab"),
        "{}",
        stderr_of(&out)
    );
    // The test helper answers "not found" for this host: anonymous, then the
    // registry asks for Basic credentials.
    let out = regpeek_in(
        &["digest", &b("lab/rich:v1"), "--ca-file", &ca()],
        &env,
        None,
    );
    assert!(
        stderr_of(&out).contains("authentication required"),
        "{}",
        stderr_of(&out)
    );
    // credsStore names a helper that does not exist: a clear error naming it.
    let out = regpeek_in(&["digest", &r("lab/rich:v1")], &env, None);
    assert!(
        stderr_of(&out).contains("docker-credential-missing-helper is configured but not found"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn identity_token_uses_the_oauth2_post_flow() {
    let info = &lab().info;
    let home = empty_home();
    write(
        &home.join(".docker/config.json"),
        &format!(
            r#"{{"auths":{{"{}":{{"username":"lab-user","identitytoken":"{}"}}}}}}"#,
            info.token(),
            info.identity_token()
        ),
    );
    let out = ok_in(
        &["digest", &t("private/rich:v1"), "-v"],
        &[("HOME", home.to_str().unwrap())],
        None,
    );
    let err = stderr_of(&out);
    assert!(
        err.contains("> POST http://127.0.0.1:") && err.contains("/token"),
        "{err}"
    );
    assert!(err.contains("(identity token)"), "{err}");
    assert!(!err.contains(&info.identity_token()), "{err}");
    // A wrong identity token is refused.
    write(
        &home.join(".docker/config.json"),
        &format!(
            r#"{{"auths":{{"{}":{{"identitytoken":"not-the-token"}}}}}}"#,
            info.token()
        ),
    );
    let out = regpeek_in(
        &["digest", &t("private/rich:v1")],
        &[("HOME", home.to_str().unwrap())],
        None,
    );
    assert!(
        stderr_of(&out).contains("rejected the identity token"),
        "{}",
        stderr_of(&out)
    );
    assert!(
        stderr_of(&out).contains("hint: the stored identity token"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn credential_flags() {
    let info = &lab().info;
    // --username with --password-stdin.
    let out = ok_in(
        &[
            "digest",
            &t("private/rich:v1"),
            "--username",
            "lab-user",
            "--password-stdin",
        ],
        &[],
        Some(&format!("{}\n", info.password)),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        lab().seeded.rich.manifest.digest
    );
    // --creds USER without a password and no terminal: a clear error.
    let out = regpeek_in(
        &["digest", &t("private/rich:v1"), "--creds", "lab-user"],
        &[],
        None,
    );
    assert!(
        stderr_of(&out).contains("no terminal to ask on"),
        "{}",
        stderr_of(&out)
    );
    // --registry-token: a token obtained from the issuer, sent as is.
    let realm = format!(
        "{}?service=regpeek-lab&scope=repository:private/rich:pull",
        info.realm()
    );
    let body = regpeek_lab::push::agent()
        .get(&realm)
        .header("Authorization", &format!("Basic {}", b64(&creds())))
        .call()
        .unwrap()
        .body_mut()
        .read_to_vec()
        .unwrap();
    let reply = json(&body);
    let token = reply["token"].as_str().unwrap();
    let out = ok_in(
        &["digest", &t("private/rich:v1"), "--registry-token", token],
        &[],
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        lab().seeded.rich.manifest.digest
    );
    // A refused --registry-token says so, not "user <registry-token>".
    let out = regpeek(&[
        "digest",
        &t("private/rich:v1"),
        "--registry-token",
        "not-a-token",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let e = stderr_of(&out);
    assert!(e.contains("rejected the registry token"), "{e}");
    assert!(
        e.contains("hint: the token given with --registry-token was refused"),
        "{e}"
    );
}

#[test]
fn client_certificates_and_certs_d() {
    let info = &lab().info;
    let m = format!("{}/lab/rich:v1", info.mtls());
    let cert_dir = info.cert_dir().display().to_string();
    let out = ok_in(&["digest", &m, "--cert-dir", &cert_dir], &[], None);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        lab().seeded.rich.manifest.digest
    );
    // Found without flags in ~/.config/containers/certs.d/<host:port>.
    let home = home_with_mtls_certs_d();
    let out = ok_in(
        &["digest", &m, "-v"],
        &[("HOME", home.to_str().unwrap())],
        None,
    );
    assert!(
        stderr_of(&out).contains("TLS settings for"),
        "{}",
        stderr_of(&out)
    );
    // Without a client certificate the server refuses; no fall back to plain http.
    let out = regpeek_in(&["digest", &m, "--ca-file", &ca()], &[], None);
    let err = stderr_of(&out);
    assert!(err.contains("TLS handshake refused by the server"), "{err}");
    // Half a pair is an error.
    let half = empty_home();
    write(&half.join("client.cert"), "x");
    let out = regpeek_in(
        &["digest", &m, "--cert-dir", half.to_str().unwrap()],
        &[],
        None,
    );
    assert!(
        stderr_of(&out).contains("client certificate without its key"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn insecure_skips_verification_loudly() {
    let out = ok_in(
        &[
            "digest",
            &b("lab/rich:v1"),
            "--insecure",
            "--creds",
            &creds(),
        ],
        &[],
        None,
    );
    assert!(
        stderr_of(&out).contains("TLS certificate verification is OFF"),
        "{}",
        stderr_of(&out)
    );
    let out = regpeek_in(
        &["digest", &b("lab/rich:v1"), "--creds", &creds()],
        &[],
        None,
    );
    assert!(
        stderr_of(&out).contains("TLS certificate not trusted"),
        "{}",
        stderr_of(&out)
    );
}

/// Proxies as Go's net/http reads them (what docker, skopeo and crane use): loopback
/// never goes through one; `HTTPS_PROXY` carries https requests and `HTTP_PROXY` http
/// ones; an error on a proxied request names the proxy. (Which host goes direct by
/// `NO_PROXY` is unit-tested: a direct request to a non-loopback name would leave the
/// machine.) The lab's proxy refuses anything but loopback and logs every CONNECT.
#[test]
fn proxies_from_the_environment() {
    let info = &lab().info;
    let log = || std::fs::read_to_string(info.proxy_log()).unwrap_or_default();
    let proxy = info.proxy();
    // Loopback is never proxied, whatever is set (the usual corporate environment).
    let before = log();
    let out = ok_in(
        &["digest", &r("lab/rich:v1"), "--plain-http"],
        &[
            ("HTTPS_PROXY", proxy.as_str()),
            ("HTTP_PROXY", proxy.as_str()),
            ("ALL_PROXY", "http://127.0.0.1:1"),
        ],
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        lab().seeded.rich.manifest.digest
    );
    assert_eq!(log(), before, "a loopback registry went through the proxy");

    // Elsewhere, each scheme through its own proxy (the lab's refuses, so nothing
    // leaves the machine), and the error says which proxy.
    for (scheme_var, plain) in [("HTTPS_PROXY", false), ("HTTP_PROXY", true)] {
        let target = if plain {
            "registry-http.example:5000"
        } else {
            "registry-https.example:5000"
        };
        let mut args = vec!["digest".to_owned(), format!("{target}/x:v1")];
        if plain {
            args.push("--plain-http".into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = regpeek_in(&args, &[(scheme_var, proxy.as_str())], None);
        assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
        assert!(
            log().contains(&format!("CONNECT {target} refused")),
            "{scheme_var}: the proxy saw no CONNECT for {target}: {}",
            log()
        );
        let err = stderr_of(&out);
        assert!(err.contains(&format!("through the proxy {proxy}")), "{err}");
    }
}

#[test]
fn login_and_logout() {
    let info = &lab().info;
    let home = empty_home();
    let env = [("HOME", home.to_str().unwrap())];
    let config = home.join(".docker/config.json");
    let out = regpeek_in(
        &[
            "login",
            &info.basic(),
            "--ca-file",
            &ca(),
            "--creds",
            "lab-user:wrong",
        ],
        &env,
        None,
    );
    assert!(
        stderr_of(&out).contains("rejected the credentials"),
        "{}",
        stderr_of(&out)
    );
    assert!(!config.exists(), "nothing stored after a failed login");

    let out = ok_in(
        &[
            "login",
            &info.basic(),
            "--ca-file",
            &ca(),
            "--username",
            "lab-user",
            "--password-stdin",
        ],
        &env,
        Some(&info.password),
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Login succeeded"));
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&config).unwrap().permissions().mode() & 0o777,
        0o600
    );
    ok_in(
        &["digest", &b("lab/rich:v1"), "--ca-file", &ca()],
        &env,
        None,
    );

    // Token registry: the login check gets a token with no scope.
    ok_in(&["login", &info.token(), "--creds", &creds()], &env, None);
    ok_in(&["digest", &t("private/rich:v1")], &env, None);

    let out = ok_in(&["logout", &info.basic()], &env, None);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Removed credentials"));
    let out = regpeek_in(
        &["digest", &b("lab/rich:v1"), "--ca-file", &ca()],
        &env,
        None,
    );
    assert!(
        stderr_of(&out).contains("authentication required"),
        "{}",
        stderr_of(&out)
    );
    let out = ok_in(&["logout", &info.basic()], &env, None);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Not logged in"));
}

/// Docker Hub mirrors from registries.conf are tried in order; a dead one is skipped.
/// All traffic goes through the lab's CONNECT proxy, which refuses anything but
/// loopback, so even a regression could not reach the real Docker Hub.
#[test]
fn docker_hub_mirrors_are_tried_in_order() {
    let info = &lab().info;
    let home = empty_home();
    let dead = info.dead();
    let conf = home.join("registries.conf");
    write(
        &conf,
        &format!(
            "[[registry]]\nprefix = \"docker.io\"\nlocation = \"registry-1.docker.io\"\n\n\
             [[registry.mirror]]\nlocation = \"{dead}\"\ninsecure = true\n\n\
             [[registry.mirror]]\nlocation = \"{}\"\ninsecure = true\n",
            info.plain()
        ),
    );
    let proxy = info.proxy();
    let env = [
        ("CONTAINERS_REGISTRIES_CONF", conf.to_str().unwrap()),
        ("HTTPS_PROXY", proxy.as_str()),
    ];
    let out = ok_in(&["digest", "rich:v1", "-v"], &env, None);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        lab().seeded.rich.manifest.digest
    );
    let err = stderr_of(&out);
    assert!(
        err.contains(&format!("mirror http://{dead}/ failed")),
        "{err}"
    );
    assert!(
        err.contains(&format!("answered by mirror http://{}/", info.plain())),
        "{err}"
    );
    let v = json(
        &ok_in(
            &["inspect", "multi:v1", "--platform", "linux/arm/v7"],
            &env,
            None,
        )
        .stdout,
    );
    assert_eq!(
        v["Name"], "docker.io/library/multi",
        "the mirror does not change the name"
    );
    assert_eq!(v["Digest"], lab().seeded.multi.index.digest);
    assert_eq!(v["Variant"], "v7");
}

/// A Docker Hub mirror that wants a client certificate of its own (the lab's mTLS
/// registry, with its certs.d directory): the certificate goes to the mirror, and only
/// there. Through the lab's loopback-only proxy, as above.
#[test]
fn a_mirror_with_a_client_certificate_of_its_own() {
    let info = &lab().info;
    let home = home_with_mtls_certs_d();
    let conf = home.join("registries.conf");
    write(
        &conf,
        &format!(
            "[[registry]]\nprefix = \"docker.io\"\nlocation = \"registry-1.docker.io\"\n\n\
             [[registry.mirror]]\nlocation = \"{}\"\n",
            info.mtls()
        ),
    );
    let proxy = info.proxy();
    let env = [
        ("HOME", home.to_str().unwrap()),
        ("CONTAINERS_REGISTRIES_CONF", conf.to_str().unwrap()),
        ("HTTPS_PROXY", proxy.as_str()),
    ];
    let out = ok_in(&["--no-cache", "digest", "rich:v1", "-v"], &env, None);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        lab().seeded.rich.manifest.digest
    );
    let err = stderr_of(&out);
    assert!(
        err.contains(&format!("answered by mirror https://{}/", info.mtls())),
        "{err}"
    );
}

#[test]
fn password_prompt_and_colour_on_a_terminal() {
    let info = &lab().info;
    let screen = on_a_terminal(
        &["digest", &t("private/rich:v1"), "--creds", "lab-user"],
        &[("Password for lab-user@", &info.password)],
    );
    assert!(screen.contains("Password for lab-user@"), "{screen}");
    assert!(
        screen.contains(&lab().seeded.rich.manifest.digest),
        "{screen}"
    );
    assert!(
        !screen.contains(&info.password),
        "the password was echoed: {screen}"
    );

    let screen = on_a_terminal(&["inspect", &r("lab/rich:v1")], &[]);
    assert!(
        screen.contains("\x1b[34;1m\"Name\"\x1b[0m"),
        "coloured keys on a terminal: {screen:?}"
    );
    assert!(
        screen.lines().count() > 20,
        "pretty-printed on a terminal: {screen}"
    );
}
