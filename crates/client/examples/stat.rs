//! Connects to a POP3 server, logs in, and lists the messages waiting (number, size,
//! UIDL, Subject via TOP), without downloading or deleting anything.
//!
//! ```sh
//! POP3_PASSWORD=secret cargo run -p buzon-client --example stat -- pop.example.com me@example.com
//! ```
//! An optional third argument is the security (`tls`, the default; `starttls`; `none`),
//! a fourth the port.

use buzon_client::fetch::header_field;
use buzon_client::{AuthMethod, Pop3Client, Resolver, Secret, Security, ServerSpec};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(host), Some(user)) = (args.first(), args.get(1)) else {
        eprintln!(
            "usage: stat HOST USER [tls|starttls|none] [PORT]   (password in $POP3_PASSWORD)"
        );
        return std::process::ExitCode::from(2);
    };
    let security = match args.get(2).map(String::as_str) {
        Some("starttls") => Security::Starttls,
        Some("none") => Security::None,
        _ => Security::Tls,
    };
    let mut spec = ServerSpec::new(host.clone(), security);
    if let Some(p) = args.get(3).and_then(|p| p.parse().ok()) {
        spec.port = p;
    }
    let password = Secret::new(std::env::var("POP3_PASSWORD").unwrap_or_default());
    match Box::pin(run(&spec, user, &password)).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stat: {e}");
            std::process::ExitCode::from(e.exit_code())
        }
    }
}

async fn run(
    spec: &ServerSpec,
    user: &str,
    password: &Secret,
) -> Result<(), buzon_client::ClientError> {
    let mut client = Pop3Client::connect(spec, &Resolver::system()).await?;
    let method = client
        .login(user, password, AuthMethod::Auto, false)
        .await?;
    let (count, octets) = client.stat().await?;
    println!(
        "logged in with {}; {count} messages, {octets} octets",
        method.as_str()
    );
    let uidls = client.uidl().await?.unwrap_or_default();
    for (n, size) in client.list().await? {
        let uidl = uidls
            .iter()
            .find(|(m, _)| *m == n)
            .map(|(_, u)| u.to_string())
            .unwrap_or_default();
        let head = client.top(n, 0).await?.unwrap_or_default();
        println!(
            "{n:>4} {size:>9} {uidl} {}",
            header_field(&head, "Subject").unwrap_or_default()
        );
    }
    client.quit().await
}
