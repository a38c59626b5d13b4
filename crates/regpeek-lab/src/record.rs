//! Recording a scenario from a real registry: a flow driven through the ureq client,
//! every exchange handed to a scrubbing [`regpeek_replay::Recorder`].

use std::time::SystemTime;

use anyhow::Result;
use regpeek_proto::{Action, TokenCache};
use regpeek_replay::Recorder;
use regpeek_replay::fixture::Scenario;

/// Records a scenario by driving the flow its settings describe against a real
/// registry through `client`, scrubbing every secret.
pub fn record(client: &regpeek_ureq::Client, settings: Vec<(String, String)>) -> Result<Scenario> {
    // The flow gets the real password; the recording keeps only `user:<redacted>`.
    let (mut flow, _) = regpeek_replay::flow(
        &Scenario {
            settings: settings.clone(),
            exchanges: Vec::new(),
        },
        TokenCache::new(),
    )?;
    let mut recorder = Recorder::new(settings);
    loop {
        match flow.poll_action(SystemTime::now()) {
            Action::Done(_) => return Ok(recorder.finish()),
            Action::Wait(until) => {
                std::thread::sleep(until.duration_since(SystemTime::now()).unwrap_or_default());
            }
            Action::Send(send) => {
                let request = recorder.request(&send.request);
                match client.perform(send.request, send.max_body) {
                    Err(failure) => {
                        recorder.failure(
                            request,
                            failure.kind,
                            &format!("{}: {}", failure.kind, failure.source),
                        );
                        flow.handle_transport_error(SystemTime::now(), failure.kind);
                    }
                    Ok(resp) => {
                        recorder.response(request, send.kind, &resp)?;
                        flow.handle_response(SystemTime::now(), resp);
                    }
                }
            }
        }
    }
}
