//! The basics: inspect, manifest, config and digest against the open registry, references, errors, the trace.

use super::*;

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

#[test]
fn history_matches_steps_to_layers() {
    let rich = &lab().seeded.rich;
    let rows = json(&ok(&["history", "--plain-http", &r("lab/rich:v1")]));
    let rows = rows.as_array().unwrap();
    // Newest first: the empty ENV step, then one COPY per layer, the base layer last.
    assert_eq!(rows.len(), rich.layers.len() + 1, "{rows:?}");
    assert_eq!(rows[0]["CreatedBy"], "ENV lab=1");
    assert_eq!(rows[0]["EmptyLayer"], true);
    assert!(rows[0]["Layer"].is_null());
    for (row, layer) in rows[1..].iter().zip(rich.layers.iter().rev()) {
        assert_eq!(row["Layer"], layer.digest.as_str(), "{row}");
        assert_eq!(row["Size"], layer.bytes.len() as u64, "{row}");
        assert_eq!(row["EmptyLayer"], false);
    }
    assert_eq!(rows.last().unwrap()["CreatedBy"], "COPY layer0 /");
    // An index: the history of the platform's image.
    let arm = json(&ok(&[
        "history",
        "--plain-http",
        "--platform",
        "linux/arm64",
        &r("lab/multi:v1"),
    ]));
    assert!(!arm.as_array().unwrap().is_empty());
}
