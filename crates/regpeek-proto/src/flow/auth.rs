//! Transitions of authentication: challenges (401s and pings), token replies.

use std::time::SystemTime;

use http::StatusCode;
use http::header::WWW_AUTHENTICATE;

use super::check::{check_size, wait_asked};
use super::{Flow, Go, HostAuth, MAX_RETRIES, MAX_WAIT, Next, Retry, SentAuth};
use crate::auth::{BearerRealm, Credentials, Scope, union_scopes};
use crate::challenge::{parse_challenges, preferred};
use crate::error::{Error, Peer, Subject};
use crate::token::{TokenKey, parse_token_reply};

impl Flow {
    /// `GET /v2/` answered: a 401 carries the challenge the resource's 401 lacked.
    pub(super) fn on_ping(&mut self, resp: http::Response<Vec<u8>>) -> Next {
        if resp.status() == StatusCode::UNAUTHORIZED {
            return self.on_challenge(&resp, SentAuth::None, true);
        }
        Err(Error::UnexpectedStatus {
            subject: self.subject(),
            status: resp.status().as_u16(),
            url: self
                .ping_url()
                .map(|u| super::check::strip_query(&u))
                .unwrap_or_default(),
        })
    }

    /// A token server answered.
    pub(super) fn on_token(
        &mut self,
        now: SystemTime,
        key: TokenKey,
        scopes: &[Scope],
        realm: String,
        post: bool,
        resp: http::Response<Vec<u8>>,
    ) -> Next {
        let registry = self.host();
        match resp.status().as_u16() {
            // The realm has no OAuth2 endpoint: the GET flow, as docker does.
            404 | 405 if post => self.token_request(key, false),
            // A token server's 5xx is retried like a registry's, never for the POST.
            status @ 500..=599 if !post && self.state.at.retries < MAX_RETRIES => {
                let after = wait_asked(&resp).filter(|d| *d <= MAX_WAIT);
                self.schedule_retry(
                    now,
                    Some(status),
                    after,
                    Retry::Token { key, post },
                    Peer::TokenServer,
                    &realm,
                )
            }
            200 => {
                self.state.at.retries = 0;
                check_size(resp.body(), self.cfg.limits.small, Subject::TokenReply)?;
                let reply = parse_token_reply(resp.body())?;
                self.state.at.fetched = Some(key.clone());
                self.tokens.insert(key, &registry, scopes, &reply, now);
                Ok(Go::Issue)
            }
            401 | 403 => Err(match &self.state.at.credentials {
                Some(_) => Error::BadCredentials {
                    registry,
                    identity: self.refused_identity(),
                },
                None => Error::AuthRequired { registry },
            }),
            status => Err(Error::TokenServer { realm, status }),
        }
    }

    /// A 401 from the registry: learn how it wants to be authenticated and try again,
    /// or give up when trying again cannot help.
    pub(super) fn on_challenge(
        &mut self,
        resp: &http::Response<Vec<u8>>,
        sent: SentAuth,
        from_ping: bool,
    ) -> Next {
        let headers = resp.headers();
        let registry = self.host();
        let values: Vec<&str> = headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let challenges =
            parse_challenges(values).map_err(|e| Error::InvalidChallenge(e.to_string()))?;
        if challenges.is_empty() {
            if self.state.at.pinged || from_ping {
                return Err(Error::InvalidChallenge(format!(
                    "{registry} answered 401 without a WWW-Authenticate challenge"
                )));
            }
            // Some registries (GCR) send no challenge on resource 401s: learn it at /v2/.
            self.state.at.pinged = true;
            return self.ping_request();
        }
        let Some(challenge) = preferred(&challenges) else {
            return Err(Error::UnsupportedAuth {
                registry,
                schemes: challenges.iter().map(|c| c.scheme.clone()).collect(),
            });
        };
        self.state.at.auth_tries += 1;
        // What the registry said, kept (`UNAUTHORIZED`, "authentication required").
        let said = crate::error::parse_registry_errors(resp.body());
        let said = said.first();
        let refused = |flow: &Flow| Error::Denied {
            subject: flow.subject(),
            status: 401,
            code: said
                .filter(|e| !e.code.is_empty())
                .map(|e| crate::error::RegistryCode::parse(&e.code)),
            message: said.map(|e| e.message.clone()).filter(|m| !m.is_empty()),
            anonymous: flow.state.at.credentials.is_none(),
        };
        if challenge.is_basic() {
            if !matches!(self.state.at.credentials, Some(Credentials::Basic { .. })) {
                return Err(Error::AuthRequired { registry });
            }
            if matches!(sent, SentAuth::Basic) {
                return Err(Error::BadCredentials {
                    registry,
                    identity: self.refused_identity(),
                });
            }
            self.state.at.auth = HostAuth::Basic;
            let host = self.host();
            self.tokens
                .learn(&host, |k| k.auth = Some(crate::token::KnownAuth::Basic));
            return Ok(Go::Issue);
        }
        // Bearer.
        let with_creds = matches!(
            self.state.at.credentials,
            Some(Credentials::Basic { .. } | Credentials::IdentityToken { .. })
        );
        let realm = BearerRealm::from_challenge(challenge, &self.state.at.base, with_creds)?;
        let insufficient = challenge.param("error") == Some("insufficient_scope");
        let asked = challenge
            .param("scope")
            .map(Scope::parse_list)
            .unwrap_or_default();
        let mut scopes: Vec<Scope> = self.scope().into_iter().collect();
        if let HostAuth::Bearer { scopes: had, .. } = &self.state.at.auth {
            scopes = union_scopes(&scopes, had);
        }
        let new_scope = asked.iter().any(|a| !scopes.iter().any(|s| s.covers(a)));
        if insufficient {
            scopes = union_scopes(&asked, &scopes);
        }
        match sent {
            SentAuth::Bearer(key) => {
                if let Some(k) = &key {
                    self.tokens.remove(k);
                }
                let fresh = key.is_some() && key == self.state.at.fetched;
                if fresh && challenge.param("error") == Some("invalid_token") {
                    return Err(Error::TokenRejected {
                        registry,
                        realm: super::check::strip_query(&realm.realm),
                    });
                }
                if key.is_none() {
                    // A registry token given by the caller was refused.
                    return Err(Error::BadCredentials {
                        registry,
                        identity: self.refused_identity(),
                    });
                }
                // A token for the same scopes will not help (Docker Hub answers this way
                // for missing and private repositories); otherwise one more token, once.
                if (insufficient && !new_scope)
                    || self.state.at.auth_tries > 2
                    || (self.state.at.auth_tries > 1 && !insufficient)
                {
                    return Err(refused(self));
                }
            }
            SentAuth::Basic | SentAuth::None => {
                if self.state.at.auth_tries > 2 {
                    return Err(refused(self));
                }
            }
        }
        let known = crate::token::KnownAuth::Bearer {
            realm: realm.realm.to_string(),
            service: realm.service.clone(),
        };
        let host = self.host();
        self.tokens.learn(&host, |k| k.auth = Some(known));
        self.state.at.auth = HostAuth::Bearer { realm, scopes };
        Ok(Go::Issue)
    }
}
