//! An OAuth 2 token endpoint (`POST /oauth/token`), shaped like Zoom's
//! Server-to-Server OAuth: client credentials in HTTP basic auth (or in the form),
//! `grant_type` in the query or the form, and `{access_token, token_type,
//! expires_in, scope}` back. Issued tokens are accepted by the SCIM endpoints besides
//! the configured static token; tests count them, expire them, or let each one work
//! for a few requests only.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::scim::{param, parse_query};
use crate::{Inner, lock};

/// One issued token.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub token: String,
    /// Requests it may still authorize (`None`: any number).
    pub uses_left: Option<usize>,
    /// Expired by the test.
    pub expired: bool,
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"error": error, "error_description": description}).to_string(),
    )
        .into_response()
}

/// The client id and secret from `Authorization: Basic ...`.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = decode_base64(encoded.trim())?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = T.iter().position(|t| *t == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// `POST /oauth/token`.
pub(crate) async fn token(
    State(state): State<Arc<Inner>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let mut params = query.as_deref().map(parse_query).unwrap_or_default();
    params.extend(parse_query(&String::from_utf8_lossy(&body)));
    let creds = basic_credentials(&headers).or_else(|| {
        Some((
            param(&params, "client_id")?.to_string(),
            param(&params, "client_secret")?.to_string(),
        ))
    });
    let cfg = &state.config;
    match creds {
        Some((id, secret)) if id == cfg.oauth_client_id && secret == cfg.oauth_client_secret => {}
        _ => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Invalid client_id or client_secret",
            );
        }
    }
    match param(&params, "grant_type") {
        Some("client_credentials" | "account_credentials") => {}
        Some(other) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("Unsupported grant type: {other}"),
            );
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Missing grant_type",
            );
        }
    }
    let token = {
        let mut issued = lock(&state.oauth);
        let token = format!("oauth-tok-{}-Kq83hZr5Vw", issued.len() + 1);
        issued.push(Issued {
            token: token.clone(),
            uses_left: cfg.oauth_token_uses,
            expired: false,
        });
        token
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        json!({
            "access_token": token,
            "token_type": "bearer",
            "expires_in": cfg.oauth_expires_in,
            "scope": "scim2",
        })
        .to_string(),
    )
        .into_response()
}

/// Whether `bearer` is an issued token that is still good; uses one of its requests.
pub(crate) fn accept(state: &Inner, bearer: &str) -> bool {
    let mut issued = lock(&state.oauth);
    let Some(t) = issued.iter_mut().find(|t| t.token == bearer) else {
        return false;
    };
    if t.expired {
        return false;
    }
    match &mut t.uses_left {
        None => true,
        Some(0) => false,
        Some(n) => {
            *n -= 1;
            true
        }
    }
}
