//! Errors a user can act on: each says what was wrong in the user's terms, exits as
//! its kind says (2 for usage), and comes at once when waiting cannot help.

use crate::support::*;

#[test]
fn errors_name_what_to_fix() {
    let plain = lab().info.plain();
    // A scheme on a reference: refused before anything is sent, saying what to drop.
    let out = regpeek(&["digest", &format!("http://{plain}/lab/rich:v1")]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains("drop \"http://\"") && err.contains("--plain-http"),
        "{err}"
    );
    // `tags` of a tagged reference: refused, as crane does, naming the repository.
    let out = regpeek(&["tags", &format!("{plain}/lab/rich:v1")]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains(&format!("regpeek tags {plain}/lab/rich")),
        "{err}"
    );

    // Nothing listens on this loopback port: refused at once, never retried.
    let dead = format!("{}/x:v1", lab().info.dead());
    let out = regpeek(&["-v", "digest", &dead]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains("cannot connect"), "{err}");
    assert!(
        !err.contains("retrying"),
        "a refused loopback connection was retried: {err}"
    );

    // A refused password: the hint names the flag that gave it.
    let token = lab().info.token();
    let image = format!("{token}/private/rich:v1");
    let reg = token.clone();
    for (flag, value) in [
        ("--creds", "lab-user:wrong".to_owned()),
        ("--creds-for", format!("{reg}=lab-user:wrong")),
    ] {
        let out = regpeek(&["digest", &image, flag, &value]);
        assert_eq!(out.status.code(), Some(1), "{flag}");
        let err = stderr_of(&out);
        assert!(err.contains(&format!("given with {flag}")), "{flag}: {err}");
        assert!(!err.contains("wrong"), "{flag}: the password shows: {err}");
    }
}
