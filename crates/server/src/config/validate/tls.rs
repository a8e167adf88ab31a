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
                "is set but `tls.key` is not",
                "set both, or neither to use a generated self-signed certificate",
            ))
        }
        (None, Some(_)) => {
            return Err(cx.err(
                "tls.key",
                "is set but `tls.certificate` is not",
                "set both, or neither to use a generated self-signed certificate",
            ))
        }
    };
    let tls13_only = match t.min_version.as_deref() {
        None | Some("1.2") => false,
        Some("1.3") => true,
        Some(other) => {
            return Err(cx.err(
                "tls.min_version",
                format!("is {other:?}"),
                "use \"1.2\" (default) or \"1.3\"; older versions are not supported",
            ))
        }
    };
    Ok((source, tls13_only))
}
