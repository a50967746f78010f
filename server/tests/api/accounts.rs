//! Registration, usernames, passwords, profiles, the audit log and the admin operations.

use crate::helpers::*;

#[tokio::test]
async fn usernames_are_matched_without_regard_to_case() {
    let app = spawn_app().await;
    app.login("USER1", "password1").await;
}

#[tokio::test]
async fn register_creates_an_account_that_can_log_in() {
    let app = spawn_app().await;
    let form = json!({
        "username": "ada", "password": "analytical engine",
        "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"
    });
    let (status, body) = app.post("/api/register/", form.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body,
        json!({"username": "ada", "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
               "email_verified": false, "mfa": false})
    );
    let pair = app.login("ada", "analytical engine").await;
    let (_, profile) = app.profile(pair["access"].as_str().unwrap()).await;
    assert_eq!(profile["last_name"], "Lovelace");

    let (status, body) = app.post("/api/register/", form).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error_shape(&body, "username_taken");
    let (status, _) = app
        .post(
            "/api/register/",
            json!({"username": "ADA", "password": "quite something else 7", "email": "a@example.com",
                   "first_name": "A", "last_name": "B"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "case variants are the same account");
}

#[tokio::test]
async fn register_explains_invalid_input_and_stores_nothing() {
    let app = spawn_app_with(&["--register-rate-per-minute", "0"]).await;
    let base = json!({
        "username": "grace", "password": "cobol rules ok since 1959",
        "email": "grace@example.com", "first_name": "Grace", "last_name": "Hopper"
    });
    for (field, value) in [
        ("username", json!("")),
        ("username", json!("has space")),
        ("password", json!("short")),
        ("password", json!("grace")),
        ("email", json!("not-an-email")),
        ("first_name", json!("  ")),
    ] {
        let mut form = base.clone();
        form[field] = value;
        let (status, body) = app.post("/api/register/", form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {body}");
        assert_error_shape(&body, "invalid");
        assert_eq!(body["field"], field);
    }
    // None of those left a half-made account behind.
    let (status, _) = app.post("/api/register/", base).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn password_change_needs_the_current_password_and_ends_other_sessions() {
    let app = spawn_app().await;
    let here = app.login("user1", "password1").await;
    let elsewhere = app.login("user1", "password1").await;
    let change = |current: &str, new: &str| json!({"current_password": current, "new_password": new});

    let (status, body) = app
        .send(
            reqwest::Method::POST,
            "/api/password/",
            &here["access"],
            Some(change("wrong", "brand new passphrase 42")),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "current_password");
    let (status, body) = app
        .send(reqwest::Method::POST, "/api/password/", &here["access"], Some(change("password1", "short")))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "new_password");
    let (status, _) = app.profile(elsewhere["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "refused changes end nothing");

    let (status, _) = app
        .send(
            reqwest::Method::POST,
            "/api/password/",
            &here["access"],
            Some(change("password1", "brand new passphrase 42")),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.profile(elsewhere["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "other sessions end");
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": elsewhere["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": here["refresh"]})).await;
    assert_eq!(status, StatusCode::OK, "this one goes on");

    let (status, _) = app.post("/api/token/", json!({"username": "user1", "password": "password1"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.login("user1", "brand new passphrase 42").await;
}

#[tokio::test]
async fn a_disabled_user_is_signed_out_at_once_and_cannot_log_in() {
    let app = spawn_app().await;
    let pair = app.login("user1", "password1").await;
    app.auth.set_disabled("user1", true).await.unwrap();
    let (status, _) = app.profile(pair["access"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let refused = app.post("/api/token/", json!({"username": "user1", "password": "password1"})).await;
    let unknown = app.post("/api/token/", json!({"username": "nobody", "password": "password1"})).await;
    assert_eq!(refused, unknown, "a disabled account looks like no account");

    app.auth.set_disabled("user1", false).await.unwrap();
    app.login("user1", "password1").await;
    assert!(app.auth.set_disabled("nobody", true).await.is_err());
}

#[tokio::test]
async fn look_alike_twins_of_a_username_are_the_same_account() {
    let app = spawn_app().await;
    for twin in ["USER1", "ｕｓｅｒ1", "Ｕser１"] {
        let (status, body) = app
            .post(
                "/api/register/",
                json!({"username": twin, "password": "plenty long passphrase", "email": "t@example.com",
                       "first_name": "T", "last_name": "W"}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{twin}: {body}");
    }
    app.login("ｕｓｅｒ1", "password1").await;
}

#[tokio::test]
async fn common_or_personal_passwords_are_refused_with_what_to_change() {
    let app = spawn_app_with(&["--register-rate-per-minute", "0"]).await;
    for (password, first_name) in
        [("password123", "Ada"), ("qwertyuiop", "Ada"), ("lovelace1815", "Lovelace")]
    {
        let (status, body) = app
            .post(
                "/api/register/",
                json!({"username": "ada", "password": password, "email": "ada@example.com",
                       "first_name": first_name, "last_name": "Lovelace"}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{password}: {body}");
        assert_eq!(body["field"], "password");
        assert!(body["detail"].as_str().unwrap().contains("too easy to guess"), "{body}");
    }
    let long = "a fine long passphrase ".repeat(4);
    let (status, _) = app
        .post(
            "/api/register/",
            json!({"username": "ada", "password": long, "email": "ada@example.com",
                   "first_name": "Ada", "last_name": "Lovelace"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "a 92-character passphrase is accepted, whole");
    let (status, _) = app.post("/api/token/", json!({"username": "ada", "password": &long[..91]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no truncation: every character counts");
    app.login("ada", &long).await;
}

#[tokio::test]
async fn the_audit_log_records_what_happened_to_an_account_newest_first() {
    let app = spawn_app_with(&["--refresh-grace-period", "0"]).await;
    app.post("/api/token/", json!({"username": "user1", "password": "wrong"})).await;
    let pair = app.login("user1", "password1").await;
    let (_, rotated) = app.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await;
    app.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await; // reuse
    let other = app.login("user1", "password1").await;
    app.post("/api/token/blacklist/", json!({"refresh": other["refresh"]})).await;
    app.auth.set_disabled("user1", true).await.unwrap();

    let events: Vec<String> =
        app.auth.audit_log("user1", 50).await.unwrap().into_iter().map(|e| e.event).collect();
    let expected = [
        "user_disabled",
        "logged_out",
        "login_succeeded",
        "refresh_reuse_detected",
        "token_refreshed",
        "login_succeeded",
        "login_failed",
        "account_created",
    ];
    assert_eq!(events, expected);
    let session = claims(rotated["refresh"].as_str().unwrap())["sid"].clone();
    let entries = app.auth.audit_log("user1", 50).await.unwrap();
    let reuse = entries.iter().find(|e| e.event == "refresh_reuse_detected").unwrap();
    assert_eq!(Some(session.as_str().unwrap()), reuse.session_id.as_deref());
    assert_eq!(reuse.ip.as_deref(), Some("127.0.0.1"));
    assert!(app.auth.audit_log("nobody", 5).await.is_err());
}

#[tokio::test]
async fn only_admins_may_list_disable_and_enable_accounts() {
    let app = spawn_app().await;
    let form = app::api::NewAccount {
        username: "boss".into(),
        password: "a long admin passphrase for tests".into(),
        email: "boss@example.com".into(),
        first_name: "Grace".into(),
        last_name: "Hopper".into(),
    };
    app.auth.create_user(form, app::api::Role::Admin).await.unwrap();
    let admin = app.login("boss", "a long admin passphrase for tests").await;
    let sam = app.login("user1", "password1").await;
    let tim = app.login("user2", "password2").await;
    let rpc = |endpoint: &'static str, form: Vec<(&'static str, String)>| {
        let req = app.http.post(format!("{}/rpc/{endpoint}", app.base)).form(&form);
        async move { TestApp::read(req.send().await.unwrap()).await }
    };
    let access = |pair: &Value| pair["access"].as_str().unwrap().to_owned();

    let (status, users) = rpc("admin_users", vec![("access", access(&admin))]).await;
    assert_eq!(status, StatusCode::OK, "{users}");
    let mut listed: Vec<(&str, &str, bool)> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (u["username"].as_str().unwrap(), u["role"].as_str().unwrap(), u["disabled"].as_bool().unwrap())
        })
        .collect();
    listed.sort();
    assert_eq!(listed, [("boss", "admin", false), ("user1", "user", false), ("user2", "user", false)]);

    // A signed-in non-admin is refused with 403 whatever the client does; no token is 401.
    for (endpoint, extra) in
        [("admin_users", vec![]), ("admin_set_disabled", vec![("username", "user1"), ("disabled", "true")])]
    {
        let mut form = vec![("access", access(&tim))];
        form.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        let (status, body) = rpc(endpoint, form).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{endpoint}: {body}");
        assert_error_shape(&body, "permission_denied");
    }
    let (status, _) = rpc("admin_users", vec![("access", "not-a-token".into())]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.profile(&access(&sam)).await.0, StatusCode::OK, "user1 untouched by the refused call");

    // Disabling ends the user's sessions at once and stops their logins; enabling restores.
    let disable = |username: &'static str, disabled: &'static str| {
        rpc(
            "admin_set_disabled",
            vec![("access", access(&admin)), ("username", username.into()), ("disabled", disabled.into())],
        )
    };
    assert_eq!(disable("user1", "true").await.0, StatusCode::OK);
    assert_eq!(app.profile(&access(&sam)).await.0, StatusCode::UNAUTHORIZED);
    let (status, _) = app.post("/api/token/", json!({"username": "user1", "password": "password1"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, users) = rpc("admin_users", vec![("access", access(&admin))]).await;
    let user1 = users.as_array().unwrap().iter().find(|u| u["username"] == "user1").unwrap();
    assert_eq!(user1["disabled"], true);
    assert_eq!(disable("user1", "false").await.0, StatusCode::OK);
    app.login("user1", "password1").await;

    let (status, body) = disable("BOSS", "true").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no admin disables themselves: {body}");
    assert_eq!(disable("nobody", "true").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn users_edit_their_own_profile_by_the_registration_rules() {
    let app = spawn_app().await;
    let sam = app.login("user1", "password1").await;
    let tim = app.login("user2", "password2").await;
    let update = |pair: &Value, first: &str, last: &str| {
        let form = [
            ("access", pair["access"].as_str().unwrap().to_owned()),
            ("first_name", first.to_owned()),
            ("last_name", last.to_owned()),
        ];
        let req = app.http.post(format!("{}/rpc/update_profile", app.base)).form(&form);
        async move { TestApp::read(req.send().await.unwrap()).await }
    };

    let (status, body) = update(&sam, "  Samuel ", "Smith").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"username": "user1", "first_name": "Samuel", "last_name": "Smith", "email": "sam@example.com",
               "email_verified": true, "mfa": false})
    );
    let (_, shown) = app.profile(sam["access"].as_str().unwrap()).await;
    assert_eq!(shown, body, "stored, trimmed, and what the profile now shows");
    let (_, other) = app.profile(tim["access"].as_str().unwrap()).await;
    assert_eq!(other["first_name"], "Tim", "nobody else's profile changes");

    for (first, last, field) in [("", "Smith", "first_name"), ("Sam", " ", "last_name")] {
        let (status, body) = update(&sam, first, last).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_error_shape(&body, "invalid");
        assert_eq!(body["field"], field);
    }
    let (_, shown) = app.profile(sam["access"].as_str().unwrap()).await;
    assert_eq!(shown["first_name"], "Samuel", "a refused edit changes nothing");
    let (status, _) = update(&json!({"access": "forged"}), "A", "B").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// PostgreSQL cannot store a NUL (it was a 500 there): every text input refuses control
/// characters with a 400 naming its field, on both databases, and stores nothing.
#[tokio::test]
async fn control_characters_in_any_text_input_are_refused_with_the_fields_name() {
    let app = spawn_app().await;
    let form = |field: &str| {
        let mut form = json!({"username": "newbie", "password": "plenty long passphrase",
                              "email": "new@example.com", "first_name": "New", "last_name": "Bie"});
        form[field] = json!(format!("{}\u{0}x", form[field].as_str().unwrap()));
        form
    };
    for field in ["username", "email", "first_name", "last_name"] {
        let (status, body) = app.post("/api/register/", form(field)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {body}");
        assert_eq!(body["field"], field, "{body}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 2, "only the demo users");

    let (status, body) = app.post("/api/token/", json!({"username": "user\u{0}1", "password": "x"})).await;
    assert_eq!((status, &body["field"]), (StatusCode::BAD_REQUEST, &json!("username")), "{body}");

    let pair = app.login("user1", "password1").await;
    let (status, body) =
        app.send(reqwest::Method::DELETE, "/api/sessions/abc%00def/", &pair["access"], None).await;
    assert_eq!((status, &body["field"]), (StatusCode::BAD_REQUEST, &json!("session_id")), "{body}");

    let access = pair["access"].as_str().unwrap();
    let edit = [("access", access), ("first_name", "Sam\u{0}"), ("last_name", "Smith")];
    let res = app.http.post(format!("{}/rpc/update_profile", app.base)).form(&edit).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.json::<Value>().await.unwrap()["field"], "first_name");
    let (_, profile) = app.profile(access).await;
    assert_eq!(profile["first_name"], "Sam", "nothing was changed");
}

/// NFKC folds widths and ligatures, not look-alikes from other alphabets (UTS #39).
#[tokio::test]
async fn confusable_twins_and_mixed_script_usernames_are_refused() {
    let app = spawn_app().await;
    let register = |username: &str| {
        // Addresses must differ too; the two names that get as far as that check do in length.
        let email = format!("t{}@example.com", username.len());
        app.post(
            "/api/register/",
            json!({"username": username, "password": "plenty long passphrase", "email": email,
                   "first_name": "T", "last_name": "W"}),
        )
    };
    // A Cyrillic ѕ in a Latin name: refused whatever else exists.
    let (status, body) = register("u\u{0455}er1").await;
    assert_eq!((status, &body["field"]), (StatusCode::BAD_REQUEST, &json!("username")), "{body}");
    // Look-alikes of an existing name: a digit for a letter, another alphabet altogether.
    let (status, body) = register("userl").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(register("ace").await.0, StatusCode::CREATED);
    let (status, body) = register("\u{0430}\u{0441}\u{0435}").await;
    assert_eq!(status, StatusCode::CONFLICT, "all-Cyrillic twin of ace: {body}");
    assert_eq!(register("user3").await.0, StatusCode::CREATED, "a different name is fine");
}
