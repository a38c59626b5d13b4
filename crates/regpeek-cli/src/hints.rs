//! Next steps for the user after an error, chosen by the error's type and data, never
//! its text.

use crate::session::{CredsUsed, Session};

/// A next step for the user, for errors that have an obvious one: chosen by the
/// error's type and data, never its text.
pub fn hint(err: &anyhow::Error, session: &Session) -> Option<String> {
    use regpeek_proto::{Error as E, Peer, TimeoutStage, TransportErrorKind as K};
    if let Some(layer) = err
        .chain()
        .find_map(|e| e.downcast_ref::<regpeek_layer::Error>())
    {
        return layer_hint(layer);
    }
    let e = crate::errors::core_error(err)?;
    let unusable = match session.credentials_used() {
        Some(CredsUsed::Unusable(helper)) => Some(helper),
        _ => None,
    };
    Some(match e {
        E::AuthRequired { .. } | E::Denied { .. } if unusable.is_some() => format!(
            "the registry wants credentials, and the {} that should give them could not be used (see the warning above); fix it, or pass --creds USER[:PASSWORD]",
            unusable.unwrap_or_default()
        ),
        E::AuthRequired { .. } => {
            "pass credentials with --creds USER[:PASSWORD], or store them with `regpeek login`"
                .into()
        }
        E::BadCredentials {
            identity: regpeek_proto::Identity::RegistryToken,
            ..
        } => "the token given with --registry-token was refused".into(),
        E::BadCredentials {
            identity: regpeek_proto::Identity::IdentityToken(_),
            registry,
        } => format!(
            "the stored identity token was refused: run `regpeek logout {registry}` and log in again, or pass --no-creds"
        ),
        E::BadCredentials { registry, .. } => match session.credentials_used() {
            Some(CredsUsed::Stored(source)) => format!(
                "the stored credentials come from {source}: run `regpeek logout {registry}` and log in again, or pass --no-creds"
            ),
            Some(CredsUsed::Flag(flag)) if flag != "recording" => {
                format!("check the user name and password given with {flag}")
            }
            _ => "check the user name and password given".into(),
        },
        E::Denied { .. } if matches!(session.credentials_used(), Some(CredsUsed::None)) => {
            "no credentials were sent: pass --creds USER[:PASSWORD] or run `regpeek login`; \
             a repository that does not exist is refused the same way"
                .into()
        }
        // A manifest or a repository that is not there (a blob that is not there is the
        // registry's problem, not a misspelt name).
        E::Registry {
            code:
                Some(
                    regpeek_proto::RegistryCode::ManifestUnknown
                    | regpeek_proto::RegistryCode::NameUnknown,
                ),
            ..
        } => "check the repository name and tag; `regpeek ref REF` shows what is asked for".into(),
        E::RateLimited { .. } => "the registry asked for a longer pause than regpeek waits \
             (30 s); for Docker Hub, `regpeek login` raises the pull limit"
            .into(),
        E::Timeout {
            stage: TimeoutStage::RetryWait,
            ..
        } => "the registry asked to wait past the deadline; raise it with --timeout SECS \
              (0 = none)"
            .into(),
        E::Timeout { .. } => "the registry or network is too slow or unresponsive; raise the \
                              deadline with --timeout SECS (0 = none)"
            .into(),
        E::Transport { kind: K::Tls, .. } => {
            "use --plain-http for a registry that speaks plain http".into()
        }
        E::Transport {
            kind: K::Certificate,
            ..
        } => "trust its CA with --ca-file FILE or a certs.d directory (--cert-dir DIR)".into(),
        E::Transport {
            kind: K::TlsRefused,
            ..
        } => "does it want a client certificate? give one with --cert-dir DIR".into(),
        E::Transport {
            peer: Peer::TokenServer,
            ..
        } => "the registry sends clients to this token server, which is unreachable".into(),
        E::Transport {
            kind: K::Resolve,
            url,
            ..
        } => {
            let host = regpeek_proto::url::Url::parse(url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default();
            format!(
                "could not resolve host {host}: check its spelling, and that this machine can reach a DNS server"
            )
        }
        E::Transport {
            kind: K::Connect, ..
        } => "is the registry up, and is the host and port right?".into(),
        E::Transport {
            kind: K::Declined, ..
        } if cause::<regpeek_client::pulls::BudgetSpent>(err) => {
            "raise --pull-budget N; `digest` asks with HEAD, which is no pull, and what the \
             cache holds needs none"
                .into()
        }
        E::Transport {
            kind: K::Declined, ..
        } if cause::<regpeek_h2::NoHttp2>(err) => {
            "it speaks HTTP/1.1 only: leave out --http 2 (the default, --http auto, falls \
             back to HTTP/1.1)"
                .into()
        }
        _ => return None,
    })
}

/// Whether `T` is in the error's chain.
fn cause<T: std::error::Error + 'static>(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(e) = next {
            if e.is::<T>() {
                return true;
            }
            next = e.source();
        }
        false
    })
}

/// A next step after a layer could not be read, by the kind of failure.
fn layer_hint(e: &regpeek_layer::Error) -> Option<String> {
    use regpeek_layer::Error as L;
    Some(match e {
        L::Bomb { .. } => "regpeek refuses to unpack this layer (memory stays bounded); `regpeek blob IMAGE DIGEST` writes its compressed bytes as they are".into(),
        L::DigestMismatch { .. } | L::SizeMismatch { .. } => "the registry served other bytes than the digest names (a corrupt or tampered blob, or something rewriting it on the way): nothing of it was used; tell the registry's operator".into(),
        L::Estargz { .. } => "the layer's eStargz index (its TOC, or a chunk it lists) does not hold: the image was built wrong or altered since; `regpeek blob IMAGE DIGEST | tar -tz` reads the layer as plain gzip".into(),
        L::Truncated { .. } => "the layer ends early: the network or the registry cut it short (try again), or the image was built with a tar header that lies".into(),
        _ => return None,
    })
}
