//! Shared by the integration tests: the real services started by scripts/services.sh.
//! Outside CI a missing service skips the test with a message; under CI=true it fails.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

pub struct Services {
    pub mysql: String,
    pub redis: String,
    pub memcached: String,
    pub postfix_config: String,
}

/// None (after saying why) when the services are not running and this is not CI.
pub fn services() -> Option<Services> {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (get("MAILPLANE_TEST_MYSQL_URL"), get("MAILPLANE_TEST_REDIS_URL"), get("MAILPLANE_TEST_MEMCACHED")) {
        (Some(mysql), Some(redis), Some(memcached)) => {
            Some(Services { mysql, redis, memcached, postfix_config: get("MAILPLANE_TEST_POSTFIX_CONFIG_DIR").unwrap_or_default() })
        }
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but the test services are not configured: run the tests through scripts/test.sh")
        }
        _ => {
            eprintln!("skipped: real services not running (run scripts/test.sh, or `scripts/services.sh start` and eval its env)");
            None
        }
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Services {
    /// A Redis URL with a database number of its own (0..63 are configured).
    pub fn redis_db(&self, n: u32) -> String {
        format!("{}/{n}", self.redis.trim_end_matches('/'))
    }

    pub fn flush_redis_db(&self, n: u32) {
        let client = redis::Client::open(self.redis_db(n)).unwrap();
        let mut c = client.get_connection().unwrap();
        let _: () = redis::cmd("FLUSHDB").query(&mut c).unwrap();
    }

    /// A new, empty database; returns (url, name).
    pub async fn empty_db(&self, tag: &str) -> (String, String) {
        let name = format!("mp_{tag}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
        (self.create_db(&name).await, name)
    }

    /// (Re)creates the database `name`, empty; returns its URL.
    pub async fn create_db(&self, name: &str) -> String {
        use sqlx::Executor;
        let admin = sqlx::MySqlPool::connect(&self.mysql).await.expect("connect to the test MariaDB");
        admin.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS `{name}`"))).await.unwrap();
        admin.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"))).await.unwrap();
        admin.close().await;
        format!("{}/{name}", self.mysql.trim_end_matches('/'))
    }

    /// A new database loaded with mailcow's schema and seed rows; returns (url, name).
    pub async fn fresh_mailcow_db(&self, tag: &str) -> (String, String) {
        let (url, name) = self.empty_db(tag).await;
        load_mailcow_schema(&url).await;
        (url, name)
    }

    pub async fn drop_db(&self, name: &str) {
        use sqlx::Executor;
        let admin = sqlx::MySqlPool::connect(&self.mysql).await.unwrap();
        admin.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS `{name}`"))).await.unwrap();
        admin.close().await;
    }
}

/// Loads mailcow's schema and seed rows into the (empty) database at `url`.
pub async fn load_mailcow_schema(url: &str) {
    use sqlx::Executor;
    let pool = sqlx::MySqlPool::connect(url).await.unwrap();
    for file in ["tests/fixtures/mailcow-schema/schema.sql", "tests/fixtures/mailcow-schema/seed.sql"] {
        let text = std::fs::read_to_string(file).unwrap();
        let text: String = text.lines().filter(|l| !l.starts_with("/*M!999999")).collect::<Vec<_>>().join("\n");
        pool.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(text))).await.unwrap_or_else(|e| panic!("loading {file}: {e}"));
    }
    pool.close().await;
}

/// Whether a test that needs these programs (and, with `docker`, a Docker engine) can run.
/// Outside CI a missing one skips the test with a message; under CI=true it fails.
pub fn tools(programs: &[&str], docker: bool) -> bool {
    let found = |p: &str| std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(p).is_file()));
    let mut missing: Vec<String> = programs.iter().filter(|p| !found(p)).map(|p| p.to_string()).collect();
    let engine = || std::process::Command::new("docker").arg("info").output().is_ok_and(|o| o.status.success());
    if docker && !engine() {
        missing.push("a running Docker engine (`docker info`)".into());
    }
    if missing.is_empty() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but these are missing: {} (scripts/services.sh installs the packages)", missing.join(", "));
    }
    eprintln!("skipped: missing {} (run scripts/test.sh)", missing.join(", "));
    false
}

/// Runs `mailplane idp test` on `dir`, one secret in the environment: (exit code, stdout, stderr).
pub fn idp_test(dir: &std::path::Path, timeout: u32, secret: (&str, &str)) -> (i32, String, String) {
    let out = assert_cmd::Command::cargo_bin("mailplane")
        .unwrap()
        .args(["idp", "test"])
        .arg(dir)
        .args(["--timeout", &timeout.to_string()])
        .env(secret.0, secret.1)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (out.status.code().unwrap(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// Empties every table of the mailcow database at `url` (mailplane's own tables too, except the
/// schema facts in `mailplane_meta`) and loads mailcow's seed rows again: as fresh as
/// `fresh_mailcow_db`, in a fraction of its time.
pub async fn reset_mailcow_db(url: &str) {
    use sqlx::Executor;
    let pool = sqlx::MySqlPool::connect(url).await.unwrap();
    let tables: Vec<(String,)> =
        sqlx::query_as("SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'")
            .fetch_all(&pool)
            .await
            .unwrap();
    let mut sql = String::from("SET FOREIGN_KEY_CHECKS = 0;\n");
    for (t,) in tables.iter().filter(|(t,)| t != "mailplane_meta") {
        sql.push_str(&format!("DELETE FROM `{t}`;\n"));
    }
    sql.push_str("SET FOREIGN_KEY_CHECKS = 1;\n");
    let seed = std::fs::read_to_string("tests/fixtures/mailcow-schema/seed.sql").unwrap();
    sql.extend(seed.lines().filter(|l| !l.starts_with("/*M!999999")).map(|l| format!("{l}\n")));
    pool.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql))).await.unwrap();
    pool.close().await;
}

/// The nsd that `scripts/services.sh start` runs (IP:PORT, serving tests/fixtures/dns/), or None
/// with a message when it is not set (a failure under CI=true).
pub fn dns_server() -> Option<String> {
    let server = std::env::var("MAILPLANE_TEST_DNS").ok().filter(|v| !v.is_empty());
    if server.is_none() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true but MAILPLANE_TEST_DNS is not set");
        eprintln!("skipped: MAILPLANE_TEST_DNS is not set");
    }
    server
}
