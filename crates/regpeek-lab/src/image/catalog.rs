//! The registry content of the lab: `lab/rich`, `lab/multi`, attestations and
//! referrers, `lab/many-*`, `lab/based`, `lab/versions`, and [`Seeded`].

use serde_json::{Value, json};

use super::*;

/// The rich single-arch Docker v2s2 image (`lab/rich`).
pub fn rich() -> Image {
    build(&Spec {
        docker: true,
        platform: ("linux", "amd64", None),
        runtime: json!({
            "User": "app:app",
            "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "LAB_GREETING=hello world", "EMPTY="],
            "Entrypoint": ["/docker-entrypoint.sh"],
            "Cmd": ["serve", "--port", "8080"],
            "WorkingDir": "/srv/app",
            "Labels": {
                "org.opencontainers.image.title": "regpeek lab rich image",
                "org.opencontainers.image.source": "https://example.invalid/regpeek",
                "com.example.multi-line": "a\nb"
            },
            "ExposedPorts": {"8080/tcp": {}, "9090/udp": {}},
            "Volumes": {"/data": {}, "/cache": {}},
            "StopSignal": "SIGQUIT",
            "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 30000000000u64}
        }),
        layers: vec![
            vec![("etc/os-release", b"ID=lab\n".to_vec())],
            vec![("srv/app/app.sh", b"#!/bin/sh\necho hi\n".to_vec())],
            vec![("docker-entrypoint.sh", b"#!/bin/sh\nexec \"$@\"\n".to_vec())],
        ],
        extra: json!({
            "created": "2024-01-02T03:04:05Z",
            "author": "regpeek lab",
            "docker_version": "24.0.7"
        }),
    })
}

fn platform_image(os: &str, arch: &str, variant: Option<&str>) -> Image {
    let name = format!(
        "{os}/{arch}{}",
        variant.map(|v| format!("/{v}")).unwrap_or_default()
    );
    build(&Spec {
        docker: false,
        platform: (os, arch, variant),
        runtime: json!({
            "Env": ["PATH=/usr/bin:/bin", format!("LAB_PLATFORM={name}")],
            "Cmd": ["/bin/sh"],
            "Labels": {"lab.platform": name}
        }),
        layers: vec![vec![("platform.txt", name.clone().into_bytes())]],
        extra: json!({"created": "2024-01-02T03:04:05Z"}),
    })
}

/// A BuildKit-style attestation manifest describing `subject`.
fn attestation(subject: &Image) -> Image {
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://spdx.dev/Document",
        "subject": [{"name": "lab", "digest": {"sha256": subject.manifest.digest.trim_start_matches("sha256:")}}],
        "predicate": {"spdxVersion": "SPDX-2.3"}
    });
    let layer = Blob::new(media::IN_TOTO, canonical(&statement));
    let config = Blob::new(
        media::OCI_CONFIG,
        canonical(&json!({
            "architecture": "unknown", "os": "unknown", "config": {},
            "rootfs": {"type": "layers", "diff_ids": [layer.digest]}
        })),
    );
    let mut layer_desc = layer.descriptor();
    layer_desc["annotations"] = json!({"in-toto.io/predicate-type": "https://spdx.dev/Document"});
    let manifest = Blob::new(
        media::OCI_MANIFEST,
        canonical_pretty(&json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_MANIFEST,
            "config": config.descriptor(),
            "layers": [layer_desc],
        })),
    );
    Image {
        manifest,
        config,
        layers: vec![layer],
    }
}

/// The predicate types of the statements `lab/attested` carries.
pub const SPDX: &str = "https://spdx.dev/Document";
/// SLSA provenance v0.2, as BuildKit writes it.
pub const SLSA_02: &str = "https://slsa.dev/provenance/v0.2";

/// `lab/attested`: an index of one linux/amd64 image and its BuildKit attestation
/// manifest, which holds an SPDX SBOM (two packages) and SLSA v0.2 provenance (its
/// builder, source, commit, build arguments and materials, the base image among
/// them, named `base`); plus a CycloneDX SBOM attached as a referrer of the image
/// (through the `sha256-<hex>` tag): what `regpeek sbom` and `provenance` read.
pub fn attested(base: &str, base_digest: &str) -> (Index, Referring) {
    let image = platform_image("linux", "amd64", None);
    // BuildKit's purl of an image: `pkg:docker/REPOSITORY@TAG`.
    let purl_name = match base.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => format!("{repo}@{tag}"),
        _ => base.to_owned(),
    };
    let subject = json!([{"name": "lab/attested", "digest": {"sha256": image.manifest.digest.trim_start_matches("sha256:")}}]);
    let spdx = json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": SPDX,
        "subject": subject,
        "predicate": {
            "spdxVersion": "SPDX-2.3",
            "name": "lab/attested",
            "packages": [
                {"name": "busybox", "versionInfo": "1.36.1-r2", "licenseConcluded": "GPL-2.0-only",
                 "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:apk/alpine/busybox@1.36.1-r2?arch=x86_64"}]},
                {"name": "musl", "versionInfo": "1.2.4-r2", "licenseDeclared": "MIT",
                 "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64"}]}
            ]
        }
    });
    let provenance = json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": SLSA_02,
        "subject": subject,
        "predicate": {
            "builder": {"id": "https://github.com/example/app/actions/runs/1"},
            "buildType": "https://mobyproject.org/buildkit@v1",
            "materials": [
                {"uri": format!("pkg:docker/{purl_name}?platform=linux%2Famd64"), "digest": {"sha256": base_digest.trim_start_matches("sha256:")}},
                {"uri": "https://github.com/example/app.git#refs/heads/main", "digest": {"sha1": "0123456789abcdef0123456789abcdef01234567"}}
            ],
            "invocation": {
                "configSource": {"uri": "https://github.com/example/app.git#refs/heads/main", "digest": {"sha1": "0123456789abcdef0123456789abcdef01234567"}, "entryPoint": "Dockerfile"},
                "parameters": {"frontend": "dockerfile.v0", "args": {"build-arg:VERSION": "1.2.3", "label:team": "lab"}}
            },
            "metadata": {"https://mobyproject.org/buildkit@v1#metadata": {"vcs": {"source": "https://github.com/example/app.git", "revision": "0123456789abcdef0123456789abcdef01234567"}}}
        }
    });
    let statements: Vec<(Blob, &str)> = [(spdx, SPDX), (provenance, SLSA_02)]
        .into_iter()
        .map(|(s, t)| (Blob::new(media::IN_TOTO, canonical(&s)), t))
        .collect();
    let config = Blob::new(
        media::OCI_CONFIG,
        canonical(
            &json!({"architecture": "unknown", "os": "unknown", "config": {}, "rootfs": {"type": "layers", "diff_ids": []}}),
        ),
    );
    let layers: Vec<Value> = statements
        .iter()
        .map(|(b, t)| {
            let mut d = b.descriptor();
            d["annotations"] = json!({"in-toto.io/predicate-type": t});
            d
        })
        .collect();
    let att = Image {
        manifest: Blob::new(
            media::OCI_MANIFEST,
            canonical_pretty(&json!({
                "schemaVersion": 2, "mediaType": media::OCI_MANIFEST,
                "config": config.descriptor(), "layers": layers,
            })),
        ),
        config,
        layers: statements.into_iter().map(|(b, _)| b).collect(),
    };
    let mut att_desc = att.manifest.descriptor();
    att_desc["platform"] = json!({"architecture": "unknown", "os": "unknown"});
    att_desc["annotations"] = json!({
        "vnd.docker.reference.type": "attestation-manifest",
        "vnd.docker.reference.digest": image.manifest.digest,
    });
    let mut image_desc = image.manifest.descriptor();
    image_desc["platform"] = json!({"architecture": "amd64", "os": "linux"});
    let index = oci_index(vec![image_desc, att_desc]);
    // A CycloneDX SBOM attached as a referrer, found through the tag schema.
    let empty = Blob::new("application/vnd.oci.empty.v1+json", b"{}".to_vec());
    let bom = Blob::new(
        CYCLONEDX_TYPE,
        canonical(&json!({
            "bomFormat": "CycloneDX", "specVersion": "1.5",
            "components": [{"type": "library", "name": "openssl", "version": "3.1.4", "purl": "pkg:apk/alpine/openssl@3.1.4", "licenses": [{"license": {"id": "Apache-2.0"}}]}]
        })),
    );
    let artifact = Image {
        manifest: Blob::new(
            media::OCI_MANIFEST,
            canonical_pretty(&json!({
                "schemaVersion": 2, "mediaType": media::OCI_MANIFEST,
                "artifactType": CYCLONEDX_TYPE,
                "config": empty.descriptor(), "layers": [bom.descriptor()],
                "subject": image.manifest.descriptor(),
            })),
        ),
        config: empty,
        layers: vec![bom],
    };
    let mut d = artifact.manifest.descriptor();
    d["artifactType"] = json!(CYCLONEDX_TYPE);
    let referring = Referring {
        index: oci_index(vec![d]),
        tag: image.manifest.digest.replace(':', "-"),
        artifacts: vec![artifact],
    };
    (
        Index {
            index,
            children: vec![image, att],
        },
        referring,
    )
}

/// A CycloneDX SBOM's artifact type.
pub const CYCLONEDX_TYPE: &str = "application/vnd.cyclonedx+json";

/// The multi-arch OCI index (`lab/multi`): linux/amd64, linux/arm64/v8, linux/arm/v7
/// and an attestation for the amd64 image, listed first as BuildKit sometimes does.
pub fn multi() -> Index {
    let images = [
        platform_image("linux", "amd64", None),
        platform_image("linux", "arm64", Some("v8")),
        platform_image("linux", "arm", Some("v7")),
    ];
    let att = attestation(&images[0]);
    let mut entries = Vec::new();
    let mut att_desc = att.manifest.descriptor();
    att_desc["platform"] = json!({"architecture": "unknown", "os": "unknown"});
    att_desc["annotations"] = json!({
        "vnd.docker.reference.type": "attestation-manifest",
        "vnd.docker.reference.digest": images[0].manifest.digest,
    });
    entries.push(att_desc);
    entries.extend(images.iter().map(platform_descriptor));
    let index = oci_index(entries);
    let mut children = vec![att];
    children.extend(images);
    Index { index, children }
}

/// An OCI image with `n` small layers (`lab/many-layers`).
pub fn many_layers(n: usize) -> Image {
    let layers = (0..n)
        .map(|i| vec![("layer.txt", format!("layer {i}\n").into_bytes())])
        .collect();
    build(&Spec {
        docker: false,
        platform: ("linux", "amd64", None),
        runtime: json!({"Cmd": ["/bin/true"]}),
        layers,
        extra: json!({"created": "2024-01-02T03:04:05Z"}),
    })
}

/// An OCI image that says, in its manifest's annotations, which image it was built
/// on (`org.opencontainers.image.base.name` and `.base.digest`), as BuildKit writes
/// them: what `regpeek base` reads.
pub fn based_on(base_name: &str, base_digest: &str) -> Image {
    let mut img = build(&Spec {
        docker: false,
        platform: ("linux", "amd64", None),
        runtime: json!({"Cmd": ["/app"]}),
        layers: vec![vec![("app", b"built on a base\n".to_vec())]],
        extra: json!({"created": "2024-01-02T03:04:05Z"}),
    });
    let mut manifest: Value = serde_json::from_slice(&img.manifest.bytes).expect("our own JSON");
    manifest["annotations"] = json!({
        "org.opencontainers.image.base.name": base_name,
        "org.opencontainers.image.base.digest": base_digest,
    });
    img.manifest = Blob::new(media::OCI_MANIFEST, canonical_pretty(&manifest));
    img
}

/// How many tags `lab/many-tags` has.
pub const MANY_TAGS: usize = 150;
/// How many layers `lab/many-layers` has.
pub const MANY_LAYERS: usize = 40;

/// The tags of `lab/many-tags`: `t000` … `t149`.
pub fn many_tag_names() -> Vec<String> {
    (0..MANY_TAGS).map(|i| format!("t{i:03}")).collect()
}

/// The tags of `lab/versions`: versions of every shape `outdated` reads (patch,
/// minor and major steps, two precisions, a variant family, a pre-release) and a name
/// that is none.
pub const VERSION_TAGS: &[&str] = &[
    "1.24.0",
    "1.25.3",
    "1.25.4",
    "1.25.10",
    "1.26.0",
    "1.27.1",
    "2.0.0",
    "2.1.0-rc.1",
    "1.25",
    "1.26",
    "1.25.3-alpine3.19",
    "1.25.5-alpine3.20",
    "latest",
];

/// The standard lab content.
pub struct Seeded {
    /// `lab/rich:v1`.
    pub rich: Image,
    /// `lab/multi:v1`.
    pub multi: Index,
    /// `lab/many-layers:v1`.
    pub many_layers: Image,
    /// What refers to the rich image in `lab/signed` (a signature and an SBOM).
    pub signed: Referring,
}

/// Artifacts that refer to a subject image (OCI 1.1, with `subject`), and the
/// `sha256-<hex>` fallback-tag index that lists them, for registries without the
/// referrers API.
pub struct Referring {
    /// The signature-like and the SBOM-like artifact.
    pub artifacts: Vec<Image>,
    /// The fallback-tag index.
    pub index: Blob,
    /// Its tag, `sha256-<hex of the subject>`.
    pub tag: String,
}

/// Artifact types of the lab's referrers.
pub const SIGNATURE_TYPE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
/// The SBOM's artifact type.
pub const SBOM_TYPE: &str = "application/spdx+json";

/// A signature-like and an SBOM-like artifact referring to `subject`.
pub fn referrers_of(subject: &Image) -> Referring {
    let empty = Blob::new("application/vnd.oci.empty.v1+json", b"{}".to_vec());
    let artifact = |artifact_type: &str, layer_type: &str, payload: &[u8]| {
        let layer = Blob::new(layer_type, payload.to_vec());
        let annotations = json!({"org.opencontainers.image.created": "2026-01-01T00:00:00Z"});
        let manifest = Blob::new(
            media::OCI_MANIFEST,
            canonical_pretty(&json!({
                "schemaVersion": 2,
                "mediaType": media::OCI_MANIFEST,
                "artifactType": artifact_type,
                "config": empty.descriptor(),
                "layers": [layer.descriptor()],
                "subject": subject.manifest.descriptor(),
                "annotations": annotations,
            })),
        );
        Image {
            manifest,
            config: empty.clone(),
            layers: vec![layer],
        }
    };
    let signature = artifact(
        SIGNATURE_TYPE,
        "application/vnd.dev.cosign.simplesigning.v1+json",
        br#"{"critical":{"identity":{"docker-reference":"lab/signed"},"type":"cosign container image signature"}}"#,
    );
    let sbom = artifact(
        SBOM_TYPE,
        SBOM_TYPE,
        br#"{"spdxVersion":"SPDX-2.3","name":"lab/signed"}"#,
    );
    let entries: Vec<Value> = [(&signature, SIGNATURE_TYPE), (&sbom, SBOM_TYPE)]
        .iter()
        .map(|(a, t)| {
            let mut d = a.manifest.descriptor();
            d["artifactType"] = json!(t);
            d["annotations"] = json!({"org.opencontainers.image.created": "2026-01-01T00:00:00Z"});
            d
        })
        .collect();
    let index = oci_index(entries);
    Referring {
        artifacts: vec![signature, sbom],
        index,
        tag: subject.manifest.digest.replace(':', "-"),
    }
}

/// Repository and tag of the rich image.
pub const RICH: (&str, &str) = ("lab/rich", "v1");
/// Repository and tag of the multi-arch image.
pub const MULTI: (&str, &str) = ("lab/multi", "v1");
