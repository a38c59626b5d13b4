//! Live tests: the `regpeek` binary against a real CNCF distribution registry
//! (`docker-registry`) that this test binary starts on 127.0.0.1 and seeds with the lab's
//! images. Nothing here reaches beyond loopback. If the registry cannot start, every
//! test fails saying why.

use std::process::{Command, Output};
use std::sync::OnceLock;

use regpeek_lab::Lab;

mod matrix;
mod trust;
use serde_json::{Value, json};

/// The lab `cargo xtask test` brought up (`REGPEEK_LAB`), or one started here.
fn lab() -> &'static Lab {
    static LAB: OnceLock<Lab> = OnceLock::new();
    LAB.get_or_init(|| {
        Lab::shared().unwrap_or_else(|e| panic!("cannot start the live-test lab: {e:#}"))
    })
}

/// A scratch directory, removed when dropped (on a failed test too, as the panic
/// unwinds): the live suite leaves nothing behind in the temp dir.
pub struct Scratch(tempfile::TempDir);

impl std::ops::Deref for Scratch {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        self.0.path()
    }
}

/// An empty directory to serve as `$HOME`, so no developer's real credentials, certs.d
/// or proxies leak into a test.
fn empty_home() -> Scratch {
    Scratch(
        tempfile::Builder::new()
            .prefix("regpeek-live-home-")
            .tempdir()
            .expect("creating a scratch $HOME"),
    )
}

/// `regpeek` in an isolated environment: a fresh `$HOME`, no proxies, no credential
/// variables. `env` adds variables, `stdin` feeds standard input.
fn regpeek_in(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_regpeek"));
    // Lives until regpeek has ended (the explicit `HOME` of `env` wins over it).
    let home = empty_home();
    cmd.args(args).env("HOME", &*home);
    for var in [
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "https_proxy",
        "http_proxy",
        "all_proxy",
        "no_proxy",
        "DOCKER_CONFIG",
        "REGISTRY_AUTH_FILE",
        "DOCKER_AUTH_CONFIG",
        "XDG_RUNTIME_DIR",
        "XDG_CONFIG_HOME",
        // Each run's cache lives in its fresh $HOME: tests never share one by accident.
        "XDG_CACHE_HOME",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(if stdin.is_some() {
        std::process::Stdio::piped()
    } else {
        std::process::Stdio::null()
    });
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("running regpeek");
    if let Some(text) = stdin {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().expect("running regpeek");
    assert_no_secret(
        &format!("the output of regpeek {args:?}"),
        &format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    );
    out
}

/// Fails when `text` (something regpeek printed or wrote) holds a secret of the lab:
/// its password, its identity token, a JWT its token issuer signed, or what the
/// hostile registry's `leaky` repository hands out and echoes. Every run of the live
/// suite goes through here (its stdout and stderr), and so does every recording.
fn assert_no_secret(what: &str, text: &str) {
    static JWT: OnceLock<regex::Regex> = OnceLock::new();
    let jwt = JWT.get_or_init(|| {
        regex::Regex::new(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.").unwrap()
    });
    let info = &lab().info;
    let mut secrets = vec![info.password.clone(), info.identity_token()];
    secrets.extend(regpeek_lab::hostile::LEAKY_SECRETS.map(String::from));
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "{what} holds a secret ({}…): {text}",
            &secret[..4]
        );
    }
    assert!(!jwt.is_match(text), "{what} holds a token: {text}");
}

/// Every file under `dir`, scanned with [`assert_no_secret`].
fn assert_no_secret_in_dir(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            assert_no_secret_in_dir(&path);
        } else if let Ok(bytes) = std::fs::read(&path) {
            assert_no_secret(
                &path.display().to_string(),
                &String::from_utf8_lossy(&bytes),
            );
        }
    }
}

fn regpeek(args: &[&str]) -> Output {
    regpeek_in(args, &[], None)
}

/// Runs regpeek, expects success, returns stdout.
fn ok(args: &[&str]) -> Vec<u8> {
    let out = regpeek(args);
    assert!(
        out.status.success(),
        "regpeek {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs regpeek, expects failure, returns stderr.
fn fails(args: &[&str]) -> String {
    let out = regpeek(args);
    assert!(!out.status.success(), "regpeek {args:?} should have failed");
    assert_eq!(
        out.status.code(),
        Some(1),
        "errors exit 1, never by a panic"
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.starts_with("regpeek: error: "), "{err}");
    err
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

/// A reference on the lab's open registry.
fn r(path: &str) -> String {
    format!("{}/{path}", lab().info.plain())
}

#[test]
fn inspect_rich_v2s2_image() {
    let lab = lab();
    let out = ok(&["inspect", &r("lab/rich:v1")]);
    assert_eq!(
        out.iter().filter(|b| **b == b'\n').count(),
        1,
        "compact JSON when piped"
    );
    let v = json(&out);
    let img = &lab.seeded.rich;
    assert_eq!(v["Name"], r("lab/rich"));
    assert_eq!(v["Tag"], "v1");
    assert_eq!(v["Digest"], img.manifest.digest);
    assert_eq!(
        v["MediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(v["Architecture"], "amd64");
    assert_eq!(v["Os"], "linux");
    assert_eq!(v["Created"], "2024-01-02T03:04:05Z");
    assert_eq!(v["DockerVersion"], "24.0.7");
    assert_eq!(v["Author"], "regpeek lab");
    assert_eq!(v["Env"][1], "LAB_GREETING=hello world");
    assert_eq!(v["Labels"]["com.example.multi-line"], "a\nb");
    assert_eq!(
        v["Entrypoint"],
        serde_json::json!(["/docker-entrypoint.sh"])
    );
    assert_eq!(v["Cmd"], serde_json::json!(["serve", "--port", "8080"]));
    assert_eq!(v["WorkingDir"], "/srv/app");
    assert_eq!(v["User"], "app:app");
    assert_eq!(
        v["ExposedPorts"],
        serde_json::json!(["8080/tcp", "9090/udp"])
    );
    assert_eq!(v["Volumes"], serde_json::json!(["/cache", "/data"]));
    assert_eq!(v["StopSignal"], "SIGQUIT");
    assert_eq!(v["History"], 4);
    // A single-platform image: its own platform, from its config.
    assert_eq!(v["Platform"], "linux/amd64");
    assert_eq!(v["Platforms"], serde_json::json!(["linux/amd64"]));
    let layers: Vec<&str> = img.layers.iter().map(|l| l.digest.as_str()).collect();
    assert_eq!(v["Layers"], serde_json::json!(layers));
    assert_eq!(v["LayersData"][2]["Size"], img.layers[2].bytes.len());
    assert_eq!(
        v["LayersData"][0]["MIMEType"],
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    );
}

#[test]
fn inspect_multi_arch_index_picks_platform_and_skips_attestation() {
    let lab = lab();
    let idx = &lab.seeded.multi;
    let v = json(&ok(&[
        "inspect",
        &r("lab/multi:v1"),
        "--platform",
        "linux/amd64",
    ]));
    assert_eq!(
        v["Digest"], idx.index.digest,
        "Digest is the index's, as skopeo reports"
    );
    assert_eq!(v["MediaType"], "application/vnd.oci.image.index.v1+json");
    assert_eq!(v["ManifestDigest"], idx.children[1].manifest.digest);
    assert_eq!(v["Platform"], "linux/amd64");
    assert_eq!(
        v["Platforms"],
        serde_json::json!(["linux/amd64", "linux/arm64/v8", "linux/arm/v7"])
    );
    assert_eq!(v["Attestations"], 1);
    assert_eq!(v["Labels"]["lab.platform"], "linux/amd64");

    let v = json(&ok(&[
        "inspect",
        &r("lab/multi:v1"),
        "--platform",
        "linux/arm/v7",
    ]));
    assert_eq!(v["ManifestDigest"], idx.children[3].manifest.digest);
    assert_eq!(v["Architecture"], "arm");
    assert_eq!(v["Variant"], "v7");
    assert_eq!(v["Env"][1], "LAB_PLATFORM=linux/arm/v7");

    // aarch64 normalises to arm64, which matches arm64/v8.
    let v = json(&ok(&[
        "inspect",
        &r("lab/multi"),
        "--platform",
        "linux/aarch64",
    ]));
    assert_eq!(v["ManifestDigest"], idx.children[2].manifest.digest);
    assert_eq!(v["Tag"], "latest");
}

#[test]
fn manifest_and_config_are_exact_bytes() {
    let lab = lab();
    assert_eq!(
        ok(&["manifest", &r("lab/rich:v1")]),
        lab.seeded.rich.manifest.bytes
    );
    assert_eq!(
        ok(&["manifest", &r("lab/multi:v1")]),
        lab.seeded.multi.index.bytes
    );
    assert_eq!(
        ok(&["manifest", &r("lab/multi:v1"), "--platform", "linux/arm64"]),
        lab.seeded.multi.children[2].manifest.bytes
    );
    assert_eq!(
        ok(&["config", &r("lab/rich:v1")]),
        lab.seeded.rich.config.bytes
    );
    assert_eq!(
        ok(&["config", &r("lab/multi:v1"), "--platform", "linux/arm/v7"]),
        lab.seeded.multi.children[3].config.bytes
    );
}

#[test]
fn digest_by_head_and_by_platform() {
    let lab = lab();
    let d = String::from_utf8(ok(&["digest", &r("lab/multi:v1")])).unwrap();
    assert_eq!(d.trim(), lab.seeded.multi.index.digest);
    let d = String::from_utf8(ok(&[
        "digest",
        &r("lab/multi:v1"),
        "--platform",
        "linux/arm64",
    ]))
    .unwrap();
    assert_eq!(d.trim(), lab.seeded.multi.children[2].manifest.digest);
    let pinned = format!("{}@{}", r("lab/rich"), lab.seeded.rich.manifest.digest);
    let d = String::from_utf8(ok(&["digest", &pinned])).unwrap();
    assert_eq!(d.trim(), lab.seeded.rich.manifest.digest);
    let v = json(&ok(&["inspect", &pinned, "--plain-http"]));
    assert_eq!(v["Digest"], lab.seeded.rich.manifest.digest);
}

#[test]
fn ref_shows_normalisation_without_network() {
    let v = json(&ok(&["ref", "nginx"]));
    assert_eq!(v["canonical"], "docker.io/library/nginx:latest");
    assert_eq!(v["familiar"], "nginx:latest");
    assert_eq!(v["repository"], "library/nginx");
    assert_eq!(v["api_base"], "https://registry-1.docker.io");
    let v = json(&ok(&[
        "ref",
        "localhost:5000/a/b@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ]));
    assert_eq!(v["registry"], "localhost:5000");
    assert_eq!(v["tag"], Value::Null);
    assert_eq!(v["http_fallback"], true);
    let v = json(&ok(&["ref", "localhost:5000/a", "--plain-http"]));
    assert_eq!(v["api_base"], "http://localhost:5000");
}

#[test]
fn errors_are_one_clear_line() {
    let err = fails(&["inspect", &r("lab/rich:nope")]);
    assert!(err.contains("MANIFEST_UNKNOWN: manifest unknown"), "{err}");
    assert!(err.contains("lab/rich:nope"), "{err}");

    let err = fails(&["inspect", &r("lab/missing")]);
    assert!(
        err.contains("no tag was given, so \"latest\" was used"),
        "{err}"
    );

    let err = fails(&["inspect", "Nginx"]);
    assert!(
        err.contains(r#"invalid reference "Nginx": repository name must be lowercase"#),
        "{err}"
    );

    let err = fails(&["inspect", &r("lab/multi:v1"), "--platform", "linux/s390x"]);
    assert!(
        err.contains("no image for platform linux/s390x")
            && err.contains("linux/amd64, linux/arm64/v8, linux/arm/v7"),
        "{err}"
    );
    assert!(
        !err.contains("unknown"),
        "attestations are not offered: {err}"
    );

    // A value that cannot be right is a usage error: exit 2, before any request.
    let out = regpeek(&["inspect", &r("lab/rich:v1"), "--platform", "linux//x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("invalid platform"), "{out:?}");

    let err = fails(&["inspect", &r("lab/rich:v1"), "--creds", "nopassword"]);
    assert!(
        err.contains("no password for nopassword: there is no terminal to ask on"),
        "{err}"
    );

    let err = fails(&[
        "config",
        &r("lab/rich:v1"),
        "--ca-file",
        "/nonexistent/ca.pem",
    ]);
    assert!(err.contains("reading CA file /nonexistent/ca.pem"), "{err}");
}

#[test]
fn unreachable_registry_is_a_clear_error() {
    let dead = lab().info.dead();
    let err = fails(&["inspect", &format!("{dead}/x"), "--plain-http"]);
    assert!(err.contains("cannot connect"), "{err}");
    assert!(err.contains(&dead), "{err}");
}

#[test]
fn verbose_trace_goes_to_stderr_and_redacts() {
    let out = regpeek(&[
        "digest",
        &r("lab/rich:v1"),
        "-v",
        "--creds",
        "someone:hunter2",
    ]);
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("> HEAD https://"),
        "tries https first on loopback: {err}"
    );
    assert!(err.contains("TLS handshake failed"), "{err}");
    assert!(
        err.contains("> HEAD http://"),
        "then falls back to http: {err}"
    );
    assert!(err.contains("< docker-content-digest:"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    // An open registry never challenges, so the credentials are never sent.
    assert!(!err.contains("authorization"), "{err}");
}

// ---- Every auth mode of the lab (token, Basic over TLS), listings, and bad input ----

/// A reference on the lab's token-auth registry.
fn t(path: &str) -> String {
    format!("{}/{path}", lab().info.token())
}

/// A reference on the lab's Basic-over-TLS registry.
fn b(path: &str) -> String {
    format!("{}/{path}", lab().info.basic())
}

fn ca() -> String {
    lab().info.ca_file().display().to_string()
}

fn creds() -> String {
    lab().info.creds()
}

fn skopeo(args: &[&str]) -> Value {
    let out = Command::new("skopeo").args(args).output().expect(
        "skopeo is not installed: run `cargo xtask test` (installs it) or apt-get install skopeo",
    );
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(&out.stdout)
}

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn tags_follow_pagination_and_match_skopeo() {
    let want: Vec<String> = regpeek_lab::image::many_tag_names();
    let ours = lines(&ok(&["tags", &r("lab/many-tags")]));
    assert_eq!(ours, want, "150 tags over the pager's default pages of 50");
    let theirs = skopeo(&[
        "list-tags",
        "--tls-verify=false",
        &format!("docker://{}", r("lab/many-tags")),
    ]);
    assert_eq!(json!(ours), theirs["Tags"]);

    // Pages of 40: four requests, Link relative then absolute.
    let out = regpeek(&[
        "tags",
        &r("lab/many-tags"),
        "--page-size",
        "40",
        "-v",
        "--plain-http",
    ]);
    assert!(out.status.success());
    let trace = String::from_utf8(out.stderr).unwrap();
    assert_eq!(trace.matches("> GET ").count(), 4, "{trace}");
    assert!(trace.contains("< link: </v2/"), "{trace}");
    assert!(trace.contains("< link: <http://"), "{trace}");
    assert_eq!(lines(&out.stdout), want);

    let out = regpeek(&["tags", &r("lab/many-tags"), "--limit", "7", "--json"]);
    assert!(out.status.success());
    let v = json(&out.stdout);
    assert_eq!(v["Tags"], json!(want[..7]));
    assert_eq!(v["Repository"], r("lab/many-tags"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stopped after --limit 7"));

    // Token registry, anonymous pull of a public repository.
    let ours = lines(&ok(&["tags", &t("public/many-tags")]));
    let theirs = skopeo(&[
        "list-tags",
        "--tls-verify=false",
        &format!("docker://{}", t("public/many-tags")),
    ]);
    assert_eq!(json!(ours), theirs["Tags"]);
    assert_eq!(ours.len(), 150);

    // Basic over TLS with the lab CA.
    let ours = lines(&ok(&[
        "tags",
        &b("lab/rich"),
        "--ca-file",
        &ca(),
        "--creds",
        &creds(),
    ]));
    let cert_dir = lab().info.cert_dir().display().to_string();
    let theirs = skopeo(&[
        "list-tags",
        "--cert-dir",
        &cert_dir,
        "--creds",
        &creds(),
        &format!("docker://{}", b("lab/rich")),
    ]);
    assert_eq!(json!(ours), theirs["Tags"]);
    assert_eq!(ours, ["latest", "v1"]);
}

#[test]
fn catalog_lists_repositories() {
    let repos = lines(&ok(&["catalog", &lab().info.plain()]));
    for want in ["lab/many-layers", "lab/many-tags", "lab/multi", "lab/rich"] {
        assert!(repos.contains(&want.to_owned()), "{repos:?}");
    }
    let repos = lines(&ok(&["catalog", &lab().info.token(), "--creds", &creds()]));
    assert!(repos.contains(&"private/rich".to_owned()), "{repos:?}");
    let err = fails(&["catalog", &lab().info.token()]);
    assert!(
        err.contains("catalog of") && err.contains("access denied"),
        "{err}"
    );
    let err = fails(&["catalog"]);
    assert!(err.contains("Docker Hub has no catalog API"), "{err}");
}

/// skopeo (Debian's) is the peer: on every registry of the lab, in each auth mode and
/// for each platform, both must agree.
#[test]
fn agrees_with_skopeo_in_every_auth_mode() {
    let cert_dir = lab().info.cert_dir().display().to_string();
    let c = creds();
    let ca = ca();
    let cases: Vec<(String, &str, Vec<&str>, Vec<&str>)> = vec![
        (
            r("lab/rich:v1"),
            "linux/amd64",
            vec!["--tls-verify=false"],
            vec![],
        ),
        (
            r("lab/multi:v1"),
            "linux/arm/v7",
            vec!["--tls-verify=false"],
            vec![],
        ),
        (
            r("lab/multi:v1"),
            "linux/amd64",
            vec!["--tls-verify=false"],
            vec![],
        ),
        (
            r("lab/many-layers:v1"),
            "linux/amd64",
            vec!["--tls-verify=false"],
            vec![],
        ),
        (
            t("public/rich:v1"),
            "linux/amd64",
            vec!["--tls-verify=false"],
            vec![],
        ),
        (
            t("public/multi:v1"),
            "linux/arm64",
            vec!["--tls-verify=false"],
            vec![],
        ),
        (
            t("private/rich:v1"),
            "linux/amd64",
            vec!["--tls-verify=false", "--creds", &c],
            vec!["--creds", &c],
        ),
        (
            b("lab/rich:v1"),
            "linux/amd64",
            vec!["--cert-dir", &cert_dir, "--creds", &c],
            vec!["--ca-file", &ca, "--creds", &c],
        ),
        (
            b("lab/multi:v1"),
            "linux/arm/v7",
            vec!["--cert-dir", &cert_dir, "--creds", &c],
            vec!["--ca-file", &ca, "--creds", &c],
        ),
    ];
    for (image, platform, skopeo_flags, our_flags) in cases {
        let (os, rest) = platform.split_once('/').unwrap();
        let (arch, variant) = rest
            .split_once('/')
            .map_or((rest, None), |(a, v)| (a, Some(v)));
        let mut args = vec!["--override-os", os, "--override-arch", arch];
        if let Some(v) = variant {
            args.extend(["--override-variant", v]);
        }
        args.push("inspect");
        args.extend(skopeo_flags);
        let url = format!("docker://{image}");
        args.push(&url);
        let theirs = skopeo(&args);
        let mut ours_args = vec!["inspect", image.as_str(), "--platform", platform];
        ours_args.extend(our_flags);
        let ours = json(&ok(&ours_args));
        for field in [
            "Name",
            "Digest",
            "Architecture",
            "Os",
            "Env",
            "Labels",
            "Layers",
            "Created",
            "DockerVersion",
        ] {
            assert_eq!(
                ours[field], theirs[field],
                "{image} {platform}: field {field}"
            );
        }
        if let Some(data) = theirs.get("LayersData") {
            assert_eq!(&ours["LayersData"], data, "{image} {platform}: LayersData");
        }
    }
    assert_eq!(
        json(&ok(&["inspect", &r("lab/many-layers:v1")]))["Layers"]
            .as_array()
            .unwrap()
            .len(),
        40
    );
}

/// Configs come through the CDN redirect; the CDN host never sees an Authorization
/// header, whether the registry used tokens or Basic.
#[test]
fn cdn_never_receives_authorization() {
    let info = &lab().info;
    ok(&["config", &t("private/rich:v1"), "--creds", &creds()]);
    ok(&[
        "config",
        &b("lab/multi:v1"),
        "--ca-file",
        &ca(),
        "--creds",
        &creds(),
        "--platform",
        "linux/arm64",
    ]);
    ok(&["config", &r("lab/rich:v1")]);
    let log = std::fs::read_to_string(info.cdn_log()).expect("CDN log");
    let ports = [
        info.ports.cdn_token,
        info.ports.cdn_https,
        info.ports.cdn_plain,
    ];
    for port in ports {
        assert!(
            log.lines()
                .any(|l| l.starts_with(&format!("{port} ")) && l.contains(" 200 ")),
            "no CDN download on port {port}:\n{log}"
        );
    }
    for line in log.lines() {
        assert!(
            line.ends_with("authorization=\"-\""),
            "the CDN received credentials: {line}"
        );
    }
}

#[test]
fn bad_credentials_and_broken_auth_are_clear_errors() {
    let info = &lab().info;
    let wrong = format!("{}:wrong-password", regpeek_lab::token::USER);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "inspect".into(),
                t("private/rich:v1"),
                "--creds".into(),
                wrong.clone(),
            ],
            "rejected the credentials for user \"lab-user\"",
        ),
        (
            vec![
                "inspect".into(),
                b("lab/rich:v1"),
                "--ca-file".into(),
                ca(),
                "--creds".into(),
                wrong.clone(),
            ],
            "rejected the credentials for user \"lab-user\"",
        ),
        (
            vec!["inspect".into(), b("lab/rich:v1"), "--ca-file".into(), ca()],
            "authentication required by",
        ),
        (
            vec![
                "inspect".into(),
                b("lab/rich:v1"),
                "--creds".into(),
                creds(),
            ],
            "TLS certificate not trusted",
        ),
        (
            vec!["inspect".into(), t("private/rich:v1")],
            "access denied to anonymous requests: it needs credentials, or does not exist: UNAUTHORIZED: authentication required",
        ),
        (
            vec![
                "inspect".into(),
                t("private/rich:nope"),
                "--creds".into(),
                creds(),
            ],
            "MANIFEST_UNKNOWN",
        ),
        (
            vec![
                "inspect".into(),
                format!("{}/public/rich:v1", info.issuer_down()),
            ],
            "token server http://127.0.0.1:",
        ),
        (
            vec![
                "inspect".into(),
                t("private/rich:v1"),
                "--creds".into(),
                format!("{}:{}", regpeek_lab::token::EXPIRED_USER, info.password),
            ],
            "(invalid_token)",
        ),
        (
            vec![
                "inspect".into(),
                t("private/rich:v1"),
                "--creds".into(),
                format!("{}:{}", regpeek_lab::token::GARBAGE_USER, info.password),
            ],
            "(invalid_token)",
        ),
    ];
    for (args, needle) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let err = fails(&args);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(
            err.lines()
                .filter(|l| l.starts_with("regpeek: error:"))
                .count(),
            1,
            "{err}"
        );
        assert!(
            !err.contains(&info.password) && !err.contains("wrong-password"),
            "secret leaked: {err}"
        );
    }
}

// ---- Credentials, TLS and network conventions (config files, helpers, certs.d, proxies) ----

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn write(path: &std::path::Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn ok_in(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let out = regpeek_in(args, env, stdin);
    assert!(
        out.status.success(),
        "regpeek {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

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

/// A fresh `$HOME` whose `~/.config/containers/certs.d/<mTLS registry>` holds the lab
/// CA and the client certificate and key.
fn home_with_mtls_certs_d() -> Scratch {
    let info = &lab().info;
    let home = empty_home();
    let d = home.join(".config/containers/certs.d").join(info.mtls());
    for f in ["ca.crt", "client.cert", "client.key"] {
        write(
            &d.join(f),
            &std::fs::read_to_string(info.cert_dir().join(f)).unwrap(),
        );
    }
    home
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

#[test]
fn proxies_from_the_environment() {
    let info = &lab().info;
    let count = || {
        std::fs::read_to_string(info.proxy_log())
            .unwrap_or_default()
            .lines()
            .count()
    };
    let before = count();
    let proxy = info.proxy();
    let out = ok_in(
        &["digest", &r("lab/rich:v1"), "--plain-http"],
        &[("HTTPS_PROXY", proxy.as_str())],
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        lab().seeded.rich.manifest.digest
    );
    let log = std::fs::read_to_string(info.proxy_log()).unwrap();
    assert!(count() > before, "the proxy saw nothing: {log}");
    assert!(
        log.contains(&format!("CONNECT {} allowed", info.plain())),
        "{log}"
    );
    let before = count();
    ok_in(
        &["digest", &r("lab/rich:v1"), "--plain-http"],
        &[("HTTPS_PROXY", proxy.as_str()), ("NO_PROXY", "127.0.0.1")],
        None,
    );
    assert_eq!(count(), before, "NO_PROXY was not honoured");
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

/// Runs regpeek on a pseudo-terminal (`script`, from Debian's essential bsdutils) with
/// `env` set, answering each `(prompt, line)` in turn: the line is typed once the
/// prompt is on the screen, and half a second later (the prompt is written just
/// before echo is turned off; typed ahead, the terminal would echo what a later
/// prompt hides). Returns the screen.
fn on_a_terminal_with(args: &[&str], env: &[(&str, &str)], answers: &[(&str, &str)]) -> String {
    use std::io::{Read as _, Write as _};
    use std::sync::{Arc, Mutex};
    let cmd = std::iter::once(env!("CARGO_BIN_EXE_regpeek").to_owned())
        .chain(args.iter().map(|a| format!("'{a}'")))
        .collect::<Vec<_>>()
        .join(" ");
    let home = empty_home();
    let mut c = Command::new("script");
    c.args(["-qec", &cmd, "/dev/null"])
        .env("HOME", &*home)
        .env_remove("NO_COLOR")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c
        .spawn()
        .expect("script (bsdutils) is needed for terminal tests");
    let screen = Arc::new(Mutex::new(Vec::<u8>::new()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = {
        let screen = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stdout.read(&mut buf) {
                screen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let mut stdin = child.stdin.take().unwrap();
    let mut seen = 0;
    for (prompt, line) in answers {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let text = String::from_utf8_lossy(&screen.lock().unwrap()).into_owned();
            if let Some(at) = text.get(seen..).and_then(|rest| rest.find(prompt)) {
                seen += at + prompt.len();
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no prompt {prompt:?} within 30 s: {text}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        let _ = stdin.write_all(line.as_bytes());
        let _ = stdin.write_all(b"\n");
        let _ = stdin.flush();
    }
    drop(stdin);
    let _ = child.wait();
    reader.join().unwrap();
    let screen = screen.lock().unwrap();
    String::from_utf8_lossy(&screen).into_owned()
}

/// [`on_a_terminal_with`] without environment.
fn on_a_terminal(args: &[&str], answers: &[(&str, &str)]) -> String {
    on_a_terminal_with(args, &[], answers)
}

/// [`on_a_terminal_with`], typing nothing.
fn on_a_terminal_env(args: &[&str], env: &[(&str, &str)]) -> String {
    on_a_terminal_with(args, env, &[])
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

// --- Adversity: a hostile registry (regpeek_lab::hostile) -------------------------

/// The hostile registry, started once for this test binary.
fn hostile() -> &'static regpeek_lab::hostile::Hostile {
    static H: OnceLock<regpeek_lab::hostile::Hostile> = OnceLock::new();
    H.get_or_init(|| {
        regpeek_lab::hostile::Hostile::start()
            .unwrap_or_else(|e| panic!("cannot start the hostile registry: {e:#}"))
    })
}

/// Runs regpeek against the hostile registry with `--timeout secs`; asserts it failed
/// with exit 1 (not a panic), one line of error on stderr, within the deadline plus a
/// margin; returns stderr. The product bound is deadline + 1 s; the test allows 2.5 s
/// so that a loaded CI machine does not make it flaky (a broken deadline takes 10 s
/// or more, so it still fails).
fn fails_within(args: &[&str], secs: u64) -> String {
    let timeout = secs.to_string();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--plain-http", "--timeout", &timeout]);
    let start = std::time::Instant::now();
    let out = regpeek(&all);
    let took = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "regpeek {all:?}: {stderr}");
    assert!(
        took < std::time::Duration::from_millis(secs * 1000 + 2500),
        "regpeek {all:?} took {took:?} with --timeout {secs}: {stderr}"
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("hint:")).collect();
    assert_eq!(lines.len(), 1, "one line of error: {stderr}");
    assert!(lines[0].starts_with("regpeek: error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn a_silent_registry_ends_at_the_deadline() {
    let r = format!("{}/silent:v1", hostile().addr());
    let e = fails_within(&["digest", &r], 2);
    assert!(e.contains("timed out waiting for the response"), "{e}");
    // The stage in words, not the transport's own names for its timers.
    assert!(
        !e.contains("timeout: global") && !e.contains("Timeout"),
        "{e}"
    );
    assert!(e.contains("hint: "), "{e}");
}

#[test]
fn a_silent_token_server_ends_at_the_deadline() {
    let r = format!("{}/silent-token:v1", hostile().addr());
    let e = fails_within(&["digest", &r], 2);
    assert!(e.contains("timed out waiting for the response"), "{e}");
    assert!(e.contains("/token-silent"), "names the token server: {e}");
}

#[test]
fn a_silent_registry_is_dropped_after_10s_idle_even_without_a_deadline() {
    let r = format!("{}/silent:v1", hostile().addr());
    let start = std::time::Instant::now();
    let out = regpeek(&["digest", &r, "--plain-http", "--timeout", "0"]);
    let took = start.elapsed();
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{e}");
    assert!(e.contains("timed out waiting for the response"), "{e}");
    assert!(
        took >= std::time::Duration::from_secs(9) && took < std::time::Duration::from_secs(14),
        "idle timeout is 10 s, took {took:?}"
    );
}

#[test]
fn a_dripping_head_ends_at_the_deadline() {
    let r = format!("{}/drip:v1", hostile().addr());
    let e = fails_within(&["manifest", &r], 3);
    assert!(e.contains("timed out waiting for the response"), "{e}");
}

#[test]
fn a_dripping_body_ends_at_the_deadline() {
    let r = format!("{}/drip-body:v1", hostile().addr());
    let e = fails_within(&["manifest", &r], 3);
    assert!(e.contains("timed out reading the body"), "{e}");
}

#[test]
fn endless_headers_end_quickly() {
    let r = format!("{}/endless-headers:v1", hostile().addr());
    let e = fails_within(&["manifest", &r], 5);
    assert!(e.contains("registry http://127.0.0.1:"), "{e}");
}

#[test]
fn a_huge_manifest_is_cut_at_its_cap() {
    let r = format!("{}/huge:v1", hostile().addr());
    let e = fails_within(&["manifest", &r], 10);
    assert!(
        e.contains("response body exceeds the 4194304-byte limit"),
        "{e}"
    );
}

#[test]
fn escape_sequences_from_the_registry_never_reach_the_terminal() {
    let r = format!("{}/esc:v1", hostile().addr());
    let e = fails_within(&["inspect", &r], 5);
    assert!(e.contains(r"\x1b[31mred\x1b]0;pwned\x07"), "{e}");
    assert!(e.contains(r"\u{202e}txt.exe"), "{e}");
    assert!(
        !e.chars()
            .any(|c| (c.is_control() && c != '\n') || c == '\u{202e}'),
        "raw control characters on stderr: {e:?}"
    );
}

#[test]
fn a_token_that_never_expires_does_not_overflow() {
    let r = format!("{}/expires:v1", hostile().addr());
    let out = regpeek(&["digest", &r, "--plain-http", "--timeout", "10"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let want = regpeek_lab::image::sha256(regpeek_lab::hostile::MANIFEST);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), want);
}

#[test]
fn a_reset_after_the_headers_is_retried_then_reported() {
    let r = format!("{}/reset:v1", hostile().addr());
    // Three retries back off 0.5 + 1 + 2 s at most.
    let e = fails_within(&["manifest", &r], 8);
    assert!(e.contains("connection reset or closed early"), "{e}");
}

#[test]
fn a_retry_after_past_the_deadline_is_reported_at_once() {
    let r = format!("{}/slow-retry:v1", hostile().addr());
    let start = std::time::Instant::now();
    let e = fails_within(&["digest", &r], 5);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(3),
        "waited instead of reporting: {e}"
    );
    assert!(
        e.contains("timed out waiting to retry after HTTP 503"),
        "{e}"
    );
}

#[test]
fn a_server_that_never_accepts_ends_at_the_deadline() {
    let r = format!("{}/x:v1", hostile().never_accepts());
    let e = fails_within(&["digest", &r], 2);
    assert!(e.contains("timed out connecting"), "{e}");
}

#[test]
fn bad_timeouts_are_usage_errors() {
    for bad in ["-1", "abc", "1e99", "NaN"] {
        let out = regpeek(&["digest", "localhost:5000/x", "--timeout", bad]);
        assert_eq!(out.status.code(), Some(2), "--timeout {bad}");
    }
}

#[test]
fn references_the_flow_cannot_request_are_refused_before_any_network() {
    for (input, why) in [
        ("localhost:99999999/x", "invalid port \"99999999\""),
        ("[:::::]:5000/x", "invalid IPv6 address"),
        ("999.1.1.1:5000/x", "invalid IPv4 address"),
    ] {
        let out = regpeek(&["inspect", input]);
        let e = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{input}: {e}");
        assert!(e.contains(why), "{input}: {e}");
        assert!(!e.contains("panicked"), "{input}: {e}");
    }
}

// --- Recordings for users: --record DIR, regpeek replay DIR ---------------------

/// Records `args` into a fresh directory, then replays it offline; both must print
/// the same thing and exit the same way, and the recording holds no secret.
fn record_then_replay(args: &[&str]) -> (Output, Output, String) {
    let scratch = empty_home();
    let dir = scratch.join("recording");
    let mut all = vec!["--record", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    let live = regpeek(&all);
    let text = std::fs::read_to_string(dir.join("exchanges.http"))
        .unwrap_or_else(|e| panic!("no recording for {args:?}: {e}"));
    assert_no_secret_in_dir(&dir);
    let replayed = regpeek(&["replay", dir.to_str().unwrap()]);
    assert_eq!(
        String::from_utf8_lossy(&live.stdout),
        String::from_utf8_lossy(&replayed.stdout),
        "{args:?}: replay printed something else"
    );
    assert_eq!(live.status.code(), replayed.status.code(), "{args:?}");
    (live, replayed, text)
}

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

// --- Habits of skopeo, crane and docker users; clear errors ----------------------

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
    // Other skopeo transports are refused clearly.
    let out = regpeek(&["inspect", "oci:/tmp/layout:tag"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("regpeek reads registries only"),
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
    let version = String::from_utf8(ok(&["--version"])).unwrap();
    assert!(
        version.starts_with("regpeek ") && version.contains("(commit "),
        "{version}"
    );
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

// --- All platforms at once, sizes ---------------------------------------------------

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

// --- diff ----------------------------------------------------------------------

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

// --- --jq ------------------------------------------------------------------------

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
        (vec!["digest", &dead, "--jq", "."], "prints none"),
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
    // Each command's help lists its own flags only.
    let help = String::from_utf8(ok(&["completions", "--help"])).unwrap();
    assert!(!help.contains("--creds"), "{help}");
    let out = regpeek(&["-v", "completions", "bash"]);
    assert_eq!(out.status.code(), Some(2));
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

// --- referrers -------------------------------------------------------------------

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

// --- The cache across runs --------------------------------------------------------

/// The requests regpeek sent, from its `-v` trace.
fn requests(out: &Output) -> Vec<String> {
    stderr_of(out)
        .lines()
        .filter(|l| l.starts_with("> ") && l.contains(" http"))
        .map(|l| l[2..].to_owned())
        .collect()
}

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
    let tokens = cache.join("tokens.json");
    let mode = std::fs::metadata(&tokens).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let dir_mode = std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700);
    let text = std::fs::read_to_string(&tokens).unwrap();
    assert!(!text.contains(&info.password), "a password on disk");
    assert!(
        !text.contains("lab-user"),
        "the user name is hashed: {text}"
    );
    // Logout drops that registry's tokens.
    let home = empty_home();
    let env = [("HOME", home.to_str().unwrap())];
    ok_in(&["--cache-dir", dir, "logout", &info.token()], &env, None);
    assert!(
        !std::fs::read_to_string(&tokens)
            .unwrap()
            .contains("\"token\":\"ey")
    );
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

// --- Batches -----------------------------------------------------------------------

#[test]
fn a_batch_prints_one_line_per_reference_in_input_order() {
    let plain = lab().info.plain();
    let rich = format!("{plain}/lab/rich:v1");
    let missing = format!("{plain}/lab/nope:v1");
    let multi = t("public/multi:v1");
    let out = regpeek(&["digest", &rich, &multi, &rich, &missing]);
    assert_eq!(out.status.code(), Some(1), "one failed: exit 1");
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["Reference"], rich.as_str());
    assert_eq!(
        lines[0]["Digest"],
        lab().seeded.rich.manifest.digest.as_str()
    );
    assert_eq!(lines[1]["Reference"], multi.as_str());
    assert_eq!(lines[2], lines[0], "identical references, one answer");
    assert!(
        lines[3]["Error"]
            .as_str()
            .unwrap()
            .contains("MANIFEST_UNKNOWN"),
        "{}",
        lines[3]
    );
}

#[test]
fn a_batch_challenges_a_registry_and_fetches_a_token_once() {
    let refs: Vec<String> = (0..12)
        .map(|i| t(&format!("public/many-tags:t{i:03}")))
        .collect();
    let mut args = vec!["-v", "digest", "--jobs", "4"];
    args.extend(refs.iter().map(String::as_str));
    let out = regpeek(&args);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let sent = requests(&out);
    let tokens = sent.iter().filter(|r| r.contains("/token?")).count();
    let unauthorised = stderr_of(&out).matches("< HTTP/1.1 401").count();
    assert_eq!(tokens, 1, "{sent:?}");
    assert_eq!(unauthorised, 1, "{}", stderr_of(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 12);
}

#[test]
fn a_batch_reads_files_compose_kubernetes_and_dockerfiles() {
    let plain = lab().info.plain();
    let dir = empty_home();
    let list = dir.join("refs.txt");
    write(
        &list,
        &format!("# images\n{plain}/lab/rich:v1\n\n{plain}/lab/multi:v1  # the index\n"),
    );
    let out = ok(&["digest", "--file", list.to_str().unwrap()]);
    assert_eq!(String::from_utf8(out).unwrap().lines().count(), 2);
    let out = ok_in(
        &["digest", "--file", "-"],
        &[],
        Some(&format!("{plain}/lab/rich:v1\n")),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);

    let compose = dir.join("compose.yaml");
    write(
        &compose,
        &format!(
            "services:\n  web:\n    image: {plain}/lab/rich:v1\n  worker:\n    image: {plain}/lab/multi:v1\n  local:\n    build: .\n"
        ),
    );
    let k8s = dir.join("deploy.yaml");
    write(
        &k8s,
        &format!(
            "kind: Pod\nspec:\n  initContainers:\n    - image: {plain}/lab/rich:v1\n  containers:\n    - image: {plain}/lab/multi:v1\n---\nkind: Job\nspec:\n  template:\n    spec:\n      containers:\n        - image: {plain}/lab/many-layers:v1\n"
        ),
    );
    let dockerfile = dir.join("Dockerfile");
    write(
        &dockerfile,
        &format!(
            "ARG REG={plain}\nFROM ${{REG}}/lab/rich:v1 AS build\nFROM build\nFROM ${{REG}}/lab/multi:v1\n"
        ),
    );
    for (path, n) in [(&compose, 2), (&k8s, 3), (&dockerfile, 2)] {
        let out = ok(&["digest", "--from", path.to_str().unwrap()]);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), n, "{}: {text}", path.display());
        assert!(!text.contains("Error"), "{text}");
    }
}

#[test]
fn two_batches_sharing_a_cache_both_succeed() {
    let cache_home = empty_home();
    let cache = cache_home.join("cache");
    let dir = cache.to_str().unwrap().to_owned();
    let refs: Vec<String> = ["public/rich:v1", "public/multi:v1", "public/many-layers:v1"]
        .iter()
        .map(|r| t(r))
        .collect();
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (dir, refs) = (dir.clone(), refs.clone());
            std::thread::spawn(move || {
                let mut args = vec!["--cache-dir", dir.as_str(), "inspect"];
                args.extend(refs.iter().map(String::as_str));
                regpeek(&args)
            })
        })
        .collect();
    for h in handles {
        let out = h.join().unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
    }
    let info = json(&ok(&["--cache-dir", &dir, "cache", "info"]));
    assert!(info["Blobs"].as_u64().unwrap() >= 6, "{info}");
}

#[test]
fn a_batch_fetches_shared_content_once() {
    // Six tags of one image: each tag's manifest is asked for once (one request: the
    // batch cannot know where a tag points, and a HEAD first would cost a second
    // round trip for every image it does not hold); the config, once for all: held
    // in memory without a cache, read back from a cold cache with one.
    let refs: Vec<String> = (0..6)
        .map(|i| format!("{}/lab/many-tags:t{i:03}", lab().info.plain()))
        .collect();
    let cache_home = empty_home();
    let cache = cache_home.join("cache");
    for cache_flags in [
        vec!["--no-cache"],
        vec!["--cache-dir", cache.to_str().unwrap()],
    ] {
        let mut args = cache_flags.clone();
        args.extend(["--plain-http", "-v", "inspect", "--jobs", "1"]);
        args.extend(refs.iter().map(String::as_str));
        let out = regpeek(&args);
        assert!(out.status.success(), "{}", stderr_of(&out));
        let sent = requests(&out);
        let manifests = sent.iter().filter(|r| r.contains("/manifests/")).count();
        let blobs = sent.iter().filter(|r| r.contains("/blobs/")).count();
        assert_eq!(
            manifests, 6,
            "{cache_flags:?}: one request per tag: {sent:?}"
        );
        assert!(
            sent.iter().all(|r| r.starts_with("GET ")),
            "{cache_flags:?}: no HEAD before a GET: {sent:?}"
        );
        assert_eq!(
            blobs, 2,
            "{cache_flags:?}: the config and its CDN redirect, once: {sent:?}"
        );
        let lines: Vec<Value> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(
            lines
                .iter()
                .all(|l| l["Digest"] == lines[0]["Digest"] && l["Env"] == lines[0]["Env"])
        );
    }
}

/// Content one repository served never answers for another: bytes held by digest
/// say nothing of whether that repository has the manifest (in a batch, in memory;
/// across runs, in the cache).
#[test]
fn a_digest_held_for_one_repository_is_still_asked_of_another() {
    let plain = lab().info.plain();
    let digest = &lab().seeded.rich.manifest.digest;
    let there = format!("{plain}/lab/rich:v1");
    let elsewhere = format!("{plain}/lab/nope@{digest}");
    let out = regpeek(&[
        "--no-cache",
        "--plain-http",
        "inspect",
        "--jobs",
        "1",
        &there,
        &elsewhere,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["Digest"], digest.as_str(), "{lines:?}");
    let error = lines[1]["Error"].as_str().unwrap_or_default();
    assert!(error.contains("UNKNOWN"), "{lines:?}");

    let dir_home = empty_home();
    let dir = dir_home.join("cache");
    let dir = dir.to_str().unwrap();
    ok(&["--cache-dir", dir, "--plain-http", "inspect", &there]);
    let out = regpeek(&["--cache-dir", dir, "--plain-http", "inspect", &elsewhere]);
    assert_eq!(out.status.code(), Some(1), "answered from the cache");
    assert!(stderr_of(&out).contains("UNKNOWN"), "{}", stderr_of(&out));
}

#[test]
fn a_batch_against_a_busy_registry_holds_every_worker_back() {
    // Two workers. After the first reference (alone, as every registry's first is),
    // one worker asks for `slow`, the other for `trigger`, which begins a busy spell
    // of 429s with `Retry-After: 5`. `slow` is answered 2 s into the spell: its
    // worker must then wait out the spell the other worker was told of, not ask
    // for the next reference and be refused too. Exactly one 429 in all. (The 2 s
    // are the margin for the other worker to hear of its 429 first.)
    let host = hostile().addr();
    let refs: Vec<String> = ["first", "slow", "trigger", "a", "b", "c"]
        .iter()
        .map(|t| format!("{host}/busy:{t}"))
        .collect();
    let mut args = vec![
        "--no-cache",
        "digest",
        "--plain-http",
        "-v",
        "--jobs",
        "2",
        "--timeout",
        "30",
    ];
    args.extend(refs.iter().map(String::as_str));
    let out = regpeek(&args);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let lines = String::from_utf8_lossy(&out.stdout).lines().count();
    assert_eq!(lines, refs.len());
    let refused = regpeek_lab::hostile::BUSY_REFUSED.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        refused,
        1,
        "one 429 for `trigger`; the worker done with `slow` must hold back: {}",
        stderr_of(&out)
    );
}

#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    // `regpeek … | head` : the reader has gone before regpeek writes. No panic, no
    // error message, success (as with `cat`'s SIGPIPE, minus the signal).
    let info = &lab().info;
    let rich = format!("{}/lab/rich:v1", info.plain());
    let multi = format!("{}/lab/multi:v1", info.plain());
    let many = format!("{}/lab/many-tags", info.plain());
    let runs: Vec<Vec<&str>> = vec![
        vec!["completions", "bash"],
        vec!["ref", "nginx"],
        vec!["--help"],
        vec!["inspect", &rich],
        vec!["inspect", &rich, "-o", "table"],
        vec!["manifest", &rich],
        vec!["config", &rich],
        vec!["digest", &rich],
        vec!["platforms", &multi, "-o", "table"],
        vec!["tags", &many],
        vec!["inspect", &rich, &multi],
        vec!["diff", &rich, &multi],
    ];
    for args in runs {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let home = empty_home();
        let out = Command::new(env!("CARGO_BIN_EXE_regpeek"))
            .args(&args)
            .env("HOME", &*home)
            .env_remove("XDG_CACHE_HOME")
            .stdin(std::process::Stdio::null())
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let err = stderr_of(&out);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.contains("error"), "{args:?}: {err}");
        // `diff` exits 1 when the images differ, whether or not anyone reads it.
        let expected = if args[0] == "diff" { 1 } else { 0 };
        assert_eq!(out.status.code(), Some(expected), "{args:?}: {err}");
    }
}

/// Splits a README command line into words: spaces separate, single quotes group.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    words.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        words.push(word);
    }
    words
}

#[test]
fn the_readme_examples_are_what_regpeek_prints() {
    // Every `$ regpeek …` example in README.md on the open lab registry (shown there
    // as localhost:5000) is run, and its stdout then stderr must be the lines shown.
    // Examples whose output the README shortens (`…`, "lines shortened") or that need
    // another registry, a password or a cache are left out, and counted.
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let host = lab().info.plain();
    let mut checked = 0;
    for block in readme.split("```").skip(1).step_by(2) {
        for example in block.split("\n$ ").skip(1) {
            let mut lines = example.lines();
            let Some(command) = lines.next() else {
                continue;
            };
            if !command.starts_with("regpeek ") {
                continue;
            }
            let mut expected: Vec<String> = lines
                .take_while(|l| !l.is_empty())
                .map(|l| l.replace("localhost:5000", &host))
                .collect();
            let status = match expected.last() {
                Some(l) if l.starts_with("(exit status") => {
                    let code = l["(exit status ".len()..].chars().next().unwrap();
                    let code = code.to_digit(10).unwrap() as i32;
                    let shortened = l.contains("shortened");
                    expected.pop();
                    if shortened {
                        continue;
                    }
                    code
                }
                _ => 0,
            };
            let skip = [
                "5443",
                "$PASSWORD",
                "/tmp/",
                "cache info",
                "--record",
                "replay",
            ];
            if expected.iter().any(|l| l.contains('…'))
                || skip.iter().any(|s| command.contains(s))
                || !command.contains("localhost:5000") && !command.starts_with("regpeek ref ")
            {
                continue;
            }
            let words = shell_words(&command.replace("localhost:5000", &host));
            let args: Vec<&str> = words.iter().skip(1).map(String::as_str).collect();
            let out = regpeek(&args);
            let mut got: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_owned)
                .collect();
            got.extend(stderr_of(&out).lines().map(str::to_owned));
            assert_eq!(got, expected, "README: $ {command}");
            let expected_status =
                if status == 0 && got.iter().any(|l| l.starts_with("regpeek: error:")) {
                    1
                } else {
                    status
                };
            assert_eq!(
                out.status.code(),
                Some(expected_status),
                "README: $ {command}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} README examples were checked");
}

#[test]
fn endless_huge_and_exploding_inputs_are_refused() {
    // Files the user points at can be devices, enormous, or YAML whose aliases
    // multiply: each ends at once with a clear error, never all memory or a hang.
    let dir = empty_home();
    let big = dir.join("big.txt");
    std::fs::write(&big, vec![b'a'; 17 << 20]).unwrap();
    let mut laughs = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    let mut prev = 'a';
    for n in 'b'..='j' {
        let items = vec![format!("*{prev}"); 9].join(", ");
        laughs.push_str(&format!("{n}: &{n} [{items}]\n"));
        prev = n;
    }
    laughs.push_str(&format!("services:\n  x:\n    image: *{prev}\n"));
    let laughs_path = dir.join("compose.yml");
    std::fs::write(&laughs_path, laughs).unwrap();
    let docker = dir.join(".docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::os::unix::fs::symlink("/dev/zero", docker.join("config.json")).unwrap();
    let target = "127.0.0.1:9/x";
    type Run<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let runs: Vec<Run> = vec![
        (
            vec!["digest", target, "--authfile", "/dev/zero"],
            vec![],
            "larger than 4 MiB",
        ),
        (
            vec!["digest", target],
            vec![("DOCKER_CONFIG", docker.to_str().unwrap())],
            "larger than 4 MiB",
        ),
        (
            vec!["digest", target, "--ca-file", "/dev/zero"],
            vec![],
            "larger than 4 MiB",
        ),
        (
            vec!["digest", "--file", big.to_str().unwrap()],
            vec![],
            "larger than 16 MiB",
        ),
        (
            vec!["digest", "--from", laughs_path.to_str().unwrap()],
            vec![],
            "aliases expand it",
        ),
    ];
    for (args, env, says) in runs {
        let out = regpeek_in(&args, &env, None);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr_of(&out));
        assert!(
            stderr_of(&out).contains(says),
            "{args:?}: {}",
            stderr_of(&out)
        );
    }
}
