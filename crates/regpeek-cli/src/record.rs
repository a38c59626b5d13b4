//! `--record DIR` and `regpeek replay DIR`: recording wraps the transport, not the
//! command. A recorder stands between every client of the run and the network (a
//! [`regpeek_ureq::Transport`] around the network's) and keeps each exchange, scrubbed, whatever the
//! command (one reference or a batch, `platforms`, `diff`, `tags`, …); the command
//! line is kept with it, and the files `--file` and `--from` name are copied into
//! `DIR/inputs/`. `replay DIR` runs that command line again, with the recording
//! answering in the network's place ([`regpeek_replay::Pool`]): the same stdout and
//! exit code, output flags included.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use regpeek_proto::Transmit;
use regpeek_proto::{Credentials, http};
use regpeek_replay::fixture::{Reply as Reply_, Scenario};
use regpeek_replay::{Pool, RecordedCommand, Recorder};
use regpeek_ureq::{Blob, Reply, Transport, TransportFailure};

/// What a recording keeps in place of a secret.
const STAND_IN: &str = "<redacted>";

/// `HOST=USER[:PASSWORD]` with the password replaced.
fn scrub_creds_for(c: &str) -> String {
    match c.split_once('=') {
        Some((host, cred)) => format!("{host}={}", scrub_creds(cred)),
        None => STAND_IN.to_owned(),
    }
}

/// `user:password` → `user:<redacted>` (a lone user stays: it was prompted for).
fn scrub_creds(creds: &str) -> String {
    match creds.split_once(':') {
        Some((user, _)) => format!("{user}:{STAND_IN}"),
        None => creds.to_owned(),
    }
}

/// A run being recorded.
pub struct Recording {
    dir: PathBuf,
    recorder: Mutex<Option<Recorder>>,
    /// Why an exchange could not be recorded, if one could not.
    broken: Mutex<Option<String>>,
    /// Per registry, the kind of credentials used (never a secret).
    credentials: Mutex<std::collections::BTreeMap<String, String>>,
}

/// The most of a streamed blob a recording keeps (it holds the body whole).
const MAX_RECORDED_BLOB: usize = 64 << 20;

/// A transport recorded: every exchange of `inner` is kept by `recording`. A streamed
/// body is read whole (up to [`MAX_RECORDED_BLOB`]) so the recording holds it, and the
/// caller reads it from memory.
pub struct Recorded {
    /// What carries the requests (the network).
    pub inner: Arc<dyn Transport>,
    /// Where they are kept.
    pub recording: Arc<Recording>,
}

impl Transport for Recorded {
    fn send(&self, send: &Transmit, budget: Option<Duration>) -> Result<Reply, TransportFailure> {
        let reply = self
            .inner
            .send(send, budget)
            .and_then(|reply| match reply.body {
                None => Ok((reply.response, None)),
                Some(body) => {
                    let mut bytes = Vec::new();
                    std::io::Read::read_to_end(
                        &mut std::io::Read::take(body.into_reader(), MAX_RECORDED_BLOB as u64 + 1),
                        &mut bytes,
                    )
                    .map_err(|e| TransportFailure {
                        kind: regpeek_proto::TransportErrorKind::Reset,
                        source: e.into(),
                    })?;
                    if bytes.len() > MAX_RECORDED_BLOB {
                        return Err(TransportFailure {
                            kind: regpeek_proto::TransportErrorKind::TooLarge,
                            source: format!(
                                "a blob over the {MAX_RECORDED_BLOB} bytes a recording keeps"
                            )
                            .into(),
                        });
                    }
                    Ok((reply.response, Some(bytes)))
                }
            });
        match reply {
            Ok((head, Some(body))) => {
                // Kept whole; then the caller reads the same bytes, not a copy.
                let (parts, _) = head.into_parts();
                let whole = http::Response::from_parts(parts, body);
                self.recording.observe(send, Ok(&whole));
                let (parts, body) = whole.into_parts();
                Ok(Reply {
                    response: http::Response::from_parts(parts, Vec::new()),
                    body: Some(Blob::new(std::io::Cursor::new(body))),
                })
            }
            Ok((response, None)) => {
                self.recording.observe(send, Ok(&response));
                Ok(Reply::whole(response))
            }
            Err(failure) => {
                self.recording.observe(send, Err(&failure));
                Err(failure)
            }
        }
    }

    fn trace(&self, line: &str) {
        self.inner.trace(line);
    }

    fn multiplexes(&self, host: &str) -> bool {
        self.inner.multiplexes(host)
    }
}

impl Recording {
    /// Keeps one exchange, scrubbed.
    fn observe(
        &self,
        request: &regpeek_proto::Transmit,
        reply: Result<&http::Response<Vec<u8>>, &TransportFailure>,
    ) {
        let mut guard = self.recorder.lock().unwrap_or_else(|e| e.into_inner());
        let Some(recorder) = guard.as_mut() else {
            return;
        };
        let scrubbed = recorder.request(&request.request);
        let step = match reply {
            Ok(resp) => recorder.response(scrubbed, request.kind, resp),
            Err(f) => {
                recorder.failure(scrubbed, f.kind, &format!("{}: {}", f.kind, f.source));
                Ok(())
            }
        };
        if let Err(e) = step {
            *self.broken.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!("{e:#}"));
        }
    }
}

impl Recording {
    /// Starts recording `argv` (the arguments after the program name) into `dir`: the
    /// files that `--file` and `--from` name are copied into `dir/inputs/` and the
    /// kept command line points there. Standard input cannot be kept: refused. A
    /// directory that already holds a recording is refused unless `force`; a refused
    /// recording leaves no directory behind.
    pub fn start(dir: &Path, argv: &[OsString], force: bool) -> Result<Recording> {
        if dir.join("exchanges.http").exists() && !force {
            return Err(crate::errors::usage(format!(
                "--record {}: it already holds a recording; give another directory, or add --force to replace it",
                dir.display()
            )));
        }
        let existed = dir.exists();
        let started = Recording::start_in(dir, argv);
        if started.is_err() && !existed {
            let _ = std::fs::remove_dir_all(dir);
        }
        started
    }

    fn start_in(dir: &Path, argv: &[OsString]) -> Result<Recording> {
        let mut kept: Vec<String> = Vec::new();
        // Which of `kept` name a file kept in `inputs/`, and their names as given.
        let mut files: Vec<usize> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let mut args = argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .peekable();
        let inputs = dir.join("inputs");
        let mut copied = 0;
        // `resolved`: a compose file is kept with its variables resolved (what `--from`
        // and `outdated` read), the environment never.
        let mut copy = |resolved: bool, path: &str| -> Result<String> {
            if path == "-" {
                return Err(crate::errors::usage(
                    "--record cannot keep references read from standard input (--file -, --from -): name a file",
                ));
            }
            let source = Path::new(path);
            let bytes = if resolved {
                crate::inputs::kept_from(source)?
            } else {
                regpeek_client::bounded::read(source, 16 << 20)
                    .with_context(|| format!("reading {path} to keep it with the recording"))?
            };
            std::fs::create_dir_all(&inputs)
                .with_context(|| format!("creating {}", inputs.display()))?;
            copied += 1;
            let name = source
                .file_name()
                .map_or_else(|| "input".into(), |n| n.to_string_lossy().into_owned());
            let kept = inputs.join(format!("{copied}-{name}"));
            std::fs::write(&kept, bytes).with_context(|| format!("writing {}", kept.display()))?;
            Ok(format!("inputs/{copied}-{name}"))
        };
        // `outdated` and `pin` read the files among their arguments: kept too.
        let mut reads_files = false;
        let mut outdated = false;
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "outdated" | "pin" if !reads_files => {
                    reads_files = true;
                    outdated = arg == "outdated";
                    kept.push(arg);
                }
                _ if reads_files && !arg.starts_with('-') && Path::new(&arg).is_file() => {
                    let copied = copy(outdated, &arg)?;
                    files.push(kept.len());
                    kept.push(copied);
                    names.push(arg);
                }
                "--record" => {
                    args.next();
                }
                "--force" => {}
                // Secrets never reach the recording: the user stays, the replay sends
                // a stand-in (its answers come from the recording anyway).
                "--creds" => {
                    kept.push(arg);
                    if let Some(c) = args.next() {
                        kept.push(scrub_creds(&c));
                    }
                }
                "--registry-token" => {
                    kept.push(arg);
                    args.next();
                    kept.push(STAND_IN.into());
                }
                "--creds-for" => {
                    kept.push(arg);
                    if let Some(c) = args.next() {
                        kept.push(scrub_creds_for(&c));
                    }
                }
                _ if arg.starts_with("--creds-for=") => {
                    let c = &arg["--creds-for=".len()..];
                    kept.push(format!("--creds-for={}", scrub_creds_for(c)));
                }
                _ if arg.starts_with("--creds=") => {
                    kept.push(format!("--creds={}", scrub_creds(&arg["--creds=".len()..])));
                }
                _ if arg.starts_with("--registry-token=") => {
                    kept.push(format!("--registry-token={STAND_IN}"));
                }
                "--file" | "--from" => {
                    if let Some(path) = args.next() {
                        let copied = copy(arg == "--from", &path)?;
                        kept.push(arg);
                        files.push(kept.len());
                        kept.push(copied);
                        names.push(path);
                    }
                }
                _ if arg.starts_with("--record=") => {}
                _ if arg.starts_with("--file=") || arg.starts_with("--from=") => {
                    let (flag, path) = arg.split_once('=').unwrap_or_default();
                    files.push(kept.len());
                    kept.push(format!("{flag}={}", copy(flag == "--from", path)?));
                    names.push(path.to_owned());
                }
                _ => kept.push(arg),
            }
        }
        let command = RecordedCommand {
            argv: kept,
            inputs: files,
            names,
            credentials: Default::default(),
        };
        let recorder = command.recorder(env!("CARGO_PKG_VERSION"))?;
        Ok(Recording {
            dir: dir.to_owned(),
            recorder: Mutex::new(Some(recorder)),
            broken: Mutex::new(None),
            credentials: Mutex::new(std::collections::BTreeMap::new()),
        })
    }

    /// Notes which kind of credentials went to `registry` (so that the replay sends
    /// the same kind, whatever the machine it runs on holds).
    pub fn note_credentials(&self, registry: &str, credentials: Option<&Credentials>) {
        let kind = match credentials {
            None => "anonymous".to_owned(),
            Some(Credentials::Basic { username, .. }) => format!("basic:{username}"),
            Some(Credentials::IdentityToken { username, .. }) => {
                format!("identity-token:{}", username.as_deref().unwrap_or_default())
            }
            Some(Credentials::Bearer(_)) => "registry-token".to_owned(),
            Some(_) => "anonymous".to_owned(),
        };
        self.credentials
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(registry.to_owned(), kind);
    }

    /// Writes what was recorded (also after a failed command: a failure is what bug
    /// reports are about).
    pub fn finish(&self) -> Result<()> {
        if let Some(why) = self.broken.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bail!("recording the exchanges: {why}");
        }
        let Some(recorder) = self
            .recorder
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return Ok(());
        };
        let credentials = self.credentials.lock().unwrap_or_else(|e| e.into_inner());
        let scenario = RecordedCommand::finish(recorder, &credentials)?;
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let path = self.dir.join("exchanges.http");
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
}

/// A recording answering in the network's place.
pub struct Replaying(Pool);

impl Transport for Replaying {
    fn send(&self, send: &Transmit, _budget: Option<Duration>) -> Result<Reply, TransportFailure> {
        let req = &send.request;
        let response = match self.0.answer(req) {
            Some(Reply_::Response {
                status,
                headers,
                body,
            }) => {
                let mut b = http::Response::builder().status(status);
                for (k, v) in headers {
                    b = b.header(k, v);
                }
                b.body(body).map_err(|e| TransportFailure {
                    kind: regpeek_proto::TransportErrorKind::Other,
                    source: e.into(),
                })?
            }
            Some(Reply_::Failure { kind, message }) => {
                return Err(TransportFailure {
                    kind: regpeek_replay::parse_kind(&kind),
                    source: message.into(),
                });
            }
            None => {
                return Err(TransportFailure {
                    kind: regpeek_proto::TransportErrorKind::Other,
                    source: format!(
                        "the recording holds no answer for {} {}",
                        req.method(),
                        regpeek_proto::redact::url(&req.uri().to_string())
                    )
                    .into(),
                });
            }
        };
        // A streamed body was recorded whole: the caller reads it from memory.
        if send.stream && response.status().is_success() {
            let (parts, body) = response.into_parts();
            return Ok(Reply {
                response: http::Response::from_parts(parts, Vec::new()),
                body: Some(Blob::new(std::io::Cursor::new(body))),
            });
        }
        Ok(Reply::whole(response))
    }
}

impl Replaying {
    /// Exchanges of the recording that the replay never asked for.
    pub fn unused(&self) -> usize {
        self.0.unused()
    }
}

/// A recording: its command line and what answers in the network's place.
pub struct Replay {
    /// The recorded arguments (after the program name), their files in the recording.
    pub argv: Vec<OsString>,
    /// The kept files, by the names the recorded command line gave them.
    pub names: std::collections::HashMap<std::path::PathBuf, String>,
    /// The recorded exchanges.
    pub exchanges: Replaying,
    /// Per registry, the credentials the recorded run used, secrets as stand-ins.
    pub credentials: std::collections::BTreeMap<String, Option<Credentials>>,
}

/// The stand-in credentials of a recorded kind.
fn stand_in(kind: &str) -> Option<Credentials> {
    let secret = || regpeek_proto::Secret::from(STAND_IN);
    match kind.split_once(':') {
        Some(("basic", user)) => Some(regpeek_client::creds::basic(user, STAND_IN)),
        Some(("identity-token", user)) => Some(Credentials::IdentityToken {
            username: (!user.is_empty()).then(|| user.to_owned()),
            token: secret(),
        }),
        _ if kind == "registry-token" => Some(Credentials::Bearer(secret())),
        _ => None,
    }
}

/// Loads the recording in `dir`.
pub fn load(dir: &Path) -> Result<Replay> {
    let path = dir.join("exchanges.http");
    let text = regpeek_client::bounded::read_text(&path, 64 << 20)
        .with_context(|| format!("reading {}", path.display()))?;
    let scenario =
        Scenario::parse(&text).with_context(|| format!("{} is not a recording", path.display()))?;
    let RecordedCommand {
        argv,
        inputs: files,
        names: given,
        credentials: kinds,
    } = RecordedCommand::of(&scenario)
        .with_context(|| format!("{} cannot be replayed", path.display()))?;
    // Files the command read were kept beside the recording; they are shown by the
    // names the recorded run gave them.
    let mut names = std::collections::HashMap::new();
    for (&i, name) in files.iter().zip(&given) {
        let rel = argv
            .get(i)
            .map(|a| a.split_once('=').map_or(a.as_str(), |(_, r)| r));
        if let Some(rel) = rel {
            names.insert(dir.join(rel), name.clone());
        }
    }
    let argv = argv
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            if !files.contains(&i) {
                return OsString::from(a);
            }
            match a.split_once('=') {
                Some((flag, rel)) if flag.starts_with("--") => {
                    let mut s = OsString::from(format!("{flag}="));
                    s.push(dir.join(rel));
                    s
                }
                _ => dir.join(&a).into_os_string(),
            }
        })
        .collect();
    Ok(Replay {
        argv,
        names,
        exchanges: Replaying(Pool::new(&scenario)),
        credentials: kinds.into_iter().map(|(r, k)| (r, stand_in(&k))).collect(),
    })
}
