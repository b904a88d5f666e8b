//! Users joining and leaving while the list is paged: nobody twice, nobody who was
//! there throughout missing, and a second pass with a warning when the list moved.

use std::collections::HashSet;

use rollcall_tests::{TestManifest, assert_unique, run_manifest, server, server_with};
use rollcall_testserver::{Drift, ServerConfig};

/// Checks the invariants of a read during which the list changed.
fn check(ctx: &str, emitted: &[String], before: &[String], after: &[String]) -> Result<(), String> {
    let mut seen = HashSet::new();
    if let Some(twice) = emitted.iter().find(|id| !seen.insert(*id)) {
        return Err(format!("{ctx}: {twice} was emitted twice"));
    }
    let after_set: HashSet<&String> = after.iter().collect();
    let before_set: HashSet<&String> = before.iter().collect();
    let missing: Vec<&String> = before
        .iter()
        .filter(|id| after_set.contains(id) && !seen.contains(id))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{ctx}: {} users there before and after the sync were not emitted: {missing:?}",
            missing.len()
        ));
    }
    if let Some(nobody) = seen
        .iter()
        .find(|id| !before_set.contains(*id) && !after_set.contains(*id))
    {
        return Err(format!("{ctx}: {nobody} is nobody"));
    }
    Ok(())
}

/// Runs one drift scenario; returns what went wrong, if anything.
async fn scenario(
    users: usize,
    cap: usize,
    drifts: &[(usize, Drift)],
    m: TestManifest,
) -> Result<(), String> {
    let ctx = format!(
        "{users} users, cap {cap}, drifts {drifts:?}, page_size {}, concurrency {}",
        m.page_size, m.concurrency
    );
    let srv = server_with(ServerConfig {
        users,
        max_results: cap,
        ..ServerConfig::default()
    })
    .await;
    let h = srv.handle();
    let before = h.user_ids();
    for (page, d) in drifts {
        h.drift_after_list_page(*page, *d);
    }
    let out = run_manifest(&m, &srv.scim_base_url()).await;
    let after = h.user_ids();
    let s = out.summary().clone();
    check(&ctx, &out.ids(), &before, &after).map_err(|e| format!("{e}\n    {s:?}"))?;
    if s.passes < 2 {
        return Err(format!(
            "{ctx}: the list moved, so it should be read again: {s:?}"
        ));
    }
    if !s.complete {
        return Err(format!(
            "{ctx}: the list settled, so the read should be complete: {s:?}"
        ));
    }
    if !s
        .warnings
        .iter()
        .any(|w| w.contains("the list changed while it was being read"))
    {
        return Err(format!("{ctx}: no warning: {:?}", s.warnings));
    }
    if out.recorder.warnings.lock().unwrap().len() != s.warnings.len() {
        return Err(format!("{ctx}: the observer did not get every warning"));
    }
    Ok(())
}

/// Fixed bug, kept as a regression test.
/// Where it was (core/src/fetch/scim.rs, `one_pass`, the `stale` counter): a second pass
/// re-reads users who were all emitted in the first, so "three pages in a row
/// brought no new record" fires on every re-read and ends the pass early, as if the
/// server ignored `startIndex`: the read ends incomplete, and users who slid past a
/// page boundary beyond the third page of the pass are never read.
#[tokio::test]
async fn drift_during_a_pass_is_detected_and_read_again() {
    let shapes = [
        Drift {
            remove_first: 5,
            insert: 3,
        },
        Drift {
            remove_first: 0,
            insert: 7,
        },
        Drift {
            remove_first: 60,
            insert: 0,
        },
        Drift {
            remove_first: 5,
            insert: 5,
        },
        Drift {
            remove_first: 1,
            insert: 1,
        },
    ];
    let mut failures = Vec::new();
    for drift in shapes {
        // Pass 1 reads 7 pages of 50; a drift after any of the first six is visible.
        for after_page in [1, 2, 5] {
            for concurrency in [1, 4] {
                let m = TestManifest {
                    page_size: 50,
                    concurrency,
                    ..TestManifest::default()
                };
                if let Err(e) = scenario(300, 1000, &[(after_page, drift)], m).await {
                    failures.push(e);
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 30 scenarios failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn the_drift_from_the_brief_with_default_page_size() {
    let srv = server(1000).await;
    let h = srv.handle();
    let before = h.user_ids();
    h.drift_after_list_page(
        2,
        Drift {
            remove_first: 5,
            insert: 3,
        },
    );
    let out = run_manifest(&TestManifest::default(), &srv.scim_base_url()).await;
    let s = out.summary();
    check("page_size 200", &out.ids(), &before, &h.user_ids()).unwrap();
    assert!(
        s.passes > 1 && s.complete && !s.warnings.is_empty(),
        "{s:?}"
    );
}

#[tokio::test]
async fn drift_with_a_server_page_cap() {
    let mut failures = Vec::new();
    for concurrency in [1, 4] {
        let m = TestManifest {
            page_size: 200,
            concurrency,
            ..TestManifest::default()
        };
        if let Err(e) = scenario(
            300,
            37,
            &[(
                3,
                Drift {
                    remove_first: 4,
                    insert: 2,
                },
            )],
            m,
        )
        .await
        {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Also hit by the `stale` counter bug described above.
#[tokio::test]
async fn drift_in_two_passes_needs_a_third() {
    let srv = server(300).await;
    let h = srv.handle();
    let before = h.user_ids();
    // Pass 1 has 7 pages of 50; page 9 is in pass 2.
    h.drift_after_list_page(
        2,
        Drift {
            remove_first: 3,
            insert: 2,
        },
    );
    h.drift_after_list_page(
        9,
        Drift {
            remove_first: 2,
            insert: 4,
        },
    );
    let m = TestManifest {
        page_size: 50,
        concurrency: 1,
        max_passes: 3,
        ..TestManifest::default()
    };
    let out = run_manifest(&m, &srv.scim_base_url()).await;
    let s = out.summary();
    check("two drifts", &out.ids(), &before, &h.user_ids()).unwrap();
    assert_eq!(s.passes, 3, "{s:?}");
    assert!(s.complete, "{s:?}");
    assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
}

#[tokio::test]
async fn a_list_that_never_settles_ends_incomplete_with_a_warning() {
    for concurrency in [1, 4] {
        let srv = server(300).await;
        let h = srv.handle();
        for page in 1..=60 {
            h.drift_after_list_page(
                page,
                Drift {
                    remove_first: 1,
                    insert: 1,
                },
            );
        }
        let m = TestManifest {
            page_size: 50,
            concurrency,
            max_passes: 2,
            ..TestManifest::default()
        };
        let out = run_manifest(&m, &srv.scim_base_url()).await;
        let s = out.summary();
        assert_unique(&out.ids());
        assert_eq!(s.passes, 2, "{s:?}");
        assert!(!s.complete, "concurrency {concurrency}: {s:?}");
        assert!(
            s.warnings
                .iter()
                .any(|w| w.contains("still changing after 2 passes")),
            "{:?}",
            s.warnings
        );
    }
}
