//! What registries say when they refuse: error bodies
//! (`{"errors":[{"code","message","detail"}]}`) and their codes as typed data
//! (docs/protocol.md §2).

use std::fmt;

/// A registry's error code (OCI distribution spec, "Error codes"), as typed data;
/// codes the spec does not name are kept as sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RegistryCode {
    /// `BLOB_UNKNOWN`: no such blob in the repository.
    BlobUnknown,
    /// `DIGEST_INVALID`: what was sent does not match its digest.
    DigestInvalid,
    /// `MANIFEST_BLOB_UNKNOWN`: a manifest names a blob the repository lacks.
    ManifestBlobUnknown,
    /// `MANIFEST_INVALID`.
    ManifestInvalid,
    /// `MANIFEST_UNKNOWN`: no such manifest (tag or digest) in the repository.
    ManifestUnknown,
    /// `NAME_INVALID`: the repository name is not valid.
    NameInvalid,
    /// `NAME_UNKNOWN`: no such repository.
    NameUnknown,
    /// `SIZE_INVALID`.
    SizeInvalid,
    /// `UNAUTHORIZED`: authentication required.
    Unauthorized,
    /// `DENIED`: access to the resource is denied.
    Denied,
    /// `UNSUPPORTED`: the operation is not supported.
    Unsupported,
    /// `TOOMANYREQUESTS`.
    TooManyRequests,
    /// Any other code, as sent.
    Other(String),
}

impl RegistryCode {
    const NAMED: [(&'static str, RegistryCode); 12] = [
        ("BLOB_UNKNOWN", RegistryCode::BlobUnknown),
        ("DIGEST_INVALID", RegistryCode::DigestInvalid),
        ("MANIFEST_BLOB_UNKNOWN", RegistryCode::ManifestBlobUnknown),
        ("MANIFEST_INVALID", RegistryCode::ManifestInvalid),
        ("MANIFEST_UNKNOWN", RegistryCode::ManifestUnknown),
        ("NAME_INVALID", RegistryCode::NameInvalid),
        ("NAME_UNKNOWN", RegistryCode::NameUnknown),
        ("SIZE_INVALID", RegistryCode::SizeInvalid),
        ("UNAUTHORIZED", RegistryCode::Unauthorized),
        ("DENIED", RegistryCode::Denied),
        ("UNSUPPORTED", RegistryCode::Unsupported),
        ("TOOMANYREQUESTS", RegistryCode::TooManyRequests),
    ];

    /// A code as a registry spells it (case as sent; the spec's are upper case).
    pub(crate) fn parse(code: &str) -> RegistryCode {
        Self::NAMED
            .iter()
            .find(|(n, _)| *n == code)
            .map_or_else(|| RegistryCode::Other(code.to_owned()), |(_, c)| c.clone())
    }

    /// Whether the code says the thing asked for does not exist (a manifest or a
    /// repository).
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(
            self,
            RegistryCode::ManifestUnknown | RegistryCode::NameUnknown
        )
    }
}

impl fmt::Display for RegistryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryCode::Other(code) => f.write_str(code),
            known => f.write_str(
                Self::NAMED
                    .iter()
                    .find(|(_, c)| c == known)
                    .map_or("", |(n, _)| n),
            ),
        }
    }
}

/// One entry of a registry error body (`{"errors":[{"code","message","detail"}]}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub(crate) struct RegistryErrorItem {
    /// The code; unknown codes are kept as sent.
    #[serde(default)]
    pub code: String,
    /// The message.
    #[serde(default)]
    pub message: String,
}

/// Reads a registry error body; HTML, empty or odd bodies give an empty list.
pub(crate) fn parse_registry_errors(body: &[u8]) -> Vec<RegistryErrorItem> {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        errors: Vec<RegistryErrorItem>,
    }
    serde_json::from_slice::<Body>(body)
        .map(|b| b.errors)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies() {
        let e = parse_registry_errors(
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#,
        );
        assert_eq!(e[0].code, "MANIFEST_UNKNOWN");
        assert_eq!(e[0].message, "manifest unknown");
        assert!(parse_registry_errors(b"<html>502</html>").is_empty());
        assert!(parse_registry_errors(b"").is_empty());
        assert_eq!(
            parse_registry_errors(br#"{"errors":[{"code":"X"}]}"#)[0].message,
            ""
        );
    }

    #[test]
    fn not_found_is_a_404_or_a_code_that_says_so() {
        use crate::error::{Error, Subject};
        let error = |status: u16, code: Option<&str>| Error::Registry {
            subject: Subject::Manifest("x:y".into()),
            status,
            code: code.map(RegistryCode::parse),
            message: None,
            default_tag: false,
        };
        assert!(error(404, None).is_not_found());
        assert!(error(404, Some("BLOB_UNKNOWN")).is_not_found());
        assert!(error(400, Some("NAME_UNKNOWN")).is_not_found());
        assert!(error(400, Some("MANIFEST_UNKNOWN")).is_not_found());
        assert!(!error(401, None).is_not_found());
        assert!(!error(403, Some("DENIED")).is_not_found());
        assert!(!error(500, None).is_not_found());
        assert!(!Error::Misuse("x").is_not_found());
    }
}
