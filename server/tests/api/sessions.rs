//! Logout, the session list, signing out one session or all of them, pruning.

use crate::helpers::*;

#[tokio::test]
async fn logout_kills_the_refresh_token_and_the_sessions_access_tokens() {
    let app = spawn_app().await;
    let pair = app.login("user1", "password1").await;
    let other = app.login("user1", "password1").await;
    let (status, body) = app.post("/api/token/blacklist/", json!({"refresh": pair["refresh"]})).await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));

    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.profile(pair["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "logout is real: the access token dies too");
    let (status, _) = app.post("/api/token/verify/", json!({"token": pair["access"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.post("/api/token/blacklist/", json!({"refresh": pair["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a dead token can't be blacklisted twice");

    // Another session of the same user is untouched.
    let (status, _) = app.profile(other["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn blacklist_refuses_invalid_tokens() {
    let app = spawn_app().await;
    let pair = app.login("user1", "password1").await;
    for bad in [json!("garbage"), pair["access"].clone()] {
        let (status, body) = app.post("/api/token/blacklist/", json!({"refresh": bad})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_error_shape(&body, "token_not_valid");
    }
}

#[tokio::test]
async fn users_see_their_own_sessions_and_can_end_one() {
    let app = spawn_app().await;
    let laptop = app.login("user1", "password1").await;
    let phone = app.login("user1", "password1").await;
    let tims = app.login("user2", "password2").await;

    let (status, list) = app.send(reqwest::Method::GET, "/api/sessions/", &laptop["access"], None).await;
    assert_eq!(status, StatusCode::OK);
    let list = list.as_array().unwrap().clone();
    assert_eq!(list.len(), 2, "Tim's session is not Sam's business: {list:?}");
    let current: Vec<_> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], claims(laptop["access"].as_str().unwrap())["sid"]);
    assert!(list.iter().all(|s| s["created_at"].is_u64() && s["last_used_at"].is_u64()));

    let phone_sid = claims(phone["access"].as_str().unwrap())["sid"].as_str().unwrap().to_owned();
    let tims_sid = claims(tims["access"].as_str().unwrap())["sid"].as_str().unwrap().to_owned();
    let (status, body) = app
        .send(reqwest::Method::DELETE, &format!("/api/sessions/{tims_sid}/"), &laptop["access"], None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nobody ends someone else's session");
    assert_error_shape(&body, "not_found");
    let (status, _) = app.profile(tims["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": tims["refresh"]})).await;
    assert_eq!(status, StatusCode::OK, "not even Tim's refresh tokens are touched");

    let (status, _) = app
        .send(reqwest::Method::DELETE, &format!("/api/sessions/{phone_sid}/"), &laptop["access"], None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.profile(phone["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the phone's access token dies at once");
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": phone["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.profile(laptop["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn sign_out_everywhere_ends_every_session_of_the_user_only() {
    let app = spawn_app().await;
    let a = app.login("user1", "password1").await;
    let b = app.login("user1", "password1").await;
    let tim = app.login("user2", "password2").await;
    let (status, _) = app.send(reqwest::Method::DELETE, "/api/sessions/", &a["access"], None).await;
    assert_eq!(status, StatusCode::OK);
    for pair in [&a, &b] {
        let (status, _) = app.profile(pair["access"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = app.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = app.profile(tim["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn pruning_removes_expired_and_revoked_sessions_but_not_live_ones() {
    let app = spawn_app_with(&["--access-token-lifetime", "1", "--refresh-token-lifetime", "2"]).await;
    let expiring = app.login("user1", "password1").await;
    app.post("/api/token/refresh/", json!({"refresh": expiring["refresh"]})).await;
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    let live = app.login("user2", "password2").await;
    let (tokens, sessions) = app.auth.prune().await.unwrap();
    assert_eq!((tokens, sessions), (2, 1), "the expired session and its two tokens");
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": live["refresh"]})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.auth.prune().await.unwrap(), (0, 0));
}
