//! Verifying an address and resetting a password through mailed links, with a real SMTP
//! server (`smtp::SmtpSink`) receiving the mail.

use crate::helpers::*;
use crate::smtp::SmtpSink;

/// The app with its mail going to a fresh SMTP sink.
pub async fn app_with_mail(extra: &[&str]) -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let mut args = vec!["--smtp-url", url.as_str()];
    if !extra.contains(&"--public-url") {
        args.extend_from_slice(&["--public-url", "https://auth.example.test"]);
    }
    args.extend_from_slice(extra);
    (spawn_app_with(&args).await, sink)
}

pub async fn register(app: &TestApp, username: &str, email: &str) {
    let (status, body) = app
        .post(
            "/api/register/",
            json!({"username": username, "password": "plenty long passphrase", "email": email,
                   "first_name": "Ada", "last_name": "Lovelace"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn registration_mails_a_link_that_verifies_the_address_once() {
    let (app, sink) = app_with_mail(&[]).await;
    register(&app, "ada", "Ada@Example.com").await;
    let mail = sink.wait_for("Ada@Example.com", 1).await.remove(0);
    assert!(mail.subject.contains("Confirm your email address"), "{}", mail.subject);
    assert!(mail.text.contains("24 hours") && mail.text.contains("Leptos Auth"), "{}", mail.text);
    assert!(mail.html.contains("<a href=\"https://auth.example.test/verify-email?token="), "{}", mail.html);
    let token = mail.token("verify-email");
    assert!(mail.text.contains(&format!("https://auth.example.test/verify-email?token={token}")));
    assert!(token.len() >= 43, "at least 256 bits, base64url: {token}");

    let tokens = app.login("ada", "plenty long passphrase").await;
    let (_, profile) = app.profile(tokens["access"].as_str().unwrap()).await;
    assert_eq!((profile["email_verified"].clone(), profile["mfa"].clone()), (json!(false), json!(false)));

    let (status, body) = app.post("/api/email/verify/", json!({"token": token})).await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));
    let (_, profile) = app.profile(tokens["access"].as_str().unwrap()).await;
    assert_eq!(profile["email_verified"], true);

    let (status, body) = app.post("/api/email/verify", json!({"token": token})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error_shape(&body, "invalid_token");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM mail_tokens").await,
        0,
        "only a hash was kept, and it is gone"
    );
}

#[tokio::test]
async fn demo_users_are_verified_and_addresses_are_unique_without_case() {
    let (app, _sink) = app_with_mail(&[]).await;
    let tokens = app.login("user1", "password1").await;
    let (_, profile) = app.profile(tokens["access"].as_str().unwrap()).await;
    assert_eq!(profile["email_verified"], true);
    let (status, body) = app
        .post(
            "/api/register/",
            json!({"username": "sam2", "password": "plenty long passphrase", "email": " SAM@example.COM",
                   "first_name": "Sam", "last_name": "Two"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error_shape(&body, "email_taken");
    assert_eq!(body["field"], "email");
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 2, "nothing half-written");
}

#[tokio::test]
async fn a_resent_link_supersedes_the_older_and_links_expire() {
    let (app, sink) = app_with_mail(&[]).await;
    register(&app, "ada", "ada@example.com").await;
    let tokens = app.login("ada", "plenty long passphrase").await;
    let access = &tokens["access"];
    let (status, body) = app.send(reqwest::Method::POST, "/api/email/verify/resend/", access, None).await;
    assert_eq!((status, body), (StatusCode::ACCEPTED, json!({})));
    let mails = sink.wait_for("ada@example.com", 2).await;
    let (older, newer) = (mails[0].token("verify-email"), mails[1].token("verify-email"));
    assert_ne!(older, newer);
    let (status, body) = app.post("/api/email/verify/", json!({"token": older})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "superseded");
    assert_error_shape(&body, "invalid_token");

    // A verification token is not a reset token.
    let (status, body) = app
        .post(
            "/api/password/reset/confirm/",
            json!({"token": newer, "new_password": "another long passphrase"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error_shape(&body, "invalid_token");

    app.exec("UPDATE mail_tokens SET expires_at = 1").await;
    let (status, _) = app.post("/api/email/verify/", json!({"token": newer})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "expired");
    for bad in [json!({"token": ""}), json!({"token": "x".repeat(5000)}), json!({"token": "a\u{0}b"})] {
        let (status, body) = app.post("/api/email/verify/", bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_error_shape(&body, "invalid_token");
    }
}

#[tokio::test]
async fn a_reset_answers_the_same_for_unknown_addresses_and_mails_only_known_ones() {
    let (app, sink) =
        app_with_mail(&["--mail-rate-per-minute", "0", "--mail-per-address-per-hour", "0"]).await;
    let (known_status, known_body) =
        app.post("/api/password/reset/", json!({"email": "SAM@example.com"})).await;
    let (unknown_status, unknown_body) =
        app.post("/api/password/reset/", json!({"email": "nobody@example.com"})).await;
    assert_eq!(known_status, StatusCode::ACCEPTED);
    assert_eq!((known_status, &known_body), (unknown_status, &unknown_body));
    assert!(known_body["detail"].as_str().is_some_and(|d| d.contains("If an account uses that address")));
    let mail = sink.wait_for_subject("sam@example.com", "Reset your password").await;
    assert!(mail.text.contains("1 hour"), "{}", mail.text);
    mail.token("reset-password");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sink.mails_to("nobody@example.com").is_empty());

    // Asking again at once does not void the link just mailed (anyone can ask).
    let (status, _) = app.post("/api/password/reset/", json!({"email": "sam@example.com"})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.mails_to("sam@example.com").len(), 1, "no second link within ten minutes");
    assert_eq!(app.count("SELECT COUNT(*) FROM mail_tokens WHERE purpose = 'reset_password'").await, 1);

    let (status, body) = app.post("/api/password/reset/", json!({"email": "not an address"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "email");

    // About the same time (the login timing test's method and tolerance).
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for round in 0..16 {
        let nobody = format!("nobody-{round}@example.com");
        for (email, times) in [("sam@example.com", &mut known), (nobody.as_str(), &mut unknown)] {
            let start = std::time::Instant::now();
            let (status, _) = app.post("/api/password/reset/", json!({"email": email})).await;
            assert_eq!(status, StatusCode::ACCEPTED);
            times.push(start.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let fastest = |t: Vec<f64>| t.into_iter().fold(f64::INFINITY, f64::min);
    let (known, unknown) = (fastest(known), fastest(unknown));
    assert!((0.5..2.0).contains(&(unknown / known)), "known {known:.2} ms, unknown {unknown:.2} ms");
}

#[tokio::test]
async fn reset_ends_every_session_on_every_instance_and_verifies_the_address() {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let fleet = spawn_fleet(2, &["--smtp-url", &url]).await;
    wait_until_following(&fleet).await;
    let (a, b) = (&fleet[0], &fleet[1]);
    register(a, "ada", "ada@example.com").await;
    let on_a = a.login("ada", "plenty long passphrase").await;
    let on_b = b.login("ada", "plenty long passphrase").await;
    // Both instances have seen the sessions live (and may remember so).
    for (app, tokens) in [(a, &on_a), (b, &on_b), (a, &on_b), (b, &on_a)] {
        assert_eq!(app.profile(tokens["access"].as_str().unwrap()).await.0, StatusCode::OK);
    }
    let (status, _) = b.post("/api/password/reset/", json!({"email": "ada@example.com"})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let token = sink.wait_for_subject("ada@example.com", "Reset your password").await.token("reset-password");

    // The policy refuses a weak password, and the link stays good.
    let (status, body) =
        a.post("/api/password/reset/confirm/", json!({"token": token, "new_password": "password"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "new_password", "{body}");
    let (status, body) = a
        .post(
            "/api/password/reset/confirm/",
            json!({"token": token, "new_password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));

    for app in [a, b] {
        for tokens in [&on_a, &on_b] {
            assert_eq!(app.profile(tokens["access"].as_str().unwrap()).await.0, StatusCode::UNAUTHORIZED);
            let (status, _) = app.post("/api/token/refresh/", json!({"refresh": tokens["refresh"]})).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
    }
    let (status, _) =
        a.post("/api/token/", json!({"username": "ada", "password": "plenty long passphrase"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old password is gone");
    let fresh = b.login("ada", "a brand new passphrase").await;
    let (_, profile) = b.profile(fresh["access"].as_str().unwrap()).await;
    assert_eq!(profile["email_verified"], true, "the reset link proved the address");
    let (status, _) = a
        .post(
            "/api/password/reset/confirm/",
            json!({"token": token, "new_password": "yet another passphrase"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "single use");
    sink.wait_for_subject("ada@example.com", "Your password was reset").await;
}

#[tokio::test]
async fn mail_is_retried_when_the_server_refuses_at_first_and_a_fleet_sends_each_once() {
    let sink = SmtpSink::start().await;
    sink.refuse_next(2);
    let url = sink.url();
    let fleet = spawn_fleet(2, &["--smtp-url", &url, "--register-rate-per-minute", "0"]).await;
    let started = std::time::Instant::now();
    register(&fleet[0], "ada", "ada@example.com").await;
    assert!(started.elapsed() < Duration::from_secs(2), "the request does not wait on SMTP");
    let mail = sink.wait_for("ada@example.com", 1).await.remove(0);
    mail.token("verify-email");

    for i in 0..6 {
        register(&fleet[i % 2], &format!("user-{i}"), &format!("u{i}@example.com")).await;
    }
    for i in 0..6 {
        sink.wait_for(&format!("u{i}@example.com"), 1).await;
    }
    // Both instances poll every 2 s; give a duplicate time to show up.
    tokio::time::sleep(Duration::from_millis(4500)).await;
    assert_eq!(sink.count(), 7, "each mail exactly once");
    assert_eq!(fleet[0].count("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").await, 0);
    assert_eq!(
        fleet[0].count("SELECT COUNT(*) FROM outbox WHERE text_body <> ''").await,
        0,
        "sent links are erased"
    );
}

#[tokio::test]
async fn without_smtp_mail_is_written_to_files() {
    let app = spawn_app().await;
    register(&app, "ada", "ada@example.com").await;
    let folder = app._data.path().join("mail");
    let started = std::time::Instant::now();
    let eml = loop {
        let found = std::fs::read_dir(&folder)
            .unwrap()
            .filter_map(Result::ok)
            .find(|e| e.path().extension().is_some_and(|x| x == "eml"));
        if let Some(entry) = found {
            break std::fs::read_to_string(entry.path()).unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no .eml file in {}", folder.display());
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let mail = crate::smtp::parse("ada@example.com", eml.as_bytes());
    assert!(eml.contains("To: ada@example.com"), "{eml}");
    assert!(mail.token("verify-email").len() >= 43, "{}", mail.text);
}

#[tokio::test]
async fn accounts_from_before_keep_working_when_two_share_an_address() {
    let app = spawn_app().await;
    // Two accounts made before addresses were compared, one address between them.
    app.exec("UPDATE profiles SET email_key = NULL").await;
    app.exec("UPDATE profiles SET email = 'SAM@example.com' WHERE email = 'tim@example.com'").await;
    // The next start gives each its key; the second holder is reported, not refused.
    let again = spawn_instance(app._data.clone(), app.database_url.as_deref(), &[]).await;
    again.login("user1", "password1").await;
    again.login("user2", "password2").await;
    assert_eq!(again.count("SELECT COUNT(*) FROM profiles WHERE email_key = 'sam@example.com'").await, 1);
    assert_eq!(again.count("SELECT COUNT(*) FROM profiles WHERE email_key IS NULL").await, 1);
}

#[tokio::test]
async fn over_an_address_budget_a_reset_answers_the_same_and_sends_nothing() {
    let (app, sink) =
        app_with_mail(&["--mail-rate-per-minute", "0", "--mail-per-address-per-hour", "1"]).await;
    let first = app.post("/api/password/reset/", json!({"email": "tim@example.com"})).await;
    sink.wait_for_subject("tim@example.com", "Reset your password").await;
    app.exec("DELETE FROM mail_tokens").await; // so only the budget can stop the second
    let second = app.post("/api/password/reset/", json!({"email": "tim@example.com"})).await;
    assert_eq!(first, second, "no 429 a stranger could use to keep the owner from asking");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.mails_to("tim@example.com").len(), 1);
}
