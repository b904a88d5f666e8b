//! Rules: the begin block's conditions, checked once when a workflow loads (fields,
//! operand types, durations) and then evaluated on each account. An evaluation that
//! matches says which rules matched and with what value, so a plan can say why an
//! account was selected.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};
use rollcall_core::compile::Connector;
use rollcall_core::duration::HumanDuration;
use rollcall_core::manifest::FieldType;
use rollcall_source::{Diagnostic, Document, suggest};
use rollcall_store::WorkflowAccount;
use serde_json::Value;

use crate::model::{Condition, NeverActive, Rule};

/// What kind of value a field holds, for checking rule operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// Text.
    Text,
    /// true / false.
    Bool,
    /// A number.
    Number,
    /// A date and time.
    Date,
    /// A list of values.
    List,
    /// Any JSON.
    Json,
}

impl FieldKind {
    fn from_type(t: FieldType) -> FieldKind {
        match t {
            FieldType::String => FieldKind::Text,
            FieldType::Bool => FieldKind::Bool,
            FieldType::Integer | FieldType::Number => FieldKind::Number,
            FieldType::Datetime => FieldKind::Date,
            FieldType::List => FieldKind::List,
            FieldType::Json => FieldKind::Json,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::Bool => "true or false",
            FieldKind::Number => "a number",
            FieldKind::Date => "a date",
            FieldKind::List => "a list",
            FieldKind::Json => "a JSON value",
        }
    }
}

/// Where a field's value comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Source {
    ExternalId,
    Username,
    Email,
    UserType,
    Active,
    Roles,
    LastActivity,
    FirstSeen,
    LastSeen,
    /// A connector field in the account's `fields`.
    Connector(String),
}

/// The account's own columns a rule may name, with their kinds.
pub const ACCOUNT_FIELDS: &[(&str, FieldKind)] = &[
    ("external_id", FieldKind::Text),
    ("username", FieldKind::Text),
    ("email", FieldKind::Text),
    ("user_type", FieldKind::Text),
    ("active", FieldKind::Bool),
    ("roles", FieldKind::List),
    ("last_activity_at", FieldKind::Date),
    ("first_seen_at", FieldKind::Date),
    ("last_seen_at", FieldKind::Date),
];

/// A field a rule reads.
#[derive(Clone, Debug)]
struct FieldRef {
    name: String,
    source: Source,
    kind: FieldKind,
}

/// The fields an integration's accounts carry: the account columns, the stream's fields and
/// the fields its joins (`enrich`) bring.
pub struct FieldCatalog {
    connector_fields: Vec<(String, FieldKind)>,
}

impl FieldCatalog {
    /// The catalog of `stream` of `connector`.
    pub fn new(connector: &Connector, stream: &str) -> FieldCatalog {
        let mut connector_fields: Vec<(String, FieldKind)> = Vec::new();
        if let Some(s) = connector.streams.get(stream) {
            for f in &s.fields.fields {
                connector_fields.push((f.id.clone(), FieldKind::from_type(f.field_type)));
            }
            for e in &s.enrich {
                let Some(from) = connector.streams.get(&e.from) else {
                    continue;
                };
                for name in &e.fields {
                    if connector_fields.iter().any(|(n, _)| n == name) {
                        continue;
                    }
                    if let Some(f) = from.fields.fields.iter().find(|f| &f.id == name) {
                        connector_fields.push((name.clone(), FieldKind::from_type(f.field_type)));
                    }
                }
            }
        }
        FieldCatalog { connector_fields }
    }

    fn resolve(&self, name: &str) -> Option<FieldRef> {
        let column = |source: Source, kind| FieldRef {
            name: name.to_string(),
            source,
            kind,
        };
        let builtin = match name {
            "external_id" | "id" => Some((Source::ExternalId, FieldKind::Text)),
            "username" => Some((Source::Username, FieldKind::Text)),
            "email" => Some((Source::Email, FieldKind::Text)),
            "user_type" => Some((Source::UserType, FieldKind::Text)),
            "active" => Some((Source::Active, FieldKind::Bool)),
            "roles" => Some((Source::Roles, FieldKind::List)),
            "last_activity_at" => Some((Source::LastActivity, FieldKind::Date)),
            "first_seen_at" => Some((Source::FirstSeen, FieldKind::Date)),
            "last_seen_at" => Some((Source::LastSeen, FieldKind::Date)),
            _ => None,
        };
        if let Some((source, kind)) = builtin {
            return Some(column(source, kind));
        }
        let key = name.strip_prefix("fields.").unwrap_or(name);
        self.connector_fields
            .iter()
            .find(|(n, _)| n == key)
            .map(|(n, kind)| column(Source::Connector(n.clone()), *kind))
    }

    fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = ACCOUNT_FIELDS.iter().map(|(n, _)| *n).collect();
        for (n, _) in &self.connector_fields {
            if !names.contains(&n.as_str()) {
                names.push(n);
            }
        }
        names
    }
}

/// A comparison operand, typed by the field it is compared with.
#[derive(Clone, Debug)]
enum Operand {
    Number(f64),
    Date(DateTime<Utc>),
    Text(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    fn symbol(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    fn holds(self, o: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            CmpOp::Lt => o == Less,
            CmpOp::Le => o != Greater,
            CmpOp::Gt => o == Greater,
            CmpOp::Ge => o != Less,
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Equals(Value),
    NotEquals(Value),
    In(Vec<Value>),
    Cmp(CmpOp, Operand),
    OlderThan {
        age: chrono::Duration,
        text: String,
        never_active: NeverActive,
    },
}

#[derive(Clone, Debug)]
struct Leaf {
    field: FieldRef,
    op: Op,
}

/// Checked rules, ready to evaluate.
#[derive(Clone, Debug)]
pub struct Rules(Node);

#[derive(Clone, Debug)]
enum Node {
    All(Vec<Node>),
    Any(Vec<Node>),
    Leaf(Leaf),
}

/// Why an account matched: one sentence per rule that matched, e.g.
/// `last_activity_at older than 90d (2025-03-01)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Matched(pub Vec<String>);

/// How a reason ends when an `older_than` rule matched an empty date (`never_active: match`).
const EMPTY_MATCH: &str = "is empty (never active: match)";

impl Matched {
    /// Whether an `older_than` rule matched because the date is empty (never active).
    pub fn by_empty_date(&self) -> bool {
        self.0.iter().any(|r| r.ends_with(EMPTY_MATCH))
    }
}

impl std::fmt::Display for Matched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(" and "))
    }
}

impl Rules {
    /// Whether `account` matches at `now`, and if so which rules matched.
    pub fn evaluate(&self, account: &WorkflowAccount, now: DateTime<Utc>) -> Option<Matched> {
        let mut reasons = Vec::new();
        eval(&self.0, account, now, &mut reasons).then_some(Matched(reasons))
    }

    /// The rules as one line, e.g. `all(active = true, last_activity_at older than 90d)`.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        describe(&self.0, &mut out);
        out
    }
}

fn describe(node: &Node, out: &mut String) {
    match node {
        Node::All(items) | Node::Any(items) => {
            out.push_str(if matches!(node, Node::All(_)) {
                "all("
            } else {
                "any("
            });
            for (i, n) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                describe(n, out);
            }
            out.push(')');
        }
        Node::Leaf(l) => out.push_str(&leaf_text(l)),
    }
}

fn leaf_text(l: &Leaf) -> String {
    let f = &l.field.name;
    match &l.op {
        Op::Equals(v) => format!("{f} = {}", show(v)),
        Op::NotEquals(v) => format!("{f} != {}", show(v)),
        Op::In(vs) => format!(
            "{f} in [{}]",
            vs.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        Op::Cmp(op, o) => format!(
            "{f} {} {}",
            op.symbol(),
            match o {
                Operand::Number(n) => n.to_string(),
                Operand::Date(d) => d.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                Operand::Text(t) => format!("\"{t}\""),
            }
        ),
        Op::OlderThan { text, .. } => format!("{f} older than {text}"),
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

fn eval(node: &Node, a: &WorkflowAccount, now: DateTime<Utc>, reasons: &mut Vec<String>) -> bool {
    match node {
        Node::All(items) => {
            let mark = reasons.len();
            for n in items {
                if !eval(n, a, now, reasons) {
                    reasons.truncate(mark);
                    return false;
                }
            }
            true
        }
        Node::Any(items) => {
            for n in items {
                let mark = reasons.len();
                if eval(n, a, now, reasons) {
                    return true;
                }
                reasons.truncate(mark);
            }
            false
        }
        Node::Leaf(l) => match eval_leaf(l, a, now) {
            Some(reason) => {
                reasons.push(reason);
                true
            }
            None => false,
        },
    }
}

/// The field's value on an account; `Null` when empty.
fn value_of(f: &FieldRef, a: &WorkflowAccount) -> Value {
    let text = |s: &Option<String>| match s {
        Some(s) if !s.is_empty() => Value::String(s.clone()),
        _ => Value::Null,
    };
    let date = |d: Option<DateTime<Utc>>| {
        d.map_or(Value::Null, |d| {
            Value::String(d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        })
    };
    match &f.source {
        Source::ExternalId => Value::String(a.external_id.clone()),
        Source::Username => text(&a.username),
        Source::Email => match a.fields.get("email") {
            Some(Value::String(s)) if !s.is_empty() => Value::String(s.clone()),
            _ => text(&a.person_email),
        },
        Source::UserType => text(&a.user_type),
        Source::Active => a.active.map_or(Value::Null, Value::Bool),
        Source::Roles => Value::Array(a.roles.iter().cloned().map(Value::String).collect()),
        Source::LastActivity => date(a.last_activity_at),
        Source::FirstSeen => date(Some(a.first_seen_at)),
        Source::LastSeen => date(Some(a.last_seen_at)),
        Source::Connector(key) => match a.fields.get(key) {
            None | Some(Value::Null) => Value::Null,
            Some(Value::String(s)) if s.is_empty() => Value::Null,
            Some(v) => v.clone(),
        },
    }
}

fn eval_leaf(l: &Leaf, a: &WorkflowAccount, now: DateTime<Utc>) -> Option<String> {
    let v = value_of(&l.field, a);
    let f = &l.field.name;
    let kind = l.field.kind;
    let elements: Vec<&Value> = match &v {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        one => vec![one],
    };
    let found = |want: &Value| elements.iter().find(|e| loose_eq(kind, e, want)).copied();
    match &l.op {
        Op::Equals(want) => found(want).map(|_| format!("{f} = {}", show(want))),
        Op::NotEquals(want) => (!elements.is_empty() && found(want).is_none())
            .then(|| format!("{f} is {} (not {})", shown(&v), show(want))),
        Op::In(wants) => wants
            .iter()
            .find_map(found)
            .map(|e| format!("{f} = {} (one of the list)", show(e))),
        Op::Cmp(op, operand) => elements
            .iter()
            .find(|e| compare(e, operand).is_some_and(|o| op.holds(o)))
            .map(|e| {
                format!(
                    "{f} {} {} ({})",
                    op.symbol(),
                    operand_text(operand),
                    shown(e)
                )
            }),
        Op::OlderThan {
            age,
            text,
            never_active,
        } => match elements.first().and_then(|e| parse_date_value(e)) {
            None if elements.is_empty() => {
                (*never_active == NeverActive::Match).then(|| format!("{f} {EMPTY_MATCH}"))
            }
            None => None, // a value that is not a date never matches
            Some(d) => (d < now - *age)
                .then(|| format!("{f} older than {text} ({})", d.format("%Y-%m-%d"))),
        },
    }
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn operand_text(o: &Operand) -> String {
    match o {
        Operand::Number(n) => n.to_string(),
        Operand::Date(d) => d.format("%Y-%m-%d").to_string(),
        Operand::Text(t) => format!("\"{t}\""),
    }
}

fn compare(v: &Value, o: &Operand) -> Option<std::cmp::Ordering> {
    match o {
        Operand::Number(n) => as_number(v)?.partial_cmp(n),
        Operand::Date(d) => Some(parse_date_value(v)?.cmp(d)),
        Operand::Text(t) => Some(v.as_str()?.cmp(t.as_str())),
    }
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Equality the way people mean it in a file: text without regard to case, `true` equal to
/// `"True"`, `3` equal to `"3"`, dates equal when they are the same instant.
fn loose_eq(kind: FieldKind, a: &Value, b: &Value) -> bool {
    match kind {
        FieldKind::Bool => as_bool(a).is_some() && as_bool(a) == as_bool(b),
        FieldKind::Number => as_number(a).is_some() && as_number(a) == as_number(b),
        FieldKind::Date => {
            parse_date_value(a).is_some() && parse_date_value(a) == parse_date_value(b)
        }
        _ => match (a, b) {
            (Value::String(x), Value::String(y)) => x.to_lowercase() == y.to_lowercase(),
            (Value::String(_), _) | (_, Value::String(_)) => {
                shown(a).to_lowercase() == shown(b).to_lowercase()
            }
            _ => a == b,
        },
    }
}

fn parse_date_value(v: &Value) -> Option<DateTime<Utc>> {
    parse_date(v.as_str()?)
}

/// `2025-01-31` (midnight UTC) or RFC 3339.
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// Checks a condition and compiles it. Problems go to `diags`; `None` when there were any.
pub fn compile(
    condition: &Condition,
    pointer: &str,
    catalog: &FieldCatalog,
    doc: &Document,
    diags: &mut Vec<Diagnostic>,
) -> Option<Rules> {
    let before = diags.len();
    let node = compile_node(condition, pointer, catalog, doc, diags);
    (diags.len() == before).then_some(()).and(node).map(Rules)
}

fn compile_node(
    c: &Condition,
    ptr: &str,
    catalog: &FieldCatalog,
    doc: &Document,
    diags: &mut Vec<Diagnostic>,
) -> Option<Node> {
    let group = |items: &[Condition], key: &str, diags: &mut Vec<Diagnostic>| {
        if items.is_empty() {
            diags.push(doc.error_at(
                &format!("{ptr}/{key}"),
                format!("`{key}` lists no conditions"),
                Some("add at least one rule, e.g. `- { field: active, equals: true }`".into()),
            ));
        }
        let nodes: Vec<Option<Node>> = items
            .iter()
            .enumerate()
            .map(|(i, c)| compile_node(c, &format!("{ptr}/{key}/{i}"), catalog, doc, diags))
            .collect();
        nodes.into_iter().collect::<Option<Vec<Node>>>()
    };
    match c {
        Condition::All(a) => group(&a.all, "all", diags).map(Node::All),
        Condition::Any(a) => group(&a.any, "any", diags).map(Node::Any),
        Condition::Rule(r) => compile_rule(r, ptr, catalog, doc, diags).map(Node::Leaf),
    }
}

fn compile_rule(
    r: &Rule,
    ptr: &str,
    catalog: &FieldCatalog,
    doc: &Document,
    diags: &mut Vec<Diagnostic>,
) -> Option<Leaf> {
    let before = diags.len();
    let mut err = |at: &str, msg: String, hint: Option<String>| {
        diags.push(doc.error_at(&format!("{ptr}{at}"), msg, hint));
    };
    let field = catalog.resolve(&r.field);
    if field.is_none() {
        let names = catalog.names();
        let hint = match suggest(&r.field, names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`? The fields are: {}", names.join(", ")),
            None => format!("the fields are: {}", names.join(", ")),
        };
        err(
            "/field",
            format!("the accounts have no field `{}`", r.field),
            Some(hint),
        );
    }
    let ops: Vec<&str> = [
        ("equals", r.equals.is_some()),
        ("not_equals", r.not_equals.is_some()),
        ("in", r.one_of.is_some()),
        ("lt", r.lt.is_some()),
        ("le", r.le.is_some()),
        ("gt", r.gt.is_some()),
        ("ge", r.ge.is_some()),
        ("older_than", r.older_than.is_some()),
    ]
    .into_iter()
    .filter_map(|(n, set)| set.then_some(n))
    .collect();
    match ops.len() {
        0 => err(
            "",
            format!("the rule on `{}` has no comparison", r.field),
            Some("add one of equals, not_equals, in, lt, le, gt, ge or older_than, e.g. `{ field: active, equals: true }`".into()),
        ),
        1 => {}
        _ => err(
            &format!("/{}", ops[1]),
            format!(
                "a rule makes one comparison, and this one has {}",
                ops.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(" and ")
            ),
            Some("write one rule per comparison inside `all:`".into()),
        ),
    }
    if r.never_active.is_some() && r.older_than.is_none() {
        err(
            "/never_active",
            "`never_active` goes with `older_than`".into(),
            Some("remove it, or compare a date with `older_than: 90d`".into()),
        );
    }
    let field = field?;
    if ops.len() != 1 {
        return None;
    }
    let kind = field.kind;
    let name = field.name.clone();
    let check_scalar = |at: &str, v: &Value, err: &mut dyn FnMut(&str, String, Option<String>)| {
        if v.is_object() || v.is_array() || v.is_null() {
            err(
                at,
                format!(
                    "`{name}` is compared with {}, which is not a single value",
                    short(v)
                ),
                Some("write a text, a number, true or false".into()),
            );
            return;
        }
        let fits = match kind {
            FieldKind::Bool => as_bool(v).is_some(),
            FieldKind::Number => as_number(v).is_some(),
            FieldKind::Date => parse_date_value(v).is_some(),
            _ => true,
        };
        if !fits {
            err(
                at,
                format!(
                    "`{name}` is {}, so it never equals {}",
                    kind.describe(),
                    short(v)
                ),
                Some(match kind {
                    FieldKind::Bool => "write true or false".to_string(),
                    FieldKind::Date => {
                        "write a date as 2025-01-31 or RFC 3339 (2025-01-31T08:00:00Z)".to_string()
                    }
                    _ => "write a number".to_string(),
                }),
            );
        }
    };
    let op = if let Some(v) = &r.equals {
        check_scalar("/equals", v, &mut err);
        Op::Equals(v.clone())
    } else if let Some(v) = &r.not_equals {
        check_scalar("/not_equals", v, &mut err);
        Op::NotEquals(v.clone())
    } else if let Some(vs) = &r.one_of {
        if vs.is_empty() {
            err(
                "/in",
                "`in` lists no values, so the rule never matches".into(),
                Some("list the values, e.g. `in: [Full, Occasional]`".into()),
            );
        }
        for (i, v) in vs.iter().enumerate() {
            check_scalar(&format!("/in/{i}"), v, &mut err);
        }
        Op::In(vs.clone())
    } else if let Some(text) = &r.older_than {
        if kind != FieldKind::Date {
            err(
                "/older_than",
                format!(
                    "`older_than` compares dates, and `{name}` is {}",
                    kind.describe()
                ),
                Some("use it on a date field such as `last_activity_at`".into()),
            );
        }
        let age = match HumanDuration::parse(text) {
            Ok(d) if d.get().is_zero() => {
                err(
                    "/older_than",
                    format!("`{text}` is no time at all, so every date would be older"),
                    Some("write a duration such as `90d`".into()),
                );
                None
            }
            Ok(d) => chrono::Duration::from_std(d.get()).ok().or_else(|| {
                err("/older_than", format!("`{text}` is too long a time"), None);
                None
            }),
            Err(msg) => {
                err(
                    "/older_than",
                    msg,
                    Some(
                        "write a whole number and a unit, e.g. `90d` (days), `12h` (hours)".into(),
                    ),
                );
                None
            }
        };
        let never_active = match r.never_active {
            Some(n) => Some(n),
            None => {
                err(
                    "/older_than",
                    format!("`older_than` on `{name}` needs `never_active`: what about accounts whose date is empty (never active)?"),
                    Some("add `never_active: match` to select them, or `never_active: skip` to leave them out".into()),
                );
                None
            }
        };
        match (age, never_active) {
            (Some(age), Some(never_active)) => Op::OlderThan {
                age,
                text: text.trim().to_string(),
                never_active,
            },
            _ => return None,
        }
    } else {
        let (op, key, v) = [
            (CmpOp::Lt, "lt", &r.lt),
            (CmpOp::Le, "le", &r.le),
            (CmpOp::Gt, "gt", &r.gt),
            (CmpOp::Ge, "ge", &r.ge),
        ]
        .into_iter()
        .find_map(|(op, key, v)| v.as_ref().map(|v| (op, key, v)))?;
        let at = format!("/{key}");
        let operand = match kind {
            FieldKind::Number => as_number(v).map(Operand::Number),
            FieldKind::Date => parse_date_value(v).map(Operand::Date),
            FieldKind::Text => v.as_str().map(|s| Operand::Text(s.to_string())),
            FieldKind::Bool | FieldKind::List | FieldKind::Json => {
                err(
                    &at,
                    format!(
                        "`{name}` is {}, which `{key}` cannot compare",
                        kind.describe()
                    ),
                    Some("use `equals` or `in`".into()),
                );
                return None;
            }
        };
        match operand {
            Some(o) => Op::Cmp(op, o),
            None => {
                err(
                    &at,
                    format!("`{name}` is {}, and {} is not", kind.describe(), short(v)),
                    Some(match kind {
                        FieldKind::Date => "write a date as 2025-01-31 or RFC 3339; for a time before the run use `older_than: 90d`".to_string(),
                        FieldKind::Number => "write a number".to_string(),
                        _ => "write a text in quotes".to_string(),
                    }),
                );
                return None;
            }
        }
    };
    (diags.len() == before).then_some(Leaf { field, op })
}

fn short(v: &Value) -> String {
    let mut s = String::new();
    let text = match v {
        Value::String(t) => format!("\"{t}\""),
        other => other.to_string(),
    };
    for (i, c) in text.chars().enumerate() {
        if i >= 40 {
            s.push('…');
            break;
        }
        let _ = write!(s, "{c}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::{Map, json};

    fn account(active: bool, last: Option<&str>, fields: Value) -> WorkflowAccount {
        let Value::Object(fields) = fields else {
            panic!()
        };
        WorkflowAccount {
            id: 1,
            external_id: "42".into(),
            username: Some("Ann@Example.com".into()),
            person_email: None,
            user_type: Some("Full".into()),
            active: Some(active),
            roles: vec!["ORGANIZATION_INTERNAL_USER".into()],
            last_activity_at: last.and_then(parse_date),
            fields: fields as Map<String, Value>,
            first_seen_at: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
            last_seen_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        }
    }

    fn leaf(name: &str, kind: FieldKind, source: Source, op: Op) -> Node {
        Node::Leaf(Leaf {
            field: FieldRef {
                name: name.into(),
                source,
                kind,
            },
            op,
        })
    }

    fn older(days: i64, never_active: NeverActive) -> Node {
        leaf(
            "last_activity_at",
            FieldKind::Date,
            Source::LastActivity,
            Op::OlderThan {
                age: chrono::Duration::days(days),
                text: format!("{days}d"),
                never_active,
            },
        )
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn older_than_matches_old_dates_and_says_which_rule() {
        let rules = Rules(Node::All(vec![
            leaf(
                "active",
                FieldKind::Bool,
                Source::Active,
                Op::Equals(json!(true)),
            ),
            older(90, NeverActive::Skip),
        ]));
        let old = account(true, Some("2026-01-02T00:00:00Z"), json!({}));
        let m = rules.evaluate(&old, now()).unwrap();
        assert_eq!(
            m.to_string(),
            "active = true and last_activity_at older than 90d (2026-01-02)"
        );
        assert!(
            rules
                .evaluate(
                    &account(true, Some("2026-11-01T00:00:00Z"), json!({})),
                    now()
                )
                .is_none()
        );
        assert!(
            rules
                .evaluate(&account(false, Some("2020-01-01"), json!({})), now())
                .is_none()
        );
        assert!(
            rules
                .evaluate(&account(true, None, json!({})), now())
                .is_none(),
            "skip"
        );
        let matching = Rules(older(90, NeverActive::Match));
        assert_eq!(
            matching
                .evaluate(&account(true, None, json!({})), now())
                .unwrap()
                .to_string(),
            "last_activity_at is empty (never active: match)"
        );
    }

    #[test]
    fn any_reports_the_first_branch_that_matched() {
        let rules = Rules(Node::Any(vec![
            leaf(
                "department",
                FieldKind::Text,
                Source::Connector("department".into()),
                Op::In(vec![json!("sales"), json!("Support")]),
            ),
            leaf(
                "seats",
                FieldKind::Number,
                Source::Connector("seats".into()),
                Op::Cmp(CmpOp::Ge, Operand::Number(3.0)),
            ),
        ]));
        let a = account(true, None, json!({"department": "SUPPORT", "seats": 5}));
        assert_eq!(
            rules.evaluate(&a, now()).unwrap().0,
            vec!["department = \"SUPPORT\" (one of the list)".to_string()]
        );
        let b = account(true, None, json!({"department": "IT", "seats": "4"}));
        assert_eq!(
            rules.evaluate(&b, now()).unwrap().0,
            vec!["seats >= 3 (4)".to_string()]
        );
        let c = account(true, None, json!({"department": "IT", "seats": 1}));
        assert!(rules.evaluate(&c, now()).is_none());
    }

    #[test]
    fn lists_and_not_equals() {
        let has_role = Rules(leaf(
            "roles",
            FieldKind::List,
            Source::Roles,
            Op::Equals(json!("organization_internal_user")),
        ));
        assert!(
            has_role
                .evaluate(&account(true, None, json!({})), now())
                .is_some()
        );
        let not_full = Rules(leaf(
            "user_type",
            FieldKind::Text,
            Source::UserType,
            Op::NotEquals(json!("full")),
        ));
        assert!(
            not_full
                .evaluate(&account(true, None, json!({})), now())
                .is_none()
        );
        let mut empty = account(true, None, json!({}));
        empty.user_type = None;
        assert!(
            not_full.evaluate(&empty, now()).is_none(),
            "an empty field does not match not_equals"
        );
    }
}
