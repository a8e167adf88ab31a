//! `buzon setup ADDRESS`: find the POP3 server for an address (SRV, autoconfig, MX,
//! guesses — each verified live), then add the account to the accounts file. The
//! password is only used for the probe; it is never written anywhere.

use buzon_i18n::t;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use buzon_client::config::default_config_path;
use buzon_client::discover::{account_toml, discover, Candidate, Confirm, DiscoverOptions};
use buzon_client::{Resolver, Secret, TlsSettings};
use clap::Args;

use crate::Failure;

#[derive(Args, Debug)]
pub struct SetupArgs {
    /// The e-mail address.
    pub address: String,
    /// The account's name in the accounts file (default: the address).
    #[arg(long)]
    pub name: Option<String>,
    /// The accounts file to add the account to (default: $XDG_CONFIG_HOME/buzon/accounts.toml).
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub dest: crate::client_args::DestinationArgs,
    /// Password from this environment variable (used for the probe, and written to the
    /// account as password_env).
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Password from this program (used for the probe, and written as password_command).
    #[arg(long, value_name = "COMMAND")]
    pub password_command: Option<String>,
    /// Ask for the password on the terminal to test the login (it is not stored).
    #[arg(long)]
    pub ask_password: bool,
    /// Resolve names through this DNS server (ADDRESS:PORT) instead of the system's.
    #[arg(long, value_name = "ADDRESS:PORT")]
    pub dns_server: Option<std::net::SocketAddr>,
    /// Fetch autoconfig documents from this https:// origin instead of the domain's.
    #[arg(long, value_name = "URL")]
    pub autoconfig_base: Option<String>,
    /// Trust this CA certificate file (PEM) besides the system's; written to the account.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Do not guess server names; use only SRV records, autoconfig and MX.
    #[arg(long)]
    pub no_guess: bool,
    /// Trust this server outside the address's domain with the password (repeatable).
    /// Without it, such a server is asked about on a terminal, or probed without login.
    #[arg(long, value_name = "HOST")]
    pub yes: Vec<String>,
    /// The id of your OAuth client at the provider: for Gmail and Microsoft 365, which take
    /// POP3 logins only with OAuth 2.0 (or app passwords), the account then logs in with
    /// XOAUTH2; sign in afterwards with `buzon fetch --authorize NAME`.
    #[arg(long, value_name = "ID")]
    pub oauth_client_id: Option<String>,
    /// The OAuth client's secret, where the provider gives one (Google does).
    #[arg(long, value_name = "SECRET")]
    pub oauth_client_secret: Option<String>,
    /// Print the account instead of writing it.
    #[arg(long)]
    pub print: bool,
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: SetupArgs) -> Result<(), Failure> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::runtime(t!("cli-no-runtime", reason = e.to_string())))?;
    rt.block_on(run_async(args))
}

async fn run_async(args: SetupArgs) -> Result<(), Failure> {
    if args.json {
        // Machine-read output: the texts inside it are English in every locale.
        buzon_i18n::set_current(buzon_i18n::Lang::En);
    }
    let name = args.name.clone().unwrap_or_else(|| args.address.clone());
    let config_path = args.config.clone().unwrap_or_else(default_config_path);
    let existing = buzon_client::FileConfig::load(&config_path).map_err(Failure::usage)?;
    if existing.accounts.contains_key(&name) && !args.print {
        return Err(Failure::usage(t!(
            "setup-account-exists",
            file = config_path.display().to_string(),
            name = &name
        )));
    }
    let (pw_source, extra) = match (&args.password_env, &args.password_command) {
        (Some(v), _) => (
            buzon_client::PasswordSource::Env(v.clone()),
            vec![("password_env".to_string(), toml_str(v))],
        ),
        (None, Some(c)) => {
            let words: Vec<String> = c.split_whitespace().map(str::to_string).collect();
            let arr = format!(
                "[{}]",
                words
                    .iter()
                    .map(|w| toml_str(w))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            (
                buzon_client::PasswordSource::Command(words),
                vec![("password_command".to_string(), arr)],
            )
        }
        (None, None) => (buzon_client::PasswordSource::Prompt, vec![]),
    };
    let mut extra = extra;
    let mut password = pw_source.resolve(&name).map_err(Failure::usage)?;
    if password.is_none() && args.ask_password {
        if !std::io::stdin().is_terminal() {
            return Err(Failure::usage(t!("setup-ask-password-needs-terminal")));
        }
        let p = rpassword::prompt_password(t!("setup-password-prompt", address = &args.address))
            .map_err(|e| {
                Failure::runtime(t!("setup-cannot-read-password", reason = e.to_string()))
            })?;
        password = Some(Secret::new(p));
    }
    if let Some(ca) = &args.ca_file {
        extra.push(("ca_file".into(), toml_str(&ca.display().to_string())));
    }
    let opts = DiscoverOptions {
        resolver: args
            .dns_server
            .map(Resolver::with_name_server)
            .unwrap_or_else(Resolver::system),
        autoconfig_base: args.autoconfig_base.clone(),
        tls: TlsSettings {
            ca_file: args.ca_file.clone(),
            ..Default::default()
        },
        password,
        no_guess: args.no_guess,
        approved_hosts: args.yes.clone(),
        confirm: (std::io::stdin().is_terminal() && std::io::stderr().is_terminal())
            .then(|| Confirm(std::sync::Arc::new(ask_outside))),
        ..Default::default()
    };
    let json = args.json;
    let d = discover(&args.address, &opts, |step| {
        if !json {
            eprintln!("buzon: {step}");
        }
    })
    .await
    .map_err(Failure::usage)?;

    if !json {
        for n in &d.notes {
            println!("  · {n}");
        }
        for p in &d.probes {
            let c = &p.candidate;
            println!(
                "  {} {}:{} ({}) from {}: {}",
                if p.ok { "✓" } else { "✗" },
                c.host,
                c.port,
                c.security.as_str(),
                c.source,
                p.detail
            );
        }
    }
    let Some(chosen) = d.chosen() else {
        if json {
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({ "ok": false, "discovery": d }))
                    .unwrap_or_default()
            );
        }
        let code = if d.probes.is_empty() { 3 } else { 4 };
        return Err(Failure {
            message: t!("setup-nothing-found", domain = &d.domain),
            code,
        });
    };
    let c = &chosen.candidate;
    if chosen.needs_confirmation {
        if json {
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({ "ok": false, "needs_confirmation": c.host, "discovery": d }))
                    .unwrap_or_default()
            );
        }
        return Err(Failure {
            message: format!(
                "{}\n  buzon setup {address} --yes {host} …{}",
                t!(
                    "setup-needs-confirmation",
                    host = &c.host,
                    source = c.source.to_string(),
                    domain = &d.domain
                ),
                t!("setup-same-options"),
                host = c.host,
                address = shell_word(&args.address),
            ),
            code: 2,
        });
    }
    let mut warnings = Vec::new();
    if chosen.outside_domain {
        warnings.push(t!(
            "setup-outside-domain",
            host = &c.host,
            domain = &d.domain,
            source = c.source.to_string()
        ));
    }
    let user = chosen
        .user
        .clone()
        .or_else(|| c.user_hint.clone())
        .unwrap_or_else(|| args.address.clone());
    let (dest_key, dest_value) = match (&args.dest.maildir, &args.dest.mbox, &args.dest.mda) {
        (_, Some(m), _) => ("mbox", m.display().to_string()),
        (_, _, Some(_)) => ("mda", String::new()),
        (Some(m), _, _) => ("maildir", m.display().to_string()),
        _ => ("maildir", "~/Maildir".to_string()),
    };
    // Providers that take POP3 logins only with OAuth 2.0 (or app passwords).
    let oauth_preset = buzon_client::oauth::Preset::for_host(&c.host);
    match (oauth_preset, &args.oauth_client_id) {
        (Some(preset), Some(id)) => {
            let provider = match preset {
                buzon_client::oauth::Preset::Gmail => "gmail",
                buzon_client::oauth::Preset::Microsoft => "microsoft",
            };
            extra.retain(|(k, _)| k != "password_env" && k != "password_command");
            extra.push(("auth".into(), toml_str("xoauth2")));
            extra.push(("oauth_provider".into(), toml_str(provider)));
            extra.push(("oauth_client_id".into(), toml_str(id)));
            if let Some(secret) = &args.oauth_client_secret {
                extra.push(("oauth_client_secret".into(), toml_str(secret)));
            }
        }
        (Some(_), None) => warnings.push(t!("setup-oauth-offer", host = &c.host)),
        (None, Some(_)) => warnings.push(t!("setup-oauth-unknown", host = &c.host)),
        (None, None) => {}
    }
    let mut text = account_toml(&name, c, &user, dest_key, &dest_value, &extra);
    if let Some(m) = &args.dest.mda {
        let arr = format!(
            "[{}]",
            m.split_whitespace()
                .map(toml_str)
                .collect::<Vec<_>>()
                .join(", ")
        );
        text = text.replace("mda = \"\"", &format!("mda = {arr}"));
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "ok": true, "account": name, "user": user, "chosen": c, "warnings": warnings, "discovery": d, "toml": text }))
                .unwrap_or_default()
        );
    }
    for w in &warnings {
        eprintln!("buzon: {}", t!("setup-warning", text = w));
    }
    if args.print {
        if !json {
            print!("{text}");
        }
        return Ok(());
    }
    if let Some(dir) = config_path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            Failure::runtime(t!(
                "setup-cannot-create",
                path = dir.display().to_string(),
                reason = e.to_string()
            ))
        })?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&config_path)
        .map_err(|e| {
            Failure::runtime(t!(
                "setup-cannot-write",
                path = config_path.display().to_string(),
                reason = e.to_string()
            ))
        })?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| {
            Failure::runtime(t!(
                "setup-cannot-write",
                path = config_path.display().to_string(),
                reason = e.to_string()
            ))
        })?;
    // The file must still parse with the new account in it.
    let written = buzon_client::FileConfig::load(&config_path)
        .map_err(|e| Failure::runtime(t!("setup-written-unparsable", reason = e.to_string())))?;
    written
        .account(&name)
        .map_err(|e| Failure::runtime(t!("setup-written-invalid", reason = e.to_string())))?;
    if !json {
        println!(
            "{}",
            t!(
                "setup-added",
                name = format!("{name:?}"),
                host = &c.host,
                port = c.port.to_string(),
                security = c.security.as_str(),
                user = &user,
                path = config_path.display().to_string()
            )
        );
        if extra.iter().any(|(k, _)| k == "oauth_client_id") {
            println!("{}", t!("setup-oauth-next", name = shell_word(&name)));
        } else {
            if extra.iter().all(|(k, _)| !k.starts_with("password")) {
                println!("{}", t!("setup-password-each-run"));
            }
            println!("{}", t!("setup-next", name = shell_word(&name)));
        }
    }
    Ok(())
}

/// Asks on the terminal whether the password may be tried on a server outside the domain.
fn ask_outside(c: &Candidate, domain: &str) -> bool {
    // Reading the terminal blocks; the runtime has other threads for the probes.
    tokio::task::block_in_place(|| {
        eprint!(
            "buzon: {}\n       {}",
            t!(
                "setup-ask-outside",
                host = &c.host,
                source = c.source.to_string(),
                domain = domain
            ),
            t!("setup-ask-outside-question", host = &c.host)
        );
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        match std::io::stdin().read_line(&mut line) {
            // "y"/"yes" in every language; "s"/"sí" too in Spanish.
            Ok(_) => {
                let a = line.trim().to_lowercase();
                matches!(a.as_str(), "y" | "yes")
                    || (buzon_i18n::current() == buzon_i18n::Lang::Es
                        && matches!(a.as_str(), "s" | "si" | "sí"))
            }
            Err(_) => false,
        }
    })
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn shell_word(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "@.-_+".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
