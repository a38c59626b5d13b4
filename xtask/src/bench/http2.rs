//! The HTTP/2 rows of `cargo xtask bench` (issue 27's targets): a batch of 200
//! references over TLS (150 on distribution's own TLS with Basic auth, 50 on the token
//! registry's nginx TLS front), both speaking HTTP/2, beside a skopeo loop, regpeek
//! over HTTP/1.1, and a curl floor (`--parallel --http2`: only the necessary requests,
//! multiplexed on one connection per host); and one cold inspect over TLS, HTTP/2
//! against HTTP/1.1, each beside its own curl floor.

use anyhow::Result;
use regpeek_lab::Lab;

use super::{ACCEPT, Case, Tool};

/// The rows.
pub fn cases(lab: &Lab, regpeek: &std::path::Path, runs: usize) -> Result<Vec<Case>> {
    let i = &lab.info;
    let ca = i.ca_file().display().to_string();
    let creds = i.creds();
    let basic = i.basic();
    let front = i.token_tls();
    let rich = regpeek_lab::image::rich();
    let tags = regpeek_lab::image::many_tag_names();
    // The seed gives the Basic registry no `lab/many-tags`: pushed here, as the bench
    // pushes `lab/big`.
    let names: Vec<&str> = tags.iter().map(String::as_str).collect();
    i.targets()?.basic.image("lab/many-tags", &rich, &names)?;
    let on_basic: Vec<String> = tags
        .iter()
        .map(|t| format!("{basic}/lab/many-tags:{t}"))
        .collect();
    let on_front: Vec<String> = tags[..50]
        .iter()
        .map(|t| format!("{front}/public/many-tags:{t}"))
        .collect();
    let sh = |name: &'static str, script: String| Tool {
        name,
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script],
    };
    let ours = |name: &'static str, args: Vec<String>| Tool {
        name,
        program: regpeek.to_owned(),
        args,
    };

    let skopeo_loop = format!(
        "for r in {}; do skopeo inspect --tls-verify=false --no-tags --creds '{creds}' docker://$r >/dev/null || exit 1; done; \
         for r in {}; do skopeo inspect --tls-verify=false --no-tags docker://$r >/dev/null || exit 1; done",
        on_basic.join(" "),
        on_front.join(" ")
    );
    // The floor: each registry's manifests and its one config (all tags are lab/rich),
    // multiplexed on one connection per host; the two registries at once.
    let manifests = |host: &str, repo: &str, tags: &[String]| -> String {
        tags.iter()
            .map(|t| format!(" -o /dev/null 'https://{host}/v2/{repo}/manifests/{t}'"))
            .collect()
    };
    let config = |host: &str, repo: &str| {
        format!(
            " -o /dev/null 'https://{host}/v2/{repo}/blobs/{}'",
            rich.config.digest
        )
    };
    let curl = format!("curl -sfL --parallel --parallel-max 200 --cacert {ca} -H '{ACCEPT}'");
    let token_url =
        format!("https://{front}/token?service=regpeek-lab&scope=repository:public/many-tags:pull");
    let floor = |http: &str| {
        format!(
            "{curl} {http} -u '{creds}' {} {} & \
             t=$(curl -sf --cacert {ca} '{token_url}' | sed 's/.*\"token\":\"\\([^\"]*\\)\".*/\\1/') && \
             {curl} {http} -H \"Authorization: Bearer $t\" {} {}; wait",
            manifests(&basic, "lab/many-tags", &tags),
            config(&basic, "lab/many-tags"),
            manifests(&front, "public/many-tags", &tags[..50]),
            config(&front, "public/many-tags"),
        )
    };
    let mut batch = vec![
        "--no-cache".to_owned(),
        "inspect".into(),
        "--ca-file".into(),
        ca.clone(),
        "--creds-for".into(),
        format!("{basic}={creds}"),
    ];
    batch.extend(on_basic.iter().cloned());
    batch.extend(on_front.iter().cloned());
    let mut batch_h1 = batch.clone();
    batch_h1.extend(["--http".into(), "1.1".into()]);

    let single = format!("{basic}/lab/rich:v1");
    let single_args = |http: &str| {
        vec![
            "--no-cache".to_owned(),
            "inspect".into(),
            "--ca-file".into(),
            ca.clone(),
            "--creds".into(),
            creds.clone(),
            "--http".into(),
            http.into(),
            single.clone(),
        ]
    };
    let single_floor = |http: &str| {
        format!(
            "curl -sfL --cacert {ca} {http} -u '{creds}' -H '{ACCEPT}' -o /dev/null 'https://{basic}/v2/lab/rich/manifests/v1' -o /dev/null 'https://{basic}/v2/lab/rich/blobs/{}'",
            rich.config.digest
        )
    };
    Ok(vec![
        (
            "batch of 200 over TLS (HTTP/2)",
            vec![
                sh("skopeo loop --no-tags", skopeo_loop),
                sh("curl floor", floor("--http2")),
                ours("regpeek, one call", batch),
                ours("regpeek --http 1.1", batch_h1),
            ],
            1,
        ),
        (
            "single inspect, TLS, HTTP/2",
            vec![
                sh("curl floor", single_floor("--http2")),
                ours("regpeek cold", single_args("2")),
            ],
            runs,
        ),
        (
            "single inspect, TLS, HTTP/1.1",
            vec![
                sh("curl floor", single_floor("--http1.1")),
                ours("regpeek cold", single_args("1.1")),
            ],
            runs,
        ),
    ])
}
