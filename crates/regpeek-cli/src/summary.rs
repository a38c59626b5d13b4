//! The JSON shapes `inspect` and `ref` print. Field names follow `skopeo inspect` where
//! the two overlap, so skopeo scripts keep working (see README.md).

use regpeek_proto::manifest::Manifest;
use regpeek_proto::{Inspection, Reference, Security};
use serde_json::{Value, json};

/// `regpeek inspect`.
pub fn inspect_json(insp: &Inspection) -> Value {
    let r = &insp.reference;
    let image = insp.manifest.as_ref();
    let parsed = image.and_then(|m| m.manifest.as_ref());
    let cfg = insp.config.as_ref().and_then(|c| c.config.as_ref());
    let rt = cfg.map(|c| &c.config);

    let (layers, layers_data): (Vec<Value>, Vec<Value>) = match parsed {
        Some(Manifest::Image(m)) => m
            .layers
            .iter()
            .map(|l| {
                (
                    json!(l.digest.to_string()),
                    json!({
                        "MIMEType": l.media_type,
                        "Digest": l.digest.to_string(),
                        "Size": l.size,
                        "Annotations": if l.annotations.is_empty() { Value::Null } else { json!(l.annotations) },
                    }),
                )
            })
            .unzip(),
        Some(Manifest::Schema1(s)) => s
            .layers
            .iter()
            .map(|d| {
                (
                    json!(d.to_string()),
                    json!({
                        "MIMEType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "Digest": d.to_string(),
                        "Size": -1,
                        "Annotations": Value::Null,
                    }),
                )
            })
            .unzip(),
        _ => (Vec::new(), Vec::new()),
    };

    let (architecture, os, variant) = match (cfg, parsed) {
        (Some(c), _) => (c.architecture.clone(), c.os.clone(), c.variant.clone()),
        (None, Some(Manifest::Schema1(s))) => (s.architecture.clone(), "linux".into(), None),
        _ => (String::new(), String::new(), None),
    };
    let variant = variant.or_else(|| insp.platform.as_ref().and_then(|p| p.variant.clone()));
    let opt_str = |v: Option<&String>| v.map_or(Value::Null, |s| json!(s));
    let keys = |m: Option<&std::collections::BTreeMap<String, Value>>| match m {
        Some(m) if !m.is_empty() => json!(m.keys().collect::<Vec<_>>()),
        _ => Value::Null,
    };

    let mut out = serde_json::Map::new();
    out.insert("Name".into(), json!(r.name()));
    if let Some(tag) = r.display_tag() {
        out.insert("Tag".into(), json!(tag));
    }
    out.insert("Digest".into(), json!(insp.digest.to_string()));
    out.insert("MediaType".into(), json!(insp.media_type));
    if let Some(m) = image {
        out.insert("ManifestDigest".into(), json!(m.digest.to_string()));
        out.insert("ManifestMediaType".into(), json!(m.media_type));
    }
    out.insert(
        "Platform".into(),
        insp.platform
            .as_ref()
            .map_or(Value::Null, |p| json!(p.to_string())),
    );
    out.insert(
        "Platforms".into(),
        match &insp.index {
            Some(idx) => json!(
                regpeek_proto::platform::offered(&idx.manifests)
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
            ),
            None => Value::Null,
        },
    );
    out.insert(
        "Attestations".into(),
        json!(insp.index.as_ref().map_or(0, |i| {
            i.manifests.iter().filter(|d| d.is_attestation()).count()
        })),
    );
    out.insert(
        "Created".into(),
        opt_str(cfg.and_then(|c| c.created.as_ref())),
    );
    out.insert(
        "DockerVersion".into(),
        json!(
            cfg.and_then(|c| c.docker_version.clone())
                .unwrap_or_default()
        ),
    );
    out.insert(
        "Author".into(),
        opt_str(cfg.and_then(|c| c.author.as_ref())),
    );
    out.insert(
        "Labels".into(),
        match rt.map(|c| &c.labels) {
            Some(l) if !l.is_empty() => json!(l),
            _ => Value::Null,
        },
    );
    out.insert("Architecture".into(), json!(architecture));
    if let Some(v) = variant {
        out.insert("Variant".into(), json!(v));
    }
    out.insert("Os".into(), json!(os));
    out.insert("Layers".into(), json!(layers));
    out.insert("LayersData".into(), json!(layers_data));
    out.insert(
        "Env".into(),
        match rt.map(|c| &c.env) {
            Some(e) if !e.is_empty() => json!(e),
            _ => Value::Null,
        },
    );
    out.insert(
        "Entrypoint".into(),
        json!(rt.and_then(|c| c.entrypoint.clone())),
    );
    out.insert("Cmd".into(), json!(rt.and_then(|c| c.cmd.clone())));
    out.insert(
        "WorkingDir".into(),
        opt_str(
            rt.and_then(|c| c.working_dir.as_ref())
                .filter(|s| !s.is_empty()),
        ),
    );
    out.insert(
        "User".into(),
        opt_str(rt.and_then(|c| c.user.as_ref()).filter(|s| !s.is_empty())),
    );
    out.insert("ExposedPorts".into(), keys(rt.map(|c| &c.exposed_ports)));
    out.insert("Volumes".into(), keys(rt.map(|c| &c.volumes)));
    out.insert(
        "StopSignal".into(),
        opt_str(rt.and_then(|c| c.stop_signal.as_ref())),
    );
    out.insert("History".into(), json!(cfg.map_or(0, |c| c.history.len())));
    Value::Object(out)
}

/// `regpeek ref`.
pub fn reference_json(input: &str, r: &Reference, security: Security) -> Value {
    let scheme = match security {
        Security::Http => "http",
        Security::Https | Security::HttpsThenHttp => "https",
    };
    json!({
        "input": input,
        "canonical": r.canonical(),
        "familiar": r.familiar(),
        "registry": r.registry(),
        "repository": r.repository(),
        "tag": r.display_tag(),
        "digest": r.digest().map(|d| d.to_string()),
        "api_base": r.api_base(scheme),
        "http_fallback": security == Security::HttpsThenHttp,
    })
}
