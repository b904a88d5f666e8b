//! The in-memory user store: users in server (insertion) order, each with its JSON bytes
//! serialized once and re-serialized only on mutation.

use std::collections::HashMap;

use axum::body::Bytes;
use serde_json::Value;

use crate::generate::{GenContext, generate_user};

/// One stored user.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The resource exactly as stored (may be malformed on purpose).
    pub value: Value,
    /// `value` serialized.
    pub bytes: Bytes,
    /// `value["id"]` when it is a string.
    pub id: Option<String>,
    /// `lastActivityAt` for the members endpoint.
    pub last_activity: Option<String>,
}

impl Entry {
    pub fn new(value: Value, last_activity: Option<String>) -> Self {
        let bytes = Bytes::from(serde_json::to_vec(&value).unwrap_or_default());
        let id = value.get("id").and_then(Value::as_str).map(str::to_owned);
        Self {
            value,
            bytes,
            id,
            last_activity,
        }
    }

    /// Re-serializes after `value` changed.
    pub fn refresh(&mut self) {
        self.bytes = Bytes::from(serde_json::to_vec(&self.value).unwrap_or_default());
        self.id = self
            .value
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned);
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

    pub fn append_generated(&mut self, ctx: &GenContext, n: usize) {
        for _ in 0..n {
            let g = generate_user(ctx, self.next_generated);
            self.next_generated += 1;
            self.push(Entry::new(g.resource, g.last_activity));
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

    /// Call after changing an entry in a way that may change its id.
    pub fn reindex(&mut self) {
        self.index.clear();
        for (i, e) in self.entries.iter().enumerate() {
            if let Some(id) = &e.id {
                self.index.entry(id.clone()).or_insert(i);
            }
        }
    }
}
