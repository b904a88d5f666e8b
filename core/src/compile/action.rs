//! Compiling a manifest's `actions`: one request on one object (look a user up,
//! deactivate them). Templates see the inputs, the action's params and its settings;
//! the body must render to JSON; the result is read with a stream's fields or the
//! action's own.

use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use rollcall_source::{Diagnostic, Document, suggest};
use serde_json::Value;

use super::field::FieldSet;
use super::plugins::Opened;
use super::{
    JsonPath, RESERVED_INPUT_NAMES, Stream, Template, Templates, check_header_name, compile_fields,
    escape, primary_key_index,
};
use crate::manifest::{ActionParamSpec, ActionSpec, ConnectorManifest, Method};

/// A compiled action.
#[derive(Debug)]
pub struct Action {
    /// Action name (e.g. `deactivate_user`).
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Parameters given on each call, in manifest order.
    pub params: IndexMap<String, ActionParamSpec>,
    /// Fixed values the templates see (a call may override them).
    pub settings: IndexMap<String, Value>,
    /// HTTP method.
    pub method: Method,
    /// Path template.
    pub path: Template,
    /// Query parameter templates.
    pub query: Vec<(String, Template)>,
    /// Header templates.
    pub headers: Vec<(String, Template)>,
    /// Body template (renders to JSON).
    pub body: Option<Template>,
    /// Success statuses; empty means any 2xx.
    pub success: Vec<u16>,
    /// Statuses that mean "no such object".
    pub not_found: Vec<u16>,
    /// Body error texts that mean "no such object".
    pub not_found_errors: Vec<String>,
    /// This action's rate limit (requests per window), else the connector's.
    pub rate_limit: Option<(u32, Duration)>,
    /// How the answer becomes a record.
    pub result: Option<ActionResult>,
}

/// How an action's answer becomes a record.
#[derive(Debug)]
pub struct ActionResult {
    /// Selects the object in the answer.
    pub record: JsonPath,
    /// Its fields (shared with a stream when `fields_from` names one).
    pub fields: Arc<FieldSet>,
    /// The stream the fields come from, if any.
    pub fields_from: Option<String>,
}

impl Action {
    /// Every variable name the action's templates may use besides the inputs.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.params
            .keys()
            .chain(self.settings.keys())
            .map(String::as_str)
    }
}

/// Compiles every action of `m`. Problems go to `diags`; an action with problems is
/// left out (the connector does not load anyway).
pub(super) fn compile_actions(
    m: &ConnectorManifest,
    doc: &Document,
    templates: &mut Templates,
    streams: &IndexMap<String, Stream>,
    opened: &Opened,
    diags: &mut Vec<Diagnostic>,
) -> IndexMap<String, Action> {
    let mut out = IndexMap::new();
    for (name, a) in &m.actions {
        let ap = format!("/actions/{}", escape(name));
        let before = diags.len();
        let action = compile_action(m, name, a, &ap, doc, templates, streams, opened, diags);
        if diags.len() == before {
            out.insert(name.clone(), action);
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn compile_action(
    m: &ConnectorManifest,
    name: &str,
    a: &ActionSpec,
    ap: &str,
    doc: &Document,
    templates: &mut Templates,
    streams: &IndexMap<String, Stream>,
    opened: &Opened,
    diags: &mut Vec<Diagnostic>,
) -> Action {
    let err = |diags: &mut Vec<Diagnostic>, pointer: &str, msg: String, hint: Option<&str>| {
        diags.push(doc.error_at(pointer, msg, hint.map(str::to_string)));
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        err(
            diags,
            ap,
            format!("the action name `{name}` may only use letters, digits and `_`"),
            Some("e.g. `deactivate_user`"),
        );
    }

    // Variables: inputs, then params and settings, which must not shadow anything.
    let mut variables: Vec<&str> = m.inputs.keys().map(String::as_str).collect();
    let declared = a
        .params
        .keys()
        .map(|k| (k, "params"))
        .chain(a.settings.keys().map(|k| (k, "settings")));
    for (var, section) in declared {
        let ptr = format!("{ap}/{section}/{}", escape(var));
        if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            err(
                diags,
                &ptr,
                format!("the name `{var}` may only use letters, digits and `_`"),
                None,
            );
        } else if RESERVED_INPUT_NAMES.contains(&var.as_str()) {
            err(
                diags,
                &ptr,
                format!("`{var}` is reserved and cannot name a param or setting"),
                None,
            );
        } else if m.inputs.contains_key(var) {
            err(
                diags,
                &ptr,
                format!(
                    "`{var}` is already an input of the connector, so the action cannot declare it again"
                ),
                Some("give it another name; inputs are available to every action anyway"),
            );
        } else if variables.contains(&var.as_str()) {
            err(
                diags,
                &ptr,
                format!("`{var}` is both a param and a setting of the action `{name}`"),
                Some("keep one of them"),
            );
        }
        variables.push(var);
    }

    let mut tpl = |diags: &mut Vec<Diagnostic>, pointer: &str, source: &str| -> Template {
        match templates.compile(source, &variables) {
            Ok(t) => t,
            Err((msg, hint)) => {
                diags.push(doc.error_at(pointer, msg, hint));
                Template::Literal(String::new())
            }
        }
    };
    let path = tpl(diags, &format!("{ap}/request/path"), &a.request.path);
    let query: Vec<(String, Template)> = a
        .request
        .query
        .iter()
        .map(|(k, v)| {
            let t = tpl(diags, &format!("{ap}/request/query/{}", escape(k)), v);
            (k.clone(), t)
        })
        .collect();
    let mut headers = Vec::new();
    for (k, v) in &a.request.headers {
        let ptr = format!("{ap}/request/headers/{}", escape(k));
        check_header_name(k, &ptr, doc, diags);
        headers.push((k.clone(), tpl(diags, &ptr, v)));
    }
    let body = a
        .body
        .as_deref()
        .map(|b| tpl(diags, &format!("{ap}/body"), b));
    if let Some(t) = &body {
        check_body_is_json(templates, t, m, a, &format!("{ap}/body"), doc, diags);
        if matches!(a.request.method, Method::Get | Method::Delete) {
            err(
                diags,
                &format!("{ap}/body"),
                format!(
                    "the action `{name}` sends a body with {}, which servers ignore or refuse",
                    method_name(a.request.method)
                ),
                Some("use `method: PATCH`, `PUT` or `POST`, or remove `body`"),
            );
        }
    }

    for (i, s) in a.success.iter().enumerate() {
        if !(200..300).contains(s) {
            err(
                diags,
                &format!("{ap}/success/{i}"),
                format!("status {s} cannot mean success: only 2xx statuses can"),
                Some(
                    "list e.g. `[200, 204]`; a status meaning \"already gone\" belongs in `not_found`",
                ),
            );
        }
    }
    for (i, s) in a.not_found.iter().enumerate() {
        if !(400..500).contains(s) || *s == 401 || *s == 403 || *s == 429 {
            err(
                diags,
                &format!("{ap}/not_found/{i}"),
                format!("status {s} cannot mean \"no such object\""),
                Some(
                    "use a 4xx such as 404 or 410; 401, 403 and 429 are about the credentials or the rate, not the object",
                ),
            );
        }
    }
    if !a.not_found_errors.is_empty()
        && m.http
            .body_errors
            .as_ref()
            .is_none_or(|b| b.message_path.is_none())
    {
        err(
            diags,
            &format!("{ap}/not_found_errors"),
            "`not_found_errors` are error texts read from answers, but the connector does not say where they are".into(),
            Some("declare `http.body_errors` with `ok_path` and `message_path`, e.g. `{ ok_path: $.ok, message_path: $.error }`"),
        );
    }
    let rate_limit = match &a.rate_limit {
        Some(rl) if rl.requests == 0 || rl.per.get().is_zero() => {
            err(
                diags,
                &format!("{ap}/rate_limit"),
                "a rate limit needs at least 1 request in a window longer than 0".into(),
                None,
            );
            None
        }
        Some(rl) => Some((rl.requests, rl.per.get())),
        None => None,
    };

    let result = match &a.result {
        None => None,
        Some(r) => {
            let rp = format!("{ap}/result");
            let record = match JsonPath::parse(&r.record) {
                Ok(p) => Some(p),
                Err(e) => {
                    err(
                        diags,
                        &format!("{rp}/record"),
                        e,
                        Some(
                            "`$` is the whole body; e.g. `$.user` for `{\"ok\": true, \"user\": {...}}`",
                        ),
                    );
                    None
                }
            };
            let fields = match (&r.fields_from, r.fields.is_empty()) {
                (Some(from), true) => match streams.get(from) {
                    Some(s) => Some(s.fields.clone()),
                    None if m.streams.contains_key(from) => None, // the stream has its own problems
                    None => {
                        let hint = suggest(from, m.streams.keys().map(String::as_str))
                            .map(|c| format!("did you mean `{c}`?"))
                            .unwrap_or_else(|| {
                                format!(
                                    "the streams are: {}",
                                    m.streams.keys().cloned().collect::<Vec<_>>().join(", ")
                                )
                            });
                        err(
                            diags,
                            &format!("{rp}/fields_from"),
                            format!(
                                "`fields_from` names the stream `{from}`, which the connector does not have"
                            ),
                            Some(&hint),
                        );
                        None
                    }
                },
                (None, false) => {
                    let fields = compile_fields(&r.fields, &rp, doc, opened, diags);
                    let key = r.primary_key.as_deref().unwrap_or("id");
                    let primary_key = primary_key_index(
                        &r.fields,
                        key,
                        &format!("the result of action `{name}`"),
                        &format!("{rp}/primary_key"),
                        doc,
                        diags,
                    );
                    (fields.len() == r.fields.len()).then(|| {
                        Arc::new(FieldSet {
                            fields,
                            primary_key,
                        })
                    })
                }
                (Some(_), false) => {
                    err(
                        diags,
                        &rp,
                        format!("the result of `{name}` has both `fields_from` and `fields`"),
                        Some("keep one of them"),
                    );
                    None
                }
                (None, true) => {
                    err(
                        diags,
                        &rp,
                        format!(
                            "the result of `{name}` says neither which fields to read (`fields`) nor which stream's fields to reuse (`fields_from`)"
                        ),
                        Some("add e.g. `fields_from: users`"),
                    );
                    None
                }
            };
            if r.fields_from.is_some() && r.primary_key.is_some() {
                err(
                    diags,
                    &format!("{rp}/primary_key"),
                    "`primary_key` goes with `fields`; with `fields_from` the stream's primary key is used".into(),
                    Some("remove `primary_key`"),
                );
            }
            match (record, fields) {
                (Some(record), Some(fields)) => Some(ActionResult {
                    record,
                    fields,
                    fields_from: r.fields_from.clone(),
                }),
                _ => None,
            }
        }
    };

    Action {
        name: name.to_string(),
        description: a.description.clone(),
        params: a.params.clone(),
        settings: a.settings.clone(),
        method: a.request.method,
        path,
        query,
        headers,
        body,
        success: a.success.clone(),
        not_found: a.not_found.clone(),
        not_found_errors: a.not_found_errors.clone(),
        rate_limit,
        result,
    }
}

/// Renders the body once with the settings' real values and `"probe"` for inputs and
/// params, and checks that the text is JSON.
fn check_body_is_json(
    templates: &Templates,
    body: &Template,
    m: &ConnectorManifest,
    a: &ActionSpec,
    pointer: &str,
    doc: &Document,
    diags: &mut Vec<Diagnostic>,
) {
    if matches!(body, Template::Literal(s) if s.is_empty()) && a.body.as_deref() != Some("") {
        return; // the template itself did not compile; that is reported already
    }
    let mut ctx = serde_json::Map::new();
    for k in m.inputs.keys().chain(a.params.keys()) {
        ctx.insert(k.clone(), Value::String("probe".into()));
    }
    for (k, v) in &a.settings {
        ctx.insert(k.clone(), v.clone());
    }
    let Ok(text) = templates.render(body, &Value::Object(ctx)) else {
        return;
    };
    if let Err(e) = serde_json::from_str::<Value>(&text) {
        diags.push(doc.error_at(
            pointer,
            format!(
                "the body does not render to JSON (with every input and param set to \"probe\" it reads `{}`: {e})",
                crate::http::error::shorten(&text, 120)
            ),
            Some("write values with `{{json NAME}}`, which quotes strings and leaves booleans bare, or put `{{NAME}}` inside quotes".into()),
        ));
    }
}

/// The method as sent on the wire.
pub fn method_name(m: Method) -> &'static str {
    match m {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Patch => "PATCH",
        Method::Delete => "DELETE",
    }
}
