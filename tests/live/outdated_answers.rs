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
