//! One module per page. Handlers read the store, fill a template struct and render it;
//! templates escape everything they show (SVG charts are built escaped by `chart`).

pub(crate) mod dashboard;
pub(crate) mod integrations;
pub(crate) mod lists;
pub(crate) mod reports;
pub(crate) mod runs;
pub(crate) mod workflows;

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// Renders a page, or a plain error if the template fails.
pub(crate) fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("the page could not be rendered: {e}"),
        ),
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    message: &'a str,
}

/// An error page with a sentence saying what went wrong.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    let body = ErrorPage { message }
        .render()
        .unwrap_or_else(|_| "error".into());
    (status, Html(body)).into_response()
}

/// A store failure as a page.
pub(crate) fn store_error(e: rollcall_store::StoreError) -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
}

/// The stylesheet.
pub(crate) async fn style() -> Response {
    let mut r = include_str!("../../static/style.css").into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300"),
    );
    r
}

/// `a=1&b=2&b=3` as pairs, keeping repeated keys.
pub(crate) fn pairs(text: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(text.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// A path segment, percent-encoded.
pub(crate) fn segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Checks the CSRF token of a posted form: `Some` refusal when it is missing or wrong.
pub(crate) fn csrf_refusal(state: &crate::AppState, form: &[(String, String)]) -> Option<Response> {
    let given = form
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str());
    (!state.secrets.csrf_matches(given)).then(|| {
        error(
            StatusCode::FORBIDDEN,
            "this form is missing its security token or carries an old one; reload the page and try again",
        )
    })
}
