//! Password schemes in Dovecot's `{SCHEME}hash` notation: hashing new
//! passwords (Argon2id only) and verifying stored ones.
//!
//! Verification supports ARGON2ID, ARGON2I, SHA512-CRYPT, SHA256-CRYPT,
//! BLF-CRYPT and PLAIN/CLEARTEXT, plus bare crypt-style strings (`$6$…`,
//! `$argon2id$…`) as Dovecot's default CRYPT scheme accepts them. Scheme names
//! are case-insensitive. Every comparison of secret-derived bytes is constant
//! time. This module never logs, and never puts a password into an error.

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::AuthError;
use buzon_pop3_proto::Secret;

/// Argon2id cost parameters for newly hashed passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory cost in KiB.
    pub m_cost_kib: u32,
    /// Number of passes.
    pub t_cost: u32,
    /// Degree of parallelism (lanes).
    pub p_cost: u32,
}

impl Default for HashParams {
    /// OWASP's recommended Argon2id minimum: 19 MiB, 2 passes, 1 lane.
    fn default() -> Self {
        HashParams {
            m_cost_kib: 19_456,
            t_cost: 2,
            p_cost: 1,
        }
    }
}

/// Largest memory cost [`HashParams::validate`] accepts: 4 GiB, far above any
/// sane setting, low enough that a typo cannot exhaust the machine.
pub const MAX_M_COST_KIB: u32 = 4 * 1024 * 1024;

impl HashParams {
    /// Deliberately weak parameters (256 KiB, 1 pass) so tests run quickly.
    /// Never use them for real passwords.
    pub fn fast_for_tests() -> Self {
        HashParams {
            m_cost_kib: 256,
            t_cost: 1,
            p_cost: 1,
        }
    }

    /// Checks the parameters against Argon2's limits, for configuration validation.
    /// [`hash_password`] clamps out-of-range values instead of failing.
    pub fn validate(&self) -> Result<(), AuthError> {
        if self.p_cost < Params::MIN_P_COST || self.p_cost > Params::MAX_P_COST {
            return Err(AuthError::InvalidParams(format!(
                "parallelism p={} must be between {} and {}",
                self.p_cost,
                Params::MIN_P_COST,
                Params::MAX_P_COST
            )));
        }
        if self.t_cost < Params::MIN_T_COST {
            return Err(AuthError::InvalidParams(format!(
                "passes t={} must be at least {}",
                self.t_cost,
                Params::MIN_T_COST
            )));
        }
        let min_m = self.min_m_cost();
        if self.m_cost_kib < min_m || self.m_cost_kib > MAX_M_COST_KIB {
            return Err(AuthError::InvalidParams(format!(
                "memory m={} KiB must be between {min_m} KiB (8 × parallelism) and \
                 {MAX_M_COST_KIB} KiB; the recommended value is 19456",
                self.m_cost_kib
            )));
        }
        Ok(())
    }

    fn min_m_cost(&self) -> u32 {
        self.p_cost.saturating_mul(8).max(Params::MIN_M_COST)
    }

    fn clamped(&self) -> HashParams {
        let p_cost = self.p_cost.clamp(Params::MIN_P_COST, Params::MAX_P_COST);
        let t_cost = self.t_cost.max(Params::MIN_T_COST);
        let mut out = HashParams {
            m_cost_kib: 0,
            t_cost,
            p_cost,
        };
        out.m_cost_kib = self.m_cost_kib.clamp(out.min_m_cost(), MAX_M_COST_KIB);
        out
    }
}

/// The schemes Buzón can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Argon2id,
    Argon2i,
    Sha512Crypt,
    Sha256Crypt,
    BlfCrypt,
    Plain,
    ScramSha256,
}

/// Splits a stored password into its scheme and the scheme-specific text.
pub(crate) fn parse_stored(stored: &str) -> Result<(Scheme, &str), AuthError> {
    if stored.is_empty() {
        return Err(AuthError::BadHash(
            "the password field is empty, so the user cannot log in".into(),
        ));
    }
    if let Some(rest) = stored.strip_prefix('{') {
        let Some(end) = rest.find('}') else {
            return Err(AuthError::BadHash(
                "'{' starts a scheme name but there is no closing '}'".into(),
            ));
        };
        let name = &rest[..end];
        let data = &rest[end + 1..];
        let scheme = match name.to_ascii_uppercase().as_str() {
            "ARGON2ID" => Scheme::Argon2id,
            "ARGON2I" => Scheme::Argon2i,
            "SHA512-CRYPT" => Scheme::Sha512Crypt,
            "SHA256-CRYPT" => Scheme::Sha256Crypt,
            "BLF-CRYPT" => Scheme::BlfCrypt,
            "PLAIN" | "CLEARTEXT" => Scheme::Plain,
            "SCRAM-SHA-256" => Scheme::ScramSha256,
            // Dovecot's CRYPT hands the text to crypt(3), which picks the
            // algorithm from the `$id$` prefix; do the same.
            "CRYPT" => return detect_crypt(data),
            _ => return Err(AuthError::UnknownScheme(name.to_string())),
        };
        return Ok((scheme, data));
    }
    detect_crypt(stored)
}

/// Recognises crypt-style strings by their `$id$` prefix.
fn detect_crypt(data: &str) -> Result<(Scheme, &str), AuthError> {
    let scheme = if data.starts_with("$argon2id$") {
        Scheme::Argon2id
    } else if data.starts_with("$argon2i$") {
        Scheme::Argon2i
    } else if data.starts_with("$6$") {
        Scheme::Sha512Crypt
    } else if data.starts_with("$5$") {
        Scheme::Sha256Crypt
    } else if data.starts_with("$2y$") || data.starts_with("$2b$") || data.starts_with("$2a$") {
        Scheme::BlfCrypt
    } else if let Some(id) = data
        .strip_prefix('$')
        .and_then(|r| r.split_once('$'))
        .map(|(id, _)| id)
    {
        return Err(AuthError::UnknownScheme(format!("CRYPT ${id}$")));
    } else {
        return Err(AuthError::UnknownScheme("CRYPT".into()));
    };
    Ok((scheme, data))
}

/// Checks that a stored password is well formed, without verifying anything.
/// Edits of the passwd-file call this so no unusable entry is written.
pub(crate) fn check_stored(stored: &str) -> Result<(), AuthError> {
    let (scheme, data) = parse_stored(stored)?;
    match scheme {
        Scheme::Argon2id | Scheme::Argon2i => parse_argon2(scheme, data).map(|_| ()),
        Scheme::Sha512Crypt => parse_sha_crypt(data, ShaKind::Sha512).map(|_| ()),
        Scheme::Sha256Crypt => parse_sha_crypt(data, ShaKind::Sha256).map(|_| ()),
        Scheme::BlfCrypt => check_bcrypt(data),
        Scheme::Plain => Ok(()),
        Scheme::ScramSha256 => parse_scram(data).map(|_| ()),
    }
}

/// Checks that a stored password (`{SCHEME}data`, or a bare crypt string) is one this
/// server can verify, without verifying anything: imports refuse anything else.
pub fn check_stored_password(stored: &str) -> Result<(), AuthError> {
    check_stored(stored)
}

/// Hashes a new password as `{ARGON2ID}$argon2id$v=19$m=…,t=…,p=…$salt$hash`,
/// the exact text Dovecot writes for ARGON2ID. Out-of-range parameters are
/// clamped to Argon2's limits (see [`HashParams::validate`]).
pub fn hash_password(password: &[u8], params: &HashParams) -> String {
    let p = params.clamped();
    let mut salt_bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt_bytes);
    let hashed = Params::new(p.m_cost_kib, p.t_cost, p.p_cost, None)
        .map_err(|e| e.to_string())
        .and_then(|argon_params| {
            let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| e.to_string())?;
            Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params)
                .hash_password(password, &salt)
                .map(|h| h.to_string())
                .map_err(|e| e.to_string())
        });
    match hashed {
        Ok(phc) => format!("{{ARGON2ID}}{phc}"),
        // Unreachable: the parameters were clamped into Argon2's ranges and the
        // salt has a valid fixed length; nothing here comes from outside.
        Err(e) => panic!("argon2id hashing failed with clamped parameters: {e}"),
    }
}

/// Verifies `password` against a stored password string.
///
/// Returns `Ok(false)` for a wrong password, [`AuthError::UnknownScheme`] for
/// a scheme Buzón does not implement and [`AuthError::BadHash`] for malformed
/// hash text. CPU-heavy for the hashed schemes: call it off the async runtime.
pub fn verify_password(stored: &str, password: &[u8]) -> Result<bool, AuthError> {
    let (scheme, data) = parse_stored(stored)?;
    match scheme {
        Scheme::Argon2id | Scheme::Argon2i => verify_argon2(scheme, data, password),
        Scheme::Sha512Crypt => verify_sha_crypt(data, ShaKind::Sha512, password),
        Scheme::Sha256Crypt => verify_sha_crypt(data, ShaKind::Sha256, password),
        Scheme::BlfCrypt => verify_bcrypt(data, password),
        Scheme::ScramSha256 => {
            let v = parse_scram(data)?;
            let (stored_key, _) =
                buzon_pop3_proto::sasl::scram_keys(password, &v.salt, v.iterations);
            Ok(ct_eq(&stored_key, &v.stored_key))
        }
        // Hash both sides first so the comparison leaks neither bytes nor length.
        Scheme::Plain => Ok(ct_eq(
            &Sha256::digest(data.as_bytes()),
            &Sha256::digest(password),
        )),
    }
}

/// The scheme of newly set passwords (`auth.password_scheme`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NewPasswordScheme {
    /// `{ARGON2ID}` (the default): memory-hard, the best protection of a stolen users
    /// file; logins with PLAIN, LOGIN and USER/PASS.
    #[default]
    Argon2id,
    /// `{SCRAM-SHA-256}` in Dovecot's format: SCRAM-SHA-256(-PLUS) logins as well, at
    /// the price of PBKDF2 (4,096 iterations) instead of Argon2id for a stolen file.
    ScramSha256,
}

impl NewPasswordScheme {
    /// Parses the configuration's name, ignoring case.
    pub fn parse(name: &str) -> Option<NewPasswordScheme> {
        match name.to_ascii_uppercase().as_str() {
            "ARGON2ID" => Some(NewPasswordScheme::Argon2id),
            "SCRAM-SHA-256" => Some(NewPasswordScheme::ScramSha256),
            _ => None,
        }
    }
}

/// SCRAM-SHA-256 verifiers get this many PBKDF2 iterations (RFC 7677's minimum and
/// Dovecot's default, so files move between the two unchanged).
pub const SCRAM_ITERATIONS: u32 = 4096;

/// Hashes a new password in the configured scheme: [`hash_password`] for Argon2id,
/// [`hash_scram`] for SCRAM-SHA-256.
pub fn hash_new_password(
    password: &[u8],
    scheme: NewPasswordScheme,
    params: &HashParams,
) -> String {
    match scheme {
        NewPasswordScheme::Argon2id => hash_password(password, params),
        NewPasswordScheme::ScramSha256 => hash_scram(password, SCRAM_ITERATIONS),
    }
}

/// A SCRAM-SHA-256 verifier as Dovecot stores it:
/// `{SCRAM-SHA-256}ITERATIONS,SALT,STOREDKEY,SERVERKEY` (the last three base64).
pub fn hash_scram(password: &[u8], iterations: u32) -> String {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let (stored_key, server_key) = buzon_pop3_proto::sasl::scram_keys(password, &salt, iterations);
    let b64 = |b: &[u8]| buzon_pop3_proto::sasl::encode_base64(b);
    format!(
        "{{SCRAM-SHA-256}}{iterations},{},{},{}",
        b64(&salt),
        b64(&stored_key),
        b64(&server_key)
    )
}

/// What a SCRAM-SHA-256 login needs of a stored password.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramVerifier {
    /// PBKDF2 iterations.
    pub iterations: u32,
    /// The salt.
    pub salt: Vec<u8>,
    /// H(ClientKey).
    pub stored_key: [u8; 32],
    /// HMAC(SaltedPassword, "Server Key").
    pub server_key: [u8; 32],
}

impl std::fmt::Debug for ScramVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramVerifier")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// The SCRAM-SHA-256 verifier of a stored password, when it is one.
pub fn scram_verifier(stored: &str) -> Option<ScramVerifier> {
    match parse_stored(stored) {
        Ok((Scheme::ScramSha256, data)) => parse_scram(data).ok(),
        _ => None,
    }
}

fn parse_scram(data: &str) -> Result<ScramVerifier, AuthError> {
    let bad = |why: &str| AuthError::BadHash(format!("not a SCRAM-SHA-256 verifier ({why})"));
    let parts: Vec<&str> = data.split(',').collect();
    let [iterations, salt, stored_key, server_key] = parts.as_slice() else {
        return Err(bad("expected ITERATIONS,SALT,STOREDKEY,SERVERKEY"));
    };
    let iterations: u32 = iterations
        .parse()
        .map_err(|_| bad("the iteration count is not a number"))?;
    if iterations < SCRAM_ITERATIONS {
        return Err(bad("fewer than 4096 iterations, which RFC 7677 forbids"));
    }
    let decode = |t: &str| {
        buzon_pop3_proto::sasl::decode_base64(t.as_bytes())
            .map(|s| s.expose().to_vec())
            .map_err(|_| bad("a field is not base64"))
    };
    let key = |t: &str| -> Result<[u8; 32], AuthError> {
        decode(t)?
            .try_into()
            .map_err(|_| bad("a key is not 32 bytes"))
    };
    let salt = decode(salt)?;
    if salt.is_empty() {
        return Err(bad("empty salt"));
    }
    Ok(ScramVerifier {
        iterations,
        salt,
        stored_key: key(stored_key)?,
        server_key: key(server_key)?,
    })
}

/// The plaintext of a `{PLAIN}` or `{CLEARTEXT}` entry, which APOP
/// (RFC 1939 §7) needs as its shared secret. `None` for every other scheme.
pub fn plaintext_password(stored: &str) -> Option<Secret> {
    match parse_stored(stored) {
        Ok((Scheme::Plain, data)) => Some(Secret::new(data)),
        _ => None,
    }
}

/// True when `stored` should be replaced by a fresh [`hash_password`] result
/// at the next successful login: it is not Argon2id, it is malformed, or its
/// memory or time cost is below `params`. Informational only.
pub fn needs_rehash(stored: &str, params: &HashParams) -> bool {
    let Ok((Scheme::Argon2id, data)) = parse_stored(stored) else {
        return true;
    };
    let Ok(phc) = parse_argon2(Scheme::Argon2id, data) else {
        return true;
    };
    let Ok(have) = Params::try_from(&phc) else {
        return true;
    };
    phc.version != Some(Version::V0x13.into())
        || have.m_cost() < params.m_cost_kib
        || have.t_cost() < params.t_cost
}

/// The stored password an unknown user is checked against, so that a login for a
/// name that does not exist costs what a real one costs.
///
/// Made once, at start, with the configured parameters of the scheme new passwords get
/// (Argon2id with `auth.argon2_*`): a dummy with other parameters than the real hashes
/// would make unknown users answer faster or slower than known ones. The password it
/// hashes is random and forgotten, so nothing verifies against it.
#[derive(Clone)]
pub struct DummyHash {
    stored: String,
}

impl std::fmt::Debug for DummyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DummyHash").finish_non_exhaustive()
    }
}

impl DummyHash {
    /// A dummy hashed like [`hash_password`] with `params` hashes new passwords.
    pub fn new(params: &HashParams) -> DummyHash {
        let mut unguessable = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut unguessable);
        DummyHash {
            stored: hash_password(&unguessable, params),
        }
    }

    /// The stored form, `{ARGON2ID}$argon2id$v=19$m=…,t=…,p=…$salt$hash`.
    pub fn stored(&self) -> &str {
        &self.stored
    }

    /// Runs one full verification of `password` against the dummy and discards the
    /// result (always a mismatch). CPU-heavy: call it off the async runtime.
    pub fn verify(&self, password: &[u8]) {
        let ok = verify_password(&self.stored, password);
        std::hint::black_box(ok).ok();
    }
}

fn parse_argon2(scheme: Scheme, data: &str) -> Result<PasswordHash<'_>, AuthError> {
    let mut phc = PasswordHash::new(data)
        .map_err(|e| AuthError::BadHash(format!("not a valid Argon2 PHC string ({e})")))?;
    let want = match scheme {
        Scheme::Argon2i => Algorithm::Argon2i,
        _ => Algorithm::Argon2id,
    };
    let have = Algorithm::try_from(phc.algorithm)
        .map_err(|_| AuthError::BadHash(format!("unknown algorithm {:?}", phc.algorithm)))?;
    if have != want {
        return Err(AuthError::BadHash(format!(
            "the scheme says {want} but the hash is {have}"
        )));
    }
    // The PHC format defines a missing version as 0x10, the original Argon2.
    match phc.version {
        None => phc.version = Some(Version::V0x10.into()),
        Some(v) if Version::try_from(v).is_ok() => {}
        Some(v) => return Err(AuthError::BadHash(format!("unknown Argon2 version v={v}"))),
    }
    if phc.salt.is_none() || phc.hash.is_none() {
        return Err(AuthError::BadHash(
            "the Argon2 string lacks a salt or hash".into(),
        ));
    }
    let params = Params::try_from(&phc)
        .map_err(|e| AuthError::BadHash(format!("bad Argon2 parameters ({e})")))?;
    if params.m_cost() > MAX_M_COST_KIB {
        return Err(AuthError::BadHash(format!(
            "Argon2 memory cost {} KiB exceeds the {MAX_M_COST_KIB} KiB limit",
            params.m_cost()
        )));
    }
    Ok(phc)
}

fn verify_argon2(scheme: Scheme, data: &str, password: &[u8]) -> Result<bool, AuthError> {
    let phc = parse_argon2(scheme, data)?;
    let bad =
        |e: &dyn std::fmt::Display| AuthError::BadHash(format!("cannot verify Argon2 hash ({e})"));
    let algorithm = Algorithm::try_from(phc.algorithm).map_err(|e| bad(&e))?;
    let version = Version::try_from(phc.version.unwrap_or(0x10)).map_err(|e| bad(&e))?;
    let params = Params::try_from(&phc).map_err(|e| bad(&e))?;
    let (Some(salt), Some(expected)) = (phc.salt, phc.hash) else {
        return Err(bad(&"no salt or hash"));
    };
    let mut salt_buf = [0u8; 128];
    let salt = salt.decode_b64(&mut salt_buf).map_err(|e| bad(&e))?;
    let expected = expected.as_bytes();
    let mut computed = vec![0u8; expected.len()];
    let blocks = params.block_count();
    let argon = Argon2::new(algorithm, version, params);
    let mut scratch = scratch::take(blocks);
    let result =
        argon.hash_password_into_with_memory(password, salt, &mut computed, &mut scratch[..blocks]);
    scratch::give_back(scratch);
    result.map_err(|e| bad(&e))?;
    // Constant time: the comparison must not tell how many leading bytes matched.
    let diff = computed
        .iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    Ok(std::hint::black_box(diff) == 0)
}

/// Argon2 working memory, kept for reuse. Allocating (and freeing) the 19 MiB a
/// verification needs on whichever thread runs it leaves the allocator holding such
/// blocks on every thread that ever verified a password: gigabytes after a login burst.
/// A few buffers reused by all threads keep the memory at (concurrent verifications ×
/// memory cost).
mod scratch {
    use std::sync::Mutex;

    use argon2::Block;

    /// Buffers kept when idle; more are allocated (and freed) only under a burst.
    const KEEP: usize = 4;

    static POOL: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

    /// A buffer of at least `blocks` blocks.
    pub(super) fn take(blocks: usize) -> Vec<Block> {
        let found = POOL.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut v = found.unwrap_or_default();
        if v.len() < blocks {
            // Replaced, not grown: growing would copy the old contents first.
            v = vec![Block::default(); blocks];
        }
        v
    }

    pub(super) fn give_back(v: Vec<Block>) {
        let mut pool = POOL.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < KEEP {
            pool.push(v);
        }
    }
}

#[derive(Clone, Copy)]
enum ShaKind {
    Sha512,
    Sha256,
}

impl ShaKind {
    fn id(self) -> &'static str {
        match self {
            ShaKind::Sha512 => "$6$",
            ShaKind::Sha256 => "$5$",
        }
    }
    fn hash_len(self) -> usize {
        match self {
            ShaKind::Sha512 => 86,
            ShaKind::Sha256 => 43,
        }
    }
}

struct ShaCrypt<'a> {
    rounds: usize,
    salt: &'a str,
    hash: &'a str,
}

const CRYPT_ALPHABET: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Parses `$6$[rounds=N$]salt$hash` (Drepper's SHA-crypt specification).
fn parse_sha_crypt(data: &str, kind: ShaKind) -> Result<ShaCrypt<'_>, AuthError> {
    let bad = |what: &str| AuthError::BadHash(format!("SHA-crypt {}…: {what}", kind.id()));
    let rest = data
        .strip_prefix(kind.id())
        .ok_or_else(|| bad("the hash does not start with the scheme's identifier"))?;
    let mut parts: Vec<&str> = rest.split('$').collect();
    let mut rounds = sha_crypt::ROUNDS_DEFAULT;
    if let Some(r) = parts.first().and_then(|p| p.strip_prefix("rounds=")) {
        if r.is_empty() || !r.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("rounds= must be followed by a decimal number"));
        }
        rounds = r
            .parse()
            .ok()
            .filter(|n| (sha_crypt::ROUNDS_MIN..=sha_crypt::ROUNDS_MAX).contains(n))
            .ok_or_else(|| bad("rounds must be between 1000 and 999999999"))?;
        parts.remove(0);
    }
    let [salt, hash] = parts[..] else {
        return Err(bad("expected salt$hash after the identifier"));
    };
    if salt.len() > 16 {
        return Err(bad("the salt is longer than 16 characters"));
    }
    if hash.len() != kind.hash_len() || !hash.bytes().all(|b| CRYPT_ALPHABET.contains(&b)) {
        return Err(bad(&format!(
            "the hash must be {} characters of [./0-9A-Za-z]",
            kind.hash_len()
        )));
    }
    Ok(ShaCrypt { rounds, salt, hash })
}

fn verify_sha_crypt(data: &str, kind: ShaKind, password: &[u8]) -> Result<bool, AuthError> {
    let parsed = parse_sha_crypt(data, kind)?;
    let computed = match kind {
        ShaKind::Sha512 => sha_crypt::Sha512Params::new(parsed.rounds)
            .and_then(|p| sha_crypt::sha512_crypt_b64(password, parsed.salt.as_bytes(), &p)),
        ShaKind::Sha256 => sha_crypt::Sha256Params::new(parsed.rounds)
            .and_then(|p| sha_crypt::sha256_crypt_b64(password, parsed.salt.as_bytes(), &p)),
    }
    .map_err(|e| {
        AuthError::BadHash(match e {
            sha_crypt::CryptError::RoundsError => format!(
                "SHA-crypt rounds={} are outside {}..={}",
                parsed.rounds,
                sha_crypt::ROUNDS_MIN,
                sha_crypt::ROUNDS_MAX
            ),
            _ => "SHA-crypt computation failed".to_owned(),
        })
    })?;
    Ok(ct_eq(computed.as_bytes(), parsed.hash.as_bytes()))
}

/// Checks `$2y$NN$` + 22 salt + 31 hash characters. `$2x$` (the pre-2011
/// buggy variant) is refused: it cannot be verified faithfully.
fn check_bcrypt(data: &str) -> Result<(), AuthError> {
    let bad = |what: &str| AuthError::BadHash(format!("BLF-CRYPT: {what}"));
    let rest = ["$2y$", "$2b$", "$2a$"]
        .iter()
        .find_map(|p| data.strip_prefix(p))
        .ok_or_else(|| bad("the hash must start with $2y$, $2b$ or $2a$"))?;
    let (cost, tail) = rest
        .split_once('$')
        .ok_or_else(|| bad("expected $cost$ after the identifier"))?;
    let cost_ok = cost.len() == 2
        && cost.bytes().all(|b| b.is_ascii_digit())
        && cost.parse::<u32>().is_ok_and(|c| (4..=31).contains(&c));
    if !cost_ok {
        return Err(bad("the cost must be two digits between 04 and 31"));
    }
    if tail.len() != 53 || !tail.bytes().all(|b| CRYPT_ALPHABET.contains(&b)) {
        return Err(bad("salt and hash must be 53 characters of [./0-9A-Za-z]"));
    }
    Ok(())
}

fn verify_bcrypt(data: &str, password: &[u8]) -> Result<bool, AuthError> {
    check_bcrypt(data)?;
    bcrypt::verify(password, data)
        .map_err(|e| AuthError::BadHash(format!("BLF-CRYPT: cannot verify ({e})")))
}

/// Constant-time equality for equal-length inputs; unequal lengths return
/// false at once (lengths here are public: fixed digest or hash sizes).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let params = HashParams::fast_for_tests();
        let stored = hash_password(b"correct horse", &params);
        assert!(stored.starts_with("{ARGON2ID}$argon2id$v=19$m=256,t=1,p=1$"));
        assert_eq!(verify_password(&stored, b"correct horse").ok(), Some(true));
        assert_eq!(verify_password(&stored, b"correct hors").ok(), Some(false));
        // Fresh salt every time.
        assert_ne!(stored, hash_password(b"correct horse", &params));
    }

    #[test]
    fn clamps_and_validates_params() {
        let weird = HashParams {
            m_cost_kib: 0,
            t_cost: 0,
            p_cost: 0,
        };
        assert!(weird.validate().is_err());
        let stored = hash_password(b"x", &weird);
        assert!(stored.contains("m=8,t=1,p=1"), "{stored}");
        assert_eq!(verify_password(&stored, b"x").ok(), Some(true));
        assert!(HashParams::default().validate().is_ok());
        assert!(HashParams::fast_for_tests().validate().is_ok());
        let huge = HashParams {
            m_cost_kib: u32::MAX,
            ..HashParams::default()
        };
        let msg = huge
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(msg.contains("19456"), "{msg}");
    }

    /// RFC 7677 §3's user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, as
    /// Dovecot would store it.
    #[test]
    fn scram_verifiers_verify_plain_logins_and_give_the_rfc_keys() {
        let (stored, server) = buzon_pop3_proto::sasl::scram_keys(
            b"pencil",
            &buzon_pop3_proto::sasl::decode_base64(b"W22ZaJ0SNY7soEsUEjb6gQ==")
                .map(|s| s.expose().to_vec())
                .unwrap_or_default(),
            4096,
        );
        let b64 = |b: &[u8]| buzon_pop3_proto::sasl::encode_base64(b);
        let line = format!(
            "{{SCRAM-SHA-256}}4096,W22ZaJ0SNY7soEsUEjb6gQ==,{},{}",
            b64(&stored),
            b64(&server)
        );
        assert!(check_stored(&line).is_ok());
        assert_eq!(verify_password(&line, b"pencil").ok(), Some(true));
        assert_eq!(verify_password(&line, b"pencil!").ok(), Some(false));
        let v = scram_verifier(&line).map(|v| (v.iterations, v.salt.len()));
        assert_eq!(v, Some((4096, 16)));
        let fresh = hash_new_password(
            b"pw",
            NewPasswordScheme::ScramSha256,
            &HashParams::default(),
        );
        assert!(fresh.starts_with("{SCRAM-SHA-256}4096,"), "{fresh}");
        assert_eq!(verify_password(&fresh, b"pw").ok(), Some(true));
        assert!(scram_verifier("{ARGON2ID}x").is_none());
        for bad in [
            "{SCRAM-SHA-256}4096,AAAA",
            "{SCRAM-SHA-256}1000,W22ZaJ0SNY7soEsUEjb6gQ==,AAAA,AAAA",
            "{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,AAAA,AAAA",
            "{SCRAM-SHA-256}x,W22ZaJ0SNY7soEsUEjb6gQ==,AAAA,AAAA",
        ] {
            assert!(check_stored(bad).is_err(), "{bad}");
        }
        assert_eq!(
            NewPasswordScheme::parse("scram-sha-256"),
            Some(NewPasswordScheme::ScramSha256)
        );
    }

    #[test]
    fn scheme_detection() {
        let cases: &[(&str, Result<Scheme, &str>)] = &[
            ("{ARGON2ID}$argon2id$x", Ok(Scheme::Argon2id)),
            ("{argon2id}$argon2id$x", Ok(Scheme::Argon2id)),
            ("{Argon2I}$argon2i$x", Ok(Scheme::Argon2i)),
            ("{sha512-crypt}$6$x", Ok(Scheme::Sha512Crypt)),
            ("{SHA256-CRYPT}$5$x", Ok(Scheme::Sha256Crypt)),
            ("{blf-crypt}$2y$x", Ok(Scheme::BlfCrypt)),
            ("{PLAIN}x", Ok(Scheme::Plain)),
            ("{cleartext}x", Ok(Scheme::Plain)),
            ("{CRYPT}$6$x", Ok(Scheme::Sha512Crypt)),
            ("$6$x", Ok(Scheme::Sha512Crypt)),
            ("$5$x", Ok(Scheme::Sha256Crypt)),
            ("$2b$x", Ok(Scheme::BlfCrypt)),
            ("$argon2id$x", Ok(Scheme::Argon2id)),
            ("$argon2i$x", Ok(Scheme::Argon2i)),
            ("{MD5-CRYPT}$1$x", Err("MD5-CRYPT")),
            ("{SSHA}abc", Err("SSHA")),
            ("$1$abc$def", Err("CRYPT $1$")),
            ("abJnggxhB/yWI", Err("CRYPT")),
        ];
        for (stored, want) in cases {
            let got = parse_stored(stored).map(|(s, _)| s);
            match (got, want) {
                (Ok(g), Ok(w)) => assert_eq!(g, *w, "{stored}"),
                (Err(AuthError::UnknownScheme(n)), Err(w)) => assert_eq!(n, *w, "{stored}"),
                (g, w) => panic!("{stored}: got {g:?}, want {w:?}"),
            }
        }
        assert!(matches!(parse_stored(""), Err(AuthError::BadHash(_))));
        assert!(matches!(parse_stored("{PLAIN"), Err(AuthError::BadHash(_))));
    }

    #[test]
    fn ct_eq_basics() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
        assert!(ct_eq(b"", b""));
    }

    #[test]
    fn dummy_hash_is_well_formed_with_the_given_params() {
        for p in [HashParams::default(), HashParams::fast_for_tests()] {
            let dummy = DummyHash::new(&p);
            let data = dummy
                .stored()
                .strip_prefix("{ARGON2ID}")
                .unwrap_or_default();
            let phc = parse_argon2(Scheme::Argon2id, data);
            let params = phc.as_ref().ok().and_then(|p| Params::try_from(p).ok());
            let params = params.map(|p| (p.m_cost(), p.t_cost(), p.p_cost()));
            assert_eq!(params, Some((p.m_cost_kib, p.t_cost, p.p_cost)));
            assert!(!needs_rehash(dummy.stored(), &p));
        }
    }
}
