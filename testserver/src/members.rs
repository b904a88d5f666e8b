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

fn role_for(user: &Value) -> &'static str {
    let admin = user
        .get("roles")
        .and_then(Value::as_array)
        .is_some_and(|roles| {
            roles.iter().any(|r| {
                r.get("type").and_then(Value::as_str) == Some("organization_user_role")
                    && r.get("value").and_then(Value::as_str) == Some("ORGANIZATION_INTERNAL_ADMIN")
            })
        });
    if admin {
        "organization_internal_admin"
    } else {
        "organization_internal_user"
    }
}

fn email_of(user: &Value) -> Option<String> {
    if let Some(u) = user.get("userName").and_then(Value::as_str) {
        return Some(u.to_owned());
    }
    let emails = user.get("emails").and_then(Value::as_array)?;
    let primary = emails
        .iter()
        .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
        .or_else(|| emails.first())?;
    primary
        .get("value")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The `OrganizationMember` for a stored user; `None` when it has no string id.
pub(crate) fn member_json(entry: &Entry) -> Option<Value> {
    let id = entry.id.as_ref()?;
    let user = &entry.value;
    let mut m = Map::new();
    m.insert("id".into(), Value::from(id.clone()));
    m.insert(
        "email".into(),
        email_of(user).map(Value::from).unwrap_or(Value::Null),
    );
    m.insert(
        "active".into(),
        Value::Bool(user.get("active").and_then(Value::as_bool).unwrap_or(false)),
    );
    if let Some(last) = &entry.last_activity {
        m.insert("lastActivityAt".into(), Value::from(last.clone()));
    }
    m.insert(
        "license".into(),
        Value::from(license_for(user.get("userType").and_then(Value::as_str))),
    );
    m.insert("role".into(), Value::from(role_for(user)));
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
    fn matches(&self, member: &Value) -> bool {
        let field = |k: &str| member.get(k).and_then(Value::as_str).map(str::to_lowercase);
        if let Some(a) = self.active
            && member.get("active").and_then(Value::as_bool) != Some(a)
        {
            return false;
        }
        let in_list = |list: &Option<Vec<String>>, k: &str| match list {
            None => true,
            Some(l) => field(k).is_some_and(|v| l.contains(&v)),
        };
        in_list(&self.emails, "email")
            && in_list(&self.licenses, "license")
            && in_list(&self.roles, "role")
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
        for entry in &store.entries {
            let Some(member) = member_json(entry) else {
                continue;
            };
            if !filter.matches(&member) {
                continue;
            }
            if seen >= offset {
                if data.len() == limit {
                    more = true;
                    break;
                }
                data.push(member);
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
