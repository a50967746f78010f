//! Every mail the app sends: short, plain text with an HTML alternative, naming the app,
//! the action, how long a link lives and what to do if it wasn't you.

use super::Outgoing;

pub const APP_NAME: &str = "Leptos Auth";

/// Builds the mails, knowing where links point.
#[derive(Clone, Debug)]
pub struct Mails {
    public_url: String,
}

/// One paragraph of a mail: text, or a link shown as a button in HTML.
enum Part<'a> {
    Text(String),
    Link(&'a str, &'a str),
}

impl Mails {
    pub fn new(public_url: &str) -> Self {
        Self { public_url: public_url.trim_end_matches('/').to_owned() }
    }

    /// `<PUBLIC_URL>/<page>?token=<token>`, the contract's link shape.
    pub fn link(&self, page: &str, token: &str) -> String {
        format!("{}/{page}?token={token}", self.public_url)
    }

    pub fn verify_email(&self, to: &str, username: &str, token: &str) -> Outgoing {
        let link = self.link("verify-email", token);
        compose(
            to,
            "Confirm your email address",
            &[
                Part::Text(format!("Hello {username},")),
                Part::Text(format!("Confirm that {to} is your address for {APP_NAME}:")),
                Part::Link(&link, "Confirm my address"),
                Part::Text("The link works once, for 24 hours.".into()),
                Part::Text(format!("If you did not sign up for {APP_NAME}, ignore this mail.")),
            ],
            Some(link.clone()),
        )
    }

    pub fn change_email(&self, to: &str, username: &str, token: &str) -> Outgoing {
        let link = self.link("verify-email", token);
        compose(
            to,
            "Confirm your new email address",
            &[
                Part::Text(format!("Hello {username},")),
                Part::Text(format!("You asked to use {to} for your {APP_NAME} account. Confirm it:")),
                Part::Link(&link, "Use this address"),
                Part::Text("The link works once, for 24 hours. Until it is used, nothing changes.".into()),
                Part::Text("If you did not ask for this, ignore this mail.".into()),
            ],
            Some(link.clone()),
        )
    }

    pub fn email_change_requested(&self, to: &str, username: &str, new_email: &str) -> Outgoing {
        let security = format!("{}/security", self.public_url);
        compose(
            to,
            "Your email address is about to change",
            &[
                Part::Text(format!("Hello {username},")),
                Part::Text(format!(
                    "Someone signed in to your {APP_NAME} account asked to change its address to {new_email}. \
                     It changes only if the link sent there is used within 24 hours."
                )),
                Part::Text("If this wasn't you, change your password now and sign out everywhere:".into()),
                Part::Link(&security, "Review your security"),
            ],
            None,
        )
    }

    pub fn email_changed(&self, to: &str, username: &str, new_email: &str) -> Outgoing {
        self.notice(
            to,
            "Your email address was changed",
            username,
            &format!("The address of your {APP_NAME} account is now {new_email}; mail no longer comes here."),
        )
    }

    pub fn reset_password(&self, to: &str, username: &str, token: &str) -> Outgoing {
        let link = self.link("reset-password", token);
        compose(
            to,
            "Reset your password",
            &[
                Part::Text(format!("Hello {username},")),
                Part::Text(format!(
                    "Someone asked to reset the password of your {APP_NAME} account. Choose a new one:"
                )),
                Part::Link(&link, "Choose a new password"),
                Part::Text("The link works once, for 1 hour. Using it signs you out everywhere.".into()),
                Part::Text(
                    "If you did not ask for this, ignore this mail: your password stays as it is.".into(),
                ),
            ],
            Some(link.clone()),
        )
    }

    pub fn password_changed(&self, to: &str, username: &str) -> Outgoing {
        self.notice(
            to,
            "Your password was changed",
            username,
            &format!(
                "The password of your {APP_NAME} account was just changed, and your other sessions ended."
            ),
        )
    }

    pub fn password_reset(&self, to: &str, username: &str) -> Outgoing {
        self.notice(
            to,
            "Your password was reset",
            username,
            &format!(
                "The password of your {APP_NAME} account was just reset with a link mailed here, \
                 and every session ended."
            ),
        )
    }

    pub fn second_factor_changed(&self, to: &str, username: &str, on: bool) -> Outgoing {
        let (subject, what) = if on {
            (
                "Two-step sign-in is on",
                "An authenticator app now guards sign-ins to your account; your other sessions ended.",
            )
        } else {
            (
                "Two-step sign-in is off",
                "The authenticator app no longer guards sign-ins to your account; your other sessions ended.",
            )
        };
        self.notice(to, subject, username, &format!("{what} ({APP_NAME})"))
    }

    pub fn passkey_changed(&self, to: &str, username: &str, name: &str, added: bool) -> Outgoing {
        let (subject, what) = if added {
            ("A passkey was added", format!("The passkey \"{name}\" can now sign in to your account"))
        } else {
            ("A passkey was removed", format!("The passkey \"{name}\" can no longer sign in to your account"))
        };
        self.notice(to, subject, username, &format!("{what}; your other sessions ended. ({APP_NAME})"))
    }

    pub fn identity_changed(&self, to: &str, username: &str, provider: &str, linked: bool) -> Outgoing {
        let (subject, what) = if linked {
            (
                "A sign-in provider was linked",
                format!("Your {provider} account can now sign in to your account"),
            )
        } else {
            (
                "A sign-in provider was unlinked",
                format!("Your {provider} account can no longer sign in to your account"),
            )
        };
        self.notice(to, subject, username, &format!("{what}. ({APP_NAME})"))
    }

    pub fn account_deleted(&self, to: &str, username: &str) -> Outgoing {
        compose(
            to,
            "Your account was deleted",
            &[
                Part::Text(format!("Hello {username},")),
                Part::Text(format!(
                    "Your {APP_NAME} account and its personal data were deleted, and every session ended. \
                     This is the last mail you get from us."
                )),
                Part::Text(
                    "If this wasn't you, someone knew your password: change it wherever you used it.".into(),
                ),
            ],
            None,
        )
    }

    pub fn new_sign_in(&self, to: &str, username: &str, device: &str) -> Outgoing {
        let sessions = format!("{}/security", self.public_url);
        compose(
            to,
            "New sign-in to your account",
            &[
                Part::Text(format!("Hello {username},")),
                Part::Text(format!(
                    "Your {APP_NAME} account was just signed in to from {device}, which it had not been used from before."
                )),
                Part::Text("If this was you, there is nothing to do. If not, end that session and change your password:".into()),
                Part::Link(&sessions, "Review your sessions"),
            ],
            None,
        )
    }

    /// A security notice: what happened, and what to do if it wasn't you.
    fn notice(&self, to: &str, subject: &str, username: &str, what: &str) -> Outgoing {
        let forgot = format!("{}/forgot-password", self.public_url);
        compose(
            to,
            subject,
            &[
                Part::Text(format!("Hello {username},")),
                Part::Text(what.to_owned()),
                Part::Text(
                    "If this was you, there is nothing to do. If not, reset your password now:".into(),
                ),
                Part::Link(&forgot, "Reset my password"),
            ],
            None,
        )
    }
}

fn compose(to: &str, subject: &str, parts: &[Part<'_>], link: Option<String>) -> Outgoing {
    let subject = format!("{subject} · {APP_NAME}");
    let mut text = String::new();
    let mut html = String::from(
        "<!doctype html><html><body style=\"font-family:system-ui,sans-serif;line-height:1.5;max-width:36rem\">",
    );
    for part in parts {
        match part {
            Part::Text(t) => {
                text.push_str(t);
                html.push_str(&format!("<p>{}</p>", escape(t)));
            }
            Part::Link(url, label) => {
                text.push_str(url);
                html.push_str(&format!(
                    "<p><a href=\"{0}\" style=\"display:inline-block;padding:.6em 1.2em;background:#2457c5;\
                     color:#fff;border-radius:6px;text-decoration:none\">{1}</a></p>\
                     <p style=\"font-size:.9em;color:#555\">Or open {0}</p>",
                    escape(url),
                    escape(label)
                ));
            }
        }
        text.push_str("\n\n");
    }
    text.push_str(&format!("-- \n{APP_NAME}\n"));
    html.push_str(&format!("<p style=\"color:#555\">{APP_NAME}</p></body></html>"));
    Outgoing { to: to.to_owned(), subject, text, html, link }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_have_the_contract_shape() {
        let mails = Mails::new("https://auth.example.com/");
        let mail = mails.reset_password("a@example.com", "ada", "tok_en-1");
        assert_eq!(mail.link.as_deref(), Some("https://auth.example.com/reset-password?token=tok_en-1"));
        assert!(mail.text.contains("https://auth.example.com/reset-password?token=tok_en-1"));
        assert!(mail.text.contains("1 hour") && mail.subject.contains(APP_NAME));
    }

    #[test]
    fn html_is_escaped() {
        let mail = Mails::new("http://x").email_changed("a@example.com", "<b>ada</b>", "n@example.com");
        assert!(mail.html.contains("&lt;b&gt;ada&lt;/b&gt;") && !mail.html.contains("<b>ada"));
    }
}
