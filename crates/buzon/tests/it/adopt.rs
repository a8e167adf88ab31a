//! Taking over a Maildir from a real Dovecot (the Debian package) without a single UIDL
//! changing: Dovecot serves a Maildir (messages in `new/` and `cur/`, some read, names
//! with and without sizes); its UIDL listing is recorded; `fetchmail` and `mpop` keep
//! their copies and remember the UIDLs. The Maildir is copied to Buzón, which serves it
//! with `[pop3] uidl_source = "auto"` (or `"dovecot"` with Dovecot's format): the listing
//! is the same, UIDL for UIDL and size for size; the mail programs, pointed at Buzón under
//! the same host name, download nothing; a message delivered afterwards is downloaded once.
//! Deleting or corrupting `dovecot-uidlist` afterwards changes nothing that was served.
//!
//! Dovecot must run as root (it switches to `nobody` for the mail); elsewhere the tests
//! report themselves skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use buzon_testkit::dovecot::{dovecot_available, Dovecot, DovecotOptions};
use buzon_testkit::process::{write_config, BuzonProcess};
use buzon_testkit::{run_bounded, LineClient, TestCa};

use crate::interop_clients::have;
use crate::BIN;

const LIMIT: Duration = Duration::from_secs(60);

fn dovecot(extra: &str) -> Option<Dovecot> {
    match dovecot_available() {
        Ok(bin) => Some(Dovecot::start(
            &bin,
            DovecotOptions {
                extra: extra.to_string(),
                ..DovecotOptions::default()
            },
        )),
        Err(e) => {
            buzon_testkit::skip(&format!("Dovecot is not usable: {e}"));
            None
        }
    }
}

fn message(i: usize) -> Vec<u8> {
    format!("From: m{i}@old.example\nSubject: kept on the server {i}\nMessage-ID: <{i}@old.example>\n\nbody {i}\n{}\n", "x".repeat(i * 37)).into_bytes()
}

/// Seven messages as a Maildir that Dovecot and others wrote looks: four in `new/` (two
/// with `S=` in their names, two without, as Postfix's `local` writes them), three in
/// `cur/` already read.
fn fill(d: &Dovecot) {
    for i in 0..4 {
        let m = message(i);
        let name = if i % 2 == 0 {
            format!("{}.M{i}P100.old,S={}", 1_700_000_000 + i, m.len())
        } else {
            format!("{}.V801I{i}M{i}.old", 1_700_000_000 + i)
        };
        d.deliver("alice", &name, &m);
    }
    let cur = d.maildir("alice").join("cur");
    for i in 4..7 {
        let m = message(i);
        let path = cur.join(format!("{}.M{i}P200.old:2,S", 1_700_000_100 + i));
        std::fs::write(&path, &m).unwrap();
        let nobody = |flag| {
            String::from_utf8_lossy(
                &Command::new("id")
                    .args([flag, "nobody"])
                    .output()
                    .unwrap()
                    .stdout,
            )
            .trim()
            .parse::<u32>()
            .unwrap()
        };
        std::os::unix::fs::chown(&path, Some(nobody("-u")), Some(nobody("-g"))).unwrap();
    }
}

/// UIDL → size, as a server lists them (USER/PASS over plain POP3 on loopback).
fn listing(addr: std::net::SocketAddr, pass: &str) -> BTreeMap<String, u64> {
    let mut c = LineClient::connect(addr);
    assert!(c.line().starts_with("+OK"));
    c.login("alice", pass);
    let uidl_status = c.cmd("UIDL");
    assert!(uidl_status.starts_with("+OK"), "{uidl_status}");
    let uidls: Vec<(String, String)> = c
        .body_lines()
        .iter()
        .map(|l| {
            let l = String::from_utf8_lossy(l);
            let (n, u) = l.split_once(' ').unwrap();
            (n.to_string(), u.to_string())
        })
        .collect();
    assert!(c.cmd("LIST").starts_with("+OK"));
    let sizes: BTreeMap<String, u64> = c
        .body_lines()
        .iter()
        .map(|l| {
            let l = String::from_utf8_lossy(l);
            let (n, s) = l.split_once(' ').unwrap();
            (n.to_string(), s.parse().unwrap())
        })
        .collect();
    assert!(c.cmd("QUIT").starts_with("+OK"));
    let map: BTreeMap<String, u64> = uidls.into_iter().map(|(n, u)| (u, sizes[&n])).collect();
    assert_eq!(map.len(), sizes.len(), "a UIDL is listed twice");
    map
}

/// Copies a Maildir tree as an administrator would (`cp -r`: files now the copier's).
fn copy_tree(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Buzón over a copy of Dovecot's Maildir for alice (password "secret", as Dovecot's).
fn buzon_over(d: &Dovecot, dir: &Path, pop3: &str) -> (BuzonProcess, PathBuf, TestCa) {
    let ca = TestCa::new();
    let config = write_config(dir, &ca, &format!("\n[pop3]\n{pop3}\n"));
    let data = dir.join("data");
    std::fs::create_dir_all(data.join("mail")).unwrap();
    copy_tree(&d.maildir("alice"), &data.join("mail/alice"));
    buzon_auth::add_user(&data.join("users"), "alice", "{PLAIN}secret").unwrap();
    let proc = BuzonProcess::serve(Path::new(BIN), &config, &data);
    (proc, data, ca)
}

fn first_lines(m: &BTreeMap<String, u64>) -> String {
    m.iter()
        .take(3)
        .map(|(u, s)| format!("{u} {s}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// mpop and fetchmail in keep mode, configured for `host` = "localhost" on a port: the
/// UIDL memory of each is keyed by user and host name, as it is when DNS moves a name.
struct Programs {
    home: PathBuf,
    mpop_maildir: PathBuf,
    fetchmail_out: PathBuf,
}

impl Programs {
    fn new(dir: &Path) -> Programs {
        let home = dir.join("home");
        let mpop_maildir = dir.join("mpop-maildir");
        let fetchmail_out = dir.join("fetchmail-out");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(mpop_maildir.join(sub)).unwrap();
        }
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&fetchmail_out).unwrap();
        let mda = home.join("mda.sh");
        std::fs::write(&mda, "#!/bin/sh\nexec cat > \"$1/msg.$(date +%s%N).$$\"\n").unwrap();
        std::fs::set_permissions(&mda, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        Programs {
            home,
            mpop_maildir,
            fetchmail_out,
        }
    }

    fn private(&self, name: &str, text: &str) -> PathBuf {
        let p = self.home.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        p
    }

    /// mpop over implicit TLS to `port`, trusting `ca`; its output.
    fn mpop(&self, port: u16, ca: &Path) -> String {
        let rc = self.private(
            "mpoprc",
            &format!(
                "defaults\ntimeout 20\ntls on\ntls_starttls off\ntls_trust_file {}\nkeep on\nreceived_header off\nuidls_file {}\n\naccount test\nhost localhost\nport {port}\nuser alice\npassword secret\nauth user\ndelivery maildir {}\n",
                ca.display(),
                self.home.join("uidls").display(),
                self.mpop_maildir.display()
            ),
        );
        let o = run_bounded(
            Command::new("mpop")
                .env("HOME", &self.home)
                .arg("-C")
                .arg(&rc)
                .arg("test"),
            LIMIT,
        );
        assert!(o.status.success(), "mpop: {}", text(&o));
        text(&o)
    }

    /// fetchmail over implicit TLS to `port` with UIDL and keep; its exit code and output.
    fn fetchmail(&self, port: u16, ca: &Path) -> (Option<i32>, String) {
        let rc = self.private(
            "fetchmailrc",
            &format!(
                "set no syslog\nset idfile \"{ids}\"\npoll localhost with proto POP3 port {port} uidl timeout 20\n  user \"alice\" there with password \"secret\" is \"root\" here\n  ssl sslproto \"TLS1.2+\" sslcertck sslcertfile \"{ca}\"\n  keep\n  no rewrite\n  mda \"{mda} {out}\"\n",
                ids = self.home.join("fetchids").display(),
                ca = ca.display(),
                mda = self.home.join("mda.sh").display(),
                out = self.fetchmail_out.display()
            ),
        );
        let o = run_bounded(
            Command::new("fetchmail")
                .env("HOME", &self.home)
                .env("LC_ALL", "C")
                .args(["--nodetach", "--nosyslog", "-v", "-f"])
                .arg(&rc),
            LIMIT,
        );
        (o.status.code(), text(&o))
    }
}

#[test]
fn a_maildir_taken_over_from_dovecot_keeps_every_uidl_and_mail_programs_download_nothing_again() {
    let Some(d) = dovecot("") else { return };
    let use_programs = have("mpop") && have("fetchmail");
    fill(&d);
    let before = listing(d.pop3, "secret");
    assert_eq!(before.len(), 7);
    let dir = tempfile::tempdir().unwrap();
    let programs = Programs::new(dir.path());
    if use_programs {
        let out = programs.mpop(d.pop3s.port(), &d.ca_file());
        assert_eq!(files_in(&programs.mpop_maildir.join("new")), 7, "{out}");
        let (code, out) = programs.fetchmail(d.pop3s.port(), &d.ca_file());
        assert_eq!(code, Some(0), "{out}");
        assert_eq!(files_in(&programs.fetchmail_out), 7, "{out}");
    }
    // Dovecot has now written dovecot-uidlist (and moved new/ to cur/).
    let (proc, data, ca) = buzon_over(&d, dir.path(), "uidl_source = \"auto\"");
    let after = listing(proc.addr("POP3"), "secret");
    eprintln!(
        "adopt: Dovecot listed {} (first: {}); Buzón lists {} (first: {})",
        before.len(),
        first_lines(&before),
        after.len(),
        first_lines(&after)
    );
    let differing = before
        .iter()
        .filter(|(u, s)| after.get(*u) != Some(*s))
        .count();
    assert_eq!(differing, 0, "Dovecot: {before:?}\nBuzón: {after:?}");
    assert_eq!(before, after);
    let ca_file = dir.path().join("buzon-ca.pem");
    ca.write_pem(&ca_file);
    if use_programs {
        let out = programs.mpop(proc.addr("POP3S").port(), &ca_file);
        assert!(out.contains("new: no messages"), "{out}");
        assert_eq!(files_in(&programs.mpop_maildir.join("new")), 7, "{out}");
        let (code, out) = programs.fetchmail(proc.addr("POP3S").port(), &ca_file);
        assert_eq!(code, Some(1), "fetchmail found new mail on Buzón: {out}");
        assert_eq!(files_in(&programs.fetchmail_out), 7, "{out}");
    }
    // A message delivered by Buzón after the move is downloaded once, under a new UIDL.
    let md = buzon_store::Maildir::open(data.join("mail/alice")).unwrap();
    md.deliver(
        &mut &b"From: new@example\nSubject: after the move\n\nnew\n"[..],
        None,
    )
    .unwrap();
    let with_new = listing(proc.addr("POP3"), "secret");
    assert_eq!(with_new.len(), 8);
    assert!(before.iter().all(|(u, s)| with_new.get(u) == Some(s)));
    if use_programs {
        let out = programs.mpop(proc.addr("POP3S").port(), &ca_file);
        assert_eq!(files_in(&programs.mpop_maildir.join("new")), 8, "{out}");
        let (code, out) = programs.fetchmail(proc.addr("POP3S").port(), &ca_file);
        assert_eq!(code, Some(0), "{out}");
        assert_eq!(files_in(&programs.fetchmail_out), 8, "{out}");
        let out = programs.mpop(proc.addr("POP3S").port(), &ca_file);
        assert!(out.contains("new: no messages"), "{out}");
    }
    // What was served is recorded: without Dovecot's file, nothing changes.
    std::fs::remove_file(data.join("mail/alice/dovecot-uidlist")).unwrap();
    assert_eq!(listing(proc.addr("POP3"), "secret"), with_new);
    // Buzón never wrote into Dovecot's copy.
    assert!(d.maildir("alice").join("dovecot-uidlist").exists());
    assert!(!d.maildir("alice").join("buzon-uidls").exists());
}

#[test]
fn dovecot_uidls_in_a_custom_format_or_recorded_by_dovecot_are_served_as_dovecot_served_them() {
    // Formats Buzón computes from dovecot-uidlist (Courier's old UIDVALIDITY.UID, and the
    // GUID, which on a Maildir is the file name up to ':'), and UIDLs Dovecot recorded
    // with pop3_save_uidl (an empty `P` field: "the same as the GUID").
    for (dovecot_conf, buzon_conf) in [
        (
            "pop3_uidl_format = %v.%u\n",
            "uidl_source = \"dovecot\"\ndovecot_uidl_format = \"%v.%u\"",
        ),
        (
            "pop3_uidl_format = %g\n",
            "uidl_source = \"dovecot\"\ndovecot_uidl_format = \"%g\"",
        ),
        (
            "pop3_uidl_format = %g\npop3_save_uidl = yes\n",
            "uidl_source = \"auto\"",
        ),
    ] {
        let Some(d) = dovecot(dovecot_conf) else {
            return;
        };
        fill(&d);
        let before = std::panic::catch_unwind(|| listing(d.pop3, "secret"))
            .unwrap_or_else(|_| panic!("Dovecot's listing failed; its log:\n{}", d.log()));
        assert_eq!(before.len(), 7);
        let dir = tempfile::tempdir().unwrap();
        let (proc, _data, _ca) = buzon_over(&d, dir.path(), buzon_conf);
        let after = listing(proc.addr("POP3"), "secret");
        eprintln!(
            "adopt ({}): Dovecot {}; Buzón {}",
            dovecot_conf.trim().replace('\n', ", "),
            first_lines(&before),
            first_lines(&after)
        );
        assert_eq!(before, after, "with {dovecot_conf}");
    }
}

#[test]
fn broken_dovecot_uidlist_lines_are_logged_with_file_and_line_and_their_messages_get_buzon_uidls() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let config = write_config(dir.path(), &ca, "\n[pop3]\nuidl_source = \"dovecot\"\n");
    let data = dir.path().join("data");
    let md = buzon_store::Maildir::create(data.join("mail/alice")).unwrap();
    for name in ["1.M1.old", "2.M2.old"] {
        std::fs::write(
            md.root().join("cur").join(format!("{name}:2,S")),
            message(1),
        )
        .unwrap();
    }
    std::fs::write(
        md.root().join("dovecot-uidlist"),
        "3 V1700000000 N3\n1 :1.M1.old\nbroken line\n",
    )
    .unwrap();
    buzon_auth::add_user(&data.join("users"), "alice", "{PLAIN}secret").unwrap();
    let proc = BuzonProcess::serve(Path::new(BIN), &config, &data);
    let listed = listing(proc.addr("POP3"), "secret");
    assert_eq!(
        listed.keys().cloned().collect::<Vec<_>>(),
        vec!["000000016553f100".to_string(), "2.M2.old".to_string()]
    );
    let log = buzon_testkit::wait_for(Duration::from_secs(10), "the warning in the log", || {
        proc.log()
            .into_iter()
            .find(|l| l.contains("dovecot-uidlist") && l.contains("line=3"))
    });
    eprintln!("adopt: {log}");
    assert!(log.contains("Buzón UIDL"), "{log}");
}

/// Files in a Maildir's `new/` and `cur/`.
fn stored_count(maildir: &Path) -> usize {
    files_in(&maildir.join("new")) + files_in(&maildir.join("cur"))
}

/// `buzon import` from a real Dovecot: killed (SIGKILL) at three points and run again,
/// every message arrives exactly once under the UIDL Dovecot served (here Dovecot's GUID,
/// the file name, which holds `,S=` and so cannot name a Buzón file: the Maildir's UIDL
/// record carries it); the remote mailbox is untouched; mpop, which kept its mail on
/// Dovecot, downloads nothing from Buzón.
#[test]
fn import_from_dovecot_survives_kills_and_keeps_every_uidl() {
    let Some(d) = dovecot("pop3_uidl_format = %g\n") else {
        return;
    };
    const N: usize = 40;
    for i in 0..N {
        let m = format!(
            "From: m{i}@old.example\nSubject: import {i}\n\n{}\n",
            "line of text\n".repeat(2000 + i * 50)
        );
        d.deliver(
            "alice",
            &format!("{}.M{i}P300.old,S={}", 1_700_000_000 + i, m.len()),
            m.as_bytes(),
        );
    }
    let before = listing(d.pop3, "secret");
    assert_eq!(before.len(), N);
    let dir = tempfile::tempdir().unwrap();
    let programs = Programs::new(dir.path());
    let use_mpop = have("mpop");
    if use_mpop {
        programs.mpop(d.pop3s.port(), &d.ca_file());
        assert_eq!(files_in(&programs.mpop_maildir.join("new")), N);
    }
    let ca = TestCa::new();
    let config = write_config(dir.path(), &ca, "");
    let data = dir.path().join("data");
    buzon_auth::add_user(&data.join("users"), "alice", "{PLAIN}secret").unwrap();
    let mailbox = data.join("mail/alice");
    let import = || {
        let mut c = Command::new(BIN);
        c.arg("import")
            .arg(format!("pop3s://alice@localhost:{}", d.pop3s.port()))
            .args(["--into", "alice", "--password-env", "OLD_PW", "--config"])
            .arg(&config)
            .arg("--ca-file")
            .arg(d.ca_file())
            .env("OLD_PW", "secret")
            .env("LC_ALL", "C")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c
    };
    // Kill points: after about a quarter, half and three quarters of the messages.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as usize;
    let mut kills = Vec::new();
    for (k, quarter) in [1usize, 2, 3].into_iter().enumerate() {
        let target = (N * quarter / 4 + (seed >> (k * 3)) % 5).min(N - 1);
        let mut child = import().spawn().unwrap();
        let reached = buzon_testkit::wait::poll(Duration::from_secs(60), || {
            let n = stored_count(&mailbox);
            if n >= target {
                return Some(n);
            }
            // A poll of the destination, not a wait before an assertion.
            std::thread::sleep(Duration::from_millis(1));
            matches!(child.try_wait(), Ok(Some(_))).then_some(n)
        });
        let _ = child.kill();
        let _ = child.wait();
        kills.push(format!(
            "{} (target {target})",
            reached.unwrap_or_else(|| stored_count(&mailbox))
        ));
    }
    let out = run_bounded(&mut import(), LIMIT);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains(&format!("{N} messages")) && said.contains(&format!("{N}/{N}")),
        "{said}"
    );
    eprintln!(
        "import: killed with {} stored; then: {said}",
        kills.join(", ")
    );
    assert_eq!(stored_count(&mailbox), N, "a message was stored twice");
    // A second run copies nothing.
    let again = text(&run_bounded(&mut import(), LIMIT));
    assert!(
        again.contains(&format!("0 copied, {N} already there")),
        "{again}"
    );
    // Served by Buzón exactly as Dovecot served it; Dovecot's mailbox untouched.
    let proc = BuzonProcess::serve(Path::new(BIN), &config, &data);
    assert_eq!(listing(proc.addr("POP3"), "secret"), before);
    assert_eq!(listing(d.pop3, "secret"), before);
    if use_mpop {
        let ca_file = dir.path().join("buzon-ca.pem");
        ca.write_pem(&ca_file);
        let out = programs.mpop(proc.addr("POP3S").port(), &ca_file);
        assert!(out.contains("new: no messages"), "{out}");
    }
}

/// A hash as Dovecot writes it (`doveadm pw`), for users moved from Dovecot.
fn doveadm_pw(scheme: &str, password: &str) -> Option<String> {
    let out = Command::new("doveadm")
        .args(["pw", "-s", scheme, "-p", password])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Users from a Dovecot passwd-file (hashes made by `doveadm pw`, a quota rule in the
/// extra fields) and from a CSV export log in to Buzón with their old passwords; a
/// scheme Buzón cannot verify stops the import at its line before anything is added.
#[test]
fn users_from_a_dovecot_passwd_file_and_a_csv_export_keep_their_passwords_and_quotas() {
    let (Some(sha), Some(blf)) = (
        doveadm_pw("SHA512-CRYPT", "old sha"),
        doveadm_pw("BLF-CRYPT", "old blf"),
    ) else {
        if std::env::var("BUZON_INTEROP").as_deref() == Ok("1") {
            panic!("doveadm is required (BUZON_INTEROP=1); install dovecot-core");
        }
        buzon_testkit::skip("doveadm is not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let config = write_config(dir.path(), &ca, "");
    let data = dir.path().join("data");
    let import = |file: &Path, format: &str| {
        run_bounded(
            Command::new(BIN)
                .args(["import", "--users"])
                .arg(file)
                .args(["--format", format, "--config"])
                .arg(&config)
                .env("LC_ALL", "C"),
            LIMIT,
        )
    };
    let bad = dir.path().join("bad-passwd");
    std::fs::write(
        &bad,
        format!("ann:{sha}::::::\n# a comment\nold:{{MD5}}abc::::::\n"),
    )
    .unwrap();
    let out = import(&bad, "passwd-file");
    let said = text(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("bad-passwd line 3: user old: unknown password scheme \"MD5\""),
        "{said}"
    );
    assert!(
        !data.join("users").exists(),
        "a user was added before the error"
    );
    let passwd = dir.path().join("passwd");
    std::fs::write(
        &passwd,
        format!(
            "ann:{sha}:1000:1000::/home/ann::userdb_quota_rule=*:storage=10M\nben:{blf}::::::\n"
        ),
    )
    .unwrap();
    let out = import(&passwd, "passwd-file");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("2 users read, 2 added"),
        "{}",
        text(&out)
    );
    let csv = dir.path().join("users.csv");
    std::fs::write(
        &csv,
        "email,password\ncat@example.com,{PLAIN}csv pw,userdb_quota_rule=*:messages=5\nann,{PLAIN}not this one\n",
    )
    .unwrap();
    let out = import(&csv, "csv");
    let said = text(&out);
    assert!(
        said.contains("2 users read, 1 added")
            && said.contains("already there (kept as they are: ann)"),
        "{said}"
    );
    let users = std::fs::read_to_string(data.join("users")).unwrap();
    assert!(users.contains("userdb_quota_rule=*:storage=10M"), "{users}");
    assert!(users.contains("userdb_quota_rule=*:messages=5"), "{users}");
    let proc = BuzonProcess::serve(Path::new(BIN), &config, &data);
    for (user, pass) in [
        ("ann", "old sha"),
        ("ben", "old blf"),
        ("cat@example.com", "csv pw"),
    ] {
        let mut c = LineClient::connect(proc.addr("POP3"));
        assert!(c.line().starts_with("+OK"));
        c.login(user, pass);
        assert!(c.cmd("QUIT").starts_with("+OK"));
    }
}

/// A Maildir Courier's POP3 server served: its `courierpop3dsizelist`, written here in
/// the format of Courier's own source (courier-libs, `imap/pop3dserver.c`:
/// `savepop3dlist` writes the header `/3 <next uid> <uidvalidity>` and one
/// `<file name> <size> <uid>:<uidvalidity>:<utf8>` per message; `print_uidl` serves
/// `UID<uid>-<uidvalidity>`). Buzón with `uidl_source = "auto"` serves Courier's UIDLs and
/// sizes, and Buzón's own for a message Courier never listed.
#[test]
fn a_courier_maildir_is_served_with_the_uidls_courier_served() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let config = write_config(dir.path(), &ca, "\n[pop3]\nuidl_source = \"auto\"\n");
    let data = dir.path().join("data");
    let md = buzon_store::Maildir::create(data.join("mail/alice")).unwrap();
    let mut list = String::from("/3 4 1701234567\n");
    let mut want = BTreeMap::new();
    for i in 1..=3u64 {
        let m = message(i as usize);
        let name = format!("{}.M{i}P77.courier", 1_701_000_000 + i);
        std::fs::write(md.root().join("cur").join(format!("{name}:2,S")), &m).unwrap();
        // Courier's size: octets with CRLF line ends (RFC 1939).
        let size = m.len() as u64 + m.iter().filter(|&&b| b == b'\n').count() as u64;
        list.push_str(&format!("{name}:2,S {size} {i}:1701234567:0\n"));
        want.insert(format!("UID{i}-1701234567"), size);
    }
    std::fs::write(md.root().join("courierpop3dsizelist"), list).unwrap();
    // Delivered after Courier's last listing: not in its file.
    std::fs::write(md.root().join("new/1701000009.M9P77.courier"), message(9)).unwrap();
    buzon_auth::add_user(&data.join("users"), "alice", "{PLAIN}secret").unwrap();
    let proc = BuzonProcess::serve(Path::new(BIN), &config, &data);
    let listed = listing(proc.addr("POP3"), "secret");
    eprintln!("adopt (courier): {}", first_lines(&listed));
    assert_eq!(listed.len(), 4);
    for (uidl, size) in &want {
        assert_eq!(listed.get(uidl), Some(size), "{listed:?}");
    }
    assert!(
        listed.contains_key("1701000009.M9P77.courier"),
        "{listed:?}"
    );
    // Served once, recorded: the same without Courier's file.
    std::fs::remove_file(md.root().join("courierpop3dsizelist")).unwrap();
    assert_eq!(listing(proc.addr("POP3"), "secret"), listed);
}

/// The UIDL source overridden per user in the users file (`userdb_uidl_source`, as
/// Dovecot's userdb fields override settings): alice's Maildir came from Dovecot, bob's
/// is Buzón's own, on a server whose setting is the default.
#[test]
fn the_uidl_source_can_be_chosen_per_user_in_the_users_file() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let config = write_config(dir.path(), &ca, "");
    let data = dir.path().join("data");
    for user in ["alice", "bob"] {
        let md = buzon_store::Maildir::create(data.join("mail").join(user)).unwrap();
        std::fs::write(md.root().join("cur/1.M1.old:2,S"), message(1)).unwrap();
        std::fs::write(
            md.root().join("dovecot-uidlist"),
            "3 V1700000000 N2\n1 :1.M1.old\n",
        )
        .unwrap();
    }
    std::fs::write(
        data.join("users"),
        "alice:{PLAIN}secret::::::userdb_uidl_source=dovecot userdb_dovecot_uidl_format=%v-%u\nbob:{PLAIN}secret::::::\n",
    )
    .unwrap();
    let proc = BuzonProcess::serve(Path::new(BIN), &config, &data);
    let uidls = |user: &str| {
        let mut c = LineClient::connect(proc.addr("POP3"));
        assert!(c.line().starts_with("+OK"));
        c.login(user, "secret");
        let u = c.cmd("UIDL 1");
        assert!(c.cmd("QUIT").starts_with("+OK"));
        u
    };
    assert_eq!(uidls("alice"), "+OK 1 1700000000-1");
    assert_eq!(uidls("bob"), "+OK 1 1.M1.old");
}
