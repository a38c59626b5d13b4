//! The crate docs' example, run against the lab's real registries: three references
//! in one batch (one of them missing), then one file of an image, each answer checked
//! against what the lab itself built (its images are deterministic), not against
//! anything this crate computed.

use std::io::Read;
use std::sync::{Arc, Mutex};

use regpeek_client::client::{Client, Settings};
use regpeek_lab::image;
use regpeek_proto::Reference;

fn lab() -> &'static regpeek_lab::Lab {
    static LAB: std::sync::OnceLock<regpeek_lab::Lab> = std::sync::OnceLock::new();
    LAB.get_or_init(|| {
        regpeek_lab::Lab::shared()
            .unwrap_or_else(|e| panic!("cannot start the lab for the client's tests: {e:#}"))
    })
}

/// Settings that read no file of this machine's user: an empty home.
fn settings(home: &std::path::Path) -> Settings {
    Settings {
        credentials: regpeek_client::creds::Env {
            home: Some(home.to_owned()),
            ..regpeek_client::creds::Env::default()
        },
        ..Settings::default()
    }
}

#[test]
fn the_docs_example_inspects_a_batch_and_reads_a_file() {
    let plain = lab().info.plain();
    let home = tempfile::Builder::new()
        .prefix("regpeek-client-home-")
        .tempdir()
        .unwrap();
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let mut settings = settings(home.path());
    let said = warnings.clone();
    settings.warn = Arc::new(move |w| said.lock().unwrap().push(w.to_owned()));
    let client = Client::new(settings);

    let refs: Vec<Reference> = ["lab/rich:v1", "lab/nope:v1", "lab/fs:v1"]
        .iter()
        .map(|r| Reference::parse(&format!("{plain}/{r}")).unwrap())
        .collect();
    let mut answers = Vec::new();
    client
        .inspect_all(&refs, |i, image| {
            answers.push((i, image.map(|img| img.digest.to_string())));
            Ok(())
        })
        .unwrap();
    let order: Vec<usize> = answers.iter().map(|(i, _)| *i).collect();
    assert_eq!(order, [0, 1, 2], "answers come in input order");
    assert_eq!(
        answers[0].1.as_deref().unwrap(),
        image::rich().manifest.digest,
        "the digest the lab pushed"
    );
    let missing = answers[1].1.as_ref().unwrap_err().to_string();
    assert!(
        missing.contains("MANIFEST_UNKNOWN") || missing.contains("NAME_UNKNOWN"),
        "{missing}"
    );
    assert_eq!(
        answers[2].1.as_deref().unwrap(),
        image::fs_image().manifest.digest
    );

    // A file of lab/fs, reached through its links, as the lab wrote it.
    let mut file = client
        .image(&refs[2])
        .unwrap()
        .file("/etc/os-release")
        .unwrap()
        .bytes;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).unwrap();
    let base = image::unpacked(&image::fs_image().layers[0]).unwrap();
    let mut tar = tar::Archive::new(&base[..]);
    let want = tar
        .entries()
        .unwrap()
        .map(|e| e.unwrap())
        .find(|e| {
            e.path()
                .unwrap()
                .to_string_lossy()
                .ends_with("usr/lib/os-release")
        })
        .map(|mut e| {
            let mut v = Vec::new();
            e.read_to_end(&mut v).unwrap();
            v
        })
        .expect("lab/fs's base layer holds usr/lib/os-release");
    assert_eq!(bytes, want);
    assert!(
        warnings.lock().unwrap().is_empty(),
        "{:?}",
        warnings.lock().unwrap()
    );
}
