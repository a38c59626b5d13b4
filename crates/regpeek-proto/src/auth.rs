//! Credentials, token scopes and realm safety (docs/protocol.md §3); the token exchange
//! itself is in `token.rs`.

use std::fmt;
use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use url::Url;

use crate::challenge::Challenge;
use crate::error::Error;

/// A secret string, made with `Secret::from("…")`. Its `Debug` never shows the value
/// and it has no `Display`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(pub(crate) String);

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_owned())
    }
}

impl Secret {
    /// The secret itself; call only where it is sent.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What the caller knows to prove identity to one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credentials {
    /// A username and password, sent as Basic to the registry or to its token realm.
    Basic {
        /// The user name (not secret; used in cache keys and messages).
        username: String,
        /// The password.
        password: Secret,
    },
    /// A registry bearer token, sent as is.
    Bearer(Secret),
    /// An OAuth2 refresh token (Docker's `identitytoken`, a credential helper's
    /// `<token>` user), exchanged at the realm with the POST flow.
    IdentityToken {
        /// The user it belongs to, when known (never secret).
        username: Option<String>,
        /// The refresh token.
        token: Secret,
    },
}

impl Credentials {
    /// Username and password (tests' shorthand).
    #[cfg(test)]
    pub(crate) fn basic(username: &str, password: &str) -> Self {
        Credentials::Basic {
            username: username.into(),
            password: password.into(),
        }
    }

    /// What token cache keys are made from: the user and the secret, so that a token
    /// fetched with one password never answers for another (a wrong password must be
    /// refused by the registry, not accepted from the cache). Only a truncated hash of
    /// it is ever kept ([`crate::token::identity_key`]).
    pub(crate) fn identity(&self) -> String {
        match self {
            Credentials::Basic { username, password } => {
                format!("basic\0{username}\0{}", password.expose())
            }
            Credentials::Bearer(t) => format!("registry-token\0{}", t.expose()),
            Credentials::IdentityToken { username, token } => format!(
                "identity-token\0{}\0{}",
                username.as_deref().unwrap_or_default(),
                token.expose()
            ),
        }
    }

    /// The `Authorization` value for Basic auth, if these are a user and password.
    pub(crate) fn basic_header(&self) -> Option<String> {
        match self {
            Credentials::Basic { username, password } => Some(format!(
                "Basic {}",
                STANDARD.encode(format!("{username}:{}", password.expose()))
            )),
            Credentials::Bearer(_) | Credentials::IdentityToken { .. } => None,
        }
    }

    /// True when the realm should get the OAuth2 POST flow rather than a GET.
    pub(crate) fn wants_post(&self) -> bool {
        matches!(self, Credentials::IdentityToken { .. })
    }
}

/// One resource scope: `repository:library/nginx:pull`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Scope {
    /// `repository`, `registry`, …
    pub kind: String,
    /// `library/nginx`, `catalog`, …
    pub name: String,
    /// `pull`, `push`, `*`, …
    pub actions: Vec<String>,
}

impl Scope {
    /// `repository:<name>:pull`.
    pub(crate) fn pull(repository: &str) -> Scope {
        Scope {
            kind: "repository".to_owned(),
            name: repository.to_owned(),
            actions: vec!["pull".to_owned()],
        }
    }

    /// Parses space-separated scopes, splitting the actions off at the last `:` (names may
    /// hold a port) and dropping deprecated resource classes (`repository(plugin)`).
    pub(crate) fn parse_list(s: &str) -> Vec<Scope> {
        s.split(' ')
            .filter(|p| !p.is_empty())
            .filter_map(|p| {
                let (rest, actions) = p.rsplit_once(':')?;
                let (kind, name) = rest.split_once(':')?;
                let kind = kind.split('(').next().unwrap_or(kind);
                Some(Scope {
                    kind: kind.to_owned(),
                    name: name.to_owned(),
                    actions: actions.split(',').map(str::to_owned).collect(),
                })
            })
            .collect()
    }

    /// True when this scope grants everything `other` asks for.
    pub(crate) fn covers(&self, other: &Scope) -> bool {
        self.kind == other.kind
            && self.name == other.name
            && other
                .actions
                .iter()
                .all(|a| self.actions.iter().any(|b| b == a || b == "*"))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.kind, self.name, self.actions.join(","))
    }
}

/// The union of scopes with `first` in front (some servers read only the first).
pub(crate) fn union_scopes(first: &[Scope], rest: &[Scope]) -> Vec<Scope> {
    let mut out: Vec<Scope> = Vec::new();
    for s in first.iter().chain(rest) {
        if !out.iter().any(|o| o.covers(s)) {
            out.push(s.clone());
        }
    }
    out
}

/// Where and how to ask for a bearer token, taken from a `Bearer` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BearerRealm {
    /// The token endpoint.
    pub realm: Url,
    /// The `service` parameter, if the challenge had one.
    pub service: Option<String>,
}

impl BearerRealm {
    /// Reads realm and service from a `Bearer` challenge, checking the realm is safe to
    /// send credentials to for a registry at `registry` (docs/protocol.md §3.5, §11).
    pub(crate) fn from_challenge(
        challenge: &Challenge,
        registry: &Url,
        with_credentials: bool,
    ) -> Result<BearerRealm, Error> {
        let raw = challenge
            .param("realm")
            .ok_or_else(|| Error::InvalidChallenge("bearer challenge has no realm".into()))?;
        let realm = crate::uri::join(registry, raw)
            .map_err(|e| Error::InvalidChallenge(format!("bad realm {raw:?}: {e}")))?;
        check_realm(&realm, registry, with_credentials)?;
        Ok(BearerRealm {
            realm,
            service: challenge.param("service").map(str::to_owned),
        })
    }
}

impl BearerRealm {
    /// A realm remembered from an earlier challenge, checked as a fresh one would be.
    pub(crate) fn known(
        realm: &str,
        service: Option<String>,
        registry: &Url,
        with_credentials: bool,
    ) -> Result<BearerRealm, Error> {
        let realm = crate::uri::join(registry, realm)
            .map_err(|e| Error::InvalidChallenge(format!("bad realm {realm:?}: {e}")))?;
        check_realm(&realm, registry, with_credentials)?;
        Ok(BearerRealm { realm, service })
    }
}

fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// True for `localhost`, `*.localhost`, 127.0.0.0/8 and ::1.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn check_realm(realm: &Url, registry: &Url, with_credentials: bool) -> Result<(), Error> {
    let unsafe_realm = |why: &'static str| Error::UnsafeRealm {
        realm: realm.as_str().to_owned(),
        reason: why,
    };
    match realm.scheme() {
        "https" => {}
        "http" if registry.scheme() == "http" => {
            if with_credentials && realm.host_str() != registry.host_str() {
                return Err(unsafe_realm(
                    "it is plain http on another host and would receive credentials",
                ));
            }
        }
        "http" => {
            return Err(unsafe_realm(
                "the registry is https but the realm is plain http",
            ));
        }
        _ => return Err(unsafe_realm("only http and https realms are allowed")),
    }
    let host_ip = |u: &Url| match u.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        _ => None,
    };
    let realm_internal =
        host_ip(realm).is_some_and(is_internal) || realm.host_str().is_some_and(is_loopback_host);
    let registry_internal = host_ip(registry).is_some_and(is_internal)
        || registry.host_str().is_some_and(is_loopback_host);
    if realm_internal && !registry_internal {
        return Err(unsafe_realm(
            "a public registry may not point its realm at a private or loopback address",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::challenge::parse_challenges;

    #[test]
    fn scope_parsing_splits_at_last_colon() {
        let s = Scope::parse_list("repository:localhost:5000/a/b:pull,push registry:catalog:*");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name, "localhost:5000/a/b");
        assert_eq!(s[0].actions, ["pull", "push"]);
        assert_eq!(s[1].to_string(), "registry:catalog:*");
        let s = Scope::parse_list("repository(plugin):x/y:pull");
        assert_eq!(s[0].to_string(), "repository:x/y:pull");
    }

    #[test]
    fn union_puts_new_scope_first_and_dedups() {
        let a = Scope::parse_list("repository:a:pull");
        let b = Scope::parse_list("repository:b:pull repository:a:pull");
        let u: Vec<String> = union_scopes(&b, &a).iter().map(|s| s.to_string()).collect();
        assert_eq!(u, ["repository:b:pull", "repository:a:pull"]);
    }

    #[test]
    fn realm_safety_table() {
        let cases: &[(&str, &str, bool, Result<(), &str>)] = &[
            (
                "https://reg.example",
                "https://auth.example/t",
                true,
                Ok(()),
            ),
            (
                "https://reg.example",
                "http://auth.example/t",
                false,
                Err("realm is plain http"),
            ),
            (
                "http://127.0.0.1:5000",
                "http://127.0.0.1:5001/t",
                true,
                Ok(()),
            ),
            (
                "http://127.0.0.1:5000",
                "http://127.0.0.2:5001/t",
                true,
                Err("another host"),
            ),
            (
                "http://127.0.0.1:5000",
                "http://127.0.0.2:5001/t",
                false,
                Ok(()),
            ),
            (
                "https://reg.example",
                "https://127.0.0.1/t",
                false,
                Err("private or loopback"),
            ),
            (
                "https://reg.example",
                "https://10.1.2.3/t",
                false,
                Err("private or loopback"),
            ),
            (
                "https://reg.example",
                "ftp://auth.example/t",
                false,
                Err("only http and https"),
            ),
            (
                "https://localhost:5000",
                "https://localhost:5001/t",
                true,
                Ok(()),
            ),
        ];
        for (reg, realm, creds, want) in cases {
            let ch = parse_challenges([format!(r#"Bearer realm="{realm}""#).as_str()]).unwrap();
            let got = BearerRealm::from_challenge(&ch[0], &Url::parse(reg).unwrap(), *creds);
            match (got, want) {
                (Ok(_), Ok(())) => {}
                (Err(e), Err(needle)) => assert!(e.to_string().contains(needle), "{e}"),
                (got, want) => panic!("{reg} {realm}: {got:?} vs {want:?}"),
            }
        }
    }
}
