//! Writes staged during a transaction and sent to the database together: the ledger's
//! inserts and updates and the receipt row go in one round trip ([`Writes::run`],
//! [`Writes::run_returning_id`]).

use sqlx::{QueryBuilder, Row};

use super::{Conn, Db, PG, rows};
use crate::error::StoreError;

/// Writes sent to the database together, so that a transaction's writes cost one round
/// trip whatever their number (more only past [`MAX_BINDS`] parameters, for batches of
/// thousands of rows): a chain of data-modifying `WITH` parts on PostgreSQL, statements
/// separated by `;` in one call on SQLite (sqlx binds each statement's parameters in
/// turn).
///
/// On PostgreSQL all parts run on one snapshot and do not see each other's rows, so
/// parts must change disjoint rows. Ledger changes do: a row is either new or updated,
/// never both, and each updated row appears once. Constraints (foreign keys included)
/// are checked when the whole statement ends.
pub(crate) struct Writes {
    /// Statements, each of parts whose bind parameters stay within [`MAX_BINDS`]; all
    /// but the last are full.
    statements: Vec<Statement>,
}

struct Statement {
    qb: QueryBuilder<Db>,
    parts: usize,
    /// The bind parameters its parts said they would bind, checked against the
    /// placeholders in its SQL before it runs (a scan of a few kilobytes).
    binds: usize,
}

impl Statement {
    fn build(&mut self) -> Result<sqlx::query::Query<'_, Db, <Db as sqlx::Database>::Arguments>, StoreError> {
        let sql = self.qb.sql();
        let found = placeholders(sql.as_str());
        if found != self.binds {
            return Err(rows::corrupt(format!("a write said it binds {} parameters but has {found}: {}", self.binds, sql.as_str())));
        }
        Ok(self.qb.build())
    }
}

/// The bind parameters a statement built by `QueryBuilder` takes: the highest `$n` on
/// PostgreSQL, the number of `?` on SQLite (the SQL pushed around them has neither).
fn placeholders(sql: &str) -> usize {
    if PG {
        sql.split('$').skip(1).filter_map(|s| s.split(|c: char| !c.is_ascii_digit()).next()?.parse::<usize>().ok()).max().unwrap_or(0)
    } else {
        sql.matches('?').count()
    }
}

/// Bind parameters per statement: PostgreSQL takes at most 65 535 in one statement, and
/// a part brings at most `INSERT_CHUNK` rows of 20 columns.
const MAX_BINDS: usize = 30_000;

impl Writes {
    pub(crate) fn new() -> Self {
        Writes { statements: Vec::new() }
    }

    /// Starts the next write, which will bind `binds` parameters; push its SQL (with
    /// no `RETURNING`, except on the last of [`Writes::run_returning_id`]) and binds on
    /// the builder returned.
    pub(crate) fn part(&mut self, binds: usize) -> &mut QueryBuilder<Db> {
        if self.statements.last().is_none_or(|s| s.binds + binds > MAX_BINDS) {
            self.statements.push(Statement { qb: QueryBuilder::new(""), parts: 0, binds: 0 });
        }
        let st = self.statements.last_mut().expect("a statement was just ensured");
        st.binds += binds;
        if PG {
            st.qb.push(if st.parts == 0 { "WITH " } else { "), " });
            st.qb.push(format_args!("w{} AS (", st.parts));
        } else if st.parts > 0 {
            st.qb.push("; ");
        }
        st.parts += 1;
        &mut st.qb
    }

    pub(crate) async fn run(self, c: &mut Conn) -> Result<(), StoreError> {
        for mut st in self.statements {
            if PG {
                st.qb.push(") SELECT 1");
            }
            st.build()?.execute(&mut *c).await?;
        }
        Ok(())
    }

    /// Runs the writes, the last of which ends in `RETURNING id`, and returns that id.
    pub(crate) async fn run_returning_id(mut self, c: &mut Conn) -> Result<i64, StoreError> {
        let mut last = self.statements.pop().ok_or_else(|| rows::corrupt("no write returns an id".into()))?;
        self.run(c).await?;
        if PG {
            last.qb.push(format_args!(") SELECT id FROM w{}", last.parts.saturating_sub(1)));
        }
        let returned = last.build()?.fetch_all(&mut *c).await?;
        let row = returned.last().ok_or_else(|| rows::corrupt("a write returned no id".into()))?;
        Ok(row.try_get("id")?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(w: &mut Writes, binds: usize) {
        let qb = w.part(binds);
        qb.push("UPDATE lots SET remaining = ");
        qb.push_bind(1_i64);
        qb.push(" WHERE id = ");
        qb.push_bind("lot".to_owned());
    }

    #[test]
    fn the_placeholders_of_a_write_are_the_binds_its_parts_pushed() {
        let mut w = Writes::new();
        update(&mut w, 2);
        let qb = w.part(3);
        qb.push("INSERT INTO lot_moves (transfer_id, ord, lot_id) ");
        qb.push_values([(1_i64, "a")], |mut b, (ord, lot)| {
            b.push_bind("t".to_owned()).push_bind(ord).push_bind(lot.to_owned());
        });
        assert_eq!(w.statements.len(), 1);
        let st = w.statements.last_mut().unwrap();
        assert_eq!(placeholders(st.qb.sql().as_str()), 5);
        assert!(st.build().is_ok());
    }

    #[test]
    fn a_write_that_miscounts_its_binds_is_refused_before_it_reaches_the_database() {
        let mut w = Writes::new();
        update(&mut w, 1);
        let err = w.statements.last_mut().unwrap().build().err().expect("refused");
        assert!(err.to_string().contains("binds 1 parameters but has 2"), "{err}");
    }

    #[test]
    fn writes_past_the_bind_limit_start_a_new_statement() {
        let mut w = Writes::new();
        for _ in 0..MAX_BINDS / 2 {
            update(&mut w, 2);
        }
        assert_eq!(w.statements.len(), 1);
        update(&mut w, 2);
        assert_eq!(w.statements.len(), 2);
        for st in &mut w.statements {
            assert!(st.build().is_ok());
        }
    }
}
