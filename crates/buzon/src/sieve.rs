//! `buzon sieve check FILE`: compiles a Sieve script the way delivery will, and reports
//! the first error with its line and column, so a user can fix a script before mail
//! depends on it (a script that does not compile makes delivery fall back to INBOX).

use buzon_i18n::t;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::Failure;

#[derive(Args)]
pub struct SieveArgs {
    #[command(subcommand)]
    command: SieveCommand,
}

#[derive(Subcommand)]
enum SieveCommand {
    /// Compile a script and report errors as FILE:LINE:COLUMN: message (exit 2 if any).
    Check {
        /// The script, e.g. ./buzon-data/sieve/alice.sieve.
        file: PathBuf,
    },
}

pub fn run(args: SieveArgs) -> Result<(), Failure> {
    match args.command {
        SieveCommand::Check { file } => check(&file),
    }
}

fn check(file: &std::path::Path) -> Result<(), Failure> {
    let bytes = std::fs::read(file).map_err(|e| {
        Failure::runtime(t!(
            "sieve-cannot-read",
            path = file.display().to_string(),
            reason = e.to_string()
        ))
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Failure::usage(t!(
            "sieve-not-utf8",
            path = file.display().to_string(),
            byte = e.utf8_error().valid_up_to()
        ))
    })?;
    match buzon_sieve::compile(&text) {
        Ok(_) => {
            println!("{}", t!("sieve-valid", path = file.display().to_string()));
            Ok(())
        }
        Err(e) => Err(Failure::usage(format!(
            "{}:{}:{}: {}",
            file.display(),
            e.line,
            e.column,
            e.message
        ))),
    }
}
