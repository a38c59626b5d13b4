//! `--uncompressed`: what layers unpack to, compared with what `gzip` and `zstd`
//! themselves unpack each lab layer to (and `gzip -l`), the few bytes it asks of each
//! layer, once, and what it says where it cannot know.

use super::*;

/// The layers `inspect --uncompressed` (with `extra`) reports for `image`.
fn layers(image: &str, extra: &[&str]) -> (Value, Vec<Value>) {
    let mut args = vec!["inspect", image, "--plain-http", "--uncompressed"];
    args.extend_from_slice(extra);
    let v = json(&ok(&args));
    let layers = v["LayersData"].as_array().unwrap().clone();
    (v, layers)
}

/// What a tool (`gzip`, `zstd`) unpacks `file` to, counted.
fn unpacked_by(tool: &str, file: &std::path::Path) -> u64 {
    let out = Command::new(tool)
        .arg("-dc")
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("{tool} is not installed ({e}): apt-get install {tool}"));
    assert!(out.status.success(), "{tool} -dc {}", file.display());
    out.stdout.len() as u64
}

/// `gzip -l`'s uncompressed column (the trailer's ISIZE).
fn gzip_l(file: &std::path::Path) -> u64 {
    let out = Command::new("gzip").arg("-l").arg(file).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let row = text.lines().nth(1).unwrap();
    row.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn uncompressed_sizes_equal_what_gzip_and_zstd_unpack() {
    let scratch = empty_home();
    for image in [
        "lab/rich:v1",
        "lab/fs:v1",
        "lab/overlay:v1",
        "lab/zstd:v1",
        "lab/esgz:v1",
        "lab/many-layers:v1",
    ] {
        let image = r(image);
        let (whole, exact) = layers(&image, &["--exact"]);
        let (_, quick) = layers(&image, &[]);
        let mut sum = 0;
        for (i, (e, q)) in exact.iter().zip(&quick).enumerate() {
            let digest = e["Digest"].as_str().unwrap();
            let file = scratch.join(format!("layer-{i}"));
            let f = file.display().to_string();
            ok(&["blob", &image, digest, "-o", &f, "--plain-http"]);
            let mime = e["MIMEType"].as_str().unwrap();
            let tool = if mime.ends_with("zstd") {
                "zstd"
            } else {
                "gzip"
            };
            let theirs = unpacked_by(tool, &file);
            assert_eq!(e["UncompressedSize"], json!(theirs), "{image} {e}");
            assert_eq!(e["Exact"], true, "{image} {e}");
            sum += theirs;
            if q["Exact"] == true {
                assert_eq!(q["UncompressedSize"], json!(theirs), "{image} {q}");
                if tool == "gzip" {
                    assert_eq!(gzip_l(&file), theirs, "{image}");
                }
            } else {
                assert!(
                    q["Why"].as_str().is_some_and(|w| !w.is_empty()),
                    "{image} {q}"
                );
            }
            if e["Annotations"]["containerd.io/snapshot/stargz/toc.digest"].is_string() {
                // eStargz: several gzip members; the TOC's file sizes, said to be no
                // tar length.
                assert_eq!(q["Exact"], false, "{q}");
                assert!(q["Why"].as_str().unwrap().contains("TOC"), "{q}");
            }
        }
        assert_eq!(whole["UncompressedSize"], json!(sum), "{image}");
        assert_eq!(whole["UncompressedExact"], true, "{image}");
    }
}

#[test]
fn uncompressed_asks_eight_bytes_a_layer_once() {
    let home = empty_home();
    let home_s = home.display().to_string();
    let image = r("lab/many-layers:v1");
    let run = || {
        let out = regpeek_in(
            &["inspect", &image, "--plain-http", "--uncompressed", "-v"],
            &[("HOME", &home_s)],
            None,
        );
        assert!(out.status.success(), "{}", stderr_of(&out));
        out
    };
    let cold = run();
    let err = stderr_of(&cold);
    // Each layer's last 8 bytes (asked of the registry, then of the CDN it redirects
    // to), and nothing more of any layer.
    let ranges: Vec<&str> = err
        .lines()
        .filter_map(|l| l.strip_prefix("> range: bytes="))
        .collect();
    assert_eq!(ranges.len(), 2 * 40, "{err}");
    for r in &ranges {
        let (a, b) = r.split_once('-').unwrap();
        let (a, b): (u64, u64) = (a.parse().unwrap(), b.parse().unwrap());
        assert_eq!(b - a + 1, 8, "{r}");
    }
    let layers = json(&cold.stdout)["LayersData"].as_array().unwrap().clone();
    assert_eq!(layers.len(), 40);
    assert!(layers.iter().all(|l| l["Exact"] == true), "{layers:?}");
    // Warm: kept under each layer's digest, no blob asked.
    let warm = run();
    let blobs = requests(&warm)
        .iter()
        .filter(|r| r.contains("/blobs/"))
        .count();
    assert_eq!(blobs, 0, "{}", stderr_of(&warm));
    assert_eq!(json(&warm.stdout)["LayersData"], json!(layers));
}

#[test]
fn uncompressed_says_what_it_cannot_know() {
    // The token registry's CDN ignores Range: nothing is downloaded, and it says so.
    let (whole, layers) = layers(&t("public/rich:v1"), &[]);
    assert!(whole["UncompressedSize"].is_null(), "{whole}");
    assert_eq!(whole["UncompressedExact"], false);
    for l in &layers {
        assert!(l["UncompressedSize"].is_null(), "{l}");
        assert!(l["Why"].as_str().unwrap().contains("ignores Range"), "{l}");
    }
    // An uncompressed layer (a docker archive's) is its own size: no read at all.
    let docker_tar = lab().info.dir.join("layouts/images.docker.tar");
    let image = format!("docker-archive:{}:lab/fs:v1", docker_tar.display());
    let v = json(&ok(&["inspect", &image, "--uncompressed"]));
    for l in v["LayersData"].as_array().unwrap() {
        assert_eq!(l["UncompressedSize"], l["Size"], "{l}");
        assert_eq!(l["Exact"], true, "{l}");
    }
    // Flags that print bytes as stored take none of it; --exact needs --uncompressed;
    // tags needs --long for it.
    for args in [
        vec!["inspect", "--raw", "--uncompressed"],
        vec!["inspect", "--exact"],
    ] {
        let mut args = args.clone();
        let image = r("lab/rich:v1");
        args.extend([image.as_str(), "--plain-http"]);
        let out = regpeek(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
    }
    let out = regpeek(&[
        "tags",
        &r("lab/inventory"),
        "--uncompressed",
        "--plain-http",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
}
