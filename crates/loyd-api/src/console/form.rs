//! Forms over configuration objects: a form is a list of fields, each named by its path
//! in the object's JSON (`limits.uses`, `rewards[0].percent`), so that what the API
//! answers about a field (`details.problems[].path`) lands next to that field. The same
//! description reads an object into the values a form shows, lays what a person typed
//! over the object (fields the form does not show are kept), and renders the fields.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use serde_json::Value;

use crate::i18n::Catalogue;

/// How a field is typed and what JSON it makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string; empty is "not set".
    Text,
    /// A whole number.
    Int,
    /// A decimal, sent as a string (`10,5` is read as `10.5`).
    Decimal,
    /// A check box: `true` or `false`.
    Flag,
    /// Check boxes, one per option: a list of the checked values.
    Choices,
    /// One of the options, or none.
    Select,
    /// Codes separated by commas: a list.
    List,
    /// One text per line: a list.
    Lines,
    /// A text of several lines (a message's body), kept as one string.
    Paragraph,
    /// A date and time of day in the object's zone: a timestamp.
    Moment,
    /// A time of day, `HH:MM`.
    Time,
}

/// One field of a form: its path (with `[]` where a list index goes), kind, label and
/// help (keys of the catalogue).
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub path: &'static str,
    pub kind: Kind,
    pub label: &'static str,
    pub help: Option<&'static str>,
}

pub const fn spec(path: &'static str, kind: Kind, label: &'static str, help: Option<&'static str>) -> Spec {
    Spec { path, kind, label, help }
}

impl Spec {
    /// The path with the list index `i` in place of `[]`.
    pub fn at(&self, i: usize) -> String {
        self.path.replacen("[]", &format!("[{i}]"), 1)
    }
}

/// What the form holds, by path: as read from an object, or as a person sent it.
#[derive(Debug, Clone, Default)]
pub struct Values(pub BTreeMap<String, Vec<String>>);

impl Values {
    /// The pairs of a submitted form.
    pub fn of_pairs(pairs: &[(String, String)]) -> Values {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in pairs {
            map.entry(k.clone()).or_default().push(v.clone());
        }
        Values(map)
    }

    pub fn one(&self, path: &str) -> &str {
        self.0.get(path).and_then(|v| v.first()).map_or("", |s| s.trim())
    }

    pub fn all(&self, path: &str) -> &[String] {
        self.0.get(path).map_or(&[], Vec::as_slice)
    }

    /// Reads field `path` of `object` (a field of `kind`) into the form's text.
    pub fn read(&mut self, object: &Value, path: &str, kind: Kind, tz: &TimeZone) {
        let v = get(object, path).unwrap_or(&Value::Null);
        let scalar = |v: &Value| match v {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let texts = match (kind, v) {
            (_, Value::Null) => Vec::new(),
            (Kind::Flag, Value::Bool(b)) => if *b { vec!["on".to_owned()] } else { Vec::new() },
            (Kind::Choices, Value::Array(items)) => items.iter().map(scalar).collect(),
            (Kind::List, Value::Array(items)) => vec![items.iter().map(scalar).collect::<Vec<_>>().join(", ")],
            (Kind::Lines, Value::Array(items)) => vec![items.iter().map(scalar).collect::<Vec<_>>().join("\n")],
            (Kind::Moment, Value::String(s)) => vec![match s.parse::<jiff::Timestamp>() {
                Ok(t) => t.to_zoned_datetime(tz.clone()).strftime("%Y-%m-%dT%H:%M").to_string(),
                Err(_) => s.clone(),
            }],
            (_, v) => vec![scalar(v)],
        };
        self.0.insert(path.to_owned(), texts);
    }
}

/// A list of objects edited as rows (a campaign's `rewards`, a tier's `levels`): the
/// fields of one row, the first of which says what the row is (a reward's type, a
/// level's id). A row whose first field is left empty is removed; one whose first field
/// changed starts afresh, so no setting of what it was stays behind.
#[derive(Debug, Clone, Copy)]
pub struct Rows {
    pub list: &'static str,
    pub specs: &'static [Spec],
}

impl Rows {
    /// The name of the first field in a row (`type`).
    fn key(&self) -> &'static str {
        self.specs[0].path.rsplit('.').next().unwrap_or_default()
    }

    /// How many rows a submitted form (or one read from an object) has.
    pub fn sent(&self, values: &Values) -> usize {
        let (open, close) = (format!("{}[", self.list), format!("].{}", self.key()));
        values.0.keys().filter_map(|k| k.strip_prefix(&open)?.split_once(&close)?.0.parse::<usize>().ok()).max().map_or(0, |m| m + 1)
    }

    /// How many rows a stored object has.
    pub fn stored(&self, object: &Value) -> usize {
        object.get(self.list).and_then(Value::as_array).map_or(0, Vec::len)
    }

    /// The settings of row `i` of `object` that the form does not show (`per_item = 2`).
    pub fn kept(&self, object: &Value, i: usize) -> String {
        let shown: Vec<&str> = self.specs.iter().map(|s| s.path.rsplit('.').next().unwrap_or_default()).collect();
        let Some(Value::Object(m)) = get(object, &format!("{}[{i}]", self.list)) else { return String::new() };
        m.iter().filter(|(k, v)| !shown.contains(&k.as_str()) && !is_blank(v)).map(|(k, v)| format!("{k} = {v}")).collect::<Vec<_>>().join(", ")
    }
}

/// Every field of a form, with its kind: `plain` ones and `n` rows.
pub fn fields(plain: &[Spec], rows: Option<&Rows>, n: usize) -> Vec<(String, Kind)> {
    let rows = rows.into_iter().flat_map(|r| (0..n).flat_map(move |i| r.specs.iter().map(move |s| (s.at(i), s.kind))));
    plain.iter().map(|s| (s.path.to_owned(), s.kind)).chain(rows).collect()
}

/// A form's values read from a stored object.
pub fn read(object: &Value, plain: &[Spec], rows: Option<&Rows>, tz: &TimeZone) -> Values {
    let mut v = Values::default();
    for (path, kind) in fields(plain, rows, rows.map_or(0, |r| r.stored(object))) {
        v.read(object, &path, kind, tz);
    }
    v
}

/// The object a submitted form makes, laid over `base` (the stored object, or a new
/// one): see [`overlay`] and [`Rows`]; the sub-objects `blank_is_unset` are left out
/// when nothing in them is set.
pub fn build(base: &Value, values: &Values, plain: &[Spec], rows: Option<&Rows>, blank_is_unset: &[&str], tz: &TimeZone, t: &Catalogue) -> (Value, Vec<Problem>) {
    let mut object = if base.is_object() { base.clone() } else { Value::Object(Default::default()) };
    let n = rows.map_or(0, |r| r.sent(values));
    if let Some(r) = rows {
        for i in 0..n {
            let path = format!("{}[{i}].{}", r.list, r.key());
            if get(&object, &path).and_then(Value::as_str).unwrap_or_default() != values.one(&path) {
                set(&mut object, &format!("{}[{i}]", r.list), Value::Object(Default::default()));
            }
        }
    }
    let problems = overlay(&mut object, &fields(plain, rows, n), values, tz, t);
    if let Some(r) = rows
        && let Some(Value::Array(items)) = object.get_mut(r.list)
    {
        items.retain(|item| item.get(r.key()).is_some_and(|k| !is_blank(k)));
    }
    for key in blank_is_unset {
        if object.get(*key).is_some_and(is_blank) {
            unset(&mut object, key);
        }
    }
    (object, problems)
}

/// The problems of a refused change, with paths inside the object, said in the page's
/// language.
pub fn problems_of(e: &crate::error::ApiError, t: &Catalogue) -> Vec<Problem> {
    let listed = e.details.as_ref().and_then(|d| d.get("problems")).and_then(Value::as_array);
    match listed {
        Some(items) => items
            .iter()
            .map(|p| Problem { path: p.get("path").and_then(Value::as_str).unwrap_or_default().to_owned(), message: message_of(p, t) })
            .collect(),
        None => vec![Problem { path: String::new(), message: super::refusal(t, e) }],
    }
}

/// A problem's message as the API answers it (`message`, and `kind` and `args` when the
/// domain says it by key), in the page's language.
pub fn message_of(problem: &Value, t: &Catalogue) -> String {
    let kind = problem.get("kind").and_then(Value::as_str);
    let args = problem.get("args").and_then(Value::as_object);
    kind.zip(args)
        .and_then(|(kind, args)| t.say_kind(kind, args))
        .unwrap_or_else(|| problem.get("message").and_then(Value::as_str).unwrap_or_default().to_owned())
}

/// A problem of a program, in the page's language.
pub fn problem_of(e: loyd_domain::config::ConfigError, t: &Catalogue) -> Problem {
    Problem { message: e.said.as_ref().map_or(e.message, |s| t.say(s)), path: e.path }
}

/// The form's pairs, its CSRF token and the rest.
pub fn split(pairs: Vec<(String, String)>) -> (String, Values) {
    let csrf = pairs.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.clone()).unwrap_or_default();
    (csrf, Values::of_pairs(&pairs))
}

/// A problem with one field: its path and what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

/// The JSON a field's text makes, or what is wrong with it.
fn json_of(kind: Kind, values: &Values, path: &str, tz: &TimeZone, t: &Catalogue) -> Result<Value, String> {
    let one = values.one(path);
    let list = |items: Vec<&str>| Value::Array(items.into_iter().filter(|s| !s.is_empty()).map(|s| Value::String(s.to_owned())).collect());
    Ok(match kind {
        Kind::Flag => Value::Bool(!one.is_empty()),
        Kind::Choices => list(values.all(path).iter().map(|s| s.trim()).collect()),
        Kind::List => list(one.split(',').map(str::trim).collect()),
        Kind::Lines => list(one.lines().map(str::trim).collect()),
        _ if one.is_empty() => Value::Null,
        Kind::Text | Kind::Select | Kind::Time => Value::String(one.to_owned()),
        // Browsers send a text area's lines ended by CR LF; texts keep plain LF.
        Kind::Paragraph => Value::String(one.replace("\r\n", "\n")),
        Kind::Int => Value::from(one.parse::<i64>().map_err(|_| t.get("form.whole_number").to_owned())?),
        Kind::Decimal => {
            let text = if one.matches(',').count() == 1 && !one.contains('.') { one.replace(',', ".") } else { one.to_owned() };
            text.parse::<rust_decimal::Decimal>().map_err(|_| t.get("form.decimal").to_owned())?;
            Value::String(text)
        }
        Kind::Moment => {
            let at = one.parse::<jiff::civil::DateTime>().map_err(|_| t.get("form.moment").to_owned())?;
            let at = at.to_zoned_datetime(tz.clone()).map_err(|e| e.to_string())?;
            Value::String(at.timestamp().to_string())
        }
    })
}

/// Lays the fields `paths` (each with its kind) of a submitted form over `object`: every
/// field the form shows is set from what was sent (an unchecked box is `false`, an empty
/// list `[]`, an empty field is left out, so it takes its default), every other field is
/// kept. All problems are returned at once.
pub fn overlay(object: &mut Value, fields: &[(String, Kind)], values: &Values, tz: &TimeZone, t: &Catalogue) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (path, kind) in fields {
        match json_of(*kind, values, path, tz, t) {
            Ok(Value::Null) => unset(object, path),
            Ok(v) => set(object, path, v),
            Err(message) => problems.push(Problem { path: path.clone(), message }),
        }
    }
    problems
}

/// The steps of a path: `rewards[0].percent` is `rewards`, 0, `percent`.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn steps(path: &str) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        match part.split_once('[') {
            Some((key, rest)) => {
                out.push(Step::Key(key));
                for i in rest.trim_end_matches(']').split("][") {
                    out.push(Step::Index(i.parse().unwrap_or(usize::MAX)));
                }
            }
            None => out.push(Step::Key(part)),
        }
    }
    out
}

/// The value at `path`, if there is one.
pub fn get<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    steps(path).into_iter().try_fold(object, |v, step| match step {
        Step::Key(k) => v.get(k),
        Step::Index(i) => v.get(i),
    })
}

/// Sets the value at `path`, making the objects and list items on the way.
pub fn set(object: &mut Value, path: &str, value: Value) {
    let mut at = object;
    for step in steps(path) {
        at = match step {
            Step::Key(k) => {
                if !at.is_object() {
                    *at = Value::Object(Default::default());
                }
                at.as_object_mut().expect("made an object").entry(k.to_owned()).or_insert(Value::Null)
            }
            Step::Index(i) => {
                if !at.is_array() {
                    *at = Value::Array(Vec::new());
                }
                let items = at.as_array_mut().expect("made a list");
                if items.len() <= i {
                    items.resize(i + 1, Value::Object(Default::default()));
                }
                &mut items[i]
            }
        };
    }
    *at = value;
}

/// Removes the field at `path`, if it is there.
pub fn unset(object: &mut Value, path: &str) {
    let (parent, last) = match path.rsplit_once('.') {
        Some((p, l)) => (get_mut(object, p), l),
        None => (Some(object), path),
    };
    if let Some(Value::Object(m)) = parent {
        m.remove(last);
    }
}

fn get_mut<'a>(object: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    steps(path).into_iter().try_fold(object, |v, step| match step {
        Step::Key(k) => v.get_mut(k),
        Step::Index(i) => v.get_mut(i),
    })
}

/// Whether a value says nothing: null, `false`, an empty text, list or object, or an
/// object of such values.
pub fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_blank),
        _ => false,
    }
}

/// An option of a select or a set of check boxes.
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub on: bool,
}

/// A field as a page shows it.
#[derive(Debug, Clone)]
pub struct Field {
    /// The path, which is also the input's name.
    pub name: String,
    /// The element id: the path with `.`, `[` and `]` as `-`.
    pub id: String,
    pub kind: Kind,
    pub label: String,
    pub help: Option<String>,
    pub value: String,
    pub choices: Vec<Choice>,
    pub error: Option<String>,
}

impl Field {
    pub fn is(&self, kind: &str) -> bool {
        let k = match self.kind {
            Kind::Text => "text",
            Kind::Int => "int",
            Kind::Decimal => "decimal",
            Kind::Flag => "flag",
            Kind::Choices => "choices",
            Kind::Select => "select",
            Kind::List => "list",
            Kind::Lines => "lines",
            Kind::Paragraph => "paragraph",
            Kind::Moment => "moment",
            Kind::Time => "time",
        };
        k == kind
    }
}

/// The element id of a path.
pub fn id_of(path: &str) -> String {
    format!("f-{}", path.replace(['.', '['], "-").replace(']', ""))
}

/// A field of `spec` (at list index `i`, if it has one) as shown: its value from
/// `values`, options from `options` (checked per the values), its problems joined.
pub fn field(spec: &Spec, i: usize, values: &Values, options: &[(String, String)], problems: &[Problem], t: &Catalogue) -> Field {
    let name = spec.at(i);
    let chosen = values.all(&name);
    let choices = options.iter().map(|(v, l)| Choice { value: v.clone(), label: l.clone(), on: chosen.iter().any(|c| c.trim() == v) }).collect();
    let errors: Vec<&str> = problems.iter().filter(|p| p.path == name).map(|p| p.message.as_str()).collect();
    Field {
        id: id_of(&name),
        kind: spec.kind,
        label: t.get(spec.label).to_owned(),
        help: spec.help.map(|h| t.get(h).to_owned()),
        value: if spec.kind == Kind::Flag { if chosen.is_empty() { String::new() } else { "on".into() } } else { values.one(&name).to_owned() },
        choices,
        error: (!errors.is_empty()).then(|| errors.join("; ")),
        name,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn a_form_laid_over_an_object_sets_what_it_shows_and_keeps_the_rest() {
        let t = Lang::En.words();
        let mut object = json!({"id": "x", "condition": "receipt.total > 1", "exclusive": true, "rewards": [{"type": "multi_buy", "group": 3, "free": 1}]});
        let sent = Values::of_pairs(&[
            ("name".into(), "Dairy".into()),
            ("weekdays".into(), "sat".into()),
            ("weekdays".into(), "sun".into()),
            ("rewards[1].percent".into(), "10,5".into()),
            ("lines.groups".into(), "dairy, cheese,".into()),
            ("from".into(), "2026-12-05T10:00".into()),
        ]);
        let fields: Vec<(String, Kind)> = [
            ("name", Kind::Text),
            ("weekdays", Kind::Choices),
            ("exclusive", Kind::Flag),
            ("rewards[1].percent", Kind::Decimal),
            ("lines.groups", Kind::List),
            ("from", Kind::Moment),
            ("priority", Kind::Int),
        ]
        .into_iter()
        .map(|(p, k)| (p.to_owned(), k))
        .collect();
        let riga = TimeZone::get("Europe/Riga").unwrap();
        assert_eq!(overlay(&mut object, &fields, &sent, &riga, t), vec![]);
        assert_eq!(object["condition"], "receipt.total > 1", "a field the form does not show is kept");
        assert_eq!(object["rewards"][0]["group"], 3);
        assert_eq!(object["rewards"][1]["percent"], "10.5", "a decimal comma is read as a point");
        assert_eq!((object["exclusive"].clone(), object.get("priority")), (json!(false), None), "unchecked, and empty: left out");
        assert_eq!(object["weekdays"], json!(["sat", "sun"]));
        assert_eq!(object["lines"]["groups"], json!(["dairy", "cheese"]));
        assert_eq!(object["from"], "2026-12-05T08:00:00Z", "a time in the object's zone");

        let mut back = Values::default();
        for (path, kind) in &fields {
            back.read(&object, path, *kind, &riga);
        }
        assert_eq!((back.one("from"), back.one("lines.groups")), ("2026-12-05T10:00", "dairy, cheese"));
        assert_eq!(back.all("weekdays"), ["sat", "sun"]);

        let wrong = Values::of_pairs(&[("priority".into(), "high".into()), ("from".into(), "Friday".into())]);
        let problems = overlay(&mut object, &fields, &wrong, &riga, t);
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["from", "priority"], "every problem at once, each at its field");
        assert!(is_blank(&json!({"groups": [], "min_amount": null})) && !is_blank(&json!({"uses": 3})));
        assert_eq!(id_of("rewards[0].percent"), "f-rewards-0-percent");
    }
}
