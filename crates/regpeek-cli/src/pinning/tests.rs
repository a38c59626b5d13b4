use super::*;

/// A registry stand-in: every tag resolves to the sha256 of its name, except
/// `moved:*` (to the hash of "new") and `down/*` (an error).
fn registry(key: &str) -> Result<Digest, String> {
    if key.starts_with("down/") {
        return Err("registry down: connection refused".into());
    }
    if key.starts_with("moved") {
        return Ok(Digest::sha256(b"new"));
    }
    // `nginx` and `nginx:latest` are one tag.
    let canonical = Reference::parse(key).unwrap().to_string();
    Ok(Digest::sha256(canonical.as_bytes()))
}

/// A tag whose digest is all that is known (a `HEAD`).
fn single(digest: Digest) -> TagNow {
    TagNow {
        digest,
        asked: None,
        entries: None,
    }
}

fn d(key: &str) -> String {
    registry(key).unwrap().to_string()
}

fn pin(name: &str, text: &str, update: bool) -> (String, Vec<Row>) {
    let (_, found) = places_of(name, text, None).unwrap();
    plan(text, &found, &|key, pinned| {
        single(registry(key)?).decide(pinned, update, None)
    })
}

/// Removes every `@sha256:<hex>` and the `:latest` pin adds to untagged references.
fn unpinned(text: &str) -> String {
    let re = regex::Regex::new(r"(:latest)?@sha256:[0-9a-f]{64}").unwrap();
    re.replace_all(text, "").into_owned()
}

#[test]
fn a_dockerfile_changes_only_in_its_references() {
    let old = Digest::sha256(b"old");
    let text = format!(
        "\u{feff}# syntax=docker/dockerfile:1\r\nARG BASE=debian:12\r\nARG REG=ghcr.io\r\nFROM --platform=$BUILDPLATFORM golang:1.22 AS build\r\n# a comment\r\nFROM $BASE\r\nFROM ${{BASE}} AS again\r\nFROM $REG/org/app:v1\r\nCOPY --from=build /a /a\r\nCOPY --from=busybox:1.36 /bin/sh /sh\r\nFROM scratch\r\nFROM moved:1@{old}\r\nFROM alpine@{old}\r\nFROM nginx \\\r\n  AS web"
    );
    let (new, rows) = pin("Dockerfile", &text, false);
    let expected = format!(
        "\u{feff}# syntax=docker/dockerfile:1\r\nARG BASE=debian:12@{}\r\nARG REG=ghcr.io\r\nFROM --platform=$BUILDPLATFORM golang:1.22@{} AS build\r\n# a comment\r\nFROM $BASE\r\nFROM ${{BASE}} AS again\r\nFROM $REG/org/app:v1\r\nCOPY --from=build /a /a\r\nCOPY --from=busybox:1.36@{} /bin/sh /sh\r\nFROM scratch\r\nFROM moved:1@{old}\r\nFROM alpine@{old}\r\nFROM nginx:latest@{} \\\r\n  AS web",
        d("debian:12"),
        d("golang:1.22"),
        d("busybox:1.36"),
        d("nginx"),
    );
    assert_eq!(new, expected);
    let shown: Vec<(usize, &str, Status)> = rows
        .iter()
        .map(|r| (r.line, r.context.as_str(), r.status))
        .collect();
    assert_eq!(
        shown,
        [
            (4, "FROM", Status::Pinned),
            (2, "FROM", Status::Pinned),
            (2, "FROM", Status::Pinned),
            (8, "FROM", Status::Cannot),
            (9, "COPY --from", Status::Skipped),
            (10, "COPY --from", Status::Pinned),
            (11, "FROM", Status::Skipped),
            (12, "FROM", Status::Moved),
            (13, "FROM", Status::DigestOnly),
            (14, "FROM", Status::Pinned),
        ]
    );
    // --update writes the moved digest, and nothing else changes.
    let (updated, rows) = pin("Dockerfile", &new, true);
    assert_eq!(
        updated,
        new.replace(
            &format!("moved:1@{old}"),
            &format!("moved:1@{}", d("moved:1"))
        )
    );
    assert_eq!(rows[7].status, Status::Updated);
    // Pinned, a second run changes nothing.
    let (again, rows) = pin("Dockerfile", &updated, false);
    assert_eq!(again, updated);
    assert!(rows.iter().all(|r| !r.status.is_stale()), "{rows:?}");
}

#[test]
fn compose_keeps_comments_quotes_anchors_and_line_endings() {
    let text = "# the app\nx-base: &base\n  image: nginx:1.27 # web server\n  restart: always\n\nservices:\n  web:\n    <<: *base\n  api: {image: 'ghcr.io/org/api:v2', ports: [\"80:80\"]}\n  db:\n    image: \"postgres:16\"\n  cache:\n    image: &r redis:7\n  cache2:\n    image: *r\n  env:\n    image: ${IMAGE:-alpine:3.20}\n  down:\n    image: down/app:1";
    let (new, rows) = pin("compose.yaml", text, false);
    let expected = text
        .replace("nginx:1.27 #", &format!("nginx:1.27@{} #", d("nginx:1.27")))
        .replace(
            "'ghcr.io/org/api:v2'",
            &format!("'ghcr.io/org/api:v2@{}'", d("ghcr.io/org/api:v2")),
        )
        .replace(
            "\"postgres:16\"",
            &format!("\"postgres:16@{}\"", d("postgres:16")),
        )
        .replace("&r redis:7", &format!("&r redis:7@{}", d("redis:7")));
    assert_eq!(new, expected);
    let statuses: Vec<(&str, Status)> = rows
        .iter()
        .map(|r| (r.context.as_str(), r.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("service web", Status::Pinned),
            ("service api", Status::Pinned),
            ("service db", Status::Pinned),
            ("service cache", Status::Pinned),
            ("service env", Status::Cannot),
            ("service down", Status::Failed),
        ]
    );
    assert!(
        rows[5]
            .warning("compose.yaml")
            .unwrap()
            .starts_with("compose.yaml:19: service down")
    );
    // CRLF and a BOM stay.
    let crlf = format!("\u{feff}{}", text.replace('\n', "\r\n"));
    let (new_crlf, _) = pin("compose.yaml", &crlf, false);
    assert_eq!(
        new_crlf,
        format!("\u{feff}{}", expected.replace('\n', "\r\n"))
    );
}

#[test]
fn kubernetes_actions_and_lists() {
    let k8s = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: app\n      image: ghcr.io/org/app:v1\n---\n# job\nkind: Job\nspec:\n  template:\n    spec:\n      initContainers:\n        - {name: init, image: busybox:1.36}\n";
    let (new, _) = pin("deploy.yaml", k8s, false);
    assert_eq!(unpinned(&new), k8s);
    assert!(new.contains(&format!("busybox:1.36@{}}}", d("busybox:1.36"))));
    let gha = "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    container: node:20\n    steps:\n      - uses: docker://alpine:3.20\n";
    let (new, _) = pin(".github/workflows/ci.yml", gha, false);
    assert!(
        new.contains(&format!(
            "uses: docker://alpine:3.20@{}\n",
            d("alpine:3.20")
        )),
        "{new}"
    );
    assert_eq!(unpinned(&new), gha);
    let list = "nginx:1.27 # web\n\nredis:7";
    let (new, _) = pin("images.txt", list, false);
    assert_eq!(
        new,
        format!(
            "nginx:1.27@{} # web\n\nredis:7@{}",
            d("nginx:1.27"),
            d("redis:7")
        )
    );
}

#[test]
fn kinds_from_names_and_content() {
    assert_eq!(places::kind_of("Dockerfile.prod", ""), FileKind::Dockerfile);
    assert_eq!(
        places::kind_of("x/.github/workflows/ci.yml", "on: push\n"),
        FileKind::Actions
    );
    assert_eq!(
        places::kind_of("images.txt", "services: {}"),
        FileKind::List
    );
    assert_eq!(places::kind_of("-", "FROM alpine\n"), FileKind::Dockerfile);
    assert_eq!(
        places::kind_of("-", "services:\n  a:\n    image: x\n"),
        FileKind::Compose
    );
    assert_eq!(
        places::kind_of("-", "jobs:\n  a:\n    runs-on: x\n"),
        FileKind::Actions
    );
    assert_eq!(places::kind_of("-", "kind: Pod\n"), FileKind::Kubernetes);
    assert_eq!(
        places::kind_of("refs", "nginx:1.27\nredis:7\n"),
        FileKind::List
    );
}

/// The property: pin changes nothing but references. Over many generated files of
/// every kind (comments, quoting styles, anchors, CRLF, a BOM, a missing final
/// newline), removing the digests from pin's output gives back the input, byte for
/// byte, and pinning the output again changes nothing.
#[test]
fn removing_the_digests_gives_back_the_input() {
    let images = [
        "nginx:1.27",
        "ghcr.io/org/app:v1.2.3",
        "localhost:5000/team/x:dev",
        "redis:7-alpine",
    ];
    for seed in 0..400u64 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let image = |rng: &mut fastrand::Rng| images[rng.usize(..images.len())];
        let comment = |rng: &mut fastrand::Rng| {
            if rng.bool() {
                " # note: image: x:1"
            } else {
                ""
            }
        };
        let mut lines: Vec<String> = Vec::new();
        let (name, kind) = match seed % 4 {
            0 => {
                lines.push("# syntax=docker/dockerfile:1".into());
                lines.push(format!("ARG BASE={}", image(&mut rng)));
                for i in 0..rng.usize(1..5) {
                    lines.push(format!("FROM {} AS s{i}", image(&mut rng)));
                    if rng.bool() {
                        lines.push(format!("COPY --from={} /a /a", image(&mut rng)));
                    }
                    lines.push("RUN echo image: nginx:1".into());
                }
                lines.push("FROM $BASE".into());
                ("Dockerfile", FileKind::Dockerfile)
            }
            1 => {
                lines.push("x-base: &base".into());
                lines.push(format!("  image: {}{}", image(&mut rng), comment(&mut rng)));
                lines.push("services:".into());
                for i in 0..rng.usize(1..6) {
                    lines.push(format!("  s{i}:"));
                    let img = image(&mut rng);
                    lines.push(match rng.usize(..4) {
                        0 => format!("    image: '{img}'"),
                        1 => format!("    image: \"{img}\"{}", comment(&mut rng)),
                        2 => "    <<: *base".into(),
                        _ => format!("    image: {img}{}", comment(&mut rng)),
                    });
                    if rng.bool() {
                        lines.push(String::new());
                    }
                }
                ("compose.yaml", FileKind::Compose)
            }
            2 => {
                for doc in 0..rng.usize(1..4) {
                    if doc > 0 {
                        lines.push("---".into());
                    }
                    lines.push("kind: Deployment".into());
                    lines.push("spec:".into());
                    lines.push("  containers:".into());
                    for c in 0..rng.usize(1..3) {
                        lines.push(format!("    - name: c{c}"));
                        lines.push(format!(
                            "      image: {}{}",
                            image(&mut rng),
                            comment(&mut rng)
                        ));
                    }
                }
                ("k8s.yaml", FileKind::Kubernetes)
            }
            _ => {
                for _ in 0..rng.usize(1..6) {
                    lines.push(format!("{}{}", image(&mut rng), comment(&mut rng)));
                    if rng.bool() {
                        lines.push("# comment".into());
                    }
                }
                ("images.txt", FileKind::List)
            }
        };
        let eol = if rng.bool() { "\r\n" } else { "\n" };
        let mut text = lines.join(eol);
        if rng.bool() {
            text.push_str(eol);
        }
        if rng.bool() {
            text.insert(0, '\u{feff}');
        }
        let (found_kind, found) = places_of(name, &text, None).unwrap();
        assert_eq!(found_kind, kind, "{text}");
        let (new, rows) = plan(&text, &found, &|key, pinned| {
            single(registry(key)?).decide(pinned, false, None)
        });
        assert!(
            rows.iter().any(|r| r.status == Status::Pinned),
            "seed {seed}: {text}"
        );
        assert_eq!(unpinned(&new), text, "seed {seed}");
        let (again, _) = pin(name, &new, false);
        assert_eq!(again, new, "seed {seed}: pinning twice");
    }
}

/// A tag that is an index of two platforms, as the registry shows it.
fn index_now(asked: Option<&str>) -> TagNow {
    let p = |s: &str| Platform::parse(s, "amd64").unwrap();
    let entries = vec![
        (Digest::sha256(b"amd64"), Some(p("linux/amd64"))),
        (Digest::sha256(b"arm64"), Some(p("linux/arm64"))),
    ];
    TagNow {
        digest: Digest::sha256(b"index"),
        asked: asked.map(|a| {
            let d = entries
                .iter()
                .find(|(_, e)| e.as_ref() == Some(&p(a)))
                .unwrap();
            (p(a), d.0.clone())
        }),
        entries: Some(entries),
    }
}

#[test]
fn a_platform_pin_is_current_while_its_index_has_not_moved() {
    let (index, amd64, arm64) = (
        Digest::sha256(b"index"),
        Digest::sha256(b"amd64"),
        Digest::sha256(b"arm64"),
    );
    let gone = Digest::sha256(b"an older index");
    let now = index_now(None);
    assert_eq!(now.judge(&index), Ok(None));
    assert_eq!(
        now.judge(&arm64),
        Ok(Some("the linux/arm64 entry of the tag's index".into()))
    );
    assert_eq!(now.judge(&gone), Err(None));
    // --platform linux/amd64: the index and amd64's entry, not arm64's.
    let asked = index_now(Some("linux/amd64"));
    assert!(asked.judge(&index).is_ok());
    assert!(asked.judge(&amd64).is_ok());
    assert_eq!(
        asked.judge(&arm64),
        Err(Some(
            "pinned to the linux/arm64 entry of the tag's index, not linux/amd64's".into()
        ))
    );
    assert_eq!(asked.to_write(), &amd64);
    assert_eq!(now.to_write(), &index);
}

#[test]
fn update_keeps_a_platform_pin_a_platform_pin() {
    let p = |s: &str| Platform::parse(s, "amd64").unwrap();
    let now = index_now(None);
    let old = Digest::sha256(b"arm64 last week");
    let text = format!("FROM x:1@{old}\nFROM y:1@{old}\nFROM z:1@{old}\n");
    let (_, found) = places_of("Dockerfile", &text, None).unwrap();
    // What each pin was: x an arm64 image (written as aarch64), y an index, z s390x.
    let was = |key: &str| match key {
        "x:1" => Some(p("linux/aarch64")),
        "y:1" => None,
        _ => Some(p("linux/s390x")),
    };
    let (new, rows) = plan(&text, &found, &|key, pinned| {
        now.decide(pinned, true, was(key).as_ref())
    });
    let statuses: Vec<Status> = rows.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [Status::Updated, Status::Updated, Status::Failed],
        "{rows:?}"
    );
    assert!(
        rows[2]
            .reason
            .as_deref()
            .unwrap()
            .contains("has no linux/s390x now"),
        "{rows:?}"
    );
    let (arm64, index) = (Digest::sha256(b"arm64"), Digest::sha256(b"index"));
    assert_eq!(
        new,
        format!("FROM x:1@{arm64}\nFROM y:1@{index}\nFROM z:1@{old}\n")
    );
    // Without --update: reported as moved, naming the tag's digest, nothing written.
    let (same, rows) = plan(&text, &found, &|_, pinned| now.decide(pinned, false, None));
    assert_eq!(same, text);
    assert!(rows.iter().all(|r| r.status == Status::Moved));
    let warning = rows[0].warning("Dockerfile").unwrap();
    assert!(warning.contains(&format!("moved to {index}")), "{warning}");
    // A current platform pin is left alone, and says what it is.
    let text = format!("FROM x:1@{arm64}\n");
    let (_, found) = places_of("Dockerfile", &text, None).unwrap();
    let (same, rows) = plan(&text, &found, &|_, pinned| now.decide(pinned, true, None));
    assert_eq!(same, text);
    assert_eq!(rows[0].status, Status::Current);
    assert_eq!(
        rows[0].reason.as_deref(),
        Some("the linux/arm64 entry of the tag's index")
    );
}
