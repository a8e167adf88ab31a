//! `buzon serve`: load the config (or the embedded default), prepare a first run, bind
//! the listeners, switch to the `[server] user` account when started as root, start the
//! server, and stop it cleanly on SIGTERM/SIGINT; SIGHUP reloads the TLS certificate.

use buzon_i18n::t;
use std::path::PathBuf;
use std::time::Duration;

use buzon_server::{privileges, Config, Protocol};
use clap::Args;
use rand::distributions::{Alphanumeric, DistString};

use crate::Failure;

#[derive(Args)]
pub struct ServeArgs {
    /// Config file (TOML). Without it Buzón runs on the embedded default: loopback only,
    /// unprivileged ports, data in --data-dir.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Data folder for the embedded default (ignored with --config).
    #[arg(long, default_value = "./buzon-data")]
    data_dir: PathBuf,
    /// Log filter (also RUST_LOG), e.g. "info" or "buzon=debug".
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    log: String,
}

pub fn run(args: ServeArgs) -> Result<(), Failure> {
    let (config, zero_config) = match &args.config {
        Some(path) => (Config::load(path).map_err(Failure::usage)?, false),
        None => (Config::embedded_default(&args.data_dir), true),
    };
    init_logging(&args.log, config.log_json);
    let account = config
        .run_as
        .as_ref()
        .map(privileges::resolve)
        .transpose()
        .map_err(Failure::runtime)?;
    let switching = account.as_ref().filter(|_| privileges::is_root());
    privileges::create_data_dir(&config.data_dir, switching).map_err(Failure::runtime)?;
    if privileges::is_root() && switching.is_none() {
        // Root writes in the data folder for as long as it runs (the first start's users
        // file and demo mailbox included): nobody else may own it.
        privileges::check_data_dir_owner_for_root(&config.data_dir).map_err(Failure::runtime)?;
    }
    if zero_config {
        first_run(&config)?;
    }
    // Privileged steps: bind the listeners (ports below 1024) and read the TLS key. Then
    // switch accounts while this is the only thread, before any client byte is read.
    let bound = buzon_server::bind(config).map_err(Failure::runtime)?;
    match &account {
        Some(a) => {
            privileges::drop_to(a).map_err(Failure::runtime)?;
            tracing::info!(user = %a.user, uid = a.uid, group = %a.group, gid = a.gid, "running as the server account");
        }
        None if privileges::is_root() => {
            tracing::warn!("running as root: set `[server] user` to an unprivileged account so sessions never run with root's rights");
        }
        None => {}
    }
    for warning in privileges::check_data_dir(&bound.config().data_dir).map_err(Failure::runtime)? {
        tracing::warn!("{warning}");
    }
    // jemalloc's background thread purges pages freed after a burst of sessions within
    // seconds (its 10 s decay), even while the server is idle; without it, unused pages
    // are only returned during later allocations. Started after the account switch,
    // which must find this the only thread.
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::warn!(error = %e, "cannot start the allocator's background thread; memory freed after a burst may be kept");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::runtime(t!("serve-no-runtime", reason = e.to_string())))?;
    rt.block_on(serve(bound))
}

async fn serve(bound: buzon_server::BoundServer) -> Result<(), Failure> {
    let server = bound.serve().await.map_err(Failure::runtime)?;
    for (p, addr) in server.local_addrs() {
        let what = t!(match p {
            Protocol::Pop3 => "serve-what-pop3",
            Protocol::Pop3s => "serve-what-pop3s",
            Protocol::Lmtp => "serve-what-lmtp",
            Protocol::Smtp => "serve-what-smtp",
            Protocol::Https => "serve-what-https",
            Protocol::Http => "serve-what-http",
            Protocol::Metrics => "serve-what-metrics",
        });
        println!(
            "buzon: {}",
            t!("serve-listening", what = what, addr = addr.to_string())
        );
    }
    for (_, path) in server.unix_paths() {
        println!(
            "buzon: {}",
            t!(
                "serve-listening",
                what = t!("serve-what-lmtp"),
                addr = format!("unix:{}", path.display())
            )
        );
    }
    println!(
        "buzon: {}",
        t!(
            "serve-certificate",
            fingerprint = server.tls_fingerprint().to_string()
        )
    );
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(|e| {
        Failure::runtime(t!(
            "serve-no-signal",
            signal = "SIGTERM",
            reason = e.to_string()
        ))
    })?;
    let mut hup = signal(SignalKind::hangup()).map_err(|e| {
        Failure::runtime(t!(
            "serve-no-signal",
            signal = "SIGHUP",
            reason = e.to_string()
        ))
    })?;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
            _ = hup.recv() => match server.reload_tls() {
                Ok(fp) => tracing::info!(sha256 = %fp, "reloaded the TLS certificate"),
                Err(e) => tracing::error!("TLS reload failed, keeping the old certificate: {e}"),
            },
        }
    }
    tracing::info!("shutting down: open sessions are told, nothing they marked is deleted");
    server.shutdown(Duration::from_secs(10)).await;
    Ok(())
}

fn init_logging(filter: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // `log_format = "json"`: one object per line with the same fields as the text form
    // (the per-session line's user, remote, tls, commands, retr, … and the message).
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init()
    };
}

/// On the very first zero-config start: a `demo` user with a random password (printed
/// once, never stored in plaintext) and a welcome message in its mailbox.
fn first_run(config: &Config) -> Result<(), Failure> {
    let users = &config.auth.users_file;
    if users.exists() {
        return Ok(());
    }
    let password = Alphanumeric.sample_string(&mut rand::thread_rng(), 16);
    let stored = buzon_auth::hash_new_password(
        password.as_bytes(),
        config.auth.password_scheme,
        &config.auth.hash,
    );
    buzon_auth::add_user(users, "demo", &stored).map_err(Failure::runtime)?;
    let mailbox = config.mail_dir.join("demo");
    let maildir = buzon_store::Maildir::create(&mailbox).map_err(Failure::runtime)?;
    let welcome = welcome_message(&config.hostname);
    maildir
        .deliver(&mut welcome.as_slice(), None)
        .map_err(Failure::runtime)?;
    let pop3s = config
        .listeners
        .iter()
        .find(|l| l.protocol == Protocol::Pop3s)
        .map(|l| l.address.to_string())
        .unwrap_or_default();
    println!("buzon: {}", t!("serve-first-user", password = &password));
    println!(
        "buzon: {}",
        t!(
            "serve-first-once",
            dir = config.data_dir.display().to_string()
        )
    );
    println!(
        "buzon: {}",
        t!("serve-first-try", password = &password, addr = &pop3s)
    );
    Ok(())
}

fn welcome_message(host: &str) -> Vec<u8> {
    let date = buzon_store::date::rfc5322(buzon_store::date::now_secs());
    format!(
        "From: Buzon <postmaster@{host}>\nTo: demo@{host}\nSubject: Welcome to Buzon\nDate: {date}\nMessage-ID: <welcome.{}@{host}>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nYour Buzón server is running.\n\nThis message was downloaded over POP3. Add users with `buzon user add NAME`,\nand point your mail client at port 1995 (TLS) or 1110 (STLS).\n",
        std::process::id()
    )
    .into_bytes()
}
