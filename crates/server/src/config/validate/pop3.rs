//! `[pop3]`: greeting, CAPA values (IMPLEMENTATION, EXPIRE, LOGIN-DELAY), the bare-LF
//! leniency and the Maildir++ folders served after INBOX.

use buzon_units::location::KeyPath;

use crate::config::error::{ConfigError, Ctx};
use crate::config::file::Pop3File;
use crate::config::runtime::Pop3Options;

pub(super) fn pop3(cx: &Ctx<'_>, p: &Pop3File) -> Result<Pop3Options, ConfigError> {
    if let Some(e) = &p.expire {
        let ok = e == "NEVER" || e.parse::<u32>().is_ok();
        if !ok {
            return Err(cx.err(
                "pop3.expire",
                buzon_i18n::t!("config-pop3-expire-problem", e = format!("{:?}", e)),
                buzon_i18n::t!("config-pop3-expire-fix"),
            ));
        }
    }
    let language = match p.language.as_deref() {
        None => buzon_i18n::Lang::En,
        Some(tag) => match buzon_i18n::Lang::ALL.into_iter().find(|l| l.tag() == tag) {
            Some(l) => l,
            None => {
                return Err(cx.err(
                    "pop3.language",
                    buzon_i18n::t!("config-pop3-language-problem", tag = format!("{:?}", tag)),
                    buzon_i18n::t!("config-pop3-language-fix"),
                ))
            }
        },
    };
    let folders = p.serve_folders.clone().unwrap_or_default();
    for (i, f) in folders.iter().enumerate() {
        if let Err(e) = buzon_store::name::validate_folder_name(f) {
            return Err(cx.err(
                KeyPath::new("pop3.serve_folders").index(i),
                e.to_string(),
                buzon_i18n::t!("config-pop3-serve-folders-fix"),
            ));
        }
    }
    let format = match &p.dovecot_uidl_format {
        None => buzon_store::UidlFormat::default(),
        Some(text) => buzon_store::UidlFormat::parse(text).map_err(|why| {
            cx.err(
                "pop3.dovecot_uidl_format",
                buzon_i18n::t!(
                    "config-pop3-dovecot-uidl-format-problem",
                    text = format!("{:?}", text),
                    why = why.to_string()
                ),
                buzon_i18n::t!(
                    "config-pop3-dovecot-uidl-format-fix",
                    v1 = buzon_store::adopt::DOVECOT_DEFAULT_FORMAT.to_string()
                ),
            )
        })?,
    };
    let uidl_source = match p.uidl_source.as_deref() {
        None | Some("buzon") => {
            if p.dovecot_uidl_format.is_some() {
                return Err(cx.err(
                    "pop3.dovecot_uidl_format",
                    buzon_i18n::t!("config-pop3-dovecot-uidl-format-2-problem"),
                    buzon_i18n::t!("config-pop3-dovecot-uidl-format-2-fix"),
                ));
            }
            buzon_store::UidlSource::Buzon
        }
        Some("dovecot") => buzon_store::UidlSource::Dovecot(format),
        Some("courier") => {
            if p.dovecot_uidl_format.is_some() {
                return Err(cx.err(
                    "pop3.dovecot_uidl_format",
                    buzon_i18n::t!("config-pop3-dovecot-uidl-format-3-problem"),
                    buzon_i18n::t!("config-pop3-dovecot-uidl-format-3-fix"),
                ));
            }
            buzon_store::UidlSource::Courier
        }
        Some("auto") => buzon_store::UidlSource::Auto(format),
        Some(other) => {
            return Err(cx.err(
                "pop3.uidl_source",
                buzon_i18n::t!(
                    "config-pop3-uidl-source-problem",
                    other = format!("{:?}", other)
                ),
                buzon_i18n::t!("config-pop3-uidl-source-fix"),
            ))
        }
    };
    Ok(Pop3Options {
        uidl_source,
        greeting: p
            .greeting
            .clone()
            .unwrap_or_else(|| buzon_i18n::text(language, "pop3-greeting", &[])),
        language,
        implementation: p.implementation.clone(),
        expire: p.expire.clone(),
        login_delay: p.login_delay,
        lenient_bare_lf: p.lenient_bare_lf.unwrap_or(false),
        serve_folders: folders,
    })
}
