//! Login, the token pair and its claims, and how access and refresh tokens are checked.

use crate::helpers::*;

#[tokio::test]
async fn login_returns_a_token_pair_with_the_contracts_claims() {
    let app = spawn_app().await;
    let res = app
        .http
        .post(format!("{}/api/token/", app.base))
        .json(&json!({"username": "user1", "password": "password1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let text = res.text().await.unwrap();
    assert!(text.starts_with(r#"{"access":"#), "access comes first: {text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["expires_in"], 300);

    let access = claims(body["access"].as_str().unwrap());
    assert_eq!(access["token_type"], "access");
    assert_eq!(access["username"], "user1");
    assert!(access["user_id"].is_string() && access["jti"].is_string());
    assert_eq!(access["exp"].as_u64().unwrap() - access["iat"].as_u64().unwrap(), 300);
    let refresh = claims(body["refresh"].as_str().unwrap());
    assert_eq!(refresh["token_type"], "refresh");
    assert_eq!(refresh["exp"].as_u64().unwrap() - refresh["iat"].as_u64().unwrap(), 86_400);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let app = spawn_app().await;
    let wrong = app.post("/api/token/", json!({"username": "user1", "password": "nope-nope"})).await;
    let unknown = app.post("/api/token/", json!({"username": "nobody", "password": "nope-nope"})).await;
    assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong, unknown);
    assert_error_shape(&wrong.1, "no_active_account");
}

#[tokio::test]
async fn profile_shows_only_the_tokens_own_user() {
    let app = spawn_app().await;
    let sam = app.login("user1", "password1").await;
    let tim = app.login("user2", "password2").await;
    let (status, body) = app.profile(sam["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"username": "user1", "first_name": "Sam", "last_name": "Smith", "email": "sam@example.com",
               "email_verified": true, "mfa": false})
    );
    let (_, body) = app.profile(tim["access"].as_str().unwrap()).await;
    assert_eq!(body["first_name"], "Tim");
    assert_eq!(body["email"], "tim@example.com");
}

#[tokio::test]
async fn profile_without_or_with_a_bad_token_is_401() {
    let app = spawn_app().await;
    let res = app.http.get(format!("{}/api/profile/", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_error_shape(&res.json().await.unwrap(), "not_authenticated");

    let (status, body) = app.profile("not-a-jwt").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error_shape(&body, "token_not_valid");

    let res = app
        .http
        .get(format!("{}/api/profile/", app.base))
        .header("authorization", "Basic dXNlcjE6cGFzc3dvcmQx")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

/// RFC 6750 §3: a 401 from a protected resource names the Bearer scheme, and says
/// `invalid_token` when the token sent was refused.
#[tokio::test]
async fn a_401_carries_a_bearer_challenge_naming_a_refused_token() {
    let app = spawn_app().await;
    let challenge = |res: &reqwest::Response| {
        res.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
    };
    let res = app.http.get(format!("{}/api/profile/", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&res), r#"Bearer realm="api""#);

    let res = app.http.get(format!("{}/api/sessions/", app.base)).bearer_auth("forged").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&res), r#"Bearer realm="api", error="invalid_token""#);

    let pair = app.login("user1", "password1").await;
    let res =
        app.http.get(format!("{}/api/profile/", app.base)).bearer_auth(pair["access"].as_str().unwrap());
    let res = res.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("www-authenticate").is_none());
}

#[tokio::test]
async fn a_refresh_token_is_refused_as_an_access_token_and_vice_versa() {
    let app = spawn_app().await;
    let pair = app.login("user1", "password1").await;
    let (status, body) = app.profile(pair["refresh"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error_shape(&body, "token_not_valid");
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": pair["access"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn verify_accepts_good_tokens_and_refuses_used_or_bad_ones() {
    let app = spawn_app().await;
    let pair = app.login("user1", "password1").await;
    let (status, body) = app.post("/api/token/verify/", json!({"token": pair["access"]})).await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));
    let (status, _) = app.post("/api/token/verify/", json!({"token": pair["refresh"]})).await;
    assert_eq!(status, StatusCode::OK);

    app.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await;
    let (status, body) = app.post("/api/token/verify/", json!({"token": pair["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a rotated refresh token is no longer valid");
    assert_error_shape(&body, "token_not_valid");
    let (status, _) = app.post("/api/token/verify/", json!({"token": "a.b.c"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tampered_and_alg_none_tokens_are_refused() {
    let app = spawn_app().await;
    let sam = app.login("user1", "password1").await;
    let tim = app.login("user2", "password2").await;
    let access = sam["access"].as_str().unwrap();
    let parts: Vec<&str> = access.split('.').collect();

    // Swap in Tim's identity, keep Sam's signature.
    let mut payload = claims(access);
    let tims = claims(tim["access"].as_str().unwrap());
    payload["user_id"] = tims["user_id"].clone();
    payload["sid"] = tims["sid"].clone();
    let forged_payload = B64.encode(serde_json::to_vec(&payload).unwrap());
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    let (status, _) = app.profile(&tampered).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let none_header = B64.encode(br#"{"alg":"none","typ":"JWT"}"#);
    for unsigned in [format!("{none_header}.{forged_payload}."), format!("{none_header}.{forged_payload}")] {
        let (status, _) = app.profile(&unsigned).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }

    // A token signed with a different key (as if someone guessed a default secret).
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &payload,
        &jsonwebtoken::EncodingKey::from_secret(b"secretsecretsecretsecretsecretsecret"),
    )
    .unwrap();
    let (status, _) = app.profile(&forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let app = spawn_app_with(&["--access-token-lifetime", "1", "--refresh-token-lifetime", "2"]).await;
    let pair = app.login("user1", "password1").await;
    assert_eq!(pair["expires_in"], 1);
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    let (status, body) = app.profile(pair["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error_shape(&body, "token_not_valid");
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
