//! Adversity: a hostile registry (regpeek_lab::hostile) ends every command within its deadline with one clear line.

use super::*;

#[test]
fn a_silent_registry_ends_at_the_deadline() {
    let r = format!("{}/silent:v1", hostile().addr());
    let e = fails_within(&["digest", &r], 2);
    assert!(e.contains("timed out waiting for the response"), "{e}");
    // The stage in words, not the transport's own names for its timers.
    assert!(
        !e.contains("timeout: global") && !e.contains("Timeout"),
        "{e}"
    );
    assert!(e.contains("hint: "), "{e}");
}

#[test]
fn a_silent_token_server_ends_at_the_deadline() {
    let r = format!("{}/silent-token:v1", hostile().addr());
    let e = fails_within(&["digest", &r], 2);
    assert!(e.contains("timed out waiting for the response"), "{e}");
    assert!(e.contains("/token-silent"), "names the token server: {e}");
}

#[test]
fn a_silent_registry_is_dropped_after_10s_idle_even_without_a_deadline() {
    let r = format!("{}/silent:v1", hostile().addr());
    let start = std::time::Instant::now();
    let out = regpeek(&["digest", &r, "--plain-http", "--timeout", "0"]);
    let took = start.elapsed();
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{e}");
    assert!(e.contains("timed out waiting for the response"), "{e}");
    assert!(
        took >= std::time::Duration::from_secs(9) && took < std::time::Duration::from_secs(14),
        "idle timeout is 10 s, took {took:?}"
    );
}

#[test]
fn a_dripping_head_ends_at_the_deadline() {
    let r = format!("{}/drip:v1", hostile().addr());
    let e = fails_within(&["manifest", &r], 3);
    assert!(e.contains("timed out waiting for the response"), "{e}");
}

#[test]
fn a_dripping_body_ends_at_the_deadline() {
    let r = format!("{}/drip-body:v1", hostile().addr());
    let e = fails_within(&["manifest", &r], 3);
    assert!(e.contains("timed out reading the body"), "{e}");
}

#[test]
fn endless_headers_end_quickly() {
    let r = format!("{}/endless-headers:v1", hostile().addr());
    let e = fails_within(&["manifest", &r], 5);
    assert!(e.contains("registry http://127.0.0.1:"), "{e}");
}

#[test]
fn a_huge_manifest_is_cut_at_its_cap() {
    let r = format!("{}/huge:v1", hostile().addr());
    let e = fails_within(&["manifest", &r], 10);
    assert!(
        e.contains("response body exceeds the 4194304-byte limit"),
        "{e}"
    );
}

#[test]
fn escape_sequences_from_the_registry_never_reach_the_terminal() {
    let r = format!("{}/esc:v1", hostile().addr());
    let e = fails_within(&["inspect", &r], 5);
    assert!(e.contains(r"\x1b[31mred\x1b]0;pwned\x07"), "{e}");
    assert!(e.contains(r"\u{202e}txt.exe"), "{e}");
    assert!(
        !e.chars()
            .any(|c| (c.is_control() && c != '\n') || c == '\u{202e}'),
        "raw control characters on stderr: {e:?}"
    );
}

#[test]
fn a_token_that_never_expires_does_not_overflow() {
    let r = format!("{}/expires:v1", hostile().addr());
    let out = regpeek(&["digest", &r, "--plain-http", "--timeout", "10"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let want = regpeek_lab::image::sha256(regpeek_lab::hostile::MANIFEST);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), want);
}

#[test]
fn a_reset_after_the_headers_is_retried_then_reported() {
    let r = format!("{}/reset:v1", hostile().addr());
    // Three retries back off 0.5 + 1 + 2 s at most.
    let e = fails_within(&["manifest", &r], 8);
    assert!(e.contains("connection reset or closed early"), "{e}");
}

#[test]
fn a_retry_after_past_the_deadline_is_reported_at_once() {
    let r = format!("{}/slow-retry:v1", hostile().addr());
    let start = std::time::Instant::now();
    let e = fails_within(&["digest", &r], 5);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(3),
        "waited instead of reporting: {e}"
    );
    assert!(
        e.contains("timed out waiting to retry after HTTP 503"),
        "{e}"
    );
}

#[test]
fn a_server_that_never_accepts_ends_at_the_deadline() {
    let r = format!("{}/x:v1", hostile().never_accepts());
    let e = fails_within(&["digest", &r], 2);
    assert!(e.contains("timed out connecting"), "{e}");
}

#[test]
fn bad_timeouts_are_usage_errors() {
    for bad in ["-1", "abc", "1e99", "NaN"] {
        let out = regpeek(&["digest", "localhost:5000/x", "--timeout", bad]);
        assert_eq!(out.status.code(), Some(2), "--timeout {bad}");
    }
}

#[test]
fn references_the_flow_cannot_request_are_refused_before_any_network() {
    for (input, why) in [
        ("localhost:99999999/x", "invalid port \"99999999\""),
        ("[:::::]:5000/x", "invalid IPv6 address"),
        ("999.1.1.1:5000/x", "invalid IPv4 address"),
    ] {
        let out = regpeek(&["inspect", input]);
        let e = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{input}: {e}");
        assert!(e.contains(why), "{input}: {e}");
        assert!(!e.contains("panicked"), "{input}: {e}");
    }
}
