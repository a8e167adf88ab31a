//! `buzon fetch`: download new mail from one account into its destination, with no loss
//! and no duplicates.
//!
//! # The safety protocol
//!
//! For every message: RETR → store durably → record in the ledger durably → DELE (only
//! when the policy says so) → … → QUIT. The server deletes nothing before QUIT
//! (RFC 1939 §6), so an interruption at any instant leaves every message either
//! (a) not stored — still on the server, fetched next run; or (b) stored and recorded —
//! skipped next run, and deleted then if the policy says so; or (c) stored but not
//! recorded — found again by its destination trace (see [`crate::deliver`]) and recorded
//! without a second copy.
//!
//! Without UIDL (delete policy only) nothing identifies a message across sessions: two
//! byte-identical messages are two messages. Like fetchmail and mpop, every message on
//! the server is then fetched, stored and deleted; a run interrupted after storing and
//! before the server confirmed QUIT stores those messages again next time (at least
//! once, never lost).
//!
//! Messages are streamed: into the Maildir's `tmp/` file as they arrive, or (mbox,
//! delivery program) into a private spool file first, so memory stays bounded whatever
//! the size. Only `max_size` limits what is downloaded.
//!
//! `[IN-USE]` and `[LOGIN-DELAY]` end the run with an explanation; nothing retries in a loop.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use buzon_pop3_proto::{Command, MsgNum, Secret, StatusLine};
use sha2::{Digest, Sha256};

use crate::config::{Account, Oversize, Retention};
use crate::deliver::{self, Destination, MboxLock, Outcome};
use crate::error::{ClientError, Result};
use crate::ledger::{Entry, Ledger};
use crate::net::Resolver;
use crate::pop3::{server_error, Pop3Client};

/// Points in the safety protocol, for observers (tests halt the process there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Checkpoint {
    AfterRetr,
    AfterStore,
    AfterRecord,
    AfterDele,
    BeforeQuit,
}

impl Checkpoint {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "after-retr" => Checkpoint::AfterRetr,
            "after-store" => Checkpoint::AfterStore,
            "after-record" => Checkpoint::AfterRecord,
            "after-dele" => Checkpoint::AfterDele,
            "before-quit" => Checkpoint::BeforeQuit,
            _ => return None,
        })
    }
}

/// Receives progress. All methods have empty defaults.
pub trait Observer {
    /// The plan is known: `messages` to download, `bytes` in total.
    fn start(&mut self, _account: &str, _messages: u64, _bytes: u64) {}
    /// One message was stored.
    fn stored(&mut self, _bytes: u64) {}
    /// Something the user should know (recovered messages, deferred deliveries…).
    fn note(&mut self, _text: &str) {}
    /// A point of the safety protocol was reached for the `seq`-th message (1-based).
    fn checkpoint(&mut self, _point: Checkpoint, _seq: u32) {}
}

/// An observer that ignores everything.
pub struct Quiet;
impl Observer for Quiet {}

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    pub ledger_dir: PathBuf,
    /// List what would be done, change nothing.
    pub dry_run: bool,
    /// "Now" for `delete_after_days` (injectable for tests).
    pub now: SystemTime,
    /// How long a delivery program may run.
    pub mda_timeout: Duration,
    /// Overrides the account's per-run limit.
    pub limit: Option<u32>,
}

impl FetchOptions {
    pub fn new(ledger_dir: impl Into<PathBuf>) -> Self {
        Self {
            ledger_dir: ledger_dir.into(),
            dry_run: false,
            now: SystemTime::now(),
            mda_timeout: Duration::from_secs(300),
            limit: None,
        }
    }
}

/// What the run did (or, with `dry_run`, would do) to one message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Planned {
    pub msg: u32,
    pub uidl: Option<String>,
    pub size: u64,
    pub action: &'static str,
    pub reason: String,
}

/// The result of one run for one account.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FetchReport {
    pub account: String,
    pub on_server: u64,
    /// Messages stored in this run.
    pub fetched: u64,
    pub bytes: u64,
    /// Messages the server confirmed deleted (QUIT answered +OK).
    pub deleted: u64,
    pub skipped_too_big: u64,
    pub headers_only: u64,
    /// Delivery program asked to try later.
    pub deferred: u64,
    /// Found stored-but-unrecorded from an interrupted run, recorded now without a copy.
    pub recovered: u64,
    /// New messages left for the next run because of the per-run limit.
    pub left_by_limit: u64,
    pub notes: Vec<String>,
    pub plan: Vec<Planned>,
}

impl FetchReport {
    /// "3 new messages, 1.2 MB, 2 deleted on server".
    pub fn summary(&self) -> String {
        let mut parts = vec![match self.fetched {
            0 => "no new messages".to_string(),
            1 => format!("1 new message, {}", human_bytes(self.bytes)),
            n => format!("{n} new messages, {}", human_bytes(self.bytes)),
        }];
        if self.deleted > 0 {
            parts.push(format!("{} deleted on server", self.deleted));
        }
        if self.skipped_too_big > 0 {
            parts.push(format!("{} too big, left on server", self.skipped_too_big));
        }
        if self.headers_only > 0 {
            parts.push(format!("{} stored as header only", self.headers_only));
        }
        if self.deferred > 0 {
            parts.push(format!(
                "{} deferred by the delivery program",
                self.deferred
            ));
        }
        if self.recovered > 0 {
            parts.push(format!(
                "{} recovered from an interrupted run",
                self.recovered
            ));
        }
        if self.left_by_limit > 0 {
            parts.push(format!(
                "{} left for the next run (limit)",
                self.left_by_limit
            ));
        }
        parts.join(", ")
    }
}

/// A failed run: the error and what had been done before it.
#[derive(Debug)]
pub struct FetchError {
    pub error: ClientError,
    pub partial: FetchReport,
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

/// 1.2 MB style (decimal units).
pub fn human_bytes(b: u64) -> String {
    if b < 1000 {
        format!("{b} B")
    } else if b < 1_000_000 {
        format!("{:.1} kB", b as f64 / 1e3)
    } else if b < 1_000_000_000 {
        format!("{:.1} MB", b as f64 / 1e6)
    } else {
        format!("{:.1} GB", b as f64 / 1e9)
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Connects and logs in to the account's server.
pub async fn login(
    account: &Account,
    password: &Secret,
    resolver: &Resolver,
) -> Result<Pop3Client> {
    let mut c = Pop3Client::connect(&account.server, resolver).await?;
    match c
        .login(
            &account.user,
            password,
            account.auth,
            account.allow_plaintext,
        )
        .await
    {
        Ok(_) => Ok(c),
        Err(ClientError::LoginDelay { host, text, .. }) => {
            let policy = c
                .capabilities()
                .and_then(|caps| caps.args("LOGIN-DELAY"))
                .and_then(|a| a.first())
                .map(|s| format!("; this server allows one login every {s} seconds"))
                .unwrap_or_default();
            Err(ClientError::LoginDelay { host, text, policy })
        }
        Err(e) => Err(e),
    }
}

enum Step {
    Fetch { headers_only: bool, upgrade: bool },
    Delete(String),
    Keep(String),
    Skip(String),
    Recovered,
}

struct Msg {
    n: MsgNum,
    size: u64,
    uidl: Option<String>,
}

/// Runs one fetch for `account`.
pub async fn fetch(
    account: &Account,
    password: &Secret,
    resolver: &Resolver,
    opts: &FetchOptions,
    observer: &mut dyn Observer,
) -> std::result::Result<FetchReport, FetchError> {
    let mut report = FetchReport {
        account: account.name.clone(),
        ..Default::default()
    };
    // Boxed: the state machine is large, and callers may poll it on a small stack.
    match Box::pin(run(
        account,
        password,
        resolver,
        opts,
        observer,
        &mut report,
    ))
    .await
    {
        Ok(()) => Ok(report),
        Err(error) => Err(FetchError {
            error,
            partial: report,
        }),
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ClientError::Config(format!("internal: a storage task failed: {e}")))
}

async fn run(
    account: &Account,
    password: &Secret,
    resolver: &Resolver,
    opts: &FetchOptions,
    observer: &mut dyn Observer,
    report: &mut FetchReport,
) -> Result<()> {
    let ledger_dir = opts.ledger_dir.clone();
    let name = account.name.clone();
    let mut ledger = blocking(move || Ledger::open(&ledger_dir, &name)).await??;
    let mut client = login(account, password, resolver).await?;
    let sizes = client.list().await?;
    let uidls = client.uidl().await?;
    if uidls.is_none() && account.policy.retention != Retention::Delete {
        return Err(ClientError::KeepNeedsUidl {
            host: account.server.host.clone(),
        });
    }
    let uidl_of: HashMap<MsgNum, String> = uidls
        .iter()
        .flatten()
        .map(|(n, u)| (*n, u.as_str().to_string()))
        .collect();
    let msgs: Vec<Msg> = sizes
        .iter()
        .map(|(n, size)| Msg {
            n: *n,
            size: *size,
            uidl: uidl_of.get(n).cloned(),
        })
        .collect();
    report.on_server = msgs.len() as u64;

    // Recovery of interrupted runs: mbox appends begun, and Maildir files stored but not
    // recorded.
    if !opts.dry_run {
        ledger = recover_mbox(account, ledger, observer, report).await?;
    }
    let unknown = msgs.iter().any(|m| {
        m.uidl
            .as_deref()
            .is_none_or(|u| !matches!(ledger.get(u), Some(Entry::Stored { .. })))
    });
    let tags = match (&account.destination, unknown) {
        (Destination::Maildir(dir), true) => {
            let dir = dir.clone();
            blocking(move || deliver::maildir_tags(&dir)).await??
        }
        _ => HashMap::new(),
    };

    // The plan.
    let now = unix(opts.now);
    let limit = opts.limit.or(account.policy.limit);
    let mut new_count = 0u32;
    let mut plan: Vec<(usize, Step)> = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let entry = m.uidl.as_deref().and_then(|u| ledger.get(u));
        let step = match entry {
            Some(Entry::Stored {
                first_seen,
                headers_only: false,
                ..
            }) => match account.policy.retention {
                Retention::Delete => {
                    Step::Delete("downloaded before; the policy deletes after download".into())
                }
                Retention::Keep => Step::Keep("downloaded before; keep = true".into()),
                Retention::DeleteAfterDays(d) => {
                    let age_days = now.saturating_sub(*first_seen) / 86_400;
                    if age_days >= u64::from(d) {
                        Step::Delete(format!(
                            "downloaded {age_days} days ago; delete_after_days = {d}"
                        ))
                    } else {
                        Step::Keep(format!(
                            "downloaded {age_days} days ago; deleted on the server after {d}"
                        ))
                    }
                }
            },
            Some(Entry::Stored {
                headers_only: true, ..
            }) if account.policy.max_size.is_none_or(|max| m.size <= max) => Step::Fetch {
                headers_only: false,
                upgrade: true,
            },
            Some(Entry::Stored {
                headers_only: true, ..
            }) => Step::Keep("header stored before; too big to download".into()),
            _ if m
                .uidl
                .as_deref()
                .is_some_and(|u| tags.contains_key(&deliver::maildir_tag(&account.name, u))) =>
            {
                Step::Recovered
            }
            _ => match account.policy.max_size {
                Some(max) if m.size > max => match account.policy.oversize {
                    Oversize::Skip => Step::Skip(format!(
                        "{} is larger than max_size ({})",
                        human_bytes(m.size),
                        human_bytes(max)
                    )),
                    // The header would be stored again at every run: nothing tells that
                    // it is the same message.
                    Oversize::Headers if m.uidl.is_none() => Step::Skip(format!(
                        "{} is larger than max_size ({}); storing only its header needs UIDL, which this server lacks",
                        human_bytes(m.size),
                        human_bytes(max)
                    )),
                    Oversize::Headers => Step::Fetch {
                        headers_only: true,
                        upgrade: false,
                    },
                },
                _ => Step::Fetch {
                    headers_only: false,
                    upgrade: false,
                },
            },
        };
        let step = match step {
            Step::Fetch { .. } if limit.is_some_and(|l| new_count >= l) => {
                report.left_by_limit += 1;
                Step::Keep("per-run limit reached; fetched next run".into())
            }
            Step::Fetch {
                headers_only,
                upgrade,
            } => {
                new_count += 1;
                Step::Fetch {
                    headers_only,
                    upgrade,
                }
            }
            s => s,
        };
        plan.push((i, step));
    }
    for (i, step) in &plan {
        let m = &msgs[*i];
        let (action, reason) = match step {
            Step::Fetch {
                headers_only: true, ..
            } => (
                "fetch-headers",
                "larger than max_size; only the header is stored, the message stays on the server"
                    .to_string(),
            ),
            Step::Fetch { upgrade: true, .. } => (
                "fetch",
                "only the header was stored before; it now fits max_size".into(),
            ),
            Step::Fetch { .. } => (
                "fetch",
                match account.policy.retention {
                    Retention::Delete => "new; deleted on the server after it is stored".into(),
                    _ => "new; a copy stays on the server".into(),
                },
            ),
            Step::Delete(r) => ("delete", r.clone()),
            Step::Keep(r) => ("keep", r.clone()),
            Step::Skip(r) => ("skip", r.clone()),
            Step::Recovered => (
                "record",
                "stored by an interrupted run; recorded now, not stored again".into(),
            ),
        };
        report.plan.push(Planned {
            msg: m.n.get(),
            uidl: m.uidl.clone(),
            size: m.size,
            action,
            reason,
        });
    }
    if opts.dry_run {
        let _ = client.quit().await;
        return Ok(());
    }

    let total_bytes: u64 = plan
        .iter()
        .filter(|(_, s)| matches!(s, Step::Fetch { .. }))
        .map(|(i, _)| msgs[*i].size)
        .sum();
    observer.start(&account.name, u64::from(new_count), total_bytes);

    let pipelining = client.pipelining();
    let mut pending_dele: Option<MsgNum> = None;
    let mut dele_count = 0u64;
    let mut seq = 0u32;
    for (i, step) in plan {
        let m = &msgs[i];
        match step {
            Step::Keep(_) => {}
            Step::Skip(_) => report.skipped_too_big += 1,
            Step::Delete(_) => {
                flush_dele(&mut client, &mut pending_dele, &mut dele_count).await?;
                queue_dele(
                    &mut client,
                    &mut pending_dele,
                    &mut dele_count,
                    m.n,
                    pipelining,
                )
                .await?;
            }
            Step::Recovered => {
                let uidl = m.uidl.clone().unwrap_or_default();
                let tag = deliver::maildir_tag(&account.name, &uidl);
                let loc = tags
                    .get(&tag)
                    .map(|p| format!("maildir:{}", p.display()))
                    .unwrap_or_default();
                ledger = record(ledger, uidl.clone(), now, false, loc).await?;
                report.recovered += 1;
                observer.note(&format!(
                    "message {} ({uidl}) was stored by an interrupted run; recorded now",
                    m.n
                ));
                if account.policy.retention == Retention::Delete {
                    queue_dele(
                        &mut client,
                        &mut pending_dele,
                        &mut dele_count,
                        m.n,
                        pipelining,
                    )
                    .await?;
                }
            }
            Step::Fetch { headers_only, .. } => {
                seq += 1;
                let cmd = if headers_only {
                    Command::Top(m.n, 0)
                } else {
                    Command::Retr(m.n)
                };
                // With PIPELINING the DELE of the previous message travels with this RETR.
                match pending_dele.take() {
                    Some(d) if pipelining => {
                        client.send_all(&[Command::Dele(d), cmd.clone()]).await?;
                        read_dele(&mut client, &mut dele_count).await?;
                        observer.checkpoint(Checkpoint::AfterDele, seq - 1);
                    }
                    Some(d) => {
                        client.send(&Command::Dele(d)).await?;
                        read_dele(&mut client, &mut dele_count).await?;
                        client.send(&cmd).await?;
                    }
                    None => client.send(&cmd).await?,
                }
                match client.reply().await? {
                    StatusLine::Ok { .. } => {}
                    StatusLine::Err { code, text } => {
                        return Err(server_error(client.host(), cmd.keyword(), code, text))
                    }
                    StatusLine::Continue(_) => {
                        return Err(ClientError::Protocol {
                            host: client.host().into(),
                            command: cmd.keyword().into(),
                            detail: "unexpected continuation".into(),
                        })
                    }
                }
                let key = match &m.uidl {
                    Some(u) => u.clone(),
                    // Without UIDL a key for this run only (see the module documentation).
                    None => format!("{NO_UIDL_PREFIX}{now}-{}", m.n),
                };
                let was_pending_mda = matches!(ledger.get(&key), Some(Entry::MdaPending));
                if was_pending_mda {
                    let note = format!(
                        "message {} ({key}) was handed to the delivery program by an interrupted run; delivering it again (it may arrive twice)",
                        m.n
                    );
                    observer.note(&note);
                    report.notes.push(note);
                }
                let (l, outcome, bytes) = retrieve_and_store(
                    &mut client,
                    cmd.keyword(),
                    account,
                    ledger,
                    key.clone(),
                    opts,
                    now,
                    || observer.checkpoint(Checkpoint::AfterRetr, seq),
                )
                .await?;
                ledger = l;
                match outcome {
                    Outcome::Deferred(reason) => {
                        report.deferred += 1;
                        observer.note(&reason);
                        report.notes.push(format!("message {}: {reason}", m.n));
                        continue;
                    }
                    Outcome::Stored(loc) => {
                        observer.checkpoint(Checkpoint::AfterStore, seq);
                        ledger = record(ledger, key.clone(), now, headers_only, loc).await?;
                        observer.checkpoint(Checkpoint::AfterRecord, seq);
                    }
                }
                report.fetched += 1;
                report.bytes += bytes;
                if headers_only {
                    report.headers_only += 1;
                }
                observer.stored(m.size);
                if !headers_only && account.policy.retention == Retention::Delete {
                    queue_dele(
                        &mut client,
                        &mut pending_dele,
                        &mut dele_count,
                        m.n,
                        pipelining,
                    )
                    .await?;
                    if !pipelining {
                        observer.checkpoint(Checkpoint::AfterDele, seq);
                    }
                }
            }
        }
    }
    flush_dele(&mut client, &mut pending_dele, &mut dele_count).await?;
    if seq > 0 && dele_count > 0 {
        observer.checkpoint(Checkpoint::AfterDele, seq);
    }
    observer.checkpoint(Checkpoint::BeforeQuit, seq);
    client.quit().await?;
    report.deleted = dele_count;
    {
        // Without UIDL the keys were for this run only and go; entries of earlier runs
        // with UIDL stay (a server whose UIDL failed once must not wipe the ledger).
        let on_server: HashSet<String> = match &uidls {
            Some(_) => msgs.iter().filter_map(|m| m.uidl.clone()).collect(),
            None => ledger
                .entries()
                .map(|(k, _)| k)
                .filter(|k| !k.starts_with(NO_UIDL_PREFIX))
                .map(str::to_string)
                .collect(),
        };
        blocking(move || {
            let set: HashSet<&str> = on_server.iter().map(String::as_str).collect();
            ledger.prune(&set)
        })
        .await??;
    }
    Ok(())
}

/// Without pipelining DELE is sent at once; with it, it waits to travel with the next command.
async fn queue_dele(
    client: &mut Pop3Client,
    pending: &mut Option<MsgNum>,
    count: &mut u64,
    n: MsgNum,
    pipelining: bool,
) -> Result<()> {
    if pipelining {
        flush_dele(client, pending, count).await?;
        *pending = Some(n);
        Ok(())
    } else {
        client.send(&Command::Dele(n)).await?;
        read_dele(client, count).await
    }
}

async fn flush_dele(
    client: &mut Pop3Client,
    pending: &mut Option<MsgNum>,
    count: &mut u64,
) -> Result<()> {
    if let Some(d) = pending.take() {
        client.send(&Command::Dele(d)).await?;
        read_dele(client, count).await?;
    }
    Ok(())
}

async fn read_dele(client: &mut Pop3Client, count: &mut u64) -> Result<()> {
    match client.reply().await? {
        StatusLine::Ok { .. } => {
            *count += 1;
            Ok(())
        }
        StatusLine::Err { code, text } => Err(server_error(client.host(), "DELE", code, text)),
        StatusLine::Continue(_) => Err(ClientError::Protocol {
            host: client.host().into(),
            command: "DELE".into(),
            detail: "unexpected continuation".into(),
        }),
    }
}

async fn record(
    mut ledger: Ledger,
    key: String,
    now: u64,
    headers_only: bool,
    loc: String,
) -> Result<Ledger> {
    blocking(move || {
        ledger
            .record_stored(&key, now, headers_only, &loc)
            .map(|()| ledger)
    })
    .await?
}

/// Ledger keys of messages of a server without UIDL start with this (a UIDL is at most 70
/// printable characters and could start with it too, but then the server has UIDL and
/// these keys are never made).
const NO_UIDL_PREFIX: &str = "nouidl-";

/// A piece of a message on its way from the network to the storage thread.
enum Chunk {
    Data(Vec<u8>),
    /// The whole message arrived (the ".\r\n" terminator was read).
    End,
}

/// The storage thread's view of a message being downloaded. A message is complete only
/// after [`Chunk::End`]: if the download stops first (connection lost, run cancelled),
/// reading fails, so nothing half-received is ever committed.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Chunk>,
    cur: Vec<u8>,
    pos: usize,
    done: bool,
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.pos < self.cur.len() {
                let n = buf.len().min(self.cur.len() - self.pos);
                buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            if self.done {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Chunk::Data(d)) => {
                    self.cur = d;
                    self.pos = 0;
                }
                Some(Chunk::End) => self.done = true,
                None => {
                    return Err(std::io::Error::other(
                        "the download stopped before the end of the message",
                    ))
                }
            }
        }
    }
}

/// How much is handed to the storage thread at once, and how many such pieces may wait:
/// together the bound on the memory a message takes, whatever its size.
const CHUNK_BYTES: usize = 256 * 1024;
const CHUNKS_IN_FLIGHT: usize = 4;

/// Reads the body of a `+OK` to RETR or TOP and streams it, CRLF → LF, into the account's
/// destination on a storage thread. Returns the ledger, the outcome, and the octets
/// received. `after_retr` runs once the whole body has been received.
#[allow(clippy::too_many_arguments)]
async fn retrieve_and_store(
    client: &mut Pop3Client,
    during: &'static str,
    account: &Account,
    ledger: Ledger,
    key: String,
    opts: &FetchOptions,
    now: u64,
    after_retr: impl FnOnce(),
) -> Result<(Ledger, Outcome, u64)> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(CHUNKS_IN_FLIGHT);
    let reader = ChannelReader {
        rx,
        cur: Vec::new(),
        pos: 0,
        done: false,
    };
    let dest = account.destination.clone();
    let acct = account.name.clone();
    let mda_timeout = opts.mda_timeout;
    let spool = ledger.spool_path();
    let task = tokio::task::spawn_blocking(move || {
        store_blocking(dest, &acct, ledger, key, reader, now, mda_timeout, &spool)
    });
    // Pump: Ok(Some(octets)) all sent, Ok(None) the storage side stopped (its error
    // tells why), Err the download failed.
    let pumped: Result<Option<u64>> = async {
        let mut buf = Vec::with_capacity(CHUNK_BYTES + 1024);
        let mut octets = 0u64;
        while let Some(line) = client.body_line(during).await? {
            octets += line.len() as u64;
            match line.strip_suffix(b"\r\n") {
                Some(l) => {
                    buf.extend_from_slice(l);
                    buf.push(b'\n');
                }
                None => buf.extend_from_slice(&line),
            }
            if buf.len() >= CHUNK_BYTES {
                let full = std::mem::replace(&mut buf, Vec::with_capacity(CHUNK_BYTES + 1024));
                if tx.send(Chunk::Data(full)).await.is_err() {
                    return Ok(None);
                }
            }
        }
        if !buf.is_empty() && tx.send(Chunk::Data(buf)).await.is_err() {
            return Ok(None);
        }
        if tx.send(Chunk::End).await.is_err() {
            return Ok(None);
        }
        Ok(Some(octets))
    }
    .await;
    drop(tx);
    if matches!(pumped, Ok(Some(_))) {
        after_retr();
    }
    let stored = task
        .await
        .map_err(|e| ClientError::Config(format!("internal: a storage task failed: {e}")));
    match (pumped, stored) {
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) | (Ok(_), Ok(Err(e))) => Err(e),
        (Ok(Some(octets)), Ok(Ok((l, o)))) => Ok((l, o, octets)),
        (Ok(None), Ok(Ok(_))) => Err(ClientError::Config(
            "internal: the storage side stopped without an error".into(),
        )),
    }
}

/// Stores one message read from `reader` (LF line ends) in the destination, under the
/// ledger's pending records where the destination needs them. Runs on a blocking thread.
#[allow(clippy::too_many_arguments)]
fn store_blocking(
    dest: Destination,
    acct: &str,
    mut ledger: Ledger,
    key: String,
    mut reader: ChannelReader,
    now: u64,
    mda_timeout: Duration,
    spool_path: &std::path::Path,
) -> Result<(Ledger, Outcome)> {
    let now_t = SystemTime::UNIX_EPOCH + Duration::from_secs(now);
    let outcome = match &dest {
        Destination::Maildir(dir) => {
            deliver::store_maildir_from(dir, &deliver::maildir_tag(acct, &key), &mut reader)
        }
        Destination::Mbox(path) => {
            let mut spool = deliver::Spool::fill(spool_path, &mut reader)?;
            let sender = deliver::mbox_sender(&mut spool.reader()?);
            // First pass: the entry's length and hash, for the ledger before appending.
            let mut sink = HashingSink::default();
            deliver::write_mbox_entry(&mut spool.reader()?, &sender, now_t, &mut sink)
                .map_err(|e| ClientError::delivery(spool_path, e))?;
            let (len, sha) = (sink.len, hex::encode(sink.hash.finalize()));
            let r = (|| {
                let mut lock = MboxLock::acquire(path)?;
                let offset = lock.len()?;
                ledger.record_mbox_pending(&key, offset, len, &sha)?;
                let mut src = spool.reader()?;
                lock.append_with(&mut |w| deliver::write_mbox_entry(&mut src, &sender, now_t, w))?;
                Ok(Outcome::Stored(format!("mbox:{offset}")))
            })();
            if r.is_err() {
                let _ = ledger.forget(&key);
            }
            r
        }
        Destination::Mda { program, args } => {
            let mut spool = deliver::Spool::fill(spool_path, &mut reader)?;
            ledger.record_mda_pending(&key).and_then(|()| {
                match deliver::run_mda_from(program, args, spool.file()?, mda_timeout) {
                    Ok(Outcome::Deferred(r)) => {
                        let _ = ledger.forget(&key);
                        Ok(Outcome::Deferred(r))
                    }
                    other => other,
                }
            })
        }
    };
    outcome.map(|o| (ledger, o))
}

/// Counts and hashes what is written to it.
#[derive(Default)]
struct HashingSink {
    len: u64,
    hash: Sha256,
}

impl std::io::Write for HashingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.hash.update(buf);
        self.len += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn recover_mbox(
    account: &Account,
    ledger: Ledger,
    observer: &mut dyn Observer,
    report: &mut FetchReport,
) -> Result<Ledger> {
    let Destination::Mbox(path) = &account.destination else {
        return Ok(ledger);
    };
    let pending: Vec<(String, u64, u64, String)> = ledger
        .entries()
        .filter_map(|(k, e)| match e {
            Entry::MboxPending { offset, len, sha } => {
                Some((k.to_string(), *offset, *len, sha.clone()))
            }
            _ => None,
        })
        .collect();
    if pending.is_empty() {
        return Ok(ledger);
    }
    let path = path.clone();
    let mut ledger = ledger;
    let (ledger, notes) = blocking(move || -> Result<(Ledger, Vec<(bool, String)>)> {
        let mut notes = Vec::new();
        let mut lock = MboxLock::acquire(&path)?;
        for (key, offset, len, sha) in pending {
            if lock.holds(offset, len, &sha)? {
                ledger.record_stored(&key, unix(SystemTime::now()), false, &format!("mbox:{offset}"))?;
                notes.push((true, format!("message {key} was appended to {} by an interrupted run; recorded now", path.display())));
            } else {
                let size = lock.len()?;
                if size > offset && lock.took_over_own_stale {
                    lock.truncate(offset)?;
                    notes.push((false, format!("cut off a partial message {key} left in {} by an interrupted run", path.display())));
                } else if size > offset {
                    notes.push((false, format!("{} may hold a partial copy of message {key} at byte {offset} from an interrupted run; it is downloaded again", path.display())));
                }
                ledger.forget(&key)?;
            }
        }
        Ok((ledger, notes))
    })
    .await??;
    for (recovered, n) in notes {
        if recovered {
            report.recovered += 1;
        }
        observer.note(&n);
        report.notes.push(n);
    }
    Ok(ledger)
}

/// A message waiting on the server, for `buzon fetch --list`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Waiting {
    pub msg: u32,
    pub uidl: Option<String>,
    pub size: u64,
    pub from: String,
    pub subject: String,
    pub date: String,
    /// Already downloaded (per the ledger).
    pub downloaded: bool,
}

/// Lists the messages on the server with From/Subject/Date from `TOP n 0`, downloading
/// no message body. Reads the ledger without locking it.
pub async fn list_waiting(
    account: &Account,
    password: &Secret,
    resolver: &Resolver,
    ledger_dir: &std::path::Path,
) -> Result<Vec<Waiting>> {
    let known: HashSet<String> = read_ledger_keys(ledger_dir, &account.name);
    let mut client = login(account, password, resolver).await?;
    let sizes = client.list().await?;
    let uidls: HashMap<MsgNum, String> = client
        .uidl()
        .await?
        .into_iter()
        .flatten()
        .map(|(n, u)| (n, u.as_str().to_string()))
        .collect();
    let mut out = Vec::new();
    for (n, size) in sizes {
        let head = client.top(n, 0).await?.unwrap_or_default();
        let field = |name: &str| header_field(&head, name).unwrap_or_default();
        let uidl = uidls.get(&n).cloned();
        out.push(Waiting {
            msg: n.get(),
            downloaded: uidl.as_ref().is_some_and(|u| known.contains(u)),
            uidl,
            size,
            from: field("From"),
            subject: field("Subject"),
            date: field("Date"),
        });
    }
    client.quit().await?;
    Ok(out)
}

fn read_ledger_keys(dir: &std::path::Path, account: &str) -> HashSet<String> {
    let safe = crate::ledger::encode_field(account).replace('/', "%2F");
    let text = std::fs::read_to_string(dir.join(format!("{safe}.ledger"))).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut w = l.split(' ');
            let _ = w.next()?;
            (w.next()? == "S")
                .then(|| w.next().map(str::to_string))
                .flatten()
        })
        .collect()
}

/// The unfolded value of the first header field `name` (RFC 5322 §2.2.3), lossy UTF-8.
pub fn header_field(head: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(head);
    let mut found: Option<String> = None;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if let Some(v) = found.as_mut() {
            if line.starts_with([' ', '\t']) {
                v.push(' ');
                v.push_str(line.trim());
                continue;
            }
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case(name) {
                found = Some(v.trim().to_string());
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_unfold() {
        let h = b"From: A <a@x>\r\nSubject: long\r\n  subject\r\nDate: Mon, 1 Jan 2024\r\n\r\nFrom: body\r\n";
        assert_eq!(header_field(h, "subject").as_deref(), Some("long subject"));
        assert_eq!(header_field(h, "From").as_deref(), Some("A <a@x>"));
        assert_eq!(header_field(h, "To"), None);
    }

    #[test]
    fn summaries() {
        let r = FetchReport {
            fetched: 3,
            bytes: 1_200_000,
            deleted: 2,
            ..Default::default()
        };
        assert_eq!(r.summary(), "3 new messages, 1.2 MB, 2 deleted on server");
        assert_eq!(FetchReport::default().summary(), "no new messages");
    }
}

#[cfg(test)]
mod driver_tests;
