//! Passkeys over HTTP with a software authenticator (`authenticator.rs`): adding one after
//! recent authentication, signing in with it and nothing else, and every way an answer is
//! refused: another site's origin, a cloned device, a replayed or expired ceremony, a user
//! handle that doesn't own the passkey, a removed passkey.

use crate::authenticator::Authenticator;
use crate::helpers::*;
use crate::recovery::app_with_mail;
use reqwest::Method;

/// The origin the test servers are told they are at (`PUBLIC_URL`); a `*.localhost` name,
/// which browsers treat as secure.
pub const ORIGIN: &str = "https://auth.localhost";

async fn passkey_app(extra: &[&str]) -> TestApp {
    let mut args = vec!["--public-url", ORIGIN, "--passkeys", "on"];
    args.extend_from_slice(extra);
    spawn_app_with(&args).await
}

/// Adds a passkey made by `device` to the account of `tokens`: the answer to
/// `POST /api/passkeys/`.
pub async fn add(
    app: &TestApp,
    tokens: &Value,
    device: &mut Authenticator,
    name: &str,
) -> (StatusCode, Value) {
    let access = &tokens["access"];
    let (status, challenge) = app.send(Method::POST, "/api/passkeys/options/", access, Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{challenge}");
    let credential = device.create(&challenge["options"]);
    let body = json!({"ceremony": challenge["ceremony"], "name": name, "credential": credential});
    app.send(Method::POST, "/api/passkeys/", access, Some(body)).await
}

/// Signs in with whatever passkey `device` holds: the answer to `POST /api/token/passkey/`.
pub async fn sign_in(app: &TestApp, device: &mut Authenticator) -> (StatusCode, Value) {
    let (status, challenge) = app.post("/api/token/passkey/options/", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{challenge}");
    let credential = device.get(&challenge["options"]);
    app.post("/api/token/passkey/", json!({"ceremony": challenge["ceremony"], "credential": credential}))
        .await
}

#[tokio::test]
async fn a_passkey_signs_in_with_no_username_or_password() {
    let (app, sink) = app_with_mail(&["--public-url", ORIGIN, "--passkeys", "on"]).await;
    let elsewhere = app.login("user1", "password1").await;
    let tokens = app.login("user1", "password1").await;
    let mut phone = Authenticator::new(ORIGIN);
    let (status, added) = add(&app, &tokens, &mut phone, "My phone").await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!((added["name"].clone(), added["last_used_at"].clone()), (json!("My phone"), Value::Null));
    sink.wait_for_subject("sam@example.com", "A passkey was added").await;
    assert_eq!(
        app.profile(elsewhere["access"].as_str().unwrap()).await.0,
        StatusCode::UNAUTHORIZED,
        "adding a way in ends the other sessions"
    );

    let (status, pair) = sign_in(&app, &mut phone).await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    let (status, profile) = app.profile(pair["access"].as_str().unwrap()).await;
    assert_eq!((status, profile["username"].clone()), (StatusCode::OK, json!("user1")));
    // A normal session: it rotates like any other.
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await;
    assert_eq!(status, StatusCode::OK);

    let (_, list) = app.send(Method::GET, "/api/passkeys/", &pair["access"], None).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["id"], added["id"]);
    assert!(list[0]["last_used_at"].as_u64().is_some(), "{list}");
}

#[tokio::test]
async fn a_passkey_sign_in_needs_no_second_factor_and_adding_one_needs_recent_authentication() {
    let app = passkey_app(&[]).await;
    let tokens = app.login("user2", "password2").await;
    let mut laptop = Authenticator::new(ORIGIN);
    app.exec("UPDATE sessions SET auth_at = auth_at - 660").await;
    let (status, body) =
        app.send(Method::POST, "/api/passkeys/options/", &tokens["access"], Some(json!({}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error_shape(&body, "reauthentication_required");
    let (status, _) = app
        .send(
            Method::POST,
            "/api/passkeys/options/",
            &tokens["access"],
            Some(json!({"password": "password2"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "the password given with the request");
    let (status, body) = add(&app, &tokens, &mut laptop, "").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["name"], "An unknown browser", "unnamed: the device it was made on");

    // With an authenticator app on, a password needs a code; a passkey does not.
    let (status, enrolment) =
        app.send(Method::POST, "/api/mfa/totp/", &tokens["access"], Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{enrolment}");
    let secret = app::server::totp::from_base32(enrolment["secret"].as_str().unwrap()).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let code =
        app::server::totp::code_at(&secret, now / app::server::totp::STEP_SECS, app::server::totp::DIGITS);
    let (status, _) = app
        .send(Method::POST, "/api/mfa/totp/confirm/", &tokens["access"], Some(json!({"code": code})))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.post("/api/token/", json!({"username": "user2", "password": "password2"})).await;
    assert_eq!((status, body["code"].clone()), (StatusCode::UNAUTHORIZED, json!("mfa_required")));
    let (status, pair) = sign_in(&app, &mut laptop).await;
    assert_eq!(status, StatusCode::OK, "{pair}");
}

#[tokio::test]
async fn an_answer_made_for_another_site_is_refused() {
    let app = passkey_app(&[]).await;
    let tokens = app.login("user1", "password1").await;
    let mut phishing = Authenticator::new("https://auth-localhost.example");
    let (status, body) = add(&app, &tokens, &mut phishing, "phished").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!((body["code"].clone(), body["field"].clone()), (json!("invalid"), json!("credential")));
    assert_eq!(app.count("SELECT COUNT(*) FROM passkeys").await, 0);

    // A real passkey, used through a page on another origin.
    let mut phone = Authenticator::new(ORIGIN);
    assert_eq!(add(&app, &tokens, &mut phone, "phone").await.0, StatusCode::CREATED);
    phone.origin = "https://auth-localhost.example".into();
    let (status, body) = sign_in(&app, &mut phone).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error_shape(&body, "passkey_refused");
    phone.origin = ORIGIN.into();
    assert_eq!(sign_in(&app, &mut phone).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_cloned_authenticator_is_found_out_by_its_counter() {
    let app = passkey_app(&[]).await;
    let tokens = app.login("user1", "password1").await;
    let mut original = Authenticator::new(ORIGIN);
    assert_eq!(add(&app, &tokens, &mut original, "key").await.0, StatusCode::CREATED);
    let mut clone = original.clone();
    assert_eq!(sign_in(&app, &mut original).await.0, StatusCode::OK, "counter 1");
    assert_eq!(sign_in(&app, &mut original).await.0, StatusCode::OK, "counter 2");
    let (status, body) = sign_in(&app, &mut clone).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the copy says 1 again");
    assert_error_shape(&body, "passkey_refused");
    let flagged =
        app.count("SELECT COUNT(*) FROM audit_events WHERE event = 'passkey_clone_suspected'").await;
    assert_eq!(flagged, 1);
}

#[tokio::test]
async fn a_ceremony_finishes_once_and_not_after_it_expires() {
    let app = passkey_app(&[]).await;
    let tokens = app.login("user1", "password1").await;
    let mut phone = Authenticator::new(ORIGIN);
    assert_eq!(add(&app, &tokens, &mut phone, "phone").await.0, StatusCode::CREATED);

    let (_, challenge) = app.post("/api/token/passkey/options/", json!({})).await;
    let answer = json!({"ceremony": challenge["ceremony"], "credential": phone.get(&challenge["options"])});
    assert_eq!(app.post("/api/token/passkey/", answer.clone()).await.0, StatusCode::OK);
    let (status, body) = app.post("/api/token/passkey/", answer).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "replayed");
    assert_error_shape(&body, "passkey_refused");

    let (_, challenge) = app.post("/api/token/passkey/options/", json!({})).await;
    app.exec("UPDATE ceremonies SET expires_at = 0").await;
    let answer = json!({"ceremony": challenge["ceremony"], "credential": phone.get(&challenge["options"])});
    assert_eq!(app.post("/api/token/passkey/", answer).await.0, StatusCode::UNAUTHORIZED, "expired");

    // A registration ceremony is not a sign-in's, nor another user's.
    let other = app.login("user2", "password2").await;
    let (_, mine) =
        app.send(Method::POST, "/api/passkeys/options/", &tokens["access"], Some(json!({}))).await;
    let credential = Authenticator::new(ORIGIN).create(&mine["options"]);
    let body = json!({"ceremony": mine["ceremony"], "credential": credential});
    let (status, answer) = app.send(Method::POST, "/api/passkeys/", &other["access"], Some(body)).await;
    assert_eq!((status, answer["field"].clone()), (StatusCode::BAD_REQUEST, json!("ceremony")));
}

#[tokio::test]
async fn a_user_handle_must_name_the_passkeys_owner() {
    let app = passkey_app(&[]).await;
    let mut phone = Authenticator::new(ORIGIN);
    let sam = app.login("user1", "password1").await;
    assert_eq!(add(&app, &sam, &mut phone, "phone").await.0, StatusCode::CREATED);
    let tim = app.login("user2", "password2").await;
    let tim_id = claims(tim["access"].as_str().unwrap())["user_id"].as_str().unwrap().to_owned();

    let (_, challenge) = app.post("/api/token/passkey/options/", json!({})).await;
    let mut credential = phone.get(&challenge["options"]);
    let tim_handle = uuid::Uuid::try_parse(&tim_id).unwrap();
    credential["response"]["userHandle"] = json!(B64.encode(tim_handle.as_bytes()));
    let answer = json!({"ceremony": challenge["ceremony"], "credential": credential});
    let (status, body) = app.post("/api/token/passkey/", answer).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

#[tokio::test]
async fn a_removed_passkey_signs_in_no_more() {
    let (app, sink) = app_with_mail(&["--public-url", ORIGIN, "--passkeys", "on"]).await;
    let tokens = app.login("user1", "password1").await;
    let mut phone = Authenticator::new(ORIGIN);
    let (_, added) = add(&app, &tokens, &mut phone, "old phone").await;
    let path = format!("/api/passkeys/{}/", added["id"].as_str().unwrap());

    let tim = app.login("user2", "password2").await;
    let (status, _) = app.send(Method::DELETE, &path, &tim["access"], None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "only one's own");
    app.exec("UPDATE sessions SET auth_at = auth_at - 660").await;
    let (status, body) = app.send(Method::DELETE, &path, &tokens["access"], None).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::UNAUTHORIZED, json!("reauthentication_required"))
    );
    let (status, _) =
        app.send(Method::DELETE, &path, &tokens["access"], Some(json!({"password": "password1"}))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let notice = sink.wait_for_subject("sam@example.com", "A passkey was removed").await;
    assert!(notice.text.contains("old phone"), "{}", notice.text);

    let (status, body) = sign_in(&app, &mut phone).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error_shape(&body, "passkey_refused");
}

#[tokio::test]
async fn bad_answers_get_clear_errors_and_passkeys_can_be_off() {
    let app = passkey_app(&[]).await;
    let (status, challenge) = app.post("/api/token/passkey/options/", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(challenge["options"]["publicKey"]["rpId"], "auth.localhost");
    assert_eq!(challenge["options"]["publicKey"]["userVerification"], "required");
    let (status, body) = app
        .post("/api/token/passkey/", json!({"ceremony": challenge["ceremony"], "credential": {"id": 1}}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error_shape(&body, "invalid_body");
    let tokens = app.login("user1", "password1").await;
    let (_, options) =
        app.send(Method::POST, "/api/passkeys/options/", &tokens["access"], Some(json!({}))).await;
    let selection = &options["options"]["publicKey"]["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "required", "a passkey the browser can offer unasked");
    let long = "x".repeat(65);
    let mut device = Authenticator::new(ORIGIN);
    let (status, body) = add(&app, &tokens, &mut device, &long).await;
    assert_eq!((status, body["field"].clone()), (StatusCode::BAD_REQUEST, json!("name")));

    let off = spawn_app_with(&["--passkeys", "off"]).await;
    let (status, body) = off.post("/api/token/passkey/options/", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error_shape(&body, "not_found");
}
