//! The scenarios: closed-loop workers that each keep one operation in flight (or a window
//! of them with pipelining) until the time or operation budget is spent.
//!
//! - `login`: connect (and TLS), USER/PASS, STAT, QUIT — one operation.
//! - `retr`: log in and fetch messages with RETR (or `TOP n k`), optionally pipelined
//!   (RFC 2449 §6.6); either cycling through one mailbox per client, or fetching each
//!   mailbox once and moving to the next user (`mailbox_per_session`). Every RETR body is
//!   checked against the LIST size.
//! - `idle`: hold N authenticated sessions and read the server's memory.
//! - `bigbox`: log in to one large mailbox repeatedly, timing STAT, LIST and UIDL.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use buzon_pop3_proto::{Command, MsgNum};
use tokio::sync::{watch, Semaphore};

use crate::conn::Pop3Conn;
use crate::procmem;
use crate::report::{machine_cpu, process_cpu, Errors, Latencies, Report};
use crate::target::Target;
use crate::users::{UserCursor, UserPattern};
use crate::BenchError;

/// Longest run a single scenario accepts.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// Most concurrent clients.
pub const MAX_CLIENTS: usize = 4096;
/// Pause after a failed operation, so a refusing server is not hammered in a tight loop.
const ERROR_PAUSE: Duration = Duration::from_millis(10);

/// What every scenario needs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub target: Target,
    pub users: UserPattern,
    pub password: String,
    pub clients: usize,
    /// Stop issuing operations after this long.
    pub duration: Duration,
    /// Stop after this many operations (whichever comes first).
    pub max_ops: Option<u64>,
    /// Limit for each network read, write, connect and handshake.
    pub timeout: Duration,
    /// Names the server in the report.
    pub label: String,
}

impl RunOptions {
    pub fn validate(&self) -> Result<(), BenchError> {
        if self.clients == 0 || self.clients > MAX_CLIENTS {
            return Err(BenchError::Usage(format!(
                "--clients must be between 1 and {MAX_CLIENTS}"
            )));
        }
        if self.duration.is_zero() || self.duration > MAX_DURATION {
            return Err(BenchError::Usage(
                "--duration must be between 1 second and 1 hour".into(),
            ));
        }
        if self.timeout.is_zero() {
            return Err(BenchError::Usage("--timeout must be positive".into()));
        }
        Ok(())
    }

    fn report(&self, scenario: &str, unit: &str) -> Report {
        Report {
            scenario: scenario.into(),
            label: self.label.clone(),
            security: self.target.security.as_str().into(),
            clients: self.clients,
            unit: unit.into(),
            ..Report::default()
        }
    }
}

/// The budget shared by a run's workers.
pub(crate) struct Budget {
    deadline: Instant,
    issued: AtomicU64,
    max_ops: u64,
    pub(crate) users: UserCursor,
}

impl Budget {
    fn new(run: &RunOptions) -> Arc<Self> {
        Arc::new(Budget {
            deadline: Instant::now() + run.duration,
            issued: AtomicU64::new(0),
            max_ops: run.max_ops.unwrap_or(u64::MAX),
            users: UserCursor::new(run.users.clone()),
        })
    }

    fn open(&self) -> bool {
        Instant::now() < self.deadline && self.issued.load(Ordering::Relaxed) < self.max_ops
    }

    /// Claims one operation; false when the budget is spent.
    pub(crate) fn take(&self) -> bool {
        Instant::now() < self.deadline && self.issued.fetch_add(1, Ordering::Relaxed) < self.max_ops
    }
}

/// What one worker did.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) ops: u64,
    pub(crate) bytes: u64,
    pub(crate) latency: Latencies,
    pub(crate) errors: Errors,
}

impl Tally {
    pub(crate) fn fail(&mut self, e: &BenchError) {
        self.errors.add(e);
    }
}

pub(crate) async fn run_workers<F, Fut>(
    run: &RunOptions,
    scenario: &str,
    unit: &str,
    worker: F,
) -> Report
where
    F: Fn(Arc<Budget>) -> Fut,
    Fut: std::future::Future<Output = Tally> + Send + 'static,
{
    let budget = Budget::new(run);
    let cpu0 = process_cpu();
    let machine0 = machine_cpu();
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..run.clients {
        tasks.spawn(worker(Arc::clone(&budget)));
    }
    let mut report = run.report(scenario, unit);
    let mut latency = Latencies::default();
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(t) => {
                report.ops += t.ops;
                report.bytes += t.bytes;
                latency.merge(t.latency);
                report.errors.merge(t.errors);
            }
            Err(e) => report
                .errors
                .add(&BenchError::Protocol(format!("worker task failed: {e}"))),
        }
    }
    report.elapsed = start.elapsed();
    report.client_cpu = process_cpu().saturating_sub(cpu0);
    report.machine_cpu = machine_cpu()
        .zip(machine0)
        .map(|(m1, m0)| m1.saturating_sub(m0));
    report.latency = latency.summary();
    report
}

/// `login`: connect, USER/PASS, STAT, QUIT, as fast as the server allows.
pub async fn login(run: &RunOptions) -> Report {
    let run2 = run.clone();
    run_workers(run, "login", "logins", move |budget| {
        let run = run2.clone();
        async move {
            let mut t = Tally::default();
            while budget.take() {
                let user = budget.users.next_name();
                let t0 = Instant::now();
                let r = async {
                    let mut c = Pop3Conn::connect(&run.target, run.timeout).await?;
                    c.login(&user, &run.password).await?;
                    c.stat().await?;
                    c.quit().await
                }
                .await;
                match r {
                    Ok(()) => {
                        t.latency.record(t0.elapsed());
                        t.ops += 1;
                    }
                    Err(e) => {
                        t.fail(&e);
                        tokio::time::sleep(ERROR_PAUSE).await;
                    }
                }
            }
            t
        }
    })
    .await
}

/// Options of the `retr` scenario.
#[derive(Debug, Clone)]
pub struct RetrOptions {
    /// `TOP n k` with this k instead of RETR.
    pub top: Option<u64>,
    /// Commands in flight per client (1 = no pipelining).
    pub pipeline: usize,
    /// Fetch each mailbox once, QUIT, and log in as the next user; otherwise each client
    /// stays logged in and cycles through its mailbox.
    pub mailbox_per_session: bool,
}

/// `retr`: message throughput. Operations are messages; bytes are message octets.
pub async fn retr(run: &RunOptions, o: &RetrOptions) -> Result<Report, BenchError> {
    if o.pipeline == 0 || o.pipeline > 1024 {
        return Err(BenchError::Usage(
            "--pipeline must be between 1 and 1024".into(),
        ));
    }
    let run2 = run.clone();
    let o = o.clone();
    let scenario = if o.top.is_some() { "top" } else { "retr" };
    Ok(run_workers(run, scenario, "messages", move |budget| {
        let run = run2.clone();
        let o = o.clone();
        async move {
            let mut t = Tally::default();
            while budget.open() {
                let user = budget.users.next_name();
                if let Err(e) = retr_session(&run, &o, &budget, &user, &mut t).await {
                    t.fail(&e);
                    tokio::time::sleep(ERROR_PAUSE).await;
                }
            }
            t
        }
    })
    .await)
}

async fn retr_session(
    run: &RunOptions,
    o: &RetrOptions,
    budget: &Budget,
    user: &str,
    t: &mut Tally,
) -> Result<(), BenchError> {
    let mut c = Pop3Conn::connect(&run.target, run.timeout).await?;
    c.login(user, &run.password).await?;
    let sizes = c.list_sizes().await?;
    if sizes.is_empty() {
        return Err(BenchError::Protocol(format!(
            "mailbox of {user} is empty; generate a corpus with `buzon bench corpus`"
        )));
    }
    let mut next = 0usize;
    let mut exhausted = false;
    let mut inflight: VecDeque<(usize, Instant)> = VecDeque::with_capacity(o.pipeline);
    let keyword = if o.top.is_some() { "TOP" } else { "RETR" };
    // Bounded by the budget: every iteration completes one message or stops issuing.
    loop {
        while inflight.len() < o.pipeline && !exhausted && budget.take() {
            let n = MsgNum::from_index(next)
                .ok_or_else(|| BenchError::Protocol("message number out of range".into()))?;
            c.queue(&match o.top {
                Some(k) => Command::Top(n, k),
                None => Command::Retr(n),
            });
            inflight.push_back((next, Instant::now()));
            next += 1;
            if next == sizes.len() {
                if o.mailbox_per_session {
                    exhausted = true;
                }
                next = 0;
            }
        }
        let Some((index, t0)) = inflight.pop_front() else {
            break;
        };
        c.send_queued().await?;
        c.reply(true, keyword).await?;
        let octets = c.skip_body(keyword).await?;
        if o.top.is_none() && octets != sizes[index] {
            t.fail(&BenchError::Protocol(format!(
                "{user} message {}: RETR sent {octets} octets, LIST said {}",
                index + 1,
                sizes[index]
            )));
        }
        t.latency.record(t0.elapsed());
        t.ops += 1;
        t.bytes += octets;
    }
    c.quit().await
}

/// Options of the `idle` scenario.
#[derive(Debug, Clone)]
pub struct IdleOptions {
    pub sessions: usize,
    /// The server's process id, to read its memory (PSS summed over its process tree).
    pub server_pid: Option<u32>,
    /// How long to hold the sessions once all are open, before measuring.
    pub hold: Duration,
    /// Logins in progress at once while opening the sessions.
    pub connect_concurrency: usize,
    /// Log every user in and out once before the baseline, so one-time costs (auth
    /// caches, allocator pools, password-hashing scratch memory) are not counted as
    /// per-session memory.
    pub warm: bool,
}

/// `idle`: opens `sessions` authenticated sessions (one per user name of the pattern),
/// holds them, measures the server's memory, then QUITs them all.
pub async fn idle(run: &RunOptions, o: &IdleOptions) -> Result<Report, BenchError> {
    if o.sessions == 0 || o.sessions > 1_000_000 {
        return Err(BenchError::Usage(
            "--sessions must be between 1 and 1,000,000".into(),
        ));
    }
    if o.sessions > run.users.len() {
        return Err(BenchError::Usage(format!(
            "--sessions {} needs as many user names, but the pattern has {}: POP3 servers may lock a mailbox to one session (RFC 1939 §8)",
            o.sessions,
            run.users.len()
        )));
    }
    let mut warm_errors = Errors::default();
    if o.warm {
        warm_errors = warm_up(run, o).await;
    }
    let baseline = o.server_pid.map(procmem::pss_tree).transpose()?;
    let cpu0 = process_cpu();
    let machine0 = machine_cpu();
    let start = Instant::now();
    let gate = Arc::new(Semaphore::new(o.connect_concurrency.max(1)));
    let (release_tx, release_rx) = watch::channel(false);
    let settled = Arc::new(AtomicUsize::new(0));
    let deadline = start + run.duration;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..o.sessions {
        let user = run.users.name(i);
        let run = run.clone();
        let gate = Arc::clone(&gate);
        let mut release = release_rx.clone();
        let settled = Arc::clone(&settled);
        tasks.spawn(async move {
            let opened = async {
                let _permit = gate
                    .acquire()
                    .await
                    .map_err(|_| BenchError::Protocol("gate closed".into()))?;
                if Instant::now() >= deadline {
                    return Err(BenchError::Timeout {
                        what: "opening sessions (--duration)".into(),
                        after: run.duration,
                    });
                }
                let t0 = Instant::now();
                let mut c = Pop3Conn::connect_with_buffer(&run.target, run.timeout, 1024).await?;
                c.login(&user, &run.password).await?;
                Ok::<_, BenchError>((c, t0.elapsed()))
            }
            .await;
            settled.fetch_add(1, Ordering::Relaxed);
            let (c, took) = opened?;
            // Held until released; the bound keeps a lost release from leaking the task.
            let _ = tokio::time::timeout(MAX_DURATION, release.wait_for(|r| *r)).await;
            c.quit().await?;
            Ok(took)
        });
    }
    // Wait until every session is open or has failed (bounded by --duration).
    while settled.load(Ordering::Relaxed) < o.sessions && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let opened_in = start.elapsed();
    tokio::time::sleep(o.hold).await;
    let held = o.server_pid.map(procmem::pss_tree).transpose()?;
    let _ = release_tx.send(true);
    let mut report = run.report("idle", "sessions");
    report.errors.merge(warm_errors);
    let mut latency = Latencies::default();
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(Ok(took)) => {
                report.ops += 1;
                latency.record(took);
            }
            Ok(Err(e)) => report.errors.add(&e),
            Err(e) => report
                .errors
                .add(&BenchError::Protocol(format!("session task failed: {e}"))),
        }
    }
    report.elapsed = opened_in;
    report.clients = o.sessions;
    report.client_cpu = process_cpu().saturating_sub(cpu0);
    report.machine_cpu = machine_cpu()
        .zip(machine0)
        .map(|(m1, m0)| m1.saturating_sub(m0));
    report.latency = latency.summary();
    if let (Some(b), Some(h)) = (baseline, held) {
        report
            .extra
            .push(("server_pss_before_kib".into(), b.pss_kib as f64));
        report
            .extra
            .push(("server_pss_held_kib".into(), h.pss_kib as f64));
        report
            .extra
            .push(("server_processes_held".into(), h.processes as f64));
        if report.ops > 0 {
            let per = h.pss_kib.saturating_sub(b.pss_kib) as f64 / report.ops as f64;
            report.extra.push(("pss_per_session_kib".into(), per));
        }
    }
    Ok(report)
}

/// One login and QUIT per session user, `connect_concurrency` at a time.
async fn warm_up(run: &RunOptions, o: &IdleOptions) -> Errors {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..o.connect_concurrency.max(1) {
        let (run, next, sessions) = (run.clone(), Arc::clone(&next), o.sessions);
        tasks.spawn(async move {
            let mut errors = Errors::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= sessions {
                    break;
                }
                let user = run.users.name(i);
                let r = async {
                    let mut c =
                        Pop3Conn::connect_with_buffer(&run.target, run.timeout, 1024).await?;
                    c.login(&user, &run.password).await?;
                    c.quit().await
                }
                .await;
                if let Err(e) = r {
                    errors.add(&e);
                }
            }
            errors
        });
    }
    let mut errors = Errors::default();
    while let Some(r) = tasks.join_next().await {
        if let Ok(e) = r {
            errors.merge(e);
        }
    }
    errors
}

/// Options of the `bigbox` scenario.
#[derive(Debug, Clone)]
pub struct BigboxOptions {
    /// Logins to time; the first one sees the mailbox as the server left it (cold index
    /// if it never opened it), the later ones as the earlier ones left it.
    pub rounds: usize,
    /// Wait between rounds (a later login, not an immediate retry).
    pub pause: Duration,
    /// Mail arriving meanwhile: one message over LMTP to the measured user every so
    /// often, from the first round to the last (a busy mailbox).
    pub trickle: Option<Trickle>,
}

/// See [`BigboxOptions::trickle`].
#[derive(Debug, Clone)]
pub struct Trickle {
    pub lmtp: std::net::SocketAddr,
    pub every: Duration,
    /// Domain of the recipient address (user@DOMAIN).
    pub domain: String,
    pub size: usize,
}

/// `bigbox`: login, STAT, LIST, UIDL on one (large) mailbox, `rounds` times in a row.
/// Reports the time from connect to the end of the UIDL listing for each round.
pub async fn bigbox(run: &RunOptions, o: &BigboxOptions) -> Result<Report, BenchError> {
    if o.rounds == 0 || o.rounds > 100 {
        return Err(BenchError::Usage(
            "--rounds must be between 1 and 100".into(),
        ));
    }
    let user = run.users.name(0);
    let cpu0 = process_cpu();
    let machine0 = machine_cpu();
    let start = Instant::now();
    let mut report = run.report("bigbox", "logins");
    report.clients = 1;
    let mut latency = Latencies::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let trickle = o.trickle.clone().map(|t| {
        tokio::spawn(crate::lmtp::trickle(
            t.lmtp,
            format!("{user}@{}", t.domain),
            t.size,
            t.every,
            run.timeout,
            Arc::clone(&stop),
        ))
    });
    let mut later = Vec::new();
    for round in 1..=o.rounds {
        if Instant::now() >= start + run.duration {
            break;
        }
        if round > 1 {
            tokio::time::sleep(o.pause).await;
        }
        let t0 = Instant::now();
        let r = async {
            let mut c = Pop3Conn::connect(&run.target, run.timeout).await?;
            c.login(&user, &run.password).await?;
            let t_login = t0.elapsed();
            let (count, _) = c.stat().await?;
            let t_stat = t0.elapsed();
            let sizes = c.list_sizes().await?;
            let t_list = t0.elapsed();
            let uidls = c.lines(Command::Uidl(None)).await?;
            let t_uidl = t0.elapsed();
            if sizes.len() as u64 != count || uidls.len() as u64 != count {
                return Err(BenchError::Protocol(format!(
                    "STAT said {count} messages, LIST listed {}, UIDL {}",
                    sizes.len(),
                    uidls.len()
                )));
            }
            c.quit().await?;
            Ok::<_, BenchError>((count, [t_login, t_stat, t_list, t_uidl]))
        }
        .await;
        match r {
            Ok((count, [t_login, t_stat, t_list, t_uidl])) => {
                report.ops += 1;
                latency.record(t_uidl);
                let ms = |d: Duration| d.as_secs_f64() * 1000.0;
                report.extra.push((format!("round{round}_ms"), ms(t_uidl)));
                report
                    .extra
                    .push((format!("round{round}_login_ms"), ms(t_login)));
                report
                    .extra
                    .push((format!("round{round}_stat_ms"), ms(t_stat - t_login)));
                report
                    .extra
                    .push((format!("round{round}_list_ms"), ms(t_list - t_stat)));
                report
                    .extra
                    .push((format!("round{round}_uidl_ms"), ms(t_uidl - t_list)));
                if round == 1 {
                    report.extra.push(("messages".into(), count as f64));
                } else {
                    later.push(ms(t_uidl));
                }
            }
            Err(e) => report.errors.add(&e),
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(task) = trickle {
        let (done, failed) = task.await.unwrap_or((0, 0));
        report.extra.push(("deliveries".into(), done as f64));
        report
            .extra
            .push(("delivery_failures".into(), failed as f64));
    }
    if !later.is_empty() {
        later.sort_by(f64::total_cmp);
        report
            .extra
            .push(("later_median_ms".into(), later[later.len() / 2]));
    }
    report.elapsed = start.elapsed();
    report.client_cpu = process_cpu().saturating_sub(cpu0);
    report.machine_cpu = machine_cpu()
        .zip(machine0)
        .map(|(m1, m0)| m1.saturating_sub(m0));
    report.latency = latency.summary();
    Ok(report)
}

/// Longest rest between the warm-up and the pre-burst measurement.
const SETTLE_BEFORE_BURST: Duration = Duration::from_secs(60);

/// Options of the `burst` scenario.
#[derive(Debug, Clone)]
pub struct BurstOptions {
    pub server_pid: u32,
    /// Sessions of the burst, all logged in at once (one per user name of the run).
    pub sessions: usize,
    /// Log every user in and out once before the pre-burst measurement, so that what
    /// the server keeps for good (its auth cache) is not counted as the burst's.
    pub warm: bool,
    /// Then RETR from these mailboxes (4 clients) for `retr_for`.
    pub retr_users: UserPattern,
    pub retr_for: Duration,
    /// How long to watch the server's memory after the burst.
    pub settle: Duration,
    /// What "back to the pre-burst size" allows, KiB.
    pub slack_kib: u64,
}

/// `burst`: the server's resident memory (RSS) before a burst — `sessions` logins held
/// open together, then closed, then a RETR run — at its peak, and each second after it
/// for `settle`: does the server give back what the burst took? Reports MiB figures and
/// when (seconds after the burst) RSS was first back within `slack_kib` of the start
/// (-1: not within `settle`).
pub async fn burst(run: &RunOptions, o: &BurstOptions) -> Result<Report, BenchError> {
    let mib = |kib: u64| kib as f64 / 1024.0;
    let held = IdleOptions {
        sessions: o.sessions,
        server_pid: None,
        hold: Duration::from_secs(1),
        connect_concurrency: 64,
        warm: false,
    };
    let mut report = run.report("burst", "logins");
    if o.warm {
        report.errors.merge(warm_up(run, &held).await);
        // Let the server return what the warm-up itself freed (idle worker threads end
        // after 10 s, allocators purge on timers), so the pre-burst figure is its resting
        // size: at least 20 s, then until RSS holds still for 5 s (at most a minute).
        let mut last = procmem::rss_kib(o.server_pid)?;
        let mut still = 0;
        for second in 1..=SETTLE_BEFORE_BURST.as_secs() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let now = procmem::rss_kib(o.server_pid)?;
            still = if now.abs_diff(last) <= 256 {
                still + 1
            } else {
                0
            };
            last = now;
            if second >= 20 && still >= 5 {
                break;
            }
        }
    }
    let before = procmem::rss_kib(o.server_pid)?;
    let start = Instant::now();
    let peak = Arc::new(AtomicU64::new(before));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, stop, pid) = (Arc::clone(&peak), Arc::clone(&stop), o.server_pid);
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(kib) = procmem::rss_kib(pid) {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let burst = idle(run, &held).await?;
    let retr_run = RunOptions {
        users: o.retr_users.clone(),
        clients: 4,
        duration: o.retr_for,
        max_ops: None,
        ..run.clone()
    };
    let retr_opts = RetrOptions {
        top: None,
        pipeline: 1,
        mailbox_per_session: false,
    };
    let retr_report = retr(&retr_run, &retr_opts).await?;
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    let end = procmem::rss_kib(o.server_pid)?;
    report.ops = burst.ops;
    report.errors.merge(burst.errors);
    report.errors.merge(retr_report.errors);
    let mut back_after = -1.0;
    let mut samples = Vec::new();
    let settle_start = Instant::now();
    // Bounded by `settle`: one sample a second.
    for second in 1..=o.settle.as_secs().max(1) {
        let due = settle_start + Duration::from_secs(second);
        tokio::time::sleep_until(due.into()).await;
        let kib = procmem::rss_kib(o.server_pid)?;
        samples.push(kib);
        if back_after < 0.0 && kib <= before + o.slack_kib {
            back_after = second as f64;
        }
    }
    report.extra.push(("rss_before_mib".into(), mib(before)));
    report.extra.push((
        "rss_peak_mib".into(),
        mib(peak.load(Ordering::Relaxed).max(end)),
    ));
    report.extra.push(("rss_end_of_burst_mib".into(), mib(end)));
    for at in [10usize, 30, 60] {
        if let Some(kib) = samples.get(at - 1) {
            report
                .extra
                .push((format!("rss_after_{at}s_mib"), mib(*kib)));
        }
    }
    if let Some(last) = samples.last() {
        report.extra.push(("rss_final_mib".into(), mib(*last)));
    }
    report
        .extra
        .push(("back_within_slack_after_s".into(), back_after));
    report
        .extra
        .push(("retr_messages".into(), retr_report.ops as f64));
    report.elapsed = start.elapsed();
    Ok(report)
}
