//! SCIM 2.0 endpoints (Miro flavour) and the router.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use serde_json::{Value, json};

use crate::Inner;
use crate::generate::USER_SCHEMA;
use crate::store::Facts;

pub(crate) const SCIM_JSON: &str = "application/scim+json";
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Miro's default page size when `count` is absent.
const DEFAULT_COUNT: usize = 100;

/// Builds the full router (SCIM + REST members + fault/recording middleware).
pub(crate) fn router(state: Arc<Inner>) -> Router {
    let base = state.base_path.clone();
    let with_405 = |m: MethodRouter<Arc<Inner>>| m.fallback(method_not_allowed);
    Router::new()
        .route(&format!("{base}/Users"), with_405(get(list_users)))
        .route(
            &format!("{base}/Users/{{id}}"),
            with_405(get(get_user).patch(patch_user).delete(delete_user)),
        )
        .route(
            &format!("{base}/ServiceProviderConfig"),
            with_405(get(service_provider_config)),
        )
        .route(
            "/v2/orgs/{org_id}/members",
            with_405(get(crate::members::list_members)),
        )
        .route(
            "/oauth/token",
            with_405(axum::routing::post(crate::oauth::token)),
        )
        .fallback(not_found)
        .layer(from_fn_with_state(state.clone(), crate::faults::middleware))
        .with_state(state)
}

/// A SCIM error: status, optional `scimType`, detail.
#[derive(Debug, Clone)]
pub(crate) struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    pub fn bad_request(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }

    pub fn not_found(id: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            scim_type: None,
            detail: format!("Resource {id} not found"),
        }
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        scim_error_response(
            self.status,
            self.scim_type,
            &self.detail,
            false,
            self.status == StatusCode::UNAUTHORIZED,
        )
    }
}

/// Renders a SCIM error document.
pub(crate) fn scim_error_response(
    status: StatusCode,
    scim_type: Option<&str>,
    detail: &str,
    status_as_number: bool,
    www_authenticate: bool,
) -> Response {
    let mut body = serde_json::Map::new();
    body.insert("schemas".into(), json!([ERROR_SCHEMA]));
    body.insert(
        "status".into(),
        if status_as_number {
            Value::from(status.as_u16())
        } else {
            Value::from(status.as_u16().to_string())
        },
    );
    if let Some(t) = scim_type {
        body.insert("scimType".into(), Value::from(t));
    }
    body.insert("detail".into(), Value::from(detail));
    let mut resp = scim_json(status, Value::Object(body).to_string().into());
    if www_authenticate {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"SCIM\""),
        );
    }
    resp
}

/// A response with `Content-Type: application/scim+json`.
pub(crate) fn scim_json(status: StatusCode, body: Bytes) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    resp
}

/// True when `Authorization: Bearer <token>` carries exactly `token`.
pub(crate) fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut parts = value.trim().splitn(2, ' ');
    let scheme = parts.next().unwrap_or_default();
    let credentials = parts.next().unwrap_or_default().trim();
    scheme.eq_ignore_ascii_case("bearer") && !credentials.is_empty() && credentials == token
}

fn check_scim_auth(state: &Inner, headers: &HeaderMap) -> Result<(), ScimError> {
    let issued = || {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().strip_prefix("Bearer "))
            .is_some_and(|t| crate::oauth::accept(state, t.trim()))
    };
    if bearer_matches(headers, &state.config.token) || issued() {
        Ok(())
    } else {
        Err(ScimError {
            status: StatusCode::UNAUTHORIZED,
            scim_type: None,
            detail: "Authentication failed: invalid or missing token".into(),
        })
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space; bad escapes are kept).
fn decode_component(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(h * 16 + l);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a raw query string into decoded `(name, value)` pairs, in order.
pub(crate) fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode_component(k), decode_component(v)),
            None => (decode_component(pair), String::new()),
        })
        .collect()
}

/// First value of query parameter `name`.
pub(crate) fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn parse_int(params: &[(String, String)], name: &str) -> Result<Option<i64>, ScimError> {
    match param(params, name) {
        None => Ok(None),
        Some(raw) => raw.trim().parse::<i64>().map(Some).map_err(|_| {
            ScimError::bad_request(
                "invalidValue",
                format!("Query parameter '{name}' must be an integer, got '{raw}'"),
            )
        }),
    }
}

/// A supported filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Filter {
    /// `userName eq "x"` (value compared case-insensitively; stored lower-case).
    UserName(String),
    /// `active eq true|false`.
    Active(bool),
}

impl Filter {
    fn matches(&self, facts: &Facts) -> bool {
        match self {
            Filter::UserName(want) => facts.user_name_lower.as_deref() == Some(want.as_str()),
            Filter::Active(want) => facts.active == Some(*want),
        }
    }
}

/// Parses the supported subset: `userName eq "x"` and `active eq true|false`.
pub(crate) fn parse_filter(raw: &str) -> Result<Filter, ScimError> {
    let invalid = || {
        ScimError::bad_request(
            "invalidFilter",
            format!(
                "Unsupported or invalid filter '{raw}': only 'userName eq \"...\"' and 'active eq true|false' are supported"
            ),
        )
    };
    let s = raw.trim();
    let (attr, rest) = s.split_once(char::is_whitespace).ok_or_else(invalid)?;
    let rest = rest.trim_start();
    let (op, value) = rest.split_once(char::is_whitespace).ok_or_else(invalid)?;
    if !op.eq_ignore_ascii_case("eq") {
        return Err(invalid());
    }
    let value = value.trim();
    let attr = attr.to_ascii_lowercase();
    let core_prefix = format!("{}:", USER_SCHEMA.to_ascii_lowercase());
    let attr = attr.strip_prefix(&core_prefix).unwrap_or(&attr);
    match attr {
        "username" => {
            let v: String = serde_json::from_str(value).map_err(|_| invalid())?;
            Ok(Filter::UserName(v.to_lowercase()))
        }
        "active" => match value.to_ascii_lowercase().as_str() {
            "true" => Ok(Filter::Active(true)),
            "false" => Ok(Filter::Active(false)),
            _ => Err(invalid()),
        },
        _ => Err(invalid()),
    }
}

/// `GET {base}/Users`.
async fn list_users(
    State(state): State<Arc<Inner>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ScimError> {
    check_scim_auth(&state, &headers)?;
    let params = query.as_deref().map(parse_query).unwrap_or_default();
    let start_index = parse_int(&params, "startIndex")?.unwrap_or(1).max(1) as usize;
    let count = match parse_int(&params, "count")? {
        None => DEFAULT_COUNT,
        Some(c) => c.max(0) as usize,
    }
    .min(state.config.max_results);
    let filter = param(&params, "filter").map(parse_filter).transpose()?;
    // sortBy / sortOrder / attributes are accepted and ignored: server order is stable.

    let skip = start_index - 1;
    let (total, items) = {
        let store = state.read();
        match &filter {
            None => {
                let total = store.entries.len();
                let from = skip.min(total);
                let to = from.saturating_add(count).min(total);
                let items: Vec<Bytes> = store.entries[from..to]
                    .iter()
                    .map(|e| e.bytes.clone())
                    .collect();
                (total, items)
            }
            Some(f) => {
                let mut total = 0usize;
                let mut items = Vec::new();
                for e in &store.entries {
                    if f.matches(&e.facts) {
                        if total >= skip && items.len() < count {
                            items.push(e.bytes.clone());
                        }
                        total += 1;
                    }
                }
                (total, items)
            }
        }
    };

    let payload: usize = items.iter().map(|b| b.len() + 1).sum();
    let mut out = Vec::with_capacity(160 + payload);
    out.extend_from_slice(b"{\"schemas\":[\"");
    out.extend_from_slice(LIST_SCHEMA.as_bytes());
    out.extend_from_slice(b"\"],\"totalResults\":");
    out.extend_from_slice(total.to_string().as_bytes());
    out.extend_from_slice(b",\"itemsPerPage\":");
    out.extend_from_slice(items.len().to_string().as_bytes());
    out.extend_from_slice(b",\"startIndex\":");
    out.extend_from_slice(start_index.to_string().as_bytes());
    if count > 0 {
        out.extend_from_slice(b",\"Resources\":[");
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(item);
        }
        out.push(b']');
    }
    out.push(b'}');
    let resp = scim_json(StatusCode::OK, Bytes::from(out));
    state.list_page_served();
    Ok(resp)
}

/// `GET {base}/Users/{id}`.
async fn get_user(
    State(state): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    check_scim_auth(&state, &headers)?;
    let bytes = state.read().get(&id).map(|e| e.bytes.clone());
    match bytes {
        Some(b) => Ok(scim_json(StatusCode::OK, b)),
        None => Err(ScimError::not_found(&id)),
    }
}

/// `DELETE {base}/Users/{id}`: 204, or 404.
async fn delete_user(
    State(state): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    check_scim_auth(&state, &headers)?;
    if state.write().remove(&id) {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ScimError::not_found(&id))
    }
}

/// `PATCH {base}/Users/{id}`.
async fn patch_user(
    State(state): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ScimError> {
    check_scim_auth(&state, &headers)?;
    let doc: Value = serde_json::from_slice(&body).map_err(|e| {
        ScimError::bad_request(
            "invalidSyntax",
            format!("Request body is not valid JSON: {e}"),
        )
    })?;
    let operations = validate_patch_request(&doc)?;
    let updated = {
        let mut store = state.write();
        let Some(entry) = store.get_mut(&id) else {
            return Err(ScimError::not_found(&id));
        };
        let mut candidate = entry.value();
        for op in operations {
            apply_operation(&mut candidate, op)?;
        }
        entry.set_value(&candidate);
        entry.bytes.clone()
    };
    if state.config.patch_returns_body {
        Ok(scim_json(StatusCode::OK, updated))
    } else {
        Ok(StatusCode::NO_CONTENT.into_response())
    }
}

/// Checks the PatchOp envelope and returns its operations.
fn validate_patch_request(doc: &Value) -> Result<&Vec<Value>, ScimError> {
    let obj = doc.as_object().ok_or_else(|| {
        ScimError::bad_request("invalidSyntax", "Request body must be a JSON object")
    })?;
    let has_schema = obj
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|v| v.as_str() == Some(PATCH_SCHEMA)));
    if !has_schema {
        return Err(ScimError::bad_request(
            "invalidSyntax",
            format!("'schemas' must contain '{PATCH_SCHEMA}'"),
        ));
    }
    let ops = obj
        .get("Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::bad_request("invalidSyntax", "'Operations' must be an array"))?;
    if ops.is_empty() {
        return Err(ScimError::bad_request(
            "invalidValue",
            "'Operations' must not be empty",
        ));
    }
    Ok(ops)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Replace,
    Remove,
}

/// Applies one PATCH operation to `user` (a copy: on error the caller discards it).
fn apply_operation(user: &mut Value, op: &Value) -> Result<(), ScimError> {
    let op_obj = op.as_object().ok_or_else(|| {
        ScimError::bad_request("invalidSyntax", "Each operation must be a JSON object")
    })?;
    let op_name = op_obj
        .get("op")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::bad_request("invalidSyntax", "Operation is missing 'op'"))?;
    let kind = match op_name.to_ascii_lowercase().as_str() {
        "add" => Op::Add,
        "replace" => Op::Replace,
        "remove" => Op::Remove,
        _ => {
            return Err(ScimError::bad_request(
                "invalidValue",
                format!("Unsupported operation '{op_name}': expected add, replace or remove"),
            ));
        }
    };
    let path = match op_obj.get("path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) => Some(p.as_str()),
        Some(_) => {
            return Err(ScimError::bad_request(
                "invalidPath",
                "'path' must be a string",
            ));
        }
    };
    let value = op_obj.get("value");
    let obj = user.as_object_mut().ok_or_else(|| ScimError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        scim_type: None,
        detail: "Stored resource is not a JSON object".into(),
    })?;
    match (kind, path) {
        (Op::Remove, None) => Err(ScimError::bad_request(
            "noTarget",
            "'remove' requires a 'path'",
        )),
        (Op::Remove, Some(p)) => remove_attribute(obj, p),
        (_, Some(p)) => {
            let v = value.ok_or_else(|| {
                ScimError::bad_request("invalidValue", "Operation is missing 'value'")
            })?;
            set_attribute(obj, p, v)
        }
        (_, None) => {
            let map = value.and_then(Value::as_object).ok_or_else(|| {
                ScimError::bad_request(
                    "invalidValue",
                    "Without 'path', 'value' must be an object of attributes",
                )
            })?;
            for (k, v) in map {
                set_attribute(obj, k, v)?;
            }
            Ok(())
        }
    }
}

fn normalize_path(path: &str) -> String {
    let lower = path.trim().to_ascii_lowercase();
    let prefix = format!("{}:", USER_SCHEMA.to_ascii_lowercase());
    match lower.strip_prefix(&prefix) {
        Some(rest) => rest.to_owned(),
        None => lower,
    }
}

fn parse_bool(v: &Value) -> Result<bool, ScimError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(false),
        other => Err(ScimError::bad_request(
            "invalidValue",
            format!("'active' must be a boolean, got {other}"),
        )),
    }
}

fn string_value(v: &Value, path: &str) -> Result<String, ScimError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(ScimError::bad_request(
            "invalidValue",
            format!("'{path}' must be a string, got {other}"),
        )),
    }
}

fn set_name_part(
    obj: &mut serde_json::Map<String, Value>,
    key: &str,
    v: &Value,
) -> Result<(), ScimError> {
    let s = string_value(v, key)?;
    let name = obj
        .entry("name")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    if !name.is_object() {
        *name = Value::Object(serde_json::Map::new());
    }
    if let Some(n) = name.as_object_mut() {
        n.insert(key.into(), Value::from(s));
    }
    Ok(())
}

fn set_attribute(
    obj: &mut serde_json::Map<String, Value>,
    path: &str,
    v: &Value,
) -> Result<(), ScimError> {
    match normalize_path(path).as_str() {
        "active" => {
            obj.insert("active".into(), Value::Bool(parse_bool(v)?));
        }
        "displayname" => {
            obj.insert("displayName".into(), Value::from(string_value(v, path)?));
        }
        "usertype" => {
            obj.insert("userType".into(), Value::from(string_value(v, path)?));
        }
        "username" => {
            obj.insert("userName".into(), Value::from(string_value(v, path)?));
        }
        "preferredlanguage" => {
            obj.insert(
                "preferredLanguage".into(),
                Value::from(string_value(v, path)?),
            );
        }
        "name.givenname" => set_name_part(obj, "givenName", v)?,
        "name.familyname" => set_name_part(obj, "familyName", v)?,
        "name" => {
            let map = v.as_object().ok_or_else(|| {
                ScimError::bad_request("invalidValue", "'name' must be an object")
            })?;
            for (k, part) in map {
                match k.to_ascii_lowercase().as_str() {
                    "givenname" => set_name_part(obj, "givenName", part)?,
                    "familyname" => set_name_part(obj, "familyName", part)?,
                    _ => {
                        return Err(ScimError::bad_request(
                            "invalidPath",
                            format!("Unsupported attribute 'name.{k}'"),
                        ));
                    }
                }
            }
        }
        _ => {
            return Err(ScimError::bad_request(
                "invalidPath",
                format!("Unsupported or unknown path '{path}'"),
            ));
        }
    }
    Ok(())
}

fn remove_attribute(obj: &mut serde_json::Map<String, Value>, path: &str) -> Result<(), ScimError> {
    let key = match normalize_path(path).as_str() {
        "displayname" => "displayName",
        "usertype" => "userType",
        "preferredlanguage" => "preferredLanguage",
        "active" | "username" | "id" => {
            return Err(ScimError::bad_request(
                "mutability",
                format!("Attribute '{path}' cannot be removed"),
            ));
        }
        _ => {
            return Err(ScimError::bad_request(
                "invalidPath",
                format!("Unsupported or unknown path '{path}'"),
            ));
        }
    };
    obj.remove(key);
    Ok(())
}

/// `GET {base}/ServiceProviderConfig`.
async fn service_provider_config(
    State(state): State<Arc<Inner>>,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    check_scim_auth(&state, &headers)?;
    let doc = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://developers.miro.com/docs/scim",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": state.config.max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication scheme using the OAuth Bearer Token Standard",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", state.gen_ctx.scim_base_url)
        }
    });
    Ok(scim_json(StatusCode::OK, doc.to_string().into()))
}

async fn not_found() -> Response {
    scim_error_response(
        StatusCode::NOT_FOUND,
        None,
        "Endpoint not found",
        false,
        false,
    )
}

async fn method_not_allowed() -> Response {
    scim_error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        None,
        "Method not allowed",
        false,
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let q = parse_query("filter=userName%20eq%20%22a%2Bb%40x.com%22&count=5&x&bad=%zz%4");
        assert_eq!(q[0].1, "userName eq \"a+b@x.com\"");
        assert_eq!(param(&q, "count"), Some("5"));
        assert_eq!(param(&q, "x"), Some(""));
        assert_eq!(param(&q, "bad"), Some("%zz%4"));
        assert_eq!(parse_query("a=b+c")[0].1, "b c");
    }

    #[test]
    fn filters() {
        assert_eq!(
            parse_filter("USERNAME EQ \"BOB@X.COM\"").ok(),
            Some(Filter::UserName("bob@x.com".into()))
        );
        assert_eq!(
            parse_filter("active eq False").ok(),
            Some(Filter::Active(false))
        );
        assert_eq!(
            parse_filter("urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"a\"").ok(),
            Some(Filter::UserName("a".into()))
        );
        for bad in [
            "",
            "userName",
            "userName eq",
            "userName eq bob",
            "userName co \"b\"",
            "userName eq \"a\" and active eq true",
            "active eq yes",
            "displayName eq \"x\"",
        ] {
            assert!(parse_filter(bad).is_err(), "{bad}");
        }
    }
}
