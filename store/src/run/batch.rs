//! The batched apply: a batch of records is decided in Rust against the people and accounts
//! it can touch (read in a couple of statements), then written with a handful of multi-row
//! statements, with the same effect as applying the records one by one.
//!
//! Why this is equivalent to sequential application:
//!
//! - Every person a record of the batch could match or collide with is read up front: the
//!   people whose username or email equals (case-insensitively, as SQLite's `NOCASE` and
//!   `lower()` do: ASCII only) any sync value, mapped username or mapped email of the batch,
//!   and for a custom sync key the people whose key value matches a sync value. People
//!   created or changed by earlier records of the batch stay in that in-memory view, so a
//!   later record sees them as it would have seen them in the database.
//! - Unique conflicts are decided in memory, email first, then username (the order SQLite
//!   checks the two indexes, so the skip reason is the same).
//! - New rows get explicit ids, `max(id) + 1` onwards, which is the id SQLite would give them.
//! - Writes are ordered so no transient unique conflict can occur: people whose username or
//!   email changes first get placeholder values, then people are updated, then created, then
//!   accounts are written.
//!
//! Batches overlap: the writes of batch k run on SQLite's thread while batch k+1 is decided
//! on a blocking thread ([`Pipeline`]). Batch k+1 therefore reads the store *before* batch
//! k's writes, and the run carries what batch k changed (its created and updated people and
//! accounts, as decided) into batch k+1's view, where it overrides what was read. Everything
//! else batch k+1 reads is as batch k left it, because batch k's writes touch only what it
//! carries. The writes of the last batch run when the run flushes ([`Pipeline::flush`]),
//! before it finishes.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::{Map, Value, json};
use std::sync::Arc;

use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments, SqliteConnection};

use super::fresh::{self, Bloom, Fresh};
use super::{IncomingAccount, Outcome, Preference, Selection, SyncOptions, digest};
use crate::users::{PersonFields, PersonOutcome, UserKey};
use crate::{StoreError, time};

fn fold(s: &str) -> String {
    s.to_ascii_lowercase()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// As read.
    Clean,
    /// Only `last_seen_*` moves (accounts only).
    Seen,
    /// Changed; written with an `UPDATE`.
    Updated,
    /// New; written with an `INSERT`.
    Created,
    /// Unchanged, but stored without its digest: the digest is written with `last_seen_*`.
    Stamped,
}

#[derive(Clone)]
struct Person {
    username: String,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    role: Option<String>,
    custom: Map<String, Value>,
    /// The custom sync key's value as the lookup sees it (`lower(CAST(json_extract(..)))`).
    key_value: Option<String>,
    /// Folded username and email as read (for people read from the database).
    original: Option<(String, Option<String>)>,
    state: State,
}

struct Account {
    id: i64,
    user_id: Option<i64>,
    app: String,
    present: bool,
    /// The digest of the content (see [`digest`](super::digest)): as stored, computed from
    /// the stored columns for rows written before digests were kept, or of the new content.
    digest: i64,
    /// Whether the stored row lacks its digest (written by schema 1).
    digest_missing: bool,
    /// The content to write; only for created and updated accounts.
    content: Option<Content>,
    state: State,
}

/// An account's content columns, ready to write.
struct Content {
    username: Option<String>,
    user_type: Option<String>,
    active: Option<bool>,
    /// JSON text.
    roles: String,
    last_activity_at: Option<String>,
    /// JSON text.
    fields: String,
}

impl Content {
    fn of(rec: &IncomingAccount, last_activity_at: Option<String>) -> Content {
        Content {
            username: rec.username.clone(),
            user_type: rec.user_type.clone(),
            active: rec.active,
            roles: serde_json::to_string(&rec.roles).unwrap_or_else(|_| "[]".to_owned()),
            last_activity_at,
            fields: serde_json::to_string(&rec.fields).unwrap_or_else(|_| "{}".to_owned()),
        }
    }
}

/// Rows per multi-row `INSERT`: chunks are powers of two up to this, so a handful of
/// statement shapes serve every batch size (sqlx keeps them prepared).
const MAX_ROWS_PER_INSERT: usize = 128;

/// Splits `n` rows into power-of-two chunks, largest first.
fn chunks(mut n: usize) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        if n == 0 {
            return None;
        }
        let size = if n >= MAX_ROWS_PER_INSERT {
            MAX_ROWS_PER_INSERT
        } else {
            1 << (usize::BITS - 1 - n.leading_zeros())
        };
        n -= size;
        Some(size)
    })
}

/// `head VALUES row, row, …` with `rows` copies of `row` (a tuple of plain `?`
/// parameters). Plain `?` keeps binding cheap: SQLite looks up the name of every numbered
/// (`?NNN`) parameter by a linear scan, which sqlx does per bound value.
fn insert_values(head: &str, rows: usize, row: &str) -> String {
    let mut sql = String::with_capacity(head.len() + 8 + rows * (row.len() + 2));
    sql.push_str(head);
    sql.push_str(" VALUES ");
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(row);
    }
    sql
}

enum AccountOutcome {
    Created,
    Updated,
    Unchanged,
}

/// A person as read: id, username, email, first and last name, role, custom fields, and
/// the custom sync key's value as the lookup sees it.
type UserRow = (
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Map<String, Value>,
    Option<String>,
);

/// An account as read: id, user, app, present (0 or 1), external id, digest, and (only when
/// the digest is missing) the content columns to compute it from, the JSON ones as text.
type SaasRow = (
    i64,
    Option<i64>,
    String,
    i64,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Reads the one row of a `json_group_array(...)` query: the batch's rows as one JSON text,
/// so the rows cross from SQLite in one value rather than one message each.
async fn fetch_json_rows<T: serde::de::DeserializeOwned>(
    q: sqlx::query::QueryScalar<'_, sqlx::Sqlite, String, sqlx::sqlite::SqliteArguments>,
    conn: &mut SqliteConnection,
    what: &str,
) -> Result<Vec<T>, StoreError> {
    let text = q
        .fetch_one(conn)
        .await
        .map_err(StoreError::db(what.to_owned()))?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
        what: what.to_owned(),
        detail: format!("the rows read are not as expected ({e})"),
    })
}

/// The people a batch can touch, as one JSON array of [`UserRow`]s. `?1` is the JSON array
/// of folded names (usernames and emails), `?2` the JSON path of a custom sync key (or
/// NULL), `?3` the JSON array of folded custom key values (or NULL).
const LOAD_USERS: &str = "SELECT coalesce(json_group_array(json_array(id, username, email,
        first_name, last_name, role, json(custom), lower(CAST(json_extract(custom, ?2) AS TEXT)))), '[]')
     FROM users WHERE id IN (
        SELECT id FROM users WHERE username IN (SELECT value FROM json_each(?1))
        UNION SELECT id FROM users WHERE email IN (SELECT value FROM json_each(?1))
        UNION SELECT id FROM users
            WHERE ?3 IS NOT NULL
            AND lower(CAST(json_extract(custom, ?2) AS TEXT)) IN (SELECT value FROM json_each(?3)))";

/// The accounts of a batch, as one JSON array of [`SaasRow`]s. `?1` is the instance, `?2`
/// the JSON array of external ids.
const LOAD_ACCOUNTS: &str = "SELECT coalesce(json_group_array(json_array(id, user_id, app, present,
        external_id, digest,
        iif(digest IS NULL, username, NULL), iif(digest IS NULL, user_type, NULL),
        iif(digest IS NULL, active, NULL), iif(digest IS NULL, roles, NULL),
        iif(digest IS NULL, last_activity_at, NULL), iif(digest IS NULL, fields, NULL))), '[]')
     FROM saas_users WHERE instance = ?1 AND external_id IN (SELECT value FROM json_each(?2))";

/// The ids the next new person and account get.
#[derive(Clone, Copy, Debug)]
struct NextIds {
    user: i64,
    account: i64,
}

/// What a batch did, for the guard's bookkeeping.
pub(super) struct Applied {
    pub outcomes: Vec<Outcome>,
    /// Custom keys declared in `custom_fields`.
    pub declared: Vec<String>,
    /// The records, given back.
    pub records: Vec<IncomingAccount>,
}

/// What a run carries from one batch to the next (see the module documentation): the next
/// free ids, what the last batch changed, and its writes while they have not run yet.
#[derive(Default)]
pub(super) struct Pipeline {
    next: Option<NextIds>,
    carried: Carried,
    pending: Option<PendingWrite>,
    /// What the run wrote, when it began on empty tables (see `fresh`).
    fresh: Option<Fresh>,
}

/// The people and accounts a batch created or changed, as it decided them (and as they
/// are once its writes have run), for the next batch's view.
#[derive(Default)]
struct Carried {
    people: HashMap<i64, Person>,
    accounts: HashMap<String, Account>,
}

impl Pipeline {
    /// Runs the writes still pending, so the run's transaction holds every batch applied so
    /// far. Call before anything else reads or writes the run's transaction.
    pub(super) async fn flush(&mut self, conn: &mut SqliteConnection) -> Result<(), StoreError> {
        match self.pending.take() {
            Some(write) => write.execute(conn).await,
            None => Ok(()),
        }
    }
}

/// The run a batch belongs to.
pub(super) struct RunRef<'a> {
    pub id: i64,
    pub integration: &'a str,
    /// The run's one timestamp for what it writes and sees.
    pub now: &'a str,
}

/// A batch's in-memory view of the people and accounts it can touch, and what it decided.
struct View {
    opts: SyncOptions,
    people: HashMap<i64, Person>,
    by_username: HashMap<String, i64>,
    by_email: HashMap<String, i64>,
    accounts: HashMap<String, Account>,
    next_user_id: i64,
    next_account_id: i64,
    declare: BTreeSet<String>,
    /// SQLite's text of custom sync key values it alone defines, by the value's JSON text.
    casts: HashMap<String, Option<String>>,
}

/// Applies one batch (see the module documentation): reads what it can touch, decides it on
/// a blocking thread while the previous batch's writes run, and leaves its own writes
/// pending in `pipeline`.
pub(super) async fn apply(
    conn: &mut SqliteConnection,
    opts: &SyncOptions,
    run: RunRef<'_>,
    custom_keys_seen: &HashSet<String>,
    pipeline: &mut Pipeline,
    recs: Vec<IncomingAccount>,
) -> Result<Applied, StoreError> {
    // The run holds the write lock from its first batch to its end, so the ids read once
    // stay the next free ones; later batches carry them on.
    let next = match pipeline.next {
        Some(next) => next,
        None => {
            let (max_user, max_account): (i64, i64) = sqlx::query_as(
                "SELECT (SELECT coalesce(max(id), 0) FROM users), (SELECT coalesce(max(id), 0) FROM saas_users)",
            )
            .fetch_one(&mut *conn)
            .await
            .map_err(StoreError::db("read the highest user and account ids"))?;
            pipeline.fresh = fresh_tables(conn, opts).await?;
            NextIds {
                user: max_user + 1,
                account: max_account + 1,
            }
        }
    };
    let (users, accounts) = load(conn, opts, &recs, pipeline.fresh.as_ref()).await?;
    let mut view = View::new(opts.clone(), next, std::mem::take(&mut pipeline.carried));
    view.add_read(users, accounts);
    view.casts = sql_casts(conn, opts, &recs, &view).await?;
    let keys = custom_keys_seen.clone();
    let mut fresh = pipeline.fresh.take();
    let write_run = WriteRun {
        id: run.id,
        integration: run.integration.to_owned(),
        now: run.now.to_owned(),
        instance: opts.instance.clone(),
        source: opts.source.clone(),
    };
    let decide = tokio::task::spawn_blocking(move || {
        let mut outcomes = Vec::with_capacity(recs.len());
        for rec in &recs {
            outcomes.push(view.decide(rec, &keys)?);
        }
        let declared: Vec<String> = view.declare.iter().cloned().collect();
        let (write, carried, next) = view.into_write(write_run, fresh.as_mut());
        Ok::<_, StoreError>((recs, outcomes, declared, write, carried, next, fresh))
    });
    let previous = pipeline.flush(conn);
    let (written, decided) = tokio::join!(previous, decide);
    written?;
    let (records, outcomes, declared, write, carried, next, fresh) =
        decided.map_err(|e| StoreError::InvalidInput {
            what: format!("a batch of run {}", run.id),
            detail: format!("deciding the batch stopped unexpectedly: {e}"),
        })??;
    pipeline.pending = Some(write);
    pipeline.fresh = fresh;
    pipeline.carried = carried;
    pipeline.next = Some(next);
    Ok(Applied {
        outcomes,
        declared,
        records,
    })
}

/// Whether the run began with no people, or no accounts of its instance (read once, inside
/// the run's transaction, which holds the write lock until the run ends).
async fn fresh_tables(
    conn: &mut SqliteConnection,
    opts: &SyncOptions,
) -> Result<Option<Fresh>, StoreError> {
    let (no_people, no_accounts): (bool, bool) = sqlx::query_as(
        "SELECT NOT EXISTS (SELECT 1 FROM users),
                NOT EXISTS (SELECT 1 FROM saas_users WHERE instance = ?1)",
    )
    .bind(&opts.instance)
    .fetch_one(&mut *conn)
    .await
    .map_err(StoreError::db(
        "check whether the store holds people and accounts",
    ))?;
    let with_accounts = opts.selection == Selection::UserPlusSaasUser;
    let fresh = Fresh {
        people: no_people.then(Bloom::new),
        accounts: (no_accounts && with_accounts).then(Bloom::new),
    };
    Ok((fresh.people.is_some() || fresh.accounts.is_some()).then_some(fresh))
}

/// Reads the people and (with accounts) the accounts a batch can touch. With `fresh`, only
/// what the run may have written is looked up, and nothing when that is nothing.
async fn load(
    conn: &mut SqliteConnection,
    opts: &SyncOptions,
    recs: &[IncomingAccount],
    fresh: Option<&Fresh>,
) -> Result<(Vec<UserRow>, Vec<SaasRow>), StoreError> {
    let mut names = BTreeSet::new();
    let mut key_values = BTreeSet::new();
    for rec in recs {
        if let Some(v) = &rec.sync_value {
            names.insert(fold(v));
            key_values.insert(fold(v));
        }
        for field in ["username", "email"] {
            if let Some(v) = rec.user_fields.get(field) {
                match v {
                    Value::String(s) => names.insert(fold(s)),
                    Value::Number(n) => names.insert(n.to_string()),
                    Value::Bool(b) => names.insert(b.to_string()),
                    _ => false,
                };
            }
        }
    }
    if let Some(fresh) = fresh {
        names.retain(|n| fresh.may_have_name(n));
        key_values.retain(|k| fresh.may_have_key(k));
    }
    let custom_key = match &opts.sync_key {
        UserKey::Custom(key) => Some(key),
        _ => None,
    };
    let users: Vec<UserRow> = if names.is_empty() && (custom_key.is_none() || key_values.is_empty())
    {
        Vec::new()
    } else {
        let q = sqlx::query_scalar(LOAD_USERS)
            .bind(json!(names).to_string())
            .bind(custom_key.map(|key| crate::query::json_path(key)))
            .bind(custom_key.map(|_| json!(key_values).to_string()));
        fetch_json_rows(q, conn, "look up the users of a batch of records").await?
    };
    if opts.selection != Selection::UserPlusSaasUser {
        return Ok((users, Vec::new()));
    }
    let ids: BTreeSet<&str> = recs
        .iter()
        .map(|r| r.external_id.as_str())
        .filter(|id| fresh.is_none_or(|f| f.may_have_account(id)))
        .collect();
    if ids.is_empty() {
        return Ok((users, Vec::new()));
    }
    let q = sqlx::query_scalar(LOAD_ACCOUNTS)
        .bind(&opts.instance)
        .bind(json!(ids).to_string());
    let what = format!(
        "look up the accounts of a batch of records of {}",
        opts.instance
    );
    let accounts: Vec<SaasRow> = fetch_json_rows(q, conn, &what).await?;
    Ok((users, accounts))
}

/// A custom sync key value as `lower(CAST(json_extract(custom, key) AS TEXT))` gives it,
/// when Rust can say so: `None` for reals, big integers, arrays and objects.
fn simple_key_value(value: Option<&Value>) -> Option<Option<String>> {
    match value {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(s)) => Some(Some(fold(s))),
        Some(Value::Bool(b)) => Some(Some(if *b { "1" } else { "0" }.to_owned())),
        Some(Value::Number(n)) if n.is_i64() => Some(Some(n.to_string())),
        Some(_) => None,
    }
}

/// Asks SQLite for the text of the custom sync key values of the batch that only it
/// defines (see [`View::key_value`]); usually there are none and nothing is asked.
async fn sql_casts(
    conn: &mut SqliteConnection,
    opts: &SyncOptions,
    recs: &[IncomingAccount],
    view: &View,
) -> Result<HashMap<String, Option<String>>, StoreError> {
    let mut casts = HashMap::new();
    let UserKey::Custom(key) = &opts.sync_key else {
        return Ok(casts);
    };
    let values = recs
        .iter()
        .filter_map(|r| r.user_fields.get(key))
        .chain(view.people.values().filter_map(|p| p.custom.get(key)));
    for value in values {
        if simple_key_value(Some(value)).is_some() {
            continue;
        }
        let text = value.to_string();
        if casts.contains_key(&text) {
            continue;
        }
        let mut one = Map::new();
        one.insert(key.clone(), value.clone());
        let cast: Option<String> =
            sqlx::query_scalar("SELECT lower(CAST(json_extract(?1, ?2) AS TEXT))")
                .bind(Value::Object(one).to_string())
                .bind(crate::query::json_path(key))
                .fetch_one(&mut *conn)
                .await
                .map_err(StoreError::db(format!("read custom field {key}")))?;
        casts.insert(text, cast);
    }
    Ok(casts)
}

impl View {
    fn new(opts: SyncOptions, next: NextIds, carried: Carried) -> View {
        let mut view = View {
            opts,
            people: HashMap::new(),
            by_username: HashMap::new(),
            by_email: HashMap::new(),
            accounts: carried.accounts,
            next_user_id: next.user,
            next_account_id: next.account,
            declare: BTreeSet::new(),
            casts: HashMap::new(),
        };
        for (id, p) in carried.people {
            view.by_username.insert(fold(&p.username), id);
            if let Some(e) = &p.email {
                view.by_email.insert(fold(e), id);
            }
            view.people.insert(id, p);
        }
        view
    }

    /// Adds what was read from the store; what the previous batch carried overrides it.
    fn add_read(&mut self, users: Vec<UserRow>, accounts: Vec<SaasRow>) {
        for (id, username, email, first_name, last_name, role, custom, key_value) in users {
            if self.people.contains_key(&id) {
                continue;
            }
            self.by_username.entry(fold(&username)).or_insert(id);
            if let Some(e) = &email {
                self.by_email.entry(fold(e)).or_insert(id);
            }
            let original = Some((fold(&username), email.as_deref().map(fold)));
            self.people.insert(
                id,
                Person {
                    username,
                    email,
                    first_name,
                    last_name,
                    role,
                    custom,
                    key_value,
                    original,
                    state: State::Clean,
                },
            );
        }
        for (
            id,
            user_id,
            app,
            present,
            ext,
            digest,
            username,
            user_type,
            active,
            roles,
            activity,
            fields,
        ) in accounts
        {
            if self.accounts.contains_key(&ext) {
                continue;
            }
            let (digest, digest_missing) = match digest {
                Some(d) => (d, false),
                None => {
                    let columns = digest::Columns {
                        username: username.as_deref(),
                        user_type: user_type.as_deref(),
                        active: active.map(|a| a != 0),
                        last_activity_at: activity.as_deref(),
                    };
                    let roles = roles.as_deref().unwrap_or("[]");
                    let fields = fields.as_deref().unwrap_or("{}");
                    (digest::stored(&columns, roles, fields), true)
                }
            };
            self.accounts.insert(
                ext,
                Account {
                    id,
                    user_id,
                    app,
                    present: present != 0,
                    digest,
                    digest_missing,
                    content: None,
                    state: State::Clean,
                },
            );
        }
    }

    /// One record, as `apply` would have done it, against the in-memory view.
    fn decide(
        &mut self,
        rec: &IncomingAccount,
        custom_keys_seen: &HashSet<String>,
    ) -> Result<Outcome, StoreError> {
        let with_account = self.opts.selection == Selection::UserPlusSaasUser;
        let person = match (&rec.sync_value, PersonFields::from_mapped(&rec.user_fields)) {
            (_, Err(reason)) => PersonOutcome::Skipped(reason),
            (None, _) => PersonOutcome::Skipped(format!(
                "the record has no value for the sync key {}",
                self.opts.sync_key
            )),
            (Some(v), _) if v.trim().is_empty() => PersonOutcome::Skipped(format!(
                "the record has an empty value for the sync key {}",
                self.opts.sync_key
            )),
            (Some(sync_value), Ok(fields)) => {
                for key in rec.user_fields.keys() {
                    if !matches!(
                        key.as_str(),
                        "username" | "email" | "first_name" | "last_name"
                    ) && !custom_keys_seen.contains(key)
                    {
                        self.declare.insert(key.clone());
                    }
                }
                self.upsert_person(sync_value, fields)?
            }
        };
        let (user_id, person_outcome) = match person {
            PersonOutcome::Skipped(reason) => {
                if with_account
                    && let Some(a) = self.accounts.get_mut(&rec.external_id)
                    && a.state == State::Clean
                {
                    a.state = State::Seen;
                }
                return Ok(Outcome::Skipped(reason));
            }
            PersonOutcome::Created(id) => (id, Outcome::Created),
            PersonOutcome::Updated(id) => (id, Outcome::Updated),
            PersonOutcome::Unchanged(id) => (id, Outcome::Unchanged),
        };
        if !with_account {
            return Ok(person_outcome);
        }
        let account = self.upsert_account(user_id, rec);
        Ok(match (person_outcome, account) {
            (Outcome::Created, _) | (_, AccountOutcome::Created) => Outcome::Created,
            (Outcome::Updated, _) | (_, AccountOutcome::Updated) => Outcome::Updated,
            _ => Outcome::Unchanged,
        })
    }

    fn find(&self, value: &str) -> Option<i64> {
        let folded = fold(value);
        match &self.opts.sync_key {
            UserKey::Username => self.by_username.get(&folded).copied(),
            UserKey::Email => self.by_email.get(&folded).copied(),
            UserKey::Custom(_) => self
                .people
                .iter()
                .filter(|(_, p)| p.key_value.as_deref() == Some(folded.as_str()))
                .map(|(id, _)| *id)
                .min(),
        }
    }

    /// The unique conflict SQLite would report for `id` taking these values (email first).
    fn conflict(&self, id: Option<i64>, username: &str, email: Option<&str>) -> Option<String> {
        let other = |found: Option<&i64>| found.is_some_and(|f| Some(*f) != id);
        if let Some(e) = email
            && other(self.by_email.get(&fold(e)))
        {
            return Some(format!("email {e} is already used by another user"));
        }
        if other(self.by_username.get(&fold(username))) {
            return Some(format!(
                "username {username} is already used by another user"
            ));
        }
        None
    }

    /// The custom sync key's value of a person as the lookup query computes it. Values
    /// whose text SQLite alone defines (reals, big integers, arrays, objects) were cast by
    /// SQLite before the batch was decided ([`sql_casts`]).
    fn key_value(&self, custom: &Map<String, Value>) -> Result<Option<String>, StoreError> {
        let UserKey::Custom(key) = &self.opts.sync_key else {
            return Ok(None);
        };
        let value = custom.get(key);
        if let Some(v) = simple_key_value(value) {
            return Ok(v);
        }
        let text = value.map(Value::to_string).unwrap_or_default();
        self.casts
            .get(&text)
            .cloned()
            .ok_or_else(|| StoreError::InvalidInput {
                what: format!("custom field {key}"),
                detail: format!("the value {text} was not cast before the batch was decided"),
            })
    }

    fn index(&mut self, id: i64, old: Option<(&str, Option<&str>)>, new: (&str, Option<&str>)) {
        if let Some((u, e)) = old {
            if self.by_username.get(&fold(u)) == Some(&id) {
                self.by_username.remove(&fold(u));
            }
            if let Some(e) = e
                && self.by_email.get(&fold(e)) == Some(&id)
            {
                self.by_email.remove(&fold(e));
            }
        }
        self.by_username.insert(fold(new.0), id);
        if let Some(e) = new.1 {
            self.by_email.insert(fold(e), id);
        }
    }

    fn upsert_person(
        &mut self,
        sync_value: &str,
        fields: PersonFields,
    ) -> Result<PersonOutcome, StoreError> {
        let Some(id) = self.find(sync_value) else {
            if self.opts.preference != Preference::CreateAndUpdate {
                return Ok(PersonOutcome::Skipped(format!(
                    "no user with {} = {}; preference is update-only",
                    self.opts.sync_key, sync_value
                )));
            }
            return self.create_person(sync_value, fields);
        };
        let Some(p) = self.people.get(&id) else {
            return Err(StoreError::InvalidInput {
                what: format!("user {id}"),
                detail: "missing from the batch's view".to_owned(),
            });
        };
        let mut custom_map = p.custom.clone();
        for (key, value) in fields.custom {
            if value.is_null() {
                custom_map.remove(&key);
            } else {
                custom_map.insert(key, value);
            }
        }
        let new_username = fields.username.unwrap_or_else(|| p.username.clone());
        let new_email = fields.email.unwrap_or_else(|| p.email.clone());
        let new_first = fields.first_name.unwrap_or_else(|| p.first_name.clone());
        let new_last = fields.last_name.unwrap_or_else(|| p.last_name.clone());
        if new_username == p.username
            && new_email == p.email
            && new_first == p.first_name
            && new_last == p.last_name
            && custom_map == p.custom
        {
            return Ok(PersonOutcome::Unchanged(id));
        }
        if let Some(reason) = self.conflict(Some(id), &new_username, new_email.as_deref()) {
            return Ok(PersonOutcome::Skipped(reason));
        }
        let (old_username, old_email) = (p.username.clone(), p.email.clone());
        let key_value = self.key_value(&custom_map)?;
        self.index(
            id,
            Some((&old_username, old_email.as_deref())),
            (&new_username, new_email.as_deref()),
        );
        if let Some(p) = self.people.get_mut(&id) {
            p.username = new_username;
            p.email = new_email;
            p.first_name = new_first;
            p.last_name = new_last;
            p.custom = custom_map;
            p.key_value = key_value;
            if p.state != State::Created {
                p.state = State::Updated;
            }
        }
        Ok(PersonOutcome::Updated(id))
    }

    fn create_person(
        &mut self,
        sync_value: &str,
        fields: PersonFields,
    ) -> Result<PersonOutcome, StoreError> {
        let PersonFields {
            username,
            email,
            first_name,
            last_name,
            mut custom,
        } = fields;
        let mut email = email.flatten();
        let mut username = username;
        match &self.opts.sync_key {
            UserKey::Username => username = username.or_else(|| Some(sync_value.to_owned())),
            UserKey::Email => email = email.or_else(|| Some(sync_value.to_owned())),
            UserKey::Custom(key) => {
                custom
                    .entry(key.clone())
                    .or_insert_with(|| Value::String(sync_value.to_owned()));
            }
        }
        let Some(username) = username.or_else(|| email.clone()) else {
            return Ok(PersonOutcome::Skipped(format!(
                "no user with {} = {} and the record maps no username or email to create one",
                self.opts.sync_key, sync_value
            )));
        };
        custom.retain(|_, v| !v.is_null());
        let custom: Map<String, Value> = custom.into_iter().collect();
        if let Some(reason) = self.conflict(None, &username, email.as_deref()) {
            return Ok(PersonOutcome::Skipped(reason));
        }
        let key_value = self.key_value(&custom)?;
        let id = self.next_user_id;
        self.next_user_id += 1;
        self.index(id, None, (&username, email.as_deref()));
        self.people.insert(
            id,
            Person {
                username,
                email,
                first_name: first_name.flatten(),
                last_name: last_name.flatten(),
                role: self.opts.role.clone(),
                custom,
                key_value,
                original: None,
                state: State::Created,
            },
        );
        Ok(PersonOutcome::Created(id))
    }

    fn upsert_account(&mut self, user_id: i64, rec: &IncomingAccount) -> AccountOutcome {
        let last_activity = rec.last_activity_at.map(time::fmt);
        let digest = digest::incoming(
            &digest::Columns {
                username: rec.username.as_deref(),
                user_type: rec.user_type.as_deref(),
                active: rec.active,
                last_activity_at: last_activity.as_deref(),
            },
            &rec.roles,
            &rec.fields,
        );
        let Some(a) = self.accounts.get_mut(&rec.external_id) else {
            let id = self.next_account_id;
            self.next_account_id += 1;
            self.accounts.insert(
                rec.external_id.clone(),
                Account {
                    id,
                    user_id: Some(user_id),
                    app: self.opts.app.clone(),
                    present: true,
                    digest,
                    digest_missing: false,
                    content: Some(Content::of(rec, last_activity)),
                    state: State::Created,
                },
            );
            return AccountOutcome::Created;
        };
        let same =
            a.user_id == Some(user_id) && a.app == self.opts.app && a.digest == digest && a.present;
        if same {
            if a.state == State::Clean {
                // A row without its digest gets it now, with the content it already has.
                a.state = if a.digest_missing {
                    State::Stamped
                } else {
                    State::Seen
                };
            }
            return AccountOutcome::Unchanged;
        }
        a.user_id = Some(user_id);
        a.app = self.opts.app.clone();
        a.digest = digest;
        a.digest_missing = false;
        a.content = Some(Content::of(rec, last_activity));
        a.present = true;
        if a.state != State::Created {
            a.state = State::Updated;
        }
        AccountOutcome::Updated
    }

    /// Turns what the batch decided into its writes, and what it changed into what the
    /// next batch carries (as it will be once the writes have run).
    fn into_write(
        self,
        run: WriteRun,
        mut fresh: Option<&mut Fresh>,
    ) -> (PendingWrite, Carried, NextIds) {
        let next = NextIds {
            user: self.next_user_id,
            account: self.next_account_id,
        };
        let mut write = PendingWrite {
            run,
            declare: (!self.declare.is_empty()).then(|| json!(self.declare).to_string()),
            moved: Vec::new(),
            updated_users: Vec::new(),
            created_users: Vec::new(),
            updated_accounts: Vec::new(),
            created_accounts: Vec::new(),
            seen: Vec::new(),
            stamped: Vec::new(),
        };
        let mut carried = Carried::default();
        let mut people: Vec<(i64, Person)> = self.people.into_iter().collect();
        people.sort_unstable_by_key(|(id, _)| *id);
        for (id, mut p) in people {
            match p.state {
                State::Updated => {
                    let now_keys = (fold(&p.username), p.email.as_deref().map(fold));
                    if p.original.as_ref() != Some(&now_keys) {
                        write.moved.push(id);
                    }
                    write.updated_users.push(json!([
                        id,
                        p.username,
                        p.email,
                        p.first_name,
                        p.last_name,
                        p.role,
                        custom_text(&p.custom)
                    ]));
                    p.original = Some(now_keys);
                }
                State::Created => {
                    write.created_users.push(NewPerson {
                        id,
                        username: p.username.clone(),
                        email: p.email.clone(),
                        first_name: p.first_name.clone(),
                        last_name: p.last_name.clone(),
                        role: p.role.clone(),
                        custom: custom_text(&p.custom),
                    });
                    p.original = Some((fold(&p.username), p.email.as_deref().map(fold)));
                }
                State::Clean | State::Seen | State::Stamped => continue,
            }
            if let Some(b) = fresh.as_deref_mut().and_then(|f| f.people.as_mut()) {
                b.insert(fresh::NAME, &fold(&p.username));
                if let Some(e) = &p.email {
                    b.insert(fresh::NAME, &fold(e));
                }
                if let Some(k) = &p.key_value {
                    b.insert(fresh::KEY, k);
                }
            }
            p.state = State::Clean;
            carried.people.insert(id, p);
        }
        let mut accounts: Vec<(String, Account)> = self.accounts.into_iter().collect();
        accounts.sort_unstable_by_key(|(_, a)| a.id);
        for (ext, mut a) in accounts {
            match (a.state, a.content.take()) {
                (State::Clean, _) => continue,
                (State::Seen, _) => {
                    write.seen.push(a.id);
                    continue;
                }
                (State::Stamped, _) => write.stamped.push(json!([a.id, a.digest])),
                (State::Updated, Some(c)) => write.updated_accounts.push(json!([
                    a.id,
                    a.user_id,
                    a.app,
                    ext,
                    c.username,
                    c.user_type,
                    c.active,
                    c.roles,
                    c.last_activity_at,
                    c.fields,
                    a.digest
                ])),
                (State::Created, Some(c)) => {
                    if let Some(b) = fresh.as_deref_mut().and_then(|f| f.accounts.as_mut()) {
                        b.insert(fresh::ACCOUNT, &ext);
                    }
                    write.created_accounts.push(NewAccount {
                        id: a.id,
                        user_id: a.user_id,
                        app: a.app.clone(),
                        external_id: ext.clone(),
                        content: c,
                        digest: a.digest,
                    })
                }
                (State::Updated | State::Created, None) => {
                    // Decided as changed without new content: cannot happen (upsert_account
                    // always sets it); written as seen so the run stays consistent.
                    write.seen.push(a.id);
                    continue;
                }
            }
            a.state = State::Clean;
            a.digest_missing = false;
            carried.accounts.insert(ext, a);
        }
        (write, carried, next)
    }
}

fn custom_text(custom: &Map<String, Value>) -> String {
    serde_json::to_string(custom).unwrap_or_else(|_| "{}".to_owned())
}

/// The run's values every write of a batch uses.
struct WriteRun {
    id: i64,
    integration: String,
    now: String,
    instance: String,
    source: String,
}

/// A person to insert.
struct NewPerson {
    id: i64,
    username: String,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    role: Option<String>,
    /// JSON text.
    custom: String,
}

/// An account to insert.
struct NewAccount {
    id: i64,
    user_id: Option<i64>,
    app: String,
    external_id: String,
    content: Content,
    digest: i64,
}

/// The writes of one batch, owned, so they can run after the batch was decided.
struct PendingWrite {
    run: WriteRun,
    /// JSON array of custom keys to declare.
    declare: Option<String>,
    /// People whose username or email changes.
    moved: Vec<i64>,
    updated_users: Vec<Value>,
    created_users: Vec<NewPerson>,
    updated_accounts: Vec<Value>,
    created_accounts: Vec<NewAccount>,
    /// Accounts only seen.
    seen: Vec<i64>,
    /// Accounts seen that get their digest.
    stamped: Vec<Value>,
}

impl PendingWrite {
    /// Writes the batch, in an order free of transient unique conflicts, as one command:
    /// SQLite's thread runs every statement of the batch without waiting for this task
    /// between them (the statements use plain `?` parameters, bound in order).
    ///
    /// The multi-row `INSERT`s and the `seen` update say `OR FAIL`: with that, and with the
    /// schema's function-free checks and deferred foreign key (migration 6), SQLite keeps
    /// no statement journal for them. A failed statement leaves its earlier rows in the
    /// transaction, but any error here fails the run and its transaction is rolled back.
    async fn execute(self, conn: &mut SqliteConnection) -> Result<(), StoreError> {
        let PendingWrite {
            run,
            declare,
            moved,
            updated_users,
            created_users,
            updated_accounts,
            created_accounts,
            seen,
            stamped,
        } = self;
        let now: Arc<str> = Arc::from(run.now.as_str());
        let instance: Arc<str> = Arc::from(run.instance.as_str());
        let source: Arc<str> = Arc::from(run.source.as_str());
        let mut w = Script::default();
        if let Some(declare) = declare {
            w.sql(
                "INSERT INTO custom_fields (key, label, created_by_integration, created_at)
                 SELECT value, value, ?, ? FROM json_each(?) WHERE true
                 ON CONFLICT (key) DO NOTHING",
            );
            w.bind(run.integration.clone())?;
            w.bind(now.clone())?;
            w.bind(declare)?;
        }
        if !moved.is_empty() {
            // Free the usernames and emails that change hands before anyone takes them.
            w.sql(
                "UPDATE users SET username = char(1) || 'rollcall-moving-' || id, email = NULL
                 WHERE id IN (SELECT value FROM json_each(?))",
            );
            w.bind(json!(moved).to_string())?;
        }
        if !updated_users.is_empty() {
            w.sql(
                "UPDATE users SET username = j.value ->> 1, email = j.value ->> 2,
                    first_name = j.value ->> 3, last_name = j.value ->> 4, role = j.value ->> 5,
                    custom = j.value ->> 6, updated_at = ?
                 FROM json_each(?) AS j WHERE users.id = j.value ->> 0",
            );
            w.bind(now.clone())?;
            w.bind(Value::Array(updated_users).to_string())?;
        }
        let mut people = created_users.into_iter();
        for rows in chunks(people.len()) {
            w.sql(&insert_values(
                "INSERT OR FAIL INTO users (id, username, email, first_name, last_name, role, custom,
                    source, created_at, updated_at)",
                rows,
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ));
            for p in people.by_ref().take(rows) {
                w.bind(p.id)?;
                w.bind(p.username)?;
                w.bind(p.email)?;
                w.bind(p.first_name)?;
                w.bind(p.last_name)?;
                w.bind(p.role)?;
                w.bind(p.custom)?;
                w.bind(source.clone())?;
                w.bind(now.clone())?;
                w.bind(now.clone())?;
            }
        }
        if !updated_accounts.is_empty() {
            w.sql(
                "UPDATE saas_users SET user_id = j.value ->> 1, app = j.value ->> 2,
                    username = j.value ->> 4, user_type = j.value ->> 5, active = j.value ->> 6,
                    roles = j.value ->> 7, last_activity_at = j.value ->> 8, fields = j.value ->> 9,
                    digest = j.value ->> 10, last_seen_at = ?, last_seen_run_id = ?, present = 1,
                    updated_at = ?
                 FROM json_each(?) AS j WHERE saas_users.id = j.value ->> 0",
            );
            w.bind(now.clone())?;
            w.bind(run.id)?;
            w.bind(now.clone())?;
            w.bind(Value::Array(updated_accounts).to_string())?;
        }
        let mut accounts = created_accounts.into_iter();
        for rows in chunks(accounts.len()) {
            w.sql(&insert_values(
                "INSERT OR FAIL INTO saas_users (id, user_id, app, instance, external_id, username,
                    user_type, active, roles, last_activity_at, fields, digest, first_seen_at,
                    last_seen_at, last_seen_run_id, present, updated_at)",
                rows,
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)",
            ));
            for a in accounts.by_ref().take(rows) {
                let c = a.content;
                w.bind(a.id)?;
                w.bind(a.user_id)?;
                w.bind(a.app)?;
                w.bind(instance.clone())?;
                w.bind(a.external_id)?;
                w.bind(c.username)?;
                w.bind(c.user_type)?;
                w.bind(c.active)?;
                w.bind(c.roles)?;
                w.bind(c.last_activity_at)?;
                w.bind(c.fields)?;
                w.bind(a.digest)?;
                w.bind(now.clone())?;
                w.bind(now.clone())?;
                w.bind(run.id)?;
                w.bind(now.clone())?;
            }
        }
        if !seen.is_empty() {
            w.sql(
                "UPDATE OR FAIL saas_users SET last_seen_at = ?, last_seen_run_id = ?
                 WHERE id IN (SELECT value FROM json_each(?))",
            );
            w.bind(now.clone())?;
            w.bind(run.id)?;
            w.bind(json!(seen).to_string())?;
        }
        if !stamped.is_empty() {
            w.sql(
                "UPDATE saas_users SET digest = j.value ->> 1, last_seen_at = ?, last_seen_run_id = ?
                 FROM json_each(?) AS j WHERE saas_users.id = j.value ->> 0",
            );
            w.bind(now.clone())?;
            w.bind(run.id)?;
            w.bind(Value::Array(stamped).to_string())?;
        }
        if w.sql.is_empty() {
            return Ok(());
        }
        // The script is assembled from the fixed statements above; every value is bound.
        sqlx::query_with(sqlx::AssertSqlSafe(w.sql), w.args)
            .execute(&mut *conn)
            .await
            .map_err(StoreError::db(format!(
                "store a batch of records of {instance} (run {})",
                run.id
            )))?;
        Ok(())
    }
}

/// Statements and their values, assembled into one command.
#[derive(Default)]
struct Script {
    sql: String,
    args: SqliteArguments,
}

impl Script {
    fn sql(&mut self, statement: &str) {
        self.sql.push_str(statement);
        self.sql.push_str(";\n");
    }

    fn bind<'t, T: sqlx::Encode<'t, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>>(
        &mut self,
        value: T,
    ) -> Result<(), StoreError> {
        self.args.add(value).map_err(|e| StoreError::InvalidInput {
            what: "a batch of records".to_owned(),
            detail: format!("a value could not be bound: {e}"),
        })
    }
}
