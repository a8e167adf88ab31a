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
    Ok(Pop3Options {
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
