//! The analysts' and staff views: server-rendered Danish HTML behind login.
//!
//! [`router`] returns an `axum::Router` whose routes already carry the base
//! path (e.g. `/analyse`), so the server merges it into its own router. It
//! must be served with `into_make_service_with_connect_info::<SocketAddr>()`
//! for the per-address login limit to tell clients apart (without it every
//! client shares one address bucket).
//!
//! Security model:
//! - Every route except the login form requires a session: a GET without
//!   one is redirected to the login page (303), anything else gets 401.
//! - The session cookie is `HttpOnly; SameSite=Strict` (and `Secure` when
//!   configured), scoped to the base path; the database holds only a hash
//!   of the token.
//! - Every POST carries a CSRF token: the session's for logged-in forms,
//!   a double-submit cookie for the login form.
//! - Failed logins are limited per user name and per client address.
//! - Deleting a conversation needs the admin role.

mod chart;
mod html;
mod limiter;
mod pages;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::header::{CACHE_CONTROL, COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::store::{random_hex, SessionUser, Store, StoreError};
use html::esc;
use limiter::LoginLimiter;

const SESSION_COOKIE: &str = "vejviser_session";
const LOGIN_CSRF_COOKIE: &str = "vejviser_login_csrf";

/// How the views are mounted and how logins behave.
#[derive(Debug, Clone)]
pub struct ViewsConfig {
    /// The path prefix of every route, e.g. `/analyse` (no trailing slash).
    pub base_path: String,
    /// How long a session lasts after login.
    pub session_ttl: time::Duration,
    /// Mark cookies `Secure` (serve over HTTPS in production).
    pub secure_cookies: bool,
    /// Failed logins per user name within `failure_window` before refusing.
    pub max_failures_per_user: u32,
    /// Failed logins per client address within `failure_window`.
    pub max_failures_per_address: u32,
    pub failure_window: std::time::Duration,
}

impl Default for ViewsConfig {
    fn default() -> Self {
        ViewsConfig {
            base_path: "/analyse".into(),
            session_ttl: time::Duration::hours(8),
            secure_cookies: false,
            max_failures_per_user: 5,
            max_failures_per_address: 20,
            failure_window: std::time::Duration::from_secs(15 * 60),
        }
    }
}

/// Every route that needs a login, as (method, path under the base path).
/// `{id}` stands for a conversation id. Tests walk this list.
pub const PROTECTED_ROUTES: &[(&str, &str)] = &[
    ("GET", ""),
    ("GET", "/"),
    ("GET", "/samtaler"),
    ("GET", "/samtaler.csv"),
    ("GET", "/samtaler/{id}"),
    ("POST", "/samtaler/{id}/slet"),
    ("GET", "/ikke-forstaaet"),
    ("GET", "/noegletal"),
    ("GET", "/noegletal.csv"),
    ("POST", "/logout"),
];

/// The routes open without login.
pub const PUBLIC_ROUTES: &[(&str, &str)] = &[("GET", "/login"), ("POST", "/login")];

#[derive(Clone)]
struct AppState {
    store: Store,
    config: Arc<ViewsConfig>,
    limiter: Arc<LoginLimiter>,
}

/// The views as a router with `config.base_path` already applied. Pass a
/// store of their own ([`Store::open_again`]) so that analysts' queries and
/// the writing of turns do not wait for each other.
pub fn router(store: Store, config: ViewsConfig) -> Router {
    let base = config.base_path.trim_end_matches('/').to_string();
    let limiter = LoginLimiter::new(
        config.max_failures_per_user,
        config.max_failures_per_address,
        config.failure_window,
    );
    let state = AppState {
        store,
        config: Arc::new(ViewsConfig {
            base_path: base.clone(),
            ..config
        }),
        limiter: Arc::new(limiter),
    };
    let p = |path: &str| format!("{base}{path}");
    let mut router = Router::new();
    if !base.is_empty() {
        router = router.route(&base, get(pages::home));
    }
    router
        .route(&p("/"), get(pages::home))
        .route(&p("/login"), get(login_form).post(login))
        .route(&p("/logout"), post(logout))
        .route(&p("/samtaler"), get(pages::conversations))
        .route(&p("/samtaler.csv"), get(pages::conversations_csv))
        .route(&p("/samtaler/{id}"), get(pages::conversation))
        .route(&p("/samtaler/{id}/slet"), post(pages::delete_conversation))
        .route(&p("/ikke-forstaaet"), get(pages::not_understood))
        .route(&p("/noegletal"), get(pages::kpis))
        .route(&p("/noegletal.csv"), get(pages::kpis_csv))
        .with_state(state)
}

/// What a view can fail with; the page says little, the log says more.
#[derive(Debug)]
enum ViewError {
    NotFound,
    Forbidden,
    BadRequest(String),
    Internal,
}

impl From<StoreError> for ViewError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InvalidDate(_) | StoreError::InvalidId { .. } => {
                ViewError::BadRequest(e.to_string())
            }
            e => {
                tracing::error!(error = %e, "transcript store failed");
                ViewError::Internal
            }
        }
    }
}

impl IntoResponse for ViewError {
    fn into_response(self) -> Response {
        let (status, text) = match self {
            ViewError::NotFound => (StatusCode::NOT_FOUND, "Siden findes ikke.".to_string()),
            ViewError::Forbidden => (
                StatusCode::FORBIDDEN,
                "Din rolle giver ikke adgang til dette.".to_string(),
            ),
            ViewError::BadRequest(m) => (
                StatusCode::BAD_REQUEST,
                format!("Ugyldig forespørgsel: {m}"),
            ),
            ViewError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Der skete en fejl. Prøv igen senere.".to_string(),
            ),
        };
        let body = format!(r#"<p class="error" role="alert">{}</p>"#, esc(&text));
        (status, Html(html::page("", "Fejl", None, &body))).into_response()
    }
}

/// Runs a store call on the blocking pool.
async fn blocking<T, F>(f: F) -> Result<T, ViewError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(ViewError::from),
        Err(e) => {
            tracing::error!(error = %e, "store task failed");
            Err(ViewError::Internal)
        }
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn set_cookie(config: &ViewsConfig, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let path = if config.base_path.is_empty() {
        "/"
    } else {
        &config.base_path
    };
    let v = format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    );
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// Constant-time comparison of two tokens.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A request with a live session.
struct Authed(SessionUser);

impl FromRequestParts<AppState> for Authed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let token = cookie(&parts.headers, SESSION_COOKIE).map(str::to_string);
        let user = match token {
            Some(token) => {
                let store = state.store.clone();
                blocking(move || store.session_user(&token, OffsetDateTime::now_utc()))
                    .await
                    .map_err(IntoResponse::into_response)?
            }
            None => None,
        };
        match user {
            Some(u) => Ok(Authed(u)),
            None if parts.method == Method::GET || parts.method == Method::HEAD => {
                let base = &state.config.base_path;
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or(base);
                let to = format!("{base}/login?next={}", encode_component(next));
                Err(Redirect::to(&to).into_response())
            }
            None => Err((
                StatusCode::UNAUTHORIZED,
                Html(html::page(
                    &state.config.base_path,
                    "Log ind",
                    None,
                    r#"<p class="error" role="alert">Du skal være logget ind.</p>"#,
                )),
            )
                .into_response()),
        }
    }
}

impl Authed {
    fn check_csrf(&self, token: &str) -> Result<(), ViewError> {
        if same_token(&self.0.csrf, token) {
            Ok(())
        } else {
            Err(ViewError::BadRequest(
                "formularen er udløbet; hent siden igen".into(),
            ))
        }
    }
}

/// Percent-encodes a query component (RFC 3986 unreserved characters kept).
fn encode_component(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Where to go after login: only a path inside the views.
fn safe_next(base: &str, next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with(&format!("{base}/"))
                && !n.contains("//")
                && !n.contains('\\')
                && !n.starts_with(&format!("{base}/login"))
                && !n.starts_with(&format!("{base}/logout")) =>
        {
            n.to_string()
        }
        _ => format!("{base}/samtaler"),
    }
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

fn login_page(
    config: &ViewsConfig,
    csrf: &str,
    next: &str,
    name: &str,
    error: Option<&str>,
) -> String {
    let error = error
        .map(|e| format!(r#"<p class="error" role="alert">{}</p>"#, esc(e)))
        .unwrap_or_default();
    let body = format!(
        r#"{error}<form method="post" action="{base}/login">
<input type="hidden" name="csrf" value="{csrf}">
<input type="hidden" name="next" value="{next}">
<p><label for="navn">Brugernavn</label><br><input id="navn" name="navn" autocomplete="username" required value="{name}"></p>
<p><label for="adgangskode">Adgangskode</label><br><input id="adgangskode" name="adgangskode" type="password" autocomplete="current-password" required></p>
<p><button type="submit">Log ind</button></p>
</form>"#,
        base = esc(&config.base_path),
        csrf = esc(csrf),
        next = esc(next),
        name = esc(name),
    );
    html::page(&config.base_path, "Log ind", None, &body)
}

async fn login_form(
    State(state): State<AppState>,
    Query(q): Query<NextQuery>,
) -> Result<Response, ViewError> {
    let csrf = random_hex(32)?;
    let next = safe_next(&state.config.base_path, q.next.as_deref());
    let page = login_page(&state.config, &csrf, &next, "", None);
    let mut res = Html(page).into_response();
    res.headers_mut().append(
        SET_COOKIE,
        set_cookie(&state.config, LOGIN_CSRF_COOKIE, &csrf, 3600),
    );
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

#[derive(Deserialize)]
struct LoginForm {
    navn: String,
    adgangskode: String,
    csrf: String,
    next: Option<String>,
}

fn client_address(ext: &Extensions) -> Option<IpAddr> {
    ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    ext: Extensions,
    Form(form): Form<LoginForm>,
) -> Result<Response, ViewError> {
    let config = &state.config;
    let next = safe_next(&config.base_path, form.next.as_deref());
    let cookie_csrf = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    if cookie_csrf.is_empty() || !same_token(cookie_csrf, &form.csrf) {
        return Err(ViewError::BadRequest(
            "formularen er udløbet; hent login-siden igen".into(),
        ));
    }
    let address = client_address(&ext);
    let name = form.navn.trim().to_string();
    let retry = |status: StatusCode, message: &str| -> Result<Response, ViewError> {
        let csrf = random_hex(32)?;
        let page = login_page(config, &csrf, &next, &name, Some(message));
        let mut res = (status, Html(page)).into_response();
        res.headers_mut().append(
            SET_COOKIE,
            set_cookie(config, LOGIN_CSRF_COOKIE, &csrf, 3600),
        );
        Ok(res)
    };
    if state.limiter.blocked(&name, address, Instant::now()) {
        tracing::warn!(?address, "login refused: too many failed attempts");
        return retry(
            StatusCode::TOO_MANY_REQUESTS,
            "For mange mislykkede forsøg. Vent et kvarter, og prøv igen.",
        );
    }
    let store = state.store.clone();
    let (n, p) = (name.clone(), form.adgangskode);
    let role = blocking(move || store.check_password(&n, &p)).await?;
    if role.is_none() {
        state.limiter.failure(&name, address, Instant::now());
        return retry(
            StatusCode::UNAUTHORIZED,
            "Forkert brugernavn eller adgangskode.",
        );
    }
    state.limiter.success(&name);
    let store = state.store.clone();
    let ttl = config.session_ttl;
    let n = name.clone();
    let session =
        blocking(move || store.create_session(&n, ttl, OffsetDateTime::now_utc())).await?;
    let mut res = Redirect::to(&next).into_response();
    let h = res.headers_mut();
    h.append(
        SET_COOKIE,
        set_cookie(config, SESSION_COOKIE, &session.token, ttl.whole_seconds()),
    );
    h.append(SET_COOKIE, set_cookie(config, LOGIN_CSRF_COOKIE, "", 0));
    Ok(res)
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    user: Authed,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ViewError> {
    user.check_csrf(&form.csrf)?;
    if let Some(token) = cookie(&headers, SESSION_COOKIE).map(str::to_string) {
        let store = state.store.clone();
        blocking(move || store.end_session(&token)).await?;
    }
    let mut res = Redirect::to(&format!("{}/login", state.config.base_path)).into_response();
    res.headers_mut()
        .append(SET_COOKIE, set_cookie(&state.config, SESSION_COOKIE, "", 0));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_inside_the_views() {
        assert_eq!(
            safe_next("/analyse", Some("/analyse/samtaler/3")),
            "/analyse/samtaler/3"
        );
        assert_eq!(
            safe_next("/analyse", Some("//evil.example/")),
            "/analyse/samtaler"
        );
        assert_eq!(
            safe_next("/analyse", Some("https://evil.example/")),
            "/analyse/samtaler"
        );
        assert_eq!(
            safe_next("/analyse", Some("/analyse//evil")),
            "/analyse/samtaler"
        );
        assert_eq!(safe_next("/analyse", None), "/analyse/samtaler");
    }

    #[test]
    fn cookies_are_found_among_several() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("a=1; vejviser_session=abc; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn session_cookie_is_http_only_and_strict() {
        let v = set_cookie(&ViewsConfig::default(), SESSION_COOKIE, "t", 60);
        let v = v.to_str().unwrap();
        assert!(
            v.contains("HttpOnly") && v.contains("SameSite=Strict") && v.contains("Path=/analyse")
        );
    }
}
