//! Reference parsing, as a table: input → canonical form | familiar form, or the error.

use crate::reference::Reference;

const H: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn check(input: &str, expect: &str) {
    let got = match Reference::parse(input) {
        Ok(r) => format!("{r} | {}", r.familiar()),
        Err(e) => format!("error: {}", e.reason()),
    };
    assert_eq!(got, expect, "input: {input:?}");
}

#[test]
fn docker_hub_normalisation() {
    check("nginx", "docker.io/library/nginx:latest | nginx:latest");
    check("nginx:1.25", "docker.io/library/nginx:1.25 | nginx:1.25");
    check(
        "library/nginx",
        "docker.io/library/nginx:latest | nginx:latest",
    );
    check(
        "docker.io/nginx",
        "docker.io/library/nginx:latest | nginx:latest",
    );
    check(
        "docker.io/library/nginx:alpine",
        "docker.io/library/nginx:alpine | nginx:alpine",
    );
    check(
        "index.docker.io/nginx",
        "docker.io/library/nginx:latest | nginx:latest",
    );
    check(
        "index.docker.io/foo/bar",
        "docker.io/foo/bar:latest | foo/bar:latest",
    );
    check("foo/bar", "docker.io/foo/bar:latest | foo/bar:latest");
    check(
        "foo/bar/baz",
        "docker.io/foo/bar/baz:latest | foo/bar/baz:latest",
    );
    check(
        "library/foo/bar",
        "docker.io/library/foo/bar:latest | library/foo/bar:latest",
    );
    check("docker", "docker.io/library/docker:latest | docker:latest");
    check("foo:5000", "docker.io/library/foo:5000 | foo:5000");
    check(
        "localhost",
        "docker.io/library/localhost:latest | localhost:latest",
    );
    check(
        "registry-1.docker.io/foo",
        "registry-1.docker.io/foo:latest | registry-1.docker.io/foo:latest",
    );
    check(
        "registry-1.docker.io/nginx",
        "registry-1.docker.io/nginx:latest | registry-1.docker.io/nginx:latest",
    );
    check("a/b", "docker.io/a/b:latest | a/b:latest");
    check("a", "docker.io/library/a:latest | a:latest");
}

#[test]
fn domains() {
    check(
        "localhost/foo",
        "localhost/foo:latest | localhost/foo:latest",
    );
    check(
        "localhost:5000/foo",
        "localhost:5000/foo:latest | localhost:5000/foo:latest",
    );
    check(
        "localhost:5000/foo/bar:v1",
        "localhost:5000/foo/bar:v1 | localhost:5000/foo/bar:v1",
    );
    check(
        "127.0.0.1:5000/app",
        "127.0.0.1:5000/app:latest | 127.0.0.1:5000/app:latest",
    );
    check(
        "[::1]:5000/app",
        "[::1]:5000/app:latest | [::1]:5000/app:latest",
    );
    check("[::1]/app", "[::1]/app:latest | [::1]/app:latest");
    check(
        "[2001:db8::1]:443/a/b:c",
        "[2001:db8::1]:443/a/b:c | [2001:db8::1]:443/a/b:c",
    );
    check(
        "ghcr.io/owner/repo:v1",
        "ghcr.io/owner/repo:v1 | ghcr.io/owner/repo:v1",
    );
    check("quay.io/a/b", "quay.io/a/b:latest | quay.io/a/b:latest");
    check(
        "my-registry.example.com:8443/x",
        "my-registry.example.com:8443/x:latest | my-registry.example.com:8443/x:latest",
    );
    check(
        "Example.COM/foo",
        "Example.COM/foo:latest | Example.COM/foo:latest",
    );
    check("Foo/bar", "Foo/bar:latest | Foo/bar:latest");
    check("host:5000/a:b", "host:5000/a:b | host:5000/a:b");
    check(
        "xn--bcher-kva.example/a",
        "xn--bcher-kva.example/a:latest | xn--bcher-kva.example/a:latest",
    );
    check(
        "-bad.example/a",
        "error: invalid registry host \"-bad.example\"",
    );
    check(
        "bad-.example/a",
        "error: invalid registry host \"bad-.example\"",
    );
    check("host:port/a", "error: invalid registry host \"host:port\"");
    check("[::1/a", "error: invalid registry host \"[::1\"");
    check(
        "a..b.example/x",
        "error: invalid registry host \"a..b.example\"",
    );
    check(
        "localhost:/foo",
        "error: invalid registry host \"localhost:\"",
    );
}

#[test]
fn paths() {
    check(
        "foo/a.b_c__d-e---f",
        "docker.io/foo/a.b_c__d-e---f:latest | foo/a.b_c__d-e---f:latest",
    );
    check(
        "foo/a___b",
        "error: invalid repository path component \"a___b\" (allowed: a-z, 0-9, separated by '.', '_', '__' or '-')",
    );
    check(
        "foo/.a",
        "error: invalid repository path component \".a\" (allowed: a-z, 0-9, separated by '.', '_', '__' or '-')",
    );
    check(
        "foo/a.",
        "error: invalid repository path component \"a.\" (allowed: a-z, 0-9, separated by '.', '_', '__' or '-')",
    );
    check(
        "foo/-a",
        "error: invalid repository path component \"-a\" (allowed: a-z, 0-9, separated by '.', '_', '__' or '-')",
    );
    check(
        "foo//bar",
        "error: repository name has an empty path component",
    );
    check("foo/", "error: repository name has an empty path component");
    check("localhost/", "error: repository name is empty");
    check("Nginx", "error: repository name must be lowercase");
    check("foo/Bar", "error: repository name must be lowercase");
    check(
        "ghcr.io/Owner/repo",
        "error: repository name must be lowercase",
    );
    check(
        "nginx:Latest",
        "docker.io/library/nginx:Latest | nginx:Latest",
    );
    check("a$b", "error: invalid repository path component \"library/a$b\" (allowed: a-z, 0-9, separated by '.', '_', '__' or '-')".replace("library/", "").as_str());
    check("", "error: reference is empty");
    check(" nginx", "error: reference must not contain white space");
    check("ngi nx", "error: reference must not contain white space");
    check(
        H,
        "error: a bare 64-character hex string is an image ID, not a reference",
    );
    check(
        &format!("{H}:tag"),
        &format!("docker.io/library/{H}:tag | {H}:tag"),
    );
    check(
        &format!("foo/{}", "a".repeat(240)),
        &format!("docker.io/foo/{0}:latest | foo/{0}:latest", "a".repeat(240)),
    );
    // The 255-character limit is on the path alone (current distribution/reference):
    // `a/` and 249 more characters is valid on Docker Hub.
    check(
        &format!("a/{}", "b".repeat(249)),
        &format!("docker.io/a/{0}:latest | a/{0}:latest", "b".repeat(249)),
    );
    check(
        &format!("registry.example/a/{}", "b".repeat(254)),
        "error: repository name must not be more than 255 characters",
    );
    check(
        &format!("foo/{}", "a".repeat(252)),
        "error: repository name must not be more than 255 characters",
    );
}

#[test]
fn familiar_forms_parse_back() {
    // Found by fuzzing: a Docker Hub namespace with a dot once lost its `docker.io/`
    // in the familiar form, which then named another registry.
    check(
        "docker.io/liloc.brary/nn",
        "docker.io/liloc.brary/nn:latest | docker.io/liloc.brary/nn:latest",
    );
    check(
        "docker.io/localhost/app",
        "docker.io/localhost/app:latest | docker.io/localhost/app:latest",
    );
    check(
        "docker.io/my.app",
        "docker.io/library/my.app:latest | my.app:latest",
    );
    check(
        "docker.io/org/my.app",
        "docker.io/org/my.app:latest | org/my.app:latest",
    );
}

#[test]
fn every_parsed_host_can_be_requested() {
    // Found by trying it as a user: ports past 16 bits once panicked in the flow.
    check(
        "localhost:99999999/x",
        "error: invalid port \"99999999\" in registry host \"localhost:99999999\" (allowed: 1 to 65535)",
    );
    check(
        "localhost:65536/x",
        "error: invalid port \"65536\" in registry host \"localhost:65536\" (allowed: 1 to 65535)",
    );
    check(
        "localhost:0/x",
        "error: invalid port \"0\" in registry host \"localhost:0\" (allowed: 1 to 65535)",
    );
    check(
        "localhost:65535/x",
        "localhost:65535/x:latest | localhost:65535/x:latest",
    );
    check(
        "[:::::]:5000/x",
        "error: invalid IPv6 address [:::::] in registry host",
    );
    check(
        "[1::2::3]/x",
        "error: invalid IPv6 address [1::2::3] in registry host",
    );
    check(
        "[::1]:70000/x",
        "error: invalid port \"70000\" in registry host \"[::1]:70000\" (allowed: 1 to 65535)",
    );
    check(
        "[fe80::1]:5000/x",
        "[fe80::1]:5000/x:latest | [fe80::1]:5000/x:latest",
    );
    check(
        "999.1.1.1:5000/x",
        "error: invalid registry host \"999.1.1.1:5000\": invalid IPv4 address",
    );
    check(
        "0x7f.1:5000/x",
        "error: invalid registry host \"0x7f.1:5000\": a URL parser would read it as \"127.0.0.1\"",
    );
    check(
        "127.1:5000/x",
        "error: invalid registry host \"127.1:5000\": a URL parser would read it as \"127.0.0.1\"",
    );
    check(
        "Registry.Example:5000/x",
        "Registry.Example:5000/x:latest | Registry.Example:5000/x:latest",
    );
}

#[test]
fn tags() {
    check(
        "nginx:1.25.3-alpine",
        "docker.io/library/nginx:1.25.3-alpine | nginx:1.25.3-alpine",
    );
    check("nginx:_x", "docker.io/library/nginx:_x | nginx:_x");
    check("nginx:", "error: tag is empty");
    check(
        "nginx:.x",
        "error: invalid tag \".x\" (allowed: A-Z a-z 0-9 _ . -, not starting with . or -)",
    );
    check(
        "nginx:-x",
        "error: invalid tag \"-x\" (allowed: A-Z a-z 0-9 _ . -, not starting with . or -)",
    );
    check(
        "nginx:a+b",
        "error: invalid tag \"a+b\" (allowed: A-Z a-z 0-9 _ . -, not starting with . or -)",
    );
    check(
        "nginx:a:b",
        "error: invalid tag \"a:b\" (allowed: A-Z a-z 0-9 _ . -, not starting with . or -)",
    );
    check(
        &format!("nginx:{}", "t".repeat(128)),
        &format!("docker.io/library/nginx:{0} | nginx:{0}", "t".repeat(128)),
    );
    check(
        &format!("nginx:{}", "t".repeat(129)),
        "error: tag must not be more than 128 characters",
    );
    check(
        "localhost:5000/a:5000",
        "localhost:5000/a:5000 | localhost:5000/a:5000",
    );
}

#[test]
fn digests() {
    check(
        &format!("nginx@sha256:{H}"),
        &format!("docker.io/library/nginx@sha256:{H} | nginx@sha256:{H}"),
    );
    check(
        &format!("nginx:1.25@sha256:{H}"),
        &format!("docker.io/library/nginx:1.25@sha256:{H} | nginx:1.25@sha256:{H}"),
    );
    check(
        &format!("localhost:5000/a@sha256:{H}"),
        &format!("localhost:5000/a@sha256:{H} | localhost:5000/a@sha256:{H}"),
    );
    check(
        &format!("a@sha512:{}", "c".repeat(128)),
        &format!(
            "docker.io/library/a@sha512:{0} | a@sha512:{0}",
            "c".repeat(128)
        ),
    );
    check(
        &format!("a@sha256:{}", &H[..63]),
        "error: sha256 digest must have 64 hex characters, found 63",
    );
    check(
        &format!("a@sha256:{}", H.to_uppercase()),
        "error: digest hex must be lowercase hexadecimal",
    );
    check(
        &format!("a@sha512:{H}"),
        "error: sha512 digest must have 128 hex characters, found 64",
    );
    check(
        &format!("a@md5:{H}"),
        "error: unsupported digest algorithm \"md5\"",
    );
    check(
        "a@sha256:abc",
        "error: sha256 digest must have 64 hex characters, found 3",
    );
    check(
        "a@sha256",
        "error: digest \"sha256\" has no algorithm prefix",
    );
    check("a@", "error: digest \"\" has no algorithm prefix");
    check(
        &format!("a@sha256:{H}@sha256:{H}"),
        "error: digest hex must be lowercase hexadecimal",
    );
}

#[test]
fn accessors() {
    let r = Reference::parse(&format!("nginx:1.25@sha256:{H}")).unwrap();
    assert_eq!(r.registry(), "docker.io");
    assert_eq!(r.repository(), "library/nginx");
    assert_eq!(r.tag(), Some("1.25"));
    assert_eq!(
        r.manifest_reference(),
        format!("sha256:{H}"),
        "digest wins over tag"
    );
    assert_eq!(r.api_url("https").as_str(), "https://registry-1.docker.io/");
    let r = Reference::parse("localhost:5000/x").unwrap();
    assert_eq!(r.manifest_reference(), "latest");
    assert!(r.tag_is_default());
    assert_eq!(r.api_url("http").as_str(), "http://localhost:5000/");
    assert_eq!(r.name(), "localhost:5000/x");
}

#[test]
fn the_error_names_the_input() {
    let e = Reference::parse("Nginx").unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"invalid reference "Nginx": repository name must be lowercase"#
    );
}

#[test]
fn no_input_panics() {
    let samples = [
        "@",
        ":",
        "/",
        "//",
        "::",
        "a:b:c",
        "[",
        "]",
        "[]/a",
        "a@b@c",
        "é/ü",
        "a/b:c@",
        "localhost:99999999999999999999/a",
    ];
    for s in samples {
        let _ = Reference::parse(s);
    }
    let full = format!("ghcr.io:443/a/b:c@sha256:{H}");
    for i in 0..full.len() {
        let _ = Reference::parse(&full[..i]);
    }
}

/// `Reference::api_url` cannot fail for a reference that parsed (its `expect` rests on
/// `check_host`): every kind of registry host the grammar admits makes its origin,
/// over both schemes, with the host read back as written.
#[test]
fn every_registry_that_parses_makes_its_origin() {
    for (input, origin) in [
        ("nginx", "registry-1.docker.io"),
        ("index.docker.io/library/nginx", "registry-1.docker.io"),
        ("localhost/a", "localhost"),
        ("localhost:5000/a", "localhost:5000"),
        ("127.0.0.1:65535/a", "127.0.0.1:65535"),
        ("[::1]:5000/a", "[::1]:5000"),
        ("[fe80::1]/a", "[fe80::1]"),
        ("registry.example/a/b/c:v1", "registry.example"),
        ("xn--bcher-kva.example/a", "xn--bcher-kva.example"),
        ("a-b.c-d.example:1/a", "a-b.c-d.example:1"),
        ("sub.localhost/a", "sub.localhost"),
    ] {
        let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        for scheme in ["http", "https"] {
            let url = r.api_url(scheme);
            assert_eq!(url.as_str(), format!("{scheme}://{origin}/"), "{input}");
        }
    }
    // What check_host refuses never reaches api_url.
    for bad in [
        "[::1/a",
        "999.1.1.1/a",
        "0x7f.1:5000/a",
        "host:0/a",
        "host:65536/a",
    ] {
        assert!(Reference::parse(bad).is_err(), "{bad}");
    }
}
