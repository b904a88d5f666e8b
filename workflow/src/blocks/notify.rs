//! `notify`: POSTs a JSON summary of a run to a webhook (Slack-compatible: the summary has
//! a `text` line besides the details). The URL may carry a secret (many webhooks do), so
//! it is never printed: it lives in a [`WebhookUrl`] (a [`Secret`] plus its host for
//! messages), and messages name only its host.
//!
//! The URL comes from the workflow file (`url:`, kept in plain text in the store, which
//! `workflows apply` warns about) or, preferably, from a webhook credential in the vault
//! (`url_credential:`), which the caller decrypts and hands to
//! [`crate::Workflow::resolve_webhook`] before an apply.

use std::fmt;
use std::time::Duration;

use rollcall_core::secret::Secret;
use serde_json::Value;

/// How long the webhook may take to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The one secret input of a webhook credential: the URL.
pub const URL_INPUT: &str = "url";

/// A checked webhook URL (https, or http to this machine). `Debug` shows only its host.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    url: Secret,
    shown: String,
}

impl WebhookUrl {
    /// The URL as shown in messages and the audit log: scheme and host only.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The URL itself. Call this only where it goes on the wire.
    pub fn expose(&self) -> &str {
        self.url.expose()
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookUrl({})", self.shown)
    }
}

/// Where a `notify` block posts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Webhook {
    /// A URL written in the workflow file.
    Literal(WebhookUrl),
    /// A webhook credential in the vault, by name; `url` is set once the caller has
    /// decrypted it ([`crate::Workflow::resolve_webhook`]).
    Credential {
        /// The credential's name.
        name: String,
        /// The decrypted, checked URL.
        url: Option<WebhookUrl>,
    },
}

impl Webhook {
    /// The URL to post to, when known.
    pub fn url(&self) -> Option<&WebhookUrl> {
        match self {
            Webhook::Literal(u) => Some(u),
            Webhook::Credential { url, .. } => url.as_ref(),
        }
    }

    /// The webhook in words, for messages and the audit log: its host, and the
    /// credential it comes from.
    pub fn describe(&self) -> String {
        match self {
            Webhook::Literal(u) => u.shown().to_string(),
            Webhook::Credential { name, url: Some(u) } => {
                format!("{} (credential `{name}`)", u.shown())
            }
            Webhook::Credential { name, url: None } => {
                format!("the webhook in credential `{name}`")
            }
        }
    }
}

/// Checks a webhook URL: https, or http to this machine (tests, local relays). The
/// error (a sentence and a hint) never contains the URL.
pub fn check_url(text: &str) -> Result<WebhookUrl, (String, String)> {
    let url = url::Url::parse(text.trim()).map_err(|e| {
        (
            format!("the webhook URL is not a URL ({e})"),
            "write the full URL, e.g. `https://hooks.example.com/...`".to_string(),
        )
    })?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err((
                "the webhook URL uses plain http to another machine, so the summary would travel unencrypted".to_string(),
                "use https".to_string(),
            ));
        }
        other => {
            return Err((
                format!("the webhook URL uses `{other}:`, and only https is sent to"),
                "use an https URL".to_string(),
            ));
        }
    }
    Ok(WebhookUrl {
        shown: shown(&url),
        url: Secret::new(String::from(url)),
    })
}

/// The URL as shown in messages and the audit log: scheme and host only.
pub fn shown(url: &url::Url) -> String {
    format!(
        "{}://{}/…",
        url.scheme(),
        url.host_str().unwrap_or("(no host)")
    )
}

/// Sends `summary`. `Err` is a sentence saying why it failed; it names only the host.
pub async fn send(url: &WebhookUrl, summary: &Value) -> Result<u16, String> {
    let target = url::Url::parse(url.expose())
        .map_err(|e| format!("the webhook URL for {} does not parse ({e})", url.shown()))?;
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot make an HTTP client: {}", e.without_url()))?;
    let resp = client
        .post(target)
        .json(summary)
        .send()
        .await
        .map_err(|e| {
            format!(
                "the webhook {} did not answer: {}",
                url.shown(),
                e.without_url()
            )
        })?;
    let status = resp.status().as_u16();
    if resp.status().is_success() {
        Ok(status)
    } else {
        Err(format!(
            "the webhook {} answered HTTP {status}",
            url.shown()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_is_never_in_debug_or_errors() {
        let secret_path = "/services/T000/B000/XyZsecretPart42";
        let url = check_url(&format!("https://hooks.example.com{secret_path}")).unwrap();
        assert_eq!(url.shown(), "https://hooks.example.com/…");
        let hook = Webhook::Credential {
            name: "team-hook".into(),
            url: Some(url.clone()),
        };
        let shown = format!("{hook:?} {}", hook.describe());
        assert!(!shown.contains("XyZsecretPart42"), "{shown}");
        assert!(shown.contains("credential `team-hook`"), "{shown}");

        let (msg, hint) = check_url(&format!("http://hooks.example.com{secret_path}")).unwrap_err();
        assert!(!msg.contains("XyZsecretPart42") && !hint.contains("XyZsecretPart42"));
        let (msg, _) = check_url(&format!("ftp://hooks.example.com{secret_path}")).unwrap_err();
        assert!(!msg.contains("XyZsecretPart42"), "{msg}");
        let (msg, _) = check_url("hooks.example.com/XyZsecretPart42").unwrap_err();
        assert!(!msg.contains("XyZsecretPart42"), "{msg}");
    }

    #[tokio::test]
    async fn a_failed_post_names_only_the_host() {
        // A port that was free a moment ago: the connection is refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = check_url(&format!("http://127.0.0.1:{port}/hook/XyZsecretPart42")).unwrap();
        let e = send(&url, &serde_json::json!({"text": "hi"}))
            .await
            .unwrap_err();
        assert!(e.contains("http://127.0.0.1/…"), "{e}");
        assert!(!e.contains("XyZsecretPart42"), "{e}");
    }
}
