//! The page's security rules.
//!
//! - Bound to a loopback address without a token, every request must name a loopback
//!   host (`localhost`, `127.0.0.1`, `[::1]`) in its `Host` header, so a web site that
//!   rebinds its DNS name to 127.0.0.1 cannot read the page.
//! - With a token (`ROLLCALL_UI_TOKEN`, required for any other address), every request
//!   must carry it: `Authorization: Bearer TOKEN`, or the cookie set when the page is
//!   first opened as `/?token=TOKEN` (the server then redirects to drop it from the
//!   address). Tokens are compared in constant time.
//! - State-changing requests are POSTs whose form carries the CSRF token of this server
//!   process (random, 256 bits), compared in constant time.
//! - Every response forbids scripts from elsewhere, framing and caching.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::AppState;

/// The cookie that carries the token after the first visit.
pub const TOKEN_COOKIE: &str = "rollcall_ui_token";

/// The shortest token accepted.
pub const MIN_TOKEN_LEN: usize = 16;

/// The page's access token. Its `Debug` does not show it.
#[derive(Clone)]
pub struct UiToken(String);

impl UiToken {
    /// Checks a token: at least [`MIN_TOKEN_LEN`] characters, printable ASCII without
    /// spaces, `;` or `,` (it travels in a cookie and a header).
    pub fn new(token: String) -> Result<UiToken, String> {
        if token.len() < MIN_TOKEN_LEN {
            return Err(format!(
                "ROLLCALL_UI_TOKEN is too short: use at least {MIN_TOKEN_LEN} characters (e.g. `openssl rand -hex 32`)"
            ));
        }
        if !token
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b';' && b != b',')
        {
            return Err(
                "ROLLCALL_UI_TOKEN may hold only printable ASCII without spaces, `;` or `,` (e.g. `openssl rand -hex 32`)"
                    .into(),
            );
        }
        Ok(UiToken(token))
    }

    fn matches(&self, given: &str) -> bool {
        bool::from(self.0.as_bytes().ct_eq(given.as_bytes()))
    }
}

impl std::fmt::Debug for UiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UiToken(<redacted>)")
    }
}

/// The token and the CSRF token of one server process.
pub(crate) struct Secrets {
    token: Option<UiToken>,
    csrf: String,
    loopback: bool,
}

impl Secrets {
    pub(crate) fn new(token: Option<UiToken>, loopback: bool) -> Result<Secrets, String> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| format!("cannot draw a random CSRF token from the system: {e}"))?;
        let csrf = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Secrets {
            token,
            csrf,
            loopback,
        })
    }

    pub(crate) fn csrf(&self) -> &str {
        &self.csrf
    }

    /// Whether `given` is this process's CSRF token.
    pub(crate) fn csrf_matches(&self, given: Option<&str>) -> bool {
        given.is_some_and(|g| bool::from(self.csrf.as_bytes().ct_eq(g.as_bytes())))
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

fn query_token(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

/// Whether a `Host` header names this machine's loopback interface.
fn loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn refuse(status: StatusCode, message: &str) -> Response {
    let mut r = (status, message.to_owned()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The middleware that applies the rules above to every request.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let secrets = &state.secrets;
    match &secrets.token {
        None => {
            if secrets.loopback && !loopback_host(request.headers()) {
                return refuse(
                    StatusCode::MISDIRECTED_REQUEST,
                    "this rollcall page answers only to localhost, 127.0.0.1 or [::1]; open it through one of those names",
                );
            }
        }
        Some(token) => {
            let headers = request.headers();
            let by_header = bearer(headers).is_some_and(|t| token.matches(t))
                || cookie(headers, TOKEN_COOKIE).is_some_and(|t| token.matches(t));
            if !by_header {
                let by_query = request.method() == Method::GET
                    && query_token(request.uri().query()).is_some_and(|t| token.matches(&t));
                if !by_query {
                    return refuse(
                        StatusCode::UNAUTHORIZED,
                        "this rollcall page needs its token: open it as /?token=TOKEN (the value of ROLLCALL_UI_TOKEN), or send `Authorization: Bearer TOKEN`",
                    );
                }
                // Remember the token in a cookie and drop it from the address bar.
                let set_cookie = format!(
                    "{TOKEN_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
                    token.0
                );
                let path = request.uri().path().to_owned();
                let rest: String = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(
                        url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
                            .filter(|(k, _)| k != "token"),
                    )
                    .finish();
                let location = if rest.is_empty() {
                    path
                } else {
                    format!("{path}?{rest}")
                };
                let mut r = Response::builder()
                    .status(StatusCode::SEE_OTHER)
                    .header(header::LOCATION, location)
                    .body(Body::empty())
                    .unwrap_or_default();
                if let Ok(c) = HeaderValue::from_str(&set_cookie) {
                    r.headers_mut().insert(header::SET_COOKIE, c);
                }
                return with_headers(r);
            }
        }
    }
    with_headers(next.run(request).await)
}

fn with_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self' 'unsafe-inline'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_and_hidden() {
        assert!(UiToken::new("short".into()).is_err());
        assert!(UiToken::new("has a space in it!!".into()).is_err());
        let t = UiToken::new("0123456789abcdef".into()).unwrap();
        assert!(t.matches("0123456789abcdef"));
        assert!(!t.matches("0123456789abcdeX"));
        assert!(!t.matches("0123456789abcdef0"));
        assert_eq!(format!("{t:?}"), "UiToken(<redacted>)");
    }

    #[test]
    fn loopback_hosts() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::HOST, HeaderValue::from_str(v).unwrap());
            loopback_host(&m)
        };
        assert!(h("127.0.0.1:8080"));
        assert!(h("localhost"));
        assert!(h("LOCALHOST:1"));
        assert!(h("[::1]:8080"));
        assert!(!h("evil.example:8080"));
        assert!(!h("10.0.0.1"));
        assert!(!h("localhost.evil.example"));
    }
}
