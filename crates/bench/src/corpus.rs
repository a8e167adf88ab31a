//! The benchmark corpus: Maildirs and a passwd-file that Buzón and Dovecot both read, and
//! a TLS certificate both serve.
//!
//! Layout under the output folder:
//!
//! ```text
//! passwd                    user:{ARGON2ID}$argon2id$… (Dovecot passwd-file format)
//! mail/<user>/{cur,new,tmp} one Maildir per user
//! tls/ca.pem                the CA that signed cert.pem (give it to `--ca`)
//! tls/cert.pem, key.pem     server certificate for localhost, 127.0.0.1 and ::1
//! CORPUS                    what was generated, one `key value` per line
//! ```
//!
//! Users: `user00001`… with small messages; `big1`…`bigN`, each the same set of large
//! messages (hard links to one copy, so page cache and disk hold it once); `bigbox`, one
//! mailbox with very many small messages. Messages sit in `cur/` named
//! `<secs>.M<usecs>P<n>Q<i>.bench,S=<file size>,W=<RFC 1939 size>:2,S`, the form both
//! servers read sizes from without opening the file. Bodies use LF line ends, as most
//! Maildir deliverers write them, and about one line in fifty starts with a dot, so both
//! line-end conversion and dot-stuffing are exercised. Every user has the same password;
//! each has its own salt.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use buzon_auth::HashParams;
use buzon_pop3_proto::wire::WireSize;

use crate::BenchError;

/// What to generate.
#[derive(Debug, Clone)]
pub struct CorpusSpec {
    pub out: PathBuf,
    pub users: u32,
    pub small_per_user: u32,
    pub small_size: usize,
    pub big_boxes: u32,
    pub big_count: u32,
    pub big_size: usize,
    pub bigbox_count: u32,
    pub bigbox_size: usize,
    /// Messages in `plainbox`: like `bigbox`, but named without sizes (as Postfix's
    /// `local`, procmail or getmail name them), so a server must read each once.
    pub plainbox_count: u32,
    pub password: String,
    pub hash: HashParams,
}

impl CorpusSpec {
    /// Name of the `i`-th (1-based) small-message user.
    pub fn user_name(i: u32) -> String {
        format!("user{i:05}")
    }
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorpusSummary {
    pub users: u32,
    pub files: u64,
    pub bytes: u64,
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> BenchError {
    BenchError::io(format!("cannot {what} {}", path.display()), e)
}

/// Writes the corpus. Refuses a non-empty output folder, so an old corpus is never mixed
/// with a new one.
pub fn generate(spec: &CorpusSpec) -> Result<CorpusSummary, BenchError> {
    if spec.users == 0 || spec.users > 999_999 {
        return Err(BenchError::Usage(
            "--users must be between 1 and 999999".into(),
        ));
    }
    if let Ok(mut rd) = fs::read_dir(&spec.out) {
        if rd.next().is_some() {
            return Err(BenchError::Usage(format!(
                "{} is not empty; remove it or choose another --out folder",
                spec.out.display()
            )));
        }
    }
    let mail = spec.out.join("mail");
    fs::create_dir_all(&mail).map_err(|e| io_err("create", &mail, e))?;
    let mut summary = CorpusSummary::default();
    let mut seq = 0u64;

    // Small-message users.
    let small = message_set(spec.small_per_user, spec.small_size, 0);
    for i in 1..=spec.users {
        let dir = maildir(&mail, &CorpusSpec::user_name(i))?;
        write_messages(&dir, &small, &mut seq, &mut summary)?;
    }

    // Large-message mailboxes: written once, hard-linked into the others.
    if spec.big_boxes > 0 && spec.big_count > 0 {
        let big = message_set(spec.big_count, spec.big_size, 1);
        let first = maildir(&mail, "big1")?;
        let names = write_messages(&first, &big, &mut seq, &mut summary)?;
        for b in 2..=spec.big_boxes {
            let dir = maildir(&mail, &format!("big{b}"))?;
            for n in &names {
                let (from, to) = (first.join("cur").join(n), dir.join("cur").join(n));
                fs::hard_link(&from, &to)
                    .or_else(|_| fs::copy(&from, &to).map(|_| ()))
                    .map_err(|e| io_err("link", &to, e))?;
                summary.files += 1;
            }
        }
    }

    // One very large mailbox of small messages, written as generated (never all in memory),
    // and one more whose names carry no sizes.
    for (user, count, sized) in [
        ("bigbox", spec.bigbox_count, true),
        ("plainbox", spec.plainbox_count, false),
    ] {
        if count == 0 {
            continue;
        }
        let dir = maildir(&mail, user)?;
        for i in 0..count {
            let m = message(u64::from(i), spec.bigbox_size, 2);
            write_named(&dir, &m, &mut seq, &mut summary, sized)?;
        }
    }

    write_passwd(spec)?;
    write_tls(&spec.out.join("tls"))?;
    let mut info = String::new();
    let _ = writeln!(
        info,
        "users {}\nsmall_per_user {}\nsmall_size {}",
        spec.users, spec.small_per_user, spec.small_size
    );
    let _ = writeln!(
        info,
        "big_boxes {}\nbig_count {}\nbig_size {}",
        spec.big_boxes, spec.big_count, spec.big_size
    );
    let _ = writeln!(
        info,
        "bigbox_count {}\nbigbox_size {}\nplainbox_count {}",
        spec.bigbox_count, spec.bigbox_size, spec.plainbox_count
    );
    let _ = writeln!(
        info,
        "argon2 m={},t={},p={}",
        spec.hash.m_cost_kib, spec.hash.t_cost, spec.hash.p_cost
    );
    let _ = writeln!(info, "files {}\nbytes {}", summary.files, summary.bytes);
    let p = spec.out.join("CORPUS");
    fs::write(&p, info).map_err(|e| io_err("write", &p, e))?;
    summary.users = spec.users;
    Ok(summary)
}

fn maildir(mail: &Path, user: &str) -> Result<PathBuf, BenchError> {
    let root = mail.join(user);
    for sub in ["cur", "new", "tmp"] {
        let d = root.join(sub);
        fs::create_dir_all(&d).map_err(|e| io_err("create", &d, e))?;
    }
    Ok(root)
}

fn message_set(count: u32, size: usize, kind: u8) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| message(u64::from(i), size, kind))
        .collect()
}

/// A plausible message of about `size` bytes (at least its header), LF line ends.
pub fn message(seq: u64, size: usize, kind: u8) -> Vec<u8> {
    let mut m = String::with_capacity(size + 128);
    let _ = write!(
        m,
        "Return-Path: <sender{kind}@bench.invalid>\nFrom: Bench Sender <sender{kind}@bench.invalid>\nTo: <rcpt@bench.invalid>\nSubject: benchmark message {kind}.{seq}\nDate: Mon, 2 Nov 2026 10:00:00 +0000\nMessage-ID: <{kind}.{seq}@bench.invalid>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n"
    );
    // A cheap deterministic generator (xorshift), so corpora are reproducible.
    let mut x = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(kind) ^ 0x2545_F491_4F6C_DD1D;
    let mut line_no = 0u64;
    const WORDS: &[&str] = &[
        "mail",
        "pop3",
        "lorem",
        "ipsum",
        "dolor",
        "message",
        "retrieve",
        "server",
        "client",
        "octet",
        "maildir",
        "quit",
        "benchmark",
        "the",
        "of",
        "and",
    ];
    while m.len() < size {
        line_no += 1;
        if line_no.is_multiple_of(50) {
            m.push('.');
        }
        let mut len = 0;
        while len < 68 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let w = WORDS[(x % WORDS.len() as u64) as usize];
            m.push_str(w);
            m.push(' ');
            len += w.len() + 1;
        }
        m.push('\n');
    }
    m.into_bytes()
}

fn write_messages(
    dir: &Path,
    msgs: &[Vec<u8>],
    seq: &mut u64,
    summary: &mut CorpusSummary,
) -> Result<Vec<String>, BenchError> {
    msgs.iter()
        .map(|m| write_one(dir, m, seq, summary))
        .collect()
}

fn write_one(
    dir: &Path,
    m: &[u8],
    seq: &mut u64,
    summary: &mut CorpusSummary,
) -> Result<String, BenchError> {
    write_named(dir, m, seq, summary, true)
}

/// `sized`: the name carries `S=` and `W=` (Buzón's and Dovecot's deliveries); otherwise
/// it has the shape Postfix's `local` gives (`<secs>.V<dev>I<inode>M<usecs>.<host>`).
fn write_named(
    dir: &Path,
    m: &[u8],
    seq: &mut u64,
    summary: &mut CorpusSummary,
    sized: bool,
) -> Result<String, BenchError> {
    *seq += 1;
    // Delivery times one second apart from a fixed epoch keep the order stable.
    let secs = 1_780_000_000 + *seq;
    let name = if sized {
        format!(
            "{secs}.M{}P1Q{}.bench,S={},W={}:2,S",
            *seq % 1_000_000,
            *seq,
            m.len(),
            WireSize::of(m)
        )
    } else {
        format!("{secs}.V801I{:x}M{}.bench:2,S", *seq, *seq % 1_000_000)
    };
    let path = dir.join("cur").join(&name);
    let mut f = fs::File::create(&path).map_err(|e| io_err("create", &path, e))?;
    f.write_all(m).map_err(|e| io_err("write", &path, e))?;
    summary.files += 1;
    summary.bytes += m.len() as u64;
    Ok(name)
}

/// Hashes every user's password on all cores (Argon2id is slow on purpose).
fn write_passwd(spec: &CorpusSpec) -> Result<(), BenchError> {
    let mut names: Vec<String> = (1..=spec.users).map(CorpusSpec::user_name).collect();
    names.extend((1..=spec.big_boxes).map(|b| format!("big{b}")));
    if spec.bigbox_count > 0 {
        names.push("bigbox".into());
    }
    if spec.plainbox_count > 0 {
        names.push("plainbox".into());
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(names.len().max(1));
    let chunk = names.len().div_ceil(threads).max(1);
    let lines: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = names
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|n| {
                            format!(
                                "{n}:{}\n",
                                buzon_auth::hash_password(spec.password.as_bytes(), &spec.hash)
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    if lines.len() != names.len() {
        return Err(BenchError::Protocol(
            "a password hashing thread failed".into(),
        ));
    }
    let p = spec.out.join("passwd");
    fs::write(&p, lines.concat()).map_err(|e| io_err("write", &p, e))
}

/// A CA and a server certificate for localhost, 127.0.0.1 and ::1, valid for a year.
fn write_tls(dir: &Path) -> Result<(), BenchError> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    fs::create_dir_all(dir).map_err(|e| io_err("create", dir, e))?;
    let tls = |e: rcgen::Error| {
        BenchError::Tls(format!("cannot generate the benchmark certificate: {e}"))
    };
    let ca_key = KeyPair::generate().map_err(tls)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(tls)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Buzon benchmark CA");
    let ca = ca_params.self_signed(&ca_key).map_err(tls)?;
    let key = KeyPair::generate().map_err(tls)?;
    let mut params = CertificateParams::new(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ])
    .map_err(tls)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &ca, &ca_key).map_err(tls)?;
    for (name, text) in [
        ("ca.pem", ca.pem()),
        ("cert.pem", cert.pem()),
        ("key.pem", key.serialize_pem()),
    ] {
        let p = dir.join(name);
        fs::write(&p, text).map_err(|e| io_err("write", &p, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_the_requested_size_and_dotted_lines() {
        let m = message(7, 4096, 0);
        assert!(m.len() >= 4096 && m.len() < 4096 + 100, "{}", m.len());
        assert!(m.windows(2).any(|w| w == b"\n."));
        assert_eq!(m, message(7, 4096, 0));
        assert_ne!(m, message(8, 4096, 0));
    }

    #[test]
    fn generates_a_small_corpus() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let spec = CorpusSpec {
            out: dir.path().join("c"),
            users: 3,
            small_per_user: 2,
            small_size: 1000,
            big_boxes: 2,
            big_count: 2,
            big_size: 5000,
            bigbox_count: 5,
            bigbox_size: 300,
            plainbox_count: 3,
            password: "pw".into(),
            hash: HashParams::fast_for_tests(),
        };
        let s = generate(&spec).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.files, 3 * 2 + 2 * 2 + 5 + 3);
        let passwd = fs::read_to_string(spec.out.join("passwd")).unwrap_or_default();
        assert_eq!(passwd.lines().count(), 3 + 2 + 2);
        let first = passwd.lines().next().unwrap_or_default();
        let (user, hash) = first.split_once(':').unwrap_or_default();
        assert_eq!(user, "user00001");
        assert!(hash.starts_with("{ARGON2ID}$argon2id$"), "{hash}");
        assert_eq!(buzon_auth::verify_password(hash, b"pw").ok(), Some(true));
        let cur: Vec<_> = fs::read_dir(spec.out.join("mail/big2/cur"))
            .map(|r| r.flatten().collect())
            .unwrap_or_default();
        assert_eq!(cur.len(), 2);
        for f in ["tls/ca.pem", "tls/cert.pem", "tls/key.pem", "CORPUS"] {
            assert!(spec.out.join(f).is_file(), "{f}");
        }
        assert!(generate(&spec).is_err(), "a non-empty folder is refused");
    }
}
