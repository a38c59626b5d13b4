//! Every auth mode of the lab (token, Basic over TLS) agrees with skopeo; listings; bad input.

use super::*;

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
