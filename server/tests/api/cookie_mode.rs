//! The HttpOnly-cookie storage mode of the browser app, through its server functions.

use crate::helpers::*;

/// A server function call as the app's own page makes it in cookie mode: the CSRF header, a
/// same-origin `Origin`, and the refresh cookie (if any).
pub async fn rpc_as_the_page(
    app: &TestApp,
    name: &str,
    form: &[(&str, &str)],
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .http
        .post(format!("{}/rpc/{name}", app.base))
        .header("x-leptos-auth-csrf", "1")
        .header("origin", &app.base)
        .form(form);
    if let Some(token) = cookie {
        req = req.header("cookie", format!("__Host-leptos_auth_refresh={token}"));
    }
    req.send().await.unwrap()
}

/// The refresh cookie a response sets: its value and its attributes.
pub fn refresh_cookie(res: &reqwest::Response) -> (String, String) {
    let header = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("__Host-leptos_auth_refresh="))
        .expect("a refresh cookie");
    let (pair, attributes) = header.split_once(';').unwrap();
    (pair.split_once('=').unwrap().1.to_owned(), attributes.to_owned())
}

#[tokio::test]
async fn cookie_mode_keeps_the_refresh_token_in_an_httponly_cookie_behind_a_csrf_check() {
    let app = spawn_app_with(&["--token-storage", "cookie"]).await;
    let login = [("username", "user1"), ("password", "password1")];

    // Without the header, or from another origin, nothing happens (not even a login).
    let res = app.http.post(format!("{}/rpc/login", app.base)).form(&login).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_error_shape(&res.json().await.unwrap(), "permission_denied");
    let res = app
        .http
        .post(format!("{}/rpc/login", app.base))
        .header("x-leptos-auth-csrf", "1")
        .header("origin", "http://evil.example")
        .form(&login)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let res = rpc_as_the_page(&app, "login", &login, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (first, attributes) = refresh_cookie(&res);
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/", "Max-Age=86400"] {
        assert!(attributes.contains(attribute), "{attributes} lacks {attribute}");
    }
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["tokens"]["refresh"], "", "the body never carries the refresh token");
    assert_eq!(app.profile(body["tokens"]["access"].as_str().unwrap()).await.0, StatusCode::OK);

    // The server renders the page for the cookie's user, and no shared cache may keep it.
    let res = app
        .http
        .get(format!("{}/profile", app.base))
        .header("cookie", format!("__Host-leptos_auth_refresh={first}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["cache-control"], "private, no-store");
    let page = res.text().await.unwrap();
    assert!(page.contains(">user1<"), "the header shows user1 before any script runs");
    let anonymous = app.http.get(format!("{}/profile", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(!anonymous.contains(">user1<"));

    // An empty refresh argument means the cookie's token: it rotates, like any refresh.
    let res = rpc_as_the_page(&app, "refresh", &[("refresh", "")], Some(&first)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (second, _) = refresh_cookie(&res);
    assert_ne!(second, first);
    assert_eq!(res.json::<Value>().await.unwrap()["refresh"], "");

    // A refused cookie is removed.
    let (status, _) = app.post("/api/token/blacklist/", json!({"refresh": second})).await;
    assert_eq!(status, StatusCode::OK);
    let res = rpc_as_the_page(&app, "refresh", &[("refresh", "")], Some(&second)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let (value, attributes) = refresh_cookie(&res);
    assert_eq!((value.as_str(), attributes.contains("Max-Age=0")), ("", true));

    // Logout ends the cookie's session and removes the cookie.
    let res = rpc_as_the_page(&app, "login", &login, None).await;
    let (third, _) = refresh_cookie(&res);
    let res = rpc_as_the_page(&app, "logout", &[("refresh", "")], Some(&third)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(refresh_cookie(&res).1.contains("Max-Age=0"));
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": third})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the session is dead on the server");

    // The REST contract is unchanged: both tokens in the body, no cookie.
    let (status, body) = app.post("/api/token/", json!({"username": "user1", "password": "password1"})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["refresh"].as_str().is_some_and(|t| t.split('.').count() == 3));
}
