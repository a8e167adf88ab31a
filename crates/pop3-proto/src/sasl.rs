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
            "Invalid SCRAM message" => "sasl-scram-malformed",
            "Invalid OAUTHBEARER or XOAUTH2 message" => "sasl-bearer-malformed",
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

/// The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677), and of SCRAM-SHA-256-PLUS
/// with `tls-exporter` channel binding (RFC 9266).
#[derive(Debug)]
pub struct ScramClient {
    password: Secret,
    client_first_bare: String,
    cnonce: String,
    server_signature: Option<Vec<u8>>,
    /// The GS2 header (`n,,` or `p=tls-exporter,,`) and the channel binding data.
    gs2_header: String,
    binding: Vec<u8>,
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
            gs2_header: "n,,".into(),
            binding: Vec::new(),
        }
    }

    /// SCRAM-SHA-256-PLUS: binds the exchange to this TLS session with its
    /// `tls-exporter` data, so a relay that terminates TLS cannot pass the login on.
    pub fn with_channel_binding(
        user: &str,
        password: &[u8],
        cnonce: &str,
        exporter: &[u8],
    ) -> Self {
        let mut c = Self::new(user, password, cnonce);
        c.gs2_header = format!("p={TLS_EXPORTER},,");
        c.binding = exporter.to_vec();
        c
    }

    /// The client-first message (to be base64-encoded).
    pub fn client_first(&self) -> String {
        format!("{}{}", self.gs2_header, self.client_first_bare)
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
        let mut cbind = self.gs2_header.as_bytes().to_vec();
        cbind.extend_from_slice(&self.binding);
        let without_proof = format!("c={},r={nonce}", B64.encode(cbind));
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

/// The channel binding type of SCRAM-…-PLUS here (RFC 9266): 32 bytes exported from
/// the TLS session with the label `EXPORTER-Channel-Binding` and no context.
pub const TLS_EXPORTER: &str = "tls-exporter";
/// The exporter label of [`TLS_EXPORTER`].
pub const TLS_EXPORTER_LABEL: &[u8] = b"EXPORTER-Channel-Binding";

/// SCRAM-SHA-256's stored key and server key for a password (RFC 5802 §3): what a
/// server keeps instead of the password.
pub fn scram_keys(password: &[u8], salt: &[u8], iterations: u32) -> ([u8; 32], [u8; 32]) {
    let mut salted = [0u8; 32];
    // PBKDF2 with HMAC accepts any password and salt; the output length is fixed.
    let _ = pbkdf2::pbkdf2::<Hmac<Sha256>>(password, salt, iterations, &mut salted);
    let client_key = hmac_sha256(&salted, b"Client Key");
    let stored_key: [u8; 32] = Sha256::digest(client_key).into();
    (stored_key, hmac_sha256(&salted, b"Server Key"))
}

/// The server's check of a client proof (RFC 5802 §3): ClientKey = proof XOR
/// HMAC(StoredKey, AuthMessage) must hash to StoredKey. Constant time.
pub fn scram_proof_ok(stored_key: &[u8; 32], auth_message: &str, proof: &[u8]) -> bool {
    if proof.len() != 32 {
        return false;
    }
    let signature = hmac_sha256(stored_key, auth_message.as_bytes());
    let client_key: Vec<u8> = proof.iter().zip(signature).map(|(p, s)| p ^ s).collect();
    constant_time_eq(&Sha256::digest(&client_key), stored_key)
}

/// The server-final message `v=ServerSignature` (RFC 5802 §7).
pub fn scram_server_final(server_key: &[u8; 32], auth_message: &str) -> String {
    format!(
        "v={}",
        B64.encode(hmac_sha256(server_key, auth_message.as_bytes()))
    )
}

/// What the client said about channel binding in its GS2 header (RFC 5802 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScramBinding {
    /// `n`: the client does not support channel binding.
    NotSupported,
    /// `y`: the client supports it but thinks the server does not.
    ClientOnly,
    /// `p=TYPE`: the client uses channel binding of this type.
    Uses(String),
}

/// A client-first message as the server reads it (RFC 5802 §7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramClientFirst {
    /// The GS2 header exactly as sent (`n,,`, `y,,`, `p=tls-exporter,a=bob,`).
    pub gs2_header: String,
    pub binding: ScramBinding,
    /// The authorization identity, if any (`a=`).
    pub authzid: Option<String>,
    /// The user name (`n=`, with `=2C` and `=3D` decoded).
    pub user: String,
    /// The client's nonce (`r=`).
    pub nonce: String,
    /// client-first-message-bare, as it goes into the AuthMessage.
    pub bare: String,
}

/// A client-final message as the server reads it (RFC 5802 §7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramClientFinal {
    /// `c=` decoded: the GS2 header followed by the channel binding data, if any.
    pub binding_data: Vec<u8>,
    /// `r=`: must be the client's nonce followed by the server's.
    pub nonce: String,
    /// `p=` decoded.
    pub proof: Vec<u8>,
    /// client-final-message-without-proof, as it goes into the AuthMessage.
    pub without_proof: String,
}

const SCRAM_MALFORMED: &str = "Invalid SCRAM message";

/// RFC 5802 §5.1 `saslname`: `=2C` is ',', `=3D` is '='; any other '=' is an error.
fn scram_name(text: &str) -> Result<String, SaslError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest.get(i..i + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err(SaslError(SCRAM_MALFORMED)),
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Parses a client-first message (already base64-decoded).
pub fn parse_scram_client_first(msg: &[u8]) -> Result<ScramClientFirst, SaslError> {
    let text = std::str::from_utf8(msg).map_err(|_| SaslError(SCRAM_MALFORMED))?;
    let bad = || SaslError(SCRAM_MALFORMED);
    let (flag, rest) = text.split_once(',').ok_or_else(bad)?;
    let binding = match flag {
        "n" => ScramBinding::NotSupported,
        "y" => ScramBinding::ClientOnly,
        f => match f.strip_prefix("p=") {
            Some(t) if !t.is_empty() => ScramBinding::Uses(t.to_string()),
            _ => return Err(bad()),
        },
    };
    let (authz, bare) = rest.split_once(',').ok_or_else(bad)?;
    let authzid = match authz {
        "" => None,
        a => Some(scram_name(a.strip_prefix("a=").ok_or_else(bad)?)?),
    };
    let gs2_header = format!("{flag},{authz},");
    // RFC 5802 §7: a mandatory extension ("m=") the server does not know fails.
    if bare.starts_with("m=") {
        return Err(bad());
    }
    let mut attrs = bare.split(',');
    let user = scram_name(
        attrs
            .next()
            .and_then(|a| a.strip_prefix("n="))
            .ok_or_else(bad)?,
    )?;
    let nonce = attrs
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .ok_or_else(bad)?;
    if user.is_empty()
        || nonce.is_empty()
        || !nonce
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
    {
        return Err(bad());
    }
    Ok(ScramClientFirst {
        gs2_header,
        binding,
        authzid,
        user,
        nonce: nonce.to_string(),
        bare: bare.to_string(),
    })
}

/// Parses a client-final message (already base64-decoded).
pub fn parse_scram_client_final(msg: &[u8]) -> Result<ScramClientFinal, SaslError> {
    let text = std::str::from_utf8(msg).map_err(|_| SaslError(SCRAM_MALFORMED))?;
    let bad = || SaslError(SCRAM_MALFORMED);
    let (without_proof, proof) = text.rsplit_once(",p=").ok_or_else(bad)?;
    let mut attrs = without_proof.split(',');
    let c = attrs
        .next()
        .and_then(|a| a.strip_prefix("c="))
        .ok_or_else(bad)?;
    let r = attrs
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .ok_or_else(bad)?;
    Ok(ScramClientFinal {
        binding_data: B64.decode(c).map_err(|_| bad())?,
        nonce: r.to_string(),
        proof: B64.decode(proof).map_err(|_| bad())?,
        without_proof: without_proof.to_string(),
    })
}

const BEARER_MALFORMED: &str = "Invalid OAUTHBEARER or XOAUTH2 message";

/// A bearer token and the user it is for, from an OAUTHBEARER (RFC 7628 §3.1) or
/// XOAUTH2 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerCredentials {
    /// The user the client names (OAUTHBEARER's `a=`, XOAUTH2's `user=`), if any.
    pub user: Option<String>,
    pub token: Secret,
}

/// The value of `auth=Bearer TOKEN` among \x01-separated `key=value` pairs.
fn bearer_token<'a>(pairs: impl Iterator<Item = &'a str>) -> Result<Secret, SaslError> {
    for kv in pairs {
        if let Some(v) = kv.strip_prefix("auth=") {
            let (scheme, token) = v.split_once(' ').ok_or(SaslError(BEARER_MALFORMED))?;
            if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
                return Err(SaslError(BEARER_MALFORMED));
            }
            return Ok(Secret::new(token.trim()));
        }
    }
    Err(SaslError(BEARER_MALFORMED))
}

/// Parses an OAUTHBEARER client response (already base64-decoded):
/// `n,a=user,\x01host=…\x01port=…\x01auth=Bearer TOKEN\x01\x01` (RFC 7628 §3.1).
pub fn parse_oauthbearer(msg: &[u8]) -> Result<BearerCredentials, SaslError> {
    let text = std::str::from_utf8(msg).map_err(|_| SaslError(BEARER_MALFORMED))?;
    let body = text
        .strip_suffix("\x01\x01")
        .ok_or(SaslError(BEARER_MALFORMED))?;
    let (gs2, pairs) = body.split_once('\x01').ok_or(SaslError(BEARER_MALFORMED))?;
    let mut gs2 = gs2.splitn(3, ',');
    let flag = gs2.next().unwrap_or_default();
    // No channel binding in OAUTHBEARER: "p=" is an error (RFC 7628 §3.1).
    if flag != "n" && flag != "y" {
        return Err(SaslError(BEARER_MALFORMED));
    }
    let user = match gs2.next() {
        Some("") | None => None,
        Some(a) => Some(scram_name(
            a.strip_prefix("a=").ok_or(SaslError(BEARER_MALFORMED))?,
        )?),
    };
    Ok(BearerCredentials {
        user,
        token: bearer_token(pairs.split('\x01'))?,
    })
}

/// Parses an XOAUTH2 client response (already base64-decoded):
/// `user=USER\x01auth=Bearer TOKEN\x01\x01` (Google's and Microsoft's format).
pub fn parse_xoauth2(msg: &[u8]) -> Result<BearerCredentials, SaslError> {
    let text = std::str::from_utf8(msg).map_err(|_| SaslError(BEARER_MALFORMED))?;
    let body = text
        .strip_suffix("\x01\x01")
        .ok_or(SaslError(BEARER_MALFORMED))?;
    let mut parts = body.split('\x01');
    let user = parts
        .next()
        .and_then(|u| u.strip_prefix("user="))
        .filter(|u| !u.is_empty())
        .ok_or(SaslError(BEARER_MALFORMED))?;
    Ok(BearerCredentials {
        user: Some(user.to_string()),
        token: bearer_token(parts)?,
    })
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

    /// The server side of RFC 7677 §3's example: the stored keys from "pencil", the
    /// client's proof accepted, the server's signature as in the RFC.
    #[test]
    fn scram_server_side_of_the_rfc7677_example() {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap_or_default();
        let (stored, server) = scram_keys(b"pencil", &salt, 4096);
        let first = parse_scram_client_first(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first.user, "user");
        assert_eq!(first.gs2_header, "n,,");
        assert_eq!(first.binding, ScramBinding::NotSupported);
        let server_first =
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let fin = parse_scram_client_final(b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fin.binding_data, b"n,,");
        let auth_message = format!("{},{server_first},{}", first.bare, fin.without_proof);
        assert!(scram_proof_ok(&stored, &auth_message, &fin.proof));
        assert_eq!(
            scram_server_final(&server, &auth_message),
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
        // A wrong password's proof, or the right proof for another exchange: refused.
        let (other, _) = scram_keys(b"pencil2", &salt, 4096);
        assert!(!scram_proof_ok(&other, &auth_message, &fin.proof));
        assert!(!scram_proof_ok(
            &stored,
            &format!("{auth_message}x"),
            &fin.proof
        ));
        assert!(!scram_proof_ok(&stored, &auth_message, &fin.proof[..31]));
    }

    #[test]
    fn oauthbearer_and_xoauth2_messages() {
        // RFC 7628 §4.1's example.
        let m = parse_oauthbearer(
            b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.user.as_deref(), Some("user@example.com"));
        assert_eq!(
            m.token.expose(),
            b"vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="
        );
        let m =
            parse_oauthbearer(b"n,,\x01auth=Bearer abc\x01\x01").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.user, None);
        // Google's XOAUTH2 example.
        let m = parse_xoauth2(b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.user.as_deref(), Some("someuser@example.com"));
        for bad in [
            &b"n,,\x01auth=Bearer abc\x01"[..],
            b"p=tls-unique,,\x01auth=Bearer abc\x01\x01",
            b"n,,\x01auth=Basic abc\x01\x01",
            b"n,,\x01host=x\x01\x01",
            b"n,,\x01auth=Bearer \x01\x01",
        ] {
            assert!(parse_oauthbearer(bad).is_err(), "{bad:?}");
        }
        assert!(parse_xoauth2(b"auth=Bearer abc\x01\x01").is_err());
        assert!(parse_xoauth2(b"user=\x01auth=Bearer abc\x01\x01").is_err());
        let key = SaslError(BEARER_MALFORMED).message_key();
        assert!(key.is_some_and(|k| buzon_i18n::Lang::ALL.iter().all(|l| buzon_i18n::has(*l, k))));
    }

    #[test]
    fn scram_client_first_headers_and_names() {
        let f = parse_scram_client_first(b"p=tls-exporter,a=b=2Cob,n=al=3Dice,r=abc")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.binding, ScramBinding::Uses("tls-exporter".into()));
        assert_eq!(f.authzid.as_deref(), Some("b,ob"));
        assert_eq!(f.user, "al=ice");
        assert_eq!(f.gs2_header, "p=tls-exporter,a=b=2Cob,");
        assert_eq!(f.bare, "n=al=3Dice,r=abc");
        for bad in [
            &b"x,,n=u,r=a"[..],
            b"n,,n=u",
            b"n,,r=a,n=u",
            b"n,,m=ext,n=u,r=a",
            b"n,,n=u=41,r=a",
            b"n,,n=,r=a",
            b"p=,,n=u,r=a",
            b"n,b=x,n=u,r=a",
            b"\xff",
        ] {
            assert!(parse_scram_client_first(bad).is_err(), "{bad:?}");
        }
        assert!(parse_scram_client_final(b"c=biws,r=abc").is_err());
        let key = SaslError(SCRAM_MALFORMED).message_key();
        assert!(key.is_some_and(|k| buzon_i18n::Lang::ALL.iter().all(|l| buzon_i18n::has(*l, k))));
        assert!(parse_scram_client_final(b"r=abc,c=biws,p=AAAA").is_err());
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
