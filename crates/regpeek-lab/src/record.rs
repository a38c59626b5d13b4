//! Recording a scenario from a real registry: a flow driven by the ureq client's own
//! loop (`Client::run_observed`), every exchange handed to a scrubbing
//! [`regpeek_replay::Recorder`].

use anyhow::Result;
use regpeek_proto::TokenCache;
use regpeek_replay::Recorder;
use regpeek_replay::fixture::Scenario;

/// Records a scenario by driving the flow its settings describe against a real
/// registry through `client`, scrubbing every secret.
pub fn record(client: &regpeek_ureq::Client, settings: Vec<(String, String)>) -> Result<Scenario> {
    // The flow gets the real password; the recording keeps only `user:<redacted>`.
    let (flow, _) = regpeek_replay::flow(
        &Scenario {
            settings: settings.clone(),
            exchanges: Vec::new(),
        },
        TokenCache::default(),
    )?;
    let mut recorder = Recorder::new(settings);
    let mut failed: Option<anyhow::Error> = None;
    let _ = client.run_observed(flow, &mut |send, reply, _| {
        if failed.is_some() {
            return;
        }
        let request = recorder.request(&send.request);
        match reply {
            Err(failure) => recorder.failure(
                request,
                failure.kind,
                &format!("{}: {}", failure.kind, failure.source),
            ),
            Ok(resp) => {
                if let Err(e) = recorder.response(request, send.kind, resp) {
                    failed = Some(e);
                }
            }
        }
    });
    match failed {
        Some(e) => Err(e),
        None => Ok(recorder.finish()),
    }
}
