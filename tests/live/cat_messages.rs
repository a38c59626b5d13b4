//! `cat`'s answers a user can act on: a directory says how to list it, a path through
//! a file (or ending in `/`) is not a directory, a dangling link says where it led, and
//! in a batch a file too large for a JSON line keeps its size and digest.

use crate::support::*;

#[test]
fn cat_says_what_is_there_instead() {
    let fs = r("lab/fs:v1");
    let overlay = r("lab/overlay:v1");
    for (image, path, says) in [
        (&fs, "/etc", format!("list it with `regpeek ls {fs} /etc`")),
        (&fs, "/etc/motd/", "/etc/motd/: not a directory".to_owned()),
        (
            &fs,
            "/etc/motd/x",
            "/etc/motd is not a directory".to_owned(),
        ),
        (
            &overlay,
            "/lib64/x",
            "links lead to /usr/lib64/x, which does not exist".to_owned(),
        ),
        (
            &fs,
            "/etc/loop1",
            "/etc/loop1: more than 40 links".to_owned(),
        ),
    ] {
        let out = regpeek(&["cat", "--plain-http", image, path]);
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{path}: {err}");
        assert!(out.stdout.is_empty(), "{path}");
        assert!(err.contains(&says), "{path}: {err}");
        assert!(!err.contains("//"), "{path}: {err}");
    }
}

#[test]
fn a_batch_keeps_the_size_and_digest_of_a_file_too_large_for_a_line() {
    // A 5 MiB file (incompressible), pushed here: the lab seeds none that large. To
    // the token registry, whose catalog no test lists whole (anyone may pull public/*).
    let image = regpeek_lab::image::big_image(5);
    let targets = lab().info.targets().unwrap();
    targets.token.image("public/big5", &image, &["v1"]).unwrap();
    let big = t("public/big5:v1");
    let out = regpeek(&["cat", "--plain-http", &big, &r("lab/fs:v1"), "/opt/big.bin"]);
    let rows: Vec<serde_json::Value> = lines(&out.stdout)
        .iter()
        .map(|l| json(l.as_bytes()))
        .collect();
    assert_eq!(rows.len(), 2, "{}", stderr_of(&out));
    // What the lab wrote into the base layer, hashed here.
    let base = regpeek_lab::image::unpacked(&image.layers[0]).unwrap();
    let mut tar = tar::Archive::new(&base[..]);
    let want = tar
        .entries()
        .unwrap()
        .map(|e| e.unwrap())
        .find(|e| e.path().unwrap().ends_with("opt/big.bin"))
        .map(|mut e| {
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut v).unwrap();
            v
        })
        .unwrap();
    assert_eq!(rows[0]["Size"], want.len() as u64);
    assert_eq!(rows[0]["Digest"], regpeek_lab::image::sha256(&want));
    assert!(rows[0].get("Text").is_none() && rows[0].get("Base64").is_none());
    assert!(rows[0]["Note"].as_str().unwrap().contains("left out"));
    // The other image has no such file: an error line of its own.
    assert!(rows[1]["Error"].as_str().unwrap().contains("no such file"));
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_layer_that_cannot_be_read_gets_a_hint_by_its_kind() {
    for (tag, hint) in [
        ("bomb", "refuses to unpack this layer"),
        ("lying", "the layer ends early"),
        ("truncated", "the layer ends early"),
        ("mismatch", "other bytes than the digest names"),
    ] {
        let out = regpeek(&[
            "cat",
            "--plain-http",
            &r(&format!("lab/hostile:{tag}")),
            "/x",
        ]);
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{tag}: {err}");
        assert!(err.contains("hint: "), "{tag}: no hint: {err}");
        assert!(err.contains(hint), "{tag}: {err}");
    }
}

#[test]
fn bytes_go_to_a_file_or_a_pipe_and_binary_never_to_a_terminal() {
    let rich = r("lab/rich:v1");
    let config = lab().seeded.rich.config.clone();
    let layer = lab().seeded.rich.layers[0].clone();
    // crane's form, REPO@DIGEST, and IMAGE DIGEST give the same bytes.
    let repo = r("lab/rich");
    let a = ok(&["blob", "--plain-http", &format!("{repo}@{}", config.digest)]);
    let b = ok(&["blob", "--plain-http", &rich, &config.digest]);
    assert_eq!(a, config.bytes);
    assert_eq!(b, config.bytes);
    assert_eq!(
        regpeek(&["blob", "--plain-http", &rich]).status.code(),
        Some(2)
    );
    // --output writes the file (its directory holds nothing else afterwards).
    let dir = empty_home();
    let dest = dir.join("layer.tgz");
    ok(&[
        "blob",
        "--plain-http",
        &rich,
        &layer.digest,
        "-o",
        dest.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(&dest).unwrap(), layer.bytes);
    let entries = std::fs::read_dir(&*dir).unwrap().count();
    assert_eq!(entries, 1, "a temporary file was left behind");
    let motd = dir.join("motd");
    ok(&[
        "cat",
        "--plain-http",
        &r("lab/fs:v1"),
        "/etc/motd",
        "--output",
        motd.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&motd).unwrap(), "new motd\n");
    // --output is for one image.
    let fs = r("lab/fs:v1");
    let out = regpeek(&[
        "cat",
        "--plain-http",
        &fs,
        &fs,
        "/etc/motd",
        "-o",
        motd.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    // A binary blob is not written to a terminal, unless asked with -o -; text is.
    let screen = on_a_terminal(&["blob", "--plain-http", &rich, &layer.digest], &[]);
    assert!(screen.contains("binary"), "{screen}");
    let screen = on_a_terminal(
        &["blob", "--plain-http", &rich, &layer.digest, "-o", "-"],
        &[],
    );
    assert!(!screen.contains("binary"), "{screen}");
    let screen = on_a_terminal(&["cat", "--plain-http", &fs, "/etc/motd"], &[]);
    assert!(screen.contains("new motd"), "{screen}");
}
