//! `buzon setup`: find the POP3 server for an e-mail address.
//!
//! Sources, in order: RFC 6186 SRV records (`_pop3s._tcp`, then `_pop3._tcp`); the
//! autoconfig document (`https://autoconfig.<domain>/mail/config-v1.1.xml?emailaddress=…`,
//! then `https://<domain>/.well-known/autoconfig/mail/config-v1.1.xml`); the domain of
//! the MX host; then guesses (`pop3.`, `pop.`, `mail.`, the bare domain, each on 995 with
//! TLS and 110 with STLS). A candidate is offered only after a live probe (connect, TLS,
//! greeting, CAPA, STLS where needed) succeeded; with a password, the user-name form (full
//! address or local part) is tested too — but never on a server outside the mail domain
//! unless the user confirmed that server (by name, or at a prompt): DNS answers and
//! autoconfig files can be forged (RFC 6186 §6), and a login would hand the password to
//! whoever forged them. Such a candidate is probed without login (TCP, TLS, greeting,
//! CAPA) and flagged.

use buzon_i18n::t;
use std::time::Duration;

use buzon_pop3_proto::Secret;

use crate::error::{ClientError, Result};
use crate::net::{Resolver, Security, Timeouts, TlsClient, TlsSettings};
use crate::pop3::{AuthMethod, Pop3Client, ServerSpec};

/// What discovery may use.
#[derive(Debug, Clone)]
pub struct DiscoverOptions {
    pub resolver: Resolver,
    /// Replaces `https://autoconfig.<domain>` and `https://<domain>` as the origin of the
    /// autoconfig URLs (paths unchanged).
    pub autoconfig_base: Option<String>,
    /// Trust settings for the probes and the autoconfig HTTPS requests.
    pub tls: TlsSettings,
    pub timeouts: Timeouts,
    /// When given, the user-name form is tested with it.
    pub password: Option<Secret>,
    /// Skip the guessing stage (only published settings).
    pub no_guess: bool,
    /// Servers outside the mail domain the user confirmed (`buzon setup --yes HOST`):
    /// the password may be tried there.
    pub approved_hosts: Vec<String>,
    /// Asks the user whether the password may be tried on a server outside the mail
    /// domain (a terminal prompt); `None`: nobody can be asked, the answer is no.
    pub confirm: Option<Confirm>,
}

/// A question to the user: may the password be tried on this candidate (outside this
/// domain)?
#[derive(Clone)]
pub struct Confirm(pub std::sync::Arc<ConfirmFn>);

/// Given the candidate and the mail domain: may the password be tried there?
pub type ConfirmFn = dyn Fn(&Candidate, &str) -> bool + Send + Sync;

impl std::fmt::Debug for Confirm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Confirm")
    }
}

impl Default for DiscoverOptions {
    fn default() -> Self {
        Self {
            resolver: Resolver::system(),
            autoconfig_base: None,
            tls: TlsSettings::default(),
            timeouts: Timeouts {
                connect: Duration::from_secs(8),
                handshake: Duration::from_secs(8),
                read: Duration::from_secs(15),
            },
            password: None,
            no_guess: false,
            approved_hosts: Vec::new(),
            confirm: None,
        }
    }
}

/// One possible server.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Candidate {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// Where it came from: "SRV _pop3s._tcp", "autoconfig", "MX", "guess".
    pub source: String,
    /// The user name the source suggests (autoconfig), if any.
    pub user_hint: Option<String>,
}

/// The outcome of probing one candidate.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Probe {
    pub candidate: Candidate,
    pub ok: bool,
    pub detail: String,
    /// The user name that logged in (when a password was given and one worked).
    pub user: Option<String>,
    /// The target lies outside the mail domain.
    pub outside_domain: bool,
    /// A password was given but not tried: the target is outside the mail domain and the
    /// user did not confirm it (see [`DiscoverOptions::approved_hosts`]).
    pub needs_confirmation: bool,
}

/// Everything discovery found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Discovery {
    pub address: String,
    pub domain: String,
    pub probes: Vec<Probe>,
    pub notes: Vec<String>,
}

impl Discovery {
    /// The first candidate whose probe succeeded.
    pub fn chosen(&self) -> Option<&Probe> {
        self.probes.iter().find(|p| p.ok)
    }
}

/// Splits an address into (local part, domain).
pub fn split_address(address: &str) -> Result<(String, String)> {
    match address.rsplit_once('@') {
        Some((l, d))
            if !l.is_empty()
                && d.contains('.')
                && !d.starts_with('.')
                && !d.contains(char::is_whitespace) =>
        {
            Ok((l.to_string(), d.trim_end_matches('.').to_ascii_lowercase()))
        }
        _ => Err(ClientError::Config(t!(
            "discover-not-address",
            address = format!("{address:?}")
        ))),
    }
}

fn outside(host: &str, domain: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    !(h == domain || h.ends_with(&format!(".{domain}")))
}

/// Parses an autoconfig document (Thunderbird's config-v1.1 format) into its POP3 servers.
pub fn parse_autoconfig(
    xml: &str,
    local: &str,
    address: &str,
    domain: &str,
) -> std::result::Result<Vec<Candidate>, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("not valid XML: {e}"))?;
    let subst = |s: &str| {
        s.replace("%EMAILADDRESS%", address)
            .replace("%EMAILLOCALPART%", local)
            .replace("%EMAILDOMAIN%", domain)
    };
    let mut out = Vec::new();
    for server in doc
        .descendants()
        .filter(|n| n.has_tag_name("incomingServer") && n.attribute("type") == Some("pop3"))
    {
        let child = |name: &str| {
            server
                .children()
                .find(|c| c.has_tag_name(name))
                .and_then(|c| c.text())
                .map(|t| t.trim().to_string())
        };
        let Some(host) = child("hostname").filter(|h| !h.is_empty()) else {
            continue;
        };
        let security = match child("socketType")
            .as_deref()
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            Some("SSL") | Some("TLS") => Security::Tls,
            Some("STARTTLS") => Security::Starttls,
            Some("PLAIN") => Security::None,
            _ => Security::Tls,
        };
        let port = child("port")
            .and_then(|p| p.parse().ok())
            .unwrap_or(security.default_port());
        out.push(Candidate {
            host: subst(&host),
            port,
            security,
            source: "autoconfig".into(),
            user_hint: child("username").map(|u| subst(&u)),
        });
    }
    Ok(out)
}

/// Runs discovery for `address`.
pub async fn discover(
    address: &str,
    opts: &DiscoverOptions,
    mut progress: impl FnMut(&str),
) -> Result<Discovery> {
    let (local, domain) = split_address(address)?;
    let mut d = Discovery {
        address: address.into(),
        domain: domain.clone(),
        probes: Vec::new(),
        notes: Vec::new(),
    };
    let mut tried = std::collections::HashSet::new();

    // 1. RFC 6186 SRV records.
    let mut srv_cands = Vec::new();
    for (label, security) in [
        ("_pop3s._tcp", Security::Tls),
        ("_pop3._tcp", Security::Starttls),
    ] {
        let name = format!("{label}.{domain}");
        progress(&t!("discover-looking-up-srv", name = name.as_str()));
        match opts.resolver.srv(&name).await {
            Ok(recs) => {
                for r in recs {
                    // RFC 6186 §3.3: a target of "." means the service is not offered.
                    if r.target.is_empty() || r.target == "." {
                        d.notes
                            .push(t!("discover-srv-not-offered", name = name.as_str()));
                        continue;
                    }
                    srv_cands.push(Candidate {
                        host: r.target,
                        port: r.port,
                        security,
                        source: format!("SRV {label}"),
                        user_hint: None,
                    });
                }
            }
            Err(e) => d.notes.push(format!("SRV {name}: {e}")),
        }
    }
    if try_all(
        &mut d,
        srv_cands,
        opts,
        &local,
        address,
        &domain,
        &mut tried,
        &mut progress,
    )
    .await
    {
        return Ok(d);
    }

    // 2. Autoconfig.
    let urls = match &opts.autoconfig_base {
        Some(base) => {
            let base = base.trim_end_matches('/');
            vec![
                format!(
                    "{base}/mail/config-v1.1.xml?emailaddress={}",
                    crate::http::query_escape(address)
                ),
                format!("{base}/.well-known/autoconfig/mail/config-v1.1.xml"),
            ]
        }
        None => vec![
            format!(
                "https://autoconfig.{domain}/mail/config-v1.1.xml?emailaddress={}",
                crate::http::query_escape(address)
            ),
            format!("https://{domain}/.well-known/autoconfig/mail/config-v1.1.xml"),
        ],
    };
    let http_tls = TlsClient::new(&TlsSettings {
        fingerprint: None,
        server_name: None,
        ..opts.tls.clone()
    })?;
    for url in urls {
        progress(&t!("discover-fetching", url = url.as_str()));
        match crate::http::get(
            &url,
            &http_tls,
            &opts.resolver,
            opts.timeouts.connect.max(Duration::from_secs(5)),
        )
        .await
        {
            Ok((200, body)) => {
                match parse_autoconfig(&String::from_utf8_lossy(&body), &local, address, &domain) {
                    Ok(c) if c.is_empty() => d
                        .notes
                        .push(t!("discover-autoconfig-no-pop3", url = url.as_str())),
                    Ok(c) => {
                        if try_all(
                            &mut d,
                            c,
                            opts,
                            &local,
                            address,
                            &domain,
                            &mut tried,
                            &mut progress,
                        )
                        .await
                        {
                            return Ok(d);
                        }
                    }
                    Err(e) => d.notes.push(format!("{url}: {e}")),
                }
            }
            Ok((code, _)) => d.notes.push(format!("{url}: HTTP {code}")),
            Err(e) => d.notes.push(format!("{url}: {e}")),
        }
    }

    // 3. The MX host's domain.
    let mut guess_domains = Vec::new();
    progress(&t!("discover-looking-up-mx", domain = domain.as_str()));
    match opts.resolver.mx(&domain).await {
        Ok(hosts) => {
            if let Some(mx) = hosts.first() {
                let parent = mx
                    .split_once('.')
                    .map(|(_, p)| p.to_string())
                    .filter(|p| p.contains('.'));
                if let Some(p) = parent.filter(|p| *p != domain) {
                    d.notes.push(t!(
                        "discover-mx-parent",
                        domain = domain.as_str(),
                        mx = mx.as_str(),
                        parent = p.as_str()
                    ));
                    guess_domains.push((p, "MX"));
                }
            }
        }
        Err(e) => d.notes.push(format!("MX {domain}: {e}")),
    }
    if !opts.no_guess {
        guess_domains.push((domain.clone(), "guess"));
    }

    // 4. Guesses.
    for (gd, source) in guess_domains {
        let mut cands = Vec::new();
        for prefix in ["pop3.", "pop.", "mail.", ""] {
            for security in [Security::Tls, Security::Starttls] {
                cands.push(Candidate {
                    host: format!("{prefix}{gd}"),
                    port: security.default_port(),
                    security,
                    source: source.into(),
                    user_hint: None,
                });
            }
        }
        if try_all(
            &mut d,
            cands,
            opts,
            &local,
            address,
            &domain,
            &mut tried,
            &mut progress,
        )
        .await
        {
            return Ok(d);
        }
    }
    Ok(d)
}

#[allow(clippy::too_many_arguments)]
async fn try_all(
    d: &mut Discovery,
    cands: Vec<Candidate>,
    opts: &DiscoverOptions,
    local: &str,
    address: &str,
    domain: &str,
    tried: &mut std::collections::HashSet<(String, u16, Security)>,
    progress: &mut impl FnMut(&str),
) -> bool {
    for c in cands {
        if !tried.insert((c.host.to_ascii_lowercase(), c.port, c.security)) {
            continue;
        }
        // A guessed name that does not resolve is not worth a line of output.
        if (c.source == "guess" || c.source == "MX")
            && opts.resolver.lookup(&c.host, c.port).await.is_err()
        {
            continue;
        }
        progress(&t!(
            "discover-probing",
            host = c.host.as_str(),
            port = c.port.to_string(),
            security = c.security.as_str()
        ));
        let p = Box::pin(probe(&c, opts, local, address, domain)).await;
        let ok = p.ok;
        d.probes.push(p);
        if ok {
            return true;
        }
    }
    false
}

async fn probe(
    c: &Candidate,
    opts: &DiscoverOptions,
    local: &str,
    address: &str,
    domain: &str,
) -> Probe {
    let spec = ServerSpec {
        host: c.host.clone(),
        port: c.port,
        security: c.security,
        tls: opts.tls.clone(),
        timeouts: opts.timeouts,
    };
    let outside_domain = outside(&c.host, domain);
    let mut client = match Pop3Client::connect(&spec, &opts.resolver).await {
        Ok(cl) => cl,
        Err(e) => {
            return Probe {
                candidate: c.clone(),
                ok: false,
                detail: e.to_string(),
                user: None,
                outside_domain,
                needs_confirmation: false,
            }
        }
    };
    let caps = client
        .capabilities()
        .map(|k| {
            k.lines
                .iter()
                .map(|(k, _)| k.clone())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| t!("discover-no-capa"));
    let Some(password) = &opts.password else {
        let _ = client.quit().await;
        return Probe {
            candidate: c.clone(),
            ok: true,
            detail: t!("discover-answers", caps = caps.as_str()),
            user: None,
            outside_domain,
            needs_confirmation: false,
        };
    };
    // The password goes only to the mail domain's own servers, or to one the user named.
    if outside_domain && !approved(c, opts, domain) {
        let _ = client.quit().await;
        return Probe {
            candidate: c.clone(),
            ok: true,
            detail: t!(
                "discover-outside-domain",
                caps = caps.as_str(),
                host = c.host.as_str(),
                domain = domain
            ),
            user: None,
            outside_domain,
            needs_confirmation: true,
        };
    }
    let mut forms: Vec<String> = Vec::new();
    if let Some(h) = &c.user_hint {
        forms.push(h.clone());
    }
    for f in [address, local] {
        if !forms.iter().any(|x| x == f) {
            forms.push(f.to_string());
        }
    }
    let mut last = String::new();
    for (i, user) in forms.iter().enumerate() {
        if i > 0 {
            client = match Pop3Client::connect(&spec, &opts.resolver).await {
                Ok(cl) => cl,
                Err(e) => {
                    return Probe {
                        candidate: c.clone(),
                        ok: true,
                        detail: t!("discover-reconnect-failed", reason = e.to_string()),
                        user: None,
                        outside_domain,
                        needs_confirmation: false,
                    }
                }
            };
        }
        match client.login(user, password, AuthMethod::Auto, false).await {
            Ok(m) => {
                let _ = client.quit().await;
                return Probe {
                    candidate: c.clone(),
                    ok: true,
                    detail: t!(
                        "discover-logged-in",
                        user = user.as_str(),
                        method = m.as_str(),
                        caps = caps.as_str()
                    ),
                    user: Some(user.clone()),
                    outside_domain,
                    needs_confirmation: false,
                };
            }
            Err(e @ ClientError::Auth { .. }) => last = e.to_string(),
            Err(e) => {
                last = e.to_string();
                break;
            }
        }
    }
    Probe {
        candidate: c.clone(),
        ok: true,
        detail: t!("discover-no-user-form", reason = last.as_str()),
        user: None,
        outside_domain,
        needs_confirmation: false,
    }
}

/// Whether the user confirmed `c` (outside `domain`): named with `--yes`, or answered yes.
fn approved(c: &Candidate, opts: &DiscoverOptions, domain: &str) -> bool {
    let host = c.host.trim_end_matches('.');
    if opts
        .approved_hosts
        .iter()
        .any(|h| h.trim_end_matches('.').eq_ignore_ascii_case(host))
    {
        return true;
    }
    opts.confirm.as_ref().is_some_and(|f| (f.0)(c, domain))
}

/// The TOML text of an account section for the accounts file.
pub fn account_toml(
    name: &str,
    c: &Candidate,
    user: &str,
    dest_key: &str,
    dest_value: &str,
    extra: &[(String, String)],
) -> String {
    let q = |s: &str| toml::Value::String(s.to_string()).to_string();
    let mut s = format!(
        "\n[accounts.{}]\nhost = {}\nport = {}\nsecurity = {}\nuser = {}\n{dest_key} = {}\n",
        q(name),
        q(&c.host),
        c.port,
        q(c.security.as_str()),
        q(user),
        q(dest_value)
    );
    for (k, v) in extra {
        s.push_str(&format!("{k} = {v}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autoconfig_documents() {
        let xml = r#"<?xml version="1.0"?>
<clientConfig version="1.1"><emailProvider id="example.com">
  <incomingServer type="imap"><hostname>imap.example.com</hostname><port>993</port><socketType>SSL</socketType></incomingServer>
  <incomingServer type="pop3"><hostname>pop.example.com</hostname><port>995</port><socketType>SSL</socketType><username>%EMAILADDRESS%</username></incomingServer>
  <incomingServer type="pop3"><hostname>pop.%EMAILDOMAIN%</hostname><port>110</port><socketType>STARTTLS</socketType><username>%EMAILLOCALPART%</username></incomingServer>
</emailProvider></clientConfig>"#;
        let c = parse_autoconfig(xml, "me", "me@example.com", "example.com")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.len(), 2);
        assert_eq!(
            (
                c[0].host.as_str(),
                c[0].port,
                c[0].security,
                c[0].user_hint.as_deref()
            ),
            (
                "pop.example.com",
                995,
                Security::Tls,
                Some("me@example.com")
            )
        );
        assert_eq!(
            (
                c[1].host.as_str(),
                c[1].port,
                c[1].security,
                c[1].user_hint.as_deref()
            ),
            ("pop.example.com", 110, Security::Starttls, Some("me"))
        );
        assert!(parse_autoconfig("<x", "", "", "").is_err());
    }

    #[test]
    fn addresses_and_domains() {
        assert_eq!(
            split_address("Me@Example.COM").ok(),
            Some(("Me".into(), "example.com".into()))
        );
        assert!(split_address("nope").is_err());
        assert!(split_address("a@localhost").is_err());
        assert!(!outside("pop.example.com", "example.com"));
        assert!(!outside("example.com", "example.com"));
        assert!(outside("pop.example.net", "example.com"));
        assert!(outside("badexample.com", "example.com"));
    }

    #[test]
    fn account_sections_are_valid_toml() {
        let c = Candidate {
            host: "pop.example.com".into(),
            port: 995,
            security: Security::Tls,
            source: "guess".into(),
            user_hint: None,
        };
        let t = account_toml(
            "me@example.com",
            &c,
            "me@example.com",
            "maildir",
            "/home/me/Mail",
            &[],
        );
        let cfg = crate::config::FileConfig::parse(&t).unwrap_or_else(|e| panic!("{e}\n{t}"));
        let a = cfg
            .account("me@example.com")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.server.host, "pop.example.com");
    }
}
