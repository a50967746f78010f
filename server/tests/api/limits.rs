//! Abuse resistance: per-IP rate limits, per-username locks, timing.

use crate::helpers::*;

#[tokio::test]
async fn each_client_ip_gets_a_bucket_of_logins_and_then_429_with_retry_after() {
    let app = spawn_app_with(&["--login-rate-per-minute", "3"]).await;
    for password in ["password1", "wrong-one", "password1"] {
        let (status, _) = app.post("/api/token/", json!({"username": "user1", "password": password})).await;
        assert_ne!(status, StatusCode::TOO_MANY_REQUESTS);
    }
    // Spoofing X-Forwarded-For changes nothing: no proxy is trusted.
    let res = app
        .http
        .post(format!("{}/api/token/", app.base))
        .header("x-forwarded-for", "203.0.113.99")
        .json(&json!({"username": "user1", "password": "password1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=21).contains(&retry_after), "{retry_after}");
    assert_error_shape(&res.json().await.unwrap(), "throttled");

    // The browser's server function shares the same bucket and the same answer.
    let form = [("username", "user1"), ("password", "password1")];
    let res = app.http.post(format!("{}/rpc/login", app.base)).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn refresh_and_register_have_buckets_too() {
    let app = spawn_app_with(&["--refresh-rate-per-minute", "2", "--register-rate-per-minute", "1"]).await;
    let mut pair = app.login("user1", "password1").await;
    for _ in 0..2 {
        let (status, next) = app.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await;
        assert_eq!(status, StatusCode::OK);
        pair = next;
    }
    let (status, body) = app.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_error_shape(&body, "throttled");

    let form = |name: &str| {
        json!({"username": name, "password": "plenty long passphrase", "email": "a@example.com",
               "first_name": "A", "last_name": "B"})
    };
    assert_eq!(app.post("/api/register/", form("first")).await.0, StatusCode::CREATED);
    assert_eq!(app.post("/api/register/", form("second")).await.0, StatusCode::TOO_MANY_REQUESTS);
}

/// Five wrong passwords, then the account is locked for a growing time; unknown usernames
/// behave exactly the same, so the lock reveals nothing.
#[tokio::test]
async fn consecutive_failures_lock_the_username_whether_or_not_it_exists() {
    // A 5-second first lock: long enough that a slow machine still meets it.
    let app = spawn_app_with(&["--login-rate-per-minute", "0", "--login-lock-base", "5"]).await;
    for username in ["user1", "nobody"] {
        for attempt in 1..=5 {
            let (status, body) =
                app.post("/api/token/", json!({"username": username, "password": "guess"})).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{username} attempt {attempt}: {body}");
        }
        let res = app
            .http
            .post(format!("{}/api/token/", app.base))
            .json(&json!({"username": username, "password": "password1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "{username}: locked, even with the right password"
        );
        let retry_after: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=5).contains(&retry_after), "{retry_after}");
    }
    // Another account is not affected.
    app.login("user2", "password2").await;
    tokio::time::sleep(Duration::from_millis(5_100)).await;
    app.login("user1", "password1").await;
    // Success resets the count: one more failure is an ordinary 401, not a lock.
    let (status, _) = app.post("/api/token/", json!({"username": "user1", "password": "guess"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.login("user1", "password1").await;
}

#[tokio::test]
async fn unknown_user_and_wrong_password_take_about_as_long() {
    let app = spawn_app_with(&["--login-rate-per-minute", "0"]).await;
    // Interleaved, so a change in machine load hits both alike; and compared by their
    // fastest sample, since load (other tests run beside this one) only ever adds time.
    // A success every few rounds keeps user1 below the per-username lock; each unknown
    // name is used once.
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for round in 0..12 {
        if round % 4 == 3 {
            app.login("user1", "password1").await;
        }
        let nobody = format!("no-such-user-{round}");
        for (username, times) in [("user1", &mut known), (nobody.as_str(), &mut unknown)] {
            let start = std::time::Instant::now();
            let (status, _) =
                app.post("/api/token/", json!({"username": username, "password": "wrong"})).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            times.push(start.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let fastest = |t: Vec<f64>| t.into_iter().fold(f64::INFINITY, f64::min);
    let (known, unknown) = (fastest(known), fastest(unknown));
    let ratio = unknown / known;
    assert!((0.5..2.0).contains(&ratio), "known {known:.1} ms, unknown {unknown:.1} ms");
}

#[tokio::test]
async fn parallel_guesses_cannot_slip_past_the_lock() {
    let app = spawn_app_with(&["--login-rate-per-minute", "0", "--login-lock-base", "60"]).await;
    let results = futures::future::join_all(
        (0..20).map(|_| app.post("/api/token/", json!({"username": "user1", "password": "guess"}))),
    )
    .await;
    let checked = results.iter().filter(|(s, _)| *s == StatusCode::UNAUTHORIZED).count();
    let locked = results.iter().filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((checked, locked), (5, 15), "each attempt is counted before its password is checked");
}

/// A name no account can have is refused before anything is written: a flood of megabyte
/// usernames has nothing to fill the throttle table with (and PostgreSQL no index entry
/// too long to store, which was a 500).
#[tokio::test]
async fn a_username_no_account_can_have_is_refused_before_anything_is_written() {
    let app = spawn_app_with(&["--login-rate-per-minute", "0"]).await;
    let long = "a".repeat(10_000);
    // One ligature that NFKC turns into 18 characters: short as sent, too long as a key.
    let expands = "\u{FDFA}".repeat(20);
    for username in [long.as_str(), "has space", "nul\u{0}byte", expands.as_str(), ""] {
        let (status, body) =
            app.post("/api/token/", json!({"username": username, "password": "guess"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["field"], "username", "{body}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM login_throttle").await, 0);
    // A name that could exist is counted, whether or not it does.
    let (status, _) = app.post("/api/token/", json!({"username": "nobody", "password": "guess"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.count("SELECT COUNT(*) FROM login_throttle").await, 1);
}

#[tokio::test]
async fn the_throttle_table_is_bounded_and_keeps_locked_usernames_first() {
    let app = spawn_app_with(&[
        "--login-rate-per-minute",
        "0",
        "--login-lock-base",
        "60",
        "--login-throttle-max-rows",
        "3",
    ])
    .await;
    let guess =
        |username: &'static str| app.post("/api/token/", json!({"username": username, "password": "x"}));
    for _ in 0..5 {
        guess("user1").await;
    }
    for username in ["n1", "n2", "n3", "n4", "n5"] {
        guess(username).await;
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM login_throttle").await, 6);
    app.auth.prune().await.unwrap();
    assert_eq!(app.count("SELECT COUNT(*) FROM login_throttle").await, 3);
    let (status, _) = app.post("/api/token/", json!({"username": "user1", "password": "password1"})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "the locked username is still locked");
}

/// Anyone can lock a username by guessing; that must not also lock its owner, signed in with
/// the right current password, out of changing the password.
#[tokio::test]
async fn a_locked_username_does_not_stop_its_signed_in_owner_changing_the_password() {
    let app = spawn_app_with(&["--login-rate-per-minute", "0", "--login-lock-base", "60"]).await;
    let pair = app.login("user1", "password1").await;
    for _ in 0..5 {
        app.post("/api/token/", json!({"username": "user1", "password": "a stranger's guess"})).await;
    }
    let (status, _) = app.post("/api/token/", json!({"username": "user1", "password": "password1"})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "locked for logins");

    let change =
        |current: &str| json!({"current_password": current, "new_password": "violet kettle drums 42"});
    let (status, body) =
        app.send(reqwest::Method::POST, "/api/password/", &pair["access"], Some(change("password1"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.login("user1", "violet kettle drums 42").await;

    // Whoever holds a session still can't guess the current password freely.
    let pair = app.login("user1", "violet kettle drums 42").await;
    for _ in 0..5 {
        let (status, _) = app
            .send(reqwest::Method::POST, "/api/password/", &pair["access"], Some(change("wrong guess")))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let (status, _) = app
        .send(
            reqwest::Method::POST,
            "/api/password/",
            &pair["access"],
            Some(change("violet kettle drums 42")),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

/// On a dual-stack listener IPv4 clients arrive as `::ffff:a.b.c.d`; they are recorded (and
/// rate-limited) as the IPv4 addresses they are.
#[tokio::test]
async fn ipv4_clients_of_a_dual_stack_listener_are_seen_as_ipv4() {
    let app = spawn_app_with(&["--addr", "[::ffff:127.0.0.1]:0"]).await;
    let pair = app.login("user1", "password1").await;
    let (status, sessions) = app.send(reqwest::Method::GET, "/api/sessions/", &pair["access"], None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sessions[0]["ip"], "127.0.0.1", "{sessions}");
}
