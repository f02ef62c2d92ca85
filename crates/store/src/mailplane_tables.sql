-- mailplane's own bookkeeping, next to (never inside) mailcow's tables: mailcow's init_db drops
-- every column and index it did not declare, so nothing of ours may live in its tables.
-- Portable DDL, run as-is on MariaDB/MySQL and on SQLite; idempotent.

-- Small key/value facts about this target (e.g. the schema generation of these tables).
CREATE TABLE IF NOT EXISTS mailplane_meta (
  k VARCHAR(64) NOT NULL PRIMARY KEY,
  v TEXT NOT NULL
);

-- Remembers that a desired secret (`secret_sha256`: a keyed digest, the key is kept outside the
-- database) was verified against the stored hash whose digest is `stored_hash_sha256`, so that an
-- unchanged secret against an unchanged hash is not re-verified (bcrypt is slow) on every plan.
CREATE TABLE IF NOT EXISTS mailplane_password_cache (
  username VARCHAR(255) NOT NULL,
  stored_hash_sha256 CHAR(64) NOT NULL,
  secret_sha256 CHAR(64) NOT NULL,
  PRIMARY KEY (username)
);

-- The objects mailplane created or adopted (declared while they existed). Pruning only ever
-- touches objects listed here, never what someone else made on the server.
CREATE TABLE IF NOT EXISTS mailplane_inventory (
  kind VARCHAR(32) NOT NULL,
  obj_key VARCHAR(512) NOT NULL,
  PRIMARY KEY (kind, obj_key)
);

-- Mailboxes that LDAP provides (settings `ldap_mailboxes`), and in how many consecutive applies
-- each was missing from LDAP: a user is deactivated only after `miss_threshold` misses, never deleted.
CREATE TABLE IF NOT EXISTS mailplane_ldap_state (
  username VARCHAR(255) NOT NULL PRIMARY KEY,
  misses INT NOT NULL DEFAULT 0
);

-- One row per apply: who, from which commit, what (kinds and keys only, never values), result.
CREATE TABLE IF NOT EXISTS mailplane_journal (
  id VARCHAR(40) NOT NULL PRIMARY KEY,
  started VARCHAR(32) NOT NULL,
  finished VARCHAR(32) NOT NULL,
  who VARCHAR(255) NOT NULL,
  ci TEXT NOT NULL,
  git_commit VARCHAR(80) NOT NULL,
  summary TEXT NOT NULL,
  result TEXT NOT NULL,
  duration_ms BIGINT NOT NULL
);

-- Who holds the MariaDB apply lock (GET_LOCK), for the message of an apply that has to wait.
-- Keyed by the holder's connection id (IS_USED_LOCK): a row left by a killed apply never matches.
CREATE TABLE IF NOT EXISTS mailplane_lock (
  connection_id BIGINT NOT NULL PRIMARY KEY,
  holder VARCHAR(255) NOT NULL,
  since VARCHAR(32) NOT NULL
);

-- What an apply has left to do after its commit (Redis writes, the memcached flush), written in
-- its transaction and deleted once done; a run that finds rows here finishes them first. `work`
-- is JSON and may hold new DKIM private keys (as Redis does, in clear).
CREATE TABLE IF NOT EXISTS mailplane_outbox (
  apply_id VARCHAR(40) NOT NULL,
  seq INT NOT NULL,
  work LONGTEXT NOT NULL,
  PRIMARY KEY (apply_id, seq)
);
