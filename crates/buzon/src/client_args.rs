//! Flags shared by `buzon fetch` and `buzon check`: which accounts (from the accounts file
//! or from flags alone), and how to get each account's password.

use buzon_i18n::t;
use std::io::IsTerminal;
use std::path::PathBuf;

use buzon_client::config::{default_config_path, AccountFields, FileConfig, Oversize, SizeValue};
use buzon_client::{Account, AuthMethod, PasswordSource, Resolver, Secret, Security};
use clap::Args;

use crate::Failure;

/// Accounts from the file, or one account from flags.
/// Where downloaded mail goes (shared by `fetch`, `check` and `setup`).
#[derive(Args, Debug, Clone, Default)]
pub struct DestinationArgs {
    /// Store mail in this Maildir (the default destination is ~/Maildir).
    #[arg(long, value_name = "DIR")]
    pub maildir: Option<PathBuf>,
    /// Append mail to this mbox file instead.
    #[arg(long, value_name = "FILE")]
    pub mbox: Option<PathBuf>,
    /// Hand each message to this delivery program (words split on spaces; no shell).
    #[arg(long, value_name = "COMMAND")]
    pub mda: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct AccountArgs {
    /// The accounts file (default: $XDG_CONFIG_HOME/buzon/accounts.toml).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Where ledgers are kept (overrides ledger_dir in the accounts file).
    #[arg(long)]
    pub ledger_dir: Option<PathBuf>,
    /// Resolve names through this DNS server (ADDRESS:PORT) instead of the system's.
    #[arg(long, value_name = "ADDRESS:PORT")]
    pub dns_server: Option<std::net::SocketAddr>,

    /// One-off account: the POP3 server (the other one-off flags apply only with it).
    #[arg(long)]
    pub host: Option<String>,
    #[arg(long)]
    pub port: Option<u16>,
    /// tls (995), starttls (110) or none.
    #[arg(long, value_parser = parse_security)]
    pub security: Option<Security>,
    #[arg(long)]
    pub user: Option<String>,
    /// auto, scram-sha-256, plain, login, apop or user.
    #[arg(long, value_parser = parse_auth)]
    pub auth: Option<AuthMethod>,
    /// Read the password from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Run this program (no shell; words split on spaces) and use the first line it prints.
    #[arg(long, value_name = "COMMAND")]
    pub password_command: Option<String>,
    /// Trust this CA certificate file (PEM) besides the system's.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Accept exactly this certificate (sha256:… as printed by `buzon check`).
    #[arg(long)]
    pub fingerprint: Option<String>,
    /// Send the password unencrypted where there is no TLS.
    #[arg(long)]
    pub allow_plaintext: bool,
    #[command(flatten)]
    pub dest: DestinationArgs,
    /// Leave a copy on the server (only new messages are fetched).
    #[arg(long)]
    pub keep: bool,
    #[arg(long, value_name = "N")]
    pub delete_after_days: Option<u32>,
    /// Do not download messages larger than this ("20MB").
    #[arg(long, value_name = "SIZE")]
    pub max_size: Option<String>,
    /// For messages over max_size: skip (default) or headers.
    #[arg(long, value_parser = parse_oversize)]
    pub oversize: Option<Oversize>,
    /// Time limit for each reply ("60s").
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Time limit for connecting and the TLS handshake ("20s").
    #[arg(long, value_name = "DURATION")]
    pub connect_timeout: Option<String>,
}

fn parse_security(s: &str) -> Result<Security, String> {
    match Security::parse(s) {
        Some((security, None)) => Ok(security),
        Some((security, Some(canonical))) => {
            eprintln!("buzon: note: --security {s} is read as {canonical}; write {canonical}");
            Ok(security)
        }
        None => Err("expected tls, starttls or none".into()),
    }
}

fn parse_auth(s: &str) -> Result<AuthMethod, String> {
    Ok(match s {
        "auto" => AuthMethod::Auto,
        "scram-sha-256" => AuthMethod::ScramSha256,
        "plain" => AuthMethod::Plain,
        "login" => AuthMethod::Login,
        "apop" => AuthMethod::Apop,
        "user" => AuthMethod::User,
        _ => return Err("expected auto, scram-sha-256, plain, login, apop or user".into()),
    })
}

fn parse_oversize(s: &str) -> Result<Oversize, String> {
    match s {
        "skip" => Ok(Oversize::Skip),
        "headers" => Ok(Oversize::Headers),
        _ => Err("expected skip or headers".into()),
    }
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

impl AccountArgs {
    pub fn file(&self) -> Result<FileConfig, Failure> {
        let path = self.config.clone().unwrap_or_else(default_config_path);
        let mut cfg = FileConfig::load(&path).map_err(Failure::usage)?;
        if let Some(d) = &self.ledger_dir {
            cfg.ledger_dir = Some(d.clone());
        }
        Ok(cfg)
    }

    pub fn resolver(&self) -> Resolver {
        match self.dns_server {
            Some(a) => Resolver::with_name_server(a),
            None => Resolver::system(),
        }
    }

    /// The one-off account's fields from flags (also used to override file accounts'
    /// policy flags such as --keep).
    fn flag_fields(&self) -> AccountFields {
        AccountFields {
            host: self.host.clone(),
            port: self.port,
            security: self.security,
            user: self.user.clone(),
            auth: self.auth,
            password_command: self.password_command.as_deref().map(words),
            password_env: self.password_env.clone(),
            ca_file: self.ca_file.clone(),
            fingerprint: self.fingerprint.clone(),
            tls_server_name: None,
            allow_plaintext: self.allow_plaintext.then_some(true),
            maildir: self.dest.maildir.clone(),
            mbox: self.dest.mbox.clone(),
            mda: self.dest.mda.as_deref().map(words),
            keep: self.keep.then_some(true),
            delete_after_days: self.delete_after_days,
            max_size: self.max_size.clone().map(SizeValue::Text),
            oversize: self.oversize,
            limit: None,
            timeout: self.timeout.clone(),
            connect_timeout: self.connect_timeout.clone(),
            ..AccountFields::default()
        }
    }

    /// The accounts to work on: the one-off account when --host is given, else the named
    /// ones, else all accounts in the file.
    pub fn accounts(&self, names: &[String], cfg: &FileConfig) -> Result<Vec<Account>, Failure> {
        self.accounts_with(names, cfg, true)
    }

    /// The accounts for `buzon check`: a diagnosis stores nothing, so no destination is
    /// needed.
    pub fn accounts_for_check(
        &self,
        names: &[String],
        cfg: &FileConfig,
    ) -> Result<Vec<Account>, Failure> {
        self.accounts_with(names, cfg, false)
    }

    fn accounts_with(
        &self,
        names: &[String],
        cfg: &FileConfig,
        need_destination: bool,
    ) -> Result<Vec<Account>, Failure> {
        let validate = |f: AccountFields, name: &str| -> Result<Account, Failure> {
            if need_destination {
                f.validate(name).map_err(Failure::usage)
            } else {
                f.validate_for_check(name).map_err(Failure::usage)
            }
        };
        if self.host.is_some() {
            let f = self.flag_fields();
            let name = format!(
                "{}@{}",
                f.user.clone().unwrap_or_default(),
                f.host.clone().unwrap_or_default()
            );
            let f = f.with_defaults(&cfg.defaults);
            return Ok(vec![validate(f, &name)?]);
        }
        let names: Vec<String> = if names.is_empty() {
            cfg.accounts.keys().cloned().collect()
        } else {
            names.to_vec()
        };
        if names.is_empty() {
            return Err(Failure::usage(
                "no accounts: the accounts file has none — run `buzon setup you@example.com`, or give --host, --user and a destination",
            ));
        }
        let overrides = self.flag_fields();
        names
            .iter()
            .map(|n| {
                let Some(f) = cfg.accounts.get(n) else {
                    return cfg.account(n).map_err(Failure::usage);
                };
                // Flags given on the command line win over the file.
                validate(
                    overrides
                        .clone()
                        .with_defaults(f)
                        .with_defaults(&cfg.defaults),
                    n,
                )
            })
            .collect()
    }
}

/// Where an account's OAuth tokens are kept: `<ledger_dir>/<account>.oauth.json` (0600).
pub fn token_file(cfg: &FileConfig, account: &Account) -> buzon_client::oauth::TokenFile {
    buzon_client::oauth::TokenFile(
        cfg.ledger_dir()
            .join(format!("{}.oauth.json", account.name)),
    )
}

/// True when the account's "password" is an OAuth token this program gets itself (from
/// its token file, renewed with the refresh token) rather than from a source.
pub fn uses_own_tokens(account: &Account) -> bool {
    account.auth.uses_token()
        && account.oauth.is_some()
        && matches!(account.password, PasswordSource::Prompt)
}

/// What the account logs in with now: its password, or for OAuth its current access
/// token (renewed when it expired). `Ok(None)`: no password and no terminal to ask on.
pub async fn credential(
    cfg: &FileConfig,
    account: &Account,
    resolver: &buzon_client::Resolver,
) -> Result<Option<Secret>, buzon_client::ClientError> {
    match &account.oauth {
        Some(settings) if uses_own_tokens(account) => buzon_client::oauth::access_token(
            &account.name,
            settings,
            &token_file(cfg, account),
            resolver,
        )
        .await
        .map(Some),
        _ => password(account).map_err(|f| buzon_client::ClientError::Config(f.message)),
    }
}

/// `--authorize`: signs the account in with the device authorization grant (RFC 8628):
/// prints where to go and the code to type, waits for the approval, stores the tokens.
pub async fn authorize(
    cfg: &FileConfig,
    account: &Account,
    resolver: &buzon_client::Resolver,
) -> Result<(), Failure> {
    let Some(settings) = &account.oauth else {
        return Err(Failure::usage(t!(
            "oauth-authorize-not-oauth",
            account = account.name.as_str()
        )));
    };
    let code = buzon_client::oauth::start_device(&account.name, settings, resolver)
        .await
        .map_err(|e| Failure::runtime(e.to_string()))?;
    println!(
        "{}",
        t!(
            "oauth-authorize-open",
            account = account.name.as_str(),
            url = code.verification_uri.as_str(),
            code = code.user_code.as_str()
        )
    );
    if let Some(direct) = &code.verification_uri_complete {
        println!("{}", t!("oauth-authorize-direct", url = direct.as_str()));
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    buzon_client::oauth::finish_device(
        &account.name,
        settings,
        &code,
        &token_file(cfg, account),
        resolver,
    )
    .await
    .map_err(|e| Failure {
        message: e.to_string(),
        code: e.exit_code(),
    })?;
    println!(
        "{}",
        t!(
            "oauth-authorize-done",
            account = account.name.as_str(),
            file = token_file(cfg, account).0.display().to_string()
        )
    );
    Ok(())
}

/// The account's password: from its source, or asked on the terminal.
pub fn password(account: &Account) -> Result<Option<Secret>, Failure> {
    match account
        .password
        .resolve(&account.name)
        .map_err(Failure::usage)?
    {
        Some(p) => Ok(Some(p)),
        None if matches!(account.password, PasswordSource::Prompt)
            && std::io::stdin().is_terminal() =>
        {
            let p = rpassword::prompt_password(format!(
                "Password for {} ({} at {}): ",
                account.name, account.user, account.server.host
            ))
            .map_err(|e| {
                Failure::runtime(t!("fetch-cannot-read-password", reason = e.to_string()))
            })?;
            Ok(Some(Secret::new(p)))
        }
        None => Ok(None),
    }
}
