//! Batches that know what they cost: `--pull-budget` against a modelled Docker Hub
//! (`fixtures/cli/hub-pull-budget`, written by `cargo xtask model`) whose
//! `ratelimit-remaining` counts down, and against the lab's real registry.

use super::*;

/// The modelled recording `fixtures/cli/NAME` replayed through the CLI, from a copy (a
/// replay reads its recording's directory only).
fn replayed(name: &str) -> Output {
    let scratch = empty_home();
    let dir = scratch.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/cli")
        .join(name)
        .join("exchanges.http");
    std::fs::copy(&fixture, dir.join("exchanges.http")).unwrap();
    regpeek(&["replay", dir.to_str().unwrap()])
}

#[test]
fn a_pull_budget_stops_manifest_gets_before_it_is_passed() {
    let out = replayed("hub-pull-budget");
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let lines = lines(&out.stdout);
    assert_eq!(lines.len(), 4, "{lines:#?}");
    let answered = lines.iter().filter(|l| l.contains("\"Digest\"")).count();
    let refused: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("not sent: the pull budget of 3 is spent"))
        .collect();
    assert_eq!((answered, refused.len()), (3, 1), "{lines:#?}");
    // The first reference goes first and alone: it is never the one refused.
    assert!(lines[0].contains("\"Digest\""), "{lines:#?}");
}

#[test]
fn platforms_says_what_it_spent_of_docker_hubs_pulls() {
    let out = replayed("hub-platforms");
    assert!(out.status.success(), "{}", stderr_of(&out));
    // The index and three platforms' manifests; the lowest remaining, whatever order
    // the answers came in.
    assert!(
        stderr_of(&out)
            .contains("regpeek: 4 pulls spent on Docker Hub (ratelimit-remaining 96;w=21600)"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn heads_and_the_cache_go_on_past_the_budget() {
    let home = empty_home();
    let env = [("HOME", home.to_str().unwrap())];
    let image = r("lab/rich:v1");
    // Spent: a GET is refused, with exit 1 and the reason.
    let out = regpeek_in(&["inspect", "--pull-budget", "0", &image], &env, None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("not sent: the pull budget of 0 is spent"),
        "{}",
        stderr_of(&out)
    );
    assert!(
        stderr_of(&out).contains("hint: raise --pull-budget N"),
        "{}",
        stderr_of(&out)
    );
    // A digest is a HEAD: free.
    let out = regpeek_in(&["digest", "--pull-budget", "0", &image], &env, None);
    assert!(out.status.success(), "{}", stderr_of(&out));
    // Once cached, an inspect revalidates with a HEAD: free too.
    assert!(
        regpeek_in(&["inspect", &image], &env, None)
            .status
            .success()
    );
    let out = regpeek_in(&["inspect", "--pull-budget", "0", &image], &env, None);
    assert!(out.status.success(), "{}", stderr_of(&out));
    // platforms: each platform's manifest once, then nothing more from the cache.
    let multi = r("lab/multi:v1");
    let out = regpeek_in(&["platforms", "--pull-budget", "9", &multi], &env, None);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("4 pulls spent on 127.0.0.1:"),
        "{}",
        stderr_of(&out)
    );
    let out = regpeek_in(&["platforms", "--pull-budget", "0", &multi], &env, None);
    assert!(out.status.success(), "warm: {}", stderr_of(&out));
    assert!(
        !stderr_of(&out).contains("pulls spent"),
        "{}",
        stderr_of(&out)
    );
}
