//! Custom conditions in CEL (the Common Expression Language): sandboxed, side-effect
//! free, always terminating. A condition sees three variables:
//!
//! - `receipt`: `total_minor` (int, minor units), `items` (lines), `qty_milli` (int,
//!   thousandths of an item), `weekday` (`"mon"`…), `hour`, `month_day`, `month` (ints,
//!   campaign time zone), `lines` (list of `{sku, groups, amount_minor, qty_milli}`);
//! - `customer`: `identified` (bool), `tier` (string, `""` if none), `series` (the card's
//!   series or `""`), `counters` (map of counter id to int — money in minor units),
//!   `balances` (map of currency to int minor units), `profile` (map of profile field to
//!   string), and what the aggregates know of their purchases: `purchases` (int),
//!   `spent_minor`, `average_minor` (ints, store minor units), `days_since_purchase`
//!   (int, -1 without a purchase), `rfm` (the RFM group, e.g. `"champions"`, `""` if not
//!   scored yet), `rfm_score` (e.g. `"545"`), `consents` (list of channels);
//! - `store`: `id`, `format`, `partner` (strings, `""` if none).
//!
//! Money is exposed as integers of minor units so conditions never compare floats. An
//! expression is parsed and checked when the configuration is applied: unknown
//! variables, syntax errors and a non-boolean result on a sample receipt are refused
//! then, never at a till (the sample customer has every counter and currency, and each
//! profile field the expression names). If evaluating it on a real receipt fails anyway
//! (a profile field the customer has not filled in, say), the condition is false.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock};

use cel::common::types::{CelBool, CelInt, CelList, CelMap, CelMapKey, CelString};
use cel::{Context, Env, Program, Value};

/// The CEL standard library, built once: building it is most of the cost of a fresh
/// evaluation context.
static STDLIB: LazyLock<Arc<Env>> = LazyLock::new(|| Arc::new(Env::stdlib()));

/// The variables a condition may use.
const VARIABLES: [&str; 3] = ["receipt", "customer", "store"];

/// Longest expression accepted.
const MAX_LEN: usize = 2000;

/// A compiled custom condition.
#[derive(Clone)]
pub struct Condition {
    source: String,
    program: Arc<Program>,
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Condition({:?})", self.source)
    }
}

impl PartialEq for Condition {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Condition {}

/// One receipt line as a condition sees it.
#[derive(Debug, Clone)]
pub struct CelLine {
    pub sku: String,
    pub groups: Vec<String>,
    pub amount_minor: i64,
    pub qty_milli: i64,
}

/// The values a condition is evaluated against.
#[derive(Debug, Clone, Default)]
pub struct CelInput {
    pub total_minor: i64,
    pub qty_milli: i64,
    /// The number of lines (`receipt.items`), also when `lines` is left empty.
    pub items: i64,
    pub weekday: String,
    pub hour: i64,
    pub month_day: i64,
    pub month: i64,
    pub lines: Vec<CelLine>,
    pub identified: bool,
    pub tier: String,
    pub series: String,
    pub counters: Vec<(String, i64)>,
    pub balances: Vec<(String, i64)>,
    pub profile: Vec<(String, String)>,
    pub purchases: i64,
    pub spent_minor: i64,
    pub average_minor: i64,
    pub days_since_purchase: i64,
    pub rfm: String,
    pub rfm_score: String,
    pub consents: Vec<String>,
    pub store_id: String,
    pub store_format: String,
    pub store_partner: String,
}

/// A bound value. Built directly as CEL's own value types: going through
/// [`cel::Value`] would build every map twice.
type Val = Box<dyn cel::common::value::Val + 'static>;

fn map(entries: impl IntoIterator<Item = (String, Val)>) -> Val {
    let m: HashMap<CelMapKey, Val> = entries.into_iter().map(|(k, v)| (CelMapKey::from(k), v)).collect();
    Box::new(CelMap::from(m))
}

fn fields(entries: Vec<(&str, Val)>) -> Val {
    map(entries.into_iter().map(|(k, v)| (k.to_owned(), v)))
}

fn int(i: i64) -> Val {
    Box::new(CelInt::from(i))
}

fn string(s: &str) -> Val {
    Box::new(CelString::from(s.to_owned()))
}

fn int_map(entries: &[(String, i64)]) -> Val {
    map(entries.iter().map(|(k, v)| (k.clone(), int(*v))))
}

fn string_map(entries: &[(String, String)]) -> Val {
    map(entries.iter().map(|(k, v)| (k.clone(), string(v))))
}

impl CelInput {
    /// The evaluation context of this input, built once per receipt and shared by every
    /// condition.
    pub fn context(&self) -> Context<'static, 'static> {
        let mut ctx = Context::with_env(Arc::clone(&STDLIB));
        self.bind(&mut ctx);
        ctx
    }

    fn bind(&self, ctx: &mut Context) {
        let lines: Vec<Val> = self
            .lines
            .iter()
            .map(|l| {
                let groups: Vec<Val> = l.groups.iter().map(|g| string(g)).collect();
                fields(vec![
                    ("sku", string(&l.sku)),
                    ("groups", Box::new(CelList::from(groups))),
                    ("amount_minor", int(l.amount_minor)),
                    ("qty_milli", int(l.qty_milli)),
                ])
            })
            .collect();
        ctx.add_variable_as_val(
            "receipt",
            fields(vec![
                ("total_minor", int(self.total_minor)),
                ("items", int(self.items)),
                ("qty_milli", int(self.qty_milli)),
                ("weekday", string(&self.weekday)),
                ("hour", int(self.hour)),
                ("month_day", int(self.month_day)),
                ("month", int(self.month)),
                ("lines", Box::new(CelList::from(lines))),
            ]),
        );
        ctx.add_variable_as_val(
            "customer",
            fields(vec![
                ("identified", Box::new(CelBool::from(self.identified))),
                ("tier", string(&self.tier)),
                ("series", string(&self.series)),
                ("counters", int_map(&self.counters)),
                ("balances", int_map(&self.balances)),
                ("profile", string_map(&self.profile)),
                ("purchases", int(self.purchases)),
                ("spent_minor", int(self.spent_minor)),
                ("average_minor", int(self.average_minor)),
                ("days_since_purchase", int(self.days_since_purchase)),
                ("rfm", string(&self.rfm)),
                ("rfm_score", string(&self.rfm_score)),
                ("consents", Box::new(CelList::from(self.consents.iter().map(|c| string(c)).collect::<Vec<Val>>()))),
            ]),
        );
        ctx.add_variable_as_val(
            "store",
            fields(vec![("id", string(&self.store_id)), ("format", string(&self.store_format)), ("partner", string(&self.store_partner))]),
        );
    }

    /// A plausible receipt to check a new condition against.
    fn sample(counters: &[String], currencies: &[String]) -> CelInput {
        CelInput {
            total_minor: 12_345,
            qty_milli: 3_000,
            items: 1,
            weekday: "tue".into(),
            hour: 12,
            month_day: 24,
            month: 11,
            lines: vec![CelLine { sku: "A100".into(), groups: vec!["dairy".into()], amount_minor: 12_345, qty_milli: 3_000 }],
            identified: true,
            tier: "silver".into(),
            series: "LOY".into(),
            counters: counters.iter().map(|c| (c.clone(), 50_000)).collect(),
            balances: currencies.iter().map(|c| (c.clone(), 1_000)).collect(),
            profile: vec![("city".into(), "Riga".into())],
            purchases: 7,
            spent_minor: 86_415,
            average_minor: 12_345,
            days_since_purchase: 12,
            rfm: "loyal".into(),
            rfm_score: "345".into(),
            consents: vec!["email".into()],
            store_id: "s1".into(),
            store_format: "supermarket".into(),
            store_partner: String::new(),
        }
    }
}

impl Condition {
    /// Parses and checks an expression. `counters` and `currencies` name what the
    /// sample receipt it is tried on carries.
    pub fn compile(source: &str, counters: &[String], currencies: &[String]) -> Result<Condition, String> {
        if source.trim().is_empty() || source.len() > MAX_LEN {
            return Err(format!("a condition is 1 to {MAX_LEN} characters"));
        }
        let program = Program::compile(source).map_err(|e| format!("not a valid CEL expression: {e}"))?;
        let condition = Condition { source: source.to_owned(), program: Arc::new(program) };
        let mut sample = CelInput::sample(counters, currencies);
        // Every word of the expression as a profile field, so that the fields it names
        // exist on the sample customer.
        sample.profile = source
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| crate::profile::check_key(w).is_ok())
            .map(|w| (w.to_owned(), "x".to_owned()))
            .collect();
        match condition.try_eval(&sample) {
            Ok(_) => Ok(condition),
            Err(e) if e.to_lowercase().contains("undeclared") => {
                Err(format!("{e}: a condition may use only {}", VARIABLES.join(", ")))
            }
            Err(e) => Err(format!("the condition fails on a sample receipt: {e}")),
        }
    }

    fn try_eval(&self, input: &CelInput) -> Result<bool, String> {
        self.try_eval_in(&input.context())
    }

    fn try_eval_in(&self, ctx: &Context) -> Result<bool, String> {
        match self.program.execute(ctx) {
            Ok(Value::Bool(b)) => Ok(b),
            Ok(other) => Err(format!("it gives {other:?}, not true or false")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Whether the condition holds; an evaluation error counts as false.
    pub fn holds(&self, input: &CelInput) -> bool {
        self.try_eval(input).unwrap_or(false)
    }

    /// [`Condition::holds`] in a context made by [`CelInput::context`].
    pub fn holds_in(&self, ctx: &Context) -> bool {
        self.try_eval_in(ctx).unwrap_or(false)
    }

    /// Whether a job can list the members of a segment of this condition
    /// ([`crate::segments::job_evaluable`]).
    pub fn job_evaluable(&self) -> bool {
        crate::segments::job_evaluable(&self.source)
    }

    /// Whether the condition may read `receipt.lines`: binding the lines is the
    /// costly part of a context, so contexts for the other conditions leave them
    /// out. Conservative: any mention of `lines` counts.
    pub fn reads_lines(&self) -> bool {
        self.source.contains("lines")
    }

    pub fn source(&self) -> &str {
        &self.source
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> CelInput {
        CelInput::sample(&["year-sum".into()], &["bonus".into()])
    }

    #[test]
    fn conditions_see_the_receipt_the_customer_and_the_store() {
        let c = Condition::compile(
            "receipt.total_minor >= 10000 && customer.tier == 'silver' && store.format != 'discounter' \
             && receipt.lines.exists(l, 'dairy' in l.groups) && customer.counters['year-sum'] > 0",
            &["year-sum".into()],
            &[],
        )
        .unwrap();
        assert!(c.holds(&input()));
        let mut small = input();
        small.total_minor = 100;
        assert!(!c.holds(&small));
    }

    #[test]
    fn bad_conditions_are_refused_at_compile_time_with_a_reason() {
        let cases = [
            ("receipt.total_minor >", "not a valid CEL"),
            ("order.total > 1", "may use only receipt, customer, store"),
            ("receipt.total_minor + 1", "not true or false"),
            ("receipt.total_minor > 'x'", "fails on a sample"),
            ("", "1 to"),
        ];
        for (src, expected) in cases {
            let err = Condition::compile(src, &[], &[]).unwrap_err();
            assert!(err.contains(expected), "{src}: {err}");
        }
    }

    #[test]
    fn conditions_read_profile_fields_and_a_missing_field_is_false() {
        let c = Condition::compile("customer.profile['city'] == 'Riga' && customer.profile.gender != 'm'", &[], &[]).unwrap();
        let mut riga = input();
        riga.profile = vec![("city".into(), "Riga".into()), ("gender".into(), "f".into())];
        assert!(c.holds(&riga));
        let mut unknown = input();
        unknown.profile.clear();
        assert!(!c.holds(&unknown), "a customer without the fields is not matched");
        // Counters are still checked by name.
        assert!(Condition::compile("customer.counters['nope'] > 0", &["year-sum".into()], &[]).is_err());
    }

    #[test]
    fn conditions_read_what_the_aggregates_know_of_a_customers_purchases() {
        let c = Condition::compile(
            "customer.rfm == 'loyal' && customer.purchases >= 5 && customer.average_minor > 10000 \
             && customer.days_since_purchase < 30 && 'email' in customer.consents && customer.rfm_score.startsWith('3')",
            &[],
            &[],
        )
        .unwrap();
        assert!(c.holds(&input()));
        let mut lapsed = input();
        lapsed.days_since_purchase = 45;
        assert!(!c.holds(&lapsed));
        let mut unreachable = input();
        unreachable.consents.clear();
        assert!(!c.holds(&unreachable));
    }

    #[test]
    fn a_condition_that_fails_on_a_real_receipt_is_false() {
        let c = Condition::compile("customer.counters['year-sum'] > 0", &["year-sum".into()], &[]).unwrap();
        let mut no_counter = input();
        no_counter.counters.clear();
        assert!(!c.holds(&no_counter));
    }
}
