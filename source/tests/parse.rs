use rollcall_source::{Limits, Pos, SourceFile, parse, parse_with_limits};
use serde_json::json;

fn doc(text: &str) -> rollcall_source::Document {
    parse(SourceFile::new("t.yaml", text)).unwrap_or_else(|d| panic!("{d:#?}"))
}

fn errs(text: &str) -> Vec<String> {
    match parse(SourceFile::new("t.yaml", text)) {
        Ok(_) => panic!("expected errors for {text:?}"),
        Err(d) => d.iter().map(ToString::to_string).collect(),
    }
}

const SAMPLE: &str = "\
name: users   # comment
streams:
  users:
    request:
      method: GET
      path: /users
    fields:
      - name: id
        path: $.id
      - name: a/b~c
        path: $.x
";

#[test]
fn yaml_positions() {
    let d = doc(SAMPLE);
    assert_eq!(d.value_pos(""), Some(Pos::new(1, 1)));
    assert_eq!(d.value_pos("/name"), Some(Pos::new(1, 7)));
    assert_eq!(d.key_pos("/name"), Some(Pos::new(1, 1)));
    assert_eq!(d.key_pos("/streams/users/request"), Some(Pos::new(4, 5)));
    assert_eq!(d.value_pos("/streams/users/request"), Some(Pos::new(5, 7)));
    assert_eq!(
        d.value_pos("/streams/users/request/path"),
        Some(Pos::new(6, 13))
    );
    assert_eq!(
        d.value_pos("/streams/users/fields/1"),
        Some(Pos::new(10, 9))
    );
    assert_eq!(d.key_pos("/streams/users/fields/1"), None);
    assert_eq!(
        d.value_pos("/streams/users/fields/1/path"),
        Some(Pos::new(11, 15))
    );
    assert_eq!(
        d.value()["streams"]["users"]["fields"][1]["name"],
        json!("a/b~c")
    );
    assert_eq!(d.value_pos("/nope"), None);
    assert_eq!(
        d.pos_or_ancestor("/streams/users/request/nope/deeper"),
        Pos::new(5, 7)
    );
    assert_eq!(d.pos_or_ancestor("/zzz"), Pos::new(1, 1));
    let e = d.error_at(
        "/streams/users/request/path",
        "bad path",
        Some("fix it".into()),
    );
    assert_eq!(
        e.to_string(),
        "t.yaml:6:13: error: bad path\n  hint: fix it"
    );
    assert_eq!(e.pointer.as_deref(), Some("/streams/users/request/path"));
}

#[test]
fn pointer_escaping() {
    let d = doc("\"a/b\":\n  \"c~d\": 1\n");
    assert_eq!(d.value_pos("/a~1b/c~0d"), Some(Pos::new(2, 10)));
    assert_eq!(d.key_pos("/a~1b/c~0d"), Some(Pos::new(2, 3)));
}

#[test]
fn json_positions() {
    let text = "{\n\t\"name\": \"users\",\n  \"list\": [1, {\"k\": true}],\n  \"n\": null\n}\n";
    let d = parse(SourceFile::new("t.json", text)).unwrap();
    assert_eq!(
        d.value(),
        &json!({"name": "users", "list": [1, {"k": true}], "n": null})
    );
    assert_eq!(d.key_pos("/name"), Some(Pos::new(2, 2)));
    assert_eq!(d.value_pos("/name"), Some(Pos::new(2, 10)));
    assert_eq!(d.value_pos("/list/1/k"), Some(Pos::new(3, 21)));
    assert_eq!(d.value_pos("/list/0"), Some(Pos::new(3, 12)));
}

#[test]
fn yaml_12_scalars() {
    let d = doc(
        "a: yes\nb: no\nc: true\nd: False\ne: 12\nf: -1.5\ng: ~\nh: null\ni:\nj: '12'\nk: 0x10\nl: on\nm: 1e3\nn: !!str 5\n",
    );
    assert_eq!(
        d.value(),
        &json!({"a": "yes", "b": "no", "c": true, "d": false, "e": 12, "f": -1.5, "g": null,
                "h": null, "i": null, "j": "12", "k": 16, "l": "on", "m": 1000.0, "n": "5"})
    );
}

#[test]
fn non_string_keys_are_text() {
    let d = doc("1: a\ntrue: b\n1.5: c\n");
    assert_eq!(d.value(), &json!({"1": "a", "true": "b", "1.5": "c"}));
}

#[test]
fn complex_key_is_diagnosed() {
    let e = errs("? [a, b]\n: 1\nc: 2\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("t.yaml:1:3: error: a mapping or a list cannot be used as a key"),
        "{e:?}"
    );
}

#[test]
fn huge_numbers_and_non_finite() {
    let e = errs("a: 99999999999999999999999\nb: .inf\nc: .nan\nd: 1e400\n");
    assert_eq!(e.len(), 4, "{e:?}");
    assert!(
        e[0].starts_with("t.yaml:1:4: error: the number `99999999999999999999999` is too large")
    );
    assert!(e[1].starts_with("t.yaml:2:4: error: `.inf` is not a finite number"));
}

#[test]
fn duplicate_keys_all_reported() {
    let e = errs("a: 1\nb:\n  path: x\n  path: y\na: 2\nc: 3\n");
    assert_eq!(
        e,
        vec![
            "t.yaml:4:3: error: duplicate key `path`: it is already set at line 3\n  hint: remove one of the two `path` entries in `b`",
            "t.yaml:5:1: error: duplicate key `a`: it is already set at line 1\n  hint: remove one of the two `a` entries in the document",
        ]
    );
}

#[test]
fn duplicate_keys_in_json() {
    let e = errs("{\"a\": 1, \"a\": {\"x\": [1]}, \"b\": 2}");
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("t.yaml:1:10: error: duplicate key `a`"));
}

#[test]
fn empty_files() {
    for text in [
        "",
        "   \n\n",
        "# just a comment\n# another\n",
        "---\n",
        "...\n",
    ] {
        let e = errs(text);
        assert_eq!(e.len(), 1, "{text:?}: {e:?}");
        assert!(
            e[0].starts_with("t.yaml:1:1: error: the file is empty\n  hint: "),
            "{e:?}"
        );
    }
}

#[test]
fn multiple_documents() {
    let e = errs("a: 1\n---\nb: 2\n");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("t.yaml:2:1: error: the file contains more than one YAML document"),
        "{e:?}"
    );
    // A single explicit document is fine.
    doc("---\na: 1\n");
}

#[test]
fn syntax_error() {
    let e = errs("a: [1, 2\nb: 3\n");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("t.yaml:2:2: error: invalid YAML: "),
        "{e:?}"
    );
    assert!(e[0].contains("\n  hint: "));
    let e = errs("a:\n\tb: 1\n");
    assert!(e[0].contains("tabs"), "{e:?}");
    let e = errs("a: \"unterminated\nb: 1\n");
    assert!(e[0].contains("invalid YAML"), "{e:?}");
}

#[test]
fn deep_nesting_is_refused() {
    let deep_block: String = (0..200)
        .map(|i| format!("{}k:\n", "  ".repeat(i)))
        .collect();
    let e = errs(&deep_block);
    assert!(e[0].contains("nested too deeply"), "{e:?}");
    let deep_flow = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let e = errs(&deep_flow);
    assert!(
        e[0].contains("nested too deeply") || e[0].contains("invalid YAML"),
        "{e:?}"
    );
    let ok: String = (0..60).map(|i| format!("{}k:\n", "  ".repeat(i))).collect();
    doc(&ok);
}

#[test]
fn alias_bomb_is_refused_quickly() {
    let bomb = "\
a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
";
    let start = std::time::Instant::now();
    let e = errs(bomb);
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(e.len(), 1);
    assert!(e[0].contains("alias bomb"), "{e:?}");
}

#[test]
fn aliases_and_merge_keys() {
    let d = doc("\
defaults: &d
  method: GET
  retries: 3
one:
  <<: *d
  retries: 5
two: *d
");
    assert_eq!(d.value()["one"], json!({"method": "GET", "retries": 5}));
    assert_eq!(d.value()["two"], json!({"method": "GET", "retries": 3}));
    // The alias itself is located at `*d`; its children at the anchored original.
    assert_eq!(d.value_pos("/two"), Some(Pos::new(7, 6)));
    assert_eq!(d.value_pos("/two/method"), Some(Pos::new(2, 11)));
    assert_eq!(d.value_pos("/one/method"), Some(Pos::new(2, 11)));
    assert_eq!(d.value_pos("/one/retries"), Some(Pos::new(6, 12)));
}

#[test]
fn unsupported_tags() {
    let e = errs("a: !custom x\nb: !!binary aGk=\n");
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e[0].starts_with("t.yaml:1:4: error: unsupported tag `!custom`"),
        "{e:?}"
    );
}

#[test]
fn limits() {
    let limits = Limits {
        max_bytes: 10,
        ..Limits::default()
    };
    let e = parse_with_limits(SourceFile::new("t.yaml", "a: 12345678901234"), limits).unwrap_err();
    assert!(e[0].message.contains("too large"));
    let big = "x".repeat(rollcall_source::MAX_FILE_SIZE + 1);
    let e = parse(SourceFile::new("t.yaml", big)).unwrap_err();
    assert!(e[0].message.contains("too large"));
}

#[test]
fn reading_files() {
    let dir = std::env::temp_dir().join(format!("rollcall-source-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.yaml");
    std::fs::write(&good, "\u{feff}a: 1\n").unwrap();
    let f = SourceFile::read(&good).unwrap();
    assert_eq!(f.text, "a: 1\n");
    let bin = dir.join("bin.yaml");
    std::fs::write(&bin, b"a: 1\n\x00\x01\x02").unwrap();
    let e = SourceFile::read(&bin).unwrap_err();
    assert!(
        e.to_string().contains(":2:1: error: the file is binary"),
        "{e}"
    );
    let latin1 = dir.join("latin1.yaml");
    std::fs::write(&latin1, b"name: caf\xe9\n").unwrap();
    let e = SourceFile::read(&latin1).unwrap_err();
    assert!(
        e.to_string()
            .contains(":1:10: error: the file is not valid UTF-8"),
        "{e}"
    );
    let e = SourceFile::read(&dir.join("missing.yaml")).unwrap_err();
    assert!(e.message.starts_with("cannot read the file"), "{e}");
    let e = SourceFile::read(&dir).unwrap_err();
    assert!(e.message.contains("directory"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn snippet_rendering() {
    let d = doc(SAMPLE);
    let e = d.error_at(
        "/streams/users/request/path",
        "bad path",
        Some("fix it".into()),
    );
    assert_eq!(
        e.render_with_snippet(&d.file().text),
        "t.yaml:6:13: error: bad path\n  |\n6 |       path: /users\n  |             ^\n  hint: fix it"
    );
}
