//! OAuth 2.0 for POP3 logins with OAUTHBEARER and XOAUTH2: tokens obtained with the
//! device authorization grant (RFC 8628: the user opens a URL on any device and types a
//! code, so it works on a headless host), renewed with the refresh token, kept in a 0600
//! file per account. Presets for Gmail and Microsoft 365 name their endpoints and scopes;
//! the OAuth client id is the user's own (providers give one per application).

use std::path::{Path, PathBuf};
use std::time::Duration;

use buzon_i18n::t;
use serde::{Deserialize, Serialize};

use crate::error::{ClientError, Result};
use crate::net::{Resolver, TlsClient, TlsSettings};
use crate::Secret;

/// A request to the provider must be answered within this.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
/// An access token this close to its expiry is renewed before use.
const EXPIRY_MARGIN: u64 = 60;

/// Providers whose endpoints and scope Buzón knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Gmail: `pop.gmail.com`, XOAUTH2, scope `https://mail.google.com/`.
    Gmail,
    /// Microsoft 365 / Outlook.com: `outlook.office365.com`, XOAUTH2, scope
    /// `https://outlook.office.com/POP.AccessAsUser.All offline_access`.
    Microsoft,
}

impl Preset {
    /// (device authorization URL, token URL, scope).
    pub fn endpoints(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Preset::Gmail => (
                "https://oauth2.googleapis.com/device/code",
                "https://oauth2.googleapis.com/token",
                "https://mail.google.com/",
            ),
            Preset::Microsoft => (
                "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode",
                "https://login.microsoftonline.com/common/oauth2/v2.0/token",
                "https://outlook.office.com/POP.AccessAsUser.All offline_access",
            ),
        }
    }

    /// The preset whose POP3 server this is, if any (for `buzon setup`).
    pub fn for_host(host: &str) -> Option<Preset> {
        let h = host.trim_end_matches('.').to_ascii_lowercase();
        match h.as_str() {
            "pop.gmail.com" | "pop.googlemail.com" => Some(Preset::Gmail),
            "outlook.office365.com" | "pop-mail.outlook.com" | "pop3.live.com" => {
                Some(Preset::Microsoft)
            }
            _ => None,
        }
    }
}

/// Where and as whom an account gets its tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthSettings {
    pub client_id: String,
    /// Some providers (Google) give device-flow clients a secret too; it is not
    /// confidential there, but it is sent only to the token endpoints.
    pub client_secret: Option<String>,
    pub device_url: String,
    pub token_url: String,
    pub scope: String,
    /// Extra certificate authorities for the provider's HTTPS.
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for OAuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthSettings")
            .field("client_id", &self.client_id)
            .field("token_url", &self.token_url)
            .finish_non_exhaustive()
    }
}

/// What is kept for an account: the tokens of its last sign-in or renewal.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    /// Seconds since 1970.
    pub expires_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn oauth_error(account: &str, detail: impl Into<String>, fix: impl Into<String>) -> ClientError {
    ClientError::OAuth {
        account: account.to_string(),
        detail: detail.into(),
        fix: fix.into(),
    }
}

/// The token file of an account (mode 0600, written atomically).
#[derive(Debug, Clone)]
pub struct TokenFile(pub PathBuf);

impl TokenFile {
    pub fn load(&self) -> Result<Option<Tokens>> {
        match std::fs::read(&self.0) {
            Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| {
                ClientError::Config(t!(
                    "oauth-token-file-bad",
                    path = self.0.display().to_string(),
                    reason = e.to_string()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ClientError::Config(t!(
                "oauth-token-file-bad",
                path = self.0.display().to_string(),
                reason = e.to_string()
            ))),
        }
    }

    pub fn save(&self, tokens: &Tokens) -> Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let fail = |e: std::io::Error| {
            ClientError::Config(t!(
                "oauth-token-file-unwritable",
                path = self.0.display().to_string(),
                reason = e.to_string()
            ))
        };
        let dir = self.0.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(fail)?;
        let tmp = self.0.with_extension(format!("tmp{}", std::process::id()));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(fail)?;
        let text = serde_json::to_vec_pretty(tokens).unwrap_or_default();
        f.write_all(&text)
            .and_then(|()| f.sync_all())
            .map_err(fail)?;
        std::fs::rename(&tmp, &self.0).map_err(fail)?;
        Ok(())
    }
}

fn tls(settings: &OAuthSettings) -> Result<TlsClient> {
    TlsClient::new(&TlsSettings {
        ca_file: settings.ca_file.clone(),
        ..TlsSettings::default()
    })
}

/// POSTs a form to one of the provider's endpoints as the OAuth client: a client with a
/// secret authenticates with HTTP Basic (RFC 6749 §2.3.1), a public client names itself
/// in the form. An unreachable provider is an error that says so.
async fn post_as_client(
    account: &str,
    settings: &OAuthSettings,
    url: &str,
    form: &[(&str, &str)],
    resolver: &Resolver,
) -> Result<(u16, Vec<u8>)> {
    let client = tls(settings)?;
    let mut form = form.to_vec();
    let basic = settings
        .client_secret
        .as_deref()
        .map(|s| (settings.client_id.as_str(), s));
    if basic.is_none() {
        form.push(("client_id", settings.client_id.as_str()));
    }
    crate::http::post_form(url, &form, basic, &client, resolver, HTTP_TIMEOUT)
        .await
        .map_err(|e| {
            oauth_error(
                account,
                t!("oauth-unreachable", url = url, reason = e),
                t!("oauth-unreachable-fix"),
            )
        })
}

/// The JSON answer of a token endpoint, or its RFC 6749 §5.2 error.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    expires_in: Option<u64>,
    refresh_token: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    interval: Option<u64>,
}

async fn token_request(
    account: &str,
    settings: &OAuthSettings,
    form: &[(&str, &str)],
    resolver: &Resolver,
) -> Result<(u16, TokenAnswer)> {
    let (status, body) =
        post_as_client(account, settings, &settings.token_url, form, resolver).await?;
    let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|_| {
        oauth_error(
            account,
            t!(
                "oauth-not-json",
                url = settings.token_url.as_str(),
                status = status
            ),
            t!("oauth-unreachable-fix"),
        )
    })?;
    Ok((status, answer))
}

fn tokens_from(answer: TokenAnswer, keep_refresh: Option<String>) -> Option<Tokens> {
    Some(Tokens {
        access_token: answer.access_token?,
        expires_at: now() + answer.expires_in.unwrap_or(3600),
        refresh_token: answer.refresh_token.or(keep_refresh),
    })
}

/// The access token to log in with: the stored one while it is valid, else a new one
/// from the refresh token (stored before use). Errors say in words what to do: sign in
/// with `buzon fetch --authorize ACCOUNT` when there is no token or the provider revoked
/// it.
pub async fn access_token(
    account: &str,
    settings: &OAuthSettings,
    file: &TokenFile,
    resolver: &Resolver,
) -> Result<Secret> {
    let Some(tokens) = file.load()? else {
        return Err(oauth_error(
            account,
            t!("oauth-not-signed-in"),
            t!("oauth-authorize-fix", account = account),
        ));
    };
    if tokens.expires_at > now() + EXPIRY_MARGIN {
        return Ok(Secret::new(tokens.access_token));
    }
    let Some(refresh) = tokens.refresh_token.clone() else {
        return Err(oauth_error(
            account,
            t!("oauth-expired-no-refresh"),
            t!("oauth-authorize-fix", account = account),
        ));
    };
    let (status, answer) = token_request(
        account,
        settings,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        resolver,
    )
    .await?;
    if let Some(err) = &answer.error {
        // invalid_grant: the refresh token expired or the user revoked the access.
        let detail = t!(
            "oauth-refresh-refused",
            error = err.as_str(),
            description = answer.error_description.clone().unwrap_or_default()
        );
        return Err(oauth_error(
            account,
            detail,
            t!("oauth-authorize-fix", account = account),
        ));
    }
    let Some(new) = tokens_from(answer, Some(refresh)) else {
        return Err(oauth_error(
            account,
            t!("oauth-no-token", status = status),
            t!("oauth-unreachable-fix"),
        ));
    };
    file.save(&new)?;
    Ok(Secret::new(new.access_token))
}

/// What the user must do to approve a device sign-in.
#[derive(Debug, Clone, Deserialize)]
pub struct DeviceCode {
    device_code: String,
    pub user_code: String,
    /// Microsoft names it `verification_url`.
    #[serde(alias = "verification_url")]
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub expires_in: u64,
    #[serde(default)]
    interval: Option<u64>,
}

/// Starts a device sign-in (RFC 8628 §3.1).
pub async fn start_device(
    account: &str,
    settings: &OAuthSettings,
    resolver: &Resolver,
) -> Result<DeviceCode> {
    let form = [("scope", settings.scope.as_str())];
    let (status, body) =
        post_as_client(account, settings, &settings.device_url, &form, resolver).await?;
    serde_json::from_slice::<DeviceCode>(&body).map_err(|_| {
        let why = serde_json::from_slice::<TokenAnswer>(&body)
            .ok()
            .and_then(|a| {
                a.error
                    .map(|e| format!("{e} {}", a.error_description.unwrap_or_default()))
            })
            .unwrap_or_else(|| format!("HTTP {status}"));
        oauth_error(
            account,
            t!(
                "oauth-device-refused",
                url = settings.device_url.as_str(),
                reason = why
            ),
            t!("oauth-device-refused-fix"),
        )
    })
}

/// Waits for the user to approve (RFC 8628 §3.4–3.5: polling at the given interval,
/// slowing down when told), then stores the tokens.
pub async fn finish_device(
    account: &str,
    settings: &OAuthSettings,
    code: &DeviceCode,
    file: &TokenFile,
    resolver: &Resolver,
) -> Result<()> {
    let mut interval = code.interval.unwrap_or(5).max(1);
    let deadline = std::time::Instant::now() + Duration::from_secs(code.expires_in.max(1));
    loop {
        if std::time::Instant::now() >= deadline {
            return Err(oauth_error(
                account,
                t!("oauth-device-expired"),
                t!("oauth-authorize-fix", account = account),
            ));
        }
        tokio::time::sleep(Duration::from_secs(interval)).await;
        let (status, answer) = token_request(
            account,
            settings,
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", &code.device_code),
            ],
            resolver,
        )
        .await?;
        match answer.error.as_deref() {
            Some("authorization_pending") => continue,
            Some("slow_down") => {
                interval = answer.interval.unwrap_or(interval + 5);
                continue;
            }
            Some("access_denied") => {
                return Err(oauth_error(
                    account,
                    t!("oauth-device-denied"),
                    t!("oauth-authorize-fix", account = account),
                ))
            }
            Some("expired_token") => {
                return Err(oauth_error(
                    account,
                    t!("oauth-device-expired"),
                    t!("oauth-authorize-fix", account = account),
                ))
            }
            Some(other) => {
                return Err(oauth_error(
                    account,
                    t!(
                        "oauth-refresh-refused",
                        error = other,
                        description = answer.error_description.clone().unwrap_or_default()
                    ),
                    t!("oauth-device-refused-fix"),
                ))
            }
            None => {}
        }
        let Some(tokens) = tokens_from(answer, None) else {
            return Err(oauth_error(
                account,
                t!("oauth-no-token", status = status),
                t!("oauth-unreachable-fix"),
            ));
        };
        return file.save(&tokens);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_hosts() {
        assert_eq!(Preset::for_host("POP.gmail.com."), Some(Preset::Gmail));
        assert_eq!(
            Preset::for_host("outlook.office365.com"),
            Some(Preset::Microsoft)
        );
        assert_eq!(Preset::for_host("pop.example.com"), None);
        assert!(Preset::Microsoft.endpoints().2.contains("offline_access"));
    }

    #[test]
    fn token_files_are_private_and_debug_hides_tokens() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let f = TokenFile(dir.path().join("a/acct.oauth.json"));
        assert_eq!(f.load().ok().flatten(), None);
        let t = Tokens {
            access_token: "at-secret".into(),
            expires_at: 10,
            refresh_token: Some("rt-secret".into()),
        };
        f.save(&t).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.load().ok().flatten(), Some(t.clone()));
        let mode = std::fs::metadata(&f.0)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0);
        assert_eq!(mode, 0o600);
        assert!(!format!("{t:?}").contains("secret"));
    }
}
