//! Users joining and leaving while the list is paged: nobody twice, nobody who was
//! there throughout missing, and a second pass with a warning when the list moved.

use std::collections::HashSet;

use rollcall_tests::{TestManifest, assert_unique, run_manifest, server, server_with};
use rollcall_testserver::{Drift, ServerConfig};

/// Checks the invariants of a read during which the list changed.
fn check(ctx: &str, emitted: &[String], before: &[String], after: &[String]) {
    assert_unique(emitted);
    let emitted: HashSet<&String> = emitted.iter().collect();
    let after_set: HashSet<&String> = after.iter().collect();
    let before_set: HashSet<&String> = before.iter().collect();
    for id in before.iter().filter(|id| after_set.contains(id)) {
        assert!(emitted.contains(id), "{ctx}: {id} was there before and after the sync but was not emitted");
    }
    for id in &emitted {
        assert!(before_set.contains(id) || after_set.contains(id), "{ctx}: {id} is nobody");
    }
}

#[tokio::test]
async fn drift_during_a_pass_is_detected_and_read_again() {
    let shapes = [
        Drift { remove_first: 5, insert: 3 },
        Drift { remove_first: 0, insert: 7 },
        Drift { remove_first: 60, insert: 0 },
        Drift { remove_first: 5, insert: 5 },
        Drift { remove_first: 1, insert: 1 },
    ];
    for drift in shapes {
        for after_page in [1, 2, 4] {
            for concurrency in [1, 4] {
                let ctx = format!("{drift:?} after list page {after_page}, concurrency {concurrency}");
                let srv = server(300).await;
                let h = srv.handle();
                let before = h.user_ids();
                h.drift_after_list_page(after_page, drift);
                let m = TestManifest { page_size: 50, concurrency, ..TestManifest::default() };
                let out = run_manifest(&m, &srv.scim_base_url()).await;
                let after = h.user_ids();
                let s = out.summary();
                check(&ctx, &out.ids(), &before, &after);
                assert!(s.passes > 1, "{ctx}: the list moved, so it is read again ({s:?})");
                assert!(s.complete, "{ctx}: the list settled, so the read is complete ({s:?})");
                assert!(
                    s.warnings.iter().any(|w| w.contains("the list changed while it was being read")),
                    "{ctx}: {:?}",
                    s.warnings
                );
                assert_eq!(out.recorder.warnings.lock().unwrap().len(), s.warnings.len(), "{ctx}");
            }
        }
    }
}

#[tokio::test]
async fn the_drift_from_the_brief_with_default_page_size() {
    let srv = server(1000).await;
    let h = srv.handle();
    let before = h.user_ids();
    h.drift_after_list_page(2, Drift { remove_first: 5, insert: 3 });
    let out = run_manifest(&TestManifest::default(), &srv.scim_base_url()).await;
    let s = out.summary();
    check("page_size 200", &out.ids(), &before, &h.user_ids());
    assert!(s.passes > 1 && s.complete && !s.warnings.is_empty(), "{s:?}");
}

#[tokio::test]
async fn drift_with_a_server_page_cap() {
    for concurrency in [1, 4] {
        let srv = server_with(ServerConfig { users: 300, max_results: 37, ..ServerConfig::default() }).await;
        let h = srv.handle();
        let before = h.user_ids();
        h.drift_after_list_page(3, Drift { remove_first: 4, insert: 2 });
        let m = TestManifest { page_size: 200, concurrency, ..TestManifest::default() };
        let out = run_manifest(&m, &srv.scim_base_url()).await;
        let s = out.summary();
        check(&format!("cap 37, concurrency {concurrency}"), &out.ids(), &before, &h.user_ids());
        assert!(s.passes > 1 && s.complete, "{s:?}");
    }
}

#[tokio::test]
async fn drift_in_two_passes_needs_a_third() {
    let srv = server(300).await;
    let h = srv.handle();
    let before = h.user_ids();
    // Pass 1 has 7 pages of 50; page 9 is in pass 2.
    h.drift_after_list_page(2, Drift { remove_first: 3, insert: 2 });
    h.drift_after_list_page(9, Drift { remove_first: 2, insert: 4 });
    let m = TestManifest { page_size: 50, concurrency: 1, max_passes: 3, ..TestManifest::default() };
    let out = run_manifest(&m, &srv.scim_base_url()).await;
    let s = out.summary();
    check("two drifts", &out.ids(), &before, &h.user_ids());
    assert_eq!(s.passes, 3, "{s:?}");
    assert!(s.complete);
    assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
}

#[tokio::test]
async fn a_list_that_never_settles_ends_incomplete_with_a_warning() {
    for concurrency in [1, 4] {
        let srv = server(300).await;
        let h = srv.handle();
        for page in 1..=60 {
            h.drift_after_list_page(page, Drift { remove_first: 1, insert: 1 });
        }
        let m = TestManifest { page_size: 50, concurrency, max_passes: 2, ..TestManifest::default() };
        let out = run_manifest(&m, &srv.scim_base_url()).await;
        let s = out.summary();
        assert_unique(&out.ids());
        assert_eq!(s.passes, 2, "{s:?}");
        assert!(!s.complete, "concurrency {concurrency}: {s:?}");
        assert!(
            s.warnings.iter().any(|w| w.contains("still changing after 2 passes")),
            "{:?}",
            s.warnings
        );
    }
}
