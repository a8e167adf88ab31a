//! The RFC transcripts of `crates/pop3-proto/tests/transcripts/`, replayed over real TCP
//! (and real TLS after STLS or on the POP3S port) against the real server on a real
//! Maildir. The state-machine runner proves the protocol logic; this one proves the
//! runtime around it sends exactly the same bytes.
//!
//! Each session of a transcript (split at `@connect`) runs against a freshly started
//! server over the same data folder, with the settings the directives so far ask for.
//! Directives that only an in-memory driver can honour (forced `[IN-USE]`, a fixed UIDL,
//! an injected update failure…) make the runner skip that session, and it says so; a
//! final check makes sure most sessions really ran.
//!
//! The test that runs it is `crates/server/tests/it/transcripts_tcp.rs`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::transcript::{self, Expect, Item};
use crate::{LineClient, TestCa};
use buzon_server::config::{Config, Listener, Protocol, TlsSource};

/// Directives this runner cannot reproduce on a real server.
const UNSUPPORTED: &[&str] = &[
    "inuse",
    "login-delay",
    "uidl",
    "unavailable",
    "update-fails",
];

#[derive(Clone, Default)]
struct Settings {
    greeting: Option<String>,
    language: Option<buzon_i18n::Lang>,
    implementation: Option<String>,
    expire: Option<String>,
    login_delay: Option<u32>,
    max_bad_commands: Option<u32>,
    max_auth_failures: Option<u32>,
    plaintext: bool,
    tls: bool,
    stls: bool,
    apop: bool,
    apop_without_tls: bool,
}

struct Runner {
    dir: tempfile::TempDir,
    ca: TestCa,
    cert: (PathBuf, PathBuf),
    users: Vec<(String, String)>,
    apop_file: bool,
    next_uid: std::collections::HashMap<String, u32>,
}

impl Runner {
    fn new(apop_file: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new();
        let c = ca.issue(&dir.path().join("tls"), &["localhost"], (-1, 30));
        Self {
            dir,
            ca,
            cert: (c.cert_path, c.key_path),
            users: Vec::new(),
            apop_file,
            next_uid: Default::default(),
        }
    }

    fn config(&self, s: &Settings) -> Config {
        let mut c = Config::embedded_default(self.dir.path());
        c.hostname = "test.buzon.invalid".into();
        c.listeners = vec![
            Listener::new("127.0.0.1:0".parse().unwrap(), Protocol::Pop3),
            Listener::new("127.0.0.1:0".parse().unwrap(), Protocol::Pop3s),
        ];
        c.tls = TlsSource::Files {
            certificate: self.cert.0.clone(),
            key: self.cert.1.clone(),
        };
        c.listeners[0].starttls = s.stls;
        c.auth.apop = s.apop_without_tls;
        c.auth.hash = buzon_auth::HashParams::fast_for_tests();
        c.auth.throttle.failure_delay = Duration::ZERO;
        c.auth.throttle.penalty_base = Duration::ZERO;
        c.auth.throttle.penalty_max = Duration::ZERO;
        if !s.plaintext {
            c.auth.plaintext_networks.clear();
        }
        if let Some(l) = s.language {
            c.pop3.language = l;
        }
        if let Some(g) = &s.greeting {
            c.pop3.greeting.clone_from(g);
        }
        c.pop3.implementation.clone_from(&s.implementation);
        c.pop3.expire.clone_from(&s.expire);
        c.pop3.login_delay = s.login_delay;
        if let Some(n) = s.max_bad_commands {
            c.limits.max_bad_commands = n;
        }
        if let Some(n) = s.max_auth_failures {
            c.auth.max_auth_failures = n;
        }
        c
    }

    fn add_user(&mut self, name: &str, pw: &str) {
        let stored = if self.apop_file {
            format!("{{PLAIN}}{pw}")
        } else {
            buzon_auth::hash_password(pw.as_bytes(), &buzon_auth::HashParams::fast_for_tests())
        };
        buzon_auth::add_user(&self.dir.path().join("users"), name, &stored).unwrap();
        self.users.push((name.to_string(), pw.to_string()));
    }

    /// Writes the message as a file named like the in-memory runner's unique-ids
    /// ("uid-N"), so UIDL replies match; such foreign names carry no size, so this also
    /// exercises the store's size index.
    fn add_message(&mut self, user: &str, content: &[u8]) {
        let md = buzon_store::Maildir::create(
            self.dir
                .path()
                .join("mail")
                .join(buzon_auth::mailbox_dir_name(user)),
        )
        .unwrap();
        let n = self.next_uid.entry(user.to_string()).or_insert(0);
        *n += 1;
        assert!(
            *n < 10,
            "file-name order equals message order only below 10 messages"
        );
        std::fs::write(md.root().join("cur").join(format!("uid-{n}:2,")), content).unwrap();
    }

    /// Waits until no POP3 session holds any mailbox (each lock can be taken), so a
    /// closed or dropped session's changes are final before they are counted.
    fn wait_sessions_over(&self) {
        for user in std::fs::read_dir(self.dir.path().join("mail"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let Ok(md) = buzon_store::Maildir::open(user.path()) else {
                continue;
            };
            crate::wait_until(
                Duration::from_secs(30),
                &format!("the session on {} to end", user.path().display()),
                || md.open_session().is_ok(),
            );
        }
    }

    fn message_count(&self) -> usize {
        let mut n = 0;
        for user in std::fs::read_dir(self.dir.path().join("mail"))
            .into_iter()
            .flatten()
            .flatten()
        {
            for sub in ["cur", "new"] {
                n += std::fs::read_dir(user.path().join(sub))
                    .map(|d| d.count())
                    .unwrap_or(0);
            }
        }
        n
    }
}

/// Strips an APOP timestamp from a greeting line.
fn without_timestamp(line: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(line);
    match (s.find(" <"), s.rfind('>')) {
        (Some(a), Some(b)) if b > a && s[a..].contains('@') => {
            format!("{}{}", &s[..a], &s[b + 1..]).into_bytes()
        }
        _ => line.to_vec(),
    }
}

struct Session {
    items: Vec<Item>,
}

fn split_sessions(items: Vec<Item>) -> (Vec<Item>, Vec<Session>) {
    let mut setup = Vec::new();
    let mut sessions: Vec<Session> = Vec::new();
    let mut current: Option<Vec<Item>> = None;
    for item in items {
        match &item {
            Item::Directive { key, .. } if key == "connect" => {
                // Setting directives written after a session's last line and before
                // `@connect` configure the next session.
                let mut carried = Vec::new();
                if let Some(mut c) = current.take() {
                    while let Some(Item::Directive { key, .. }) = c.last() {
                        if is_per_session(key) {
                            break;
                        }
                        carried.insert(0, c.pop().unwrap_or_else(|| unreachable!()));
                    }
                    sessions.push(Session { items: c });
                } else {
                    setup.append(&mut carried);
                }
                current = Some(carried);
            }
            _ => match &mut current {
                Some(c) => c.push(item),
                None => {
                    if matches!(&item, Item::Directive { key, .. } if sessions.is_empty() && !is_per_session(key))
                    {
                        setup.push(item);
                    } else {
                        current = Some(vec![item]);
                    }
                }
            },
        }
    }
    if let Some(c) = current {
        sessions.push(Session { items: c });
    }
    (setup, sessions)
}

/// Directives that belong to the session they are written in (not settings).
fn is_per_session(key: &str) -> bool {
    matches!(
        key,
        "closed" | "drop" | "send" | "expect-deleted" | "expect-no-update"
    )
}

fn apply(settings: &mut Settings, runner: &mut Runner, key: &str, value: &str) -> bool {
    let on = value.trim() == "on";
    let opt = |v: &str| {
        if v == "none" {
            None
        } else {
            Some(v.to_string())
        }
    };
    match key {
        "user" => {
            let (name, pw) = value.split_once(' ').unwrap_or((value, ""));
            // A name the real users file refuses (e.g. non-ASCII) cannot be reproduced.
            if buzon_auth::validate_username(name).is_err() {
                return false;
            }
            runner.add_user(name, pw);
        }
        "message" => {
            let (user, content) = value.split_once(' ').unwrap_or((value, ""));
            let bytes = transcript::unescape(content).unwrap();
            runner.add_message(user, &bytes);
        }
        "config" => {
            let (k, v) = value.split_once(' ').unwrap_or((value, ""));
            match k {
                "greeting" => settings.greeting = Some(v.to_string()),
                "language" => match buzon_i18n::Lang::from_tag(v) {
                    Some(l) => settings.language = Some(l),
                    None => return false,
                },
                "implementation" => settings.implementation = opt(v),
                "expire" => settings.expire = opt(v),
                "login_delay" => settings.login_delay = opt(v).and_then(|x| x.parse().ok()),
                "max_bad_commands" => settings.max_bad_commands = v.parse().ok(),
                "max_auth_failures" => settings.max_auth_failures = v.parse().ok(),
                _ => return false,
            }
        }
        "plaintext" => settings.plaintext = on,
        "tls" => settings.tls = on,
        "stls" => settings.stls = on,
        "apop" => settings.apop = !value.trim().is_empty() && value.trim() != "off",
        "apop-without-tls" => settings.apop_without_tls = on,
        _ => return false,
    }
    true
}

fn run_session(
    runner: &Runner,
    settings: &Settings,
    items: &[Item],
    name: &str,
) -> Result<(), String> {
    let config = runner.config(settings);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let server = rt
        .block_on(buzon_server::start(config))
        .map_err(|e| e.to_string())?;
    let addr = server
        .addr(if settings.tls {
            Protocol::Pop3s
        } else {
            Protocol::Pop3
        })
        .ok_or("no listener")?;
    let before = runner.message_count();
    let mut client = if settings.tls {
        LineClient::connect_tls(addr, runner.ca.client_config(), "localhost")
    } else {
        LineClient::connect(addr)
    };
    let mut greeting_seen = false;
    let mut timestamp: Option<String> = None;
    let mut last_cmd = Vec::new();
    let mut result = Ok(());
    for (i, item) in items.iter().enumerate() {
        let step = match item {
            Item::Client(line) => {
                let mut line = line.clone();
                // APOP digests depend on the greeting's timestamp, which a real server makes
                // unique; recompute the digest for the user's password.
                if line.to_ascii_uppercase().starts_with(b"APOP ") {
                    if let (Some(ts), Some(user)) = (
                        &timestamp,
                        String::from_utf8_lossy(&line)
                            .split_whitespace()
                            .nth(1)
                            .map(str::to_string),
                    ) {
                        if let Some((_, pw)) = runner.users.iter().find(|(u, _)| *u == user) {
                            let rest: Vec<String> = String::from_utf8_lossy(&line)
                                .split_whitespace()
                                .map(str::to_string)
                                .collect();
                            if rest.len() == 3 && rest[2] != "0".repeat(32) && rest[2].len() == 32 {
                                line = format!(
                                    "{} {} {}",
                                    rest[0],
                                    user,
                                    buzon_pop3_proto::sasl::apop_digest(ts, pw.as_bytes())
                                )
                                .into_bytes();
                            }
                        }
                    }
                }
                last_cmd.clone_from(&line);
                line.extend_from_slice(b"\r\n");
                client.send_raw(&line).map_err(|e| format!("send: {e}"))
            }
            Item::Server(expect) => match client.try_read_line() {
                Ok(Some(got)) => {
                    let ok = if !greeting_seen {
                        greeting_seen = true;
                        timestamp = buzon_pop3_proto::sasl::greeting_timestamp(
                            &String::from_utf8_lossy(&got),
                        )
                        .map(str::to_string);
                        // The real server offers the timestamp only where APOP can be
                        // accepted now or after STLS, as the state machine does.
                        let offered = settings.apop
                            && (settings.apop_without_tls
                                || settings.tls
                                || settings.plaintext
                                || settings.stls);
                        if offered && timestamp.is_none() {
                            Err(format!(
                                "greeting without APOP timestamp: {:?}",
                                String::from_utf8_lossy(&got)
                            ))
                        } else {
                            let want = match expect {
                                Expect::Exact(e) => Expect::Exact(without_timestamp(e)),
                                Expect::Prefix(p) => Expect::Prefix(without_timestamp(p)),
                            };
                            if want.matches(&without_timestamp(&got)) {
                                Ok(())
                            } else {
                                Err(format!(
                                    "greeting: want {want}, got {:?}",
                                    String::from_utf8_lossy(&got)
                                ))
                            }
                        }
                    } else if expect.matches(&got) {
                        Ok(())
                    } else {
                        Err(format!(
                            "want {expect}, got {:?}",
                            String::from_utf8_lossy(&got)
                        ))
                    };
                    let stls = last_cmd.len() >= 4
                        && last_cmd[..4].eq_ignore_ascii_case(b"STLS")
                        && matches!(last_cmd.get(4), None | Some(b'\r'));
                    if ok.is_ok() && stls && got.starts_with(b"+OK") {
                        client
                            .try_start_tls(runner.ca.client_config(), "localhost")
                            .map_err(|e| format!("TLS after STLS: {e}"))
                    } else {
                        ok
                    }
                }
                Ok(None) => Err(format!("connection closed; wanted {expect}")),
                Err(e) => Err(format!("read: {e}; wanted {expect}")),
            },
            Item::Directive { key, value } => match key.as_str() {
                "closed" => {
                    if client.is_closed() {
                        Ok(())
                    } else {
                        Err("connection not closed".into())
                    }
                }
                "drop" => {
                    client = LineClient::connect(addr);
                    let _ = client.try_read_line();
                    client.shutdown_write();
                    runner.wait_sessions_over();
                    Ok(())
                }
                "send" => {
                    let b = transcript::unescape(value).map_err(|e| e.to_string())?;
                    client.send_raw(&b).map_err(|e| e.to_string())
                }
                "expect-deleted" | "expect-no-update" => {
                    runner.wait_sessions_over();
                    let want = if key == "expect-deleted" && value.trim() != "none" {
                        value.split(',').count()
                    } else {
                        0
                    };
                    let now = runner.message_count();
                    if before - now == want {
                        Ok(())
                    } else {
                        Err(format!("{} messages deleted, want {want}", before - now))
                    }
                }
                _ => Ok(()),
            },
        };
        if let Err(e) = step {
            result = Err(format!("{name}: item {} ({item:?}): {e}", i + 1));
            break;
        }
    }
    drop(client);
    rt.block_on(server.shutdown(Duration::from_secs(5)));
    result
}

/// Replays every `*.txt` transcript in `dir` (sorted by name, so a new file is picked up
/// without a change here) over TCP; returns, per file, its path, the sessions run, the
/// sessions skipped as unreproducible, and the failures.
pub fn run_dir(dir: &Path) -> Vec<(PathBuf, usize, usize, Vec<String>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let (ran, skipped, failures) = run_file(&f);
            (f, ran, skipped, failures)
        })
        .collect()
}

/// Replays one transcript file over TCP: (sessions run, sessions skipped, failures).
pub fn run_file(path: &Path) -> (usize, usize, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let items = transcript::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let apop_file = text.contains("\n@apop ");
    let mut runner = Runner::new(apop_file);
    let mut settings = Settings {
        plaintext: true,
        ..Settings::default()
    };
    let (setup, sessions) = split_sessions(items);
    let mut skip_all = false;
    // Setup directives that cannot be reproduced taint only the sessions that mention
    // what they are about (a user forced in use, an invented UIDL, a name the real
    // users file refuses), not the whole file.
    let mut tainted: Vec<Vec<u8>> = Vec::new();
    for item in &setup {
        if let Item::Directive { key, value } = item {
            match key.as_str() {
                "inuse" => tainted.push(value.trim().as_bytes().to_vec()),
                "uidl" => tainted.extend(
                    value
                        .split_whitespace()
                        .nth(2)
                        .map(|u| u.as_bytes().to_vec()),
                ),
                "user"
                    if buzon_auth::validate_username(
                        value.split(' ').next().unwrap_or_default(),
                    )
                    .is_err() =>
                {
                    let name = value.split(' ').next().unwrap_or_default();
                    tainted.push(name.as_bytes().to_vec());
                    let pw = value.split_once(' ').map(|(_, p)| p).unwrap_or_default();
                    tainted.push(
                        buzon_pop3_proto::sasl::encode_base64(
                            buzon_pop3_proto::sasl::build_plain(name, pw.as_bytes()).expose(),
                        )
                        .into_bytes(),
                    );
                    tainted
                        .push(buzon_pop3_proto::sasl::encode_base64(name.as_bytes()).into_bytes());
                }
                _ => {
                    if UNSUPPORTED.contains(&key.as_str())
                        || !apply(&mut settings, &mut runner, key, value)
                    {
                        skip_all = true;
                    }
                }
            }
        }
    }
    let (mut ran, mut skipped, mut failures) = (0, 0, Vec::new());
    let mut skip_rest = false;
    for (n, session) in sessions.iter().enumerate() {
        // Leading directives configure this session (and those after it).
        let mut body = Vec::new();
        let mut unsupported = skip_all;
        for item in &session.items {
            match item {
                Item::Directive { key, value } if body.is_empty() && !is_per_session(key) => {
                    if UNSUPPORTED.contains(&key.as_str())
                        || !apply(&mut settings, &mut runner, key, value)
                    {
                        unsupported = true;
                    }
                }
                other => body.push(other.clone()),
            }
        }
        let mentions = |needle: &[u8]| {
            body.iter().any(|i| match i {
                Item::Client(l) | Item::Server(Expect::Exact(l) | Expect::Prefix(l)) => {
                    l.windows(needle.len()).any(|w| w == needle)
                }
                Item::Directive { value, .. } => {
                    value.as_bytes().windows(needle.len()).any(|w| w == needle)
                }
            })
        };
        let is_tainted = tainted.iter().any(|t| !t.is_empty() && mentions(t));
        // A real server offers APOP whenever a user has a plaintext password, so "APOP not
        // offered" cannot be reproduced in a file whose users must support APOP.
        let apop_mismatch = runner.apop_file && !settings.apop && mentions(b"APOP");
        if skip_rest
            || unsupported
            || is_tainted
            || apop_mismatch
            || body.iter().any(
                |i| matches!(i, Item::Directive { key, .. } if UNSUPPORTED.contains(&key.as_str())),
            )
        {
            skipped += 1;
            eprintln!(
                "  {name} session {}: skipped ({})",
                n + 1,
                [
                    (skip_rest, "an earlier skipped session deleted mail"),
                    (unsupported, "in-memory-only directive"),
                    (is_tainted, "mentions an unreproducible user or UIDL"),
                    (apop_mismatch, "APOP cannot be withheld")
                ]
                .iter()
                .filter(|(c, _)| *c)
                .map(|(_, w)| *w)
                .collect::<Vec<_>>()
                .join(", ")
            );
            // A skipped session that deletes mail changes what later sessions would see.
            let deletes = body.iter().any(|i| matches!(i, Item::Directive { key, value } if key == "expect-deleted" && value.trim() != "none"));
            if deletes || mentions(b"messages deleted") {
                skip_rest = true;
            }
            continue;
        }
        ran += 1;
        if let Err(e) = run_session(
            &runner,
            &settings,
            &body,
            &format!("{name} session {}", n + 1),
        ) {
            failures.push(e);
        }
    }
    (ran, skipped, failures)
}
