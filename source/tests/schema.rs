use std::collections::BTreeMap;

use rollcall_source::{SourceFile, check_schema, parse};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Manifest {
    name: String,
    http: Option<Http>,
    streams: BTreeMap<String, Stream>,
}

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Http {
    /// Request timeout, e.g. "30s".
    timeout: Option<String>,
    #[schemars(range(min = 0, max = 10))]
    retries: Option<u32>,
}

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Stream {
    request: Request,
    paginator: Option<Paginator>,
    #[schemars(length(min = 1))]
    fields: Vec<Field>,
    auth: Option<Auth>,
}

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Request {
    method: Option<Method>,
    path: String,
    query: Option<BTreeMap<String, String>>,
    headers: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, JsonSchema, Debug)]
#[allow(clippy::upper_case_acronyms)]
enum Method {
    GET,
    POST,
    PUT,
    PATCH,
    DELETE,
}

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[allow(dead_code)]
enum Paginator {
    Scim { page_size: u32 },
    Offset { limit: u32 },
    Page { size: u32 },
    Cursor { path: String },
    LinkHeader,
    None,
}

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[allow(dead_code)]
enum Auth {
    Bearer { token: String },
    Basic { username: String, password: String },
}

#[derive(Deserialize, JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Field {
    name: String,
    path: String,
    #[serde(default)]
    key: bool,
}

fn schema() -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let schema = generator.into_root_schema_for::<Manifest>();
    serde_json::to_value(schema).unwrap()
}

/// The checked document's diagnostics, rendered. The order of "allowed
/// fields" lists depends on whether serde_json's `preserve_order` feature is
/// enabled in the build, so those lists are sorted here.
fn check(text: &str) -> Vec<String> {
    let doc = parse(SourceFile::new("m.yaml", text)).unwrap_or_else(|d| panic!("{d:#?}"));
    check_schema(&doc, &schema())
        .iter()
        .map(|d| sort_allowed(&d.to_string()))
        .collect()
}

fn sort_allowed(s: &str) -> String {
    const MARK: &str = "The allowed fields are: ";
    match s.split_once(MARK) {
        Some((head, tail)) => {
            let list = tail.strip_suffix('.').unwrap_or(tail);
            let mut fields: Vec<&str> = list.split(", ").collect();
            fields.sort_unstable();
            format!("{head}{MARK}{}.", fields.join(", "))
        }
        None => s.to_string(),
    }
}

const GOOD: &str = "\
name: demo
http:
  timeout: 30s
  retries: 3
streams:
  users:
    request:
      method: GET
      path: /users
      query:
        limit: \"10\"
    paginator:
      cursor:
        path: $.next
    auth:
      type: bearer
      token: abc
    fields:
      - name: id
        path: $.id
        key: true
  groups:
    request:
      path: /groups
    paginator: none
    fields:
      - name: id
        path: $.id
";

#[test]
fn print_schema() {
    println!("{}", serde_json::to_string_pretty(&schema()).unwrap());
}

#[test]
fn valid_document_has_no_problems() {
    assert_eq!(check(GOOD), Vec::<String>::new());
    let doc = parse(SourceFile::new("m.yaml", GOOD)).unwrap();
    let m: Manifest = doc.deserialize().unwrap();
    assert_eq!(m.streams.len(), 2);
}

fn with(replace: &str, by: &str) -> String {
    assert!(GOOD.contains(replace), "{replace}");
    GOOD.replacen(replace, by, 1)
}

#[test]
fn unknown_field_at_key_with_suggestion() {
    let e = check(&with("      path: /users", "      pth: /users"));
    assert_eq!(
        e,
        vec![
            "m.yaml:8:7: error: `streams.users.request` is missing the required field `path`\n  hint: add `path: ...` to `streams.users.request`",
            "m.yaml:9:7: error: unknown field `pth` in `streams.users.request`\n  hint: did you mean `path`? The allowed fields are: headers, method, path, query.",
        ]
    );
}

#[test]
fn wrong_type() {
    let e = check(&with("timeout: 30s", "timeout: 30"));
    assert_eq!(
        e,
        vec![
            "m.yaml:3:12: error: `http.timeout` must be a string or null, but it is a number (30)\n  hint: put the value in quotes (\"30\") to make it a string (http.timeout: Request timeout, e.g. \"30s\".)"
        ]
    );
    let e = check(&with("retries: 3", "retries: \"3\""));
    assert_eq!(
        e,
        vec![
            "m.yaml:4:12: error: `http.retries` must be an integer or null, but it is a string (\"3\")\n  hint: remove the quotes around 3"
        ]
    );
    let e = check(&with("name: demo", "name: [a]"));
    assert_eq!(
        e,
        vec![
            "m.yaml:1:7: error: `name` must be a string, but it is a list\n  hint: write a string here"
        ]
    );
}

#[test]
fn enum_with_suggestion() {
    let e = check(&with("method: GET", "method: GTE"));
    assert_eq!(
        e,
        vec![
            "m.yaml:8:15: error: `streams.users.request.method` is `GTE`, which is not one of GET, POST, PUT, PATCH, DELETE\n  hint: did you mean `GET`?"
        ]
    );
}

#[test]
fn externally_tagged_enum_unknown_kind() {
    let e = check(&with("      cursor:\n", "      scm:\n"));
    assert_eq!(
        e,
        vec![
            "m.yaml:13:7: error: unknown paginator kind `scm` in `streams.users.paginator`: expected one of link_header, none, scim, offset, page, cursor\n  hint: did you mean `scim`?"
        ]
    );
    let e = check(&with("paginator: none", "paginator: none2"));
    assert_eq!(
        e,
        vec![
            "m.yaml:25:16: error: unknown paginator kind `none2` in `streams.groups.paginator`: expected one of link_header, none, scim, offset, page, cursor\n  hint: did you mean `none`?"
        ]
    );
}

#[test]
fn externally_tagged_enum_inner_problem() {
    let e = check(&with("        path: $.next", "        pat: $.next"));
    assert_eq!(
        e,
        vec![
            "m.yaml:14:9: error: `streams.users.paginator.cursor` is missing the required field `path`\n  hint: add `path: ...` to `streams.users.paginator.cursor`",
            "m.yaml:14:9: error: unknown field `pat` in `streams.users.paginator.cursor`\n  hint: did you mean `path`? The allowed fields are: path.",
        ]
    );
    let e = check(&with("paginator: none", "paginator: cursor"));
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("m.yaml:25:16: error: the paginator kind `cursor` needs settings"),
        "{e:?}"
    );
}

#[test]
fn internally_tagged_enum() {
    let e = check(&with("type: bearer", "type: baerer"));
    assert_eq!(
        e,
        vec![
            "m.yaml:16:13: error: unknown type `baerer` in `streams.users.auth`: expected one of bearer, basic\n  hint: did you mean `bearer`?"
        ]
    );
    let e = check(&with("      token: abc", "      tokn: abc"));
    assert_eq!(
        e,
        vec![
            "m.yaml:16:7: error: `streams.users.auth` is missing the required field `token`\n  hint: add `token: ...` to `streams.users.auth`",
            "m.yaml:17:7: error: unknown field `tokn` in `streams.users.auth`\n  hint: did you mean `token`? The allowed fields are: token, type.",
        ]
    );
}

#[test]
fn min_items_and_range() {
    let e = check(&with("retries: 3", "retries: 11"));
    assert_eq!(
        e,
        vec![
            "m.yaml:4:12: error: `http.retries` must be at most 10, but it is 11\n  hint: use a number that is at most 10"
        ]
    );
    let text = GOOD.replace(
        "    fields:\n      - name: id\n        path: $.id\n        key: true\n",
        "    fields: []\n",
    );
    let e = check(&text);
    assert_eq!(
        e,
        vec![
            "m.yaml:18:13: error: `streams.users.fields` must have at least 1 item, but it has 0\n  hint: add items to `streams.users.fields`"
        ]
    );
}

#[test]
fn many_problems_in_one_pass_sorted() {
    let text = GOOD
        .replace("method: GET", "method: GTE")
        .replace("timeout: 30s", "timeout: 30")
        .replace("        path: $.next", "        pat: $.next")
        .replace("      path: /groups", "      path: /groups\n      extra: 1")
        .replace("        key: true", "        key: maybe")
        .replace("name: demo\n", "");
    let e = check(&text);
    let heads: Vec<&str> = e.iter().map(|d| d.lines().next().unwrap()).collect();
    assert_eq!(
        heads,
        vec![
            "m.yaml:1:1: error: The document is missing the required field `name`",
            "m.yaml:2:12: error: `http.timeout` must be a string or null, but it is a number (30)",
            "m.yaml:7:15: error: `streams.users.request.method` is `GTE`, which is not one of GET, POST, PUT, PATCH, DELETE",
            "m.yaml:13:9: error: `streams.users.paginator.cursor` is missing the required field `path`",
            "m.yaml:13:9: error: unknown field `pat` in `streams.users.paginator.cursor`",
            "m.yaml:20:14: error: `streams.users.fields[0].key` must be a boolean (true or false), but it is a string (\"maybe\")",
            "m.yaml:24:7: error: unknown field `extra` in `streams.groups.request`",
        ]
    );
}

#[test]
fn json_documents_are_checked_too() {
    let text = r#"{"name": "x", "streams": {"s": {"request": {"path": 1}, "fields": [{"name": "a", "path": "b"}]}}}"#;
    let doc = parse(SourceFile::new("m.json", text)).unwrap();
    let e: Vec<String> = check_schema(&doc, &schema())
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        e,
        vec![
            "m.json:1:53: error: `streams.s.request.path` must be a string, but it is a number (1)\n  hint: put the value in quotes (\"1\") to make it a string"
        ]
    );
}

#[test]
fn deserialize_error_is_located() {
    let doc = parse(SourceFile::new(
        "m.yaml",
        with("retries: 3", "retries: many"),
    ))
    .unwrap();
    let e = doc.deserialize::<Manifest>().unwrap_err();
    assert_eq!(e.pos, rollcall_source::Pos::new(4, 12));
    assert_eq!(e.pointer.as_deref(), Some("/http/retries"));
    assert!(
        e.message
            .starts_with("`http.retries` must be u32, but it is string \"many\""),
        "{e}"
    );

    let doc = parse(SourceFile::new(
        "m.yaml",
        with("      path: /users", "      pth: /users"),
    ))
    .unwrap();
    let e = doc.deserialize::<Manifest>().unwrap_err();
    assert!(e.to_string().starts_with("m.yaml:9:7: error: unknown field `pth` in `streams.users.request`\n  hint: did you mean `path`?"), "{e}");

    let doc = parse(SourceFile::new(
        "m.yaml",
        with("method: GET", "method: GTE"),
    ))
    .unwrap();
    let e = doc.deserialize::<Manifest>().unwrap_err();
    assert_eq!(e.pos, rollcall_source::Pos::new(8, 15), "{e}");
    assert!(e.to_string().contains("did you mean `GET`?"), "{e}");

    let doc = parse(SourceFile::new("m.yaml", "name: x\n")).unwrap();
    let e = doc.deserialize::<Manifest>().unwrap_err();
    assert_eq!(
        e.to_string(),
        "m.yaml:1:1: error: The document is missing the required field `streams`\n  hint: add `streams: ...` to the document"
    );
}

#[test]
fn schema_edge_cases_do_not_panic() {
    let doc = parse(SourceFile::new("m.yaml", "a: 1\n")).unwrap();
    // Self-referencing $ref.
    let s = serde_json::json!({"$ref": "#/definitions/A", "definitions": {"A": {"$ref": "#/definitions/A"}}});
    let _ = check_schema(&doc, &s);
    let s = serde_json::json!({"allOf": [{"$ref": "#"}]});
    let _ = check_schema(&doc, &s);
    assert_eq!(check_schema(&doc, &serde_json::json!(false)).len(), 1);
    assert!(check_schema(&doc, &serde_json::json!(true)).is_empty());
    assert!(check_schema(&doc, &serde_json::json!({"$ref": "#/nowhere"})).is_empty());
    let s = serde_json::json!({"properties": {"a": {"type": "string", "pattern": "(unclosed"}}});
    assert_eq!(check_schema(&doc, &s).len(), 1);
}
