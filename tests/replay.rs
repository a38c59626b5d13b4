//! Replay tests: every scenario under `fixtures/` is served to a fresh `Flow` with no
//! network. The harness fails on any request that deviates from the recording; the
//! transcript of requests and the result are insta snapshots in `tests/snapshots/`.

use regpeek_lab::fixture::Scenario;
use regpeek_lab::replay::replay;

#[test]
fn fixtures() {
    insta::glob!("../fixtures", "*/exchanges.http", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let scenario = Scenario::parse(&text)
            .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
        let transcript = replay(&scenario)
            .unwrap_or_else(|e| panic!("{}: replay deviated: {e:#}", path.display()));
        let header = format!(
            "{}\nsource: {}\n",
            scenario.get("description").unwrap_or("(no description)"),
            scenario.get("source").unwrap_or("(unknown)")
        );
        insta::assert_snapshot!(format!("{header}\n{transcript}"));
    });
}

/// The harness itself must fail when the flow deviates; otherwise the snapshots prove
/// nothing.
#[test]
fn a_deviating_request_fails_the_replay() {
    let text = "reference: localhost:5000/a:v1\ngoal: digest\nsecurity: http\n\n\
        >>> HEAD http://localhost:5000/v2/a/manifests/OTHER\n\n<<< 404\n\n";
    let err = replay(&Scenario::parse(text).unwrap()).unwrap_err();
    assert!(err.to_string().contains("the flow sent HEAD"), "{err}");

    let text = "reference: localhost:5000/a:v1\ngoal: digest\nsecurity: http\n\n\
        >>> HEAD http://localhost:5000/v2/a/manifests/v1\naccept: text/plain\n\n<<< 404\n\n";
    let err = replay(&Scenario::parse(text).unwrap()).unwrap_err();
    assert!(err.to_string().contains("header accept"), "{err}");
}

#[test]
fn an_unused_exchange_fails_the_replay() {
    let text = "reference: localhost:5000/a:v1\ngoal: digest\nsecurity: http\n\n\
        >>> HEAD http://localhost:5000/v2/a/manifests/v1\n\n<<< 404\n\n\
        >>> GET http://localhost:5000/v2/\n\n<<< 200\n\n";
    let s = Scenario::parse(text).unwrap();
    // The accept header is significant; copy what the flow really sends.
    let mut s2 = s.clone();
    s2.exchanges[0].request.headers = vec![(
        "accept".into(),
        regpeek_proto::manifest::media::ACCEPT.into(),
    )];
    let err = replay(&s2).unwrap_err();
    assert!(err.to_string().contains("was never requested"), "{err}");
}
