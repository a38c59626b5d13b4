#![no_main]
//! Docker `config.json`, containers `auth.json` and `$DOCKER_AUTH_CONFIG`: the CLI's
//! credential lookup, included as a module (it is a binary crate).
use libfuzzer_sys::fuzz_target;

#[allow(dead_code, unused_imports, clippy::all)]
#[path = "../../crates/regpeek-cli/src/creds.rs"]
mod creds;

// How creds.rs reads registry names as typed.
#[allow(dead_code, clippy::all)]
#[path = "../../crates/regpeek-cli/src/names.rs"]
mod names;

// What creds.rs reads its files with.
#[allow(dead_code, clippy::all)]
#[path = "../../crates/regpeek-cli/src/files.rs"]
mod files;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("regpeek-fuzz-creds-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join("config.json"), data);
    let env = creds::Env {
        home: Some(dir.clone()),
        docker_config: Some(dir.clone()),
        auth_file: Some(dir.join("config.json")),
        docker_auth_config: std::str::from_utf8(data).ok().map(str::to_owned),
        // No helper may run: an empty search path and no time to run one.
        helper_timeout: std::time::Duration::ZERO,
        helper_dirs: vec![dir.join("no-helpers")],
        ..creds::Env::default()
    };
    for registry in ["docker.io", "localhost:5000", "quay.io"] {
        if let Err(e) = creds::lookup(registry, "org/app", &env) {
            // Errors never quote the file's content.
            let msg = format!("{e:#}");
            assert!(msg.len() < 4096, "{msg}");
        }
    }
});
