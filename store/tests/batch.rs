//! `RunGuard::apply_batch` against `RunGuard::apply`: the same generated records applied one
//! by one into one store and in random-sized batches into another must leave every table
//! the same (timestamps aside) and give the same outcomes.

use std::collections::BTreeMap;
use std::path::Path;

use rollcall_store::{
    IncomingAccount, NewUser, Outcome, Preference, Selection, Store, SyncOptions, UserKey,
};
use serde_json::{Map, Value, json};

/// A small deterministic generator (xorshift64*), so failures can be replayed by seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const NAMES: &[&str] = &["alice", "bob", "carol", "dave", "erin", "frank"];

/// A case variant of a name.
fn variant(rng: &mut Rng, name: &str) -> String {
    match rng.below(4) {
        0 => name.to_uppercase(),
        1 => {
            let mut c = name.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        }
        _ => name.to_owned(),
    }
}

fn gen_record(rng: &mut Rng, key: &UserKey) -> IncomingAccount {
    let name = *rng.pick(NAMES);
    let mut user_fields = BTreeMap::new();
    // the person's own values, sometimes someone else's (conflicts), sometimes absent
    let username_of = if rng.chance(15) {
        *rng.pick(NAMES)
    } else {
        name
    };
    let email_of = if rng.chance(15) {
        *rng.pick(NAMES)
    } else {
        name
    };
    if rng.chance(80) {
        user_fields.insert("username".into(), json!(variant(rng, username_of)));
    }
    match rng.below(10) {
        0 => {
            user_fields.insert("email".into(), Value::Null);
        }
        1 => {}
        _ => {
            user_fields.insert(
                "email".into(),
                json!(format!("{}@example.com", variant(rng, email_of))),
            );
        }
    }
    if rng.chance(70) {
        user_fields.insert(
            "first_name".into(),
            json!(*rng.pick(&["Ann", "Bea", "Cy", ""])),
        );
    }
    if rng.chance(3) {
        user_fields.insert("last_name".into(), json!(["not", "text"]));
    }
    if rng.chance(50) {
        let v = match rng.below(4) {
            0 => Value::Null,
            1 => json!(rng.below(3)),
            _ => json!(*rng.pick(&["Sales", "sales", "R&D"])),
        };
        user_fields.insert("dept".into(), v);
    }
    if rng.chance(20) {
        user_fields.insert(format!("extra{}", rng.below(3)), json!(true));
    }
    let emp_id = format!("E{}", NAMES.iter().position(|n| *n == name).unwrap_or(0));
    if matches!(key, UserKey::Custom(_)) && rng.chance(80) {
        let position = NAMES.iter().position(|n| *n == name).unwrap_or(0);
        let v = match rng.below(10) {
            0 | 1 => json!(emp_id.to_lowercase()),
            // values only SQLite's cast defines: a real, a big integer, an array
            2 => json!(position as f64 + 0.5),
            3 if rng.chance(50) => json!(u64::MAX - position as u64),
            3 => json!([emp_id]),
            _ => json!(emp_id),
        };
        user_fields.insert("emp_id".into(), v);
    }
    let sync_value = match rng.below(12) {
        0 => None,
        1 => Some("  ".to_owned()),
        _ => Some(match key {
            UserKey::Username => variant(rng, name),
            UserKey::Email => format!("{}@example.com", variant(rng, name)),
            UserKey::Custom(_) => variant(rng, &emp_id),
        }),
    };
    let mut fields = Map::new();
    fields.insert("userName".into(), json!(name));
    if rng.chance(50) {
        fields.insert("license".into(), json!(*rng.pick(&["full", "free"])));
    }
    IncomingAccount {
        external_id: format!("ext-{}", rng.below(9)),
        sync_value,
        user_fields,
        username: rng.chance(90).then(|| name.to_owned()),
        user_type: Some((*rng.pick(&["Full", "Free"])).to_owned()),
        active: *rng.pick(&[Some(true), Some(false), None]),
        roles: (0..rng.below(3)).map(|i| format!("role{i}")).collect(),
        last_activity_at: None,
        fields: fields.into(),
    }
}

fn gen_people(rng: &mut Rng) -> Vec<NewUser> {
    let mut out = Vec::new();
    for (i, n) in NAMES.iter().enumerate() {
        if rng.chance(50) {
            let mut custom = Map::new();
            if rng.chance(70) {
                custom.insert("emp_id".into(), json!(format!("E{i}")));
            }
            out.push(NewUser {
                username: variant(rng, n),
                email: rng.chance(80).then(|| format!("{n}@example.com")),
                first_name: Some("Seed".into()),
                role: Some("Staff".into()),
                custom,
                source: "csv:seed".into(),
                ..NewUser::default()
            });
        }
    }
    out
}

async fn open(dir: &Path) -> Store {
    Store::open(dir).await.expect("open store")
}

/// Every table's rows as JSON text, timestamps left out.
async fn dump(store: &Store) -> Vec<String> {
    let url = format!("sqlite://{}?mode=ro", store.path().display());
    let pool = sqlx::SqlitePool::connect(&url)
        .await
        .expect("open for reading");
    let mut out = Vec::new();
    for sql in [
        "SELECT json_array('user', id, username, email, first_name, last_name, role, custom, source) FROM users ORDER BY id",
        "SELECT json_array('account', id, user_id, app, instance, external_id, username, user_type, active, roles, last_activity_at, fields, last_seen_run_id, present) FROM saas_users ORDER BY id",
        "SELECT json_array('field', key, label, created_by_integration) FROM custom_fields ORDER BY key",
        "SELECT json_array('run', id, integration, status, dry_run, complete, fetched, created, updated, unchanged, skipped, failed, marked_absent, message) FROM runs ORDER BY id",
        "SELECT json_array('error', id, run_id, record_key, stage, reason) FROM run_errors ORDER BY id",
    ] {
        let rows: Vec<String> = sqlx::query_scalar(sql)
            .fetch_all(&pool)
            .await
            .expect("dump");
        out.extend(rows);
    }
    pool.close().await;
    out
}

/// Runs one generated case; returns the sequential outcomes, for coverage checks.
async fn run_case(seed: u64) -> Vec<Outcome> {
    let mut all = Vec::new();
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let sync_key = match rng.below(3) {
        0 => UserKey::Username,
        1 => UserKey::Email,
        _ => UserKey::Custom("emp_id".into()),
    };
    let people = gen_people(&mut rng);
    let mut runs = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let o = SyncOptions {
            app: "Miro".into(),
            instance: "miro-org-1".into(),
            preference: *rng.pick(&[Preference::UpdateOnly, Preference::CreateAndUpdate]),
            selection: *rng.pick(&[Selection::UserPlusSaasUser, Selection::UserOnly]),
            role: rng.chance(80).then(|| "Employee".into()),
            sync_key: sync_key.clone(),
            source: "integration:Miro Users".into(),
        };
        let n = rng.below(40);
        let recs: Vec<IncomingAccount> = (0..n).map(|_| gen_record(&mut rng, &sync_key)).collect();
        let complete = rng.chance(50);
        // batch sizes for the batched store
        let mut sizes = Vec::new();
        let mut left = n;
        while left > 0 {
            let s = 1 + rng.below(left.min(12));
            sizes.push(s);
            left -= s;
        }
        runs.push((o, recs, complete, sizes));
    }

    let tmp = tempfile::tempdir().unwrap();
    let one = open(&tmp.path().join("one")).await;
    let many = open(&tmp.path().join("many")).await;
    for store in [&one, &many] {
        if !people.is_empty() {
            store
                .import_users(people.clone(), UserKey::Username)
                .await
                .expect("seed");
        }
    }
    for (index, (o, recs, complete, sizes)) in runs.into_iter().enumerate() {
        let mut a = one.begin_run("miro", false).await.unwrap();
        let mut seq = Vec::new();
        for r in recs.clone() {
            seq.push(a.apply(r, &o).await.expect("apply"));
            // the reference writes each record before the next is read
            a.flush().await.expect("flush");
        }
        let tally_a = a.tally();
        a.finish(complete, &tally_a).await.unwrap();

        let mut b = many.begin_run("miro", false).await.unwrap();
        let mut batched: Vec<Outcome> = Vec::new();
        let mut rest = recs.clone().into_iter();
        for s in &sizes {
            let chunk: Vec<_> = rest.by_ref().take(*s).collect();
            batched.extend(b.apply_batch(chunk, &o).await.expect("apply_batch"));
        }
        let tally_b = b.tally();
        b.finish(complete, &tally_b).await.unwrap();

        let ctx = format!("seed {seed}, run {index}, {o:?}, batches {sizes:?}\nrecords {recs:#?}");
        assert_eq!(seq, batched, "outcomes differ: {ctx}");
        all.extend(seq);
        assert_eq!(tally_a, tally_b, "tallies differ: {ctx}");
        let (da, db) = (dump(&one).await, dump(&many).await);
        if da != db {
            let diff: Vec<_> = da.iter().zip(&db).filter(|(x, y)| x != y).take(5).collect();
            panic!(
                "tables differ (first differences, sequential vs batched): {diff:#?}\n{} vs {} rows\n{ctx}",
                da.len(),
                db.len()
            );
        }
    }
    all
}

#[tokio::test]
async fn apply_batch_matches_apply_one_by_one() {
    let cases: u64 = std::env::var("ROLLCALL_BATCH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    let mut seen = BTreeMap::new();
    for seed in 0..cases {
        for outcome in run_case(seed).await {
            let kind = match &outcome {
                Outcome::Skipped(reason) => [
                    "email",
                    "username",
                    "update-only",
                    "no value",
                    "empty value",
                    "must be text",
                    "no username or email",
                ]
                .into_iter()
                .find(|k| reason.contains(k))
                .unwrap_or("other skip"),
                Outcome::Created => "created",
                Outcome::Updated => "updated",
                Outcome::Unchanged => "unchanged",
            };
            *seen.entry(kind).or_insert(0) += 1;
        }
    }
    // the generator must reach every kind of outcome, or the comparison proves little
    if cases >= 150 {
        for kind in [
            "created",
            "updated",
            "unchanged",
            "email",
            "username",
            "update-only",
            "no value",
            "empty value",
            "must be text",
        ] {
            assert!(seen.contains_key(kind), "no `{kind}` outcome in {seen:?}");
        }
    }
}

#[tokio::test]
async fn a_batch_with_the_same_account_and_person_twice_is_applied_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path()).await;
    let o = SyncOptions {
        app: "Miro".into(),
        instance: "miro-org-1".into(),
        preference: Preference::CreateAndUpdate,
        selection: Selection::UserPlusSaasUser,
        role: Some("Employee".into()),
        sync_key: UserKey::Username,
        source: "integration:Miro Users".into(),
    };
    let rec = |ext: &str, sync: &str, first: &str| {
        let mut user_fields = BTreeMap::new();
        user_fields.insert("first_name".into(), json!(first));
        IncomingAccount {
            external_id: ext.into(),
            sync_value: Some(sync.into()),
            user_fields,
            username: Some(sync.into()),
            ..IncomingAccount::default()
        }
    };
    let mut run = store.begin_run("miro", false).await.unwrap();
    let out = run
        .apply_batch(
            vec![
                rec("1", "ann", "Ann"),
                rec("1", "ann", "Ann"),
                rec("2", "ANN", "Anne"),
                rec("1", "Ann", "Anne"),
            ],
            &o,
        )
        .await
        .unwrap();
    assert_eq!(
        out,
        vec![
            Outcome::Created,
            Outcome::Unchanged,
            Outcome::Created,
            Outcome::Updated
        ]
    );
    let tally = run.tally();
    assert_eq!((tally.created, tally.updated, tally.unchanged), (2, 1, 1));
    run.finish(true, &tally).await.unwrap();
}

#[tokio::test]
async fn every_account_a_run_sees_gets_the_run_start_as_last_seen() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path()).await;
    let o = SyncOptions {
        app: "Miro".into(),
        instance: "miro-org-1".into(),
        preference: Preference::CreateAndUpdate,
        selection: Selection::UserPlusSaasUser,
        role: None,
        sync_key: UserKey::Username,
        source: "integration:Miro Users".into(),
    };
    let rec = |i: usize| IncomingAccount {
        external_id: format!("ext-{i}"),
        sync_value: Some(format!("user{i}")),
        username: Some(format!("user{i}")),
        ..IncomingAccount::default()
    };
    for round in 0..2 {
        let mut run = store.begin_run("miro", false).await.unwrap();
        // Three batches, apart in time: they must still stamp one time.
        for part in 0..3 {
            run.apply_batch((part * 10..part * 10 + 10).map(rec).collect(), &o)
                .await
                .unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let tally = run.tally();
        run.finish(true, &tally).await.unwrap();

        let url = format!("sqlite://{}?mode=ro", store.path().display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let started: String =
            sqlx::query_scalar("SELECT started_at FROM runs ORDER BY id DESC LIMIT 1")
                .fetch_one(&pool)
                .await
                .unwrap();
        let seen: Vec<String> = sqlx::query_scalar("SELECT DISTINCT last_seen_at FROM saas_users")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!(seen, vec![started.clone()], "round {round}");
        let created: Vec<String> = sqlx::query_scalar("SELECT DISTINCT created_at FROM users")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!(created.len(), 1, "round {round}: {created:?}");
        pool.close().await;
    }
}
