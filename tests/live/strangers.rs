//! Recordings come from strangers (they are attached to bug reports): a hand-edited
//! one must not make `replay` write anything, or read the user's own files. Each case
//! is a recording made by hand; nothing outside the recording may change, and the
//! refusal comes before anything runs (exit 2, naming what was refused).

use std::path::Path;

use crate::support::*;

/// A recording in `dir` whose command line is `argv` (its `inputs` are the indexes of
/// `argv` that name files kept in the recording).
fn recording(dir: &Path, argv: &[&str], inputs: &[usize]) {
    std::fs::create_dir_all(dir).unwrap();
    let names: Vec<String> = inputs.iter().map(|i| argv[*i].to_owned()).collect();
    let text = format!(
        "argv: {}\ninputs: {}\ninput-names: {}\ndescription: hand-made\nsource: a stranger\nregistry-credentials: {{}}\n\n",
        serde_json::to_string(argv).unwrap(),
        serde_json::to_string(inputs).unwrap(),
        serde_json::to_string(&names).unwrap(),
    );
    std::fs::write(dir.join("exchanges.http"), text).unwrap();
}

/// Every file under `dir` and its bytes.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() && !p.is_symlink() {
                todo.push(p.clone());
            }
            let bytes = if p.is_file() {
                std::fs::read(&p).unwrap()
            } else {
                Vec::new()
            };
            out.push((p.display().to_string(), bytes));
        }
    }
    out.sort();
    out
}

#[test]
fn a_replay_never_writes_nor_reads_outside_its_recording() {
    let scratch = empty_home();
    let outside = scratch.join("user");
    std::fs::create_dir_all(&outside).unwrap();
    let compose = outside.join("compose.yaml");
    write(
        &compose,
        "services:\n  a:\n    image: 127.0.0.1:1/lab/rich:v1\n",
    );
    write(&outside.join("auth.json"), "{\"auths\":{}}");
    let layout = outside.join("layout");
    std::fs::create_dir_all(&layout).unwrap();
    write(&layout.join("index.json"), "{\"manifests\":[]}");
    write(
        &layout.join("oci-layout"),
        "{\"imageLayoutVersion\":\"1.0.0\"}",
    );
    let hex: String = std::fs::canonicalize(&layout)
        .unwrap()
        .to_string_lossy()
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    let fake_registry = format!("oci-layout.local/{hex}:latest");
    let (c, a, l) = (
        compose.to_str().unwrap(),
        outside.join("auth.json").display().to_string(),
        layout.display().to_string(),
    );
    let man = outside.join("man");
    let oci = format!("oci:{l}");
    let from = format!("--from={c}");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["pin", c], "rewrites files"),
        (vec!["pin", "--update", c], "rewrites files"),
        (vec!["man", man.to_str().unwrap()], "manual pages"),
        (
            vec!["login", "127.0.0.1:1", "--creds", "u:p"],
            "stored credentials",
        ),
        (vec!["logout", "127.0.0.1:1"], "stored credentials"),
        (vec!["cache", "clear"], "changes the cache"),
        (vec!["replay", l.as_str()], "itself a replay"),
        (
            vec!["--record", man.to_str().unwrap(), "digest", "127.0.0.1:1/x"],
            "records",
        ),
        (vec!["pin", "--diff", c], "outside the recording"),
        (vec!["outdated", c], "outside the recording"),
        (vec!["digest", "--file", c], "outside the recording"),
        (vec!["digest", from.as_str()], "outside the recording"),
        (
            vec!["digest", "--authfile", a.as_str(), "127.0.0.1:1/x"],
            "outside the recording",
        ),
        (
            vec!["digest", "--cert-dir", l.as_str(), "127.0.0.1:1/x"],
            "outside the recording",
        ),
        (vec!["ls", oci.as_str()], "outside the recording"),
        (vec!["ls", fake_registry.as_str()], "outside the recording"),
        (
            vec!["digest", "--file", "../../user/compose.yaml"],
            "outside the recording",
        ),
    ];
    let before = snapshot(&outside);
    for (i, (argv, why)) in cases.iter().enumerate() {
        let dir = scratch.join(format!("rec-{i}"));
        recording(&dir, argv, &[]);
        let out = regpeek(&["replay", dir.to_str().unwrap()]);
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{argv:?}: {err}");
        assert!(err.contains(why), "{argv:?}: {err}");
        assert!(out.stdout.is_empty(), "{argv:?} ran");
        assert_eq!(
            snapshot(&outside),
            before,
            "{argv:?} changed the user's files"
        );
    }
    assert!(!man.exists());

    // An input that is a symbolic link out of the recording is outside it too.
    let dir = scratch.join("rec-link");
    recording(&dir, &["pin", "--diff", "inputs/1-compose.yaml"], &[2]);
    std::fs::create_dir_all(dir.join("inputs")).unwrap();
    std::os::unix::fs::symlink(&compose, dir.join("inputs/1-compose.yaml")).unwrap();
    let out = regpeek(&["replay", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("outside the recording"));

    // A kept input inside the recording runs (and fails only for want of answers).
    let dir = scratch.join("rec-inside");
    recording(&dir, &["pin", "--diff", "inputs/1-compose.yaml"], &[2]);
    std::fs::create_dir_all(dir.join("inputs")).unwrap();
    std::fs::copy(&compose, dir.join("inputs/1-compose.yaml")).unwrap();
    let out = regpeek(&["replay", dir.to_str().unwrap()]);
    let err = stderr_of(&out);
    assert!(!err.contains("a replay runs only"), "{err}");
    assert!(err.contains("recording holds no answer"), "{err}");
    assert_eq!(snapshot(&outside), before);
}
