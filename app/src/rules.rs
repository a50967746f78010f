//! Input rules for accounts. One implementation, used by the server to decide and by the
//! browser to explain as the user types.

use crate::api::{ApiError, NewAccount, ProfileUpdate};

pub const USERNAME_MAX_CHARS: usize = 150;
pub const PASSWORD_MIN_CHARS: usize = 8;
/// Generous (passphrases welcome) but bounded: every byte goes through Argon2.
pub const PASSWORD_MAX_CHARS: usize = 1024;
pub const NAME_MAX_CHARS: usize = 150;
pub const EMAIL_MAX_CHARS: usize = 254;

pub fn check_username(username: &str) -> Result<(), ApiError> {
    let n = username.chars().count();
    if n == 0 {
        return Err(ApiError::invalid("username", "Enter a username."));
    }
    if n > USERNAME_MAX_CHARS {
        return Err(ApiError::invalid(
            "username",
            format!("Use at most {USERNAME_MAX_CHARS} characters for the username."),
        ));
    }
    if !username.chars().all(|c| c.is_alphanumeric() || "@.+-_".contains(c)) {
        return Err(ApiError::invalid("username", "Use only letters, digits and @ . + - _ in the username."));
    }
    Ok(())
}

/// One password rule, as the register page lists it while the user types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordRule {
    /// The rule, phrased as a requirement ("At least 8 characters").
    pub text: String,
    pub met: bool,
    /// Shown only while unmet (the upper bound would be noise otherwise).
    pub always_shown: bool,
    error: String,
}

/// The password rules that can be checked anywhere, in the order they are reported. The
/// server adds a strength estimate (server-only: its dictionaries are too big for the
/// browser bundle), and says what to change when it refuses.
pub fn password_rules(password: &str, username: &str) -> [PasswordRule; 3] {
    let n = password.chars().count();
    let rule = |text: String, met: bool, always_shown: bool, error: String| PasswordRule {
        text,
        met,
        always_shown,
        error,
    };
    [
        rule(
            format!("At least {PASSWORD_MIN_CHARS} characters"),
            n >= PASSWORD_MIN_CHARS,
            true,
            format!("Use at least {PASSWORD_MIN_CHARS} characters for the password."),
        ),
        rule(
            format!("At most {PASSWORD_MAX_CHARS} characters"),
            n <= PASSWORD_MAX_CHARS,
            false,
            format!("Use at most {PASSWORD_MAX_CHARS} characters for the password."),
        ),
        rule(
            "Not your username".to_owned(),
            password.is_empty() || username.is_empty() || password.to_lowercase() != username.to_lowercase(),
            true,
            "The password must not be your username.".to_owned(),
        ),
    ]
}

pub fn check_password(password: &str, username: &str) -> Result<(), ApiError> {
    match password_rules(password, username).into_iter().find(|r| !r.met) {
        Some(rule) => Err(ApiError::invalid("password", rule.error)),
        None => Ok(()),
    }
}

/// An address as compared for uniqueness and lookups: trimmed and lowercased. (The local
/// part may be case-sensitive in theory; no mail system people use treats it so, and two
/// accounts differing only in case would be a trap.)
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

pub fn check_email(email: &str) -> Result<(), ApiError> {
    let email = email.trim();
    let bad = || Err(ApiError::invalid("email", "Enter a valid email address."));
    if email.is_empty() || email.chars().count() > EMAIL_MAX_CHARS {
        return bad();
    }
    // Nor mailbox syntax that a mail library would read as a name plus another address
    // (`x<victim@example.com>`): the address stored must be the address mailed.
    if email.chars().any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\"\\".contains(c)) {
        return bad();
    }
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.') =>
        {
            Ok(())
        }
        _ => bad(),
    }
}

pub fn check_name(field: &str, label: &str, value: &str) -> Result<(), ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::invalid(field, format!("Enter your {label}.")));
    }
    if value.chars().count() > NAME_MAX_CHARS {
        return Err(ApiError::invalid(
            field,
            format!("Use at most {NAME_MAX_CHARS} characters for your {label}."),
        ));
    }
    // Control characters (NUL above all, which PostgreSQL cannot store) are never part of
    // a name: refuse them here rather than fail in the database.
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid(field, format!("Use only printable characters in your {label}.")));
    }
    Ok(())
}

/// Session ids are 32 lower-case hex digits (see `server::tokens::new_jti`); anything else
/// names no session and is refused before it reaches the database.
pub fn check_session_id(id: &str) -> Result<(), ApiError> {
    if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(ApiError::invalid("session_id", "That is not a session id."))
    }
}

/// Every rule for a new account, in the order the form shows the fields.
pub fn check_new_account(form: &NewAccount) -> Result<(), ApiError> {
    check_username(&form.username)?;
    check_contact(&form.email, &form.first_name, &form.last_name)?;
    check_password(&form.password, &form.username)
}

/// A new account's rules but the password's: for an account made by signing in through
/// a provider, which has none.
pub fn check_new_profile(form: &NewAccount) -> Result<(), ApiError> {
    check_username(&form.username)?;
    check_contact(&form.email, &form.first_name, &form.last_name)
}

/// The rules for a profile edit: the same as for those fields of a new account.
pub fn check_profile(update: &ProfileUpdate) -> Result<(), ApiError> {
    check_name("first_name", "first name", &update.first_name)?;
    check_name("last_name", "last name", &update.last_name)
}

fn check_contact(email: &str, first_name: &str, last_name: &str) -> Result<(), ApiError> {
    check_email(email)?;
    check_name("first_name", "first name", first_name)?;
    check_name("last_name", "last name", last_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(r: Result<(), ApiError>) -> Option<String> {
        r.err().and_then(|e| e.field)
    }

    #[test]
    fn usernames() {
        assert!(check_username("user1").is_ok());
        assert!(check_username("sam.smith+x@example-1_a").is_ok());
        assert_eq!(field_of(check_username("")), Some("username".into()));
        assert!(check_username("has space").is_err());
        assert!(check_username("semi;colon").is_err());
        assert!(check_username(&"a".repeat(151)).is_err());
        assert!(check_username(&"a".repeat(150)).is_ok());
    }

    #[test]
    fn passwords() {
        assert!(check_password("password1", "user1").is_ok());
        assert!(check_password("short", "user1").is_err());
        assert!(check_password("User1234", "user1234").is_err(), "username as password");
        assert!(check_password(&"x".repeat(1024), "u").is_ok());
        assert!(check_password(&"x".repeat(1025), "u").is_err());
        // Counted in characters, not bytes: eight accented letters are enough.
        assert!(check_password("éééééééé", "u").is_ok());
    }

    #[test]
    fn the_live_checklist_and_the_server_agree() {
        let met = |p: &str, u: &str| password_rules(p, u).map(|r| r.met);
        assert_eq!(met("", ""), [false, true, true], "an empty field only lacks length");
        assert_eq!(met("sam12345", "SAM12345"), [true, true, false]);
        assert_eq!(met("a long passphrase", "sam"), [true, true, true]);
        for (p, u) in [("short", "u"), ("sam12345", "sam12345"), ("a long passphrase", "sam")] {
            let first_unmet = password_rules(p, u).into_iter().find(|r| !r.met).map(|r| r.error);
            assert_eq!(check_password(p, u).err().map(|e| e.detail), first_unmet, "{p}");
        }
    }

    #[test]
    fn emails() {
        assert!(check_email("sam@example.com").is_ok());
        for bad in [
            "",
            "sam",
            "sam@",
            "@example.com",
            "sam@example",
            "s m@example.com",
            "a@b@c.com",
            "sam@.com",
            // Mailbox syntax: the name would be stored, the other address mailed.
            "x<victim@example.com>",
            "\"x\"@example.com",
            "a,b@example.com",
            "a@example.com;b@example.org",
        ] {
            assert!(check_email(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn names() {
        assert!(check_name("first_name", "first name", "Sam").is_ok());
        assert!(check_name("first_name", "first name", "   ").is_err());
        assert_eq!(field_of(check_name("last_name", "last name", "Sm\0ith")), Some("last_name".into()));
        assert!(check_name("first_name", "first name", "Sam\u{7}").is_err());
    }

    #[test]
    fn control_characters_are_refused_in_every_text_field() {
        assert_eq!(field_of(check_email("sam\0@example.com")), Some("email".into()));
        assert_eq!(field_of(check_username("user\u{0}1")), Some("username".into()));
        assert_eq!(
            field_of(check_session_id("0123456789abcdef0123456789abcde\0")),
            Some("session_id".into())
        );
        assert!(check_session_id("0123456789abcdef0123456789abcdef").is_ok());
        assert!(check_session_id("not-a-session").is_err());
    }
}
