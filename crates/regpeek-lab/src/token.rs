//! The lab's token issuer logic: who gets what access, and ES256 JWTs that
//! distribution 2.8 accepts (header `kid` = libtrust key ID of the signing key).

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::{Value, json};

/// The `service` the token registry is configured with.
pub const SERVICE: &str = "regpeek-lab";
/// The `issuer` the token registry is configured with.
pub const ISSUER: &str = "regpeek-lab-issuer";
/// The lab user with full access everywhere.
pub const USER: &str = "lab-user";
/// Users whose tokens are broken on purpose (their password is the lab user's).
pub const EXPIRED_USER: &str = "expired-user";
/// Gets a token that is not a JWT at all.
pub const GARBAGE_USER: &str = "garbage-user";

/// Signs tokens and decides access.
pub struct Issuer {
    key: EcdsaKeyPair,
    kid: String,
    password: String,
}

/// The outcome of a token request.
pub enum Grant {
    /// 200 with this JSON body.
    Token(Value),
    /// 401: bad credentials.
    Denied,
}

impl Issuer {
    /// An issuer for a PKCS#8 key, its libtrust kid and the lab password.
    pub fn new(pkcs8: &[u8], kid: &str, password: &str) -> Result<Issuer> {
        let key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8,
            &SystemRandom::new(),
        )
        .map_err(|e| anyhow::anyhow!("issuer key: {e}"))?;
        Ok(Issuer {
            key,
            kid: kid.to_owned(),
            password: password.to_owned(),
        })
    }

    /// The identity (refresh) token the issuer accepts for the lab user in the OAuth2
    /// POST flow; derived from the password so every lab part agrees on it.
    pub fn identity_token(&self) -> String {
        identity_token(&self.password)
    }

    /// Decides an OAuth2 POST token request (`grant_type=refresh_token` or `password`).
    pub fn grant_form(&self, form: &[(String, String)]) -> Result<Grant> {
        let get = |k: &str| {
            form.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        let scopes: Vec<String> = get("scope").map(|s| vec![s.to_owned()]).unwrap_or_default();
        let basic = |u: &str, p: &str| format!("Basic {}", STANDARD.encode(format!("{u}:{p}")));
        match (get("grant_type"), get("client_id")) {
            (_, None) => Ok(Grant::Denied),
            (Some("refresh_token"), _)
                if get("refresh_token") == Some(self.identity_token().as_str()) =>
            {
                self.grant(Some(&basic(USER, &self.password)), &scopes)
            }
            (Some("password"), _) => self.grant(
                Some(&basic(
                    get("username").unwrap_or(""),
                    get("password").unwrap_or(""),
                )),
                &scopes,
            ),
            _ => Ok(Grant::Denied),
        }
    }

    /// Decides a token request: `authorization` is the raw header (Basic or absent),
    /// `scopes` the requested scope strings. Anonymous users may pull `public/*`; the
    /// lab user may do anything; unknown users or wrong passwords are refused.
    pub fn grant(&self, authorization: Option<&str>, scopes: &[String]) -> Result<Grant> {
        let user = match authorization {
            None => None,
            Some(h) => {
                let Some(b64) = h.strip_prefix("Basic ") else {
                    return Ok(Grant::Denied);
                };
                let decoded = STANDARD.decode(b64.trim()).unwrap_or_default();
                let text = String::from_utf8_lossy(&decoded).into_owned();
                let Some((u, p)) = text.split_once(':') else {
                    return Ok(Grant::Denied);
                };
                let known = [USER, EXPIRED_USER, GARBAGE_USER].contains(&u);
                if !known || p != self.password {
                    return Ok(Grant::Denied);
                }
                Some(u.to_owned())
            }
        };
        let mut access = Vec::new();
        for scope in scopes.iter().flat_map(|s| s.split(' ')) {
            let Some((rest, actions)) = scope.rsplit_once(':') else {
                continue;
            };
            let Some((kind, name)) = rest.split_once(':') else {
                continue;
            };
            let wanted: Vec<&str> = actions.split(',').collect();
            let granted: Vec<&str> = match (&user, kind) {
                (Some(_), _) => wanted,
                (None, "repository") if name.starts_with("public/") => {
                    wanted.into_iter().filter(|a| *a == "pull").collect()
                }
                (None, _) => Vec::new(),
            };
            access.push(json!({"type": kind, "name": name, "actions": granted}));
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let token = match user.as_deref() {
            Some(GARBAGE_USER) => "this-is-not-a-jwt".to_owned(),
            Some(EXPIRED_USER) => self.jwt(user.as_deref(), &access, now - 3600, now - 1800)?,
            _ => self.jwt(user.as_deref(), &access, now, now + 300)?,
        };
        Ok(Grant::Token(json!({
            "token": token,
            "access_token": token,
            "expires_in": 300,
            "issued_at": rfc3339(now),
        })))
    }

    fn jwt(&self, user: Option<&str>, access: &[Value], iat: u64, exp: u64) -> Result<String> {
        let header = json!({"typ": "JWT", "alg": "ES256", "kid": self.kid});
        let claims = json!({
            "iss": ISSUER,
            "sub": user.unwrap_or(""),
            "aud": SERVICE,
            "exp": exp,
            "nbf": iat.saturating_sub(10),
            "iat": iat,
            "jti": format!("{iat}-{}", access.len()),
            "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims)?)
        );
        let sig = self
            .key
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .map_err(|e| anyhow::anyhow!("signing: {e}"))
            .context("signing a lab token")?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(sig.as_ref())
        ))
    }
}

/// The lab's identity token for a lab password.
pub fn identity_token(password: &str) -> String {
    format!(
        "lab-identity-{}",
        &crate::image::sha256(password.as_bytes())[7..23]
    )
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .unwrap_or(jiff::Timestamp::MAX)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_is_plain_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_704_164_645), "2024-01-02T03:04:05Z");
    }

    #[test]
    fn policy() {
        let pki = crate::certs::Pki::generate().unwrap();
        let issuer = Issuer::new(&pki.issuer_key_pkcs8, &pki.issuer_kid, "pw").unwrap();
        let access = |auth: Option<&str>, scope: &str| -> Option<Value> {
            match issuer.grant(auth, &[scope.to_owned()]).unwrap() {
                Grant::Denied => None,
                Grant::Token(v) => {
                    let tok = v["token"].as_str().unwrap().to_owned();
                    let claims = tok.split('.').nth(1).unwrap();
                    let claims: Value =
                        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
                    Some(claims["access"][0]["actions"].clone())
                }
            }
        };
        assert_eq!(
            access(None, "repository:public/a:pull,push"),
            Some(json!(["pull"]))
        );
        assert_eq!(access(None, "repository:private/a:pull"), Some(json!([])));
        let good = format!("Basic {}", STANDARD.encode("lab-user:pw"));
        assert_eq!(
            access(Some(&good), "repository:private/a:pull,push"),
            Some(json!(["pull", "push"]))
        );
        let bad = format!("Basic {}", STANDARD.encode("lab-user:nope"));
        assert_eq!(access(Some(&bad), "repository:private/a:pull"), None);
    }
}
