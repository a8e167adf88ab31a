//! SASL message handling for POP3 AUTH (RFC 5034): PLAIN (RFC 4616), LOGIN, the client
//! side of SCRAM-SHA-256 (RFC 5802/7677), and the APOP digest (RFC 1939 §7).
//!
//! Only message formats live here; which mechanism is allowed on which connection is the
//! session's decision, and checking a password is the auth crate's.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use md5::{Digest as _, Md5};
use sha2::Sha256;

use crate::types::Secret;

/// Base64 text in a SASL exchange was malformed or decoded to something unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslError(pub &'static str);

impl std::fmt::Display for SaslError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl SaslError {
    /// The catalog key of this error's text (the English catalog text is its `Display`).
    pub fn message_key(&self) -> Option<&'static str> {
        Some(match self.0 {
            "Invalid base64 data" => "sasl-bad-base64",
            "Invalid PLAIN message: expected authzid NUL authcid NUL password" => {
                "sasl-plain-shape"
            }
            "Invalid PLAIN message: NUL in password" => "sasl-plain-nul-password",
            "Invalid PLAIN message: user name is not UTF-8" => "sasl-plain-user-not-utf8",
            "Invalid PLAIN message: authzid is not UTF-8" => "sasl-plain-authzid-not-utf8",
            "Invalid PLAIN message: empty user name" => "sasl-plain-empty-user",
            _ => return None,
        })
    }
}

pub fn decode_base64(text: &[u8]) -> Result<Secret, SaslError> {
    B64.decode(text)
        .map(Secret::new)
        .map_err(|_| SaslError("Invalid base64 data"))
}

pub fn encode_base64(data: &[u8]) -> String {
    B64.encode(data)
}

/// Credentials carried by a PLAIN message (RFC 4616 §2): authzid NUL authcid NUL passwd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainCredentials {
    pub authzid: Option<String>,
    pub authcid: String,
    pub password: Secret,
}

/// Decodes a PLAIN message (already base64-decoded).
pub fn parse_plain(message: &[u8]) -> Result<PlainCredentials, SaslError> {
    let mut parts = message.splitn(3, |&b| b == 0);
    let (Some(authzid), Some(authcid), Some(password)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError(
            "Invalid PLAIN message: expected authzid NUL authcid NUL password",
        ));
    };
    if password.contains(&0) {
        return Err(SaslError("Invalid PLAIN message: NUL in password"));
    }
    let authcid = std::str::from_utf8(authcid)
        .map_err(|_| SaslError("Invalid PLAIN message: user name is not UTF-8"))?;
    let authzid = std::str::from_utf8(authzid)
        .map_err(|_| SaslError("Invalid PLAIN message: authzid is not UTF-8"))?;
    if authcid.is_empty() {
        return Err(SaslError("Invalid PLAIN message: empty user name"));
    }
    Ok(PlainCredentials {
        authzid: (!authzid.is_empty()).then(|| authzid.to_string()),
        authcid: authcid.to_string(),
        password: Secret::new(password),
    })
}

/// Builds a PLAIN message (not yet base64-encoded) for the client.
pub fn build_plain(user: &str, password: &[u8]) -> Secret {
    let mut v = Vec::with_capacity(user.len() + password.len() + 2);
    v.push(0);
    v.extend_from_slice(user.as_bytes());
    v.push(0);
    v.extend_from_slice(password);
    Secret::new(v)
}

/// LOGIN mechanism prompts, base64 of "Username:" and "Password:" as every server sends.
pub const LOGIN_USER_PROMPT: &str = "VXNlcm5hbWU6";
pub const LOGIN_PASS_PROMPT: &str = "UGFzc3dvcmQ6";

/// APOP digest (RFC 1939 §7): lower-case hex MD5 of the greeting timestamp followed by the
/// shared secret.
pub fn apop_digest(timestamp: &str, secret: &[u8]) -> String {
    let mut h = Md5::new();
    h.update(timestamp.as_bytes());
    h.update(secret);
    hex::encode(h.finalize())
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Extracts the `<...@...>` timestamp from a greeting, if the server offers APOP.
pub fn greeting_timestamp(greeting_text: &str) -> Option<&str> {
    let start = greeting_text.find('<')?;
    let end = start + greeting_text[start..].find('>')?;
    let ts = &greeting_text[start..=end];
    ts.contains('@').then_some(ts)
}

/// RFC 7677 §4: the smallest iteration count a SCRAM-SHA-256 client accepts.
pub const SCRAM_MIN_ITERATIONS: u32 = 4096;

/// The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677), without channel binding.
#[derive(Debug)]
pub struct ScramClient {
    password: Secret,
    client_first_bare: String,
    cnonce: String,
    server_signature: Option<Vec<u8>>,
}

impl ScramClient {
    /// `cnonce` must be fresh random printable text (the caller supplies it: no RNG here).
    pub fn new(user: &str, password: &[u8], cnonce: &str) -> Self {
        let user = user.replace('=', "=3D").replace(',', "=2C");
        Self {
            password: Secret::new(password),
            client_first_bare: format!("n={user},r={cnonce}"),
            cnonce: cnonce.to_string(),
            server_signature: None,
        }
    }

    /// The client-first message (to be base64-encoded).
    pub fn client_first(&self) -> String {
        format!("n,,{}", self.client_first_bare)
    }

    /// Consumes the server-first message and returns the client-final message.
    pub fn client_final(&mut self, server_first: &[u8]) -> Result<String, SaslError> {
        let sf = std::str::from_utf8(server_first)
            .map_err(|_| SaslError("SCRAM: server-first is not UTF-8"))?;
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for attr in sf.split(',') {
            match attr.split_once('=') {
                Some(("r", v)) => nonce = Some(v),
                Some(("s", v)) => {
                    salt = Some(B64.decode(v).map_err(|_| SaslError("SCRAM: bad salt"))?)
                }
                Some(("i", v)) => iterations = v.parse::<u32>().ok(),
                Some(("m", _)) => return Err(SaslError("SCRAM: unsupported mandatory extension")),
                _ => {}
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return Err(SaslError("SCRAM: server-first message incomplete"));
        };
        if !nonce.starts_with(&self.cnonce) || nonce.len() == self.cnonce.len() {
            return Err(SaslError("SCRAM: server nonce does not extend ours"));
        }
        // RFC 7677 §4: at least 4096. Fewer would let whoever sees the exchange guess the
        // password offline cheaply; more than 10 million is a denial of service.
        if iterations < SCRAM_MIN_ITERATIONS {
            return Err(SaslError("SCRAM: the server asks for fewer than 4096 iterations (RFC 7677 requires at least 4096), which would make the password easy to guess from the exchange; refusing — the server's SCRAM setup is weak or someone is tampering with the connection"));
        }
        if iterations > 10_000_000 {
            return Err(SaslError(
                "SCRAM: the server asks for more than 10 million iterations; refusing",
            ));
        }
        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2::<Hmac<Sha256>>(self.password.expose(), &salt, iterations, &mut salted)
            .map_err(|_| SaslError("SCRAM: key derivation failed"))?;
        let client_key = hmac_sha256(&salted, b"Client Key");
        let stored_key = Sha256::digest(client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{},{}", self.client_first_bare, sf, without_proof);
        let client_sig = hmac_sha256(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(client_sig.iter())
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = hmac_sha256(&salted, b"Server Key");
        self.server_signature = Some(hmac_sha256(&server_key, auth_message.as_bytes()).to_vec());
        Ok(format!("{without_proof},p={}", B64.encode(proof)))
    }

    /// Checks the server-final message: proves the server knew the password too.
    pub fn verify_server_final(&self, server_final: &[u8]) -> Result<(), SaslError> {
        let sf = std::str::from_utf8(server_final)
            .map_err(|_| SaslError("SCRAM: server-final is not UTF-8"))?;
        if sf.starts_with("e=") {
            return Err(SaslError("SCRAM: the server reported an error"));
        }
        let v = sf
            .strip_prefix("v=")
            .ok_or(SaslError("SCRAM: server-final has no verifier"))?;
        let got = B64
            .decode(v)
            .map_err(|_| SaslError("SCRAM: bad server signature"))?;
        match &self.server_signature {
            Some(want) if constant_time_eq(want, &got) => Ok(()),
            _ => Err(SaslError(
                "SCRAM: the server's signature is wrong (not the server we expect)",
            )),
        }
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0; 32],
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_sasl_error_has_a_catalog_key_in_both_languages() {
        // The errors a server session can answer with: those of the two functions it
        // calls (the SCRAM ones are the client's and never reach a POP3 reply).
        let src = include_str!("sasl.rs");
        let code: String = ["pub fn decode_base64", "pub fn parse_plain"]
            .iter()
            .map(|f| {
                let start = src.find(f).unwrap_or(0);
                let len = src[start..].find("\n}\n").unwrap_or(0);
                &src[start..start + len]
            })
            .collect();
        let mut n = 0;
        for piece in code.split("SaslError(").skip(1) {
            let piece = piece.trim_start();
            let Some(rest) = piece.strip_prefix('"') else {
                continue;
            };
            let text = &rest[..rest.find('"').unwrap_or(0)];
            let e = super::SaslError(Box::leak(text.to_string().into_boxed_str()));
            let key = e
                .message_key()
                .unwrap_or_else(|| panic!("no key for {text:?}"));
            for lang in buzon_i18n::Lang::ALL {
                assert!(buzon_i18n::has(lang, key), "{lang}: {key}");
            }
            assert_eq!(buzon_i18n::text(buzon_i18n::Lang::En, key, &[]), text);
            n += 1;
        }
        assert!(n >= 6, "found only {n} SASL errors");
    }

    use super::*;

    #[test]
    fn rfc1939_apop_example() {
        // RFC 1939 §7: shared secret "tanstaaf".
        assert_eq!(
            apop_digest("<1896.697170952@dbc.mtview.ca.us>", b"tanstaaf"),
            "c4c9334bac560ecc979e58001b3e22fb"
        );
        assert_eq!(
            greeting_timestamp("POP3 server ready <1896.697170952@dbc.mtview.ca.us>"),
            Some("<1896.697170952@dbc.mtview.ca.us>")
        );
        assert_eq!(greeting_timestamp("Dovecot ready."), None);
    }

    #[test]
    fn plain_messages() {
        let m = parse_plain(b"\0tim\0tanstaaftanstaaf").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.authcid, "tim");
        assert_eq!(m.authzid, None);
        assert_eq!(m.password.expose(), b"tanstaaftanstaaf");
        let m = parse_plain(b"Ursel\0Kurt\0xipj3plmq").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.authzid.as_deref(), Some("Ursel"));
        assert!(parse_plain(b"nonul").is_err());
        assert!(parse_plain(b"\0\0pw").is_err());
        assert_eq!(
            parse_plain(build_plain("u", b"p w").expose()).map(|c| c.authcid),
            Ok("u".into())
        );
        // RFC 5034 §6 example: "AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=" is test/test/test.
        let d = decode_base64(b"dGVzdAB0ZXN0AHRlc3Q=").unwrap_or_else(|e| panic!("{e}"));
        let c = parse_plain(d.expose()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (
                c.authzid.as_deref(),
                c.authcid.as_str(),
                c.password.expose()
            ),
            (Some("test"), "test", &b"test"[..])
        );
        assert!(decode_base64(b"!!!").is_err());
    }

    #[test]
    fn scram_sha256_rfc7677_example() {
        // RFC 7677 §3: user "user", password "pencil".
        let mut c = ScramClient::new("user", b"pencil", "rOprNGfwEbeRWgbNEkqO");
        assert_eq!(c.client_first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let fin = c
            .client_final(b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            fin,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert_eq!(
            c.verify_server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
            Ok(())
        );
        assert!(c.verify_server_final(b"v=AAAA").is_err());
        let mut c2 = ScramClient::new("user", b"pencil", "abc");
        assert!(c2.client_final(b"r=xyz,s=AAAA,i=4096").is_err());
    }

    #[test]
    fn scram_iteration_counts_below_4096_are_refused() {
        // RFC 7677 §4: at least 4096 iterations. A server (or a man in the middle)
        // asking for fewer makes the proof cheap to attack offline.
        for i in [1u32, 2, 1000, 4095] {
            let mut c = ScramClient::new("user", b"pencil", "abc");
            let e = c
                .client_final(format!("r=abcdef,s=AAAA,i={i}").as_bytes())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains("4096") && e.contains("iteration"), "{i}: {e}");
        }
        let mut c = ScramClient::new("user", b"pencil", "abc");
        assert!(c.client_final(b"r=abcdef,s=AAAA,i=4096").is_ok());
    }
}
