//! `cargo xtask bench [--rtt MS] [--runs N] [--scale N,N,…]`: regpeek against skopeo and a curl floor on
//! the lab, every client-facing address behind a delay relay (default 40 ms per round
//! trip), all in the same run.
//!
//! For each scenario and tool: the requests and connections that crossed the relays,
//! the median wall time, that time in round trips, the ratios to skopeo (`--no-tags`)
//! and to the floor, and the peak RSS (GNU time). The floor is curl doing only the
//! necessary requests with the answers known in advance, one kept-alive connection per
//! host. Numbers, not assertions: targets are judged here, never in tests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use regpeek_lab::Lab;

mod analysis;
mod http2;
mod inventory;

struct Sample {
    median_ms: f64,
    max_rss_kib: u64,
    requests: u64,
    connections: u64,
    /// Manifest `HEAD`s and `GET`s (Docker Hub counts the GETs as pulls).
    manifests: (u64, u64),
    /// Bytes the servers sent.
    bytes: u64,
}

/// One program a row measures.
pub(crate) struct Tool {
    pub name: &'static str,
    pub program: PathBuf,
    pub args: Vec<String>,
}

/// A row: its name, the tools it measures, and how many runs each.
pub(crate) type Case = (&'static str, Vec<Tool>, usize);

fn measure(lab: &Lab, tool: &Tool, runs: usize) -> Result<Sample> {
    let mut times = Vec::with_capacity(runs);
    let (mut rss, mut requests, mut connections) = (0u64, 0u64, 0u64);
    let mut manifests = (0u64, 0u64);
    let mut bytes = 0u64;
    for _ in 0..runs {
        for r in &lab.relays {
            r.counters.reset();
        }
        let (elapsed, kib) = crate::timed(&tool.program, &tool.args)?;
        // Let the relays deliver what is still in flight before reading them.
        std::thread::sleep(Duration::from_millis(50));
        rss = rss.max(kib);
        let (c, q) = lab.relays.iter().fold((0, 0), |(c, q), r| {
            let (rc, rq) = r.counters.read();
            (c + rc, q + rq)
        });
        (connections, requests) = (c, q);
        manifests = lab.relays.iter().fold((0, 0), |(h, g), r| {
            let (rh, rg) = r.counters.manifests();
            (h + rh, g + rg)
        });
        bytes = lab.relays.iter().map(|r| r.counters.bytes_down()).sum();
        times.push(elapsed.as_secs_f64() * 1000.0);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok(Sample {
        median_ms: times[times.len() / 2],
        max_rss_kib: rss,
        requests,
        connections,
        manifests,
        bytes,
    })
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_owned()).collect()
}

const ACCEPT: &str = "Accept: application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

pub fn bench(args: &[String]) -> Result<()> {
    let mut rtt_ms = 40u64;
    let mut runs = 5usize;
    let mut sizes = vec![1000usize, 10_000];
    let mut only_scale = false;
    let mut only: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--rtt" => rtt_ms = it.next().context("--rtt MS")?.parse()?,
            "--runs" => runs = it.next().context("--runs N")?.parse()?,
            "--only-scale" => only_scale = true,
            "--only" => only.push(it.next().context("--only TEXT")?.clone()),
            "--scale" => {
                let list = it.next().context("--scale N,N,… (or none)")?;
                sizes = match list.as_str() {
                    "none" => Vec::new(),
                    l => l.split(',').map(str::parse).collect::<Result<_, _>>()?,
                };
                sizes.sort_unstable();
            }
            other => bail!(
                "usage: cargo xtask bench [--rtt MS] [--runs N] [--scale N,N,…|none] [--only-scale] [--only TEXT]; unknown {other:?}"
            ),
        }
    }
    regpeek_lab::ensure_packages()?;
    for bin in ["/usr/bin/time", "/usr/bin/curl"] {
        if !Path::new(bin).exists() {
            bail!("{bin} is missing: apt-get install time curl");
        }
    }
    let regpeek = crate::build_bin(&["--release", "-p", "regpeek-cli"], "regpeek")?;
    let skopeo = PathBuf::from("/usr/bin/skopeo");
    let curl = PathBuf::from("/bin/sh");
    let rtt = Duration::from_millis(rtt_ms);
    let lab = Lab::start_with_rtt(rtt)?;
    if only_scale {
        let dir = std::env::temp_dir().join(format!("regpeek-bench-scale-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let scaled = crate::scale::rows(&lab, &regpeek, &sizes, &dir);
        let _ = std::fs::remove_dir_all(&dir);
        return scaled;
    }
    let i = &lab.info;
    let seeded = &lab.seeded;
    let cache = std::env::temp_dir().join(format!("regpeek-bench-cache-{}", std::process::id()));
    let cache_arg = cache.display().to_string();

    let rich = format!("{}/lab/rich:v1", i.plain());
    let rich_pinned = format!("{}/lab/rich@{}", i.plain(), seeded.rich.manifest.digest);
    let multi = format!("{}/public/multi:v1", i.token());
    let amd64 = &seeded.multi.children[1];
    let multi_pinned = format!("{}/public/multi@{}", i.token(), seeded.multi.index.digest);
    let token_url = format!(
        "{}?service=regpeek-lab&scope=repository:public/multi:pull",
        i.realm()
    );
    let regpeek_tool = |name, args: Vec<String>| Tool {
        name,
        program: regpeek.clone(),
        args,
    };
    let skopeo_tool = |name, args: Vec<String>| Tool {
        name,
        program: skopeo.clone(),
        args,
    };
    let floor = |script: String| Tool {
        name: "curl floor",
        program: curl.clone(),
        args: vec!["-c".into(), script],
    };
    // One curl for all URLs (headers apply to each; connections are kept alive).
    let curl_get = |urls: &[String]| {
        let mut cmd = format!("curl -sfL -H '{ACCEPT}'");
        for u in urls {
            cmd.push_str(&format!(" -o /dev/null '{u}'"));
        }
        cmd
    };
    // The manifest and the config of lab/rich: the floor of both the inspect and the
    // config (whose blob the registry redirects to the CDN; curl follows).
    let rich_floor = curl_get(&[
        format!("http://{}/v2/lab/rich/manifests/v1", i.plain()),
        format!(
            "http://{}/v2/lab/rich/blobs/{}",
            i.plain(),
            seeded.rich.config.digest
        ),
    ]);
    let scenarios: Vec<(&str, Vec<Tool>, usize)> = vec![
        (
            "single-arch image, open registry",
            vec![
                skopeo_tool(
                    "skopeo --no-tags",
                    s(&[
                        "inspect",
                        "--tls-verify=false",
                        "--no-tags",
                        &format!("docker://{rich}"),
                    ]),
                ),
                skopeo_tool(
                    "skopeo (lists tags)",
                    s(&["inspect", "--tls-verify=false", &format!("docker://{rich}")]),
                ),
                floor(rich_floor.clone()),
                regpeek_tool(
                    "regpeek cold",
                    s(&["--no-cache", "inspect", "--plain-http", &rich]),
                ),
                regpeek_tool(
                    "regpeek warm",
                    s(&["--cache-dir", &cache_arg, "inspect", &rich]),
                ),
                regpeek_tool(
                    "regpeek pinned, warm",
                    s(&["--cache-dir", &cache_arg, "inspect", &rich_pinned]),
                ),
            ],
            runs,
        ),
        (
            "multi-arch index, token registry",
            vec![
                skopeo_tool(
                    "skopeo --no-tags",
                    s(&[
                        "--override-arch",
                        "amd64",
                        "inspect",
                        "--tls-verify=false",
                        "--no-tags",
                        &format!("docker://{multi}"),
                    ]),
                ),
                skopeo_tool(
                    "skopeo (lists tags)",
                    s(&[
                        "--override-arch",
                        "amd64",
                        "inspect",
                        "--tls-verify=false",
                        &format!("docker://{multi}"),
                    ]),
                ),
                floor(format!(
                    "t=$(curl -sf '{token_url}' | sed 's/.*\"token\":\"\\([^\"]*\\)\".*/\\1/') && curl -sfL -H \"Authorization: Bearer $t\" -H '{ACCEPT}' -o /dev/null 'http://{h}/v2/public/multi/manifests/v1' -o /dev/null 'http://{h}/v2/public/multi/manifests/{child}' -o /dev/null 'http://{h}/v2/public/multi/blobs/{config}'",
                    h = i.token(),
                    child = amd64.manifest.digest,
                    config = amd64.config.digest,
                )),
                regpeek_tool(
                    "regpeek cold",
                    s(&[
                        "--no-cache",
                        "inspect",
                        "--plain-http",
                        "--platform",
                        "linux/amd64",
                        &multi,
                    ]),
                ),
                regpeek_tool(
                    "regpeek warm",
                    s(&[
                        "--cache-dir",
                        &cache_arg,
                        "inspect",
                        "--platform",
                        "linux/amd64",
                        &multi,
                    ]),
                ),
                regpeek_tool(
                    "regpeek pinned, warm",
                    s(&[
                        "--cache-dir",
                        &cache_arg,
                        "inspect",
                        "--platform",
                        "linux/amd64",
                        &multi_pinned,
                    ]),
                ),
            ],
            runs,
        ),
        (
            "config blob via the CDN redirect",
            vec![
                skopeo_tool(
                    "skopeo --no-tags",
                    s(&[
                        "inspect",
                        "--tls-verify=false",
                        "--config",
                        &format!("docker://{rich}"),
                    ]),
                ),
                floor(rich_floor.clone()),
                regpeek_tool(
                    "regpeek cold",
                    s(&["--no-cache", "config", "--plain-http", &rich]),
                ),
                regpeek_tool(
                    "regpeek warm",
                    s(&["--cache-dir", &cache_arg, "config", &rich]),
                ),
            ],
            runs,
        ),
    ];

    // The batch: 150 tags on the open registry and 50 on the token registry.
    let batch: Vec<String> = (0..150)
        .map(|n| format!("{}/lab/many-tags:t{n:03}", i.plain()))
        .chain((0..50).map(|n| format!("{}/public/many-tags:t{n:03}", i.token())))
        .collect();
    let mut batch_args = s(&["--no-cache", "--plain-http", "inspect"]);
    batch_args.extend(batch.iter().cloned());
    let skopeo_loop = format!(
        "for r in {}; do skopeo inspect --tls-verify=false --no-tags docker://$r >/dev/null || exit 1; done",
        batch.join(" ")
    );
    let batch_case = (
        "batch of 200 references (inspect)",
        vec![
            Tool {
                name: "skopeo loop --no-tags",
                program: curl.clone(),
                args: vec!["-c".into(), skopeo_loop],
            },
            regpeek_tool("regpeek, one call", batch_args),
        ],
        1,
    );

    // pin: a compose file of 50 services naming 30 distinct tags, its digests learnt
    // (`--diff`: nothing written, the same work each run), cold and warm.
    let services: Vec<String> = (0..50)
        .map(|n| format!("{}/lab/many-tags:t{:03}", i.plain(), n % 30))
        .collect();
    let compose_dir =
        std::env::temp_dir().join(format!("regpeek-bench-pin-{}", std::process::id()));
    std::fs::create_dir_all(&compose_dir)?;
    let compose = compose_dir.join("compose.yaml");
    let mut text = String::from("services:\n");
    for (n, image) in services.iter().enumerate() {
        text.push_str(&format!("  s{n}:\n    image: {image}\n"));
    }
    std::fs::write(&compose, text)?;
    let compose_arg = compose.display().to_string();
    let pin_cache = compose_dir.join("cache").display().to_string();
    let pin_loop = format!(
        "for r in {}; do skopeo inspect --tls-verify=false --no-tags --format '{{{{.Digest}}}}' docker://$r >/dev/null || exit 1; done",
        services.join(" ")
    );
    let pin_case = (
        "pin 50 services, 30 tags",
        vec![
            Tool {
                name: "skopeo digest loop",
                program: curl.clone(),
                args: vec!["-c".into(), pin_loop],
            },
            regpeek_tool(
                "regpeek pin cold",
                s(&["--no-cache", "pin", "--diff", "--plain-http", &compose_arg]),
            ),
            regpeek_tool(
                "regpeek pin warm",
                s(&[
                    "--cache-dir",
                    &pin_cache,
                    "pin",
                    "--diff",
                    "--plain-http",
                    &compose_arg,
                ]),
            ),
        ],
        runs.min(3),
    );

    // Looking inside without pulling: a file of the top layer, the listing, an eStargz
    // file; against skopeo copying the image to an OCI layout and tar reading it.
    let fs = format!("{}/lab/fs:v1", i.plain());
    let esgz = format!("{}/lab/esgz:v1", i.plain());
    // A 96 MiB layer (incompressible) under a small one, pushed here, not in the seed.
    let big_image = regpeek_lab::image::big_image(96);
    lab.info
        .targets()?
        .plain
        .image("lab/big", &big_image, &["v1"])?;
    let big = format!("{}/lab/big:v1", i.plain());
    let scratch = std::env::temp_dir().join(format!("regpeek-bench-inside-{}", std::process::id()));
    let copy = |image: &str, then: &str| {
        format!(
            "rm -rf {d} && skopeo copy -q --src-tls-verify=false docker://{image} oci:{d}:x >/dev/null && {then}",
            d = scratch.display()
        )
    };
    // The layers of the copy, base first, each through tar (as umoci raw unpack reads them).
    let layers = format!(
        "m=$(grep -o 'sha256:[0-9a-f]*' {d}/index.json | head -1 | cut -d: -f2) && for l in $(grep -o '\"digest\": *\"sha256:[0-9a-f]*' {d}/blobs/sha256/$m | tail -n +2 | grep -o '[0-9a-f]*$'); do tar -tzf {d}/blobs/sha256/$l; done >/dev/null",
        d = scratch.display()
    );
    let inside_case = |name: &'static str, skopeo_then: String, ours: Vec<String>| {
        (
            name,
            vec![
                Tool {
                    name: "skopeo copy + tar",
                    program: curl.clone(),
                    args: vec![
                        "-c".into(),
                        copy(
                            if name.contains("eStargz") {
                                &esgz
                            } else if name.contains("big") {
                                &big
                            } else {
                                &fs
                            },
                            &skopeo_then,
                        ),
                    ],
                },
                regpeek_tool("regpeek", ours),
            ],
            runs.min(3),
        )
    };
    // ls reads every layer: its floor is downloading them (one curl, one connection,
    // the manifest known).
    let ls_case = |name: &'static str, image: &str, repo: &str, img: &regpeek_lab::image::Image| {
        let (name, mut tools, n) = inside_case(
            name,
            layers.clone(),
            s(&["--no-cache", "ls", "--plain-http", image]),
        );
        let urls: Vec<String> = img
            .layers
            .iter()
            .map(|l| format!("http://{}/v2/{repo}/blobs/{}", i.plain(), l.digest))
            .collect();
        tools.push(floor(curl_get(&urls)));
        (name, tools, n)
    };
    let inside = vec![
        inside_case(
            "cat a top-layer file",
            layers.clone(),
            s(&["--no-cache", "cat", "--plain-http", &fs, "/etc/motd"]),
        ),
        ls_case(
            "ls (3 layers)",
            &fs,
            "lab/fs",
            &regpeek_lab::image::fs_image(),
        ),
        inside_case(
            "cat /etc/os-release (lab/fs)",
            layers.clone(),
            s(&["--no-cache", "cat", "--plain-http", &fs, "/etc/os-release"]),
        ),
        inside_case(
            "cat top-layer file, big",
            layers.clone(),
            s(&["--no-cache", "cat", "--plain-http", &big, "/etc/motd"]),
        ),
        inside_case(
            "cat 96 MiB file, big",
            layers.clone(),
            s(&["--no-cache", "cat", "--plain-http", &big, "/opt/big.bin"]),
        ),
        ls_case("ls (big: 96 MiB + 1 layer)", &big, "lab/big", &big_image),
        inside_case(
            "cat an eStargz file",
            layers.clone(),
            s(&["--no-cache", "cat", "--plain-http", &esgz, "/data/big.txt"]),
        ),
    ];

    // Prime the warm cache.
    for args in [
        s(&["--cache-dir", &cache_arg, "inspect", "--plain-http", &rich]),
        s(&[
            "--cache-dir",
            &cache_arg,
            "inspect",
            "--plain-http",
            "--platform",
            "linux/amd64",
            &multi,
        ]),
        s(&["--cache-dir", &cache_arg, "config", "--plain-http", &rich]),
        s(&[
            "--cache-dir",
            &pin_cache,
            "pin",
            "--diff",
            "--plain-http",
            &compose_arg,
        ]),
    ] {
        crate::run(
            Command::new(&regpeek)
                .args(&args)
                .stdout(std::process::Stdio::null()),
        )?;
    }

    println!(
        "RTT {rtt_ms} ms on every client-facing address; median of {runs} runs (1 for the batch); \
         ratios: lower is better\n"
    );
    println!(
        "{:<36} {:<22} {:>5} {:>5} {:>9} {:>9} {:>9} {:>6} {:>9} {:>8} {:>8}",
        "scenario",
        "tool",
        "reqs",
        "conns",
        "mHEAD/GET",
        "KiB down",
        "wall ms",
        "RTTs",
        "/skopeo",
        "/floor",
        "RSS MiB"
    );
    let inventory = inventory::cases(&lab, &regpeek, runs, &compose_dir)?;
    let analysis = analysis::cases(&lab, &regpeek, runs, &compose_dir, &big_image.layers[0])?;
    let http2 = http2::cases(&lab, &regpeek, runs)?;
    for (name, tools, n) in scenarios
        .into_iter()
        .chain([batch_case, pin_case])
        .chain(inside)
        .chain(inventory)
        .chain(analysis)
        .chain(http2)
    {
        // `--only TEXT` (repeated): the rows whose name holds one.
        if !only.is_empty() && !only.iter().any(|o| name.contains(o.as_str())) {
            continue;
        }
        let samples: Vec<(String, Sample)> = tools
            .iter()
            .map(|t| measure(&lab, t, n).map(|s| (t.name.to_owned(), s)))
            .collect::<Result<_>>()?;
        let base = samples
            .iter()
            .find(|(t, _)| t.starts_with("skopeo"))
            .map(|(_, s)| s.median_ms);
        let floor_ms = samples
            .iter()
            .find(|(t, _)| t == "curl floor")
            .map(|(_, s)| s.median_ms);
        for (tool, sample) in &samples {
            let ratio = |b: Option<f64>| {
                b.map_or_else(
                    || "-".to_owned(),
                    |b| format!("{:.2}", sample.median_ms / b),
                )
            };
            println!(
                "{:<36} {:<22} {:>5} {:>5} {:>9} {:>9.1} {:>9.1} {:>6.1} {:>9} {:>8} {:>8.1}",
                name,
                tool,
                sample.requests,
                sample.connections,
                format!("{}/{}", sample.manifests.0, sample.manifests.1),
                sample.bytes as f64 / 1024.0,
                sample.median_ms,
                sample.median_ms / rtt_ms as f64,
                ratio(base),
                ratio(floor_ms),
                sample.max_rss_kib as f64 / 1024.0
            );
        }
    }
    let scale_dir =
        std::env::temp_dir().join(format!("regpeek-bench-scale-{}", std::process::id()));
    std::fs::create_dir_all(&scale_dir)?;
    let scaled = crate::scale::rows(&lab, &regpeek, &sizes, &scale_dir);
    let _ = std::fs::remove_dir_all(&scale_dir);
    let _ = std::fs::remove_dir_all(&cache);
    let _ = std::fs::remove_dir_all(&compose_dir);
    let _ = std::fs::remove_dir_all(&scratch);
    scaled
}
