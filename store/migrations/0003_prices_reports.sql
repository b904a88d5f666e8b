-- rollcall store, schema 3: licence prices and report definitions (the web page and
-- `rollcall report`), and indexes for the list views: the app/instance filters and sorting
-- SaaS accounts by username (a page of 50 sorted rows out of 100k without a full sort).

-- The monthly price of one seat of a user type in an app (e.g. Miro, Full, 1600 cents).
-- app and user_type match SaaS accounts without regard to case.
CREATE TABLE prices (
    app            TEXT NOT NULL COLLATE NOCASE,
    user_type      TEXT NOT NULL COLLATE NOCASE,
    monthly_cents  INTEGER NOT NULL CHECK (monthly_cents >= 0),
    currency       TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (app, user_type)
);

CREATE TABLE reports (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    definition  TEXT NOT NULL CHECK (json_valid(definition)),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE INDEX saas_users_app_instance ON saas_users (app COLLATE NOCASE, instance COLLATE NOCASE);
CREATE INDEX saas_users_username ON saas_users (username);
