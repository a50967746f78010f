//! The data key: encrypts second-factor secrets at rest and keys the recovery-code hashes.
//! Generated on first start and kept in the database like the signing keys, so every
//! instance shares it. What it answers is a leak of the factor tables alone (an export, a
//! log of rows, a partial backup), not of the whole database, which holds the key too.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub struct DataKey {
    key: [u8; 32],
}

impl DataKey {
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)?;
        Ok(Self { key })
    }

    pub fn from_b64(stored: &str) -> Option<Self> {
        let key = B64.decode(stored).ok()?.try_into().ok()?;
        Some(Self { key })
    }

    pub fn to_b64(&self) -> String {
        B64.encode(self.key)
    }

    /// Encrypts `plaintext` for `owner` (bound as associated data: a box moved to another
    /// user's row does not open). base64(nonce || ciphertext).
    pub fn seal(&self, plaintext: &[u8], owner: &str) -> Result<String, String> {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).map_err(|e| e.to_string())?;
        let cipher = XChaCha20Poly1305::new((&self.key).into());
        let sealed = cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: plaintext, aad: owner.as_bytes() })
            .map_err(|e| e.to_string())?;
        Ok(B64.encode([nonce.as_slice(), &sealed].concat()))
    }

    /// Opens what `seal` made for `owner`; `None` if it was made for another or altered.
    pub fn open(&self, sealed: &str, owner: &str) -> Option<Vec<u8>> {
        let bytes = B64.decode(sealed).ok()?;
        if bytes.len() < 24 {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().ok()?;
        let cipher = XChaCha20Poly1305::new((&self.key).into());
        cipher.decrypt(&XNonce::from(nonce), Payload { msg: ciphertext, aad: owner.as_bytes() }).ok()
    }

    /// A keyed hash (HMAC-SHA-256, hex): what is stored of a recovery code. Without the key
    /// a stolen table cannot be searched offline for codes.
    pub fn mac(&self, data: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(data.as_bytes());
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_for_their_owner_and_unaltered() {
        let key = DataKey::generate().unwrap();
        let sealed = key.seal(b"totp secret", "user-a").unwrap();
        assert_eq!(key.open(&sealed, "user-a").as_deref(), Some(b"totp secret".as_slice()));
        assert_eq!(key.open(&sealed, "user-b"), None);
        let mut bytes = B64.decode(&sealed).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        assert_eq!(key.open(&B64.encode(bytes), "user-a"), None);
        let other = DataKey::from_b64(&DataKey::generate().unwrap().to_b64()).unwrap();
        assert_eq!(other.open(&sealed, "user-a"), None);
        assert_ne!(key.mac("abc"), other.mac("abc"));
    }
}
