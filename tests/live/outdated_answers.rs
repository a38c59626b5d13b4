//! `outdated` answers a user can act on: a tag the repository does not have is an
//! error line of its own, and the others still answer.

use crate::support::*;

#[test]
fn a_tag_the_repository_lacks_is_an_error_line() {
    let (gone, here) = (r("lab/versions:9.9.9"), r("lab/versions:1.25.3"));
    let out = regpeek(&["outdated", "--plain-http", &gone, &here]);
    assert_eq!(out.status.code(), Some(1));
    let rows: Vec<serde_json::Value> = lines(&out.stdout)
        .iter()
        .map(|l| json(l.as_bytes()))
        .collect();
    assert!(
        rows[0]["Error"].as_str().unwrap().contains("no such tag"),
        "{rows:?}"
    );
    assert_eq!(rows[1]["Patch"], "1.25.10", "{rows:?}");
}

/// `pin --check` is a CI gate: a reference pin cannot write is still unpinned, so the
/// gate fails, naming its file and line; one already pinned, or `scratch`, does not.
#[test]
fn pin_check_fails_on_a_reference_it_cannot_write() {
    let dir = empty_home();
    let compose = dir.join("compose.yaml");
    write(
        &compose,
        &format!(
            "services:\n  a:\n    image: ${{IMAGE:-{}}}\n",
            r("lab/rich:v1")
        ),
    );
    let c = compose.display().to_string();
    let out = regpeek(&["pin", "--check", "--plain-http", &c]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("compose.yaml:3"), "{err}");
    assert!(err.contains("not pinned, and pin cannot write it"), "{err}");
    // Pinned (through the variable's default too), and `scratch`: the gate passes.
    let digest = String::from_utf8(ok(&["digest", "--plain-http", &r("lab/rich:v1")])).unwrap();
    let dockerfile = dir.join("Dockerfile");
    write(
        &dockerfile,
        &format!(
            "FROM scratch\nFROM {}@{}\n",
            r("lab/rich:v1"),
            digest.trim()
        ),
    );
    let out = regpeek(&[
        "pin",
        "--check",
        "--plain-http",
        dockerfile.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
}

/// A compose variable resolves as `--from` resolves it (the environment, then the
/// `.env` beside the file), and a recording keeps what it resolved to, never the `.env`.
#[test]
fn outdated_reads_compose_variables_as_from_does() {
    let dir = empty_home();
    let compose = dir.join("compose.yaml");
    write(
        &compose,
        "services:\n  a:\n    image: ${IMG:-nothing.invalid/x:1}\n  b:\n    image: ${OTHER:-lab/none}\n",
    );
    // The .env names the image (and the default of `b` does not matter here).
    write(
        &dir.join(".env"),
        &format!(
            "IMG={}\nOTHER={}\n",
            r("lab/versions:1.25.3"),
            r("lab/versions:2.0.0")
        ),
    );
    let c = compose.display().to_string();
    let (recorded, replayed, _) = record_then_replay(&["outdated", "--plain-http", &c]);
    let rows: Vec<serde_json::Value> = lines(&recorded.stdout)
        .iter()
        .map(|l| json(l.as_bytes()))
        .collect();
    assert_eq!(rows.len(), 2, "{}", stderr_of(&recorded));
    assert_eq!(rows[0]["Reference"], r("lab/versions:1.25.3"));
    assert_eq!(rows[0]["Patch"], "1.25.10");
    assert_eq!(rows[1]["Tag"], "2.0.0");
    assert_eq!(recorded.stdout, replayed.stdout, "{}", stderr_of(&replayed));
}

/// `pin` rewrites only files it knows: a reference list is one named `.txt` (or given
/// `--kind list`); anything else it cannot tell is refused, naming it. A file with no
/// image in it says so.
#[test]
fn pin_refuses_a_file_it_does_not_know_and_says_when_one_holds_no_image() {
    let dir = empty_home();
    let notes = dir.join("NOTES");
    write(&notes, &format!("{}\n", r("lab/rich:v1")));
    let n = notes.display().to_string();
    let out = regpeek(&["pin", "--diff", "--plain-http", &n]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("NOTES: not a kind of file pin knows"),
        "{}",
        stderr_of(&out)
    );
    let out = regpeek(&["pin", "--diff", "--plain-http", "--kind", "list", &n]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("@sha256:"));
    let empty = dir.join("compose.yaml");
    write(&empty, "services:\n  a:\n    build: .\n");
    let out = regpeek(&["pin", "--diff", "--plain-http", empty.to_str().unwrap()]);
    assert!(
        stderr_of(&out).contains("no image reference found"),
        "{}",
        stderr_of(&out)
    );
}
