-- mailplane's embedded target: the mailcow tables that mailplane manages, as SQLite.
--
-- Derived from tests/fixtures/mailcow-schema/schema.sql (mailcow 06424670, $db_version
-- "19022026_1220"): the same table and column names, NULL-ability, defaults, primary/unique keys
-- and ON DELETE CASCADE foreign keys. Type mapping:
--   varchar(n)/char(n)          -> VARCHAR(n) COLLATE NOCASE (mailcow: utf8mb4_general_ci)
--   text/longtext               -> TEXT COLLATE NOCASE
--   JSON (longtext utf8mb4_bin) -> TEXT CHECK (json_valid(..)), binary collation like mailcow
--   enum(..)                    -> TEXT CHECK (col IN (..))  (strict mode rejects other values)
--   [tiny|small|big]int         -> INTEGER; `AUTO_INCREMENT` PK -> INTEGER PRIMARY KEY AUTOINCREMENT
--   datetime/timestamp          -> DATETIME (text 'YYYY-MM-DD HH:MM:SS', UTC, as CURRENT_TIMESTAMP)
--   `modified ... ON UPDATE current_timestamp()` -> an AFTER UPDATE trigger that sets it when a
--                                  row really changed and the UPDATE did not set `modified` itself.
-- Secondary KEYs become indexes named <table>__<mailcow key name> (SQLite index names are global).
-- Foreign keys need `PRAGMA foreign_keys=ON`: Db::connect sets it on every connection.
-- Everything is idempotent (IF NOT EXISTS); Db::connect runs this file in one transaction.
-- `versions` exists for fidelity only: mailplane never writes it.

CREATE TABLE IF NOT EXISTS domain (
  domain VARCHAR(255) NOT NULL COLLATE NOCASE,
  description VARCHAR(255) NULL DEFAULT NULL COLLATE NOCASE,
  aliases INTEGER NOT NULL DEFAULT 0,
  mailboxes INTEGER NOT NULL DEFAULT 0,
  defquota INTEGER NOT NULL DEFAULT 3072,
  maxquota INTEGER NOT NULL DEFAULT 102400,
  quota INTEGER NOT NULL DEFAULT 102400,
  relayhost VARCHAR(255) NOT NULL DEFAULT '0' COLLATE NOCASE,
  backupmx INTEGER NOT NULL DEFAULT 0,
  gal INTEGER NOT NULL DEFAULT 1,
  relay_all_recipients INTEGER NOT NULL DEFAULT 0,
  relay_unknown_only INTEGER NOT NULL DEFAULT 0,
  created DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  modified DATETIME NULL DEFAULT NULL,
  active INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (domain)
);
CREATE TRIGGER IF NOT EXISTS domain__modified AFTER UPDATE ON domain FOR EACH ROW
  WHEN NEW.modified IS OLD.modified AND (NEW.domain IS NOT OLD.domain COLLATE BINARY OR NEW.description IS NOT OLD.description COLLATE BINARY OR NEW.aliases IS NOT OLD.aliases COLLATE BINARY OR NEW.mailboxes IS NOT OLD.mailboxes COLLATE BINARY OR NEW.defquota IS NOT OLD.defquota COLLATE BINARY OR NEW.maxquota IS NOT OLD.maxquota COLLATE BINARY OR NEW.quota IS NOT OLD.quota COLLATE BINARY OR NEW.relayhost IS NOT OLD.relayhost COLLATE BINARY OR NEW.backupmx IS NOT OLD.backupmx COLLATE BINARY OR NEW.gal IS NOT OLD.gal COLLATE BINARY OR NEW.relay_all_recipients IS NOT OLD.relay_all_recipients COLLATE BINARY OR NEW.relay_unknown_only IS NOT OLD.relay_unknown_only COLLATE BINARY OR NEW.created IS NOT OLD.created COLLATE BINARY OR NEW.active IS NOT OLD.active COLLATE BINARY)
  BEGIN UPDATE domain SET modified = CURRENT_TIMESTAMP WHERE rowid = NEW.rowid; END;

CREATE TABLE IF NOT EXISTS mailbox (
  username VARCHAR(255) NOT NULL COLLATE NOCASE,
  password VARCHAR(255) NOT NULL COLLATE NOCASE,
  name VARCHAR(255) NULL DEFAULT NULL COLLATE NOCASE,
  description VARCHAR(255) NULL DEFAULT NULL COLLATE NOCASE,
  mailbox_path_prefix VARCHAR(150) NULL DEFAULT '/var/vmail/' COLLATE NOCASE,
  quota INTEGER NOT NULL DEFAULT 102400,
  local_part VARCHAR(255) NOT NULL COLLATE NOCASE,
  domain VARCHAR(255) NOT NULL COLLATE NOCASE,
  attributes TEXT NULL DEFAULT NULL CHECK (json_valid(attributes)),
  custom_attributes TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(custom_attributes)),
  kind VARCHAR(100) NOT NULL DEFAULT '' COLLATE NOCASE,
  multiple_bookings INTEGER NOT NULL DEFAULT -1,
  authsource TEXT NULL DEFAULT 'mailcow' COLLATE NOCASE CHECK (authsource IN ('mailcow', 'keycloak', 'generic-oidc', 'ldap')),
  created DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  modified DATETIME NULL DEFAULT NULL,
  active INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (username)
);
CREATE INDEX IF NOT EXISTS mailbox__domain ON mailbox (domain);
CREATE INDEX IF NOT EXISTS mailbox__kind ON mailbox (kind);
CREATE TRIGGER IF NOT EXISTS mailbox__modified AFTER UPDATE ON mailbox FOR EACH ROW
  WHEN NEW.modified IS OLD.modified AND (NEW.username IS NOT OLD.username COLLATE BINARY OR NEW.password IS NOT OLD.password COLLATE BINARY OR NEW.name IS NOT OLD.name COLLATE BINARY OR NEW.description IS NOT OLD.description COLLATE BINARY OR NEW.mailbox_path_prefix IS NOT OLD.mailbox_path_prefix COLLATE BINARY OR NEW.quota IS NOT OLD.quota COLLATE BINARY OR NEW.local_part IS NOT OLD.local_part COLLATE BINARY OR NEW.domain IS NOT OLD.domain COLLATE BINARY OR NEW.attributes IS NOT OLD.attributes COLLATE BINARY OR NEW.custom_attributes IS NOT OLD.custom_attributes COLLATE BINARY OR NEW.kind IS NOT OLD.kind COLLATE BINARY OR NEW.multiple_bookings IS NOT OLD.multiple_bookings COLLATE BINARY OR NEW.authsource IS NOT OLD.authsource COLLATE BINARY OR NEW.created IS NOT OLD.created COLLATE BINARY OR NEW.active IS NOT OLD.active COLLATE BINARY)
  BEGIN UPDATE mailbox SET modified = CURRENT_TIMESTAMP WHERE rowid = NEW.rowid; END;

CREATE TABLE IF NOT EXISTS alias (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  address VARCHAR(255) NOT NULL COLLATE NOCASE,
  goto TEXT NOT NULL COLLATE NOCASE,
  domain VARCHAR(255) NOT NULL COLLATE NOCASE,
  created DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  modified DATETIME NULL DEFAULT NULL,
  private_comment TEXT NULL DEFAULT NULL COLLATE NOCASE,
  public_comment TEXT NULL DEFAULT NULL COLLATE NOCASE,
  sogo_visible INTEGER NOT NULL DEFAULT 1,
  internal INTEGER NOT NULL DEFAULT 0,
  sender_allowed INTEGER NOT NULL DEFAULT 1,
  active INTEGER NOT NULL DEFAULT 1,
  CONSTRAINT address UNIQUE (address)
);
CREATE INDEX IF NOT EXISTS alias__domain ON alias (domain);
CREATE TRIGGER IF NOT EXISTS alias__modified AFTER UPDATE ON alias FOR EACH ROW
  WHEN NEW.modified IS OLD.modified AND (NEW.id IS NOT OLD.id COLLATE BINARY OR NEW.address IS NOT OLD.address COLLATE BINARY OR NEW.goto IS NOT OLD.goto COLLATE BINARY OR NEW.domain IS NOT OLD.domain COLLATE BINARY OR NEW.created IS NOT OLD.created COLLATE BINARY OR NEW.private_comment IS NOT OLD.private_comment COLLATE BINARY OR NEW.public_comment IS NOT OLD.public_comment COLLATE BINARY OR NEW.sogo_visible IS NOT OLD.sogo_visible COLLATE BINARY OR NEW.internal IS NOT OLD.internal COLLATE BINARY OR NEW.sender_allowed IS NOT OLD.sender_allowed COLLATE BINARY OR NEW.active IS NOT OLD.active COLLATE BINARY)
  BEGIN UPDATE alias SET modified = CURRENT_TIMESTAMP WHERE rowid = NEW.rowid; END;

CREATE TABLE IF NOT EXISTS alias_domain (
  alias_domain VARCHAR(255) NOT NULL COLLATE NOCASE,
  target_domain VARCHAR(255) NOT NULL COLLATE NOCASE,
  created DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  modified DATETIME NULL DEFAULT NULL,
  active INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (alias_domain)
);
CREATE INDEX IF NOT EXISTS alias_domain__active ON alias_domain (active);
CREATE INDEX IF NOT EXISTS alias_domain__target_domain ON alias_domain (target_domain);
CREATE TRIGGER IF NOT EXISTS alias_domain__modified AFTER UPDATE ON alias_domain FOR EACH ROW
  WHEN NEW.modified IS OLD.modified AND (NEW.alias_domain IS NOT OLD.alias_domain COLLATE BINARY OR NEW.target_domain IS NOT OLD.target_domain COLLATE BINARY OR NEW.created IS NOT OLD.created COLLATE BINARY OR NEW.active IS NOT OLD.active COLLATE BINARY)
  BEGIN UPDATE alias_domain SET modified = CURRENT_TIMESTAMP WHERE rowid = NEW.rowid; END;

CREATE TABLE IF NOT EXISTS sender_acl (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  logged_in_as VARCHAR(255) NOT NULL COLLATE NOCASE,
  send_as VARCHAR(255) NOT NULL COLLATE NOCASE,
  external INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS quota2 (
  username VARCHAR(255) NOT NULL COLLATE NOCASE,
  bytes INTEGER NOT NULL DEFAULT 0,
  messages INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (username)
);

CREATE TABLE IF NOT EXISTS quota2replica (
  username VARCHAR(255) NOT NULL COLLATE NOCASE,
  bytes INTEGER NOT NULL DEFAULT 0,
  messages INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (username)
);

CREATE TABLE IF NOT EXISTS user_acl (
  username VARCHAR(255) NOT NULL COLLATE NOCASE,
  spam_alias INTEGER NOT NULL DEFAULT 1,
  tls_policy INTEGER NOT NULL DEFAULT 1,
  spam_score INTEGER NOT NULL DEFAULT 1,
  spam_policy INTEGER NOT NULL DEFAULT 1,
  delimiter_action INTEGER NOT NULL DEFAULT 1,
  syncjobs INTEGER NOT NULL DEFAULT 0,
  eas_reset INTEGER NOT NULL DEFAULT 1,
  sogo_profile_reset INTEGER NOT NULL DEFAULT 0,
  pushover INTEGER NOT NULL DEFAULT 1,
  quarantine INTEGER NOT NULL DEFAULT 1,
  quarantine_attachments INTEGER NOT NULL DEFAULT 1,
  quarantine_notification INTEGER NOT NULL DEFAULT 1,
  quarantine_category INTEGER NOT NULL DEFAULT 1,
  app_passwds INTEGER NOT NULL DEFAULT 1,
  pw_reset INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (username),
  CONSTRAINT fk_username FOREIGN KEY (username) REFERENCES mailbox (username) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS bcc_maps (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  local_dest VARCHAR(255) NOT NULL COLLATE NOCASE,
  bcc_dest VARCHAR(255) NOT NULL COLLATE NOCASE,
  domain VARCHAR(255) NOT NULL COLLATE NOCASE,
  type TEXT NULL DEFAULT NULL COLLATE NOCASE CHECK (type IN ('sender', 'rcpt')),
  created DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  modified DATETIME NULL DEFAULT NULL,
  active INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS bcc_maps__local_dest ON bcc_maps (local_dest);
CREATE TRIGGER IF NOT EXISTS bcc_maps__modified AFTER UPDATE ON bcc_maps FOR EACH ROW
  WHEN NEW.modified IS OLD.modified AND (NEW.id IS NOT OLD.id COLLATE BINARY OR NEW.local_dest IS NOT OLD.local_dest COLLATE BINARY OR NEW.bcc_dest IS NOT OLD.bcc_dest COLLATE BINARY OR NEW.domain IS NOT OLD.domain COLLATE BINARY OR NEW.type IS NOT OLD.type COLLATE BINARY OR NEW.created IS NOT OLD.created COLLATE BINARY OR NEW.active IS NOT OLD.active COLLATE BINARY)
  BEGIN UPDATE bcc_maps SET modified = CURRENT_TIMESTAMP WHERE rowid = NEW.rowid; END;

CREATE TABLE IF NOT EXISTS recipient_maps (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  old_dest VARCHAR(255) NOT NULL COLLATE NOCASE,
  new_dest VARCHAR(255) NOT NULL COLLATE NOCASE,
  created DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  modified DATETIME NULL DEFAULT NULL,
  active INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS recipient_maps__local_dest ON recipient_maps (old_dest);
CREATE TRIGGER IF NOT EXISTS recipient_maps__modified AFTER UPDATE ON recipient_maps FOR EACH ROW
  WHEN NEW.modified IS OLD.modified AND (NEW.id IS NOT OLD.id COLLATE BINARY OR NEW.old_dest IS NOT OLD.old_dest COLLATE BINARY OR NEW.new_dest IS NOT OLD.new_dest COLLATE BINARY OR NEW.created IS NOT OLD.created COLLATE BINARY OR NEW.active IS NOT OLD.active COLLATE BINARY)
  BEGIN UPDATE recipient_maps SET modified = CURRENT_TIMESTAMP WHERE rowid = NEW.rowid; END;

CREATE TABLE IF NOT EXISTS tls_policy_override (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  dest VARCHAR(255) NOT NULL COLLATE NOCASE,
  policy TEXT NOT NULL COLLATE NOCASE CHECK (policy IN ('none', 'may', 'encrypt', 'dane', 'dane-only', 'fingerprint', 'verify', 'secure')),
  parameters VARCHAR(255) NULL DEFAULT '' COLLATE NOCASE,
  created DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  modified DATETIME NULL DEFAULT NULL,
  active INTEGER NOT NULL DEFAULT 1,
  CONSTRAINT dest UNIQUE (dest)
);
CREATE TRIGGER IF NOT EXISTS tls_policy_override__modified AFTER UPDATE ON tls_policy_override FOR EACH ROW
  WHEN NEW.modified IS OLD.modified AND (NEW.id IS NOT OLD.id COLLATE BINARY OR NEW.dest IS NOT OLD.dest COLLATE BINARY OR NEW.policy IS NOT OLD.policy COLLATE BINARY OR NEW.parameters IS NOT OLD.parameters COLLATE BINARY OR NEW.created IS NOT OLD.created COLLATE BINARY OR NEW.active IS NOT OLD.active COLLATE BINARY)
  BEGIN UPDATE tls_policy_override SET modified = CURRENT_TIMESTAMP WHERE rowid = NEW.rowid; END;

CREATE TABLE IF NOT EXISTS domain_wide_footer (
  domain VARCHAR(255) NOT NULL COLLATE NOCASE,
  html TEXT NULL DEFAULT NULL COLLATE NOCASE,
  plain TEXT NULL DEFAULT NULL COLLATE NOCASE,
  mbox_exclude TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(mbox_exclude)),
  alias_domain_exclude TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(alias_domain_exclude)),
  skip_replies INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (domain)
);

CREATE TABLE IF NOT EXISTS mta_sts (
  id INTEGER NOT NULL,
  domain VARCHAR(255) NOT NULL COLLATE NOCASE,
  version VARCHAR(255) NOT NULL COLLATE NOCASE,
  mode VARCHAR(255) NOT NULL COLLATE NOCASE,
  mx VARCHAR(255) NOT NULL COLLATE NOCASE,
  max_age VARCHAR(255) NOT NULL COLLATE NOCASE,
  active INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (domain)
);

CREATE TABLE IF NOT EXISTS relayhosts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  hostname VARCHAR(255) NOT NULL COLLATE NOCASE,
  username VARCHAR(255) NOT NULL COLLATE NOCASE,
  password VARCHAR(255) NOT NULL COLLATE NOCASE,
  active INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS relayhosts__hostname ON relayhosts (hostname);

CREATE TABLE IF NOT EXISTS transports (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  destination VARCHAR(255) NOT NULL COLLATE NOCASE,
  nexthop VARCHAR(255) NOT NULL COLLATE NOCASE,
  username VARCHAR(255) NOT NULL DEFAULT '' COLLATE NOCASE,
  password VARCHAR(255) NOT NULL DEFAULT '' COLLATE NOCASE,
  is_mx_based INTEGER NOT NULL DEFAULT 0,
  active INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS transports__destination ON transports (destination);
CREATE INDEX IF NOT EXISTS transports__nexthop ON transports (nexthop);

CREATE TABLE IF NOT EXISTS templates (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  template VARCHAR(255) NOT NULL COLLATE NOCASE,
  type VARCHAR(255) NOT NULL COLLATE NOCASE,
  attributes TEXT NULL DEFAULT NULL CHECK (json_valid(attributes)),
  created DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  modified DATETIME NULL DEFAULT NULL
);
CREATE TRIGGER IF NOT EXISTS templates__modified AFTER UPDATE ON templates FOR EACH ROW
  WHEN NEW.modified IS OLD.modified AND (NEW.id IS NOT OLD.id COLLATE BINARY OR NEW.template IS NOT OLD.template COLLATE BINARY OR NEW.type IS NOT OLD.type COLLATE BINARY OR NEW.attributes IS NOT OLD.attributes COLLATE BINARY OR NEW.created IS NOT OLD.created COLLATE BINARY)
  BEGIN UPDATE templates SET modified = CURRENT_TIMESTAMP WHERE rowid = NEW.rowid; END;

CREATE TABLE IF NOT EXISTS identity_provider (
  "key" VARCHAR(255) NOT NULL COLLATE NOCASE,
  value TEXT NOT NULL COLLATE NOCASE,
  created DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  modified DATETIME NULL DEFAULT NULL,
  PRIMARY KEY ("key")
);
CREATE TRIGGER IF NOT EXISTS identity_provider__modified AFTER UPDATE ON identity_provider FOR EACH ROW
  WHEN NEW.modified IS OLD.modified AND (NEW."key" IS NOT OLD."key" COLLATE BINARY OR NEW.value IS NOT OLD.value COLLATE BINARY OR NEW.created IS NOT OLD.created COLLATE BINARY)
  BEGIN UPDATE identity_provider SET modified = CURRENT_TIMESTAMP WHERE rowid = NEW.rowid; END;

CREATE TABLE IF NOT EXISTS tags_domain (
  tag_name VARCHAR(255) NOT NULL COLLATE NOCASE,
  domain VARCHAR(255) NOT NULL COLLATE NOCASE,
  CONSTRAINT tag_name UNIQUE (tag_name, domain),
  CONSTRAINT fk_tags_domain FOREIGN KEY (domain) REFERENCES domain (domain) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS tags_domain__fk_tags_domain ON tags_domain (domain);

CREATE TABLE IF NOT EXISTS tags_mailbox (
  tag_name VARCHAR(255) NOT NULL COLLATE NOCASE,
  username VARCHAR(255) NOT NULL COLLATE NOCASE,
  CONSTRAINT tag_name UNIQUE (tag_name, username),
  CONSTRAINT fk_tags_mailbox FOREIGN KEY (username) REFERENCES mailbox (username) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS tags_mailbox__fk_tags_mailbox ON tags_mailbox (username);

CREATE TABLE IF NOT EXISTS _sogo_static_view (
  c_uid VARCHAR(255) NOT NULL COLLATE NOCASE,
  domain VARCHAR(255) NOT NULL COLLATE NOCASE,
  c_name VARCHAR(255) NOT NULL COLLATE NOCASE,
  c_password VARCHAR(255) NOT NULL DEFAULT '' COLLATE NOCASE,
  c_cn VARCHAR(255) NULL DEFAULT NULL COLLATE NOCASE,
  c_l VARCHAR(255) NULL DEFAULT NULL COLLATE NOCASE,
  c_o VARCHAR(255) NULL DEFAULT NULL COLLATE NOCASE,
  c_ou VARCHAR(255) NULL DEFAULT NULL COLLATE NOCASE,
  c_telephonenumber VARCHAR(255) NULL DEFAULT NULL COLLATE NOCASE,
  mail VARCHAR(255) NOT NULL COLLATE NOCASE,
  aliases TEXT NOT NULL COLLATE NOCASE,
  ad_aliases VARCHAR(6144) NOT NULL DEFAULT '' COLLATE NOCASE,
  ext_acl VARCHAR(6144) NOT NULL DEFAULT '' COLLATE NOCASE,
  kind VARCHAR(100) NOT NULL DEFAULT '' COLLATE NOCASE,
  multiple_bookings INTEGER NOT NULL DEFAULT -1,
  PRIMARY KEY (c_uid)
);
CREATE INDEX IF NOT EXISTS _sogo_static_view__domain ON _sogo_static_view (domain);

CREATE TABLE IF NOT EXISTS spamalias (
  address VARCHAR(255) NOT NULL COLLATE NOCASE,
  goto TEXT NOT NULL COLLATE NOCASE,
  description TEXT NOT NULL COLLATE NOCASE,
  created DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  modified DATETIME NULL DEFAULT NULL,
  validity INTEGER NULL DEFAULT NULL,
  permanent INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (address)
);
CREATE TRIGGER IF NOT EXISTS spamalias__modified AFTER UPDATE ON spamalias FOR EACH ROW
  WHEN NEW.modified IS OLD.modified AND (NEW.address IS NOT OLD.address COLLATE BINARY OR NEW.goto IS NOT OLD.goto COLLATE BINARY OR NEW.description IS NOT OLD.description COLLATE BINARY OR NEW.created IS NOT OLD.created COLLATE BINARY OR NEW.validity IS NOT OLD.validity COLLATE BINARY OR NEW.permanent IS NOT OLD.permanent COLLATE BINARY)
  BEGIN UPDATE spamalias SET modified = CURRENT_TIMESTAMP WHERE rowid = NEW.rowid; END;

CREATE TABLE IF NOT EXISTS filterconf (
  object VARCHAR(255) NOT NULL DEFAULT '' COLLATE NOCASE,
  "option" VARCHAR(50) NOT NULL DEFAULT '' COLLATE NOCASE,
  value VARCHAR(100) NOT NULL DEFAULT '' COLLATE NOCASE,
  created DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  modified DATETIME NULL DEFAULT NULL,
  prefid INTEGER PRIMARY KEY AUTOINCREMENT
);
CREATE INDEX IF NOT EXISTS filterconf__object ON filterconf (object);
CREATE TRIGGER IF NOT EXISTS filterconf__modified AFTER UPDATE ON filterconf FOR EACH ROW
  WHEN NEW.modified IS OLD.modified AND (NEW.object IS NOT OLD.object COLLATE BINARY OR NEW."option" IS NOT OLD."option" COLLATE BINARY OR NEW.value IS NOT OLD.value COLLATE BINARY OR NEW.created IS NOT OLD.created COLLATE BINARY OR NEW.prefid IS NOT OLD.prefid COLLATE BINARY)
  BEGIN UPDATE filterconf SET modified = CURRENT_TIMESTAMP WHERE rowid = NEW.rowid; END;

CREATE TABLE IF NOT EXISTS pushover (
  username VARCHAR(255) NOT NULL COLLATE NOCASE,
  "key" VARCHAR(255) NOT NULL COLLATE NOCASE,
  token VARCHAR(255) NOT NULL COLLATE NOCASE,
  attributes TEXT NULL DEFAULT NULL CHECK (json_valid(attributes)),
  title TEXT NULL DEFAULT NULL COLLATE NOCASE,
  text TEXT NULL DEFAULT NULL COLLATE NOCASE,
  senders TEXT NULL DEFAULT NULL COLLATE NOCASE,
  senders_regex TEXT NULL DEFAULT NULL COLLATE NOCASE,
  active INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (username)
);

CREATE TABLE IF NOT EXISTS app_passwd (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name VARCHAR(255) NOT NULL COLLATE NOCASE,
  mailbox VARCHAR(255) NOT NULL COLLATE NOCASE,
  domain VARCHAR(255) NOT NULL COLLATE NOCASE,
  password VARCHAR(255) NOT NULL COLLATE NOCASE,
  created DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  modified DATETIME NULL DEFAULT NULL,
  imap_access INTEGER NOT NULL DEFAULT 1,
  smtp_access INTEGER NOT NULL DEFAULT 1,
  dav_access INTEGER NOT NULL DEFAULT 1,
  eas_access INTEGER NOT NULL DEFAULT 1,
  pop3_access INTEGER NOT NULL DEFAULT 1,
  sieve_access INTEGER NOT NULL DEFAULT 1,
  active INTEGER NOT NULL DEFAULT 1,
  CONSTRAINT fk_username_app_passwd FOREIGN KEY (mailbox) REFERENCES mailbox (username) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS app_passwd__mailbox ON app_passwd (mailbox);
CREATE INDEX IF NOT EXISTS app_passwd__password ON app_passwd (password);
CREATE INDEX IF NOT EXISTS app_passwd__domain ON app_passwd (domain);
CREATE TRIGGER IF NOT EXISTS app_passwd__modified AFTER UPDATE ON app_passwd FOR EACH ROW
  WHEN NEW.modified IS OLD.modified AND (NEW.id IS NOT OLD.id COLLATE BINARY OR NEW.name IS NOT OLD.name COLLATE BINARY OR NEW.mailbox IS NOT OLD.mailbox COLLATE BINARY OR NEW.domain IS NOT OLD.domain COLLATE BINARY OR NEW.password IS NOT OLD.password COLLATE BINARY OR NEW.created IS NOT OLD.created COLLATE BINARY OR NEW.imap_access IS NOT OLD.imap_access COLLATE BINARY OR NEW.smtp_access IS NOT OLD.smtp_access COLLATE BINARY OR NEW.dav_access IS NOT OLD.dav_access COLLATE BINARY OR NEW.eas_access IS NOT OLD.eas_access COLLATE BINARY OR NEW.pop3_access IS NOT OLD.pop3_access COLLATE BINARY OR NEW.sieve_access IS NOT OLD.sieve_access COLLATE BINARY OR NEW.active IS NOT OLD.active COLLATE BINARY)
  BEGIN UPDATE app_passwd SET modified = CURRENT_TIMESTAMP WHERE rowid = NEW.rowid; END;

CREATE TABLE IF NOT EXISTS sieve_filters (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username VARCHAR(255) NOT NULL COLLATE NOCASE,
  script_desc VARCHAR(255) NOT NULL COLLATE NOCASE,
  script_name TEXT NULL DEFAULT NULL COLLATE NOCASE CHECK (script_name IN ('active', 'inactive')),
  script_data TEXT NOT NULL COLLATE NOCASE,
  filter_type TEXT NULL DEFAULT NULL COLLATE NOCASE CHECK (filter_type IN ('postfilter', 'prefilter')),
  created DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  modified DATETIME NULL DEFAULT NULL,
  CONSTRAINT fk_username_sieve_global_before FOREIGN KEY (username) REFERENCES mailbox (username) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS sieve_filters__username ON sieve_filters (username);
CREATE INDEX IF NOT EXISTS sieve_filters__script_desc ON sieve_filters (script_desc);
CREATE TRIGGER IF NOT EXISTS sieve_filters__modified AFTER UPDATE ON sieve_filters FOR EACH ROW
  WHEN NEW.modified IS OLD.modified AND (NEW.id IS NOT OLD.id COLLATE BINARY OR NEW.username IS NOT OLD.username COLLATE BINARY OR NEW.script_desc IS NOT OLD.script_desc COLLATE BINARY OR NEW.script_name IS NOT OLD.script_name COLLATE BINARY OR NEW.script_data IS NOT OLD.script_data COLLATE BINARY OR NEW.filter_type IS NOT OLD.filter_type COLLATE BINARY OR NEW.created IS NOT OLD.created COLLATE BINARY)
  BEGIN UPDATE sieve_filters SET modified = CURRENT_TIMESTAMP WHERE rowid = NEW.rowid; END;

CREATE TABLE IF NOT EXISTS imapsync (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user2 VARCHAR(255) NOT NULL COLLATE NOCASE,
  host1 VARCHAR(255) NOT NULL COLLATE NOCASE,
  authmech1 TEXT NULL DEFAULT 'PLAIN' COLLATE NOCASE CHECK (authmech1 IN ('PLAIN', 'LOGIN', 'CRAM-MD5')),
  regextrans2 VARCHAR(255) NULL DEFAULT '' COLLATE NOCASE,
  authmd51 INTEGER NOT NULL DEFAULT 0,
  domain2 VARCHAR(255) NOT NULL DEFAULT '' COLLATE NOCASE,
  subfolder2 VARCHAR(255) NOT NULL DEFAULT '' COLLATE NOCASE,
  user1 VARCHAR(255) NOT NULL COLLATE NOCASE,
  password1 VARCHAR(255) NOT NULL COLLATE NOCASE,
  exclude VARCHAR(500) NOT NULL DEFAULT '' COLLATE NOCASE,
  maxage INTEGER NOT NULL DEFAULT 0,
  mins_interval INTEGER NOT NULL DEFAULT 0,
  maxbytespersecond VARCHAR(50) NOT NULL DEFAULT '0' COLLATE NOCASE,
  port1 INTEGER NOT NULL,
  enc1 TEXT NULL DEFAULT 'TLS' COLLATE NOCASE CHECK (enc1 IN ('TLS', 'SSL', 'PLAIN')),
  delete2duplicates INTEGER NOT NULL DEFAULT 1,
  delete1 INTEGER NOT NULL DEFAULT 0,
  delete2 INTEGER NOT NULL DEFAULT 0,
  automap INTEGER NOT NULL DEFAULT 0,
  skipcrossduplicates INTEGER NOT NULL DEFAULT 0,
  custom_params VARCHAR(512) NOT NULL DEFAULT '' COLLATE NOCASE,
  timeout1 INTEGER NOT NULL DEFAULT 600,
  timeout2 INTEGER NOT NULL DEFAULT 600,
  subscribeall INTEGER NOT NULL DEFAULT 1,
  dry INTEGER NOT NULL DEFAULT 0,
  is_running INTEGER NOT NULL DEFAULT 0,
  returned_text TEXT NULL DEFAULT NULL COLLATE NOCASE,
  last_run DATETIME NULL DEFAULT NULL,
  success INTEGER NULL DEFAULT NULL,
  exit_status VARCHAR(50) NULL DEFAULT NULL COLLATE NOCASE,
  created DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  modified DATETIME NULL DEFAULT NULL,
  active INTEGER NOT NULL DEFAULT 0
);
CREATE TRIGGER IF NOT EXISTS imapsync__modified AFTER UPDATE ON imapsync FOR EACH ROW
  WHEN NEW.modified IS OLD.modified AND (NEW.id IS NOT OLD.id COLLATE BINARY OR NEW.user2 IS NOT OLD.user2 COLLATE BINARY OR NEW.host1 IS NOT OLD.host1 COLLATE BINARY OR NEW.authmech1 IS NOT OLD.authmech1 COLLATE BINARY OR NEW.regextrans2 IS NOT OLD.regextrans2 COLLATE BINARY OR NEW.authmd51 IS NOT OLD.authmd51 COLLATE BINARY OR NEW.domain2 IS NOT OLD.domain2 COLLATE BINARY OR NEW.subfolder2 IS NOT OLD.subfolder2 COLLATE BINARY OR NEW.user1 IS NOT OLD.user1 COLLATE BINARY OR NEW.password1 IS NOT OLD.password1 COLLATE BINARY OR NEW.exclude IS NOT OLD.exclude COLLATE BINARY OR NEW.maxage IS NOT OLD.maxage COLLATE BINARY OR NEW.mins_interval IS NOT OLD.mins_interval COLLATE BINARY OR NEW.maxbytespersecond IS NOT OLD.maxbytespersecond COLLATE BINARY OR NEW.port1 IS NOT OLD.port1 COLLATE BINARY OR NEW.enc1 IS NOT OLD.enc1 COLLATE BINARY OR NEW.delete2duplicates IS NOT OLD.delete2duplicates COLLATE BINARY OR NEW.delete1 IS NOT OLD.delete1 COLLATE BINARY OR NEW.delete2 IS NOT OLD.delete2 COLLATE BINARY OR NEW.automap IS NOT OLD.automap COLLATE BINARY OR NEW.skipcrossduplicates IS NOT OLD.skipcrossduplicates COLLATE BINARY OR NEW.custom_params IS NOT OLD.custom_params COLLATE BINARY OR NEW.timeout1 IS NOT OLD.timeout1 COLLATE BINARY OR NEW.timeout2 IS NOT OLD.timeout2 COLLATE BINARY OR NEW.subscribeall IS NOT OLD.subscribeall COLLATE BINARY OR NEW.dry IS NOT OLD.dry COLLATE BINARY OR NEW.is_running IS NOT OLD.is_running COLLATE BINARY OR NEW.returned_text IS NOT OLD.returned_text COLLATE BINARY OR NEW.last_run IS NOT OLD.last_run COLLATE BINARY OR NEW.success IS NOT OLD.success COLLATE BINARY OR NEW.exit_status IS NOT OLD.exit_status COLLATE BINARY OR NEW.created IS NOT OLD.created COLLATE BINARY OR NEW.active IS NOT OLD.active COLLATE BINARY)
  BEGIN UPDATE imapsync SET modified = CURRENT_TIMESTAMP WHERE rowid = NEW.rowid; END;

CREATE TABLE IF NOT EXISTS admin (
  username VARCHAR(255) NOT NULL COLLATE NOCASE,
  password VARCHAR(255) NOT NULL COLLATE NOCASE,
  superadmin INTEGER NOT NULL DEFAULT 0,
  created DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  modified DATETIME NULL DEFAULT NULL,
  active INTEGER NOT NULL DEFAULT 1,
  attributes TEXT NULL DEFAULT NULL CHECK (json_valid(attributes)),
  PRIMARY KEY (username)
);
CREATE TRIGGER IF NOT EXISTS admin__modified AFTER UPDATE ON admin FOR EACH ROW
  WHEN NEW.modified IS OLD.modified AND (NEW.username IS NOT OLD.username COLLATE BINARY OR NEW.password IS NOT OLD.password COLLATE BINARY OR NEW.superadmin IS NOT OLD.superadmin COLLATE BINARY OR NEW.created IS NOT OLD.created COLLATE BINARY OR NEW.active IS NOT OLD.active COLLATE BINARY OR NEW.attributes IS NOT OLD.attributes COLLATE BINARY)
  BEGIN UPDATE admin SET modified = CURRENT_TIMESTAMP WHERE rowid = NEW.rowid; END;

CREATE TABLE IF NOT EXISTS domain_admins (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username VARCHAR(255) NOT NULL COLLATE NOCASE,
  domain VARCHAR(255) NOT NULL COLLATE NOCASE,
  created DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  active INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS domain_admins__username ON domain_admins (username);

CREATE TABLE IF NOT EXISTS da_acl (
  username VARCHAR(255) NOT NULL COLLATE NOCASE,
  syncjobs INTEGER NOT NULL DEFAULT 1,
  quarantine INTEGER NOT NULL DEFAULT 1,
  login_as INTEGER NOT NULL DEFAULT 1,
  sogo_access INTEGER NOT NULL DEFAULT 1,
  app_passwds INTEGER NOT NULL DEFAULT 1,
  bcc_maps INTEGER NOT NULL DEFAULT 1,
  pushover INTEGER NOT NULL DEFAULT 0,
  filters INTEGER NOT NULL DEFAULT 1,
  ratelimit INTEGER NOT NULL DEFAULT 1,
  spam_policy INTEGER NOT NULL DEFAULT 1,
  extend_sender_acl INTEGER NOT NULL DEFAULT 0,
  unlimited_quota INTEGER NOT NULL DEFAULT 0,
  protocol_access INTEGER NOT NULL DEFAULT 1,
  smtp_ip_access INTEGER NOT NULL DEFAULT 1,
  alias_domains INTEGER NOT NULL DEFAULT 0,
  mailbox_relayhost INTEGER NOT NULL DEFAULT 1,
  domain_relayhost INTEGER NOT NULL DEFAULT 1,
  domain_desc INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (username)
);

CREATE TABLE IF NOT EXISTS tfa (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  key_id VARCHAR(255) NOT NULL COLLATE NOCASE,
  username VARCHAR(255) NOT NULL COLLATE NOCASE,
  authmech TEXT NULL DEFAULT NULL COLLATE NOCASE CHECK (authmech IN ('yubi_otp', 'u2f', 'hotp', 'totp', 'webauthn')),
  secret VARCHAR(255) NULL DEFAULT NULL COLLATE NOCASE,
  keyHandle VARCHAR(1023) NULL DEFAULT NULL COLLATE NOCASE,
  publicKey VARCHAR(4096) NULL DEFAULT NULL COLLATE NOCASE,
  counter INTEGER NOT NULL DEFAULT 0,
  certificate TEXT NULL DEFAULT NULL COLLATE NOCASE,
  active INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS fido2 (
  username VARCHAR(255) NOT NULL COLLATE NOCASE,
  friendlyName VARCHAR(255) NULL DEFAULT NULL COLLATE NOCASE,
  rpId VARCHAR(255) NOT NULL COLLATE NOCASE,
  credentialPublicKey TEXT NOT NULL COLLATE NOCASE,
  certificateChain TEXT NULL DEFAULT NULL COLLATE NOCASE,
  certificate TEXT NULL DEFAULT NULL COLLATE NOCASE,
  certificateIssuer VARCHAR(255) NULL DEFAULT NULL COLLATE NOCASE,
  certificateSubject VARCHAR(255) NULL DEFAULT NULL COLLATE NOCASE,
  signatureCounter INTEGER NULL DEFAULT NULL,
  AAGUID BLOB NULL DEFAULT NULL,
  credentialId BLOB NOT NULL,
  created DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  modified DATETIME NULL DEFAULT NULL,
  active INTEGER NOT NULL DEFAULT 1
);
CREATE TRIGGER IF NOT EXISTS fido2__modified AFTER UPDATE ON fido2 FOR EACH ROW
  WHEN NEW.modified IS OLD.modified AND (NEW.username IS NOT OLD.username COLLATE BINARY OR NEW.friendlyName IS NOT OLD.friendlyName COLLATE BINARY OR NEW.rpId IS NOT OLD.rpId COLLATE BINARY OR NEW.credentialPublicKey IS NOT OLD.credentialPublicKey COLLATE BINARY OR NEW.certificateChain IS NOT OLD.certificateChain COLLATE BINARY OR NEW.certificate IS NOT OLD.certificate COLLATE BINARY OR NEW.certificateIssuer IS NOT OLD.certificateIssuer COLLATE BINARY OR NEW.certificateSubject IS NOT OLD.certificateSubject COLLATE BINARY OR NEW.signatureCounter IS NOT OLD.signatureCounter COLLATE BINARY OR NEW.AAGUID IS NOT OLD.AAGUID COLLATE BINARY OR NEW.credentialId IS NOT OLD.credentialId COLLATE BINARY OR NEW.created IS NOT OLD.created COLLATE BINARY OR NEW.active IS NOT OLD.active COLLATE BINARY)
  BEGIN UPDATE fido2 SET modified = CURRENT_TIMESTAMP WHERE rowid = NEW.rowid; END;

CREATE TABLE IF NOT EXISTS api (
  api_key VARCHAR(255) NOT NULL COLLATE NOCASE,
  allow_from VARCHAR(512) NOT NULL COLLATE NOCASE,
  skip_ip_check INTEGER NOT NULL DEFAULT 0,
  created DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  modified DATETIME NULL DEFAULT NULL,
  access TEXT NOT NULL DEFAULT 'rw' COLLATE NOCASE CHECK (access IN ('ro', 'rw')),
  active INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (api_key)
);
CREATE TRIGGER IF NOT EXISTS api__modified AFTER UPDATE ON api FOR EACH ROW
  WHEN NEW.modified IS OLD.modified AND (NEW.api_key IS NOT OLD.api_key COLLATE BINARY OR NEW.allow_from IS NOT OLD.allow_from COLLATE BINARY OR NEW.skip_ip_check IS NOT OLD.skip_ip_check COLLATE BINARY OR NEW.created IS NOT OLD.created COLLATE BINARY OR NEW.access IS NOT OLD.access COLLATE BINARY OR NEW.active IS NOT OLD.active COLLATE BINARY)
  BEGIN UPDATE api SET modified = CURRENT_TIMESTAMP WHERE rowid = NEW.rowid; END;

CREATE TABLE IF NOT EXISTS oauth_clients (
  id INTEGER NOT NULL UNIQUE,
  client_id VARCHAR(80) NOT NULL COLLATE NOCASE,
  client_secret VARCHAR(80) NULL DEFAULT NULL COLLATE NOCASE,
  redirect_uri VARCHAR(2000) NULL DEFAULT NULL COLLATE NOCASE,
  grant_types VARCHAR(80) NULL DEFAULT NULL COLLATE NOCASE,
  scope VARCHAR(4000) NULL DEFAULT NULL COLLATE NOCASE,
  user_id VARCHAR(80) NULL DEFAULT NULL COLLATE NOCASE,
  PRIMARY KEY (client_id)
);

CREATE TABLE IF NOT EXISTS settingsmap (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  `desc` VARCHAR(255) NOT NULL COLLATE NOCASE,
  content TEXT NOT NULL COLLATE NOCASE,
  created DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  modified DATETIME NULL DEFAULT NULL,
  active INTEGER NOT NULL DEFAULT 0
);
CREATE TRIGGER IF NOT EXISTS settingsmap__modified AFTER UPDATE ON settingsmap FOR EACH ROW
  WHEN NEW.modified IS OLD.modified AND (NEW.id IS NOT OLD.id COLLATE BINARY OR NEW.`desc` IS NOT OLD.`desc` COLLATE BINARY OR NEW.content IS NOT OLD.content COLLATE BINARY OR NEW.created IS NOT OLD.created COLLATE BINARY OR NEW.active IS NOT OLD.active COLLATE BINARY)
  BEGIN UPDATE settingsmap SET modified = CURRENT_TIMESTAMP WHERE rowid = NEW.rowid; END;

CREATE TABLE IF NOT EXISTS versions (
  application VARCHAR(255) NOT NULL COLLATE NOCASE,
  version VARCHAR(100) NOT NULL COLLATE NOCASE,
  created DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (application)
);

-- mailcow's two "Default" templates (seed.sql; init_db.inc.php inserts them when missing).
-- Only into an empty `templates`: a user's edits and deletions are never undone.
INSERT INTO templates (id, template, type, attributes, modified)
SELECT id, template, type, attributes, NULL FROM (
  SELECT 1 AS id, 'Default' AS template, 'domain' AS type, '{"tags":[],"max_num_aliases_for_domain":400,"max_num_mboxes_for_domain":10,"def_quota_for_mbox":3221225472,"max_quota_for_mbox":10737418240,"max_quota_for_domain":10737418240,"rl_frame":"s","rl_value":"","active":1,"gal":1,"backupmx":0,"relay_all_recipients":0,"relay_unknown_only":0,"dkim_selector":"dkim","key_size":2048}' AS attributes
  UNION ALL
  SELECT 2, 'Default', 'mailbox', '{"tags":[],"quota":0,"quarantine_notification":"hourly","quarantine_category":"reject","rl_frame":"s","rl_value":"","force_pw_update":0,"force_tfa":0,"sogo_access":1,"active":1,"tls_enforce_in":0,"tls_enforce_out":0,"imap_access":1,"pop3_access":1,"smtp_access":1,"sieve_access":1,"eas_access":1,"dav_access":1,"acl_spam_alias":1,"acl_tls_policy":1,"acl_spam_score":1,"acl_spam_policy":1,"acl_delimiter_action":1,"acl_syncjobs":0,"acl_eas_reset":1,"acl_sogo_profile_reset":0,"acl_pushover":1,"acl_quarantine":1,"acl_quarantine_attachments":1,"acl_quarantine_notification":1,"acl_quarantine_category":1,"acl_app_passwds":1}'
) AS seed
WHERE NOT EXISTS (SELECT 1 FROM templates);
