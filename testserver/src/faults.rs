//! Request recording and fault injection (one axum middleware in front of every route).

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::scim::{scim_error_response, scim_json};
use crate::{FaultBody, FaultKind, Inner, Match, RecordedRequest, lock};

/// Largest request body accepted (Miro documents 413 above ~800 kB).
const MAX_BODY: usize = 1024 * 1024;

const BAD_GATEWAY_HTML: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

/// A truncated ListResponse: looks like SCIM, is not JSON.
const GARBAGE: &str = "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:ListResponse\"],\"totalResults\":12,\"itemsPerPage\":12,\"Resources\":[{\"id\":\"30744573652659";

/// Which [`Match`] route a request belongs to (`Any` when none of the specific ones).
fn classify(state: &Inner, method: &Method, path: &str) -> Match {
    if let Some(rest) = path.strip_prefix(state.base_path.as_str()) {
        if rest == "/Users" && method == Method::GET {
            return Match::ListUsers;
        }
        if let Some(id) = rest.strip_prefix("/Users/")
            && !id.is_empty()
            && !id.contains('/')
        {
            if method == Method::GET {
                return Match::GetUser;
            }
            if method == Method::PATCH {
                return Match::PatchUser;
            }
        }
    }
    if method == Method::GET && path.starts_with("/v2/orgs/") && path.ends_with("/members") {
        return Match::Members;
    }
    if method == Method::POST && path == "/oauth/token" {
        return Match::Token;
    }
    Match::Any
}

fn header_string(req: &axum::http::request::Parts, name: header::HeaderName) -> Option<String> {
    req.headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// Records the request, then either applies the first matching fault or runs the handler.
pub(crate) async fn middleware(
    State(state): State<Arc<Inner>>,
    req: Request,
    next: Next,
) -> Response {
    let received_at = Instant::now();
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return scim_error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            "Request body too large or unreadable",
            false,
            false,
        );
    };
    if state.config.record_requests {
        let authorization = header_string(&parts, header::AUTHORIZATION);
        let record = RecordedRequest {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            has_authorization: authorization.is_some(),
            authorization,
            accept: header_string(&parts, header::ACCEPT),
            content_type: header_string(&parts, header::CONTENT_TYPE),
            body: String::from_utf8_lossy(&bytes).into_owned(),
            received_at,
        };
        lock(&state.requests).push(record);
    }
    let route = classify(&state, &parts.method, parts.uri.path());
    let fault = state.take_fault(route);
    let echoed =
        matches!(fault, Some(FaultKind::EchoHeaders { .. })).then(|| parts.headers.clone());
    let req = Request::from_parts(parts, Body::from(bytes));
    let Some(kind) = fault else {
        return next.run(req).await;
    };
    match kind {
        FaultKind::Delay(d) => {
            tokio::time::sleep(d).await;
            next.run(req).await
        }
        FaultKind::Status {
            status,
            retry_after,
            body,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = match body {
                FaultBody::Scim {
                    scim_type,
                    detail,
                    status_as_number,
                } => scim_error_response(
                    status,
                    scim_type.as_deref(),
                    &detail,
                    status_as_number,
                    false,
                ),
                FaultBody::Html => {
                    let mut r = Response::new(Body::from(BAD_GATEWAY_HTML));
                    r.headers_mut()
                        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
                    r
                }
                FaultBody::Empty => Response::new(Body::empty()),
            };
            *resp.status_mut() = status;
            if let Some(ra) = retry_after
                && let Ok(v) = HeaderValue::from_str(&ra)
            {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            resp
        }
        FaultKind::Redirect { location, status } => {
            let mut resp = Response::new(Body::empty());
            *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND);
            if let Ok(v) = HeaderValue::from_str(&location) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            resp
        }
        FaultKind::Garbage => scim_json(StatusCode::OK, GARBAGE.into()),
        FaultKind::EchoHeaders { status } => echo_headers(status, echoed.unwrap_or_default()),
    }
}

/// An answer reflecting the request's headers (see [`FaultKind::EchoHeaders`]).
fn echo_headers(status: u16, headers: axum::http::HeaderMap) -> Response {
    let mut listed = serde_json::Map::new();
    let mut lines = Vec::new();
    for (name, value) in &headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        lines.push(format!("{name}: {value}"));
        listed.insert(name.as_str().to_owned(), value.into());
    }
    let body = serde_json::json!({
        "detail": format!("Request refused; it had these headers: {}", lines.join("; ")),
        "headers": listed,
    });
    let mut resp = scim_json(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body.to_string().into(),
    );
    for (name, value) in &headers {
        if let Ok(echo) =
            axum::http::HeaderName::from_bytes(format!("x-echo-{}", name.as_str()).as_bytes())
        {
            resp.headers_mut().append(echo, value.clone());
        }
    }
    resp
}
