//! Signing keys: Ed25519 and the JWK set, rotation, HS256, headers that name outside keys.

use crate::helpers::*;

#[tokio::test]
async fn headers_that_name_outside_keys_are_never_followed() {
    let app = spawn_app().await;
    let pair = app.login("user1", "password1").await;
    let access = pair["access"].as_str().unwrap();
    let header: Value =
        serde_json::from_slice(&B64.decode(access.split('.').next().unwrap()).unwrap()).unwrap();
    let kid = header["kid"].as_str().expect("tokens carry a kid").to_owned();
    let payload = claims(access);
    let attacker_key = jsonwebtoken::EncodingKey::from_secret(b"the attacker's own 32-byte secret!!");
    // Our kid, plus a pointer to the attacker's key set, certificate or embedded key.
    let mut with_jku = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    with_jku.kid = Some(kid.clone());
    with_jku.jku = Some("http://127.0.0.1:9/jwks.json".into());
    let mut with_x5u = with_jku.clone();
    with_x5u.jku = None;
    with_x5u.x5u = Some("http://127.0.0.1:9/cert.pem".into());
    let mut foreign_kid = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    foreign_kid.kid = Some("../../etc/passwd".into());
    let mut other_alg = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512);
    other_alg.kid = Some(kid);
    for header in [with_jku, with_x5u, foreign_kid, other_alg] {
        let forged = jsonwebtoken::encode(&header, &payload, &attacker_key).unwrap();
        let (status, _) = app.profile(&forged).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{header:?}");
    }
    // And the genuine token still works.
    assert_eq!(app.profile(access).await.0, StatusCode::OK);
    assert_eq!(payload["iss"], "leptos-auth");
    assert_eq!(payload["aud"], "leptos-auth");
}

pub fn header_of(token: &str) -> Value {
    serde_json::from_slice(&B64.decode(token.split('.').next().unwrap()).unwrap()).unwrap()
}

#[tokio::test]
async fn access_tokens_are_ed25519_and_verifiable_by_anyone_with_the_jwk_set() {
    let app = spawn_app().await;
    let pair = app.login("user1", "password1").await;
    let access = pair["access"].as_str().unwrap();
    assert_eq!(header_of(access)["alg"], "EdDSA");
    let jwks = app.jwks().await;
    let key = &jwks["keys"][0];
    assert_eq!(key["kid"], header_of(access)["kid"]);
    assert!(key.get("d").is_none(), "never the private half");

    // Another service verifies the token with nothing but the published key.
    let decoding = jsonwebtoken::DecodingKey::from_ed_components(key["x"].as_str().unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&["leptos-auth"]);
    validation.set_issuer(&["leptos-auth"]);
    let verified = jsonwebtoken::decode::<Value>(access, &decoding, &validation).unwrap();
    assert_eq!(verified.claims["username"], "user1");
    // The same service is never fooled by a refresh token: it has another audience.
    assert!(
        jsonwebtoken::decode::<Value>(pair["refresh"].as_str().unwrap(), &decoding, &validation).is_err()
    );
}

#[tokio::test]
async fn key_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_key() {
    let app = spawn_app().await;
    let before = app.login("user1", "password1").await;
    let old_kid = header_of(before["access"].as_str().unwrap())["kid"].clone();
    let new_kid = app.auth.rotate_key().await.unwrap();
    assert_ne!(Value::String(new_kid.clone()), old_kid);

    assert_eq!(app.profile(before["access"].as_str().unwrap()).await.0, StatusCode::OK, "old access token");
    let (status, rotated) = app.post("/api/token/refresh/", json!({"refresh": before["refresh"]})).await;
    assert_eq!(status, StatusCode::OK, "old refresh token");
    assert_eq!(header_of(rotated["access"].as_str().unwrap())["kid"], new_kid.as_str());
    let after = app.login("user2", "password2").await;
    assert_eq!(header_of(after["access"].as_str().unwrap())["kid"], new_kid.as_str());

    let jwks = app.jwks().await;
    let kids: Vec<&Value> = jwks["keys"].as_array().unwrap().iter().map(|k| &k["kid"]).collect();
    assert_eq!(kids.len(), 2);
    assert!(kids.contains(&&old_kid));
}

#[tokio::test]
async fn hs256_stays_available_by_configuration() {
    let secret = "an operator-chosen secret of at least 32 bytes";
    let app = spawn_app_with(&["--jwt-algorithm", "HS256", "--jwt-secret", secret]).await;
    let pair = app.login("user1", "password1").await;
    let access = pair["access"].as_str().unwrap();
    assert_eq!(header_of(access)["alg"], "HS256");
    assert_eq!(app.profile(access).await.0, StatusCode::OK);
    let jwks = app.jwks().await;
    assert_eq!(jwks, json!({"keys": []}), "a shared secret is never published");
    assert!(app.auth.rotate_key().await.is_err(), "rotate JWT_SECRET by changing it");
    // An EdDSA token (another instance's, or an attacker's) is refused: one algorithm only.
    let other = spawn_app().await;
    let eddsa = other.login("user1", "password1").await;
    assert_eq!(app.profile(eddsa["access"].as_str().unwrap()).await.0, StatusCode::UNAUTHORIZED);
}
