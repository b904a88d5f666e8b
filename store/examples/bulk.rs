//! Times a run of many account records through the run writer.
//!
//! `cargo run --release -p rollcall-store --example bulk -- 100000`

use std::collections::BTreeMap;
use std::time::Instant;

use rollcall_store::{IncomingAccount, Preference, Selection, Store, SyncOptions, UserKey};
use serde_json::json;

fn record(i: usize, generation: usize) -> IncomingAccount {
    let username = format!("user{i:06}");
    let mut user_fields = BTreeMap::new();
    user_fields.insert("username".into(), json!(username));
    user_fields.insert("email".into(), json!(format!("{username}@example.org")));
    user_fields.insert("first_name".into(), json!(format!("First{i}")));
    user_fields.insert("last_name".into(), json!(format!("Last{}", i + generation)));
    user_fields.insert("department".into(), json!(format!("dept{}", i % 40)));
    let mut fields = serde_json::Map::new();
    fields.insert("userName".into(), json!(username));
    fields.insert("displayName".into(), json!(format!("First{i} Last{i}")));
    fields.insert(
        "license".into(),
        json!(if i.is_multiple_of(3) { "full" } else { "free" }),
    );
    IncomingAccount {
        external_id: format!("{}", 3_074_457_345_618_258_000u64 + i as u64),
        sync_value: Some(username.clone()),
        user_fields,
        username: Some(username),
        user_type: Some("Full".into()),
        active: Some(true),
        roles: vec!["ORGANIZATION_INTERNAL_USER".into()],
        last_activity_at: None,
        fields: fields.into(),
    }
}

async fn one_run(
    store: &Store,
    opts: &SyncOptions,
    n: usize,
    generation: usize,
    label: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let mut run = store.begin_run("bulk", false).await?;
    for i in 0..n {
        run.apply(record(i, generation), opts).await?;
    }
    let mut counts = run.tally();
    counts.fetched = n as u64;
    let summary = run.finish(true, &counts).await?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{label:<22} {n} records in {secs:6.2} s ({:>7.0} records/s): created {}, updated {}, unchanged {}",
        n as f64 / secs,
        summary.counts.created,
        summary.counts.updated,
        summary.counts.unchanged
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = match std::env::args().nth(1) {
        Some(arg) => arg.parse()?,
        None => 100_000,
    };
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path()).await?;
    let opts = SyncOptions {
        app: "Miro".into(),
        instance: "bulk-org".into(),
        preference: Preference::CreateAndUpdate,
        selection: Selection::UserPlusSaasUser,
        role: Some("Employee".into()),
        sync_key: UserKey::Username,
        source: "integration:bulk".into(),
    };
    one_run(&store, &opts, n, 0, "first run (create)").await?;
    one_run(&store, &opts, n, 0, "second run (unchanged)").await?;
    one_run(&store, &opts, n, 1, "third run (update)").await?;
    let size = std::fs::metadata(store.path())?.len();
    println!("database file: {:.1} MiB", size as f64 / 1_048_576.0);
    Ok(())
}
