//! `buzon bench`: flags for the load generator in `buzon-bench`, a runtime to drive it,
//! and the report printed as a table, JSON, or both. No scenario logic lives here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use buzon_bench::lmtp::DeliverOptions;
use buzon_bench::scenario::{
    self, BigboxOptions, BurstOptions, IdleOptions, RetrOptions, RunOptions, Trickle,
};
use buzon_bench::{corpus, BenchError, Report, Security, Target, UserPattern};
use clap::{Args, Subcommand, ValueEnum};

use crate::Failure;

#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Logins per second: connect, USER/PASS, STAT, QUIT.
    Login {
        #[command(flatten)]
        common: Common,
    },
    /// Message throughput with RETR (or TOP), optionally pipelined.
    Retr {
        #[command(flatten)]
        common: Common,
        /// Send `TOP msg N` instead of RETR.
        #[arg(long, value_name = "N")]
        top: Option<u64>,
        /// Commands in flight per client (RFC 2449 PIPELINING); 1 waits for each reply.
        #[arg(long, default_value_t = 1)]
        pipeline: usize,
        /// Fetch each mailbox once, QUIT and log in as the next user (instead of cycling
        /// through one mailbox per client).
        #[arg(long)]
        mailbox_per_session: bool,
    },
    /// Hold many authenticated sessions and report the server's memory per session.
    Idle {
        #[command(flatten)]
        common: Common,
        /// Sessions to hold (one per user name; POP3 servers may lock a mailbox).
        #[arg(long, default_value_t = 100)]
        sessions: usize,
        /// The server's process id: its PSS, summed over its process tree, is read from
        /// /proc before and while the sessions are held.
        #[arg(long)]
        server_pid: Option<u32>,
        /// Seconds to hold the sessions before measuring.
        #[arg(long, default_value_t = 2.0)]
        hold: f64,
        /// Logins in progress at once while opening sessions.
        #[arg(long, default_value_t = 16)]
        connect_concurrency: usize,
        /// Log every user in and out once before measuring the baseline, so one-time
        /// costs (auth caches, allocator pools) do not count as per-session memory.
        #[arg(long)]
        warm: bool,
    },
    /// Repeated logins to one large mailbox, timing STAT, LIST and UIDL.
    Bigbox {
        #[command(flatten)]
        common: Common,
        /// Logins to time (the first one meets the mailbox as the server left it).
        #[arg(long, default_value_t = 2)]
        rounds: usize,
        /// Seconds to wait between rounds.
        #[arg(long, default_value_t = 0.0)]
        pause: f64,
        /// A busy mailbox: deliver one message to the measured user over LMTP every this
        /// many seconds while the rounds run (needs --lmtp).
        #[arg(long, value_name = "SECONDS", requires = "lmtp")]
        deliver_every: Option<f64>,
        /// The server's LMTP address for --deliver-every.
        #[arg(long, value_name = "ADDRESS")]
        lmtp: Option<SocketAddr>,
        /// Domain of the recipient address for --deliver-every (user@DOMAIN).
        #[arg(long, default_value = "localhost")]
        domain: String,
    },
    /// The server's resident memory before, during and after a burst (many sessions
    /// logged in at once, then closed, then a RETR run): is what the burst took given
    /// back? Needs --server-pid.
    Burst {
        #[command(flatten)]
        common: Common,
        /// The server's process id (its RSS is read from /proc).
        #[arg(long)]
        server_pid: u32,
        /// Sessions held at once (one per name of --users).
        #[arg(long, default_value_t = 10_000)]
        sessions: usize,
        /// Log every user in and out once before measuring the pre-burst memory.
        #[arg(long)]
        warm: bool,
        /// Then RETR from these mailboxes (4 clients)…
        #[arg(long, default_value = "big{1..4}")]
        retr_users: String,
        /// …for this many seconds.
        #[arg(long, default_value_t = 8.0)]
        retr_seconds: f64,
        /// Seconds to watch the memory after the burst.
        #[arg(long, default_value_t = 60.0)]
        settle: f64,
        /// Memory above the pre-burst RSS that still counts as given back, MiB.
        #[arg(long, default_value_t = 20)]
        slack_mib: u64,
    },
    /// LMTP deliveries per second (RFC 2033), one recipient per message; --target is the
    /// server's LMTP port.
    Deliver {
        #[command(flatten)]
        common: Common,
        /// Bytes per message.
        #[arg(long, default_value_t = 10_240)]
        size: usize,
        /// Domain of the recipient addresses (user@DOMAIN).
        #[arg(long, default_value = "localhost")]
        domain: String,
    },
    /// Write a corpus of Maildirs, a passwd-file and a TLS certificate that Buzón and
    /// Dovecot both use.
    Corpus(CorpusArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
    Both,
}

#[derive(Args)]
struct Common {
    /// The server to load (loopback only unless --allow-remote).
    #[arg(long, default_value = "127.0.0.1:1110")]
    target: SocketAddr,
    /// none (plain POP3), starttls (STLS upgrade) or tls (implicit TLS, POP3S); the
    /// older spellings plain and stls are still read.
    #[arg(long, default_value = "none")]
    security: String,
    /// PEM file of the CA that signed the server certificate (a corpus has tls/ca.pem).
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Accept any server certificate (handshake signatures are still checked).
    #[arg(long)]
    insecure: bool,
    /// Name to verify the certificate against.
    #[arg(long, default_value = "localhost")]
    server_name: String,
    /// User names: one name, or a range such as `user{00001..01000}`.
    #[arg(long, default_value = "user{00001..01000}")]
    users: String,
    /// The password of every user (a corpus uses one password for all).
    #[arg(
        long,
        env = "BUZON_BENCH_PASSWORD",
        default_value = "bench-password",
        hide_env_values = true
    )]
    password: String,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Seconds to run (at most 3600).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Stop after this many operations.
    #[arg(long)]
    count: Option<u64>,
    /// Seconds each network read, write, connect or handshake may take.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Allow a target outside the loopback interface (only servers you run).
    #[arg(long)]
    allow_remote: bool,
    /// Names the server in the report.
    #[arg(long, default_value = "server")]
    label: String,
    /// Output: a table, one line of JSON, or both (table first).
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Load-generator threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

#[derive(Args)]
struct CorpusArgs {
    /// Folder to create (must be empty or missing).
    #[arg(long)]
    out: PathBuf,
    /// Users with small messages (user00001…).
    #[arg(long, default_value_t = 1000)]
    users: u32,
    #[arg(long, default_value_t = 4)]
    small_per_user: u32,
    #[arg(long, default_value_t = 4096)]
    small_size: usize,
    /// Mailboxes of large messages (big1…, hard links to one copy).
    #[arg(long, default_value_t = 4)]
    big_boxes: u32,
    #[arg(long, default_value_t = 2000)]
    big_count: u32,
    #[arg(long, default_value_t = 50_000)]
    big_size: usize,
    /// Messages in the `bigbox` mailbox (0: none).
    #[arg(long, default_value_t = 100_000)]
    bigbox_count: u32,
    #[arg(long, default_value_t = 1024)]
    bigbox_size: usize,
    /// Messages in the `plainbox` mailbox: as `bigbox`, but their names carry no sizes
    /// (Postfix `local` style), so a server must read each message once (0: none).
    #[arg(long, default_value_t = 0)]
    plainbox_count: u32,
    #[arg(
        long,
        env = "BUZON_BENCH_PASSWORD",
        default_value = "bench-password",
        hide_env_values = true
    )]
    password: String,
    /// Argon2id memory cost of the password hashes, KiB (Buzón's default: 19456).
    #[arg(long, default_value_t = 19_456)]
    argon2_memory_kib: u32,
    #[arg(long, default_value_t = 2)]
    argon2_iterations: u32,
}

fn secs(v: f64, flag: &str) -> Result<Duration, Failure> {
    Duration::try_from_secs_f64(v)
        .map_err(|_| Failure::usage(format!("{flag} must be a non-negative number of seconds")))
}

fn bench_err(e: BenchError) -> Failure {
    match e {
        BenchError::Usage(m) => Failure::usage(m),
        other => Failure::runtime(other),
    }
}

impl Common {
    fn run_options(&self) -> Result<RunOptions, Failure> {
        let (security, older) = Security::parse(&self.security).ok_or_else(|| {
            Failure::usage(format!(
                "--security {}: use none, starttls or tls",
                self.security
            ))
        })?;
        if let Some(canonical) = older {
            eprintln!(
                "buzon bench: note: --security {} is read as {canonical}; write {canonical}",
                self.security
            );
        }
        let target = Target::new(
            self.target,
            security,
            &self.server_name,
            self.ca.as_deref(),
            self.insecure,
            self.allow_remote,
        )
        .map_err(bench_err)?;
        let run = RunOptions {
            target,
            users: UserPattern::parse(&self.users).map_err(bench_err)?,
            password: self.password.clone(),
            clients: self.clients,
            duration: secs(self.duration, "--duration")?,
            max_ops: self.count,
            timeout: secs(self.timeout, "--timeout")?,
            label: self.label.clone(),
        };
        run.validate().map_err(bench_err)?;
        Ok(run)
    }
}

fn runtime(threads: usize) -> Result<tokio::runtime::Runtime, Failure> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if threads > 0 {
        b.worker_threads(threads);
    }
    b.enable_all()
        .build()
        .map_err(|e| Failure::runtime(format!("cannot start the async runtime: {e}")))
}

fn print(report: &Report, format: Format) {
    match format {
        Format::Table => print!("{}", report.to_table()),
        Format::Json => println!("{}", report.to_json()),
        Format::Both => {
            print!("{}", report.to_table());
            println!("{}", report.to_json());
        }
    }
}

pub fn run(args: BenchArgs) -> Result<(), Failure> {
    let (common, mode) = match args.mode {
        Mode::Corpus(c) => return run_corpus(c),
        Mode::Login { common } => (common, ModeKind::Login),
        Mode::Retr {
            common,
            top,
            pipeline,
            mailbox_per_session,
        } => (
            common,
            ModeKind::Retr(RetrOptions {
                top,
                pipeline,
                mailbox_per_session,
            }),
        ),
        Mode::Idle {
            common,
            sessions,
            server_pid,
            hold,
            connect_concurrency,
            warm,
        } => {
            let hold = secs(hold, "--hold")?;
            (
                common,
                ModeKind::Idle(IdleOptions {
                    sessions,
                    server_pid,
                    hold,
                    connect_concurrency,
                    warm,
                }),
            )
        }
        Mode::Bigbox {
            common,
            rounds,
            pause,
            deliver_every,
            lmtp,
            domain,
        } => {
            let pause = secs(pause, "--pause")?;
            let trickle = match (deliver_every, lmtp) {
                (Some(every), Some(lmtp)) => Some(Trickle {
                    lmtp,
                    every: secs(every, "--deliver-every")?,
                    domain,
                    size: 4096,
                }),
                _ => None,
            };
            (
                common,
                ModeKind::Bigbox(BigboxOptions {
                    rounds,
                    pause,
                    trickle,
                }),
            )
        }
        Mode::Burst {
            common,
            server_pid,
            sessions,
            warm,
            retr_users,
            retr_seconds,
            settle,
            slack_mib,
        } => {
            let retr_users = buzon_bench::users::UserPattern::parse(&retr_users)
                .map_err(|e| Failure::usage(format!("--retr-users: {e}")))?;
            (
                common,
                ModeKind::Burst(BurstOptions {
                    server_pid,
                    sessions,
                    warm,
                    retr_users,
                    retr_for: secs(retr_seconds, "--retr-seconds")?,
                    settle: secs(settle, "--settle")?,
                    slack_kib: slack_mib * 1024,
                }),
            )
        }
        Mode::Deliver {
            common,
            size,
            domain,
        } => (common, ModeKind::Deliver(DeliverOptions { size, domain })),
    };
    let run = common.run_options()?;
    buzon_bench::raise_fd_limit();
    let rt = runtime(common.threads)?;
    let report = rt
        .block_on(async {
            match &mode {
                ModeKind::Login => Ok(scenario::login(&run).await),
                ModeKind::Retr(o) => scenario::retr(&run, o).await,
                ModeKind::Idle(o) => scenario::idle(&run, o).await,
                ModeKind::Bigbox(o) => scenario::bigbox(&run, o).await,
                ModeKind::Burst(o) => scenario::burst(&run, o).await,
                ModeKind::Deliver(o) => buzon_bench::lmtp::deliver(&run, o).await,
            }
        })
        .map_err(bench_err)?;
    print(&report, common.format);
    if report.ops == 0 {
        let why = report
            .errors
            .iter()
            .next()
            .map(|(_, _, e)| e.to_string())
            .unwrap_or_else(|| "no operation finished in time".into());
        return Err(Failure::runtime(format!(
            "the benchmark completed no operation: {why}"
        )));
    }
    Ok(())
}

enum ModeKind {
    Login,
    Retr(RetrOptions),
    Idle(IdleOptions),
    Bigbox(BigboxOptions),
    Burst(BurstOptions),
    Deliver(DeliverOptions),
}

fn run_corpus(c: CorpusArgs) -> Result<(), Failure> {
    let spec = corpus::CorpusSpec {
        out: c.out,
        users: c.users,
        small_per_user: c.small_per_user,
        small_size: c.small_size,
        big_boxes: c.big_boxes,
        big_count: c.big_count,
        big_size: c.big_size,
        bigbox_count: c.bigbox_count,
        bigbox_size: c.bigbox_size,
        plainbox_count: c.plainbox_count,
        password: c.password,
        hash: buzon_auth::HashParams {
            m_cost_kib: c.argon2_memory_kib,
            t_cost: c.argon2_iterations,
            p_cost: 1,
        },
    };
    spec.hash
        .validate()
        .map_err(|e| Failure::usage(format!("--argon2-memory-kib/--argon2-iterations: {e}")))?;
    let s = corpus::generate(&spec).map_err(bench_err)?;
    println!(
        "corpus in {}: {} users, {} message files, {} bytes; passwd-file {}, CA {}",
        spec.out.display(),
        s.users,
        s.files,
        s.bytes,
        spec.out.join("passwd").display(),
        spec.out.join("tls/ca.pem").display()
    );
    Ok(())
}
