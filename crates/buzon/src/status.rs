//! `buzon status`: asks the running server (its admin socket in the data folder) whether
//! it is working — uptime, listeners, open POP3 sessions, totals — and prints the answer
//! on one screen, or as JSON with `--json`.

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use buzon_server::Config;
use clap::Args;
use serde_json::Value;

use crate::Failure;

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The server's config file (its data folder holds the admin socket).
    #[arg(short, long)]
    pub config: Option<PathBuf>,
    /// Data folder of a zero-config server.
    #[arg(long, default_value = "./buzon-data")]
    pub data_dir: PathBuf,
    /// Print the server's JSON document as it is.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: StatusArgs) -> Result<(), Failure> {
    let config = match &args.config {
        Some(p) => Config::load(p).map_err(Failure::usage)?,
        None => Config::embedded_default(&args.data_dir),
    };
    let path = buzon_server::status::admin_socket(&config.data_dir);
    let mut stream = std::os::unix::net::UnixStream::connect(&path).map_err(|e| {
        Failure::runtime(format!(
            "cannot reach the server at {}: {e} — is `buzon serve` running with this configuration? The socket answers the server's account and root only",
            path.display()
        ))
    })?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut text = String::new();
    stream
        .read_to_string(&mut text)
        .map_err(|e| Failure::runtime(format!("reading {}: {e}", path.display())))?;
    if args.json {
        print!("{text}");
        return Ok(());
    }
    let doc: Value = serde_json::from_str(&text).map_err(|e| {
        Failure::runtime(format!(
            "the server at {} answered something that is not its status ({e})",
            path.display()
        ))
    })?;
    print!("{}", render(&doc));
    Ok(())
}

fn age(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s if s < 86_400 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        s => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// The one-screen text of a status document.
pub fn render(doc: &Value) -> String {
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let s = |v: &Value| v.as_str().unwrap_or("-").to_string();
    let mut out = format!(
        "Buzón {} — running for {} (pid {}), store: {} ({})\n",
        s(&doc["version"]),
        age(n(&doc["uptime_s"])),
        n(&doc["pid"]),
        s(&doc["store"]["kind"]),
        if doc["store"]["reachable"].as_bool().unwrap_or(false) {
            "reachable"
        } else {
            "UNREACHABLE"
        }
    );
    out.push_str("listeners:\n");
    for l in doc["listeners"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {:<8} {}\n",
            s(&l["protocol"]),
            s(&l["address"])
        ));
    }
    let sessions = doc["sessions"].as_array().cloned().unwrap_or_default();
    out.push_str(&format!("POP3 sessions open: {}\n", sessions.len()));
    if !sessions.is_empty() {
        out.push_str(&format!(
            "  {:<20} {:<40} {:<8} {:<9} {}\n",
            "USER", "ADDRESS", "LISTENER", "TLS", "AGE"
        ));
        for x in &sessions {
            out.push_str(&format!(
                "  {:<20} {:<40} {:<8} {:<9} {}\n",
                x["user"].as_str().unwrap_or("(not logged in)"),
                s(&x["remote"]),
                s(&x["listener"]),
                s(&x["tls"]),
                age(n(&x["age_s"]))
            ));
        }
    }
    let t = &doc["totals"];
    out.push_str(&format!(
        "since start: logins {} ok, {} failed; {} messages retrieved ({} bytes), {} deleted; {} deliveries, {} failed\n",
        n(&t["logins_ok"]),
        n(&t["logins_failed"]),
        n(&t["retrieved"]),
        n(&t["retrieved_bytes"]),
        n(&t["deleted"]),
        n(&t["delivered"]),
        n(&t["delivery_failures"])
    ));
    out
}
