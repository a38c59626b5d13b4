//! `sbom IMAGE…` and `provenance IMAGE…`: what an image says about itself, read
//! without pulling its layers. The documents are BuildKit's in-toto statements in the
//! index's attestation manifest (SPDX and CycloneDX SBOMs, SLSA provenance v0.2 and
//! v1), and SBOMs attached as referrers (SPDX and CycloneDX artifact types). Each
//! document is a blob, fetched and checked against its digest before it is read.
//! Formats and field paths: docs/protocol.md §8.4.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use regpeek_proto::manifest::{Descriptor, Manifest};
use regpeek_proto::{Goal, Outcome, Reference, ReferrerSource};
use serde_json::{Value, json};

use crate::args::{Common, OutputFormat};
use crate::session::Session;

/// The largest document read (SBOMs of big images run to a few MiB).
const MAX_DOCUMENT: u64 = 64 << 20;

/// What a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Spdx,
    CycloneDx,
    Provenance02,
    Provenance1,
}

impl Kind {
    fn of_predicate(t: &str) -> Option<Kind> {
        Some(match t {
            t if t.starts_with("https://spdx.dev/Document") => Kind::Spdx,
            t if t.starts_with("https://cyclonedx.org/bom") => Kind::CycloneDx,
            "https://slsa.dev/provenance/v0.2" => Kind::Provenance02,
            t if t.starts_with("https://slsa.dev/provenance/v1") => Kind::Provenance1,
            _ => return None,
        })
    }

    fn of_artifact(t: &str) -> Option<Kind> {
        Some(match t {
            t if t.contains("spdx") => Kind::Spdx,
            t if t.contains("cyclonedx") => Kind::CycloneDx,
            _ => return None,
        })
    }

    fn is_sbom(self) -> bool {
        matches!(self, Kind::Spdx | Kind::CycloneDx)
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Spdx => "spdx",
            Kind::CycloneDx => "cyclonedx",
            Kind::Provenance02 => "slsa-provenance-v0.2",
            Kind::Provenance1 => "slsa-provenance-v1",
        }
    }
}

/// One document the image carries: what it is, where it was found, and its body
/// (for an in-toto statement, the predicate).
pub struct Document {
    pub kind: Kind,
    pub source: &'static str,
    pub body: Value,
}

/// Which documents a command wants.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Sbom,
    Provenance,
}

pub fn run(
    session: &Session,
    want: Want,
    images: &super::Images,
    raw: bool,
    format: OutputFormat,
    out: &mut impl Write,
) -> Result<ExitCode> {
    if format == OutputFormat::Table {
        session.out.refuse_table_with_jq()?;
        if raw {
            return Err(crate::errors::usage(
                "--raw prints the documents; -o table prints rows",
            ));
        }
    }
    let mut failed = false;
    // The table needs every row for its widths; JSON lines stream, each image's as
    // soon as it and the images before it are answered.
    let mut rows: Vec<Value> = Vec::new();
    images.each(
        |image, common| {
            let r = crate::flags::parse_reference(image)?;
            documents(session, common, &r, want)
        },
        |i, found| {
            let (image, source) = &images.list[i];
            if raw {
                // The documents themselves, one per line, ready for grype, trivy or
                // spdx-tools; what is missing is said on stderr.
                match found {
                    Ok(docs) if !docs.is_empty() => {
                        for doc in docs {
                            session.out.line(out, &doc.body)?;
                        }
                        out.flush()?;
                    }
                    found => {
                        failed = true;
                        for e in fields_of(image, want, raw, found)
                            .into_iter()
                            .filter_map(Result::err)
                        {
                            eprintln!(
                                "regpeek: error: {}",
                                crate::output::safe_line(&crate::local::humane(&format!("{e:#}")))
                            );
                        }
                    }
                }
                return Ok(());
            }
            for f in fields_of(image, want, raw, found) {
                let (row, fails) = crate::output::answer_line(image, source.as_deref(), f);
                failed |= fails;
                match format {
                    OutputFormat::Json => {
                        session.out.line(out, &row)?;
                        out.flush()?;
                    }
                    OutputFormat::Table => rows.push(row),
                }
            }
            Ok(())
        },
    )?;
    match format {
        OutputFormat::Json => {}
        OutputFormat::Table => {
            let cell = |v: &Value, k: &str| match &v[k] {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            let (header, keys): (&[&str], &[&str]) = match want {
                Want::Sbom => (
                    &["NAME", "VERSION", "LICENSE", "PURL", "FORMAT"],
                    &["Name", "Version", "License", "Purl", "Format"],
                ),
                Want::Provenance => (
                    &["BUILDER", "SOURCE", "COMMIT", "FORMAT"],
                    &["Builder", "SourceRepository", "Commit", "Format"],
                ),
            };
            // Several images: each row says whose it is.
            let several = !images.single;
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|v| {
                    let mut row = if several {
                        vec![cell(v, "Reference")]
                    } else {
                        vec![]
                    };
                    match &v["Error"] {
                        Value::String(e) => row.push(e.clone()),
                        _ => row.extend(keys.iter().map(|k| cell(v, k))),
                    }
                    row
                })
                .collect();
            let header: Vec<&str> = several
                .then_some("REFERENCE")
                .into_iter()
                .chain(header.iter().copied())
                .collect();
            crate::output::print_columns(out, &header, &table)?;
        }
    }
    out.flush()?;
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The rows of one image's answer, without its `Reference` and `Source`: a package
/// (or the provenance, or with `--raw` the document) per row, or why there is none.
fn fields_of(
    image: &str,
    want: Want,
    raw: bool,
    found: Result<Vec<Document>>,
) -> Vec<Result<Value>> {
    // Each row's fields, without the image's `Reference` and `Source`.
    match found {
        Ok(docs) if docs.is_empty() => {
            let what = if want == Want::Sbom {
                "SBOM"
            } else {
                "provenance"
            };
            vec![Err(anyhow::anyhow!(
                "{image} carries no {what} (no attestation, no referrer)"
            ))]
        }
        Ok(docs) => docs
            .iter()
            .flat_map(|doc| -> Vec<Result<Value>> {
                let with = |mut v: Value, format: bool| {
                    if format {
                        v["Format"] = json!(doc.kind.name());
                    }
                    v["From"] = json!(doc.source);
                    Ok(v)
                };
                if raw {
                    vec![Ok(
                        json!({"Format": doc.kind.name(), "From": doc.source, "Document": doc.body}),
                    )]
                } else if want == Want::Sbom {
                    packages(doc).into_iter().map(|p| with(p, true)).collect()
                } else {
                    vec![with(provenance(doc), false)]
                }
            })
            .collect(),
        Err(e) => vec![Err(e)],
    }
}

/// The documents of the kind wanted that `r` (the platform's image, for an index)
/// carries: its attestations' statements, then its referrers' SBOMs.
pub fn documents(
    session: &Session,
    common: &Common,
    r: &Reference,
    want: Want,
) -> Result<Vec<Document>> {
    let platform = crate::flags::platform(common)?;
    let goal = Goal::Referrers {
        platform: Some(platform),
        artifact_type: None,
    };
    let Outcome::Referrers(found) = session.run(r, common, goal)? else {
        bail!("internal: a referrers flow ended with something else");
    };
    let mut out = Vec::new();
    for item in &found.items {
        let source = match item.source {
            ReferrerSource::Attestation => "attestation",
            ReferrerSource::Api => "referrers-api",
            ReferrerSource::TagSchema => "referrer-tag",
            _ => "referrer",
        };
        let wanted = |k: Kind| k.is_sbom() == (want == Want::Sbom);
        let by_artifact = item
            .descriptor
            .artifact_type
            .as_deref()
            .and_then(Kind::of_artifact)
            .filter(|k| wanted(*k));
        let by_predicate = item
            .predicate_types
            .iter()
            .filter_map(|t| Kind::of_predicate(t))
            .any(wanted);
        if by_artifact.is_none() && !by_predicate {
            continue;
        }
        // The attestation or artifact manifest, then its document blobs.
        let at =
            crate::flags::parse_reference(&format!("{}@{}", r.name(), item.descriptor.digest))?;
        let layers = manifest_layers(session, common, &at)?;
        for layer in layers {
            let kind = match (&item.source, by_artifact) {
                (ReferrerSource::Attestation, _) => layer
                    .annotations
                    .get("in-toto.io/predicate-type")
                    .and_then(|t| Kind::of_predicate(t)),
                (_, Some(k)) => Some(k),
                _ => None,
            };
            let Some(kind) = kind.filter(|k| wanted(*k)) else {
                continue;
            };
            let mut body = read_document(session, common, r, &layer)?;
            if item.source == ReferrerSource::Attestation {
                body = body
                    .get("predicate")
                    .cloned()
                    .context("an in-toto statement without a predicate")?;
            }
            out.push(Document { kind, source, body });
        }
    }
    Ok(out)
}

fn manifest_layers(session: &Session, common: &Common, r: &Reference) -> Result<Vec<Descriptor>> {
    let insp = session.run(r, common, Goal::Manifest(None))?.into_image()?;
    match insp.manifest.and_then(|m| m.manifest) {
        Some(Manifest::Image(m)) => Ok(m.layers),
        _ => bail!("{} is not an image manifest", r.familiar()),
    }
}

/// A JSON document blob, verified against its descriptor before it is parsed.
fn read_document(
    session: &Session,
    common: &Common,
    r: &Reference,
    desc: &Descriptor,
) -> Result<Value> {
    let mut bytes = Vec::new();
    let (digest, size) = (&desc.digest, Some(desc.size));
    regpeek_client::layers::read_blob(
        &crate::layers::Reading { session, common },
        r,
        digest,
        size,
        MAX_DOCUMENT,
        &mut bytes,
    )?;
    serde_json::from_slice(&bytes).with_context(|| format!("{} is not JSON", desc.digest))
}

/// The packages an SBOM lists: name, version, purl, licence.
pub fn packages(doc: &Document) -> Vec<Value> {
    let s = |v: &Value| v.as_str().map(str::to_owned);
    match doc.kind {
        Kind::Spdx => doc.body["packages"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                let purl = p["externalRefs"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|r| r["referenceType"] == "purl")
                    .and_then(|r| s(&r["referenceLocator"]));
                let license = [&p["licenseConcluded"], &p["licenseDeclared"]]
                    .into_iter()
                    .filter_map(s)
                    .find(|l| l != "NOASSERTION" && l != "NONE");
                json!({"Name": s(&p["name"]), "Version": s(&p["versionInfo"]), "Purl": purl, "License": license})
            })
            .collect(),
        Kind::CycloneDx => doc.body["components"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                let licenses: Vec<String> = c["licenses"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|l| s(&l["license"]["id"]).or_else(|| s(&l["license"]["name"])).or_else(|| s(&l["expression"])))
                    .collect();
                let license = (!licenses.is_empty()).then(|| licenses.join(" AND "));
                json!({"Name": s(&c["name"]), "Version": s(&c["version"]), "Purl": s(&c["purl"]), "License": license})
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// What a provenance statement says of the build: builder, source repository and
/// commit, build arguments, and the materials (images and sources it used).
pub fn provenance(doc: &Document) -> Value {
    let p = &doc.body;
    let s = |v: &Value| v.as_str().map(str::to_owned);
    let digest_of = |d: &Value| {
        d.as_object()
            .and_then(|o| o.iter().next())
            .map(|(alg, hex)| format!("{alg}:{}", hex.as_str().unwrap_or_default()))
    };
    let (builder, source, commit, args, materials) = match doc.kind {
        Kind::Provenance02 => {
            let vcs = &p["metadata"]["https://mobyproject.org/buildkit@v1#metadata"]["vcs"];
            let config = &p["invocation"]["configSource"];
            (
                s(&p["builder"]["id"]),
                s(&vcs["source"]).or_else(|| s(&config["uri"])),
                s(&vcs["revision"])
                    .or_else(|| config["digest"]["sha1"].as_str().map(str::to_owned)),
                build_args(&p["invocation"]["parameters"]["args"]),
                &p["materials"],
            )
        }
        _ => {
            let def = &p["buildDefinition"];
            let vcs = &p["runDetails"]["metadata"]["buildkit_metadata"]["vcs"];
            let config = &def["externalParameters"]["configSource"];
            (
                s(&p["runDetails"]["builder"]["id"]),
                s(&vcs["source"]).or_else(|| s(&config["uri"])),
                s(&vcs["revision"])
                    .or_else(|| config["digest"]["sha1"].as_str().map(str::to_owned)),
                build_args(&def["externalParameters"]["request"]["args"]),
                &def["resolvedDependencies"],
            )
        }
    };
    let materials: Vec<Value> = materials
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| json!({"Uri": s(&m["uri"]), "Digest": digest_of(&m["digest"])}))
        .collect();
    json!({
        "Format": doc.kind.name(),
        "Builder": builder,
        "SourceRepository": source,
        "Commit": commit,
        "BuildArgs": args,
        "Materials": materials,
    })
}

/// `build-arg:NAME` parameters, by name.
fn build_args(args: &Value) -> Value {
    let map: serde_json::Map<String, Value> = args
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.strip_prefix("build-arg:")?.to_owned(), v.clone())))
        .collect();
    Value::Object(map)
}

/// The base image a provenance statement names, when it names exactly one image
/// among its materials (`pkg:docker/NAME@…` or `?…`): `(reference, digest)`. The
/// BuildKit frontend that ran the build (`# syntax=`, BuildKit's `source` or
/// `cmdline` argument, or `docker/dockerfile` itself) is a material but no base.
pub fn base_from(doc: &Document) -> Option<(String, String)> {
    let p = provenance(doc);
    let args = match doc.kind {
        Kind::Provenance1 => &doc.body["buildDefinition"]["externalParameters"]["request"]["args"],
        _ => &doc.body["invocation"]["parameters"]["args"],
    };
    let repository = |name: &str| {
        regpeek_proto::Reference::parse(name)
            .map(|r| r.name())
            .unwrap_or_else(|_| name.to_owned())
    };
    let frontends: Vec<String> = ["source", "cmdline"]
        .iter()
        .filter_map(|k| args[*k].as_str())
        .map(repository)
        .chain(
            ["docker/dockerfile", "docker/dockerfile-upstream"]
                .iter()
                .map(|n| repository(n)),
        )
        .collect();
    let images: Vec<(String, String)> = p["Materials"]
        .as_array()?
        .iter()
        .filter_map(|m| {
            let uri = m["Uri"].as_str()?.strip_prefix("pkg:docker/")?;
            let name = uri.split('?').next()?;
            // `NAME@TAG` is the purl's spelling of `NAME:TAG`.
            let name = match name.rsplit_once('@') {
                Some((repo, tag)) if !tag.contains(':') => format!("{repo}:{tag}"),
                _ => name.to_owned(),
            };
            Some((name, m["Digest"].as_str()?.to_owned()))
        })
        .filter(|(name, _)| !frontends.contains(&repository(name)))
        .collect();
    match images.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(kind: Kind, body: Value) -> Document {
        Document {
            kind,
            source: "attestation",
            body,
        }
    }

    #[test]
    fn sboms_list_their_packages() {
        let spdx = doc(
            Kind::Spdx,
            json!({"packages": [
                {"name": "zlib", "versionInfo": "1.3", "licenseConcluded": "NOASSERTION", "licenseDeclared": "Zlib",
                 "externalRefs": [{"referenceType": "cpe23Type", "referenceLocator": "cpe:x"}, {"referenceType": "purl", "referenceLocator": "pkg:deb/debian/zlib@1.3"}]},
                {"name": "bare"}
            ]}),
        );
        assert_eq!(
            packages(&spdx),
            [
                json!({"Name": "zlib", "Version": "1.3", "Purl": "pkg:deb/debian/zlib@1.3", "License": "Zlib"}),
                json!({"Name": "bare", "Version": null, "Purl": null, "License": null}),
            ]
        );
        let cdx = doc(
            Kind::CycloneDx,
            json!({"components": [{"name": "a", "version": "1", "purl": "pkg:npm/a@1",
                "licenses": [{"license": {"id": "MIT"}}, {"license": {"name": "Custom"}}, {"expression": "Apache-2.0 OR MIT"}]}]}),
        );
        assert_eq!(
            packages(&cdx)[0]["License"],
            "MIT AND Custom AND Apache-2.0 OR MIT"
        );
    }

    #[test]
    fn provenance_v1_and_the_base_it_names() {
        let v1 = doc(
            Kind::Provenance1,
            json!({
                "buildDefinition": {
                    "externalParameters": {
                        "configSource": {"uri": "https://github.com/o/r.git#main", "digest": {"sha1": "abc"}},
                        "request": {"args": {"build-arg:GO": "1.22", "target": "final"}}
                    },
                    "resolvedDependencies": [
                        {"uri": "pkg:docker/golang@1.22?platform=linux%2Famd64", "digest": {"sha256": "11"}},
                        {"uri": "pkg:docker/alpine@3.20?platform=linux%2Famd64", "digest": {"sha256": "22"}}
                    ]
                },
                "runDetails": {"builder": {"id": "https://github.com/o/r/actions"}}
            }),
        );
        let p = provenance(&v1);
        assert_eq!(p["Builder"], "https://github.com/o/r/actions");
        assert_eq!(p["SourceRepository"], "https://github.com/o/r.git#main");
        assert_eq!(p["Commit"], "abc");
        assert_eq!(p["BuildArgs"], json!({"GO": "1.22"}));
        assert_eq!(p["Materials"][1]["Digest"], "sha256:22");
        // Two images used: which one is the base cannot be told.
        assert_eq!(base_from(&v1), None);
        // The frontend `# syntax=` named is a material, not a base.
        let with_frontend = doc(
            Kind::Provenance02,
            json!({
                "invocation": {"parameters": {"args": {"source": "docker/dockerfile:1.7"}}},
                "materials": [
                    {"uri": "pkg:docker/docker/dockerfile@1.7?platform=linux%2Famd64", "digest": {"sha256": "44"}},
                    {"uri": "pkg:docker/alpine@3.20?platform=linux%2Famd64", "digest": {"sha256": "55"}}
                ]
            }),
        );
        assert_eq!(
            base_from(&with_frontend),
            Some(("alpine:3.20".to_owned(), "sha256:55".to_owned()))
        );
        // A custom frontend, named by BuildKit's `cmdline` argument, as well.
        let custom = doc(
            Kind::Provenance02,
            json!({
                "invocation": {"parameters": {"args": {"cmdline": "example.com/fe:2"}}},
                "materials": [
                    {"uri": "pkg:docker/example.com/fe@2", "digest": {"sha256": "66"}},
                    {"uri": "pkg:docker/debian@12", "digest": {"sha256": "77"}}
                ]
            }),
        );
        assert_eq!(
            base_from(&custom).map(|b| b.0),
            Some("debian:12".to_owned())
        );
        let one = doc(
            Kind::Provenance02,
            json!({"materials": [{"uri": "pkg:docker/docker.io/library/alpine@3.20?platform=linux%2Famd64", "digest": {"sha256": "33"}}]}),
        );
        assert_eq!(
            base_from(&one),
            Some(("docker.io/library/alpine:3.20".into(), "sha256:33".into()))
        );
    }
}
