//! `buzon check ACCOUNT`: one line per step (DNS, TCP, TLS, greeting, CAPA, STLS, login,
//! STAT) with ✓ or ✗, and for a failure its cause and the fix. Exit codes as for
//! `buzon fetch` (0 when every step passed).

use buzon_client::check::check;
use buzon_i18n::t;
use clap::Args;

use crate::client_args::{password, AccountArgs};
use crate::Failure;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Accounts to check (default: all in the accounts file).
    pub accounts: Vec<String>,
    #[command(flatten)]
    pub common: AccountArgs,
    /// Print the steps as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: CheckArgs) -> Result<(), Failure> {
    if args.json {
        // Machine-read output: the texts inside it are English in every locale.
        buzon_i18n::set_current(buzon_i18n::Lang::En);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::runtime(t!("cli-no-runtime", reason = e.to_string())))?;
    rt.block_on(async {
        let cfg = args.common.file()?;
        let accounts = args.common.accounts_for_check(&args.accounts, &cfg)?;
        let resolver = args.common.resolver();
        let mut code = 0u8;
        let mut json = Vec::new();
        for a in &accounts {
            let report = if crate::client_args::uses_own_tokens(a) {
                // No token to log in with is a failed login step that says why.
                match crate::client_args::credential(&cfg, a, &resolver).await {
                    Ok(t) => check(a, t.as_ref(), &resolver).await,
                    Err(e) => buzon_client::check::CheckReport::without_token(&a.name, &e),
                }
            } else {
                let pw = password(a)?;
                check(a, pw.as_ref(), &resolver).await
            };
            if let Some(class) = report.failure() {
                if code == 0 {
                    code = class.exit_code();
                }
            }
            if args.json {
                json.push(report);
                continue;
            }
            println!(
                "{} ({}:{}, {})",
                a.name,
                a.server.host,
                a.server.port,
                a.server.security.as_str()
            );
            for s in &report.steps {
                println!(
                    "  {} {:<9} {}",
                    if s.ok { "✓" } else { "✗" },
                    t!(&format!("check-step-{}", s.step)),
                    s.detail
                );
                if let Some(fix) = &s.fix {
                    println!("    {:<9} {} {fix}", "", t!("check-fix"));
                }
            }
        }
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&json).unwrap_or_default()
            );
        }
        if code == 0 {
            Ok(())
        } else {
            Err(Failure {
                message: String::new(),
                code,
            })
        }
    })
}
