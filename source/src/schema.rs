//! Checking a [`Document`] against a JSON Schema (the draft-07 subset that
//! schemars 1.x emits), reporting every problem with its position.

use std::cell::RefCell;
use std::collections::HashMap;

use serde_json::Value;

use crate::diagnostic::Diagnostic;
use crate::parse::{Document, fields_hint};
use crate::path::{display_path, escape_pointer_segment, pointer_segments};
use crate::suggest::suggest;

/// Guard against `$ref` cycles that never descend into the value.
const MAX_SCHEMA_DEPTH: usize = 512;

/// Check a document against a JSON Schema (draft-07 subset as emitted by
/// schemars 1.x) and return every problem found, each located, sorted by
/// position and deduplicated.
///
/// Supported: `$ref` (to `#/definitions/...`, `#/$defs/...` or any pointer
/// into the schema), `type`, `properties`, `required`,
/// `additionalProperties`, `patternProperties`, `items` (schema or tuple),
/// `enum`, `const`, `oneOf`/`anyOf`/`allOf`, `minimum`/`maximum`/
/// `exclusiveMinimum`/`exclusiveMaximum`, `minItems`/`maxItems`,
/// `minLength`/`maxLength`, `pattern`. Annotations (`format`, `default`,
/// `description`, `examples`, ...) are not checked; `description` is used in
/// hints.
///
/// `oneOf`/`anyOf` are reported smartly: externally tagged serde enums
/// (`kind: {...}` or `kind`) and internally tagged ones (`type: kind`) are
/// validated against the variant named in the document only; otherwise the
/// problems of the closest branch are reported.
pub fn check_schema(doc: &Document, schema: &Value) -> Vec<Diagnostic> {
    let checker = Checker {
        doc,
        root: schema,
        regexes: RefCell::new(HashMap::new()),
    };
    let mut issues = Vec::new();
    checker.check(schema, doc.value(), "", &mut issues, 0);
    let mut diags: Vec<Diagnostic> = issues.into_iter().map(|i| i.diag).collect();
    diags.sort_by(|a, b| (a.pos, &a.message, &a.pointer).cmp(&(b.pos, &b.message, &b.pointer)));
    diags.dedup_by(|a, b| a.pos == b.pos && a.message == b.message);
    diags
}

struct Issue {
    diag: Diagnostic,
    /// The value itself has the wrong type/value (as opposed to a problem inside it);
    /// `expected` then says what was wanted.
    mismatch_at: Option<String>,
    expected: String,
}

struct Checker<'a> {
    doc: &'a Document,
    root: &'a Value,
    regexes: RefCell<HashMap<String, Option<regex::Regex>>>,
}

use crate::path::{capitalized, name};

fn child(ptr: &str, key: &str) -> String {
    format!("{ptr}/{}", escape_pointer_segment(key))
}

/// The last key in the pointer (not an index): "paginator" for `/streams/users/paginator`.
fn noun(ptr: &str) -> String {
    pointer_segments(ptr)
        .into_iter()
        .rev()
        .find(|s| !s.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_else(|| "value".to_string())
}

/// A short rendering of a value for messages.
fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 40 {
        let cut: String = s.chars().take(37).collect();
        format!("{cut}...")
    } else {
        s
    }
}

/// "a number (30)", "a string (\"abc\")", "a mapping", "null".
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null (empty)".to_string(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({})", short(&Value::Number(n.clone()))),
        Value::String(s) => format!("a string (\"{}\")", short(&Value::String(s.clone()))),
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "a mapping".to_string(),
    }
}

fn type_phrase(t: &str) -> &'static str {
    match t {
        "string" => "a string",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "a boolean (true or false)",
        "object" => "a mapping",
        "array" => "a list",
        "null" => "null",
        _ => "a value",
    }
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "string" => v.is_string(),
        "integer" => match v {
            Value::Number(n) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            _ => false,
        },
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "null" => v.is_null(),
        _ => true,
    }
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn list_values(values: &[Value]) -> String {
    values.iter().map(short).collect::<Vec<_>>().join(", ")
}

enum Variant<'s> {
    Unit(String),
    Data(String, &'s Value),
}

impl Variant<'_> {
    fn name(&self) -> &str {
        match self {
            Variant::Unit(n) | Variant::Data(n, _) => n,
        }
    }
}

impl<'a> Checker<'a> {
    /// Follow `$ref`s to the schema they name.
    fn resolve(&self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..32 {
            match schema.get("$ref").and_then(Value::as_str) {
                Some(r) => match self.lookup(r) {
                    Some(target) => schema = target,
                    None => return schema,
                },
                None => return schema,
            }
        }
        schema
    }

    fn lookup(&self, reference: &str) -> Option<&'a Value> {
        let ptr = reference.strip_prefix('#')?;
        self.root.pointer(ptr)
    }

    fn issue(&self, out: &mut Vec<Issue>, diag: Diagnostic) {
        out.push(Issue {
            diag,
            mismatch_at: None,
            expected: String::new(),
        });
    }

    fn mismatch(&self, out: &mut Vec<Issue>, ptr: &str, expected: String, diag: Diagnostic) {
        out.push(Issue {
            diag,
            mismatch_at: Some(ptr.to_string()),
            expected,
        });
    }

    /// Records "`x` must be EXPECTED, but it is VALUE" at `ptr`.
    fn type_mismatch(
        &self,
        out: &mut Vec<Issue>,
        ptr: &str,
        value: &Value,
        expected: String,
        hint: String,
    ) {
        let diag = self.doc.error_at(
            ptr,
            format!(
                "{} must be {expected}, but it is {}",
                name(ptr),
                describe(value)
            ),
            Some(hint),
        );
        self.mismatch(out, ptr, expected, diag);
    }

    fn check(
        &self,
        schema: &'a Value,
        value: &Value,
        ptr: &str,
        out: &mut Vec<Issue>,
        depth: usize,
    ) {
        if depth > MAX_SCHEMA_DEPTH {
            return;
        }
        let obj = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => {
                let d = self.doc.error_at_key(
                    ptr,
                    format!("{} is not allowed here", name(ptr)),
                    Some("remove it".to_string()),
                );
                self.issue(out, d);
                return;
            }
            Value::Object(o) => o,
            _ => return,
        };
        if let Some(r) = obj.get("$ref").and_then(Value::as_str)
            && let Some(target) = self.lookup(r)
        {
            self.check(target, value, ptr, out, depth + 1);
        }
        let description = obj.get("description").and_then(Value::as_str);

        if let Some(t) = obj.get("type") {
            let types: Vec<&str> = match t {
                Value::String(s) => vec![s.as_str()],
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !types.is_empty() && !types.iter().any(|t| type_matches(t, value)) {
                let phrases: Vec<String> =
                    types.iter().map(|t| type_phrase(t).to_string()).collect();
                let expected = join_or(&phrases);
                let examples: Vec<&str> = obj
                    .get("examples")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let mut hint = if types.contains(&"string")
                    && obj.contains_key("pattern")
                    && !examples.is_empty()
                {
                    let shown: Vec<String> = examples.iter().map(|e| format!("`{e}`")).collect();
                    format!("write it like {}", shown.join(", "))
                } else if types.contains(&"string") && (value.is_number() || value.is_boolean()) {
                    format!(
                        "put the value in quotes (\"{}\") to make it a string",
                        short(value)
                    )
                } else if let Value::String(s) = value
                    && types.iter().any(|t| {
                        crate::parse::resolve_plain_for_hint(s).is_some_and(|v| type_matches(t, &v))
                    })
                {
                    format!("remove the quotes around {s}")
                } else {
                    format!("write {expected} here")
                };
                if let Some(d) = description {
                    hint.push_str(&format!(" ({}: {})", display_path(ptr), d.trim()));
                }
                self.type_mismatch(out, ptr, value, expected, hint);
                return;
            }
        }

        if let Some(Value::Array(allowed)) = obj.get("enum")
            && !allowed.contains(value)
        {
            self.enum_issue(allowed, value, ptr, out);
            return;
        }
        if let Some(c) = obj.get("const")
            && c != value
        {
            let d = self.doc.error_at(
                ptr,
                format!(
                    "{} must be `{}`, but it is `{}`",
                    name(ptr),
                    short(c),
                    short(value)
                ),
                Some(format!("write `{}` here", short(c))),
            );
            self.mismatch(out, ptr, format!("`{}`", short(c)), d);
            return;
        }

        match value {
            Value::Object(map) => self.check_object(obj, map, ptr, out, depth),
            Value::Array(items) => self.check_array(obj, items, ptr, out, depth),
            Value::String(s) => self.check_string(obj, s, ptr, out),
            Value::Number(n) => self.check_number(obj, n.as_f64().unwrap_or(0.0), ptr, out),
            _ => {}
        }

        if let Some(Value::Array(all)) = obj.get("allOf") {
            for s in all {
                self.check(s, value, ptr, out, depth + 1);
            }
        }
        if let Some(Value::Array(any)) = obj.get("anyOf") {
            self.branches(any, value, ptr, out, depth);
        }
        if let Some(Value::Array(one)) = obj.get("oneOf")
            && !self.tagged_enum(one, value, ptr, out, depth)
            && !self.internally_tagged(one, value, ptr, out, depth)
        {
            self.branches(one, value, ptr, out, depth);
        }
    }

    fn enum_issue(&self, allowed: &[Value], value: &Value, ptr: &str, out: &mut Vec<Issue>) {
        let list = list_values(allowed);
        let shown = match value {
            Value::String(s) => format!("`{}`", short(&Value::String(s.clone()))),
            Value::Null => "empty".to_string(),
            other => format!("`{}`", short(other)),
        };
        let hint = value
            .as_str()
            .and_then(|s| suggest(s, allowed.iter().filter_map(Value::as_str)))
            .map(|s| format!("did you mean `{s}`?"))
            .unwrap_or_else(|| format!("use one of: {list}"));
        let d = self.doc.error_at(
            ptr,
            format!("{} is {shown}, which is not one of {list}", name(ptr)),
            Some(hint),
        );
        self.mismatch(out, ptr, format!("one of {list}"), d);
    }

    fn check_object(
        &self,
        obj: &'a serde_json::Map<String, Value>,
        map: &serde_json::Map<String, Value>,
        ptr: &str,
        out: &mut Vec<Issue>,
        depth: usize,
    ) {
        let props = obj.get("properties").and_then(Value::as_object);
        let patterns = obj.get("patternProperties").and_then(Value::as_object);
        let additional = obj.get("additionalProperties");
        for (key, v) in map {
            let cptr = child(ptr, key);
            if let Some(s) = props.and_then(|p| p.get(key)) {
                self.check(s, v, &cptr, out, depth + 1);
                continue;
            }
            let mut matched = false;
            if let Some(patterns) = patterns {
                for (pattern, s) in patterns {
                    if self.regex_match(pattern, key) == Some(true) {
                        matched = true;
                        self.check(s, v, &cptr, out, depth + 1);
                    }
                }
            }
            if matched {
                continue;
            }
            match additional {
                Some(Value::Bool(false)) => {
                    let allowed: Vec<&str> = props
                        .map(|p| p.keys().map(String::as_str).collect())
                        .unwrap_or_default();
                    let d = self.doc.error_at_key(
                        &cptr,
                        format!("unknown field `{key}` in {}", name(ptr)),
                        Some(fields_hint(key, &allowed)),
                    );
                    self.issue(out, d);
                }
                Some(s @ Value::Object(_)) => self.check(s, v, &cptr, out, depth + 1),
                _ => {}
            }
        }
        if let Some(Value::Array(required)) = obj.get("required") {
            for field in required.iter().filter_map(Value::as_str) {
                if !map.contains_key(field) {
                    let mut hint = format!("add `{field}: ...` to {}", name(ptr));
                    if let Some(d) = props
                        .and_then(|p| p.get(field))
                        .map(|s| self.resolve(s))
                        .and_then(|s| s.get("description"))
                        .and_then(Value::as_str)
                    {
                        hint.push_str(&format!(" ({field}: {})", d.trim()));
                    }
                    let d = self.doc.error_at(
                        ptr,
                        format!(
                            "{} is missing the required field `{field}`",
                            capitalized(&name(ptr))
                        ),
                        Some(hint),
                    );
                    self.issue(out, d);
                }
            }
        }
    }

    fn check_array(
        &self,
        obj: &'a serde_json::Map<String, Value>,
        items: &[Value],
        ptr: &str,
        out: &mut Vec<Issue>,
        depth: usize,
    ) {
        match obj.get("items") {
            Some(Value::Array(tuple)) => {
                for (i, (s, v)) in tuple.iter().zip(items).enumerate() {
                    self.check(s, v, &format!("{ptr}/{i}"), out, depth + 1);
                }
                if let Some(extra) = obj.get("additionalItems") {
                    for (i, v) in items.iter().enumerate().skip(tuple.len()) {
                        self.check(extra, v, &format!("{ptr}/{i}"), out, depth + 1);
                    }
                }
            }
            Some(s) => {
                for (i, v) in items.iter().enumerate() {
                    self.check(s, v, &format!("{ptr}/{i}"), out, depth + 1);
                }
            }
            None => {}
        }
        let n = items.len() as u64;
        if let Some(min) = obj.get("minItems").and_then(Value::as_u64)
            && n < min
        {
            let d = self.doc.error_at(
                ptr,
                format!(
                    "{} must have at least {min} item{}, but it has {n}",
                    name(ptr),
                    if min == 1 { "" } else { "s" }
                ),
                Some(format!("add items to {}", name(ptr))),
            );
            self.issue(out, d);
        }
        if let Some(max) = obj.get("maxItems").and_then(Value::as_u64)
            && n > max
        {
            let d = self.doc.error_at(
                ptr,
                format!(
                    "{} must have at most {max} items, but it has {n}",
                    name(ptr)
                ),
                Some(format!("remove items from {}", name(ptr))),
            );
            self.issue(out, d);
        }
    }

    fn check_string(
        &self,
        obj: &serde_json::Map<String, Value>,
        s: &str,
        ptr: &str,
        out: &mut Vec<Issue>,
    ) {
        let len = s.chars().count() as u64;
        if let Some(min) = obj.get("minLength").and_then(Value::as_u64)
            && len < min
        {
            let msg = if len == 0 {
                format!("{} must not be empty", name(ptr))
            } else {
                format!(
                    "{} must be at least {min} characters long, but it has {len}",
                    name(ptr)
                )
            };
            let d = self
                .doc
                .error_at(ptr, msg, Some("write a longer value".to_string()));
            self.issue(out, d);
        }
        if let Some(max) = obj.get("maxLength").and_then(Value::as_u64)
            && len > max
        {
            let d = self.doc.error_at(
                ptr,
                format!(
                    "{} must be at most {max} characters long, but it has {len}",
                    name(ptr)
                ),
                Some("write a shorter value".to_string()),
            );
            self.issue(out, d);
        }
        if let Some(pattern) = obj.get("pattern").and_then(Value::as_str)
            && self.regex_match(pattern, s) == Some(false)
        {
            let d = self.doc.error_at(
                ptr,
                format!(
                    "{} is `{}`, which does not match the pattern `{pattern}`",
                    name(ptr),
                    short(&Value::String(s.to_string()))
                ),
                Some("check the format of this value".to_string()),
            );
            self.issue(out, d);
        }
    }

    fn check_number(
        &self,
        obj: &serde_json::Map<String, Value>,
        n: f64,
        ptr: &str,
        out: &mut Vec<Issue>,
    ) {
        let bound = |k: &str| obj.get(k).and_then(Value::as_f64);
        let fmt = |f: f64| {
            Value::from(f)
                .to_string()
                .trim_end_matches(".0")
                .to_string()
        };
        let mut problem = None;
        if let Some(min) = bound("minimum")
            && n < min
        {
            problem = Some(format!("at least {}", fmt(min)));
        }
        if let Some(min) = bound("exclusiveMinimum")
            && n <= min
        {
            problem = Some(format!("greater than {}", fmt(min)));
        }
        if let Some(max) = bound("maximum")
            && n > max
        {
            problem = Some(format!("at most {}", fmt(max)));
        }
        if let Some(max) = bound("exclusiveMaximum")
            && n >= max
        {
            problem = Some(format!("less than {}", fmt(max)));
        }
        if let Some(p) = problem {
            let d = self.doc.error_at(
                ptr,
                format!("{} must be {p}, but it is {}", name(ptr), fmt(n)),
                Some(format!("use a number that is {p}")),
            );
            self.issue(out, d);
        }
    }

    fn regex_match(&self, pattern: &str, s: &str) -> Option<bool> {
        let mut cache = self.regexes.borrow_mut();
        let re = cache.entry(pattern.to_string()).or_insert_with(|| {
            regex::RegexBuilder::new(pattern)
                .size_limit(1 << 20)
                .build()
                .ok()
        });
        re.as_ref().map(|re| re.is_match(s))
    }

    /// anyOf / generic oneOf: pass if one branch passes, else report the closest branch.
    fn branches(
        &self,
        branches: &'a [Value],
        value: &Value,
        ptr: &str,
        out: &mut Vec<Issue>,
        depth: usize,
    ) {
        let mut results: Vec<Vec<Issue>> = Vec::with_capacity(branches.len());
        for b in branches {
            let mut issues = Vec::new();
            self.check(b, value, ptr, &mut issues, depth + 1);
            if issues.is_empty() {
                return;
            }
            results.push(issues);
        }
        let root_mismatch =
            |issues: &[Issue]| issues.iter().any(|i| i.mismatch_at.as_deref() == Some(ptr));
        let best = results
            .iter()
            .enumerate()
            .filter(|(_, r)| !root_mismatch(r))
            .min_by_key(|(_, r)| r.len())
            .map(|(i, _)| i);
        if let Some(i) = best {
            out.append(&mut results.swap_remove(i));
            return;
        }
        // Every branch rejects the value itself. `Option<T>` is `anyOf: [T, null]`:
        // for a non-null value, only T matters, so report T's own problem.
        if !value.is_null() {
            let non_null: Vec<usize> = (0..results.len())
                .filter(|&i| !results[i].iter().all(|x| x.expected == "null"))
                .collect();
            if let [only] = non_null[..] {
                out.append(&mut results.swap_remove(only));
                return;
            }
        }
        // One message listing what is accepted.
        let mut expected: Vec<String> = Vec::new();
        for r in &results {
            for i in r.iter().filter(|i| i.mismatch_at.as_deref() == Some(ptr)) {
                if !expected.contains(&i.expected) {
                    expected.push(i.expected.clone());
                }
            }
        }
        let expected = join_or(&expected);
        let hint = value
            .as_str()
            .and_then(|s| {
                let cands: Vec<&str> = branches
                    .iter()
                    .flat_map(|b| self.string_values(b))
                    .collect();
                suggest(s, cands).map(|c| format!("did you mean `{c}`?"))
            })
            .unwrap_or_else(|| format!("write {expected} here"));
        self.type_mismatch(out, ptr, value, expected, hint);
    }

    /// The string values a schema accepts via `enum`/`const`.
    fn string_values(&self, schema: &'a Value) -> Vec<&'a str> {
        let s = self.resolve(schema);
        let mut v: Vec<&str> = s
            .get("enum")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(c) = s.get("const").and_then(Value::as_str) {
            v.push(c);
        }
        v
    }

    /// The variants if `branches` has the shape schemars gives an externally
    /// tagged serde enum with at least one data variant.
    fn variants(&self, branches: &'a [Value]) -> Option<Vec<Variant<'a>>> {
        let mut out = Vec::new();
        for b in branches {
            let b = self.resolve(b);
            let strings = self.string_values(b);
            if !strings.is_empty() {
                if b.get("type").is_some_and(|t| t != "string") {
                    return None;
                }
                out.extend(strings.into_iter().map(|s| Variant::Unit(s.to_string())));
                continue;
            }
            let props = b.get("properties")?.as_object()?;
            let required = b.get("required")?.as_array()?;
            if props.len() != 1
                || required.len() != 1
                || b.get("additionalProperties") != Some(&Value::Bool(false))
            {
                return None;
            }
            let (tag, inner) = props.iter().next()?;
            if required[0].as_str() != Some(tag.as_str()) {
                return None;
            }
            out.push(Variant::Data(tag.clone(), inner));
        }
        out.iter()
            .any(|v| matches!(v, Variant::Data(..)))
            .then_some(out)
    }

    fn tagged_enum(
        &self,
        branches: &'a [Value],
        value: &Value,
        ptr: &str,
        out: &mut Vec<Issue>,
        depth: usize,
    ) -> bool {
        let Some(variants) = self.variants(branches) else {
            return false;
        };
        let names: Vec<&str> = variants.iter().map(Variant::name).collect();
        let list = names.join(", ");
        let noun = noun(ptr);
        let unknown = |kind: &str, at_key: bool| {
            let hint = suggest(kind, names.iter().copied())
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| format!("use one of: {list}"));
            let msg = format!(
                "unknown {noun} kind `{kind}` in {}: expected one of {list}",
                name(ptr)
            );
            if at_key {
                self.doc.error_at_key(&child(ptr, kind), msg, Some(hint))
            } else {
                self.doc.error_at(ptr, msg, Some(hint))
            }
        };
        let find = |k: &str| variants.iter().find(|v| v.name() == k);
        match value {
            Value::String(s) => match find(s) {
                Some(Variant::Unit(_)) => {}
                Some(Variant::Data(..)) => {
                    let d = self.doc.error_at(
                        ptr,
                        format!(
                            "the {noun} kind `{s}` needs settings, so {} must be a mapping",
                            name(ptr)
                        ),
                        Some(format!(
                            "write it as `{s}:` followed by its settings, indented below"
                        )),
                    );
                    self.issue(out, d);
                }
                None => {
                    let d = unknown(s, false);
                    self.mismatch(out, ptr, format!("one of {list}"), d);
                }
            },
            Value::Object(map) if map.len() == 1 => {
                let Some((k, inner)) = map.iter().next() else {
                    return true;
                };
                match find(k) {
                    Some(Variant::Data(_, schema)) => {
                        self.check(schema, inner, &child(ptr, k), out, depth + 1);
                    }
                    Some(Variant::Unit(_)) => {
                        let d = self.doc.error_at_key(
                            &child(ptr, k),
                            format!("the {noun} kind `{k}` takes no settings"),
                            Some(format!("write just `{}: {k}`", noun)),
                        );
                        self.issue(out, d);
                    }
                    None => {
                        let d = unknown(k, true);
                        self.issue(out, d);
                    }
                }
            }
            Value::Object(map) => {
                let keys: Vec<&str> = map.keys().map(String::as_str).collect();
                let msg = if keys.is_empty() {
                    format!("{} is empty, but it must name one {noun} kind", name(ptr))
                } else {
                    format!(
                        "{} must name exactly one {noun} kind, but it has {} keys ({})",
                        name(ptr),
                        keys.len(),
                        keys.join(", ")
                    )
                };
                let d = self
                    .doc
                    .error_at(ptr, msg, Some(format!("use one of: {list}")));
                self.issue(out, d);
            }
            other => {
                let expected = format!("one of {list}");
                let d = self.doc.error_at(
                    ptr,
                    format!(
                        "{} must be a {noun} kind ({list}), but it is {}",
                        name(ptr),
                        describe(other)
                    ),
                    Some(format!("use one of: {list}")),
                );
                self.mismatch(out, ptr, expected, d);
            }
        }
        true
    }

    /// `#[serde(tag = "type")]` enums: every branch is a mapping whose `type`
    /// property is a single string constant.
    fn internally_tagged(
        &self,
        branches: &'a [Value],
        value: &Value,
        ptr: &str,
        out: &mut Vec<Issue>,
        depth: usize,
    ) -> bool {
        if branches.len() < 2 {
            return false;
        }
        let resolved: Vec<&Value> = branches.iter().map(|b| self.resolve(b)).collect();
        let Some(first) = resolved[0].get("properties").and_then(Value::as_object) else {
            return false;
        };
        let tag_of = |b: &'a Value, key: &str| -> Option<&'a str> {
            let required = b.get("required")?.as_array()?;
            if !required.iter().any(|r| r.as_str() == Some(key)) {
                return None;
            }
            let vals = self.string_values(b.get("properties")?.get(key)?);
            if vals.len() == 1 { Some(vals[0]) } else { None }
        };
        let Some(tag_key) = first
            .keys()
            .find(|k| resolved.iter().all(|b| tag_of(b, k).is_some()))
        else {
            return false;
        };
        let tags: Vec<&str> = resolved.iter().filter_map(|b| tag_of(b, tag_key)).collect();
        let list = tags.join(", ");
        let Value::Object(map) = value else {
            let d = self.doc.error_at(
                ptr,
                format!(
                    "{} must be a mapping, but it is {}",
                    name(ptr),
                    describe(value)
                ),
                Some(format!("write a mapping with `{tag_key}: ` one of {list}")),
            );
            self.mismatch(out, ptr, "a mapping".to_string(), d);
            return true;
        };
        match map.get(tag_key) {
            None => {
                let d = self.doc.error_at(
                    ptr,
                    format!(
                        "{} is missing the required field `{tag_key}`",
                        capitalized(&name(ptr))
                    ),
                    Some(format!("add `{tag_key}: ` with one of: {list}")),
                );
                self.issue(out, d);
            }
            Some(tag) => match tags.iter().position(|t| Some(*t) == tag.as_str()) {
                Some(i) => self.check(&branches[i], value, ptr, out, depth + 1),
                None => {
                    let shown = short(tag);
                    let hint = tag
                        .as_str()
                        .and_then(|s| suggest(s, tags.iter().copied()))
                        .map(|s| format!("did you mean `{s}`?"))
                        .unwrap_or_else(|| format!("use one of: {list}"));
                    let d = self.doc.error_at(
                        &child(ptr, tag_key),
                        format!(
                            "unknown {tag_key} `{shown}` in {}: expected one of {list}",
                            name(ptr)
                        ),
                        Some(hint),
                    );
                    self.issue(out, d);
                }
            },
        }
        true
    }
}
