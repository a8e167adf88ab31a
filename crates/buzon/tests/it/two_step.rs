//! App passwords and two-step verification end to end: `buzon user app-password` and
//! `buzon user 2fa` against the real `buzon serve`, logins by curl, Python's poplib and
//! mpop, the TOTP code computed the way an authenticator app does (a few lines of Python
//! reading the secret the command printed), with the Maildir store's users file and
//! credentials folder, and with the PostgreSQL store.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use buzon_testkit::pg::PG_PASSWORD;
use buzon_testkit::process::{write_config, BuzonProcess};
use buzon_testkit::{run_bounded, LineClient, PgCluster, TestCa};

use crate::interop_clients::have;
use crate::BIN;

const LIMIT: Duration = Duration::from_secs(60);

struct Env {
    dir: tempfile::TempDir,
    config: PathBuf,
    ca_file: PathBuf,
}

impl Env {
    /// A config in a folder of its own; `store` is extra config text (a `[store]`).
    fn new(store: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new();
        let config = write_config(dir.path(), &ca, store);
        let ca_file = dir.path().join("ca.pem");
        ca.write_pem(&ca_file);
        Env {
            dir,
            config,
            ca_file,
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn serve(&self) -> BuzonProcess {
        BuzonProcess::serve(Path::new(BIN), &self.config, &self.data())
    }

    /// `buzon <args…> --config` with `stdin`, in English: exit code and output.
    fn run(&self, args: &[&str], stdin: &[u8]) -> (i32, String) {
        let mut child = Command::new(BIN)
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .env("LC_ALL", "C")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let _ = input.write_all(stdin);
        drop(input);
        let status = buzon_testkit::wait::poll(LIMIT, || child.try_wait().ok().flatten());
        if status.is_none() {
            let _ = child.kill();
        }
        let out = child.wait_with_output().unwrap();
        buzon_testkit::run::code_and_text(&out)
    }

    fn add_user(&self, user: &str, password: &str) {
        let (code, out) = self.run(&["user", "add", user], format!("{password}\n").as_bytes());
        assert_eq!(code, 0, "{out}");
    }

    /// `app-password add`: the password it showed.
    fn add_app_password(&self, user: &str, name: &str, scope: &str) -> String {
        let (code, out) = self.run(
            &["user", "app-password", "add", user, name, "--scope", scope],
            b"",
        );
        assert_eq!(code, 0, "{out}");
        let shown: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("    ")).collect();
        assert_eq!(shown.len(), 1, "{out}");
        let pw = shown[0].to_string();
        assert_eq!(pw.len(), 29, "{pw}");
        pw
    }

    /// `2fa enable` as a person does it: read the secret it prints, type the app's code.
    /// Returns the command's output and the recovery codes.
    fn enable_two_step(&self, user: &str) -> (String, Vec<String>) {
        let mut child = Command::new(BIN)
            .args(["user", "2fa", "enable", user, "--config"])
            .arg(&self.config)
            .env("LC_ALL", "C")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut seen = String::new();
        let secret = loop {
            let mut line = String::new();
            assert!(
                stdout.read_line(&mut line).unwrap() > 0,
                "no secret in: {seen}"
            );
            seen.push_str(&line);
            if let Some(s) = line.trim().strip_prefix("Secret: ") {
                break s.to_string();
            }
        };
        let code = authenticator_code(&secret, 0);
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(format!("{code}\n").as_bytes()).unwrap();
        drop(stdin);
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
        let status = buzon_testkit::wait::poll(LIMIT, || child.try_wait().ok().flatten());
        assert_eq!(status.and_then(|s| s.code()), Some(0), "{seen}{rest}");
        seen.push_str(&rest);
        let codes = rest
            .lines()
            .filter_map(|l| l.strip_prefix("    "))
            .map(str::to_string)
            .collect();
        (seen, codes)
    }
}

/// RFC 6238 with HMAC-SHA1, 6 digits, 30 s, as authenticator apps compute it — an
/// implementation independent of the server's, in Python's standard library.
/// `offset` shifts the clock by that many steps.
pub(crate) fn authenticator_code(secret_base32: &str, offset: i64) -> String {
    let script = "import base64,hashlib,hmac,struct,sys,time\n\
        s=sys.argv[1]; k=base64.b32decode(s+'='*((8-len(s)%8)%8))\n\
        c=struct.pack('>Q', int(time.time())//30+int(sys.argv[2]))\n\
        h=hmac.new(k,c,hashlib.sha1).digest(); o=h[-1]&15\n\
        print('%06d' % ((struct.unpack('>I',h[o:o+4])[0]&0x7fffffff)%1000000))\n";
    let out = run_bounded(
        Command::new("python3").args(["-c", script, secret_base32, &offset.to_string()]),
        LIMIT,
    );
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The reply to PASS after USER on the plain port (loopback may log in without TLS).
fn pass_reply(p: &BuzonProcess, user: &str, pass: &str) -> String {
    let mut c = LineClient::connect(p.addr("POP3"));
    assert!(c.line().starts_with("+OK"));
    assert!(c.cmd(&format!("USER {user}")).starts_with("+OK"));
    let r = c.cmd(&format!("PASS {pass}"));
    let _ = c.cmd("QUIT");
    r
}

/// poplib over POP3S with the test CA: "ok N" (messages) or the server's error.
fn poplib(e: &Env, p: &BuzonProcess, user: &str, pass: &str) -> String {
    let script = "import poplib,ssl,sys\n\
        ctx=ssl.create_default_context(cafile=sys.argv[3])\n\
        p=poplib.POP3_SSL('localhost', int(sys.argv[4]), context=ctx, timeout=20)\n\
        try:\n    p.user(sys.argv[1]); p.pass_(sys.argv[2]); print('ok', p.stat()[0]); p.quit()\n\
        except poplib.error_proto as err:\n    print(err.args[0].decode())\n";
    let out = run_bounded(
        Command::new("python3").args([
            "-c",
            script,
            user,
            pass,
            &e.ca_file.to_string_lossy(),
            &p.addr("POP3S").port().to_string(),
        ]),
        LIMIT,
    );
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn curl_list(e: &Env, p: &BuzonProcess, user: &str, pass: &str) -> std::process::Output {
    run_bounded(
        Command::new("curl")
            .args(["-sS", "--max-time", "20", "--cacert"])
            .arg(&e.ca_file)
            .arg("-u")
            .arg(format!("{user}:{pass}"))
            .arg(format!("pop3s://localhost:{}/", p.addr("POP3S").port())),
        LIMIT,
    )
}

#[test]
fn app_passwords_log_in_with_curl_and_poplib_record_their_use_and_stop_at_revoke() {
    if !have("curl") || !have("python3") {
        return;
    }
    let e = Env::new("");
    e.add_user("alice", "main pw");
    let laptop = e.add_app_password("alice", "laptop — Thunderbird", "pop3");
    let p = e.serve();

    // curl with the app password as shown; poplib typed in capitals without dashes.
    let out = curl_list(&e, &p, "alice", &laptop);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        poplib(&e, &p, "alice", &laptop.replace('-', "").to_uppercase()),
        "ok 0"
    );
    // Without two-step verification, the main password works as well.
    assert_eq!(poplib(&e, &p, "alice", "main pw"), "ok 0");
    // Another user's app password, or this one with a letter changed, is not a login.
    let mut wrong = laptop.clone().into_bytes();
    wrong[28] = if wrong[28] == b'a' { b'b' } else { b'a' };
    let wrong = String::from_utf8(wrong).unwrap();
    assert_eq!(
        pass_reply(&p, "alice", &wrong),
        "-ERR [AUTH] Authentication failed."
    );
    e.add_user("bob", "bob pw");
    assert_eq!(
        pass_reply(&p, "bob", &laptop),
        "-ERR [AUTH] Authentication failed."
    );

    // The list shows the use: time and address; nothing secret is stored.
    let (code, out) = e.run(&["user", "app-password", "list", "alice"], b"");
    assert_eq!(code, 0, "{out}");
    let row = out
        .lines()
        .find(|l| l.starts_with("laptop — Thunderbird\t"))
        .unwrap_or_else(|| panic!("{out}"));
    let cols: Vec<&str> = row.split('\t').collect();
    assert_eq!(cols[1], &laptop[..5], "{row}");
    assert_eq!(cols[2], "pop3", "{row}");
    assert_ne!(cols[4], "never", "{row}");
    assert_eq!(cols[5], "127.0.0.1", "{row}");
    let folder = e.data().join("credentials");
    let file = std::fs::read_dir(&folder)
        .unwrap()
        .map(|f| f.unwrap().path())
        .find(|f| f.extension().is_some_and(|x| x == "toml"))
        .unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains(&laptop.replace('-', "")[5..]), "{text}");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Revoked: the next login with it fails, at once.
    let (code, out) = e.run(
        &[
            "user",
            "app-password",
            "revoke",
            "alice",
            "LAPTOP — Thunderbird",
        ],
        b"",
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("revoked app password laptop — Thunderbird"),
        "{out}"
    );
    let out = curl_list(&e, &p, "alice", &laptop);
    assert!(!out.status.success(), "{out:?}");
    assert_eq!(
        poplib(&e, &p, "alice", &laptop),
        "-ERR [AUTH] Authentication failed."
    );
    let (code, out) = e.run(&["user", "app-password", "revoke", "alice", "laptop"], b"");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no app password named laptop"), "{out}");

    // Names are checked; a scope other than pop3 or all is refused by the command line.
    let (code, out) = e.run(&["user", "app-password", "add", "alice", " "], b"");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("needs a name"), "{out}");
    let (code, _) = e.run(
        &[
            "user",
            "app-password",
            "add",
            "alice",
            "x",
            "--scope",
            "imap",
        ],
        b"",
    );
    assert_eq!(code, 2);
    let (code, out) = e.run(&["user", "app-password", "add", "nobody", "x"], b"");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no such user"), "{out}");
}

#[test]
fn two_step_refuses_the_main_password_with_the_explaining_text_and_takes_app_passwords() {
    if !have("python3") {
        return;
    }
    let e = Env::new("");
    e.add_user("alice", "main pw");
    e.add_user("bob", "bob pw");
    let p = e.serve();

    let (out, recovery) = e.enable_two_step("alice");
    assert!(out.contains("otpauth://totp/"), "{out}");
    assert!(
        out.contains("issuer=Buz%C3%B3n%20test.buzon.invalid"),
        "{out}"
    );
    assert!(
        out.contains('█') || out.contains('▀'),
        "no QR code drawn: {out}"
    );
    assert!(
        out.contains("Two-step verification is on for alice"),
        "{out}"
    );
    assert_eq!(recovery.len(), 10, "{out}");
    let users = std::fs::read_to_string(e.data().join("users")).unwrap();
    assert!(
        users
            .lines()
            .any(|l| l.starts_with("alice:") && l.ends_with("two_step=totp")),
        "{users}"
    );

    // The main password: refused with the text that says what to do, over POP3S
    // (poplib) and on the plain port, within a second of the change.
    let refused = buzon_testkit::wait::poll(Duration::from_secs(5), || {
        let r = poplib(&e, &p, "alice", "main pw");
        r.starts_with("-ERR [AUTH] This account uses two-step")
            .then_some(r)
    })
    .unwrap_or_else(|| panic!("main password still accepted"));
    assert_eq!(
        refused,
        "-ERR [AUTH] This account uses two-step verification: log in with an app password, not the main password (the administrator creates one with: buzon user app-password add alice NAME)."
    );
    // A wrong password gets the usual reply: the text tells nothing to a guesser.
    assert_eq!(
        pass_reply(&p, "alice", "guess"),
        "-ERR [AUTH] Authentication failed."
    );
    // bob has no two-step verification.
    assert_eq!(poplib(&e, &p, "bob", "bob pw"), "ok 0");

    let phone = e.add_app_password("alice", "phone", "all");
    assert_eq!(poplib(&e, &p, "alice", &phone), "ok 0");
    assert!(pass_reply(&p, "alice", &phone).starts_with("+OK"));
    if have("mpop") {
        let (o, _) = crate::interop_clients::mpop_run(
            e.dir.path(),
            p.addr("POP3S").port(),
            &e.ca_file,
            &format!("user alice\npassword {phone}"),
        );
        assert!(o.status.success(), "mpop with an app password: {o:?}");
    }

    let (code, out) = e.run(&["user", "2fa", "status", "alice"], b"");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("is on for alice since"), "{out}");
    assert!(
        out.contains("10 recovery codes left; 1 app passwords"),
        "{out}"
    );
    let (code, out) = e.run(&["user", "2fa", "enable", "alice"], b"123456\n");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("already on for alice"), "{out}");

    // A wrong first code sets nothing up.
    let (code, out) = e.run(&["user", "2fa", "enable", "bob"], b"12345x\n");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("stays off for bob"), "{out}");
    let (_, out) = e.run(&["user", "2fa", "status", "bob"], b"");
    assert!(out.contains("is off for bob"), "{out}");
    assert_eq!(poplib(&e, &p, "bob", "bob pw"), "ok 0");

    // Off again: the main password works, the app password stays.
    let (code, out) = e.run(&["user", "2fa", "disable", "alice"], b"");
    assert_eq!(code, 0, "{out}");
    let back = buzon_testkit::wait::poll(Duration::from_secs(5), || {
        (poplib(&e, &p, "alice", "main pw") == "ok 0").then_some(())
    });
    assert!(back.is_some(), "main password still refused after disable");
    assert_eq!(poplib(&e, &p, "alice", &phone), "ok 0");
    let users = std::fs::read_to_string(e.data().join("users")).unwrap();
    assert!(!users.contains("two_step"), "{users}");

    // Deleting the user deletes its credentials too (bob's, with his recent logins, stay).
    let alice_file = e.data().join("credentials/alice.toml");
    assert!(alice_file.exists());
    let (code, out) = e.run(&["user", "del", "alice"], b"");
    assert_eq!(code, 0, "{out}");
    assert!(!alice_file.exists(), "alice's credentials outlived her");
    assert!(e.data().join("credentials/bob.toml").exists());
}

#[test]
fn app_passwords_and_two_step_live_in_the_postgresql_store_for_every_node() {
    if !have("python3") {
        return;
    }
    let pg = match PgCluster::start() {
        Ok(c) => c,
        Err(e) => {
            buzon_testkit::skip(&format!("no PostgreSQL test cluster: {e}"));
            return;
        }
    };
    let store = |e: &Path| {
        let pw = e.join("db-password");
        std::fs::write(&pw, format!("{PG_PASSWORD}\n")).unwrap();
        format!(
            "[store]\nkind = \"postgres\"\nurl = {:?}\npassword_file = {pw:?}\nconnect_timeout = \"2s\"\n",
            pg.url()
        )
    };
    let dir_a = tempfile::tempdir().unwrap();
    let a = Env::new(&store(dir_a.path()));
    let dir_b = tempfile::tempdir().unwrap();
    let b = Env::new(&store(dir_b.path()));
    a.add_user("carol", "main pw");
    let app = a.add_app_password("carol", "tablet", "pop3");
    let node_a = a.serve();
    let node_b = b.serve();
    // Made through one node's config, used on the other.
    assert!(pass_reply(&node_b, "carol", &app).starts_with("+OK"));
    let (out, recovery) = b.enable_two_step("carol");
    assert_eq!(recovery.len(), 10, "{out}");
    for node in [&node_a, &node_b] {
        let refused = buzon_testkit::wait::poll(Duration::from_secs(5), || {
            let r = pass_reply(node, "carol", "main pw");
            r.starts_with("-ERR [AUTH] This account uses two-step")
                .then_some(r)
        });
        assert!(refused.is_some(), "main password still accepted");
        assert!(pass_reply(node, "carol", &app).starts_with("+OK"));
    }
    let (_, out) = a.run(&["user", "app-password", "list", "carol"], b"");
    assert!(out.contains("\t127.0.0.1"), "{out}");
    let (code, out) = a.run(&["user", "app-password", "revoke", "carol", "tablet"], b"");
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        pass_reply(&node_b, "carol", &app),
        "-ERR [AUTH] Authentication failed."
    );
    let (code, out) = b.run(&["user", "2fa", "disable", "carol"], b"");
    assert_eq!(code, 0, "{out}");
    let back = buzon_testkit::wait::poll(Duration::from_secs(5), || {
        pass_reply(&node_a, "carol", "main pw")
            .starts_with("+OK")
            .then_some(())
    });
    assert!(back.is_some(), "main password still refused after disable");
}
