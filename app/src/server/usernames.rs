//! How usernames are compared: the lookup key that makes `Sam`, `sam` and `ｓａｍ` one
//! account, the confusable skeleton that keeps `uѕer1` (a Cyrillic `ѕ`) from posing as
//! `user1`, and the checks that run before anything keyed by a name is written.

use crate::api::ApiError;
use crate::rules;
use unicode_normalization::UnicodeNormalization;
use unicode_security::MixedScript;

/// The key a username is looked up and kept unique by: NFKC-normalised and lower-cased,
/// so `Sam`, `sam` and the full-width `ｓａｍ` are one account.
pub fn username_key(username: &str) -> String {
    let folded: String = username.nfkc().collect::<String>().to_lowercase();
    folded.nfkc().collect()
}

/// The lookup key of a username sent to log in, register or administer, or the field error
/// saying no account can have it. Checked before anything is written, so nothing keyed by
/// a name that cannot exist (a megabyte of text, a NUL) ever reaches the database.
pub fn checked_username_key(username: &str) -> Result<String, ApiError> {
    rules::check_username(username)?;
    let key = username_key(username);
    // NFKC may lengthen a name (one ligature can become many letters): bound the key too.
    if key.chars().count() > rules::USERNAME_MAX_CHARS {
        return Err(ApiError::invalid(
            "username",
            format!("Use at most {} characters for the username.", rules::USERNAME_MAX_CHARS),
        ));
    }
    Ok(key)
}

/// What a new username must also be, beyond the rules a login checks: written in one
/// script (Unicode TS #39 mixed-script detection; digits and punctuation go with any), so
/// no name can borrow a look-alike letter from another alphabet. Only registration asks:
/// an account made before this rule still signs in.
pub fn check_new_username(key: &str) -> Result<(), ApiError> {
    if key.is_single_script() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "username",
            "Use the letters of one alphabet in the username (mixing, say, Latin and Cyrillic \
             letters can imitate another name).",
        ))
    }
}

/// The confusable skeleton of a username key (Unicode TS #39 §4): two names with the same
/// skeleton look alike (`user1`, `userl`, `uѕer1`), so only one of them may exist.
pub fn skeleton(key: &str) -> String {
    unicode_security::skeleton(key).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_keys_fold_case_and_compatibility_forms() {
        assert_eq!(username_key("User1"), "user1");
        assert_eq!(username_key("ｕｓｅｒ１"), "user1", "full-width twin");
        assert_eq!(username_key("ﬁona"), "fiona", "ligature twin");
        assert_ne!(username_key("user1"), username_key("user2"));
    }

    #[test]
    fn look_alikes_share_a_skeleton_and_distinct_names_do_not() {
        let sk = |name: &str| skeleton(&username_key(name));
        assert_eq!(sk("u\u{0455}er1"), sk("user1"), "Cyrillic dze");
        assert_eq!(sk("\u{0430}\u{0441}\u{0435}"), sk("ace"), "all-Cyrillic twin");
        assert_eq!(sk("userl"), sk("user1"), "digit one and letter l");
        assert_ne!(sk("user1"), sk("user2"));
        assert_ne!(sk("sam"), sk("pam"));
    }

    #[test]
    fn new_names_keep_to_one_script() {
        assert!(check_new_username("user1").is_ok());
        assert!(check_new_username("sam.smith+x@example-1_a").is_ok());
        assert!(check_new_username("\u{0430}\u{0441}\u{0435}").is_ok(), "all Cyrillic is fine");
        assert!(check_new_username("東京タワー").is_ok(), "Japanese mixes its own scripts");
        let err = check_new_username("u\u{0455}er1").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("username"));
    }

    #[test]
    fn impossible_names_are_refused_before_they_become_keys() {
        assert!(checked_username_key("user1").is_ok());
        assert!(checked_username_key(&"a".repeat(10_000)).is_err());
        assert!(checked_username_key("nul\0byte").is_err());
        assert!(checked_username_key(&"\u{FDFA}".repeat(20)).is_err(), "NFKC makes it 360 characters");
    }
}
