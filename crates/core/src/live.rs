//! The live state as planning sees it: the rows observe read (by column name) and the Redis
//! hashes. Pure data: reading it is `observe`'s job, in the store layer's terms.

use foldhash::{HashMap, HashMapExt, HashSet};

use crate::model::Kind;

/// A live row kept for planning: one allocation per row, the column ends (u32, little-endian)
/// followed by every column's text. At 100,000 mailboxes and 200,000 aliases a
/// `Vec<Option<String>>` per row costs several times the data itself, and a second allocation
/// for the ends 30 MB.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveRow {
    data: Box<[u8]>,
    /// Bit i: column i is NULL. The queries in QUERIES have at most 16 columns.
    nulls: u64,
}

impl LiveRow {
    /// A row as the database layer hands it over: the columns' text joined, where each ends,
    /// and which are NULL (bit i: column i).
    pub fn from_parts(text: &str, ends: &[u32], nulls: u64) -> LiveRow {
        assert!(ends.len() <= 64, "a live row has at most 64 columns");
        let mut data = Vec::with_capacity(1 + 4 * ends.len() + text.len());
        data.push(ends.len() as u8);
        ends.iter().for_each(|e| data.extend_from_slice(&e.to_le_bytes()));
        data.extend_from_slice(text.as_bytes());
        LiveRow { data: data.into(), nulls }
    }

    pub fn col(&self, i: usize) -> Option<&str> {
        let columns = usize::from(*self.data.first()?);
        if i >= columns || self.nulls & (1 << i) != 0 {
            return None;
        }
        let end_of = |c: usize| u32::from_le_bytes(self.data[1 + 4 * c..5 + 4 * c].try_into().expect("4 bytes")) as usize;
        let start = if i == 0 { 0 } else { end_of(i - 1) };
        let text = &self.data[1 + 4 * columns..];
        // Column boundaries are where whole strings were joined: always valid UTF-8.
        std::str::from_utf8(&text[start..end_of(i)]).ok()
    }
}

/// One live query: a table's named columns. The SQL is made from the names, so what a kind
/// reads by name is what was selected. A kind declares the queries it reads (`KindSpec`);
/// queries are told apart by `from`, so two kinds reading one table share one query.
#[derive(Debug, PartialEq, Eq)]
pub struct Query {
    pub from: &'static str,
    pub columns: &'static [&'static str],
    /// Apply reads these rows after planning (a mailbox's attributes, relay ids); the others
    /// are freed once the live records are built (`LiveData::trim`).
    pub kept: bool,
}

impl Query {
    pub fn sql(&self) -> String {
        let columns: Vec<String> = self.columns.iter().map(|c| format!("`{c}`")).collect();
        format!("SELECT {} FROM {}", columns.join(", "), self.from)
    }
}

/// mailplane's own record of the objects it created or adopted.
pub const INVENTORY: Query = Query { from: "mailplane_inventory", columns: &["kind", "obj_key"], kept: false };

/// The rows of one live query, read by column name.
#[derive(Debug, Default)]
pub struct Table {
    from: &'static str,
    columns: &'static [&'static str],
    rows: Vec<LiveRow>,
    kept: bool,
    /// Built on first use (`find`): per-object lookups during apply would otherwise scan every row.
    index: std::sync::OnceLock<(&'static str, HashMap<String, usize>)>,
}

impl Table {
    pub fn new(query: &Query, rows: Vec<LiveRow>) -> Table {
        Table { from: query.from, columns: query.columns, rows, kept: query.kept, index: std::sync::OnceLock::new() }
    }
    /// The first row whose `column` is `value`, through an index built once per table (always
    /// on the same column).
    pub fn find(&self, column: &'static str, value: &str) -> Option<Named<'_>> {
        let (indexed, index) = self.index.get_or_init(|| {
            let mut index = HashMap::with_capacity(self.rows.len());
            for (i, r) in self.iter().enumerate() {
                index.entry(r.s(column).to_string()).or_insert(i);
            }
            (column, index)
        });
        debug_assert_eq!(*indexed, column, "a table is indexed on one column");
        index.get(value).and_then(|&i| self.get(i))
    }
    pub fn iter(&self) -> Rows<'_> {
        Rows { rows: self.rows.iter(), columns: self.columns }
    }
    pub fn len(&self) -> usize {
        self.rows.len()
    }
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
    pub fn get(&self, i: usize) -> Option<Named<'_>> {
        self.rows.get(i).map(|row| Named { row, columns: self.columns })
    }
}

impl<'a> IntoIterator for &'a Table {
    type Item = Named<'a>;
    type IntoIter = Rows<'a>;
    fn into_iter(self) -> Rows<'a> {
        self.iter()
    }
}

pub struct Rows<'a> {
    rows: std::slice::Iter<'a, LiveRow>,
    columns: &'static [&'static str],
}

impl<'a> Iterator for Rows<'a> {
    type Item = Named<'a>;
    fn next(&mut self) -> Option<Named<'a>> {
        self.rows.next().map(|row| Named { row, columns: self.columns })
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.rows.size_hint()
    }
}

/// A live row with its query's column names.
#[derive(Clone, Copy, Debug)]
pub struct Named<'a> {
    row: &'a LiveRow,
    columns: &'static [&'static str],
}

impl<'a> Named<'a> {
    /// The column's text; None for NULL. A name the query does not select is a bug, caught by
    /// every test that reads the kind (a debug assertion), and reads as NULL in release.
    pub fn col(&self, name: &str) -> Option<&'a str> {
        let i = self.columns.iter().position(|c| *c == name);
        debug_assert!(i.is_some(), "the live query does not select `{name}` (it selects {:?})", self.columns);
        self.row.col(i?)
    }
    pub fn s(&self, name: &str) -> &'a str {
        self.col(name).unwrap_or("")
    }
    pub fn i(&self, name: &str) -> i64 {
        self.s(name).parse().unwrap_or(0)
    }
    pub fn u(&self, name: &str) -> u64 {
        self.s(name).parse().unwrap_or(0)
    }
}

#[derive(Debug, Default)]
pub struct LiveData {
    /// One per query the kinds declare, and the inventory.
    pub tables: Vec<Table>,
    pub kv: HashMap<String, HashMap<String, String>>,
    /// The built-in log rules of the netfilter container that runs (read from its code in docker
    /// mode); None: the ones mailplane knows (`kinds::fail2ban::MAILCOW_RULES`).
    pub netfilter_rules: Option<Vec<String>>,
    pub(crate) owned: std::sync::OnceLock<crate::live::Owned>,
}

static EMPTY: Table = Table { from: "", columns: &[], rows: Vec::new(), kept: false, index: std::sync::OnceLock::new() };

impl LiveData {
    /// The rows `query` read; none if it was not run.
    pub fn rows(&self, query: &Query) -> &Table {
        let table = self.tables.iter().find(|t| t.from == query.from);
        debug_assert!(table.is_none_or(|t| t.columns == query.columns), "two queries read {} with different columns", query.from);
        table.unwrap_or(&EMPTY)
    }
    /// A Redis string observe read (`KindSpec::strings`); None when the key is not there.
    pub fn string(&self, key: &str) -> Option<&str> {
        self.kv.get(key).and_then(|h| h.get("")).map(String::as_str)
    }
    pub fn kv_has(&self, key: &str, field: &str) -> bool {
        self.kv.get(key).is_some_and(|h| h.contains_key(field))
    }
    /// RL_VALUE normalised to `N / 1f`, or empty.
    pub fn rate_limit(&self, who: &str) -> String {
        self.kv.get("RL_VALUE").and_then(|h| h.get(who)).and_then(|v| crate::model::RateLimit::parse_redis(v)).map(|r| r.redis_value()).unwrap_or_default()
    }
    /// Once the live records are built, apply still reads only the `kept` queries' rows, the
    /// Redis strings (a few: Fail2ban's options keep netfilter's banlist id) and the
    /// inventory's keys; the rest is freed.
    pub fn trim(&mut self) {
        let owned = self.owned();
        self.tables.retain(|t| t.kept);
        self.kv.retain(|_, h| h.len() == 1 && h.contains_key(""));
        self.owned = owned.into();
    }
    pub fn owned(&self) -> crate::live::Owned {
        let build = || self.rows(&INVENTORY).iter().filter_map(|r| crate::model::Kind::parse(r.s("kind")).map(|k| (k, r.s("obj_key").to_string()))).collect();
        self.owned.get_or_init(build).clone()
    }
}

/// The objects mailplane created or adopted (`mailplane_inventory`), looked up by borrowed key.
/// Shared, not copied: the plan's policy and the apply's inventory rows both use it.
#[derive(Clone, Debug, Default)]
pub struct Owned(std::sync::Arc<HashMap<Kind, HashSet<String>>>);

impl Owned {
    pub fn contains(&self, kind: Kind, key: &str) -> bool {
        self.0.get(&kind).is_some_and(|keys| keys.contains(key))
    }
}

impl FromIterator<(Kind, String)> for Owned {
    fn from_iter<I: IntoIterator<Item = (Kind, String)>>(iter: I) -> Owned {
        let mut owned: HashMap<Kind, HashSet<String>> = HashMap::new();
        for (kind, key) in iter {
            owned.entry(kind).or_default().insert(key);
        }
        Owned(std::sync::Arc::new(owned))
    }
}
