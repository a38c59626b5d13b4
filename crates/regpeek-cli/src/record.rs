//! `--record DIR` and `regpeek replay DIR`: a run's exchanges as a scrubbed fixture
//! (the format of `fixtures/`), and that fixture served back to the same flow offline.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use regpeek_proto::{Credentials, Flow, Goal, Options, Outcome, Security, TokenCache};
use regpeek_replay::Recorder;
use regpeek_replay::fixture::Scenario;
use regpeek_ureq::Client;

/// What to record, and where.
pub struct Recording {
    /// The directory to write `exchanges.http` into.
    pub dir: PathBuf,
    /// The fixture's settings, which let `replay` rebuild the flow and the output.
    pub settings: Vec<(String, String)>,
}

impl Recording {
    /// Settings describing `command` on `target` with `options`; secrets are never
    /// written, only who they belong to.
    pub fn new(dir: &Path, command: &str, target: &str, options: &Options) -> Recording {
        let mut s: Vec<(String, String)> = vec![
            ("command".into(), command.into()),
            ("reference".into(), target.into()),
        ];
        let (goal, platform, listing) = match &options.goal {
            Goal::Inspect(p) => ("inspect", Some(p), None),
            Goal::Manifest(p) => ("manifest", p.as_ref(), None),
            Goal::Digest(p) => ("digest", p.as_ref(), None),
            Goal::Tags { limit, page_size } => ("tags", None, Some((limit, page_size))),
            Goal::Catalog { limit, page_size } => ("catalog", None, Some((limit, page_size))),
            Goal::Referrers { platform, .. } => ("referrers", platform.as_ref(), None),
            _ => ("login", None, None),
        };
        s.push(("goal".into(), goal.into()));
        if let Some(p) = platform {
            s.push(("platform".into(), p.to_string()));
        }
        if let Some((limit, page_size)) = listing {
            if let Some(l) = limit {
                s.push(("limit".into(), l.to_string()));
            }
            if let Some(n) = page_size {
                s.push(("page-size".into(), n.to_string()));
            }
        }
        let security = match options.security {
            Security::Http => "http",
            Security::Https => "https",
            Security::HttpsThenHttp => "https-then-http",
            _ => "auto",
        };
        s.push(("security".into(), security.into()));
        if let Goal::Referrers {
            artifact_type: Some(t),
            ..
        } = &options.goal
        {
            s.push(("artifact-type".into(), t.clone()));
        }
        match &options.credentials {
            Some(Credentials::Basic { username, .. }) => {
                s.push(("credentials".into(), format!("{username}:<redacted>")));
            }
            Some(Credentials::IdentityToken { username, .. }) => s.push((
                "identity-token".into(),
                format!("{}:<redacted>", username.as_deref().unwrap_or_default()),
            )),
            Some(Credentials::Bearer(_)) => {
                s.push(("registry-token".into(), "<redacted>".into()));
            }
            _ => {}
        }
        if !options.mirrors.is_empty() {
            let urls: Vec<String> = options.mirrors.iter().map(|m| m.url.to_string()).collect();
            s.push(("mirrors".into(), urls.join(" ")));
        }
        s.push((
            "description".into(),
            format!("regpeek {command} {target}, recorded with --record"),
        ));
        s.push((
            "source".into(),
            format!("recorded by regpeek {}", env!("CARGO_PKG_VERSION")),
        ));
        Recording {
            dir: dir.to_owned(),
            settings: s,
        }
    }

    /// Adds a setting (output format and the like).
    pub fn set(&mut self, key: &str, value: &str) {
        self.settings.push((key.into(), value.into()));
    }
}

/// Runs `flow`, recording its exchanges when asked, and keeps its tokens.
pub fn run(client: &Client, flow: Flow, recording: Option<Recording>) -> Result<Outcome> {
    let (result, tokens) = run_recorded(client, flow, recording, &mut |_| {})?;
    crate::keep_tokens(&tokens);
    Ok(result?)
}

/// Runs `flow` on `client`, recording its exchanges into `recording` when given (the
/// recording is written whether the flow succeeds or not), and shows every response
/// to `seen`. Errs only when the recording cannot be written.
pub fn run_recorded(
    client: &Client,
    flow: Flow,
    recording: Option<Recording>,
    seen: &mut dyn FnMut(&regpeek_proto::http::Response<Vec<u8>>),
) -> Result<(Result<Outcome, regpeek_ureq::RunError>, TokenCache)> {
    let Some(recording) = recording else {
        return Ok(client.run_observed(flow, &mut |_, reply| {
            if let Ok(resp) = reply {
                seen(resp);
            }
        }));
    };
    let mut recorder = Recorder::new(recording.settings.clone());
    let mut failure: Option<anyhow::Error> = None;
    let (result, tokens) = client.run_observed(flow, &mut |send, reply| {
        if let Ok(resp) = reply {
            seen(resp);
        }
        if failure.is_some() {
            return;
        }
        let request = recorder.request(&send.request);
        let step = match reply {
            Ok(resp) => recorder.response(request, send.kind, resp),
            Err(f) => {
                recorder.failure(request, f.kind, &format!("{}: {}", f.kind, f.source));
                Ok(())
            }
        };
        if let Err(e) = step {
            failure = Some(e);
        }
    });
    if let Some(e) = failure {
        return Err(e.context("recording the exchanges"));
    }
    write(&recording, recorder)?;
    Ok((result, tokens))
}

/// Writes a finished recording into its directory.
fn write(recording: &Recording, recorder: Recorder) -> Result<()> {
    let scenario = recorder.finish();
    std::fs::create_dir_all(&recording.dir)
        .with_context(|| format!("creating {}", recording.dir.display()))?;
    let path = recording.dir.join("exchanges.http");
    std::fs::write(&path, scenario.render()?)
        .with_context(|| format!("writing {}", path.display()))?;
    let n = scenario.exchanges.len();
    eprintln!(
        "regpeek: recorded {n} exchange{} in {} (passwords and tokens scrubbed)",
        if n == 1 { "" } else { "s" },
        path.display()
    );
    Ok(())
}

/// Loads a recording; its flow's outcome, offline, and the settings to print it with.
pub fn replay(dir: &Path) -> Result<(Scenario, Result<Outcome, regpeek_proto::Error>)> {
    let path = dir.join("exchanges.http");
    let text = crate::files::read_text(&path, 64 << 20)
        .with_context(|| format!("reading {}", path.display()))?;
    let scenario =
        Scenario::parse(&text).with_context(|| format!("{} is not a recording", path.display()))?;
    let replayed = regpeek_replay::run(&scenario, TokenCache::new(), regpeek_replay::replay_now())
        .with_context(|| format!("replaying {}", path.display()))?;
    Ok((scenario, replayed.outcome))
}
