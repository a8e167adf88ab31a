//! `buzon dns DOMAIN`: the DNS records to publish for a local domain, from the
//! configuration: where mail for it goes (MX), where mail programs find POP3 (RFC 6186 SRV
//! records, implicit TLS preferred as RFC 8314 recommends), the names Thunderbird and
//! Outlook look up for autoconfiguration, and a reminder of what the outgoing side needs.

use std::path::PathBuf;

use buzon_server::{Config, Protocol};
use clap::Args;

use crate::Failure;

#[derive(Args, Debug)]
pub struct DnsArgs {
    /// A domain of `[delivery] local_domains`.
    pub domain: String,
    /// The server's config file (default: the embedded configuration).
    #[arg(short, long)]
    pub config: Option<PathBuf>,
    /// Data folder of a zero-config server.
    #[arg(long, default_value = "./buzon-data")]
    pub data_dir: PathBuf,
}

pub fn run(args: DnsArgs) -> Result<(), Failure> {
    let config = match &args.config {
        Some(p) => Config::load(p).map_err(Failure::usage)?,
        None => Config::embedded_default(&args.data_dir),
    };
    let domain = args.domain.trim_end_matches('.').to_ascii_lowercase();
    if !config
        .delivery
        .routing
        .local_domains
        .iter()
        .any(|d| d.eq_ignore_ascii_case(&domain))
    {
        return Err(Failure::usage(format!(
            "{domain} is not one of this server's local domains ({}) — add it to [delivery] local_domains first",
            config.delivery.routing.local_domains.join(", ")
        )));
    }
    print!("{}", records(&config, &domain));
    Ok(())
}

/// The zone-file lines for `domain`.
pub fn records(config: &Config, domain: &str) -> String {
    let host = format!("{}.", config.hostname.trim_end_matches('.'));
    let port = |want: &dyn Fn(&buzon_server::Listener) -> bool| {
        config
            .listeners
            .iter()
            .find(|l| want(l))
            .map(|l| l.address.port())
    };
    let pop3s = port(&|l| l.protocol == Protocol::Pop3s);
    let pop3 = port(&|l| l.protocol == Protocol::Pop3 && l.starttls);
    let https = port(&|l| l.protocol == Protocol::Https);
    let smtp = port(&|l| l.protocol == Protocol::Smtp);
    let d = format!("{domain}.");
    let mut out = format!(
        "; DNS records for {domain}, served by {host} (from the configuration)\n\n; Mail for {domain} comes to this server{}\n{d:<32} 3600 IN MX    10 {host}\n\n",
        match smtp {
            Some(25) => String::new(),
            Some(p) => format!(
                " — MX means port 25; this server's SMTP listens on {p}, so forward 25 to it"
            ),
            None => " — this server has no SMTP listener: point MX at the MTA that hands mail to it over LMTP".to_string(),
        }
    );
    out.push_str("; Where mail programs find POP3 (RFC 6186); implicit TLS first (RFC 8314)\n");
    match pop3s {
        Some(p) => out.push_str(&format!(
            "{:<32} 3600 IN SRV   0 1 {p} {host}\n",
            format!("_pop3s._tcp.{d}")
        )),
        None => out.push_str(&format!(
            "{:<32} 3600 IN SRV   0 0 0 .   ; no POP3S listener\n",
            format!("_pop3s._tcp.{d}")
        )),
    }
    match pop3 {
        Some(p) => out.push_str(&format!(
            "{:<32} 3600 IN SRV   10 1 {p} {host}   ; STARTTLS; plaintext logins are refused without it\n",
            format!("_pop3._tcp.{d}")
        )),
        None => out.push_str(&format!(
            "{:<32} 3600 IN SRV   0 0 0 .   ; not offered (no POP3 listener with STLS)\n",
            format!("_pop3._tcp.{d}")
        )),
    }
    out.push_str("\n; Autoconfiguration: Thunderbird asks autoconfig.<domain>, Outlook autodiscover.<domain>\n");
    match https {
        Some(p) => {
            out.push_str(&format!(
                "{:<32} 3600 IN CNAME {host}\n{:<32} 3600 IN CNAME {host}\n{:<32} 3600 IN SRV   0 0 {p} {host}\n",
                format!("autoconfig.{d}"),
                format!("autodiscover.{d}"),
                format!("_autodiscover._tcp.{d}")
            ));
            if p != 443 {
                out.push_str(&format!("; (clients connect to port 443: forward it to this server's HTTPS port {p})\n"));
            }
            out.push_str(&format!("; The certificate must also be valid for autoconfig.{domain} and autodiscover.{domain}.\n"));
        }
        None => out.push_str("; (no HTTPS listener: add [[listen]] protocol = \"https\" to serve autoconfiguration)\n"),
    }
    out.push_str(&format!(
        "\n; Reminder for the outgoing side (Buzón receives mail; the MTA that sends it needs these)\n{d:<32} 3600 IN TXT   \"v=spf1 mx -all\"\n{:<32} 3600 IN TXT   \"v=DMARC1; p=none; rua=mailto:postmaster@{domain}\"\n",
        format!("_dmarc.{d}")
    ));
    out
}
