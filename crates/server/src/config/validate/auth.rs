//! `[auth]`: the users file, where plaintext logins are accepted, APOP, the failure
//! throttle, Argon2 parameters and the verification pool.

use std::path::Path;
use std::time::Duration;

use buzon_auth::HashParams;

use crate::config::error::{ConfigError, Ctx};
use crate::config::file::AuthFile;
use crate::config::runtime::AuthPolicy;

pub(super) fn auth(cx: &Ctx<'_>, a: &AuthFile, data_dir: &Path) -> Result<AuthPolicy, ConfigError> {
    let throttle = buzon_auth::ThrottleConfig {
        failure_delay: cx.duration(
            "auth.failure_delay",
            &a.failure_delay,
            Duration::from_secs(2),
        )?,
        penalty_base: cx.duration("auth.penalty_base", &a.penalty_base, Duration::from_secs(2))?,
        penalty_max: cx.duration("auth.penalty_max", &a.penalty_max, Duration::from_secs(60))?,
        free_failures: a.free_failures.unwrap_or(3),
        forget_after: Duration::from_secs(15 * 60),
        trusted: cx.nets(
            "auth.throttle_exempt_networks",
            &a.throttle_exempt_networks,
            &[],
        )?,
    };
    let hash = HashParams {
        m_cost_kib: a
            .argon2_memory_kib
            .unwrap_or(HashParams::default().m_cost_kib),
        t_cost: a.argon2_iterations.unwrap_or(HashParams::default().t_cost),
        p_cost: a.argon2_parallelism.unwrap_or(HashParams::default().p_cost),
    };
    if hash.m_cost_kib < 8 * hash.p_cost.max(1) || hash.t_cost == 0 || hash.p_cost == 0 {
        return Err(cx.err(
            "auth.argon2_memory_kib",
            buzon_i18n::t!("config-auth-argon2-memory-kib-problem"),
            buzon_i18n::t!("config-auth-argon2-memory-kib-fix"),
        ));
    }
    let verify_concurrency = a.verify_concurrency.unwrap_or(2);
    if verify_concurrency == 0 {
        return Err(cx.err(
            "auth.verify_concurrency",
            buzon_i18n::t!("config-auth-verify-concurrency-problem"),
            buzon_i18n::t!("config-auth-verify-concurrency-fix"),
        ));
    }
    let password_scheme = match &a.password_scheme {
        None => buzon_auth::NewPasswordScheme::default(),
        Some(name) => buzon_auth::NewPasswordScheme::parse(name).ok_or_else(|| {
            cx.err(
                "auth.password_scheme",
                buzon_i18n::t!("config-auth-password-scheme-problem", value = name.as_str()),
                buzon_i18n::t!("config-auth-password-scheme-fix"),
            )
        })?,
    };
    Ok(AuthPolicy {
        password_scheme,
        users_file: a
            .users_file
            .clone()
            .unwrap_or_else(|| data_dir.join("users")),
        credentials_dir: a
            .credentials_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("credentials")),
        allow_plaintext_without_tls: a.allow_plaintext_without_tls.unwrap_or(false),
        plaintext_networks: cx.nets(
            "auth.plaintext_networks",
            &a.plaintext_networks,
            &["127.0.0.0/8", "::1/128"],
        )?,
        apop: a.apop.unwrap_or(false),
        throttle,
        max_auth_failures: a.max_auth_failures.unwrap_or(3).max(1),
        hash,
        verify_concurrency,
        verify_queue_timeout: cx.duration(
            "auth.verify_queue_timeout",
            &a.verify_queue_timeout,
            Duration::from_secs(10),
        )?,
        cache_ttl: cx.duration("auth.cache_ttl", &a.cache_ttl, Duration::from_secs(60))?,
    })
}
