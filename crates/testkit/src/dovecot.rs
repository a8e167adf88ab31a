//! Runs a real Dovecot POP3 server for interop tests and benchmarks: its own config,
//! state and log in a temporary folder, listening on 127.0.0.1 high ports (POP3 with STLS
//! and POP3S) with a certificate from a [`TestCa`], users from a passwd-file with
//! `{PLAIN}` passwords (so PLAIN, LOGIN, APOP and SCRAM-SHA-256 all work), and Maildirs
//! under the temporary folder. Startup waits a bounded time for a greeting; dropping the
//! value stops Dovecot.
//!
//! Dovecot's master process must start as root (CI runs as root); mail is owned by the
//! `nobody` user, logins run as `dovenull` and internal processes as `dovecot`, the users
//! the Debian package creates.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::certs::TestCa;

/// Why Dovecot cannot run here.
#[derive(Debug)]
pub enum DovecotUnavailable {
    NotInstalled,
    NotRoot,
}

impl std::fmt::Display for DovecotUnavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DovecotUnavailable::NotInstalled => {
                f.write_str("dovecot is not installed (Debian: dovecot-core dovecot-pop3d)")
            }
            DovecotUnavailable::NotRoot => f.write_str("dovecot's master process needs root"),
        }
    }
}

/// Whether Dovecot can be started. With `BUZON_INTEROP=1` a missing Dovecot panics (the
/// suite promised interop); otherwise the caller skips with a note.
pub fn dovecot_available() -> Result<PathBuf, DovecotUnavailable> {
    let bin = ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    let Some(bin) = bin else {
        if std::env::var("BUZON_INTEROP").as_deref() == Ok("1") {
            panic!("BUZON_INTEROP=1 but {}", DovecotUnavailable::NotInstalled);
        }
        return Err(DovecotUnavailable::NotInstalled);
    };
    if !rustix::process::geteuid().is_root() {
        if std::env::var("BUZON_INTEROP").as_deref() == Ok("1") {
            panic!("BUZON_INTEROP=1 but {}", DovecotUnavailable::NotRoot);
        }
        return Err(DovecotUnavailable::NotRoot);
    }
    Ok(bin)
}

/// A running Dovecot.
pub struct Dovecot {
    pub dir: tempfile::TempDir,
    pub ca: TestCa,
    pub pop3: SocketAddr,
    pub pop3s: SocketAddr,
    child: Child,
    uid: u32,
    gid: u32,
}

/// Options for [`Dovecot::start`].
#[derive(Debug, Clone)]
pub struct DovecotOptions {
    /// (user, password) pairs.
    pub users: Vec<(String, String)>,
    /// Offer STLS on the plain port (`ssl = yes`); `false` makes `ssl = no` (no STLS, no POP3S).
    pub tls: bool,
    /// Allow plaintext logins without TLS (`disable_plaintext_auth = no`).
    pub plaintext: bool,
    /// Extra lines appended to dovecot.conf.
    pub extra: String,
}

impl Default for DovecotOptions {
    fn default() -> Self {
        Self {
            users: vec![("alice".into(), "secret".into())],
            tls: true,
            plaintext: true,
            extra: String::new(),
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn id_of(name: &str, flag: &str) -> u32 {
    let out = Command::new("id").args([flag, name]).output().expect("id");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no user {name}"))
}

impl Dovecot {
    /// Starts Dovecot; panics (with its log) if it does not greet within 30 s.
    pub fn start(bin: &Path, opts: DovecotOptions) -> Dovecot {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let ca = TestCa::new();
        let cert = ca.issue(&d.join("tls"), &["localhost", "127.0.0.1"], (-1, 30));
        let (uid, gid) = (id_of("nobody", "-u"), id_of("nobody", "-g"));
        let mail = d.join("mail");
        std::fs::create_dir_all(&mail).unwrap();
        std::os::unix::fs::chown(&mail, Some(uid), Some(gid)).expect("chown");
        let mut passwd = String::new();
        for (u, p) in &opts.users {
            passwd.push_str(&format!("{u}:{{PLAIN}}{p}::::::\n"));
        }
        std::fs::write(d.join("passwd"), passwd).unwrap();
        let (p3, p3s) = (free_port(), free_port());
        let ssl = if opts.tls {
            format!(
                "ssl = yes\nssl_cert = <{}\nssl_key = <{}\n",
                cert.cert_path.display(),
                cert.key_path.display()
            )
        } else {
            "ssl = no\n".into()
        };
        let pop3s_listener = if opts.tls {
            format!("  inet_listener pop3s {{\n    address = 127.0.0.1\n    port = {p3s}\n    ssl = yes\n  }}\n")
        } else {
            String::new()
        };
        let conf = format!(
            "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\ninfo_log_path = {d}/dovecot.log\n\
protocols = pop3\nlisten = 127.0.0.1\n{ssl}disable_plaintext_auth = {dpa}\nauth_mechanisms = plain login scram-sha-256 apop\n\
default_internal_user = dovecot\ndefault_login_user = dovenull\nfirst_valid_uid = 1\n\
passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN {d}/passwd\n}}\n\
userdb {{\n  driver = static\n  args = uid={uid} gid={gid} home={d}/home/%u\n}}\n\
mail_location = maildir:{d}/mail/%u\npop3_uidl_format = %08Xu%08Xv\n\
service pop3-login {{\n  inet_listener pop3 {{\n    address = 127.0.0.1\n    port = {p3}\n  }}\n{pop3s_listener}}}\n\
service anvil {{\n  chroot =\n}}\nservice imap-login {{\n  chroot =\n}}\n{extra}\n",
            d = d.display(),
            dpa = if opts.plaintext { "no" } else { "yes" },
            extra = opts.extra,
        );
        let conf_path = d.join("dovecot.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(bin)
            .arg("-F")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn dovecot");
        let pop3: SocketAddr = format!("127.0.0.1:{p3}").parse().unwrap();
        let pop3s: SocketAddr = format!("127.0.0.1:{p3s}").parse().unwrap();
        let mut dv = Dovecot {
            dir,
            ca,
            pop3,
            pop3s,
            child,
            uid,
            gid,
        };
        let greeted = crate::wait::poll(Duration::from_secs(30), || {
            if let Ok(mut s) = TcpStream::connect_timeout(&pop3, Duration::from_secs(2)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut b = [0u8; 64];
                if matches!(s.read(&mut b), Ok(n) if n >= 3 && b.starts_with(b"+OK")) {
                    return Some(true);
                }
            }
            // An early exit ends the wait at once.
            matches!(dv.child.try_wait(), Ok(Some(_))).then_some(false)
        });
        match greeted {
            Some(true) => dv,
            Some(false) => panic!("dovecot exited early; log:\n{}", dv.log()),
            None => panic!("dovecot did not greet within 30 s; log:\n{}", dv.log()),
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    /// A user's Maildir root.
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.dir.path().join("mail").join(user)
    }

    /// Puts a message into a user's `new/` (owned by the mail user).
    pub fn deliver(&self, user: &str, name: &str, content: &[u8]) {
        let root = self.maildir(user);
        for sub in ["", "cur", "new", "tmp"] {
            let p = root.join(sub);
            std::fs::create_dir_all(&p).unwrap();
            std::os::unix::fs::chown(&p, Some(self.uid), Some(self.gid)).expect("chown");
        }
        let path = root.join("new").join(name);
        std::fs::write(&path, content).unwrap();
        std::os::unix::fs::chown(&path, Some(self.uid), Some(self.gid)).expect("chown");
    }

    /// Messages in a user's `cur/` and `new/` (Dovecot keeps its own index files apart).
    pub fn message_count(&self, user: &str) -> usize {
        ["cur", "new"]
            .iter()
            .map(|s| {
                std::fs::read_dir(self.maildir(user).join(s))
                    .map(|r| r.count())
                    .unwrap_or(0)
            })
            .sum()
    }

    /// Writes the CA certificate (to trust this server's certificate) and returns its path.
    pub fn ca_file(&self) -> PathBuf {
        let p = self.dir.path().join("ca.pem");
        self.ca.write_pem(&p);
        p
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        if crate::wait::poll(Duration::from_secs(5), || {
            self.child.try_wait().ok().flatten()
        })
        .is_some()
        {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
