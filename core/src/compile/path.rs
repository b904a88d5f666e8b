//! JSONPath expressions, parsed once when a manifest loads.
//!
//! Every path is parsed by jsonpath-rust (the RFC 9535 grammar the manifest format
//! promises). Paths made only of names, indexes, wildcards and simple equality
//! filters (`$.emails[?@.primary == true].value`), which is nearly every field of
//! a real connector, are also lowered into [`Step`]s evaluated directly on the
//! `serde_json::Value`: no allocation per node, which is what makes extraction fast.
//! Anything else runs through jsonpath-rust's evaluator. A test checks that both
//! evaluators agree.

use std::borrow::Cow;

use jsonpath_rust::parser::model::{
    Comparable, Comparison, Filter, FilterAtom, JpQuery, Literal, Segment, Selector, SingularQuery,
    SingularQuerySegment,
};
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use serde_json::Value;

use crate::raw_record::{RecordView, member};

/// A compiled JSONPath.
#[derive(Clone, Debug)]
pub struct JsonPath {
    source: String,
    query: JpQuery,
    fast: Option<Vec<Step>>,
}

/// One step of a directly evaluated path.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Name(String),
    Index(i64),
    Wildcard,
    /// `[?@.a.b == literal]`: children whose member at `path` equals `literal`.
    FilterEq {
        path: Vec<String>,
        literal: Value,
    },
}

impl JsonPath {
    /// Parses a path. The error is a sentence.
    pub fn parse(source: &str) -> Result<JsonPath, String> {
        let trimmed = source.trim();
        if !trimmed.starts_with('$') {
            return Err(format!(
                "`{source}` is not a JSONPath: paths start with `$`, e.g. `$.name.givenName`"
            ));
        }
        let query = parse_json_path(trimmed).map_err(|e| {
            let text = e.to_string();
            // pest renders a caret diagram; keep what it expected and where.
            let column = text
                .lines()
                .find_map(|l| l.find("--> ").map(|i| &l[i + 4..]))
                .and_then(|lc| lc.split(':').nth(1))
                .map(|c| format!(" at character {}", c.trim()))
                .unwrap_or_default();
            let expected = text
                .lines()
                .find_map(|l| l.trim().trim_start_matches('|').trim().strip_prefix("= "))
                .map(str::to_string)
                .unwrap_or_else(|| text.lines().next().unwrap_or("").trim().to_string());
            format!("`{source}` is not a valid JSONPath (RFC 9535): {expected}{column}")
        })?;
        let fast = lower(&query);
        Ok(JsonPath {
            source: trimmed.to_string(),
            query,
            fast,
        })
    }

    /// The path as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the path can match more than one node.
    pub fn is_singular(&self) -> bool {
        match &self.fast {
            Some(steps) => steps
                .iter()
                .all(|s| matches!(s, Step::Name(_) | Step::Index(_))),
            None => false,
        }
    }

    /// Calls `f` with every node the path selects, in document order.
    pub fn for_each<'a>(&self, value: &'a Value, f: &mut dyn FnMut(&'a Value)) {
        match &self.fast {
            Some(steps) => eval(steps, value, f),
            None => {
                if let Ok(found) = js_path_process(&self.query, value) {
                    for r in found {
                        f(r.val());
                    }
                }
            }
        }
    }

    /// Every node the path selects.
    pub fn query<'a>(&self, value: &'a Value) -> Vec<&'a Value> {
        let mut out = Vec::new();
        self.for_each(value, &mut |v| out.push(v));
        out
    }

    /// The first node the path selects.
    pub fn first<'a>(&self, value: &'a Value) -> Option<&'a Value> {
        if let Some(steps) = &self.fast
            && steps.iter().all(|s| matches!(s, Step::Name(_)))
        {
            let mut cur = value;
            for s in steps {
                if let Step::Name(n) = s {
                    cur = member(cur.as_object()?, n)?;
                }
            }
            return Some(cur);
        }
        let mut first = None;
        self.for_each(value, &mut |v| {
            if first.is_none() {
                first = Some(v);
            }
        });
        first
    }

    /// The top-level name a directly evaluated path starts with, and the rest.
    fn top_name(&self) -> Option<(&str, &[Step])> {
        match self.fast.as_deref()?.split_first()? {
            (Step::Name(n), rest) => Some((n, rest)),
            _ => None,
        }
    }

    /// [`first`](Self::first) on a record a plugin may have patched: a path starting
    /// with a name reads through the patch; any other path reads a patched copy.
    pub fn first_in<'a>(&self, raw: RecordView<'a>) -> Option<Cow<'a, Value>> {
        match raw {
            RecordView::Value(v) => self.first(v).map(Cow::Borrowed),
            RecordView::Patched { .. } => match self.top_name() {
                Some((name, rest)) => {
                    let mut first = None;
                    eval(rest, raw.get(name)?, &mut |v| {
                        if first.is_none() {
                            first = Some(v);
                        }
                    });
                    first.map(Cow::Borrowed)
                }
                None => self.first(&raw.to_value()).cloned().map(Cow::Owned),
            },
        }
    }

    /// [`for_each`](Self::for_each) on a record a plugin may have patched (see
    /// [`first_in`](Self::first_in)).
    pub fn for_each_in(&self, raw: RecordView<'_>, f: &mut dyn FnMut(&Value)) {
        match raw {
            RecordView::Value(v) => self.for_each(v, f),
            RecordView::Patched { .. } => match self.top_name() {
                Some((name, rest)) => {
                    if let Some(v) = raw.get(name) {
                        eval(rest, v, f);
                    }
                }
                None => self.for_each(&raw.to_value(), f),
            },
        }
    }

    /// Evaluates with jsonpath-rust only (for tests comparing evaluators).
    #[doc(hidden)]
    pub fn query_reference<'a>(&self, value: &'a Value) -> Vec<&'a Value> {
        js_path_process(&self.query, value)
            .map(|v| v.into_iter().map(|r| r.val()).collect())
            .unwrap_or_default()
    }
}

fn lower(query: &JpQuery) -> Option<Vec<Step>> {
    let mut steps = Vec::with_capacity(query.segments.len());
    for seg in &query.segments {
        let Segment::Selector(sel) = seg else {
            return None;
        };
        steps.push(match sel {
            Selector::Name(n) => Step::Name(n.clone()),
            Selector::Index(i) => Step::Index(*i),
            Selector::Wildcard => Step::Wildcard,
            Selector::Filter(f) => lower_filter(f)?,
            Selector::Slice(..) => return None,
        });
    }
    Some(steps)
}

fn lower_filter(filter: &Filter) -> Option<Step> {
    let cmp = match filter {
        Filter::Atom(FilterAtom::Comparison(cmp)) => cmp,
        // `[?(@.a == 1)]`: parentheses, or a one-element and/or, around a comparison.
        Filter::Atom(FilterAtom::Filter { expr, not: false }) => return lower_filter(expr),
        Filter::Or(v) | Filter::And(v) if v.len() == 1 => return lower_filter(&v[0]),
        _ => return None,
    };
    let Comparison::Eq(a, b) = cmp.as_ref() else {
        return None;
    };
    let (q, lit) = match (a, b) {
        (Comparable::SingularQuery(q), Comparable::Literal(l))
        | (Comparable::Literal(l), Comparable::SingularQuery(q)) => (q, l),
        _ => return None,
    };
    let SingularQuery::Current(segs) = q else {
        return None;
    };
    let mut path = Vec::new();
    for s in segs {
        match s {
            SingularQuerySegment::Name(n) => path.push(n.clone()),
            SingularQuerySegment::Index(_) => return None,
        }
    }
    let literal = match lit {
        Literal::Int(i) => Value::from(*i),
        Literal::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number)?,
        Literal::String(s) => Value::String(s.clone()),
        Literal::Bool(b) => Value::Bool(*b),
        Literal::Null => Value::Null,
    };
    Some(Step::FilterEq { path, literal })
}

fn eval<'a>(steps: &[Step], value: &'a Value, f: &mut dyn FnMut(&'a Value)) {
    let Some((step, rest)) = steps.split_first() else {
        f(value);
        return;
    };
    match step {
        Step::Name(n) => {
            if let Some(v) = value.as_object().and_then(|o| member(o, n)) {
                eval(rest, v, f);
            }
        }
        Step::Index(i) => {
            if let Some(arr) = value.as_array() {
                let idx = if *i < 0 { arr.len() as i64 + i } else { *i };
                if idx >= 0
                    && let Some(v) = arr.get(idx as usize)
                {
                    eval(rest, v, f);
                }
            }
        }
        Step::Wildcard => match value {
            Value::Array(a) => a.iter().for_each(|v| eval(rest, v, f)),
            Value::Object(o) => o.values().for_each(|v| eval(rest, v, f)),
            _ => {}
        },
        Step::FilterEq { path, literal } => {
            let mut check = |child: &'a Value| {
                let mut cur = Some(child);
                for key in path {
                    cur = cur.and_then(|c| c.as_object()).and_then(|o| member(o, key));
                }
                if cur.is_some_and(|c| json_eq(c, literal)) {
                    eval(rest, child, f);
                }
            };
            match value {
                Value::Array(a) => a.iter().for_each(&mut check),
                Value::Object(o) => o.values().for_each(&mut check),
                _ => {}
            }
        }
    }
}

/// RFC 9535 equality: numbers compare by value (1 == 1.0), the rest structurally.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => x == y,
        },
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "id": "42", "userName": "a@x.com", "active": true,
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [
                {"value": "other@x.com", "primary": false, "type": "home"},
                {"value": "a@x.com", "primary": true, "type": "work"}
            ],
            "roles": [
                {"value": "ORGANIZATION_INTERNAL_USER", "type": "organization_user_role", "primary": true},
                {"value": "Content Admin", "type": "organization_admin_role"},
                {"value": "User Admin", "type": "organization_admin_role"}
            ],
            "n": [1, 2.0, 3],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D", "manager": {"value": "7"}}
        })
    }

    #[test]
    fn fast_and_reference_evaluators_agree() {
        let d = doc();
        let paths = [
            "$.id",
            "$.name.givenName",
            "$.missing",
            "$.name.missing.deeper",
            "$.emails[0].value",
            "$.emails[-1].value",
            "$.emails[5].value",
            "$.emails[*].value",
            "$.roles[*]",
            "$.emails[?@.primary == true].value",
            "$.emails[?(@.primary == true)].value",
            "$.roles[?@.type == 'organization_admin_role'].value",
            "$.roles[?@.type == \"organization_user_role\"].value",
            "$['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'].department",
            "$['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'].manager.value",
            "$.n[?@ == 2]",
            "$.name.*",
            "$",
        ];
        for p in paths {
            let path = JsonPath::parse(p).unwrap();
            assert!(path.fast.is_some(), "{p} should take the fast path");
            assert_eq!(path.query(&d), path.query_reference(&d), "{p}");
        }
        // Paths outside the fast subset still work, through jsonpath-rust.
        let slow = JsonPath::parse("$..value").unwrap();
        assert!(slow.fast.is_none());
        assert_eq!(slow.query(&d).len(), slow.query_reference(&d).len());
        let f = JsonPath::parse(
            "$.roles[?@.type == 'organization_admin_role' && @.value == 'User Admin'].value",
        )
        .unwrap();
        assert_eq!(f.query(&d), vec![&json!("User Admin")]);
    }

    #[test]
    fn first_and_singular() {
        let d = doc();
        let p = JsonPath::parse("$.name.familyName").unwrap();
        assert!(p.is_singular());
        assert_eq!(p.first(&d), Some(&json!("Lovelace")));
        assert!(!JsonPath::parse("$.emails[*].value").unwrap().is_singular());
    }

    #[test]
    fn errors_are_sentences() {
        assert!(
            JsonPath::parse("name.givenName")
                .unwrap_err()
                .contains("start with `$`")
        );
        let e = JsonPath::parse("$.emails[?@.primary ==]").unwrap_err();
        assert!(e.contains("not a valid JSONPath"), "{e}");
        // A very deep path is parsed or refused, never a crash.
        let _ = JsonPath::parse(&format!("${}", "[0]".repeat(500)));
    }

    #[test]
    fn paths_read_through_a_patch_as_through_a_patched_copy() {
        use crate::raw_record::RawRecord;
        let base = doc();
        let set = json!({"name": {"givenName": "Grace"}, "seatType": "full", "emails": []});
        let Value::Object(set) = set else {
            unreachable!()
        };
        let patched = RawRecord::from(&base).set(set).unwrap();
        let copy = patched.clone().into_value().into_owned();
        for p in [
            "$.name.givenName",
            "$.name.familyName",
            "$.seatType",
            "$.emails[0].value",
            "$.emails[*].value",
            "$.userName",
            "$.missing",
            "$.*",
            "$",
            "$..value",
            "$[?@.givenName == 'Grace']",
        ] {
            let path = JsonPath::parse(p).unwrap();
            assert_eq!(
                path.first_in(patched.view()).map(|v| v.into_owned()),
                path.first(&copy).cloned(),
                "{p}"
            );
            let mut through = Vec::new();
            path.for_each_in(patched.view(), &mut |v| through.push(v.clone()));
            let want: Vec<Value> = path.query(&copy).into_iter().cloned().collect();
            assert_eq!(through, want, "{p}");
        }
    }
}
