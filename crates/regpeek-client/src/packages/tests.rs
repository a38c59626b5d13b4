use super::*;

fn parsed(db: Database, text: &[u8]) -> Result<Vec<Package>, String> {
    parse(db, "x", &mut &text[..])
}

#[test]
fn paths_that_are_databases() {
    let cases = [
        ("var/lib/dpkg/status", Some(Database::DpkgStatus)),
        ("var/lib/dpkg/status-old", None),
        ("var/lib/dpkg/status.d/base", Some(Database::DpkgStatusD)),
        ("var/lib/dpkg/status.d/base.md5sums", None),
        ("var/lib/dpkg/status.d/a/b", None),
        ("lib/apk/db/installed", Some(Database::Apk)),
        ("var/lib/rpm/rpmdb.sqlite", Some(Database::Rpm)),
        ("usr/lib/sysimage/rpm/rpmdb.sqlite", Some(Database::Rpm)),
        (
            "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA",
            Some(Database::Python),
        ),
        (
            "app/node_modules/left-pad/package.json",
            Some(Database::Npm),
        ),
        (
            "app/node_modules/@types/node/package.json",
            Some(Database::Npm),
        ),
        ("app/package.json", None),
        ("app/node_modules/left-pad/lib/package.json", None),
        ("etc/os-release", Some(Database::OsRelease)),
    ];
    for (path, want) in cases {
        assert_eq!(database(path), want, "{path}");
    }
}

#[test]
fn dpkg_status_lists_what_dpkg_query_lists() {
    let text = b"Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc (2.36-9)\nVersion: 2.36-9+deb12u4\nDescription: x\n Package: not-a-field\n\nPackage: gone\nStatus: purge ok not-installed\nVersion: 1\n\nPackage: rc\nStatus: deinstall ok config-files\nVersion: 2\n\nPackage: bash\nStatus: install ok installed\nVersion: 5.2\nSource: bash\n";
    let p = parsed(Database::DpkgStatus, text).unwrap();
    let names: Vec<_> = p.iter().map(|p| (&*p.name, &*p.version)).collect();
    assert_eq!(
        names,
        [("libc6", "2.36-9+deb12u4"), ("rc", "2"), ("bash", "5.2")]
    );
    assert_eq!(p[0].source.as_deref(), Some("glibc"));
    assert_eq!(p[0].arch.as_deref(), Some("amd64"));
    assert_eq!(p[2].source, None);
    // distroless: no Status field.
    let d = parsed(
        Database::DpkgStatusD,
        b"Package: tzdata\nVersion: 2024a\nArchitecture: all\n",
    )
    .unwrap();
    assert_eq!(d[0].name, "tzdata");
}

#[test]
fn apk_installed() {
    let text = b"C:Q1abc=\nP:musl\nV:1.2.5-r0\nA:x86_64\no:musl\n\nP:busybox-binsh\nV:1.36.1-r29\nA:x86_64\no:busybox\n";
    let p = parsed(Database::Apk, text).unwrap();
    assert_eq!(p.len(), 2);
    assert_eq!(
        (&*p[1].name, &*p[1].version),
        ("busybox-binsh", "1.36.1-r29")
    );
    assert_eq!(p[1].source.as_deref(), Some("busybox"));
    assert_eq!(p[0].source, None);
}

#[test]
fn python_and_node_manifests() {
    let p = parsed(
        Database::Python,
        b"Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\n\nName: body\n",
    )
    .unwrap();
    assert_eq!((&*p[0].name, &*p[0].version), ("six", "1.16.0"));
    let mut many = b"Metadata-Version: 2.1\n".to_vec();
    many.extend(b"Classifier: x\n".repeat(1_000_000));
    assert_eq!(parsed(Database::Python, &many).unwrap(), vec![]);
    let n = parsed(Database::Npm, br#"{"name":"left-pad","version":"1.3.0"}"#).unwrap();
    assert_eq!(n[0].name, "left-pad");
    assert!(parsed(Database::Npm, b"{").unwrap_err().starts_with("/x: "));
}

#[test]
fn an_over_long_line_is_an_error_not_a_hang() {
    let long = vec![b'a'; MAX_LINE + 10];
    let e = parsed(Database::DpkgStatus, &long).unwrap_err();
    assert!(e.contains("longer than"), "{e}");
}

/// An rpm header blob of string and int32 tags.
fn header_blob(tags: &[(u32, Result<&str, u32>)]) -> Vec<u8> {
    let (mut index, mut data) = (Vec::new(), Vec::new());
    for (tag, value) in tags {
        let (kind, bytes) = match value {
            Ok(s) => (6u32, [s.as_bytes(), b"\0"].concat()),
            Err(n) => (4u32, n.to_be_bytes().to_vec()),
        };
        for v in [*tag, kind, data.len() as u32, 1] {
            index.extend(v.to_be_bytes());
        }
        data.extend(bytes);
    }
    let mut blob = (tags.len() as u32).to_be_bytes().to_vec();
    blob.extend((data.len() as u32).to_be_bytes());
    blob.extend(index);
    blob.extend(data);
    blob
}

#[test]
fn rpm_headers_and_broken_ones() {
    let blob = header_blob(&[
        (1000, Ok("bash")),
        (1001, Ok("5.1.8")),
        (1002, Ok("9.el9")),
        (1003, Err(1)),
        (1022, Ok("x86_64")),
        (1044, Ok("bash-5.1.8-9.el9.src.rpm")),
    ]);
    let p = rpm::header(&blob).unwrap();
    assert_eq!((&*p.name, &*p.version), ("bash", "1:5.1.8-9.el9"));
    assert_eq!(p.source, None);
    let lib = header_blob(&[
        (1000, Ok("bash-libs")),
        (1044, Ok("bash-5.1.8-9.el9.src.rpm")),
    ]);
    assert_eq!(rpm::header(&lib).unwrap().source.as_deref(), Some("bash"));
    for cut in 0..blob.len() {
        let _ = rpm::header(&blob[..cut]);
    }
    assert!(rpm::header(&[0xff; 16]).is_err());
    assert!(parsed(Database::Rpm, b"not sqlite at all").is_err());
}
