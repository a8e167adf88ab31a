//! Validation: [`FileConfig`] as written → the runtime [`Config`], one function per
//! section, each filling in its defaults and refusing a value with an error that names the
//! key, its line, what is wrong and the fix. The order of the sections is the order in
//! which errors are reported (the first one wins).

use std::path::{Path, PathBuf};
use std::time::Duration;

use buzon_auth::IpNet;
use buzon_units::location::KeyPath;
use buzon_units::{parse_duration, parse_size_with};

use crate::config::error::{ConfigError, Ctx};
use crate::config::file::{FileConfig, SizeFile};
use crate::config::runtime::Config;

mod auth;
mod delivery;
mod limits;
mod listeners;
mod oauth;
mod pop3;
mod server;
mod smtp;
mod store;
mod tls;

impl FileConfig {
    /// Checks every value and fills in defaults. `text` is the file as read (for the lines
    /// in errors); `data_dir_override` (the zero-config run) takes precedence over the
    /// file's `data_dir`.
    pub fn validate(
        self,
        origin: &str,
        text: &str,
        data_dir_override: Option<&Path>,
    ) -> Result<Config, ConfigError> {
        let cx = Ctx { origin, text };
        let data_dir = data_dir_override
            .map(Path::to_path_buf)
            .or(self.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from("./buzon-data"));
        let mail_dir = self
            .mail_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("mail"));
        let hostname = server::hostname(&cx, &self.hostname)?;
        let log_json = match self.log_format.as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => {
                return Err(cx.err(
                    "log_format",
                    buzon_i18n::t!("config-log-format-problem", other = format!("{:?}", other)),
                    buzon_i18n::t!("config-log-format-fix"),
                ))
            }
        };
        let listeners = listeners::tcp(&cx, &self.listen)?;
        let (tls, tls13_only) = tls::tls(&cx, &self.tls, &data_dir)?;
        let auth = auth::auth(&cx, &self.auth, &data_dir)?;
        let limits = limits::limits(&cx, &self.limits)?;
        let pop3 = pop3::pop3(&cx, &self.pop3)?;
        let unix_listeners = listeners::unix(&cx, &self.listen)?;
        let delivery = delivery::delivery(&cx, &self.delivery, &data_dir)?;
        let smtp = smtp::smtp(&cx, &self.smtp, &hostname)?;
        let proxy_trusted = listeners::proxy(&cx, &self.proxy)?;
        let run_as = server::run_as(&cx, &self.server)?;
        let store = store::store(&cx, &self.store)?;
        let oauth = match &self.oauth {
            Some(o) => Some(oauth::oauth(&cx, o)?),
            None => None,
        };

        Ok(Config {
            data_dir,
            mail_dir,
            hostname,
            log_json,
            listeners,
            tls,
            tls13_only,
            auth,
            limits,
            pop3,
            proxy_trusted,
            run_as,
            unix_listeners,
            delivery,
            smtp,
            store,
            oauth,
            web_admins: self.web.admins.clone().unwrap_or_default(),
        })
    }
}

/// Values written the same way in several sections.
impl Ctx<'_> {
    /// A duration (`"30s"`, `"10m"`), or `default` when the key is not set.
    fn duration(
        &self,
        at: &str,
        v: &Option<String>,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        match v {
            None => Ok(default),
            Some(s) => parse_duration(s).ok_or_else(|| {
                self.err(
                    at,
                    buzon_i18n::t!("config-not-duration-problem", value = format!("{s:?}")),
                    buzon_i18n::t!("config-not-duration-fix"),
                )
            }),
        }
    }

    /// A size: a number of bytes, or a number with a unit (`"50M"`).
    fn size(&self, at: &str, v: &Option<SizeFile>, default: u64) -> Result<u64, ConfigError> {
        match v {
            None => Ok(default),
            Some(SizeFile::Bytes(n)) => Ok(*n),
            Some(SizeFile::Text(t)) => parse_size_with(t, 1).ok_or_else(|| {
                self.err(
                    at,
                    buzon_i18n::t!("config-not-size-problem", value = format!("{t:?}")),
                    buzon_i18n::t!("config-not-size-fix"),
                )
            }),
        }
    }

    /// A list of networks (`"10.0.0.0/8"`, `"::1"`), or `default` when the key is not set;
    /// an error names the line of the bad element.
    fn nets(
        &self,
        at: &str,
        v: &Option<Vec<String>>,
        default: &[&str],
    ) -> Result<Vec<IpNet>, ConfigError> {
        let items: Vec<&str> = match v {
            Some(v) => v.iter().map(String::as_str).collect(),
            None => default.to_vec(),
        };
        items
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.parse::<IpNet>().map_err(|_| {
                    let key = KeyPath::new(at);
                    self.err(
                        if v.is_some() { key.index(i) } else { key },
                        buzon_i18n::t!("config-bad-network-problem", value = format!("{s:?}")),
                        buzon_i18n::t!("config-bad-network-fix"),
                    )
                })
            })
            .collect()
    }
}
