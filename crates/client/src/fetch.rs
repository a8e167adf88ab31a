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
//!
//! # Layout
//!
//! `plan` decides, without I/O, what to do with each message and why; `run` below is
//! the driver that reads the listing, the ledger and the destination's traces, and
//! executes the plan in the listing's order. The DELE state of the session lives in
//! `dele` (when each DELE goes on the wire), the streaming of a message into the
//! destination in `stream`.

use buzon_i18n::t;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use buzon_pop3_proto::{Command, MsgNum, Secret, StatusLine};

use crate::config::{Account, Policy};
use crate::deliver::{self, Destination, MboxLock, Outcome};
use crate::error::{ClientError, Result};
use crate::ledger::{Entry, Ledger};
use crate::net::Resolver;
use crate::pop3::{server_error, Pop3Client};

mod dele;
mod plan;
mod stream;

use dele::Deletions;
use plan::{Action, Held, Listed};

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
            0 => t!("fetch-none-new"),
            n => t!("fetch-new", count = n, size = human_bytes(self.bytes)),
        }];
        for (count, key) in [
            (self.deleted, "fetch-deleted"),
            (self.skipped_too_big, "fetch-too-big"),
            (self.headers_only, "fetch-headers-only"),
            (self.deferred, "fetch-deferred"),
            (self.recovered, "fetch-recovered"),
            (self.left_by_limit, "fetch-left-by-limit"),
        ] {
            if count > 0 {
                parts.push(t!(key, count = count));
            }
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

/// The I/O driver: reads the listing and what this machine holds, asks [`plan::plan`]
/// what to do, and executes it under the safety protocol.
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
    let (listing, has_uidl) = read_listing(&mut client).await?;
    if !has_uidl && plan::needs_uidl(&account.policy) {
        return Err(ClientError::KeepNeedsUidl {
            host: account.server.host.clone(),
        });
    }
    report.on_server = listing.len() as u64;

    // Recovery of interrupted runs: mbox appends begun, and Maildir files stored but not
    // recorded.
    if !opts.dry_run {
        ledger = recover_mbox(account, ledger, observer, report).await?;
    }
    let traces = maildir_traces(account, &ledger, &listing).await?;

    let now = unix(opts.now);
    let policy = Policy {
        limit: opts.limit.or(account.policy.limit),
        ..account.policy.clone()
    };
    let plan = plan::plan(
        &listing,
        |uidl| {
            Held::from_ledger(ledger.get(uidl), || {
                traces.contains_key(&deliver::maildir_tag(&account.name, uidl))
            })
        },
        &policy,
        now,
    );
    report.left_by_limit = plan.left_by_limit;
    report.plan = plan
        .steps
        .iter()
        .map(|s| Planned {
            msg: s.msg.n.get(),
            uidl: s.msg.uidl.clone(),
            size: s.msg.size,
            action: s.action.label(),
            reason: s.reason.to_string(),
        })
        .collect();
    if opts.dry_run {
        let _ = client.quit().await;
        return Ok(());
    }

    let (downloads, bytes) = plan.downloads();
    observer.start(&account.name, downloads, bytes);
    let mut d = Driver {
        dels: Deletions::new(client.pipelining()),
        client,
        account,
        opts,
        observer,
        report,
        now,
        seq: 0,
    };
    for step in &plan.steps {
        let m = step.msg;
        match step.action {
            Action::Keep => {}
            Action::Skip => d.report.skipped_too_big += 1,
            Action::Delete => d.delete(m.n).await?,
            Action::Record { then_delete } => {
                ledger = d.record_trace(ledger, m, &traces).await?;
                if then_delete {
                    d.delete(m.n).await?;
                }
            }
            Action::Fetch {
                headers_only,
                then_delete,
            } => ledger = d.fetch(ledger, m, headers_only, then_delete).await?,
        }
    }
    d.finish().await?;

    forget_gone(ledger, listing, has_uidl).await
}

/// Forgets the ledger entries of messages the server no longer lists (RFC 1939 §7: a
/// UIDL is never reused).
async fn forget_gone(mut ledger: Ledger, listing: Vec<Listed>, has_uidl: bool) -> Result<()> {
    // Without UIDL the keys were for this run only and go; entries of earlier runs with
    // UIDL stay (a server whose UIDL failed once must not wipe the ledger).
    let on_server: HashSet<String> = if has_uidl {
        listing.into_iter().filter_map(|m| m.uidl).collect()
    } else {
        ledger
            .entries()
            .map(|(k, _)| k)
            .filter(|k| !k.starts_with(NO_UIDL_PREFIX))
            .map(str::to_string)
            .collect()
    };
    blocking(move || {
        let set: HashSet<&str> = on_server.iter().map(String::as_str).collect();
        ledger.prune(&set)
    })
    .await?
}

/// LIST and UIDL (RFC 1939 §7): the messages on the server in LIST's order, and whether
/// the server has UIDL at all.
async fn read_listing(client: &mut Pop3Client) -> Result<(Vec<Listed>, bool)> {
    let sizes = client.list().await?;
    let Some(uidls) = client.uidl().await? else {
        let listing = sizes
            .into_iter()
            .map(|(n, size)| Listed {
                n,
                size,
                uidl: None,
            })
            .collect();
        return Ok((listing, false));
    };
    let uidl_of: HashMap<MsgNum, String> = uidls
        .into_iter()
        .map(|(n, u)| (n, u.as_str().to_string()))
        .collect();
    let listing = sizes
        .into_iter()
        .map(|(n, size)| Listed {
            n,
            size,
            uidl: uidl_of.get(&n).cloned(),
        })
        .collect();
    Ok((listing, true))
}

/// The Maildir files stored by earlier runs, by tag, when some listed message is not
/// recorded as stored (the only case in which they matter).
async fn maildir_traces(
    account: &Account,
    ledger: &Ledger,
    listing: &[Listed],
) -> Result<HashMap<String, PathBuf>> {
    let Destination::Maildir(dir) = &account.destination else {
        return Ok(HashMap::new());
    };
    let unknown = listing.iter().any(|m| {
        m.uidl
            .as_deref()
            .is_none_or(|u| !matches!(ledger.get(u), Some(Entry::Stored { .. })))
    });
    if !unknown {
        return Ok(HashMap::new());
    }
    let dir = dir.clone();
    blocking(move || deliver::maildir_tags(&dir)).await?
}

/// The session and the progress of one run while it executes its plan. The ledger is
/// passed through each step by value: it moves to a blocking thread for each write.
struct Driver<'a> {
    client: Pop3Client,
    dels: Deletions,
    account: &'a Account,
    opts: &'a FetchOptions,
    observer: &'a mut dyn Observer,
    report: &'a mut FetchReport,
    /// "Now" of the run, Unix seconds.
    now: u64,
    /// The 1-based number of the message being downloaded (0 before the first).
    seq: u32,
}

impl Driver<'_> {
    /// DELE of `n`, now or (with pipelining) with the next RETR or TOP.
    async fn delete(&mut self, n: MsgNum) -> Result<()> {
        match self.dels.delete(n) {
            Some(d) => send_dele(&mut self.client, d, &mut self.dels).await,
            None => Ok(()),
        }
    }

    /// Records a message an interrupted run stored in the Maildir without recording it.
    async fn record_trace(
        &mut self,
        ledger: Ledger,
        m: &Listed,
        traces: &HashMap<String, PathBuf>,
    ) -> Result<Ledger> {
        let uidl = m.uidl.clone().unwrap_or_default();
        let tag = deliver::maildir_tag(&self.account.name, &uidl);
        let loc = traces
            .get(&tag)
            .map(|p| format!("maildir:{}", p.display()))
            .unwrap_or_default();
        let ledger = record(ledger, uidl.clone(), self.now, false, loc).await?;
        self.report.recovered += 1;
        self.observer.note(&format!(
            "message {} ({uidl}) was stored by an interrupted run; recorded now",
            m.n
        ));
        Ok(ledger)
    }

    /// RETR (or `TOP n 0`) → store durably → record durably → DELE when `then_delete`.
    async fn fetch(
        &mut self,
        ledger: Ledger,
        m: &Listed,
        headers_only: bool,
        then_delete: bool,
    ) -> Result<Ledger> {
        self.seq += 1;
        let seq = self.seq;
        let cmd = if headers_only {
            Command::Top(m.n, 0)
        } else {
            Command::Retr(m.n)
        };
        // With PIPELINING the DELE of the previous message travels with this RETR.
        match self.dels.with_next_command() {
            Some(d) => {
                self.client
                    .send_all(&[Command::Dele(d), cmd.clone()])
                    .await?;
                read_dele(&mut self.client, &mut self.dels).await?;
                self.observer.checkpoint(Checkpoint::AfterDele, seq - 1);
            }
            None => self.client.send(&cmd).await?,
        }
        match self.client.reply().await? {
            StatusLine::Ok { .. } => {}
            StatusLine::Err { code, text } => {
                return Err(server_error(self.client.host(), cmd.keyword(), code, text))
            }
            StatusLine::Continue(_) => {
                return Err(ClientError::Protocol {
                    host: self.client.host().into(),
                    command: cmd.keyword().into(),
                    detail: "unexpected continuation".into(),
                })
            }
        }
        let key = match &m.uidl {
            Some(u) => u.clone(),
            // Without UIDL a key for this run only (see the module documentation).
            None => format!("{NO_UIDL_PREFIX}{}-{}", self.now, m.n),
        };
        if matches!(ledger.get(&key), Some(Entry::MdaPending)) {
            let note = format!(
                "message {} ({key}) was handed to the delivery program by an interrupted run; delivering it again (it may arrive twice)",
                m.n
            );
            self.observer.note(&note);
            self.report.notes.push(note);
        }
        let observer = &mut *self.observer;
        let (ledger, outcome, bytes) = stream::retrieve_and_store(
            &mut self.client,
            cmd.keyword(),
            self.account,
            ledger,
            key.clone(),
            self.opts,
            self.now,
            || observer.checkpoint(Checkpoint::AfterRetr, seq),
        )
        .await?;
        let ledger = match outcome {
            Outcome::Deferred(reason) => {
                self.report.deferred += 1;
                self.observer.note(&reason);
                self.report.notes.push(format!("message {}: {reason}", m.n));
                return Ok(ledger);
            }
            Outcome::Stored(loc) => {
                self.observer.checkpoint(Checkpoint::AfterStore, seq);
                let ledger = record(ledger, key, self.now, headers_only, loc).await?;
                self.observer.checkpoint(Checkpoint::AfterRecord, seq);
                ledger
            }
        };
        self.report.fetched += 1;
        self.report.bytes += bytes;
        if headers_only {
            self.report.headers_only += 1;
        }
        self.observer.stored(m.size);
        if then_delete {
            if let Some(d) = self.dels.delete(m.n) {
                send_dele(&mut self.client, d, &mut self.dels).await?;
                // Sent at once (no pipelining): confirmed before the next message.
                self.observer.checkpoint(Checkpoint::AfterDele, seq);
            }
        }
        Ok(ledger)
    }

    /// The DELE still held, then QUIT: the server deletes what it confirmed.
    async fn finish(self) -> Result<()> {
        let Driver {
            mut client,
            mut dels,
            observer,
            report,
            seq,
            ..
        } = self;
        if let Some(n) = dels.finish() {
            send_dele(&mut client, n, &mut dels).await?;
        }
        if seq > 0 && dels.count() > 0 {
            observer.checkpoint(Checkpoint::AfterDele, seq);
        }
        observer.checkpoint(Checkpoint::BeforeQuit, seq);
        client.quit().await?;
        report.deleted = dels.count();
        Ok(())
    }
}

/// Sends DELE `n` alone and reads its reply.
async fn send_dele(client: &mut Pop3Client, n: MsgNum, dels: &mut Deletions) -> Result<()> {
    client.send(&Command::Dele(n)).await?;
    read_dele(client, dels).await
}

async fn read_dele(client: &mut Pop3Client, dels: &mut Deletions) -> Result<()> {
    match client.reply().await? {
        StatusLine::Ok { .. } => {
            dels.confirmed();
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
