//! Refresh-token rotation: single use, concurrency, reuse detection, the grace window, the session cap.

use crate::helpers::*;

#[tokio::test]
async fn refresh_rotates_and_the_presented_token_dies() {
    // Strict mode: no grace window (see the grace window tests for the default).
    let app = spawn_app_with(&["--refresh-grace-period", "0"]).await;
    let first = app.login("user1", "password1").await;
    let (status, second) = app.post("/api/token/refresh/", json!({"refresh": first["refresh"]})).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_ne!(second["refresh"], first["refresh"]);
    assert_ne!(second["access"], first["access"]);
    assert_eq!(second["expires_in"], 300);
    assert_eq!(
        claims(second["refresh"].as_str().unwrap())["sid"],
        claims(first["refresh"].as_str().unwrap())["sid"]
    );

    let (status, third) = app.post("/api/token/refresh/", json!({"refresh": second["refresh"]})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.profile(third["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["username"], "user1");

    let (status, body) = app.post("/api/token/refresh/", json!({"refresh": first["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a used token is dead");
    assert_error_shape(&body, "token_not_valid");
}

pub async fn refresh_20_at_once(app: &TestApp, refresh: &Value) -> Vec<(StatusCode, Value)> {
    futures::future::join_all((0..20).map(|_| app.post("/api/token/refresh/", json!({"refresh": refresh}))))
        .await
}

#[tokio::test]
async fn twenty_concurrent_refreshes_mint_exactly_one_new_token_which_they_all_get() {
    let app = spawn_app().await;
    let pair = app.login("user1", "password1").await;
    let results = refresh_20_at_once(&app, &pair["refresh"]).await;
    assert!(results.iter().all(|(s, _)| *s == StatusCode::OK), "racing tabs are not logged out: {results:?}");
    let minted: std::collections::HashSet<_> = results.iter().map(|(_, b)| b["refresh"].clone()).collect();
    assert_eq!(minted.len(), 1, "one rotation, one new refresh token: {minted:?}");
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": results[0].1["refresh"]})).await;
    assert_eq!(status, StatusCode::OK, "and it works");
}

#[tokio::test]
async fn without_a_grace_window_twenty_concurrent_refreshes_give_exactly_one_success() {
    let app = spawn_app_with(&["--refresh-grace-period", "0"]).await;
    let pair = app.login("user1", "password1").await;
    let results = refresh_20_at_once(&app, &pair["refresh"]).await;
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    let refused = results.iter().filter(|(s, _)| *s == StatusCode::UNAUTHORIZED).count();
    assert_eq!((ok, refused), (1, 19), "every other one is a clean 401, never a 5xx: {results:?}");
}

#[tokio::test]
async fn reusing_a_rotated_token_revokes_the_whole_session_newest_token_included() {
    let app = spawn_app_with(&["--refresh-grace-period", "0"]).await;
    let first = app.login("user1", "password1").await;
    let other_session = app.login("user1", "password1").await;
    let (_, second) = app.post("/api/token/refresh/", json!({"refresh": first["refresh"]})).await;
    let (_, third) = app.post("/api/token/refresh/", json!({"refresh": second["refresh"]})).await;

    // An attacker replays the stolen first token.
    let (status, body) = app.post("/api/token/refresh/", json!({"refresh": first["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error_shape(&body, "token_not_valid");

    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": third["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the newest token of the family died too");
    let (status, _) = app.profile(third["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "and its access token, at once");
    let (status, _) = app.profile(other_session["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "other sessions are not affected");
}

#[tokio::test]
async fn the_grace_window_returns_the_same_child_and_revokes_after_it() {
    let app = spawn_app_with(&["--refresh-grace-period", "2"]).await;
    let first = app.login("user1", "password1").await;
    let (_, second) = app.post("/api/token/refresh/", json!({"refresh": first["refresh"]})).await;

    // A second tab (or a retry after a lost response) presents the parent again at once.
    let (status, again) = app.post("/api/token/refresh/", json!({"refresh": first["refresh"]})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["refresh"], second["refresh"], "the very same child");
    let (status, _) = app.profile(again["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);

    // After the window, presenting the parent is reuse: the session ends.
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": first["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": second["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the child went with the session");
}

#[tokio::test]
async fn an_older_ancestor_revokes_even_inside_the_grace_window() {
    let app = spawn_app().await;
    let first = app.login("user1", "password1").await;
    let (_, second) = app.post("/api/token/refresh/", json!({"refresh": first["refresh"]})).await;
    let (_, third) = app.post("/api/token/refresh/", json!({"refresh": second["refresh"]})).await;
    // `first`'s child (`second`) is itself used: `first` is an older ancestor, not a racing twin.
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": first["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": third["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn no_session_outlives_its_absolute_cap_however_often_it_refreshes() {
    let app = spawn_app_with(&[
        "--session-max-lifetime",
        "4",
        "--access-token-lifetime",
        "1",
        "--refresh-token-lifetime",
        "60",
    ])
    .await;
    let mut pair = app.login("user1", "password1").await;
    let first = claims(pair["refresh"].as_str().unwrap());
    let cap = first["exp"].as_u64().unwrap();
    assert_eq!(cap - first["iat"].as_u64().unwrap(), 4, "the first refresh token already stops at the cap");
    for _ in 0..3 {
        let (status, next) = app.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            claims(next["refresh"].as_str().unwrap())["exp"].as_u64().unwrap() <= cap,
            "refreshing never extends it"
        );
        pair = next;
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    tokio::time::sleep(Duration::from_secs_f64(cap as f64 + 1.1 - now)).await;
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
