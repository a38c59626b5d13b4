//! Local images have their own names: `oci:DIR[:TAG]`, `oci:DIR@DIGEST`,
//! `oci-archive:FILE[:TAG]` and `docker-archive:FILE[:NAME:TAG]` are named as the user
//! names them in `Name`, `--full-ref`, errors and notes (never by the stand-in the core
//! is given), `--offline` reads them from disk, and a docker archive's `NAME:TAG`
//! matches however it is spelled, as skopeo matches it.

use crate::support::*;

const STAND_IN: &str = "oci-layout.local";

#[test]
fn local_images_are_named_as_typed_everywhere() {
    let layouts = lab().info.dir.join("layouts").canonicalize().unwrap();
    let oci = layouts.join("oci");
    let oci_tar = layouts.join("images.oci.tar");
    let docker_tar = layouts.join("images.docker.tar");
    let fs = format!("oci:{}:fs", oci.display());
    let scratch = empty_home();
    let cache = scratch.join("cache");
    let c = cache.to_str().unwrap();

    // Name and Tag, for each transport.
    let cases = [
        (fs.clone(), format!("oci:{}", oci.display()), "fs"),
        (
            format!("oci-archive:{}:fs", oci_tar.display()),
            format!("oci-archive:{}", oci_tar.display()),
            "fs",
        ),
        (
            format!("docker-archive:{}:lab/fs:v1", docker_tar.display()),
            format!("docker-archive:{}:docker.io/lab/fs", docker_tar.display()),
            "v1",
        ),
        // The same image, its name spelled in full: normalised on both sides.
        (
            format!(
                "docker-archive:{}:docker.io/lab/fs:v1",
                docker_tar.display()
            ),
            format!("docker-archive:{}:docker.io/lab/fs", docker_tar.display()),
            "v1",
        ),
    ];
    for (typed, name, tag) in &cases {
        let v = json(&ok(&["--cache-dir", c, "inspect", typed]));
        assert_eq!(v["Name"], name.as_str(), "{typed}");
        assert_eq!(v["Tag"], *tag, "{typed}");
    }

    // --full-ref pins it by its own name, and the pin reads back.
    let full = String::from_utf8(ok(&["--cache-dir", c, "digest", "--full-ref", &fs])).unwrap();
    let full = full.trim();
    let digest = String::from_utf8(ok(&["--cache-dir", c, "digest", &fs])).unwrap();
    assert_eq!(full, format!("oci:{}:fs@{}", oci.display(), digest.trim()));
    let again = String::from_utf8(ok(&["--cache-dir", c, "digest", full])).unwrap();
    assert_eq!(again.trim(), digest.trim());

    // --offline reads a local image from disk (nothing cached, nothing noted).
    let out = regpeek(&["--cache-dir", c, "--offline", "digest", &fs]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), digest.trim());
    assert!(!stderr_of(&out).contains("cache"), "{}", stderr_of(&out));

    // Errors and batch lines name it as typed, and say which tags there are.
    let nope = format!("oci:{}:nope", oci.display());
    let err = fails(&["--cache-dir", c, "inspect", &nope]);
    assert!(err.contains(&nope), "{err}");
    assert!(
        err.contains("holds") && err.contains("fs") && err.contains(":TAG"),
        "{err}"
    );
    let untagged = format!("oci:{}", oci.display());
    let err = fails(&["--cache-dir", c, "inspect", &untagged]);
    assert!(err.contains("name one as"), "{err}");
    let missing = format!("docker-archive:{}:lab/nope:v1", docker_tar.display());
    let out = regpeek(&["--cache-dir", c, "digest", &fs, &nope, &missing]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &stderr_of(&out);
    assert!(text.contains("docker.io/lab/nope:v1"), "{text}");
    for t in [&text, &err] {
        assert!(!t.contains(STAND_IN), "the stand-in shows: {t}");
    }

    // Nothing of a local image is kept in the cache (the cache is for registries).
    let index = cache_bytes(&cache);
    assert!(!index.contains(STAND_IN), "{index}");
}
