//! Signing keys. Ed25519 (EdDSA) by default, whose public halves are published as a JWK set
//! so other services can verify access tokens without sharing a secret; HS256 by
//! configuration. Every key has a `kid`; the newest key signs, and older keys keep
//! verifying until the last token they signed has expired.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The minimum HMAC key length: 256 bits (RFC 7518 §3.2 for HS256).
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAlgorithm {
    EdDSA,
    HS256,
}

impl KeyAlgorithm {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::EdDSA => "EdDSA",
            Self::HS256 => "HS256",
        }
    }

    pub const fn jwt(self) -> Algorithm {
        match self {
            Self::EdDSA => Algorithm::EdDSA,
            Self::HS256 => Algorithm::HS256,
        }
    }
}

impl std::str::FromStr for KeyAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "EdDSA" | "eddsa" | "Ed25519" | "ed25519" => Ok(Self::EdDSA),
            "HS256" | "hs256" => Ok(Self::HS256),
            other => Err(format!("`{other}` is not a supported JWT algorithm (EdDSA or HS256)")),
        }
    }
}

/// One key as stored. `Debug` never shows the private half.
#[derive(Clone)]
pub struct KeyMaterial {
    pub kid: String,
    pub alg: KeyAlgorithm,
    /// PKCS#8 DER (EdDSA) or the raw secret (HS256).
    pub private_key: Vec<u8>,
    /// The raw 32-byte Ed25519 public key; `None` for HS256.
    pub public_key: Option<Vec<u8>>,
    pub created_at: u64,
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMaterial").field("kid", &self.kid).field("alg", &self.alg).finish_non_exhaustive()
    }
}

impl KeyMaterial {
    /// A new key from the operating system's CSPRNG. Its `kid` is a UUIDv7: unique, and in
    /// creation order even for two keys made within the same second (the newest signs).
    pub fn generate(alg: KeyAlgorithm, now: u64) -> Result<Self, String> {
        let random = |n: usize| {
            let mut bytes = vec![0u8; n];
            getrandom::fill(&mut bytes).map(|()| bytes).map_err(|e| format!("no randomness available: {e}"))
        };
        let kid = uuid::Uuid::now_v7().simple().to_string();
        let (private_key, public_key) = match alg {
            KeyAlgorithm::HS256 => (random(64)?, None),
            KeyAlgorithm::EdDSA => {
                use ed25519_dalek::pkcs8::EncodePrivateKey;
                let seed: [u8; 32] = random(32)?.try_into().map_err(|_| "bad seed length".to_owned())?;
                let key = ed25519_dalek::SigningKey::from_bytes(&seed);
                let der = key.to_pkcs8_der().map_err(|e| format!("encoding the key failed: {e}"))?;
                (der.as_bytes().to_vec(), Some(key.verifying_key().to_bytes().to_vec()))
            }
        };
        Ok(Self { kid, alg, private_key, public_key, created_at: now })
    }

    /// An HS256 key given by the operator (`JWT_SECRET`). Its `kid` is a hash prefix, so it
    /// is stable across restarts and names the key without revealing it.
    pub fn from_secret(secret: &[u8]) -> Result<Self, String> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "the JWT signing key must be at least {MIN_SECRET_BYTES} bytes (256 bits); got {}",
                secret.len()
            ));
        }
        use sha2::{Digest, Sha256};
        let kid = Sha256::digest(secret)[..8].iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self {
            kid,
            alg: KeyAlgorithm::HS256,
            private_key: secret.to_vec(),
            public_key: None,
            created_at: 0,
        })
    }

    fn decoding_key(&self) -> Result<DecodingKey, String> {
        match (self.alg, &self.public_key) {
            (KeyAlgorithm::HS256, _) => Ok(DecodingKey::from_secret(&self.private_key)),
            (KeyAlgorithm::EdDSA, Some(public)) => Ok(DecodingKey::from_ed_der(public)),
            (KeyAlgorithm::EdDSA, None) => Err(format!("key {} has no public half", self.kid)),
        }
    }

    fn encoding_key(&self) -> EncodingKey {
        match self.alg {
            KeyAlgorithm::HS256 => EncodingKey::from_secret(&self.private_key),
            KeyAlgorithm::EdDSA => EncodingKey::from_ed_der(&self.private_key),
        }
    }

    fn jwk(&self) -> Option<Value> {
        let public = self.public_key.as_ref()?;
        Some(json!({
            "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA",
            "kid": self.kid, "x": B64URL.encode(public),
        }))
    }
}

/// The keys in use: one signs, several verify. Only keys of the configured algorithm are
/// ever in it, so no other algorithm can be accepted.
pub struct KeyRing {
    alg: KeyAlgorithm,
    signing_kid: String,
    encoding: EncodingKey,
    verifying: HashMap<String, DecodingKey>,
    jwks: Value,
}

impl KeyRing {
    /// `keys`: stored keys, any order. The newest key of `alg` signs; an older one keeps
    /// verifying while tokens it signed may still be alive: until `verify_window` seconds
    /// after the next key replaced it.
    pub fn new(
        alg: KeyAlgorithm,
        keys: &[KeyMaterial],
        now: u64,
        verify_window: u64,
    ) -> Result<Self, String> {
        let mut keys: Vec<&KeyMaterial> = keys.iter().filter(|k| k.alg == alg).collect();
        keys.sort_by_key(|k| (k.created_at, k.kid.clone()));
        let newest = *keys.last().ok_or_else(|| format!("no {} signing key", alg.as_str()))?;
        let mut verifying = HashMap::new();
        let mut jwks = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let replaced_at = keys.get(i + 1).map(|next| next.created_at);
            if replaced_at.is_some_and(|at| at.saturating_add(verify_window) < now) {
                continue;
            }
            verifying.insert(key.kid.clone(), key.decoding_key()?);
            jwks.extend(key.jwk());
        }
        Ok(Self {
            alg,
            signing_kid: newest.kid.clone(),
            encoding: newest.encoding_key(),
            verifying,
            jwks: json!({ "keys": jwks }),
        })
    }

    pub fn alg(&self) -> KeyAlgorithm {
        self.alg
    }

    pub fn signing(&self) -> (&str, &EncodingKey) {
        (&self.signing_kid, &self.encoding)
    }

    /// The verifying key for `kid`, if it is one of ours.
    pub fn verifying(&self, kid: &str) -> Option<&DecodingKey> {
        self.verifying.get(kid)
    }

    /// The public keys as a JWK set (empty for HS256: secrets are never published).
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_key_signs_and_replaced_keys_verify_within_the_window() {
        let mut k1 = KeyMaterial::generate(KeyAlgorithm::EdDSA, 100).unwrap();
        let k2 = KeyMaterial::generate(KeyAlgorithm::EdDSA, 200).unwrap();
        let hs = KeyMaterial::generate(KeyAlgorithm::HS256, 300).unwrap();
        let keys = [k2.clone(), k1.clone(), hs.clone()];
        let ring = KeyRing::new(KeyAlgorithm::EdDSA, &keys, 250, 86_400).unwrap();
        assert_eq!(ring.signing().0, k2.kid);
        assert!(ring.verifying(&k1.kid).is_some(), "k1's tokens may still be alive");
        assert!(ring.verifying(&hs.kid).is_none(), "another algorithm's key is never accepted");
        assert_eq!(ring.jwks()["keys"].as_array().unwrap().len(), 2);

        let later = KeyRing::new(KeyAlgorithm::EdDSA, &keys, 200 + 86_401, 86_400).unwrap();
        assert!(later.verifying(&k1.kid).is_none(), "retired once its last token has expired");
        assert!(later.verifying(&k2.kid).is_some());

        k1.public_key = None;
        assert!(KeyRing::new(KeyAlgorithm::EdDSA, &[k1], 0, 0).is_err());
        assert!(KeyRing::new(KeyAlgorithm::EdDSA, &[hs], 0, 0).is_err(), "no key of the algorithm");
    }

    #[test]
    fn of_two_keys_made_in_the_same_second_the_later_one_signs() {
        for _ in 0..50 {
            let first = KeyMaterial::generate(KeyAlgorithm::EdDSA, 100).unwrap();
            let second = KeyMaterial::generate(KeyAlgorithm::EdDSA, 100).unwrap();
            let ring = KeyRing::new(KeyAlgorithm::EdDSA, &[second.clone(), first], 100, 60).unwrap();
            assert_eq!(ring.signing().0, second.kid);
        }
    }

    #[test]
    fn jwks_publishes_only_public_halves() {
        let k = KeyMaterial::generate(KeyAlgorithm::EdDSA, 0).unwrap();
        let ring = KeyRing::new(KeyAlgorithm::EdDSA, std::slice::from_ref(&k), 0, 0).unwrap();
        let jwk = &ring.jwks()["keys"][0];
        assert_eq!(jwk["kty"], "OKP");
        assert_eq!(jwk["crv"], "Ed25519");
        assert_eq!(jwk["kid"], k.kid.as_str());
        assert_eq!(B64URL.decode(jwk["x"].as_str().unwrap()).unwrap(), k.public_key.unwrap());
        assert!(jwk.get("d").is_none());
        let hs = KeyMaterial::generate(KeyAlgorithm::HS256, 0).unwrap();
        let ring = KeyRing::new(KeyAlgorithm::HS256, &[hs], 0, 0).unwrap();
        assert_eq!(ring.jwks(), &json!({"keys": []}));
    }

    #[test]
    fn operator_secrets_must_be_long_and_never_print() {
        assert!(KeyMaterial::from_secret(&[7; 31]).is_err());
        let a = KeyMaterial::from_secret(&[7; 32]).unwrap();
        assert_eq!(a.kid, KeyMaterial::from_secret(&[7; 32]).unwrap().kid, "stable kid");
        assert!(!format!("{a:?}").contains("7, 7"));
    }
}
