//! JWT minting and checking: the only code that uses the signing keys (see `keys`).

use super::keys::KeyRing;
use crate::api::ApiError;
use jsonwebtoken::{Header, Validation};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, RwLock};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

/// The claims of both token types. Refresh tokens carry no `username`: they are only ever
/// read by this server, which looks the user up anyway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub token_type: TokenType,
    pub exp: u64,
    pub iat: u64,
    pub jti: String,
    pub user_id: String,
    /// The session (refresh-token family) the token belongs to.
    pub sid: String,
    /// Who issued it and for whom (RFC 8725 §3.10): both checked on every decode.
    pub iss: String,
    pub aud: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// A new random token or session id (128 bits).
pub fn new_jti() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[derive(Clone, Debug)]
pub struct TokenSettings {
    pub access_lifetime: Duration,
    pub refresh_lifetime: Duration,
    /// Clock skew tolerated on `exp`. Zero by default: jsonwebtoken's own default of 60 s
    /// would silently stretch every lifetime.
    pub leeway: Duration,
    /// `iss` and `aud` of every token issued, and required of every token accepted.
    pub issuer: String,
    pub audience: String,
}

pub struct Tokens {
    ring: RwLock<Arc<KeyRing>>,
    /// Tokens whose signature and claims were already checked, by their exact text. A
    /// client presents the same access token for minutes; checking an Ed25519 signature
    /// costs more than the rest of a cheap request. Only expiry is checked again on a hit,
    /// and the whole memory is dropped whenever the keys change.
    verified: quick_cache::sync::Cache<String, Claims>,
    validation: Validation,
    settings: TokenSettings,
}

impl Tokens {
    pub fn new(ring: KeyRing, settings: TokenSettings) -> Self {
        // Only the configured algorithm is accepted: `alg: none` and algorithm switching
        // fail here, and only keys of that algorithm are in the ring.
        let mut validation = Validation::new(ring.alg().jwt());
        validation.leeway = settings.leeway.as_secs();
        validation.validate_exp = true;
        // `nbf` is checked when present (RFC 7519 §4.1.5), with the same leeway as `exp`.
        validation.validate_nbf = true;
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[settings.audience.clone(), refresh_audience(&settings.audience)]);
        validation.set_required_spec_claims(&["exp", "iat", "jti", "iss", "aud"]);
        Self {
            ring: RwLock::new(Arc::new(ring)),
            verified: quick_cache::sync::Cache::new(10_000),
            validation,
            settings,
        }
    }

    /// Swaps in a new key ring (after a rotation, or a reload from the database).
    pub fn replace_keys(&self, ring: KeyRing) {
        *self.ring.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(ring);
        self.verified.clear();
    }

    pub fn keys(&self) -> Arc<KeyRing> {
        self.ring.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// A fresh access token's claims. Access tokens are never stored: they are checked by
    /// signature, expiry and their session being live.
    pub fn access_claims(&self, user_id: &str, username: &str, sid: &str, now: u64) -> Claims {
        Claims {
            token_type: TokenType::Access,
            exp: now + self.settings.access_lifetime.as_secs(),
            iat: now,
            jti: new_jti(),
            user_id: user_id.to_owned(),
            sid: sid.to_owned(),
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            username: Some(username.to_owned()),
        }
    }

    /// A refresh token's claims. Refresh tokens are stored (see `store`), and these come from
    /// the stored row, so signing them again gives the very same token.
    pub fn refresh_claims(&self, user_id: &str, sid: &str, jti: &str, iat: u64, exp: u64) -> Claims {
        Claims {
            token_type: TokenType::Refresh,
            exp,
            iat,
            jti: jti.to_owned(),
            user_id: user_id.to_owned(),
            sid: sid.to_owned(),
            iss: self.settings.issuer.clone(),
            aud: refresh_audience(&self.settings.audience),
            username: None,
        }
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, ApiError> {
        let ring = self.keys();
        let (kid, key) = ring.signing();
        let mut header = Header::new(ring.alg().jwt());
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, key)
            .map_err(|e| super::internal_error("signing a token failed", e))
    }

    /// Checks signature, algorithm, expiry and type. Every failure looks the same to the
    /// caller: which check failed is nobody's business but the log's.
    pub fn decode(&self, token: &str, expected: TokenType) -> Result<Claims, ApiError> {
        let claims = self.decode_any(token)?;
        if claims.token_type != expected {
            tracing::debug!(?expected, "token of the wrong type");
            return Err(ApiError::token_not_valid());
        }
        Ok(claims)
    }

    /// True when the token names a key id that isn't in the ring (yet).
    pub fn has_unknown_kid(&self, token: &str) -> bool {
        jsonwebtoken::decode_header(token)
            .ok()
            .and_then(|header| header.kid)
            .is_some_and(|kid| self.keys().verifying(&kid).is_none())
    }

    /// Only this server's own key is ever used: a `kid` it didn't issue is refused, and
    /// `jku`, `x5u` and `jwk` headers are never followed (RFC 8725 §3.10).
    pub fn decode_any(&self, token: &str) -> Result<Claims, ApiError> {
        if let Some(claims) = self.verified.get(token) {
            // The same rule as jsonwebtoken's: expired once `exp` is more than the leeway ago.
            if claims.exp + self.settings.leeway.as_secs() >= super::now() {
                return Ok(claims);
            }
            self.verified.remove(token);
            return Err(ApiError::token_not_valid());
        }
        let claims = self.verify_signature_and_claims(token)?;
        self.verified.insert(token.to_owned(), claims.clone());
        Ok(claims)
    }

    fn verify_signature_and_claims(&self, token: &str) -> Result<Claims, ApiError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| ApiError::token_not_valid())?;
        let ring = self.keys();
        let Some(key) = header.kid.as_deref().and_then(|kid| ring.verifying(kid)) else {
            tracing::debug!("token refused: not one of our key ids");
            return Err(ApiError::token_not_valid());
        };
        let claims = jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| {
                tracing::debug!(reason = ?e.kind(), "token refused");
                ApiError::token_not_valid()
            })?;
        let audience = match claims.token_type {
            TokenType::Access => self.settings.audience.clone(),
            TokenType::Refresh => refresh_audience(&self.settings.audience),
        };
        if claims.aud != audience {
            tracing::debug!("token refused: audience does not match its type");
            return Err(ApiError::token_not_valid());
        }
        Ok(claims)
    }
}

/// Refresh tokens are meant for this server alone: their own audience means a service that
/// verifies access tokens against the published keys and checks `aud` (as it must) can
/// never be handed a day-long refresh token as a bearer token.
fn refresh_audience(audience: &str) -> String {
    format!("{audience}/refresh")
}

#[cfg(test)]
mod tests {
    use super::super::keys::{KeyAlgorithm, KeyMaterial};
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use jsonwebtoken::{Algorithm, EncodingKey};

    fn tokens_with(alg: KeyAlgorithm, access_secs: u64) -> Tokens {
        let key = KeyMaterial::generate(alg, 0).unwrap();
        Tokens::new(
            KeyRing::new(alg, &[key], 0, 0).unwrap(),
            TokenSettings {
                access_lifetime: Duration::from_secs(access_secs),
                refresh_lifetime: Duration::from_secs(86_400),
                leeway: Duration::ZERO,
                issuer: "test-issuer".into(),
                audience: "test-audience".into(),
            },
        )
    }

    fn tokens(access_secs: u64) -> Tokens {
        tokens_with(KeyAlgorithm::EdDSA, access_secs)
    }

    fn now() -> u64 {
        super::super::now()
    }

    #[test]
    fn access_token_round_trips_with_its_claims() {
        let t = tokens(300);
        let claims = t.access_claims("u1", "user1", "s1", now());
        let token = t.sign(&claims).unwrap();
        let back = t.decode(&token, TokenType::Access).unwrap();
        assert_eq!(back, claims);
        assert_eq!(back.exp - back.iat, 300);
        assert_eq!(back.username.as_deref(), Some("user1"));
    }

    fn refresh_claims(t: &Tokens, now: u64) -> Claims {
        t.refresh_claims("u1", "s1", &new_jti(), now, now + 86_400)
    }

    #[test]
    fn every_token_gets_its_own_jti() {
        let t = tokens(300);
        let a = t.access_claims("u1", "user1", "s1", now());
        let b = t.access_claims("u1", "user1", "s1", now());
        assert_ne!(a.jti, b.jti);
    }

    #[test]
    fn the_same_refresh_claims_sign_to_the_same_token() {
        let t = tokens(300);
        let claims = refresh_claims(&t, now());
        assert_eq!(t.sign(&claims).unwrap(), t.sign(&claims.clone()).unwrap());
    }

    #[test]
    fn refresh_tokens_carry_their_own_audience_and_it_must_match_the_type() {
        let t = tokens(300);
        let refresh = refresh_claims(&t, now());
        assert_eq!(refresh.aud, "test-audience/refresh");
        let mut confused = refresh.clone();
        confused.aud = "test-audience".into();
        assert!(t.decode(&t.sign(&confused).unwrap(), TokenType::Refresh).is_err());
        let mut access = t.access_claims("u1", "user1", "s1", now());
        access.aud = "test-audience/refresh".into();
        assert!(t.decode(&t.sign(&access).unwrap(), TokenType::Access).is_err());
    }

    #[test]
    fn wrong_type_is_refused() {
        let t = tokens(300);
        let refresh = t.sign(&refresh_claims(&t, now())).unwrap();
        assert!(t.decode(&refresh, TokenType::Access).is_err());
        let access = t.sign(&t.access_claims("u1", "user1", "s1", now())).unwrap();
        assert!(t.decode(&access, TokenType::Refresh).is_err());
    }

    #[test]
    fn expired_token_is_refused_with_zero_leeway() {
        let t = tokens(300);
        let mut claims = t.access_claims("u1", "user1", "s1", now());
        claims.exp = now() - 1;
        let token = t.sign(&claims).unwrap();
        assert_eq!(t.decode(&token, TokenType::Access), Err(ApiError::token_not_valid()));
    }

    #[test]
    fn a_remembered_token_still_expires_and_is_forgotten_when_the_keys_change() {
        let t = tokens(300);
        let mut claims = t.access_claims("u1", "user1", "s1", now());
        claims.exp = now() + 1;
        let token = t.sign(&claims).unwrap();
        assert!(t.decode(&token, TokenType::Access).is_ok());
        assert!(t.decode(&token, TokenType::Access).is_ok(), "from memory");
        std::thread::sleep(Duration::from_millis(2100));
        assert_eq!(t.decode(&token, TokenType::Access), Err(ApiError::token_not_valid()));

        let token = t.sign(&t.access_claims("u1", "user1", "s1", now())).unwrap();
        assert!(t.decode(&token, TokenType::Access).is_ok());
        let other = KeyMaterial::generate(KeyAlgorithm::EdDSA, 0).unwrap();
        t.replace_keys(KeyRing::new(KeyAlgorithm::EdDSA, &[other], 0, 0).unwrap());
        assert!(t.decode(&token, TokenType::Access).is_err(), "a retired key's tokens are not remembered");
    }

    #[test]
    fn token_signed_with_another_key_is_refused() {
        let (a, b) = (tokens(300), tokens(300));
        let token = a.sign(&a.access_claims("u1", "user1", "s1", now())).unwrap();
        assert!(b.decode(&token, TokenType::Access).is_err());
    }

    #[test]
    fn tampered_payload_is_refused() {
        let t = tokens(300);
        let token = t.sign(&t.access_claims("u1", "user1", "s1", now())).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let mut payload: serde_json::Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
        payload["user_id"] = "u2".into();
        let forged =
            format!("{}.{}.{}", parts[0], B64.encode(serde_json::to_vec(&payload).unwrap()), parts[2]);
        assert!(t.decode(&forged, TokenType::Access).is_err());
    }

    #[test]
    fn alg_none_is_refused() {
        let t = tokens(300);
        let claims = t.access_claims("u1", "user1", "s1", now());
        let header = B64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = B64.encode(serde_json::to_vec(&claims).unwrap());
        assert!(t.decode(&format!("{header}.{body}."), TokenType::Access).is_err());
    }

    #[test]
    fn foreign_issuer_audience_or_key_id_is_refused() {
        let t = tokens(300);
        for tamper in ["iss", "aud"] {
            let mut claims = t.access_claims("u1", "user1", "s1", now());
            if tamper == "iss" {
                claims.iss = "someone-else".into();
            } else {
                claims.aud = "another-service".into();
            }
            assert!(t.decode(&t.sign(&claims).unwrap(), TokenType::Access).is_err(), "{tamper}");
        }
        let claims = t.access_claims("u1", "user1", "s1", now());
        let ring = t.keys();
        let (kid, key) = ring.signing();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("not-our-key".into());
        let token = jsonwebtoken::encode(&header, &claims, key).unwrap();
        assert!(t.decode(&token, TokenType::Access).is_err(), "right key, wrong kid");
        let token = jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, key).unwrap();
        assert!(t.decode(&token, TokenType::Access).is_err(), "no kid at all");
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.to_owned());
        let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&[1; 32])).unwrap();
        assert!(t.decode(&token, TokenType::Access).is_err(), "algorithm switched to HS256");
    }

    /// RFC 7519 §4.1.5: a validly signed token must not be accepted before its `nbf`.
    #[test]
    fn a_token_not_yet_valid_is_refused_until_its_nbf() {
        let t = tokens(300);
        let ring = t.keys();
        let (kid, key) = ring.signing();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.to_owned());
        let sign_with_nbf = |nbf: u64| {
            let mut claims = serde_json::to_value(t.access_claims("u1", "user1", "s1", now())).unwrap();
            claims["nbf"] = nbf.into();
            jsonwebtoken::encode(&header, &claims, key).unwrap()
        };
        let future = sign_with_nbf(now() + 3600);
        assert!(t.decode(&future, TokenType::Access).is_err(), "nbf an hour ahead");
        assert!(t.decode(&future, TokenType::Access).is_err(), "still refused the second time");
        assert!(t.decode(&sign_with_nbf(now() - 1), TokenType::Access).is_ok(), "nbf in the past");
    }

    #[test]
    fn garbage_is_refused() {
        let t = tokens(300);
        for junk in ["", "abc", "a.b.c", "....", "\u{0}"] {
            assert!(t.decode_any(junk).is_err(), "{junk:?}");
        }
    }

    #[test]
    fn hs256_works_when_configured_and_is_refused_when_not() {
        let hs = tokens_with(KeyAlgorithm::HS256, 300);
        let token = hs.sign(&hs.access_claims("u1", "user1", "s1", now())).unwrap();
        assert!(hs.decode(&token, TokenType::Access).is_ok());
        assert!(tokens(300).decode(&token, TokenType::Access).is_err());
    }

    #[test]
    fn rotated_keys_keep_old_tokens_valid_and_sign_new_ones() {
        let old = KeyMaterial::generate(KeyAlgorithm::EdDSA, 100).unwrap();
        let t = Tokens::new(
            KeyRing::new(KeyAlgorithm::EdDSA, std::slice::from_ref(&old), 100, 0).unwrap(),
            tokens(300).settings.clone(),
        );
        let before = t.sign(&t.access_claims("u1", "user1", "s1", now())).unwrap();
        let new = KeyMaterial::generate(KeyAlgorithm::EdDSA, 200).unwrap();
        t.replace_keys(KeyRing::new(KeyAlgorithm::EdDSA, &[old, new.clone()], 200, 86_400).unwrap());
        assert!(t.decode(&before, TokenType::Access).is_ok());
        let after = t.sign(&t.access_claims("u1", "user1", "s1", now())).unwrap();
        assert_eq!(jsonwebtoken::decode_header(&after).unwrap().kid.as_deref(), Some(new.kid.as_str()));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2_000))]

            /// Any string at all: refused cleanly, never a panic.
            #[test]
            fn arbitrary_input_never_panics_and_is_refused(input in ".{0,300}") {
                prop_assert!(tokens(300).decode_any(&input).is_err());
            }

            /// A real token with any one byte changed is refused (or is byte-for-byte the
            /// same token, which base64's unused trailing bits can allow).
            #[test]
            fn any_single_byte_change_is_refused(pos in 0usize..400, byte in any::<u8>()) {
                let t = tokens(300);
                let token = t.sign(&t.access_claims("u1", "user1", "s1", now())).unwrap();
                let mut bytes = token.clone().into_bytes();
                let pos = pos % bytes.len();
                prop_assume!(bytes[pos] != byte);
                bytes[pos] = byte;
                let Ok(mutated) = String::from_utf8(bytes) else { return Ok(()) };
                if let Ok(claims) = t.decode_any(&mutated) {
                    // Only the last signature character has spare bits; the claims are intact.
                    prop_assert_eq!(pos, token.len() - 1);
                    prop_assert_eq!(claims.user_id, "u1");
                }
            }

            /// Any claims an attacker chooses, signed with any other key, are refused.
            #[test]
            fn other_keys_never_verify(user in "[a-z0-9]{1,12}", secret in proptest::collection::vec(any::<u8>(), 32..64)) {
                let t = tokens(300);
                let mut claims = t.access_claims(&user, &user, "s1", now());
                claims.token_type = TokenType::Access;
                let mut header = Header::new(Algorithm::HS256);
                header.kid = Some(t.keys().signing().0.to_owned());
                let forged = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&secret)).unwrap();
                prop_assert!(t.decode_any(&forged).is_err());
            }
        }
    }
}
