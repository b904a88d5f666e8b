-- rollcall store, schema 2.
-- A digest of each SaaS account's content columns (username, user_type, active, roles,
-- last_activity_at, fields), written with the account, so that a sync decides "unchanged"
-- by comparing one number instead of reading and parsing the stored JSON. NULL for rows
-- written before this column existed (and rows whose content another writer changed);
-- the next sync computes it from the stored columns.
ALTER TABLE saas_users ADD COLUMN digest INTEGER;

-- Any writer that changes an account's content without writing a new digest (a workflow
-- marking an account deactivated, say) clears the digest, so the next sync compares the
-- full content again instead of trusting a stale digest.
CREATE TRIGGER saas_users_digest_stale
AFTER UPDATE OF username, user_type, active, roles, last_activity_at, fields ON saas_users
WHEN NEW.digest IS OLD.digest AND NEW.digest IS NOT NULL
BEGIN
    UPDATE saas_users SET digest = NULL WHERE id = NEW.id;
END;
