//! Buzón's message catalogs: every text a person reads — POP3 response texts (RFC 6856
//! LANG), the command line's messages and diagnoses — comes from the Fluent files in
//! `locales/<tag>/buzon.ftl`, compiled into the binary.
//!
//! This crate chooses a language (a POSIX locale, a `--lang` flag, an RFC 6856 language
//! range) and formats a message by key with arguments. It must never decide what a
//! protocol says: status indicators, response codes and machine-read numbers stay outside
//! the catalogs. It does no I/O besides reading the locale variables in [`Lang::from_env`].

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

pub mod catalog;

/// A language Buzón speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    En,
    Es,
}

impl Lang {
    /// Every language, in the order `LANG` lists them.
    pub const ALL: [Lang; 2] = [Lang::Es, Lang::En];

    /// The language tag (RFC 5646).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
        }
    }

    /// The language's name in itself, for RFC 6856's listing.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Es => "Español",
        }
    }

    /// A language tag or range (`es`, `ES`, `es-MX`, `en-GB`), matched by RFC 4647 §3.4
    /// lookup: subtags are dropped from the end until a supported tag remains. `None`
    /// for anything else, including the wildcard `*` (the caller knows its default).
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.split('-').next().unwrap_or("");
        Self::ALL
            .into_iter()
            .find(|l| primary.eq_ignore_ascii_case(l.tag()))
    }

    /// A POSIX locale name (`es_ES.UTF-8`, `es_MX`, `es`, `en_US.UTF-8@euro`).
    /// `None` for `C`, `POSIX` and languages Buzón does not speak.
    pub fn from_locale(locale: &str) -> Option<Lang> {
        let lang = locale.split(['_', '.', '@', '-']).next().unwrap_or("");
        Self::ALL
            .into_iter()
            .find(|l| lang.eq_ignore_ascii_case(l.tag()))
    }

    /// The language of the user's locale, as POSIX chooses it for messages: the first
    /// of `LC_ALL`, `LC_MESSAGES`, `LANG` that is set and not empty decides; English when
    /// none is, or it names a language Buzón does not speak.
    pub fn from_env() -> Lang {
        Self::from_locale_vars(|name| std::env::var(name).ok())
    }

    /// [`Lang::from_env`] over any source of variables (tests pass their own).
    pub fn from_locale_vars(get: impl Fn(&str) -> Option<String>) -> Lang {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .into_iter()
            .filter_map(get)
            .find(|v| !v.is_empty())
            .and_then(|v| Self::from_locale(&v))
            .unwrap_or(Lang::En)
    }

    fn index(self) -> u8 {
        match self {
            Lang::En => 0,
            Lang::Es => 1,
        }
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.tag())
    }
}

/// An argument of a message: text, or a number (numbers choose plural forms).
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Text(String),
    Number(f64),
}

impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Arg::Text(s.to_string())
    }
}
impl From<String> for Arg {
    fn from(s: String) -> Self {
        Arg::Text(s)
    }
}
impl From<&String> for Arg {
    fn from(s: &String) -> Self {
        Arg::Text(s.clone())
    }
}
macro_rules! number_arg {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg {
            #[allow(clippy::cast_precision_loss, clippy::cast_lossless)]
            fn from(n: $t) -> Self {
                Arg::Number(n as f64)
            }
        }
    )*};
}
number_arg!(u8, u16, u32, u64, usize, i32, i64);

/// Catalog source, one per language, in [`Lang::index`] order.
pub(crate) const SOURCES: [(Lang, &str); 2] = [
    (Lang::En, include_str!("../locales/en/buzon.ftl")),
    (Lang::Es, include_str!("../locales/es/buzon.ftl")),
];

type Bundle = FluentBundle<FluentResource>;

static BUNDLES: LazyLock<Vec<Bundle>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|(lang, source)| {
            let id: unic_langid::LanguageIdentifier = lang.tag().parse().unwrap_or_default();
            let mut bundle = FluentBundle::new_concurrent(vec![id]);
            // Terminals and POP3 lines are plain text: no U+2068/U+2069 around arguments.
            bundle.set_use_isolating(false);
            // A syntax error would be caught by the catalog tests; keep what parsed.
            let resource =
                FluentResource::try_new((*source).to_string()).unwrap_or_else(|(r, _)| r);
            bundle.add_resource_overriding(resource);
            bundle
        })
        .collect()
});

/// Formats message `key` in `lang`. A key missing from the catalog comes out as the key
/// itself (the catalog tests keep that from happening).
pub fn text(lang: Lang, key: &str, args: &[(&str, Arg)]) -> String {
    let Some(bundle) = BUNDLES.get(usize::from(lang.index())) else {
        return key.to_string();
    };
    let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
        return key.to_string();
    };
    let mut fargs = FluentArgs::with_capacity(args.len());
    for (name, value) in args {
        match value {
            Arg::Text(s) => fargs.set(*name, FluentValue::from(s.as_str())),
            Arg::Number(n) => fargs.set(*name, FluentValue::from(*n)),
        }
    }
    let mut errors = Vec::new();
    bundle
        .format_pattern(pattern, Some(&fargs), &mut errors)
        .into_owned()
}

/// Whether `key` is in the catalog of `lang`.
pub fn has(lang: Lang, key: &str) -> bool {
    BUNDLES
        .get(usize::from(lang.index()))
        .is_some_and(|b| b.has_message(key))
}

static CURRENT: AtomicU8 = AtomicU8::new(0);

/// Sets the language of this process's command-line messages.
pub fn set_current(lang: Lang) {
    CURRENT.store(lang.index(), Ordering::Relaxed);
}

/// The language of this process's command-line messages (English until set).
pub fn current() -> Lang {
    match CURRENT.load(Ordering::Relaxed) {
        1 => Lang::Es,
        _ => Lang::En,
    }
}

/// A file operation named in an I/O error ("read", "rename into place", …) in the
/// current language; one without a catalog entry stays as written.
pub fn io_action(action: &str) -> String {
    let key = match action {
        "create temporary file" => "io-action-create-temporary-file",
        "fsync directory" => "io-action-fsync-directory",
        "fsync" => "io-action-fsync",
        "lock" => "io-action-lock",
        "open lock file" => "io-action-open-lock-file",
        "open" => "io-action-open",
        "read the attributes of" => "io-action-read-the-attributes-of",
        "read" => "io-action-read",
        "rename into place" => "io-action-rename-into-place",
        "resolve" => "io-action-resolve",
        "set mode of" => "io-action-set-mode-of",
        "stat" => "io-action-stat",
        "write" => "io-action-write",
        "create directory" => "io-action-create-directory",
        "create" => "io-action-create",
        "delete" => "io-action-delete",
        "inspect" => "io-action-inspect",
        "list" => "io-action-list",
        "move into new/" => "io-action-move-into-new",
        "remove" => "io-action-remove",
        "set the delivery time of" => "io-action-set-the-delivery-time-of",
        other => return other.to_string(),
    };
    tr(key, &[])
}

/// Formats `key` in the [`current`] language.
pub fn tr(key: &str, args: &[(&str, Arg)]) -> String {
    text(current(), key, args)
}

/// `t!("key")`, `t!("key", name = value, …)`: a message in the current language.
#[macro_export]
macro_rules! t {
    ($key:expr) => {
        $crate::tr($key, &[])
    };
    ($key:expr, $($name:ident = $value:expr),+ $(,)?) => {
        $crate::tr($key, &[$((stringify!($name), $crate::Arg::from($value))),+])
    };
}

/// `tl!(lang, "key", name = value, …)`: a message in a given language.
#[macro_export]
macro_rules! tl {
    ($lang:expr, $key:expr) => {
        $crate::text($lang, $key, &[])
    };
    ($lang:expr, $key:expr, $($name:ident = $value:expr),+ $(,)?) => {
        $crate::text($lang, $key, &[$((stringify!($name), $crate::Arg::from($value))),+])
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_choose_spanish_or_english() {
        for (locale, want) in [
            ("es_ES.UTF-8", Some(Lang::Es)),
            ("es", Some(Lang::Es)),
            ("es_MX", Some(Lang::Es)),
            ("es_AR.UTF-8@euro", Some(Lang::Es)),
            ("en_US.UTF-8", Some(Lang::En)),
            ("C", None),
            ("POSIX", None),
            ("fr_FR.UTF-8", None),
            ("", None),
        ] {
            assert_eq!(Lang::from_locale(locale), want, "{locale}");
        }
    }

    #[test]
    fn posix_order_lc_all_then_lc_messages_then_lang() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_string())
            }
        };
        assert_eq!(
            Lang::from_locale_vars(env(&[("LANG", "es_ES.UTF-8")])),
            Lang::Es
        );
        assert_eq!(
            Lang::from_locale_vars(env(&[("LANG", "es_ES.UTF-8"), ("LC_MESSAGES", "C")])),
            Lang::En
        );
        assert_eq!(
            Lang::from_locale_vars(env(&[("LC_ALL", "es_MX"), ("LC_MESSAGES", "en_US")])),
            Lang::Es
        );
        // An empty variable does not count (POSIX).
        assert_eq!(
            Lang::from_locale_vars(env(&[("LC_ALL", ""), ("LANG", "es")])),
            Lang::Es
        );
        assert_eq!(Lang::from_locale_vars(env(&[])), Lang::En);
        assert_eq!(
            Lang::from_locale_vars(env(&[("LANG", "de_DE.UTF-8")])),
            Lang::En
        );
    }

    #[test]
    fn language_ranges_by_rfc4647_lookup() {
        assert_eq!(Lang::from_tag("es"), Some(Lang::Es));
        assert_eq!(Lang::from_tag("ES"), Some(Lang::Es));
        assert_eq!(Lang::from_tag("es-MX"), Some(Lang::Es));
        assert_eq!(Lang::from_tag("en-GB"), Some(Lang::En));
        assert_eq!(Lang::from_tag("sv"), None);
        assert_eq!(Lang::from_tag("*"), None);
        assert_eq!(Lang::from_tag("esp"), None);
    }

    #[test]
    fn arguments_numbers_and_no_isolation_marks() {
        let s = tl!(
            Lang::En,
            "pop3-no-such-message",
            msg = 7u32,
            count = 1234567usize
        );
        assert_eq!(
            s,
            "There's no message 7, only 1234567 messages in maildrop."
        );
        let s = tl!(Lang::Es, "pop3-no-such-message", msg = 7u32, count = 1usize);
        assert!(!s.contains('\u{2068}') && !s.contains('\u{2069}'), "{s}");
        assert_eq!(s, "No existe el mensaje 7: en el buzón hay 1 mensaje.");
    }
}
