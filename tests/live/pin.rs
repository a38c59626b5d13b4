//! `pin`: files of every kind rewritten in place against the lab, only in their
//! references, with `HEAD`s only; a moved tag; failures that leave every file as it
//! was; what pin refuses.

use super::*;
use std::path::Path;

/// Removes what pin adds: every `@sha256:<hex>` (and `:latest` before one).
fn unpinned(text: &str) -> String {
    let re = regex::Regex::new(r"(:latest)?@sha256:[0-9a-f]{64}").unwrap();
    re.replace_all(text, "").into_owned()
}

fn files(dir: &Path, moving: &str) -> Vec<(&'static str, String)> {
    let multi = r("lab/multi:v1");
    let rich = r("lab/rich:v1");
    vec![
        (
            "Dockerfile",
            format!(
                "\u{feff}# syntax=docker/dockerfile:1\r\nARG BASE={rich}\r\nFROM {multi} AS build\r\nRUN echo hi\r\nFROM $BASE\r\nCOPY --from=build /a /a\r\nCOPY --from={moving} /b /b\r\nFROM scratch"
            ),
        ),
        (
            "compose.yaml",
            format!(
                "# services\nx-base: &base\n  image: {rich} # shared\n  restart: always\n\nservices:\n  web:\n    <<: *base\n  api: {{image: '{multi}'}}\n  moving:\n    image: \"{moving}\"\n  env:\n    image: ${{IMAGE:-{rich}}}"
            ),
        ),
        (
            "k8s.yaml",
            format!(
                "kind: Pod\nspec:\n  containers:\n    - name: app\n      image: {rich}\n---\nkind: Job\nspec:\n  template:\n    spec:\n      initContainers:\n        - name: init\n          image: {multi}\n"
            ),
        ),
        (
            ".github/workflows/ci.yml",
            format!(
                "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    container: {rich}\n    steps:\n      - uses: docker://{multi}\n"
            ),
        ),
        ("images.txt", format!("{rich}  # the rich one\n\n{moving}\n")),
    ]
    .into_iter()
    .inspect(|(name, text)| {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    })
    .collect()
}

#[test]
fn pin_rewrites_only_references_with_heads_alone() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = empty_home();
    let rich = lab().seeded.rich.manifest.digest.clone();
    let multi = lab().seeded.multi.index.digest.clone();
    // A pin gone stale: the tag points elsewhere now (the registry is shared by the
    // whole suite, so the test moves no tag of its own).
    let stale = lab().seeded.many_layers.manifest.digest.clone();
    let moving = format!("{}@{stale}", r("lab/rich:v1"));
    let inputs = files(&dir, &moving);
    std::fs::set_permissions(
        dir.join("compose.yaml"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    let paths: Vec<String> = inputs
        .iter()
        .map(|(name, _)| dir.join(name).display().to_string())
        .collect();
    let home = dir.display().to_string();
    let env = [("HOME", home.as_str())];
    let run = |extra: &[&str]| {
        let mut args = vec!["pin", "--plain-http", "-v"];
        args.extend_from_slice(extra);
        args.extend(paths.iter().map(String::as_str));
        regpeek_in(&args, &env, None)
    };
    let read = || -> Vec<String> {
        inputs
            .iter()
            .map(|(name, _)| std::fs::read_to_string(dir.join(name)).unwrap())
            .collect()
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    // Learnt with HEAD only: one per distinct tag, no manifest GET (a pull on Docker Hub).
    let sent = requests(&out);
    assert!(
        !sent
            .iter()
            .any(|r| r.starts_with("GET") && r.contains("/manifests/")),
        "{sent:?}"
    );
    let heads = sent.iter().filter(|r| r.starts_with("HEAD")).count();
    assert_eq!(heads, 2, "{sent:?}");
    let pinned = read();
    for ((name, before), after) in inputs.iter().zip(&pinned) {
        assert_eq!(
            unpinned(after),
            unpinned(before),
            "{name}: only references change"
        );
        assert_ne!(after, before, "{name}: something was pinned");
        assert!(
            after.contains(&format!("{}@{rich}", r("lab/rich:v1"))),
            "{name}: {after}"
        );
        assert_eq!(
            after.matches(&moving).count(),
            before.matches(&moving).count(),
            "{name}: a moved pin is reported, not rewritten"
        );
    }
    let compose = &pinned[1];
    assert!(
        compose.contains(&format!("'{}@{multi}'", r("lab/multi:v1"))),
        "{compose}"
    );
    assert!(
        compose.contains("${IMAGE:-"),
        "a compose variable is left alone"
    );
    let mode = std::fs::metadata(dir.join("compose.yaml"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640, "the mode is kept");
    let report: Vec<Value> = lines(&out.stdout)
        .iter()
        .map(|l| json(l.as_bytes()))
        .collect();
    let row = |context: &str| {
        report
            .iter()
            .find(|v| v["Context"] == context)
            .unwrap_or_else(|| panic!("{context} is reported: {report:?}"))
    };
    assert_eq!(row("service env")["Status"], "cannot");
    assert_eq!(row("service env")["Line"], 13);
    assert_eq!(row("service moving")["Status"], "moved");
    assert_eq!(row("service moving")["Digest"], rich.as_str());
    let err = stderr_of(&out);
    assert!(err.contains("compose.yaml:13: service env"), "{err}");
    assert!(
        err.contains("compose.yaml:11: service moving") && err.contains("its tag has moved"),
        "{err}"
    );

    // --check fails on the moved pin, shows what --update would write, writes nothing.
    let out = run(&["--check", "--update"]);
    assert_eq!(out.status.code(), Some(1), "a moved tag fails the check");
    let diff = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        diff.contains("--- a/") && diff.contains(&format!("-    image: \"{moving}\"")),
        "{diff}"
    );
    assert_eq!(read(), pinned);
    // --update writes it, and nothing else changes.
    let out = run(&["--update"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let fresh = format!("{}@{rich}", r("lab/rich:v1"));
    for ((name, _), (before, now)) in inputs.iter().zip(pinned.iter().zip(read())) {
        assert_eq!(
            now,
            before.replace(&moving, &fresh),
            "{name}: only the moved pin changes"
        );
    }
    // Pinned and warm: one HEAD per distinct tag, no diff; --check still fails on the
    // compose variable pin cannot write (an unpinned reference), naming it.
    let out = run(&["--check"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("compose.yaml:13"),
        "{}",
        stderr_of(&out)
    );
    assert!(out.stdout.is_empty(), "no diff");
    let sent = requests(&out);
    assert_eq!(sent.len(), 2, "warm: one HEAD per distinct tag: {sent:?}");
    assert!(sent.iter().all(|r| r.starts_with("HEAD")), "{sent:?}");
}

#[test]
fn pin_writes_nothing_when_a_reference_cannot_be_resolved() {
    let dir = empty_home();
    let good = r("lab/rich:v1");
    let down = format!("{}/team/app:v1", lab().info.dead());
    let private = t("private/rich:v1");
    let compose = format!(
        "services:\n  good:\n    image: {good}\n  down:\n    image: {down}\n  private:\n    image: {private}\n"
    );
    let dockerfile = format!("FROM {good}\n");
    write(&dir.join("compose.yaml"), &compose);
    write(&dir.join("Dockerfile"), &dockerfile);
    let before = std::fs::metadata(dir.join("Dockerfile"))
        .unwrap()
        .modified()
        .unwrap();
    let c = dir.join("compose.yaml").display().to_string();
    let d = dir.join("Dockerfile").display().to_string();
    let out = regpeek(&["pin", "--plain-http", "--timeout", "20", &d, &c]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains(&format!("{c}:5: service down")), "{err}");
    assert!(err.contains(&format!("{c}:7: service private")), "{err}");
    assert!(err.contains("nothing written"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.join("compose.yaml")).unwrap(),
        compose
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("Dockerfile")).unwrap(),
        dockerfile
    );
    let after = std::fs::metadata(dir.join("Dockerfile"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after, "not even rewritten with the same bytes");
    let report: Vec<Value> = lines(&out.stdout)
        .iter()
        .map(|l| json(l.as_bytes()))
        .collect();
    let statuses: Vec<&str> = report
        .iter()
        .map(|v| v["Status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["resolved", "resolved", "failed", "failed"],
        "nothing was written, so nothing says pinned: {report:?}"
    );
    assert!(report.iter().all(|v| v["Written"] == false), "{report:?}");
    assert_no_secret("pin", &err);
    // --check says the same, and fails.
    let out = regpeek(&["pin", "--check", "--plain-http", "--timeout", "20", &d, &c]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(dir.join("compose.yaml")).unwrap(),
        compose
    );
}

#[test]
fn pin_refuses_what_it_cannot_do() {
    let dir = empty_home();
    write(
        &dir.join("Dockerfile"),
        &format!("FROM {}\n", r("lab/rich:v1")),
    );
    let d = dir.join("Dockerfile").display().to_string();
    let rec = dir.join("rec").display().to_string();
    for (args, says) in [
        (vec!["pin", "-"], "standard input"),
        (
            vec!["--record", &rec, "pin", &d],
            "--record cannot record pin",
        ),
        (vec!["--jq", ".Status", "pin", "--diff", &d], "--jq"),
        (vec!["pin", "--check", "--diff", &d], "cannot be used with"),
        (vec!["pin"], "required"),
    ] {
        let out = regpeek(&args);
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert_eq!(
        std::fs::read_to_string(&d).unwrap(),
        format!("FROM {}\n", r("lab/rich:v1"))
    );
    // --jq filters the report.
    let out = ok(&["--jq", ".Status", "pin", "--plain-http", &d]);
    assert_eq!(String::from_utf8_lossy(&out).trim(), "pinned");
}

#[test]
fn outdated_offers_newer_tags_on_the_same_track() {
    let dir = empty_home();
    let v = |tag: &str| r(&format!("lab/versions:{tag}"));
    let rich = &lab().seeded.rich.manifest.digest;
    let stale = &lab().seeded.many_layers.manifest.digest;
    let compose = format!(
        "services:\n  web:\n    image: {}\n  cache:\n    image: {}\n  pinned:\n    image: {}@{stale}\n",
        v("1.25.3"),
        v("1.25.3-alpine3.19"),
        v("latest"),
    );
    let file = dir.join("compose.yaml");
    write(&file, &compose);
    let f = file.display().to_string();
    let (one_five, two) = (v("1.25"), v("2.0.0"));
    let out = regpeek(&["outdated", "--plain-http", "-v", &f, &one_five, &two]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    // Tag lists and HEADs only: nothing counts as a pull.
    let sent = requests(&out);
    assert!(
        !sent
            .iter()
            .any(|r| r.starts_with("GET") && r.contains("/manifests/")),
        "{sent:?}"
    );
    assert_eq!(
        sent.iter().filter(|r| r.contains("/tags/list")).count(),
        1,
        "{sent:?}"
    );
    let rows: Vec<Value> = lines(&out.stdout)
        .iter()
        .map(|l| json(l.as_bytes()))
        .collect();
    assert_eq!(rows.len(), 5, "{rows:?}");
    let newer = |row: &Value| {
        (
            row["Patch"].as_str().map(str::to_owned),
            row["Minor"].as_str().map(str::to_owned),
            row["Major"].as_str().map(str::to_owned),
        )
    };
    let s = |t: &str| Some(t.to_owned());
    assert_eq!(rows[0]["Source"], format!("{f}:3 service web"));
    assert_eq!(newer(&rows[0]), (s("1.25.10"), s("1.27.1"), s("2.0.0")));
    assert_eq!(
        newer(&rows[1]),
        (s("1.25.5-alpine3.20"), None, None),
        "the variant's own track"
    );
    assert_eq!(rows[2]["Tag"], "latest");
    assert_eq!(rows[2]["Moved"], true, "a pin of a moved non-version tag");
    assert_eq!(rows[2]["Digest"], rich.as_str());
    assert_eq!(
        newer(&rows[3]),
        (None, s("1.26"), None),
        "the same precision"
    );
    assert_eq!(
        rows[4]["Outdated"], false,
        "no pre-release offered to a release"
    );
    assert!(rows[3]["Source"].is_null());
    // --exit-code: 1 when anything is outdated; 0 for the newest.
    let out = regpeek(&["outdated", "--plain-http", "--exit-code", &f]);
    assert_eq!(out.status.code(), Some(1));
    let out = regpeek(&["outdated", "--plain-http", "--exit-code", &two]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    // A table, and --jq on the lines; a repository that does not exist is an error.
    let table = String::from_utf8(ok(&[
        "outdated",
        "--plain-http",
        "-o",
        "table",
        &v("1.25.3"),
    ]))
    .unwrap();
    let head: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        head,
        [
            "REFERENCE",
            "TAG",
            "PATCH",
            "MINOR",
            "MAJOR",
            "SOURCE",
            "NOTE"
        ]
    );
    assert!(
        table.contains("1.25.10") && table.contains("1.27.1"),
        "{table}"
    );
    let out = ok(&["outdated", "--plain-http", "--jq", ".Major", &v("1.25.3")]);
    assert_eq!(String::from_utf8_lossy(&out).trim(), "2.0.0");
    let out = regpeek(&["outdated", "--plain-http", &r("nope/missing:1.0")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"Error\""));
    let out = regpeek(&["outdated", "-o", "table", "--jq", ".", &two]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn outdated_is_recorded_and_replayed_with_its_files() {
    let dir = empty_home();
    let file = dir.join("Dockerfile");
    write(
        &file,
        &format!(
            "FROM {}\nFROM {}\n",
            r("lab/versions:1.25.3"),
            r("lab/versions:1.26")
        ),
    );
    let f = file.display().to_string();
    let rec = dir.join("recording");
    let live = regpeek(&[
        "--record",
        rec.to_str().unwrap(),
        "outdated",
        "--plain-http",
        "--exit-code",
        &f,
    ]);
    assert_eq!(live.status.code(), Some(1), "{}", stderr_of(&live));
    let text = String::from_utf8_lossy(&live.stdout).into_owned();
    assert!(
        text.contains(&format!("\"Source\":\"{f}:1 FROM\"")),
        "{text}"
    );
    // The file is gone: the replay reads the copy the recording kept, and names it
    // as the live run did.
    std::fs::remove_file(&file).unwrap();
    let replayed = regpeek(&["replay", rec.to_str().unwrap()]);
    assert_eq!(
        String::from_utf8_lossy(&replayed.stdout),
        text,
        "{}",
        stderr_of(&replayed)
    );
    assert_eq!(replayed.status.code(), Some(1));
}

#[test]
fn base_says_when_a_rebuild_is_due() {
    let (fresh, stale) = (r("lab/based:fresh"), r("lab/based:stale"));
    let rich = &lab().seeded.rich.manifest.digest;
    let out = regpeek(&["base", "--plain-http", &fresh]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let v = json(&out.stdout);
    assert_eq!(v["Base"], r("lab/rich:v1"));
    assert_eq!(
        (v["BaseDigest"].as_str(), v["Rebuild"].as_bool()),
        (Some(rich.as_str()), Some(false))
    );
    // On a digest its base's tag no longer has: exit 1, and what the tag has now.
    let (live, _, _) = record_then_replay(&["base", "--plain-http", &fresh, &stale]);
    assert_eq!(live.status.code(), Some(1), "{}", stderr_of(&live));
    let rows: Vec<Value> = lines(&live.stdout)
        .iter()
        .map(|l| json(l.as_bytes()))
        .collect();
    assert_eq!(rows[1]["Rebuild"], true);
    assert_eq!(rows[1]["Current"], rich.as_str());
    // An image that names no base, or no image at all: exit 2, saying why.
    let out = regpeek(&["base", "--plain-http", &r("lab/rich:v1"), &fresh]);
    assert_eq!(out.status.code(), Some(2));
    let rows: Vec<Value> = lines(&out.stdout)
        .iter()
        .map(|l| json(l.as_bytes()))
        .collect();
    assert!(
        rows[0]["Error"]
            .as_str()
            .unwrap()
            .contains("says nothing of its base"),
        "{rows:?}"
    );
    assert_eq!(rows[1]["Rebuild"], false, "the others are still answered");
    let out = regpeek(&["base", "--plain-http", &r("nope/x:1")]);
    assert_eq!(out.status.code(), Some(2));
    let out = regpeek(&["base", "not a reference!"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn pin_diff_is_recorded_and_replayed_with_its_files() {
    let dir = empty_home();
    let file = dir.join("Dockerfile");
    let text = format!(
        "FROM {}\r\nFROM {}\r\n",
        r("lab/rich:v1"),
        r("lab/multi:v1")
    );
    write(&file, &text);
    let f = file.display().to_string();
    for mode in ["--diff", "--check"] {
        let rec = dir.join(format!("rec{mode}"));
        let live = regpeek(&[
            "--record",
            rec.to_str().unwrap(),
            "pin",
            mode,
            "--plain-http",
            &f,
        ]);
        let diff = String::from_utf8_lossy(&live.stdout).into_owned();
        assert!(
            diff.starts_with(&format!("--- a/{f}\n+++ b/{f}\n")),
            "{diff}"
        );
        // The replay reads the kept copy, names it as the live run did, writes nothing.
        let replayed = regpeek(&["replay", rec.to_str().unwrap()]);
        assert_eq!(
            String::from_utf8_lossy(&replayed.stdout),
            diff,
            "{}",
            stderr_of(&replayed)
        );
        assert_eq!(replayed.status.code(), live.status.code());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    }
}

#[test]
fn from_platform_in_a_file_picks_that_platform() {
    let multi = r("lab/multi:v1");
    let arm64 = String::from_utf8(ok(&[
        "digest",
        "--plain-http",
        "--platform",
        "linux/arm64",
        &multi,
    ]))
    .unwrap();
    let index = &lab().seeded.multi.index.digest;
    let dockerfile = format!(
        "FROM --platform=linux/arm64 {multi} AS a\nFROM {multi}\nFROM --platform=$BUILDPLATFORM {multi}\n"
    );
    let out = ok_in(
        &["digest", "--plain-http", "--from", "-"],
        &[],
        Some(&dockerfile),
    );
    let rows: Vec<Value> = lines(&out.stdout)
        .iter()
        .map(|l| json(l.as_bytes()))
        .collect();
    let digests: Vec<&str> = rows.iter().map(|v| v["Digest"].as_str().unwrap()).collect();
    assert_eq!(
        digests,
        [arm64.trim(), index.as_str(), index.as_str()],
        "{rows:?}"
    );
    let compose = format!("services:\n  a:\n    image: {multi}\n    platform: linux/arm64\n");
    let out = ok_in(
        &["inspect", "--plain-http", "--from", "-"],
        &[],
        Some(&compose),
    );
    assert_eq!(json(&out.stdout)["Architecture"], "arm64");
}

#[test]
fn pin_kind_and_platform_flags() {
    let dir = empty_home();
    let multi = r("lab/multi:v1");
    // A name that says nothing: --kind says it is a compose file.
    let file = dir.join("deploy.conf");
    let text = format!("services:\n  a:\n    image: {multi}\n");
    write(&file, &text);
    let f = file.display().to_string();
    let out = regpeek(&["pin", "--plain-http", "--kind", "compose", "--diff", &f]);
    let diff = String::from_utf8_lossy(&out.stdout).into_owned();
    let index = &lab().seeded.multi.index.digest;
    assert!(
        diff.contains(&format!("+    image: {multi}@{index}")),
        "{diff}"
    );
    // --platform pins that platform's manifest (reading the index: not pull-free).
    let arm64 = String::from_utf8(ok(&[
        "digest",
        "--plain-http",
        "--platform",
        "linux/arm64",
        &multi,
    ]))
    .unwrap();
    let out = regpeek(&[
        "pin",
        "--plain-http",
        "--kind",
        "compose",
        "--platform",
        "linux/arm64",
        &f,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let now = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        now,
        text.replace(&multi, &format!("{multi}@{}", arm64.trim()))
    );
}

#[test]
fn pin_reads_gitlab_ci_and_reports_helm_values() {
    let dir = empty_home();
    let (rich, multi) = (r("lab/rich:v1"), r("lab/multi:v1"));
    let (rich_d, multi_d) = (
        &lab().seeded.rich.manifest.digest,
        &lab().seeded.multi.index.digest,
    );
    let ci = dir.join(".gitlab-ci.yml");
    let text = format!(
        "stages: [test]\ndefault:\n  image:\n    name: {rich}\n    entrypoint: [\"\"]\ntest:\n  image: $CI_REGISTRY_IMAGE:latest\n  services:\n    - {multi}\n    - name: \"{rich}\"\n      alias: db\n  script: make test\n"
    );
    write(&ci, &text);
    let f = ci.display().to_string();
    let out = regpeek(&["pin", "--plain-http", &f]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(
        std::fs::read_to_string(&ci).unwrap(),
        text.replace(&format!("{rich}\n"), &format!("{rich}@{rich_d}\n"))
            .replace(&format!("\"{rich}\""), &format!("\"{rich}@{rich_d}\""))
            .replace(&format!("- {multi}"), &format!("- {multi}@{multi_d}"))
    );
    let err = stderr_of(&out);
    assert!(
        err.contains(".gitlab-ci.yml:7: job test image") && err.contains("GitLab CI variable"),
        "{err}"
    );
    // --from reads the same images, and says which it leaves out.
    let out = regpeek(&["digest", "--plain-http", "--from", &f]);
    let digests: Vec<Value> = lines(&out.stdout)
        .iter()
        .map(|l| json(l.as_bytes()))
        .collect();
    assert_eq!(digests.len(), 3, "{digests:?}");
    assert!(
        stderr_of(&out).contains("set by a variable"),
        "{}",
        stderr_of(&out)
    );

    // Helm values: reported with the image the chart joins, never rewritten; an
    // unpinned one fails --check, one with its digest field set does not.
    let values = dir.join("values.yaml");
    let (registry, repository) = rich.split_once('/').unwrap();
    let repository = repository.trim_end_matches(":v1");
    let text = format!("image:\n  registry: {registry}\n  repository: {repository}\n  tag: v1\n");
    write(&values, &text);
    let v = values.display().to_string();
    let out = regpeek(&["pin", "--plain-http", "--check", &v]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("values.yaml:3: value image"),
        "{}",
        stderr_of(&out)
    );
    let pinned = format!("{text}  digest: {rich_d}\n");
    write(&values, &pinned);
    let out = regpeek(&["pin", "--plain-http", "--check", &v]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let out = regpeek(&["pin", "--plain-http", &v]);
    let row = json(lines(&out.stdout)[0].as_bytes());
    assert_eq!(row["Reference"], format!("{rich}@{rich_d}"), "{row}");
    assert_eq!(row["Status"], "cannot", "{row}");
    assert_eq!(std::fs::read_to_string(&values).unwrap(), pinned);
}
