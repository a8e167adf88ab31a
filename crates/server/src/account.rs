//! The account's own pages on the HTTPS listener (`/account`): sign in with the main
//! password (and a TOTP or recovery code when two-step verification is on), then manage
//! app passwords, turn two-step verification on or off, and download the Apple
//! configuration profile.
//!
//! Server-rendered HTML without any script; a Content-Security-Policy that forbids
//! scripts, inline styles and framing; a CSRF token on every form (the sign-in form too,
//! as a double-submitted cookie); session cookies `Secure; HttpOnly; SameSite=Strict`,
//! ending after [`IDLE`] without a request, after [`MAX_AGE`] in any case, and when the
//! account's password changes. Sign-ins go through the POP3 throttle (the same penalties
//! per network and name) and every failure is answered at the fixed failure time. App
//! passwords never sign in here. Texts come from the catalogs, in the language of the
//! `lang` cookie (set by the switch on every page) or else `Accept-Language`.
//!
//! Sessions live in this node's memory: behind a balancer, send a browser to one node
//! (HAProxy `balance source` on the HTTPS frontend); a node's restart signs users out.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use buzon_auth::{AppScope, CodeCheck, TotpEnrolment, UserEntry, TWO_STEP_FIELD};
use buzon_i18n::{Arg, Lang};
use rand::RngCore;
use serde::Deserialize;

use crate::login::Verdict;
use crate::Shared;

/// A session ends after this long without a request.
pub const IDLE: Duration = Duration::from_secs(15 * 60);
/// And after this long in any case.
pub const MAX_AGE: Duration = Duration::from_secs(8 * 3600);
/// The most sessions kept; the oldest go first.
const MAX_SESSIONS: usize = 10_000;
const COOKIE: &str = "buzon_session";
const LOGIN_COOKIE: &str = "buzon_login";
const LANG_COOKIE: &str = "buzon_lang";

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}\
header{display:flex;justify-content:space-between;align-items:center;border-bottom:1px solid #ccc;margin-bottom:1rem}\
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem;border-bottom:1px solid #eee}\
label{display:block;margin:.5rem 0}input[type=text],input[type=password]{width:100%;padding:.4rem;box-sizing:border-box}\
button{padding:.4rem .9rem;margin:.3rem 0}.secret{font-family:monospace;font-size:1.3rem;background:#f4f4f4;padding:.5rem}\
.error{color:#b00020}.note{color:#555}form.inline{display:inline}";

/// One signed-in browser.
struct WebSession {
    user: String,
    csrf: String,
    created: Instant,
    last_seen: Instant,
    /// The stored password at sign-in: a change ends the session.
    password: String,
    /// A TOTP secret being set up, until its first code confirms it.
    enrolment: Option<TotpEnrolment>,
}

/// The sessions of this node.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, WebSession>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sessions")
    }
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

fn now_secs() -> u64 {
    buzon_store::date::now_secs()
}

/// What every handler knows about the request.
#[derive(Clone)]
pub(crate) struct Web {
    pub shared: Arc<Shared>,
    pub client: SocketAddr,
    pub client_known: bool,
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The page's language: the switch's cookie, else the browser's `Accept-Language`.
fn lang(headers: &HeaderMap) -> Lang {
    if let Some(l) = cookie(headers, LANG_COOKIE).and_then(|l| Lang::from_tag(&l)) {
        return l;
    }
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            // In the order given (q-values are rarely out of order); the first known wins.
            v.split(',')
                .filter_map(|r| Lang::from_tag(r.split(';').next().unwrap_or("").trim()))
                .next()
        })
        .unwrap_or(Lang::En)
}

fn tx(lang: Lang, key: &str) -> String {
    buzon_i18n::text(lang, key, &[])
}

fn txa(lang: Lang, key: &str, args: &[(&str, Arg)]) -> String {
    buzon_i18n::text(lang, key, args)
}

/// HTML-escapes text.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Headers every page carries.
fn secure(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    r
}

fn page(
    lang: Lang,
    status: StatusCode,
    title: &str,
    user: Option<&str>,
    csrf: Option<&str>,
    body: &str,
) -> Response {
    let other = match lang {
        Lang::Es => ("en", "English"),
        _ => ("es", "Español"),
    };
    let signed = match (user, csrf) {
        (Some(u), Some(c)) => format!(
            "<span>{}</span> <form class=\"inline\" method=\"post\" action=\"/account/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button>{}</button></form>",
            esc(&txa(lang, "web-signed-in-as", &[("user", u.into())])),
            esc(c),
            esc(&tx(lang, "web-sign-out"))
        ),
        _ => String::new(),
    };
    let html = format!(
        "<!DOCTYPE html><html lang=\"{tag}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title} — Buzón</title><link rel=\"stylesheet\" href=\"/account/style.css\"></head><body><header><h1>{title}</h1><nav>{signed} <a href=\"/account/lang?to={otag}\" hreflang=\"{otag}\">{oname}</a></nav></header>{body}</body></html>",
        tag = lang.tag(),
        title = esc(title),
        otag = other.0,
        oname = other.1,
    );
    secure(
        (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
    )
}

fn redirect(to: &str) -> Response {
    secure((StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response())
}

fn set_cookie(mut r: Response, name: &str, value: &str, max_age: Option<u64>) -> Response {
    let age = max_age.map_or(String::new(), |a| format!("; Max-Age={a}"));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{name}={value}; Path=/account; Secure; HttpOnly; SameSite=Strict{age}"
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

pub(crate) async fn style() -> Response {
    secure(([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response())
}

#[derive(Deserialize)]
pub(crate) struct LangQuery {
    to: Option<String>,
}

/// The language switch: remembered in a cookie for a year.
pub(crate) async fn switch_lang(Query(q): Query<LangQuery>) -> Response {
    let tag =
        q.to.as_deref()
            .and_then(Lang::from_tag)
            .unwrap_or(Lang::En)
            .tag();
    set_cookie(redirect("/account"), LANG_COOKIE, tag, Some(365 * 86400))
}

impl Web {
    /// The session of this request, if it is still valid (touched).
    fn session(&self, headers: &HeaderMap) -> Option<(String, String, String)> {
        let id = cookie(headers, COOKIE)?;
        let db = self.shared.auth.directory().current();
        let mut map = self
            .shared
            .web_sessions
            .map
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let s = map.get_mut(&id)?;
        let now = Instant::now();
        let current = db.lookup(&s.user).map(|e| e.password.clone());
        if now.duration_since(s.last_seen) > IDLE
            || now.duration_since(s.created) > MAX_AGE
            || current.as_deref() != Some(s.password.as_str())
        {
            map.remove(&id);
            return None;
        }
        s.last_seen = now;
        Some((id, s.user.clone(), s.csrf.clone()))
    }

    fn entry(&self, user: &str) -> Option<UserEntry> {
        self.shared.auth.directory().current().lookup(user).cloned()
    }
}

fn two_step_on(entry: &UserEntry) -> bool {
    crate::login::two_step_on(entry)
}

/// Checks a TOTP or recovery code of `user`'s two-step verification and uses it up (one
/// read-modify-write of the credential store, off the runtime). `Err`: the store cannot
/// be reached.
async fn use_code(web: &Web, user: &str, code: &str) -> Result<CodeCheck, String> {
    let creds = Arc::clone(web.shared.auth.credentials());
    let (who, code) = (user.to_string(), code.to_string());
    tokio::task::spawn_blocking(move || {
        let mut out = CodeCheck::Invalid;
        creds
            .modify(&who, &mut |c| {
                if let Some(t) = c.two_step.as_mut() {
                    out = t.check_code(&code, now_secs());
                }
                Ok(())
            })
            .map(|()| out)
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    user: String,
    password: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    csrf: String,
}

fn login_page(lang: Lang, error: Option<&str>, status: StatusCode) -> Response {
    let token = random_token();
    let err = error.map_or(String::new(), |e| {
        format!("<p class=\"error\">{}</p>", esc(e))
    });
    let body = format!(
        "{err}<form method=\"post\" action=\"/account/login\"><input type=\"hidden\" name=\"csrf\" value=\"{token}\">\
<label>{u}<input type=\"text\" name=\"user\" autocomplete=\"username\" required></label>\
<label>{p}<input type=\"password\" name=\"password\" autocomplete=\"current-password\" required></label>\
<label>{c}<input type=\"text\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\"></label>\
<p class=\"note\">{hint}</p><button type=\"submit\">{s}</button></form>",
        u = esc(&tx(lang, "web-user")),
        p = esc(&tx(lang, "web-password")),
        c = esc(&tx(lang, "web-code")),
        hint = esc(&tx(lang, "web-code-hint")),
        s = esc(&tx(lang, "web-sign-in")),
    );
    set_cookie(
        page(
            lang,
            status,
            &tx(lang, "web-title-login"),
            None,
            None,
            &body,
        ),
        LOGIN_COOKIE,
        &token,
        None,
    )
}

pub(crate) async fn login_form(headers: HeaderMap) -> Response {
    login_page(lang(&headers), None, StatusCode::OK)
}

pub(crate) async fn login(
    State(web): State<Web>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let lang = lang(&headers);
    // Double-submitted token: a page of another site cannot sign a browser in.
    if f.csrf.is_empty() || cookie(&headers, LOGIN_COOKIE).as_deref() != Some(f.csrf.as_str()) {
        return login_page(lang, Some(&tx(lang, "web-csrf")), StatusCode::FORBIDDEN);
    }
    let shared = Arc::clone(&web.shared);
    let ip = web.client.ip();
    let user = f.user.trim().to_string();
    match shared.auth.admit(ip, web.client_known, &user) {
        buzon_auth::Admission::After(d) if !d.is_zero() => tokio::time::sleep(d).await,
        buzon_auth::Admission::After(_) => {}
        buzon_auth::Admission::Refused => {
            tokio::time::sleep(shared.auth.failure_delay()).await;
            return login_page(
                lang,
                Some(&tx(lang, "web-login-throttled")),
                StatusCode::TOO_MANY_REQUESTS,
            );
        }
    }
    let checked_at = tokio::time::Instant::now();
    let verdict = shared
        .auth
        .verify_main_password(
            user.clone(),
            buzon_pop3_proto::Secret::new(f.password.as_bytes()),
            Some(ip),
        )
        .await;
    let name = match verdict {
        Verdict::Valid(name) => Some(name),
        Verdict::TwoStepRequired => {
            // The main password was right; the second step is the code.
            let name = web.entry(&user).map(|e| e.name).unwrap_or(user.clone());
            let check = use_code(&web, &name, &f.code).await;
            match check {
                Ok(CodeCheck::Totp | CodeCheck::Recovery(_)) => Some(name),
                Ok(CodeCheck::Replayed | CodeCheck::Invalid) => None,
                Err(why) => {
                    tracing::error!(remote = %web.client, "cannot check a web sign-in code: {why}");
                    return login_page(
                        lang,
                        Some(&tx(lang, "web-login-unavailable")),
                        StatusCode::SERVICE_UNAVAILABLE,
                    );
                }
            }
        }
        Verdict::Invalid => None,
        Verdict::Unavailable(why) => {
            tracing::error!(remote = %web.client, "cannot check a web sign-in: {why}");
            return login_page(
                lang,
                Some(&tx(lang, "web-login-unavailable")),
                StatusCode::SERVICE_UNAVAILABLE,
            );
        }
    };
    let Some(name) = name else {
        let wait = shared.auth.record(ip, web.client_known, &user, false);
        tracing::info!(remote = %web.client, user = ?user, "web sign-in failed");
        tokio::time::sleep_until(checked_at + wait).await;
        return login_page(
            lang,
            Some(&tx(lang, "web-login-failed")),
            StatusCode::UNAUTHORIZED,
        );
    };
    shared.auth.record(ip, web.client_known, &name, true);
    let password = web.entry(&name).map(|e| e.password).unwrap_or_default();
    let id = random_token();
    {
        let mut map = shared
            .web_sessions
            .map
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        let now = Instant::now();
        map.insert(
            id.clone(),
            WebSession {
                user: name.clone(),
                csrf: random_token(),
                created: now,
                last_seen: now,
                password,
                enrolment: None,
            },
        );
    }
    tracing::info!(remote = %web.client, user = %name, "web sign-in");
    shared.auth.record_login(&name, ip, "web");
    let r = set_cookie(redirect("/account"), COOKIE, &id, None);
    set_cookie(r, LOGIN_COOKIE, "", Some(0))
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn logout(
    State(web): State<Web>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some((id, _, csrf)) = web.session(&headers) {
        if csrf == f.csrf {
            web.shared
                .web_sessions
                .map
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
        }
    }
    set_cookie(redirect("/account/login"), COOKIE, "", Some(0))
}

/// The account page.
pub(crate) async fn home(State(web): State<Web>, headers: HeaderMap) -> Response {
    let lang = lang(&headers);
    let Some((_, user, csrf)) = web.session(&headers) else {
        return redirect("/account/login");
    };
    let Some(entry) = web.entry(&user) else {
        return redirect("/account/login");
    };
    let creds = Arc::clone(web.shared.auth.credentials());
    let who = user.clone();
    let stored = tokio::task::spawn_blocking(move || creds.load(&who)).await;
    let creds = match stored {
        Ok(Ok(c)) => c,
        _ => {
            return page(
                lang,
                StatusCode::SERVICE_UNAVAILABLE,
                &tx(lang, "web-title-account"),
                Some(&user),
                Some(&csrf),
                &format!(
                    "<p class=\"error\">{}</p>",
                    esc(&tx(lang, "web-login-unavailable"))
                ),
            );
        }
    };
    let mut rows = String::new();
    for a in &creds.app_passwords {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><form class=\"inline\" method=\"post\" action=\"/account/app-passwords/revoke\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"id\" value=\"{}\"><button>{}</button></form></td></tr>",
            esc(&a.name),
            esc(a.scope.as_str()),
            esc(&buzon_store::date::rfc5322(a.created)),
            esc(&a.last_used.map(buzon_store::date::rfc5322).unwrap_or_else(|| tx(lang, "web-app-never"))),
            esc(a.last_address.as_deref().unwrap_or("-")),
            esc(&a.id),
            esc(&tx(lang, "web-app-revoke")),
        ));
    }
    let table = if rows.is_empty() {
        format!("<p>{}</p>", esc(&tx(lang, "web-app-none")))
    } else {
        format!(
            "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr>{rows}</table>",
            esc(&tx(lang, "web-app-name")),
            esc(&tx(lang, "web-app-scope")),
            esc(&tx(lang, "web-app-created-col")),
            esc(&tx(lang, "web-app-last-used")),
            esc(&tx(lang, "web-app-from")),
        )
    };
    // Mailbox usage against the quota, and the recent logins.
    let delivery = Arc::clone(&web.shared.delivery);
    let who = user.clone();
    let usage = tokio::task::spawn_blocking(move || delivery.usage(&who))
        .await
        .ok()
        .and_then(Result::ok);
    let limits = buzon_intake::quota::limits_for(web.shared.config.delivery.quota, &entry);
    let usage_text = match usage {
        Some(u) => {
            let used = human_size(u.bytes);
            match limits.bytes {
                Some(limit) => txa(
                    lang,
                    "web-usage-of",
                    &[
                        ("used", used.into()),
                        ("limit", human_size(limit).into()),
                        (
                            "percent",
                            (u.bytes.saturating_mul(100) / limit.max(1))
                                .to_string()
                                .into(),
                        ),
                        ("messages", u.messages.to_string().into()),
                    ],
                ),
                None => txa(
                    lang,
                    "web-usage",
                    &[
                        ("used", used.into()),
                        ("messages", u.messages.to_string().into()),
                    ],
                ),
            }
        }
        None => tx(lang, "web-login-unavailable"),
    };
    let mut logins = String::new();
    for l in &creds.recent_logins {
        logins.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&buzon_store::date::rfc5322(l.time)),
            esc(&l.address),
            esc(&l.how)
        ));
    }
    let logins = if logins.is_empty() {
        format!("<p>{}</p>", esc(&tx(lang, "web-logins-none")))
    } else {
        format!(
            "<table id=\"logins\"><tr><th>{}</th><th>{}</th><th>{}</th></tr>{logins}</table>",
            esc(&tx(lang, "web-logins-when")),
            esc(&tx(lang, "web-app-from")),
            esc(&tx(lang, "web-logins-how")),
        )
    };
    let two_step = if two_step_on(&entry) {
        format!(
            "<p>{}</p><form method=\"post\" action=\"/account/two-step/disable\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><label>{}<input type=\"text\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required></label><button>{}</button></form>",
            esc(&tx(lang, "web-two-step-on")),
            esc(&tx(lang, "web-code")),
            esc(&tx(lang, "web-two-step-disable")),
        )
    } else {
        format!(
            "<p>{}</p><form method=\"post\" action=\"/account/two-step/start\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button>{}</button></form>",
            esc(&tx(lang, "web-two-step-off")),
            esc(&tx(lang, "web-two-step-enable")),
        )
    };
    let body = format!(
        "<h2>{h_mailbox}</h2><p id=\"usage\">{usage}</p><h3>{h_logins}</h3>{logins}<h2>{h_app}</h2>{table}<form method=\"post\" action=\"/account/app-passwords\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><label>{name}<input type=\"text\" name=\"name\" required maxlength=\"100\"></label><label>{scope} <select name=\"scope\"><option value=\"pop3\">POP3</option><option value=\"all\">{all}</option></select></label><button>{create}</button></form>\
<h2>{h_two}</h2>{two_step}\
<h2>{h_setup}</h2><p>{setup}</p><p><a href=\"/account/apple.mobileconfig\" download>{apple}</a></p>{steps}\
<h2>{h_password}</h2><form method=\"post\" action=\"/account/password\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><label>{current}<input type=\"password\" name=\"current\" autocomplete=\"current-password\" required></label><label>{new}<input type=\"password\" name=\"new\" autocomplete=\"new-password\" required></label><label>{again}<input type=\"password\" name=\"again\" autocomplete=\"new-password\" required></label><button>{change}</button></form>{admin}",
        h_app = esc(&tx(lang, "web-app-passwords")),
        h_mailbox = esc(&tx(lang, "web-mailbox")),
        usage = esc(&usage_text),
        h_logins = esc(&tx(lang, "web-logins")),
        steps = setup_steps(&web, lang, &user),
        name = esc(&tx(lang, "web-app-name")),
        scope = esc(&tx(lang, "web-app-scope")),
        all = esc(&tx(lang, "web-app-scope-all")),
        create = esc(&tx(lang, "web-app-create")),
        h_two = esc(&tx(lang, "web-two-step")),
        h_setup = esc(&tx(lang, "web-setup")),
        setup = esc(&setup_text(&web, lang, &user)),
        apple = esc(&tx(lang, "web-apple-profile")),
        h_password = esc(&tx(lang, "web-password-title")),
        current = esc(&tx(lang, "web-password-current")),
        new = esc(&tx(lang, "web-password-new")),
        again = esc(&tx(lang, "web-password-again")),
        change = esc(&tx(lang, "web-password-change")),
        admin = if is_admin(&web, &user) {
            format!("<p><a href=\"/account/admin\">{}</a></p>", esc(&tx(lang, "web-admin")))
        } else {
            String::new()
        },
    );
    page(
        lang,
        StatusCode::OK,
        &tx(lang, "web-title-account"),
        Some(&user),
        Some(&csrf),
        &body,
    )
}

/// A size as people read it: "340 KB", "1.2 MB" (powers of 1000, as mail programs show).
fn human_size(bytes: u64) -> String {
    match bytes {
        b if b < 1_000 => format!("{b} B"),
        b if b < 1_000_000 => format!("{} KB", b / 1_000),
        b if b < 1_000_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        b => format!("{:.1} GB", b as f64 / 1e9),
    }
}

/// Short steps for the common mail programs, and the classic errors in words.
fn setup_steps(web: &Web, lang: Lang, user: &str) -> String {
    let host = web.shared.config.hostname.as_str();
    let port = web.shared.published.pop3s.unwrap_or(995).to_string();
    let args: [(&str, Arg); 3] = [
        ("host", host.into()),
        ("port", port.as_str().into()),
        ("user", user.into()),
    ];
    let mut out = String::from("<dl id=\"steps\">");
    for (title, body) in [
        ("web-steps-thunderbird-title", "web-steps-thunderbird"),
        ("web-steps-outlook-title", "web-steps-outlook"),
        ("web-steps-apple-title", "web-steps-apple"),
        ("web-steps-android-title", "web-steps-android"),
        ("web-steps-fetch-title", "web-steps-fetch"),
    ] {
        out.push_str(&format!(
            "<dt>{}</dt><dd>{}</dd>",
            esc(&tx(lang, title)),
            esc(&txa(lang, body, &args))
        ));
    }
    out.push_str("</dl>");
    out.push_str(&format!(
        "<h3>{}</h3><ul>",
        esc(&tx(lang, "web-errors-title"))
    ));
    for key in [
        "web-error-password",
        "web-error-server",
        "web-error-firewall",
        "web-error-tls",
    ] {
        out.push_str(&format!("<li>{}</li>", esc(&txa(lang, key, &args))));
    }
    out.push_str("</ul>");
    out
}

/// The POP3 settings in words.
fn setup_text(web: &Web, lang: Lang, user: &str) -> String {
    let p = &web.shared.published;
    txa(
        lang,
        "web-setup-text",
        &[
            ("host", web.shared.config.hostname.as_str().into()),
            ("port", p.pop3s.unwrap_or(995).to_string().into()),
            ("user", user.into()),
        ],
    )
}

#[derive(Deserialize)]
pub(crate) struct NewAppForm {
    #[serde(default)]
    csrf: String,
    name: String,
    #[serde(default)]
    scope: String,
}

/// A valid session and a matching CSRF token, or the response to send instead.
fn guarded(
    web: &Web,
    headers: &HeaderMap,
    csrf: &str,
) -> Result<(String, String, Lang), Box<Response>> {
    let lang = lang(headers);
    let Some((_, user, token)) = web.session(headers) else {
        return Err(Box::new(redirect("/account/login")));
    };
    if csrf.is_empty() || csrf != token {
        return Err(Box::new(page(
            lang,
            StatusCode::FORBIDDEN,
            &tx(lang, "web-title-account"),
            Some(&user),
            Some(&token),
            &format!("<p class=\"error\">{}</p>", esc(&tx(lang, "web-csrf"))),
        )));
    }
    Ok((user, token, lang))
}

pub(crate) async fn create_app_password(
    State(web): State<Web>,
    headers: HeaderMap,
    Form(f): Form<NewAppForm>,
) -> Response {
    let (user, csrf, lang) = match guarded(&web, &headers, &f.csrf) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let scope = AppScope::parse(&f.scope).unwrap_or(AppScope::Pop3);
    let creds = Arc::clone(web.shared.auth.credentials());
    let (who, name) = (user.clone(), f.name.trim().to_string());
    let made = tokio::task::spawn_blocking(move || {
        let mut shown = None;
        creds
            .modify(&who, &mut |c| {
                buzon_auth::check_app_password_name(&name, &c.app_passwords)?;
                let new =
                    buzon_auth::generate_app_password(&name, scope, now_secs(), &c.app_passwords);
                c.app_passwords.push(new.entry);
                shown = Some(new.shown);
                Ok(())
            })
            .map(|()| shown.unwrap_or_default())
            .map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    let body = match made {
        Ok(shown) => {
            tracing::info!(remote = %web.client, user = %user, "app password created on the account page");
            format!(
                "<p>{}</p><p class=\"secret\" id=\"app-password\">{}</p><p class=\"note\">{}</p><p><a href=\"/account\">{}</a></p>",
                esc(&txa(lang, "web-app-created", &[("name", f.name.trim().into())])),
                esc(&shown),
                esc(&tx(lang, "app-password-added-note")),
                esc(&tx(lang, "web-back")),
            )
        }
        Err(why) => format!(
            "<p class=\"error\">{}</p><p><a href=\"/account\">{}</a></p>",
            esc(&why),
            esc(&tx(lang, "web-back"))
        ),
    };
    page(
        lang,
        StatusCode::OK,
        &tx(lang, "web-app-passwords"),
        Some(&user),
        Some(&csrf),
        &body,
    )
}

#[derive(Deserialize)]
pub(crate) struct RevokeForm {
    #[serde(default)]
    csrf: String,
    id: String,
}

pub(crate) async fn revoke_app_password(
    State(web): State<Web>,
    headers: HeaderMap,
    Form(f): Form<RevokeForm>,
) -> Response {
    let (user, _, _) = match guarded(&web, &headers, &f.csrf) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let creds = Arc::clone(web.shared.auth.credentials());
    let (who, id) = (user.clone(), f.id.clone());
    let _ = tokio::task::spawn_blocking(move || {
        creds.modify(&who, &mut |c| {
            c.app_passwords.retain(|a| a.id != id);
            Ok(())
        })
    })
    .await;
    tracing::info!(remote = %web.client, user = %user, id = %f.id, "app password revoked on the account page");
    redirect("/account")
}

/// Starts two-step verification: a new secret, its QR code and a form for the first code.
pub(crate) async fn two_step_start(
    State(web): State<Web>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    let (user, csrf, lang) = match guarded(&web, &headers, &f.csrf) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let enrolment = TotpEnrolment::new();
    let uri = enrolment.uri(&format!("Buzón {}", web.shared.config.hostname), &user);
    let secret = enrolment.secret_base32();
    if let Some(id) = cookie(&headers, COOKIE) {
        if let Some(s) = web
            .shared
            .web_sessions
            .map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(&id)
        {
            s.enrolment = Some(enrolment);
        }
    }
    let svg = qrcode::QrCode::new(uri.as_bytes())
        .map(|q| {
            q.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(220, 220)
                .build()
        })
        .unwrap_or_default();
    let body = format!(
        "<p>{scan}</p><div id=\"qr\">{svg}</div><p>{secret_label} <span class=\"secret\" id=\"totp-secret\">{secret}</span></p>\
<form method=\"post\" action=\"/account/two-step/confirm\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><label>{code}<input type=\"text\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required></label><button>{confirm}</button></form>",
        scan = esc(&tx(lang, "web-two-step-scan")),
        secret_label = esc(&tx(lang, "web-two-step-secret")),
        secret = esc(&secret),
        code = esc(&tx(lang, "web-code")),
        confirm = esc(&tx(lang, "web-two-step-confirm")),
    );
    page(
        lang,
        StatusCode::OK,
        &tx(lang, "web-two-step"),
        Some(&user),
        Some(&csrf),
        &body,
    )
}

#[derive(Deserialize)]
pub(crate) struct CodeForm {
    #[serde(default)]
    csrf: String,
    code: String,
}

pub(crate) async fn two_step_confirm(
    State(web): State<Web>,
    headers: HeaderMap,
    Form(f): Form<CodeForm>,
) -> Response {
    let (user, csrf, lang) = match guarded(&web, &headers, &f.csrf) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let confirmed = cookie(&headers, COOKIE).and_then(|id| {
        let mut map = web
            .shared
            .web_sessions
            .map
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let s = map.get_mut(&id)?;
        let done = s.enrolment.as_ref()?.confirm(&f.code, now_secs())?;
        s.enrolment = None;
        Some(done)
    });
    let Some((two, recovery)) = confirmed else {
        return page(
            lang,
            StatusCode::OK,
            &tx(lang, "web-two-step"),
            Some(&user),
            Some(&csrf),
            &format!(
                "<p class=\"error\">{}</p><p><a href=\"/account\">{}</a></p>",
                esc(&tx(lang, "web-two-step-wrong-code")),
                esc(&tx(lang, "web-back"))
            ),
        );
    };
    let Some(entry) = web.entry(&user) else {
        return redirect("/account/login");
    };
    let creds = Arc::clone(web.shared.auth.credentials());
    let who = user.clone();
    let stored = tokio::task::spawn_blocking(move || {
        creds.modify(&who, &mut |c| {
            c.two_step = Some(two.clone());
            Ok(())
        })
    })
    .await;
    let switched = match stored {
        Ok(Ok(())) => {
            web.shared
                .user_editor
                .set_extra_field(&entry, TWO_STEP_FIELD, Some("totp"))
                .await
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(why) = switched {
        tracing::error!(user = %user, "cannot turn two-step verification on: {why}");
        return page(
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            &tx(lang, "web-two-step"),
            Some(&user),
            Some(&csrf),
            &format!(
                "<p class=\"error\">{}</p>",
                esc(&tx(lang, "web-login-unavailable"))
            ),
        );
    }
    tracing::info!(remote = %web.client, user = %user, "two-step verification turned on on the account page");
    let codes: String = recovery
        .iter()
        .map(|c| format!("<li class=\"secret\">{}</li>", esc(c)))
        .collect();
    let body = format!(
        "<p>{}</p><ul id=\"recovery-codes\">{codes}</ul><p class=\"note\">{}</p><p><a href=\"/account\">{}</a></p>",
        esc(&tx(lang, "web-two-step-enabled")),
        esc(&tx(lang, "two-step-recovery-note")),
        esc(&tx(lang, "web-back")),
    );
    page(
        lang,
        StatusCode::OK,
        &tx(lang, "web-two-step"),
        Some(&user),
        Some(&csrf),
        &body,
    )
}

/// Turns two-step verification off; a current code (or a recovery code) is needed.
pub(crate) async fn two_step_disable(
    State(web): State<Web>,
    headers: HeaderMap,
    Form(f): Form<CodeForm>,
) -> Response {
    let (user, csrf, lang) = match guarded(&web, &headers, &f.csrf) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Some(entry) = web.entry(&user) else {
        return redirect("/account/login");
    };
    let checked = use_code(&web, &user, &f.code).await;
    if !matches!(checked, Ok(CodeCheck::Totp | CodeCheck::Recovery(_))) {
        return page(
            lang,
            StatusCode::OK,
            &tx(lang, "web-two-step"),
            Some(&user),
            Some(&csrf),
            &format!(
                "<p class=\"error\">{}</p><p><a href=\"/account\">{}</a></p>",
                esc(&tx(lang, "web-two-step-wrong-code")),
                esc(&tx(lang, "web-back"))
            ),
        );
    }
    // The switch first, then the secret (as `buzon user 2fa disable`).
    if let Err(why) = web
        .shared
        .user_editor
        .set_extra_field(&entry, TWO_STEP_FIELD, None)
        .await
    {
        tracing::error!(user = %user, "cannot turn two-step verification off: {why}");
        return page(
            lang,
            StatusCode::SERVICE_UNAVAILABLE,
            &tx(lang, "web-two-step"),
            Some(&user),
            Some(&csrf),
            &format!(
                "<p class=\"error\">{}</p>",
                esc(&tx(lang, "web-login-unavailable"))
            ),
        );
    }
    let creds = Arc::clone(web.shared.auth.credentials());
    let who = user.clone();
    let _ = tokio::task::spawn_blocking(move || {
        creds.modify(&who, &mut |c| {
            c.two_step = None;
            Ok(())
        })
    })
    .await;
    tracing::info!(remote = %web.client, user = %user, "two-step verification turned off on the account page");
    redirect("/account")
}

/// The Apple configuration profile (iOS and macOS Mail): one POP3 account over TLS.
pub(crate) async fn mobileconfig(State(web): State<Web>, headers: HeaderMap) -> Response {
    let Some((_, user, _)) = web.session(&headers) else {
        return redirect("/account/login");
    };
    let host = &web.shared.config.hostname;
    let port = web.shared.published.pop3s.unwrap_or(995);
    let domain = web
        .shared
        .config
        .delivery
        .routing
        .local_domains
        .first()
        .cloned()
        .unwrap_or_else(|| host.clone());
    let address = if user.contains('@') {
        user.clone()
    } else {
        format!("{user}@{domain}")
    };
    let uuid = |seed: &str| {
        use sha2::Digest;
        let h = hex::encode(sha2::Sha256::digest(format!(
            "{host}\u{0}{user}\u{0}{seed}"
        )));
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
        .to_uppercase()
    };
    let reverse: String = host.split('.').rev().collect::<Vec<_>>().join(".");
    let body = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>PayloadContent</key>
  <array>
    <dict>
      <key>EmailAccountDescription</key><string>{address}</string>
      <key>EmailAccountName</key><string>{address}</string>
      <key>EmailAccountType</key><string>EmailTypePOP</string>
      <key>EmailAddress</key><string>{address}</string>
      <key>IncomingMailServerAuthentication</key><string>EmailAuthPassword</string>
      <key>IncomingMailServerHostName</key><string>{host}</string>
      <key>IncomingMailServerPortNumber</key><integer>{port}</integer>
      <key>IncomingMailServerUseSSL</key><true/>
      <key>IncomingMailServerUsername</key><string>{user}</string>
      <key>OutgoingMailServerAuthentication</key><string>EmailAuthPassword</string>
      <key>OutgoingMailServerHostName</key><string>{host}</string>
      <key>OutgoingMailServerPortNumber</key><integer>587</integer>
      <key>OutgoingMailServerUseSSL</key><true/>
      <key>OutgoingMailServerUsername</key><string>{user}</string>
      <key>PayloadDisplayName</key><string>{address}</string>
      <key>PayloadIdentifier</key><string>{reverse}.buzon.mail.{uid_mail}</string>
      <key>PayloadType</key><string>com.apple.mail.managed</string>
      <key>PayloadUUID</key><string>{uid_mail}</string>
      <key>PayloadVersion</key><integer>1</integer>
    </dict>
  </array>
  <key>PayloadDisplayName</key><string>{address}</string>
  <key>PayloadIdentifier</key><string>{reverse}.buzon.{uid_profile}</string>
  <key>PayloadType</key><string>Configuration</string>
  <key>PayloadUUID</key><string>{uid_profile}</string>
  <key>PayloadVersion</key><integer>1</integer>
</dict>
</plist>
"#,
        address = esc(&address),
        host = esc(host),
        user = esc(&user),
        reverse = esc(&reverse),
        uid_mail = uuid("mail"),
        uid_profile = uuid("profile"),
    );
    secure(
        (
            StatusCode::OK,
            [
                (
                    header::CONTENT_TYPE,
                    "application/x-apple-aspen-config".to_string(),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"{}.mobileconfig\"",
                        user.replace(['"', '/', '\\'], "_")
                    ),
                ),
            ],
            body,
        )
            .into_response(),
    )
}

#[derive(Deserialize)]
pub(crate) struct PasswordForm {
    #[serde(default)]
    csrf: String,
    current: String,
    new: String,
    again: String,
}

/// The weakest password accepted: zxcvbn's score 3 ("safely unguessable: moderate
/// protection from offline slow-hash scenario").
const MIN_SCORE: u8 = 3;

/// Whether `password` is strong enough for `user`; `Err` holds the reason, in words.
fn strong_enough(lang: Lang, user: &str, password: &str) -> Result<(), String> {
    if password.chars().count() < 10 {
        return Err(tx(lang, "web-password-short"));
    }
    let score = zxcvbn::zxcvbn(password, &[user]).score();
    if u8::from(score) < MIN_SCORE {
        return Err(txa(
            lang,
            "web-password-weak",
            &[("score", u8::from(score).to_string().into())],
        ));
    }
    Ok(())
}

fn message(lang: Lang, user: &str, csrf: &str, title: &str, text: &str, error: bool) -> Response {
    let class = if error { "error" } else { "note" };
    page(
        lang,
        StatusCode::OK,
        title,
        Some(user),
        Some(csrf),
        &format!(
            "<p class=\"{class}\">{}</p><p><a href=\"/account\">{}</a></p>",
            esc(text),
            esc(&tx(lang, "web-back"))
        ),
    )
}

/// Hashes `password` with the configured scheme (off the runtime: Argon2 is slow).
async fn hash_new(web: &Web, password: &str) -> Result<String, String> {
    let (pw, scheme, params) = (
        password.to_string(),
        web.shared.config.auth.password_scheme,
        web.shared.config.auth.hash,
    );
    tokio::task::spawn_blocking(move || {
        buzon_auth::hash_new_password(pw.as_bytes(), scheme, &params)
    })
    .await
    .map_err(|e| e.to_string())
}

/// Changes the account's password: the current one, then a new one twice, strong enough.
/// Other sessions of the account end; this one goes on.
pub(crate) async fn change_password(
    State(web): State<Web>,
    headers: HeaderMap,
    Form(f): Form<PasswordForm>,
) -> Response {
    let (user, csrf, lang) = match guarded(&web, &headers, &f.csrf) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let title = tx(lang, "web-password-title");
    let checked_at = tokio::time::Instant::now();
    let verdict = web
        .shared
        .auth
        .verify_main_password(
            user.clone(),
            buzon_pop3_proto::Secret::new(f.current.as_bytes()),
            Some(web.client.ip()),
        )
        .await;
    if !matches!(verdict, Verdict::Valid(_) | Verdict::TwoStepRequired) {
        let wait = web
            .shared
            .auth
            .record(web.client.ip(), web.client_known, &user, false);
        tokio::time::sleep_until(checked_at + wait).await;
        return message(
            lang,
            &user,
            &csrf,
            &title,
            &tx(lang, "web-password-current-wrong"),
            true,
        );
    }
    if f.new != f.again {
        return message(
            lang,
            &user,
            &csrf,
            &title,
            &tx(lang, "web-password-differ"),
            true,
        );
    }
    if let Err(why) = strong_enough(lang, &user, &f.new) {
        return message(lang, &user, &csrf, &title, &why, true);
    }
    let stored = match hash_new(&web, &f.new).await {
        Ok(s) => s,
        Err(why) => {
            tracing::error!(user = %user, "cannot hash a new password: {why}");
            return message(
                lang,
                &user,
                &csrf,
                &title,
                &tx(lang, "web-login-unavailable"),
                true,
            );
        }
    };
    if let Err(why) = web.shared.user_editor.set_password(&user, &stored).await {
        tracing::error!(user = %user, "cannot change the password: {why}");
        return message(
            lang,
            &user,
            &csrf,
            &title,
            &tx(lang, "web-login-unavailable"),
            true,
        );
    }
    // Take the change in now, so this session (which knows the new hash) goes on.
    let dir = Arc::clone(web.shared.auth.directory());
    let _ = tokio::task::spawn_blocking(move || dir.refresh()).await;
    if let Some(id) = cookie(&headers, COOKIE) {
        if let Some(s) = web
            .shared
            .web_sessions
            .map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(&id)
        {
            s.password = stored;
        }
    }
    tracing::info!(remote = %web.client, user = %user, "password changed on the account page");
    message(
        lang,
        &user,
        &csrf,
        &title,
        &tx(lang, "web-password-changed"),
        false,
    )
}

fn is_admin(web: &Web, user: &str) -> bool {
    web.shared
        .config
        .web_admins
        .iter()
        .any(|a| a.eq_ignore_ascii_case(user))
}

/// The admin view: users, live POP3 sessions, what is failing, counters.
pub(crate) async fn admin(State(web): State<Web>, headers: HeaderMap) -> Response {
    let lang = lang(&headers);
    let Some((_, user, csrf)) = web.session(&headers) else {
        return redirect("/account/login");
    };
    if !is_admin(&web, &user) {
        return page(
            lang,
            StatusCode::FORBIDDEN,
            &tx(lang, "web-admin"),
            Some(&user),
            Some(&csrf),
            &format!(
                "<p class=\"error\">{}</p>",
                esc(&tx(lang, "web-admin-only"))
            ),
        );
    }
    let db = web.shared.auth.directory().current();
    let mut users = String::new();
    for e in db.users() {
        let disabled = crate::login::disabled(e);
        let (action, label) = if disabled {
            ("enable", tx(lang, "web-admin-enable"))
        } else {
            ("disable", tx(lang, "web-admin-disable"))
        };
        users.push_str(&format!(
            "<tr><td>{name}</td><td>{scheme}</td><td>{two}</td><td>{state}</td><td>\
<form class=\"inline\" method=\"post\" action=\"/account/admin/users/{action}\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"user\" value=\"{name}\"><button>{label}</button></form> \
<form class=\"inline\" method=\"post\" action=\"/account/admin/users/password\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"user\" value=\"{name}\"><input type=\"password\" name=\"password\" autocomplete=\"new-password\" aria-label=\"{reset}\" required><button>{reset}</button></form> \
<form class=\"inline\" method=\"post\" action=\"/account/admin/users/quota\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"user\" value=\"{name}\"><input type=\"text\" name=\"quota\" value=\"{quota}\" placeholder=\"1G\" aria-label=\"{quota_label}\"><button>{quota_label}</button></form></td></tr>",
            name = esc(&e.name),
            scheme = esc(e.password.strip_prefix('{').and_then(|r| r.split_once('}')).map_or("CRYPT", |(s, _)| s)),
            two = if two_step_on(e) { "✓" } else { "" },
            state = esc(&tx(lang, if disabled { "web-admin-disabled" } else { "web-admin-active" })),
            label = esc(&label),
            reset = esc(&tx(lang, "web-admin-reset")),
            quota = esc(e
                .extra_field("userdb_quota_rule")
                .and_then(|r| r.strip_prefix("*:storage="))
                .unwrap_or("")),
            quota_label = esc(&tx(lang, "web-admin-quota")),
        ));
    }
    let mut sessions = String::new();
    for (u, remote, age, tls) in web.shared.sessions.list() {
        sessions.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{age} s</td><td>{}</td></tr>",
            esc(u.as_deref().unwrap_or("-")),
            esc(&remote.to_string()),
            esc(&tls)
        ));
    }
    let mut failing = String::new();
    for (kind, what, n, penalty) in web.shared.auth.failing(50) {
        failing.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{n}</td><td>{:.1} s</td></tr>",
            esc(&tx(
                lang,
                if kind == "user" {
                    "web-admin-kind-user"
                } else {
                    "web-admin-kind-network"
                }
            )),
            esc(&what),
            penalty.as_secs_f64()
        ));
    }
    let t = &web.shared.totals;
    let get = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    let counters = txa(
        lang,
        "web-admin-counters",
        &[
            ("ok", get(&t.logins_ok).to_string().into()),
            ("failed", get(&t.logins_failed).to_string().into()),
            ("delivered", get(&t.delivered).to_string().into()),
            (
                "delivery_failures",
                get(&t.delivery_failures).to_string().into(),
            ),
        ],
    );
    let body = format!(
        "<h2>{h_users}</h2><table id=\"users\"><tr><th>{c_user}</th><th>{c_scheme}</th><th>2FA</th><th>{c_state}</th><th></th></tr>{users}</table>\
<form method=\"post\" action=\"/account/admin/users/add\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><label>{c_user}<input type=\"text\" name=\"user\" required></label><label>{c_password}<input type=\"password\" name=\"password\" autocomplete=\"new-password\" required></label><button>{add}</button></form>\
<h2>{h_sessions}</h2><table id=\"sessions\"><tr><th>{c_user}</th><th>{c_from}</th><th>{c_since}</th><th>TLS</th></tr>{sessions}</table>\
<h2>{h_failing}</h2><table id=\"failing\"><tr><th></th><th></th><th>{c_failures}</th><th>{c_penalty}</th></tr>{failing}</table>\
<h2>{h_counters}</h2><p>{counters}</p>",
        h_users = esc(&tx(lang, "web-admin-users")),
        c_user = esc(&tx(lang, "web-user")),
        c_scheme = esc(&tx(lang, "web-admin-scheme")),
        c_state = esc(&tx(lang, "web-admin-state")),
        c_password = esc(&tx(lang, "web-password")),
        add = esc(&tx(lang, "web-admin-add")),
        h_sessions = esc(&tx(lang, "web-admin-sessions")),
        c_from = esc(&tx(lang, "web-app-from")),
        c_since = esc(&tx(lang, "web-admin-open-for")),
        h_failing = esc(&tx(lang, "web-admin-failing")),
        c_failures = esc(&tx(lang, "web-admin-failures")),
        c_penalty = esc(&tx(lang, "web-admin-penalty")),
        h_counters = esc(&tx(lang, "web-admin-counters-title")),
        counters = esc(&counters),
    );
    page(
        lang,
        StatusCode::OK,
        &tx(lang, "web-admin"),
        Some(&user),
        Some(&csrf),
        &body,
    )
}

#[derive(Deserialize)]
pub(crate) struct AdminUserForm {
    #[serde(default)]
    csrf: String,
    user: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    quota: String,
}

/// An admin's change to a user: checked (session, CSRF, admin), done, logged.
async fn admin_action(
    web: &Web,
    headers: &HeaderMap,
    f: &AdminUserForm,
    action: &'static str,
) -> Response {
    let (admin, csrf, lang) = match guarded(web, headers, &f.csrf) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    if !is_admin(web, &admin) {
        return message(
            lang,
            &admin,
            &csrf,
            &tx(lang, "web-admin"),
            &tx(lang, "web-admin-only"),
            true,
        );
    }
    let target = f.user.trim();
    let result = match action {
        "add" => match buzon_auth::validate_username(target) {
            Err(e) => Err(e.to_string()),
            Ok(()) => match strong_enough(lang, target, &f.password) {
                Err(why) => Err(why),
                Ok(()) => match hash_new(web, &f.password).await {
                    Ok(stored) => web.shared.user_editor.add_user(target, &stored).await,
                    Err(e) => Err(e),
                },
            },
        },
        "quota" => match web.entry(target) {
            None => Err(buzon_auth::AuthError::NoSuchUser(target.to_string()).to_string()),
            Some(e) => {
                let q = f.quota.trim();
                if q.is_empty() {
                    web.shared
                        .user_editor
                        .set_extra_field(&e, "userdb_quota_rule", None)
                        .await
                } else if buzon_units::parse_size(q).is_some_and(|b| b > 0) {
                    let rule = format!("*:storage={q}");
                    web.shared
                        .user_editor
                        .set_extra_field(&e, "userdb_quota_rule", Some(&rule))
                        .await
                } else {
                    Err(txa(lang, "web-admin-quota-bad", &[("value", q.into())]))
                }
            }
        },
        "password" => match strong_enough(lang, target, &f.password) {
            Err(why) => Err(why),
            Ok(()) => match hash_new(web, &f.password).await {
                Ok(stored) => web.shared.user_editor.set_password(target, &stored).await,
                Err(e) => Err(e),
            },
        },
        _ => match web.entry(target) {
            None => Err(buzon_auth::AuthError::NoSuchUser(target.to_string()).to_string()),
            Some(e) => {
                let value = (action == "disable").then_some("y");
                web.shared
                    .user_editor
                    .set_extra_field(&e, buzon_auth::NOLOGIN_FIELD, value)
                    .await
            }
        },
    };
    match result {
        Ok(()) => {
            tracing::info!(remote = %web.client, admin = %admin, action, user = %target, "admin action");
            let dir = Arc::clone(web.shared.auth.directory());
            let _ = tokio::task::spawn_blocking(move || dir.refresh()).await;
            redirect("/account/admin")
        }
        Err(why) => {
            tracing::info!(remote = %web.client, admin = %admin, action, user = %target, "admin action refused: {why}");
            message(lang, &admin, &csrf, &tx(lang, "web-admin"), &why, true)
        }
    }
}

pub(crate) async fn admin_disable(
    State(web): State<Web>,
    headers: HeaderMap,
    Form(f): Form<AdminUserForm>,
) -> Response {
    admin_action(&web, &headers, &f, "disable").await
}

pub(crate) async fn admin_enable(
    State(web): State<Web>,
    headers: HeaderMap,
    Form(f): Form<AdminUserForm>,
) -> Response {
    admin_action(&web, &headers, &f, "enable").await
}

pub(crate) async fn admin_password(
    State(web): State<Web>,
    headers: HeaderMap,
    Form(f): Form<AdminUserForm>,
) -> Response {
    admin_action(&web, &headers, &f, "password").await
}

pub(crate) async fn admin_quota(
    State(web): State<Web>,
    headers: HeaderMap,
    Form(f): Form<AdminUserForm>,
) -> Response {
    admin_action(&web, &headers, &f, "quota").await
}

pub(crate) async fn admin_add(
    State(web): State<Web>,
    headers: HeaderMap,
    Form(f): Form<AdminUserForm>,
) -> Response {
    admin_action(&web, &headers, &f, "add").await
}
