//! `buzon user add|passwd|del|list`: edit the passwd-file. Passwords come from a prompt
//! (no echo) or, when stdin is not a terminal, from its first line — never from argv,
//! where other users could read them in the process list.

use buzon_i18n::t;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use buzon_server::Config;
use clap::{Args, Subcommand};

use crate::Failure;

#[derive(Args)]
pub struct UserArgs {
    /// Config file whose users file to edit.
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    /// Data folder of a zero-config server (its users file is DATA_DIR/users).
    #[arg(long, global = true, default_value = "./buzon-data")]
    data_dir: PathBuf,
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Add a user; the password is read from a prompt or stdin.
    Add { name: String },
    /// Change a user's password; read from a prompt or stdin.
    Passwd { name: String },
    /// Remove a user (the mailbox is kept on disk).
    Del { name: String },
    /// List the users.
    List,
    /// App passwords: for mail programs when two-step verification is on, or to give
    /// each device its own revocable password.
    #[command(name = "app-password", subcommand)]
    AppPassword(crate::user_second::AppPasswordAction),
    /// Two-step verification (TOTP): POP3 then takes app passwords only.
    #[command(name = "2fa", subcommand)]
    TwoStep(crate::user_second::TwoStepAction),
}

pub fn run(args: UserArgs) -> Result<(), Failure> {
    let config = match &args.config {
        Some(p) => Config::load(p).map_err(Failure::usage)?,
        None => Config::embedded_default(&args.data_dir),
    };
    match args.action {
        Action::AppPassword(a) => return crate::user_second::app_password(&config, a),
        Action::TwoStep(a) => return crate::user_second::two_step(&config, a),
        _ => {}
    }
    if let buzon_store::StoreSettings::Postgres(settings) = &config.store {
        return run_pg(&config, settings, args.action);
    }
    let file = &config.auth.users_file;
    match args.action {
        Action::Add { name } => {
            buzon_auth::validate_username(&name).map_err(Failure::usage)?;
            let pw = read_password()?;
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    Failure::runtime(t!(
                        "user-cannot-create",
                        path = parent.display().to_string(),
                        reason = e.to_string()
                    ))
                })?;
            }
            let stored = buzon_auth::hash_new_password(
                pw.as_bytes(),
                config.auth.password_scheme,
                &config.auth.hash,
            );
            buzon_auth::add_user(file, &name, &stored).map_err(Failure::runtime)?;
            println!(
                "{}",
                t!(
                    "user-added",
                    name = &name,
                    file = file.display().to_string()
                )
            );
        }
        Action::Passwd { name } => {
            let pw = read_password()?;
            let stored = buzon_auth::hash_new_password(
                pw.as_bytes(),
                config.auth.password_scheme,
                &config.auth.hash,
            );
            buzon_auth::set_password(file, &name, &stored).map_err(Failure::runtime)?;
            println!("{}", t!("user-password-changed", name = &name));
        }
        Action::Del { name } => {
            buzon_auth::remove_user(file, &name).map_err(Failure::runtime)?;
            crate::user_second::forget(&config, &name)?;
            println!(
                "{}",
                t!(
                    "user-removed",
                    name = &name,
                    maildir = config.mail_dir.display().to_string()
                )
            );
        }
        Action::AppPassword(_) | Action::TwoStep(_) => {}
        Action::List => {
            buzon_auth::check_users_file_as_root(file).map_err(Failure::runtime)?;
            let db = buzon_auth::UserDb::load(file).map_err(Failure::runtime)?;
            for u in db.users() {
                println!("{}\t{}", u.name, scheme_of(&u.password));
            }
        }
    }
    Ok(())
}

/// The same actions against the users table of the PostgreSQL store.
fn run_pg(
    config: &Config,
    settings: &buzon_store::PgSettings,
    action: Action,
) -> Result<(), Failure> {
    // Read before connecting: a prompt must not wait while a connection is held open.
    let stored = match &action {
        Action::Add { name } => {
            buzon_auth::validate_username(name).map_err(Failure::usage)?;
            Some(buzon_auth::hash_new_password(
                read_password()?.as_bytes(),
                config.auth.password_scheme,
                &config.auth.hash,
            ))
        }
        Action::Passwd { .. } => Some(buzon_auth::hash_password(
            read_password()?.as_bytes(),
            &config.auth.hash,
        )),
        Action::Del { .. } | Action::List | Action::AppPassword(_) | Action::TwoStep(_) => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| Failure::runtime(t!("cli-no-runtime", reason = e.to_string())))?;
    runtime.block_on(async {
        let store = buzon_store_pg::PgStore::connect(settings)
            .await
            .map_err(Failure::runtime)?;
        let url = store.display_url().to_string();
        match (action, stored) {
            (Action::Add { name }, Some(stored)) => {
                store
                    .add_user(&name, &stored)
                    .await
                    .map_err(Failure::runtime)?;
                println!("{}", t!("user-added", name = &name, file = &url));
            }
            (Action::Passwd { name }, Some(stored)) => {
                store
                    .set_password(&name, &stored)
                    .await
                    .map_err(Failure::runtime)?;
                println!("{}", t!("user-password-changed", name = &name));
            }
            (Action::Del { name }, _) => {
                store.remove_user(&name).await.map_err(Failure::runtime)?;
                store
                    .modify_credentials(&name, &mut |c| {
                        *c = Default::default();
                        Ok(())
                    })
                    .await
                    .map_err(Failure::runtime)?;
                println!("{}", t!("user-removed", name = &name, maildir = &url));
            }
            (Action::List, _) => {
                let (_, entries) = store.user_snapshot().await.map_err(Failure::runtime)?;
                for u in entries {
                    println!("{}\t{}", u.name, scheme_of(&u.password));
                }
            }
            (Action::Add { .. } | Action::Passwd { .. }, None)
            | (Action::AppPassword(_) | Action::TwoStep(_), _) => {}
        }
        Ok(())
    })
}

/// The scheme of a stored password (`{SCHEME}…`; crypt strings without one).
fn scheme_of(stored: &str) -> &str {
    stored
        .strip_prefix('{')
        .and_then(|r| r.split_once('}'))
        .map(|(s, _)| s)
        .unwrap_or("CRYPT")
}

fn read_password() -> Result<String, Failure> {
    let pw = if std::io::stdin().is_terminal() {
        let unreadable = |e: std::io::Error| {
            Failure::runtime(t!("user-cannot-read-password", reason = e.to_string()))
        };
        let a = rpassword::prompt_password(t!("user-prompt-password")).map_err(unreadable)?;
        let b = rpassword::prompt_password(t!("user-prompt-again")).map_err(unreadable)?;
        if a != b {
            return Err(Failure::usage(t!("user-passwords-differ")));
        }
        a
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Failure::runtime(t!("user-cannot-read-stdin", reason = e.to_string())))?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    if pw.is_empty() {
        return Err(Failure::usage(t!("user-empty-password")));
    }
    Ok(pw)
}
