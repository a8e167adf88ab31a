//! `[tls]`: the certificate and key, or a generated self-signed pair; the lowest version.

use std::path::Path;

use crate::config::error::{ConfigError, Ctx};
use crate::config::file::TlsFile;
use crate::config::runtime::TlsSource;

/// The TLS material and whether only TLS 1.3 is accepted.
pub(super) fn tls(
    cx: &Ctx<'_>,
    t: &TlsFile,
    data_dir: &Path,
) -> Result<(TlsSource, bool), ConfigError> {
    let source = match (&t.certificate, &t.key) {
        (Some(c), Some(k)) => TlsSource::Files {
            certificate: c.clone(),
            key: k.clone(),
        },
        (None, None) => TlsSource::SelfSigned {
            dir: data_dir.join("tls"),
        },
        (Some(_), None) => {
            return Err(cx.err(
                "tls.certificate",
                buzon_i18n::t!("config-tls-certificate-problem"),
                buzon_i18n::t!("config-tls-certificate-fix"),
            ))
        }
        (None, Some(_)) => {
            return Err(cx.err(
                "tls.key",
                buzon_i18n::t!("config-tls-key-problem"),
                buzon_i18n::t!("config-tls-key-fix"),
            ))
        }
    };
    let tls13_only = match t.min_version.as_deref() {
        None | Some("1.2") => false,
        Some("1.3") => true,
        Some(other) => {
            return Err(cx.err(
                "tls.min_version",
                buzon_i18n::t!(
                    "config-tls-min-version-problem",
                    other = format!("{:?}", other)
                ),
                buzon_i18n::t!("config-tls-min-version-fix"),
            ))
        }
    };
    Ok((source, tls13_only))
}
