//! The bearer token exchange (docs/protocol.md §3.3, §3.4): the token request, token
//! replies, and the caller-owned token cache.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::auth::{BearerRealm, Credentials, Scope, Secret};
use crate::error::Error;

/// Builds the token request. With an identity token: the OAuth2 POST flow (§3.4), a form
/// with `grant_type=refresh_token`. Otherwise (or with `force_get`, the fallback when a
/// realm rejects POST): the GET flow (§3.3), one `scope` per scope and Basic credentials
/// to the realm when there are any (for an identity token, `user:token` as docker does).
pub(crate) fn token_request(
    realm: &BearerRealm,
    scopes: &[Scope],
    credentials: Option<&Credentials>,
    force_get: bool,
    client_id: &str,
) -> Result<http::Request<Vec<u8>>, Error> {
    let invalid = |_| Error::InvalidChallenge(format!("bad realm {:?}", realm.realm.as_str()));
    let mut realm_url = realm.realm.clone();
    realm_url.set_fragment(None);
    if let (Some(Credentials::IdentityToken { token, .. }), false) = (credentials, force_get) {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "refresh_token");
        form.append_pair("refresh_token", token.expose());
        form.append_pair("service", realm.service.as_deref().unwrap_or_default());
        form.append_pair("client_id", client_id);
        let scope: Vec<String> = scopes.iter().map(Scope::to_string).collect();
        form.append_pair("scope", &scope.join(" "));
        let uri = crate::uri::to_uri(&realm_url).map_err(invalid)?;
        return http::Request::post(uri)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form.finish().into_bytes())
            .map_err(|_| Error::Internal("cannot build the token request"));
    }
    let mut url = realm_url;
    {
        let mut q = url.query_pairs_mut();
        if let Some(s) = &realm.service {
            q.append_pair("service", s);
        }
        for s in scopes {
            q.append_pair("scope", &s.to_string());
        }
        q.append_pair("client_id", client_id);
    }
    let mut req = http::Request::get(crate::uri::to_uri(&url).map_err(invalid)?);
    let basic = match credentials {
        Some(Credentials::IdentityToken { username, token }) => Some(format!(
            "Basic {}",
            STANDARD.encode(format!(
                "{}:{}",
                username.as_deref().unwrap_or("<token>"),
                token.expose()
            ))
        )),
        other => other.and_then(Credentials::basic_header),
    };
    if let Some(h) = basic {
        req = req.header(http::header::AUTHORIZATION, h);
    }
    req.body(Vec::new())
        .map_err(|_| Error::Internal("cannot build the token request"))
}

/// A parsed token reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TokenReply {
    /// The bearer token.
    pub token: Secret,
    /// Lifetime (at least 60 s).
    pub expires_in: Duration,
    /// When the server says it issued the token, if it said.
    pub issued_at: Option<SystemTime>,
}

/// The longest lifetime believed from a token reply; longer `expires_in` values (up to
/// `u64::MAX` from a hostile server) are cut to this.
pub(crate) const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Parses a token server's JSON reply: a non-empty `access_token` wins over `token`;
/// `expires_in` below 60 (or absent) counts as 60 and above [`MAX_TOKEN_LIFETIME`] as
/// that; `issued_at` is RFC 3339. A token that is not visible ASCII is refused.
pub(crate) fn parse_token_reply(body: &[u8]) -> Result<TokenReply, Error> {
    #[derive(serde::Deserialize)]
    struct Raw {
        token: Option<String>,
        access_token: Option<String>,
        expires_in: Option<serde_json::Value>,
        issued_at: Option<String>,
    }
    // serde's messages can quote values, and values here are secrets: say only where.
    let raw: Raw = serde_json::from_slice(body).map_err(|e| {
        Error::InvalidTokenReply(format!(
            "not a JSON token reply (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let token = raw
        .access_token
        .filter(|t| !t.is_empty())
        .or(raw.token.filter(|t| !t.is_empty()))
        .ok_or_else(|| Error::InvalidTokenReply("reply has no token".into()))?;
    // Only visible ASCII can travel in an `Authorization` header.
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::InvalidTokenReply(
            "the token holds characters that cannot be sent in a header".into(),
        ));
    }
    let secs = raw
        .expires_in
        .and_then(|v| v.as_u64().or_else(|| v.as_f64().map(|f| f.max(0.0) as u64)))
        .unwrap_or(60)
        .clamp(60, MAX_TOKEN_LIFETIME.as_secs());
    Ok(TokenReply {
        token: Secret(token),
        expires_in: Duration::from_secs(secs),
        issued_at: raw
            .issued_at
            .as_deref()
            .and_then(crate::time::parse_rfc3339),
    })
}

/// Identifies a cached token.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct TokenKey {
    /// The token endpoint.
    pub realm: String,
    /// The service parameter.
    pub service: String,
    /// Scopes, in the order they were asked for.
    pub scopes: Vec<String>,
    /// Who asked (a user name, or empty for anonymous).
    pub identity: String,
}

#[derive(Debug, Clone)]
pub(crate) struct CachedToken {
    registry: String,
    token: Secret,
    expires_at: SystemTime,
    scopes: Vec<Scope>,
}

/// What a caller keeps between flows (and, through [`TokenCache::to_json`], between
/// runs): bearer tokens by realm, service, scope and identity, and what each registry
/// host taught (its challenge, and for loopback hosts that they speak plain http), so
/// that a later flow can get its token before its first request and skip the https
/// probe. The caller owns it and hands it to each [`Flow`](crate::Flow); expiry is
/// judged by the time the caller passes in. Start with `TokenCache::default()`.
#[derive(Debug, Clone, Default)]
pub struct TokenCache {
    pub(crate) entries: BTreeMap<TokenKey, CachedToken>,
    hosts: BTreeMap<String, HostKnowledge>,
}

/// How a registry host authenticates, as learnt from its challenge.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "scheme", rename_all = "lowercase")]
pub(crate) enum KnownAuth {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// What one registry host taught.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct HostKnowledge {
    #[serde(default)]
    pub auth: Option<KnownAuth>,
    /// A loopback host that does not speak TLS (Docker's fallback applied).
    #[serde(default)]
    pub plain_http: bool,
}

/// The on-disk form of a [`TokenCache`].
#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    version: u32,
    #[serde(default)]
    tokens: Vec<StoredToken>,
    #[serde(default)]
    hosts: BTreeMap<String, HostKnowledge>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredToken {
    realm: String,
    service: String,
    scopes: Vec<String>,
    identity: String,
    registry: String,
    token: String,
    expires_at: u64,
}

/// A short hash of who asked (user and secret, see `Credentials::identity`), for token
/// keys: tokens fetched with other credentials never match, and what is written down
/// names neither the user nor the secret. 64 bits: enough to tell apart the few
/// identities one cache sees, too few to be more than a guess-checker for a password,
/// and the file that holds it holds live tokens and is private (0600) anyway.
pub(crate) fn identity_key(identity: &str) -> String {
    if identity.is_empty() {
        return String::new();
    }
    let salted = format!("regpeek token identity v2\0{identity}");
    let d = crate::digest::Digest::sha256(salted.as_bytes()).to_string();
    d.chars().take(7 + 16).collect()
}

/// The least a freshly received token is trusted for, by the caller's clock.
const MIN_LIFETIME: Duration = Duration::from_secs(60);

/// Tokens are renewed this long before they expire.
const EARLY: Duration = Duration::from_secs(10);

fn fresh(e: &CachedToken, now: SystemTime) -> bool {
    now.checked_add(EARLY).is_some_and(|t| t < e.expires_at)
}

impl TokenCache {
    /// Stores a token; its expiry counts from `issued_at` when given, else from `now`.
    pub(crate) fn insert(
        &mut self,
        key: TokenKey,
        registry: &str,
        scopes: &[Scope],
        reply: &TokenReply,
        now: SystemTime,
    ) {
        let from = reply.issued_at.filter(|t| *t <= now).unwrap_or(now);
        // A token whose expiry cannot be represented is not kept (no overflow, ever).
        let Some(expires_at) = from.checked_add(reply.expires_in) else {
            return;
        };
        // A token just received is good for a minute by our clock at least, whatever
        // `issued_at` says: a token server whose clock is behind would otherwise hand
        // out tokens already expired here, and the flow would ask again forever.
        let expires_at = match now.checked_add(MIN_LIFETIME) {
            Some(floor) => expires_at.max(floor),
            None => expires_at,
        };
        self.entries.insert(
            key,
            CachedToken {
                registry: registry.to_owned(),
                token: reply.token.clone(),
                expires_at,
                scopes: scopes.to_vec(),
            },
        );
    }

    /// A fresh token for exactly this key.
    pub(crate) fn get(&self, key: &TokenKey, now: SystemTime) -> Option<&Secret> {
        self.entries
            .get(key)
            .filter(|e| fresh(e, now))
            .map(|e| &e.token)
    }

    /// A fresh token earlier issued for `registry` and `identity` whose scopes cover
    /// `scope`; lets a flow send a token on its first request.
    pub(crate) fn find(
        &self,
        registry: &str,
        identity: &str,
        scope: &Scope,
        now: SystemTime,
    ) -> Option<(&TokenKey, &Secret)> {
        self.entries
            .iter()
            .find(|(k, e)| {
                e.registry == registry
                    && k.identity == identity
                    && fresh(e, now)
                    && e.scopes.iter().any(|s| s.covers(scope))
            })
            .map(|(k, e)| (k, &e.token))
    }

    /// Forgets a token the registry refused.
    pub(crate) fn remove(&mut self, key: &TokenKey) {
        self.entries.remove(key);
    }

    /// What `host` taught earlier flows.
    pub(crate) fn host(&self, host: &str) -> Option<&HostKnowledge> {
        self.hosts.get(host)
    }

    /// Records what `host` taught.
    pub(crate) fn learn(&mut self, host: &str, f: impl FnOnce(&mut HostKnowledge)) {
        f(self.hosts.entry(host.to_owned()).or_default());
    }

    /// Forgets every token and everything learnt about `host` (`host[:port]`), as
    /// `logout` does.
    pub fn forget_host(&mut self, host: &str) {
        self.entries.retain(|_, e| e.registry != host);
        self.hosts.remove(host);
    }

    /// The cache as JSON, for a file the caller keeps private (it holds bearer tokens,
    /// never passwords): tokens still fresh at `now`, and what each host taught.
    pub fn to_json(&self, now: SystemTime) -> String {
        let secs = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        };
        let stored = Stored {
            version: 1,
            tokens: self
                .entries
                .iter()
                .filter(|(_, e)| fresh(e, now))
                .map(|(k, e)| StoredToken {
                    realm: k.realm.clone(),
                    service: k.service.clone(),
                    scopes: k.scopes.clone(),
                    identity: k.identity.clone(),
                    registry: e.registry.clone(),
                    token: e.token.expose().to_owned(),
                    expires_at: secs(e.expires_at),
                })
                .collect(),
            hosts: self.hosts.clone(),
        };
        serde_json::to_string(&stored).unwrap_or_default()
    }

    /// Reads [`TokenCache::to_json`]'s output; anything unreadable gives an empty cache
    /// (a cache is never worth an error).
    pub fn from_json(text: &str) -> TokenCache {
        let Ok(stored) = serde_json::from_str::<Stored>(text) else {
            return TokenCache::default();
        };
        let mut cache = TokenCache {
            entries: BTreeMap::new(),
            hosts: stored.hosts,
        };
        for t in stored.tokens {
            let Some(expires_at) =
                SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(t.expires_at))
            else {
                continue;
            };
            if !t.token.bytes().all(|b| b.is_ascii_graphic()) {
                continue;
            }
            let scopes = t.scopes.iter().flat_map(|s| Scope::parse_list(s)).collect();
            cache.entries.insert(
                TokenKey {
                    realm: t.realm,
                    service: t.service,
                    scopes: t.scopes,
                    identity: t.identity,
                },
                CachedToken {
                    registry: t.registry,
                    token: Secret::from(t.token),
                    expires_at,
                    scopes,
                },
            );
        }
        cache
    }

    /// Takes in what another cache (of a flow run beside this one) holds: its tokens
    /// (the later expiry wins) and what its hosts taught.
    pub fn merge(&mut self, other: &TokenCache) {
        for (k, e) in &other.entries {
            match self.entries.get(k) {
                Some(mine) if mine.expires_at >= e.expires_at => {}
                _ => {
                    self.entries.insert(k.clone(), e.clone());
                }
            }
        }
        for (host, known) in &other.hosts {
            let mine = self.hosts.entry(host.clone()).or_default();
            if known.auth.is_some() {
                mine.auth = known.auth.clone();
            }
            mine.plain_http |= known.plain_http;
        }
    }

    /// How many tokens it holds, fresh or not (what `regpeek cache info` counts).
    #[allow(
        clippy::len_without_is_empty,
        reason = "a count for people; no caller asks emptiness, and the API stays small"
    )]
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::challenge::parse_challenges;
    use url::Url;

    #[test]
    fn token_reply_table() {
        type Case<'a> = (&'a str, Result<(&'a str, u64), &'a str>);
        let cases: &[Case] = &[
            (r#"{"token":"t1","expires_in":300}"#, Ok(("t1", 300))),
            (r#"{"token":"t1","access_token":"a1"}"#, Ok(("a1", 60))),
            (r#"{"token":"t1","access_token":""}"#, Ok(("t1", 60))),
            (r#"{"access_token":"a1","expires_in":5}"#, Ok(("a1", 60))),
            (r#"{"token":"t","expires_in":null}"#, Ok(("t", 60))),
            (r#"{"token":""}"#, Err("reply has no token")),
            (r#"{}"#, Err("reply has no token")),
            ("<html>", Err("not a JSON token reply")),
            ("", Err("not a JSON token reply")),
        ];
        for (body, want) in cases {
            match (parse_token_reply(body.as_bytes()), want) {
                (Ok(r), Ok((tok, secs))) => {
                    assert_eq!(r.token.expose(), *tok);
                    assert_eq!(r.expires_in.as_secs(), *secs);
                }
                (Err(e), Err(needle)) => assert!(e.to_string().contains(needle), "{e}"),
                (got, want) => panic!("{body}: {got:?} vs {want:?}"),
            }
        }
        let r = parse_token_reply(br#"{"token":"x","issued_at":"2024-01-02T03:04:05Z"}"#).unwrap();
        assert_eq!(
            r.issued_at,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_164_645))
        );
    }

    #[test]
    fn token_errors_never_show_the_token() {
        let e = parse_token_reply(br#"{"token": 12345678}"#).unwrap_err();
        assert!(!e.to_string().contains("12345678"), "{e}");
        let r = parse_token_reply(br#"{"token":"sekrit"}"#).unwrap();
        assert!(!format!("{r:?}").contains("sekrit"));
        let c = Credentials::basic("u", "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    /// The realm `reg.example` names in its challenge, and pull scopes on two
    /// repositories.
    fn realm_and_two_scopes() -> (BearerRealm, Vec<Scope>) {
        let cs = parse_challenges([r#"Bearer realm="https://auth.example/token",service="reg""#])
            .unwrap();
        let reg = Url::parse("https://reg.example").unwrap();
        let realm = BearerRealm::from_challenge(&cs[0], &reg, true).unwrap();
        (
            realm,
            Scope::parse_list("repository:a/b:pull repository:c:pull"),
        )
    }

    #[test]
    fn token_request_carries_service_scopes_and_basic() {
        let (realm, scopes) = realm_and_two_scopes();
        let req = token_request(
            &realm,
            &scopes,
            Some(&Credentials::basic("u", "p")),
            false,
            "regpeek",
        )
        .unwrap();
        assert_eq!(
            req.uri().to_string(),
            "https://auth.example/token?service=reg&scope=repository%3Aa%2Fb%3Apull&scope=repository%3Ac%3Apull&client_id=regpeek"
        );
        assert_eq!(req.headers()["authorization"], "Basic dTpw");
    }

    #[test]
    fn identity_tokens_use_the_oauth2_post_flow() {
        let (realm, scopes) = realm_and_two_scopes();
        let creds = Credentials::IdentityToken {
            username: Some("bob".into()),
            token: Secret::from("refresh-me"),
        };
        let req = token_request(&realm, &scopes, Some(&creds), false, "regpeek").unwrap();
        assert_eq!(req.method(), "POST");
        assert_eq!(req.uri().to_string(), "https://auth.example/token");
        assert_eq!(
            String::from_utf8(req.body().clone()).unwrap(),
            "grant_type=refresh_token&refresh_token=refresh-me&service=reg&client_id=regpeek&scope=repository%3Aa%2Fb%3Apull+repository%3Ac%3Apull"
        );
        assert!(!format!("{creds:?}").contains("refresh-me"));
        let get = token_request(&realm, &scopes, Some(&creds), true, "regpeek").unwrap();
        assert_eq!(get.method(), "GET");
        assert_eq!(get.headers()["authorization"], "Basic Ym9iOnJlZnJlc2gtbWU=");
    }

    #[test]
    fn cache_expiry_and_find() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut c = TokenCache::default();
        let key = TokenKey {
            realm: "https://a/t".into(),
            service: "s".into(),
            scopes: vec!["repository:x:pull".into()],
            identity: String::new(),
        };
        let reply = parse_token_reply(br#"{"token":"tok","expires_in":120}"#).unwrap();
        c.insert(
            key.clone(),
            "reg",
            &Scope::parse_list("repository:x:pull"),
            &reply,
            t0,
        );
        assert!(c.get(&key, t0).is_some());
        assert!(c.get(&key, t0 + Duration::from_secs(105)).is_some());
        assert!(c.get(&key, t0 + Duration::from_secs(111)).is_none());
        assert!(c.find("reg", "", &Scope::pull("x"), t0).is_some());
        assert!(c.find("reg", "bob", &Scope::pull("x"), t0).is_none());
        assert!(c.find("reg", "", &Scope::pull("y"), t0).is_none());
        assert!(c.find("other", "", &Scope::pull("x"), t0).is_none());
        c.remove(&key);
        assert_eq!(c.len(), 0);
    }
}
