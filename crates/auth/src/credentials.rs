//! A user's second credentials: app passwords and two-step verification (TOTP, RFC 6238,
//! with one-time recovery codes).
//!
//! A POP3 client cannot type a one-time code at every poll, so an account with two-step
//! verification logs in to POP3 with app passwords only (as Gmail, Outlook and Fastmail
//! do); the main password plus a TOTP code is what the account's own page asks.
//!
//! - **App passwords** are generated here: 25 characters from a 32-letter alphabet
//!   without look-alikes, shown as five groups of five (`abcde-fghij-…`). The first five
//!   are a public identifier (25 bits), the other twenty the secret (100 bits). Only
//!   SHA-256 of the whole password is stored: a secret of 100 random bits needs no slow
//!   hash, and the identifier finds the one entry to compare, so a login never tries
//!   every stored hash.
//! - **TOTP**: HMAC-SHA1, 6 digits, 30-second steps (what every authenticator app
//!   reads from an `otpauth://` URI), one step of drift either way, and a code's step
//!   accepted once (RFC 6238 §5.2).
//! - **Recovery codes**: ten, each 50 random bits, stored as SHA-256, each usable once.
//!
//! Whether two-step verification is *on* is the users file's (or table's) extra field
//! [`TWO_STEP_FIELD`], read from memory like the password itself; what is stored here
//! are the secrets. [`UserCredentials`] is kept as TOML text, one document per user:
//! in a file of [`CredentialsDir`] on one machine, in a table row with PostgreSQL.

use std::fmt;

use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::AuthError;
use buzon_pop3_proto::sasl::constant_time_eq;

/// The users-file extra field (and users-table extra field) that turns two-step
/// verification on: `two_step=totp`. Set and cleared by `buzon user 2fa enable|disable`;
/// an administrator may also set it by hand to allow app passwords only.
pub const TWO_STEP_FIELD: &str = "two_step";

/// The users-file extra field that disables an account's logins (POP3, app passwords,
/// tokens, the account page) while its mail is still delivered: Dovecot's `nologin`.
pub const NOLOGIN_FIELD: &str = "nologin";

/// The letters of app passwords and recovery codes: a–z and 2–9 without `l`, `o`
/// (read as `1` and `0`), 32 in all, so each carries 5 bits.
const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
/// Letters of an app password: 5 of identifier, 20 of secret (100 bits).
const APP_LEN: usize = 25;
const APP_ID_LEN: usize = 5;
/// Letters of a recovery code (50 bits).
const RECOVERY_LEN: usize = 10;
/// How many recovery codes `2fa enable` prints.
pub const RECOVERY_CODES: usize = 10;
/// At most this many app passwords per user (a bound on the document, not a policy).
pub const MAX_APP_PASSWORDS: usize = 100;
/// The longest name of an app password, in characters.
pub const MAX_APP_NAME: usize = 100;
/// TOTP parameters: 6 digits, 30-second steps, one step of drift either way.
const TOTP_DIGITS: usize = 6;
const TOTP_STEP: u64 = 30;
const TOTP_SKEW: u8 = 1;
/// TOTP secret length: 160 bits, the HMAC-SHA1 block RFC 4226 recommends.
const TOTP_SECRET_BYTES: usize = 20;

/// Where an app password may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppScope {
    /// POP3 logins only.
    Pop3,
    /// Every mail protocol the server speaks (POP3 today); never the account's own page.
    All,
}

impl AppScope {
    /// The word used on the command line and in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            AppScope::Pop3 => "pop3",
            AppScope::All => "all",
        }
    }

    /// Parses `pop3` or `all`.
    pub fn parse(s: &str) -> Option<AppScope> {
        match s.to_ascii_lowercase().as_str() {
            "pop3" => Some(AppScope::Pop3),
            "all" => Some(AppScope::All),
            _ => None,
        }
    }

    /// True when a POP3 login may use it.
    pub fn allows_pop3(self) -> bool {
        matches!(self, AppScope::Pop3 | AppScope::All)
    }
}

/// One app password as stored: never the password itself.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppPassword {
    /// The public identifier: the password's first five letters.
    pub id: String,
    /// The name its owner gave it ("laptop — Thunderbird").
    pub name: String,
    /// Where it may be used.
    pub scope: AppScope,
    /// Hex SHA-256 of the 25 letters.
    hash: String,
    /// When it was made (seconds since 1970).
    pub created: u64,
    /// When it last logged in (seconds since 1970).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<u64>,
    /// The client address of that login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_address: Option<String>,
}

impl fmt::Debug for AppPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppPassword")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl AppPassword {
    /// True when `letters` (from [`app_password_letters`]) is this password.
    pub fn matches(&self, letters: &AppLetters) -> bool {
        let digest = hex::encode(Sha256::digest(letters.0.as_bytes()));
        constant_time_eq(digest.as_bytes(), self.hash.as_bytes())
    }

    /// Records a login, and says whether that changed what is stored: the time only
    /// moves when a minute has passed or the address changed, so a client polling every
    /// few seconds does not rewrite the record at each poll.
    pub fn record_use(&mut self, now: u64, address: Option<&str>) -> bool {
        let moved = self.last_used.is_none_or(|t| now >= t + 60);
        let other_place = address.is_some() && self.last_address.as_deref() != address;
        if !moved && !other_place {
            return false;
        }
        self.last_used = Some(now);
        if let Some(a) = address {
            self.last_address = Some(a.to_string());
        }
        true
    }
}

/// The 25 letters of a typed app password, normalised (lower case, no dashes or spaces).
#[derive(Clone, PartialEq, Eq)]
pub struct AppLetters(String);

impl fmt::Debug for AppLetters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AppLetters({}…)", self.id())
    }
}

impl AppLetters {
    /// The public identifier (the first five letters).
    pub fn id(&self) -> &str {
        &self.0[..APP_ID_LEN]
    }
}

/// The letters of `typed` when it has the shape of an app password: 25 letters of the
/// alphabet once dashes and spaces are removed, in either case. Anything else is not
/// one (it may still be the main password).
pub fn app_password_letters(typed: &[u8]) -> Option<AppLetters> {
    if typed.len() > 64 {
        return None;
    }
    let letters: String = typed
        .iter()
        .filter(|b| !matches!(b, b'-' | b' '))
        .map(|b| b.to_ascii_lowercase() as char)
        .collect();
    (letters.len() == APP_LEN && letters.bytes().all(|b| ALPHABET.contains(&b)))
        .then_some(AppLetters(letters))
}

fn random_letters(n: usize) -> String {
    let mut rng = rand::rngs::OsRng;
    (0..n)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

fn grouped(letters: &str) -> String {
    letters
        .as_bytes()
        .chunks(5)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// A new app password: the record to store, and the password to show once.
pub struct NewAppPassword {
    /// What is stored.
    pub entry: AppPassword,
    /// The password as shown to its owner: five groups of five letters.
    pub shown: String,
}

impl fmt::Debug for NewAppPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewAppPassword")
            .field("entry", &self.entry)
            .finish_non_exhaustive()
    }
}

/// Makes an app password whose identifier is not among `taken`.
pub fn generate_app_password(
    name: &str,
    scope: AppScope,
    now: u64,
    taken: &[AppPassword],
) -> NewAppPassword {
    loop {
        let letters = random_letters(APP_LEN);
        let id = &letters[..APP_ID_LEN];
        if taken.iter().any(|a| a.id == id) {
            continue;
        }
        return NewAppPassword {
            entry: AppPassword {
                id: id.to_string(),
                name: name.to_string(),
                scope,
                hash: hex::encode(Sha256::digest(letters.as_bytes())),
                created: now,
                last_used: None,
                last_address: None,
            },
            shown: grouped(&letters),
        };
    }
}

/// Checks the name of a new app password: not empty, at most [`MAX_APP_NAME`]
/// characters, no control characters, and not the name of another one.
pub fn check_app_password_name(name: &str, existing: &[AppPassword]) -> Result<(), AuthError> {
    let bad = |reason: &str| AuthError::Credentials(reason.to_string());
    if name.trim().is_empty() {
        return Err(bad(&buzon_i18n::t!("app-password-name-empty")));
    }
    if name.chars().count() > MAX_APP_NAME || name.chars().any(char::is_control) {
        return Err(bad(&buzon_i18n::t!(
            "app-password-name-bad",
            max = MAX_APP_NAME
        )));
    }
    if existing.iter().any(|a| a.name.eq_ignore_ascii_case(name)) {
        return Err(bad(&buzon_i18n::t!("app-password-name-taken", name = name)));
    }
    if existing.len() >= MAX_APP_PASSWORDS {
        return Err(bad(&buzon_i18n::t!(
            "app-password-too-many",
            max = MAX_APP_PASSWORDS
        )));
    }
    Ok(())
}

/// Two-step verification's secrets.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwoStep {
    /// The TOTP secret, base32 (RFC 4648, no padding), as authenticator apps read it.
    totp_secret: String,
    /// When it was turned on (seconds since 1970).
    pub enabled: u64,
    /// The step of the last code accepted: that step and earlier ones are refused.
    #[serde(default)]
    last_step: u64,
    /// Hex SHA-256 of each recovery code not yet used.
    #[serde(default)]
    recovery: Vec<String>,
}

impl fmt::Debug for TwoStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwoStep")
            .field("enabled", &self.enabled)
            .field("recovery_left", &self.recovery.len())
            .finish_non_exhaustive()
    }
}

/// The outcome of checking a second-factor code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// A valid TOTP code, now used up.
    Totp,
    /// A recovery code, now used up; this many are left.
    Recovery(usize),
    /// A TOTP code that was valid but has been used already (RFC 6238 §5.2).
    Replayed,
    /// Not a valid code.
    Invalid,
}

/// A TOTP secret being set up: shown to the user, confirmed with a first code, then
/// stored as [`TwoStep`].
pub struct TotpEnrolment {
    secret: Vec<u8>,
}

impl fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpEnrolment(***)")
    }
}

fn totp(secret: &[u8]) -> totp_rs::TOTP {
    // new_unchecked: the secret is always TOTP_SECRET_BYTES, above the RFC's 128 bits;
    // the account name is only for URIs, which are built here.
    totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        TOTP_DIGITS,
        TOTP_SKEW,
        TOTP_STEP,
        secret.to_vec(),
    )
}

/// The step of `code` within one step of `now`, if it is a valid code there.
fn totp_step(secret: &[u8], code: &str, now: u64) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != TOTP_DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret);
    let now_step = now / TOTP_STEP;
    let first = now_step.saturating_sub(u64::from(TOTP_SKEW));
    // Every candidate is computed and compared, so the time does not say which matched.
    let mut found = None;
    for step in first..=now_step + u64::from(TOTP_SKEW) {
        if constant_time_eq(t.generate(step * TOTP_STEP).as_bytes(), code.as_bytes()) {
            found = Some(step);
        }
    }
    found
}

fn percent(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl TotpEnrolment {
    /// A fresh random secret.
    pub fn new() -> TotpEnrolment {
        let mut secret = vec![0u8; TOTP_SECRET_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        TotpEnrolment { secret }
    }

    /// The secret in base32, for typing into an app by hand.
    pub fn secret_base32(&self) -> String {
        base32_encode(&self.secret)
    }

    /// The `otpauth://totp/` URI authenticator apps read (from a QR code): label
    /// `ISSUER:ACCOUNT`, with the issuer, algorithm, digits and period spelled out.
    pub fn uri(&self, issuer: &str, account: &str) -> String {
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={TOTP_DIGITS}&period={TOTP_STEP}",
            percent(issuer),
            percent(account),
            self.secret_base32(),
            percent(issuer)
        )
    }

    /// The code of the step holding `now` (what the user's app shows).
    pub fn code_at(&self, now: u64) -> String {
        totp(&self.secret).generate(now)
    }

    /// Confirms the setup with a first code and turns it into what is stored, with the
    /// recovery codes to show once. `None`: the code is not valid at `now`.
    pub fn confirm(&self, code: &str, now: u64) -> Option<(TwoStep, Vec<String>)> {
        let step = totp_step(&self.secret, code, now)?;
        let mut shown = Vec::with_capacity(RECOVERY_CODES);
        let mut hashes = Vec::with_capacity(RECOVERY_CODES);
        for _ in 0..RECOVERY_CODES {
            let letters = random_letters(RECOVERY_LEN);
            hashes.push(hex::encode(Sha256::digest(letters.as_bytes())));
            shown.push(grouped(&letters));
        }
        Some((
            TwoStep {
                totp_secret: self.secret_base32(),
                enabled: now,
                last_step: step,
                recovery: hashes,
            },
            shown,
        ))
    }
}

impl Default for TotpEnrolment {
    fn default() -> Self {
        TotpEnrolment::new()
    }
}

impl TwoStep {
    /// Checks a TOTP code or a recovery code at `now` and uses it up.
    pub fn check_code(&mut self, code: &str, now: u64) -> CodeCheck {
        let Some(secret) = base32_decode(&self.totp_secret) else {
            return CodeCheck::Invalid;
        };
        if let Some(step) = totp_step(&secret, code, now) {
            if step <= self.last_step {
                return CodeCheck::Replayed;
            }
            self.last_step = step;
            return CodeCheck::Totp;
        }
        let letters: String = code
            .chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if letters.len() == RECOVERY_LEN {
            let digest = hex::encode(Sha256::digest(letters.as_bytes()));
            let mut hit = None;
            for (i, h) in self.recovery.iter().enumerate() {
                if constant_time_eq(h.as_bytes(), digest.as_bytes()) {
                    hit = Some(i);
                }
            }
            if let Some(i) = hit {
                self.recovery.remove(i);
                return CodeCheck::Recovery(self.recovery.len());
            }
        }
        CodeCheck::Invalid
    }

    /// Recovery codes not yet used.
    pub fn recovery_left(&self) -> usize {
        self.recovery.len()
    }
}

const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn base32_encode(data: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(data).replace('=', "")
}

fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let clean: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if !clean.bytes().all(|b| B32.contains(&b)) {
        return None;
    }
    data_encoding::BASE32_NOPAD.decode(clean.as_bytes()).ok()
}

/// Everything stored for one user besides the main password.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserCredentials {
    /// App passwords, oldest first.
    #[serde(
        default,
        rename = "app_password",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub app_passwords: Vec<AppPassword>,
    /// Two-step verification's secrets, once it has been set up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub two_step: Option<TwoStep>,
    /// The last logins, newest first (at most [`RECENT_LOGINS`]).
    #[serde(default, rename = "login", skip_serializing_if = "Vec::is_empty")]
    pub recent_logins: Vec<LoginRecord>,
}

/// How many logins [`UserCredentials::recent_logins`] keeps.
pub const RECENT_LOGINS: usize = 10;

/// One login, for the account page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRecord {
    /// Seconds since 1970.
    pub time: u64,
    /// The client address.
    pub address: String,
    /// How: "USER", "PLAIN", "SCRAM-SHA-256-PLUS", "OAUTHBEARER", "web", …
    pub how: String,
}

impl UserCredentials {
    /// The stored form: TOML, with a first comment line saying what the file is.
    pub fn to_text(&self, user: &str) -> String {
        let body = toml::to_string(self).unwrap_or_default();
        format!(
            "# Buzón: app passwords and two-step verification of {user}. Change with `buzon user app-password` and `buzon user 2fa`.\n{body}"
        )
    }

    /// Reads the stored form; an error says what is wrong (for the log and `buzon user`).
    pub fn from_text(text: &str) -> Result<UserCredentials, String> {
        toml::from_str(text).map_err(|e| e.message().to_string())
    }

    /// The app password that `letters` is, if any.
    pub fn app_password_mut(&mut self, letters: &AppLetters) -> Option<&mut AppPassword> {
        self.app_passwords
            .iter_mut()
            .find(|a| a.id == letters.id())
            .filter(|a| a.matches(letters))
    }

    /// Removes the app password named `name_or_id` (its name, ignoring case, or its
    /// identifier); returns it.
    pub fn revoke(&mut self, name_or_id: &str) -> Option<AppPassword> {
        let i = self
            .app_passwords
            .iter()
            .position(|a| a.name.eq_ignore_ascii_case(name_or_id))
            .or_else(|| {
                self.app_passwords
                    .iter()
                    .position(|a| a.id.eq_ignore_ascii_case(name_or_id))
            })?;
        Some(self.app_passwords.remove(i))
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.app_passwords.is_empty() && self.two_step.is_none() && self.recent_logins.is_empty()
    }

    /// Records a login first in [`UserCredentials::recent_logins`], keeping the last
    /// [`RECENT_LOGINS`].
    pub fn record_login(&mut self, time: u64, address: &str, how: &str) {
        self.recent_logins.insert(
            0,
            LoginRecord {
                time,
                address: address.to_string(),
                how: how.to_string(),
            },
        );
        self.recent_logins.truncate(RECENT_LOGINS);
    }
}

/// Where [`UserCredentials`] are kept: a folder of files, or the PostgreSQL store.
/// Blocking: call from blocking threads.
pub trait CredentialStore: Send + Sync {
    /// The user's credentials (empty when none were ever stored). `Err`: the store
    /// cannot be read right now; the text says why (for the log), and a login that needs
    /// it is a temporary failure.
    fn load(&self, user: &str) -> Result<UserCredentials, String>;

    /// One read-modify-write, safe against concurrent changes from other processes or
    /// nodes. The change may refuse (its error is returned and nothing is written).
    fn modify(
        &self,
        user: &str,
        change: &mut dyn FnMut(&mut UserCredentials) -> Result<(), AuthError>,
    ) -> Result<(), AuthError>;

    /// The folder or URL, for messages.
    fn describe(&self) -> String;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_passwords_have_125_bits_and_are_found_by_their_identifier() {
        let mut creds = UserCredentials::default();
        let a = generate_app_password("laptop", AppScope::Pop3, 100, &creds.app_passwords);
        assert_eq!(a.shown.len(), 29);
        assert_eq!(a.shown.matches('-').count(), 4);
        creds.app_passwords.push(a.entry.clone());
        let b = generate_app_password("phone", AppScope::All, 100, &creds.app_passwords);
        creds.app_passwords.push(b.entry.clone());
        // Typed in capitals, without dashes, with spaces: the same password.
        let typed = a.shown.replace('-', " ").to_uppercase();
        let letters = app_password_letters(typed.as_bytes()).unwrap();
        assert_eq!(letters.id(), a.entry.id);
        assert_eq!(creds.app_password_mut(&letters).unwrap().name, "laptop");
        // One letter changed in the secret: no match, even with the right identifier.
        let mut wrong = a.shown.replace('-', "").into_bytes();
        wrong[24] = if wrong[24] == b'a' { b'b' } else { b'a' };
        let wrong = app_password_letters(&wrong).unwrap();
        assert!(creds.app_password_mut(&wrong).is_none());
        // Not the shape of an app password: main passwords never reach this path.
        assert!(app_password_letters(b"correct horse battery staple").is_none());
        assert!(app_password_letters(b"abcde-fghij-kmnpq-rstuv-wxyz0").is_none());
        // Nothing secret in the stored text beyond the hash.
        let text = creds.to_text("alice");
        assert!(!text.contains(&a.shown.replace('-', "")[5..]));
        assert_eq!(UserCredentials::from_text(&text).unwrap(), creds);
    }

    #[test]
    fn names_are_checked_and_revoke_takes_name_or_identifier() {
        let mut creds = UserCredentials::default();
        let a = generate_app_password("Laptop", AppScope::Pop3, 1, &[]);
        creds.app_passwords.push(a.entry.clone());
        assert!(check_app_password_name("laptop", &creds.app_passwords).is_err());
        assert!(check_app_password_name("  ", &creds.app_passwords).is_err());
        assert!(check_app_password_name("a\u{7}b", &creds.app_passwords).is_err());
        assert!(check_app_password_name("phone — K-9", &creds.app_passwords).is_ok());
        assert!(creds.revoke("nothing").is_none());
        assert_eq!(creds.revoke(&a.entry.id).unwrap().name, "Laptop");
        assert!(creds.is_empty());
    }

    #[test]
    fn last_use_moves_once_a_minute_or_when_the_address_changes() {
        let mut a = generate_app_password("x", AppScope::Pop3, 0, &[]).entry;
        assert!(a.record_use(1000, Some("192.0.2.1")));
        assert!(!a.record_use(1030, Some("192.0.2.1")));
        assert!(a.record_use(1040, Some("2001:db8::1")));
        assert!(a.record_use(1100, Some("2001:db8::1")));
        assert_eq!(a.last_used, Some(1100));
        assert_eq!(a.last_address.as_deref(), Some("2001:db8::1"));
    }

    /// RFC 6238 Appendix B, SHA-1 rows (the 8-digit values' last six digits).
    #[test]
    fn totp_matches_the_rfc_6238_test_vectors() {
        let secret = b"12345678901234567890".to_vec();
        let e = TotpEnrolment {
            secret: secret.clone(),
        };
        for (t, code) in [
            (59u64, "287082"),
            (1111111109, "081804"),
            (1111111111, "050471"),
            (1234567890, "005924"),
            (2000000000, "279037"),
            (20000000000, "353130"),
        ] {
            assert_eq!(e.code_at(t), code, "t = {t}");
        }
        assert_eq!(e.secret_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    #[test]
    fn totp_accepts_one_step_of_drift_and_each_code_once() {
        let e = TotpEnrolment::new();
        let now = 1_800_000_015;
        let code = e.code_at(now);
        let (mut two, recovery) = e.confirm(&code, now).unwrap();
        assert_eq!(recovery.len(), RECOVERY_CODES);
        // The code that confirmed the setup cannot be used again.
        assert_eq!(two.check_code(&code, now), CodeCheck::Replayed);
        // The next step's code, typed a step early (the phone's clock runs ahead).
        let next = e.code_at(now + 30);
        assert_eq!(two.check_code(&next, now), CodeCheck::Totp);
        assert_eq!(two.check_code(&next, now + 30), CodeCheck::Replayed);
        // Two steps late: refused.
        let later = e.code_at(now + 90);
        assert_eq!(two.check_code(&later, now + 30), CodeCheck::Invalid);
        // A step late (the phone's clock runs behind): accepted once.
        assert_eq!(two.check_code(&later, now + 120), CodeCheck::Totp);
        assert_eq!(two.check_code("12345", now), CodeCheck::Invalid);
        assert_eq!(two.check_code("abcdef", now), CodeCheck::Invalid);
        // Stored and read back, the used step is remembered.
        let creds = UserCredentials {
            two_step: Some(two.clone()),
            ..UserCredentials::default()
        };
        let mut back = UserCredentials::from_text(&creds.to_text("a"))
            .unwrap()
            .two_step
            .unwrap();
        assert_eq!(back.check_code(&later, now + 120), CodeCheck::Replayed);
        // A wrong first code does not set anything up.
        let other = TotpEnrolment::new();
        let wrong = if other.code_at(now) == "000000" {
            "111111"
        } else {
            "000000"
        };
        if other.code_at(now - 30) != wrong && other.code_at(now + 30) != wrong {
            assert!(other.confirm(wrong, now).is_none());
        }
    }

    #[test]
    fn recovery_codes_work_once_each() {
        let e = TotpEnrolment::new();
        let now = 1_900_000_000;
        let (mut two, codes) = e.confirm(&e.code_at(now), now).unwrap();
        assert_eq!(
            two.check_code(&codes[3].to_uppercase(), now),
            CodeCheck::Recovery(9)
        );
        assert_eq!(two.check_code(&codes[3], now), CodeCheck::Invalid);
        assert_eq!(
            two.check_code(&codes[0].replace('-', ""), now),
            CodeCheck::Recovery(8)
        );
        assert_eq!(two.recovery_left(), 8);
    }

    #[test]
    fn the_uri_names_issuer_and_account_and_escapes_them() {
        let e = TotpEnrolment {
            secret: b"12345678901234567890".to_vec(),
        };
        assert_eq!(
            e.uri("Buzón mail.example.com", "alice@example.com"),
            "otpauth://totp/Buz%C3%B3n%20mail.example.com:alice@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Buz%C3%B3n%20mail.example.com&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn debug_shows_no_secret() {
        let e = TotpEnrolment::new();
        let (two, _) = e.confirm(&e.code_at(5_000_000), 5_000_000).unwrap();
        let a = generate_app_password("x", AppScope::Pop3, 0, &[]);
        let all = format!("{e:?} {two:?} {a:?} {:?}", a.entry);
        assert!(!all.contains(&e.secret_base32()), "{all}");
        assert!(!all.contains(&a.shown), "{all}");
        assert!(!all.contains("hash"), "{all}");
    }
}
