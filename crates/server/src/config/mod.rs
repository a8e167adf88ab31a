//! Configuration in two steps: plain serde structs parsed from TOML ([`FileConfig`], in
//! `file`), then [`FileConfig::validate`] (in `validate`, one function per section) into
//! the runtime [`Config`] (in `runtime`), whose errors ([`ConfigError`], in `error`) say
//! what is wrong, where (key and line, from the TOML parser's spans) and how to fix it.
//! Every key, with its default, is documented in `docs/buzon.sample.toml`; keep the two in
//! step.

use std::path::Path;

mod error;
mod file;
mod runtime;
mod validate;

pub use error::{ConfigError, LineRef};
pub use file::*;
pub use runtime::*;

/// Durations and sizes have one meaning for the server and the client.
pub use buzon_units::{parse_duration, parse_size_with};

impl Config {
    /// The zero-config setup `buzon serve` uses without a file.
    pub fn embedded_default(data_dir: &Path) -> Config {
        // The embedded defaults are valid by construction; a failure here is a bug that a
        // unit test catches.
        FileConfig::default()
            .validate("(defaults)", "", Some(data_dir))
            .unwrap_or_else(|e| panic!("embedded defaults invalid: {e}"))
    }

    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses config text; `origin` names it in messages.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let file: FileConfig =
            toml::from_str(text).map_err(|e| ConfigError::syntax(origin, text, &e))?;
        file.validate(origin, text, None)
    }
}

#[cfg(test)]
mod tests;
