//! `buzon fetch`: download new mail for one or more accounts.
//!
//! Exit codes (docs/client.md): 0 mail fetched; 1 nothing new; 2 usage or configuration;
//! 3 DNS; 4 connection; 5 TLS; 6 authentication; 7 the server refused or failed
//! ([SYS/TEMP], [IN-USE], [LOGIN-DELAY], protocol errors); 8 local delivery (Maildir,
//! mbox, delivery program, ledger). With several accounts, the first failure's code wins.

use buzon_i18n::t;
use std::io::IsTerminal;
use std::time::Duration;

use buzon_client::fetch::{fetch, list_waiting, Checkpoint, FetchOptions, FetchReport, Observer};
use buzon_client::{ClientError, Secret};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::client_args::{authorize, credential, password, uses_own_tokens, AccountArgs};
use crate::Failure;

#[derive(Args, Debug)]
pub struct FetchArgs {
    /// Accounts to fetch (default: all in the accounts file).
    pub accounts: Vec<String>,
    #[command(flatten)]
    pub common: AccountArgs,
    /// Show what would be fetched and deleted, and why; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Show From, Subject, Date and size of the messages waiting (TOP; nothing downloaded).
    #[arg(long)]
    pub list: bool,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
    /// Keep running, fetching every DURATION ("5m"), with ±10% jitter; stop with Ctrl-C.
    #[arg(long, value_name = "DURATION")]
    pub every: Option<String>,
    /// At most this many new messages per account in this run.
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// Sign the accounts in with OAuth 2.0 (auth = "oauthbearer"/"xoauth2"): open the
    /// URL shown on any device, type the code, approve; the tokens are kept for later runs.
    #[arg(long)]
    pub authorize: bool,
}

/// Progress on a terminal (indicatif), halting points for crash tests (the
/// `BUZON_FETCH_HALT_AT=<checkpoint>:<n>` environment variable stops the process at that
/// point of the n-th message until it is killed).
struct Progress {
    bar: Option<ProgressBar>,
    halt: Option<(Checkpoint, u32)>,
    quiet: bool,
    /// (stored, planned) messages.
    msgs: (u64, u64),
    account: String,
}

impl Observer for Progress {
    fn start(&mut self, account: &str, messages: u64, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(bytes.max(1));
            bar.set_position(0);
            bar.set_message(t!(
                "fetch-progress",
                account = account,
                done = 0u64,
                total = messages
            ));
            bar.reset_eta();
        }
        self.msgs = (0, messages);
        self.account = account.to_string();
    }
    fn stored(&mut self, bytes: u64) {
        self.msgs.0 += 1;
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
            bar.set_message(t!(
                "fetch-progress",
                account = &self.account,
                done = self.msgs.0,
                total = self.msgs.1
            ));
        }
    }
    fn note(&mut self, text: &str) {
        if self.quiet {
            return;
        }
        match &self.bar {
            Some(bar) => bar.println(t!("fetch-note", text = text)),
            None => eprintln!("buzon: {}", t!("fetch-note", text = text)),
        }
    }
    fn checkpoint(&mut self, point: Checkpoint, seq: u32) {
        if self.halt == Some((point, seq)) {
            eprintln!(
                "buzon: halted at {} {seq}",
                serde_json::to_string(&point)
                    .unwrap_or_default()
                    .trim_matches('"')
            );
            // Wait to be killed; give up after a bound so a forgotten process ends.
            std::thread::sleep(Duration::from_secs(120));
            std::process::exit(99);
        }
    }
}

impl Progress {
    fn new(json: bool) -> Self {
        let halt = std::env::var("BUZON_FETCH_HALT_AT").ok().and_then(|v| {
            let (p, n) = v.split_once(':')?;
            Some((Checkpoint::parse(p)?, n.parse().ok()?))
        });
        let bar = (!json && std::io::stdout().is_terminal()).then(|| {
            let b = ProgressBar::new(1);
            b.set_style(
                ProgressStyle::with_template(
                    "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b
        });
        Self {
            bar,
            halt,
            quiet: json,
            msgs: (0, 0),
            account: String::new(),
        }
    }
}

pub fn run(args: FetchArgs) -> Result<(), Failure> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::runtime(t!("cli-no-runtime", reason = e.to_string())))?;
    rt.block_on(run_async(args))
}

async fn run_async(args: FetchArgs) -> Result<(), Failure> {
    if args.json {
        // Machine-read output: the texts inside it are English in every locale.
        buzon_i18n::set_current(buzon_i18n::Lang::En);
    }
    let cfg = args.common.file()?;
    let accounts = args.common.accounts(&args.accounts, &cfg)?;
    let resolver = args.common.resolver();
    if args.authorize {
        for a in &accounts {
            authorize(&cfg, a, &resolver).await?;
        }
        return Ok(());
    }
    // Passwords are asked once; OAuth tokens are taken (and renewed) at each run.
    let mut passwords = Vec::new();
    for a in &accounts {
        if uses_own_tokens(a) {
            passwords.push(None);
            continue;
        }
        match password(a)? {
            Some(p) => passwords.push(Some(p)),
            None => return Err(Failure::usage(t!("fetch-no-password", account = &a.name))),
        }
    }
    let every = match &args.every {
        None => None,
        Some(t) => Some(
            buzon_client::config::parse_duration(t)
                .filter(|d| *d >= Duration::from_secs(10))
                .ok_or_else(|| Failure::usage(t!("fetch-bad-every", value = t)))?,
        ),
    };
    loop {
        let code = once(&args, &cfg, &accounts, &passwords, &resolver).await?;
        let Some(period) = every else {
            return if code == 0 {
                Ok(())
            } else {
                Err(Failure {
                    message: String::new(),
                    code,
                })
            };
        };
        let jitter = {
            use rand::Rng;
            let tenth = period.as_millis() as u64 / 10;
            rand::thread_rng().gen_range(0..=2 * tenth) as i64 - tenth as i64
        };
        let wait = Duration::from_millis((period.as_millis() as i64 + jitter).max(1000) as u64);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

async fn once(
    args: &FetchArgs,
    cfg: &buzon_client::FileConfig,
    accounts: &[buzon_client::Account],
    passwords: &[Option<Secret>],
    resolver: &buzon_client::Resolver,
) -> Result<u8, Failure> {
    let mut first_failure: Option<u8> = None;
    let mut any_new = false;
    let mut json = Vec::new();
    for (account, pw) in accounts.iter().zip(passwords) {
        let token;
        let pw = match pw {
            Some(p) => p,
            None => match credential(cfg, account, resolver).await {
                Ok(Some(t)) => {
                    token = t;
                    &token
                }
                Ok(None) => continue,
                Err(e) => {
                    first_failure.get_or_insert(e.exit_code());
                    report_error(args.json, &mut json, &account.name, &e);
                    continue;
                }
            },
        };
        if args.list {
            match list_waiting(account, pw, resolver, &cfg.ledger_dir()).await {
                Ok(list) => {
                    if args.json {
                        json.push(serde_json::json!({ "account": account.name, "ok": true, "messages": list }));
                    } else {
                        println!(
                            "{}",
                            t!(
                                "fetch-on-server",
                                account = &account.name,
                                count = list.len()
                            )
                        );
                        for w in &list {
                            println!(
                                "  {:>4} {:>9} {} {:<30.30} {:<40.40} {}",
                                w.msg,
                                buzon_client::fetch::human_bytes(w.size),
                                if w.downloaded { "✓" } else { "*" },
                                w.from,
                                w.subject,
                                w.date
                            );
                        }
                    }
                    any_new |= list.iter().any(|w| !w.downloaded);
                }
                Err(e) => {
                    first_failure.get_or_insert(e.exit_code());
                    report_error(args.json, &mut json, &account.name, &e);
                }
            }
            continue;
        }
        let mut opts = FetchOptions::new(cfg.ledger_dir());
        opts.dry_run = args.dry_run;
        opts.limit = args.limit;
        let mut progress = Progress::new(args.json);
        let result = fetch(account, pw, resolver, &opts, &mut progress).await;
        if let Some(bar) = &progress.bar {
            bar.finish_and_clear();
        }
        match result {
            Ok(report) => {
                if args.dry_run {
                    any_new |= report.plan.iter().any(|p| p.action.starts_with("fetch"));
                    if !args.json {
                        print_plan(&report);
                    }
                } else {
                    any_new |= report.fetched > 0;
                    if !args.json {
                        println!("{}: {}", account.name, report.summary());
                    }
                }
                if args.json {
                    json.push(serde_json::json!({ "account": account.name, "ok": true, "summary": report.summary(), "report": report }));
                }
            }
            Err(f) => {
                first_failure.get_or_insert(f.error.exit_code());
                if f.partial.fetched > 0 && !args.json {
                    println!(
                        "{}",
                        t!(
                            "fetch-before-error",
                            account = &account.name,
                            summary = f.partial.summary()
                        )
                    );
                }
                report_error(args.json, &mut json, &account.name, &f.error);
                if args.json {
                    if let Some(last) = json.last_mut() {
                        last["report"] = serde_json::to_value(&f.partial).unwrap_or_default();
                    }
                }
            }
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        );
    }
    Ok(first_failure.unwrap_or(if any_new { 0 } else { 1 }))
}

fn report_error(json: bool, out: &mut Vec<serde_json::Value>, account: &str, e: &ClientError) {
    if json {
        out.push(serde_json::json!({ "account": account, "ok": false, "error": { "class": e.class(), "exit_code": e.exit_code(), "message": e.to_string() } }));
    } else {
        eprintln!("buzon: {account}: {e}");
    }
}

fn print_plan(r: &FetchReport) {
    println!(
        "{}",
        t!(
            "fetch-on-server-dry-run",
            account = &r.account,
            count = r.on_server
        )
    );
    for p in &r.plan {
        println!(
            "  {:>4} {:<14} {:>9}  {}  {}",
            p.msg,
            p.action,
            buzon_client::fetch::human_bytes(p.size),
            p.uidl.as_deref().unwrap_or("-"),
            p.reason
        );
    }
}
