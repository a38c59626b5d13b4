//! Image config blobs (OCI and Docker), read leniently: every field may be absent or
//! `null`, unknown fields are ignored (docs/protocol.md §7).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::Error;

fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The parts of an image config regpeek reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// CPU architecture.
    #[serde(default, deserialize_with = "nullable")]
    pub architecture: String,
    /// Operating system.
    #[serde(default, deserialize_with = "nullable")]
    pub os: String,
    /// CPU variant.
    #[serde(default)]
    pub variant: Option<String>,
    /// OS version.
    #[serde(rename = "os.version", default)]
    pub os_version: Option<String>,
    /// Creation time, RFC 3339 as written.
    #[serde(default)]
    pub created: Option<String>,
    /// Author.
    #[serde(default)]
    pub author: Option<String>,
    /// Docker version that built it (legacy).
    #[serde(default)]
    pub docker_version: Option<String>,
    /// Runtime defaults.
    #[serde(default, deserialize_with = "nullable")]
    pub config: RuntimeConfig,
    /// Layer diff IDs.
    #[serde(default, deserialize_with = "nullable")]
    pub rootfs: RootFs,
    /// Build history.
    #[serde(default, deserialize_with = "nullable")]
    pub history: Vec<History>,
}

/// `config` inside an image config: what a container starts with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuntimeConfig {
    /// User to run as.
    #[serde(default)]
    pub user: Option<String>,
    /// `K=V` strings.
    #[serde(default, deserialize_with = "nullable")]
    pub env: Vec<String>,
    /// Entrypoint.
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    /// Default arguments.
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    /// Working directory.
    #[serde(default)]
    pub working_dir: Option<String>,
    /// Labels.
    #[serde(default, deserialize_with = "nullable")]
    pub labels: BTreeMap<String, String>,
    /// `80/tcp` → `{}`.
    #[serde(default, deserialize_with = "nullable")]
    pub exposed_ports: BTreeMap<String, serde_json::Value>,
    /// `/data` → `{}`.
    #[serde(default, deserialize_with = "nullable")]
    pub volumes: BTreeMap<String, serde_json::Value>,
    /// Stop signal.
    #[serde(default)]
    pub stop_signal: Option<String>,
    /// Docker health check.
    #[serde(default)]
    pub healthcheck: Option<serde_json::Value>,
}

/// `rootfs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// Normally `layers`.
    #[serde(rename = "type", default, deserialize_with = "nullable")]
    pub kind: String,
    /// Uncompressed layer digests, in order.
    #[serde(default, deserialize_with = "nullable")]
    pub diff_ids: Vec<String>,
}

/// One `history` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// When.
    #[serde(default)]
    pub created: Option<String>,
    /// The instruction.
    #[serde(default)]
    pub created_by: Option<String>,
    /// True when the step made no layer.
    #[serde(default, deserialize_with = "nullable")]
    pub empty_layer: bool,
    /// Comment.
    #[serde(default)]
    pub comment: Option<String>,
}

/// Parses a config blob.
pub(crate) fn parse_config(body: &[u8]) -> Result<ImageConfig, Error> {
    if !crate::manifest::is_json_object(body) {
        return Err(Error::InvalidConfig("not a JSON object".into()));
    }
    serde_json::from_slice(body).map_err(|e| Error::InvalidConfig(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_rich_docker_config() {
        let body = br#"{"architecture":"amd64","os":"linux","created":"2024-01-02T03:04:05Z",
            "docker_version":"24.0.7","author":"me",
            "config":{"User":"app","Env":["PATH=/bin","A=b"],"Entrypoint":["/e"],"Cmd":["c"],
              "WorkingDir":"/w","Labels":{"k":"v"},"ExposedPorts":{"80/tcp":{}},
              "Volumes":{"/data":{}},"StopSignal":"SIGQUIT","Healthcheck":{"Test":["NONE"]},
              "Hostname":"ignored"},
            "rootfs":{"type":"layers","diff_ids":["sha256:aa"]},
            "history":[{"created_by":"RUN x"},{"created_by":"ENV y","empty_layer":true}],
            "unknown":{"fields":"are ignored"}}"#;
        let c = parse_config(body).unwrap();
        assert_eq!(c.config.env, ["PATH=/bin", "A=b"]);
        assert_eq!(c.config.user.as_deref(), Some("app"));
        assert_eq!(c.config.labels["k"], "v");
        assert!(c.config.exposed_ports.contains_key("80/tcp"));
        assert_eq!(c.config.stop_signal.as_deref(), Some("SIGQUIT"));
        assert_eq!(c.history.len(), 2);
        assert!(c.history[1].empty_layer);
        assert_eq!(c.docker_version.as_deref(), Some("24.0.7"));
    }

    #[test]
    fn nulls_everywhere_are_fine() {
        let body = br#"{"architecture":null,"os":"linux","config":{"Env":null,"Labels":null,
            "ExposedPorts":null,"Volumes":null,"Entrypoint":null,"Cmd":null},"rootfs":null,"history":null}"#;
        let c = parse_config(body).unwrap();
        assert!(c.config.env.is_empty());
        assert!(c.config.labels.is_empty());
        assert_eq!(c.config.entrypoint, None);
        let c = parse_config(br#"{"config":null}"#).unwrap();
        assert_eq!(c, ImageConfig::default());
    }

    #[test]
    fn wrong_shapes_are_errors() {
        for body in [
            &b"[]"[..],
            b"",
            b"{\"config\":{\"Env\":\"PATH=/bin\"}}",
            b"{\"os\":",
        ] {
            assert!(parse_config(body).is_err());
        }
    }
}
