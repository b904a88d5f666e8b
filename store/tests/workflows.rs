//! The workflow tables against a real SQLite file: workflows by name, the accounts a
//! workflow reads page by page, the state it writes back (and the next sync seeing the
//! app's state again), workflow runs and the audit log.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use rollcall_store::{
    AccountUpdate, AuditQuery, AuditResult, Created, IncomingAccount, NewAuditEntry, Outcome,
    Preference, Selection, Store, SyncOptions, Trigger, UserKey, WorkflowMode, WorkflowRunStatus,
};
use serde_json::json;

fn opts() -> SyncOptions {
    SyncOptions {
        app: "Miro".into(),
        instance: "Miro EU".into(),
        preference: Preference::CreateAndUpdate,
        selection: Selection::UserPlusSaasUser,
        role: None,
        sync_key: UserKey::Username,
        source: "test".into(),
    }
}

fn account(ext: &str, username: &str) -> IncomingAccount {
    let mut user_fields = BTreeMap::new();
    user_fields.insert("username".into(), json!(username));
    user_fields.insert("email".into(), json!(username));
    let mut fields = serde_json::Map::new();
    fields.insert("department".into(), json!("Sales"));
    IncomingAccount {
        external_id: ext.into(),
        sync_value: Some(username.into()),
        user_fields,
        username: Some(username.into()),
        user_type: Some("Full".into()),
        active: Some(true),
        roles: vec!["member".into()],
        last_activity_at: None,
        fields: fields.into(),
    }
}

async fn sync(store: &Store, accounts: &[IncomingAccount]) -> Vec<Outcome> {
    let mut run = store.begin_run("Miro Users", false).await.unwrap();
    let mut out = Vec::new();
    for a in accounts {
        out.push(run.apply(a.clone(), &opts()).await.unwrap());
    }
    let tally = run.tally();
    run.finish(true, &tally).await.unwrap();
    out
}

#[tokio::test]
async fn workflows_are_stored_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).await.unwrap();
    let def = json!({"format": 1});
    let put = |mode| s.put_workflow("Inactive", "Miro Users", "daily", mode, &def);
    assert_eq!(put(WorkflowMode::Plan).await.unwrap(), Created::Created);
    assert_eq!(put(WorkflowMode::Apply).await.unwrap(), Created::Updated);
    let w = s.workflow("Inactive").await.unwrap().unwrap();
    assert_eq!(
        (w.integration.as_str(), w.schedule.as_str(), w.mode),
        ("Miro Users", "daily", WorkflowMode::Apply)
    );
    assert_eq!(s.list_workflows().await.unwrap().len(), 1);
    assert!(s.remove_workflow("Inactive").await.unwrap());
    assert!(!s.remove_workflow("Inactive").await.unwrap());
    assert!(s.workflow("Inactive").await.unwrap().is_none());
}

#[tokio::test]
async fn accounts_are_read_page_by_page_and_state_written_back_is_seen_by_the_next_sync() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).await.unwrap();
    let accounts = [
        account("1", "ann@example.com"),
        account("2", "bob@example.com"),
        account("3", "cy@example.com"),
    ];
    sync(&s, &accounts).await;
    assert_eq!(
        s.count_instance_accounts("miro", "miro eu").await.unwrap(),
        3
    );
    let first = s
        .instance_accounts_page("MIRO", "Miro EU", 0, 2)
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(first[0].person_email.as_deref(), Some("ann@example.com"));
    let rest = s
        .instance_accounts_page("Miro", "Miro EU", first[1].id, 2)
        .await
        .unwrap();
    assert_eq!(
        rest.iter()
            .map(|a| a.external_id.as_str())
            .collect::<Vec<_>>(),
        ["3"]
    );
    assert!(
        s.instance_accounts_page("Miro", "Other", 0, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // A deactivation written back: active, roles and merged fields change.
    let id = first[1].id;
    let mut fields = serde_json::Map::new();
    fields.insert("role".into(), json!("admin"));
    let done = s
        .update_account_state(
            id,
            &AccountUpdate {
                active: Some(false),
                user_type: Some(None),
                roles: Some(vec!["admin".into()]),
                fields: Some(fields),
                present: None,
            },
        )
        .await
        .unwrap();
    assert!(done);
    assert!(
        !s.update_account_state(9999, &AccountUpdate::default())
            .await
            .unwrap()
    );
    let now = s
        .instance_accounts_page("Miro", "Miro EU", id - 1, 1)
        .await
        .unwrap();
    let b = &now[0];
    assert_eq!((b.active, b.user_type.clone()), (Some(false), None));
    assert_eq!(b.roles, ["admin"]);
    assert_eq!(b.fields["department"], json!("Sales"));
    assert_eq!(b.fields["role"], json!("admin"));
    // The app still says active: the next sync must not trust the old digest.
    let outcomes = sync(&s, &accounts).await;
    assert_eq!(
        outcomes,
        [Outcome::Unchanged, Outcome::Updated, Outcome::Unchanged]
    );
    // Gone from the app: no longer read.
    s.update_account_state(
        id,
        &AccountUpdate {
            present: Some(false),
            ..AccountUpdate::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        s.count_instance_accounts("Miro", "Miro EU").await.unwrap(),
        2
    );
}

#[tokio::test]
async fn runs_and_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).await.unwrap();
    let run = s
        .begin_workflow_run("Inactive", WorkflowMode::Apply, Trigger::Daemon)
        .await
        .unwrap();
    for (i, result) in [AuditResult::Ok, AuditResult::Failed, AuditResult::Ok]
        .into_iter()
        .enumerate()
    {
        let ext = i.to_string();
        s.add_audit(&NewAuditEntry {
            workflow: "Inactive",
            run_id: run,
            mode: WorkflowMode::Apply,
            trigger: Trigger::Daemon,
            saas_user_id: Some(i as i64),
            external_id: Some(&ext),
            username: Some("ann"),
            action: "deactivate",
            result,
            detail: "",
        })
        .await
        .unwrap();
    }
    s.finish_workflow_run(run, WorkflowRunStatus::Completed, &json!({"ok": 2}), None)
        .await
        .unwrap();
    let page = s
        .audit_entries(&AuditQuery {
            workflow: Some("Inactive".into()),
            limit: Some(2),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(page[0].detail, None);
    assert_eq!(page[1].result, AuditResult::Failed);
    let next = s
        .audit_entries(&AuditQuery {
            after_id: page[1].id,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].trigger, Trigger::Daemon);
    let none = s
        .audit_entries(&AuditQuery {
            workflow: Some("Other".into()),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert!(none.is_empty());
    let per_day = s
        .audit_per_day(
            "deactivate",
            AuditResult::Ok,
            Utc::now() - Duration::days(1),
        )
        .await
        .unwrap();
    assert_eq!(per_day.len(), 1);
    assert_eq!(per_day[0].1, 2);
    let runs = s.workflow_runs(Some("Inactive"), 5).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, WorkflowRunStatus::Completed);
    assert_eq!(runs[0].counts, json!({"ok": 2}));
    assert!(runs[0].finished_at.is_some());

    // Newest first, a page at a time, for the workflow page.
    let newest = s
        .audit_entries_newest_first("Inactive", None, 2)
        .await
        .unwrap();
    let ids: Vec<i64> = newest.iter().map(|e| e.id).collect();
    assert_eq!(ids, [page[1].id + 1, page[1].id]);
    let older = s
        .audit_entries_newest_first("Inactive", Some(page[1].id), 2)
        .await
        .unwrap();
    assert_eq!(older.len(), 1);
    assert_eq!(older[0].id, page[0].id);
    assert!(
        s.audit_entries_newest_first("Other", None, 2)
            .await
            .unwrap()
            .is_empty()
    );

    // The last run, of any mode or of one.
    let plan = s
        .begin_workflow_run("Inactive", WorkflowMode::Plan, Trigger::Cli)
        .await
        .unwrap();
    let last = s
        .last_workflow_run("Inactive", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((last.id, last.status), (plan, WorkflowRunStatus::Running));
    let last_apply = s
        .last_workflow_run("Inactive", Some(WorkflowMode::Apply))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last_apply.id, run);
    assert!(s.last_workflow_run("Other", None).await.unwrap().is_none());
}
