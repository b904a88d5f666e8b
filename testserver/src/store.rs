//! The in-memory user store: users in server (insertion) order.
//!
//! Each user is kept as its serialized JSON bytes (written once, rewritten only on mutation)
//! plus the few derived facts the server filters and maps on, so serving a page is a matter
//! of concatenating bytes and 100k users start quickly. A `serde_json::Value` is parsed back
//! only when someone needs the whole resource (PATCH, [`crate::ServerHandle::users`]).

use std::collections::HashMap;

use axum::body::Bytes;
use serde_json::Value;

use crate::generate::{GenContext, generate_user};

/// Attributes derived from a stored resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Facts {
    /// `userName`, lower-cased, when it is a string.
    pub user_name_lower: Option<String>,
    /// `userName`, or else the primary (or first) `emails[].value`.
    pub email: Option<String>,
    /// `active` when it is a boolean.
    pub active: Option<bool>,
    /// `userType` when it is a string.
    pub user_type: Option<String>,
    /// Has the `ORGANIZATION_INTERNAL_ADMIN` organization user role.
    pub admin: bool,
}

impl Facts {
    pub fn from_value(user: &Value) -> Self {
        let user_name = user.get("userName").and_then(Value::as_str);
        let email = user_name.map(str::to_owned).or_else(|| {
            let emails = user.get("emails").and_then(Value::as_array)?;
            let primary = emails
                .iter()
                .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
                .or_else(|| emails.first())?;
            primary
                .get("value")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        let admin = user
            .get("roles")
            .and_then(Value::as_array)
            .is_some_and(|roles| {
                roles.iter().any(|r| {
                    r.get("type").and_then(Value::as_str) == Some("organization_user_role")
                        && r.get("value").and_then(Value::as_str)
                            == Some("ORGANIZATION_INTERNAL_ADMIN")
                })
            });
        Facts {
            user_name_lower: user_name.map(str::to_lowercase),
            email,
            active: user.get("active").and_then(Value::as_bool),
            user_type: user
                .get("userType")
                .and_then(Value::as_str)
                .map(str::to_owned),
            admin,
        }
    }
}

/// One stored user.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The resource, serialized (it may be malformed on purpose).
    pub bytes: Bytes,
    /// `id` when it is a string.
    pub id: Option<String>,
    /// Derived attributes.
    pub facts: Facts,
    /// `lastActivityAt` for the members endpoint.
    pub last_activity: Option<String>,
}

impl Entry {
    pub fn from_value(value: &Value, last_activity: Option<String>) -> Self {
        let mut entry = Entry {
            bytes: Bytes::new(),
            id: None,
            facts: Facts::default(),
            last_activity,
        };
        entry.set_value(value);
        entry
    }

    /// The resource as a JSON value.
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }

    /// Replaces the resource (re-serializes and re-derives). The caller must reindex the
    /// store if the id may have changed.
    pub fn set_value(&mut self, value: &Value) {
        self.bytes = Bytes::from(serde_json::to_vec(value).unwrap_or_default());
        self.id = value.get("id").and_then(Value::as_str).map(str::to_owned);
        self.facts = Facts::from_value(value);
    }
}

/// All users in server order plus an id index.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub entries: Vec<Entry>,
    /// id -> position of the first entry with that id.
    index: HashMap<String, usize>,
    /// Index of the next user to generate.
    pub next_generated: u64,
}

impl Store {
    pub fn generate(ctx: &GenContext, users: usize) -> Self {
        let mut store = Store {
            entries: Vec::with_capacity(users),
            index: HashMap::with_capacity(users),
            next_generated: 0,
        };
        store.append_generated(ctx, users);
        store
    }

    /// Appends `n` generated users, using all cores for large batches.
    pub fn append_generated(&mut self, ctx: &GenContext, n: usize) {
        let first = self.next_generated;
        self.next_generated += n as u64;
        let threads = std::thread::available_parallelism()
            .map(|p| p.get())
            .unwrap_or(1)
            .min(8);
        let entries: Vec<Entry> = if n < 5_000 || threads < 2 {
            (0..n as u64)
                .map(|i| generated_entry(ctx, first + i))
                .collect()
        } else {
            let chunk = n.div_ceil(threads) as u64;
            std::thread::scope(|scope| {
                let workers: Vec<_> = (0..threads as u64)
                    .map(|t| {
                        let from = t * chunk;
                        let to = ((t + 1) * chunk).min(n as u64);
                        scope.spawn(move || {
                            (from..to)
                                .map(|i| generated_entry(ctx, first + i))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect()
            })
        };
        self.entries.reserve(entries.len());
        for e in entries {
            self.push(e);
        }
    }

    pub fn push(&mut self, entry: Entry) {
        if let Some(id) = &entry.id {
            self.index.entry(id.clone()).or_insert(self.entries.len());
        }
        self.entries.push(entry);
    }

    pub fn position(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.position(id).map(|p| &self.entries[p])
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Entry> {
        self.position(id).map(|p| &mut self.entries[p])
    }

    pub fn remove(&mut self, id: &str) -> bool {
        match self.position(id) {
            Some(p) => {
                self.entries.remove(p);
                self.reindex();
                true
            }
            None => false,
        }
    }

    pub fn remove_first(&mut self, n: usize) {
        let n = n.min(self.entries.len());
        if n > 0 {
            self.entries.drain(..n);
            self.reindex();
        }
    }

    /// Rebuilds the id index (after removals or id changes).
    pub fn reindex(&mut self) {
        self.index.clear();
        for (i, e) in self.entries.iter().enumerate() {
            if let Some(id) = &e.id {
                self.index.entry(id.clone()).or_insert(i);
            }
        }
    }
}

fn generated_entry(ctx: &GenContext, index: u64) -> Entry {
    let g = generate_user(ctx, index);
    Entry {
        bytes: Bytes::from(g.json),
        id: Some(g.id),
        facts: g.facts,
        last_activity: g.last_activity,
    }
}
