//! A software passkey authenticator, as a browser and a platform authenticator would answer
//! the server's options (WebAuthn Level 3 §6, §7): ES256 keys (p256), "none" attestation,
//! user verification, a signature counter, and the answer in `PublicKeyCredential.toJSON()`
//! form. It can be told to answer for another origin, or be copied (a cloned device).

use crate::helpers::{B64, Engine, Value, json};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use sha2::{Digest, Sha256};

#[derive(Clone)]
pub struct Authenticator {
    /// What the browser writes in `clientDataJSON` (the page's origin).
    pub origin: String,
    credentials: Vec<Credential>,
}

#[derive(Clone)]
pub struct Credential {
    pub id: Vec<u8>,
    rp_id: String,
    user_handle: Vec<u8>,
    key: SigningKey,
    counter: u32,
}

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

impl Authenticator {
    pub fn new(origin: &str) -> Self {
        Self { origin: origin.to_owned(), credentials: Vec::new() }
    }

    /// Answers `navigator.credentials.create(options)`: a new resident credential.
    pub fn create(&mut self, options: &Value) -> Value {
        let pk = &options["publicKey"];
        let rp_id = pk["rp"]["id"].as_str().unwrap().to_owned();
        for excluded in pk["excludeCredentials"].as_array().into_iter().flatten() {
            let id = B64.decode(excluded["id"].as_str().unwrap()).unwrap();
            assert!(!self.credentials.iter().any(|c| c.id == id), "an excluded credential");
        }
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).unwrap();
        let key = SigningKey::from_slice(&seed).unwrap();
        let mut id = vec![0u8; 16];
        getrandom::fill(&mut id).unwrap();
        let user_handle = B64.decode(pk["user"]["id"].as_str().unwrap()).unwrap();
        let credential = Credential { id: id.clone(), rp_id: rp_id.clone(), user_handle, key, counter: 0 };

        let client_data = self.client_data("webauthn.create", pk["challenge"].as_str().unwrap());
        let point = credential.key.verifying_key().to_encoded_point(false);
        let cose_key = cbor_map(vec![
            (cbor_int(1), cbor_int(2)),  // kty: EC2
            (cbor_int(3), cbor_int(-7)), // alg: ES256
            (cbor_int(-1), cbor_int(1)), // crv: P-256
            (cbor_int(-2), cbor_bytes(point.x().unwrap())),
            (cbor_int(-3), cbor_bytes(point.y().unwrap())),
        ]);
        let mut auth_data = auth_data(&rp_id, UP | UV | AT, 0);
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID: none
        auth_data.extend_from_slice(&u16::try_from(id.len()).unwrap().to_be_bytes());
        auth_data.extend_from_slice(&id);
        auth_data.extend_from_slice(&cose_key);
        let attestation = cbor_map(vec![
            (cbor_text("fmt"), cbor_text("none")),
            (cbor_text("attStmt"), cbor_map(vec![])),
            (cbor_text("authData"), cbor_bytes(&auth_data)),
        ]);
        self.credentials.push(credential);
        json!({
            "id": B64.encode(&id),
            "rawId": B64.encode(&id),
            "type": "public-key",
            "response": {
                "clientDataJSON": B64.encode(client_data),
                "attestationObject": B64.encode(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        })
    }

    /// Answers `navigator.credentials.get(options)` with the newest credential for the
    /// options' relying party (as a person picking their passkey would).
    pub fn get(&mut self, options: &Value) -> Value {
        let pk = &options["publicKey"];
        let rp_id = pk["rpId"].as_str().unwrap().to_owned();
        let client_data = self.client_data("webauthn.get", pk["challenge"].as_str().unwrap());
        let credential =
            self.credentials.iter_mut().rev().find(|c| c.rp_id == rp_id).expect("a passkey for this site");
        credential.counter += 1;
        let auth_data = auth_data(&rp_id, UP | UV, credential.counter);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let signature: Signature = credential.key.sign(&signed);
        json!({
            "id": B64.encode(&credential.id),
            "rawId": B64.encode(&credential.id),
            "type": "public-key",
            "response": {
                "clientDataJSON": B64.encode(&client_data),
                "authenticatorData": B64.encode(&auth_data),
                "signature": B64.encode(signature.to_der().as_bytes()),
                "userHandle": B64.encode(&credential.user_handle),
            },
            "clientExtensionResults": {},
        })
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        let data = json!({"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": false});
        serde_json::to_vec(&data).unwrap()
    }
}

/// rpIdHash, flags, signCount (§6.1).
fn auth_data(rp_id: &str, flags: u8, counter: u32) -> Vec<u8> {
    let mut data = Sha256::digest(rp_id.as_bytes()).to_vec();
    data.push(flags);
    data.extend_from_slice(&counter.to_be_bytes());
    data
}

// Just enough CBOR (RFC 8949) for an attestation object and a COSE key.

fn cbor_head(major: u8, n: u64) -> Vec<u8> {
    match n {
        0..24 => vec![major << 5 | n as u8],
        24..256 => vec![major << 5 | 24, n as u8],
        _ => {
            let mut out = vec![major << 5 | 25];
            out.extend_from_slice(&u16::try_from(n).unwrap().to_be_bytes());
            out
        }
    }
}

fn cbor_int(n: i64) -> Vec<u8> {
    if n >= 0 { cbor_head(0, n as u64) } else { cbor_head(1, (-1 - n) as u64) }
}

fn cbor_bytes(b: &[u8]) -> Vec<u8> {
    let mut out = cbor_head(2, b.len() as u64);
    out.extend_from_slice(b);
    out
}

fn cbor_text(s: &str) -> Vec<u8> {
    let mut out = cbor_head(3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
    out
}

fn cbor_map(entries: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<u8> {
    let mut out = cbor_head(5, entries.len() as u64);
    for (k, v) in entries {
        out.extend(k);
        out.extend(v);
    }
    out
}
