//! Manifest diagnostics: a corpus of broken manifests, each with the exact text of
//! every diagnostic it must produce (`tests/manifests/broken/NAME.expected`), and
//! the shipped manifests, which must load without a single diagnostic.
//!
//! `UPDATE_EXPECT=1 cargo test -p rollcall-tests broken_manifests` rewrites the
//! expected files, so a change in the messages is reviewed as a diff.

use rollcall_core::manifest::{load_connector, manifest_schema};
use rollcall_source::{SourceFile, check_schema, parse};
use rollcall_tests::{check_broken_corpus, files_with_ext, tests_dir, workspace_root};

/// Every diagnostic of a broken file, as displayed, one after another; and the
/// headlines, for the location check.
fn diagnostics(display_name: &str, bytes: Vec<u8>) -> Result<(String, Vec<String>), String> {
    match SourceFile::from_bytes(display_name, bytes) {
        Err(d) => Ok((format!("{d}\n"), vec![d.headline()])),
        Ok(file) => match load_connector(file, "test") {
            Ok(c) => Err(format!(
                "{display_name} loaded as connector `{}`, but it is broken",
                c.name
            )),
            Err(e) => Ok((
                format!("{e}\n"),
                e.diagnostics.iter().map(|d| d.headline()).collect(),
            )),
        },
    }
}

#[test]
fn broken_manifests_fail_with_the_expected_diagnostics() {
    check_broken_corpus("manifests/broken", 12, &diagnostics);
}

#[test]
fn several_problems_are_all_reported_in_file_order() {
    let path = tests_dir().join("manifests/broken/several_errors.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let err = load_connector(SourceFile::new("several_errors.yaml", text), "test").unwrap_err();
    assert!(err.diagnostics.len() >= 4, "{err}");
    let positions: Vec<_> = err.diagnostics.iter().map(|d| d.pos).collect();
    let mut sorted = positions.clone();
    sorted.sort();
    assert_eq!(positions, sorted, "in file order");
    assert!(
        err.render()
            .ends_with(&format!("{} problems found", err.diagnostics.len()))
    );
}

#[test]
fn every_shipped_connector_loads_cleanly() {
    let dir = workspace_root().join("connectors");
    let files = files_with_ext(&dir, "yaml");
    assert!(!files.is_empty());
    for path in files {
        let file = SourceFile::read(&path).unwrap_or_else(|d| panic!("{d}"));
        let doc = parse(file.clone()).unwrap_or_else(|d| panic!("{}", d[0]));
        let problems = check_schema(&doc, manifest_schema());
        assert!(problems.is_empty(), "{}: {problems:?}", path.display());
        let c = load_connector(file, &path.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
        assert!(!c.streams.is_empty());
        let stem = path.file_stem().unwrap().to_str().unwrap();
        assert_eq!(c.name, stem, "{} declares another name", path.display());
    }
}

#[test]
fn every_built_in_connector_is_a_shipped_file() {
    for b in rollcall_connectors::BUILTIN {
        let on_disk =
            std::fs::read_to_string(workspace_root().join("connectors").join(b.file)).unwrap();
        assert_eq!(on_disk, b.text, "{}", b.file);
        let c = load_connector(SourceFile::new(b.file, b.text), "built-in")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.name, b.name);
    }
}
