//! `buzon deliver`: a local delivery agent. Reads one message on stdin and files it for one
//! recipient through the same delivery engine as LMTP and SMTP (`buzon_intake`: routing,
//! Sieve, quotas, durable delivery into the configured store). For Postfix's `mailbox_command`, Exim's pipe transport,
//! or procmail-style use.
//!
//! Exit codes follow `sysexits.h`, so the MTA knows whether to retry:
//! 0 delivered (or discarded by the user's own Sieve script); 64 bad usage of --to;
//! 65 message larger than `max_message_size`; 67 unknown user or non-local domain;
//! 73 mailbox cannot be created, or full with `over_quota_reply = "552"`; 75 temporary
//! failure, the MTA retries (disk full, I/O error, over quota with "452", an unreadable
//! config or users file, the PostgreSQL store unreachable); 77 refused by the user's Sieve `reject`.

use buzon_i18n::t;
use std::io::Read;
use std::path::PathBuf;

use buzon_intake::spool::Spool;
use buzon_intake::trace::new_id;
use buzon_intake::{Deliverer, Grouping, Incoming, Outcome, Recipient};
use buzon_server::Config;
use clap::Args;

use crate::Failure;

/// sysexits.h
const EX_USAGE: u8 = 64;
const EX_DATAERR: u8 = 65;
const EX_TEMPFAIL: u8 = 75;

#[derive(Args)]
pub struct DeliverArgs {
    /// The recipient: a user name (`alice`, `alice+lists`) or an address in a local domain
    /// (`alice@example.com`). Aliases and sub-addressing apply.
    #[arg(long)]
    to: String,
    /// The envelope sender, recorded in Return-Path. Default: $SENDER (set by Postfix).
    #[arg(long, env = "SENDER")]
    from: Option<String>,
    /// Config file (TOML). Without it: the embedded default with --data-dir.
    #[arg(long, short, conflicts_with = "data_dir")]
    config: Option<PathBuf>,
    /// Data folder of the embedded default configuration.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Log filter for messages on stderr (also RUST_LOG).
    #[arg(long, env = "RUST_LOG", default_value = "warn")]
    log: String,
}

fn fail(code: u8, message: impl std::fmt::Display) -> Failure {
    Failure {
        message: message.to_string(),
        code,
    }
}

pub fn run(args: DeliverArgs) -> Result<(), Failure> {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();

    // A broken config is the administrator's to fix: the MTA keeps the mail meanwhile.
    let config = match &args.config {
        Some(path) => Config::load(path).map_err(|e| {
            fail(
                EX_TEMPFAIL,
                t!("deliver-will-retry", reason = e.to_string()),
            )
        })?,
        None => Config::embedded_default(
            &args
                .data_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("./buzon-data")),
        ),
    };
    // The PostgreSQL store blocks on a multi-threaded runtime: connect inside it, then
    // deliver from this thread, outside `block_on` (one worker drives the connections).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| {
            fail(
                EX_TEMPFAIL,
                t!(
                    "deliver-will-retry",
                    reason = t!("cli-no-runtime", reason = e.to_string())
                ),
            )
        })?;
    let stores = runtime
        .block_on(buzon_server::open_stores(&config))
        .map_err(|e| {
            fail(
                EX_TEMPFAIL,
                t!("deliver-will-retry", reason = e.to_string()),
            )
        })?;
    let deliverer = Deliverer::with_users(
        &config.delivery,
        stores.users,
        &config.smtp.hostname,
        stores.delivery,
    )
    .map_err(|e| {
        fail(
            EX_TEMPFAIL,
            t!("deliver-will-retry", reason = e.to_string()),
        )
    })?;

    let to = args.to.trim();
    if to.is_empty()
        || to.contains(|c: char| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
    {
        return Err(fail(EX_USAGE, t!("deliver-bad-to", to = format!("{to:?}"))));
    }
    let (local, domain) = match to.rsplit_once('@') {
        Some((l, d)) => (l, Some(d)),
        None => (to, None),
    };
    let users = deliverer
        .check_recipient(local, domain, None)
        .map_err(|f| fail(f.exit_code(), format!("{to}: {f}")))?;

    let spool = read_message(&deliverer)?;
    let from = args.from.unwrap_or_default();
    let return_path = from.trim().trim_start_matches('<').trim_end_matches('>');
    if return_path.contains(|c: char| c.is_control()) {
        return Err(fail(EX_USAGE, t!("deliver-from-control")));
    }
    let id = new_id();
    let msg = Incoming {
        spool: &spool,
        id: &id,
        return_path,
        received: None,
    };
    let recipients = [Recipient {
        address: to.to_string(),
        users,
    }];
    match deliverer
        .deliver(&msg, &recipients, Grouping::PerRecipient)
        .into_iter()
        .next()
    {
        Some(Outcome::Delivered { .. }) => Ok(()),
        Some(Outcome::Failed(f)) => Err(fail(f.exit_code(), format!("{to}: {f}"))),
        None => Err(fail(EX_TEMPFAIL, t!("deliver-no-outcome"))),
    }
}

/// Reads stdin into a spool, dropping a leading mbox `From ` line (MTAs prepend one when
/// they run a delivery command).
fn read_message(deliverer: &Deliverer) -> Result<Spool, Failure> {
    let max = deliverer.max_message_size();
    let mut spool = Spool::new(deliverer.spool_dir());
    let mut stdin = std::io::stdin().lock();
    let mut buf = vec![0u8; 64 * 1024];
    let mut first_line: Option<Vec<u8>> = Some(Vec::new());
    // Reading stdin or spooling failed: nothing was stored, the MTA retries.
    let io_err = |e: std::io::Error| {
        fail(
            EX_TEMPFAIL,
            t!("deliver-cannot-spool", reason = e.to_string()),
        )
    };
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err(e)),
        };
        let mut chunk = &buf[..n];
        let joined;
        if let Some(mut head) = first_line.take() {
            head.extend_from_slice(chunk);
            match head.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    let skip = if head.starts_with(b"From ") { i + 1 } else { 0 };
                    joined = head[skip..].to_vec();
                    chunk = &joined;
                }
                None if head.len() < 4096 => {
                    first_line = Some(head);
                    continue;
                }
                None => {
                    joined = head;
                    chunk = &joined;
                }
            }
        }
        spool.write(chunk).map_err(io_err)?;
        if spool.wire_size() > max {
            return Err(fail(EX_DATAERR, t!("deliver-too-large", max = max)));
        }
    }
    if let Some(head) = first_line {
        // The whole input was one line without a line end.
        if !head.starts_with(b"From ") {
            spool.write(&head).map_err(io_err)?;
        }
    }
    spool.finish().map_err(io_err)?;
    Ok(spool)
}
