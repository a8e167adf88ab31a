//! The web side of `buzon serve` from the outside: `curl` fetches the Thunderbird
//! autoconfig document and posts an Outlook Autodiscover request over HTTPS (the POP3S
//! certificate), a domain that is not local gets 404, the HTTP listener serves the same
//! documents and redirects everything else to HTTPS, `buzon dns` prints the records to
//! publish, and `buzon setup user@domain`, given only a DNS server (testkit's) that knows
//! the server's name, configures itself from the server's own autoconfig document and
//! passes its live probe.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use buzon_testkit::process::{write_config, BuzonProcess};
use buzon_testkit::{run_bounded, DnsRecord, TestCa, TestDns};

use crate::BIN;

const LIMIT: Duration = Duration::from_secs(60);

struct Web {
    dir: tempfile::TempDir,
    proc: BuzonProcess,
    ca_file: std::path::PathBuf,
}

/// A server for example.test named pop.example.test, with POP3, POP3S, HTTPS and HTTP
/// listeners on loopback, and user alice (password "pw").
fn start() -> Web {
    start_with("")
}

/// [`start`] with more configuration text: keys of `[auth]` first, then whole tables.
fn start_with(extra: &str) -> Web {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let config = write_config(
        dir.path(),
        &ca,
        &format!("{extra}\n[[listen]]\naddress = \"127.0.0.1:0\"\nprotocol = \"https\"\n\n[[listen]]\naddress = \"127.0.0.1:0\"\nprotocol = \"http\"\n\n[delivery]\nlocal_domains = [\"example.test\"]\n"),
    );
    // The certificate the test CA issued is for localhost and 127.0.0.1; the server's
    // name in the documents is its `hostname`.
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "hostname = \"test.buzon.invalid\"",
        "hostname = \"localhost\"",
    );
    std::fs::write(&config, text).unwrap();
    let data = dir.path().join("data");
    let stored = buzon_auth::hash_password(b"pw", &buzon_auth::HashParams::fast_for_tests());
    buzon_auth::add_user(&data.join("users"), "alice", &stored).unwrap();
    let ca_file = dir.path().join("ca.pem");
    ca.write_pem(&ca_file);
    let proc = BuzonProcess::serve(Path::new(BIN), &config, &data);
    Web { dir, proc, ca_file }
}

/// curl's status code and body.
fn curl(w: &Web, args: &[&str]) -> (String, String) {
    let out = run_bounded(
        Command::new("curl")
            .args(["-sS", "--max-time", "20", "--cacert"])
            .arg(&w.ca_file)
            .args(["-o", "-", "-w", "\n%{http_code}"])
            .args(args),
        LIMIT,
    );
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.to_string(), body.to_string())
}

/// The text of the first element named `tag` under `node`.
fn child_text<'a>(node: roxmltree::Node<'a, 'a>, tag: &str) -> Option<&'a str> {
    node.children()
        .find(|n| n.has_tag_name(tag))
        .and_then(|n| n.text())
}

#[test]
fn autoconfig_and_autodiscover_describe_pop3_over_tls_for_local_domains_only() {
    let w = start();
    let https = w.proc.addr("HTTPS").port();
    let pop3s = w.proc.addr("POP3S").port();
    let pop3 = w.proc.addr("POP3").port();
    // Thunderbird's two URLs, as it fetches them.
    for path in [
        "/mail/config-v1.1.xml?emailaddress=alice%40example.test",
        "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=alice%40example.test",
    ] {
        let (code, body) = curl(&w, &[&format!("https://localhost:{https}{path}")]);
        assert_eq!(code, "200", "{body}");
        let doc = roxmltree::Document::parse(&body).unwrap();
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "clientConfig");
        assert_eq!(root.attribute("version"), Some("1.1"));
        let provider = root
            .children()
            .find(|n| n.has_tag_name("emailProvider"))
            .unwrap();
        assert_eq!(provider.attribute("id"), Some("example.test"));
        assert_eq!(child_text(provider, "domain"), Some("example.test"));
        let servers: Vec<(String, String, String, String, String)> = provider
            .children()
            .filter(|n| n.has_tag_name("incomingServer"))
            .map(|s| {
                assert_eq!(s.attribute("type"), Some("pop3"));
                let f = |t| child_text(s, t).unwrap_or_default().to_string();
                (
                    f("hostname"),
                    f("port"),
                    f("socketType"),
                    f("authentication"),
                    f("username"),
                )
            })
            .collect();
        let want = |port: u16, socket: &str| {
            (
                "localhost".to_string(),
                port.to_string(),
                socket.to_string(),
                "password-cleartext".to_string(),
                "%EMAILLOCALPART%".to_string(),
            )
        };
        assert_eq!(servers, vec![want(pop3s, "SSL"), want(pop3, "STARTTLS")]);
        assert!(!body.contains("plain"), "{body}");
    }
    // Not a local domain: nothing to say about it.
    let (code, body) = curl(
        &w,
        &[&format!(
            "https://localhost:{https}/mail/config-v1.1.xml?emailaddress=bob%40other.test"
        )],
    );
    assert_eq!(code, "404", "{body}");
    assert!(body.contains("other.test"), "{body}");
    // Outlook's POX Autodiscover.
    let request = "<?xml version=\"1.0\" encoding=\"utf-8\"?><Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\"><Request><EMailAddress>alice@example.test</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>";
    let (code, body) = curl(
        &w,
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: text/xml",
            "--data-binary",
            request,
            &format!("https://localhost:{https}/autodiscover/autodiscover.xml"),
        ],
    );
    assert_eq!(code, "200", "{body}");
    let doc = roxmltree::Document::parse(&body).unwrap();
    let protocols: Vec<(String, String, String, String)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("Protocol"))
        .map(|p| {
            let f = |t| child_text(p, t).unwrap_or_default().to_string();
            (f("Type"), f("Server"), f("Port"), f("LoginName"))
        })
        .collect();
    assert_eq!(
        protocols,
        vec![
            (
                "POP3".into(),
                "localhost".into(),
                pop3s.to_string(),
                "alice".into()
            ),
            (
                "POP3".into(),
                "localhost".into(),
                pop3.to_string(),
                "alice".into()
            ),
        ]
    );
    let bad = request.replace("alice@example.test", "bob@other.test");
    let (code, _) = curl(
        &w,
        &[
            "-X",
            "POST",
            "--data-binary",
            &bad,
            &format!("https://localhost:{https}/autodiscover/autodiscover.xml"),
        ],
    );
    assert_eq!(code, "404");
    // Plain HTTP: the documents (they name TLS ports only), and a redirect for the rest.
    let http = w.proc.addr("HTTP").port();
    let (code, body) = curl(
        &w,
        &[&format!(
            "http://localhost:{http}/mail/config-v1.1.xml?emailaddress=alice%40example.test"
        )],
    );
    assert_eq!(code, "200");
    assert!(body.contains(&format!("<port>{pop3s}</port>")), "{body}");
    let out = run_bounded(
        Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "20",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{redirect_url}",
            ])
            .arg(format!("http://localhost:{http}/settings?x=1")),
        LIMIT,
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("301 https://localhost:{https}/settings?x=1")
    );
}

#[test]
fn buzon_dns_prints_the_records_of_a_local_domain_and_refuses_others() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("buzon.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\nhostname = \"mail.example.test\"\n\n[[listen]]\naddress = \"0.0.0.0:110\"\nprotocol = \"pop3\"\n\n[[listen]]\naddress = \"0.0.0.0:995\"\nprotocol = \"pop3s\"\n\n[[listen]]\naddress = \"0.0.0.0:25\"\nprotocol = \"smtp\"\n\n[[listen]]\naddress = \"0.0.0.0:443\"\nprotocol = \"https\"\n\n[delivery]\nlocal_domains = [\"example.test\"]\n",
            dir.path().join("data")
        ),
    )
    .unwrap();
    let out = run_bounded(
        Command::new(BIN)
            .args(["dns", "example.test", "--config"])
            .arg(&config)
            .env("LC_ALL", "C"),
        LIMIT,
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("buzon dns example.test:\n{text}");
    for line in [
        "example.test.                    3600 IN MX    10 mail.example.test.",
        "_pop3s._tcp.example.test.        3600 IN SRV   0 1 995 mail.example.test.",
        "_pop3._tcp.example.test.         3600 IN SRV   10 1 110 mail.example.test.",
        "autoconfig.example.test.         3600 IN CNAME mail.example.test.",
        "autodiscover.example.test.       3600 IN CNAME mail.example.test.",
        "_autodiscover._tcp.example.test. 3600 IN SRV   0 0 443 mail.example.test.",
        "example.test.                    3600 IN TXT   \"v=spf1 mx -all\"",
    ] {
        assert!(text.contains(line), "{line:?} missing in\n{text}");
    }
    assert!(!text.contains("forward"), "{text}");
    let out = run_bounded(
        Command::new(BIN)
            .args(["dns", "other.test", "--config"])
            .arg(&config)
            .env("LC_ALL", "C"),
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not one of this server's local domains"));
}

#[test]
fn buzon_setup_configures_itself_from_the_servers_own_autoconfig_and_logs_in() {
    let w = start();
    // A DNS that knows only the server's name: no SRV records, no MX.
    let dns = TestDns::start(vec![(
        "localhost",
        DnsRecord::A(std::net::Ipv4Addr::LOCALHOST),
    )]);
    let out = run_bounded(
        Command::new(BIN)
            .args([
                "setup",
                "alice@example.test",
                "--no-guess",
                "--print",
                "--yes",
                "localhost",
            ])
            .args(["--dns-server", &dns.addr.to_string()])
            .arg("--autoconfig-base")
            .arg(format!("https://localhost:{}", w.proc.addr("HTTPS").port()))
            .arg("--ca-file")
            .arg(&w.ca_file)
            .args(["--password-env", "PW", "--config"])
            .arg(w.dir.path().join("accounts.toml"))
            .env("PW", "pw")
            .env("LC_ALL", "C"),
        LIMIT,
    );
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    eprintln!("buzon setup:\n{so}{se}");
    assert_eq!(out.status.code(), Some(0), "{so}{se}");
    assert!(so.contains("autoconfig"), "{so}");
    assert!(so.contains("logged in as alice"), "{so}");
    assert!(
        so.contains(&format!("port = {}", w.proc.addr("POP3S").port())),
        "{so}"
    );
}

/// One browser: curl with a cookie jar. Returns (status, headers, body).
struct Browser<'a> {
    w: &'a Web,
    jar: std::path::PathBuf,
    lang: &'a str,
}

impl Browser<'_> {
    fn request(&self, method: &str, path: &str, form: &[(&str, &str)]) -> (String, String, String) {
        let url = format!(
            "https://localhost:{}{path}",
            self.w.proc.addr("HTTPS").port()
        );
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--max-time", "20", "--cacert"])
            .arg(&self.w.ca_file)
            .arg("-c")
            .arg(&self.jar)
            .arg("-b")
            .arg(&self.jar)
            .args(["-H", &format!("Accept-Language: {}", self.lang)])
            .args(["-D", "-", "-o", "-", "-X", method]);
        for (k, v) in form {
            cmd.arg("--data-urlencode").arg(format!("{k}={v}"));
        }
        let out = run_bounded(cmd.arg(url), LIMIT);
        assert!(out.status.success(), "curl {path}: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head.split_whitespace().nth(1).unwrap_or("").to_string();
        (status, head.to_string(), body.to_string())
    }
}

/// The value of the hidden field `csrf` (or of the element with `id`).
fn field(html: &str, marker: &str) -> String {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in {html}"))
        + marker.len();
    html[at..].split(['"', '<']).next().unwrap().to_string()
}

fn csrf(html: &str) -> String {
    field(html, "name=\"csrf\" value=\"")
}

/// POP3S login with curl: whether the server took it.
fn pop3_login(w: &Web, user: &str, password: &str) -> bool {
    run_bounded(
        Command::new("curl")
            .args(["-sS", "--max-time", "20", "--cacert"])
            .arg(&w.ca_file)
            .args(["-u", &format!("{user}:{password}")])
            .arg(format!(
                "pop3s://localhost:{}/",
                w.proc.addr("POP3S").port()
            )),
        LIMIT,
    )
    .status
    .success()
}

#[test]
fn account_pages_sign_in_with_two_step_manage_app_passwords_and_refuse_forged_forms() {
    if !crate::interop_clients::have("curl") || !crate::interop_clients::have("python3") {
        return;
    }
    let w = start();
    let b = Browser {
        w: &w,
        jar: w.dir.path().join("jar"),
        lang: "en",
    };
    // Not signed in: to the sign-in page, which carries the security headers.
    let (status, head, _) = b.request("GET", "/account", &[]);
    assert_eq!(status, "303", "{head}");
    assert!(head.contains("location: /account/login"), "{head}");
    let (status, head, page) = b.request("GET", "/account/login", &[]);
    assert_eq!(status, "200");
    let h = head.to_ascii_lowercase();
    assert!(
        h.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
    assert!(h.contains("x-frame-options: deny"), "{head}");
    assert!(h.contains("secure; httponly; samesite=strict"), "{head}");
    assert!(!page.contains("<script"), "{page}");
    let token = csrf(&page);
    // A form without the token (another site's page) is refused; so is a wrong password,
    // with the usual words; an app password never signs in here.
    let (status, _, _) = b.request(
        "POST",
        "/account/login",
        &[("user", "alice"), ("password", "pw")],
    );
    assert_eq!(status, "403");
    let (_, _, page) = b.request("GET", "/account/login", &[]);
    let token2 = csrf(&page);
    assert_ne!(token, token2);
    let (status, _, page) = b.request(
        "POST",
        "/account/login",
        &[("csrf", &token2), ("user", "alice"), ("password", "nope")],
    );
    assert_eq!(status, "401");
    assert!(page.contains("Sign-in failed"), "{page}");
    let sign_in = |code: &str| {
        let (_, _, page) = b.request("GET", "/account/login", &[]);
        let t = csrf(&page);
        b.request(
            "POST",
            "/account/login",
            &[
                ("csrf", &t),
                ("user", "alice"),
                ("password", "pw"),
                ("code", code),
            ],
        )
    };
    let (status, head, _) = sign_in("");
    assert_eq!(status, "303", "{head}");
    let (status, _, page) = b.request("GET", "/account", &[]);
    assert_eq!(status, "200");
    assert!(
        page.contains("Signed in as alice") && page.contains("No app passwords yet."),
        "{page}"
    );
    let token = csrf(&page);

    // An app password: shown once, works over POP3S, listed with its last use.
    let (status, _, _) = b.request(
        "POST",
        "/account/app-passwords",
        &[("csrf", "forged"), ("name", "x")],
    );
    assert_eq!(status, "403");
    let (status, _, page) = b.request(
        "POST",
        "/account/app-passwords",
        &[("csrf", &token), ("name", "laptop"), ("scope", "pop3")],
    );
    assert_eq!(status, "200");
    let app = field(&page, "id=\"app-password\">");
    assert_eq!(app.len(), 29, "{page}");
    assert!(pop3_login(&w, "alice", &app));
    let (_, _, page) = b.request("GET", "/account", &[]);
    assert!(
        page.contains("<td>laptop</td><td>pop3</td>") && page.contains("<td>127.0.0.1</td>"),
        "{page}"
    );
    // Usage, the recent logins (the web sign-in and the POP3 login, recorded in the
    // background), the steps for the common programs.
    assert!(
        page.contains("<p id=\"usage\">0 B used, 0 messages; no quota.</p>"),
        "{page}"
    );
    for program in [
        "Thunderbird",
        "Outlook",
        "Apple Mail",
        "Android",
        "When it does not work",
    ] {
        assert!(page.contains(program), "{program} missing");
    }
    let listed = buzon_testkit::wait::poll(Duration::from_secs(5), || {
        let (_, _, page) = b.request("GET", "/account", &[]);
        let logins = page
            .split("<table id=\"logins\">")
            .nth(1)?
            .split("</table>")
            .next()?
            .to_string();
        (logins.contains("<td>web</td>") && logins.matches("<td>127.0.0.1</td>").count() >= 2)
            .then_some(())
    });
    assert!(listed.is_some(), "the recent logins are not listed");
    // It does not sign in to the page.
    let (_, _, p) = b.request("GET", "/account/login", &[]);
    let t = csrf(&p);
    let other = Browser {
        w: &w,
        jar: w.dir.path().join("jar2"),
        lang: "en",
    };
    let (_, _, p) = other.request("GET", "/account/login", &[]);
    let t2 = csrf(&p);
    let (status, _, _) = other.request(
        "POST",
        "/account/login",
        &[("csrf", &t2), ("user", "alice"), ("password", &app)],
    );
    assert_eq!(status, "401");
    let _ = t;

    // Two-step verification from the page: the QR code and secret, a first code.
    let (status, _, page) = b.request("POST", "/account/two-step/start", &[("csrf", &token)]);
    assert_eq!(status, "200");
    assert!(page.contains("<svg"), "no QR code on the page");
    let secret = field(&page, "id=\"totp-secret\">");
    let code = crate::two_step::authenticator_code(&secret, 0);
    let (status, _, page) = b.request(
        "POST",
        "/account/two-step/confirm",
        &[("csrf", &token), ("code", &code)],
    );
    assert_eq!(status, "200");
    let recovery: Vec<String> = page
        .split("<li class=\"secret\">")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_string())
        .collect();
    assert_eq!(recovery.len(), 10, "{page}");
    let users = std::fs::read_to_string(w.dir.path().join("data/users")).unwrap();
    assert!(users.contains("two_step=totp"), "{users}");
    // POP3: the main password is refused now, the app password still works.
    let refused = buzon_testkit::wait::poll(Duration::from_secs(5), || {
        (!pop3_login(&w, "alice", "pw")).then_some(())
    });
    assert!(refused.is_some(), "the main password still works over POP3");
    assert!(pop3_login(&w, "alice", &app));

    // Sign out; signing in now needs the code: none, a used one, then the next step's.
    let (status, _, _) = b.request("POST", "/account/logout", &[("csrf", &token)]);
    assert_eq!(status, "303");
    let (status, _, _) = b.request("GET", "/account", &[]);
    assert_eq!(status, "303");
    assert_eq!(sign_in("").0, "401");
    assert_eq!(sign_in(&code).0, "401", "a used code signed in again");
    let next = crate::two_step::authenticator_code(&secret, 1);
    assert_eq!(sign_in(&next).0, "303");
    let (_, _, page) = b.request("GET", "/account", &[]);
    assert!(page.contains("Two-step verification is on"), "{page}");
    let token = csrf(&page);

    // The Apple profile: one POP3 account over TLS on the POP3S port.
    let (status, head, profile) = b.request("GET", "/account/apple.mobileconfig", &[]);
    assert_eq!(status, "200");
    assert!(
        head.to_ascii_lowercase()
            .contains("application/x-apple-aspen-config"),
        "{head}"
    );
    for part in [
        "<string>EmailTypePOP</string>",
        &format!("<integer>{}</integer>", w.proc.addr("POP3S").port()),
        "<key>IncomingMailServerUseSSL</key><true/>",
        "<string>alice@example.test</string>",
    ] {
        assert!(profile.contains(part), "{part} missing in {profile}");
    }

    // In Spanish: by the browser's language, and by the switch.
    let es = Browser {
        w: &w,
        jar: w.dir.path().join("jar3"),
        lang: "es-ES,es;q=0.9",
    };
    let (_, _, page) = es.request("GET", "/account/login", &[]);
    assert!(
        page.contains("<h1>Iniciar sesión</h1>") && page.contains("lang=\"es\""),
        "{page}"
    );
    let (status, head, _) = b.request("GET", "/account/lang?to=es", &[]);
    assert_eq!(status, "303");
    assert!(head.contains("buzon_lang=es"), "{head}");
    let (_, _, page) = b.request("GET", "/account", &[]);
    assert!(page.contains("<h1>Tu cuenta de correo</h1>"), "{page}");

    // Two-step off with a recovery code; the app password revoked from the page.
    let (status, _, _) = b.request(
        "POST",
        "/account/two-step/disable",
        &[("csrf", &token), ("code", &recovery[0])],
    );
    assert_eq!(status, "303");
    let users = std::fs::read_to_string(w.dir.path().join("data/users")).unwrap();
    assert!(!users.contains("two_step"), "{users}");
    let (_, _, page) = b.request("GET", "/account", &[]);
    let id = field(&page, "name=\"id\" value=\"");
    let (status, _, _) = b.request(
        "POST",
        "/account/app-passwords/revoke",
        &[("csrf", &token), ("id", &id)],
    );
    assert_eq!(status, "303");
    assert!(!pop3_login(&w, "alice", &app));

    // A password change elsewhere ends the session.
    let out = run_bounded(
        Command::new("sh").arg("-c").arg(format!(
            "echo 'new pw' | {BIN} user passwd alice --config {}",
            w.dir.path().join("buzon.toml").display()
        )),
        LIMIT,
    );
    assert!(out.status.success(), "{out:?}");
    let ended = buzon_testkit::wait::poll(Duration::from_secs(5), || {
        (b.request("GET", "/account", &[]).0 == "303").then_some(())
    });
    assert!(ended.is_some(), "the session outlived a password change");
}

/// The browser run, in Chromium headless through WebDriver: sign in, turn on
/// two-step verification (the code computed from the secret the page shows), create an
/// app password and use it from curl over POP3S, see its last use listed, switch the page
/// to Spanish, and, as the admin, disable the user, whose POP3 login then fails.
/// Screenshots go to the test's folder, or to `BUZON_SCREENSHOTS` when it is set.
#[test]
fn a_real_browser_signs_in_turns_on_two_step_makes_an_app_password_and_the_admin_disables_the_user()
{
    if !crate::interop_clients::have("curl") || !crate::interop_clients::have("python3") {
        return;
    }
    let browser = match buzon_testkit::browser::Browser::start("en-US") {
        Ok(b) => b,
        Err(e) => {
            buzon_testkit::skip(&format!("no browser: {e}"));
            return;
        }
    };
    let w = start_with("\n[web]\nadmins = [\"admin\"]\n");
    let stored = buzon_auth::hash_password(b"admin pw", &buzon_auth::HashParams::fast_for_tests());
    buzon_auth::add_user(&w.dir.path().join("data/users"), "admin", &stored).unwrap();
    let shots = std::env::var_os("BUZON_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| w.dir.path().join("screenshots"));
    std::fs::create_dir_all(&shots).unwrap();
    let base = format!("https://localhost:{}", w.proc.addr("HTTPS").port());
    let b = &browser;
    let sign_in = |user: &str, password: &str| {
        b.open(&format!("{base}/account"));
        assert!(b.url().ends_with("/account/login"), "{}", b.url());
        b.type_into(&b.css("input[name=user]"), user);
        b.type_into(&b.css("input[name=password]"), password);
        b.click(&b.css("form button[type=submit]"));
        b.wait_for("header nav span");
    };

    // 1. Sign in.
    sign_in("alice", "pw");
    assert!(b.url().ends_with("/account"), "{}", b.url());
    assert_eq!(b.text(&b.css("h1")), "Your mail account");
    b.screenshot(&shots.join("1-account.png"));

    // 2. Two-step verification: the QR code and the secret, then the app's code.
    b.click(&b.css("form[action='/account/two-step/start'] button"));
    let secret = b.text(&b.wait_for("#totp-secret"));
    assert!(b.source().contains("<svg"), "no QR code");
    b.screenshot(&shots.join("2-two-step-qr.png"));
    let code = crate::two_step::authenticator_code(&secret, 0);
    b.type_into(&b.css("input[name=code]"), &code);
    b.click(&b.css("form[action='/account/two-step/confirm'] button"));
    b.wait_for("#recovery-codes");
    assert_eq!(b.all("#recovery-codes li").len(), 10, "{}", b.source());
    b.screenshot(&shots.join("3-recovery-codes.png"));

    // 3. An app password, used from curl over POP3S, then listed with its last use.
    b.open(&format!("{base}/account"));
    b.type_into(
        &b.css("form[action='/account/app-passwords'] input[name=name]"),
        "curl",
    );
    b.click(&b.css("form[action='/account/app-passwords'] button"));
    let app = b.text(&b.wait_for("#app-password"));
    assert_eq!(app.len(), 29, "{app}");
    b.screenshot(&shots.join("4-app-password.png"));
    assert!(
        pop3_login(&w, "alice", &app),
        "the app password does not log in"
    );
    assert!(
        !pop3_login(&w, "alice", "pw"),
        "the main password still logs in"
    );
    b.open(&format!("{base}/account"));
    let row = b.text(&b.xpath("//tr[td='curl']"));
    assert!(row.contains("127.0.0.1") && !row.contains("never"), "{row}");
    b.screenshot(&shots.join("5-last-use.png"));

    // 4. The page in Spanish.
    b.click(&b.css("a[hreflang=es]"));
    b.wait_for("a[hreflang=en]");
    assert_eq!(b.text(&b.css("h1")), "Tu cuenta de correo");
    b.screenshot(&shots.join("6-spanish.png"));
    b.click(&b.css("form[action='/account/logout'] button"));
    b.wait_for("input[name=user]");
    b.click(&b.css("a[hreflang=en]"));
    b.wait_for("a[hreflang=es]");

    // 5. The admin disables alice; her POP3 login fails.
    sign_in("admin", "admin pw");
    b.open(&format!("{base}/account/admin"));
    assert_eq!(b.text(&b.css("h1")), "Administration");
    b.click(&b.xpath("//form[@action='/account/admin/users/disable'][input[@name='user' and @value='alice']]/button"));
    b.wait_for("form[action='/account/admin/users/enable']");
    let row = b.text(&b.xpath("//table[@id='users']//tr[td='alice']"));
    assert!(row.contains("disabled"), "{row}");
    // A quota for alice, kept in the users file.
    b.type_into(
        &b.xpath("//form[@action='/account/admin/users/quota'][input[@name='user' and @value='alice']]/input[@name='quota']"),
        "1G",
    );
    b.click(&b.xpath(
        "//form[@action='/account/admin/users/quota'][input[@name='user' and @value='alice']]/button",
    ));
    b.wait_for("#users");
    let users = std::fs::read_to_string(w.dir.path().join("data/users")).unwrap();
    assert!(users.contains("userdb_quota_rule=*:storage=1G"), "{users}");
    b.screenshot(&shots.join("7-admin-disabled.png"));
    let refused = buzon_testkit::wait::poll(Duration::from_secs(5), || {
        (!pop3_login(&w, "alice", &app)).then_some(())
    });
    assert!(refused.is_some(), "a disabled user still logs in");
    let log = w.proc.log().join("\n");
    assert!(
        log.contains("admin action") && log.contains("action=\"disable\""),
        "{log}"
    );
}

/// Web sign-ins go through the POP3 throttle: with every failure penalised (1 s, at most
/// 1 s), a burst of wrong sign-ins from one network gets some answered unchecked with
/// 429 and the explaining text, and the right password still signs in afterwards.
#[test]
fn web_sign_ins_are_throttled_like_pop3_logins() {
    if !crate::interop_clients::have("curl") {
        return;
    }
    let w = start_with("free_failures = 0\npenalty_base = \"1s\"\npenalty_max = \"1s\"\n");
    let attempt = |jar: &str, password: &str| {
        let b = Browser {
            w: &w,
            jar: w.dir.path().join(jar),
            lang: "en",
        };
        let (_, _, page) = b.request("GET", "/account/login", &[]);
        let t = csrf(&page);
        let (status, _, page) = b.request(
            "POST",
            "/account/login",
            &[("csrf", &t), ("user", "alice"), ("password", password)],
        );
        (status, page)
    };
    assert_eq!(attempt("first", "wrong").0, "401");
    let results: Vec<(String, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let attempt = &attempt;
                s.spawn(move || attempt(&format!("burst{i}"), "wrong"))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let refused: Vec<_> = results.iter().filter(|(s, _)| s == "429").collect();
    assert!(
        !refused.is_empty(),
        "no attempt was refused: {:?}",
        results.iter().map(|r| &r.0).collect::<Vec<_>>()
    );
    assert!(
        refused[0].1.contains("Too many failed sign-ins"),
        "{}",
        refused[0].1
    );
    let signed_in = buzon_testkit::wait::poll(Duration::from_secs(10), || {
        (attempt("after", "pw").0 == "303").then_some(())
    });
    assert!(
        signed_in.is_some(),
        "the right password never signed in after the burst"
    );
}
