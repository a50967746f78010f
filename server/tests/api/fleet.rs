//! Several instances on one database: shared sessions, keys, limits and revocations.

use crate::helpers::*;

#[tokio::test]
async fn a_fleet_of_two_instances_on_one_database_shares_every_session() {
    let fleet = spawn_fleet(2, &["--refresh-grace-period", "0"]).await;
    wait_until_following(&fleet).await;
    let (a, b) = (&fleet[0], &fleet[1]);
    let first = a.login("user1", "password1").await;

    // A session started on A refreshes on B, and B's tokens work on A.
    let (status, second) = b.post("/api/token/refresh/", json!({"refresh": first["refresh"]})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(a.profile(second["access"].as_str().unwrap()).await.0, StatusCode::OK);

    // Reuse of A's rotated token, presented to B, ends the session on A too.
    let (status, _) = b.post("/api/token/refresh/", json!({"refresh": first["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.profile(second["access"].as_str().unwrap()).await.0, StatusCode::UNAUTHORIZED);

    // Logout on A: B refuses that session's access token within a second, although B had
    // just seen the session live (on PostgreSQL B remembers it, and A's NOTIFY makes it forget).
    let pair = b.login("user2", "password2").await;
    let verify = json!({"token": pair["access"]});
    for _ in 0..3 {
        assert_eq!(b.post("/api/token/verify/", verify.clone()).await.0, StatusCode::OK);
    }
    let (status, _) = a.post("/api/token/blacklist/", json!({"refresh": pair["refresh"]})).await;
    assert_eq!(status, StatusCode::OK);
    let logged_out = std::time::Instant::now();
    while b.post("/api/token/verify/", verify.clone()).await.0 == StatusCode::OK {
        assert!(logged_out.elapsed() < Duration::from_secs(1), "B still accepts a logged-out session");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(b.profile(pair["access"].as_str().unwrap()).await.0, StatusCode::UNAUTHORIZED);

    // Sign out everywhere and disabling a user reach the other instance the same way.
    let tim = a.login("user2", "password2").await;
    assert_eq!(b.post("/api/token/verify/", json!({"token": tim["access"]})).await.0, StatusCode::OK);
    b.auth.set_disabled("user2", true).await.unwrap();
    let disabled = std::time::Instant::now();
    while a.post("/api/token/verify/", json!({"token": tim["access"]})).await.0 == StatusCode::OK {
        assert!(disabled.elapsed() < Duration::from_secs(1), "A still accepts a disabled user");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Both sign with the same key, and publish the same key set.
    assert_eq!(a.jwks().await, b.jwks().await);
}

#[tokio::test]
async fn a_key_rotated_on_one_instance_is_used_and_accepted_by_the_other_at_once() {
    let fleet = spawn_fleet(2, &[]).await;
    let (a, b) = (&fleet[0], &fleet[1]);
    let kid = a.auth.rotate_key().await.unwrap();
    let pair = a.login("user1", "password1").await;
    let header: Value = serde_json::from_slice(
        &B64.decode(pair["access"].as_str().unwrap().split('.').next().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], kid.as_str(), "A signs with the new key at once");
    assert_eq!(b.profile(pair["access"].as_str().unwrap()).await.0, StatusCode::OK, "B accepts it at once");
    let (status, next) = b.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await;
    assert_eq!(status, StatusCode::OK);
    let header: Value = serde_json::from_slice(
        &B64.decode(next["access"].as_str().unwrap().split('.').next().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], kid.as_str(), "and B now signs with it too");
    assert_eq!(a.jwks().await, b.jwks().await);
}

#[tokio::test]
async fn rate_limits_and_login_locks_are_shared_by_the_fleet() {
    let fleet = spawn_fleet(2, &["--login-rate-per-minute", "4", "--login-lock-base", "60"]).await;
    let (a, b) = (&fleet[0], &fleet[1]);
    for app in [a, b, a, b] {
        let (status, _) =
            app.post("/api/token/", json!({"username": "user1", "password": "password1"})).await;
        assert_eq!(status, StatusCode::OK);
    }
    for app in [a, b] {
        let (status, body) =
            app.post("/api/token/", json!({"username": "user1", "password": "password1"})).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "one budget per client across the fleet");
        assert_error_shape(&body, "throttled");
    }

    // Five failures spread over both instances lock the username on both.
    let fleet = spawn_fleet(2, &["--login-lock-base", "60"]).await;
    let (a, b) = (&fleet[0], &fleet[1]);
    for app in [a, b, a, b, a] {
        let (status, _) =
            app.post("/api/token/", json!({"username": "user2", "password": "wrong-one"})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = b.post("/api/token/", json!({"username": "user2", "password": "password2"})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "locked on B by failures on both");
}

#[tokio::test]
async fn on_postgresql_live_sessions_are_remembered_until_a_notify_says_otherwise() {
    use sqlx::Connection;
    let fleet = spawn_fleet(2, &[]).await;
    let (a, b) = (&fleet[0], &fleet[1]);
    let url = match &a.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}/app.db", a._data.path().display()),
    };
    let on_postgres = a.database_url.is_some();
    wait_until_following(&fleet).await;
    let pair = a.login("user1", "password1").await;
    let verify = json!({"token": pair["access"]});
    assert_eq!(b.post("/api/token/verify/", verify.clone()).await.0, StatusCode::OK);

    // Revoke the session behind the servers' backs, without telling anyone.
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&url).await.unwrap();
    sqlx::query("UPDATE sessions SET revoked_at = 1, revoked_reason = 'test'")
        .execute(&mut db)
        .await
        .unwrap();
    let (status, _) = b.post("/api/token/verify/", verify.clone()).await;
    if !on_postgres {
        assert_eq!(status, StatusCode::UNAUTHORIZED, "SQLite: every call asks the database");
        return;
    }
    assert_eq!(status, StatusCode::OK, "PostgreSQL: B answers from memory, not by polling the database");
    // Profile reads the user's data, and with it the truth.
    assert_eq!(b.profile(pair["access"].as_str().unwrap()).await.0, StatusCode::UNAUTHORIZED);

    // The broadcast every revocation sends makes B forget at once.
    let sid = claims(pair["access"].as_str().unwrap())["sid"].as_str().unwrap().to_owned();
    sqlx::query("SELECT pg_notify('leptos_auth_revocations', $1)")
        .bind(format!("s:{sid}"))
        .execute(&mut db)
        .await
        .unwrap();
    let notified = std::time::Instant::now();
    while b.post("/api/token/verify/", verify.clone()).await.0 == StatusCode::OK {
        assert!(notified.elapsed() < Duration::from_secs(1), "B ignored the notification");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
