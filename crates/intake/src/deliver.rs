//! The delivery engine shared by LMTP, SMTP and `buzon deliver`: recipient checks at RCPT
//! time, then Sieve, quota and durable Maildir writes once the message is complete.
//!
//! Everything here blocks (file system, fsync) and runs on a blocking thread.
//!
//! # Outcomes
//!
//! Each recipient address reaches one or more mailboxes (aliases). Mailboxes that must
//! get the message together form a *group*: in LMTP and `buzon deliver` a group is one
//! recipient address; in SMTP, where one reply covers the whole message, it is the whole
//! transaction. A group gets one outcome:
//!
//! 1. if any mailbox fails temporarily (disk full, I/O error, over quota with 452), no
//!    mailbox of the group gets the message and the answer is that temporary failure, so
//!    the sender retries without anyone receiving a duplicate;
//! 2. otherwise, if no mailbox accepts it (all Sieve rejects, or permanently over quota
//!    with 552), the answer is the first refusal;
//! 3. otherwise every accepting mailbox gets its copy. A Sieve reject in such a group
//!    cannot be told to the sender (Buzón sends no bounces), so that mailbox keeps the
//!    message in INBOX; a mailbox permanently over quota gets it anyway. Both are logged.
//!
//! All copies of a group go into one [`DeliveryBatch`] of the store: written durably but
//! invisibly first, and made visible only when every one succeeded (for Maildir: written
//! and fsynced under `tmp/`, then moved into `new/`): a failure leaves nothing visible
//! anywhere. Nothing here names a file of the store.
//!
//! With one outcome per recipient, the recipients whose outcome is decided before any
//! write (a temporary failure, or no accepting mailbox) get it on their own, and all the
//! others share one batch: one transaction on a database store, so a node that dies
//! during the commit leaves the message with every such recipient or with none, and the
//! sender's retry duplicates nothing. Should a copy fail to be written before that commit
//! (a broken mailbox), nothing of the shared batch is kept and each of those recipients
//! is delivered on its own, so the others are unaffected.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use buzon_auth::{FileStamp, UserDb, UserDirectory, UsersFile};
use buzon_smtp_proto::reply::{self, Reply};
use buzon_store::{DeliveryBatch, DeliveryStore, StoreError};

use crate::filter::{Decision, Filters};
use crate::quota::{limits_for, QuotaLimits};
use crate::route::{route, AliasError, Aliases, RouteError, RoutingConfig};
use crate::spool::Spool;
use crate::trace::{ReceivedFrom, Trace};

/// `[delivery]` of the configuration, validated: what the engine needs besides the users
/// file, the host name and the store.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub routing: RoutingConfig,
    pub aliases_file: Option<PathBuf>,
    /// Default limits; users' `userdb_quota_rule` fields override them.
    pub quota: QuotaLimits,
    /// Over quota: 552 5.2.2 (true) or 452 4.2.2 (false, the default).
    pub over_quota_permanent: bool,
    pub max_message_size: u64,
    pub max_recipients: usize,
    pub sieve_dir: PathBuf,
    /// Where messages larger than memory allows wait while they are delivered.
    pub spool_dir: PathBuf,
}

/// Bytes of the header section that Sieve looks at.
const MAX_HEADER_SECTION: usize = 256 * 1024;

/// Why a recipient or a delivery failed. Each maps to one SMTP/LMTP reply and one
/// sysexits code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The domain is not local (no relaying).
    NotLocal,
    /// No such user, alias or catch-all.
    UnknownUser,
    /// The mailbox is over its quota.
    OverQuota { permanent: bool },
    /// The user's Sieve script refused the message (RFC 5429).
    Rejected(String),
    /// The disk is full.
    NoSpace(String),
    /// Anything else that may work later (I/O errors, an unreadable users file).
    Temporary(String),
    /// The mailbox cannot be created or written and retrying will not help.
    CannotCreate(String),
    /// The message exceeds `max_message_size`.
    TooBig(u64),
}

impl Failure {
    /// The SMTP/LMTP reply.
    pub fn reply(&self) -> Reply {
        match self {
            Failure::NotLocal => reply::relay_denied(),
            Failure::UnknownUser => reply::unknown_user(),
            Failure::OverQuota { permanent } => reply::over_quota(*permanent),
            Failure::Rejected(reason) => reply::rejected_by_filter(reason),
            Failure::NoSpace(_) => reply::no_space(),
            Failure::Temporary(_) => reply::local_error(),
            Failure::CannotCreate(_) => reply::mailbox_unavailable(),
            Failure::TooBig(max) => reply::message_too_big(*max),
        }
    }

    /// The `sysexits.h` code for `buzon deliver`.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::NotLocal | Failure::UnknownUser => 67, // EX_NOUSER
            Failure::OverQuota { permanent: true } => 73,   // EX_CANTCREAT
            Failure::CannotCreate(_) => 73,                 // EX_CANTCREAT
            Failure::Rejected(_) => 77,                     // EX_NOPERM
            Failure::TooBig(_) => 65,                       // EX_DATAERR
            Failure::OverQuota { permanent: false }
            | Failure::NoSpace(_)
            | Failure::Temporary(_) => 75, // EX_TEMPFAIL
        }
    }

    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            Failure::OverQuota { permanent: false } | Failure::NoSpace(_) | Failure::Temporary(_)
        )
    }

    fn from_store(e: &StoreError) -> Failure {
        match e {
            StoreError::NoSpace { .. } => Failure::NoSpace(e.to_string()),
            StoreError::TooBig { limit } => Failure::TooBig(*limit),
            e if e.is_temporary() => Failure::Temporary(e.to_string()),
            e => Failure::CannotCreate(e.to_string()),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::NotLocal => f.write_str("the domain is not local and relaying is not offered"),
            Failure::UnknownUser => f.write_str("no such user"),
            Failure::OverQuota { .. } => f.write_str("the mailbox is over quota"),
            Failure::Rejected(r) => write!(f, "rejected by the recipient's Sieve script: {r}"),
            Failure::NoSpace(d) | Failure::Temporary(d) | Failure::CannotCreate(d) => {
                f.write_str(d)
            }
            Failure::TooBig(max) => write!(f, "the message is larger than {max} bytes"),
        }
    }
}

/// A recipient address accepted at RCPT time and the users it reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The address as given (without angle brackets): Delivered-To, Sieve's envelope "to".
    pub address: String,
    /// User names as written in the users file; never empty.
    pub users: Vec<String>,
}

/// How recipients are grouped (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// One outcome per recipient address (LMTP, `buzon deliver`).
    PerRecipient,
    /// One outcome for the whole message (SMTP).
    Together,
}

/// One stored copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    pub user: String,
    /// `None`: INBOX.
    pub folder: Option<String>,
    pub uidl: String,
}

/// What happened to one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stored; `copies` is empty when every mailbox discarded it (Sieve `discard`).
    Delivered {
        copies: Vec<Copy>,
    },
    Failed(Failure),
}

/// A complete incoming message.
#[derive(Debug)]
pub struct Incoming<'a> {
    pub spool: &'a Spool,
    /// Id for logs and trace headers.
    pub id: &'a str,
    /// The reverse-path without angle brackets ("" for `<>`).
    pub return_path: &'a str,
    /// `None` for `buzon deliver` (no Received header).
    pub received: Option<&'a ReceivedFrom>,
}

/// A problem found when the engine starts.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("{}", buzon_i18n::t!("intake-users-file", reason = .0.to_string()))]
    Users(#[from] buzon_auth::AuthError),
    #[error("{}", buzon_i18n::t!("intake-aliases-file", path = path.display().to_string(), reason = source.to_string()))]
    AliasesRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Aliases(#[from] AliasError),
}

/// A file loaded into memory and reloaded when its [`FileStamp`] changes (device, inode,
/// size, modification and change times: a restore that keeps the old mtime still
/// changes the ctime).
struct Reloading<T> {
    path: PathBuf,
    stamp: Option<FileStamp>,
    value: Arc<T>,
}

fn stamp_of(path: &Path) -> Option<FileStamp> {
    std::fs::metadata(path).ok().map(|m| FileStamp::of(&m))
}

/// The delivery engine.
pub struct Deliverer {
    store: Arc<dyn DeliveryStore>,
    hostname: String,
    routing: RoutingConfig,
    quota: QuotaLimits,
    over_quota_permanent: bool,
    max_message_size: u64,
    users: Arc<dyn UserDirectory>,
    aliases: Option<Mutex<Reloading<Aliases>>>,
    filters: Filters,
    spool_dir: PathBuf,
}

impl std::fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deliverer")
            .field("hostname", &self.hostname)
            .finish_non_exhaustive()
    }
}

impl Deliverer {
    /// Loads the users file and the aliases file (errors name the file and line).
    /// `hostname` names this server in Received fields; copies go to `store`.
    pub fn new(
        d: &Delivery,
        users_file: &Path,
        hostname: &str,
        store: Arc<dyn DeliveryStore>,
    ) -> Result<Deliverer, IntakeError> {
        let users: Arc<dyn UserDirectory> = Arc::new(UsersFile::load(users_file)?);
        Deliverer::with_users(d, users, hostname, store)
    }

    /// As [`Deliverer::new`], with the users from any source (the file, or the
    /// PostgreSQL store); shared with the POP3 side.
    pub fn with_users(
        d: &Delivery,
        users: Arc<dyn UserDirectory>,
        hostname: &str,
        store: Arc<dyn DeliveryStore>,
    ) -> Result<Deliverer, IntakeError> {
        let aliases = match &d.aliases_file {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| IntakeError::AliasesRead {
                        path: path.clone(),
                        source,
                    })?;
                let parsed = Aliases::parse(&text, path, &d.routing.local_domains)?;
                Some(Mutex::new(Reloading {
                    path: path.clone(),
                    stamp: stamp_of(path),
                    value: Arc::new(parsed),
                }))
            }
            None => None,
        };
        Ok(Deliverer {
            store,
            hostname: hostname.to_string(),
            routing: d.routing.clone(),
            quota: d.quota,
            over_quota_permanent: d.over_quota_permanent,
            max_message_size: d.max_message_size,
            users,
            aliases,
            filters: Filters::new(&d.sieve_dir),
            spool_dir: d.spool_dir.clone(),
        })
    }

    /// Where spool files go.
    pub fn spool_dir(&self) -> &Path {
        &self.spool_dir
    }

    pub fn max_message_size(&self) -> u64 {
        self.max_message_size
    }

    /// The current users (reloaded if their source changed). A file that became
    /// unreadable or invalid keeps the previous version in use, with an error in the log;
    /// a source that cannot be reached (the database is down) is a temporary failure.
    fn users(&self) -> Result<Arc<UserDb>, Failure> {
        self.users.refresh().map_err(Failure::Temporary)?;
        Ok(self.users.current())
    }

    fn aliases(&self) -> Arc<Aliases> {
        let Some(m) = &self.aliases else {
            return Arc::new(Aliases::default());
        };
        let mut g = m.lock().unwrap_or_else(|p| p.into_inner());
        let now = stamp_of(&g.path);
        if now != g.stamp {
            let loaded = std::fs::read_to_string(&g.path)
                .map_err(|e| e.to_string())
                .and_then(|t| {
                    Aliases::parse(&t, &g.path, &self.routing.local_domains)
                        .map_err(|e| e.to_string())
                });
            match loaded {
                Ok(a) => {
                    tracing::info!(file = %g.path.display(), aliases = a.len(), "reloaded the aliases file");
                    g.value = Arc::new(a);
                    g.stamp = now;
                }
                Err(e) => tracing::error!(
                    "aliases file changed but cannot be loaded, keeping the previous version: {e}"
                ),
            }
        }
        Arc::clone(&g.value)
    }

    /// Bytes and messages in a user's mailbox, INBOX and every folder together. The
    /// store keeps the figure current, so an RCPT flood does not rescan the mailbox.
    fn usage(&self, user: &str) -> Result<(u64, u64), StoreError> {
        let u = self.store.usage(user)?;
        Ok((u.bytes, u.messages))
    }

    fn limits(&self, users: &UserDb, user: &str) -> QuotaLimits {
        users
            .lookup(user)
            .map_or(self.quota, |e| limits_for(self.quota, e))
    }

    /// RCPT time: routes the address and checks that no mailbox it reaches is already
    /// over quota (counting the SIZE the client declared). `domain` is `None` for the
    /// bare Postmaster and for `buzon deliver --to user`.
    pub fn check_recipient(
        &self,
        local_part: &str,
        domain: Option<&str>,
        declared_size: Option<u64>,
    ) -> Result<Vec<String>, Failure> {
        let users = self.users()?;
        let found = route(&self.routing, &users, &self.aliases(), local_part, domain).map_err(
            |e| match e {
                RouteError::NotLocal => Failure::NotLocal,
                RouteError::Unknown => Failure::UnknownUser,
            },
        )?;
        for user in &found {
            let limits = self.limits(&users, user);
            if limits.is_unlimited() {
                continue;
            }
            let (bytes, messages) = self.usage(user).map_err(|e| Failure::from_store(&e))?;
            if limits.exceeded_by(bytes, messages, declared_size.unwrap_or(0), 1) {
                tracing::info!(
                    user,
                    bytes,
                    messages,
                    ?limits,
                    "recipient refused: over quota"
                );
                return Err(Failure::OverQuota {
                    permanent: self.over_quota_permanent,
                });
            }
        }
        Ok(found)
    }

    /// Delivers a complete message to accepted recipients; one outcome per group.
    pub fn deliver(
        &self,
        msg: &Incoming<'_>,
        recipients: &[Recipient],
        grouping: Grouping,
    ) -> Vec<Outcome> {
        let header_bytes = match msg.spool.header_section(MAX_HEADER_SECTION) {
            Ok(h) => h,
            Err(e) => {
                let f = Failure::Temporary(format!("cannot read the spooled message: {e}"));
                let n = if grouping == Grouping::Together {
                    1
                } else {
                    recipients.len()
                };
                return vec![Outcome::Failed(f); n];
            }
        };
        let headers = buzon_sieve::parse_headers(&header_bytes);
        let size = msg.spool.wire_size();
        // Looked at when the recipients were accepted; the list in memory now.
        let users = self.users.current();
        let now = crate::trace::now();

        let mut plans_per_rcpt = Vec::with_capacity(recipients.len());
        for rcpt in recipients {
            let mut plans = Vec::with_capacity(rcpt.users.len());
            for user in &rcpt.users {
                let decision =
                    self.filters
                        .decide(user, msg.return_path, &rcpt.address, &headers, size);
                // Our trace fields come from the envelope only; the message's own
                // Return-Path (and a repeat of our Delivered-To) are left out.
                let trace = Trace {
                    return_path: msg.return_path,
                    delivered_to: &rcpt.address,
                    received: msg.received,
                    by: &self.hostname,
                    id: msg.id,
                    now,
                }
                .headers();
                let header = crate::trace::filter_header(&header_bytes, &rcpt.address)
                    .map(|h| (h, header_bytes.len() as u64));
                let status = match decision {
                    Decision::Discard => PlanStatus::Discard,
                    Decision::Reject(reason) => PlanStatus::Reject(reason),
                    Decision::Deliver(folders) => {
                        let copy_size =
                            buzon_pop3_proto::wire::WireSize::of(&trace).saturating_add(size);
                        match self.quota_check(&users, user, copy_size, folders.len() as u64) {
                            Ok(()) => PlanStatus::Deliver(folders),
                            Err(f) if f.is_temporary() => PlanStatus::Fail(f),
                            Err(f @ Failure::OverQuota { .. }) => {
                                PlanStatus::OverQuotaPermanent(folders, f)
                            }
                            Err(f) => PlanStatus::Fail(f),
                        }
                    }
                };
                plans.push(Plan {
                    user: user.clone(),
                    address: rcpt.address.clone(),
                    trace,
                    header,
                    status,
                });
            }
            plans_per_rcpt.push(plans);
        }

        match grouping {
            Grouping::Together => {
                vec![self.run_group(msg, plans_per_rcpt.into_iter().flatten().collect())]
            }
            Grouping::PerRecipient => self.deliver_per_recipient(msg, plans_per_rcpt),
        }
    }

    /// One outcome per recipient, with one batch for every recipient that will get the
    /// message (see the module documentation).
    fn deliver_per_recipient(&self, msg: &Incoming<'_>, per_rcpt: Vec<Vec<Plan>>) -> Vec<Outcome> {
        let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(per_rcpt.len());
        let mut members = Vec::new();
        for (i, plans) in per_rcpt.into_iter().enumerate() {
            if decided_without_writing(&plans) {
                outcomes.push(Some(self.run_group(msg, plans)));
            } else {
                outcomes.push(None);
                members.push((i, plans));
            }
        }
        let together: Vec<Plan> = members
            .iter()
            .flat_map(|(_, p)| p.iter().cloned())
            .collect();
        match self.write_group(msg, together) {
            Ok(shared) => {
                for (i, plans) in &members {
                    outcomes[*i] = Some(match &shared {
                        Outcome::Delivered { copies } => Outcome::Delivered {
                            copies: copies
                                .iter()
                                .filter(|c| plans.iter().any(|p| p.user == c.user))
                                .cloned()
                                .collect(),
                        },
                        Outcome::Failed(f) => Outcome::Failed(f.clone()),
                    });
                }
            }
            // Nothing of the shared batch was kept: each recipient on its own.
            Err(_) => {
                for (i, plans) in members {
                    outcomes[i] = Some(self.run_group(msg, plans));
                }
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Outcome::Failed(Failure::Temporary("no outcome".into()))))
            .collect()
    }

    fn quota_check(
        &self,
        users: &UserDb,
        user: &str,
        copy_size: u64,
        copies: u64,
    ) -> Result<(), Failure> {
        let limits = self.limits(users, user);
        if limits.is_unlimited() {
            return Ok(());
        }
        let (bytes, messages) = self.usage(user).map_err(|e| Failure::from_store(&e))?;
        if limits.exceeded_by(bytes, messages, copy_size.saturating_mul(copies), copies) {
            tracing::info!(user, bytes, messages, ?limits, "over quota");
            return Err(Failure::OverQuota {
                permanent: self.over_quota_permanent,
            });
        }
        Ok(())
    }

    fn run_group(&self, msg: &Incoming<'_>, plans: Vec<Plan>) -> Outcome {
        self.write_group(msg, plans).unwrap_or_else(Outcome::Failed)
    }

    /// [`Deliverer::run_group`], except that a copy that cannot be written gives `Err`:
    /// the batch is dropped before its commit, so nothing of it is visible anywhere.
    fn write_group(&self, msg: &Incoming<'_>, plans: Vec<Plan>) -> Result<Outcome, Failure> {
        if let Some(p) = plans
            .iter()
            .find(|p| matches!(&p.status, PlanStatus::Fail(f) if f.is_temporary()))
        {
            if let PlanStatus::Fail(f) = &p.status {
                tracing::warn!(id = msg.id, user = %p.user, to = %p.address, "temporary failure, nothing delivered to this group: {f}");
                return Ok(Outcome::Failed(f.clone()));
            }
        }
        let accepting = plans
            .iter()
            .any(|p| matches!(p.status, PlanStatus::Deliver(_) | PlanStatus::Discard));
        if !accepting {
            let first = plans.iter().find_map(|p| match &p.status {
                PlanStatus::Reject(r) => Some(Failure::Rejected(r.clone())),
                PlanStatus::OverQuotaPermanent(_, f) | PlanStatus::Fail(f) => Some(f.clone()),
                _ => None,
            });
            let f = first.unwrap_or_else(|| Failure::Temporary("no mailbox to deliver to".into()));
            for p in &plans {
                tracing::info!(id = msg.id, user = %p.user, to = %p.address, "refused: {f}");
            }
            return Ok(Outcome::Failed(f));
        }

        // Write every copy first; make them visible only if all worked.
        let mut batch = self.store.begin();
        let mut added = Vec::new();
        for p in &plans {
            let folders = match &p.status {
                PlanStatus::Deliver(f) => f.clone(),
                PlanStatus::Discard => {
                    tracing::info!(id = msg.id, user = %p.user, to = %p.address, "discarded by the user's Sieve script");
                    continue;
                }
                PlanStatus::Reject(reason) => {
                    tracing::warn!(id = msg.id, user = %p.user, to = %p.address, reason = %reason,
                        "Sieve reject cannot be reported: other mailboxes of this message accepted it and Buzón sends no bounces; keeping it in INBOX");
                    vec![None]
                }
                PlanStatus::OverQuotaPermanent(f, _) => {
                    tracing::warn!(id = msg.id, user = %p.user, to = %p.address, "over quota, delivered anyway because other mailboxes of this message accepted it");
                    f.clone()
                }
                PlanStatus::Fail(f) => {
                    tracing::warn!(id = msg.id, user = %p.user, to = %p.address, "not delivered: {f}");
                    continue;
                }
            };
            for folder in folders {
                if let Err(e) = add_copy(batch.as_mut(), msg, p, folder.as_deref()) {
                    tracing::error!(id = msg.id, user = %p.user, to = %p.address, "cannot store the message, nothing delivered to this group: {e}");
                    return Err(Failure::from_store(&e));
                }
                added.push((p, folder));
            }
        }
        let (stored, error) = match batch.commit() {
            Ok(stored) => (stored, None),
            Err(partial) => (partial.stored, Some(partial.error)),
        };
        let mut copies = Vec::with_capacity(stored.len());
        for ((p, folder), d) in added.iter().zip(stored) {
            tracing::info!(target: "buzon::delivery", id = msg.id, from = msg.return_path, to = %p.address, user = %p.user,
                folder = folder.as_deref().unwrap_or("INBOX"), size = d.size, uidl = %d.uidl, "delivered");
            copies.push(Copy {
                user: p.user.clone(),
                folder: folder.clone(),
                uidl: d.uidl,
            });
        }
        if let Some(e) = error {
            // Copies made visible before this one stay; the sender retries and those
            // mailboxes may see the message twice, which beats losing it.
            let (p, _) = added[copies.len().min(added.len().saturating_sub(1))];
            tracing::error!(id = msg.id, user = %p.user, to = %p.address, delivered = copies.len(),
                "cannot make the message visible: {e}; answering with a temporary failure");
            return Ok(Outcome::Failed(Failure::from_store(&e)));
        }
        Ok(Outcome::Delivered { copies })
    }
}

/// True when a group's outcome is known before any write: one of its mailboxes fails
/// temporarily, or none accepts the message (rules 1 and 2 of the module documentation).
fn decided_without_writing(plans: &[Plan]) -> bool {
    let temporary = plans
        .iter()
        .any(|p| matches!(&p.status, PlanStatus::Fail(f) if f.is_temporary()));
    let accepting = plans
        .iter()
        .any(|p| matches!(p.status, PlanStatus::Deliver(_) | PlanStatus::Discard));
    temporary || !accepting
}

/// Adds one copy for `plan`'s user: our trace fields, then the message (its header as
/// rewritten for this copy, when it was).
fn add_copy(
    batch: &mut dyn DeliveryBatch,
    msg: &Incoming<'_>,
    plan: &Plan,
    folder: Option<&str>,
) -> Result<(), StoreError> {
    match &plan.header {
        Some((header, replaces)) => {
            let mut reader = Cursor::new(&plan.trace[..])
                .chain(Cursor::new(&header[..]))
                .chain(msg.spool.reader_from(*replaces));
            batch.add(&plan.user, folder, &mut reader)
        }
        None => {
            let mut reader = Cursor::new(&plan.trace[..]).chain(msg.spool.reader());
            batch.add(&plan.user, folder, &mut reader)
        }
    }
}

#[derive(Clone)]
enum PlanStatus {
    Deliver(Vec<Option<String>>),
    Discard,
    Reject(String),
    /// Over quota with `over_quota_reply = "552"`.
    OverQuotaPermanent(Vec<Option<String>>, Failure),
    Fail(Failure),
}

#[derive(Clone)]
struct Plan {
    user: String,
    address: String,
    trace: Vec<u8>,
    /// The message's header section as stored for this copy, and how many bytes at the
    /// start of the spool it replaces; `None`: stored as received.
    header: Option<(Vec<u8>, u64)>,
    status: PlanStatus,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn engine(dir: &Path) -> Deliverer {
        let d = Delivery {
            routing: RoutingConfig {
                local_domains: vec!["example.com".into()],
                ..RoutingConfig::default()
            },
            aliases_file: None,
            quota: QuotaLimits::default(),
            over_quota_permanent: false,
            max_message_size: 1 << 20,
            max_recipients: 10,
            sieve_dir: dir.join("sieve"),
            spool_dir: dir.join("spool"),
        };
        let store = Arc::new(buzon_store::MaildirStore::new(
            dir.join("mail"),
            Vec::new(),
            buzon_auth::mailbox_dir_name,
        ));
        Deliverer::new(&d, &dir.join("users"), "mx.example.com", store).unwrap()
    }

    #[test]
    fn a_users_file_restored_with_its_old_mtime_and_size_is_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let users = dir.path().join("users");
        std::fs::write(&users, "alice:{PLAIN}secret\n").unwrap();
        let old_mtime = std::fs::metadata(&users).unwrap().modified().unwrap();
        let d = engine(dir.path());
        assert!(d
            .check_recipient("alice", Some("example.com"), None)
            .is_ok());
        // A restore from a backup: other content of the same length, the old mtime.
        std::fs::write(&users, "bobby:{PLAIN}secret\n").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&users)
            .unwrap()
            .set_modified(old_mtime)
            .unwrap();
        assert_eq!(
            d.check_recipient("bobby", Some("example.com"), None),
            Ok(vec!["bobby".to_string()]),
            "the restored users file was not noticed"
        );
        assert_eq!(
            d.check_recipient("alice", Some("example.com"), None),
            Err(Failure::UnknownUser)
        );
    }

    #[test]
    fn every_failure_has_one_reply_and_exit_code() {
        let table: Vec<(Failure, u16, &str, u8)> = vec![
            (Failure::NotLocal, 550, "5.7.1", 67),
            (Failure::UnknownUser, 550, "5.1.1", 67),
            (Failure::OverQuota { permanent: false }, 452, "4.2.2", 75),
            (Failure::OverQuota { permanent: true }, 552, "5.2.2", 73),
            (Failure::Rejected("no".into()), 550, "5.7.1", 77),
            (Failure::NoSpace("x".into()), 452, "4.3.1", 75),
            (Failure::Temporary("x".into()), 451, "4.3.0", 75),
            (Failure::CannotCreate("x".into()), 550, "5.2.0", 73),
            (Failure::TooBig(10), 552, "5.3.4", 65),
        ];
        for (f, code, status, exit) in table {
            let r = f.reply();
            assert_eq!(r.code(), code, "{f:?}");
            assert_eq!(
                r.status().map(|s| s.to_string()).as_deref(),
                Some(status),
                "{f:?}"
            );
            assert_eq!(f.exit_code(), exit, "{f:?}");
            assert_eq!(f.is_temporary(), code < 500, "{f:?}");
        }
        assert!(Failure::Rejected("Go away".into())
            .reply()
            .text()
            .contains("Go away"));
    }
}
