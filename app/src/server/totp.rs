//! RFC 6238 time-based one-time passwords as authenticator apps make them: HMAC-SHA-1,
//! 6 digits, 30-second steps, from a 160-bit secret (RFC 4226 §4 recommends 160 bits).

use hmac::{Hmac, Mac};
use sha1::Sha1;

pub const DIGITS: u32 = 6;
pub const STEP_SECS: u64 = 30;
/// Steps of clock drift accepted either way.
pub const DRIFT_STEPS: u64 = 1;

/// A new random secret.
pub fn new_secret() -> Result<[u8; 20], getrandom::Error> {
    let mut secret = [0u8; 20];
    getrandom::fill(&mut secret)?;
    Ok(secret)
}

/// The secret as people type it into an app: base32 without padding (RFC 4648).
pub fn base32(secret: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(secret)
}

/// A base32 key as `base32` writes it (what an app does with the typed key).
pub fn from_base32(key: &str) -> Option<Vec<u8>> {
    data_encoding::BASE32_NOPAD.decode(key.trim().as_bytes()).ok()
}

/// The `otpauth://` URI an app reads from the QR code (Google Authenticator's key format).
pub fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> String {
    let (issuer, account) = (urlencoding::encode(issuer), urlencoding::encode(account));
    format!(
        "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        base32(secret)
    )
}

/// The code of time step `step` (RFC 4226 §5.3 dynamic truncation), `digits` long.
pub fn code_at(secret: &[u8], step: u64, digits: u32) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(&step.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = usize::from(hash[19] & 0x0f);
    let binary =
        u32::from_be_bytes([hash[offset] & 0x7f, hash[offset + 1], hash[offset + 2], hash[offset + 3]]);
    format!("{:0width$}", binary % 10u32.pow(digits), width = digits as usize)
}

/// The step whose code `code` is, within the drift allowed around `now` (Unix seconds), and
/// later than `after` (a step already used is never accepted again). Every candidate is
/// compared, in constant time, so the answer's timing says nothing about which matched.
pub fn matching_step(secret: &[u8], code: &str, now: u64, after: u64) -> Option<u64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = now / STEP_SECS;
    let mut found = None;
    for step in current.saturating_sub(DRIFT_STEPS)..=current + DRIFT_STEPS {
        let same = constant_time_eq(code_at(secret, step, DIGITS).as_bytes(), code.as_bytes());
        if same && step > after && found.is_none() {
            found = Some(step);
        }
    }
    found
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, the SHA-1 rows (8 digits), and their last 6 digits as apps show them.
    #[test]
    fn rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, expected) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(code_at(secret, time / STEP_SECS, 8), expected, "T = {time}");
            assert_eq!(code_at(secret, time / STEP_SECS, 6), expected[2..], "T = {time}");
        }
    }

    #[test]
    fn one_step_of_drift_either_way_and_never_a_used_step() {
        let secret = b"12345678901234567890";
        let now = 1_111_111_111;
        let step = now / STEP_SECS;
        for drift in [step - 1, step, step + 1] {
            assert_eq!(matching_step(secret, &code_at(secret, drift, 6), now, 0), Some(drift));
        }
        assert_eq!(matching_step(secret, &code_at(secret, step - 2, 6), now, 0), None);
        assert_eq!(matching_step(secret, &code_at(secret, step + 2, 6), now, 0), None);
        assert_eq!(matching_step(secret, &code_at(secret, step, 6), now, step), None, "replay");
        assert_eq!(matching_step(secret, "12345", now, 0), None);
        assert_eq!(matching_step(secret, "abcdef", now, 0), None);
    }

    #[test]
    fn the_uri_is_what_apps_read() {
        let uri = otpauth_uri(b"12345678901234567890", "Leptos Auth", "ada");
        assert_eq!(
            uri,
            "otpauth://totp/Leptos%20Auth:ada?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Leptos%20Auth\
             &algorithm=SHA1&digits=6&period=30"
        );
    }
}
