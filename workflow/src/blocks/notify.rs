//! `notify`: POSTs a JSON summary of a run to a webhook (Slack-compatible: the summary has
//! a `text` line besides the details). The URL may carry a secret (many webhooks do), so
//! it is never printed: messages name only its host.

use std::time::Duration;

use serde_json::Value;

/// How long the webhook may take to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The URL as shown in messages and the audit log: scheme and host only.
pub fn shown(url: &url::Url) -> String {
    format!(
        "{}://{}/…",
        url.scheme(),
        url.host_str().unwrap_or("(no host)")
    )
}

/// Sends `summary`. `Err` is a sentence saying why it failed.
pub async fn send(url: &url::Url, summary: &Value) -> Result<u16, String> {
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot make an HTTP client: {}", e.without_url()))?;
    let resp = client
        .post(url.clone())
        .json(summary)
        .send()
        .await
        .map_err(|e| {
            format!(
                "the webhook {} did not answer: {}",
                shown(url),
                e.without_url()
            )
        })?;
    let status = resp.status().as_u16();
    if resp.status().is_success() {
        Ok(status)
    } else {
        Err(format!("the webhook {} answered HTTP {status}", shown(url)))
    }
}
