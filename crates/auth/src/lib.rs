//! Users, passwords and login throttling for Buzón.
//!
//! - [`UserDb`]: a Dovecot-compatible passwd-file, loaded for cheap lookups;
//!   [`add_user`], [`set_password`] and [`remove_user`] edit it atomically.
//! - [`hash_password`] / [`verify_password`]: Dovecot `{SCHEME}hash` strings.
//! - [`Throttle`]: failed-login counters per network and per user name.
//! - [`AuthCache`]: recent successful verifications, to spare Argon2 work.
//! - [`UserCredentials`] in a [`CredentialStore`] ([`CredentialsDir`] on one machine):
//!   app passwords and two-step verification (TOTP, recovery codes).
//! - [`Secret`]: a password that never reaches a log.
//!
//! Everything here is synchronous and some of it is CPU-heavy (hashing) or
//! blocks on the filesystem (edits): async callers run it via
//! `spawn_blocking`. Nothing here sleeps; delays are returned, not taken.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cache;
mod credentials;
mod credentials_dir;
mod directory;
mod edit;
mod error;
mod scheme;
mod throttle;
mod userdb;
mod username;

/// Passwords travel in the protocol crate's [`Secret`], so one type guards them everywhere.
pub use buzon_pop3_proto::Secret;
pub use cache::{AuthCache, DEFAULT_CACHE_CAPACITY, DEFAULT_CACHE_TTL};
pub use credentials::{
    app_password_letters, check_app_password_name, generate_app_password, AppLetters, AppPassword,
    AppScope, CodeCheck, CredentialStore, LoginRecord, NewAppPassword, TotpEnrolment, TwoStep,
    UserCredentials, MAX_APP_NAME, MAX_APP_PASSWORDS, NOLOGIN_FIELD, RECENT_LOGINS, RECOVERY_CODES,
    TWO_STEP_FIELD,
};
pub use credentials_dir::CredentialsDir;
pub use directory::{UserDirectory, UsersFile};
pub use edit::{
    add_user, add_user_entry, check_users_file_as_root, remove_user, set_extra_field, set_password,
};
pub use error::AuthError;
pub use scheme::{
    check_stored_password, hash_new_password, hash_password, hash_scram, needs_rehash,
    plaintext_password, scram_verifier, verify_password, DummyHash, HashParams, NewPasswordScheme,
    ScramVerifier, MAX_M_COST_KIB, SCRAM_ITERATIONS,
};
pub use throttle::{Admission, IpNet, Throttle, ThrottleConfig, MAX_TRACKED_KEYS};
pub use userdb::{format_extra_fields, FileStamp, UserDb, UserEntry};
pub use username::{mailbox_dir_name, validate_username, MAX_USERNAME_LEN};
