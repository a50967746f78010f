//! Changing the address, deleting the account, recent re-authentication and the security
//! mail they send, with a real SMTP server receiving it.

use crate::helpers::*;
use crate::recovery::{app_with_mail, register};
use reqwest::Method;

#[tokio::test]
async fn an_address_changes_only_when_the_new_one_is_proved() {
    let (app, sink) = app_with_mail(&[]).await;
    let tokens = app.login("user1", "password1").await;
    let access = &tokens["access"];
    let change = |body: Value| app.send(Method::POST, "/api/email/change/", access, Some(body));

    let (status, body) = change(json!({"new_email": "samuel@example.org", "password": "wrong"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error_shape(&body, "invalid_password");
    assert_eq!(body["field"], "password");
    let (status, body) = change(json!({"new_email": "TIM@example.com", "password": "password1"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "user2's address");
    assert_error_shape(&body, "email_taken");
    let (status, body) = change(json!({"new_email": "no at sign", "password": "password1"})).await;
    assert_eq!((status, body["field"].clone()), (StatusCode::BAD_REQUEST, json!("new_email")));

    let (status, body) = change(json!({"new_email": "samuel@example.org", "password": "password1"})).await;
    assert_eq!((status, body), (StatusCode::ACCEPTED, json!({})));
    let link = sink.wait_for_subject("samuel@example.org", "Confirm your new email address").await;
    let notice = sink.wait_for_subject("sam@example.com", "about to change").await;
    assert!(notice.text.contains("samuel@example.org"), "{}", notice.text);
    let (_, profile) = app.profile(access.as_str().unwrap()).await;
    assert_eq!(profile["email"], "sam@example.com", "nothing changes before the link is used");

    let (status, _) = app.post("/api/email/verify/", json!({"token": link.token("verify-email")})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, profile) = app.profile(access.as_str().unwrap()).await;
    assert_eq!(
        (profile["email"].clone(), profile["email_verified"].clone()),
        (json!("samuel@example.org"), json!(true))
    );
    let changed = sink.wait_for_subject("sam@example.com", "was changed").await;
    assert!(changed.text.contains("samuel@example.org"));
    // The old address is free again, and resets now go to the new one.
    let (status, _) = app.post("/api/password/reset/", json!({"email": "samuel@example.org"})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    sink.wait_for_subject("samuel@example.org", "Reset your password").await;
}

#[tokio::test]
async fn sensitive_changes_need_a_recent_password() {
    let (app, sink) = app_with_mail(&[]).await;
    let tokens = app.login("user1", "password1").await;
    let access = &tokens["access"];
    // A password sent is checked, an empty one too, even inside the window.
    let (status, body) = app
        .send(
            Method::POST,
            "/api/email/change/",
            access,
            Some(json!({"new_email": "a@example.org", "password": ""})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error_shape(&body, "invalid_password");
    // Just signed in: recent enough without the password.
    let (status, _) = app
        .send(Method::POST, "/api/email/change/", access, Some(json!({"new_email": "a@example.org"})))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // Eleven minutes later (as far as the session knows).
    app.exec("UPDATE sessions SET auth_at = auth_at - 660").await;
    let (status, body) = app
        .send(Method::POST, "/api/email/change/", access, Some(json!({"new_email": "b@example.org"})))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error_shape(&body, "reauthentication_required");
    let (status, body) = app.send(Method::DELETE, "/api/account/", access, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error_shape(&body, "reauthentication_required");
    assert_eq!(app.profile(access.as_str().unwrap()).await.0, StatusCode::OK, "still signed in");

    let (status, body) =
        app.send(Method::POST, "/api/reauthenticate/", access, Some(json!({"password": "nope"}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error_shape(&body, "invalid_password");
    let (status, body) =
        app.send(Method::POST, "/api/reauthenticate/", access, Some(json!({"password": "password1"}))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["reauthenticated_until"].as_u64().is_some(), "{body}");
    let (status, _) = app
        .send(Method::POST, "/api/email/change/", access, Some(json!({"new_email": "b@example.org"})))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // Only the newest change link works.
    let first = sink.wait_for("a@example.org", 1).await.remove(0).token("verify-email");
    let (status, _) = app.post("/api/email/verify/", json!({"token": first})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn deleting_the_account_ends_everything_and_frees_the_name() {
    let (app, sink) = app_with_mail(&[]).await;
    register(&app, "ada", "ada@example.com").await;
    let tokens = app.login("ada", "plenty long passphrase").await;
    let other = app.login("ada", "plenty long passphrase").await;
    let access = &tokens["access"];
    let (status, body) =
        app.send(Method::DELETE, "/api/account/", access, Some(json!({"password": "wrong"}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error_shape(&body, "invalid_password");

    let (status, _) = app
        .send(Method::DELETE, "/api/account/", access, Some(json!({"password": "plenty long passphrase"})))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for t in [&tokens, &other] {
        assert_eq!(app.profile(t["access"].as_str().unwrap()).await.0, StatusCode::UNAUTHORIZED);
        let (status, _) = app.post("/api/token/refresh/", json!({"refresh": t["refresh"]})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) =
        app.post("/api/token/", json!({"username": "ada", "password": "plenty long passphrase"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    sink.wait_for_subject("ada@example.com", "Your account was deleted").await;
    for table in [
        "SELECT COUNT(*) FROM profiles WHERE email_key = 'ada@example.com'",
        "SELECT COUNT(*) FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = s.user_id)",
        "SELECT COUNT(*) FROM known_devices d WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = d.user_id)",
    ] {
        assert_eq!(app.count(table).await, 0, "{table}");
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE event = 'account_deleted'").await,
        1,
        "tombstone"
    );
    register(&app, "ada", "ada@example.com").await;
}

#[tokio::test]
async fn a_password_change_and_a_sign_in_from_a_new_browser_are_mailed() {
    let (app, sink) = app_with_mail(&[]).await;
    let app = &app;
    let sign_in = |ua: &'static str| async move {
        let res = app
            .http
            .post(format!("{}/api/token/", app.base))
            .header("user-agent", ua)
            .json(&json!({"username": "user2", "password": "password2"}))
            .send()
            .await
            .unwrap();
        TestApp::read(res).await
    };
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Version/18.0 Mobile/15E148 Safari/604.1";
    let (_, tokens) = sign_in(firefox).await;
    sign_in(firefox).await;
    let (status, _) = sign_in(safari).await;
    assert_eq!(status, StatusCode::OK);
    let mail = sink.wait_for_subject("tim@example.com", "New sign-in").await;
    assert!(mail.text.contains("Safari on iOS") && mail.text.contains("/security"), "{}", mail.text);
    sign_in(safari).await;

    assert_eq!(
        app.change_password(&tokens["access"], "password2", "a much better passphrase").await,
        StatusCode::OK
    );
    sink.wait_for_subject("tim@example.com", "Your password was changed").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let subjects: Vec<String> = sink.mails_to("tim@example.com").into_iter().map(|m| m.subject).collect();
    assert_eq!(subjects.len(), 2, "the first browser, and a browser seen before, are not news: {subjects:?}");
}
