//! The tag inventory: `tags --long` against a skopeo loop, what a rerun asks again,
//! `--points-at` through an index, `--sort created`, `exists`' exit codes, and
//! inspect's `Annotations` and `Subject` against the manifest skopeo reads.

use super::*;
use regpeek_lab::image::{INVENTORY_ALIASES, INVENTORY_INDEXES, INVENTORY_TAGS, inventory};

/// skopeo's JSON for `args` on each of `references` (`{}` stands for
/// `docker://REF`), eight at a time.
fn skopeo_each(args: &[&str], references: &[String]) -> Vec<Value> {
    let mut out: Vec<Option<Value>> = vec![None; references.len()];
    std::thread::scope(|s| {
        for (chunk, slots) in references.chunks(8).zip(out.chunks_mut(8)) {
            let mut handles = Vec::new();
            for r in chunk {
                let argv: Vec<String> = args
                    .iter()
                    .map(|a| a.replace("{}", &format!("docker://{r}")))
                    .collect();
                handles.push(s.spawn(move || {
                    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
                    skopeo(&argv)
                }));
            }
            for (slot, h) in slots.iter_mut().zip(handles) {
                *slot = Some(h.join().unwrap());
            }
        }
    });
    out.into_iter().map(Option::unwrap).collect()
}

/// This machine's architecture as registries spell it.
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => panic!("no lab image for {other}"),
    }
}

/// A manifest's config and layer sizes added up.
fn summed(manifest: &Value) -> u64 {
    let layers = manifest["layers"].as_array().unwrap();
    manifest["config"]["size"].as_u64().unwrap()
        + layers
            .iter()
            .map(|l| l["size"].as_u64().unwrap())
            .sum::<u64>()
}

fn rows_of(bytes: &[u8]) -> Vec<Value> {
    lines(bytes).iter().map(|l| json(l.as_bytes())).collect()
}

#[test]
fn tags_long_equals_a_skopeo_loop() {
    let repo = r("lab/inventory");
    let rows = rows_of(&ok(&["tags", &repo, "--long", "--plain-http"]));
    assert_eq!(rows.len(), INVENTORY_TAGS);
    let refs: Vec<String> = rows
        .iter()
        .map(|row| format!("{repo}:{}", row["Tag"].as_str().unwrap()))
        .collect();
    let inspected = skopeo_each(&["inspect", "--tls-verify=false", "{}"], &refs);
    let raws = skopeo_each(&["inspect", "--raw", "--tls-verify=false", "{}"], &refs);
    let mut distinct = std::collections::BTreeSet::new();
    let mut indexes = std::collections::BTreeSet::new();
    for ((row, theirs), raw) in rows.iter().zip(&inspected).zip(&raws) {
        assert_eq!(row["Digest"], theirs["Digest"], "{row}");
        assert_eq!(row["Created"], theirs["Created"], "{row}");
        distinct.insert(row["Digest"].as_str().unwrap().to_owned());
        let size = match raw["manifests"].as_array() {
            Some(entries) => {
                indexes.insert(row["Digest"].as_str().unwrap().to_owned());
                let platforms: Vec<String> = entries
                    .iter()
                    .map(|e| {
                        let p = &e["platform"];
                        let mut s = format!(
                            "{}/{}",
                            p["os"].as_str().unwrap(),
                            p["architecture"].as_str().unwrap()
                        );
                        if let Some(v) = p["variant"].as_str() {
                            s = format!("{s}/{v}");
                        }
                        s
                    })
                    .collect();
                assert_eq!(row["Platforms"], json!(platforms), "{row}");
                assert_eq!(row["MediaType"], raw["mediaType"], "{row}");
                let host = entries
                    .iter()
                    .find(|e| e["platform"]["architecture"] == host_arch())
                    .unwrap();
                let child = format!("{repo}@{}", host["digest"].as_str().unwrap());
                summed(&skopeo_each(&["inspect", "--raw", "--tls-verify=false", "{}"], &[child])[0])
            }
            None => {
                assert!(row["Platforms"].is_null(), "{row}");
                summed(raw)
            }
        };
        assert_eq!(row["Size"], json!(size), "{row}");
    }
    assert_eq!(distinct.len(), INVENTORY_TAGS - INVENTORY_ALIASES);
    assert_eq!(indexes.len(), INVENTORY_INDEXES);
    // Every platform's size, with --platform all: each entry's own manifest.
    let all = rows_of(&ok(&[
        "tags",
        &repo,
        "--long",
        "--plain-http",
        "--platform",
        "all",
        "--filter",
        "^t127$",
    ]));
    let sizes = all[0]["Sizes"].as_object().unwrap();
    assert_eq!(sizes.len(), 2, "{all:?}");
    assert!(sizes.values().all(|s| s.as_u64().unwrap() > 0), "{all:?}");
    // A table for people, with a header.
    let table = String::from_utf8(ok(&[
        "tags",
        &repo,
        "--long",
        "--plain-http",
        "-o",
        "table",
        "--limit",
        "2",
    ]))
    .unwrap();
    assert!(table.starts_with("TAG "), "{table}");
    assert_eq!(table.lines().count(), 3, "{table}");
}

#[test]
fn a_rerun_asks_again_only_for_the_tag_that_moved() {
    // A repository of this test's own on the token registry, where a tag moves.
    let targets = lab().info.targets().unwrap();
    let inv = inventory();
    let repo = "public/invmove";
    targets.token.image(repo, &inv.images[0], &["a"]).unwrap();
    targets
        .token
        .image(repo, &inv.images[1], &["b", "c"])
        .unwrap();
    let home = empty_home();
    let home_s = home.display().to_string();
    let run = || {
        let out = regpeek_in(
            &["tags", &t(repo), "--long", "--plain-http", "-v"],
            &[("HOME", &home_s)],
            None,
        );
        assert!(out.status.success(), "{}", stderr_of(&out));
        out
    };
    let by_digest = |reqs: &[String]| -> Vec<String> {
        reqs.iter()
            .filter(|r| {
                r.starts_with("GET ") && (r.contains("/manifests/sha256:") || r.contains("/blobs/"))
            })
            .cloned()
            .collect()
    };
    let heads = |reqs: &[String]| reqs.iter().filter(|r| r.starts_with("HEAD ")).count();
    let cold = requests(&run());
    assert_eq!(heads(&cold), 3, "{cold:?}");
    // Two distinct images: a manifest and a config each.
    let fetched = by_digest(&cold);
    assert_eq!(
        fetched.iter().filter(|r| r.contains("/manifests/")).count(),
        2,
        "{cold:?}"
    );
    // Nothing moved: the HEADs alone.
    let warm = requests(&run());
    assert_eq!(heads(&warm), 3, "{warm:?}");
    assert!(by_digest(&warm).is_empty(), "{warm:?}");
    // `b` moves: only its new image is read.
    targets.token.image(repo, &inv.images[2], &["b"]).unwrap();
    let out = run();
    let moved = requests(&out);
    assert_eq!(heads(&moved), 3, "{moved:?}");
    let fetched = by_digest(&moved);
    let new = &inv.images[2].manifest.digest;
    let manifests: Vec<&String> = fetched
        .iter()
        .filter(|r| r.contains("/manifests/"))
        .collect();
    assert_eq!(manifests.len(), 1, "{moved:?}");
    assert!(manifests[0].contains(new.as_str()), "{moved:?}");
    let rows = rows_of(&out.stdout);
    assert_eq!(rows[1]["Tag"], "b");
    assert_eq!(rows[1]["Digest"], json!(new));
}

#[test]
fn points_at_finds_tags_through_their_index() {
    let repo = r("lab/inventory");
    let inv = inventory();
    let singles = inv.images.len();
    // The arm64 image of the first index: its tag, and the alias of that tag.
    let child = &inv.indexes[0].children[1].manifest.digest;
    let tags = lines(&ok(&["tags", &repo, "--points-at", child, "--plain-http"]));
    let index_tag = format!("t{singles:03}");
    assert_eq!(tags, [index_tag.as_str(), "t149"]);
    // An image's digest: its tag and its alias.
    let first = &inv.images[0].manifest.digest;
    let tags = lines(&ok(&["tags", &repo, "--points-at", first, "--plain-http"]));
    assert_eq!(tags, ["t000", "t130"]);
    // With --long, the rows of those tags.
    let rows = rows_of(&ok(&[
        "tags",
        &repo,
        "--points-at",
        first,
        "--long",
        "--plain-http",
    ]));
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["Digest"] == json!(first)));
    // None: exit 1, nothing printed, as `git tag --points-at`.
    let nowhere = format!("sha256:{}", "1".repeat(64));
    let out = regpeek(&["tags", &repo, "--points-at", &nowhere, "--plain-http"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(out.stdout.is_empty());
    // Not a digest: a usage error.
    let out = regpeek(&["tags", &repo, "--points-at", "latest", "--plain-http"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
}

#[test]
fn sort_created_orders_by_the_images_dates() {
    let repo = r("lab/inventory");
    let rows = rows_of(&ok(&["tags", &repo, "--long", "--plain-http"]));
    let mut by_date: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["Created"].as_str().unwrap().to_owned(),
                r["Tag"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // Newest first; tags of one date in the registry's order.
    by_date.sort_by(|a, b| b.0.cmp(&a.0));
    let want: Vec<&str> = by_date.iter().take(7).map(|(_, t)| t.as_str()).collect();
    let got = lines(&ok(&[
        "tags",
        &repo,
        "--sort",
        "created",
        "-r",
        "--limit",
        "7",
        "--plain-http",
    ]));
    assert_eq!(got, want);
    // Oldest first without -r.
    let got = lines(&ok(&[
        "tags",
        &repo,
        "--sort",
        "created",
        "--limit",
        "1",
        "--plain-http",
    ]));
    let oldest = by_date.iter().rev().map(|(d, _)| d).next().unwrap();
    let first = rows.iter().find(|r| r["Tag"] == json!(got[0])).unwrap();
    assert_eq!(first["Created"], json!(oldest));
    // A catalog has no images to date.
    let out = regpeek(&[
        "catalog",
        &lab().info.plain(),
        "--sort",
        "created",
        "--plain-http",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    // --platform without --long or a date changes nothing: refused.
    let out = regpeek(&["tags", &repo, "--platform", "linux/arm64", "--plain-http"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
}

#[test]
fn exists_answers_with_its_exit_code() {
    let code = |args: &[&str]| {
        let out = regpeek(args);
        assert!(!stderr_of(&out).contains("panicked"));
        let err = stderr_of(&out);
        (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
            err,
        )
    };
    let found = r("lab/inventory:t000");
    let no_tag = r("lab/inventory:nope");
    let no_repo = r("lab/no-such-repository:v1");
    assert_eq!(
        code(&["exists", &found, "--plain-http"]),
        (Some(0), String::new(), String::new())
    );
    let (c, out, _) = code(&["exists", &no_tag, "--plain-http"]);
    assert_eq!((c, out.as_str()), (Some(1), ""));
    let (c, out, _) = code(&["exists", &no_repo, "--plain-http"]);
    assert_eq!((c, out.as_str()), (Some(1), ""));
    // Several: a line per missing one.
    let (c, out, _) = code(&["exists", &found, &no_tag, &no_repo, "--plain-http"]);
    assert_eq!(c, Some(1));
    assert_eq!(out, format!("{no_tag}: not found\n{no_repo}: not found\n"));
    // -v: a line for each, the found one with its digest.
    let (c, out, _) = code(&["exists", "-v", &found, "--plain-http"]);
    assert_eq!(c, Some(0));
    assert!(out.starts_with(&format!("{found}: sha256:")), "{out}");
    // Anything else: exit 2, said on stderr.
    let (c, _, err) = code(&["exists", &t("private/rich:v1"), "--plain-http"]);
    assert_eq!(c, Some(2), "{err}");
    let dead = format!("{}/x:v1", lab().info.dead());
    let (c, _, err) = code(&["exists", &dead, "--plain-http", "--timeout", "5"]);
    assert_eq!(c, Some(2), "{err}");
    assert!(err.contains("regpeek: error: "), "{err}");
    // A missing and a failed one: the failure decides.
    let (c, _, _) = code(&["exists", &no_tag, &dead, "--plain-http", "--timeout", "5"]);
    assert_eq!(c, Some(2));
    // Usage: exit 2.
    let (c, _, _) = code(&["exists"]);
    assert_eq!(c, Some(2));
}

#[test]
fn inspect_shows_the_manifests_annotations_and_subject() {
    let seeded = regpeek_lab::image::Seeded::build();
    let artifact = &seeded.signed.artifacts[0];
    let at = r(&format!("lab/signed@{}", artifact.manifest.digest));
    let ours = json(&ok(&["inspect", &at, "--plain-http"]));
    let raw = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{at}"),
    ]);
    assert_eq!(ours["Annotations"], raw["annotations"], "{ours}");
    assert_eq!(
        ours["Subject"]["Digest"], raw["subject"]["digest"],
        "{ours}"
    );
    assert_eq!(ours["Subject"]["Size"], raw["subject"]["size"], "{ours}");
    assert_eq!(
        ours["Subject"]["MediaType"], raw["subject"]["mediaType"],
        "{ours}"
    );
    // An image without annotations or a subject says neither.
    let plain = json(&ok(&["inspect", &r("lab/rich:v1"), "--plain-http"]));
    assert!(
        plain.get("Annotations").is_none() && plain.get("Subject").is_none(),
        "{plain}"
    );
}

#[test]
fn a_registry_that_lists_digests_is_believed_after_one_head_a_page() {
    // The token registry's pager adds, for public/inventory, the manifest map GCR and
    // Artifact Registry put in tags/list (docs/protocol.md §2.1).
    let truth = rows_of(&ok(&[
        "tags",
        &r("lab/inventory"),
        "--long",
        "--plain-http",
    ]));
    let out = regpeek(&[
        "tags",
        &t("public/inventory"),
        "--long",
        "--plain-http",
        "-v",
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let listed = rows_of(&out.stdout);
    assert_eq!(listed.len(), INVENTORY_TAGS);
    for (a, b) in listed.iter().zip(&truth) {
        assert_eq!((&a["Tag"], &a["Digest"]), (&b["Tag"], &b["Digest"]), "{a}");
        assert_eq!(
            (&a["Size"], &a["Created"]),
            (&b["Size"], &b["Created"]),
            "{a}"
        );
        assert!(a["Pushed"].is_string(), "{a}");
    }
    // One HEAD a page of 50, not one a tag.
    let heads = requests(&out)
        .iter()
        .filter(|r| r.starts_with("HEAD ") && r.contains("/manifests/"))
        .count();
    assert_eq!(heads, INVENTORY_TAGS.div_ceil(50), "{}", stderr_of(&out));
    // Newest push first (a push time is the manifest's: tags sharing one share it).
    let mut by_push: Vec<(&str, &str)> = listed
        .iter()
        .map(|r| (r["Pushed"].as_str().unwrap(), r["Tag"].as_str().unwrap()))
        .collect();
    by_push.sort_by(|a, b| b.0.cmp(a.0));
    let want: Vec<&str> = by_push.iter().take(3).map(|(_, t)| *t).collect();
    let newest = lines(&ok(&[
        "tags",
        &t("public/inventory"),
        "--sort",
        "pushed",
        "-r",
        "--limit",
        "3",
        "--plain-http",
    ]));
    assert_eq!(newest, want);

    // A list that lies (its second page names a wrong digest) is caught by the
    // check of that page, said, and every tag is asked instead.
    let out = regpeek(&[
        "tags",
        &t("public/inventory-liar"),
        "--long",
        "--plain-http",
        "-v",
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("its list is not used, every tag is asked"),
        "{err}"
    );
    let asked = rows_of(&out.stdout);
    for (a, b) in asked.iter().zip(&truth) {
        assert_eq!((&a["Tag"], &a["Digest"]), (&b["Tag"], &b["Digest"]), "{a}");
        assert!(a["Pushed"].is_null(), "{a}");
    }
    let heads = requests(&out)
        .iter()
        .filter(|r| r.starts_with("HEAD ") && r.contains("/manifests/"))
        .count();
    assert!(heads >= INVENTORY_TAGS, "{heads}");
}

#[test]
fn a_reference_being_typed_completes_to_its_tags() {
    let home = empty_home();
    let home_s = home.display().to_string();
    let repo = r("lab/inventory");
    let word = format!("{repo}:t14");
    let want: Vec<String> = (140..150).map(|n| format!("{repo}:t{n}")).collect();
    let complete = |extra: &[(&str, &str)]| {
        let mut env = vec![("HOME", home_s.as_str())];
        env.extend_from_slice(extra);
        let out = regpeek_in(&["__complete", &word], &env, None);
        assert!(out.status.success(), "{}", stderr_of(&out));
        lines(&out.stdout)
    };
    // From the registry.
    assert_eq!(complete(&[]), want);
    // Told to stay off the network: the cache's tags alone, none seen yet.
    let offline = [("REGPEEK_COMPLETE_OFFLINE", "1")];
    assert!(complete(&offline).is_empty());
    // Once the tags were seen (a HEAD each), the cache offers them.
    let out = regpeek_in(
        &["tags", &repo, "--long", "--filter", "^t14", "--plain-http"],
        &[("HOME", &home_s)],
        None,
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(complete(&offline), want);
    // A registry that cannot be reached, or a word that is no REPO:…: nothing, exit 0.
    for word in [
        format!("{}/x:", lab().info.dead()),
        repo.clone(),
        "-v".into(),
    ] {
        let out = regpeek_in(&["__complete", &word], &[("HOME", &home_s)], None);
        assert!(out.status.success());
        assert!(out.stdout.is_empty(), "{word}");
    }
    // bash: the script offers, for the word bash split at `:`, what follows it.
    let script = home.join("regpeek.bash");
    std::fs::write(&script, ok(&["completions", "bash"])).unwrap();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_regpeek"))
        .parent()
        .unwrap();
    let (host, rest) = repo.split_once(':').unwrap();
    let line = format!("regpeek inspect {word}");
    let probe = format!(
        "source {}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; COMP_WORDS=(regpeek inspect {host} : {rest} : t14); COMP_CWORD=6; _regpeek_refs regpeek t14 inspect; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let out = Command::new("bash")
        .args(["-c", &probe])
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("HOME", &home_s)
        .output()
        .unwrap();
    let offered = lines(&out.stdout);
    let tags: Vec<String> = (140..150).map(|n| format!("t{n}")).collect();
    assert_eq!(offered, tags, "{}", String::from_utf8_lossy(&out.stderr));
}
