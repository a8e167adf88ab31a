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
            "is empty, so no mail could be accepted",
            "list the domains this server receives mail for, e.g. [\"example.com\"]",
        ));
    }
    if let Some((i, bad)) = local_domains
        .iter()
        .enumerate()
        .find(|(_, d)| !buzon_smtp_proto::address::is_domain(d))
    {
        return Err(cx.err(
            KeyPath::new("delivery.local_domains").index(i),
            format!("has {bad:?}, which is not a domain name"),
            "write domain names such as \"example.com\"",
        ));
    }
    let recipient_delimiter = match d.recipient_delimiter.as_deref() {
        None => Some("+".to_string()),
        Some("") => None,
        Some(s) if s.chars().count() == 1 && !s.contains(|c: char| c.is_alphanumeric() || c == '@' || c.is_whitespace()) => Some(s.to_string()),
        Some(s) => return Err(cx.err(
            "delivery.recipient_delimiter", format!("is {s:?}"), "use one punctuation character such as \"+\" or \"-\" (RFC 5233), or \"\" to turn sub-addressing off")),
    };
    let mut catch_all = HashMap::new();
    for (written, user) in d.catch_all.clone().unwrap_or_default() {
        let at = KeyPath::new("delivery.catch_all").entry(&written);
        let domain = normalize_domain(&written);
        if !local_domains.contains(&domain) {
            return Err(cx.err(
                at,
                format!("names {domain:?}, which is not in local_domains"),
                "add the domain to `local_domains` or remove its catch-all",
            ));
        }
        if buzon_auth::validate_username(&user).is_err() {
            return Err(cx.err(
                at,
                format!("names {user:?}, which is not a user name"),
                "give the name of a user in the users file",
            ));
        }
        catch_all.insert(domain, user);
    }
    let over_quota_permanent = match d.over_quota_reply.as_deref() {
        None | Some("452") => false,
        Some("552") => true,
        Some(other) => return Err(cx.err(
            "delivery.over_quota_reply", format!("is {other:?}"), "use \"452\" (temporary: the sender retries, the default) or \"552\" (permanent: the sender bounces the message)")),
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
            format!("is {max_message_size} bytes"),
            "allow at least 64K (RFC 5321 §4.5.3.1.7); the default is 50M",
        ));
    }
    let max_recipients = d.max_recipients.unwrap_or(100);
    if max_recipients < 100 {
        return Err(cx.err(
            "delivery.max_recipients",
            format!("is {max_recipients}"),
            "RFC 5321 §4.5.3.1.8 requires accepting at least 100 recipients",
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
