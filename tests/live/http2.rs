//! HTTP/2: negotiated by ALPN with the lab's TLS servers (nginx in front of the token
//! registry, distribution itself for the Basic registry, nginx as the CDN), one
//! connection per host for a whole batch, the same answers as HTTP/1.1, and hostile
//! HTTP/2 servers ending in an answer or a one-line error within the deadline.

use super::*;
use std::sync::OnceLock;

/// The token registry's TLS front (HTTP/2).
fn tt(path: &str) -> String {
    format!("{}/{path}", lab().info.token_tls())
}

/// The lines nginx logged for the token registry's TLS front since `from` bytes, of
/// the repository `public/many-tags` (its token requests name it too), which no other
/// test reads there.
fn front_lines(from: u64) -> Vec<String> {
    let log = lab().info.dir.join("front.log");
    let text = std::fs::read(&log).unwrap_or_default();
    let port = format!("{} ", lab().info.ports.token_tls);
    String::from_utf8_lossy(&text[(from as usize).min(text.len())..])
        .lines()
        .filter(|l| l.starts_with(&port) && l.contains("many-tags"))
        .map(str::to_owned)
        .collect()
}

fn front_len() -> u64 {
    std::fs::metadata(lab().info.dir.join("front.log")).map_or(0, |m| m.len())
}

#[test]
fn a_batch_over_http2_uses_one_connection_and_answers_as_http1_does() {
    let ca = ca();
    let refs: Vec<String> = (0..40)
        .map(|i| tt(&format!("public/many-tags:t{i:03}")))
        .collect();
    let mut args: Vec<&str> = vec!["inspect", "--ca-file", &ca, "--no-cache"];
    args.extend(refs.iter().map(String::as_str));
    let from = front_len();
    let h2 = ok(&args);
    // nginx writes its access log line when a request ends: wait for all of them.
    let mut lines = front_lines(from);
    for _ in 0..50 {
        if lines.len() >= refs.len() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        lines = front_lines(from);
    }
    assert!(lines.len() >= refs.len(), "{lines:#?}");
    assert!(
        lines.iter().all(|l| l.contains(" HTTP/2.0 ")),
        "every request over HTTP/2: {lines:#?}"
    );
    let connections: std::collections::BTreeSet<&str> = lines
        .iter()
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("connection=")))
        .collect();
    assert_eq!(connections.len(), 1, "one connection: {lines:#?}");

    // The same answers, byte for byte, over HTTP/1.1.
    let mut h1_args = args.clone();
    h1_args.extend(["--http", "1.1"]);
    let from = front_len();
    let h1 = ok(&h1_args);
    assert_eq!(String::from_utf8_lossy(&h2), String::from_utf8_lossy(&h1));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let lines = front_lines(from);
    assert!(
        !lines.is_empty() && lines.iter().all(|l| l.contains(" HTTP/1.1 ")),
        "--http 1.1 speaks HTTP/1.1: {lines:#?}"
    );
}

#[test]
fn distribution_itself_speaks_http2_and_the_answer_is_the_same() {
    let (ca, creds) = (ca(), creds());
    let image = b("lab/rich");
    let base = ["inspect", "--ca-file", &ca, "--creds", &creds, "--no-cache"];
    let mut v = base.to_vec();
    v.extend(["-v", &image]);
    let out = regpeek(&v);
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("HTTP/2 (ALPN h2)"), "{err}");
    assert!(
        err.contains("> (HTTP/2, stream 1 of connection 1)"),
        "{err}"
    );
    assert!(err.contains("< HTTP/2.0 200 OK"), "{err}");
    let mut two = base.to_vec();
    two.extend(["--http", "2", &image]);
    let mut one = base.to_vec();
    one.extend(["--http", "1.1", &image]);
    assert_eq!(ok(&two), ok(&one));
    assert_eq!(out.stdout, ok(&one));
}

#[test]
fn a_recording_over_http2_replays_without_a_network() {
    // --insecure (a replay takes no file from outside its recording, so no --ca-file):
    // certificates unchecked, the handshake's signatures still checked.
    let image = tt("public/rich");
    let (live, _, text) = record_then_replay(&["inspect", "--insecure", &image]);
    assert!(live.status.success(), "{}", stderr_of(&live));
    assert!(text.contains("/v2/public/rich/manifests/latest"), "{text}");
}

#[test]
fn http_flags_are_checked_before_any_request() {
    let out = regpeek(&["inspect", "--http", "3", &r("lab/rich")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("'3'"), "{}", stderr_of(&out));
}

/// The hostile HTTP/2 servers, started once for this test binary.
fn h2() -> &'static regpeek_lab::hostile_h2::HostileH2 {
    static H: OnceLock<regpeek_lab::hostile_h2::HostileH2> = OnceLock::new();
    H.get_or_init(|| {
        let dir = &lab().info.dir;
        let read =
            |name: &str| std::fs::read(dir.join(name)).expect("the lab's server certificate");
        let (chain, key) = (read("server.crt"), read("server.key"));
        regpeek_lab::hostile_h2::HostileH2::start_with_tls(Some((&chain, &key)))
            .unwrap_or_else(|e| panic!("cannot start the hostile HTTP/2 servers: {e:#}"))
    })
}

/// `n` references on `mode`'s server, inspected at once over h2c.
fn batch_on(mode: &str, n: usize) -> (Output, std::time::Duration) {
    let addr = h2().addr(mode);
    let refs: Vec<String> = (0..n).map(|i| format!("{addr}/r{i}:latest")).collect();
    let mut args = vec![
        "inspect",
        "--plain-http",
        "--http2-prior-knowledge",
        "--timeout",
        "15",
        "--no-cache",
    ];
    args.extend(refs.iter().map(String::as_str));
    let start = std::time::Instant::now();
    let out = regpeek(&args);
    (out, start.elapsed())
}

/// Every line of a batch's output an image.
fn all_answered(mode: &str, out: &Output, n: usize) {
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{mode}: {}", stderr_of(out));
    let answered = text.lines().filter(|l| l.contains("\"Digest\"")).count();
    assert_eq!(answered, n, "{mode}: {text}");
}

#[test]
fn refused_streams_are_sent_again_at_once() {
    let (out, took) = batch_on("refuse-third", 12);
    all_answered("refuse-third", &out, 12);
    // At least the 12 manifests were answered; every third request was refused, so
    // the server saw at least half as many again.
    assert!(h2().requests("refuse-third") >= 18, "some were refused");
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
}

#[test]
fn streams_above_a_goaway_are_replayed_on_a_new_connection() {
    let (out, _) = batch_on("goaway", 12);
    all_answered("goaway", &out, 12);
    assert!(
        h2().connections("goaway") >= 2,
        "a new connection after GOAWAY"
    );
}

#[test]
fn one_stream_at_a_time_still_answers_the_batch_on_a_few_connections() {
    let (out, _) = batch_on("one-stream", 16);
    all_answered("one-stream", &out, 16);
    let conns = h2().connections("one-stream");
    assert!((1..=8).contains(&conns), "{conns} connections");
}

#[test]
fn a_window_of_one_byte_does_not_stop_requests_without_a_body() {
    let (out, _) = batch_on("tiny-window", 4);
    all_answered("tiny-window", &out, 4);
}

#[test]
fn hostile_http2_servers_end_in_a_clear_error_within_the_deadline() {
    for (mode, says) in [
        ("reset-body", "reset"),
        ("calm", "429"),
        ("push-flood", "reset"),
        ("no-settings-ack", "not found"),
    ] {
        let image = format!("{}/r0:latest", h2().addr(mode));
        let err = fails_within(&["inspect", "--http2-prior-knowledge", &image], 8);
        assert!(err.to_lowercase().contains(says), "{mode}: {err}");
    }
}

#[test]
fn a_tls_registry_without_http2_gets_http1_and_refuses_http_2() {
    let ca = ca();
    let image = format!("{}/r0:latest", h2().http1_tls());
    let out = regpeek(&["inspect", "-v", "--ca-file", &ca, "--no-cache", &image]);
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("chose HTTP/1.1 in its TLS handshake"), "{err}");
    assert!(err.contains("< HTTP/1.1 200"), "{err}");
    assert!(!err.contains("(HTTP/2, stream"), "{err}");
    let refused = fails(&["inspect", "--http", "2", "--ca-file", &ca, &image]);
    assert!(refused.contains("does not offer HTTP/2"), "{refused}");
    assert!(
        refused.contains("hint: it speaks HTTP/1.1 only"),
        "{refused}"
    );
}
