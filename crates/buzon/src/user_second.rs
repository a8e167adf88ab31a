//! `buzon user app-password add|list|revoke` and `buzon user 2fa enable|disable|status`:
//! a user's app passwords and two-step verification, in the users file and the
//! credentials folder, or in the PostgreSQL store's tables.
//!
//! Two-step verification is turned on by the user's extra field `two_step=totp` (read
//! from memory at every login, like the password); the TOTP secret, the recovery codes
//! and the app passwords are in the credential store. Enabling stores the secret before
//! setting the field; disabling clears the field before removing the secret, so an
//! interrupted command never leaves an account that takes its main password alone while
//! a secret says otherwise.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use buzon_auth::{
    AppScope, CredentialStore, CredentialsDir, TotpEnrolment, UserEntry, TWO_STEP_FIELD,
};
use buzon_i18n::t;
use buzon_server::Config;
use clap::Subcommand;

use crate::Failure;

#[derive(Subcommand)]
pub enum AppPasswordAction {
    /// Make an app password for USER, named NAME ("laptop — Thunderbird"); it is shown
    /// once and stored only as a hash.
    Add {
        user: String,
        name: String,
        /// Where it may be used: pop3, or all mail protocols.
        #[arg(long, default_value = "pop3", value_parser = ["pop3", "all"])]
        scope: String,
    },
    /// List USER's app passwords: name, identifier, scope, creation, last use and address.
    List { user: String },
    /// Revoke one of USER's app passwords, by name or identifier; the next login with it fails.
    Revoke { user: String, name: String },
}

#[derive(Subcommand)]
pub enum TwoStepAction {
    /// Turn on two-step verification: prints an otpauth:// URI and its QR code, asks for
    /// a first code from the app, and prints one-time recovery codes. POP3 then takes app
    /// passwords only.
    Enable { user: String },
    /// Turn it off: the main password works in POP3 again; app passwords stay.
    Disable { user: String },
    /// Whether it is on, recovery codes left, and the number of app passwords.
    Status { user: String },
}

/// Where the users and their credentials are.
enum Accounts {
    File {
        users_file: PathBuf,
        credentials: Arc<dyn CredentialStore>,
    },
    Pg {
        store: buzon_store_pg::PgStore,
        runtime: tokio::runtime::Runtime,
        credentials: Arc<dyn CredentialStore>,
    },
}

impl Accounts {
    fn open(config: &Config) -> Result<Accounts, Failure> {
        match &config.store {
            buzon_store::StoreSettings::Maildir => Ok(Accounts::File {
                users_file: config.auth.users_file.clone(),
                credentials: Arc::new(CredentialsDir::new(config.auth.credentials_dir.clone())),
            }),
            buzon_store::StoreSettings::Postgres(settings) => {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .map_err(|e| Failure::runtime(t!("cli-no-runtime", reason = e.to_string())))?;
                let store = runtime
                    .block_on(buzon_store_pg::PgStore::connect(settings))
                    .map_err(Failure::runtime)?;
                let credentials = {
                    let _inside = runtime.enter();
                    Arc::new(buzon_server::stores::PgCredentials::new(store.clone()))
                };
                Ok(Accounts::Pg {
                    store,
                    runtime,
                    credentials,
                })
            }
        }
    }

    fn credentials(&self) -> &dyn CredentialStore {
        match self {
            Accounts::File { credentials, .. } | Accounts::Pg { credentials, .. } => {
                credentials.as_ref()
            }
        }
    }

    /// The user's entry, or a one-line error naming the source.
    fn entry(&self, user: &str) -> Result<UserEntry, Failure> {
        let found = match self {
            Accounts::File { users_file, .. } => {
                buzon_auth::check_users_file_as_root(users_file).map_err(Failure::runtime)?;
                let db = buzon_auth::UserDb::load(users_file).map_err(Failure::runtime)?;
                db.lookup(user).cloned()
            }
            Accounts::Pg { store, runtime, .. } => {
                let (_, entries) = runtime
                    .block_on(store.user_snapshot())
                    .map_err(Failure::runtime)?;
                entries
                    .into_iter()
                    .find(|e| e.name.eq_ignore_ascii_case(user))
            }
        };
        found.ok_or_else(|| Failure::runtime(buzon_auth::AuthError::NoSuchUser(user.to_string())))
    }

    /// Sets or removes the extra field that turns two-step verification on.
    fn set_two_step(&self, entry: &UserEntry, on: bool) -> Result<(), Failure> {
        match self {
            Accounts::File { users_file, .. } => buzon_auth::set_extra_field(
                users_file,
                &entry.name,
                TWO_STEP_FIELD,
                on.then_some("totp"),
            )
            .map_err(Failure::runtime),
            Accounts::Pg { store, runtime, .. } => {
                let mut extra: Vec<(String, String)> = entry
                    .extra
                    .iter()
                    .filter(|(k, _)| k != TWO_STEP_FIELD)
                    .cloned()
                    .collect();
                if on {
                    extra.push((TWO_STEP_FIELD.to_string(), "totp".to_string()));
                }
                runtime
                    .block_on(store.set_extra(&entry.name, &extra))
                    .map_err(Failure::runtime)
            }
        }
    }
}

fn now() -> u64 {
    buzon_store::date::now_secs()
}

pub fn app_password(config: &Config, action: AppPasswordAction) -> Result<(), Failure> {
    let accounts = Accounts::open(config)?;
    match action {
        AppPasswordAction::Add { user, name, scope } => {
            let entry = accounts.entry(&user)?;
            let scope = AppScope::parse(&scope).unwrap_or(AppScope::Pop3);
            let mut shown = None;
            accounts
                .credentials()
                .modify(&entry.name, &mut |c| {
                    buzon_auth::check_app_password_name(&name, &c.app_passwords)?;
                    let new =
                        buzon_auth::generate_app_password(&name, scope, now(), &c.app_passwords);
                    c.app_passwords.push(new.entry);
                    shown = Some(new.shown);
                    Ok(())
                })
                .map_err(Failure::runtime)?;
            let shown = shown.unwrap_or_default();
            println!(
                "{}",
                t!(
                    "app-password-added",
                    user = entry.name.as_str(),
                    name = name.as_str(),
                    scope = scope.as_str()
                )
            );
            println!();
            println!("    {shown}");
            println!();
            println!("{}", t!("app-password-added-note"));
            if two_step_off(&entry) {
                println!(
                    "{}",
                    t!("app-password-added-no-two-step", user = entry.name.as_str())
                );
            }
        }
        AppPasswordAction::List { user } => {
            let entry = accounts.entry(&user)?;
            let creds = accounts
                .credentials()
                .load(&entry.name)
                .map_err(Failure::runtime)?;
            if creds.app_passwords.is_empty() {
                println!("{}", t!("app-password-none", user = entry.name.as_str()));
                return Ok(());
            }
            println!("{}", t!("app-password-list-header"));
            for a in &creds.app_passwords {
                let used = a
                    .last_used
                    .map(buzon_store::date::rfc5322)
                    .unwrap_or_else(|| t!("app-password-never-used"));
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    a.name,
                    a.id,
                    a.scope.as_str(),
                    buzon_store::date::rfc5322(a.created),
                    used,
                    a.last_address.as_deref().unwrap_or("-")
                );
            }
        }
        AppPasswordAction::Revoke { user, name } => {
            let entry = accounts.entry(&user)?;
            let mut gone = None;
            accounts
                .credentials()
                .modify(&entry.name, &mut |c| {
                    gone = c.revoke(&name);
                    Ok(())
                })
                .map_err(Failure::runtime)?;
            match gone {
                Some(a) => println!(
                    "{}",
                    t!(
                        "app-password-revoked",
                        user = entry.name.as_str(),
                        name = a.name.as_str(),
                        id = a.id.as_str()
                    )
                ),
                None => {
                    return Err(Failure::runtime(t!(
                        "app-password-not-found",
                        user = entry.name.as_str(),
                        name = name.as_str()
                    )))
                }
            }
        }
    }
    Ok(())
}

/// Removes a deleted user's app passwords and two-step secrets (Maildir store: the
/// user's file in the credentials folder).
pub fn forget(config: &Config, user: &str) -> Result<(), Failure> {
    CredentialsDir::new(config.auth.credentials_dir.clone())
        .modify(user, &mut |c| {
            *c = Default::default();
            Ok(())
        })
        .map_err(Failure::runtime)
}

fn two_step_off(entry: &UserEntry) -> bool {
    entry.extra_field(TWO_STEP_FIELD).is_none_or(|v| {
        matches!(
            v.to_ascii_lowercase().as_str(),
            "off" | "no" | "false" | "0"
        )
    })
}

/// Reads a code: a prompt on a terminal, else the next line of stdin.
fn read_code(prompt: &str) -> Result<Option<String>, Failure> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        print!("{prompt}");
        let _ = std::io::stdout().flush();
    }
    let mut line = String::new();
    let n = stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::runtime(t!("two-step-cannot-read-code", reason = e.to_string())))?;
    Ok((n > 0).then(|| line.trim().to_string()))
}

fn qr(uri: &str) -> Option<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    // Light modules drawn dark and dark ones light read well on the usual dark terminal
    // and, with the quiet zone, on a light one too.
    Some(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

pub fn two_step(config: &Config, action: TwoStepAction) -> Result<(), Failure> {
    let accounts = Accounts::open(config)?;
    match action {
        TwoStepAction::Enable { user } => {
            let entry = accounts.entry(&user)?;
            if !two_step_off(&entry) {
                return Err(Failure::runtime(t!(
                    "two-step-already-on",
                    user = entry.name.as_str()
                )));
            }
            let enrolment = TotpEnrolment::new();
            let issuer = format!("Buzón {}", config.hostname);
            let uri = enrolment.uri(&issuer, &entry.name);
            println!("{}", t!("two-step-scan", user = entry.name.as_str()));
            println!();
            if let Some(code) = qr(&uri) {
                println!("{code}");
            }
            println!("{uri}");
            println!();
            println!(
                "{}",
                t!(
                    "two-step-secret",
                    secret = enrolment.secret_base32().as_str()
                )
            );
            let tries = if std::io::stdin().is_terminal() { 3 } else { 1 };
            let mut confirmed = None;
            for _ in 0..tries {
                let Some(code) = read_code(&t!("two-step-prompt-code"))? else {
                    break;
                };
                match enrolment.confirm(&code, now()) {
                    Some(done) => {
                        confirmed = Some(done);
                        break;
                    }
                    None => eprintln!("{}", t!("two-step-code-wrong")),
                }
            }
            let Some((two, recovery)) = confirmed else {
                return Err(Failure::runtime(t!(
                    "two-step-not-confirmed",
                    user = entry.name.as_str()
                )));
            };
            accounts
                .credentials()
                .modify(&entry.name, &mut |c| {
                    c.two_step = Some(two.clone());
                    Ok(())
                })
                .map_err(Failure::runtime)?;
            accounts.set_two_step(&entry, true)?;
            println!("{}", t!("two-step-enabled", user = entry.name.as_str()));
            println!();
            for code in &recovery {
                println!("    {code}");
            }
            println!();
            println!("{}", t!("two-step-recovery-note"));
        }
        TwoStepAction::Disable { user } => {
            let entry = accounts.entry(&user)?;
            accounts.set_two_step(&entry, false)?;
            accounts
                .credentials()
                .modify(&entry.name, &mut |c| {
                    c.two_step = None;
                    Ok(())
                })
                .map_err(Failure::runtime)?;
            println!("{}", t!("two-step-disabled", user = entry.name.as_str()));
        }
        TwoStepAction::Status { user } => {
            let entry = accounts.entry(&user)?;
            let creds = accounts
                .credentials()
                .load(&entry.name)
                .map_err(Failure::runtime)?;
            let apps = creds.app_passwords.len();
            match (&creds.two_step, two_step_off(&entry)) {
                (_, true) => println!(
                    "{}",
                    t!(
                        "two-step-status-off",
                        user = entry.name.as_str(),
                        apps = apps
                    )
                ),
                (Some(t), false) => println!(
                    "{}",
                    t!(
                        "two-step-status-on",
                        user = entry.name.as_str(),
                        since = buzon_store::date::rfc5322(t.enabled),
                        recovery = t.recovery_left(),
                        apps = apps
                    )
                ),
                (None, false) => println!(
                    "{}",
                    t!(
                        "two-step-status-apps-only",
                        user = entry.name.as_str(),
                        apps = apps
                    )
                ),
            }
        }
    }
    Ok(())
}
