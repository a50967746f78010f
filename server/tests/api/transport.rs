//! HTTP itself: paths, bodies, error shapes, headers, CORS, OpenAPI, health, metrics.

use crate::helpers::*;

#[tokio::test]
async fn every_path_answers_with_and_without_its_trailing_slash() {
    let app = spawn_app().await;
    let pair = app.login("user1", "password1").await;
    let res = app
        .http
        .get(format!("{}/api/profile", app.base))
        .bearer_auth(pair["access"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let (status, _) = app.post("/api/token", json!({"username": "user1", "password": "password1"})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.post("/api/token/verify", json!({"token": pair["access"]})).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn malformed_and_incomplete_bodies_get_a_4xx_never_a_5xx() {
    let app = spawn_app().await;
    let paths = [
        "/api/token/",
        "/api/token/refresh/",
        "/api/token/verify/",
        "/api/token/blacklist/",
        "/api/register/",
    ];
    for path in paths {
        for (content_type, body) in [
            ("application/json", "{"),
            ("application/json", "[]"),
            ("application/json", "{}"),
            ("application/json", r#"{"username": 1, "password": null, "refresh": 7, "token": false}"#),
            ("application/json", ""),
            ("text/plain", r#"{"username":"user1"}"#),
        ] {
            let (status, res) = app.post_raw(path, content_type, body).await;
            assert!(status.is_client_error(), "{path} {body:?}: {status} {res}");
            assert!(res["code"].is_string() && res["detail"].is_string(), "{path} {body:?}: {res}");
            let text = res.to_string().to_lowercase();
            assert!(!text.contains("sql") && !text.contains("panicked"), "{text}");
        }
    }
    let (status, body) = app.post("/api/token/", json!({"username": "user1"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["detail"].as_str().unwrap().contains("password"), "{body}");
}

#[tokio::test]
async fn unknown_api_paths_and_wrong_methods_answer_in_the_error_shape() {
    let app = spawn_app().await;
    let res = app.http.get(format!("{}/api/nope/", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_error_shape(&res.json().await.unwrap(), "not_found");
    let res = app.http.get(format!("{}/api/token/", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_error_shape(&res.json().await.unwrap(), "method_not_allowed");
}

#[tokio::test]
async fn server_functions_share_the_error_shape_and_statuses() {
    let app = spawn_app().await;
    let form = [("username", "user1"), ("password", "wrong-password")];
    let res = app.http.post(format!("{}/rpc/login", app.base)).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_error_shape(&res.json().await.unwrap(), "no_active_account");

    let form = [("username", "user1"), ("password", "password1")];
    let res = app.http.post(format!("{}/rpc/login", app.base)).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let signed_in: Value = res.json().await.unwrap();
    assert_eq!(signed_in["user"]["username"], "user1");
    let access = signed_in["tokens"]["access"].as_str().unwrap();

    let res =
        app.http.post(format!("{}/rpc/profile", app.base)).form(&[("access", access)]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["first_name"], "Sam");

    // A call with a missing argument is the caller's mistake: 4xx.
    let res = app.http.post(format!("{}/rpc/profile", app.base)).form(&[("nope", "x")]).send().await.unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
}

#[tokio::test]
async fn pages_render_on_the_server_and_unknown_pages_are_404() {
    let app = spawn_app().await;
    let res = app.http.get(format!("{}/login", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"<label for="login-username">Username"#), "{html}");
    assert!(html.contains(r#"<button type="submit" disabled>"#), "disabled until hydrated: {html}");
    let res = app.http.get(format!("{}/profile", app.base)).send().await.unwrap();
    let html = res.text().await.unwrap();
    assert!(html.contains("Checking your session"), "SSR never guesses the user: {html}");
    let res = app.http.get(format!("{}/no/such/page", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.text().await.unwrap().contains("Page not found"));
}

/// On a server with many threads, a page's reactive owner may be dropped on another thread
/// than the one that rendered it: nothing it holds may panic then (it cut the page short).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_page_renders_whole_on_a_many_threaded_server() {
    let app = spawn_app().await;
    let pages = ["/", "/login", "/register", "/profile", "/security", "/admin", "/forgot-password"];
    let loads = (0..25).flat_map(|_| pages).map(|page| {
        let (http, url) = (app.http.clone(), format!("{}{page}", app.base));
        tokio::spawn(async move { (page, http.get(url).send().await.unwrap().text().await) })
    });
    for load in futures::future::join_all(loads).await {
        let (page, html) = load.unwrap();
        let html = html.unwrap_or_else(|e| panic!("{page} was cut short: {e}"));
        // Streamed: the resources' scripts follow the document; a panic breaks the stream.
        assert!(html.contains("</html>"), "{page} was cut short");
    }
}

#[tokio::test]
async fn pages_carry_a_nonce_csp_and_every_response_the_security_headers() {
    let app = spawn_app().await;
    let res = app.http.get(format!("{}/login", app.base)).send().await.unwrap();
    let headers = res.headers().clone();
    let html = res.text().await.unwrap();
    let csp = headers["content-security-policy"].to_str().unwrap().to_owned();
    let nonce = csp.split("'nonce-").nth(1).and_then(|s| s.split('\'').next()).expect("a nonce in the CSP");
    assert!(html.contains(&format!("nonce=\"{nonce}\"")), "the hydration script carries the CSP's nonce");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers.contains_key("referrer-policy"));

    let again = app.http.get(format!("{}/login", app.base)).send().await.unwrap();
    assert_ne!(again.headers()["content-security-policy"].to_str().unwrap(), csp, "a fresh nonce per page");
    let missing = app.http.get(format!("{}/nope", app.base)).send().await.unwrap();
    assert!(missing.headers().contains_key("content-security-policy"), "the 404 page too");

    let api = app.http.get(format!("{}/api/profile/", app.base)).send().await.unwrap();
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
    assert_eq!(api.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn oversized_and_deeply_nested_bodies_get_a_4xx_in_the_error_shape() {
    let app = spawn_app().await;
    let megabyte = format!(r#"{{"username": "user1", "password": "{}"}}"#, "x".repeat(1_000_000));
    let res = app
        .http
        .post(format!("{}/api/token/", app.base))
        .header("content-type", "application/json")
        .body(megabyte.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_error_shape(&res.json().await.unwrap(), "payload_too_large");

    for depth in [1_000, 100_000] {
        let nested = format!(r#"{{"refresh": {}1{}}}"#, "[".repeat(depth), "]".repeat(depth));
        let res = app
            .http
            .post(format!("{}/api/token/refresh/", app.base))
            .header("content-type", "application/json")
            .body(nested)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error(), "depth {depth}: {}", res.status());
    }

    let res = app.http.post(format!("{}/rpc/login", app.base)).body(megabyte.repeat(2)).send().await.unwrap();
    assert!(res.status().is_client_error(), "server functions are bounded too: {}", res.status());

    // Over the 1 MiB limit in front of everything: refused by its Content-Length alone, and
    // still in the error shape.
    for path in ["/api/token/", "/rpc/login"] {
        let res = app
            .http
            .post(format!("{}{path}", app.base))
            .header("content-type", "application/json")
            .body(megabyte.repeat(2))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert_error_shape(&res.json().await.unwrap(), "payload_too_large");
    }
}

#[tokio::test]
async fn cors_is_same_origin_unless_origins_are_allowed_and_then_only_those() {
    let preflight = |app: &TestApp, origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, format!("{}/api/token/", app.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let closed = spawn_app().await;
    let res = preflight(&closed, "https://app.example.com").await.unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));

    let open =
        spawn_app_with(&["--cors-allowed-origins", "https://app.example.com,http://localhost:5173"]).await;
    let res = preflight(&open, "https://app.example.com").await.unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], "https://app.example.com");
    assert!(!res.headers().contains_key("access-control-allow-credentials"), "never with credentials");
    let res = preflight(&open, "https://evil.example").await.unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));
    let res = open
        .http
        .post(format!("{}/api/token/", open.base))
        .header("origin", "http://localhost:5173")
        .json(&json!({"username": "user1", "password": "password1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["access-control-allow-origin"], "http://localhost:5173");
}

#[tokio::test]
async fn the_openapi_document_describes_every_endpoint_of_the_contract_and_beyond() {
    let app = spawn_app().await;
    let res = app.http.get(format!("{}/api/openapi.json", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let methods_of = |path: &str| -> Vec<String> {
        let mut m: Vec<String> =
            doc["paths"][path].as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
        m.retain(|k| k != "parameters");
        m.sort();
        m
    };
    // ../shared/CONTRACT.md, row by row.
    for (path, method) in [
        ("/api/token/", "post"),
        ("/api/token/refresh/", "post"),
        ("/api/token/verify/", "post"),
        ("/api/token/blacklist/", "post"),
        ("/api/profile/", "get"),
        ("/api/register/", "post"),
    ] {
        assert_eq!(methods_of(path), [method], "{path}");
    }
    assert_eq!(methods_of("/api/sessions/"), ["delete", "get"]);
    assert_eq!(methods_of("/api/sessions/{id}/"), ["delete"]);
    assert_eq!(methods_of("/api/password/"), ["post"]);
    assert_eq!(methods_of("/.well-known/jwks.json"), ["get"]);
    // ../shared/CONTRACT-ACCOUNTS.md, and the second-factor status and codes beside it.
    assert_eq!(methods_of("/api/mfa/totp/"), ["delete", "post"]);
    for (path, method) in [
        ("/api/token/mfa/", "post"),
        ("/api/mfa/totp/confirm/", "post"),
        ("/api/mfa/", "get"),
        ("/api/mfa/recovery-codes/", "post"),
        ("/api/email/verify/", "post"),
        ("/api/email/verify/resend/", "post"),
        ("/api/email/change/", "post"),
        ("/api/password/reset/", "post"),
        ("/api/password/reset/confirm/", "post"),
        ("/api/account/", "delete"),
        ("/api/reauthenticate/", "post"),
        // Passkeys.
        ("/api/token/passkey/options/", "post"),
        ("/api/token/passkey/", "post"),
        ("/api/passkeys/options/", "post"),
        ("/api/passkeys/{id}/", "delete"),
    ] {
        assert_eq!(methods_of(path), [method], "{path}");
    }
    assert_eq!(methods_of("/api/passkeys/"), ["get", "post"]);
    assert_eq!(doc["paths"].as_object().unwrap().len(), 27, "nothing undocumented, nothing extra");

    let schemas = &doc["components"]["schemas"];
    let token_pair: Vec<&str> =
        schemas["TokenPair"]["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(token_pair, ["access", "refresh", "expires_in"]);
    assert!(schemas["ApiError"]["properties"]["detail"].is_object());
    assert!(schemas["ErrorCode"]["enum"].as_array().unwrap().contains(&json!("token_not_valid")));
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert!(doc["paths"]["/api/register/"]["post"]["responses"]["409"].is_object());
}

#[tokio::test]
async fn health_and_readiness_endpoints_answer() {
    let app = spawn_app().await;
    let res = app.http.get(format!("{}/healthz", app.base)).send().await.unwrap();
    assert_eq!((res.status(), res.text().await.unwrap()), (StatusCode::OK, "ok".to_owned()));
    let res = app.http.get(format!("{}/readyz", app.base)).send().await.unwrap();
    assert_eq!((res.status(), res.text().await.unwrap()), (StatusCode::OK, "ready".to_owned()));
    app.auth.close().await;
    let res = app.http.get(format!("{}/readyz", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "a dead database is 503, not 500");
    let res = app.http.get(format!("{}/healthz", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "the process itself is still alive");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_the_auth_events() {
    let app = spawn_app_with(&["--refresh-grace-period", "0"]).await;
    let pair = app.login("user1", "password1").await;
    let (status, _) = app.post("/api/token/", json!({"username": "user1", "password": "wrong-one"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.post("/api/token/refresh/", json!({"refresh": pair["refresh"]})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "reuse");
    app.login("user2", "password2").await;

    let res = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = res.text().await.unwrap();
    // The recorder is process-wide (other tests run beside this one): check presence, and
    // that the route label is the pattern, never a raw path.
    for series in [
        r#"http_requests_total{method="POST",route="/api/token/",status="200"}"#,
        r#"http_requests_total{method="POST",route="/api/token/refresh/",status="401"}"#,
        r#"http_request_duration_seconds_bucket{method="POST",route="/api/token/",status="200",le="#,
        r#"auth_logins_total{result="succeeded"}"#,
        r#"auth_logins_total{result="failed"}"#,
        r#"auth_refreshes_total{result="rotated"}"#,
        "auth_refresh_reuse_detected_total",
        "auth_active_sessions",
    ] {
        assert!(text.contains(series), "missing {series} in:\n{text}");
    }
    let sessions: f64 =
        text.lines().find_map(|l| l.strip_prefix("auth_active_sessions ")).unwrap().parse().unwrap();
    assert_eq!(sessions, 1.0, "user1's session was revoked by the reuse; user2's is live");
}

#[tokio::test]
async fn metrics_are_only_for_the_allowed_scrapers() {
    let app = spawn_app_with(&["--metrics-allow-from", "10.9.9.9"]).await;
    let res = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

/// Behind a reverse proxy on the same host every request comes from 127.0.0.1, so the
/// address alone can't keep /metrics private: with METRICS_TOKEN it takes the token too.
#[tokio::test]
async fn with_a_metrics_token_set_metrics_need_it_even_from_an_allowed_address() {
    let token = "a-long-scrape-token-for-tests";
    let app = spawn_app_with(&["--metrics-token", token]).await;
    let metrics = |auth: Option<&str>| {
        let mut req = app.http.get(format!("{}/metrics", app.base));
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        req.send()
    };
    let res = metrics(None).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["www-authenticate"], r#"Bearer realm="metrics""#);
    assert_eq!(metrics(Some("Bearer a-long-scrape-token-for-tesTS")).await.unwrap().status(), 401);
    assert_eq!(metrics(Some(token)).await.unwrap().status(), 401, "the scheme is required");
    let res = metrics(Some(&format!("Bearer {token}"))).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("http_requests_total"));

    let short = server::Config::from_args(["server", "--metrics-token", "short"]).unwrap();
    assert!(short.validate().unwrap_err().contains("METRICS_TOKEN"));
}

/// The built WASM, JS and CSS are sent compressed when the build left `.br` and `.gz`
/// copies beside them (`cargo leptos build --release --precompress`), chosen by the
/// client's `Accept-Encoding`, and never mixed up in a cache (`Vary`).
#[tokio::test]
async fn site_files_are_served_precompressed_by_content_negotiation() {
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg");
    std::fs::create_dir(&pkg).unwrap();
    for (name, body) in [
        ("leptos_auth.wasm", &b"\0asm raw"[..]),
        ("leptos_auth.wasm.br", b"brotli bytes"),
        ("leptos_auth.wasm.gz", b"gzip bytes"),
    ] {
        std::fs::write(pkg.join(name), body).unwrap();
    }
    let app = spawn_app_with(&["--site-root", site.path().to_str().unwrap()]).await;
    let get = |encoding: &'static str| {
        app.http.get(format!("{}/pkg/leptos_auth.wasm", app.base)).header("accept-encoding", encoding).send()
    };
    for (accept, encoding, body) in [
        ("gzip, deflate, br", Some("br"), "brotli bytes"),
        ("gzip", Some("gzip"), "gzip bytes"),
        ("identity", None, "\0asm raw"),
    ] {
        let res = get(accept).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers().get("content-encoding").map(|v| v.to_str().unwrap()), encoding, "{accept}");
        assert_eq!(res.headers()["content-type"], "application/wasm");
        assert!(res.headers()["vary"].to_str().unwrap().to_lowercase().contains("accept-encoding"));
        assert_eq!(res.headers()["cache-control"], "no-cache", "names without a hash are revalidated");
        assert_eq!(res.text().await.unwrap(), body);
    }

    // A release build's names carry their content's hash: such a file never changes.
    let hashed = "leptos_auth.Xk3b9_Qv-2LmN8pRtY4wZa.wasm";
    std::fs::write(pkg.join(hashed), b"\0asm hashed").unwrap();
    let res = app.http.get(format!("{}/pkg/{hashed}", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "public, max-age=31536000, immutable");
    // What is not there is not cached at all.
    let res = app
        .http
        .get(format!("{}/pkg/leptos_auth.AAAAAAAAAAAAAAAAAAAAAA.wasm", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.headers().get("cache-control").is_none_or(|v| v != "public, max-age=31536000, immutable"));
}

/// A server function call whose body can't even be read (not UTF-8) is the caller's mistake:
/// a 4xx in the error shape, not the 503 that in the browser means "network trouble".
#[tokio::test]
async fn an_unreadable_server_function_body_is_a_4xx() {
    let app = spawn_app().await;
    let res = app
        .http
        .post(format!("{}/rpc/login", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'u', b'=', 0xff, 0xfe, b'&', 0xc3])
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert!(status.is_client_error(), "{status}: {body}");
    assert_error_shape(&body, "invalid_body");
}
