//! The types that cross the wire: request and response bodies and the one error type.
//! Compiled for the server and the browser alike, so nothing here may carry a password
//! hash, a signing key or anything else that must stay on the server. On the server the
//! types also describe themselves for the OpenAPI document (`cfg_attr`: the browser
//! bundle carries none of that).

use serde::{Deserialize, Serialize};

/// An access/refresh pair as the REST contract returns it. Field order matters: `access`
/// first (see ../shared/CONTRACT.md on clients that decode the whole stored JSON string).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TokenPair {
    pub access: String,
    pub refresh: String,
    /// Whole seconds until the access token expires. Clients schedule refreshes from this,
    /// not from their own clock.
    pub expires_in: u64,
}

/// Who a token pair belongs to: what the browser shows without decoding the JWT.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    pub user_id: String,
    pub username: String,
    /// For the UI only (which links to show); the server checks the role on every call.
    #[serde(default)]
    pub role: Role,
    /// Names the session (not the user) without revealing its id: the tabs of one session
    /// share their tokens only with a tab that shows the same tag.
    #[serde(default)]
    pub session_tag: String,
}

/// What the `login` server function returns: the contract's pair plus who signed in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignIn {
    pub tokens: TokenPair,
    pub user: SessionUser,
}

/// A user's own profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Profile {
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    /// The address has been proved by a click on a mailed link.
    #[serde(default)]
    pub email_verified: bool,
    /// A second factor is enabled.
    #[serde(default)]
    pub mfa: bool,
}

/// The editable part of one's own profile. The address changes through a mailed link
/// (`/api/email/change/`), never by an edit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ProfileUpdate {
    pub first_name: String,
    pub last_name: String,
}

/// A new authenticator, not active until a code from it is confirmed. Shown once: the
/// secret is never in a response again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TotpEnrolment {
    /// Base32, for typing into an app.
    pub secret: String,
    pub otpauth_uri: String,
    /// The URI as a QR code, an SVG document rendered on the server.
    pub qr_svg: String,
}

/// Single-use recovery codes, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

/// The second-factor settings of one's own account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MfaStatus {
    /// An authenticator app is on.
    pub totp: bool,
    pub recovery_codes_left: u64,
}

/// A passkey ceremony begun. `options` is what the browser's `navigator.credentials` takes,
/// in the W3C JSON form (`{"publicKey": {...}}`, binary values as base64url), for
/// `PublicKeyCredential.parseCreationOptionsFromJSON` (or `...RequestOptions...`); the
/// `ceremony` token finishes it, once, within five minutes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PasskeyChallenge {
    pub ceremony: String,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub options: serde_json::Value,
}

/// An OpenID Connect provider people can sign in with: the login page's "Continue with
/// <name>" button leads to `/auth/<id>/start`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ProviderInfo {
    pub id: String,
    pub name: String,
}

/// A provider's identity linked to the user's account: it signs in to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LinkedIdentity {
    /// The provider's id (`ProviderInfo::id`).
    pub provider: String,
    /// The provider's name, as its button says it.
    pub name: String,
    /// The address the provider last gave.
    pub email: Option<String>,
    pub created_at: u64,
    pub last_used_at: Option<u64>,
}

/// One of the user's passkeys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PasskeyInfo {
    pub id: String,
    pub name: String,
    /// Unix seconds.
    pub created_at: u64,
    pub last_used_at: Option<u64>,
}

/// One of the user's live sessions (a login on some device).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    pub id: String,
    /// Unix seconds.
    pub created_at: u64,
    pub last_used_at: u64,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// True for the session the request was made with.
    pub current: bool,
}

/// What an account may do. Checked against the database on every admin call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    User,
    Admin,
}

impl Role {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
        }
    }

    /// The role stored as `s`; anything unknown grants nothing.
    pub fn parse(s: &str) -> Self {
        if s == Self::Admin.as_str() { Self::Admin } else { Self::User }
    }
}

/// Where the browser keeps its tokens (the server's `TOKEN_STORAGE` setting). The REST
/// contract is the same in both: this is only about the browser app's server functions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenStorage {
    /// Both tokens in localStorage (the default): simple, survives restarts, readable by any
    /// script on the page.
    #[default]
    LocalStorage,
    /// The refresh token in an HttpOnly `__Host-` cookie, the access token in memory only:
    /// no script can read the refresh token, at the price of a CSRF defence.
    Cookie,
}

impl std::str::FromStr for TokenStorage {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "localstorage" => Ok(Self::LocalStorage),
            "cookie" => Ok(Self::Cookie),
            other => Err(format!("`{other}`: use localstorage or cookie")),
        }
    }
}

/// The header every server function call from the browser carries. A cross-site page cannot
/// send a custom header without the server's CORS consent, which it never gives; in cookie
/// mode the server refuses calls without it (and with a foreign `Origin`).
pub const CSRF_HEADER: &str = "x-leptos-auth-csrf";

/// One account, as the admin page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserSummary {
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub role: Role,
    pub disabled: bool,
    /// Unix seconds.
    pub created_at: u64,
}

/// A password change. Not `Debug`: it carries passwords.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// A registration request. Deliberately not `Debug`-derived: it carries a password.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewAccount {
    pub username: String,
    pub password: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

impl std::fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccount")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Machine-readable error codes. Each maps to exactly one HTTP status, here and nowhere else.
/// Names follow djangorestframework-simplejwt where it has one, so its clients keep working.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum ErrorCode {
    /// Wrong username or password; one message whether or not the user exists.
    NoActiveAccount,
    /// A token that is malformed, forged, expired, of the wrong type, used or revoked.
    TokenNotValid,
    /// No credentials were sent at all.
    NotAuthenticated,
    /// A field failed validation (`field` names it).
    Invalid,
    /// The body is not valid JSON.
    ParseError,
    /// The body is JSON but not of the expected shape (missing field, wrong type).
    InvalidBody,
    /// The body is not declared as JSON.
    UnsupportedMediaType,
    UsernameTaken,
    /// Another account uses that email address.
    EmailTaken,
    /// A mailed link's token that is unknown, used, expired, superseded or of another purpose.
    InvalidToken,
    /// The password given to confirm a sensitive change is wrong.
    InvalidPassword,
    /// A sensitive change needs the password: the session has not proved it recently.
    ReauthenticationRequired,
    /// The password was right; the account's second factor comes next (`mfa_token`).
    MfaRequired,
    /// At sign-in: a wrong or used code, or an unknown or expired `mfa_token`.
    InvalidCode,
    /// At enrolment: a code that does not match the new authenticator. Sent as
    /// `invalid_code` too (the contract's name), with 400 instead of 401; read back (in the
    /// browser) as `InvalidCode`, which is all a client needs.
    #[serde(rename(serialize = "invalid_code", deserialize = "invalid_enrolment_code"))]
    InvalidEnrolmentCode,
    /// A second factor of that kind is on already.
    MfaAlreadyEnabled,
    /// A passkey sign-in that did not prove anything: an unknown or removed passkey, a
    /// signature that does not verify, another site's origin, an expired or used ceremony.
    PasskeyRefused,
    /// Signed in, but not allowed to do this (not an admin).
    PermissionDenied,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    /// Too many attempts; `retry_after` says when to try again.
    Throttled,
    /// Something failed on the server; details are in the server log, never in the response.
    InternalError,
    /// Browser only: the server could not be reached or answered with something unreadable.
    /// Never a reason to sign the user out.
    NetworkError,
}

impl ErrorCode {
    pub const fn status(self) -> u16 {
        match self {
            Self::Invalid | Self::ParseError | Self::InvalidToken | Self::InvalidEnrolmentCode => 400,
            Self::NoActiveAccount
            | Self::TokenNotValid
            | Self::NotAuthenticated
            | Self::InvalidPassword
            | Self::ReauthenticationRequired
            | Self::MfaRequired
            | Self::InvalidCode
            | Self::PasskeyRefused => 401,
            Self::PermissionDenied => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::UsernameTaken | Self::EmailTaken | Self::MfaAlreadyEnabled => 409,
            Self::PayloadTooLarge => 413,
            Self::Throttled => 429,
            Self::UnsupportedMediaType => 415,
            Self::InvalidBody => 422,
            Self::InternalError => 500,
            Self::NetworkError => 503,
        }
    }
}

/// The one error type of the API, on both sides of the wire. Serialises to the contract's
/// shape `{"detail", "code"}` (plus `field` for validation errors), both for the REST
/// endpoints and for the server functions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{detail}")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiError {
    pub detail: String,
    pub code: ErrorCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Seconds to wait before trying again (with `throttled`; also sent as `Retry-After`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// With `mfa_required`: what `/api/token/mfa/` takes with the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_token: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self { detail: detail.into(), code, field: None, retry_after: None, mfa_token: None }
    }

    pub fn invalid_credentials() -> Self {
        Self::new(ErrorCode::NoActiveAccount, "No active account found with the given credentials")
    }

    pub fn token_not_valid() -> Self {
        Self::new(ErrorCode::TokenNotValid, "Token is invalid or expired")
    }

    pub fn not_authenticated() -> Self {
        Self::new(ErrorCode::NotAuthenticated, "Authentication credentials were not provided.")
    }

    pub fn invalid(field: &str, detail: impl Into<String>) -> Self {
        Self { field: Some(field.to_owned()), ..Self::new(ErrorCode::Invalid, detail) }
    }

    /// Removing the account's last way to sign in (`field` names what was to go).
    pub fn last_way_to_sign_in(field: &str) -> Self {
        Self::invalid(
            field,
            "This is the only way to sign in to your account. Set a password (through \"Forgot \
             password?\") or add another way first.",
        )
    }

    pub fn username_taken() -> Self {
        Self {
            field: Some("username".to_owned()),
            ..Self::new(ErrorCode::UsernameTaken, "A user with that username already exists.")
        }
    }

    pub fn email_taken(field: &str) -> Self {
        Self {
            field: Some(field.to_owned()),
            ..Self::new(ErrorCode::EmailTaken, "Another account uses that email address.")
        }
    }

    pub fn invalid_link() -> Self {
        Self::new(
            ErrorCode::InvalidToken,
            "This link is not valid any more: it was used, it expired, or a newer one was sent.",
        )
    }

    pub fn wrong_password() -> Self {
        Self {
            field: Some("password".to_owned()),
            ..Self::new(ErrorCode::InvalidPassword, "Your password is not correct.")
        }
    }

    pub fn reauthentication_required() -> Self {
        Self {
            field: Some("password".to_owned()),
            ..Self::new(ErrorCode::ReauthenticationRequired, "Enter your password to confirm this change.")
        }
    }

    pub fn mfa_required(mfa_token: String) -> Self {
        Self {
            mfa_token: Some(mfa_token),
            ..Self::new(ErrorCode::MfaRequired, "Enter the code from your authenticator app.")
        }
    }

    pub fn invalid_code() -> Self {
        Self {
            field: Some("code".to_owned()),
            ..Self::new(ErrorCode::InvalidCode, "That code is not right, or this sign-in has expired.")
        }
    }

    pub fn passkey_refused() -> Self {
        Self::new(
            ErrorCode::PasskeyRefused,
            "That passkey was not accepted. It may have been removed from your account, or the \
             sign-in took too long. Try again, or sign in with your password.",
        )
    }

    pub fn throttled(retry_after_secs: u64) -> Self {
        let detail = format!("Too many attempts. Try again in {retry_after_secs} seconds.");
        Self { retry_after: Some(retry_after_secs), ..Self::new(ErrorCode::Throttled, detail) }
    }

    pub fn internal() -> Self {
        Self::new(ErrorCode::InternalError, "Something went wrong on our side. Please try again.")
    }

    pub fn network(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::NetworkError, detail)
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// True when the server refused the caller's credentials: the only errors that may end a
    /// browser session. Network failures and server errors never do.
    pub fn is_auth_failure(&self) -> bool {
        matches!(self.code, ErrorCode::TokenNotValid | ErrorCode::NotAuthenticated)
    }
}

/// Server functions report transport and codec failures through this hook. On the server
/// these are malformed calls (a client's mistake, so 4xx); in the browser, an unreachable or
/// garbled server (a network error, which must not sign anyone out).
impl leptos::server_fn::error::FromServerFnError for ApiError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        // The same failure means opposite things on the two sides: on the server a request
        // that could not be read is the caller's mistake, in the browser it is the network's.
        let in_browser = cfg!(target_arch = "wasm32");
        match value {
            E::Args(msg) | E::MissingArg(msg) => {
                Self::new(ErrorCode::InvalidBody, format!("Invalid request: {msg}"))
            }
            E::Request(_) | E::Deserialization(_) if !in_browser => {
                Self::new(ErrorCode::InvalidBody, "The request could not be read.")
            }
            E::Request(_) => Self::network("The server could not be reached."),
            E::Deserialization(_) | E::Response(_) => {
                Self::network("The server sent a response that could not be read.")
            }
            E::Registration(_)
            | E::UnsupportedRequestMethod(_)
            | E::ServerError(_)
            | E::MiddlewareError(_)
            | E::Serialization(_) => Self::internal(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_serialises_to_the_contract_shape() {
        let json = serde_json::to_value(ApiError::token_not_valid()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"detail": "Token is invalid or expired", "code": "token_not_valid"})
        );
    }

    #[test]
    fn only_refused_credentials_count_as_auth_failures() {
        assert!(ApiError::token_not_valid().is_auth_failure());
        assert!(ApiError::not_authenticated().is_auth_failure());
        assert!(!ApiError::network("down").is_auth_failure());
        assert!(!ApiError::internal().is_auth_failure());
        assert!(!ApiError::invalid_credentials().is_auth_failure());
    }

    #[test]
    fn token_pair_lists_access_first() {
        let pair = TokenPair { access: "a.b.c".into(), refresh: "d.e.f".into(), expires_in: 300 };
        let json = serde_json::to_string(&pair).unwrap();
        assert!(json.starts_with(r#"{"access":"a.b.c","refresh""#), "{json}");
    }

    #[test]
    fn new_account_debug_hides_the_password() {
        let form = NewAccount {
            username: "sam".into(),
            password: "hunter2hunter2".into(),
            email: "s@example.com".into(),
            first_name: "Sam".into(),
            last_name: "Smith".into(),
        };
        assert!(!format!("{form:?}").contains("hunter2"));
    }
}
