//! Looking inside images without pulling them: `cat`, `ls`, `os`, `blob` on `lab/fs`
//! (links, a whiteout, an opaque directory, hard links, an escaping link), `lab/rich`.

use super::*;

fn fs() -> String {
    r("lab/fs:v1")
}

fn cat(path: &str) -> Output {
    regpeek(&["cat", "--plain-http", "-v", &fs(), path])
}

/// Which of `lab/fs`'s layers regpeek asked for (0 is the base), in order.
fn layers_read(out: &Output) -> Vec<usize> {
    let layers = regpeek_lab::image::fs_image().layers;
    requests(out)
        .iter()
        .filter_map(|r| layers.iter().position(|l| r.contains(&l.digest)))
        .collect()
}

#[test]
fn cat_writes_a_file_as_a_container_sees_it() {
    let out = cat("/etc/motd");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "new motd\n",
        "{}",
        stderr_of(&out)
    );
    assert_eq!(
        layers_read(&out),
        [2],
        "a file in the top layer costs it alone"
    );
    // Below an undecided top, the layers are asked for together; a link needs no more.
    let sorted = |mut v: Vec<usize>| {
        v.sort();
        v
    };
    let mut read = layers_read(&cat("/etc/os-release"));
    assert_eq!(read.remove(0), 2, "the top layer first, alone");
    assert_eq!(sorted(read), [0, 1]);
    // A batch reads a layer once for all its images (ls: several at once, any order).
    let out = regpeek(&["ls", "--plain-http", "-v", "--jobs", "1", &fs(), &fs()]);
    assert_eq!(sorted(layers_read(&out)), [0, 1, 2], "{}", stderr_of(&out));
    // The second image reads nothing more.
    let out = regpeek(&["os", "--plain-http", "-v", "--jobs", "1", &fs(), &fs()]);
    assert_eq!(sorted(layers_read(&out)), [0, 1, 2], "{}", stderr_of(&out));
    for (path, want) in [
        // Through a relative link, and a link at a leading directory (`bin`).
        ("/etc/os-release", "ID=lablinux"),
        ("/bin/sh", "#!shell\n"),
        ("usr/bin/sh2", "#!shell\n"),
        // A link that climbs past the root stays inside it.
        ("/etc/escape", "new motd\n"),
        ("/opt/old/b", "b\n"),
    ] {
        let out = cat(path);
        assert!(out.status.success(), "{path}: {}", stderr_of(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(want),
            "{path}"
        );
    }
    for (path, says) in [
        ("/tmp/gone", "deleted in layer 1"),
        ("/opt/old/a", "deleted in layer 1"),
        ("/etc", "is a directory"),
        ("/nope", "no such file"),
        ("/etc/motd/x", "not a directory"),
        ("/etc/loop1", "more than 40 links"),
    ] {
        let out = cat(path);
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{path}: {err}");
        assert!(out.stdout.is_empty(), "{path}");
        assert!(err.contains(says), "{path}: {err}");
    }
    // The rich image's file, byte for byte.
    let out = ok(&["cat", "--plain-http", &r("lab/rich:v1"), "srv/app/app.sh"]);
    assert_eq!(out, b"#!/bin/sh\necho hi\n");
}

#[test]
fn ls_shows_the_merged_file_system() {
    let out = ok(&["ls", "--plain-http", &fs()]);
    let rows: Vec<Value> = lines(&out).iter().map(|l| json(l.as_bytes())).collect();
    let paths: Vec<&str> = rows.iter().map(|v| v["Path"].as_str().unwrap()).collect();
    assert!(
        paths.contains(&"/opt/old/b") && paths.contains(&"/etc/motd"),
        "{paths:?}"
    );
    assert!(!paths.contains(&"/tmp/gone"), "a whiteout deletes");
    assert!(
        !paths.contains(&"/opt/old/a"),
        "an opaque directory hides what lies below"
    );
    assert!(!paths.iter().any(|p| p.contains(".wh.")), "{paths:?}");
    let row = |p: &str| rows.iter().find(|v| v["Path"] == p).unwrap().clone();
    assert_eq!(row("/etc/motd")["Layer"], 2);
    assert_eq!(row("/bin")["Type"], "symlink");
    assert_eq!(row("/bin")["Target"], "usr/bin");
    assert_eq!(row("/usr/bin/sh2")["Type"], "hardlink");
    assert_eq!(row("/usr/lib")["Mode"], "0755");
    // A path narrows it; --layer shows one layer's own entries, whiteouts included.
    let out = ok(&["ls", "--plain-http", &fs(), "/opt"]);
    assert_eq!(lines(&out).len(), 3, "{}", String::from_utf8_lossy(&out));
    let out = ok(&["ls", "--plain-http", "--layer", "1", &fs()]);
    let types: Vec<String> = lines(&out)
        .iter()
        .map(|l| json(l.as_bytes())["Type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(types, ["whiteout", "opaque", "file", "hardlink"]);
    let table =
        String::from_utf8(ok(&["ls", "--plain-http", "-o", "table", &fs(), "/bin"])).unwrap();
    assert!(table.starts_with("MODE"), "{table}");
    assert!(
        table.contains("lrwxrwxrwx") && table.contains("/bin -> usr/bin"),
        "{table}"
    );
    // A layer the image does not have is an error of that image.
    let out = regpeek(&["ls", "--plain-http", "--layer", "7", &fs()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("has 3 layers"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn os_blob_and_refusals() {
    let out = ok(&["os", "--plain-http", &fs(), &r("lab/rich:v1")]);
    let rows: Vec<Value> = lines(&out).iter().map(|l| json(l.as_bytes())).collect();
    assert_eq!(rows[0]["ID"], "lablinux");
    assert_eq!(rows[0]["VersionID"], "3.1");
    assert_eq!(rows[0]["PrettyName"], "Lab Linux 3.1 (test)");
    assert_eq!(rows[1]["ID"], "lab");
    // A blob, verified: the rich image's config, byte for byte.
    let rich = &lab().seeded.rich;
    let out = ok(&[
        "blob",
        "--plain-http",
        &r("lab/rich:v1"),
        &rich.config.digest,
    ]);
    assert_eq!(out, rich.config.bytes);
    let out = regpeek(&["blob", "--plain-http", &r("lab/rich:v1"), "sha256:nothex"]);
    assert_eq!(out.status.code(), Some(2));
    let missing = format!("sha256:{}", "0".repeat(64));
    let out = regpeek(&["blob", "--plain-http", &r("lab/rich:v1"), &missing]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("BLOB_UNKNOWN"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn looking_inside_is_recorded_and_replayed() {
    // The recording keeps the layers (base64 in the fixture format); the replay
    // prints the same bytes, verified again, with no network.
    let (fs, attested, rich) = (fs(), r("lab/attested:v1"), r("lab/rich:v1"));
    let config = lab().seeded.rich.config.digest.clone();
    let esgz = r("lab/esgz:v1");
    let runs: [(Vec<&str>, bool); 8] = [
        (vec!["cat", "--plain-http", &fs, "/etc/os-release"], true),
        // Range requests, the later ones straight to the CDN the first was sent to.
        (vec!["cat", "--plain-http", &esgz, "/data/big.txt"], true),
        (vec!["ls", "--plain-http", "-o", "table", &fs], true),
        (vec!["os", "--plain-http", &fs], true),
        (vec!["blob", "--plain-http", &rich, &config], true),
        (vec!["sbom", "--plain-http", &attested], true),
        (vec!["provenance", "--plain-http", &attested], true),
        (vec!["cat", "--plain-http", &fs, "/tmp/gone"], false),
    ];
    for (args, succeeds) in runs {
        let (live, _, text) = record_then_replay(&args);
        assert_eq!(
            live.status.success(),
            succeeds,
            "{args:?}: {}",
            stderr_of(&live)
        );
        assert!(
            text.contains("/blobs/"),
            "{args:?}: the blobs are in the recording"
        );
    }
}

#[test]
fn sbom_and_provenance_are_read_without_pulling() {
    let image = r("lab/attested:v1");
    let out = ok(&["sbom", "--plain-http", &image]);
    let rows: Vec<Value> = lines(&out).iter().map(|l| json(l.as_bytes())).collect();
    let names: Vec<(&str, &str)> = rows
        .iter()
        .map(|v| (v["Name"].as_str().unwrap(), v["Format"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("openssl", "cyclonedx"),
            ("busybox", "spdx"),
            ("musl", "spdx")
        ]
    );
    assert_eq!(
        rows[1]["Purl"],
        "pkg:apk/alpine/busybox@1.36.1-r2?arch=x86_64"
    );
    assert_eq!(rows[1]["License"], "GPL-2.0-only");
    assert_eq!(rows[0]["From"], "referrer-tag");
    let raw = ok(&["sbom", "--plain-http", "--raw", &image]);
    let docs: Vec<Value> = lines(&raw).iter().map(|l| json(l.as_bytes())).collect();
    assert_eq!(docs[1]["spdxVersion"], "SPDX-2.3", "the document itself");
    let table = String::from_utf8(ok(&["sbom", "--plain-http", "-o", "table", &image])).unwrap();
    assert!(
        table.starts_with("NAME") && table.contains("musl"),
        "{table}"
    );

    let p = json(&ok(&["provenance", "--plain-http", &image]));
    assert_eq!(p["Format"], "slsa-provenance-v0.2");
    assert_eq!(p["SourceRepository"], "https://github.com/example/app.git");
    assert_eq!(p["Commit"], "0123456789abcdef0123456789abcdef01234567");
    assert_eq!(p["BuildArgs"], serde_json::json!({"VERSION": "1.2.3"}));
    // No layer is read: the statements are small blobs of the attestation manifest.
    let out = regpeek(&["provenance", "--plain-http", "-v", &image]);
    let fetched: Vec<String> = requests(&out)
        .into_iter()
        .filter(|r| r.contains("/blobs/"))
        .collect();
    let layer = &regpeek_lab::image::attested("x", "sha256:0").0.children[0].layers[0].digest;
    assert!(
        !fetched.iter().any(|r| r.contains(layer.as_str())),
        "{fetched:?}"
    );
    // An image with neither says so; base reads the provenance when no annotation names it.
    let out = regpeek(&["sbom", "--plain-http", &r("lab/rich:v1")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("carries no SBOM"));
    // --from as everywhere.
    let dir = empty_home();
    let compose = dir.join("compose.yaml");
    write(&compose, &format!("services:\n  a:\n    image: {image}\n"));
    let out = ok(&[
        "provenance",
        "--plain-http",
        "--from",
        compose.to_str().unwrap(),
    ]);
    assert_eq!(lines(&out).len(), 1);
    let source = format!("{}:3 service a", compose.display());
    assert_eq!(json(&out)["Source"], source.as_str());
    let v = json(&ok(&["base", "--plain-http", &image]));
    assert_eq!(
        (v["From"].as_str(), v["Rebuild"].as_bool()),
        (Some("provenance"), Some(false))
    );
    assert_eq!(v["Base"], r("lab/rich:v1"));
}

#[test]
fn estargz_layers_are_read_in_part() {
    let esgz = r("lab/esgz:v1");
    let layer = regpeek_lab::image::estargz_image().layers[0].clone();
    let out = regpeek(&["cat", "--plain-http", "-v", &esgz, "/data/big.txt"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n"
    );
    // Every request for the layer is a Range, answered 206: its footer, then its TOC
    // exactly, then the file's chunks in one span; the footer's request alone goes
    // through the registry (its redirect is remembered), and the filler is never read.
    let err = stderr_of(&out);
    let hex = layer.digest.trim_start_matches("sha256:");
    let mut got: Vec<(String, u64)> = Vec::new();
    let mut asked: Option<(String, u64)> = None;
    for line in err.lines() {
        if let Some(get) = line.strip_prefix("> GET ") {
            asked = get.contains(hex).then(|| (get.to_owned(), 0));
        } else if let (Some(range), Some(a)) =
            (line.strip_prefix("> range: bytes="), asked.as_mut())
        {
            let (first, last) = range.split_once('-').unwrap();
            a.1 = last.parse::<u64>().unwrap() - first.parse::<u64>().unwrap() + 1;
        } else if line.starts_with("< HTTP/1.1 206") {
            got.extend(asked.take());
        } else if let (true, Some((url, n))) = (line.starts_with("< HTTP/1.1 "), asked.take()) {
            assert!(
                line.contains("307") && url.contains(&lab().info.plain()) && n > 0,
                "only the footer's first request may be redirected: {err}"
            );
        }
    }
    // The footer says where the TOC starts: 16 hex digits before `STARGZ`.
    let footer = String::from_utf8_lossy(&layer.bytes[layer.bytes.len() - 51..]).into_owned();
    let at = footer.find("STARGZ").unwrap();
    let toc_offset = u64::from_str_radix(&footer[at - 16..at], 16).unwrap();
    let size = layer.bytes.len() as u64;
    let toc = size - 51 - toc_offset;
    let sizes: Vec<u64> = got.iter().map(|(_, n)| *n).collect();
    assert_eq!(sizes.len(), 3, "footer, TOC, chunks: {err}");
    assert_eq!(sizes[..2], [51, toc], "{err}");
    let registry = lab().info.plain();
    assert!(
        got.iter().all(|(url, _)| !url.contains(&registry)),
        "straight to the CDN: {got:?}"
    );
    let read: u64 = sizes.iter().sum();
    assert!(size > 256 << 10, "{size}");
    assert!(
        read * 10 <= (toc + sizes[2]) * 11,
        "{read} bytes read for a TOC of {toc} and chunks of {}",
        sizes[2]
    );
    // A link through the TOC; a listing from the TOC alone (not the TOC's own file).
    let out = ok(&["cat", "--plain-http", &esgz, "/etc/os-release"]);
    assert_eq!(out, b"ID=esgz\nVERSION_ID=1\n");
    let out = ok(&["ls", "--plain-http", &esgz]);
    let paths: Vec<String> = lines(&out)
        .iter()
        .map(|l| json(l.as_bytes())["Path"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        paths.contains(&"/data/big.txt".to_owned())
            && !paths.iter().any(|p| p.contains("stargz.index")),
        "{paths:?}"
    );
    // A TOC that does not match its annotated digest is not trusted.
    let out = regpeek(&[
        "cat",
        "--plain-http",
        &r("lab/esgz:badtoc"),
        "/data/big.txt",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        stderr_of(&out).contains("does not match the digest its layer annotates"),
        "{}",
        stderr_of(&out)
    );
    // The hint is chosen by the error's type: an eStargz index that does not hold.
    assert!(
        stderr_of(&out).contains("hint: the layer's eStargz index"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn a_registry_that_ignores_range_is_read_whole() {
    // The token registry's CDN ignores Range: the eStargz layer is streamed whole,
    // and the file is the same.
    let out = regpeek(&[
        "cat",
        "--plain-http",
        "-v",
        &t("public/esgz:v1"),
        "/data/big.txt",
    ]);
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n"
    );
    assert!(
        err.contains("> range: bytes=") && err.contains("< HTTP/1.1 200 OK"),
        "{err}"
    );
}

#[test]
fn an_oci_layout_on_disk_is_read_like_a_registry() {
    let dir = empty_home();
    let layout = dir.join("out");
    let fs_image = regpeek_lab::image::fs_image();
    let rich = regpeek_lab::image::rich();
    regpeek_lab::image::write_oci_layout(&layout, &[("v1", &fs_image), ("rich", &rich)]).unwrap();
    let spec = |tag: &str| format!("oci:{}:{tag}", layout.display());
    let (fs, rich_ref) = (spec("v1"), spec("rich"));
    // The same flow, answered from disk: digests, files, listings, history.
    let digest = String::from_utf8(ok(&["digest", &fs])).unwrap();
    assert_eq!(digest.trim(), fs_image.manifest.digest);
    assert_eq!(
        ok(&["cat", &fs, "/etc/os-release"]),
        ok(&["cat", "--plain-http", &r("lab/fs:v1"), "/etc/os-release"])
    );
    assert_eq!(
        ok(&["ls", &fs]).len(),
        ok(&["ls", "--plain-http", &r("lab/fs:v1")]).len()
    );
    let v = json(&ok(&["inspect", &rich_ref]));
    assert_eq!(v["Digest"], rich.manifest.digest.as_str());
    assert!(!ok(&["history", &rich_ref]).is_empty());
    // A local build against what is deployed: the same image, no difference.
    let out = regpeek(&["diff", &fs, "--plain-http", &r("lab/fs:v1")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let out = regpeek(&["diff", &rich_ref, "--plain-http", &r("lab/fs:v1")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    // Several, --file, tags.
    let out = ok(&["digest", &fs, &rich_ref]);
    assert_eq!(lines(&out).len(), 2);
    let tags = String::from_utf8(ok(&["tags", &format!("oci:{}", layout.display())])).unwrap();
    assert_eq!(tags.lines().collect::<Vec<_>>(), ["v1", "rich"]);
    // What is not there, or not a layout.
    let out = regpeek(&["digest", &spec("nope")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("MANIFEST_UNKNOWN"),
        "{}",
        stderr_of(&out)
    );
    let out = regpeek(&["digest", &format!("oci:{}", dir.display())]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("not an OCI image layout"),
        "{}",
        stderr_of(&out)
    );
    let rec = dir.join("rec");
    let out = regpeek(&["--record", rec.to_str().unwrap(), "digest", &fs]);
    assert_eq!(out.status.code(), Some(2));
    // The same layout in a tar file: oci-archive.
    let archive = dir.join("out.tar");
    let mut tar = tar::Builder::new(std::fs::File::create(&archive).unwrap());
    tar.append_dir_all(".", &layout).unwrap();
    tar.finish().unwrap();
    drop(tar);
    let spec = format!("oci-archive:{}:v1", archive.display());
    let digest = String::from_utf8(ok(&["digest", &spec])).unwrap();
    assert_eq!(digest.trim(), fs_image.manifest.digest);
    assert_eq!(ok(&["cat", &spec, "/etc/motd"]), b"new motd\n");
    let out = regpeek(&["digest", &format!("oci-archive:{}", layout.display())]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("not a file"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn a_docker_archive_is_read_as_docker_save_wrote_it() {
    let dir = empty_home();
    let rich = regpeek_lab::image::rich();
    // What `docker save` writes: manifest.json, the config, uncompressed layer tars.
    let archive = dir.join("rich.tar");
    regpeek_lab::image::write_docker_archive(&archive, &[("lab/rich:v1", &rich)]).unwrap();
    let spec = format!("docker-archive:{}:lab/rich:v1", archive.display());
    let registry = r("lab/rich:v1");
    assert_eq!(
        ok(&["config", &spec]),
        ok(&["config", "--plain-http", &registry])
    );
    assert_eq!(
        ok(&["cat", &spec, "/srv/app/app.sh"]),
        b"#!/bin/sh\necho hi\n"
    );
    assert_eq!(
        lines(&ok(&["ls", &spec])).len(),
        lines(&ok(&["ls", "--plain-http", &registry])).len()
    );
    // Its only image, without a name; and a name it does not hold.
    let only = format!("docker-archive:{}", archive.display());
    assert!(ok(&["history", &only]).starts_with(b"["));
    let out = regpeek(&[
        "digest",
        &format!("docker-archive:{}:nope:1", archive.display()),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("MANIFEST_UNKNOWN"),
        "{}",
        stderr_of(&out)
    );
}

/// What a directory tree holds, as `ls` names it: path → (kind, link target), regular
/// files and links only.
fn files_under(
    root: &std::path::Path,
) -> std::collections::BTreeMap<String, (String, Option<String>)> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let p = entry.path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let rel = format!("/{}", p.strip_prefix(root).unwrap().display());
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&p).unwrap().display().to_string();
                out.insert(rel, ("symlink".to_owned(), Some(target)));
            } else if meta.is_dir() {
                stack.push(p);
            } else {
                out.insert(rel, ("file".to_owned(), None));
            }
        }
    }
    out
}

/// `skopeo copy` of `image` to an OCI layout at `layout`, tag `x`.
fn copy_to_layout(image: &str, layout: &std::path::Path) {
    copy_with(&[], image, &format!("oci:{}:x", layout.display()));
}

/// `skopeo copy` with `flags` of `image` (in the lab) to `dest`.
pub(crate) fn copy_with(flags: &[&str], image: &str, dest: &str) {
    let out = Command::new("skopeo")
        .args(["copy", "-q", "--src-tls-verify=false"])
        .args(flags)
        .arg(format!("docker://{image}"))
        .arg(dest)
        .output()
        .expect("skopeo is not installed: run `cargo xtask test` (installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The files of an image as `skopeo copy` and `tar` (layers in order, whiteouts
/// applied) leave them: path → (kind, link target), regular files and links only.
fn unpacked_by_tar(
    image: &str,
    dir: &std::path::Path,
) -> std::collections::BTreeMap<String, (String, Option<String>)> {
    let layout = dir.join("layout");
    copy_to_layout(image, &layout);
    let blob = |d: &str| {
        layout
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let index = json(&std::fs::read(layout.join("index.json")).unwrap());
    let manifest =
        json(&std::fs::read(blob(index["manifests"][0]["digest"].as_str().unwrap())).unwrap());
    let root = dir.join("root");
    std::fs::create_dir_all(&root).unwrap();
    for layer in manifest["layers"].as_array().unwrap() {
        let file = blob(layer["digest"].as_str().unwrap());
        // GNU tar finds the compression itself (gzip, zstd).
        let listed = Command::new("tar").arg("-tf").arg(&file).output().unwrap();
        assert!(listed.status.success());
        // Whiteouts first: they delete what the layers below put there.
        for entry in String::from_utf8_lossy(&listed.stdout).lines() {
            let entry = entry.trim_start_matches("./");
            let (parent, name) = entry.rsplit_once('/').unwrap_or(("", entry));
            if name == ".wh..wh..opq" {
                for child in std::fs::read_dir(root.join(parent))
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    let p = child.path();
                    let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
                }
            } else if let Some(gone) = name.strip_prefix(".wh.") {
                let p = root.join(parent).join(gone);
                let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
            }
        }
        let unpacked = Command::new("tar")
            .arg("-xf")
            .arg(&file)
            .arg("-C")
            .arg(&root)
            .args([
                "--exclude=.wh.*",
                "--exclude=stargz.index.json",
                "--no-same-owner",
                // A file or a link over a directory replaces it, as unpackers do.
                "--recursive-unlink",
            ])
            .output()
            .unwrap();
        assert!(
            unpacked.status.success(),
            "{}",
            String::from_utf8_lossy(&unpacked.stderr)
        );
    }
    files_under(&root)
}

#[test]
fn ls_and_cat_agree_with_umoci_and_tar_over_the_layers() {
    for (name, img) in regpeek_lab::image::file_images() {
        let image = r(&format!("{name}:v1"));
        let dir = empty_home();
        let by_tar = unpacked_by_tar(&image, &dir);
        // umoci 0.4.7 (Debian 12) reads gzip and plain layers; zstd came later.
        if !img.layers.iter().any(|l| l.media_type.ends_with("zstd")) {
            let mut by_umoci = unpacked_by_umoci(&image, &dir);
            // An eStargz layer's TOC is a tar entry of its own: umoci unpacks it, a
            // lazy-pulling snapshotter hides it, and so does regpeek (README).
            by_umoci.remove("/stargz.index.json");
            assert_eq!(by_umoci, by_tar, "{image}: umoci and tar disagree");
            for (path, (kind, _)) in &by_umoci {
                let file = dir.join("umoci/root").join(path.trim_start_matches('/'));
                if kind == "file" {
                    let tar_file = dir.join("root").join(path.trim_start_matches('/'));
                    assert_eq!(
                        std::fs::read(file).unwrap(),
                        std::fs::read(tar_file).unwrap()
                    );
                }
            }
        }
        let listed = ok(&["ls", "--plain-http", &image]);
        let ours: std::collections::BTreeMap<String, (String, Option<String>)> = lines(&listed)
            .iter()
            .map(|l| json(l.as_bytes()))
            .filter(|v| v["Type"] != "dir")
            .map(|v| {
                // tar makes a hard link a file of its own.
                let (kind, target) = match v["Type"].as_str().unwrap() {
                    "hardlink" => ("file".to_owned(), None),
                    k => (k.to_owned(), v["Target"].as_str().map(str::to_owned)),
                };
                (v["Path"].as_str().unwrap().to_owned(), (kind, target))
            })
            .collect();
        assert_eq!(ours, by_tar, "{image}: ls and tar disagree");
        // Sizes and link counts as `ls -l` reads them from the unpacked tree: a hard
        // link is the file it shares (whose target an upper layer may have replaced).
        for v in lines(&listed).iter().map(|l| json(l.as_bytes())) {
            let path = v["Path"].as_str().unwrap();
            if !matches!(v["Type"].as_str(), Some("file" | "hardlink")) {
                continue;
            }
            use std::os::unix::fs::MetadataExt as _;
            let meta = std::fs::symlink_metadata(dir.join("root").join(&path[1..])).unwrap();
            assert_eq!(v["Size"], meta.len(), "{image} {path}: size");
            assert_eq!(v["Links"], meta.nlink(), "{image} {path}: links");
            let mode = format!("{:04o}", meta.mode() & 0o7777);
            assert_eq!(v["Mode"], mode, "{image} {path}: mode");
        }
        for (path, (kind, _)) in &by_tar {
            if kind == "file" {
                let file = dir.join("root").join(path.trim_start_matches('/'));
                let want = std::fs::read(&file).unwrap();
                assert_eq!(
                    ok(&["cat", "--plain-http", &image, path]),
                    want,
                    "{image} {path}"
                );
            }
        }
    }
}

/// The files of `image` as `skopeo copy` and `umoci raw unpack` leave them, in the
/// shape of [`unpacked_by_tar`].
fn unpacked_by_umoci(
    image: &str,
    dir: &std::path::Path,
) -> std::collections::BTreeMap<String, (String, Option<String>)> {
    files_under(&super::analysis::unpacked(image, &dir.join("umoci")))
}

/// JSON lines without the field `drop`.
fn lines_without(out: &[u8], drop: &str) -> Vec<Value> {
    lines(out)
        .iter()
        .map(|l| {
            let mut v = json(l.as_bytes());
            v.as_object_mut().unwrap().remove(drop);
            v
        })
        .collect()
}

/// `ls` rows as JSON values, without the layer digest (a docker-archive holds its
/// layers uncompressed, so their digests differ from the registry's).
fn ls_rows(image: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["ls"];
    args.extend(extra);
    args.push(image);
    lines_without(&ok(&args), "LayerDigest")
}

#[test]
fn every_lab_image_reads_the_same_from_the_registry_and_from_disk() {
    // `lab seed` writes each image with files as an OCI layout, an oci-archive and a
    // docker-archive too; every read command gives the same answer from each.
    let layouts = lab().info.dir.join("layouts");
    for (name, img) in regpeek_lab::image::file_images() {
        let short = name.rsplit('/').next().unwrap();
        let registry = r(&format!("{name}:v1"));
        let on_disk = [
            format!("oci:{}:{short}", layouts.join("oci").display()),
            format!(
                "oci-archive:{}:{short}",
                layouts.join("images.oci.tar").display()
            ),
            format!(
                "docker-archive:{}:{name}:v1",
                layouts.join("images.docker.tar").display()
            ),
        ];
        let want = ls_rows(&registry, &["--plain-http"]);
        assert!(!want.is_empty(), "{registry}");
        let os = |image: &str, extra: &[&str]| {
            let mut args = vec!["os"];
            args.extend(extra);
            args.push(image);
            let mut v = json(&ok(&args));
            v.as_object_mut().unwrap().remove("Reference");
            v
        };
        let want_os = os(&registry, &["--plain-http"]);
        let want_config = ok(&["config", "--plain-http", &registry]);
        let files: Vec<String> = want
            .iter()
            .filter(|v| v["Type"] == "file")
            .map(|v| v["Path"].as_str().unwrap().to_owned())
            .collect();
        for local in &on_disk {
            let mut rows = ls_rows(local, &[]);
            if local.starts_with("docker-archive:") {
                // `docker save` writes layers uncompressed: an eStargz layer becomes a
                // plain tar, and its TOC a file like any other.
                rows.retain(|v| v["Path"] != "/stargz.index.json");
            }
            assert_eq!(rows, want, "{local}");
            assert_eq!(os(local, &[]), want_os, "{local}");
            assert_eq!(ok(&["config", local]), want_config, "{local}");
            if !local.starts_with("docker-archive:") {
                let digest = String::from_utf8(ok(&["digest", local])).unwrap();
                assert_eq!(digest.trim(), img.manifest.digest, "{local}");
            }
            for path in &files {
                assert_eq!(
                    ok(&["cat", local, path]),
                    ok(&["cat", "--plain-http", &registry, path]),
                    "{local} {path}"
                );
            }
        }
    }
}

#[test]
fn hostile_layers_are_refused_with_a_clear_error() {
    use regpeek_lab::image::HOSTILE_TAGS;
    let says = [
        "decompression bomb",
        "a tar header states a size",
        "the layer is truncated",
        "does not match its digest",
    ];
    for (tag, says) in HOSTILE_TAGS.iter().zip(says) {
        let image = r(&format!("lab/hostile:{tag}"));
        for args in [
            vec!["cat", "--plain-http", &image, "/etc/os-release"],
            vec!["ls", "--plain-http", &image],
            vec!["ls", "--plain-http", "--layer", "0", &image],
            vec!["os", "--plain-http", &image],
        ] {
            let out = regpeek(&args);
            let err = stderr_of(&out);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
            if args[0] == "os" {
                // A batch of one: its line says what failed, and nothing else is printed.
                let v = json(&out.stdout);
                assert!(v["Error"].as_str().unwrap().contains(says), "{args:?}: {v}");
                assert!(v.get("ID").is_none(), "{args:?}: {v}");
            } else {
                assert!(
                    stdout.is_empty(),
                    "{args:?}: nothing unverified is printed: {stdout}"
                );
                assert!(err.contains(says), "{args:?}: {err}");
            }
        }
    }
}

/// JSON lines without the `Source` field (which only `--file` and `--from` add).
fn without_source(out: &[u8]) -> Vec<Value> {
    lines_without(out, "Source")
}

#[test]
fn looking_inside_works_on_every_path() {
    // A reference is a batch of one: each command answers the same for an image typed
    // alone, among several, from --file, from --from, one job or several, live or in
    // a recording's replay; an image that fails fails on its own line.
    let images: Vec<String> = [
        "lab/fs:v1",
        "lab/zstd:v1",
        "lab/esgz:v1",
        "lab/hostile:truncated",
    ]
    .iter()
    .map(|i| r(i))
    .collect();
    let dir = empty_home();
    let list = dir.join("list.txt");
    write(&list, &images.join("\n"));
    let compose = dir.join("compose.yaml");
    let services: String = images
        .iter()
        .enumerate()
        .map(|(i, image)| format!("  s{i}:\n    image: {image}\n"))
        .collect();
    write(&compose, &format!("services:\n{services}"));
    let (list, compose) = (list.to_str().unwrap(), compose.to_str().unwrap());
    let commands: [(&str, &[&str]); 5] = [
        ("cat", &["/etc/os-release"]),
        ("ls", &["/etc"]),
        ("os", &[]),
        ("sbom", &[]),
        ("base", &[]),
    ];
    for (cmd, tail) in commands {
        let run = |refs: &[&str], extra: &[&str]| {
            let mut args = vec![cmd, "--plain-http"];
            args.extend(extra);
            args.extend(refs);
            args.extend(tail);
            regpeek(&args)
        };
        let refs: Vec<&str> = images.iter().map(String::as_str).collect();
        let several = run(&refs, &[]);
        let code = several.status.code();
        assert!(
            code == Some(1) || code == Some(2),
            "{cmd}: {}",
            stderr_of(&several)
        );
        let rows = without_source(&several.stdout);
        // Each image's lines are its own, in the order given; the broken one says why.
        let mut order: Vec<String> = rows
            .iter()
            .map(|v| v["Reference"].as_str().unwrap().to_owned())
            .collect();
        order.dedup();
        assert_eq!(order, images, "{cmd}");
        let failed = rows
            .iter()
            .find(|v| v["Reference"] == images[3].as_str())
            .unwrap();
        assert!(failed["Error"].is_string(), "{cmd}: {failed}");
        // The same, from --file and from --from (with where each was named), and with
        // one job at a time.
        for (extra, source) in [
            (vec!["--file", list], format!("{list}:1")),
            (vec!["--from", compose], format!("{compose}:3 service s0")),
        ] {
            let out = run(&[], &extra);
            assert_eq!(out.status.code(), code, "{cmd} {extra:?}");
            assert_eq!(without_source(&out.stdout), rows, "{cmd} {extra:?}");
            assert_eq!(
                json(lines(&out.stdout)[0].as_bytes())["Source"],
                source.as_str(),
                "{cmd}"
            );
        }
        let one_job = run(&refs, &["--jobs", "1"]);
        assert_eq!(one_job.stdout, several.stdout, "{cmd} --jobs 1");
        // One image typed alone answers as the batch did for it.
        let alone = run(&refs[..1], &[]);
        let first: Vec<&Value> = rows.iter().filter(|v| v["Reference"] == refs[0]).collect();
        match cmd {
            "cat" => assert_eq!(
                String::from_utf8_lossy(&alone.stdout),
                first[0]["Text"].as_str().unwrap(),
                "{cmd}"
            ),
            "ls" => {
                let mut want: Vec<Value> = first.iter().map(|v| (*v).clone()).collect();
                for v in &mut want {
                    v.as_object_mut().unwrap().remove("Reference");
                }
                assert_eq!(without_source(&alone.stdout), want, "{cmd}");
            }
            _ => assert_eq!(without_source(&alone.stdout), [first[0].clone()], "{cmd}"),
        }
        // Recorded and replayed: the same lines, the same exit status.
        let mut args = vec![cmd, "--plain-http"];
        args.extend(&refs);
        args.extend(tail);
        record_then_replay(&args);
        let mut args = vec![cmd, "--plain-http", "--file", list];
        args.extend(tail);
        record_then_replay(&args);
    }
    // -o table shows one image; with several it is refused, not ignored.
    let out = regpeek(&["ls", "--plain-http", "-o", "table", &images[0], &images[1]]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    // blob names one blob of one repository: a batch flag is refused.
    let out = regpeek(&[
        "blob",
        "--plain-http",
        "--file",
        list,
        &images[0],
        "sha256:0",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    // Flags that cannot apply are refused, never ignored: --jq on the bytes of one
    // file or of a blob, --platform on a blob named by digest.
    let config = lab().seeded.rich.config.digest.clone();
    let rich = r("lab/rich:v1");
    for args in [
        vec!["--jq", ".", "cat", "--plain-http", &images[0], "/etc/motd"],
        vec!["--jq", ".", "blob", "--plain-http", &rich, &config],
        vec![
            "blob",
            "--plain-http",
            "--platform",
            "linux/arm64",
            &rich,
            &config,
        ],
    ] {
        let out = regpeek(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // A platform flag that names no one platform is a usage error before any image
    // is asked for, for one image or several alike.
    for cmd in ["cat", "ls", "os", "sbom", "provenance", "base"] {
        for platform in ["all", "not/a/platform/at/all"] {
            for refs in [&images[..1], &images[..2]] {
                let mut args = vec![cmd, "--plain-http", "--platform", platform];
                args.extend(refs.iter().map(String::as_str));
                if cmd == "cat" {
                    args.push("/etc/motd");
                }
                let out = regpeek(&args);
                assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
                assert!(out.stdout.is_empty(), "{args:?}");
            }
        }
    }
    // --jq applies to each line of several.
    let out = regpeek(&[
        "--jq",
        ".Size",
        "cat",
        "--plain-http",
        &images[0],
        &images[1],
        "/etc/motd",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "9\n12\n",
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn sbom_and_provenance_read_from_a_local_layout() {
    // An index with its attestation manifest, copied to disk by skopeo: the same
    // documents answer from the layout (the referrer SBOM stays in the registry).
    let dir = empty_home();
    let layout = dir.join("attested");
    copy_with(
        &["--all"],
        &r("lab/attested:v1"),
        &format!("oci:{}:v1", layout.display()),
    );
    let local = format!("oci:{}:v1", layout.display());
    let names = |out: &[u8]| -> Vec<String> {
        lines(out)
            .iter()
            .map(|l| json(l.as_bytes())["Name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&ok(&["sbom", &local])), ["busybox", "musl"]);
    let remote = names(&ok(&["sbom", "--plain-http", &r("lab/attested:v1")]));
    assert_eq!(remote, ["openssl", "busybox", "musl"]);
    let p = json(&ok(&["provenance", &local]));
    assert_eq!(p["Commit"], "0123456789abcdef0123456789abcdef01234567");
}
