//! Interop with real POP3 clients against the real `buzon serve`: curl (pop3://, pop3s://,
//! STLS), Python's poplib (USER/PASS, APOP, STLS, POP3_SSL), fetchmail (implicit TLS,
//! STLS via --sslproto, keep, UIDL), mpop (TLS, STLS, keep, UIDL) and getmail6
//! (SimplePOP3SSLRetriever into a Maildir, read_all = false); `openssl s_client` checks
//! the TLS policy (versions and suites offered). Downloaded bodies are
//! compared byte for byte with what was delivered; where a client stores messages with LF
//! line ends or prepends a trace header of its own (fetchmail's Received:, getmail's
//! Return-Path:), exactly that transformation is undone first and nothing else.
//!
//! With BUZON_INTEROP=1 (as in CI) a missing program is a failure; otherwise these tests
//! print a note and pass without running.

use std::path::Path;
use std::process::Command;

use buzon_pop3_proto::wire::{encode_message, Extent};
use buzon_testkit::process::{write_config, BuzonProcess};
use buzon_testkit::TestCa;

use crate::BIN;
use buzon_testkit::run_bounded;

/// Whether `program` is installed; without it the test reports itself skipped, or fails
/// under `BUZON_INTEROP=1`. Shared by the modules that run third-party programs.
pub(crate) fn have(program: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        if std::env::var("BUZON_INTEROP").as_deref() == Ok("1") {
            panic!("{program} is required for the interop tests (BUZON_INTEROP=1); install it (see .ci/apt-packages)");
        }
        buzon_testkit::skip(&format!(
            "{program} is not installed (see .ci/apt-packages; BUZON_INTEROP=1 requires it)"
        ));
    }
    found
}

struct Env {
    dir: tempfile::TempDir,
    proc: BuzonProcess,
    ca_file: std::path::PathBuf,
    messages: Vec<Vec<u8>>,
}

fn start() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let config = write_config(dir.path(), &ca, "");
    let ca_file = dir.path().join("ca.pem");
    ca.write_pem(&ca_file);
    let data = dir.path().join("data");
    let stored = buzon_auth::hash_password(b"s3cret pw", &buzon_auth::HashParams::fast_for_tests());
    buzon_auth::add_user(&data.join("users"), "alice", &stored).unwrap();
    buzon_auth::add_user(&data.join("users"), "apopuser", "{PLAIN}tanstaaf").unwrap();
    let messages: Vec<Vec<u8>> = vec![
        b"From: a@example.com\nSubject: first\n\nHello\n.leading dot\n".to_vec(),
        "From: b@example.com\nSubject: =?utf-8?q?caf=C3=A9?=\n\nUTF-8 body: ¡Buzón!\nno final newline".as_bytes().to_vec(),
    ];
    for user in ["alice", "apopuser"] {
        let md = buzon_store::Maildir::create(data.join("mail").join(user)).unwrap();
        for m in &messages {
            md.deliver(&mut m.as_slice(), None).unwrap();
        }
    }
    let proc = BuzonProcess::serve(Path::new(BIN), &config, &data);
    Env {
        dir,
        proc,
        ca_file,
        messages,
    }
}

/// What a client stores: the wire form, unstuffed, without the terminator.
fn as_downloaded(m: &[u8]) -> Vec<u8> {
    let wire = encode_message(m, Extent::Whole);
    let body = &wire[..wire.len() - 3];
    body.split_inclusive(|&b| b == b'\n')
        .flat_map(|l| buzon_pop3_proto::wire::unstuff_line(l).to_vec())
        .collect()
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out.stdout
}

/// What every curl run here starts with: quiet but with errors, and bounded in time.
const CURL: [&str; 3] = ["-sS", "--max-time", "20"];

/// Runs curl with `args` after [`CURL`] and gives its output (the run must succeed).
fn curl(args: &[&str]) -> Vec<u8> {
    run(Command::new("curl").args(CURL).args(args))
}

#[test]
fn curl_pop3s_pop3_stls_list_retr_and_dele() {
    if !have("curl") {
        return;
    }
    let e = start();
    let s = e.proc.addr("POP3S").port();
    let p = e.proc.addr("POP3").port();
    let ca = e.ca_file.to_string_lossy().to_string();
    let user = "alice:s3cret pw";
    // Implicit TLS, real certificate check against the test CA.
    let body = curl(&[
        "--cacert",
        &ca,
        "-u",
        user,
        &format!("pop3s://localhost:{s}/1"),
    ]);
    assert_eq!(body, as_downloaded(&e.messages[0]));
    // STLS on the plain port, required.
    let body = curl(&[
        "--ssl-reqd",
        "--cacert",
        &ca,
        "-u",
        user,
        &format!("pop3://localhost:{p}/2"),
    ]);
    assert_eq!(body, as_downloaded(&e.messages[1]));
    // LIST.
    let list = curl(&[
        "--cacert",
        &ca,
        "-u",
        user,
        &format!("pop3s://localhost:{s}/"),
    ]);
    let text = String::from_utf8_lossy(&list);
    assert_eq!(text.lines().count(), 2, "{text}");
    // Plain pop3:// without TLS from loopback is allowed (trusted network).
    let body = curl(&["-u", user, &format!("pop3://127.0.0.1:{p}/1")]);
    assert_eq!(body, as_downloaded(&e.messages[0]));
    // DELE via a custom request, then the message is gone.
    curl(&[
        "--cacert",
        &ca,
        "-u",
        user,
        "-X",
        "DELE",
        "-I",
        &format!("pop3s://localhost:{s}/1"),
    ]);
    let list = curl(&[
        "--cacert",
        &ca,
        "-u",
        user,
        &format!("pop3s://localhost:{s}/"),
    ]);
    assert_eq!(String::from_utf8_lossy(&list).lines().count(), 1);
    // Wrong password: curl fails with a login error.
    let out = Command::new("curl")
        .args(CURL)
        .args([
            "--cacert",
            &ca,
            "-u",
            "alice:nope",
            &format!("pop3s://localhost:{s}/1"),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    drop(e.dir);
}

const POPLIB_SCRIPT: &str = r#"
import poplib, ssl, sys, json
host, port_plain, port_tls, cafile = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context(cafile=cafile)
out = {}

# POP3_SSL, USER/PASS, STAT, LIST, UIDL, RETR, TOP
p = poplib.POP3_SSL(host, port_tls, context=ctx, timeout=20)
out["capa_tls"] = sorted(p.capa().keys())
p.user("alice"); p.pass_("s3cret pw")
out["stat"] = p.stat()
out["list"] = [l.decode() for l in p.list()[1]]
out["uidl"] = [l.decode() for l in p.uidl()[1]]
out["retr1"] = b"\r\n".join(p.retr(1)[1]).decode("utf-8", "replace")
out["retr2"] = b"\r\n".join(p.retr(2)[1]).decode("utf-8", "replace")
out["top1"] = [l.decode() for l in p.top(1, 0)[1]]
p.quit()

# STLS on the plain port
p = poplib.POP3(host, port_plain, timeout=20)
out["capa_plain"] = sorted(p.capa().keys())
p.stls(context=ctx)
out["capa_after_stls"] = sorted(p.capa().keys())
p.user("alice"); p.pass_("s3cret pw")
out["stls_stat"] = p.stat()
p.quit()

# APOP
p = poplib.POP3(host, port_plain, timeout=20)
p.apop("apopuser", "tanstaaf")
out["apop_stat"] = p.stat()
p.quit()

# Wrong password
p = poplib.POP3_SSL(host, port_tls, context=ctx, timeout=20)
p.user("alice")
try:
    p.pass_("wrong")
    out["wrong"] = "accepted"
except poplib.error_proto as e:
    out["wrong"] = e.args[0].decode()
print(json.dumps(out))
"#;

#[test]
fn python_poplib_user_pass_apop_stls_and_ssl() {
    if !have("python3") {
        return;
    }
    let e = start();
    let out = run(Command::new("python3").args([
        "-c",
        POPLIB_SCRIPT,
        "localhost",
        &e.proc.addr("POP3").port().to_string(),
        &e.proc.addr("POP3S").port().to_string(),
        &e.ca_file.to_string_lossy(),
    ]));
    let text = String::from_utf8_lossy(&out);
    let want1 = String::from_utf8_lossy(&as_downloaded(&e.messages[0]))
        .trim_end_matches("\r\n")
        .to_string();
    let want2 = String::from_utf8_lossy(&as_downloaded(&e.messages[1]))
        .trim_end_matches("\r\n")
        .to_string();
    assert!(text.contains("\"stat\": [2,"), "{text}");
    assert!(text.contains("\"stls_stat\": [2,"), "{text}");
    assert!(text.contains("\"apop_stat\": [2,"), "{text}");
    assert!(text.contains("\"wrong\": \"-ERR [AUTH]"), "{text}");
    assert!(
        text.contains("\"STLS\""),
        "CAPA on the plain port lists STLS: {text}"
    );
    let after = text
        .split("\"capa_after_stls\": [")
        .nth(1)
        .and_then(|r| r.split(']').next())
        .unwrap_or_default();
    assert!(!after.contains("STLS"), "{text}");
    // Bodies: compare through Python's JSON escaping by re-parsing with a tiny decoder.
    let retr1 = json_field(&text, "retr1");
    let retr2 = json_field(&text, "retr2");
    assert_eq!(retr1, want1);
    assert_eq!(retr2, want2);
}

/// Extracts a JSON string field (handles the escapes json.dumps produces).
fn json_field(text: &str, key: &str) -> String {
    let start = text
        .find(&format!("\"{key}\": \""))
        .unwrap_or_else(|| panic!("{key} missing in {text}"))
        + key.len()
        + 5;
    let mut out = String::new();
    let mut chars = text[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return out,
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    let cp = u32::from_str_radix(&hex, 16).unwrap_or(0xfffd);
                    if (0xd800..0xdc00).contains(&cp) {
                        let _ = chars.next();
                        let _ = chars.next();
                        let lo: String = chars.by_ref().take(4).collect();
                        let lo = u32::from_str_radix(&lo, 16).unwrap_or(0xdc00);
                        out.push(
                            char::from_u32(0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00))
                                .unwrap_or('\u{fffd}'),
                        );
                    } else {
                        out.push(char::from_u32(cp).unwrap_or('\u{fffd}'));
                    }
                }
                Some(other) => out.push(other),
                None => break,
            },
            c => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// fetchmail, mpop, getmail6: programs that keep state (seen UIDLs) between runs.

const LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// What a client that stores LF line ends writes: the downloaded form with CRLF → LF.
fn as_stored_with_lf(m: &[u8]) -> Vec<u8> {
    let d = as_downloaded(m);
    let mut out = Vec::with_capacity(d.len());
    let mut i = 0;
    while i < d.len() {
        if d[i] == b'\r' && d.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(d[i]);
        i += 1;
    }
    out
}

/// Removes one leading header field (with its folded continuation lines) named `name`.
fn strip_leading_field(m: &[u8], name: &str) -> Vec<u8> {
    if !m
        .to_ascii_lowercase()
        .starts_with(format!("{}:", name.to_ascii_lowercase()).as_bytes())
    {
        panic!(
            "expected a leading {name}: field in {:?}",
            String::from_utf8_lossy(m)
        );
    }
    let mut pos = 0;
    loop {
        let end = m[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| pos + i + 1)
            .unwrap_or(m.len());
        pos = end;
        if pos >= m.len() || !(m[pos] == b' ' || m[pos] == b'\t') {
            return m[pos..].to_vec();
        }
    }
}

/// Message files in a folder (one level), sorted by content for order-free comparison.
fn stored(dir: &Path) -> Vec<Vec<u8>> {
    buzon_testkit::maildir::files(dir)
}

fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

fn private_file(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

/// A third message, delivered between runs, with awkward lines for the clients.
fn third_message() -> Vec<u8> {
    let mut m = b"From: c@example.com\nSubject: third\n\n.\n..\n. space\n".to_vec();
    m.extend_from_slice(&vec![b'x'; 900]);
    m.extend_from_slice("\n8-bit: ñandú\n".as_bytes());
    m
}

fn deliver_to_alice(e: &Env, m: &[u8]) {
    let md = buzon_store::Maildir::create(e.proc.data_dir.join("mail/alice")).unwrap();
    md.deliver(&mut &m[..], None).unwrap();
}

#[test]
fn fetchmail_ssl_sslproto_stls_keep_and_uidl_fetch_each_message_once() {
    if !have("fetchmail") {
        return;
    }
    let e = start();
    let home = e.dir.path().join("fetchmail-home");
    let out = e.dir.path().join("fetchmail-out");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    // The MDA: one file per message, exactly as fetchmail hands it over.
    let mda = home.join("mda.sh");
    std::fs::write(&mda, "#!/bin/sh\nexec cat > \"$1/msg.$(date +%s%N).$$\"\n").unwrap();
    std::fs::set_permissions(&mda, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let rc = |port: u16, ssl: &str| {
        format!(
            "set no syslog\nset idfile \"{ids}\"\npoll localhost with proto POP3 port {port} uidl timeout 20\n  user \"alice\" there with password \"s3cret pw\" is \"root\" here\n  {ssl} sslproto \"TLS1.2+\" sslcertck sslcertfile \"{ca}\"\n  keep\n  no rewrite\n  mda \"{mda} {out}\"\n",
            ids = home.join("fetchids").display(),
            ca = e.ca_file.display(),
            mda = mda.display(),
            out = out.display()
        )
    };
    let rcfile = home.join("fetchmailrc");
    let fetch = |rcfile: &Path| {
        run_bounded(
            Command::new("fetchmail")
                .env("HOME", &home)
                .env("LC_ALL", "C")
                .args(["--nodetach", "--nosyslog", "-v", "-f"])
                .arg(rcfile),
            LIMIT,
        )
    };
    // 1. Implicit TLS (--ssl) with certificate verification against the test CA.
    private_file(&rcfile, &rc(e.proc.addr("POP3S").port(), "ssl"));
    let o = fetch(&rcfile);
    assert_eq!(
        o.status.code(),
        Some(0),
        "fetchmail: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let got: Vec<Vec<u8>> = stored(&out)
        .iter()
        .map(|m| strip_leading_field(m, "Received"))
        .collect();
    assert_eq!(
        sorted(got),
        sorted(e.messages.iter().map(|m| as_stored_with_lf(m)).collect())
    );
    // 2. Same again: with UIDL and keep, nothing is new (fetchmail exits 1, "no mail").
    let o = fetch(&rcfile);
    assert_eq!(
        o.status.code(),
        Some(1),
        "second run: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(stored(&out).len(), 2);
    // 3. A new message, fetched over STLS on the plain port (--sslproto without --ssl
    //    makes the upgrade mandatory): only the new one arrives.
    let third = third_message();
    deliver_to_alice(&e, &third);
    private_file(&rcfile, &rc(e.proc.addr("POP3").port(), ""));
    let o = fetch(&rcfile);
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(0), "STLS run: {log}");
    assert!(
        log.contains("POP3> STLS") && log.contains("upgrade to TLS succeeded"),
        "{log}"
    );
    let all = stored(&out);
    assert_eq!(all.len(), 3, "{log}");
    let got: Vec<Vec<u8>> = all
        .iter()
        .map(|m| strip_leading_field(m, "Received"))
        .collect();
    assert!(got.contains(&as_stored_with_lf(&third)), "{log}");
    // keep: everything is still on the server.
    let left = std::fs::read_dir(e.proc.data_dir.join("mail/alice/cur"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(left, 3);
}

#[test]
fn mpop_tls_and_stls_with_keep_and_uidl_fetch_nothing_twice() {
    if !have("mpop") {
        return;
    }
    let e = start();
    let home = e.dir.path().join("mpop-home");
    let maildir = e.dir.path().join("mpop-maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    std::fs::create_dir_all(&home).unwrap();
    let rc = |port: u16, starttls: &str| {
        format!(
            "defaults\ntimeout 20\ntls on\ntls_starttls {starttls}\ntls_trust_file {ca}\nkeep on\nreceived_header off\nuidls_file {uidls}\n\naccount test\nhost localhost\nport {port}\nuser alice\npassword s3cret pw\nauth user\ndelivery maildir {md}\n",
            ca = e.ca_file.display(),
            uidls = home.join("uidls").display(),
            md = maildir.display()
        )
    };
    let rcfile = home.join("mpoprc");
    let fetch = || {
        run_bounded(
            Command::new("mpop")
                .env("HOME", &home)
                .arg("-C")
                .arg(&rcfile)
                .arg("test"),
            LIMIT,
        )
    };
    // 1. Implicit TLS.
    private_file(&rcfile, &rc(e.proc.addr("POP3S").port(), "off"));
    let o = fetch();
    assert!(
        o.status.success(),
        "mpop: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        stored(&maildir.join("new")),
        sorted(e.messages.iter().map(|m| as_stored_with_lf(m)).collect())
    );
    // 2. Nothing new the second time.
    let o = fetch();
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{text}");
    assert!(text.contains("new: no messages"), "{text}");
    assert_eq!(stored(&maildir.join("new")).len(), 2);
    // 3. STLS on the plain port; only the new message.
    let third = third_message();
    deliver_to_alice(&e, &third);
    private_file(&rcfile, &rc(e.proc.addr("POP3").port(), "on"));
    let o = fetch();
    assert!(
        o.status.success(),
        "mpop STLS: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let all = stored(&maildir.join("new"));
    assert_eq!(all.len(), 3);
    assert!(all.contains(&as_stored_with_lf(&third)));
    let o = fetch();
    assert!(String::from_utf8_lossy(&o.stdout).contains("new: no messages"));
}

#[test]
fn getmail6_pop3_ssl_retriever_into_a_maildir_reads_only_new_messages() {
    if !have("getmail") {
        return;
    }
    let e = start();
    let gdir = e.dir.path().join("getmail");
    let maildir = e.dir.path().join("getmail-maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    std::fs::create_dir_all(&gdir).unwrap();
    // getmail refuses to deliver as root; it switches to `user` for the delivery.
    let user_line = if is_root() {
        let st = Command::new("chown")
            .args(["-R", "nobody"])
            .arg(&maildir)
            .status()
            .unwrap();
        assert!(st.success());
        let mut p = e.dir.path().to_path_buf();
        loop {
            let _ =
                std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755));
            if !p.pop() || p == Path::new("/tmp") || p.as_os_str().is_empty() {
                break;
            }
        }
        "user = nobody\n"
    } else {
        ""
    };
    let rc = format!(
        "[retriever]\ntype = SimplePOP3SSLRetriever\nserver = localhost\nport = {port}\nusername = alice\npassword = s3cret pw\nca_certs = {ca}\ntimeout = 20\n\n[destination]\ntype = Maildir\npath = {md}/\n{user_line}\n[options]\nread_all = false\ndelete = false\nreceived = false\ndelivered_to = false\nverbose = 2\n",
        port = e.proc.addr("POP3S").port(),
        ca = e.ca_file.display(),
        md = maildir.display()
    );
    private_file(&gdir.join("getmailrc"), &rc);
    let fetch = || {
        run_bounded(
            Command::new("getmail")
                .env("HOME", &gdir)
                .arg("--getmaildir")
                .arg(&gdir)
                .args(["--rcfile", "getmailrc"]),
            LIMIT,
        )
    };
    let o = fetch();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        o.status.success() && log.contains("2 messages") && !log.contains("error"),
        "getmail: {log}"
    );
    // getmail prepends Return-Path: (from the envelope sender, unknown over POP3).
    let got: Vec<Vec<u8>> = stored(&maildir.join("new"))
        .iter()
        .map(|m| strip_leading_field(m, "Return-Path"))
        .collect();
    assert_eq!(
        sorted(got),
        sorted(e.messages.iter().map(|m| as_stored_with_lf(m)).collect())
    );
    // read_all = false: the second run retrieves nothing.
    let o = fetch();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        o.status.success() && log.contains("0 messages (0 bytes) retrieved, 2 skipped"),
        "{log}"
    );
    // A new message is the only one retrieved next.
    let third = third_message();
    deliver_to_alice(&e, &third);
    let o = fetch();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        o.status.success() && log.contains("1 messages") && log.contains("2 skipped"),
        "{log}"
    );
    let got: Vec<Vec<u8>> = stored(&maildir.join("new"))
        .iter()
        .map(|m| strip_leading_field(m, "Return-Path"))
        .collect();
    assert!(got.contains(&as_stored_with_lf(&third)), "{log}");
    assert_eq!(got.len(), 3);
}

/// One `openssl s_client` handshake; (success, its report).
fn s_client(addr: std::net::SocketAddr, ca: &Path, args: &[&str]) -> (bool, String) {
    let o = run_bounded(
        Command::new("openssl")
            .args([
                "s_client",
                "-connect",
                &addr.to_string(),
                "-servername",
                "localhost",
                "-CAfile",
            ])
            .arg(ca)
            .args(args),
        LIMIT,
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let ok = o.status.success() && !text.contains("Cipher is (NONE)");
    (ok, text)
}

#[test]
fn openssl_s_client_sees_only_tls12_and_tls13_with_forward_secret_aead_suites() {
    if !have("openssl") {
        return;
    }
    let e = start();
    let tls = e.proc.addr("POP3S");
    let ca = e.ca_file.as_path();
    // Old protocol versions are refused, even when the client lowers its own floor.
    for old in ["-tls1", "-tls1_1"] {
        let (ok, text) = s_client(tls, ca, &[old, "-cipher", "DEFAULT@SECLEVEL=0"]);
        assert!(!ok, "{old} accepted: {text}");
    }
    // TLS 1.2 without forward secrecy or without AEAD: refused (both key types listed;
    // the test certificate is ECDSA P-256).
    for weak in [
        "AES128-SHA:AES256-SHA256:AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA",
        "ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384",
    ] {
        let (ok, text) = s_client(tls, ca, &["-tls1_2", "-cipher", weak]);
        assert!(!ok, "TLS 1.2 {weak} accepted: {text}");
    }
    // What is accepted: ECDHE with AES-GCM or ChaCha20-Poly1305 on 1.2, the 1.3 suites.
    for (args, want) in [
        (&["-tls1_2"][..], "ECDHE-ECDSA-AES256-GCM-SHA384"),
        (
            &["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"][..],
            "ECDHE-ECDSA-AES128-GCM-SHA256",
        ),
        (
            &["-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305"][..],
            "ECDHE-ECDSA-CHACHA20-POLY1305",
        ),
        (&["-tls1_3"][..], "TLS_AES_256_GCM_SHA384"),
        (
            &["-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256"][..],
            "TLS_AES_128_GCM_SHA256",
        ),
        (
            &["-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"][..],
            "TLS_CHACHA20_POLY1305_SHA256",
        ),
    ] {
        let (ok, text) = s_client(tls, ca, args);
        assert!(
            ok && text.contains(&format!("Cipher is {want}"))
                && text.contains("Verify return code: 0 (ok)"),
            "{args:?}: {text}"
        );
    }
    // STLS (RFC 2595) on the plain port reaches the same TLS.
    let (ok, text) = s_client(e.proc.addr("POP3"), ca, &["-starttls", "pop3"]);
    assert!(
        ok && text.contains("Cipher is TLS_AES_256_GCM_SHA384"),
        "{text}"
    );
}

/// One `mpop` run against POP3S on `port` (implicit TLS, `ca_file` trusted) into a fresh
/// Maildir under `dir`, with the account lines in `login` (`user …`, `password …` or
/// `passwordeval …`, `auth …`, `keep on`). Gives mpop's output and the Maildir.
pub(crate) fn mpop_run(
    dir: &Path,
    port: u16,
    ca_file: &Path,
    login: &str,
) -> (std::process::Output, std::path::PathBuf) {
    let home = dir.join("mpop-home");
    let maildir = dir.join("mpop-maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    std::fs::create_dir_all(&home).unwrap();
    let rc = home.join("mpoprc");
    private_file(
        &rc,
        &format!(
            "account test\nhost localhost\nport {port}\ntimeout 20\ntls on\ntls_starttls off\ntls_trust_file {}\n{login}\ndelivery maildir {}\n",
            ca_file.display(),
            maildir.display()
        ),
    );
    let out = run_bounded(
        Command::new("mpop")
            .env("HOME", &home)
            .arg("-C")
            .arg(&rc)
            .arg("test"),
        LIMIT,
    );
    (out, maildir)
}

/// The mechanism the last ended POP3 session of `user` logged in with, from the server's
/// log line (`mechanism="…"`), waiting up to 5 s for that line.
pub(crate) fn session_mechanism(p: &BuzonProcess, user: &str) -> Option<String> {
    let wanted = format!("user=\"{user}\"");
    let line = buzon_testkit::wait::poll(std::time::Duration::from_secs(5), || {
        p.log()
            .iter()
            .rev()
            .find(|l| l.contains("pop3 session ended") && l.contains(&wanted))
            .cloned()
    })?;
    let m = line.split("mechanism=").nth(1)?;
    Some(m.split_whitespace().next()?.trim_matches('"').to_string())
}
