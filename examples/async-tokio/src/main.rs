//! `regpeek-async-example HOST:PORT REPO:TAG…`: inspects every reference on a plain-http
//! registry concurrently on one tokio thread, sharing one connection pool, and prints
//! `reference digest` lines in input order.

use regpeek_proto::{Flow, Goal, Options, Platform, Reference, Security, TokenCache};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((registry, refs)) = args.split_first() else {
        eprintln!("usage: regpeek-async-example HOST:PORT REPO:TAG…");
        return std::process::ExitCode::from(2);
    };
    let client = regpeek_async_example::client();
    let flows = refs.iter().map(|r| {
        let client = &client;
        async move {
            let reference = Reference::parse(&format!("{registry}/{r}"))?;
            let mut options = Options::new(Goal::Inspect(Platform::new("linux", "amd64", None)));
            options.security = Security::Http;
            let flow = Flow::new(reference, options, TokenCache::default());
            let (outcome, _) = regpeek_async_example::run(client, flow).await;
            Ok::<_, Box<dyn std::error::Error>>(outcome?.into_image()?.digest)
        }
    });
    let mut failed = false;
    for (r, result) in refs
        .iter()
        .zip(regpeek_async_example::join_all(flows).await)
    {
        match result {
            Ok(digest) => println!("{r} {digest}"),
            Err(e) => {
                eprintln!("{r}: {e}");
                failed = true;
            }
        }
    }
    std::process::ExitCode::from(u8::from(failed))
}
