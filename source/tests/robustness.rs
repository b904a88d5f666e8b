//! Fuzz-ish checks: no input may panic.

use rollcall_source::{SourceFile, check_schema, parse};
use serde_json::json;

const SAMPLE: &str = "\
# manifest
name: demo
http: {timeout: 30s, retries: 3}
defaults: &defaults
  method: GET
  headers: {Accept: application/json}
streams:
  users:
    request:
      <<: *defaults
      path: \"/users?x=1\"
    paginator:
      cursor: {path: $.next}
    fields:
      - name: id
        path: $.id
      - {name: 'active', path: $.active, key: !!bool true}
      - ? name
        : literal
    note: |
      multi
      line
    tags: [a, b, *defaults]
";

fn schema() -> serde_json::Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["name", "streams"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "pattern": "^[a-z]+$"},
            "http": {"anyOf": [{"$ref": "#/definitions/Http"}, {"type": "null"}]},
            "defaults": true,
            "streams": {"type": "object", "additionalProperties": {"$ref": "#/definitions/Stream"}}
        },
        "definitions": {
            "Http": {"type": "object", "properties": {"retries": {"type": "integer", "minimum": 0}}},
            "Stream": {
                "type": "object",
                "properties": {
                    "paginator": {"oneOf": [
                        {"type": "string", "enum": ["none"]},
                        {"type": "object", "properties": {"cursor": {"type": "object"}}, "required": ["cursor"], "additionalProperties": false}
                    ]},
                    "fields": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["name"]}}
                }
            }
        }
    })
}

fn exercise(text: &str) {
    let schema = schema();
    match parse(SourceFile::new("f.yaml", text)) {
        Ok(doc) => {
            for (i, d) in check_schema(&doc, &schema).into_iter().enumerate() {
                if i < 20 {
                    let _ = d.render_with_snippet(text);
                }
                assert!(d.pos.line >= 1 && d.pos.column >= 1);
            }
            let _ = doc.deserialize::<serde_json::Value>();
            let _ = doc.pos_or_ancestor("/streams/users/fields/0/name");
        }
        Err(diags) => {
            assert!(!diags.is_empty());
            for d in diags {
                let _ = d.render_with_snippet(text);
                assert!(d.pos.line >= 1 && d.pos.column >= 1, "{d}");
            }
        }
    }
}

#[test]
fn sample_is_valid() {
    let doc = parse(SourceFile::new("f.yaml", SAMPLE)).unwrap();
    assert_eq!(check_schema(&doc, &schema()), vec![]);
}

#[test]
fn every_prefix() {
    for (i, _) in SAMPLE.char_indices() {
        exercise(&SAMPLE[..i]);
    }
}

#[test]
fn byte_substitutions() {
    let specials = [
        ":", "-", "[", "]", "{", "}", "&", "*", "\"", "'", "\n", " ", "\t", "!", "#", "|", ">",
        "?", "%", "@", "`", ",", "\\", "~", "0", "é", "---\n", "<<: ",
    ];
    for (i, _) in SAMPLE.char_indices() {
        for s in specials {
            let mut t = String::with_capacity(SAMPLE.len() + 4);
            t.push_str(&SAMPLE[..i]);
            t.push_str(s);
            let rest = &SAMPLE[i..];
            let skip = rest.chars().next().map_or(0, char::len_utf8);
            t.push_str(&rest[skip..]);
            exercise(&t);
        }
    }
}

#[test]
fn raw_bytes() {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..300 {
        let mut bytes = SAMPLE.as_bytes().to_vec();
        for _ in 0..(next() % 8 + 1) {
            let at = (next() as usize) % bytes.len();
            bytes[at] = (next() & 0xFF) as u8;
        }
        match SourceFile::from_bytes("f.yaml", bytes) {
            Ok(f) => exercise(&f.text),
            Err(d) => assert!(d.pos.line >= 1),
        }
    }
}

#[test]
fn pathological_inputs() {
    let inputs = [
        String::new(),
        "\u{feff}".to_string(),
        "\0".to_string(),
        "&a [*a]".to_string(),
        "a: &a\n  b: *a\n".to_string(),
        "*unknown".to_string(),
        "<<: 5".to_string(),
        "a:\n  <<: [1, 2]\n".to_string(),
        "? - a\n  - b\n: c\n".to_string(),
        "[".repeat(10_000),
        "{a: ".repeat(10_000),
        "- ".repeat(10_000),
        format!("a: {}", "9".repeat(10_000)),
        format!("a: \"{}\"", "x".repeat(100_000)),
        "%YAML 1.1\n---\na: 1\n".to_string(),
        "a: !!int x\nb: !!float y\nc: !!null 1\nd: !!bool maybe\ne: !!seq x\n".to_string(),
        "!!map [1]\n".to_string(),
        "---\n...\n---\n".to_string(),
        "\t\t\t".to_string(),
        "a: 'b\n".to_string(),
        "key: value\n  bad indent: x\n".to_string(),
        (0..20_000).map(|i| format!("k{i}: {i}\n")).collect(),
        (0..5_000).map(|_| "- &a [1, 2, 3]\n- *a\n").collect(),
    ];
    for text in &inputs {
        exercise(text);
    }
}
