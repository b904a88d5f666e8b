//! What a run has created, for a run that began on an empty table: a store that held no
//! people (or no accounts of the run's instance) when the run took its write lock can hold
//! only what the run itself wrote, so a batch need not ask SQLite for a name or an account
//! the run never wrote. The first sync of a directory into an empty store then reads
//! nothing back.
//!
//! The run's writes are remembered in Bloom filters of fixed size, so memory stays flat
//! however many records a run applies: "not in the filter" is certain (the look-up is
//! skipped), "maybe" is checked in the store as before. The filter only ever decides
//! whether to look something up, never what a record does.

use std::hash::{DefaultHasher, Hash, Hasher};

/// Bits per filter: 2^23 (1 MiB). With 4 probes that is a false "maybe" about once in
/// 14 000 look-ups after 200 000 insertions, and once in 7 after 2 000 000.
const BITS: usize = 1 << 23;
const PROBES: u64 = 4;

/// A fixed-size Bloom filter of strings.
pub(super) struct Bloom {
    bits: Vec<u64>,
}

impl Bloom {
    pub(super) fn new() -> Bloom {
        Bloom {
            bits: vec![0; BITS / 64],
        }
    }

    fn probes(tag: u8, value: &str) -> impl Iterator<Item = usize> {
        let mut h = DefaultHasher::new();
        tag.hash(&mut h);
        value.hash(&mut h);
        let h = h.finish();
        // double hashing: h1 + i·h2, with h2 odd so the probes differ
        let (h1, h2) = (h & 0xffff_ffff, (h >> 32) | 1);
        (0..PROBES).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) as usize) % BITS)
    }

    pub(super) fn insert(&mut self, tag: u8, value: &str) {
        for bit in Bloom::probes(tag, value) {
            self.bits[bit / 64] |= 1 << (bit % 64);
        }
    }

    pub(super) fn may_contain(&self, tag: u8, value: &str) -> bool {
        Bloom::probes(tag, value).all(|bit| self.bits[bit / 64] & (1 << (bit % 64)) != 0)
    }
}

/// A folded username or email, as the people look-up matches it.
pub(super) const NAME: u8 = 1;
/// A custom sync key value, as the people look-up computes it.
pub(super) const KEY: u8 = 2;
/// An account's external id.
pub(super) const ACCOUNT: u8 = 3;

/// What a run that began on empty tables has written.
pub(super) struct Fresh {
    /// Set when the run began with no people: every name and key value of the people it
    /// created or changed.
    pub people: Option<Bloom>,
    /// Set when the run began with no accounts of its instance: the external ids of the
    /// accounts it created.
    pub accounts: Option<Bloom>,
}

impl Fresh {
    /// Whether the store may hold a person with this folded username or email.
    pub(super) fn may_have_name(&self, name: &str) -> bool {
        self.people
            .as_ref()
            .is_none_or(|b| b.may_contain(NAME, name))
    }

    /// Whether the store may hold a person with this custom sync key value.
    pub(super) fn may_have_key(&self, value: &str) -> bool {
        self.people
            .as_ref()
            .is_none_or(|b| b.may_contain(KEY, value))
    }

    /// Whether the store may hold an account of the run's instance with this external id.
    pub(super) fn may_have_account(&self, external_id: &str) -> bool {
        self.accounts
            .as_ref()
            .is_none_or(|b| b.may_contain(ACCOUNT, external_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_was_inserted_is_always_found_and_tags_keep_kinds_apart() {
        let mut b = Bloom::new();
        for i in 0..50_000 {
            b.insert(NAME, &format!("user.{i}@example.com"));
        }
        for i in 0..50_000 {
            assert!(b.may_contain(NAME, &format!("user.{i}@example.com")));
        }
        let false_maybes = (50_000..150_000)
            .filter(|i| b.may_contain(NAME, &format!("user.{i}@example.com")))
            .count();
        // expected about 100 000 × 3.4e-6 ≈ 0.3
        assert!(false_maybes < 20, "{false_maybes} false maybes");
        let other_kind = (0..50_000)
            .filter(|i| b.may_contain(KEY, &format!("user.{i}@example.com")))
            .count();
        assert!(other_kind < 20, "{other_kind} names seen as key values");
    }

    #[test]
    fn a_table_that_was_not_empty_is_always_looked_up() {
        let fresh = Fresh {
            people: None,
            accounts: Some(Bloom::new()),
        };
        assert!(fresh.may_have_name("anyone"));
        assert!(fresh.may_have_key("anything"));
        assert!(!fresh.may_have_account("42"));
    }
}
