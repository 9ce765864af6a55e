//! The program file as text: reading a TOML file into a [`ConfigDocument`] with every
//! problem reported at once, each at its line and column, and writing a configuration
//! back as a file that reads into the same document (`loyd config export`).

use std::fmt;
use std::ops::Range;

use serde::Serialize;
use serde::de::DeserializeOwned;
use toml::de::DeTable;

use super::{CampaignSpec, CardSeriesSpec, ConfigDocument, ConfigError, CounterSpec, CouponSeriesSpec, CurrencySpec};
use super::{EmailSpec, FraudSpec, MessageSpec, OfferSpec, RestrictionsSpec, RetentionSpec, CatalogueSpec, GatewaySpec, SegmentSpec, PortalSpec, TelegramSpec, TierSpec, WebhookSpec};
use crate::org::StoreSpec;

/// A problem in a program file: where (line and column from 1, when the path names
/// something written in the file) and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileProblem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// The object and field: `campaigns[2].rewards[0].percent` (empty for a syntax error).
    pub path: String,
    pub message: String,
    /// The message by key, when it has one ([`ConfigError::said`]).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub said: Option<crate::said::Said>,
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, "{l}:{c}: ")?;
        }
        if self.path.is_empty() { write!(f, "{}", self.message) } else { write!(f, "{}: {}", self.path, self.message) }
    }
}

/// The sections a program file may have, as [`parse`] reads them.
const FILE_SECTIONS: [&str; 21] = [
    "currencies", "stores", "card_series", "counters", "tiers", "coupon_series", "segments", "campaigns", "webhooks", "messages", "catalogue", "offers",
    "email", "sms", "viber", "whatsapp", "telegram", "portal", "retention", "restrictions", "fraud",
];

/// Reads a program file. Syntax errors are all reported; when the syntax is sound, each
/// object of each section is read on its own, so every misspelt field or wrong value
/// in the file is reported, not only the first.
pub fn parse(text: &str) -> Result<ConfigDocument, Vec<FileProblem>> {
    let (tree, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        return Err(syntax.iter().map(|e| at_span(text, e.span(), ConfigError::text("", e.message().trim()))).collect());
    }
    let whole = toml::from_str::<ConfigDocument>(text);
    let Err(first) = whole else { return whole.map_err(|_| Vec::new()) };
    let table: toml::Table = match toml::from_str(text) {
        Ok(t) => t,
        Err(e) => return Err(vec![at_span(text, e.span(), ConfigError::text("", e.message().trim()))]),
    };
    let mut problems = Vec::new();
    for (key, value) in table {
        match key.as_str() {
            "currencies" => section::<CurrencySpec>(&key, value, &mut problems),
            "stores" => section::<StoreSpec>(&key, value, &mut problems),
            "card_series" => section::<CardSeriesSpec>(&key, value, &mut problems),
            "counters" => section::<CounterSpec>(&key, value, &mut problems),
            "tiers" => section::<TierSpec>(&key, value, &mut problems),
            "coupon_series" => section::<CouponSeriesSpec>(&key, value, &mut problems),
            "segments" => section::<SegmentSpec>(&key, value, &mut problems),
            "campaigns" => section::<CampaignSpec>(&key, value, &mut problems),
            "webhooks" => section::<WebhookSpec>(&key, value, &mut problems),
            "messages" => section::<MessageSpec>(&key, value, &mut problems),
            "catalogue" => section::<CatalogueSpec>(&key, value, &mut problems),
            "offers" => section::<OfferSpec>(&key, value, &mut problems),
            "email" => one::<EmailSpec>(key.clone(), value, &mut problems),
            "sms" | "viber" | "whatsapp" => one::<GatewaySpec>(key.clone(), value, &mut problems),
            "telegram" => one::<TelegramSpec>(key.clone(), value, &mut problems),
            "portal" => one::<PortalSpec>(key.clone(), value, &mut problems),
            "retention" => one::<RetentionSpec>(key.clone(), value, &mut problems),
            "restrictions" => one::<RestrictionsSpec>(key.clone(), value, &mut problems),
            "fraud" => one::<FraudSpec>(key.clone(), value, &mut problems),
            _ => {
                problems.push(ConfigError::said(key.clone(), crate::said::unknown_file_section(&key, FILE_SECTIONS.join(", "))));
            }
        }
    }
    if problems.is_empty() {
        // Read apart every object is sound, yet the whole is not: report what serde said.
        return Err(vec![at_span(text, first.span(), ConfigError::text("", first.message().trim()))]);
    }
    Err(locate_in(text, &tree, problems))
}

fn section<T: DeserializeOwned>(name: &str, value: toml::Value, problems: &mut Vec<ConfigError>) {
    match value {
        toml::Value::Array(items) => {
            for (i, item) in items.into_iter().enumerate() {
                one::<T>(format!("{name}[{i}]"), item, problems);
            }
        }
        _ => problems.push(ConfigError::said(name, crate::said::section_is_list(name))),
    }
}

fn one<T: DeserializeOwned>(path: String, value: toml::Value, problems: &mut Vec<ConfigError>) {
    if let Err(e) = serde_path_to_error::deserialize::<_, T>(value) {
        let inner = e.path().to_string();
        let path = if inner == "." || inner.is_empty() {
            path
        } else if inner.starts_with('[') {
            format!("{path}{inner}")
        } else {
            format!("{path}.{inner}")
        };
        problems.push(ConfigError::text(path, e.into_inner().to_string()));
    }
}

/// Gives each problem (found by [`ConfigDocument::plan`] or the compiler, named by its
/// path) the line and column in `text` of what the path names, or of the nearest
/// enclosing thing the file writes.
pub fn locate(text: &str, problems: Vec<ConfigError>) -> Vec<FileProblem> {
    match DeTable::parse(text) {
        Ok(tree) => locate_in(text, &tree, problems),
        Err(_) => problems.into_iter().map(|p| at_span(text, None, p)).collect(),
    }
}

fn locate_in(text: &str, tree: &toml::Spanned<DeTable<'_>>, problems: Vec<ConfigError>) -> Vec<FileProblem> {
    problems
        .into_iter()
        .map(|p| at_span(text, span_of(tree, &p.path), p))
        .collect()
}

/// The span of the deepest key or element along `path` (`campaigns[2].rewards[0].percent`).
fn span_of(tree: &toml::Spanned<DeTable<'_>>, path: &str) -> Option<Range<usize>> {
    let mut steps = Vec::new();
    for part in path.split('.') {
        let (name, indexes) = part.split_once('[').map_or((part, ""), |(n, rest)| (n, rest));
        if !name.is_empty() {
            steps.push(Step::Key(name));
        }
        for index in indexes.split('[') {
            match index.trim_end_matches(']').parse::<usize>() {
                Ok(i) => steps.push(Step::Index(i)),
                Err(_) if index.is_empty() => {}
                Err(_) => return None,
            }
        }
    }
    let (first, rest) = steps.split_first()?;
    let Step::Key(key) = first else { return None };
    let (k, mut value) = tree.get_ref().get_key_value(*key)?;
    let mut span = k.span();
    // A field points at its key, an element of a list at the element.
    for step in rest {
        let next = match step {
            Step::Key(key) => value.get_ref().as_table().and_then(|t| t.get_key_value(*key)).map(|(k, v)| (k.span(), v)),
            Step::Index(i) => value.get_ref().get(*i).map(|v| (v.span(), v)),
        };
        match next {
            Some((at, v)) => {
                value = v;
                span = at;
            }
            None => break,
        }
    }
    Some(span)
}

enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn at_span(text: &str, span: Option<Range<usize>>, p: ConfigError) -> FileProblem {
    let at = span.map(|span| {
        let before = &text[..span.start.min(text.len())];
        (before.matches('\n').count() + 1, before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1)
    });
    FileProblem { line: at.map(|a| a.0), column: at.map(|a| a.1), path: p.path, message: p.message, said: p.said }
}

/// Writes `doc` as a program file that [`parse`] reads back into an equal document:
/// sections in the order the format documents, fields left out where they are empty.
pub fn write(doc: &ConfigDocument) -> Result<String, String> {
    let value = toml::Value::try_from(doc).map_err(|e| e.to_string())?;
    let toml::Value::Table(mut table) = value else { return Err("the configuration is not a table".into()) };
    for (_, v) in table.iter_mut() {
        prune(v);
    }
    table.retain(|_, v| !is_empty(v));
    let body = toml::to_string(&table).map_err(|e| e.to_string())?;
    Ok(format!("# The configuration of this Loyd installation, as a program file (docs/programs.md).\n\n{body}"))
}

/// Leaves out empty lists and tables: every such field of the format has a default.
fn prune(v: &mut toml::Value) {
    match v {
        toml::Value::Table(t) => {
            for (_, x) in t.iter_mut() {
                prune(x);
            }
            t.retain(|_, x| !is_empty(x));
        }
        toml::Value::Array(a) => a.iter_mut().for_each(prune),
        _ => {}
    }
}

fn is_empty(v: &toml::Value) -> bool {
    match v {
        toml::Value::Table(t) => t.is_empty(),
        toml::Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples() -> Vec<(String, String)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
        let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .map(|p| (p.display().to_string(), std::fs::read_to_string(&p).unwrap()))
            .collect();
        files.sort();
        assert!(files.len() >= 10, "the examples are found");
        files
    }

    #[test]
    fn every_example_written_back_as_a_file_reads_into_the_same_document() {
        for (name, text) in examples() {
            let doc = parse(&text).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            let written = write(&doc).unwrap();
            let again = parse(&written).unwrap_or_else(|e| panic!("{name} written back: {e:?}\n{written}"));
            assert_eq!(again, doc, "{name} written back:\n{written}");
        }
    }

    #[test]
    fn a_written_file_leaves_out_empty_fields() {
        let doc = parse("[[currencies]]\ncode = \"EUR\"\nkind = \"money\"\nscale = 2\n").unwrap();
        let written = write(&doc).unwrap();
        assert!(!written.contains("= []"), "{written}");
        assert!(written.contains("[[currencies]]") && written.contains("code = \"EUR\""), "{written}");
    }

    #[test]
    fn every_misspelt_field_is_reported_at_once_with_its_line_and_column() {
        let text = "[[currencies]]\ncode = \"EUR\"\nkind = \"money\"\nscale = 2\n\n\
                    [[campaigns]]\nid = \"a\"\nnaem = \"typo\"\n\n\
                    [[campaigns]]\nid = \"b\"\npriority = \"high\"\n";
        let problems = parse(text).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].path, "campaigns[0].naem");
        assert!(problems[0].message.contains("unknown field `naem`"), "{}", problems[0]);
        assert_eq!((problems[0].line, problems[0].column), (Some(8), Some(1)), "{}", problems[0]);
        assert_eq!(problems[1].path, "campaigns[1].priority", "{}", problems[1]);
        assert_eq!((problems[1].line, problems[1].column), (Some(12), Some(1)), "{}", problems[1]);
    }

    #[test]
    fn a_syntax_error_says_where_it_is() {
        let problems = parse("[[currencies]]\ncode = \"EUR\nkind = \"money\"\n").unwrap_err();
        assert_eq!(problems[0].line, Some(2), "{problems:?}");
    }

    #[test]
    fn a_problem_found_after_reading_points_at_the_field_it_names() {
        let text = "[[stores]]\nid = \"a\"\nname = \"A\"\ntimezone = \"UTC\"\ncurrency = \"XXX\"\n";
        let problems = locate(text, vec![ConfigError::text("stores[0].currency", "not defined")]);
        assert_eq!((problems[0].line, problems[0].column), (Some(5), Some(1)), "{}", problems[0]);
        assert_eq!(problems[0].to_string(), "5:1: stores[0].currency: not defined");
        let unwritten = locate(text, vec![ConfigError::text("campaigns 'x' (stored, not in this file)", "m")]);
        assert_eq!(unwritten[0].line, None);
    }
}
