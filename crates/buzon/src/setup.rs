//! `buzon setup ADDRESS`: find the POP3 server for an address (SRV, autoconfig, MX,
//! guesses — each verified live), then add the account to the accounts file. The
//! password is only used for the probe; it is never written anywhere.

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
        .map_err(|e| Failure::runtime(format!("cannot start the runtime: {e}")))?;
    rt.block_on(run_async(args))
}

async fn run_async(args: SetupArgs) -> Result<(), Failure> {
    let name = args.name.clone().unwrap_or_else(|| args.address.clone());
    let config_path = args.config.clone().unwrap_or_else(default_config_path);
    let existing = buzon_client::FileConfig::load(&config_path).map_err(Failure::usage)?;
    if existing.accounts.contains_key(&name) && !args.print {
        return Err(Failure::usage(format!(
            "{} already has an account {name:?} — choose another with --name, or edit the file",
            config_path.display()
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
            return Err(Failure::usage(
                "--ask-password needs a terminal; use --password-env or --password-command",
            ));
        }
        let p = rpassword::prompt_password(format!(
            "Password for {} (only to test the login; not stored): ",
            args.address
        ))
        .map_err(|e| Failure::runtime(format!("cannot read the password: {e}")))?;
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
            message: format!(
                "no working POP3 server found for {} — ask the provider for the POP3 server name and port, then add the account by hand (docs/client.md)",
                d.domain
            ),
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
                "{host} (from {source}) answers as a POP3 server, but it is outside {domain}: the {source} answer could have been forged, so your password was not sent to it. \
                 If {host} is really your provider's server, run again with --yes {host}:\n  buzon setup {address} --yes {host} …(the same options)",
                host = c.host,
                source = c.source,
                domain = d.domain,
                address = shell_word(&args.address),
            ),
            code: 2,
        });
    }
    let mut warnings = Vec::new();
    if chosen.outside_domain {
        warnings.push(format!(
            "{} is outside {}: the {} answer could have been forged — make sure this is really your provider's server",
            c.host, d.domain, c.source
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
        eprintln!("buzon: warning: {w}");
    }
    if args.print {
        if !json {
            print!("{text}");
        }
        return Ok(());
    }
    if let Some(dir) = config_path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::runtime(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&config_path)
        .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", config_path.display())))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", config_path.display())))?;
    // The file must still parse with the new account in it.
    let written = buzon_client::FileConfig::load(&config_path).map_err(|e| {
        Failure::runtime(format!(
            "the account was written but the file does not parse: {e}"
        ))
    })?;
    written.account(&name).map_err(|e| {
        Failure::runtime(format!(
            "the account was written but does not validate: {e}"
        ))
    })?;
    if !json {
        println!(
            "added account {name:?} ({}:{} {}, user {user}) to {}",
            c.host,
            c.port,
            c.security.as_str(),
            config_path.display()
        );
        if extra.iter().all(|(k, _)| !k.starts_with("password")) {
            println!("the password will be asked for on each run; set password_command or password_env in the file to avoid that");
        }
        println!(
            "next: buzon check {} ; buzon fetch {}",
            shell_word(&name),
            shell_word(&name)
        );
    }
    Ok(())
}

/// Asks on the terminal whether the password may be tried on a server outside the domain.
fn ask_outside(c: &Candidate, domain: &str) -> bool {
    // Reading the terminal blocks; the runtime has other threads for the probes.
    tokio::task::block_in_place(|| {
        eprint!(
            "buzon: {} (found by {}) is outside {domain}. DNS answers and autoconfig files can be forged;\n       send your password to {} to test the login? [y/N] ",
            c.host, c.source, c.host
        );
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        match std::io::stdin().read_line(&mut line) {
            Ok(_) => matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes"),
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
