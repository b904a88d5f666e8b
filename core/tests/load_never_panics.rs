//! Loading any text, however broken, gives a connector or diagnostics, never a
//! panic: every prefix of the Miro manifest and many single-character edits of it.

use rollcall_core::manifest::load_connector;
use rollcall_source::SourceFile;

const MIRO: &str = include_str!("../../connectors/miro.yaml");

fn load(text: &str) -> Result<(), String> {
    match load_connector(SourceFile::new("m.yaml", text), "test") {
        Ok(_) => Ok(()),
        Err(e) => {
            assert!(!e.diagnostics.is_empty(), "a failed load must say why");
            for d in &e.diagnostics {
                let shown = d.to_string();
                assert!(shown.starts_with("m.yaml:"), "{shown}");
                assert!(
                    shown.contains(": error: ") || shown.contains(": warning: "),
                    "{shown}"
                );
            }
            Err(e.to_string())
        }
    }
}

#[test]
fn the_miro_manifest_loads() {
    load(MIRO).expect("miro.yaml loads");
}

#[test]
fn every_prefix_loads_or_fails_cleanly() {
    let cuts: Vec<usize> = MIRO.char_indices().map(|(i, _)| i).step_by(7).collect();
    for cut in cuts {
        let _ = load(&MIRO[..cut]);
    }
}

#[test]
fn single_edits_load_or_fail_cleanly() {
    let edits = [
        "", "{", "}", "[", "]", ":", "\"", "'", "*a", "&a", "\t", "{{", "}}", "$", "?", "- ",
        "\u{0}",
    ];
    let positions: Vec<usize> = MIRO.char_indices().map(|(i, _)| i).step_by(53).collect();
    for pos in positions {
        for e in edits {
            let mut t = String::with_capacity(MIRO.len() + 4);
            t.push_str(&MIRO[..pos]);
            t.push_str(e);
            let rest = &MIRO[pos..];
            let skip = rest.chars().next().map(char::len_utf8).unwrap_or(0);
            t.push_str(&rest[skip..]);
            let _ = load(&t);
        }
    }
}

#[test]
fn semantic_problems_are_all_reported_with_locations() {
    let text = MIRO
        .replace("token: \"{{token}}\"", "token: \"{{tokn}}\"")
        .replace("path: $.userName", "path: $.userName[?")
        .replacen("primary_key: id", "primary_key: idd", 1);
    let err = load(&text).unwrap_err();
    assert!(
        err.contains("`tokn`, which is not a declared input"),
        "{err}"
    );
    assert!(err.contains("is not a valid JSONPath"), "{err}");
    assert!(
        err.contains("the primary key `idd` is not a field"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("m.yaml:")).count(),
        3,
        "{err}"
    );
}

#[test]
fn auth_must_use_a_secret_input() {
    let text = MIRO.replace("    secret: true\n", "");
    let err = load(&text).unwrap_err();
    assert!(err.contains("uses no secret input"), "{err}");
    assert!(
        err.contains("mark the input `token` with `secret: true`"),
        "{err}"
    );
}
