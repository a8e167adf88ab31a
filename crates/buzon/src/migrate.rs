//! `buzon migrate`: copy users and mail from one store to another (Maildir → PostgreSQL or
//! back), as two configuration files name them.
//!
//! Every message keeps its UIDL, its exact size and its delivery time, in INBOX or the
//! folder it was in; users keep their stored password, home and extra fields (quotas). A
//! message already in the destination under its UIDL is skipped, so a run that was killed
//! continues where it stopped with `--resume` and duplicates nothing. Per mailbox the
//! command prints counts and a checksum computed the same way on both sides — SHA-256
//! over the sorted lines `folder uidl size sha256(message)` — and fails when they differ.

use buzon_i18n::t;
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use buzon_auth::{UserDb, UserEntry};
use buzon_server::Config;
use buzon_store::{Maildir, StoreError, StoreSettings};
use buzon_store_pg::PgStore;
use clap::Args;
use sha2::{Digest, Sha256};

use crate::Failure;

#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// Configuration of the store to copy from (its `[store]`, `data_dir` and
    /// `auth.users_file`).
    #[arg(long, value_name = "CONFIG")]
    pub from: PathBuf,
    /// Configuration of the store to copy into.
    #[arg(long, value_name = "CONFIG")]
    pub to: PathBuf,
    /// Copy into a destination that already holds users or mail: what is there (users by
    /// name, messages by UIDL) is kept and skipped. Use it to continue an interrupted run.
    #[arg(long)]
    pub resume: bool,
}

/// One message as listed: where to read it, and what it must stay.
pub(crate) struct Listed {
    pub(crate) uidl: String,
    pub(crate) size: u64,
    delivered_at: SystemTime,
    key: MessageKey,
}

enum MessageKey {
    File(PathBuf),
    Row(i64),
}

/// One side of the migration (and the destination of `buzon import`).
pub(crate) enum Side {
    Maildir {
        mail_dir: PathBuf,
        users_file: PathBuf,
        /// `[pop3] uidl_source`: a Maildir taken over from Dovecot is copied under the
        /// UIDLs its users' programs know.
        uidl_source: buzon_store::UidlSource,
    },
    Postgres {
        store: PgStore,
        runtime: tokio::runtime::Runtime,
    },
}

fn fail(what: &str, e: impl std::fmt::Display) -> Failure {
    Failure::runtime(format!("{what}: {e}"))
}

impl Side {
    pub(crate) fn open(
        path: &Path,
        runtime: impl Fn() -> Result<tokio::runtime::Runtime, Failure>,
    ) -> Result<(Side, String), Failure> {
        let config = Config::load(path).map_err(Failure::usage)?;
        match &config.store {
            StoreSettings::Maildir => Ok((
                Side::Maildir {
                    mail_dir: config.mail_dir.clone(),
                    users_file: config.auth.users_file.clone(),
                    uidl_source: config.pop3.uidl_source.clone(),
                },
                format!("Maildir {}", config.mail_dir.display()),
            )),
            StoreSettings::Postgres(settings) => {
                let runtime = runtime()?;
                let store = runtime
                    .block_on(PgStore::connect(settings))
                    .map_err(Failure::runtime)?;
                let name = format!("PostgreSQL {}", store.display_url());
                Ok((Side::Postgres { store, runtime }, name))
            }
        }
    }

    pub(crate) fn users(&self) -> Result<Vec<UserEntry>, Failure> {
        match self {
            Side::Maildir { users_file, .. } => {
                if !users_file.exists() {
                    return Ok(Vec::new());
                }
                let db = UserDb::load(users_file).map_err(Failure::runtime)?;
                Ok(db.users().cloned().collect())
            }
            Side::Postgres { store, runtime } => runtime
                .block_on(store.user_snapshot())
                .map(|(_, users)| users)
                .map_err(Failure::runtime),
        }
    }

    /// Adds `user` unless a user of that name is there; true when added.
    /// Makes sure users can be added: the users file's folder exists (Maildir store).
    pub(crate) fn prepare_users(&self) -> Result<(), Failure> {
        if let Side::Maildir { users_file, .. } = self {
            if let Some(parent) = users_file.parent() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    Failure::runtime(format!("cannot create {}: {e}", parent.display()))
                })?;
            }
        }
        Ok(())
    }

    pub(crate) fn add_user(
        &self,
        user: &UserEntry,
        existing: &HashSet<String>,
    ) -> Result<bool, Failure> {
        if existing.contains(&user.name.to_ascii_lowercase()) {
            return Ok(false);
        }
        match self {
            Side::Maildir { users_file, .. } => buzon_auth::add_user_entry(
                users_file,
                &user.name,
                &user.password,
                user.home.as_deref(),
                &user.extra,
            )
            .map_err(Failure::runtime)?,
            Side::Postgres { store, runtime } => runtime
                .block_on(async {
                    store.add_user(&user.name, &user.password).await?;
                    if !user.extra.is_empty() {
                        store.set_extra(&user.name, &user.extra).await?;
                    }
                    Ok::<_, StoreError>(())
                })
                .map_err(Failure::runtime)?,
        }
        Ok(true)
    }

    fn maildir(mail_dir: &Path, user: &str, folder: Option<&str>) -> PathBuf {
        let root = mail_dir.join(buzon_auth::mailbox_dir_name(user));
        match folder {
            Some(f) => root.join(format!(".{f}")),
            None => root,
        }
    }

    /// `None` for INBOX first, then the folders by name.
    fn folders(&self, user: &str) -> Result<Vec<Option<String>>, Failure> {
        match self {
            Side::Maildir { mail_dir, .. } => {
                let root = Side::maildir(mail_dir, user, None);
                if !root.join("cur").is_dir() {
                    return Ok(Vec::new());
                }
                let md = Maildir::open(&root).map_err(Failure::runtime)?;
                let mut out = vec![None];
                out.extend(
                    md.list_folders()
                        .map_err(Failure::runtime)?
                        .into_iter()
                        .map(Some),
                );
                Ok(out)
            }
            Side::Postgres { store, runtime } => runtime
                .block_on(store.list_folders(user))
                .map_err(Failure::runtime),
        }
    }

    pub(crate) fn messages(
        &self,
        user: &str,
        folder: Option<&str>,
    ) -> Result<Vec<Listed>, Failure> {
        match self {
            Side::Maildir {
                mail_dir,
                uidl_source,
                ..
            } => {
                let root = Side::maildir(mail_dir, user, folder);
                if !root.join("cur").is_dir() {
                    return Ok(Vec::new());
                }
                let session = Maildir::open(&root)
                    .and_then(|m| m.open_session_with(uidl_source))
                    .map_err(Failure::runtime)?;
                let mut out = Vec::new();
                for (i, m) in session.messages().iter().enumerate() {
                    let Some(path) = session.message_path(i) else {
                        continue;
                    };
                    let delivered_at = std::fs::metadata(path)
                        .and_then(|m| m.modified())
                        .unwrap_or(SystemTime::UNIX_EPOCH);
                    out.push(Listed {
                        uidl: m.uidl.clone(),
                        size: m.size,
                        delivered_at,
                        key: MessageKey::File(path.to_path_buf()),
                    });
                }
                Ok(out)
            }
            Side::Postgres { store, runtime } => Ok(runtime
                .block_on(store.list_messages(user, folder))
                .map_err(Failure::runtime)?
                .into_iter()
                .map(|m| Listed {
                    uidl: m.uidl,
                    size: m.size,
                    delivered_at: m.delivered_at,
                    key: MessageKey::Row(m.id),
                })
                .collect()),
        }
    }

    fn read(&self, key: &MessageKey) -> Result<Vec<u8>, String> {
        match (self, key) {
            (Side::Maildir { .. }, MessageKey::File(path)) => {
                let mut v = Vec::new();
                std::fs::File::open(path)
                    .and_then(|mut f| f.read_to_end(&mut v))
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                Ok(v)
            }
            (Side::Postgres { store, runtime }, MessageKey::Row(id)) => runtime
                .block_on(async {
                    let mut reader = store.read_message(*id).await?;
                    let mut v = Vec::new();
                    loop {
                        let chunk = reader.next(buzon_store::MESSAGE_CHUNK).await?;
                        if chunk.is_empty() {
                            return Ok::<_, StoreError>(v);
                        }
                        v.extend_from_slice(chunk);
                    }
                })
                .map_err(|e| e.to_string()),
            _ => Err("message listed by another store".into()),
        }
    }

    /// Stores one message under its UIDL and delivery time; false when that UIDL is
    /// already there.
    fn import(
        &self,
        user: &str,
        folder: Option<&str>,
        m: &Listed,
        body: &[u8],
        present: &HashSet<String>,
    ) -> Result<bool, Failure> {
        if present.contains(&m.uidl) {
            return Ok(false);
        }
        self.store_copy(user, folder, &m.uidl, m.delivered_at, body)?;
        Ok(true)
    }

    /// Stores one message under `uidl` and delivery time, durably, before returning.
    pub(crate) fn store_copy(
        &self,
        user: &str,
        folder: Option<&str>,
        uidl: &str,
        delivered_at: SystemTime,
        body: &[u8],
    ) -> Result<(), Failure> {
        match self {
            Side::Maildir { mail_dir, .. } => {
                let inbox = Maildir::create(Side::maildir(mail_dir, user, None))
                    .map_err(Failure::runtime)?;
                let md = match folder {
                    Some(f) => inbox.create_folder(f).map_err(Failure::runtime)?,
                    None => inbox,
                };
                let mut r = body;
                md.prepare(&mut r, None)
                    .and_then(|p| p.commit_with_uidl(uidl, delivered_at))
                    .map_err(|e| fail(&format!("{user}: message {uidl}"), e))?;
                Ok(())
            }
            Side::Postgres { store, runtime } => runtime
                .block_on(store.import_message(user, folder, uidl, delivered_at, body))
                .map(|_| ())
                .map_err(|e| fail(&format!("{user}: message {uidl}"), e)),
        }
    }

    /// Whether anything (users or messages) is stored.
    fn census(&self) -> Result<(usize, usize), Failure> {
        let users = self.users()?;
        let mut messages = 0;
        for u in &users {
            for f in self.folders(&u.name)? {
                messages += self.messages(&u.name, f.as_deref())?.len();
            }
        }
        Ok((users.len(), messages))
    }
}

/// The checksum line of one message: folder, UIDL, size and SHA-256 of the bytes.
fn checksum_line(folder: Option<&str>, uidl: &str, size: u64, body: &[u8]) -> String {
    format!(
        "{} {uidl} {size} {}\n",
        folder.unwrap_or("INBOX"),
        hex::encode(Sha256::digest(body))
    )
}

fn checksum(mut lines: Vec<String>) -> String {
    lines.sort();
    let mut h = Sha256::new();
    for l in &lines {
        h.update(l.as_bytes());
    }
    hex::encode(h.finalize())[..16].to_string()
}

/// One mailbox's figures on one side.
#[derive(Default)]
struct Tally {
    messages: usize,
    bytes: u64,
    lines: Vec<String>,
}

impl Tally {
    fn add(&mut self, folder: Option<&str>, uidl: &str, size: u64, body: &[u8]) {
        self.messages += 1;
        self.bytes += size;
        self.lines.push(checksum_line(folder, uidl, size, body));
    }
}

pub fn run(args: MigrateArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| fail("cannot start the runtime", e))
    };
    let (from, from_name) = Side::open(&args.from, runtime)?;
    let (to, to_name) = Side::open(&args.to, runtime)?;
    if args.from == args.to {
        return Err(Failure::usage(t!("migrate-same-config")));
    }
    let (users_there, messages_there) = to.census()?;
    if (users_there > 0 || messages_there > 0) && !args.resume {
        return Err(Failure::usage(t!(
            "migrate-destination-not-empty",
            to = &to_name,
            users = users_there.to_string(),
            messages = messages_there.to_string()
        )));
    }
    println!("{}", t!("migrate-start", from = &from_name, to = &to_name));
    let users = from.users()?;
    let mut existing: HashSet<String> = to
        .users()?
        .iter()
        .map(|u| u.name.to_ascii_lowercase())
        .collect();
    let (mut total_messages, mut total_bytes, mut copied, mut skipped) =
        (0usize, 0u64, 0usize, 0usize);
    let mut unreadable = 0usize;
    let mut mismatches = Vec::new();
    for user in &users {
        if to.add_user(user, &existing)? {
            println!("{}", t!("migrate-user-added", user = &user.name));
        }
        existing.insert(user.name.to_ascii_lowercase());
        let mut source = Tally::default();
        let (mut copied_here, mut skipped_here) = (0usize, 0usize);
        let folders = from.folders(&user.name)?;
        for folder in &folders {
            let folder = folder.as_deref();
            let present: HashSet<String> = to
                .messages(&user.name, folder)?
                .into_iter()
                .map(|m| m.uidl)
                .collect();
            for m in from.messages(&user.name, folder)? {
                let body = match from.read(&m.key) {
                    Ok(b) => b,
                    Err(e) => {
                        eprintln!(
                            "buzon: {}",
                            t!(
                                "migrate-unreadable",
                                user = &user.name,
                                uidl = &m.uidl,
                                reason = e.to_string()
                            )
                        );
                        unreadable += 1;
                        continue;
                    }
                };
                source.add(folder, &m.uidl, m.size, &body);
                if to.import(&user.name, folder, &m, &body, &present)? {
                    copied_here += 1;
                } else {
                    skipped_here += 1;
                }
            }
        }
        // The destination, read back the same way.
        let mut dest = Tally::default();
        for folder in to.folders(&user.name)? {
            let folder = folder.as_deref();
            for m in to.messages(&user.name, folder)? {
                let body = to.read(&m.key).map_err(|e| {
                    fail(
                        &format!("{}: reading back message {}", user.name, m.uidl),
                        e,
                    )
                })?;
                dest.add(folder, &m.uidl, m.size, &body);
            }
        }
        let (a, b) = (
            checksum(std::mem::take(&mut source.lines)),
            checksum(std::mem::take(&mut dest.lines)),
        );
        let verdict = if a == b {
            t!("migrate-same")
        } else {
            t!("migrate-different")
        };
        println!(
            "{}",
            t!(
                "migrate-mailbox",
                user = &user.name,
                folders = folders.len().to_string(),
                messages = source.messages.to_string(),
                bytes = source.bytes.to_string(),
                copied = copied_here.to_string(),
                skipped = skipped_here.to_string(),
                source = a.to_string(),
                dest = b.to_string(),
                dest_messages = dest.messages.to_string(),
                dest_bytes = dest.bytes.to_string(),
                verdict = verdict
            )
        );
        if a != b {
            mismatches.push(user.name.clone());
        }
        total_messages += source.messages;
        total_bytes += source.bytes;
        copied += copied_here;
        skipped += skipped_here;
    }
    println!(
        "{}",
        t!(
            "migrate-total",
            mailboxes = users.len().to_string(),
            messages = total_messages.to_string(),
            bytes = total_bytes.to_string(),
            copied = copied.to_string(),
            skipped = skipped.to_string(),
            unreadable = unreadable.to_string(),
            seconds = format!("{:.1}", started.elapsed().as_secs_f64())
        )
    );
    if !mismatches.is_empty() {
        return Err(Failure::runtime(t!(
            "migrate-mismatch",
            users = mismatches.join(", ")
        )));
    }
    if unreadable > 0 {
        return Err(Failure::runtime(t!(
            "migrate-unreadable-total",
            count = unreadable.to_string()
        )));
    }
    Ok(())
}
