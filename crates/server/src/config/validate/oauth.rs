//! `[oauth]`: bearer tokens of one issuer. Every URL must be https (a token checked over
//! plain HTTP could be forged by anyone on the path); the issuer and an audience are
//! required, because a token for another service must not open a mailbox here.

use crate::config::error::{ConfigError, Ctx};
use crate::config::file::OAuthFile;
use crate::config::runtime::{Introspection, OAuthPolicy};

fn https_url(cx: &Ctx<'_>, key: &str, url: &str) -> Result<(), ConfigError> {
    match url::Url::parse(url) {
        Ok(u) if u.scheme() == "https" && u.host_str().is_some() => Ok(()),
        _ => Err(cx.err(
            key,
            buzon_i18n::t!("config-oauth-url-problem", url = url),
            buzon_i18n::t!("config-oauth-url-fix"),
        )),
    }
}

pub(super) fn oauth(cx: &Ctx<'_>, o: &OAuthFile) -> Result<OAuthPolicy, ConfigError> {
    let Some(issuer) = o.issuer.clone() else {
        return Err(cx.err(
            "oauth.issuer",
            buzon_i18n::t!("config-oauth-issuer-problem"),
            buzon_i18n::t!("config-oauth-issuer-fix"),
        ));
    };
    https_url(cx, "oauth.issuer", &issuer)?;
    let audience: Vec<String> = o
        .audience
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|a| !a.is_empty())
        .collect();
    if audience.is_empty() {
        return Err(cx.err(
            "oauth.audience",
            buzon_i18n::t!("config-oauth-audience-problem"),
            buzon_i18n::t!("config-oauth-audience-fix"),
        ));
    }
    if let Some(u) = &o.jwks_url {
        https_url(cx, "oauth.jwks_url", u)?;
    }
    let introspection = match (&o.introspection_url, &o.client_id, &o.client_secret_file) {
        (None, None, None) => None,
        (Some(url), Some(id), Some(file)) => {
            https_url(cx, "oauth.introspection_url", url)?;
            let secret = std::fs::read_to_string(file).map_err(|e| {
                cx.err(
                    "oauth.client_secret_file",
                    buzon_i18n::t!(
                        "config-oauth-secret-problem",
                        path = file.display().to_string(),
                        reason = e.to_string()
                    ),
                    buzon_i18n::t!("config-oauth-secret-fix"),
                )
            })?;
            Some(Introspection {
                url: url.clone(),
                client_id: id.clone(),
                client_secret: secret.trim_end_matches(['\r', '\n']).to_string(),
            })
        }
        _ => {
            return Err(cx.err(
                "oauth.introspection_url",
                buzon_i18n::t!("config-oauth-introspection-problem"),
                buzon_i18n::t!("config-oauth-introspection-fix"),
            ))
        }
    };
    Ok(OAuthPolicy {
        issuer,
        audience,
        jwks_url: o.jwks_url.clone(),
        user_claim: o.user_claim.clone().unwrap_or_else(|| "email".into()),
        scope: o.scope.clone().unwrap_or_else(|| "openid email".into()),
        ca_file: o.ca_file.clone(),
        introspection,
        clock_skew: cx.duration(
            "oauth.clock_skew",
            &o.clock_skew,
            std::time::Duration::from_secs(30),
        )?,
    })
}
