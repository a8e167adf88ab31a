//! The Debian package on this machine, from install to purge: `dpkg -i` creates the
//! `buzon` account and `/var/lib/buzon` (0700); the shipped config, moved to loopback
//! port-0 listeners, serves as that account (as buzon.service runs it, systemd itself not
//! running): a user added as root, a message delivered over LMTP and fetched over POP3S
//! with curl, a clean stop on SIGTERM. `dpkg -r` keeps the account and the mail;
//! `dpkg --purge` removes /etc/buzon and the account and still keeps the mail. While it
//! is installed: lintian finds nothing, `systemd-analyze verify` passes on the three
//! units, buzon.service's exposure score is at most 2.0, and every man page renders
//! without a warning.
//!
//! It changes the machine (a package, an account, /var/lib/buzon), so it runs only as
//! root with BUZON_INTEROP=1 (CI), and never where a buzon installation it did not make
//! exists. The package is BUZON_PACKAGE_DEB if set, else `scripts/package --profile dev
//! --no-build --fast --out TMP` around the binary these tests were built with.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use buzon_testkit::process::BuzonProcess;
use buzon_testkit::{run_bounded, SmtpClient};

const DATA: &str = "/var/lib/buzon";
/// Written into /var/lib/buzon after the test's install: a later run may then clean up
/// after a failed one, and never touches a data folder without it.
const MARKER: &str = "/var/lib/buzon/.buzon-packaging-test";
const LIMIT: Duration = Duration::from_secs(120);

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs a command (bounded) and returns its output, failing the test when it fails.
fn must(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    let out = run_bounded(cmd, LIMIT);
    assert!(out.status.success(), "{shown} failed:\n{}", text(&out));
    out
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn account_exists() -> bool {
    Command::new("id")
        .arg("buzon")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn installed() -> bool {
    let out = run_bounded(
        Command::new("dpkg-query").args(["-W", "-f=${Status}", "buzon"]),
        LIMIT,
    );
    String::from_utf8_lossy(&out.stdout).contains("installed")
}

/// The messages in alice's Maildir (new/ and cur/).
fn mail_files() -> usize {
    ["new", "cur"]
        .iter()
        .map(|d| {
            std::fs::read_dir(Path::new(DATA).join("mail/alice").join(d))
                .map(|r| r.count())
                .unwrap_or(0)
        })
        .sum()
}

/// The .deb to test; one built here goes to `out` (not target/dist, where a release
/// package may be).
fn package(out: &Path) -> PathBuf {
    if let Some(deb) = std::env::var_os("BUZON_PACKAGE_DEB") {
        return PathBuf::from(deb);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = run_bounded(
        Command::new(root.join("scripts/package"))
            .args(["--profile", "dev", "--no-build", "--fast", "--out"])
            .arg(out)
            .current_dir(&root),
        Duration::from_secs(600),
    );
    assert!(
        out.status.success(),
        "scripts/package failed:\n{}",
        text(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let deb = stdout
        .lines()
        .find(|l| l.ends_with(".deb"))
        .unwrap_or_else(|| panic!("scripts/package printed no .deb path:\n{}", text(&out)));
    PathBuf::from(deb)
}

/// The shipped config with its listeners replaced by loopback port-0 ones (POP3, POP3S,
/// LMTP over TCP, metrics); everything else (data_dir, [server] user, [auth]) as shipped.
fn test_config(dir: &Path) -> PathBuf {
    let shipped = std::fs::read_to_string("/etc/buzon/buzon.toml").unwrap();
    let mut table: toml::Table = shipped.parse().unwrap();
    assert_eq!(table["data_dir"].as_str(), Some(DATA));
    assert_eq!(table["server"]["user"].as_str(), Some("buzon"));
    let listen = ["pop3", "pop3s", "lmtp", "metrics"]
        .iter()
        .map(|p| {
            let mut t = toml::Table::new();
            t.insert("address".into(), "127.0.0.1:0".into());
            t.insert("protocol".into(), (*p).into());
            toml::Value::Table(t)
        })
        .collect();
    table.insert("listen".into(), toml::Value::Array(listen));
    let path = dir.join("buzon.toml");
    std::fs::write(&path, toml::to_string(&table).unwrap()).unwrap();
    use std::os::unix::fs::PermissionsExt;
    // The server reads it as the buzon account.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    path
}

fn purge_leftovers() {
    if installed() || Path::new(DATA).exists() {
        assert!(
            Path::new(MARKER).exists(),
            "this machine has a buzon installation or {DATA} that this test did not make; the packaging test runs only where there is none"
        );
        must(Command::new("dpkg").args(["--purge", "buzon"]));
        std::fs::remove_dir_all(DATA).unwrap();
    }
}

#[test]
fn debian_package_installs_serves_removes_and_purges_keeping_the_mail() {
    if !crate::privileges::is_root() {
        buzon_testkit::skip("not running as root: the package test installs a .deb");
        return;
    }
    if std::env::var("BUZON_INTEROP").as_deref() != Ok("1") {
        buzon_testkit::skip("BUZON_INTEROP=1 is not set: the package test changes this machine");
        return;
    }
    let tools = [
        "dpkg",
        "lintian",
        "man",
        "systemd-analyze",
        "curl",
        "setpriv",
    ];
    if let Some(missing) = tools.iter().find(|t| !have(t)) {
        panic!("{missing} is required (BUZON_INTEROP=1); install it (see .ci/apt-packages)");
    }
    if std::env::var_os("BUZON_PACKAGE_DEB").is_none() && !have("cargo-deb") {
        panic!("cargo-deb is required to build the package (BUZON_INTEROP=1); .ci/run installs it");
    }
    let built = tempfile::tempdir().unwrap();
    let deb = package(built.path());
    eprintln!("package: {}", deb.display());
    purge_leftovers();

    // Install: the account, the data folder, the conffile.
    must(Command::new("dpkg").arg("-i").arg(&deb));
    std::fs::write(MARKER, "").unwrap();
    assert!(account_exists(), "dpkg -i did not create the buzon account");
    let passwd = text(&must(Command::new("getent").args(["passwd", "buzon"])));
    assert!(
        passwd
            .trim_end()
            .ends_with(":/var/lib/buzon:/usr/sbin/nologin"),
        "{passwd}"
    );
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(DATA).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o700, "{DATA} mode");
    let uid: u32 = text(&must(Command::new("id").args(["-u", "buzon"])))
        .trim()
        .parse()
        .unwrap();
    assert_eq!(meta.uid(), uid, "{DATA} owner");
    assert!(Path::new("/etc/buzon/buzon.toml").is_file());
    let conffiles = std::fs::read_to_string("/var/lib/dpkg/info/buzon.conffiles").unwrap();
    assert!(conffiles.contains("/etc/buzon/buzon.toml"), "{conffiles}");
    must(Command::new("/usr/bin/buzon").args(["check-config", "/etc/buzon/buzon.toml"]));

    // The static checks, while the binary and the man pages are installed.
    lintian_is_clean(&deb);
    units_verify();
    man_pages_render();

    // Serve as buzon.service would: as the buzon account from the start.
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path());
    let mut add = Command::new("/usr/bin/buzon")
        .args(["user", "add", "alice", "--config"])
        .arg(&config)
        .env("LC_ALL", "C")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = add.stdin.take().unwrap();
        stdin
            .write_all(b"correct horse battery staple 42\n")
            .unwrap();
    }
    let added = buzon_testkit::wait_for(LIMIT, "buzon user add", || add.try_wait().ok().flatten());
    assert!(added.success(), "buzon user add failed");
    let mut as_service = Command::new("setpriv");
    as_service.args([
        "--reuid=buzon",
        "--regid=buzon",
        "--init-groups",
        "--",
        "/usr/bin/buzon",
    ]);
    let mut server = BuzonProcess::serve_with(as_service, &config, Path::new(DATA));
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(
        uid_line
            .split_whitespace()
            .skip(1)
            .all(|u| u == uid.to_string()),
        "{uid_line}"
    );
    let mut s = SmtpClient::connect(server.addr("LMTP"));
    s.expect("LHLO client.example", 250);
    s.expect("MAIL FROM:<s@remote.example>", 250);
    s.expect("RCPT TO:<alice@localhost>", 250);
    let replies = s.data(b"Subject: packaged\r\n\r\nfrom the package test\r\n", 1);
    assert_eq!(replies[0].code, 250);
    s.expect("QUIT", 221);
    let url = format!("pop3s://127.0.0.1:{}/1", server.addr("POP3S").port());
    let fetched = must(Command::new("curl").args([
        "-sS",
        "-k",
        "--max-time",
        "30",
        "--user",
        "alice:correct horse battery staple 42",
        &url,
    ]));
    let body = String::from_utf8_lossy(&fetched.stdout);
    assert!(body.contains("Subject: packaged"), "{body}");
    let exit = server.terminate();
    assert!(
        exit.is_some_and(|s| s.success()),
        "buzon serve did not stop cleanly on SIGTERM: {exit:?}\n{}",
        server.log().join("\n")
    );
    assert_eq!(mail_files(), 1);

    // Remove: the account and the mail stay.
    must(Command::new("dpkg").args(["-r", "buzon"]));
    assert!(!Path::new("/usr/bin/buzon").exists());
    assert!(account_exists(), "dpkg -r removed the buzon account");
    assert_eq!(mail_files(), 1, "dpkg -r touched the mail");

    // Purge: the configuration and the account go, the mail stays, and we are told.
    let purged = must(Command::new("dpkg").args(["--purge", "buzon"]));
    let said = text(&purged);
    assert!(
        said.contains("the mail in /var/lib/buzon is kept")
            && said.contains("rm -rf /var/lib/buzon"),
        "{said}"
    );
    assert!(!Path::new("/etc/buzon").exists(), "purge left /etc/buzon");
    assert!(!account_exists(), "purge left the buzon account");
    assert_eq!(mail_files(), 1, "purge touched the mail");

    std::fs::remove_dir_all(DATA).unwrap();
}

/// lintian: no error and no warning (overrides are in packaging/debian/lintian-overrides,
/// each with its reason).
fn lintian_is_clean(deb: &Path) {
    let out = run_bounded(Command::new("lintian").arg(deb), Duration::from_secs(300));
    let said = text(&out);
    eprintln!("lintian: {said}");
    let tags: Vec<&str> = said
        .lines()
        .filter(|l| l.starts_with("E:") || l.starts_with("W:"))
        .collect();
    assert!(tags.is_empty() && out.status.success(), "lintian:\n{said}");
}

/// `systemd-analyze verify` on the units as installed (the template with an instance
/// name), and buzon.service's exposure score.
fn units_verify() {
    let dir = tempfile::tempdir().unwrap();
    let units = [
        ("/lib/systemd/system/buzon.service", "buzon.service"),
        (
            "/usr/lib/systemd/user/buzon-fetch@.service",
            "buzon-fetch@test.service",
        ),
        (
            "/usr/lib/systemd/user/buzon-fetch@.timer",
            "buzon-fetch@test.timer",
        ),
    ];
    let mut paths = Vec::new();
    for (from, name) in units {
        let to = dir.path().join(name);
        std::fs::copy(from, &to).unwrap_or_else(|e| panic!("{from}: {e}"));
        paths.push(to);
    }
    let out = run_bounded(
        Command::new("systemd-analyze").arg("verify").args(&paths),
        LIMIT,
    );
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify:\n{}",
        text(&out)
    );
    let out = must(Command::new("systemd-analyze").args([
        "security",
        "--offline=yes",
        "/lib/systemd/system/buzon.service",
    ]));
    let said = text(&out);
    let score: f64 = said
        .lines()
        .find_map(|l| l.split("Overall exposure level for buzon.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{said}"));
    eprintln!("buzon.service exposure level: {score}");
    assert!(
        score <= 2.0,
        "buzon.service exposure {score} > 2.0:\n{said}"
    );
}

/// Every installed man page renders at 80 columns without a warning.
fn man_pages_render() {
    let mut pages: Vec<PathBuf> = std::fs::read_dir("/usr/share/man/man1")
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("buzon"))
        })
        .collect();
    pages.push("/usr/share/man/man5/buzon.toml.5.gz".into());
    assert!(pages.len() > 20, "{pages:?}");
    for page in &pages {
        let out = run_bounded(
            Command::new("man")
                .args(["--warnings", "-l"])
                .arg(page)
                .env("LC_ALL", "C.UTF-8")
                .env("MANWIDTH", "80"),
            LIMIT,
        );
        assert!(
            out.status.success() && out.stderr.is_empty() && !out.stdout.is_empty(),
            "man --warnings -l {}:\n{}",
            page.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
