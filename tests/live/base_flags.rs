//! `base --base IMAGE[@DIGEST]` states the base of an image that does not say its
//! own (as regctl's `check-base --base/--digest`), and `base -o table` prints columns.

use crate::support::*;

fn rebuild(args: &[&str]) -> (serde_json::Value, Option<i32>) {
    let out = regpeek(args);
    (json(&out.stdout), out.status.code())
}

#[test]
fn a_stated_base_is_checked_by_digest_or_by_layers() {
    let (rich, fs) = (r("lab/rich:v1"), r("lab/fs:v1"));
    // lab/rich names no base: without --base, exit 2 saying how to state one.
    let out = regpeek(&["base", "--plain-http", &rich]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("--base IMAGE[@DIGEST]"));
    // By layers: an image is on a base whose layers are its first layers.
    let (v, code) = rebuild(&["base", "--plain-http", &rich, "--base", &rich]);
    assert_eq!(
        (v["Rebuild"].as_bool(), code),
        (Some(false), Some(0)),
        "{v}"
    );
    let (v, code) = rebuild(&["base", "--plain-http", &fs, "--base", &rich]);
    assert_eq!((v["Rebuild"].as_bool(), code), (Some(true), Some(1)), "{v}");
    // By digest: built on what the base is now, or on something else.
    let now = String::from_utf8(ok(&["digest", "--plain-http", &rich])).unwrap();
    let at = format!("{}@{}", r("lab/rich"), now.trim());
    let (v, code) = rebuild(&["base", "--plain-http", &fs, "--base", &at]);
    assert_eq!(
        (v["Rebuild"].as_bool(), code),
        (Some(false), Some(0)),
        "{v}"
    );
    let old = format!("{}@sha256:{}", r("lab/rich"), "0".repeat(64));
    let (v, code) = rebuild(&["base", "--plain-http", &fs, "--base", &old]);
    assert_eq!((v["Rebuild"].as_bool(), code), (Some(true), Some(1)), "{v}");
    // An image that names its own base keeps it.
    let (v, _) = rebuild(&[
        "base",
        "--plain-http",
        &r("lab/based:fresh"),
        "--base",
        &old,
    ]);
    assert_eq!(v["From"], "annotations", "{v}");
    // A table.
    let table = String::from_utf8(ok(&[
        "base",
        "--plain-http",
        "-o",
        "table",
        &r("lab/based:fresh"),
    ]))
    .unwrap();
    assert!(
        table.starts_with("REFERENCE") && table.contains("annotations"),
        "{table}"
    );
}
