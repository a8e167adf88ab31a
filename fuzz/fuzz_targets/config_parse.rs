//! `Config::parse` (TOML, then validation) on arbitrary text never panics, and every
//! error it returns is one line that names the file, so an administrator can act on it.
#![no_main]

use buzon_server::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Config::parse(text, "fuzz.toml") {
        Ok(config) => {
            // A valid config keeps the limits validation promises.
            assert!(config.limits.max_connections > 0 && config.limits.max_connections_per_ip > 0);
            assert!(config.limits.idle_timeout >= std::time::Duration::from_secs(600));
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("fuzz.toml"), "error without the file name: {msg}");
            assert!(!msg.contains('\n'), "multi-line error: {msg:?}");
        }
    }
});
