//! Signing in through an OpenID Connect provider, against a real one (`oidc_provider.rs`):
//! the first sign-in makes an account and later ones sign in to it, `next` survives the
//! round trip, an address an account here already has is never linked by itself, and a
//! tampered, replayed or unfinishable callback signs no one in and creates nothing.

use crate::helpers::*;
use crate::oidc_provider::{Browser, OidcProvider, PUBLIC_URL};

async fn app_with(op: &OidcProvider) -> TestApp {
    spawn_app_with_oidc(&["--oidc-providers", "test", "--public-url", PUBLIC_URL], op.settings("test")).await
}

/// Where the callback sent the browser: the login page's `next`, and the hand-over token
/// or `provider_error`.
struct Landing {
    next: String,
    handoff: Option<String>,
    error: Option<String>,
}

async fn land(browser: &mut Browser, callback: &str) -> Landing {
    let (status, location) = browser.get(callback).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    let url = reqwest::Url::parse(&format!("http://x{location}")).unwrap();
    assert_eq!(url.path(), "/login");
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    let handoff = url.fragment().and_then(|f| f.strip_prefix("handoff=")).map(str::to_owned);
    Landing { next: query["next"].clone(), handoff, error: query.get("provider_error").cloned() }
}

/// The login page's call with the hand-over token: the server function's status and body.
async fn finish(app: &TestApp, handoff: &str) -> (StatusCode, Value) {
    let res =
        crate::cookie_mode::rpc_as_the_page(app, "provider_sign_in", &[("handoff", handoff)], None).await;
    TestApp::read(res).await
}

/// Signs in as `login` at the provider, from `start` to the login page.
async fn round_trip(app: &TestApp, op: &OidcProvider, start: &str, login: &str) -> Landing {
    let mut browser = Browser::open();
    let callback = browser.through_provider(app, op, start, login).await;
    land(&mut browser, &callback).await
}

#[tokio::test]
async fn a_first_sign_in_makes_an_account_and_later_ones_sign_in_to_it() {
    let op = OidcProvider::start(&["test"]);
    let app = app_with(&op).await;
    let users_before = app.count("SELECT COUNT(*) FROM users").await;

    let landing = round_trip(&app, &op, "/auth/test/start?next=/security", "alice").await;
    assert_eq!(landing.next, "/security", "next survives the round trip");
    let handoff = landing.handoff.expect("signed in");
    let (status, signed_in) = finish(&app, &handoff).await;
    assert_eq!(status, StatusCode::OK, "{signed_in}");
    let (_, profile) = app.profile(signed_in["tokens"]["access"].as_str().unwrap()).await;
    assert_eq!(profile["username"], "alice");
    assert_eq!(profile["email"], "alice@example.com");
    assert_eq!(profile["email_verified"], true, "the provider vouches for it");
    assert_eq!((&profile["first_name"], &profile["last_name"]), (&json!("Alice"), &json!("Example")));
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, users_before + 1);

    let (status, again) = finish(&app, &handoff).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a hand-over works once: {again}");

    // The same person again: the same account, no new one.
    let landing = round_trip(&app, &op, "/auth/test/start", "alice").await;
    assert_eq!(landing.next, "/profile");
    let (status, second) = finish(&app, &landing.handoff.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second["user"]["user_id"], signed_in["user"]["user_id"]);
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, users_before + 1);
    // And it has no password anyone could guess: a password sign-in fails.
    let (status, _) =
        app.post("/api/token/", json!({"username": "alice", "password": "any guess at all"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_address_an_account_here_has_is_never_linked_by_itself() {
    let op = OidcProvider::start(&["test"]);
    let app = app_with(&op).await;
    crate::recovery::register(&app, "carol_here", "carol@example.com").await;
    let users_before = app.count("SELECT COUNT(*) FROM users").await;

    let landing = round_trip(&app, &op, "/auth/test/start", "carol").await;
    assert_eq!(landing.handoff, None);
    assert_eq!(landing.error.as_deref(), Some("email_in_use"));
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, users_before);
    assert_eq!(app.count("SELECT COUNT(*) FROM identities").await, 0);
}

#[tokio::test]
async fn an_address_the_provider_does_not_vouch_for_stays_unverified() {
    let op = OidcProvider::start(&["test"]);
    let app = app_with(&op).await;
    let landing = round_trip(&app, &op, "/auth/test/start", "unverifiedann").await;
    let (status, signed_in) = finish(&app, &landing.handoff.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{signed_in}");
    let (_, profile) = app.profile(signed_in["tokens"]["access"].as_str().unwrap()).await;
    assert_eq!(profile["email_verified"], false);
    let mails = app.count("SELECT COUNT(*) FROM outbox WHERE recipient = 'unverifiedann@example.com'").await;
    assert_eq!(mails, 1, "a link to confirm it, as after registering");
}

#[tokio::test]
async fn a_tampered_or_replayed_callback_signs_no_one_in() {
    let op = OidcProvider::start(&["test"]);
    let app = app_with(&op).await;
    let mut browser = Browser::open();
    let callback = browser.through_provider(&app, &op, "/auth/test/start?next=/security", "dave").await;
    let mut tampered = reqwest::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = tampered
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" { format!("{v}x") } else { v.into_owned() };
            (k.into_owned(), v)
        })
        .collect();
    tampered.query_pairs_mut().clear().extend_pairs(pairs);

    let forged = land(&mut browser, tampered.as_str()).await;
    assert_eq!((forged.handoff, forged.error.as_deref()), (None, Some("expired")));
    assert_eq!(forged.next, "/profile", "a forged state carries no next");
    let real = land(&mut browser, &callback).await;
    assert!(real.handoff.is_some(), "the forgery used up nothing");
    let replayed = land(&mut browser, &callback).await;
    assert_eq!((replayed.handoff, replayed.error.as_deref()), (None, Some("expired")));
    assert_eq!(app.count("SELECT COUNT(*) FROM identities").await, 1);
}

#[tokio::test]
async fn a_provider_down_at_callback_time_creates_nothing() {
    let mut op = OidcProvider::start(&["test"]);
    let app = app_with(&op).await;
    let users_before = app.count("SELECT COUNT(*) FROM users").await;
    let mut browser = Browser::open();
    let callback = browser.through_provider(&app, &op, "/auth/test/start?next=/security", "erin").await;
    op.stop();
    let landing = land(&mut browser, &callback).await;
    assert_eq!((landing.handoff, landing.error.as_deref()), (None, Some("unavailable")));
    assert_eq!(landing.next, "/security");
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, users_before);
}

#[tokio::test]
async fn a_cancelled_sign_in_and_an_unknown_provider_are_told_apart() {
    let op = OidcProvider::start(&["test"]);
    let app = app_with(&op).await;
    let mut browser = Browser::open();
    let (_, authorize) = browser.get(&format!("{}/auth/test/start", app.base)).await;
    let authorize = reqwest::Url::parse(&authorize).unwrap();
    let state = authorize.query_pairs().find(|(k, _)| k == "state").unwrap().1;
    let denied = format!("{}/auth/test/callback?error=access_denied&state={state}", app.base);
    let landing = land(&mut browser, &denied).await;
    assert_eq!(landing.error.as_deref(), Some("cancelled"));

    let (status, _) = browser.get(&format!("{}/auth/nobody/start", app.base)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let res = crate::cookie_mode::rpc_as_the_page(&app, "sign_in_providers", &[], None).await;
    let (status, providers) = TestApp::read(res).await;
    assert_eq!((status, providers), (StatusCode::OK, json!([{"id": "test", "name": "Test ID"}])));
}

#[tokio::test]
async fn a_provider_that_cannot_be_read_stops_the_server_starting() {
    let data = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut config = server::Config::from_args([
        "server",
        "--data-dir",
        data.path().to_str().unwrap(),
        "--addr",
        "127.0.0.1:0",
        "--oidc-providers",
        "corp",
    ])
    .unwrap();
    config.oidc_settings = [
        ("OIDC_CORP_ISSUER", format!("http://127.0.0.1:{closed}")),
        ("OIDC_CORP_CLIENT_ID", "x".to_owned()),
        ("OIDC_CORP_CLIENT_SECRET", "y".to_owned()),
        ("OIDC_CORP_NAME", "Corp".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let Err(e) = server::Application::build(&config).await else { panic!("it started") };
    let message = format!("{e:#}");
    assert!(message.contains("provider corp") && message.contains("openid-configuration"), "{message}");
}

#[tokio::test]
async fn an_id_token_for_another_requests_nonce_is_refused() {
    let op = OidcProvider::start(&["test"]);
    let app = app_with(&op).await;
    let users_before = app.count("SELECT COUNT(*) FROM users").await;
    // Two sign-ins begun. The provider is sent the second one's state and PKCE challenge
    // with the first one's nonce: as a code injected into another person's sign-in would
    // carry a nonce that is not theirs.
    let mut browser = Browser::open();
    let first = reqwest::Url::parse(&browser.begin(&app, &op, "/auth/test/start").await).unwrap();
    let second = reqwest::Url::parse(&browser.begin(&app, &op, "/auth/test/start").await).unwrap();
    let nonce_of_first = first.query_pairs().find(|(k, _)| k == "nonce").unwrap().1.into_owned();
    let pairs: Vec<(String, String)> = second
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "nonce" { nonce_of_first.clone() } else { v.into_owned() };
            (k.into_owned(), v)
        })
        .collect();
    let mut mixed = second.clone();
    mixed.query_pairs_mut().clear().extend_pairs(pairs);
    let callback = browser.through_authorization(&app, &op, mixed.as_str(), "frank").await;
    let landing = land(&mut browser, &callback).await;
    assert_eq!((landing.handoff, landing.error.as_deref()), (None, Some("refused")));
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, users_before);
}

#[tokio::test]
async fn an_account_with_a_second_factor_still_asks_for_its_code() {
    let op = OidcProvider::start(&["test"]);
    let app = app_with(&op).await;
    let landing = round_trip(&app, &op, "/auth/test/start", "grace").await;
    let (_, signed_in) = finish(&app, &landing.handoff.unwrap()).await;
    let access = signed_in["tokens"]["access"].clone();
    // Fresh from signing in, so no password is asked to turn it on.
    crate::mfa::enrol(&app, &access, json!({})).await;

    let landing = round_trip(&app, &op, "/auth/test/start", "grace").await;
    let (status, body) = finish(&app, &landing.handoff.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_error_shape(&body, "mfa_required");
    assert!(body["mfa_token"].is_string());
}

/// Where a linking callback sends the browser on: the security page, by a page of this
/// site that moves on by itself (so the next request is same-site and cookie mode's
/// `SameSite=Strict` session cookie comes along).
async fn back_to_security(callback: &str) -> String {
    let res = reqwest::get(callback).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    let url = page.split("content=\"0;url=").nth(1).and_then(|rest| rest.split('"').next()).unwrap();
    url.replace("&amp;", "&")
}

/// A server function called as the page calls it: its status and body.
async fn call(app: &TestApp, name: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    TestApp::read(crate::cookie_mode::rpc_as_the_page(app, name, form, None).await).await
}

#[tokio::test]
async fn a_signed_in_user_links_a_provider_which_then_signs_in_to_that_account() {
    let op = OidcProvider::start(&["test"]);
    let app = app_with(&op).await;
    let sam = app.login("user1", "password1").await;
    let access = sam["access"].as_str().unwrap();
    // Just signed in with the password: recent enough, no password asked.
    let (status, url) =
        call(&app, "link_identity", &[("access", access), ("provider", "test"), ("password", "")]).await;
    assert_eq!(status, StatusCode::OK, "{url}");
    let mut browser = Browser::open();
    let callback = browser.through_authorization(&app, &op, url.as_str().unwrap(), "helen").await;
    assert_eq!(back_to_security(&callback).await, "/security?provider_linked=test");
    let (_, linked) = call(&app, "linked_identities", &[("access", access)]).await;
    assert_eq!(linked[0]["provider"], "test");
    assert_eq!(linked[0]["name"], "Test ID");
    assert_eq!(linked[0]["email"], "helen@example.com");
    let mails =
        app.count("SELECT COUNT(*) FROM outbox WHERE subject LIKE 'A sign-in provider was linked%'").await;
    assert_eq!(mails, 1);

    // Signing in through it now opens a session of Sam's account.
    let landing = round_trip(&app, &op, "/auth/test/start", "helen").await;
    let (_, signed_in) = finish(&app, &landing.handoff.unwrap()).await;
    assert_eq!(signed_in["user"]["username"], "user1");

    // Nobody else can link it while it is Sam's.
    let tim = app.login("user2", "password2").await;
    let tim = tim["access"].as_str().unwrap();
    let (_, url) =
        call(&app, "link_identity", &[("access", tim), ("provider", "test"), ("password", "")]).await;
    let callback = Browser::open().through_authorization(&app, &op, url.as_str().unwrap(), "helen").await;
    assert_eq!(back_to_security(&callback).await, "/security?provider_error=identity_in_use");

    // Sam has a password too, so it can go; then it is gone, and mailed.
    let (status, body) =
        call(&app, "unlink_identity", &[("access", access), ("provider", "test"), ("password", "")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, linked) = call(&app, "linked_identities", &[("access", access)]).await;
    assert_eq!(linked, json!([]));
    let (status, _) =
        call(&app, "unlink_identity", &[("access", access), ("provider", "test"), ("password", "")]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let mails =
        app.count("SELECT COUNT(*) FROM outbox WHERE subject LIKE 'A sign-in provider was unlinked%'").await;
    assert_eq!(mails, 1);
}

#[tokio::test]
async fn the_last_way_to_sign_in_is_never_unlinked() {
    let op = OidcProvider::start(&["test"]);
    let app = app_with(&op).await;
    let landing = round_trip(&app, &op, "/auth/test/start", "ivan").await;
    let (_, signed_in) = finish(&app, &landing.handoff.unwrap()).await;
    let access = signed_in["tokens"]["access"].as_str().unwrap();
    let (status, body) =
        call(&app, "unlink_identity", &[("access", access), ("provider", "test"), ("password", "")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "provider");
    assert_eq!(app.count("SELECT COUNT(*) FROM identities").await, 1);
}

#[tokio::test]
async fn an_id_token_not_made_by_the_provider_for_this_app_is_refused() {
    // Each from a real provider, whose token endpoint changes one thing in the ID token it
    // issued: who issued it, whom it is for, when it ended, or which key signed it.
    for tamper in ["issuer", "audience", "expired", "key"] {
        let op = OidcProvider::tampering(&["test"], tamper);
        let app = app_with(&op).await;
        let users_before = app.count("SELECT COUNT(*) FROM users").await;
        let landing = round_trip(&app, &op, "/auth/test/start?next=/security", "gina").await;
        assert_eq!((landing.handoff, landing.error.as_deref()), (None, Some("refused")), "{tamper}");
        assert_eq!(landing.next, "/security");
        assert_eq!(app.count("SELECT COUNT(*) FROM users").await, users_before, "{tamper}");
        assert_eq!(app.count("SELECT COUNT(*) FROM identities").await, 0, "{tamper}");
    }
}

#[tokio::test]
async fn a_provider_that_rotates_its_signing_key_still_signs_people_in() {
    let mut op = OidcProvider::start(&["test"]);
    let app = app_with(&op).await;
    let landing = round_trip(&app, &op, "/auth/test/start", "kate").await;
    let (_, first) = finish(&app, &landing.handoff.expect("signed in")).await;
    // A new key, published at the same JWKS address, which the server read at start.
    op.restart();
    let landing = round_trip(&app, &op, "/auth/test/start", "kate").await;
    assert_eq!(landing.error, None);
    let (status, second) = finish(&app, &landing.handoff.expect("signed in with the new key")).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["user"]["username"], first["user"]["username"]);
}

#[tokio::test]
async fn a_passkey_is_a_way_in_too_and_the_last_one_stays() {
    use crate::passkeys::{ORIGIN, add, sign_in};
    let op = OidcProvider::start_for(ORIGIN, &["test"]);
    let args = ["--oidc-providers", "test", "--public-url", ORIGIN, "--passkeys", "on"];
    let app = spawn_app_with_oidc(&args, op.settings("test")).await;
    let landing = round_trip(&app, &op, "/auth/test/start", "lena").await;
    let (_, signed_in) = finish(&app, &landing.handoff.unwrap()).await;
    let tokens = &signed_in["tokens"];
    let access = tokens["access"].as_str().unwrap();
    let mut phone = crate::authenticator::Authenticator::new(ORIGIN);
    let (status, added) = add(&app, tokens, &mut phone, "phone").await;
    assert_eq!(status, StatusCode::CREATED, "{added}");

    // With a passkey (and no password) the provider may go...
    let (status, body) =
        call(&app, "unlink_identity", &[("access", access), ("provider", "test"), ("password", "")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // ...and then the passkey is the only way in, so it stays.
    let path = format!("/api/passkeys/{}/", added["id"].as_str().unwrap());
    let (status, body) = app.send(reqwest::Method::DELETE, &path, &tokens["access"], None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "id");
    let (status, body) = sign_in(&app, &mut phone).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
