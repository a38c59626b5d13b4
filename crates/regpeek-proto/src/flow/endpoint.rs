//! The endpoint a flow is at (a mirror, or the registry itself): entering it with a
//! fresh attempt, what earlier flows taught about it, the step a goal starts with, and
//! how its requests are named in errors.

use super::*;

impl Flow {
    /// Makes endpoint `i` the current one, with a fresh context.
    pub(super) fn enter(&mut self, i: usize) -> Result<(), Error> {
        self.state.at = Attempt::on(&self.cursor.endpoints, i);
        self.apply_knowledge();
        self.state.at.step = self.first_step()?;
        Ok(())
    }

    /// What earlier flows learnt about this host: plain http on loopback (no https
    /// probe), and its challenge (a token before the first request).
    pub(super) fn apply_knowledge(&mut self) {
        let Some(known) = self.tokens.host(&self.host()).cloned() else {
            return;
        };
        if known.plain_http && self.state.at.security == Security::HttpsThenHttp {
            self.state.at.security = Security::Http;
            let _ = self.state.at.base.set_scheme("http");
        }
        let with_creds = matches!(
            self.state.at.credentials,
            Some(Credentials::Basic { .. } | Credentials::IdentityToken { .. })
        );
        self.state.at.auth = match known.auth {
            Some(crate::token::KnownAuth::Basic)
                if matches!(self.state.at.credentials, Some(Credentials::Basic { .. })) =>
            {
                HostAuth::Basic
            }
            Some(crate::token::KnownAuth::Bearer { realm, service })
                if !matches!(self.state.at.credentials, Some(Credentials::Bearer(_))) =>
            {
                // The realm is checked again, as if the challenge had just come.
                match crate::auth::BearerRealm::known(
                    &realm,
                    service,
                    &self.state.at.base,
                    with_creds,
                ) {
                    Ok(realm) => HostAuth::Bearer {
                        realm,
                        scopes: self.scope().into_iter().collect(),
                    },
                    Err(_) => HostAuth::None,
                }
            }
            _ => HostAuth::None,
        };
    }

    /// The step a goal starts with.
    pub(super) fn first_step(&self) -> Result<Step, Error> {
        // A tag the caller saw resolve before is revalidated with one HEAD.
        let revalidate =
            self.cfg.known.resolved.as_ref().is_some() && self.cfg.reference.digest().is_none();
        Ok(match &self.cfg.goal {
            Goal::Digest(None) => Step::Top { head: true },
            // Pull-free, a platform's digest comes from an index the caller holds:
            // the HEAD says which.
            Goal::Digest(_) if self.cfg.pull_free => Step::Top { head: true },
            Goal::Digest(_) | Goal::Manifest(_) | Goal::Inspect(_) | Goal::Referrers { .. }
                if revalidate =>
            {
                Step::Top { head: true }
            }
            Goal::Login => Step::Check,
            Goal::Blob(d) => Step::Blob(d.clone()),
            Goal::Tags { .. } | Goal::Catalog { .. } => Step::Page(self.first_page()?),
            _ => Step::Top { head: false },
        })
    }

    /// What the current step fetches, for errors.
    pub(super) fn subject(&self) -> Subject {
        match &self.state.at.step {
            Step::Top { .. } => Subject::Manifest(self.cfg.reference.familiar()),
            Step::Child { desc, .. } => Subject::ManifestDigest(desc.digest.to_string()),
            Step::Config(d) => Subject::ConfigBlob(d.digest.to_string()),
            Step::Blob(d) => Subject::Blob(d.to_string()),
            Step::Page(_) if matches!(self.cfg.goal, Goal::Catalog { .. }) => {
                Subject::Catalog(self.cfg.reference.registry().to_owned())
            }
            Step::Page(_) => Subject::TagList(self.cfg.reference.name()),
            Step::Check => Subject::Login(self.cfg.reference.registry().to_owned()),
            Step::Referrers { subject, .. } | Step::ReferrersTag { subject } => {
                Subject::Referrers(subject.to_string())
            }
            Step::Attestation(d) => Subject::ManifestDigest(d.digest.to_string()),
        }
    }

    /// `host[:port]` of the origin requests go to (the registry's API host or a mirror).
    pub(super) fn host(&self) -> String {
        match (self.state.at.base.host_str(), self.state.at.base.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => self.cfg.reference.api_host().to_owned(),
        }
    }

    /// Which server a request URL is on, and the URL without its query.
    pub(super) fn describe_target(&self, t: &Transmit) -> (Peer, String) {
        let req = &t.request;
        let url = Url::parse(&req.uri().to_string()).ok();
        let peer = match &url {
            Some(u) if check::same_origin(u, &self.state.at.base) => Peer::Registry,
            _ if t.kind == RequestKind::Token => Peer::TokenServer,
            _ => Peer::Redirect,
        };
        let shown = url
            .map(|u| check::strip_query(&u))
            .unwrap_or_else(|| req.uri().to_string());
        (peer, shown)
    }
}
