//! On a terminal, the commands with a table print it unless told otherwise (as `diff`
//! does); piped, or with `--jq`, they print JSON lines.

use crate::support::*;

#[test]
fn tables_are_the_default_on_a_terminal() {
    let fs = r("lab/fs:v1");
    let attested = r("lab/attested:v1");
    let versions = r("lab/versions:1.25.3");
    for (args, header) in [
        (vec!["ls", "--plain-http", fs.as_str()], "MODE"),
        (vec!["os", "--plain-http", fs.as_str()], "VERSION"),
        (vec!["sbom", "--plain-http", attested.as_str()], "PURL"),
        (
            vec!["provenance", "--plain-http", attested.as_str()],
            "BUILDER",
        ),
        (
            vec!["outdated", "--plain-http", versions.as_str()],
            "REFERENCE",
        ),
    ] {
        let screen = on_a_terminal(&args, &[]);
        assert!(screen.contains(header), "{args:?}: {screen}");
        assert!(
            !screen.contains("{\""),
            "{args:?}: JSON on a terminal: {screen}"
        );
        // Piped: JSON lines.
        let piped = String::from_utf8(ok(&args)).unwrap();
        assert!(piped.starts_with('{'), "{args:?}: {piped}");
        // --jq reads JSON, on a terminal too.
        let mut jq = args.clone();
        jq.extend(["--jq", ".Reference"]);
        let screen = on_a_terminal(&jq, &[]);
        assert!(!screen.contains(header), "{args:?} --jq: {screen}");
    }
    // `ls` of several images stays JSON lines on a terminal (its table shows one);
    // `os -o table` of several leads each row with its image.
    let screen = on_a_terminal(&["ls", "--plain-http", &fs, &fs], &[]);
    assert!(screen.contains("{\"Reference\""), "{screen}");
    let out =
        String::from_utf8(ok(&["os", "--plain-http", "-o", "table", &fs, &attested])).unwrap();
    assert!(out.starts_with("REFERENCE"), "{out}");
    assert!(out.contains(&fs), "{out}");
}
