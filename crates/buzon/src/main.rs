//! `buzon`: one binary for the whole mail system. This file only parses flags, wires the
//! crates together, and maps errors to one-line messages and exit codes; no protocol or
//! storage logic lives here.
//!
//! Exit codes: 0 success; 1 a runtime failure (printed once, with its cause and fix);
//! 2 bad usage or an invalid config file.
#![forbid(unsafe_code)]

mod bench;
mod check;
mod client_args;
mod deliver;
mod dns;
mod fetch;
mod gen_docs;
mod import;
mod migrate;
mod serve;
mod setup;
mod sieve;
mod status;
mod user;
mod user_second;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "buzon",
    version,
    about = "Buzón: a POP3 mail system — server, delivery and retrieval client"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Language of the messages: en or es. Default: from LC_ALL, LC_MESSAGES or LANG
    /// (es_ES.UTF-8, es_MX… → es; anything else → en). --json output never changes.
    #[arg(long, global = true, value_name = "LANG", value_parser = ["en", "es"])]
    lang: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server. Without --config: ./buzon-data, POP3 on 127.0.0.1:1110 (STLS) and
    /// POP3S on 127.0.0.1:1995, and a `demo` user created on first start.
    Serve(serve::ServeArgs),
    /// Manage users in the passwd-file (Dovecot `user:{SCHEME}hash` format).
    User(user::UserArgs),
    /// Deliver one message from stdin to a local user (Postfix `mailbox_command`); exit
    /// codes per sysexits.h: 0 delivered, 67 unknown user, 73 cannot create, 75 try again.
    Deliver(deliver::DeliverArgs),
    /// Check a Sieve script: errors with line and column (exit 2), as delivery would see them.
    Sieve(sieve::SieveArgs),
    /// Measure a POP3 server (this one, Dovecot, any): logins, RETR/TOP throughput, idle
    /// sessions, large mailboxes; and generate the corpus the measurements run on.
    Bench(bench::BenchArgs),
    /// Download new mail from POP3 accounts into a Maildir, an mbox or a delivery program
    /// (exit codes: 0 mail fetched, 1 nothing new, 3–8 failures; see docs/client.md).
    Fetch(fetch::FetchArgs),
    /// Diagnose an account step by step: DNS, TCP, TLS, greeting, CAPA, STLS, login, STAT.
    Check(check::CheckArgs),
    /// Find the POP3 server for an e-mail address and add the account.
    Setup(setup::SetupArgs),
    /// Copy users and mail between stores (Maildir ↔ PostgreSQL), keeping every UIDL,
    /// size, delivery time and folder; resumable, with a checksum per mailbox.
    Migrate(migrate::MigrateArgs),
    /// Copy a mailbox from any POP3 server into a Buzón mailbox, keeping the UIDLs the
    /// old server served (nothing is downloaded twice after the move); resumable.
    Import(import::ImportArgs),
    /// Print the DNS records to publish for a local domain: MX, RFC 6186 SRV records,
    /// the autoconfig/autodiscover names, and an SPF/DMARC reminder.
    Dns(dns::DnsArgs),
    /// Ask the running server whether it is working: uptime, listeners, open POP3
    /// sessions (user, address, TLS, age) and totals, through its admin socket.
    Status(status::StatusArgs),
    /// Check a config file and print the settings it results in.
    CheckConfig {
        /// The config file to check.
        config: PathBuf,
    },
    /// Write the man pages (every command, and buzon.toml(5)) and the bash, zsh and fish
    /// completions under DIR (used to build the packages).
    #[command(hide = true)]
    GenerateDocs {
        /// Where to write man/ and completions/.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

/// jemalloc rather than the C library's allocator: with its background thread (started by
/// `buzon serve`) the memory a burst of sessions took goes back to the system once they
/// end; glibc's per-thread arenas kept most of it (docs/benchmarks.md, memory).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// An error for the user: printed once as `buzon: <message>`, then the exit code.
pub struct Failure {
    pub message: String,
    pub code: u8,
}

impl Failure {
    pub fn runtime(message: impl std::fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            code: 1,
        }
    }
    pub fn usage(message: impl std::fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            code: 2,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    buzon_i18n::set_current(
        cli.lang
            .as_deref()
            .and_then(buzon_i18n::Lang::from_tag)
            .unwrap_or_else(buzon_i18n::Lang::from_env),
    );
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::User(args) => user::run(args),
        Command::Deliver(args) => deliver::run(args),
        Command::Sieve(args) => sieve::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Fetch(args) => fetch::run(args),
        Command::Check(args) => check::run(args),
        Command::Setup(args) => setup::run(args),
        Command::Migrate(args) => migrate::run(args),
        Command::Import(args) => import::run(args),
        Command::Dns(args) => dns::run(args),
        Command::Status(args) => status::run(args),
        Command::GenerateDocs { out } => gen_docs::run(&out),
        Command::CheckConfig { config } => match buzon_server::Config::load(&config) {
            Ok(c) => {
                println!("{} is valid", config.display());
                for l in &c.listeners {
                    println!("  listen {} ({})", l.address, l.kind());
                }
                for l in &c.unix_listeners {
                    println!(
                        "  listen unix:{} ({}, mode {:o})",
                        l.path.display(),
                        l.protocol.name(),
                        l.mode
                    );
                }
                println!("  data_dir {}", c.data_dir.display());
                println!("  users_file {}", c.auth.users_file.display());
                Ok(())
            }
            Err(e) => Err(Failure::usage(e)),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            // An empty message: the command already reported (e.g. fetch's "nothing new").
            if !f.message.is_empty() {
                eprintln!("buzon: {}", f.message);
            }
            ExitCode::from(f.code)
        }
    }
}
