//! Miro REST API v2: `GET /v2/orgs/{org_id}/members` (cursor paging).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::Inner;
use crate::scim::{bearer_matches, param, parse_query};
use crate::store::Entry;

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 100;
const CURSOR_KEY: u64 = 0x5bd1_e995_a5a5_3c3c;

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A Miro REST error document.
fn rest_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({
            "status": status.as_u16(),
            "code": code,
            "message": message,
            "type": "error"
        }),
    )
}

fn cursor_checksum(offset: u64) -> u64 {
    (offset.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 48) ^ 0x2b7e
}

/// Encodes a page offset as an opaque cursor.
pub(crate) fn encode_cursor(offset: usize) -> String {
    let offset = offset as u64;
    format!(
        "{:016x}{:04x}",
        offset ^ CURSOR_KEY,
        cursor_checksum(offset)
    )
}

/// Decodes a cursor made by [`encode_cursor`]; `None` when it is not one.
pub(crate) fn decode_cursor(cursor: &str) -> Option<usize> {
    if cursor.len() != 20 || !cursor.is_ascii() {
        return None;
    }
    let masked = u64::from_str_radix(&cursor[..16], 16).ok()?;
    let check = u64::from_str_radix(&cursor[16..], 16).ok()?;
    let offset = masked ^ CURSOR_KEY;
    if check != cursor_checksum(offset) {
        return None;
    }
    usize::try_from(offset).ok()
}

/// Maps Miro's SCIM `userType` to the REST `license` value.
///
/// Basic/Standard/Advanced are a guess: Miro does not document the mapping.
fn license_for(user_type: Option<&str>) -> &'static str {
    match user_type {
        Some("Full") => "full",
        Some("Free") => "free",
        Some("Free Restricted") => "free_restricted",
        Some("Full (Trial)") => "full_trial",
        Some("Occasional") | Some("Basic") => "occasional",
        Some("Standard") | Some("Advanced") => "full",
        _ => "unknown",
    }
}

/// The `OrganizationMember` for a stored user; `None` when it has no string id.
pub(crate) fn member_json(entry: &Entry) -> Option<Value> {
    let id = entry.id.as_ref()?;
    let facts = &entry.facts;
    let mut m = Map::new();
    m.insert("id".into(), Value::from(id.clone()));
    m.insert(
        "email".into(),
        facts.email.clone().map(Value::from).unwrap_or(Value::Null),
    );
    m.insert("active".into(), Value::Bool(facts.active.unwrap_or(false)));
    if let Some(last) = &entry.last_activity {
        m.insert("lastActivityAt".into(), Value::from(last.clone()));
    }
    m.insert(
        "license".into(),
        Value::from(license_for(facts.user_type.as_deref())),
    );
    let role = if facts.admin {
        "organization_internal_admin"
    } else {
        "organization_internal_user"
    };
    m.insert("role".into(), Value::from(role));
    m.insert("type".into(), Value::from("organization-member"));
    Some(Value::Object(m))
}

/// Optional filters of the members endpoint.
#[derive(Debug, Default)]
struct MemberFilter {
    active: Option<bool>,
    emails: Option<Vec<String>>,
    licenses: Option<Vec<String>>,
    roles: Option<Vec<String>>,
}

fn split_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

impl MemberFilter {
    /// Whether the member built from `entry` passes the filters (without building it).
    fn matches(&self, entry: &Entry) -> bool {
        let facts = &entry.facts;
        if let Some(a) = self.active
            && facts.active.unwrap_or(false) != a
        {
            return false;
        }
        if let Some(emails) = &self.emails
            && !facts
                .email
                .as_ref()
                .is_some_and(|e| emails.contains(&e.to_lowercase()))
        {
            return false;
        }
        if let Some(licenses) = &self.licenses
            && !licenses
                .iter()
                .any(|l| l == license_for(facts.user_type.as_deref()))
        {
            return false;
        }
        if let Some(roles) = &self.roles {
            let role = if facts.admin {
                "organization_internal_admin"
            } else {
                "organization_internal_user"
            };
            if !roles.iter().any(|r| r == role) {
                return false;
            }
        }
        true
    }

    fn is_empty(&self) -> bool {
        self.active.is_none()
            && self.emails.is_none()
            && self.licenses.is_none()
            && self.roles.is_none()
    }
}

/// `GET /v2/orgs/{org_id}/members?limit=&cursor=`.
pub(crate) async fn list_members(
    State(state): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(org_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    if !bearer_matches(&headers, &state.config.rest_token) {
        let mut resp = rest_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication failed: invalid or missing access token",
        );
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return resp;
    }
    if org_id != state.config.org_id {
        return rest_error(
            StatusCode::NOT_FOUND,
            "organizationNotFound",
            &format!("Organization {org_id} not found"),
        );
    }
    let params = query.as_deref().map(parse_query).unwrap_or_default();
    let limit = match param(&params, "limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => match raw.trim().parse::<i64>() {
            Ok(l) if (1..=MAX_LIMIT).contains(&l) => l,
            _ => {
                return rest_error(
                    StatusCode::BAD_REQUEST,
                    "invalidParameters",
                    &format!(
                        "Parameter 'limit' must be an integer between 1 and {MAX_LIMIT}, got '{raw}'"
                    ),
                );
            }
        },
    } as usize;
    let offset = match param(&params, "cursor") {
        None | Some("") => 0,
        Some(raw) => match decode_cursor(raw.trim()) {
            Some(o) => o,
            None => {
                return rest_error(
                    StatusCode::BAD_REQUEST,
                    "invalidParameters",
                    &format!("Parameter 'cursor' is invalid: '{raw}'"),
                );
            }
        },
    };
    let mut filter = MemberFilter::default();
    if let Some(raw) = param(&params, "active") {
        filter.active = match raw.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                return rest_error(
                    StatusCode::BAD_REQUEST,
                    "invalidParameters",
                    &format!("Parameter 'active' must be true or false, got '{raw}'"),
                );
            }
        };
    }
    filter.emails = param(&params, "emails").map(split_list);
    filter.licenses = param(&params, "license").map(split_list);
    filter.roles = param(&params, "role").map(split_list);

    let mut data = Vec::with_capacity(limit);
    let mut more = false;
    {
        let store = state.read();
        let mut seen = 0usize;
        let unfiltered = filter.is_empty();
        for entry in &store.entries {
            if entry.id.is_none() || !(unfiltered || filter.matches(entry)) {
                continue;
            }
            if seen >= offset {
                if data.len() == limit {
                    more = true;
                    break;
                }
                if let Some(member) = member_json(entry) {
                    data.push(member);
                }
            }
            seen += 1;
        }
    }
    let mut body = Map::new();
    body.insert("limit".into(), Value::from(limit));
    body.insert("size".into(), Value::from(data.len()));
    let next = offset + data.len();
    body.insert("data".into(), Value::Array(data));
    if more {
        body.insert("cursor".into(), Value::from(encode_cursor(next)));
    }
    body.insert("type".into(), Value::from("cursor-list"));
    json_response(StatusCode::OK, &Value::Object(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip() {
        for o in [0usize, 1, 100, 99_999, 1 << 40] {
            assert_eq!(decode_cursor(&encode_cursor(o)), Some(o));
        }
        assert_eq!(decode_cursor("abc"), None);
        assert_eq!(decode_cursor("00000000000000000000"), None);
        let mut c = encode_cursor(100);
        c.replace_range(19..20, if c.ends_with('0') { "1" } else { "0" });
        assert_eq!(decode_cursor(&c), None);
    }

    #[test]
    fn licenses() {
        assert_eq!(license_for(Some("Full (Trial)")), "full_trial");
        assert_eq!(license_for(None), "unknown");
    }
}
