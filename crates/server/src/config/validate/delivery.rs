//! `[delivery]`: where intake puts mail: local domains, aliases, sub-addressing,
//! catch-alls, quotas, message size and recipient limits, Sieve scripts.

use std::collections::HashMap;
use std::path::Path;

use buzon_units::location::KeyPath;

use crate::config::error::{ConfigError, Ctx};
use crate::config::file::DeliveryFile;
use crate::config::runtime::Delivery;

pub(super) fn delivery(
    cx: &Ctx<'_>,
    d: &DeliveryFile,
    data_dir: &Path,
) -> Result<Delivery, ConfigError> {
    use buzon_intake::route::normalize_domain;
    let local_domains: Vec<String> = d
        .local_domains
        .clone()
        .unwrap_or_else(|| vec!["localhost".into()])
        .iter()
        .map(|s| normalize_domain(s))
        .collect();
    if local_domains.is_empty() {
        return Err(cx.err(
            "delivery.local_domains",
            buzon_i18n::t!("config-delivery-local-domains-problem"),
            buzon_i18n::t!("config-delivery-local-domains-fix"),
        ));
    }
    if let Some((i, bad)) = local_domains
        .iter()
        .enumerate()
        .find(|(_, d)| !buzon_smtp_proto::address::is_domain(d))
    {
        return Err(cx.err(
            KeyPath::new("delivery.local_domains").index(i),
            buzon_i18n::t!(
                "config-delivery-local-domains-2-problem",
                bad = format!("{:?}", bad)
            ),
            buzon_i18n::t!("config-delivery-local-domains-2-fix"),
        ));
    }
    let recipient_delimiter = match d.recipient_delimiter.as_deref() {
        None => Some("+".to_string()),
        Some("") => None,
        Some(s)
            if s.chars().count() == 1
                && !s.contains(|c: char| c.is_alphanumeric() || c == '@' || c.is_whitespace()) =>
        {
            Some(s.to_string())
        }
        Some(s) => {
            return Err(cx.err(
                "delivery.recipient_delimiter",
                buzon_i18n::t!(
                    "config-delivery-recipient-delimiter-problem",
                    s = format!("{:?}", s)
                ),
                buzon_i18n::t!("config-delivery-recipient-delimiter-fix"),
            ))
        }
    };
    let mut catch_all = HashMap::new();
    for (written, user) in d.catch_all.clone().unwrap_or_default() {
        let at = KeyPath::new("delivery.catch_all").entry(&written);
        let domain = normalize_domain(&written);
        if !local_domains.contains(&domain) {
            return Err(cx.err(
                at,
                buzon_i18n::t!(
                    "config-delivery-catch-all-domain-problem",
                    domain = format!("{:?}", domain)
                ),
                buzon_i18n::t!("config-delivery-catch-all-domain-fix"),
            ));
        }
        if buzon_auth::validate_username(&user).is_err() {
            return Err(cx.err(
                at,
                buzon_i18n::t!(
                    "config-delivery-catch-all-user-problem",
                    user = format!("{:?}", user)
                ),
                buzon_i18n::t!("config-delivery-catch-all-user-fix"),
            ));
        }
        catch_all.insert(domain, user);
    }
    let over_quota_permanent = match d.over_quota_reply.as_deref() {
        None | Some("452") => false,
        Some("552") => true,
        Some(other) => {
            return Err(cx.err(
                "delivery.over_quota_reply",
                buzon_i18n::t!(
                    "config-delivery-over-quota-reply-problem",
                    other = format!("{:?}", other)
                ),
                buzon_i18n::t!("config-delivery-over-quota-reply-fix"),
            ))
        }
    };
    let quota_bytes = cx.size("delivery.quota_bytes", &d.quota_bytes, 0)?;
    let quota_messages = d.quota_messages.unwrap_or(0);
    let max_message_size = cx.size(
        "delivery.max_message_size",
        &d.max_message_size,
        50 * 1024 * 1024,
    )?;
    if max_message_size < 64 * 1024 {
        return Err(cx.err(
            "delivery.max_message_size",
            buzon_i18n::t!(
                "config-delivery-max-message-size-problem",
                max_message_size = max_message_size.to_string()
            ),
            buzon_i18n::t!("config-delivery-max-message-size-fix"),
        ));
    }
    let max_recipients = d.max_recipients.unwrap_or(100);
    if max_recipients < 100 {
        return Err(cx.err(
            "delivery.max_recipients",
            buzon_i18n::t!(
                "config-delivery-max-recipients-problem",
                max_recipients = max_recipients.to_string()
            ),
            buzon_i18n::t!("config-delivery-max-recipients-fix"),
        ));
    }
    Ok(Delivery {
        routing: buzon_intake::route::RoutingConfig {
            local_domains,
            recipient_delimiter,
            catch_all,
        },
        aliases_file: d.aliases_file.clone(),
        quota: buzon_intake::quota::QuotaLimits {
            bytes: (quota_bytes > 0).then_some(quota_bytes),
            messages: (quota_messages > 0).then_some(quota_messages),
        },
        over_quota_permanent,
        max_message_size,
        max_recipients,
        sieve_dir: d
            .sieve_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("sieve")),
        spool_dir: data_dir.join("spool"),
    })
}
