//! [`Client`]: regpeek for a program of one's own, with no command line. It keeps
//! the conventions of the command line (credentials from the user's files, certs.d,
//! the loopback plain-http rule, the cache when given one) and runs on the same
//! pieces: the run's [`Registries`], the [`batch`](crate::batch) engine, and the
//! [`image`](crate::image) model.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Result;
use regpeek_proto::manifest::Descriptor;
use regpeek_proto::{Digest, Goal, Inspection, Options, Platform, Reference};

use crate::cache::Cache;
use crate::image::Image;
use crate::layers::Index;
use crate::registries::Registries;
use crate::source::Source;
use crate::{cache, creds, tls};

/// What a [`Client`] is given.
#[derive(Clone)]
pub struct Settings {
    /// The platform picked from multi-platform images.
    pub platform: Platform,
    /// How long each reference may take, from when it starts (`None`: no limit).
    pub timeout: Option<Duration>,
    /// References answered at once per registry (`None`: as each registry's transport
    /// carries them, 64 over HTTP/2, else 8; see [`crate::batch::Jobs::Auto`]).
    pub jobs: Option<usize>,
    /// Where credentials are looked up: containers' `auth.json`, Docker's
    /// `config.json` and its helpers, as docker and skopeo keep them.
    pub credentials: creds::Env,
    /// The cache across runs (none: every run starts cold).
    pub cache: Option<Arc<Cache>>,
    /// Told what the user should know (a credential helper that failed, a layer
    /// that cannot be read); nothing is printed otherwise.
    pub warn: Arc<dyn Fn(&str) + Send + Sync>,
    /// The proxies requests go through (default: the environment's, as Go reads it).
    pub proxies: Arc<crate::proxies::Proxies>,
    /// Which HTTP (default: HTTP/2 where a TLS registry offers it, one connection
    /// carrying every request to it).
    pub http: regpeek_h2::H2Options,
}

impl Default for Settings {
    /// linux/amd64, 30 s per reference, as many at once per registry as its transport
    /// carries, the user's credential files and proxies, no cache, warnings dropped.
    fn default() -> Settings {
        Settings {
            platform: Platform::new("linux", "amd64", None),
            timeout: Some(Duration::from_secs(30)),
            jobs: None,
            credentials: creds::Env::from_process(None),
            cache: None,
            warn: Arc::new(|_| {}),
            proxies: Arc::new(crate::proxies::Proxies::from_process()),
            http: regpeek_h2::H2Options::default(),
        }
    }
}

/// Inspects images and reads their files without pulling them. Share one across
/// threads: what it learns of each registry (clients, credentials, tokens, holds) is
/// learnt once.
pub struct Client {
    settings: Settings,
    registries: Registries,
    index: Index,
}

impl Client {
    /// A client with `settings`, knowing the tokens its cache kept.
    pub fn new(settings: Settings) -> Client {
        let tokens = settings
            .cache
            .as_ref()
            .map(|c| c.tokens())
            .unwrap_or_default();
        Client {
            index: Index::keeping(
                settings
                    .cache
                    .clone()
                    .map(|c| c as Arc<dyn crate::contents::Keep>),
            ),
            settings,
            registries: Registries::new(tokens),
        }
    }

    /// The image `r` names (for an index, the settings' platform's).
    pub fn inspect(&self, r: &Reference) -> Result<Inspection> {
        let goal = Goal::Inspect(self.settings.platform.clone());
        let (options, client) = self.prepare(r, goal, SystemTime::now())?;
        let insp = self
            .registries
            .run(&*client, r.clone(), options)?
            .into_image()?;
        if let Some(c) = &self.settings.cache {
            let _ = c.remember(&insp);
        }
        Ok(insp)
    }

    /// [`Client::inspect`] of each reference on the batch engine (a lane per registry,
    /// [`Settings::jobs`] at once in each), handed to `each` in order as soon as it
    /// and those before it are known. An `Err` of `each` stops the batch.
    pub fn inspect_all(
        &self,
        references: &[Reference],
        each: impl FnMut(usize, Result<Inspection>) -> Result<()>,
    ) -> Result<()> {
        let lanes: Vec<String> = references.iter().map(|r| r.registry().to_owned()).collect();
        crate::batch::run(
            &lanes,
            match self.settings.jobs {
                Some(n) => crate::batch::Jobs::Fixed(n),
                None => self.registries.jobs(),
            },
            |i| self.inspect(&references[i]),
            each,
        )
    }

    /// The image `r` names as a file system: [`Image::file`], [`Image::tree`]…
    pub fn image(&self, r: &Reference) -> Result<Image<'_>> {
        Image::open(self, &self.index, r)
    }

    /// Saves the tokens the run was handed in the cache, for later runs, and writes
    /// what the cache still holds back (once, when done).
    pub fn save_tokens(&self) -> Result<()> {
        match &self.settings.cache {
            Some(c) => {
                let saved = c.update_tokens(|kept| kept.merge(&self.registries.tokens()));
                c.finish();
                saved
            }
            None => Ok(()),
        }
    }

    /// A flow's options for `r` towards `goal` (credentials resolved once per
    /// registry and repository, the deadline of a reference started at `started`,
    /// what the cache holds) and the registry's client.
    fn prepare(
        &self,
        r: &Reference,
        goal: Goal,
        started: SystemTime,
    ) -> Result<(Options, Arc<dyn regpeek_ureq::Transport>)> {
        let mut options = Options::new(goal);
        let key = format!("{}/{}", r.registry(), r.repository());
        let (found, _) = self.registries.credentials(&key, || {
            creds::lookup(r.registry(), r.repository(), &self.settings.credentials)
        })?;
        if let Some(w) = &found.warning {
            (self.settings.warn)(w);
        }
        options.credentials = found.credentials;
        options.deadline = self.settings.timeout.and_then(|t| started.checked_add(t));
        options.seed = u64::from(std::process::id());
        if !matches!(options.goal, Goal::Blob(_)) {
            options.known = cache::known(self.settings.cache.clone(), None, r);
        }
        let client =
            self.registries
                .client((r.registry().to_owned(), false), r.api_host(), || {
                    let (tls, _) = tls::options_for(r.registry(), r.api_host(), None, None, false)?;
                    let proxies = self.settings.proxies.clone();
                    let options = regpeek_ureq::ClientOptions {
                        tls,
                        proxy_for: Some(Arc::new(move |uri| proxies.for_uri(uri))),
                        ..Default::default()
                    };
                    crate::network(&options, self.settings.http, &self.registries)
                })?;
        Ok((options, client))
    }
}

impl Source for Client {
    fn layers(&self, r: &Reference) -> Result<Vec<Descriptor>> {
        let goal = Goal::Manifest(Some(self.settings.platform.clone()));
        let (options, client) = self.prepare(r, goal, SystemTime::now())?;
        let insp = self
            .registries
            .run(&*client, r.clone(), options)?
            .into_image()?;
        crate::source::layers_of(insp)
    }

    fn blob(
        &self,
        r: &Reference,
        digest: &Digest,
        range: Option<(u64, u64)>,
    ) -> Result<(Box<dyn std::io::Read + Send>, bool)> {
        let goal = Goal::Blob(digest.clone());
        let (mut options, client) = self.prepare(r, goal, SystemTime::now())?;
        options.range = range;
        self.registries.blob(&*client, r.clone(), options)
    }

    fn warn(&self, text: &str) {
        (self.settings.warn)(text);
    }
}
