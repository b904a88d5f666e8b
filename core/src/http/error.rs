//! Errors from talking to an API, as sentences people can act on.

use std::time::Duration;

use serde_json::Value;

/// Why a fetch failed. Every message names the request (secrets already redacted).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// 401.
    #[error(
        "the API rejected the credentials (HTTP 401 from {request}){detail}; check the secret inputs ({secrets}) and that the token has not expired or been revoked"
    )]
    Unauthorized {
        /// The request.
        request: String,
        /// What the server said, prefixed with ": ".
        detail: String,
        /// Names of the secret inputs.
        secrets: String,
    },
    /// The token endpoint (`auth.token_endpoint`) would not issue a token.
    #[error(
        "the token endpoint refused to issue an access token (HTTP {status} from {request}){detail}; check the client credentials in the secret inputs ({secrets}) and the other inputs of the token request (e.g. the account id)"
    )]
    TokenRefused {
        /// Status.
        status: u16,
        /// The token request.
        request: String,
        /// What the server said, prefixed with ": ".
        detail: String,
        /// Names of the secret inputs.
        secrets: String,
    },
    /// 403.
    #[error(
        "the API refused access (HTTP 403 from {request}){detail}; the token lacks permission, or the API is turned off for this account (for SCIM: is SCIM provisioning enabled?)"
    )]
    Forbidden {
        /// The request.
        request: String,
        /// What the server said.
        detail: String,
    },
    /// Any other unsuccessful status that is not retried.
    #[error("HTTP {status} from {request}{detail}")]
    Status {
        /// Status code.
        status: u16,
        /// The request.
        request: String,
        /// What the server said.
        detail: String,
    },
    /// Retried until the attempts ran out.
    #[error("{request} failed {attempts} times; the last failure: {last}")]
    RetriesExhausted {
        /// The request.
        request: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The server asked to wait longer than allowed.
    #[error(
        "{request} got HTTP {status} asking to retry after {wait:?}, longer than the {cap:?} this connector allows (http.retry.max_retry_after); try again later"
    )]
    RetryAfterTooLong {
        /// The request.
        request: String,
        /// Status.
        status: u16,
        /// Requested wait.
        wait: Duration,
        /// The cap.
        cap: Duration,
    },
    /// A redirect the engine will not follow.
    #[error(
        "{request} was redirected to {location}, another host; rollcall never sends credentials to another host: set the base URL to the final address instead"
    )]
    RedirectToOtherHost {
        /// The request.
        request: String,
        /// The Location header.
        location: String,
    },
    /// A body that is not what the connector expects.
    #[error("{request} answered with a body that is not JSON{detail}")]
    NotJson {
        /// The request.
        request: String,
        /// What the body looked like.
        detail: String,
    },
    /// A 2xx answer whose body reports an error (`http.body_errors`).
    #[error(
        "{request} answered with an error in its body ({flag} is not true){detail}; if it is about the token or its scopes, check the secret inputs"
    )]
    InBody {
        /// The request.
        request: String,
        /// What the body said, prefixed with ": ".
        detail: String,
        /// The flag's JSONPath.
        flag: String,
    },
    /// A URL that cannot be used.
    #[error("{0}")]
    Url(String),
    /// The API's answers do not make sense (e.g. a cursor that repeats).
    #[error("{0}")]
    Protocol(String),
    /// A template could not be rendered.
    #[error("{0}")]
    Template(String),
}

/// What a server said in an error body: the SCIM `detail` (with `scimType`), a JSON
/// `message`/`error`, the title of an HTML page, or the start of the text.
/// Returns "" or ": ..." ready to append to a sentence.
pub fn describe_error_body(content_type: Option<&str>, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return String::new();
    }
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        let pick = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        let detail = pick("detail")
            .or_else(|| pick("message"))
            .or_else(|| pick("error_description"))
            .or_else(|| pick("error"));
        let scim_type = pick("scimType");
        return match (detail, scim_type) {
            (Some(d), Some(t)) => format!(": {d} (scimType {t})"),
            (Some(d), None) => format!(": {d}"),
            (None, Some(t)) => format!(": scimType {t}"),
            (None, None) => format!(": {}", shorten(trimmed, 160)),
        };
    }
    let looks_html = content_type.is_some_and(|c| c.contains("html")) || trimmed.starts_with('<');
    if looks_html {
        let lower = trimmed.to_ascii_lowercase();
        let title = lower.find("<title>").and_then(|start| {
            let from = start + "<title>".len();
            lower[from..]
                .find("</title>")
                .map(|end| trimmed[from..from + end].trim().to_string())
        });
        return match title {
            Some(t) if !t.is_empty() => {
                format!(": the server answered with an HTML page (\"{t}\"), not JSON")
            }
            _ => ": the server answered with an HTML page, not JSON".to_string(),
        };
    }
    format!(": {}", shorten(trimmed, 160))
}

/// At most `max` characters of `s`, with an ellipsis when cut.
pub fn shorten(s: &str, max: usize) -> String {
    let one_line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        format!("{}…", one_line.chars().take(max).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scim_html_and_text_bodies() {
        let scim = br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"429","scimType":"tooManyRequests","detail":"Slow down"}"#;
        assert_eq!(
            describe_error_body(None, scim),
            ": Slow down (scimType tooManyRequests)"
        );
        let num = br#"{"status":404,"detail":"User not found"}"#;
        assert_eq!(describe_error_body(None, num), ": User not found");
        let html = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>";
        assert_eq!(
            describe_error_body(Some("text/html"), html),
            ": the server answered with an HTML page (\"502 Bad Gateway\"), not JSON"
        );
        assert_eq!(describe_error_body(None, b""), "");
        assert_eq!(describe_error_body(None, b"oops"), ": oops");
    }
}
