//! The lab's topology: which registries, fronts, CDNs and helpers run where, started
//! and seeded as a whole, stopped as a whole.

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::*;

/// A running lab.
pub struct Lab {
    /// Where everything is.
    pub info: LabInfo,
    /// What was pushed (deterministic, so also valid for a lab started elsewhere).
    pub seeded: image::Seeded,
    pub(crate) procs: Vec<Proc>,
    pub(crate) helper: Option<helper::Helper>,
    pub(crate) owned: bool,
    /// Delay relays in front of every client-facing address (benchmarks).
    pub relays: Vec<relay::Relay>,
}

pub(crate) fn registry_config(dir: &Path, name: &str, addr: &str, extra: &str) -> Result<PathBuf> {
    // The mTLS registry serves the Basic registry's content.
    let data = dir.join(format!(
        "{}-data",
        if name == "mtls" { "basic" } else { name }
    ));
    std::fs::create_dir_all(&data)?;
    let cfg = format!(
        "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\n\
         http:\n  addr: {addr}\n  secret: regpeek-lab-not-a-secret\n{extra}",
        data = data.display()
    );
    let path = dir.join(format!("{name}.yml"));
    std::fs::write(&path, cfg)?;
    Ok(path)
}

pub(crate) fn redirect_to(base: &str) -> String {
    format!(
        "middleware:\n  storage:\n    - name: redirect\n      options:\n        baseurl: {base}\n"
    )
}

impl Lab {
    /// Starts a lab with random ports whose processes die with this process, and seeds it.
    /// A start that fails (another lab took a port at the same moment) is cleaned up and
    /// tried again with new ports, three times in all.
    pub fn start() -> Result<Lab> {
        Lab::with_retries(|| {
            let dir = scratch_dir("lab")?;
            let lab = Lab::start_in(&dir, Ports::random()?, Keep::Owned, None)?;
            lab.seed()?;
            Ok(lab)
        })
    }

    /// Runs `start` up to three times; every failed attempt has cleaned up after itself.
    pub fn with_retries(mut start: impl FnMut() -> Result<Lab>) -> Result<Lab> {
        let mut last = None;
        for attempt in 1..=3 {
            match start() {
                Ok(lab) => return Ok(lab),
                Err(e) => {
                    eprintln!("lab: start attempt {attempt} failed, cleaned up: {e:#}");
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("the lab did not start")))
    }

    /// The lab of `REGPEEK_LAB` (a `lab.json` written by `cargo xtask lab up`) when set,
    /// otherwise a fresh [`Lab::start`].
    pub fn shared() -> Result<Lab> {
        match std::env::var_os("REGPEEK_LAB") {
            Some(path) => Ok(Lab::shared_from(LabInfo::load(Path::new(&path))?)),
            None => Lab::start(),
        }
    }

    /// A handle on a lab started elsewhere (no processes owned).
    pub fn shared_from(info: LabInfo) -> Lab {
        Lab {
            info,
            seeded: image::Seeded::build(),
            procs: Vec::new(),
            helper: None,
            owned: false,
            relays: Vec::new(),
        }
    }

    /// Starts every lab process in `dir`. With `Keep::Detached`, `helper_cmd` is the
    /// command that runs the helper as its own process (`xtask lab helper DIR`);
    /// otherwise the helper runs on a thread of this process.
    ///
    /// Whatever goes wrong, nothing is left running: detached processes already started
    /// are stopped (with their process groups) and `lab.json` is removed; owned ones die
    /// with their handles. While starting, `lab.json` lists every pid started so far, so
    /// `lab down` finds them even if this process is killed halfway.
    pub fn start_in(
        dir: &Path,
        ports: Ports,
        keep: Keep,
        helper_cmd: Option<&[String]>,
    ) -> Result<Lab> {
        Lab::start_in_with(dir, ports, keep, helper_cmd, None)
    }

    /// A lab whose every client-facing address (the registries' fronts, the token
    /// issuer, the CDNs) sits behind a delay relay adding `rtt` per round trip, for
    /// benchmarks of round trips. Processes die with this process.
    pub fn start_with_rtt(rtt: Duration) -> Result<Lab> {
        Lab::with_retries(|| {
            let dir = scratch_dir("lab-rtt")?;
            let lab = Lab::start_in_with(&dir, Ports::random()?, Keep::Owned, None, Some(rtt))?;
            lab.seed()?;
            Ok(lab)
        })
    }

    /// [`Lab::start_in`], optionally behind delay relays.
    pub fn start_in_with(
        dir: &Path,
        ports: Ports,
        keep: Keep,
        helper_cmd: Option<&[String]>,
        rtt: Option<Duration>,
    ) -> Result<Lab> {
        let mut started: Vec<u32> = Vec::new();
        let result = Lab::start_inner(dir, ports, keep, helper_cmd, rtt, &mut started);
        if result.is_err() {
            for pid in started {
                stop_group(pid);
            }
            if keep == Keep::Detached {
                let _ = std::fs::remove_file(dir.join("lab.json"));
            }
        }
        result
    }

    pub(crate) fn start_inner(
        dir: &Path,
        ports: Ports,
        keep: Keep,
        helper_cmd: Option<&[String]>,
        rtt: Option<Duration>,
        started: &mut Vec<u32>,
    ) -> Result<Lab> {
        // With a relay, servers listen on internal ports and the advertised ones (in
        // realms, redirects and lab.json) belong to the relays.
        let mut listen = ports;
        let mut relays = Vec::new();
        if let Some(rtt) = rtt {
            let inner = Ports::random()?;
            listen.plain = inner.plain;
            listen.token = inner.token;
            listen.helper = inner.helper;
            listen.cdn_plain = inner.cdn_plain;
            listen.cdn_token = inner.cdn_token;
            listen.basic = inner.basic;
            listen.token_tls = inner.token_tls;
            listen.cdn_https = inner.cdn_https;
            for (host, public, internal) in [
                ("127.0.0.1", ports.basic, listen.basic),
                ("127.0.0.1", ports.token_tls, listen.token_tls),
                ("127.0.0.2", ports.cdn_https, listen.cdn_https),
                ("127.0.0.1", ports.plain, listen.plain),
                ("127.0.0.1", ports.token, listen.token),
                ("127.0.0.1", ports.helper, listen.helper),
                ("127.0.0.2", ports.cdn_plain, listen.cdn_plain),
                ("127.0.0.2", ports.cdn_token, listen.cdn_token),
            ] {
                let listener = TcpListener::bind((host, public))
                    .with_context(|| format!("binding the relay on {host}:{public}"))?;
                let target: std::net::SocketAddr = format!("{host}:{internal}").parse()?;
                relays.push(relay::start(listener, target, rtt)?);
            }
        }
        for bin in [REGISTRY_BIN, NGINX_BIN] {
            if !Path::new(bin).exists() {
                bail!(
                    "{bin} is missing: install Debian's docker-registry and nginx-light (`cargo xtask test` does this as root)"
                );
            }
        }
        std::fs::create_dir_all(dir)?;
        let pki = certs::Pki::generate()?;
        let password = format!(
            "lab-pw-{}",
            &image::sha256(pki.issuer_kid.as_bytes())[7..19]
        );
        let w = |name: &str, data: &[u8]| std::fs::write(dir.join(name), data);
        w("ca.crt", pki.ca_pem.as_bytes())?;
        w("server.crt", pki.server_cert_pem.as_bytes())?;
        w("server.key", pki.server_key_pem.as_bytes())?;
        w("issuer.crt", pki.issuer_cert_pem.as_bytes())?;
        w("issuer.pk8", &pki.issuer_key_pkcs8)?;
        w("issuer.kid", pki.issuer_kid.as_bytes())?;
        w("password", password.as_bytes())?;
        w("helper.port", ports.helper.to_string().as_bytes())?;
        w("proxy.port", ports.proxy.to_string().as_bytes())?;
        let certs_d = dir.join("certs.d");
        std::fs::create_dir_all(&certs_d)?;
        std::fs::write(certs_d.join("ca.crt"), &pki.ca_pem)?;
        std::fs::write(certs_d.join("client.cert"), &pki.client_cert_pem)?;
        std::fs::write(certs_d.join("client.key"), &pki.client_key_pem)?;
        let hash = bcrypt::hash(&password, 4)?;
        std::fs::write(dir.join("htpasswd"), format!("{}:{hash}\n", token::USER))?;

        let mut info = LabInfo {
            dir: dir.to_owned(),
            ports,
            password,
            pids: Vec::new(),
        };
        // Removes the lab directory once this process is gone, whichever way it ends;
        // declared before `procs`, so dropped (and run) after them.
        let janitor = match keep {
            Keep::Owned => Some(Proc::janitor(dir)?),
            Keep::Detached => None,
        };
        let mut procs = Vec::new();
        let agent = push::agent_with_ca(Some(&pki.ca_pem));
        let p = ports;
        let tls = |cas: &str| {
            format!(
                "  tls:\n    certificate: {}\n    key: {}\n{cas}",
                dir.join("server.crt").display(),
                dir.join("server.key").display()
            )
        };
        let token_auth = |realm: &str| {
            format!(
                "auth:\n  token:\n    realm: {realm}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                token::SERVICE,
                token::ISSUER,
                dir.join("issuer.crt").display()
            )
        };
        let cdn_plain = format!("http://127.0.0.2:{}/", p.cdn_plain);
        let cdn_token = format!("http://127.0.0.2:{}/", p.cdn_token);
        let cdn_https = format!("https://127.0.0.2:{}/", p.cdn_https);
        let registries: Vec<(&str, String, String, Vec<u16>)> = vec![
            (
                "plain",
                format!("127.0.0.1:{}", p.plain_backend),
                redirect_to(&cdn_plain),
                vec![200],
            ),
            (
                "token",
                format!("127.0.0.1:{}", p.token_backend),
                format!("{}{}", token_auth(&info.realm()), redirect_to(&cdn_token)),
                vec![401],
            ),
            (
                "basic",
                format!("127.0.0.1:{}", listen.basic),
                format!(
                    "{}auth:\n  htpasswd:\n    realm: regpeek-lab-basic\n    path: {}\n{}",
                    tls(""),
                    dir.join("htpasswd").display(),
                    redirect_to(&cdn_https)
                ),
                vec![401],
            ),
            (
                "mtls",
                format!("127.0.0.1:{}", p.mtls),
                tls(&format!(
                    "    clientcas:\n      - {}\n",
                    dir.join("ca.crt").display()
                )),
                vec![],
            ),
            (
                "issuer-down",
                format!("127.0.0.1:{}", p.issuer_down),
                token_auth(&format!("http://127.0.0.1:{}/token", p.dead)),
                vec![401],
            ),
        ];
        for (name, addr, extra, ok) in &registries {
            let cfg = registry_config(dir, name, addr, extra)?;
            let log = dir.join(format!("{name}.log"));
            let mut proc = Proc::spawn(
                keep,
                &log,
                REGISTRY_BIN,
                &["serve", cfg.to_str().context("utf-8 path")?],
            )?;
            let scheme = if extra.contains("tls:") {
                "https"
            } else {
                "http"
            };
            if ok.is_empty() {
                wait_tcp(addr, &mut proc, &log)?;
            } else {
                wait_http(
                    &agent,
                    &format!("{scheme}://{addr}/v2/"),
                    ok,
                    &mut proc,
                    &log,
                )?;
            }
            record_started(dir, &mut info, started, &proc)?;
            procs.push(proc);
        }

        // The helper: the token issuer and the pager.
        let helper = match (keep, helper_cmd) {
            (Keep::Detached, Some(cmd)) => {
                let log = dir.join("helper.log");
                let args: Vec<&str> = cmd[1..].iter().map(String::as_str).collect();
                let mut proc = Proc::spawn(keep, &log, &cmd[0], &args)?;
                record_started(dir, &mut info, started, &proc)?;
                wait_http(
                    &agent,
                    &format!("http://127.0.0.1:{}/token", p.helper),
                    &[200],
                    &mut proc,
                    &log,
                )?;
                procs.push(proc);
                None
            }
            _ => {
                helper::start_connect_proxy(p.proxy, dir.join("proxy.log"))?;
                Some(helper::Helper::start(
                    listen.helper,
                    token::Issuer::new(&pki.issuer_key_pkcs8, &pki.issuer_kid, &info.password)?,
                )?)
            }
        };

        let nginx_conf = nginx_config(dir, &listen, &ports)?;
        let log = dir.join("nginx.log");
        let mut proc = Proc::spawn(
            keep,
            &log,
            NGINX_BIN,
            &[
                "-c",
                nginx_conf.to_str().context("utf-8")?,
                "-p",
                dir.to_str().context("utf-8")?,
            ],
        )?;
        record_started(dir, &mut info, started, &proc)?;
        wait_http(
            &agent,
            &format!("http://{}/v2/", info.plain()),
            &[200],
            &mut proc,
            &log,
        )?;
        procs.push(proc);

        procs.extend(janitor);
        std::fs::write(
            dir.join("lab.json"),
            serde_json::to_vec_pretty(&info.to_json())?,
        )?;
        Ok(Lab {
            info,
            seeded: image::Seeded::build(),
            procs,
            helper,
            owned: keep == Keep::Owned,
            relays,
        })
    }

    /// Runs the helper of the lab in `dir` until killed (the detached helper process).
    pub fn serve_helper(dir: &Path) -> Result<()> {
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name)).with_context(|| format!("reading {name}"))
        };
        let port: u16 = read("helper.port")?.trim().parse()?;
        let proxy: u16 = read("proxy.port")?.trim().parse()?;
        helper::start_connect_proxy(proxy, dir.join("proxy.log"))?;
        let key = std::fs::read(dir.join("issuer.pk8"))?;
        let issuer =
            token::Issuer::new(&key, read("issuer.kid")?.trim(), read("password")?.trim())?;
        helper::Helper::start(port, issuer)?.wait();
        Ok(())
    }

    /// Pushes the standard content: the open registry gets `lab/*` (with 150 tags and
    /// 40 layers) and `library/rich`, `library/multi` (to act as a Docker Hub mirror), the token registry `public/*` and `private/*`, the Basic one (whose storage the mTLS one shares) `lab/*` and `library/*`.
    pub fn seed(&self) -> Result<()> {
        let t = self.info.targets()?;
        self.seeded.push(&t.plain, "lab", true)?;
        // Docker Hub-shaped paths, for mirror tests.
        self.seeded.push(&t.plain, "library", false)?;
        self.seeded.push(&t.token, "public", true)?;
        self.seeded.push(&t.token, "private", false)?;
        self.seeded.push(&t.basic, "lab", false)?;
        // The mTLS registry shares the Basic one's storage: a mirror that wants a
        // client certificate.
        self.seeded.push(&t.basic, "library", false)?;
        // `lab/based`: built on `lab/rich:v1` as it is (`fresh`), and on a digest the
        // tag no longer has (`stale`): a rebuild is due.
        let base = format!("{}/lab/rich:v1", self.info.plain());
        let rich = &self.seeded.rich.manifest.digest;
        let old = &self.seeded.many_layers.manifest.digest;
        t.plain.image(
            "lab/based",
            &crate::image::based_on(&base, rich),
            &["fresh"],
        )?;
        t.plain
            .image("lab/based", &crate::image::based_on(&base, old), &["stale"])?;
        // `lab/attested`: attestations and a referrer SBOM; its provenance names
        // `lab/rich:v1` as it is, its base.
        let (index, referring) = crate::image::attested(&base, rich);
        t.plain.index("lab/attested", &index, &["v1"])?;
        for a in &referring.artifacts {
            t.plain.image("lab/attested", a, &[])?;
        }
        t.plain
            .manifest("lab/attested", &referring.index, &referring.tag)?;
        self.seed_hostile(&t.plain)?;
        crate::image::write_layouts(&self.info.dir.join("layouts"))
            .context("writing the lab's images to disk")
    }

    /// `lab/hostile`: [`crate::image::HOSTILE_TAGS`] pushed to the open registry; the
    /// `mismatch` layer's stored bytes are then overwritten (same length, other bytes),
    /// as a corrupted store or a lying mirror would serve them.
    fn seed_hostile(&self, plain: &crate::push::Target) -> Result<()> {
        use crate::image::{HOSTILE_TAGS, corrupted, hostile_images};
        let images = hostile_images();
        for (tag, img) in HOSTILE_TAGS.iter().zip(&images) {
            plain.image("lab/hostile", img, &[tag])?;
        }
        let layer = &images[3].layers[0];
        let hex = layer.digest.trim_start_matches("sha256:");
        let stored = self
            .info
            .dir
            .join("plain-data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data");
        std::fs::write(&stored, corrupted(&layer.bytes))
            .with_context(|| format!("overwriting {}", stored.display()))?;
        Ok(())
    }

    /// Stops a detached lab by its `lab.json` (also a half-written one from a start
    /// that was killed): every process group, then the directory.
    pub fn down(dir: &Path) -> Result<()> {
        // Only the pids matter here; tolerate a state file from an older layout.
        let state: Value =
            serde_json::from_slice(&std::fs::read(dir.join("lab.json"))?).unwrap_or(Value::Null);
        let pids = state["pids"].as_array().cloned().unwrap_or_default();
        for pid in pids.iter().filter_map(Value::as_u64) {
            if let Ok(pid) = u32::try_from(pid) {
                stop_group(pid);
            }
        }
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
        Ok(())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.helper.take();
        self.procs.clear();
        if self.owned {
            let _ = std::fs::remove_dir_all(&self.info.dir);
        }
    }
}

/// Notes a started detached process: in `started` (to stop it if the start fails) and
/// in `lab.json` (so that `lab down` finds it even if this process dies first).
pub(crate) fn record_started(
    dir: &Path,
    info: &mut LabInfo,
    started: &mut Vec<u32>,
    proc: &Proc,
) -> Result<()> {
    if let Some(pid) = proc.pid() {
        started.push(pid);
        info.pids.push(pid);
        std::fs::write(
            dir.join("lab.json"),
            serde_json::to_vec_pretty(&info.to_json())?,
        )?;
    }
    Ok(())
}
