//! Credential lookup over config files in temp dirs and a test credential helper
//! (`tests/helpers/docker-credential-regpeek-test`).

use std::sync::atomic::{AtomicU32, Ordering};

use super::*;
use std::time::Instant;

struct Home {
    dir: PathBuf,
}

impl Home {
    fn new() -> Home {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "regpeek-creds-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Home { dir }
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    fn env(&self) -> Env {
        Env {
            home: Some(self.dir.clone()),
            helper_timeout: Duration::from_secs(5),
            helper_dirs: vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/helpers")],
            ..Env::default()
        }
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn b64(s: &str) -> String {
    STANDARD.encode(s)
}

/// "user:secret via source-kind" or "error: …".
fn show(registry: &str, repo: &str, env: &Env) -> String {
    match lookup(registry, repo, env) {
        Err(e) => format!("error: {e:#}"),
        Ok(f) => {
            let what = match &f.credentials {
                None => "anonymous".to_owned(),
                Some(Credentials::Basic { username, password }) => {
                    format!("{username}:{}", password.expose())
                }
                Some(Credentials::Bearer(t)) => format!("bearer {}", t.expose()),
                Some(Credentials::IdentityToken { username, token }) => {
                    format!("identity {:?} {}", username, token.expose())
                }
                Some(_) => "other".into(),
            };
            let src = match &f.source {
                Source::File { key, .. } => format!("file key {key}"),
                Source::Helper { name, .. } => format!("helper {name}"),
                Source::Unusable { why, .. } => format!("unusable helper: {why}"),
                other => other.to_string(),
            };
            format!("{what} via {src}")
        }
    }
}

#[test]
fn docker_config_key_forms() {
    let h = Home::new();
    h.write(
        ".docker/config.json",
        &format!(
            r#"{{"auths":{{
                "https://index.docker.io/v1/":{{"auth":"{}"}},
                "https://reg.example:5000/v2/":{{"auth":"{}"}},
                "plain.example":{{"username":"u3","password":"p3"}},
                "nul.example":{{"auth":"{}"}},
                "colon.example":{{"auth":"{}"}}
            }}}}"#,
            b64("hubuser:hubpass"),
            b64("u2:p2"),
            b64("u4:p4\0\0"),
            b64("u5:pa:ss")
        ),
    );
    let env = h.env();
    assert_eq!(
        show("docker.io", "library/nginx", &env),
        "hubuser:hubpass via file key https://index.docker.io/v1/"
    );
    assert_eq!(
        show("reg.example:5000", "a", &env),
        "u2:p2 via file key https://reg.example:5000/v2/"
    );
    assert_eq!(
        show("plain.example", "a", &env),
        "u3:p3 via file key plain.example"
    );
    assert_eq!(
        show("nul.example", "a", &env),
        "u4:p4 via file key nul.example",
        "NULs trimmed"
    );
    assert_eq!(
        show("colon.example", "a", &env),
        "u5:pa:ss via file key colon.example",
        "split at the first colon"
    );
    assert_eq!(
        show("other.example", "a", &env),
        "anonymous via none (anonymous)"
    );
}

#[test]
fn docker_hub_key_variants() {
    for key in [
        "index.docker.io",
        "docker.io",
        "https://index.docker.io/v1",
        "registry-1.docker.io",
        "https://index.docker.io/v1/",
    ] {
        let h = Home::new();
        h.write(
            ".docker/config.json",
            &format!(r#"{{"auths":{{"{key}":{{"auth":"{}"}}}}}}"#, b64("u:p")),
        );
        assert!(
            show("docker.io", "library/x", &h.env()).starts_with("u:p via"),
            "{key}"
        );
    }
}

#[test]
fn docker_config_dir_from_env() {
    let h = Home::new();
    h.write(
        "elsewhere/config.json",
        &format!(r#"{{"auths":{{"r.example":{{"auth":"{}"}}}}}}"#, b64("d:c")),
    );
    let mut env = h.env();
    env.docker_config = Some(h.dir.join("elsewhere"));
    assert_eq!(show("r.example", "a", &env), "d:c via file key r.example");
}

#[test]
fn identity_and_registry_tokens() {
    let h = Home::new();
    h.write(
        ".docker/config.json",
        &format!(
            r#"{{"auths":{{
                "acr.example":{{"auth":"{}","identitytoken":"refresh-xyz"}},
                "tok.example":{{"registrytoken":"bearer-abc"}}
            }}}}"#,
            b64("00000000-0000-0000-0000-000000000000:")
        ),
    );
    let env = h.env();
    assert_eq!(
        show("acr.example", "a", &env),
        "identity Some(\"00000000-0000-0000-0000-000000000000\") refresh-xyz via file key acr.example"
    );
    assert_eq!(
        show("tok.example", "a", &env),
        "bearer bearer-abc via file key tok.example"
    );
}

#[test]
fn helpers_found_not_found_garbage_hang() {
    // A helper that cannot be used is passed over, anonymously (with a warning the
    // caller prints), never an error that blocks the command.
    let h = Home::new();
    h.write(
        ".docker/config.json",
        &format!(
            r#"{{"credHelpers":{{
                "found.example":"regpeek-test","token.example":"regpeek-test",
                "notfound.example":"regpeek-test","garbage.example":"regpeek-test",
                "hang.example":"regpeek-test","broken.example":"regpeek-test",
                "missing.example":"no-such-helper"}},
              "auths":{{"token.example":{{"username":"alice"}},"notfound.example":{{"auth":"{}"}}}}}}"#,
            b64("fallback:pw")
        ),
    );
    let env = h.env();
    assert_eq!(
        show("found.example", "a", &env),
        "helper-user:helper-secret via helper regpeek-test"
    );
    assert_eq!(
        show("token.example", "a", &env),
        "identity Some(\"alice\") helper-identity-token via helper regpeek-test",
        "<token> user: identity token, user name from auths"
    );
    assert_eq!(
        show("notfound.example", "a", &env),
        "fallback:pw via file key notfound.example",
        "not found is not an error: the next source answers"
    );
    assert_eq!(
        show("garbage.example", "a", &env),
        "anonymous via unusable helper: credential helper docker-credential-regpeek-test printed something that is not JSON credentials"
    );
    let started = Instant::now();
    assert_eq!(
        show("hang.example", "a", &env),
        "anonymous via unusable helper: credential helper docker-credential-regpeek-test did not answer within 5s"
    );
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(
        show("broken.example", "a", &env),
        "anonymous via unusable helper: credential helper docker-credential-regpeek-test get failed: keychain is locked"
    );
    assert_eq!(
        show("missing.example", "a", &env),
        "anonymous via unusable helper: credential helper docker-credential-no-such-helper is configured but not found on PATH"
    );
}

#[test]
fn creds_store_applies_to_every_registry_without_entry() {
    let h = Home::new();
    h.write(
        ".docker/config.json",
        r#"{"credsStore":"regpeek-test","auths":{"found.example":{}}}"#,
    );
    let env = h.env();
    assert_eq!(
        show("found.example", "a", &env),
        "helper-user:helper-secret via helper regpeek-test"
    );
    assert_eq!(
        show("nothing.example", "a", &env),
        "anonymous via none (anonymous)"
    );
}

#[test]
fn containers_auth_json_namespaces_and_precedence() {
    let h = Home::new();
    h.write(
        ".config/containers/auth.json",
        &format!(
            r#"{{"auths":{{
                "quay.io":{{"auth":"{}"}},
                "quay.io/org":{{"auth":"{}"}},
                "quay.io/org/repo":{{"auth":"{}"}},
                "docker.io":{{"auth":"{}"}}
            }}}}"#,
            b64("host:1"),
            b64("org:2"),
            b64("repo:3"),
            b64("podman:hub")
        ),
    );
    h.write(
        ".docker/config.json",
        &format!(
            r#"{{"auths":{{"quay.io":{{"auth":"{}"}}}}}}"#,
            b64("docker:4")
        ),
    );
    let env = h.env();
    assert_eq!(
        show("quay.io", "org/repo", &env),
        "repo:3 via file key quay.io/org/repo"
    );
    assert_eq!(
        show("quay.io", "org/other", &env),
        "org:2 via file key quay.io/org"
    );
    assert_eq!(
        show("quay.io", "else/x", &env),
        "host:1 via file key quay.io"
    );
    assert_eq!(
        show("docker.io", "library/x", &env),
        "podman:hub via file key docker.io"
    );

    // XDG_RUNTIME_DIR comes first.
    h.write(
        "run/containers/auth.json",
        &format!(
            r#"{{"auths":{{"quay.io":{{"auth":"{}"}}}}}}"#,
            b64("runtime:0")
        ),
    );
    let mut env = h.env();
    env.xdg_runtime_dir = Some(h.dir.join("run"));
    assert_eq!(
        show("quay.io", "org/repo", &env),
        "runtime:0 via file key quay.io"
    );

    // REGISTRY_AUTH_FILE (or --authfile) is the only file read.
    let only = h.write("only.json", r#"{"auths":{}}"#);
    let mut env = h.env();
    env.auth_file = Some(only);
    assert_eq!(
        show("quay.io", "org/repo", &env),
        "anonymous via none (anonymous)"
    );
}

#[test]
fn docker_auth_config_env_comes_first() {
    let h = Home::new();
    h.write(
        ".docker/config.json",
        &format!(
            r#"{{"auths":{{"r.example":{{"auth":"{}"}}}}}}"#,
            b64("file:x")
        ),
    );
    let mut env = h.env();
    env.docker_auth_config = Some(format!(
        r#"{{"auths":{{"r.example":{{"auth":"{}"}}}}}}"#,
        b64("env:y")
    ));
    assert_eq!(
        show("r.example", "a", &env),
        "env:y via $DOCKER_AUTH_CONFIG"
    );
}

#[test]
fn broken_files_give_clear_errors_without_secrets() {
    let cases = [
        (
            r#"{"auths":{"r.example":{"auth":"hunter2-not-base64!!"}}}"#,
            "auths[\"r.example\"].auth is not valid base64",
        ),
        (
            r#"{"auths":{"r.example":{"auth":"aHVudGVyMg=="}}}"#,
            "auths[\"r.example\"].auth does not hold user:password",
        ),
        (
            r#"{"auths":{"r.example":{"auth":"Omh1bnRlcjI="}}}"#,
            "auths[\"r.example\"].auth has an empty user name",
        ),
        (
            r#"{"auths":{"r.example":{"username":"u"}}}"#,
            "auths[\"r.example\"] has a username but no password",
        ),
        (
            r#"{"auths":{"r.example":{"password":"hunter2"}}}"#,
            "auths[\"r.example\"] has a password but no username",
        ),
        (
            r#"{"auths":{"r.example":{"auth":"hunter2"#,
            "not valid JSON (line 1, column",
        ),
        (r#"["hunter2"]"#, "not a JSON object"),
    ];
    for (text, needle) in cases {
        let h = Home::new();
        h.write(".docker/config.json", text);
        let got = show("r.example", "a", &h.env());
        assert!(
            got.starts_with("error: ") && got.contains(needle),
            "{text}: {got}"
        );
        assert!(got.contains("config.json"), "names the file: {got}");
        assert!(!got.contains("hunter2"), "leaks a secret: {got}");
    }
    // Empty files and missing files are simply no credentials.
    let h = Home::new();
    h.write(".docker/config.json", "  \n");
    assert_eq!(
        show("r.example", "a", &h.env()),
        "anonymous via none (anonymous)"
    );
}

#[test]
fn store_and_erase_write_config_json_privately() {
    use std::os::unix::fs::PermissionsExt;
    let h = Home::new();
    h.write(
        ".docker/config.json",
        r#"{"auths":{"keep.example":{"auth":"a2VlcDpt"}},"psFormat":"table"}"#,
    );
    let env = h.env();
    let dest = store("new.example:5000", "bob", "s3cret", &env).unwrap();
    assert!(dest.ends_with(".docker/config.json"), "{dest}");
    let path = h.dir.join(".docker/config.json");
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        show("new.example:5000", "a", &env),
        "bob:s3cret via file key new.example:5000"
    );
    let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(doc["psFormat"], "table", "other settings survive");
    assert!(erase("new.example:5000", &env).unwrap());
    assert!(!erase("new.example:5000", &env).unwrap());
    assert_eq!(
        show("new.example:5000", "a", &env),
        "anonymous via none (anonymous)"
    );
    assert_eq!(
        show("keep.example", "a", &env),
        "keep:m via file key keep.example"
    );

    // Docker Hub is stored under its historical key.
    store("docker.io", "hub", "pw", &env).unwrap();
    let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert!(doc["auths"][super::DOCKER_HUB_CONFIG_KEY]["auth"].is_string());
}

#[test]
fn store_goes_to_the_configured_helper() {
    let h = Home::new();
    let log = h.dir.join("helper.log");
    h.write(
        ".docker/config.json",
        r#"{"credHelpers":{"found.example":"regpeek-test"}}"#,
    );
    let env = h.env();
    // The test helper appends to the log named in its environment; pass it through a
    // wrapper directory instead of touching this process's environment.
    let wrapper = h.write(
        "bin/docker-credential-regpeek-test",
        &format!(
            "#!/bin/sh\nREGPEEK_TEST_HELPER_LOG='{}' exec '{}' \"$@\"\n",
            log.display(),
            env.helper_dirs[0]
                .join("docker-credential-regpeek-test")
                .display()
        ),
    );
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mut env = env;
    env.helper_dirs = vec![h.dir.join("bin")];
    let dest = store("found.example", "bob", "s3cret", &env).unwrap();
    assert_eq!(dest, "credential helper docker-credential-regpeek-test");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.starts_with("store {"), "{logged}");
    let config = std::fs::read_to_string(h.dir.join(".docker/config.json")).unwrap();
    assert!(
        !config.contains("auths") && !config.contains("s3cret"),
        "config.json untouched: {config}"
    );
}

#[test]
fn namespaced_keys_match_only_their_namespace() {
    let h = Home::new();
    let f = h.write(
        "auth.json",
        &format!(
            r#"{{"auths":{{"reg.example/private":{{"auth":"{}"}}}}}}"#,
            b64("p:1")
        ),
    );
    let mut env = h.env();
    env.auth_file = Some(f);
    assert_eq!(
        show("reg.example", "private/app", &env),
        "p:1 via file key reg.example/private"
    );
    assert_eq!(
        show("reg.example", "public/app", &env),
        "anonymous via none (anonymous)"
    );
}

#[test]
fn a_broken_helper_falls_back_to_an_inline_entry_and_warns_once_per_lookup() {
    let h = Home::new();
    h.write(
        ".docker/config.json",
        &format!(
            r#"{{"credsStore":"nonexist","auths":{{"inline.example":{{"auth":"{}"}}}}}}"#,
            b64("inline:pw")
        ),
    );
    let env = h.env();
    let found = lookup("inline.example", "a", &env).unwrap();
    assert!(matches!(found.source, Source::File { .. }));
    let warning = found.warning.expect("a warning names the helper");
    assert!(
        warning.contains("docker-credential-nonexist") && warning.contains("config.json"),
        "{warning}"
    );
    let found = lookup("open.example", "a", &env).unwrap();
    assert!(found.credentials.is_none());
    assert!(matches!(found.source, Source::Unusable { ref name, .. } if name == "nonexist"));
    assert!(found.warning.is_some());
    // login refuses up front, naming the helper and the way out.
    let e = check_store("open.example", &env).unwrap_err().to_string();
    assert!(e.contains("docker-credential-nonexist"), "{e}");
    assert!(e.contains("credsStore") && e.contains("--authfile"), "{e}");
    // With --authfile, the helper is not where credentials go.
    let mut with_file = env.clone();
    with_file.auth_file = Some(h.dir.join("auth.json"));
    check_store("open.example", &with_file).unwrap();
}
