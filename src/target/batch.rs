//! Fewer, bigger statements: the per-object statements of a run of like changes (say, 10,000
//! mailbox creates) become a few multi-row INSERTs and `DELETE … IN (…)`s. One statement per
//! row costs a round trip each; at 100,000 mailboxes that alone is minutes.
//!
//! Statements are only moved where that cannot change the outcome: the objects of a run (one
//! kind, one action) each write their own rows, and each object's own order of statement shapes
//! is kept (a topological order of all objects' orders; if the orders contradict each other the
//! run is left as it is). Only plain single-row `INSERT … VALUES (…)` and
//! `DELETE FROM t WHERE col = ?` are merged; any other statement runs on its own, in its place.

use foldhash::{HashMap, HashMapExt};

use super::db::Stmt;

/// Bound parameters per statement: SQLite allows 32,766, MySQL 65,535.
const MAX_PARAMS: usize = 30_000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape<'a> {
    /// `INSERT … VALUES ` and the row tuple.
    Insert { head: &'a str, row: &'a str },
    /// `DELETE FROM t WHERE col` (`= ?` follows).
    Delete { head: &'a str },
}

fn shape(sql: &str) -> Option<Shape<'_>> {
    if let Some(head) = sql.strip_suffix(" = ?").filter(|h| h.starts_with("DELETE FROM ") && !h.contains(['?', '(']) && h.matches(" WHERE ").count() == 1) {
        return (!head.contains(" AND ") && !head.contains(" OR ")).then_some(Shape::Delete { head });
    }
    if !(sql.starts_with("INSERT INTO ") || sql.starts_with("INSERT OR REPLACE INTO ")) || sql.contains(" SELECT ") {
        return None;
    }
    let at = sql.find(" VALUES (")? + " VALUES ".len();
    let row = &sql[at..];
    tuple_end(row).filter(|&end| end == row.len()).map(|_| Shape::Insert { head: &sql[..at], row })
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
                && !edges[p].contains(&id) {
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
        for chunk in rows.chunks((MAX_PARAMS / per_row).max(1)) {
            if chunk.len() == 1 {
                out.push(chunk[0].clone());
                continue;
            }
            let sql = match shape {
                Shape::Insert { head, row } => format!("{head}{}", vec![row; chunk.len()].join(", ")),
                Shape::Delete { head } => format!("{head} IN ({})", vec!["?"; chunk.len()].join(", ")),
            };
            out.push(Stmt { sql, args: chunk.iter().flat_map(|s| s.args.iter().cloned()).collect() });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::db::Arg;

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
        let objs = vec![
            vec![st("UPDATE mailbox SET name = ? WHERE username = ?", &["x", "a"])],
            vec![st("INSERT INTO mailbox (username) VALUES (?)", &["b"])],
        ];
        assert_eq!(batch(objs.clone()), objs.concat());
        let two_keys = vec![vec![st("DELETE FROM sender_acl WHERE logged_in_as = ? AND send_as = ?", &["a", "b"])]; 2];
        assert_eq!(batch(two_keys.clone()), two_keys.concat());
        let select = vec![vec![st("INSERT INTO t (a) SELECT ? FROM x", &["a"])]; 2];
        assert_eq!(batch(select.clone()), select.concat());
        let trailing = vec![vec![st("INSERT INTO t (a) VALUES (?) ON DUPLICATE KEY UPDATE a = 1", &["a"])]; 2];
        assert_eq!(batch(trailing.clone()), trailing.concat());
    }

    #[test]
    fn other_statements_run_one_by_one_without_stopping_the_merge() {
        let obj = |u: &str| {
            vec![
                st("UPDATE alias SET goto = ? WHERE address = ?", &["x", u]),
                st("DELETE FROM alias WHERE goto = ?", &[u]),
                st("DELETE FROM sender_acl WHERE logged_in_as = ? OR send_as = ?", &[u, u]),
            ]
        };
        let out = batch(vec![obj("a"), obj("b")]);
        let sqls: Vec<&str> = out.iter().map(|s| s.sql.as_str()).collect();
        assert_eq!(
            sqls,
            [
                "UPDATE alias SET goto = ? WHERE address = ?",
                "UPDATE alias SET goto = ? WHERE address = ?",
                "DELETE FROM alias WHERE goto IN (?, ?)",
                "DELETE FROM sender_acl WHERE logged_in_as = ? OR send_as = ?",
                "DELETE FROM sender_acl WHERE logged_in_as = ? OR send_as = ?",
            ]
        );
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
