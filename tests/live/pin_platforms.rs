//! Platform pins: a pin to one entry of a tag's index is current while the index has
//! not moved, for `pin`, `pin --check` (with `--platform` too) and `outdated` alike;
//! `--update` keeps a platform pin a platform pin once the index moves.

use super::*;
use regpeek_lab::image::{Image, Index, Spec, build, media, multi};

/// An index of `images`, each entry with its config's platform.
fn index_of(images: Vec<Image>) -> Index {
    let entries: Vec<Value> = images
        .iter()
        .map(regpeek_lab::image::platform_descriptor)
        .collect();
    let body = json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": entries});
    Index {
        index: regpeek_lab::image::Blob::new(media::OCI_INDEX, serde_json::to_vec(&body).unwrap()),
        children: images,
    }
}

/// The same platforms as `multi`, rebuilt: what a tag's next push looks like.
fn rebuilt() -> Index {
    let image = |arch, variant| {
        build(&Spec {
            docker: false,
            platform: ("linux", arch, variant),
            runtime: json!({"Cmd": ["/bin/sh"]}),
            layers: vec![vec![(
                "rebuilt.txt",
                format!("{arch} again\n").into_bytes(),
            )]],
            extra: json!({"created": "2025-06-07T08:09:10Z"}),
        })
    };
    index_of(vec![image("amd64", None), image("arm64", Some("v8"))])
}

#[test]
fn a_platform_pin_is_current_until_its_index_moves_then_stays_one() {
    // A repository of this test's own (the token registry: anyone may pull public/*),
    // where the tag is moved on purpose.
    let targets = lab().info.targets().unwrap();
    let (old, new) = (multi(), rebuilt());
    targets
        .token
        .index("public/pinmove", &old, &["v1"])
        .unwrap();
    let tag = t("public/pinmove:v1");
    // multi's entries: the attestation, amd64, arm64/v8, arm/v7.
    let arm64 = &old.children[2].manifest.digest;
    let index = &old.index.digest;
    let dir = empty_home();
    let file = dir.join("Dockerfile");
    let text = format!("FROM {tag}@{arm64} AS a\nFROM {tag}@{index}\n");
    write(&file, &text);
    let f = file.display().to_string();
    let pin = |extra: &[&str]| {
        let mut args = vec!["pin", "--plain-http"];
        args.extend_from_slice(extra);
        args.push(&f);
        regpeek(&args)
    };

    // Unmoved: both pins are current, and the platform pin says what it is.
    let out = pin(&["--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(out.stdout.is_empty());
    let out = pin(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let rows: Vec<Value> = lines(&out.stdout)
        .iter()
        .map(|l| json(l.as_bytes()))
        .collect();
    assert_eq!(rows[0]["Status"], "current", "{rows:?}");
    assert_eq!(
        rows[0]["Reason"], "the linux/arm64/v8 entry of the tag's index",
        "{rows:?}"
    );
    assert_eq!(rows[1]["Status"], "current", "{rows:?}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    // --check --platform P: the index, and P's entry; not another platform's.
    let out = pin(&["--check", "--platform", "linux/arm64"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let out = pin(&["--check", "--platform", "linux/amd64"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out)
            .contains("pinned to the linux/arm64/v8 entry of the tag's index, not linux/amd64's"),
        "{}",
        stderr_of(&out)
    );
    // outdated judges a pin as pin does.
    let out = regpeek(&["outdated", "--plain-http", "--exit-code", &f]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let rows: Vec<Value> = lines(&out.stdout)
        .iter()
        .map(|l| json(l.as_bytes()))
        .collect();
    assert!(rows.iter().all(|r| r["Moved"] == false), "{rows:?}");

    // The tag moves: both pins are stale, for pin and outdated alike.
    targets
        .token
        .index("public/pinmove", &new, &["v1"])
        .unwrap();
    let out = pin(&["--check"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let out = regpeek(&["outdated", "--plain-http", "--exit-code", &f]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let rows: Vec<Value> = lines(&out.stdout)
        .iter()
        .map(|l| json(l.as_bytes()))
        .collect();
    assert!(rows.iter().all(|r| r["Moved"] == true), "{rows:?}");
    // --update: the platform pin goes to arm64's entry now, the index pin to the index.
    let out = pin(&["--update"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let (arm64_now, index_now) = (&new.children[1].manifest.digest, &new.index.digest);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        format!("FROM {tag}@{arm64_now} AS a\nFROM {tag}@{index_now}\n")
    );
    let out = pin(&["--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    // A pin the registry no longer has (collected): its platform is unknown, so it
    // follows the tag, and a warning says why.
    let gone = &lab().seeded.rich.manifest.digest;
    write(&file, &format!("FROM {tag}@{gone}\n"));
    let out = pin(&["--update"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        format!("FROM {tag}@{index_now}\n")
    );
    assert!(
        stderr_of(&out).contains("its old pin cannot be read to keep its platform"),
        "{}",
        stderr_of(&out)
    );
}
