//! `buzon migrate` between the embedded Maildir store and a PostgreSQL store (a private
//! cluster): a round trip Maildir → PostgreSQL → Maildir keeps users (password, quota),
//! folders, UIDLs, sizes, delivery times and bytes; a non-empty destination is refused
//! unless `--resume`; a run killed with SIGKILL half way, resumed, copies every message
//! exactly once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use buzon_store::Maildir;
use buzon_testkit::{PgCluster, TestStore};

use crate::BIN;

/// A Maildir data folder and its config file.
fn maildir_config(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let data = dir.join(name);
    std::fs::create_dir_all(&data).unwrap();
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(&config, format!("data_dir = {data:?}\n")).unwrap();
    (data, config)
}

/// A config file for a fresh database of `pg`, and the store to inspect it.
fn postgres_config(dir: &Path, pg: &PgCluster) -> (TestStore, PathBuf) {
    let store = TestStore::postgres(&pg.url());
    let data = dir.join("pg-node");
    std::fs::create_dir_all(&data).unwrap();
    let config = dir.join("pg.toml");
    std::fs::write(
        &config,
        format!("data_dir = {data:?}\n{}", store.config_toml(dir)),
    )
    .unwrap();
    (store, config)
}

fn migrate(from: &Path, to: &Path, extra: &[&str]) -> (i32, String) {
    let out = buzon_testkit::run_bounded(
        Command::new(BIN)
            .arg("migrate")
            .arg("--from")
            .arg(from)
            .arg("--to")
            .arg(to)
            .args(extra),
        Duration::from_secs(120),
    );
    buzon_testkit::run::code_and_text(&out)
}

/// Every message of a user's Maildir (INBOX and folders): folder → UIDL → (size,
/// delivery time in seconds, bytes).
type Listing = BTreeMap<String, BTreeMap<String, (u64, u64, Vec<u8>)>>;

fn listing(data: &Path, user: &str) -> Listing {
    let root = data.join("mail").join(buzon_auth::mailbox_dir_name(user));
    let inbox = Maildir::open(&root).unwrap();
    let mut out = Listing::new();
    let mut folders = vec![None];
    folders.extend(inbox.list_folders().unwrap().into_iter().map(Some));
    for f in folders {
        let md = match &f {
            Some(name) => inbox.folder(name).unwrap(),
            None => Maildir::open(&root).unwrap(),
        };
        let session = md.open_session().unwrap();
        let mut msgs = BTreeMap::new();
        for (i, m) in session.messages().iter().enumerate() {
            let path = session.message_path(i).unwrap();
            let secs = std::fs::metadata(path)
                .unwrap()
                .modified()
                .unwrap()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            msgs.insert(m.uidl.clone(), (m.size, secs, std::fs::read(path).unwrap()));
        }
        out.insert(f.unwrap_or_else(|| "INBOX".into()), msgs);
    }
    out
}

fn deliver(data: &Path, user: &str, folder: Option<&str>, body: &[u8], age: Duration) {
    let root = data.join("mail").join(buzon_auth::mailbox_dir_name(user));
    let inbox = Maildir::create(&root).unwrap();
    let md = match folder {
        Some(f) => inbox.create_folder(f).unwrap(),
        None => inbox,
    };
    let d = md.deliver(&mut &body[..], None).unwrap();
    let path = md.root().join("new").join(&d.file_name);
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - age).unwrap();
}

fn add_user(data: &Path, line: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data.join("users"))
        .unwrap();
    writeln!(f, "{line}").unwrap();
}

fn checksums_agree(out: &str, mailboxes: usize) {
    let same = out
        .lines()
        .filter(|l| l.contains("checksum source") && l.ends_with(": same"))
        .count();
    assert_eq!(
        same, mailboxes,
        "one agreeing checksum line per mailbox:\n{out}"
    );
}

#[test]
fn a_round_trip_maildir_postgres_maildir_keeps_users_folders_uidls_sizes_times_and_bytes() {
    let pg = match PgCluster::start() {
        Ok(pg) => pg,
        Err(e) => return buzon_testkit::skip(&format!("no PostgreSQL test cluster: {e}")),
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, a_config) = maildir_config(dir.path(), "a");
    let (b, b_config) = maildir_config(dir.path(), "b");
    let (store, pg_config) = postgres_config(dir.path(), &pg);
    add_user(&a, "alice:{PLAIN}pw::::::userdb_quota_rule=*:storage=10M");
    add_user(&a, "bob:{PLAIN}pw2");
    let big: Vec<u8> = {
        let mut v = b"Subject: big\r\n\r\n".to_vec();
        while v.len() < 5 * 1024 * 1024 {
            v.extend_from_slice(
                b"0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n",
            );
        }
        v
    };
    let day = Duration::from_secs(86_400);
    deliver(
        &a,
        "alice",
        None,
        b"Subject: crlf\r\n\r\nbody\r\n.\r\n..two dots\r\n",
        3 * day,
    );
    deliver(
        &a,
        "alice",
        None,
        b"Subject: bare lf\n\nline\n.dot line\n",
        2 * day,
    );
    deliver(&a, "alice", None, &big, day);
    deliver(
        &a,
        "alice",
        Some("Archive"),
        b"Subject: archived\r\n\r\nold\r\n",
        10 * day,
    );
    deliver(
        &a,
        "alice",
        Some("A\u{f1}o.Viejo"),
        b"Subject: a\xc3\xb1o\r\n\r\nx\r\n",
        20 * day,
    );
    deliver(&a, "bob", None, b"Subject: for bob\r\n\r\nhi\r\n", day);

    let (code, out) = migrate(&a_config, &pg_config, &[]);
    assert_eq!(code, 0, "{out}");
    checksums_agree(&out, 2);
    assert!(out.contains("2 mailboxes, 6 messages"), "{out}");
    // On PostgreSQL: users with their passwords and quota, the messages in their folders.
    let users = store
        .db()
        .unwrap()
        .sql("SELECT name, password FROM users ORDER BY name")
        .unwrap();
    assert_eq!(users, "alice|{PLAIN}pw\nbob|{PLAIN}pw2");
    assert_eq!(store.message_count("alice"), 3);
    assert_eq!(store.stored("alice", Some("Archive")).len(), 1);

    let (code, out) = migrate(&pg_config, &b_config, &[]);
    assert_eq!(code, 0, "{out}");
    checksums_agree(&out, 2);
    for user in ["alice", "bob"] {
        assert_eq!(
            listing(&a, user),
            listing(&b, user),
            "{user}: the round trip changed something"
        );
    }
    let users_b = std::fs::read_to_string(b.join("users")).unwrap();
    assert!(
        users_b.contains("alice:{PLAIN}pw:") && users_b.contains("userdb_quota_rule=*:storage=10M"),
        "{users_b}"
    );
    assert!(users_b.contains("bob:{PLAIN}pw2"), "{users_b}");
}

#[test]
fn a_non_empty_destination_is_refused_unless_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let (a, a_config) = maildir_config(dir.path(), "a");
    let (b, b_config) = maildir_config(dir.path(), "b");
    add_user(&a, "alice:{PLAIN}pw");
    add_user(&b, "carol:{PLAIN}pw");
    deliver(
        &a,
        "alice",
        None,
        b"Subject: one\r\n\r\n1\r\n",
        Duration::from_secs(60),
    );
    let (code, out) = migrate(&a_config, &b_config, &[]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("already holds 1 users and 0 messages") && out.contains("--resume"),
        "{out}"
    );
    assert!(
        !b.join("mail").join("alice").exists(),
        "nothing copied after the refusal"
    );
    let (code, out) = migrate(&a_config, &b_config, &["--resume"]);
    assert_eq!(code, 0, "{out}");
    checksums_agree(&out, 1);
    // Again: everything is there already, nothing copied twice.
    let (code, out) = migrate(&a_config, &b_config, &["--resume"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("0 copied, 1 already there"), "{out}");
    assert_eq!(listing(&a, "alice"), listing(&b, "alice"));
}

#[test]
fn a_migration_killed_half_way_resumes_and_copies_every_message_exactly_once() {
    let pg = match PgCluster::start() {
        Ok(pg) => pg,
        Err(e) => return buzon_testkit::skip(&format!("no PostgreSQL test cluster: {e}")),
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, a_config) = maildir_config(dir.path(), "a");
    let (store, pg_config) = postgres_config(dir.path(), &pg);
    add_user(&a, "alice:{PLAIN}pw");
    const N: usize = 400;
    for i in 0..N {
        let body = format!("Subject: m{i}\r\n\r\n{}\r\n", "x".repeat(2000 + i));
        deliver(&a, "alice", None, body.as_bytes(), Duration::from_secs(60));
    }
    let mut child = Command::new(BIN)
        .arg("migrate")
        .arg("--from")
        .arg(&a_config)
        .arg("--to")
        .arg(&pg_config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once some, not all, messages are in.
    let part = buzon_testkit::poll(Duration::from_secs(60), || {
        let n = store.message_count("alice");
        (n > 0).then_some(n)
    });
    let _ = child.kill();
    let _ = child.wait();
    let part = part.expect("the migration copied nothing within 60 s");
    let after_kill = store.message_count("alice");
    eprintln!("migrate: killed after {part} of {N} messages ({after_kill} when it died)");
    let (code, out) = migrate(&a_config, &pg_config, &["--resume"]);
    assert_eq!(code, 0, "{out}");
    checksums_agree(&out, 1);
    assert_eq!(store.message_count("alice"), N, "{out}");
    assert!(
        out.contains(&format!(
            "{} copied, {after_kill} already there",
            N - after_kill
        )),
        "{out}"
    );
    let uidls = store
        .db()
        .unwrap()
        .sql("SELECT count(DISTINCT uidl) FROM messages")
        .unwrap();
    assert_eq!(uidls, N.to_string());
}
