//! `buzon check`: walk DNS → TCP → TLS → greeting → CAPA → STLS → login → STAT for one
//! account, one step at a time, and for the first failure say what is wrong and how to
//! fix it in plain words.

use buzon_i18n::t;
use std::time::Duration;

use buzon_pop3_proto::Secret;

use crate::config::Account;
use crate::error::{ClientError, ErrorClass};
use crate::fetch::human_bytes;
use crate::net::{connect_tcp, Resolver, Security, TlsClient};
use crate::pop3::{AuthMethod, Pop3Client};

/// One step of the walk.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Step {
    pub step: &'static str,
    pub ok: bool,
    /// What was found (on success) or what went wrong (on failure).
    pub detail: String,
    /// What to do about a failure.
    pub fix: Option<String>,
    pub class: Option<ErrorClass>,
}

/// All steps run (the walk stops at the first failure).
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckReport {
    pub account: String,
    pub ok: bool,
    pub steps: Vec<Step>,
}

impl CheckReport {
    /// The class of the failure, if any (for the exit code).
    pub fn failure(&self) -> Option<ErrorClass> {
        self.steps.iter().find(|s| !s.ok).and_then(|s| s.class)
    }

    /// An account whose OAuth token could not be had (not signed in, the sign-in revoked
    /// or expired, the provider unreachable): one failed login step that says why.
    pub fn without_token(account: &str, e: &ClientError) -> CheckReport {
        let mut w = Walk { steps: Vec::new() };
        w.fail("login", e);
        CheckReport {
            account: account.to_string(),
            ok: false,
            steps: w.steps,
        }
    }
}

struct Walk {
    steps: Vec<Step>,
}

impl Walk {
    fn ok(&mut self, step: &'static str, detail: impl Into<String>) {
        self.steps.push(Step {
            step,
            ok: true,
            detail: detail.into(),
            fix: None,
            class: None,
        });
    }
    fn fail(&mut self, step: &'static str, e: &ClientError) {
        let text = e.to_string();
        let (detail, fix) = match text.split_once(" — ") {
            Some((d, f)) => (d.to_string(), Some(f.to_string())),
            None => (text, None),
        };
        self.steps.push(Step {
            step,
            ok: false,
            detail,
            fix,
            class: Some(e.class()),
        });
    }
}

/// Runs the walk. Without a password the login and STAT steps are left out.
pub async fn check(
    account: &Account,
    password: Option<&Secret>,
    resolver: &Resolver,
) -> CheckReport {
    let mut w = Walk { steps: Vec::new() };
    let ok = Box::pin(walk(account, password, resolver, &mut w)).await;
    CheckReport {
        account: account.name.clone(),
        ok,
        steps: w.steps,
    }
}

async fn walk(
    account: &Account,
    password: Option<&Secret>,
    resolver: &Resolver,
    w: &mut Walk,
) -> bool {
    let spec = &account.server;
    let host = spec.host.as_str();
    let addrs = match resolver.lookup(host, spec.port).await {
        Ok(a) => a,
        Err(e) => {
            w.fail("DNS", &e);
            return false;
        }
    };
    let shown: Vec<String> = addrs.iter().take(3).map(|a| a.ip().to_string()).collect();
    w.ok("DNS", format!("{host} → {}", shown.join(", ")));

    let (tcp, addr) = match connect_tcp(resolver, host, spec.port, spec.timeouts.connect).await {
        Ok(t) => t,
        Err(e) => {
            w.fail("TCP", &e);
            return false;
        }
    };
    w.ok("TCP", t!("check-connected", addr = addr.to_string()));

    let tls = match spec.security {
        Security::None => None,
        _ => match TlsClient::new(&spec.tls) {
            Ok(t) => Some(t),
            Err(e) => {
                w.fail("TLS", &e);
                return false;
            }
        },
    };
    let opened = match (&tls, spec.security) {
        (Some(t), Security::Tls) => match t
            .handshake(tcp, spec.tls_name(), spec.timeouts.handshake)
            .await
        {
            Ok(s) => {
                let version = s
                    .get_ref()
                    .1
                    .protocol_version()
                    .map(|v| match v {
                        rustls::ProtocolVersion::TLSv1_3 => "TLS 1.3".to_string(),
                        rustls::ProtocolVersion::TLSv1_2 => "TLS 1.2".to_string(),
                        _ => "TLS".to_string(),
                    })
                    .unwrap_or_default();
                let fp = t
                    .seen_fingerprint()
                    .map(|f| f.to_string())
                    .unwrap_or_default();
                w.ok(
                    "TLS",
                    t!(
                        "check-tls-accepted",
                        version = version,
                        host = spec.tls_name(),
                        fingerprint = fp
                    ),
                );
                Pop3Client::open_tls(s, host, spec.timeouts).await
            }
            Err(e) => {
                w.fail("TLS", &e);
                return false;
            }
        },
        _ => Pop3Client::open(Box::new(tcp), host, spec.timeouts, false).await,
    };
    let mut client = match opened {
        Ok(c) => c,
        Err(ClientError::NoGreeting { addr, secs, .. }) if spec.security != Security::Tls => {
            // Maybe the port wants TLS from the first byte: try it.
            let hint = match tls_answers(account, resolver).await {
                true => t!("client-hint-is-pop3s"),
                false => t!("client-hint-not-pop3"),
            };
            w.fail("greeting", &ClientError::NoGreeting { addr, secs, hint });
            return false;
        }
        Err(e) => {
            w.fail("greeting", &e);
            return false;
        }
    };
    w.ok("greeting", client.greeting().to_string());

    match client.capa().await {
        Ok(Some(c)) => {
            let names: Vec<String> = c
                .lines
                .iter()
                .map(|(k, a)| {
                    if a.is_empty() {
                        k.clone()
                    } else {
                        format!("{k} {}", a.join(" "))
                    }
                })
                .collect();
            w.ok("CAPA", names.join(", "));
        }
        Ok(None) => w.ok("CAPA", t!("check-no-capa")),
        Err(e) => {
            w.fail("CAPA", &e);
            return false;
        }
    }

    match (&tls, spec.security) {
        (Some(t), Security::Starttls) => match client.stls(t, spec.tls_name()).await {
            Ok(mut c) => {
                let fp = c.fingerprint().map(|f| f.to_string()).unwrap_or_default();
                w.ok(
                    "STLS",
                    t!(
                        "check-stls-upgraded",
                        host = spec.tls_name(),
                        fingerprint = fp
                    ),
                );
                if let Err(e) = c.capa().await {
                    w.fail("CAPA", &e);
                    return false;
                }
                client = c;
            }
            Err(e) => {
                w.fail("STLS", &e);
                return false;
            }
        },
        (_, Security::Tls) => w.ok("STLS", t!("check-stls-not-needed")),
        _ => w.ok("STLS", t!("check-stls-not-used")),
    }

    let Some(password) = password else {
        w.ok("login", t!("check-login-skipped"));
        return true;
    };
    match client
        .login(
            &account.user,
            password,
            account.auth,
            account.allow_plaintext,
        )
        .await
    {
        Ok(m) => w.ok(
            "login",
            t!(
                "check-logged-in",
                user = &account.user,
                mechanism = m.as_str()
            ),
        ),
        Err(ClientError::Auth {
            host, user, text, ..
        }) => {
            let hint = alternative_user(account, password, resolver).await;
            w.fail(
                "login",
                &ClientError::Auth {
                    host,
                    user,
                    text,
                    hint,
                },
            );
            return false;
        }
        Err(e) => {
            w.fail("login", &e);
            return false;
        }
    }
    match client.stat().await {
        Ok((n, octets)) => w.ok(
            "STAT",
            t!("check-stat", count = n, size = human_bytes(octets)),
        ),
        Err(e) => {
            w.fail("STAT", &e);
            return false;
        }
    }
    let _ = client.quit().await;
    true
}

/// Whether the server answers a TLS handshake on this port (a plain connection got no
/// greeting).
async fn tls_answers(account: &Account, resolver: &Resolver) -> bool {
    let spec = &account.server;
    let Ok(t) = TlsClient::new(&spec.tls) else {
        return false;
    };
    let Ok((tcp, _)) = connect_tcp(resolver, &spec.host, spec.port, spec.timeouts.connect).await
    else {
        return false;
    };
    match t
        .handshake(
            tcp,
            spec.tls_name(),
            spec.timeouts.handshake.min(Duration::from_secs(10)),
        )
        .await
    {
        Ok(_) => true,
        // A certificate complaint still proves the port speaks TLS.
        Err(ClientError::Tls {
            problem: Some(_), ..
        }) => true,
        Err(_) => false,
    }
}

/// After an `[AUTH]` failure: try the other form of the user name (local part vs full
/// address) once, and say which works.
async fn alternative_user(account: &Account, password: &Secret, resolver: &Resolver) -> String {
    let user = &account.user;
    let Some((local, _)) = user.split_once('@') else {
        return t!("client-auth-hint-full-address");
    };
    let Ok(mut c) = Pop3Client::connect(&account.server, resolver).await else {
        return crate::pop3::user_name_hint(user);
    };
    let method = if account.auth == AuthMethod::Auto {
        AuthMethod::Auto
    } else {
        account.auth
    };
    match c
        .login(local, password, method, account.allow_plaintext)
        .await
    {
        Ok(_) => {
            let _ = c.quit().await;
            t!("client-auth-hint-local-works", local = local)
        }
        Err(_) => t!("client-auth-hint-local-rejected", local = local),
    }
}
