//! `packages IMAGE…`: installed packages, from the image's SBOM when it carries one
//! (unless `--scan`), else from the package databases its layers hold
//! (`Image::installed`: top-down, only the layers that decide). JSON lines of one
//! package each, a table, or a CycloneDX or SPDX document per image.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use regpeek_client::image::Image;
use regpeek_client::image::installed::Installed;
use serde_json::{Value, json};

use super::Images;
use super::attest::{self, Want};
use crate::args::{Common, PackageFormat};
use crate::layers::Reading;
use crate::session::Session;

/// What `packages` is asked.
pub struct Asked {
    /// Python and Node packages too (every layer read).
    pub languages: bool,
    /// The layers read even when an SBOM lists the packages.
    pub scan: bool,
    pub format: PackageFormat,
}

/// One image's packages as rows (`Type`, `Name`, `Version`, `Arch`, `Source`,
/// `Purl`, `Layer`, `LayerDigest`, `File`, or `From` for an SBOM's).
fn rows_of(session: &Session, common: &Common, typed: &str, asked: &Asked) -> Result<Vec<Value>> {
    let r = crate::flags::parse_reference(typed)?;
    // Offline, only the layers the cache holds answer (an SBOM is looked for online).
    if !asked.scan && !session.offline {
        // Every SBOM the image carries (an attestation, referrers), each package once.
        let docs = attest::documents(session, common, &r, Want::Sbom)?;
        if !docs.is_empty() {
            let mut seen = std::collections::BTreeSet::new();
            let mut rows = Vec::new();
            for doc in &docs {
                for mut row in attest::packages(doc) {
                    let key = match row["Purl"].as_str() {
                        Some(p) => p.to_owned(),
                        None => format!("{}@{}", row["Name"], row["Version"]),
                    };
                    if !seen.insert(key) {
                        continue;
                    }
                    let kind = row["Purl"]
                        .as_str()
                        .and_then(|p| p.strip_prefix("pkg:"))
                        .and_then(|p| p.split('/').next())
                        .map(str::to_owned);
                    row["Type"] = json!(kind);
                    row["From"] = json!(format!("sbom ({})", doc.source));
                    rows.push(row);
                }
            }
            return Ok(rows);
        }
    }
    let source = Reading { session, common };
    let image = Image::open(&source, &session.layer_index, &r)?;
    let found = image.installed(asked.languages)?;
    for problem in &found.problems {
        session.warn_once(&format!("{}: {problem}", crate::output::safe_line(typed)));
    }
    if found.packages.is_empty() {
        let more = if asked.languages {
            ""
        } else {
            " (--languages also looks for Python, Node and Go packages)"
        };
        session.warn_once(&format!(
            "{}: no package database found{more}",
            crate::output::safe_line(typed)
        ));
    }
    Ok(rows(&found, image.layers()))
}

fn rows(found: &Installed, layers: &[regpeek_proto::manifest::Descriptor]) -> Vec<Value> {
    found
        .packages
        .iter()
        .map(|l| {
            let p = &l.package;
            json!({
                "Type": p.kind,
                "Name": p.name,
                "Version": p.version,
                "Arch": p.arch,
                "Source": p.source,
                "Purl": purl(p, found.os.as_ref()),
                "Layer": l.layer,
                "LayerDigest": layers.get(l.layer).map(|d| d.digest.to_string()),
                "File": format!("/{}", l.file),
            })
        })
        .collect()
}

/// A package URL (github.com/package-url/purl-spec): the distribution's `ID` as the
/// namespace where known (else the package manager's usual one), `arch`, `epoch`,
/// `upstream` and `distro` qualifiers.
pub fn purl(p: &regpeek_client::packages::Package, os: Option<&(String, String)>) -> String {
    let enc = |s: &str| {
        let mut out = String::new();
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    };
    let mut version = p.version.as_str();
    let mut qualifiers = Vec::new();
    if let Some(a) = &p.arch {
        qualifiers.push(format!("arch={}", enc(a)));
    }
    let (kind, namespace, name) = match p.kind.as_str() {
        "deb" | "apk" | "rpm" => {
            let default = match p.kind.as_str() {
                "deb" => "debian",
                "apk" => "alpine",
                _ => "rpm",
            };
            if p.kind == "rpm"
                && let Some((epoch, rest)) = version.split_once(':')
            {
                qualifiers.push(format!("epoch={}", enc(epoch)));
                version = rest;
            }
            if let Some(s) = &p.source {
                qualifiers.push(format!("upstream={}", enc(s)));
            }
            if let Some((id, v)) = os {
                qualifiers.push(format!("distro={}", enc(&format!("{id}-{v}"))));
            }
            let ns = os.map_or(default.to_owned(), |(id, _)| id.clone());
            (p.kind.as_str(), Some(ns), enc(&p.name))
        }
        "pypi" => ("pypi", None, enc(&p.name.to_lowercase().replace('_', "-"))),
        // A module path's segments but the last are its namespace.
        "golang" => match p.name.rsplit_once('/') {
            Some((ns, name)) => ("golang", Some(ns.to_owned()), enc(name)),
            None => ("golang", None, enc(&p.name)),
        },
        "npm" => match p.name.split_once('/') {
            Some((scope, name)) => ("npm", Some(scope.to_owned()), enc(name)),
            None => ("npm", None, enc(&p.name)),
        },
        other => (other, None, enc(&p.name)),
    };
    let mut out = format!("pkg:{kind}/");
    if let Some(ns) = namespace {
        let segments: Vec<String> = ns.split('/').map(enc).collect();
        out.push_str(&segments.join("/"));
        out.push('/');
    }
    out.push_str(&name);
    out.push('@');
    out.push_str(&enc(version));
    if !qualifiers.is_empty() {
        qualifiers.sort();
        out.push('?');
        out.push_str(&qualifiers.join("&"));
    }
    out
}

/// `packages IMAGE…`.
pub fn packages(
    session: &Session,
    images: &Images,
    asked: &Asked,
    out: &mut impl Write,
) -> Result<ExitCode> {
    if asked.format == PackageFormat::Table {
        session.out.refuse_table_with_jq()?;
    }
    let when = jiff::Timestamp::try_from(session.started)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    // Each image's rows, or its one document: one batch whatever the format.
    let one = |image: &str, common: &Common| -> Result<Vec<Value>> {
        let rows = rows_of(session, common, image, asked)?;
        Ok(match asked.format {
            PackageFormat::Spdx => vec![spdx_of(image, &rows, &when)],
            PackageFormat::Cyclonedx => vec![cyclonedx_of(image, &rows, &when)],
            PackageFormat::Json | PackageFormat::Table => rows,
        })
    };
    let (mut failed, mut table) = (false, Vec::new());
    images.each(one, |i, found| {
        let (image, source) = &images.list[i];
        match (asked.format, found) {
            (PackageFormat::Json, found) => {
                failed |=
                    super::files::answer_lines(session, out, image, source.as_deref(), found)?;
            }
            (PackageFormat::Table, Ok(rows)) => table.extend(rows.iter().map(|v| {
                let cell = |k: &str| crate::output::safe_line(v[k].as_str().unwrap_or_default());
                let mut row = if images.single {
                    vec![]
                } else {
                    vec![image.clone()]
                };
                row.extend([cell("Type"), cell("Name"), cell("Version"), cell("Arch")]);
                row
            })),
            (_, Ok(docs)) => {
                for d in docs {
                    session.out.line(out, &d)?;
                }
            }
            (_, Err(e)) => {
                failed = true;
                crate::output::say_failed(image, &e);
            }
        }
        out.flush()?;
        Ok(())
    })?;
    if asked.format == PackageFormat::Table {
        let header: &[&str] = if images.single {
            &["TYPE", "NAME", "VERSION", "ARCH"]
        } else {
            &["REFERENCE", "TYPE", "NAME", "VERSION", "ARCH"]
        };
        crate::output::print_columns(out, header, &table)?;
        out.flush()?;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// A CycloneDX 1.5 JSON document of one image's packages.
fn cyclonedx_of(image: &str, rows: &[Value], when: &str) -> Value {
    let components: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut c = json!({
                "type": "library",
                "bom-ref": format!("pkg-{i}"),
                "name": r["Name"],
                "version": r["Version"].as_str().unwrap_or_default(),
            });
            if let Some(p) = r["Purl"].as_str() {
                c["purl"] = json!(p);
            }
            let mut props = Vec::new();
            for (k, name) in [
                ("LayerDigest", "regpeek:layer:digest"),
                ("File", "regpeek:package:file"),
            ] {
                if let Some(v) = r[k].as_str() {
                    props.push(json!({"name": name, "value": v}));
                }
            }
            if !props.is_empty() {
                c["properties"] = json!(props);
            }
            c
        })
        .collect();
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "timestamp": when,
            "tools": {"components": [{"type": "application", "name": "regpeek", "version": env!("CARGO_PKG_VERSION")}]},
            "component": {"type": "container", "bom-ref": "image", "name": image},
        },
        "components": components,
    })
}

/// An SPDX 2.3 JSON document of one image's packages.
fn spdx_of(image: &str, rows: &[Value], when: &str) -> Value {
    let id = |i: usize| format!("SPDXRef-Package-{i}");
    let packages: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut p = json!({
                "name": r["Name"],
                "SPDXID": id(i),
                "versionInfo": r["Version"].as_str().unwrap_or_default(),
                "downloadLocation": "NOASSERTION",
                "filesAnalyzed": false,
            });
            if let Some(purl) = r["Purl"].as_str() {
                p["externalRefs"] = json!([{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl}]);
            }
            p
        })
        .collect();
    let relationships: Vec<Value> = (0..rows.len())
        .map(|i| json!({"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": id(i)}))
        .collect();
    let digest = regpeek_proto::Digest::sha256(format!("{image}\n{when}").as_bytes()).to_string();
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": image,
        "documentNamespace": format!("https://regpeek.dev/spdx/{}", digest.trim_start_matches("sha256:")),
        "creationInfo": {"created": when, "creators": [format!("Tool: regpeek-{}", env!("CARGO_PKG_VERSION"))]},
        "packages": packages,
        "relationships": relationships,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use regpeek_client::packages::Package;

    fn p(
        kind: &str,
        name: &str,
        version: &str,
        arch: Option<&str>,
        source: Option<&str>,
    ) -> Package {
        Package {
            kind: kind.into(),
            name: name.into(),
            version: version.into(),
            arch: arch.map(Into::into),
            source: source.map(Into::into),
        }
    }

    #[test]
    fn purls_as_the_spec_spells_them() {
        let os = ("debian".to_owned(), "12".to_owned());
        assert_eq!(
            purl(
                &p(
                    "deb",
                    "libc6",
                    "2.36-9+deb12u4",
                    Some("amd64"),
                    Some("glibc")
                ),
                Some(&os)
            ),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc"
        );
        assert_eq!(
            purl(
                &p("rpm", "bash", "1:5.1.8-9.el9", Some("x86_64"), None),
                None
            ),
            "pkg:rpm/rpm/bash@5.1.8-9.el9?arch=x86_64&epoch=1"
        );
        assert_eq!(
            purl(&p("pypi", "Foo_Bar", "1.0", None, None), None),
            "pkg:pypi/foo-bar@1.0"
        );
        assert_eq!(
            purl(&p("npm", "@types/node", "20.1.0", None, None), None),
            "pkg:npm/%40types/node@20.1.0"
        );
        assert_eq!(
            purl(&p("apk", "musl", "1.2.5-r0", Some("x86_64"), None), None),
            "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64"
        );
    }
}
