//! Fewer, bigger statements: the per-object statements of a run of like changes (say, 10,000
//! mailbox creates) become a few multi-row statements. One statement per row costs a round
//! trip each; at 100,000 mailboxes that alone is minutes.
//!
//! Statements are only moved where that cannot change the outcome: the objects of a run (one
//! kind, one action) each write their own rows, and each object's own order of statement shapes
//! is kept (a topological order of all objects' orders; if the orders contradict each other the
//! run is left as it is). What is merged, and why it means the same:
//! - plain single-row `INSERT … VALUES (…)`: one multi-row INSERT;
//! - `DELETE FROM t WHERE col = ?`: `col IN (…)`;
//! - any other `DELETE FROM t WHERE …` without subqueries: the conditions OR-ed, since a run of
//!   deletes removes exactly the rows that match any of them;
//! - `UPDATE t SET a = ?, b = <constant> WHERE k = ?`: `a = CASE k WHEN ? THEN ? … END` for rows
//!   of distinct keys (with a repeated key the later update would have to win: left alone).
//!
//! Anything else runs on its own, in its place.

use foldhash::{HashMap, HashMapExt, HashSet};

use super::db::{Arg, Stmt};

/// Bound parameters per statement: SQLite allows 32,766, MySQL 65,535.
const MAX_PARAMS: usize = 30_000;
/// Rows per OR-ed DELETE or CASE UPDATE: SQLite refuses expression trees deeper than 1,000,
/// and a CASE is searched row by row.
const MAX_CONDITIONS: usize = 400;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape<'a> {
    /// `INSERT … VALUES ` and the row tuple.
    Insert { head: &'a str, row: &'a str },
    /// `DELETE FROM t WHERE col` (`= ?` follows).
    DeleteIn { head: &'a str },
    /// `DELETE FROM t WHERE ` and the condition.
    DeleteAny { head: &'a str, condition: &'a str },
    /// `UPDATE t SET `, the assignments, and the key column of `WHERE k = ?`.
    Update { head: &'a str, set: &'a str, key: &'a str },
}

fn shape(sql: &str) -> Option<Shape<'_>> {
    if sql.starts_with("DELETE FROM ") {
        let at = sql.find(" WHERE ")? + " WHERE ".len();
        let (head, condition) = sql.split_at(at);
        if condition.contains(['(', ';']) || condition.contains(" WHERE ") || condition.contains("SELECT") || condition.contains("LIMIT") {
            return None;
        }
        return Some(match condition.strip_suffix(" = ?").filter(|c| is_identifier(c)) {
            Some(_) => Shape::DeleteIn { head: sql.strip_suffix(" = ?")? },
            None => Shape::DeleteAny { head, condition },
        });
    }
    if sql.starts_with("UPDATE ") {
        let set_at = sql.find(" SET ")? + " SET ".len();
        let where_at = sql.rfind(" WHERE ")?;
        let key = sql[where_at + " WHERE ".len()..].strip_suffix(" = ?").filter(|k| is_identifier(k))?;
        let (head, set) = (&sql[..set_at], &sql[set_at..where_at]);
        let assignments = assignments(set)?;
        let ok = is_identifier(head["UPDATE ".len()..set_at - " SET ".len()].trim())
            && assignments.iter().all(|(col, value)| *col != key && (*value == "?" || !value.contains('?')));
        return ok.then_some(Shape::Update { head, set, key });
    }
    if !(sql.starts_with("INSERT INTO ") || sql.starts_with("INSERT OR REPLACE INTO ")) || sql.contains(" SELECT ") {
        return None;
    }
    let at = sql.find(" VALUES (")? + " VALUES ".len();
    let row = &sql[at..];
    tuple_end(row).filter(|&end| end == row.len()).map(|_| Shape::Insert { head: &sql[..at], row })
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `a = ?, b = NOW()` → [("a", "?"), ("b", "NOW()")]; None unless every part is `column = value`.
fn assignments(set: &str) -> Option<Vec<(&str, &str)>> {
    let mut out = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    for (i, c) in set.char_indices().chain([(set.len(), ',')]) {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            ',' if depth == 0 && !quoted => {
                let (col, value) = set[start..i].split_once(" = ")?;
                let col = col.trim();
                is_identifier(col).then_some(())?;
                out.push((col, value.trim()));
                start = i + 1;
            }
            _ => {}
        }
    }
    Some(out)
}

/// The length of the parenthesised tuple `row` starts with (quotes respected).
fn tuple_end(row: &str) -> Option<usize> {
    let (mut depth, mut quoted) = (0i32, false);
    for (i, c) in row.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// Merges `objects` (each object's statements, in order) into as few statements as it safely can.
pub fn batch(objects: Vec<Vec<Stmt>>) -> Vec<Stmt> {
    match order(&objects) {
        Some(order) => merge(objects, &order),
        None => objects.into_iter().flatten().collect(),
    }
}

/// The statement shapes (SQL texts) in an order that keeps every object's own order, or None
/// when the objects' orders contradict each other.
fn order(objects: &[Vec<Stmt>]) -> Option<Vec<String>> {
    let mut ids: HashMap<&str, usize> = HashMap::new();
    let mut names: Vec<&str> = Vec::new();
    let mut edges: Vec<Vec<usize>> = Vec::new();
    for stmts in objects {
        let mut prev: Option<usize> = None;
        for s in stmts {
            let id = *ids.entry(&s.sql).or_insert_with(|| {
                names.push(&s.sql);
                edges.push(Vec::new());
                names.len() - 1
            });
            if let Some(p) = prev.filter(|&p| p != id)
                && !edges[p].contains(&id)
            {
                edges[p].push(id);
            }
            prev = Some(id);
        }
    }
    // Kahn's algorithm, taking the earliest-seen ready shape first so output stays familiar.
    let mut indegree = vec![0usize; names.len()];
    for e in edges.iter().flatten() {
        indegree[*e] += 1;
    }
    let mut done = Vec::with_capacity(names.len());
    let mut taken = vec![false; names.len()];
    while done.len() < names.len() {
        let next = (0..names.len()).find(|&i| !taken[i] && indegree[i] == 0)?;
        taken[next] = true;
        done.push(names[next].to_string());
        for &e in &edges[next] {
            indegree[e] -= 1;
        }
    }
    Some(done)
}

fn merge(objects: Vec<Vec<Stmt>>, order: &[String]) -> Vec<Stmt> {
    let rank: HashMap<&str, usize> = order.iter().enumerate().map(|(i, s)| (s.as_str(), i)).collect();
    let mut buckets: Vec<Vec<Stmt>> = vec![Vec::new(); order.len()];
    for s in objects.into_iter().flatten() {
        buckets[rank[s.sql.as_str()]].push(s);
    }
    let mut out = Vec::new();
    for (sql, rows) in order.iter().zip(buckets) {
        let per_row = rows[0].args.len().max(1);
        let Some(shape) = shape(sql) else {
            out.extend(rows);
            continue;
        };
        if let Shape::Update { set, .. } = shape
            && !updates_merge(set, &rows)
        {
            out.extend(rows);
            continue;
        }
        let (per_merged_row, max_rows) = match shape {
            Shape::Insert { .. } | Shape::DeleteIn { .. } => (per_row, usize::MAX),
            Shape::DeleteAny { .. } => (per_row, MAX_CONDITIONS),
            // Each SET parameter becomes `WHEN ? THEN ?`, and the key is listed once more.
            Shape::Update { .. } => (2 * per_row - 1, MAX_CONDITIONS),
        };
        for chunk in rows.chunks((MAX_PARAMS / per_merged_row).clamp(1, max_rows)) {
            if chunk.len() == 1 {
                out.push(chunk[0].clone());
            } else {
                out.push(merged(shape, chunk));
            }
        }
    }
    out
}

/// Whether a run of the same UPDATE can become one CASE per column: the arguments are the SET
/// parameters then the key, and no key repeats (compared without case, as MySQL's collations do).
fn updates_merge(set: &str, rows: &[Stmt]) -> bool {
    let params = assignments(set).map_or(0, |a| a.iter().filter(|(_, v)| *v == "?").count());
    let mut seen = HashSet::default();
    rows.iter().all(|s| {
        s.args.len() == params + 1
            && match s.args.last() {
                Some(Arg::Text(k)) => seen.insert(k.to_lowercase()),
                Some(Arg::Int(k)) => seen.insert(k.to_string()),
                _ => false,
            }
    })
}

fn merged(shape: Shape, chunk: &[Stmt]) -> Stmt {
    let all_args = || chunk.iter().flat_map(|s| s.args.iter().cloned()).collect();
    let n = chunk.len();
    match shape {
        Shape::Insert { head, row } => Stmt { sql: format!("{head}{}", vec![row; n].join(", ")), args: all_args() },
        Shape::DeleteIn { head } => Stmt { sql: format!("{head} IN ({})", vec!["?"; n].join(", ")), args: all_args() },
        Shape::DeleteAny { head, condition } => Stmt { sql: format!("{head}{}", vec![format!("({condition})"); n].join(" OR ")), args: all_args() },
        Shape::Update { head, set, key } => {
            let key_of = |s: &Stmt| s.args.last().cloned().unwrap_or(Arg::Null);
            let whens = format!("CASE {key}{} END", " WHEN ? THEN ?".repeat(n));
            let (mut parts, mut args, mut param) = (Vec::new(), Vec::new(), 0);
            for (col, value) in assignments(set).unwrap_or_default() {
                if value == "?" {
                    parts.push(format!("{col} = {whens}"));
                    args.extend(chunk.iter().flat_map(|s| [key_of(s), s.args[param].clone()]));
                    param += 1;
                } else {
                    parts.push(format!("{col} = {value}"));
                }
            }
            args.extend(chunk.iter().map(key_of));
            Stmt { sql: format!("{head}{} WHERE {key} IN ({})", parts.join(", "), vec!["?"; n].join(", ")), args }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Arg;

    fn st(sql: &str, args: &[&str]) -> Stmt {
        Stmt { sql: sql.into(), args: args.iter().map(|a| Arg::Text((*a).into())).collect() }
    }

    #[test]
    fn creates_become_multi_row_inserts_in_each_objects_order() {
        let obj = |u: &str, tag: bool| {
            let mut v = vec![st("INSERT INTO mailbox (username) VALUES (?)", &[u]), st("DELETE FROM alias WHERE address = ?", &[u])];
            if tag {
                v.push(st("INSERT INTO tags_mailbox (tag_name, username) VALUES (?, ?)", &["t", u]));
            }
            v.push(st("INSERT INTO alias (address, goto, active) VALUES (?, ?, '1')", &[u, u]));
            v
        };
        let out = batch(vec![obj("a", false), obj("b", true), obj("c", false)]);
        let sqls: Vec<&str> = out.iter().map(|s| s.sql.as_str()).collect();
        assert_eq!(
            sqls,
            [
                "INSERT INTO mailbox (username) VALUES (?), (?), (?)",
                "DELETE FROM alias WHERE address IN (?, ?, ?)",
                "INSERT INTO tags_mailbox (tag_name, username) VALUES (?, ?)",
                "INSERT INTO alias (address, goto, active) VALUES (?, ?, '1'), (?, ?, '1'), (?, ?, '1')",
            ]
        );
        assert_eq!(out[3].args.len(), 6);
    }

    #[test]
    fn anything_else_stays_as_it_was() {
        let objs = vec![vec![st("UPDATE mailbox SET name = ? WHERE username = ?", &["x", "a"])], vec![st("INSERT INTO mailbox (username) VALUES (?)", &["b"])]];
        assert_eq!(batch(objs.clone()), objs.concat());
        let twice = |sql: &str, args: &[&str]| vec![vec![st(sql, args)]; 2];
        for objs in [
            twice("INSERT INTO t (a) SELECT ? FROM x", &["a"]),
            twice("INSERT INTO t (a) VALUES (?) ON DUPLICATE KEY UPDATE a = 1", &["a"]),
            twice("DELETE FROM t WHERE a IN (SELECT b FROM u WHERE c = ?)", &["a"]),
            // The key is assigned, a parameter inside an expression, a key that is not one column.
            twice("UPDATE t SET k = ? WHERE k = ?", &["x", "y"]),
            twice("UPDATE t SET a = a + ? WHERE k = ?", &["1", "y"]),
            twice("UPDATE t SET a = ? WHERE k = ? AND j = ?", &["1", "y", "z"]),
            // The same row twice: the later update must win, which one CASE cannot say.
            vec![vec![st("UPDATE t SET a = ? WHERE k = ?", &["1", "K"])], vec![st("UPDATE t SET a = ? WHERE k = ?", &["2", "k"])]],
        ] {
            assert_eq!(batch(objs.clone()), objs.concat());
        }
    }

    #[test]
    fn updates_become_one_case_per_column_and_deletes_one_condition_list() {
        let obj = |u: &str| {
            vec![
                st("UPDATE alias SET goto = ?, active = ?, modified = NOW() WHERE address = ?", &["g", &format!("1{u}"), u]),
                st("DELETE FROM alias WHERE goto = ?", &[u]),
                st("DELETE FROM sender_acl WHERE logged_in_as = ? OR send_as = ?", &[u, u]),
            ]
        };
        let out = batch(vec![obj("a"), obj("b")]);
        let sqls: Vec<&str> = out.iter().map(|s| s.sql.as_str()).collect();
        assert_eq!(
            sqls,
            [
                "UPDATE alias SET goto = CASE address WHEN ? THEN ? WHEN ? THEN ? END, \
                 active = CASE address WHEN ? THEN ? WHEN ? THEN ? END, modified = NOW() WHERE address IN (?, ?)",
                "DELETE FROM alias WHERE goto IN (?, ?)",
                "DELETE FROM sender_acl WHERE (logged_in_as = ? OR send_as = ?) OR (logged_in_as = ? OR send_as = ?)",
            ]
        );
        let args: Vec<String> = out[0].args.iter().map(|a| format!("{a:?}")).collect();
        let want: Vec<String> = ["a", "g", "b", "g", "a", "1a", "b", "1b", "a", "b"].iter().map(|a| format!("{:?}", Arg::Text((*a).into()))).collect();
        assert_eq!(args, want);
        assert_eq!(out[2].args.len(), 4);
    }

    #[test]
    fn condition_lists_and_cases_stay_short() {
        let objs: Vec<Vec<Stmt>> = (0..1000).map(|i| vec![st("DELETE FROM t WHERE a = ? AND b = ?", &[&i.to_string(), "x"])]).collect();
        let out = batch(objs);
        assert_eq!(out.iter().map(|s| s.args.len() / 2).collect::<Vec<_>>(), [MAX_CONDITIONS, MAX_CONDITIONS, 200]);
        let objs: Vec<Vec<Stmt>> = (0..1000).map(|i| vec![st("UPDATE t SET a = ? WHERE k = ?", &["x", &i.to_string()])]).collect();
        assert_eq!(batch(objs).len(), 3);
    }

    #[test]
    fn contradicting_orders_are_left_alone() {
        let a = "INSERT INTO a (x) VALUES (?)";
        let b = "INSERT INTO b (x) VALUES (?)";
        let objs = vec![vec![st(a, &["1"]), st(b, &["1"])], vec![st(b, &["2"]), st(a, &["2"])]];
        assert_eq!(batch(objs.clone()), objs.concat());
    }

    #[test]
    fn chunks_respect_the_parameter_limit() {
        let objs: Vec<Vec<Stmt>> = (0..25_000).map(|i| vec![st("INSERT INTO t (a, b) VALUES (?, ?)", &[&i.to_string(), "x"])]).collect();
        let out = batch(objs);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].args.len(), 30_000);
        assert_eq!(out[1].args.len(), 20_000);
    }
}
