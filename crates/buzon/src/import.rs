//! `buzon import`: copy a mailbox from any POP3 server into a Buzón mailbox, keeping the
//! UIDLs the old server served, so that mail programs that leave mail on the server
//! download nothing twice after the move (the job of Dovecot's pop3-migration plugin).
//!
//! For each remote message (LIST and UIDL) that the destination does not hold under its
//! UIDL yet: RETR, then store it durably under that UIDL (Maildir: a UIDL that cannot
//! name a file is written to the Maildir's UIDL record first, see `buzon_store::adopt`;
//! PostgreSQL: one transaction). The destination itself is the ledger, so a run that was
//! killed at any point continues where it stopped and copies every message exactly once.
//! At the end the destination is compared with the remote listing (count, UIDLs, sizes);
//! only when everything matches, and only with `--delete-on-source`, are the remote
//! messages deleted. Otherwise the remote mailbox is left untouched.

use std::collections::{HashMap, HashSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use buzon_client::{AuthMethod, Pop3Client, Resolver, Secret, Security, ServerSpec};
use clap::Args;

use crate::migrate::Side;
use crate::Failure;

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The remote mailbox: pop3s://USER@HOST[:PORT] (TLS, port 995) or
    /// pop3://USER@HOST[:PORT] (STLS on port 110; a server without STLS is refused).
    #[arg(value_name = "URL", required_unless_present_any = ["list", "users"])]
    pub source: Option<String>,
    /// The Buzón user whose INBOX receives the mail (added beforehand with `buzon user add`).
    #[arg(long = "into", value_name = "USER", requires = "source")]
    pub into: Option<String>,
    /// The configuration of the Buzón store to copy into.
    #[arg(long, value_name = "CONFIG")]
    pub config: PathBuf,
    /// Read the remote password from this environment variable (else it is asked on the
    /// terminal).
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Extra certificate authorities (PEM) trusted for the remote server.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Many accounts: a file with one `LOCAL_USER URL PASSWORD_ENV_VAR` per line (`#`
    /// comments).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["source", "into", "password_env"])]
    pub list: Option<PathBuf>,
    /// After a complete and verified copy, delete the messages on the remote server.
    #[arg(long)]
    pub delete_on_source: bool,
    /// Import users with their password hashes instead of mail: a Dovecot passwd-file
    /// (extra fields such as quota rules kept) or a CSV export (see --format).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["source", "into", "list", "password_env", "delete_on_source"])]
    pub users: Option<PathBuf>,
    /// The format of --users: `passwd-file` (user:{SCHEME}hash:uid:gid:gecos:home:shell:extra
    /// fields) or `csv` (USER,{SCHEME}HASH[,key=value…], an optional header line).
    #[arg(long, value_name = "FORMAT", default_value = "passwd-file", value_parser = ["passwd-file", "csv"])]
    pub format: String,
}

/// One account to move.
struct Job {
    local: String,
    url: String,
    password: Option<Secret>,
}

/// What one account's run did.
#[derive(Default)]
struct Outcome {
    remote: usize,
    bytes: u64,
    copied: usize,
    already: usize,
    verified: usize,
    deleted: usize,
}

pub fn run(args: ImportArgs) -> Result<(), Failure> {
    if let Some(file) = &args.users {
        return import_users(file, &args.format, &args.config);
    }
    let jobs = match (&args.list, &args.source, &args.into) {
        (Some(list), _, _) => read_list(list)?,
        (None, Some(url), Some(local)) => vec![Job {
            local: local.clone(),
            url: url.clone(),
            password: Some(password(args.password_env.as_deref(), url)?),
        }],
        _ => {
            return Err(Failure::usage(
                "give the remote mailbox and the Buzón user (buzon import pop3s://USER@HOST --into USER --config CONFIG), or --list FILE",
            ))
        }
    };
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| Failure::runtime(format!("cannot start the runtime: {e}")))
    };
    let (dest, dest_name) = Side::open(&args.config, runtime)?;
    let net = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::runtime(format!("cannot start the runtime: {e}")))?;
    let users: HashSet<String> = dest
        .users()?
        .into_iter()
        .map(|u| u.name.to_ascii_lowercase())
        .collect();
    let mut failed = Vec::new();
    for job in jobs {
        let result = if users.contains(&job.local.to_ascii_lowercase()) {
            import_one(&job, &dest, &net, &args)
        } else {
            Err(format!(
                "{} is not a user of {dest_name} — add it first with `buzon user add {}`",
                job.local, job.local
            ))
        };
        match result {
            Ok(o) => println!(
                "{} ← {}: {} messages ({} bytes) on the server: {} copied, {} already there; UIDLs kept and sizes equal for {}/{}{}",
                job.local,
                redact(&job.url),
                o.remote,
                o.bytes,
                o.copied,
                o.already,
                o.verified,
                o.remote,
                if args.delete_on_source {
                    format!("; {} deleted on the server", o.deleted)
                } else {
                    "; the server's mailbox is untouched".to_string()
                }
            ),
            Err(why) => {
                eprintln!("buzon: {} ← {}: {why}", job.local, redact(&job.url));
                failed.push(job.local);
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::runtime(format!(
            "{} account(s) not completely copied: {} — run the same command again to continue (what was copied is kept and not copied twice)",
            failed.len(),
            failed.join(", ")
        )))
    }
}

/// The URL as printed: no password, even if one was (wrongly) put in it.
fn redact(url: &str) -> String {
    match Remote::parse(url) {
        Ok(r) => format!(
            "{}://{}@{}:{}",
            if r.security == Security::Tls {
                "pop3s"
            } else {
                "pop3"
            },
            r.user,
            r.host,
            r.port
        ),
        Err(_) => "(the remote mailbox)".to_string(),
    }
}

#[derive(Debug)]
struct Remote {
    user: String,
    host: String,
    port: u16,
    security: Security,
}

impl Remote {
    fn parse(url: &str) -> Result<Remote, String> {
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            format!("{url:?} is not pop3s://USER@HOST[:PORT] or pop3://USER@HOST[:PORT]")
        })?;
        let security = match scheme.to_ascii_lowercase().as_str() {
            "pop3s" => Security::Tls,
            "pop3" => Security::Starttls,
            other => {
                return Err(format!(
                    "the scheme {other:?} is not pop3s (TLS, port 995) or pop3 (STLS, port 110)"
                ))
            }
        };
        let rest = rest.trim_end_matches('/');
        let (user, hostport) = rest
            .rsplit_once('@')
            .ok_or("the URL names no user: write pop3s://USER@HOST")?;
        if user.contains(':') {
            return Err(
                "a password in the URL would end up in shell histories and process lists: give it with --password-env or on the terminal"
                    .to_string(),
            );
        }
        let user = percent_decode(user)?;
        let port_of = |p: &str| {
            p.parse::<u16>()
                .map_err(|_| format!("the port {p:?} is not a number"))
        };
        let (host, port) = if let Some(inner) = hostport.strip_prefix('[') {
            let (h, after) = inner
                .split_once(']')
                .ok_or("an IPv6 address in the URL lacks its closing ]")?;
            match after.strip_prefix(':') {
                Some(p) => (h, port_of(p)?),
                None if after.is_empty() => (h, security.default_port()),
                None => return Err(format!("{after:?} follows the IPv6 address")),
            }
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, port_of(p)?),
                None => (hostport, security.default_port()),
            }
        };
        if user.is_empty() || host.is_empty() {
            return Err("the URL names no user or no host: write pop3s://USER@HOST".to_string());
        }
        Ok(Remote {
            user,
            host: host.to_string(),
            port,
            security,
        })
    }
}

/// `%40` → `@` in user names such as `alice%40example.com`.
fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("{s:?} has a % not followed by two hex digits"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{s:?} is not UTF-8 once decoded"))
}

fn password(env: Option<&str>, url: &str) -> Result<Secret, Failure> {
    if let Some(var) = env {
        return match std::env::var_os(var) {
            Some(v) if !v.is_empty() => Ok(Secret::new(
                std::os::unix::ffi::OsStringExt::into_vec(v),
            )),
            _ => Err(Failure::usage(format!(
                "--password-env names {var}, which is not set or empty — export it with the remote password"
            ))),
        };
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::usage(
            "no password: give --password-env VAR, or run in a terminal to be asked",
        ));
    }
    rpassword::prompt_password(format!("Password for {}: ", redact(url)))
        .map(Secret::new)
        .map_err(|e| Failure::runtime(format!("cannot read the password: {e}")))
}

/// Reads `LOCAL_USER URL PASSWORD_ENV_VAR` lines; every password is read up front, so a
/// missing one stops the run before anything is copied.
fn read_list(path: &Path) -> Result<Vec<Job>, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
    let mut jobs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [local, url, var] = fields[..] else {
            return Err(Failure::usage(format!(
                "{} line {}: write LOCAL_USER URL PASSWORD_ENV_VAR (three fields separated by spaces)",
                path.display(),
                i + 1
            )));
        };
        Remote::parse(url)
            .map_err(|why| Failure::usage(format!("{} line {}: {why}", path.display(), i + 1)))?;
        let password = password(Some(var), url).map_err(|f| {
            Failure::usage(format!("{} line {}: {}", path.display(), i + 1, f.message))
        })?;
        jobs.push(Job {
            local: local.to_string(),
            url: url.to_string(),
            password: Some(password),
        });
    }
    if jobs.is_empty() {
        return Err(Failure::usage(format!(
            "{} lists no account (LOCAL_USER URL PASSWORD_ENV_VAR per line)",
            path.display()
        )));
    }
    Ok(jobs)
}

/// Reads every user of `file` (refusing the whole file, with the line, if any entry is
/// malformed or has a password scheme this server cannot verify), then adds those not
/// there yet; users already there are kept as they are.
fn import_users(file: &Path, format: &str, config: &Path) -> Result<(), Failure> {
    let text = std::fs::read(file)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", file.display())))?;
    let at =
        |line: usize, why: String| Failure::usage(format!("{} line {line}: {why}", file.display()));
    let mut entries: Vec<buzon_auth::UserEntry> = Vec::new();
    let mut seen = HashSet::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let number = i + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let trimmed = String::from_utf8_lossy(line);
        let trimmed = trimmed.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let entry = match format {
            "csv" => {
                let fields: Vec<&str> = trimmed.split(',').map(str::trim).collect();
                if number == 1
                    && matches!(
                        fields[0].to_ascii_lowercase().as_str(),
                        "user" | "username" | "email" | "login"
                    )
                {
                    continue;
                }
                let [name, password, extra @ ..] = &fields[..] else {
                    return Err(at(
                        number,
                        "write USER,{SCHEME}HASH[,key=value…]".to_string(),
                    ));
                };
                let extra = extra
                    .iter()
                    .filter(|f| !f.is_empty())
                    .map(|f| match f.split_once('=') {
                        Some((k, v)) => (k.to_string(), v.to_string()),
                        None => (f.to_string(), String::new()),
                    })
                    .collect();
                buzon_auth::UserEntry {
                    name: name.to_string(),
                    password: password.to_string(),
                    extra,
                    home: None,
                }
            }
            _ => {
                let db = buzon_auth::UserDb::from_bytes(file, line, None).map_err(|e| {
                    // The parser saw one line: its "line 1" is this one.
                    at(
                        number,
                        e.to_string()
                            .replace(&format!("{} line 1: ", file.display()), ""),
                    )
                })?;
                let first = db.users().next().cloned();
                match first {
                    Some(e) => e,
                    None => continue,
                }
            }
        };
        buzon_auth::validate_username(&entry.name).map_err(|e| {
            at(
                number,
                format!("user \"{}\": {e}", entry.name.escape_debug()),
            )
        })?;
        buzon_auth::check_stored_password(&entry.password).map_err(|e| {
            at(
                number,
                format!("user {}: {e}; nothing was imported", entry.name),
            )
        })?;
        if !seen.insert(entry.name.to_ascii_lowercase()) {
            return Err(at(number, format!("user {} is listed twice", entry.name)));
        }
        entries.push(entry);
    }
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| Failure::runtime(format!("cannot start the runtime: {e}")))
    };
    let (dest, dest_name) = Side::open(config, runtime)?;
    dest.prepare_users()?;
    let mut existing: HashSet<String> = dest
        .users()?
        .into_iter()
        .map(|u| u.name.to_ascii_lowercase())
        .collect();
    let (mut added, mut kept) = (0usize, Vec::new());
    for e in &entries {
        if dest.add_user(e, &existing)? {
            added += 1;
            existing.insert(e.name.to_ascii_lowercase());
        } else {
            kept.push(e.name.clone());
        }
    }
    println!(
        "{}: {} users read, {added} added to {dest_name}, {} already there (kept as they are{}{})",
        file.display(),
        entries.len(),
        kept.len(),
        if kept.is_empty() { "" } else { ": " },
        kept.join(", ")
    );
    Ok(())
}

fn import_one(
    job: &Job,
    dest: &Side,
    net: &tokio::runtime::Runtime,
    args: &ImportArgs,
) -> Result<Outcome, String> {
    let remote = Remote::parse(&job.url)?;
    let mut spec = ServerSpec::new(remote.host.clone(), remote.security);
    spec.port = remote.port;
    spec.tls.ca_file = args.ca_file.clone();
    let password = job.password.clone().ok_or("no password for this account")?;
    let mut client = net
        .block_on(async {
            let mut c = Pop3Client::connect(&spec, &Resolver::system()).await?;
            c.login(&remote.user, &password, AuthMethod::Auto, false)
                .await?;
            Ok::<_, buzon_client::ClientError>(c)
        })
        .map_err(|e| e.to_string())?;
    let (sizes, uidls) = net
        .block_on(async {
            let sizes = client.list().await?;
            let uidls = client.uidl().await?;
            Ok::<_, buzon_client::ClientError>((sizes, uidls))
        })
        .map_err(|e| e.to_string())?;
    let Some(uidls) = uidls else {
        return Err("the server does not support UIDL (RFC 1939 §7), so its unique-ids cannot be kept; nothing was copied".to_string());
    };
    let uidl_of: HashMap<_, _> = uidls
        .into_iter()
        .map(|(n, u)| (n, u.as_str().to_string()))
        .collect();
    let present: HashSet<String> = dest
        .messages(&job.local, None)
        .map_err(|f| f.message)?
        .into_iter()
        .map(|m| m.uidl)
        .collect();
    let mut o = Outcome {
        remote: sizes.len(),
        bytes: sizes.iter().map(|(_, s)| s).sum(),
        ..Outcome::default()
    };
    // Each message is stored durably before the next one is fetched; the delivery times
    // keep the server's order.
    let start = SystemTime::now();
    for (i, (n, size)) in sizes.iter().enumerate() {
        let uidl = uidl_of
            .get(n)
            .ok_or_else(|| format!("message {n} has no UIDL in the server's listing"))?;
        if present.contains(uidl) {
            o.already += 1;
            continue;
        }
        let wire = net
            .block_on(client.retr(*n, size.saturating_add(1 << 20)))
            .map_err(|e| e.to_string())?;
        let body = from_wire(&wire);
        let at = start + Duration::from_millis(i as u64);
        dest.store_copy(&job.local, None, uidl, at, &body)
            .map_err(|f| f.message)?;
        o.copied += 1;
    }
    // Verification: every remote message is in the destination under its UIDL, with
    // the size the server listed.
    let stored: HashMap<String, u64> = dest
        .messages(&job.local, None)
        .map_err(|f| f.message)?
        .into_iter()
        .map(|m| (m.uidl, m.size))
        .collect();
    let mut differing = Vec::new();
    for (n, size) in &sizes {
        let uidl = &uidl_of[n];
        match stored.get(uidl) {
            Some(s) if s == size => o.verified += 1,
            Some(s) => differing.push(format!("{uidl}: {size} bytes on the server, {s} here")),
            None => differing.push(format!("{uidl}: missing here")),
        }
    }
    if !differing.is_empty() {
        let _ = net.block_on(client.quit());
        return Err(format!(
            "{} of {} messages do not match after the copy ({}); the server's mailbox was left untouched",
            differing.len(),
            sizes.len(),
            differing.join("; ")
        ));
    }
    if args.delete_on_source {
        net.block_on(async {
            for (n, _) in &sizes {
                client.dele(*n).await?;
            }
            Ok::<_, buzon_client::ClientError>(())
        })
        .map_err(|e| e.to_string())?;
        o.deleted = sizes.len();
    }
    net.block_on(client.quit()).map_err(|e| e.to_string())?;
    Ok(o)
}

/// A RETR body as received (CRLF line ends, dot-unstuffed) in the stored form (LF).
fn from_wire(wire: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(wire.len());
    for line in wire.split_inclusive(|&b| b == b'\n') {
        match line.strip_suffix(b"\r\n") {
            Some(l) => {
                out.extend_from_slice(l);
                out.push(b'\n');
            }
            None => out.extend_from_slice(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_user_host_port_and_security_and_never_a_password() {
        let r = Remote::parse("pop3s://alice%40example.com@pop.example.com").unwrap();
        assert_eq!(
            (r.user.as_str(), r.host.as_str(), r.port),
            ("alice@example.com", "pop.example.com", 995)
        );
        let r = Remote::parse("pop3://bob@[::1]:1110/").unwrap();
        assert_eq!((r.host.as_str(), r.port), ("::1", 1110));
        assert_eq!(r.security, Security::Starttls);
        assert!(Remote::parse("pop3s://bob:pw@host")
            .unwrap_err()
            .contains("--password-env"));
        assert!(Remote::parse("imap://bob@host").is_err());
        assert!(Remote::parse("pop3s://host").is_err());
        assert_eq!(Remote::parse("pop3s://bob@[::1]").unwrap().port, 995);
        assert_eq!(from_wire(b"a\r\nb\r\n"), b"a\nb\n");
    }
}
