//! SQL statements as data: what the kinds write and the store layer sends, in the portable form
//! both dialects take.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    MySql,
    Sqlite,
}

/// A bound value. Booleans are `Int(0|1)`; datetimes are `Text("YYYY-MM-DD HH:MM:SS")`.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    Null,
    Int(i64),
    Text(String),
}

/// One statement: portable SQL with `?` placeholders, and its arguments in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub sql: String,
    pub args: Vec<Arg>,
}

/// UTC now as `YYYY-MM-DD HH:MM:SS`, the text form of a DATETIME on both dialects.
pub fn now_utc() -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::OffsetDateTime::now_utc().format(&fmt).expect("formatting a UTC timestamp")
}
