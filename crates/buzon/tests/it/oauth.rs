//! OAUTHBEARER (RFC 7628) and XOAUTH2 on the real `buzon serve`, with tokens from a real
//! OpenID provider (`oidc-provider` under Node.js, on loopback over HTTPS): JWTs checked
//! against the provider's published keys (found through its discovery document), and
//! opaque tokens checked by introspection (RFC 7662). Logins by raw SASL, curl
//! (`--oauth2-bearer`) and mpop (`auth oauthbearer`); refused, each with its reply
//! checked: another user, a user who is not here, the wrong audience, the wrong issuer,
//! an expired token, a tampered signature, an unknown key id, a 64 KB token, the issuer
//! down.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use buzon_pop3_proto::sasl::{decode_base64, encode_base64};
use buzon_testkit::process::{write_config, BuzonProcess};
use buzon_testkit::{run_bounded, LineClient, OidcProvider, TestCa};

use crate::interop_clients::have;
use crate::BIN;

const LIMIT: Duration = Duration::from_secs(60);

fn provider(ca: &TestCa) -> Option<OidcProvider> {
    match OidcProvider::start(ca) {
        Ok(p) => Some(p),
        Err(e) => {
            buzon_testkit::skip(&format!("no OpenID provider: {e}"));
            None
        }
    }
}

struct Node {
    dir: tempfile::TempDir,
    proc: BuzonProcess,
    ca_file: PathBuf,
}

/// A node trusting `ca` for the provider, with alice and bob, and `oauth` as the rest of
/// the `[oauth]` section. Loopback is exempt from the throttle, so the many refusals in a
/// row below are answered at once instead of after growing penalties.
fn node(ca: &TestCa, issuer: &str, oauth: &str) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    ca.write_pem(&ca_file);
    let extra = format!(
        "throttle_exempt_networks = [\"127.0.0.0/8\"]\n\n[delivery]\nlocal_domains = [\"example.com\"]\n\n[oauth]\nissuer = {issuer:?}\naudience = [\"buzon\"]\nca_file = {ca_file:?}\nclock_skew = \"1s\"\n{oauth}\n"
    );
    let config = write_config(dir.path(), ca, &extra);
    let data = dir.path().join("data");
    for (u, p) in [("alice", "alice pw"), ("bob", "bob pw")] {
        let stored =
            buzon_auth::hash_password(p.as_bytes(), &buzon_auth::HashParams::fast_for_tests());
        buzon_auth::add_user(&data.join("users"), u, &stored).unwrap();
    }
    let md = buzon_store::Maildir::create(data.join("mail").join("alice")).unwrap();
    md.deliver(&mut &b"Subject: oauth\n\nok\n"[..], None)
        .unwrap();
    let proc = BuzonProcess::serve(Path::new(BIN), &config, &data);
    Node { dir, proc, ca_file }
}

fn oauthbearer(user: &str, token: &str) -> String {
    encode_base64(
        format!("n,a={user},\x01host=localhost\x01port=110\x01auth=Bearer {token}\x01\x01")
            .as_bytes(),
    )
}

fn xoauth2(user: &str, token: &str) -> String {
    encode_base64(format!("user={user}\x01auth=Bearer {token}\x01\x01").as_bytes())
}

/// `AUTH MECH initial` on the plain port (loopback may log in without TLS): the replies
/// until the exchange ends — `+OK`, or the JSON challenge and then the `-ERR` that
/// follows the client's dummy response.
fn login(p: &BuzonProcess, mech: &str, initial: &str) -> Vec<String> {
    let mut c = LineClient::connect(p.addr("POP3"));
    assert!(c.line().starts_with("+OK"));
    // RFC 5034 §4: an initial response that would make the command longer than 255
    // octets (RFC 2449) is sent after an empty challenge instead.
    let mut replies = if initial.len() + mech.len() + 7 <= 255 {
        vec![c.cmd(&format!("AUTH {mech} {initial}"))]
    } else {
        assert_eq!(c.cmd(&format!("AUTH {mech}")), "+ ");
        vec![c.cmd(initial)]
    };
    if let Some(challenge) = replies[0].strip_prefix("+ ") {
        let json = decode_base64(challenge.as_bytes()).unwrap();
        replies[0] = format!("+ {}", String::from_utf8_lossy(json.expose()));
        // RFC 7628 §3.2.3: the client's dummy response.
        replies.push(c.cmd("AQ=="));
    }
    let _ = c.cmd("QUIT");
    replies
}

const CHALLENGE: &str =
    "+ {\"status\":\"invalid_token\",\"schemes\":\"bearer\",\"scope\":\"openid email\"}";

fn refused(replies: &[String]) -> bool {
    replies.len() == 2
        && replies[0] == CHALLENGE
        && replies[1] == "-ERR [AUTH] Authentication failed."
}

/// Replaces the JWT's header with `header` (JSON), keeping payload and signature.
fn with_header(token: &str, header: &str) -> String {
    let b64url = encode_base64(header.as_bytes())
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_");
    let rest = token.split_once('.').unwrap().1;
    format!("{b64url}.{rest}")
}

#[test]
fn bearer_tokens_from_a_real_provider_log_in_and_bad_ones_are_refused_with_rfc7628_replies() {
    let ca = TestCa::new();
    let Some(mut idp) = provider(&ca) else { return };
    let issuer = idp.issuer();
    let n = node(&ca, &issuer, "");
    let token = idp.client_credentials("alice-app", "urn:buzon");

    // CAPA offers both where PLAIN is.
    let mut c = LineClient::connect(n.proc.addr("POP3"));
    assert!(c.line().starts_with("+OK"));
    c.send("CAPA");
    let mut capa = Vec::new();
    loop {
        let l = c.line();
        if l == "." {
            break;
        }
        capa.push(l);
    }
    assert!(
        capa.contains(&"SASL PLAIN LOGIN OAUTHBEARER XOAUTH2".to_string()),
        "{capa:?}"
    );
    drop(c);

    // The token's email claim names alice@example.com: alice, here.
    assert_eq!(
        login(
            &n.proc,
            "OAUTHBEARER",
            &oauthbearer("alice@example.com", &token)
        ),
        vec!["+OK Logged in."]
    );
    assert_eq!(
        login(&n.proc, "XOAUTH2", &xoauth2("alice", &token)),
        vec!["+OK Logged in."]
    );
    // Without an initial response: an empty challenge first.
    let mut c = LineClient::connect(n.proc.addr("POP3"));
    assert!(c.line().starts_with("+OK"));
    assert_eq!(c.cmd("AUTH OAUTHBEARER"), "+ ");
    assert_eq!(
        c.cmd(&encode_base64(
            format!("n,,\x01auth=Bearer {token}\x01\x01").as_bytes()
        )),
        "+OK Logged in."
    );
    let _ = c.cmd("QUIT");

    // curl and mpop with the token.
    if have("curl") {
        let out = run_bounded(
            Command::new("curl")
                .args(["-sS", "--max-time", "20", "--cacert"])
                .arg(&n.ca_file)
                .args(["-u", "alice:", "--oauth2-bearer", &token])
                .arg(format!(
                    "pop3s://localhost:{}/",
                    n.proc.addr("POP3S").port()
                )),
            LIMIT,
        );
        assert!(out.status.success(), "curl --oauth2-bearer: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1 22");
    }
    if have("mpop") {
        // mpop's lines end at 500 characters: the token comes from a program, as a
        // token helper would give it.
        let token_file = n.dir.path().join("token");
        std::fs::write(&token_file, &token).unwrap();
        let (o, maildir) = crate::interop_clients::mpop_run(
            n.dir.path(),
            n.proc.addr("POP3S").port(),
            &n.ca_file,
            &format!(
                "keep on\nuser alice@example.com\npasswordeval cat {}\nauth oauthbearer",
                token_file.display()
            ),
        );
        assert!(o.status.success(), "mpop with OAUTHBEARER: {o:?}");
        assert_eq!(std::fs::read_dir(maildir.join("new")).unwrap().count(), 1);
    }

    // Two-step verification does not stop tokens (they are not the main password).
    buzon_auth::set_extra_field(
        &n.dir.path().join("data/users"),
        "alice",
        buzon_auth::TWO_STEP_FIELD,
        Some("totp"),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        login(&n.proc, "XOAUTH2", &xoauth2("alice", &token)),
        vec!["+OK Logged in."]
    );

    // Refused, each with the JSON challenge and then -ERR [AUTH]:
    // alice's token presented for bob;
    assert!(refused(&login(&n.proc, "XOAUTH2", &xoauth2("bob", &token))));
    // a token for a user who is not here;
    let stranger = idp.client_credentials("stranger-app", "urn:buzon");
    assert!(refused(&login(
        &n.proc,
        "OAUTHBEARER",
        &oauthbearer("", &stranger)
    )));
    // a token for another service;
    let other = idp.client_credentials("alice-app", "urn:other");
    assert!(refused(&login(
        &n.proc,
        "XOAUTH2",
        &xoauth2("alice", &other)
    )));
    // a tampered signature;
    let mut tampered = token.clone().into_bytes();
    let last = tampered.len() - 5;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert!(refused(&login(
        &n.proc,
        "XOAUTH2",
        &xoauth2("alice", &tampered)
    )));
    // a key id the issuer does not publish;
    let unknown_kid = with_header(
        &token,
        r#"{"alg":"RS256","typ":"at+jwt","kid":"not-published"}"#,
    );
    assert!(refused(&login(
        &n.proc,
        "XOAUTH2",
        &xoauth2("alice", &unknown_kid)
    )));
    // "alg": "none";
    let none = with_header(
        &token,
        r#"{"alg":"none","typ":"at+jwt","kid":"keystore-CHANGE-ME"}"#,
    );
    assert!(refused(&login(
        &n.proc,
        "XOAUTH2",
        &xoauth2("alice", &none)
    )));
    // a token from another issuer (the same development keys, another iss);
    let other_idp = OidcProvider::start(&ca).unwrap();
    let foreign = other_idp.client_credentials("alice-app", "urn:buzon");
    assert!(refused(&login(
        &n.proc,
        "XOAUTH2",
        &xoauth2("alice", &foreign)
    )));
    // an expired token (2 s, with 1 s of allowed clock skew);
    let short = idp.client_credentials("alice-app", "urn:buzon:short");
    assert_eq!(
        login(&n.proc, "XOAUTH2", &xoauth2("alice", &short)),
        vec!["+OK Logged in."]
    );
    std::thread::sleep(Duration::from_secs(4));
    assert!(refused(&login(
        &n.proc,
        "XOAUTH2",
        &xoauth2("alice", &short)
    )));
    // a 64 KB token: the line limit answers before any check.
    let huge = "A".repeat(64 * 1024);
    let mut c = LineClient::connect(n.proc.addr("POP3"));
    assert!(c.line().starts_with("+OK"));
    assert_eq!(c.cmd("AUTH XOAUTH2"), "+ ");
    let r = c.cmd(&xoauth2("alice", &huge));
    assert!(r.starts_with("-ERR"), "{r}");
    drop(c);

    // The issuer down: keys already fetched keep serving; a node that never fetched them
    // answers a temporary failure, not "wrong token".
    idp.stop();
    assert_eq!(
        login(&n.proc, "XOAUTH2", &xoauth2("alice", &token)),
        vec!["+OK Logged in."]
    );
    let fresh = node(&ca, &issuer, "");
    let r = login(&fresh.proc, "XOAUTH2", &xoauth2("alice", &token));
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].starts_with("-ERR [SYS/TEMP]"), "{r:?}");
}

#[test]
fn opaque_tokens_are_checked_by_introspection() {
    let ca = TestCa::new();
    let Some(mut idp) = provider(&ca) else { return };
    let issuer = idp.issuer();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("client-secret");
    std::fs::write(&secret, "secret\n").unwrap();
    let n = node(
        &ca,
        &issuer,
        &format!(
            "introspection_url = \"{issuer}/token/introspection\"\nclient_id = \"bob-app\"\nclient_secret_file = {secret:?}\n"
        ),
    );
    let opaque = idp.client_credentials("alice-app", "urn:buzon:opaque");
    assert!(!opaque.contains('.'), "not an opaque token: {opaque}");
    assert_eq!(
        login(&n.proc, "OAUTHBEARER", &oauthbearer("alice", &opaque)),
        vec!["+OK Logged in."]
    );
    let r = login(
        &n.proc,
        "OAUTHBEARER",
        &oauthbearer("alice", "not-a-token-the-issuer-knows"),
    );
    assert!(refused(&r), "{r:?}");
    let other = idp.client_credentials("alice-app", "urn:other");
    assert!(refused(&login(
        &n.proc,
        "XOAUTH2",
        &xoauth2("alice", &other)
    )));
    idp.stop();
    let r = login(&n.proc, "OAUTHBEARER", &oauthbearer("alice", &opaque));
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].starts_with("-ERR [SYS/TEMP]"), "{r:?}");
}

/// `buzon fetch --authorize` signs in with the device flow (approved on the provider's own
/// pages), `buzon fetch` logs in with OAUTHBEARER and then XOAUTH2 using the stored token,
/// renews it with the refresh token when it expires, and `buzon check` explains a revoked
/// sign-in in words.
#[test]
fn buzon_fetch_signs_in_with_the_device_flow_fetches_and_renews_its_token() {
    use std::io::BufRead;
    let ca = TestCa::new();
    // Access tokens of 5 s: each run finds the stored one about to expire and renews it.
    let Some(idp) = (match OidcProvider::start_with_ttl(&ca, 5) {
        Ok(p) => Some(p),
        Err(e) => {
            buzon_testkit::skip(&format!("no OpenID provider: {e}"));
            None
        }
    }) else {
        return;
    };
    let issuer = idp.issuer();
    let n = node(&ca, &issuer, "");
    let tmp = tempfile::tempdir().unwrap();
    let maildir = tmp.path().join("Maildir");
    let accounts = tmp.path().join("accounts.toml");
    let write_accounts = |auth: &str| {
        std::fs::write(
            &accounts,
            format!(
                "ledger_dir = {:?}\n\n[accounts.mail]\nhost = \"localhost\"\nport = {}\nsecurity = \"tls\"\nuser = \"alice@example.com\"\nauth = \"{auth}\"\nca_file = {:?}\nmaildir = {:?}\nkeep = true\noauth_client_id = \"alice-app\"\noauth_client_secret = \"secret\"\noauth_device_url = \"{issuer}/device/auth\"\noauth_token_url = \"{issuer}/token\"\noauth_scope = \"openid offline_access pop3\"\noauth_ca_file = {:?}\n",
                tmp.path().join("ledger"),
                n.proc.addr("POP3S").port(),
                n.ca_file,
                maildir,
                n.ca_file
            ),
        )
        .unwrap();
    };
    write_accounts("oauthbearer");
    let buzon = |args: &[&str]| {
        run_bounded(
            Command::new(BIN)
                .args(args)
                .arg("--config")
                .arg(&accounts)
                .env("LC_ALL", "C"),
            LIMIT,
        )
    };
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };

    // Not signed in yet: fetch says what to do.
    let o = buzon(&["fetch", "mail"]);
    assert_eq!(o.status.code(), Some(6), "{}", text(&o));
    assert!(
        text(&o).contains("buzon fetch --authorize mail"),
        "{}",
        text(&o)
    );

    // The device flow: the command shows where to go; a person approves there.
    let mut child = Command::new(BIN)
        .args(["fetch", "--authorize", "mail", "--config"])
        .arg(&accounts)
        .env("LC_ALL", "C")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut shown = String::new();
    let direct = loop {
        let line = lines.next().expect("the URL to open").unwrap();
        shown.push_str(&line);
        shown.push('\n');
        if let Some(rest) = line.strip_prefix("(or open ") {
            break rest
                .split_whitespace()
                .next()
                .unwrap()
                .trim_end_matches(',')
                .to_string();
        }
    };
    assert!(
        shown.contains(&format!("open {issuer}/device and type the code")),
        "{shown}"
    );
    idp.approve(&direct, "alice", &n.ca_file);
    let done = buzon_testkit::wait::poll(LIMIT, || child.try_wait().ok().flatten());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(done.and_then(|s| s.code()), Some(0), "{shown}{rest:?}");
    assert!(rest.iter().any(|l| l.contains("signed in")), "{rest:?}");
    let token_file = tmp.path().join("ledger/mail.oauth.json");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&token_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let stored = |k: &str| -> String {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&token_file).unwrap()).unwrap();
        v[k].as_str().unwrap_or_default().to_string()
    };
    assert!(!stored("refresh_token").is_empty(), "no refresh token kept");
    let first = stored("access_token");

    // OAUTHBEARER with the stored token (renewed first: it has less than a minute left).
    let o = buzon(&["fetch", "mail"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(std::fs::read_dir(maildir.join("new")).unwrap().count(), 1);
    assert_ne!(stored("access_token"), first, "the token was not renewed");
    let mechanism = |user: &str| crate::interop_clients::session_mechanism(&n.proc, user);
    assert_eq!(mechanism("alice").as_deref(), Some("OAUTHBEARER"));
    // XOAUTH2, after the token expired (5 s): renewed again, nothing new to fetch.
    std::thread::sleep(Duration::from_secs(6));
    write_accounts("xoauth2");
    let before = stored("access_token");
    let o = buzon(&["fetch", "mail"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_ne!(stored("access_token"), before, "the token was not renewed");
    let o = buzon(&["check", "mail"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(mechanism("alice").as_deref(), Some("XOAUTH2"));

    // The user revokes the access at the provider: the next renewal is refused, and
    // check and fetch say so in words, with the way back.
    let (status, body) = idp.post(
        "/token/revocation",
        "alice-app",
        &format!(
            "token={}&token_type_hint=refresh_token",
            stored("refresh_token")
        ),
    );
    assert_eq!(status, 200, "{body}");
    std::thread::sleep(Duration::from_secs(6));
    let o = buzon(&["check", "mail"]);
    assert_eq!(o.status.code(), Some(6), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("refused to renew the access token")
            && t.contains("buzon fetch --authorize mail"),
        "{t}"
    );
    let o = buzon(&["fetch", "mail"]);
    assert_eq!(o.status.code(), Some(6), "{}", text(&o));
}

/// `buzon setup` for a Gmail address: the server found (pop.gmail.com, here a local server
/// with a certificate for that name, reached through a test DNS server's SRV record)
/// takes POP3 logins only with OAuth; without a client id setup says so and how, with one
/// it writes an XOAUTH2 account with the Gmail preset and says to sign in.
#[test]
fn setup_offers_oauth_for_providers_that_need_it() {
    let ca = TestCa::new();
    let tmp = tempfile::tempdir().unwrap();
    let cert = ca.issue(&tmp.path().join("tls"), &["pop.gmail.com"], (-1, 30));
    let s = buzon_testkit::TestServer::builder()
        .user("me", "pw")
        .config(move |c| {
            c.tls = buzon_server::config::TlsSource::Files {
                certificate: cert.cert_path,
                key: cert.key_path,
            }
        })
        .start();
    let ca_file = tmp.path().join("ca.pem");
    ca.write_pem(&ca_file);
    let dns = buzon_testkit::TestDns::start(vec![
        (
            "_pop3s._tcp.gmail.com",
            buzon_testkit::DnsRecord::Srv {
                priority: 0,
                weight: 1,
                port: s.pop3s.port(),
                target: "pop.gmail.com".into(),
            },
        ),
        (
            "pop.gmail.com",
            buzon_testkit::DnsRecord::A("127.0.0.1".parse().unwrap()),
        ),
    ]);
    let setup = |extra: &[&str]| {
        run_bounded(
            Command::new(BIN)
                .args(["setup", "me@gmail.com", "--no-guess", "--print"])
                .args(["--dns-server", &dns.addr.to_string(), "--ca-file"])
                .arg(&ca_file)
                .arg("--config")
                .arg(tmp.path().join("accounts.toml"))
                .args(extra)
                .env("LC_ALL", "C"),
            LIMIT,
        )
    };
    let o = setup(&[]);
    let (so, se) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert_eq!(o.status.code(), Some(0), "{so}{se}");
    assert!(
        se.contains("takes POP3 logins only with OAuth 2.0 or an app password")
            && se.contains("--oauth-client-id"),
        "{se}"
    );
    assert!(!so.contains("oauth"), "{so}");
    let o = setup(&["--oauth-client-id", "1234-abc.apps.googleusercontent.com"]);
    let so = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{so}");
    for line in [
        "host = \"pop.gmail.com\"",
        "auth = \"xoauth2\"",
        "oauth_provider = \"gmail\"",
        "oauth_client_id = \"1234-abc.apps.googleusercontent.com\"",
    ] {
        assert!(so.contains(line), "{line} missing in {so}");
    }
    // What setup printed is a valid account whose sign-in the client can start.
    let toml = &so[so.find("[accounts.").unwrap()..];
    let file = buzon_client::FileConfig::parse(toml).unwrap();
    let account = file.account("me@gmail.com").unwrap();
    let oauth = account.oauth.unwrap();
    assert_eq!(oauth.token_url, "https://oauth2.googleapis.com/token");
    assert_eq!(oauth.scope, "https://mail.google.com/");
}
