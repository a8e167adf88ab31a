//! The web side of `buzon serve`: mail-client autoconfiguration over HTTPS (and HTTP).
//!
//! For every local domain (`[delivery] local_domains`) the server publishes its own POP3
//! settings, so that mail programs configure themselves from the e-mail address alone:
//!
//! - Thunderbird autoconfig (`config-v1.1.xml`) at `/.well-known/autoconfig/mail/…` and
//!   `/mail/…` (the `autoconfig.<domain>` host), with or without `?emailaddress=`;
//! - Outlook Autodiscover (POX, `POST /autodiscover/autodiscover.xml`).
//!
//! Both list POP3 over implicit TLS (the POP3S listener's port) and POP3 with STARTTLS
//! (a plain POP3 listener that offers STLS), never POP3 without TLS. The user name is the
//! full address when a user of that name exists, else the address's local part, which
//! is how delivery names mailboxes. A domain that is not local gets 404.
//!
//! An HTTP listener serves the same autoconfiguration paths (clients fetch them over
//! plain HTTP too; what they get names TLS ports only) and redirects everything else to
//! HTTPS. Connections go through the same prelude as POP3 (PROXY headers from trusted
//! networks, per-address limits) and are bounded by a deadline, not per read.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::config::{Listener, Protocol};
use crate::Shared;

/// The ports the autoconfiguration documents name: the listeners as bound.
#[derive(Debug, Clone, Default)]
pub(crate) struct Published {
    /// POP3 over implicit TLS.
    pub pop3s: Option<u16>,
    /// POP3 on a listener offering STLS.
    pub pop3_starttls: Option<u16>,
    /// Where HTTP redirects to.
    pub https: Option<u16>,
}

impl Published {
    pub(crate) fn of(bound: &[(Listener, SocketAddr)]) -> Published {
        let port = |want: &dyn Fn(&Listener) -> bool| {
            bound.iter().find(|(l, _)| want(l)).map(|(_, a)| a.port())
        };
        Published {
            pop3s: port(&|l| l.protocol == Protocol::Pop3s),
            pop3_starttls: port(&|l| l.protocol == Protocol::Pop3 && l.starttls),
            https: port(&|l| l.protocol == Protocol::Https),
        }
    }
}

/// A request body larger than this is refused (an Autodiscover request is ~400 bytes).
const MAX_BODY: usize = 64 * 1024;

/// Serves one HTTP or HTTPS connection.
pub(crate) async fn handle(shared: Arc<Shared>, tcp: TcpStream, peer: SocketAddr, https: bool) {
    let limits = &shared.config.limits;
    let Some(client) = crate::accept_prelude(&shared, &tcp, peer).await else {
        return;
    };
    let Ok(_guard) = shared.registry.connect(
        client.addr.ip(),
        limits.max_connections,
        limits.max_connections_per_ip,
    ) else {
        tracing::info!(remote = %client.addr, "web connection refused: too many connections");
        return;
    };
    // The whole connection, TLS handshake included, within one deadline.
    let deadline = limits.auth_timeout;
    let app = router(Arc::clone(&shared), https, client.addr, client.known);
    let service = hyper_util::service::TowerToHyperService::new(app);
    let served = async {
        if https {
            let acceptor = tokio_rustls::TlsAcceptor::from(shared.tls.server_config());
            let tls = match timeout(limits.handshake_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::info!(remote = %client.addr, "TLS handshake failed: {e}");
                    shared.metrics.tls_failed("https");
                    return;
                }
                Err(_) => {
                    shared.metrics.tls_failed("https");
                    return;
                }
            };
            serve_http1(TokioIo::new(tls), service, client.addr).await;
        } else {
            serve_http1(TokioIo::new(tcp), service, client.addr).await;
        }
    };
    if timeout(deadline, served).await.is_err() {
        tracing::debug!(remote = %client.addr, "web connection closed at its deadline");
    }
}

async fn serve_http1<I, S>(io: I, service: S, remote: SocketAddr)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<hyper::body::Incoming> + Send,
    S::Future: Send + 'static,
    S::ResBody: 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .max_buf_size(MAX_BODY.max(8192))
        .serve_connection(io, service)
        .await
    {
        tracing::debug!(%remote, "web connection: {e}");
    }
}

#[derive(Clone)]
struct App {
    shared: Arc<Shared>,
    https: bool,
}

fn router(shared: Arc<Shared>, https: bool, client: SocketAddr, client_known: bool) -> Router {
    let base = Router::new()
        .route(
            "/.well-known/autoconfig/mail/config-v1.1.xml",
            get(autoconfig),
        )
        .route("/mail/config-v1.1.xml", get(autoconfig))
        .route("/autodiscover/autodiscover.xml", post(autodiscover))
        .route("/Autodiscover/Autodiscover.xml", post(autodiscover))
        .fallback(fallback)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(App {
            shared: Arc::clone(&shared),
            https,
        });
    if !https {
        // The account pages exist on HTTPS only (HTTP redirects there).
        return base;
    }
    use crate::account as a;
    let account = Router::new()
        .route("/account", get(a::home))
        .route("/account/login", get(a::login_form).post(a::login))
        .route("/account/logout", post(a::logout))
        .route("/account/style.css", get(a::style))
        .route("/account/lang", get(a::switch_lang))
        .route("/account/app-passwords", post(a::create_app_password))
        .route(
            "/account/app-passwords/revoke",
            post(a::revoke_app_password),
        )
        .route("/account/two-step/start", post(a::two_step_start))
        .route("/account/two-step/confirm", post(a::two_step_confirm))
        .route("/account/two-step/disable", post(a::two_step_disable))
        .route("/account/apple.mobileconfig", get(a::mobileconfig))
        .route("/account/password", post(a::change_password))
        .route("/account/admin", get(a::admin))
        .route("/account/admin/users/disable", post(a::admin_disable))
        .route("/account/admin/users/enable", post(a::admin_enable))
        .route("/account/admin/users/password", post(a::admin_password))
        .route("/account/admin/users/add", post(a::admin_add))
        .route("/account/admin/users/quota", post(a::admin_quota))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(a::Web {
            shared,
            client,
            client_known,
        });
    account.merge(base)
}

/// The host the client asked for, without a port.
fn host_of(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let host = match host.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.ends_with(':') => h,
        _ => host,
    };
    Some(host.trim_end_matches('.').to_ascii_lowercase())
}

fn is_local(app: &App, domain: &str) -> bool {
    app.shared
        .config
        .delivery
        .routing
        .local_domains
        .iter()
        .any(|d| d.eq_ignore_ascii_case(domain))
}

/// The response with the headers every answer carries (HSTS on HTTPS).
fn finish(app: &App, mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if app.https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    r
}

fn not_found(app: &App, what: String) -> Response {
    finish(
        app,
        (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            what,
        )
            .into_response(),
    )
}

fn xml(app: &App, body: String) -> Response {
    finish(
        app,
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
            body,
        )
            .into_response(),
    )
}

/// What the documents say about one address (or one domain).
struct Settings {
    domain: String,
    host: String,
    /// `%EMAILADDRESS%` / `%EMAILLOCALPART%` in autoconfig, the name itself in
    /// Autodiscover.
    full_address_login: bool,
    published: Published,
}

fn settings_for(app: &App, address: Option<&str>, host: Option<&str>) -> Result<Settings, String> {
    let domain = match address {
        Some(a) => a
            .rsplit_once('@')
            .map(|(_, d)| d.trim().to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .ok_or_else(|| format!("{a:?} is not an e-mail address"))?,
        None => host
            .map(|h| h.strip_prefix("autoconfig.").unwrap_or(h).to_string())
            .ok_or("give ?emailaddress=… or ask through the domain's name")?,
    };
    if !is_local(app, &domain) {
        return Err(format!("this server has no mail service for {domain}"));
    }
    let full_address_login = address.is_some_and(|a| {
        app.shared
            .auth
            .users()
            .map(|db| db.lookup(a).is_some())
            .unwrap_or(false)
    });
    Ok(Settings {
        domain,
        host: app.shared.config.hostname.clone(),
        full_address_login,
        published: app.shared.published.clone(),
    })
}

async fn autoconfig(
    State(app): State<App>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let host = host_of(&headers);
    match settings_for(
        &app,
        q.get("emailaddress").map(String::as_str),
        host.as_deref(),
    ) {
        Ok(s) => xml(&app, autoconfig_xml(&s)),
        Err(why) => not_found(&app, why),
    }
}

/// Thunderbird's autoconfig format, version 1.1.
fn autoconfig_xml(s: &Settings) -> String {
    let user = if s.full_address_login {
        "%EMAILADDRESS%"
    } else {
        "%EMAILLOCALPART%"
    };
    let domain = escape(&s.domain);
    let host = escape(&s.host);
    let mut servers = String::new();
    for (port, socket) in [
        (s.published.pop3s, "SSL"),
        (s.published.pop3_starttls, "STARTTLS"),
    ] {
        let Some(port) = port else { continue };
        servers.push_str(&format!(
            "    <incomingServer type=\"pop3\">\n      <hostname>{host}</hostname>\n      <port>{port}</port>\n      <socketType>{socket}</socketType>\n      <authentication>password-cleartext</authentication>\n      <username>{user}</username>\n      <pop3>\n        <leaveMessagesOnServer>false</leaveMessagesOnServer>\n      </pop3>\n    </incomingServer>\n"
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<clientConfig version=\"1.1\">\n  <emailProvider id=\"{domain}\">\n    <domain>{domain}</domain>\n    <displayName>{domain}</displayName>\n    <displayShortName>{domain}</displayShortName>\n{servers}  </emailProvider>\n</clientConfig>\n"
    )
}

async fn autodiscover(State(app): State<App>, body: String) -> Response {
    let address = match roxmltree::Document::parse(&body) {
        Ok(doc) => doc
            .descendants()
            .find(|n| n.has_tag_name("EMailAddress"))
            .and_then(|n| n.text())
            .map(|t| t.trim().to_string()),
        Err(_) => None,
    };
    let Some(address) = address else {
        return finish(
            &app,
            (
                StatusCode::BAD_REQUEST,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "an Autodiscover request (POX) with <EMailAddress> is expected",
            )
                .into_response(),
        );
    };
    match settings_for(&app, Some(&address), None) {
        Ok(s) => xml(&app, autodiscover_xml(&s, &address)),
        Err(why) => not_found(&app, why),
    }
}

/// Outlook's Autodiscover POX response (the 2006a "outlook" schema), POP3 only.
fn autodiscover_xml(s: &Settings, address: &str) -> String {
    let login = if s.full_address_login {
        address.to_string()
    } else {
        address
            .rsplit_once('@')
            .map(|(l, _)| l.to_string())
            .unwrap_or_default()
    };
    let (login, host) = (escape(&login), escape(&s.host));
    let mut protocols = String::new();
    for (port, tls) in [
        (s.published.pop3s, "<SSL>on</SSL>"),
        (
            s.published.pop3_starttls,
            "<SSL>on</SSL>\n        <Encryption>TLS</Encryption>",
        ),
    ] {
        let Some(port) = port else { continue };
        protocols.push_str(&format!(
            "      <Protocol>\n        <Type>POP3</Type>\n        <Server>{host}</Server>\n        <Port>{port}</Port>\n        <LoginName>{login}</LoginName>\n        <DomainRequired>off</DomainRequired>\n        <SPA>off</SPA>\n        {tls}\n        <AuthRequired>on</AuthRequired>\n      </Protocol>\n"
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006\">\n  <Response xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a\">\n    <Account>\n      <AccountType>email</AccountType>\n      <Action>settings</Action>\n{protocols}    </Account>\n  </Response>\n</Autodiscover>\n"
    )
}

/// HTTPS: 404 for anything else. HTTP: a permanent redirect to the same path on HTTPS.
async fn fallback(State(app): State<App>, uri: Uri, headers: HeaderMap) -> Response {
    if app.https {
        return not_found(&app, "not found".to_string());
    }
    let host = host_of(&headers).unwrap_or_else(|| app.shared.config.hostname.clone());
    let port = match app.shared.published.https {
        Some(443) | None => String::new(),
        Some(p) => format!(":{p}"),
    };
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".to_string());
    let location = format!("https://{host}{port}{path}");
    match HeaderValue::from_str(&location) {
        Ok(v) => finish(
            &app,
            (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, v)]).into_response(),
        ),
        Err(_) => not_found(&app, "not found".to_string()),
    }
}

/// XML text and attribute escaping.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}
