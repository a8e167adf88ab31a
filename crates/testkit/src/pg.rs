//! A private PostgreSQL cluster for tests: `initdb` and `pg_ctl` in a temporary folder,
//! on a free 127.0.0.1 port with its unix socket in that folder, run by the unprivileged
//! account `buzon-test` when the test runs as root (PostgreSQL refuses to run as root).
//! Role `buzon` with a password (SCRAM), database `buzon`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use buzon_store::PgSettings;

use crate::run::run_bounded;

/// The password of role `buzon`.
pub const PG_PASSWORD: &str = "buzon-test-password";
/// The account the cluster runs as when tests run as root (`.ci/run` creates it).
pub const PG_ACCOUNT: &str = "buzon-test";
/// Bound on every start, stop and initdb.
const STEP_LIMIT: Duration = Duration::from_secs(60);

/// A running private cluster; dropped, it is stopped and its folder removed.
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// `(uid, gid)` of the account running it, when the test runs as root.
    run_as: Option<(u32, u32)>,
}

/// The folder holding `initdb` and `pg_ctl`: the newest /usr/lib/postgresql/*/bin, else
/// the PATH.
fn find_bin() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    if let Some((_, bin)) = found.pop() {
        return Some(bin);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
}

fn id_of(flag: &str) -> Result<u32, String> {
    let out = Command::new("id")
        .args([flag, PG_ACCOUNT])
        .output()
        .map_err(|e| format!("run id: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "the tests run as root and PostgreSQL must not: create the system account {PG_ACCOUNT} (useradd --system {PG_ACCOUNT}), as .ci/run does"
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|e| format!("id {flag} {PG_ACCOUNT}: {e}"))
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

impl PgCluster {
    /// Creates and starts a cluster. `Err` says why it cannot (no PostgreSQL installed:
    /// the caller [`crate::skip`]s; any other error is a failure showing the log tail).
    pub fn start() -> Result<PgCluster, String> {
        let Some(bin) = find_bin() else {
            return Err("PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or PATH); apt-get install postgresql".to_string());
        };
        let run_as = if rustix::process::geteuid().is_root() {
            Some((id_of("-u")?, id_of("-g")?))
        } else {
            None
        };
        let dir = tempfile::Builder::new()
            .prefix("buzon-pg-")
            .tempdir()
            .map_err(|e| format!("temporary folder: {e}"))?;
        std::fs::create_dir(dir.path().join("sock")).map_err(|e| e.to_string())?;
        std::fs::write(dir.path().join("pwfile"), format!("{PG_PASSWORD}\n"))
            .map_err(|e| e.to_string())?;
        if let Some((uid, gid)) = run_as {
            let out = run_bounded(
                Command::new("chown")
                    .arg("-R")
                    .arg(format!("{uid}:{gid}"))
                    .arg(dir.path()),
                STEP_LIMIT,
            );
            if !out.status.success() {
                return Err(format!("chown: {}", String::from_utf8_lossy(&out.stderr)));
            }
        }
        let cluster = PgCluster {
            dir,
            bin,
            port: free_port()?,
            run_as,
        };
        let data = cluster.data_dir();
        cluster.run_step(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "buzon".as_ref(),
                "--auth=scram-sha-256".as_ref(),
                "--pwfile".as_ref(),
                cluster.dir.path().join("pwfile").as_os_str(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--no-sync".as_ref(),
            ],
        )?;
        cluster.start_server()?;
        let out = run_bounded(
            Command::new(cluster.bin.join("createdb"))
                .env("PGPASSWORD", PG_PASSWORD)
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &cluster.port.to_string(),
                    "-U",
                    "buzon",
                    "buzon",
                ]),
            STEP_LIMIT,
        );
        if !out.status.success() {
            return Err(format!(
                "createdb failed: {}\n{}",
                String::from_utf8_lossy(&out.stderr),
                cluster.log_tail()
            ));
        }
        Ok(cluster)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// The last lines of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let from = lines.len().saturating_sub(20);
        format!("server log tail:\n{}", lines[from..].join("\n"))
    }

    /// Runs a PostgreSQL program (as the unprivileged account when root).
    fn run_step(&self, program: &str, args: &[&std::ffi::OsStr]) -> Result<(), String> {
        let exe = self.bin.join(program);
        let mut cmd = match self.run_as {
            Some((uid, gid)) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={gid}"))
                    .arg("--clear-groups")
                    .arg("--")
                    .arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        cmd.args(args).current_dir(self.dir.path());
        let out = run_bounded(&mut cmd, STEP_LIMIT + Duration::from_secs(10));
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} failed ({}): {}{}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                self.log_tail()
            ))
        }
    }

    fn pg_ctl(&self, action: &str, extra: &[&str]) -> Result<(), String> {
        let data = self.data_dir();
        let log = self.log_path();
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100",
            self.port,
            self.socket_dir().display()
        );
        let limit = STEP_LIMIT.as_secs().to_string();
        let mut args: Vec<&std::ffi::OsStr> = vec![
            action.as_ref(),
            "-D".as_ref(),
            data.as_os_str(),
            "-l".as_ref(),
            log.as_os_str(),
            "-w".as_ref(),
            "-t".as_ref(),
            limit.as_ref(),
            "-o".as_ref(),
            opts.as_ref(),
        ];
        args.extend(extra.iter().map(|s| std::ffi::OsStr::new(*s)));
        self.run_step("pg_ctl", &args)
    }

    fn start_server(&self) -> Result<(), String> {
        self.pg_ctl("start", &[])
    }

    /// The folder of the server's unix socket.
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgresql://buzon@127.0.0.1:<port>/buzon` (the password is in [`PgCluster::settings`]).
    pub fn url(&self) -> String {
        format!("postgresql://buzon@127.0.0.1:{}/buzon", self.port)
    }

    /// Settings reaching this cluster: password set, 8 connections, 5 s to connect.
    pub fn settings(&self) -> PgSettings {
        let mut s = PgSettings::new(self.url());
        s.password = Some(PG_PASSWORD.to_string());
        s.password_source = Some("the test cluster".to_string());
        s.pool_size = 8;
        s
    }

    /// Starts the stopped cluster again (`PgCluster::start` creates one).
    pub fn start_again(&self) -> Result<(), String> {
        self.start_server()
    }

    /// Stops it cleanly (`pg_ctl stop -m fast`).
    pub fn stop(&self) -> Result<(), String> {
        self.pg_ctl("stop", &["-m", "fast"])
    }

    /// `pg_ctl restart -m fast`.
    pub fn restart_fast(&self) -> Result<(), String> {
        self.pg_ctl("restart", &["-m", "fast"])
    }

    /// Stops it at once (`pg_ctl stop -m immediate`), as a crash would.
    pub fn kill(&self) -> Result<(), String> {
        self.pg_ctl("stop", &["-m", "immediate"])
    }

    /// Turns TLS on with this certificate and key (PEM) and restarts the server; clients
    /// then may use `?sslmode=require`.
    pub fn enable_tls(&self, cert: &Path, key: &Path) -> Result<(), String> {
        let data = self.data_dir();
        for (from, to) in [(cert, "server.crt"), (key, "server.key")] {
            std::fs::copy(from, data.join(to))
                .map_err(|e| format!("copy {}: {e}", from.display()))?;
        }
        let mut conf =
            std::fs::read_to_string(data.join("postgresql.conf")).map_err(|e| e.to_string())?;
        conf.push_str("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        std::fs::write(data.join("postgresql.conf"), conf).map_err(|e| e.to_string())?;
        let owner = match self.run_as {
            Some((uid, gid)) => format!("{uid}:{gid}"),
            None => format!("{}", rustix::process::geteuid().as_raw()),
        };
        let out = run_bounded(
            Command::new("chmod")
                .arg("600")
                .arg(data.join("server.key")),
            STEP_LIMIT,
        );
        if !out.status.success() {
            return Err(format!("chmod: {}", String::from_utf8_lossy(&out.stderr)));
        }
        let out = run_bounded(
            Command::new("chown")
                .arg(owner)
                .arg(data.join("server.crt"))
                .arg(data.join("server.key")),
            STEP_LIMIT,
        );
        if !out.status.success() {
            return Err(format!("chown: {}", String::from_utf8_lossy(&out.stderr)));
        }
        self.restart_fast()
    }

    /// Where the cluster lives.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.data_dir().join("postmaster.pid").exists() {
            let _ = self.kill();
        }
    }
}

/// Runs one SQL command with `psql` against `url` (password [`PG_PASSWORD`]); the rows,
/// unaligned, one per line, fields separated by `|`.
pub fn psql(url: &str, sql: &str) -> Result<String, String> {
    let bin = find_bin().ok_or("PostgreSQL is not installed (no psql)")?;
    let out = run_bounded(
        Command::new(bin.join("psql"))
            .env("PGPASSWORD", PG_PASSWORD)
            .env("PGCONNECT_TIMEOUT", "10")
            .args([
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                url,
                "-c",
                sql,
            ]),
        STEP_LIMIT,
    );
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    } else {
        Err(format!(
            "psql {sql:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The PostgreSQL cluster of the whole test run, when the run asks for the PostgreSQL
/// store: `BUZON_TEST_STORE=postgres` and `BUZON_TEST_PG_URL` (the URL of the cluster's
/// `buzon` database; password [`PG_PASSWORD`]), set by `scripts/test` around the
/// cluster that `buzon-test-pg` keeps running. `None`: the Maildir store.
pub fn run_cluster_url() -> Option<String> {
    if std::env::var("BUZON_TEST_STORE").ok().as_deref() != Some("postgres") {
        return None;
    }
    match std::env::var("BUZON_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => panic!("BUZON_TEST_STORE=postgres needs BUZON_TEST_PG_URL (scripts/test sets both around its cluster)"),
    }
}

/// A database of its own for one test (`t_<random>`) in a running cluster, with the
/// Buzón schema applied, dropped again at the end; tests stay isolated and parallel.
pub struct TestDb {
    name: String,
    /// The cluster's `buzon` database, from which this one is created and dropped.
    admin_url: String,
    url: String,
}

impl TestDb {
    /// Creates the database in the cluster whose `buzon` database `admin_url` names.
    pub fn create(admin_url: &str) -> Result<TestDb, String> {
        let name = format!("t_{:016x}", rand_u64());
        psql(admin_url, &format!("CREATE DATABASE {name}"))?;
        let base = admin_url
            .rsplit_once('/')
            .map(|(b, _)| b)
            .ok_or_else(|| format!("{admin_url} has no database name"))?;
        Ok(TestDb {
            url: format!("{base}/{name}"),
            name,
            admin_url: admin_url.to_string(),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Settings a node uses to reach this database.
    pub fn settings(&self) -> PgSettings {
        let mut s = PgSettings::new(self.url.clone());
        s.password = Some(PG_PASSWORD.to_string());
        s.password_source = Some("the test cluster".to_string());
        s.pool_size = 8;
        s
    }

    /// One SQL command in this database (see [`psql`]).
    pub fn sql(&self, sql: &str) -> Result<String, String> {
        psql(&self.url, sql)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = psql(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    h.finish()
}
