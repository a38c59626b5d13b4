//! Content digests (`sha256:<hex>`), parsed strictly and computed over exact bytes.

use std::fmt;

use sha2::{Digest as _, Sha256, Sha512};

use crate::parse_error::ParseError;

/// A hash algorithm a registry may name in a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Algorithm {
    /// SHA-256, 64 lowercase hex characters.
    Sha256,
    /// SHA-512, 128 lowercase hex characters.
    Sha512,
}

impl Algorithm {
    /// The name used in digest strings.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }

    /// Hashes `bytes` with this algorithm.
    pub fn digest(self, bytes: &[u8]) -> Digest {
        let hex = match self {
            Algorithm::Sha256 => to_hex(&Sha256::digest(bytes)),
            Algorithm::Sha512 => to_hex(&Sha512::digest(bytes)),
        };
        Digest {
            algorithm: self,
            hex,
        }
    }
}

fn to_hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A validated digest such as `sha256:4c9b…`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

impl Digest {
    /// Parses `alg:hex`, checking the length and case of the hex for the algorithm.
    pub fn parse(s: &str) -> Result<Digest, ParseError> {
        let err = |reason: String| ParseError::new("digest", s, reason);
        let (alg, hex) = s
            .split_once(':')
            .ok_or_else(|| err(format!("digest {s:?} has no algorithm prefix")))?;
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            _ if valid_algorithm(alg) => {
                return Err(err(format!("unsupported digest algorithm {alg:?}")));
            }
            _ => return Err(err(format!("invalid digest algorithm {alg:?}"))),
        };
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err("digest hex must be lowercase hexadecimal".into()));
        }
        if hex.len() != algorithm.hex_len() {
            return Err(err(format!(
                "{} digest must have {} hex characters, found {}",
                algorithm.name(),
                algorithm.hex_len(),
                hex.len()
            )));
        }
        if hex.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(err("digest hex must be lowercase hexadecimal".into()));
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_owned(),
        })
    }

    /// SHA-256 of `bytes`.
    pub fn sha256(bytes: &[u8]) -> Digest {
        Algorithm::Sha256.digest(bytes)
    }

    /// The algorithm.
    pub(crate) fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The lowercase hex part.
    pub(crate) fn hex(&self) -> &str {
        &self.hex
    }

    /// True when `bytes` hash to this digest.
    #[cfg(test)]
    pub(crate) fn matches(&self, bytes: &[u8]) -> bool {
        self.algorithm.digest(bytes) == *self
    }
}

/// `alg := [A-Za-z][A-Za-z0-9]* ([-_+.][A-Za-z][A-Za-z0-9]*)*`
fn valid_algorithm(alg: &str) -> bool {
    alg.split(['-', '_', '+', '.']).all(|part| {
        let mut bytes = part.bytes();
        matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic())
            && bytes.all(|b| b.is_ascii_alphanumeric())
    })
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn computes_sha256_and_sha512() {
        assert_eq!(Digest::sha256(b"").to_string(), EMPTY);
        let d = Algorithm::Sha512.digest(b"");
        assert!(d.to_string().starts_with("sha512:cf83e1357eefb8bd"));
        assert!(Digest::parse(&d.to_string()).unwrap().matches(b""));
    }

    #[test]
    fn parse_table() {
        let hex64 = "a".repeat(64);
        let cases: &[(String, Result<(), &str>)] = &[
            (EMPTY.to_owned(), Ok(())),
            (format!("sha512:{}", "b".repeat(128)), Ok(())),
            (
                format!("sha256:{}", "a".repeat(63)),
                Err("sha256 digest must have 64"),
            ),
            (format!("sha256:{}", "A".repeat(64)), Err("lowercase")),
            (format!("sha256:{}", "g".repeat(64)), Err("lowercase")),
            (format!("md5:{hex64}"), Err("unsupported digest algorithm")),
            (
                format!("sha256+b64u:{hex64}"),
                Err("unsupported digest algorithm"),
            ),
            (format!("9sha:{hex64}"), Err("invalid digest algorithm")),
            (hex64.clone(), Err("no algorithm prefix")),
        ];
        for (input, want) in cases {
            let got = Digest::parse(input);
            match (want, got) {
                (Ok(()), Ok(d)) => assert_eq!(&d.to_string(), input),
                (Err(needle), Err(e)) => {
                    assert!(e.to_string().contains(needle), "{input}: {e}")
                }
                (want, got) => panic!("{input}: want {want:?}, got {got:?}"),
            }
        }
    }
}
