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
                format!("is {e:?}"),
                "use \"NEVER\" or a number of days (RFC 2449 §6.7)",
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
                    format!("is {tag:?}"),
                    "use \"en\" (English) or \"es\" (Spanish); clients can still choose with LANG (RFC 6856)",
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
                "name Maildir++ folders as mail clients show them, e.g. \"Junk\" or \"Lists.rust\"",
            ));
        }
    }
    let format = match &p.dovecot_uidl_format {
        None => buzon_store::UidlFormat::default(),
        Some(text) => buzon_store::UidlFormat::parse(text).map_err(|why| {
            cx.err(
                "pop3.dovecot_uidl_format",
                format!("{text:?}: {why}"),
                format!(
                    "copy Dovecot's pop3_uidl_format (`doveconf pop3_uidl_format`; Dovecot's default is \"{}\")",
                    buzon_store::adopt::DOVECOT_DEFAULT_FORMAT
                ),
            )
        })?,
    };
    let uidl_source = match p.uidl_source.as_deref() {
        None | Some("buzon") => {
            if p.dovecot_uidl_format.is_some() {
                return Err(cx.err(
                    "pop3.dovecot_uidl_format",
                    "is set, but uidl_source is \"buzon\" (or not set) and would ignore it",
                    "add uidl_source = \"dovecot\" (or \"auto\") to [pop3], or remove the key",
                ));
            }
            buzon_store::UidlSource::Buzon
        }
        Some("dovecot") => buzon_store::UidlSource::Dovecot(format),
        Some("courier") => {
            if p.dovecot_uidl_format.is_some() {
                return Err(cx.err(
                    "pop3.dovecot_uidl_format",
                    "is set, but uidl_source is \"courier\", which serves Courier's UIDLs and ignores it",
                    "remove the key, or use uidl_source = \"auto\" for Maildirs from both servers",
                ));
            }
            buzon_store::UidlSource::Courier
        }
        Some("auto") => buzon_store::UidlSource::Auto(format),
        Some(other) => {
            return Err(cx.err(
                "pop3.uidl_source",
                format!("is {other:?}"),
                "use \"buzon\" (the default), \"dovecot\" (serve the UIDLs Dovecot served, from dovecot-uidlist), \"courier\" (Courier's, from courierpop3dsizelist) or \"auto\" (whichever of the two files a Maildir has)",
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
