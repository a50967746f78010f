//! Second factors over HTTP: enrolling an authenticator (TOTP), signing in with a code or a
//! recovery code, the `mfa_token`'s limits, replays and the login lock.

use crate::helpers::*;
use app::server::totp;
use reqwest::Method;

/// The code an authenticator app shows now for `secret` (base32), `steps_ahead` steps on.
fn code(secret: &str, steps_ahead: i64) -> String {
    let key = totp::from_base32(secret).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let step = (now / totp::STEP_SECS).saturating_add_signed(steps_ahead);
    totp::code_at(&key, step, totp::DIGITS)
}

/// user2 with an authenticator turned on: (its secret, its recovery codes, the session's tokens).
async fn enrolled(app: &TestApp) -> (String, Vec<String>, Value) {
    let tokens = app.login("user2", "password2").await;
    let (secret, codes) = enrol(app, &tokens["access"], json!({"password": "password2"})).await;
    (secret, codes, tokens)
}

/// Turns an authenticator on for the account of `access` (`body` proves recent
/// authentication, or is `{}` within the window): its secret and recovery codes.
pub async fn enrol(app: &TestApp, access: &Value, body: Value) -> (String, Vec<String>) {
    let (status, enrolment) = app.send(Method::POST, "/api/mfa/totp/", access, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{enrolment}");
    let secret = enrolment["secret"].as_str().unwrap().to_owned();
    assert!(enrolment["otpauth_uri"].as_str().unwrap().starts_with("otpauth://totp/"));
    assert!(enrolment["qr_svg"].as_str().unwrap().contains("<svg"));
    let (status, body) =
        app.send(Method::POST, "/api/mfa/totp/confirm/", access, Some(json!({"code": "000000"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a wrong code does not turn it on: {body}");
    assert_error_shape(&body, "invalid_code");
    let (status, body) = app
        .send(Method::POST, "/api/mfa/totp/confirm/", access, Some(json!({"code": code(&secret, 0)})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let codes: Vec<String> =
        body["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

/// Password step: 401 `mfa_required` with the token, and no tokens yet.
async fn mfa_token(app: &TestApp) -> String {
    let (status, body) = app.post("/api/token/", json!({"username": "user2", "password": "password2"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_error_shape(&body, "mfa_required");
    assert!(body.get("access").is_none() && body.get("refresh").is_none());
    body["mfa_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn enrolling_turns_two_step_sign_in_on_and_ends_the_other_sessions() {
    let app = spawn_app().await;
    let elsewhere = app.login("user2", "password2").await;
    let (secret, _, tokens) = enrolled(&app).await;
    let (_, profile) = app.profile(tokens["access"].as_str().unwrap()).await;
    assert_eq!(profile["mfa"], true);
    assert_eq!(app.profile(elsewhere["access"].as_str().unwrap()).await.0, StatusCode::UNAUTHORIZED);
    let (_, status) = app.send(Method::GET, "/api/mfa/", &tokens["access"], None).await;
    assert_eq!(status, json!({"totp": true, "recovery_codes_left": 10}));
    // Never shown again (and stored only sealed: data_key's unit tests).
    let (status, body) = app.send(Method::POST, "/api/mfa/totp/", &tokens["access"], Some(json!({}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(!body.to_string().contains(&secret));
}

#[tokio::test]
async fn a_sign_in_needs_a_current_code_once_and_the_mfa_token_once() {
    let app = spawn_app_with(&["--login-rate-per-minute", "0"]).await;
    let (secret, _, _) = enrolled(&app).await;
    let token = mfa_token(&app).await;
    // Refused everywhere but the second step.
    assert_eq!(app.profile(&token).await.0, StatusCode::UNAUTHORIZED);
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": token})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, body) = app.post("/api/token/mfa/", json!({"mfa_token": token, "code": "12345x"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error_shape(&body, "invalid_code");
    // One step of drift is fine (the next step's code; the current one was used to enrol).
    let (status, pair) =
        app.post("/api/token/mfa/", json!({"mfa_token": token, "code": code(&secret, 1)})).await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    assert_eq!(app.profile(pair["access"].as_str().unwrap()).await.0, StatusCode::OK);
    // The token is spent, and the code is spent for the rest of its window.
    let (status, _) =
        app.post("/api/token/mfa/", json!({"mfa_token": token, "code": code(&secret, 1)})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let again = mfa_token(&app).await;
    let (status, _) =
        app.post("/api/token/mfa/", json!({"mfa_token": again, "code": code(&secret, 1)})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a replayed code");
    let (status, _) =
        app.post("/api/token/mfa/", json!({"mfa_token": again, "code": code(&secret, -1)})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "an older step than one already used");
    // Five minutes and it is gone.
    app.exec("UPDATE mfa_challenges SET expires_at = 1").await;
    let (status, _) = app.post("/api/token/mfa/", json!({"mfa_token": again, "code": "000000"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn recovery_codes_work_once_each() {
    let app = spawn_app().await;
    let (_, codes, _) = enrolled(&app).await;
    let token = mfa_token(&app).await;
    let typed = codes[0].to_uppercase().replace('-', " ");
    let (status, pair) = app.post("/api/token/mfa/", json!({"mfa_token": token, "code": typed})).await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    let (_, status) = app.send(Method::GET, "/api/mfa/", &pair["access"], None).await;
    assert_eq!(status["recovery_codes_left"], 9);
    let token = mfa_token(&app).await;
    let (status, _) = app.post("/api/token/mfa/", json!({"mfa_token": token, "code": codes[0]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "used once already");

    // New codes replace the old ones.
    let (status, body) =
        app.send(Method::POST, "/api/mfa/recovery-codes/", &pair["access"], Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app.post("/api/token/mfa/", json!({"mfa_token": token, "code": codes[1]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "an old code after regeneration");
    let fresh = body["recovery_codes"][0].as_str().unwrap();
    let (status, _) = app.post("/api/token/mfa/", json!({"mfa_token": token, "code": fresh})).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn wrong_codes_count_toward_the_login_lock() {
    let app = spawn_app_with(&["--login-rate-per-minute", "0", "--login-lock-base", "60"]).await;
    let (secret, _, _) = enrolled(&app).await;
    let token = mfa_token(&app).await; // the password step counts one attempt
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(app.post("/api/token/mfa/", json!({"mfa_token": token, "code": "000000"})).await.0);
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count(), 1, "{statuses:?}");
    let (status, body) =
        app.post("/api/token/mfa/", json!({"mfa_token": token, "code": code(&secret, 1)})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "locked even with the right code: {body}");
    let (status, _) = app.post("/api/token/", json!({"username": "user2", "password": "password2"})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "the account's lock, shared with passwords");
}

#[tokio::test]
async fn turning_it_off_needs_the_password_and_sign_in_is_one_step_again() {
    let app = spawn_app().await;
    let (_, _, tokens) = enrolled(&app).await;
    let access = &tokens["access"];
    app.exec("UPDATE sessions SET auth_at = auth_at - 660").await;
    let (status, body) = app.send(Method::DELETE, "/api/mfa/totp/", access, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error_shape(&body, "reauthentication_required");
    let (status, body) =
        app.send(Method::DELETE, "/api/mfa/totp/", access, Some(json!({"password": "nope"}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error_shape(&body, "invalid_password");
    let (status, _) =
        app.send(Method::DELETE, "/api/mfa/totp/", access, Some(json!({"password": "password2"}))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.count("SELECT COUNT(*) FROM recovery_codes").await, 0);
    app.login("user2", "password2").await;
}

#[tokio::test]
async fn a_second_step_begun_with_the_old_password_dies_with_it() {
    let app = spawn_app().await;
    let (secret, _, tokens) = enrolled(&app).await;
    let token = mfa_token(&app).await;
    assert_eq!(
        app.change_password(&tokens["access"], "password2", "a much better passphrase").await,
        StatusCode::OK
    );
    let (status, _) =
        app.post("/api/token/mfa/", json!({"mfa_token": token, "code": code(&secret, 1)})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_recovery_code_is_not_spent_on_a_sign_in_that_fails() {
    let app = spawn_app().await;
    let (_, codes, _) = enrolled(&app).await;
    // Two tabs finish the same second step at once, each with its own recovery code: one
    // signs in, and the other's code must not be used up by its failed attempt.
    let token = mfa_token(&app).await;
    let (a, b) = futures::join!(
        app.post("/api/token/mfa/", json!({"mfa_token": token, "code": codes[0]})),
        app.post("/api/token/mfa/", json!({"mfa_token": token, "code": codes[1]})),
    );
    let statuses = [a.0, b.0];
    assert!(
        statuses.contains(&StatusCode::OK) && statuses.contains(&StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    let loser = if a.0 == StatusCode::OK { &codes[1] } else { &codes[0] };
    let token = mfa_token(&app).await;
    let (status, body) = app.post("/api/token/mfa/", json!({"mfa_token": token, "code": loser})).await;
    assert_eq!(status, StatusCode::OK, "the failed attempt did not use its code up: {body}");
}
