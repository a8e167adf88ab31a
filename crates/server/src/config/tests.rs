use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

#[test]
fn embedded_defaults_are_loopback_unprivileged() {
    let c = Config::embedded_default(Path::new("/tmp/x"));
    assert_eq!(c.listeners.len(), 5);
    assert!(c
        .listeners
        .iter()
        .all(|l| l.address.ip().is_loopback() && l.address.port() >= 1024));
    let by = |p: Protocol| {
        c.listeners
            .iter()
            .find(|l| l.protocol == p)
            .map(|l| l.address.port())
    };
    assert_eq!(
        (by(Protocol::Lmtp), by(Protocol::Smtp), by(Protocol::Https)),
        (Some(1024), Some(1025), Some(1443))
    );
    assert_eq!(
        c.delivery.routing.local_domains,
        vec!["localhost".to_string()]
    );
    assert_eq!(c.delivery.routing.recipient_delimiter.as_deref(), Some("+"));
    assert_eq!(c.delivery.max_message_size, 50 * 1024 * 1024);
    assert_eq!(c.delivery.max_recipients, 100);
    assert!(c.delivery.quota.is_unlimited() && !c.delivery.over_quota_permanent);
    assert_eq!(c.delivery.sieve_dir, Path::new("/tmp/x/sieve"));
    assert_eq!(c.smtp.command_timeout, Duration::from_secs(300));
    assert_eq!(c.smtp.data_deadline, Duration::from_secs(1800));
    assert_eq!(c.limits.auth_timeout, Duration::from_secs(120));
    assert_eq!(c.limits.ipv6_prefix, 64);
    assert!(c.unix_listeners.is_empty() && c.pop3.serve_folders.is_empty());
    assert_eq!(c.limits.idle_timeout, Duration::from_secs(600));
    assert!(!c.auth.allow_plaintext_without_tls);
    assert_eq!(c.auth.users_file, Path::new("/tmp/x/users"));
    assert_eq!(
        c.tls,
        TlsSource::SelfSigned {
            dir: PathBuf::from("/tmp/x/tls")
        }
    );
}

#[test]
fn errors_name_key_line_and_fix() {
    let text =
        "hostname = \"mx\"\n\n[limits]\nmax_connections = 5\nidle_timeout = \"ten minutes\"\n";
    let e = Config::parse(text, "buzon.toml")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("buzon.toml line 5"), "{e}");
    assert!(e.contains("limits.idle_timeout"), "{e}");
    assert!(e.contains("e.g. \"30s\""), "{e}");

    let e = Config::parse("[limits]\nmax_conections = 5\n", "f")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("max_conections") && e.contains("line 2"), "{e}");

    let e = Config::parse(
        "[[listen]]\naddress = \"nowhere\"\nprotocol = \"pop3\"\n",
        "f",
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(e.contains("listen.address") && e.contains("line 2"), "{e}");

    let e = Config::parse(
        "[[listen]]\naddress = \"[::1]:110\"\nprotocol = \"imap\"\n",
        "f",
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(e.contains("imap"), "{e}");

    let e = Config::parse("[tls]\ncertificate = \"a.pem\"\n", "f")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.contains("tls.certificate") && e.contains("set both"),
        "{e}"
    );

    let e = Config::parse("[limits]\nidle_timeout = \"1m\"\n", "f")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("RFC 1939"), "{e}");
}

#[test]
fn pop3_language_is_en_or_es_with_line_and_fix() {
    let c = Config::parse("[pop3]\nlanguage = \"es\"\n", "buzon.toml")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.pop3.language, buzon_i18n::Lang::Es);
    // Without a greeting of its own, the default greeting speaks the default language.
    assert_eq!(c.pop3.greeting, "Buzón preparado.");
    let d = Config::parse("", "buzon.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(d.pop3.language, buzon_i18n::Lang::En);
    assert_eq!(d.pop3.greeting, "Buzon ready.");
    let e = error_of("[pop3]\nlanguage = \"fr\"\n");
    assert!(
        e.starts_with("buzon.toml line 2: `pop3.language` is \"fr\"") && e.contains("\"es\""),
        "{e}"
    );
}

fn error_of(text: &str) -> String {
    Config::parse(text, "buzon.toml")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
}

#[test]
fn errors_in_later_listen_tables_name_their_own_line() {
    let tcp = "[[listen]]\naddress = \"127.0.0.1:110\"\nprotocol = \"pop3\"\n\n";
    let e = error_of(&format!(
        "{tcp}[[listen]]\nprotocol = \"pop3\"\naddress = \"nowhere\"\n"
    ));
    assert!(
        e.starts_with("buzon.toml line 7: `listen.address` is not an address"),
        "{e}"
    );
    let e = error_of(&format!(
        "[[listen]]\naddress = \"unix:/run/lmtp\"\nprotocol = \"lmtp\"\nmode = \"0600\"\n{tcp}[[listen]]\naddress = \"127.0.0.1:995\"\nprotocol = \"pop3s\"\nmode = \"0600\"\n"
    ));
    assert!(
        e.starts_with("buzon.toml line 12: `listen.mode` is set on a TCP listener"),
        "{e}"
    );
    let e = error_of(&format!(
        "[[listen]]\naddress = \"unix:/run/lmtp\"\nprotocol = \"lmtp\"\n{tcp}[[listen]]\naddress = \"unix:rel\"\nprotocol = \"lmtp\"\n"
    ));
    assert!(
        e.starts_with("buzon.toml line 9: `listen.address` \"unix:rel\" is not an absolute path"),
        "{e}"
    );
    let e = error_of(&format!(
        "[[listen]]\naddress = \"unix:/run/lmtp\"\nprotocol = \"lmtp\"\nmode = \"0600\"\n{tcp}[[listen]]\naddress = \"unix:/run/lmtp2\"\nprotocol = \"lmtp\"\nmode = \"rw\"\n"
    ));
    assert!(
        e.starts_with("buzon.toml line 12: `listen.mode` is not an octal permission"),
        "{e}"
    );
}

#[test]
fn errors_in_nested_keys_name_their_line() {
    // A dotted key at the top level.
    let e = error_of("hostname = \"mx\"\nlimits.idle_timeout = \"ten minutes\"\n");
    assert!(
        e.starts_with("buzon.toml line 2: `limits.idle_timeout` is not a duration"),
        "{e}"
    );
    // The same key earlier in a multi-line string does not count.
    let e = error_of(
        "[pop3]\ngreeting = \"\"\"\n[limits]\nidle_timeout = \"10m\"\n\"\"\"\n[limits]\nidle_timeout = \"1m\"\n",
    );
    assert!(
        e.starts_with("buzon.toml line 7: `limits.idle_timeout` is 60s"),
        "{e}"
    );
    // A sub-table: the entry's own line.
    let e = error_of(
        "[delivery]\nlocal_domains = [\"example.com\"]\n\n[delivery.catch_all]\n\"example.com\" = \"postmaster\"\n\"other.org\" = \"bob\"\n",
    );
    assert!(
        e.starts_with("buzon.toml line 6: `delivery.catch_all` names \"other.org\""),
        "{e}"
    );
    // An element of a multi-line array.
    let e = error_of("[auth]\nplaintext_networks = [\n  \"10.0.0.0/8\",\n  \"10.0.0.0/33\",\n]\n");
    assert!(
        e.starts_with("buzon.toml line 4: `auth.plaintext_networks` has an invalid network"),
        "{e}"
    );
    let e = error_of("[pop3]\nserve_folders = [\n  \"Junk\",\n  \"../x\",\n]\n");
    assert!(
        e.starts_with("buzon.toml line 4: `pop3.serve_folders`"),
        "{e}"
    );
    // A key left at its default: its section's header.
    let e = error_of("hostname = \"mx\"\n[auth]\nargon2_iterations = 0\n");
    assert!(
        e.starts_with("buzon.toml line 2: `auth.argon2_memory_kib`"),
        "{e}"
    );
}

#[test]
fn full_file_parses() {
    let text = r#"
data_dir = "/var/lib/buzon"
hostname = "mail.example.com"
[[listen]]
address = "[::]:995"
protocol = "pop3s"
[[listen]]
address = "*:110"
protocol = "pop3"
[tls]
certificate = "/etc/ssl/c.pem"
key = "/etc/ssl/k.pem"
min_version = "1.3"
[auth]
allow_plaintext_without_tls = true
plaintext_networks = ["10.0.0.0/8"]
apop = true
failure_delay = "500ms"
[limits]
idle_timeout = "30m"
[pop3]
expire = "NEVER"
login_delay = 60
implementation = "Buzon"
[proxy]
trusted_networks = ["192.0.2.0/24"]
"#;
    let c = Config::parse(text, "f").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.listeners[0].address,
        "[::]:995".parse().unwrap_or_else(|_| panic!())
    );
    assert_eq!(c.listeners[1].address.port(), 110);
    assert!(c.tls13_only);
    assert_eq!(c.auth.throttle.failure_delay, Duration::from_millis(500));
    assert!(c.auth.apop);
    assert_eq!(c.mail_dir, Path::new("/var/lib/buzon/mail"));
    assert_eq!(c.pop3.login_delay, Some(60));
    assert_eq!(c.proxy_trusted.len(), 1);
}

#[test]
fn the_sample_file_parses_to_the_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/buzon.sample.toml");
    let c = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let d = Config::embedded_default(Path::new("./buzon-data"));
    assert_eq!(c.listeners, d.listeners);
    assert_eq!(c.data_dir, d.data_dir);
    assert_eq!(c.mail_dir, d.mail_dir);
    assert_eq!(c.auth.users_file, d.auth.users_file);
    assert_eq!(c.auth.throttle, d.auth.throttle);
    assert_eq!(c.auth.hash, d.auth.hash);
    assert_eq!(c.auth.verify_queue_timeout, d.auth.verify_queue_timeout);
    assert_eq!(c.auth.verify_queue_timeout, Duration::from_secs(10));
    assert_eq!(c.auth.plaintext_networks, d.auth.plaintext_networks);
    assert!(!c.auth.apop && !d.auth.apop);
    assert_eq!(c.limits.idle_timeout, d.limits.idle_timeout);
    assert_eq!(c.limits.lock_lease, d.limits.lock_lease);
    assert_eq!(c.limits.auth_timeout, d.limits.auth_timeout);
    assert_eq!(c.limits.ipv6_prefix, d.limits.ipv6_prefix);
    assert_eq!(c.limits.max_connections, d.limits.max_connections);
    assert_eq!(c.pop3.greeting, d.pop3.greeting);
    assert_eq!(c.tls, d.tls);
    assert_eq!(c.pop3.serve_folders, d.pop3.serve_folders);
    assert_eq!(
        c.delivery.routing.local_domains,
        d.delivery.routing.local_domains
    );
    assert_eq!(
        c.delivery.routing.recipient_delimiter,
        d.delivery.routing.recipient_delimiter
    );
    assert_eq!(c.delivery.quota, d.delivery.quota);
    assert_eq!(
        c.delivery.over_quota_permanent,
        d.delivery.over_quota_permanent
    );
    assert_eq!(c.delivery.max_message_size, d.delivery.max_message_size);
    assert_eq!(c.delivery.max_recipients, d.delivery.max_recipients);
    assert_eq!(c.delivery.sieve_dir, d.delivery.sieve_dir);
    assert_eq!(c.smtp.max_connections_per_ip, d.smtp.max_connections_per_ip);
    assert_eq!(c.smtp.command_timeout, d.smtp.command_timeout);
    assert_eq!(c.smtp.data_timeout, d.smtp.data_timeout);
    assert_eq!(c.smtp.data_deadline, d.smtp.data_deadline);
    assert_eq!(c.smtp.max_errors, d.smtp.max_errors);
    assert_eq!(c.store, d.store);
}

#[test]
fn durations() {
    assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
    assert_eq!(parse_duration("45"), Some(Duration::from_secs(45)));
    assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
    assert_eq!(parse_duration("x"), None);
    assert_eq!(parse_duration("5 parsecs"), None);
}

#[test]
fn server_user_and_group() {
    let c = Config::parse("[server]\nuser = \"buzon\"\n", "f").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.run_as,
        Some(RunAs {
            user: "buzon".into(),
            group: None
        })
    );
    let c = Config::parse("[server]\nuser = \"998\"\ngroup = \"mail\"\n", "f")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.run_as,
        Some(RunAs {
            user: "998".into(),
            group: Some("mail".into())
        })
    );
    assert_eq!(Config::parse("", "f").map(|c| c.run_as).ok(), Some(None));
    for (text, want) in [
        ("[server]\nuser = \"root\"\n", "superuser"),
        ("[server]\nuser = \"0\"\n", "superuser"),
        (
            "[server]\nuser = \"buzon\"\ngroup = \"0\"\n",
            "superuser's group",
        ),
        ("[server]\nuser = \"../x\"\n", "not a user name"),
        ("[server]\nuser = \"\"\n", "not a user name"),
        ("[server]\nuser = \"-rf\"\n", "not a user name"),
        ("[server]\ngroup = \"buzon\"\n", "`server.user` is not"),
        (
            "[server]\nuser = \"a\"\ngroup = \"b c\"\n",
            "not a group name",
        ),
    ] {
        let e = Config::parse(text, "f")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains(want) && (e.contains("line 2") || e.contains("line 3")),
            "{text:?}: {e}"
        );
    }
}

#[test]
fn intake_sections() {
    let text = r#"
hostname = "mx.example.com"
[[listen]]
address = "unix:/run/buzon/lmtp"
protocol = "lmtp"
mode = "0666"
[[listen]]
address = "[::]:25"
protocol = "smtp"
[delivery]
local_domains = ["Example.COM.", "example.org"]
aliases_file = "/etc/buzon/aliases"
recipient_delimiter = "-"
catch_all = { "example.org" = "postmaster" }
quota_bytes = "1G"
quota_messages = 10000
over_quota_reply = "552"
max_message_size = 26214400
max_recipients = 500
sieve_dir = "/var/lib/buzon/sieve"
[smtp]
hostname = "mx1.example.com"
max_connections_per_ip = 5
command_timeout = "10m"
[pop3]
serve_folders = ["Junk", "Lists.rust"]
"#;
    let c = Config::parse(text, "f").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.unix_listeners,
        vec![UnixListener {
            path: PathBuf::from("/run/buzon/lmtp"),
            protocol: Protocol::Lmtp,
            mode: 0o666
        }]
    );
    assert_eq!(c.listeners.len(), 1);
    assert_eq!(
        c.delivery.routing.local_domains,
        vec!["example.com".to_string(), "example.org".to_string()]
    );
    assert_eq!(c.delivery.routing.recipient_delimiter.as_deref(), Some("-"));
    assert_eq!(
        c.delivery
            .routing
            .catch_all
            .get("example.org")
            .map(String::as_str),
        Some("postmaster")
    );
    assert_eq!(c.delivery.quota.bytes, Some(1 << 30));
    assert_eq!(c.delivery.quota.messages, Some(10_000));
    assert!(c.delivery.over_quota_permanent);
    assert_eq!(c.delivery.max_message_size, 25 << 20);
    assert_eq!(c.smtp.hostname, "mx1.example.com");
    assert_eq!(c.smtp.command_timeout, Duration::from_secs(600));
    assert_eq!(
        c.pop3.serve_folders,
        vec!["Junk".to_string(), "Lists.rust".to_string()]
    );

    for (text, want) in [
        (
            "[[listen]]\naddress = \"unix:/x\"\nprotocol = \"pop3\"\n",
            "LMTP only",
        ),
        (
            "[[listen]]\naddress = \"unix:rel\"\nprotocol = \"lmtp\"\n",
            "absolute path",
        ),
        (
            "[[listen]]\naddress = \"unix:/x\"\nprotocol = \"lmtp\"\nmode = \"999\"\n",
            "octal",
        ),
        ("[delivery]\nover_quota_reply = \"550\"\n", "\"452\""),
        ("[delivery]\nmax_message_size = \"huge\"\n", "not a size"),
        ("[delivery]\nmax_recipients = 10\n", "at least 100"),
        ("[delivery]\nlocal_domains = []\n", "is empty"),
        (
            "[delivery]\ncatch_all = { \"other.org\" = \"bob\" }\n",
            "not in local_domains",
        ),
        ("[delivery]\nrecipient_delimiter = \"ab\"\n", "punctuation"),
        (
            "[pop3]\nserve_folders = [\"../x\"]\n",
            "invalid folder name",
        ),
        ("[smtp]\ncommand_timeout = \"0s\"\n", "at least"),
        ("[smtp]\ndata_deadline = \"0s\"\n", "at least"),
        ("[limits]\nauth_timeout = \"0s\"\n", "at least"),
        ("[limits]\nipv6_prefix = 0\n", "from 1 to 128"),
    ] {
        let e = Config::parse(text, "f")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains(want) && e.contains("line "), "{text:?}: {e}");
    }
    assert_eq!(parse_size_with("50M", 1), Some(50 << 20));
    assert_eq!(parse_size_with("1024", 1024), Some(1 << 20));
    assert_eq!(parse_size_with("7 GiB", 1), Some(7 << 30));
    assert_eq!(parse_size_with("x", 1), None);
    assert_eq!(parse_size_with("99999999999T", 1), None);
}

#[test]
fn store_defaults_to_maildir_and_postgres_settings_resolve() {
    let c = Config::embedded_default(Path::new("/tmp/x"));
    assert_eq!(c.store, StoreSettings::Maildir);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let pw = dir.path().join("db-password");
    std::fs::write(&pw, "s3cret pass\n").unwrap_or_else(|e| panic!("{e}"));
    let text = format!(
        "[store]\nkind = \"postgres\"\nurl = \"postgresql://buzon@db.example:5432/buzon?sslmode=require\"\n\
         password_file = \"{}\"\npool_size = 32\nca_file = \"/etc/buzon/db-ca.pem\"\n\
         lock_lease = \"90s\"\nconnect_timeout = \"3s\"\n",
        pw.display()
    );
    let c = Config::parse(&text, "buzon.toml").unwrap_or_else(|e| panic!("{e}"));
    let StoreSettings::Postgres(pg) = &c.store else {
        panic!("not postgres: {:?}", c.store)
    };
    assert_eq!(
        pg.url,
        "postgresql://buzon@db.example:5432/buzon?sslmode=require"
    );
    // One trailing newline is trimmed; inner spaces belong to the password.
    assert_eq!(pg.password.as_deref(), Some("s3cret pass"));
    assert_eq!(
        pg.password_source.as_deref(),
        Some(format!("file {}", pw.display()).as_str())
    );
    assert_eq!(pg.pool_size, 32);
    assert_eq!(
        pg.ca_file.as_deref(),
        Some(Path::new("/etc/buzon/db-ca.pem"))
    );
    assert_eq!(pg.lock_lease, Duration::from_secs(90));
    assert_eq!(pg.connect_timeout, Duration::from_secs(3));
    // The password never shows in Debug output, of the settings or the whole config.
    assert!(!format!("{c:?}").contains("s3cret"));
    // Defaults of the optional keys; `postgres://` is accepted too.
    let c = Config::parse(
        "[store]\nkind = \"postgres\"\nurl = \"postgres://buzon@127.0.0.1/buzon\"\n",
        "buzon.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.store,
        StoreSettings::Postgres(PgSettings::new("postgres://buzon@127.0.0.1/buzon"))
    );
}

#[test]
fn store_password_from_the_environment() {
    // No test changes this process's environment (tests share it, and C code reads it
    // unlocked): cargo sets CARGO_MANIFEST_DIR for the test run, so it serves as the
    // variable that is set.
    let want =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|e| panic!("run under cargo: {e}"));
    let c = Config::parse(
        "[store]\nkind = \"postgres\"\nurl = \"postgresql://b@h/d\"\npassword_env = \"CARGO_MANIFEST_DIR\"\n",
        "buzon.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let StoreSettings::Postgres(pg) = &c.store else {
        panic!("not postgres")
    };
    assert_eq!(pg.password.as_deref(), Some(want.as_str()));
    assert_eq!(
        pg.password_source.as_deref(),
        Some("environment variable CARGO_MANIFEST_DIR")
    );
    assert!(!format!("{c:?}").contains(&want));
}

#[test]
fn store_errors_name_line_cause_and_fix() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap_or_else(|e| panic!("{e}"));
    let missing = dir.path().join("missing");
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "hunter2-secret\n").unwrap_or_else(|e| panic!("{e}"));
    let pg = "[store]\nkind = \"postgres\"\nurl = \"postgresql://buzon@db/buzon\"\n";
    let cases: Vec<(String, &str, &[&str])> = vec![
        (
            "[store]\nkind = \"mysql\"\n".into(),
            "line 2",
            &["store.kind", "\"mysql\"", "\"maildir\"", "\"postgres\""],
        ),
        (
            "[store]\nkind = \"postgres\"\npool_size = 4\n".into(),
            "line 2",
            &["store.kind", "`url` is not set", "add url ="],
        ),
        (
            "[store]\nkind = \"postgres\"\nurl = \"mysql://u:topsecret@h/d\"\n".into(),
            "line 3",
            &[
                "store.url",
                "not a PostgreSQL URL",
                "postgresql://user@host",
            ],
        ),
        (
            format!(
                "{pg}password_file = \"{}\"\npassword_env = \"X\"\n",
                secret.display()
            ),
            "line 5",
            &[
                "store.password_env",
                "together with `password_file`",
                "keep one",
            ],
        ),
        (
            format!("{pg}password_file = \"{}\"\n", missing.display()),
            "line 4",
            &["store.password_file", "cannot be read", "create the file"],
        ),
        (
            format!("{pg}password_file = \"{}\"\n", empty.display()),
            "line 4",
            &["store.password_file", "is empty", "first line"],
        ),
        (
            format!("{pg}password_env = \"BUZON_TEST_STORE_PW_UNSET\"\n"),
            "line 4",
            &["store.password_env", "BUZON_TEST_STORE_PW_UNSET", "not set"],
        ),
        (
            format!("{pg}pool_size = 0\n"),
            "line 4",
            &["store.pool_size", "is 0", "1 to 1000"],
        ),
        (
            format!("{pg}pool_size = 1001\n"),
            "line 4",
            &["store.pool_size", "is 1001", "max_connections"],
        ),
        (
            format!("{pg}lock_lease = \"4s\"\n"),
            "line 4",
            &["store.lock_lease", "is 4s", "5s to 1h"],
        ),
        (
            format!("{pg}lock_lease = \"2h\"\n"),
            "line 4",
            &["store.lock_lease", "is 2h", "5s to 1h"],
        ),
        (
            format!("{pg}connect_timeout = \"0s\"\n"),
            "line 4",
            &["store.connect_timeout", "1s to 5m"],
        ),
        (
            "[store]\nkind = \"maildir\"\nurl = \"postgresql://buzon@db/buzon\"\n".into(),
            "line 3",
            &["store.url", "would ignore it", "kind = \"postgres\""],
        ),
        (
            "[store]\npool_size = 8\n".into(),
            "line 2",
            &["store.pool_size", "store is Maildir", "remove the key"],
        ),
    ];
    for (text, line, wanted) in cases {
        let e = error_of(&text);
        assert!(
            e.contains(&format!("buzon.toml {line}:")),
            "{line}: {e}\n{text}"
        );
        for w in wanted {
            assert!(e.contains(w), "{w:?} missing: {e}\n{text}");
        }
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(!e.contains("topsecret") && !e.contains("hunter2"), "{e}");
    }
}

#[test]
fn uidl_source_and_dovecots_format_are_checked_with_line_and_fix() {
    let ok = Config::parse(
        "[pop3]\nuidl_source = \"dovecot\"\ndovecot_uidl_format = \"%v.%u\"\n",
        "buzon.toml",
    );
    assert!(ok.is_ok());
    assert!(Config::parse("[pop3]\nuidl_source = \"courier\"\n", "buzon.toml").is_ok());
    let e = error_of("[pop3]\nuidl_source = \"cyrus\"\n");
    assert!(
        e.starts_with("buzon.toml line 2: `pop3.uidl_source` is \"cyrus\""),
        "{e}"
    );
    assert!(e.contains("\"auto\""), "{e}");
    let e = error_of("[pop3]\nuidl_source = \"auto\"\ndovecot_uidl_format = \"%m\"\n");
    assert!(
        e.contains("line 3") && e.contains("%m is not supported"),
        "{e}"
    );
    assert!(e.contains("doveconf pop3_uidl_format"), "{e}");
    let e = error_of("[pop3]\ndovecot_uidl_format = \"%u\"\n");
    assert!(e.contains("would ignore it"), "{e}");
}

#[test]
fn log_format_is_text_or_json() {
    let c = Config::parse("log_format = \"json\"\n", "buzon.toml").unwrap();
    assert!(c.log_json);
    assert!(!Config::parse("", "buzon.toml").unwrap().log_json);
    let e = error_of("log_format = \"xml\"\n");
    assert!(
        e.starts_with("buzon.toml line 1: `log_format` is \"xml\""),
        "{e}"
    );
}

/// Found by the `config_parse` fuzz target: a quoted key holding a line break.
#[test]
fn an_unknown_key_with_control_characters_is_reported_on_one_line() {
    let e = error_of("[\"\\\\\\\\]\\\\\\n zhce'c.0z4\"]\n");
    assert!(!e.contains('\n'), "{e:?}");
    assert!(e.contains("\\n zhce"), "{e}");
    let e = error_of("\"a\\tb\\u0007\" = 1\n");
    assert!(!e.contains('\t') && !e.contains('\u{7}'), "{e:?}");
}
