//! The messages between the host and a plugin. Plain serde types: the same JSON goes
//! through the C ABI (as bytes) and through a subprocess's stdin/stdout (one message
//! a line).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a plugin is and what it offers.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Description {
    /// The plugin's name, the same as its file name without `lib` and extension.
    pub name: String,
    /// The plugin's version (semver).
    pub version: String,
    /// What the plugin does, in a sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The functions it offers.
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    /// A JSON Schema for the `config` a manifest may pass to its functions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_schema: Option<Value>,
}

impl Description {
    /// The capability offering `function`, if any.
    pub fn function(&self, function: &str) -> Option<&Capability> {
        self.capabilities.iter().find(|c| c.function == function)
    }
}

/// One function a plugin offers.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Capability {
    /// What kind of function it is.
    pub kind: CapabilityKind,
    /// The function's name, as manifests write it.
    pub function: String,
    /// What it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// For field transforms: whether the host should send the whole raw record with
    /// each value (costs time; ask only when the function reads other attributes).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub needs_record: bool,
    /// The top-level attributes of a record the function reads (protocol 2). Record
    /// transforms then receive each record with only these attributes, and field
    /// transforms receive the record (as with `needs_record`) with only these. None:
    /// the whole record. Sending less is what makes a subprocess batch cheap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needs: Option<Vec<String>>,
}

/// Kinds of plugin functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CapabilityKind {
    /// A value in, a value out ([`Request::Transform`]).
    FieldTransform,
    /// A page of raw records in, each kept (maybe changed) or dropped ([`Request::Batch`]).
    RecordTransform,
    /// Headers for requests, from the connector's inputs and secrets ([`Request::Auth`]).
    Auth,
    /// A stream's pages: given a response, the next request or the end
    /// ([`Request::Paginate`]). Its `needs` name the top-level attributes of the
    /// response body it reads.
    Paginator,
    /// A kind this host does not know (a newer plugin); ignored.
    #[serde(other)]
    Unknown,
}

/// What the host sends.
///
/// Read through [`RawRequest`] (a flat struct) rather than serde's internally tagged
/// enum support, which buffers the whole message before reading it: a page of records
/// is parsed once, straight into its values.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case", try_from = "RawRequest")]
pub enum Request {
    /// Subprocess plugins only: the first message. The plugin answers
    /// [`Response::Hello`].
    Hello {
        /// The host's [`crate::ABI_VERSION`].
        protocol: u32,
        /// The host program and version, e.g. `rollcall 0.1.0`.
        host: String,
    },
    /// A field transform: one value (never null) in, one value out.
    Transform {
        /// The function.
        function: String,
        /// The field's value (after the manifest's built-in transforms).
        value: Value,
        /// The raw record, when the capability has `needs_record`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        record: Option<Value>,
        /// The manifest's `config` for this use, or null.
        #[serde(default, skip_serializing_if = "Value::is_null")]
        config: Value,
    },
    /// A record transform or filter: one page of raw records. The answer is
    /// [`Response::Records`] with one outcome per record, in order.
    Batch {
        /// The function.
        function: String,
        /// The raw records of the page, as the API returned them.
        records: Vec<Value>,
        /// The manifest's `config` for this use, or null.
        #[serde(default, skip_serializing_if = "Value::is_null")]
        config: Value,
    },
    /// An auth provider: the headers to send with requests. The answer is
    /// [`Response::Headers`].
    Auth {
        /// The function.
        function: String,
        /// The connector's non-secret inputs.
        inputs: BTreeMap<String, String>,
        /// The connector's secret inputs. Never log them.
        secrets: BTreeMap<String, String>,
        /// The manifest's `config` for this use, or null.
        #[serde(default, skip_serializing_if = "Value::is_null")]
        config: Value,
    },
    /// Subprocess plugins only: the host is done; the plugin should exit.
    Goodbye,
    /// A paginator: one page was read; what comes next? The answer is
    /// [`Response::Next`] or [`Response::End`].
    Paginate {
        /// The function.
        function: String,
        /// The number of the page just read (1 for the first).
        page: u64,
        /// The URL that was requested (secrets shown as `***`; never any credentials).
        url: String,
        /// The response's HTTP status.
        status: u16,
        /// The response headers (names in lower case; `set-cookie` left out; a header
        /// sent several times joined with `, `).
        #[serde(default)]
        headers: BTreeMap<String, String>,
        /// How many records the stream's `records` path selected on this page.
        count: u64,
        /// The response body (null when empty); with `needs`, only those top-level
        /// attributes.
        #[serde(default)]
        body: Value,
        /// The manifest's `config` for this use, or null.
        #[serde(default, skip_serializing_if = "Value::is_null")]
        config: Value,
    },
}

/// What a plugin answers. Read through [`RawResponse`], like [`Request`].
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case", try_from = "RawResponse")]
pub enum Response {
    /// The answer to [`Request::Hello`].
    Hello {
        /// The plugin's [`crate::ABI_VERSION`].
        protocol: u32,
        /// What the plugin offers.
        plugin: Description,
    },
    /// The answer to [`Request::Transform`].
    Value {
        /// The new value (null: the field has no value).
        value: Value,
    },
    /// The answer to [`Request::Batch`]: exactly one outcome per record sent.
    Records {
        /// Outcomes, in the order of the records sent.
        records: Vec<RecordOutcome>,
    },
    /// The answer to [`Request::Auth`].
    Headers {
        /// Header name → value.
        headers: BTreeMap<String, String>,
        /// Seconds the headers stay valid; the host asks again after that. None:
        /// valid for the whole run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires_in: Option<u64>,
        /// The names of the headers that are not secret (e.g. `Accept`,
        /// `X-Api-Version`), any case. Every other header's value is a secret: the
        /// host scrubs it from messages, logs and recordings. Empty (the default):
        /// all are secret.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        public_headers: Vec<String>,
    },
    /// The request failed; `message` says why (a sentence).
    Error {
        /// Why.
        message: String,
    },
    /// The answer to [`Request::Paginate`]: request this next. Exactly one of `url`
    /// and `params`.
    Next {
        /// The next URL, absolute or relative to the URL just requested. It must be on
        /// the connector's base URL's host.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        /// Query parameters set on the stream's URL (with its `request.query`): a
        /// parameter of the same name is replaced; a null value leaves it out. Values
        /// are text, numbers or booleans.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        params: Option<BTreeMap<String, Value>>,
    },
    /// The answer to [`Request::Paginate`]: there are no more pages.
    End,
}

/// What became of one record of a [`Request::Batch`].
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordOutcome {
    /// The record as sent, changed or not: `{"keep": {...}}`. When the capability
    /// declares `needs`, it replaces only the attributes that were sent (the others
    /// stay); otherwise it replaces the whole record.
    Keep(Value),
    /// A patch (protocol 2): these top-level attributes are set (added or replaced)
    /// on the record, which is otherwise kept as it is: `{"set": {"a": 1}}`; `{}`
    /// keeps the record unchanged. The cheap answer: only the changes travel back.
    Set(serde_json::Map<String, Value>),
    /// The record is dropped; the reason reaches the run's error log: `{"drop": "why"}`.
    Drop(String),
}

/// Any request, as a flat struct (see [`Request`]).
#[derive(Deserialize)]
#[doc(hidden)]
pub struct RawRequest {
    #[serde(rename = "type")]
    kind: String,
    protocol: Option<u32>,
    host: Option<String>,
    function: Option<String>,
    value: Option<Value>,
    record: Option<Value>,
    records: Option<Vec<Value>>,
    inputs: Option<BTreeMap<String, String>>,
    secrets: Option<BTreeMap<String, String>>,
    #[serde(default)]
    config: Value,
    page: Option<u64>,
    url: Option<String>,
    status: Option<u16>,
    headers: Option<BTreeMap<String, String>>,
    count: Option<u64>,
    #[serde(default)]
    body: Value,
}

fn need<T>(v: Option<T>, kind: &str, field: &str) -> Result<T, String> {
    v.ok_or_else(|| format!("a `{kind}` message needs `{field}`"))
}

impl TryFrom<RawRequest> for Request {
    type Error = String;

    fn try_from(r: RawRequest) -> Result<Self, String> {
        let k = r.kind.as_str();
        Ok(match k {
            "hello" => Request::Hello {
                protocol: need(r.protocol, k, "protocol")?,
                host: r.host.unwrap_or_default(),
            },
            "transform" => Request::Transform {
                function: need(r.function, k, "function")?,
                // A JSON null value arrives as None.
                value: r.value.unwrap_or(Value::Null),
                record: r.record,
                config: r.config,
            },
            "batch" => Request::Batch {
                function: need(r.function, k, "function")?,
                records: need(r.records, k, "records")?,
                config: r.config,
            },
            "auth" => Request::Auth {
                function: need(r.function, k, "function")?,
                inputs: r.inputs.unwrap_or_default(),
                secrets: r.secrets.unwrap_or_default(),
                config: r.config,
            },
            "goodbye" => Request::Goodbye,
            "paginate" => Request::Paginate {
                function: need(r.function, k, "function")?,
                page: need(r.page, k, "page")?,
                url: need(r.url, k, "url")?,
                status: need(r.status, k, "status")?,
                headers: r.headers.unwrap_or_default(),
                count: need(r.count, k, "count")?,
                body: r.body,
                config: r.config,
            },
            other => return Err(format!("unknown request type `{other}`")),
        })
    }
}

/// Any response, as a flat struct (see [`Response`]).
#[derive(Deserialize)]
#[doc(hidden)]
pub struct RawResponse {
    #[serde(rename = "type")]
    kind: String,
    protocol: Option<u32>,
    plugin: Option<Description>,
    #[serde(default)]
    value: Value,
    records: Option<Vec<RecordOutcome>>,
    headers: Option<BTreeMap<String, String>>,
    expires_in: Option<u64>,
    #[serde(default)]
    public_headers: Vec<String>,
    message: Option<String>,
    url: Option<String>,
    params: Option<BTreeMap<String, Value>>,
}

impl TryFrom<RawResponse> for Response {
    type Error = String;

    fn try_from(r: RawResponse) -> Result<Self, String> {
        let k = r.kind.as_str();
        Ok(match k {
            "hello" => Response::Hello {
                protocol: need(r.protocol, k, "protocol")?,
                plugin: need(r.plugin, k, "plugin")?,
            },
            "value" => Response::Value { value: r.value },
            "records" => Response::Records {
                records: need(r.records, k, "records")?,
            },
            "headers" => Response::Headers {
                headers: need(r.headers, k, "headers")?,
                expires_in: r.expires_in,
                public_headers: r.public_headers,
            },
            "error" => Response::Error {
                message: need(r.message, k, "message")?,
            },
            "next" => Response::Next {
                url: r.url,
                params: r.params,
            },
            "end" => Response::End,
            other => return Err(format!("unknown response type `{other}`")),
        })
    }
}

impl Response {
    /// An error response.
    pub fn error(message: impl Into<String>) -> Self {
        Response::Error {
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wire_format() {
        let r = Request::Transform {
            function: "seat_type".into(),
            value: json!("Full"),
            record: None,
            config: Value::Null,
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"type":"transform","function":"seat_type","value":"Full"}"#
        );
        let back: Response = serde_json::from_str(
            r#"{"type":"records","records":[{"keep":{"a":1}},{"drop":"no id"}]}"#,
        )
        .unwrap();
        assert_eq!(
            back,
            Response::Records {
                records: vec![
                    RecordOutcome::Keep(json!({"a": 1})),
                    RecordOutcome::Drop("no id".into())
                ]
            }
        );
        let d: Description = serde_json::from_value(json!({
            "name": "x", "version": "1.0.0",
            "capabilities": [{"kind": "webhook", "function": "next"},
                             {"kind": "record_transform", "function": "f", "needs": ["userName"]}]
        }))
        .unwrap();
        assert_eq!(d.capabilities[0].kind, CapabilityKind::Unknown);
        assert_eq!(d.capabilities[0].needs, None);
        assert_eq!(d.capabilities[1].needs, Some(vec!["userName".to_string()]));
        // Auth answers: every header secret unless listed as public.
        let old: Response =
            serde_json::from_str(r#"{"type":"headers","headers":{"Authorization":"Bearer x"}}"#)
                .unwrap();
        let Response::Headers { public_headers, .. } = &old else {
            panic!("{old:?}")
        };
        assert!(public_headers.is_empty());
        assert_eq!(
            serde_json::to_string(&old).unwrap(),
            r#"{"type":"headers","headers":{"Authorization":"Bearer x"}}"#
        );
        let new: Response = serde_json::from_str(
            r#"{"type":"headers","headers":{"Accept":"application/json"},"expires_in":60,"public_headers":["accept"]}"#,
        )
        .unwrap();
        assert_eq!(
            new,
            Response::Headers {
                headers: BTreeMap::from([("Accept".into(), "application/json".into())]),
                expires_in: Some(60),
                public_headers: vec!["accept".into()],
            }
        );
        let patch: Response = serde_json::from_str(
            r#"{"type":"records","records":[{"set":{"seatType":"full"}},{"set":{}}]}"#,
        )
        .unwrap();
        let mut set = serde_json::Map::new();
        set.insert("seatType".into(), json!("full"));
        assert_eq!(
            patch,
            Response::Records {
                records: vec![
                    RecordOutcome::Set(set),
                    RecordOutcome::Set(serde_json::Map::new())
                ]
            }
        );
    }

    #[test]
    fn paginate_wire_format() {
        let r = Request::Paginate {
            function: "next".into(),
            page: 2,
            url: "https://x/Users?startIndex=11".into(),
            status: 200,
            headers: BTreeMap::from([("link".to_string(), "<…>".to_string())]),
            count: 10,
            body: json!({"totalResults": 25}),
            config: Value::Null,
        };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(
            text,
            r#"{"type":"paginate","function":"next","page":2,"url":"https://x/Users?startIndex=11","status":200,"headers":{"link":"<…>"},"count":10,"body":{"totalResults":25}}"#
        );
        assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), r);
        let e = serde_json::from_str::<Request>(r#"{"type":"paginate","function":"f"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("a `paginate` message needs `page`"), "{e}");
        let d: Description = serde_json::from_value(json!({
            "name": "x", "version": "1.0.0",
            "capabilities": [{"kind": "paginator", "function": "next", "needs": ["meta"]}]
        }))
        .unwrap();
        assert_eq!(d.capabilities[0].kind, CapabilityKind::Paginator);
        for (text, want) in [
            (
                r#"{"type":"next","params":{"cursor":null,"startIndex":11}}"#,
                Response::Next {
                    url: None,
                    params: Some(BTreeMap::from([
                        ("cursor".to_string(), Value::Null),
                        ("startIndex".to_string(), json!(11)),
                    ])),
                },
            ),
            (
                r#"{"type":"next","url":"/Users?page=2"}"#,
                Response::Next {
                    url: Some("/Users?page=2".into()),
                    params: None,
                },
            ),
            (r#"{"type":"end"}"#, Response::End),
        ] {
            let back: Response = serde_json::from_str(text).unwrap();
            assert_eq!(back, want);
            assert_eq!(serde_json::to_string(&back).unwrap(), text);
        }
    }
}
