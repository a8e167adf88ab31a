//! OAuth 2.0 bearer tokens for OAUTHBEARER (RFC 7628) and XOAUTH2: checked as JWTs
//! against the issuer's signing keys (JWKS, fetched over HTTPS and cached; an unknown key
//! id fetches them again, at most every [`REFETCH_PAUSE`], so a rotated key works at
//! once), or by asking the issuer (token introspection, RFC 7662). The issuer, an
//! audience, the expiry and not-before are checked; the user is the configured claim.
//!
//! The answer is three-way: a valid token names a user; an invalid one is a login failure
//! (answered with RFC 7628's JSON challenge, then `-ERR [AUTH]`); an issuer that cannot be
//! reached is a temporary failure (`-ERR [SYS/TEMP]`), never "wrong token".

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};

use crate::config::OAuthPolicy;

/// The longest a token may be: JWTs of real issuers are 1–4 KiB; a bigger one is refused
/// unread.
pub const MAX_TOKEN: usize = 16 * 1024;
/// One request to the issuer (connect, TLS, answer) must be done within this.
const HTTP_DEADLINE: Duration = Duration::from_secs(5);
/// The most an answer from the issuer may hold.
const MAX_ANSWER: usize = 1024 * 1024;
/// Signing keys are fetched again after this long.
const JWKS_TTL: Duration = Duration::from_secs(600);
/// A token naming an unknown key fetches the keys again, but not more often than this.
const REFETCH_PAUSE: Duration = Duration::from_secs(10);

/// What a token check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenCheck {
    /// The user the token names (the configured claim).
    Valid(String),
    /// Not a token for this server, for the log (never shown to the client).
    Invalid(String),
    /// The issuer could not be asked; for the log.
    Unavailable(String),
}

struct Keys {
    set: Arc<JwkSet>,
    fetched: Instant,
}

/// The checker of one issuer's tokens.
pub struct OAuth {
    policy: OAuthPolicy,
    tls: tokio_rustls::TlsConnector,
    keys: tokio::sync::Mutex<Option<Keys>>,
    /// The JWKS URL found in the discovery document.
    jwks_url: Mutex<Option<String>>,
}

impl std::fmt::Debug for OAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth")
            .field("issuer", &self.policy.issuer)
            .finish_non_exhaustive()
    }
}

impl OAuth {
    /// Builds the checker; fails when the CA file cannot be read (a one-line message).
    pub fn new(policy: OAuthPolicy) -> Result<OAuth, String> {
        use rustls_pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        match &policy.ca_file {
            Some(path) => {
                let certs = rustls_pki_types::CertificateDer::pem_file_iter(path)
                    .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| {
                        buzon_i18n::t!(
                            "oauth-ca-unreadable",
                            path = path.display().to_string(),
                            reason = e.to_string()
                        )
                    })?;
                roots.add_parsable_certificates(certs);
            }
            None => {
                roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            }
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(OAuth {
            jwks_url: Mutex::new(policy.jwks_url.clone()),
            policy,
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            keys: tokio::sync::Mutex::new(None),
        })
    }

    /// RFC 7628 §3.2.2's error challenge (also what Gmail sends for XOAUTH2).
    pub fn challenge(&self) -> String {
        // In RFC 7628 §3.2.2's order (serde_json's map would sort the keys).
        format!(
            r#"{{"status":"invalid_token","schemes":"bearer","scope":{}}}"#,
            serde_json::Value::String(self.policy.scope.clone())
        )
    }

    /// Checks a token.
    pub async fn check(&self, token: &str) -> TokenCheck {
        if token.is_empty() || token.len() > MAX_TOKEN {
            return TokenCheck::Invalid(format!("a token of {} bytes", token.len()));
        }
        match &self.policy.introspection {
            Some(_) => self.introspect(token).await,
            None => self.check_jwt(token).await,
        }
    }

    async fn check_jwt(&self, token: &str) -> TokenCheck {
        let header = match jsonwebtoken::decode_header(token) {
            Ok(h) => h,
            Err(e) => return TokenCheck::Invalid(format!("not a JWT: {e}")),
        };
        let keys = match self.keys(header.kid.as_deref()).await {
            Ok(k) => k,
            Err(why) => return TokenCheck::Unavailable(why),
        };
        let jwk = match &header.kid {
            Some(kid) => keys.find(kid),
            // Without a key id, an issuer with one key: that one.
            None if keys.keys.len() == 1 => keys.keys.first(),
            None => None,
        };
        let Some(jwk) = jwk else {
            return TokenCheck::Invalid(format!(
                "signed with a key the issuer does not publish (kid {:?})",
                header.kid
            ));
        };
        let key = match DecodingKey::from_jwk(jwk) {
            Ok(k) => k,
            Err(e) => return TokenCheck::Invalid(format!("the issuer's key is unusable: {e}")),
        };
        // The algorithm comes from the key, never from the token alone ("alg": "none",
        // or an HMAC with the public key as secret, are refused).
        let alg = match jwk.common.key_algorithm {
            Some(a) => match a.to_string().parse::<jsonwebtoken::Algorithm>() {
                Ok(alg) => alg,
                Err(_) => return TokenCheck::Invalid(format!("key algorithm {a} unsupported")),
            },
            None => header.alg,
        };
        if header.alg != alg
            || matches!(
                alg,
                jsonwebtoken::Algorithm::HS256
                    | jsonwebtoken::Algorithm::HS384
                    | jsonwebtoken::Algorithm::HS512
            )
        {
            return TokenCheck::Invalid(format!(
                "algorithm {:?} not allowed for this key",
                header.alg
            ));
        }
        let mut v = Validation::new(alg);
        v.set_issuer(&[&self.policy.issuer]);
        v.set_audience(&self.policy.audience);
        v.validate_nbf = true;
        v.leeway = self.policy.clock_skew.as_secs();
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        match jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, &key, &v) {
            Ok(data) => self.user_of(&data.claims),
            Err(e) => TokenCheck::Invalid(format!("{e}")),
        }
    }

    fn user_of(&self, claims: &serde_json::Map<String, serde_json::Value>) -> TokenCheck {
        match claims.get(&self.policy.user_claim).and_then(|v| v.as_str()) {
            Some(u) if !u.is_empty() => TokenCheck::Valid(u.to_string()),
            _ => TokenCheck::Invalid(format!(
                "no {} claim to name the user",
                self.policy.user_claim
            )),
        }
    }

    /// The issuer's keys: cached; fetched again when old, or (at most every
    /// [`REFETCH_PAUSE`]) when a token names a key id that is not among them.
    async fn keys(&self, kid: Option<&str>) -> Result<Arc<JwkSet>, String> {
        let mut cache = self.keys.lock().await;
        if let Some(k) = cache.as_ref() {
            let fresh = k.fetched.elapsed() < JWKS_TTL;
            let known = kid.is_none_or(|kid| k.set.find(kid).is_some());
            if fresh && (known || k.fetched.elapsed() < REFETCH_PAUSE) {
                return Ok(Arc::clone(&k.set));
            }
        }
        let url = self.jwks_url().await?;
        let (status, body) = self.http("GET", &url, None).await?;
        if status != 200 {
            return Err(format!("{url} answered HTTP {status}"));
        }
        let set: JwkSet =
            serde_json::from_slice(&body).map_err(|e| format!("{url} is not a JWK set: {e}"))?;
        let set = Arc::new(set);
        *cache = Some(Keys {
            set: Arc::clone(&set),
            fetched: Instant::now(),
        });
        Ok(set)
    }

    /// The configured JWKS URL, or the one the issuer's discovery document names.
    async fn jwks_url(&self) -> Result<String, String> {
        if let Some(u) = self
            .jwks_url
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            return Ok(u);
        }
        let discovery = format!(
            "{}/.well-known/openid-configuration",
            self.policy.issuer.trim_end_matches('/')
        );
        let (status, body) = self.http("GET", &discovery, None).await?;
        if status != 200 {
            return Err(format!("{discovery} answered HTTP {status}"));
        }
        let doc: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| format!("{discovery} is not JSON: {e}"))?;
        let url = doc
            .get("jwks_uri")
            .and_then(|v| v.as_str())
            .ok_or_else(|| format!("{discovery} names no jwks_uri"))?
            .to_string();
        if !url.starts_with("https://") {
            return Err(format!(
                "{discovery} names a jwks_uri that is not https: {url}"
            ));
        }
        *self.jwks_url.lock().unwrap_or_else(|p| p.into_inner()) = Some(url.clone());
        Ok(url)
    }

    /// RFC 7662: the issuer says whether the token is active, and for whom.
    async fn introspect(&self, token: &str) -> TokenCheck {
        let Some(i) = &self.policy.introspection else {
            return TokenCheck::Unavailable("no introspection endpoint".into());
        };
        let form = format!(
            "token={}&token_type_hint=access_token",
            url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
        );
        let (status, body) = match self.http("POST", &i.url, Some(form)).await {
            Ok(r) => r,
            Err(why) => return TokenCheck::Unavailable(why),
        };
        if status != 200 {
            return TokenCheck::Unavailable(format!("{} answered HTTP {status}", i.url));
        }
        let claims: serde_json::Map<String, serde_json::Value> = match serde_json::from_slice(&body)
        {
            Ok(c) => c,
            Err(e) => return TokenCheck::Unavailable(format!("{} is not JSON: {e}", i.url)),
        };
        if claims.get("active") != Some(&serde_json::Value::Bool(true)) {
            return TokenCheck::Invalid("inactive (expired, revoked or unknown)".into());
        }
        if let Some(iss) = claims.get("iss").and_then(|v| v.as_str()) {
            if iss != self.policy.issuer {
                return TokenCheck::Invalid(format!("issued by {iss}"));
            }
        }
        let aud_ok = match claims.get("aud") {
            Some(serde_json::Value::String(a)) => self.policy.audience.contains(a),
            Some(serde_json::Value::Array(l)) => l
                .iter()
                .filter_map(|v| v.as_str())
                .any(|a| self.policy.audience.iter().any(|w| w == a)),
            _ => false,
        };
        if !aud_ok {
            return TokenCheck::Invalid("not for this audience".into());
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let num = |k: &str| claims.get(k).and_then(|v| v.as_u64());
        let skew = self.policy.clock_skew.as_secs();
        if num("exp").is_some_and(|exp| exp + skew < now)
            || num("nbf").is_some_and(|nbf| nbf > now + skew)
        {
            return TokenCheck::Invalid("expired or not yet valid".into());
        }
        self.user_of(&claims)
    }

    /// One HTTPS request to the issuer: GET, or POST of a form with the introspection
    /// client's Basic credentials; (status, body) within [`HTTP_DEADLINE`].
    async fn http(
        &self,
        method: &str,
        url: &str,
        form: Option<String>,
    ) -> Result<(u16, Vec<u8>), String> {
        let u = url::Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
        let host = u
            .host_str()
            .ok_or_else(|| format!("{url}: no host"))?
            .to_string();
        let port = u.port_or_known_default().unwrap_or(443);
        let target = match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        };
        let exchange = async {
            let tcp = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port))
                .await
                .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
            let name =
                rustls_pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_string())
                    .map_err(|e| format!("{host}: {e}"))?;
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS with {host}:{port} failed: {e}"))?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|e| format!("{url}: {e}"))?;
            tokio::spawn(conn);
            let mut req = hyper::Request::builder()
                .method(method)
                .uri(target)
                .header(hyper::header::HOST, u.authority())
                .header(hyper::header::ACCEPT, "application/json");
            if form.is_some() {
                req = req.header(
                    hyper::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                );
            }
            if let Some(i) = &self.policy.introspection {
                if method == "POST" {
                    let enc = |s: &str| {
                        url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                    };
                    let basic = buzon_pop3_proto::sasl::encode_base64(
                        format!("{}:{}", enc(&i.client_id), enc(&i.client_secret)).as_bytes(),
                    );
                    req = req.header(hyper::header::AUTHORIZATION, format!("Basic {basic}"));
                }
            }
            let req = req
                .body(Full::new(Bytes::from(form.unwrap_or_default())))
                .map_err(|e| format!("{url}: {e}"))?;
            let resp = sender
                .send_request(req)
                .await
                .map_err(|e| format!("{url}: {e}"))?;
            let status = resp.status().as_u16();
            let body = Limited::new(resp.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| format!("{url}: {e}"))?
                .to_bytes()
                .to_vec();
            Ok((status, body))
        };
        tokio::time::timeout(HTTP_DEADLINE, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "{url} did not answer within {} s",
                    HTTP_DEADLINE.as_secs()
                ))
            })
    }
}
