//! Shared helpers for the integration tests.

use rollcall_testserver::{ScimServer, ServerConfig};
use serde_json::Value;

/// A fixed "now" so generated data is reproducible.
pub const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

pub fn config(users: usize) -> ServerConfig {
    ServerConfig {
        users,
        now_unix: NOW,
        ..ServerConfig::default()
    }
}

pub async fn start(users: usize) -> ScimServer {
    start_with(config(users)).await
}

pub async fn start_with(config: ServerConfig) -> ScimServer {
    match ScimServer::start(config).await {
        Ok(s) => s,
        Err(e) => panic!("server did not start: {e}"),
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub struct Api {
    pub server: ScimServer,
    pub http: reqwest::Client,
}

impl Api {
    pub async fn new(users: usize) -> Self {
        Self::with(config(users)).await
    }

    pub async fn with(config: ServerConfig) -> Self {
        Api {
            server: start_with(config).await,
            http: client(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.server.scim_base_url(), path)
    }

    /// GET a SCIM path with the right token.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth("test-scim-token")
            .header("Accept", "application/scim+json")
            .send()
            .await
            .expect("request")
    }

    pub async fn get_query(&self, path: &str, query: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .query(query)
            .bearer_auth("test-scim-token")
            .send()
            .await
            .expect("request")
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        json_of(self.get(path).await).await
    }

    pub async fn patch(&self, id: &str, body: Value) -> reqwest::Response {
        self.http
            .patch(self.url(&format!("/Users/{id}")))
            .bearer_auth("test-scim-token")
            .header("Content-Type", "application/scim+json")
            .body(body.to_string())
            .send()
            .await
            .expect("request")
    }

    pub async fn members(&self, query: &[(&str, &str)]) -> (u16, Value) {
        let resp = self
            .http
            .get(self.server.members_url())
            .query(query)
            .bearer_auth("test-rest-token")
            .send()
            .await
            .expect("request");
        json_of(resp).await
    }
}

pub async fn json_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, value)
}

pub fn ids(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|u| u["id"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

pub fn patch_op(ops: Value) -> Value {
    serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": ops
    })
}
