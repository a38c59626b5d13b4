//! Batches: many references, files, --from, shared content, 429 holds.

use super::*;

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
fn from_reads_files_as_their_own_tools_do() {
    let plain = lab().info.plain();
    let dir = empty_home();
    let digests = |out: &Output| -> Vec<(String, String)> {
        assert!(out.status.success(), "{}", stderr_of(out));
        lines(&out.stdout)
            .iter()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                assert!(v["Error"].is_null(), "{v}");
                (
                    v["Reference"].as_str().unwrap().to_owned(),
                    v["Digest"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    // Compose: a BOM and CRLF, variables from the environment (winning) and from the
    // `.env` beside the file, defaults, `$$`, and an unset one that is warned about.
    let compose = dir.join("compose.yaml");
    write(
        &compose,
        "\u{feff}services:\r\n  web:\r\n    image: ${REG}/lab/${WEB:-rich}:v1\r\n  worker:\r\n    image: \"${REG}/lab/multi:${TAG:?set TAG}\"\r\n  cmd:\r\n    image: ${REG}/lab/rich:v1${UNSET}\r\n    command: echo $$HOME\r\n",
    );
    write(
        &dir.join(".env"),
        &format!("REG={plain}\nTAG=v1\nWEB=nope # the environment wins\n"),
    );
    let from = compose.to_str().unwrap();
    let out = ok_in(&["digest", "--from", from], &[("WEB", "rich")], None);
    let got = digests(&out);
    let rich = lab().seeded.rich.manifest.digest.as_str();
    assert_eq!(got.len(), 3, "one line per place, duplicates too: {got:?}");
    assert_eq!(got[0], (format!("{plain}/lab/rich:v1"), rich.to_owned()));
    assert_eq!(got[1].0, format!("{plain}/lab/multi:v1"));
    assert_eq!(got[2], got[0], "the same image at another place");
    // Each line says where the file names it.
    let sources: Vec<String> = lines(&out.stdout)
        .iter()
        .map(|l| json(l.as_bytes())["Source"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        sources,
        [
            format!("{from}:3 service web"),
            format!("{from}:5 service worker"),
            format!("{from}:7 service cmd"),
        ]
    );
    let warned = stderr_of(&out);
    assert!(warned.contains("\"UNSET\" variable is not set"), "{warned}");
    // `${TAG:?…}` stops the run with compose's message when TAG is empty.
    let out = regpeek_in(&["digest", "--from", from], &[("TAG", "")], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("required variable TAG is missing a value: set TAG"),
        "{}",
        stderr_of(&out)
    );

    // A `.env` is read only for a compose file that needs it: one compose would
    // refuse does not break a Kubernetes manifest beside it.
    let other = dir.join("k8s");
    std::fs::create_dir_all(&other).unwrap();
    write(&other.join(".env"), "1BAD=x\n");
    let k8s = other.join("pod.yaml");
    write(
        &k8s,
        &format!("kind: Pod\nspec:\n  containers:\n    - image: {plain}/lab/rich:v1\n"),
    );
    assert_eq!(
        digests(&ok_in(
            &["digest", "--from", k8s.to_str().unwrap()],
            &[],
            None
        ))
        .len(),
        1
    );
    let broken = other.join("compose.yml");
    write(&broken, "services:\n  a:\n    image: $REG/lab/rich:v1\n");
    let out = regpeek_in(&["digest", "--from", broken.to_str().unwrap()], &[], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains(".env"), "{}", stderr_of(&out));

    // A Dockerfile on stdin, told by its content: ARG scope, COPY --from and
    // RUN --mount=from, stage names and indexes skipped.
    let dockerfile = format!(
        "\u{feff}# syntax=docker/dockerfile:1\nARG REG={plain}\nFROM $REG/lab/rich:v1 AS build\nARG REG=elsewhere.invalid\nFROM $REG/lab/multi:v1\nCOPY --from=build /a /a\nCOPY --from=0 /b /b\nARG REG\nCOPY --from=$REG/lab/many-layers:v1 /c /c\nRUN --mount=type=bind,from=$REG/lab/rich:v1,target=/m true\n"
    );
    let out = ok_in(&["digest", "--from", "-"], &[], Some(&dockerfile));
    let refs: Vec<String> = digests(&out).into_iter().map(|(r, _)| r).collect();
    assert_eq!(
        refs,
        [
            format!("{plain}/lab/rich:v1"),
            format!("{plain}/lab/multi:v1"),
            format!("{plain}/lab/many-layers:v1"),
            format!("{plain}/lab/rich:v1"),
        ]
    );
    let sources: Vec<String> = lines(&out.stdout)
        .iter()
        .map(|l| json(l.as_bytes())["Source"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        sources,
        [
            "standard input:3 FROM",
            "standard input:5 FROM",
            "standard input:9 COPY --from",
            "standard input:10 RUN --mount",
        ]
    );
    // A BOM in --file too.
    let out = ok_in(
        &["digest", "--file", "-"],
        &[],
        Some(&format!("\u{feff}{plain}/lab/rich:v1\r\n")),
    );
    assert_eq!(digests(&out)[0].1, rich);
    // Standard input is read once: two readers of it are refused (exit 2).
    for args in [
        vec!["digest", "--from", "-", "--file", "-"],
        vec![
            "digest",
            "--file",
            "-",
            "--username",
            "u",
            "--password-stdin",
        ],
        vec![
            "inspect",
            "--from",
            "-",
            "--username",
            "u",
            "--password-stdin",
        ],
    ] {
        let out = regpeek_in(&args, &[], Some("x\n"));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
        assert!(stderr_of(&out).contains("standard input can be read once"));
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
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_regpeek"));
        isolate(&mut cmd);
        let out = cmd
            .args(&args)
            .env("HOME", &*home)
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
            // Aliases are shared, never copied: read at once, naming no image.
            vec!["digest", "--from", laughs_path.to_str().unwrap()],
            vec![],
            "no image references found",
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
