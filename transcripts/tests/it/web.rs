//! Login, sessions, CSRF and the rate limit over a real TCP server.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{redirect, Client, Response, StatusCode};
use transcripts::views::{ViewsConfig, PROTECTED_ROUTES, PUBLIC_ROUTES};
use transcripts::Store;

use crate::support::{seed, serve, PASSWORD};

fn client() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of cookie `name` in a response's Set-Cookie headers.
fn set_cookie(res: &Response, name: &str) -> Option<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")).map(|r| r.to_string()))
        .map(|r| r.split(';').next().unwrap_or("").to_string())
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html.find(&marker).unwrap() + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

/// Fetches the login form and posts it; returns the response.
async fn post_login(c: &Client, base: &str, name: &str, password: &str) -> Response {
    let form = c.get(format!("{base}/analyse/login")).send().await.unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let csrf_cookie = set_cookie(&form, "vejviser_login_csrf").unwrap();
    let html = form.text().await.unwrap();
    let csrf = hidden(&html, "csrf");
    assert_eq!(csrf, csrf_cookie);
    c.post(format!("{base}/analyse/login"))
        .header(COOKIE, format!("vejviser_login_csrf={csrf_cookie}"))
        .form(&[
            ("navn", name),
            ("adgangskode", password),
            ("csrf", &csrf),
            ("next", ""),
        ])
        .send()
        .await
        .unwrap()
}

/// Logs in; returns the Cookie header value for the session.
async fn login(c: &Client, base: &str, name: &str) -> String {
    let res = post_login(c, base, name, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/analyse/samtaler");
    let raw = res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("vejviser_session="))
        .unwrap();
    assert!(raw.contains("HttpOnly"), "{raw}");
    assert!(raw.contains("SameSite=Strict"), "{raw}");
    format!(
        "vejviser_session={}",
        set_cookie(&res, "vejviser_session").unwrap()
    )
}

async fn csrf_of(c: &Client, base: &str, cookie: &str) -> String {
    let html = c
        .get(format!("{base}/analyse/samtaler"))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    hidden(&html, "csrf")
}

async fn get_ok(c: &Client, base: &str, cookie: &str, path: &str) -> String {
    let res = c
        .get(format!("{base}/analyse{path}"))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.text().await.unwrap()
}

async fn setup(config: ViewsConfig) -> (tempfile::TempDir, String, Vec<i64>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_in(dir.path()).unwrap();
    let ids = seed(&store).iter().map(|i| i.0).collect();
    let base = serve(store, config).await;
    (dir, base, ids)
}

#[tokio::test]
async fn every_analyst_route_refuses_anonymous_requests() {
    let (_dir, base, ids) = setup(ViewsConfig::default()).await;
    let c = client();
    assert!(PROTECTED_ROUTES.len() >= 9);
    for (method, path) in PROTECTED_ROUTES {
        let url = format!(
            "{base}/analyse{}",
            path.replace("{id}", &ids[0].to_string())
        );
        let res = match *method {
            "GET" => c.get(&url).send().await.unwrap(),
            "POST" => c.post(&url).form(&[("csrf", "x")]).send().await.unwrap(),
            m => panic!("unexpected method {m}"),
        };
        match res.status() {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::SEE_OTHER => {
                let to = res.headers()[LOCATION].to_str().unwrap();
                assert!(
                    to.starts_with("/analyse/login?next="),
                    "{method} {path} -> {to}"
                );
            }
            s => panic!("{method} {path} answered {s} without login"),
        }
    }
    // A made-up session token is no better.
    let res = c
        .get(format!("{base}/analyse/samtaler"))
        .header(COOKIE, "vejviser_session=00ff")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // The public ones answer.
    for (method, path) in PUBLIC_ROUTES {
        if *method == "GET" {
            let res = c.get(format!("{base}/analyse{path}")).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{path}");
        }
    }
}

#[tokio::test]
async fn every_listed_route_answers_a_logged_in_admin() {
    let (_dir, base, ids) = setup(ViewsConfig::default()).await;
    let c = client();
    let cookie = login(&c, &base, "chef").await;
    let csrf = csrf_of(&c, &base, &cookie).await;
    // POST routes last: they delete and log out.
    let mut routes: Vec<_> = PROTECTED_ROUTES.to_vec();
    routes.sort_by_key(|(m, _)| *m == "POST");
    routes.sort_by_key(|(_, p)| *p == "/logout");
    for (method, path) in routes {
        let url = format!(
            "{base}/analyse{}",
            path.replace("{id}", &ids[1].to_string())
        );
        let res = if method == "GET" {
            c.get(&url).header(COOKIE, &cookie).send().await.unwrap()
        } else {
            c.post(&url)
                .header(COOKIE, &cookie)
                .form(&[("csrf", csrf.as_str())])
                .send()
                .await
                .unwrap()
        };
        assert!(
            res.status() == StatusCode::OK || res.status() == StatusCode::SEE_OTHER,
            "{method} {path}: {}",
            res.status()
        );
    }
    // The delete went through and the logout ended the session.
    let res = c
        .get(format!("{base}/analyse/samtaler/{}", ids[0]))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookie = login(&c, &base, "chef").await;
    let res = c
        .get(format!("{base}/analyse/samtaler/{}", ids[1]))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn pages_show_filtered_redacted_data_and_csv() {
    let (_dir, base, ids) = setup(ViewsConfig::default()).await;
    let c = client();
    let cookie = login(&c, &base, "analytiker").await;
    let list = get_ok(&c, &base, &cookie, "/samtaler?kanal=chat&aabningstid=uden").await;
    assert!(list.contains("1 samtaler"), "{list}");
    assert!(list.contains(&format!("/analyse/samtaler/{}\"", ids[1])));
    let one = get_ok(&c, &base, &cookie, &format!("/samtaler/{}", ids[1])).await;
    assert!(one.contains("skraldespanden"));
    assert!(
        !one.contains("12345678"),
        "the phone number was scrubbed before storing"
    );
    assert!(!one.contains("Slet samtalen"), "analysts cannot delete");
    let found = get_ok(&c, &base, &cookie, "/samtaler?soeg=BOLIGSTØTTE").await;
    assert!(found.contains("1 samtaler"));
    let nu = get_ok(
        &c,
        &base,
        &cookie,
        "/ikke-forstaaet?fra=2026-11-01&til=2026-11-30",
    )
    .await;
    assert!(nu.contains("høns"), "{nu}");
    let kpi = get_ok(
        &c,
        &base,
        &cookie,
        "/noegletal?fra=2026-11-01&til=2026-11-30",
    )
    .await;
    assert!(kpi.contains("<svg") && kpi.contains("50.0 %"), "{kpi}");
    let csv = get_ok(&c, &base, &cookie, "/samtaler.csv?udfald=transferred").await;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[1].contains("teknik-miljoe"));
    let kcsv = get_ok(
        &c,
        &base,
        &cookie,
        "/noegletal.csv?fra=2026-11-01&til=2026-11-30",
    )
    .await;
    assert!(kcsv.contains("samlet,containment,0.5000"), "{kcsv}");
    assert!(kcsv.contains("omstillet_til,teknik-miljoe,1"));
    let bad = c
        .get(format!("{base}/analyse/samtaler?fra=igaar"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn forms_need_the_csrf_token_and_deleting_needs_admin() {
    let (_dir, base, ids) = setup(ViewsConfig::default()).await;
    let c = client();
    // Login without the double-submit cookie.
    let res = c
        .post(format!("{base}/analyse/login"))
        .form(&[("navn", "chef"), ("adgangskode", PASSWORD), ("csrf", "abc")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(set_cookie(&res, "vejviser_session").is_none());

    let admin = login(&c, &base, "chef").await;
    let url = format!("{base}/analyse/samtaler/{}/slet", ids[0]);
    let res = c
        .post(&url)
        .header(COOKIE, &admin)
        .form(&[("csrf", "forkert")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    let analyst = login(&c, &base, "analytiker").await;
    let csrf = csrf_of(&c, &base, &analyst).await;
    let res = c
        .post(&url)
        .header(COOKIE, &analyst)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = c
        .get(format!("{base}/analyse/samtaler/{}", ids[0]))
        .header(COOKIE, &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "still there");
}

#[tokio::test]
async fn failed_logins_are_limited_per_user() {
    let (_dir, base, _) = setup(ViewsConfig::default()).await;
    let c = client();
    for _ in 0..5 {
        let res = post_login(&c, &base, "analytiker", "forkert forkert").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    // Now even the right password is refused for this user...
    let res = post_login(&c, &base, "analytiker", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(set_cookie(&res, "vejviser_session").is_none());
    // ...but not for another user from the same address.
    let res = post_login(&c, &base, "chef", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn failed_logins_are_limited_per_address() {
    let config = ViewsConfig {
        max_failures_per_address: 3,
        ..ViewsConfig::default()
    };
    let (_dir, base, _) = setup(config).await;
    let c = client();
    for name in ["a", "b", "c"] {
        let res = post_login(&c, &base, name, "forkert forkert").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = post_login(&c, &base, "chef", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn an_expired_session_is_sent_to_login() {
    let config = ViewsConfig {
        session_ttl: time::Duration::ZERO,
        ..ViewsConfig::default()
    };
    let (_dir, base, _) = setup(config).await;
    let c = client();
    let cookie = login(&c, &base, "analytiker").await;
    let res = c
        .get(format!("{base}/analyse/noegletal"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(res.headers()[LOCATION]
        .to_str()
        .unwrap()
        .starts_with("/analyse/login"));
}
