//! Batches that know what they cost: `--pull-budget` against a modelled Docker Hub
//! (`fixtures/cli/hub-pull-budget`, written by `cargo xtask model`) whose
//! `ratelimit-remaining` counts down, and against the lab's real registry.

use super::*;

#[test]
fn a_pull_budget_stops_manifest_gets_before_it_is_passed() {
    // Replayed from a copy: a replay reads its recording's directory only.
    let scratch = empty_home();
    let dir = scratch.join("hub-pull-budget");
    std::fs::create_dir_all(&dir).unwrap();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/cli/hub-pull-budget/exchanges.http"
    );
    std::fs::copy(fixture, dir.join("exchanges.http")).unwrap();
    let out = regpeek(&["replay", dir.to_str().unwrap()]);
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
}
