//! Configuration as code: the document `loyd apply -f FILE` loads, and the plan that
//! turns the stored configuration into the one the file describes.
//!
//! The document is a set of sections; each names its objects by id. Applying is
//! idempotent: objects equal to what is stored are left alone, new ones are created,
//! changed ones updated. By default ([`Mode::Merge`]) objects missing from the file are
//! kept, so a file may carry one campaign; [`Mode::Replace`] (`apply --prune`, and a
//! rollback) makes the file the whole configuration and removes what it lacks — the
//! store refuses removals of what still carries value. Unknown sections and fields are
//! refused so a typo never passes silently.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use crate::org::StoreSpec;
use crate::said::{self, Said};
use crate::program::{CampaignSpec, CardSeriesSpec, CounterSpec, CouponSeriesSpec, CatalogueSpec, MessageSpec, OfferSpec, SegmentSpec, TierSpec, WebhookSpec};

/// The document's types are the program file's, in [`crate::program::spec`].
pub use crate::program::{ConfigDocument, ConfigError, CurrencyKind, CurrencySpec};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Remove,
}

/// How a file relates to the stored configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The file's objects are created or updated; objects it does not name are kept.
    #[default]
    Merge,
    /// The file is the whole configuration: objects it does not name are removed.
    Replace,
    /// The file names objects to remove (only their ids count); the rest is kept.
    Remove,
}

/// One step of a plan: what will be created or changed, shown to the operator before
/// (`--dry-run`) or after applying. `before` and `after` are the objects as JSON
/// (`before` is absent on a creation, `after` on a removal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanStep {
    pub action: Action,
    /// The section's object: `currency`, `store`, `card_series`, `counter`, `tier`,
    /// `coupon_series`, `segment`, `restrictions`, `fraud`, `campaign`, `webhook`, `message`,
    /// `email`, `sms`, `viber`, `whatsapp` or `telegram`.
    pub object: &'static str,
    pub id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

impl fmt::Display for PlanStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let after = self.after.clone().unwrap_or(serde_json::Value::Null);
        match (self.action, &self.before) {
            (Action::Remove, _) => write!(f, "- remove {} {}", self.object, self.id),
            (Action::Create, _) => {
                // Only the fields that are set: defaults would drown what was written.
                let shown = match &after {
                    serde_json::Value::Object(m) => serde_json::Value::Object(
                        m.iter()
                            .filter(|(_, v)| match v {
                                serde_json::Value::Null => false,
                                serde_json::Value::Array(a) => !a.is_empty(),
                                serde_json::Value::Object(o) => !o.is_empty(),
                                serde_json::Value::Bool(b) => *b,
                                _ => true,
                            })
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    ),
                    other => other.clone(),
                };
                write!(f, "+ create {} {}: {}", self.object, self.id, shown)
            }
            (Action::Update, Some(before)) => {
                write!(f, "~ update {} {}:", self.object, self.id)?;
                // Show only the fields that change, down to the field inside a list.
                let mut changed = Vec::new();
                changes(before, &after, String::new(), &mut changed);
                for (path, old, new) in changed {
                    write!(f, "\n    {path}: {old} -> {new}")?;
                }
                Ok(())
            }
            (Action::Update, None) => write!(f, "~ update {} {}: {after}", self.object, self.id),
        }
    }
}

/// One field that differs between two versions of an object: its path in the object
/// (`rewards[0].percent`) and its values before and after as JSON text (`(none)` when
/// absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub path: String,
    pub before: String,
    pub after: String,
}

/// The fields that differ between two versions of one object, as a diff shows them.
pub fn field_changes(before: &serde_json::Value, after: &serde_json::Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    changes(before, after, String::new(), &mut out);
    out.into_iter().map(|(path, before, after)| FieldChange { path, before, after }).collect()
}

/// The leaves that differ between two JSON values, with their paths
/// (`rewards[0].group`); lists of objects are compared item by item (an item added or
/// removed is one change); lists of plain values of different lengths, and values of
/// different kinds, are one change.
fn changes(before: &serde_json::Value, after: &serde_json::Value, path: String, out: &mut Vec<(String, String, String)>) {
    use serde_json::Value;
    let show = |v: Option<&Value>| v.map(|v| v.to_string()).unwrap_or_else(|| "(none)".into());
    match (before, after) {
        _ if before == after => {}
        (Value::Object(b), Value::Object(a)) => {
            let keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
            for k in keys {
                let sub = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                match (b.get(k), a.get(k)) {
                    (Some(x), Some(y)) => changes(x, y, sub, out),
                    (x, y) if x != y => out.push((sub, show(x), show(y))),
                    _ => {}
                }
            }
        }
        // Lists of objects item by item, items added or removed at the end on their
        // own; a list of plain values that changed length is one change.
        (Value::Array(b), Value::Array(a)) if b.len() == a.len() || b.iter().chain(a).all(Value::is_object) => {
            for (i, (x, y)) in b.iter().zip(a).enumerate() {
                changes(x, y, format!("{path}[{i}]"), out);
            }
            for (i, added) in a.iter().enumerate().skip(b.len()) {
                out.push((format!("{path}[{i}]"), show(None), added.to_string()));
            }
            for (i, removed) in b.iter().enumerate().skip(a.len()) {
                out.push((format!("{path}[{i}]"), removed.to_string(), show(None)));
            }
        }
        _ => out.push((path, before.to_string(), after.to_string())),
    }
}

/// One section of the document: its objects and how each is named.
trait Section: Serialize + Clone + PartialEq {
    const OBJECT: &'static str;
    const NAME: &'static str;
    fn key(&self) -> String;
}

impl Section for CurrencySpec {
    const OBJECT: &'static str = "currency";
    const NAME: &'static str = "currencies";
    fn key(&self) -> String {
        self.code.to_string()
    }
}

impl Section for StoreSpec {
    const OBJECT: &'static str = "store";
    const NAME: &'static str = "stores";
    fn key(&self) -> String {
        self.id.to_string()
    }
}

impl Section for CardSeriesSpec {
    const OBJECT: &'static str = "card_series";
    const NAME: &'static str = "card_series";
    fn key(&self) -> String {
        self.id.to_string()
    }
}

impl Section for CounterSpec {
    const OBJECT: &'static str = "counter";
    const NAME: &'static str = "counters";
    fn key(&self) -> String {
        self.id.to_string()
    }
}

impl Section for TierSpec {
    const OBJECT: &'static str = "tier";
    const NAME: &'static str = "tiers";
    fn key(&self) -> String {
        self.id.to_string()
    }
}

impl Section for CouponSeriesSpec {
    const OBJECT: &'static str = "coupon_series";
    const NAME: &'static str = "coupon_series";
    fn key(&self) -> String {
        self.id.to_string()
    }
}

impl Section for SegmentSpec {
    const OBJECT: &'static str = "segment";
    const NAME: &'static str = "segments";
    fn key(&self) -> String {
        self.id.to_string()
    }
}

impl Section for WebhookSpec {
    const OBJECT: &'static str = "webhook";
    const NAME: &'static str = "webhooks";
    fn key(&self) -> String {
        self.id.to_string()
    }
}

impl Section for MessageSpec {
    const OBJECT: &'static str = "message";
    const NAME: &'static str = "messages";
    fn key(&self) -> String {
        self.id.to_string()
    }
}

impl Section for CatalogueSpec {
    const OBJECT: &'static str = "reward";
    const NAME: &'static str = "catalogue";
    fn key(&self) -> String {
        self.id.to_string()
    }
}

impl Section for OfferSpec {
    const OBJECT: &'static str = "offer";
    const NAME: &'static str = "offers";
    fn key(&self) -> String {
        self.id.to_string()
    }
}

impl Section for CampaignSpec {
    const OBJECT: &'static str = "campaign";
    const NAME: &'static str = "campaigns";
    fn key(&self) -> String {
        self.id.to_string()
    }
}

fn duplicates<T: Section>(items: &[T], errors: &mut Vec<ConfigError>) {
    let mut seen = BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        if !seen.insert(item.key()) {
            errors.push(ConfigError::said(format!("{}[{i}]", T::NAME), said::defined_twice(T::OBJECT, item.key())));
        }
    }
}

fn to_json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// Upserts `file`'s objects into `current` (kept in order, new ones appended) and
/// records a step for each object that changes. With [`Mode::Replace`] the result is the
/// file's objects in the file's order, and each stored object the file lacks is a
/// removal.
fn merge_section<T: Section>(current: &[T], file: &[T], mode: Mode, steps: &mut Vec<PlanStep>) -> Vec<T> {
    if mode == Mode::Remove {
        let (gone, kept): (Vec<&T>, Vec<&T>) = current.iter().partition(|c| file.iter().any(|f| f.key() == c.key()));
        for g in gone {
            steps.push(PlanStep { action: Action::Remove, object: T::OBJECT, id: g.key(), before: Some(to_json(g)), after: None });
        }
        return kept.into_iter().cloned().collect();
    }
    let mut merged: Vec<T> = current.to_vec();
    if mode == Mode::Replace {
        for gone in current.iter().filter(|c| !file.iter().any(|f| f.key() == c.key())) {
            let before = Some(to_json(gone));
            steps.push(PlanStep { action: Action::Remove, object: T::OBJECT, id: gone.key(), before, after: None });
        }
    }
    for item in file {
        match merged.iter().position(|m| m.key() == item.key()) {
            Some(i) if merged[i] == *item => {}
            Some(i) => {
                steps.push(PlanStep {
                    action: Action::Update,
                    object: T::OBJECT,
                    id: item.key(),
                    before: Some(to_json(&merged[i])),
                    after: Some(to_json(item)),
                });
                merged[i] = item.clone();
            }
            None => {
                let after = Some(to_json(item));
                steps.push(PlanStep { action: Action::Create, object: T::OBJECT, id: item.key(), before: None, after });
                merged.push(item.clone());
            }
        }
    }
    if mode == Mode::Replace { file.to_vec() } else { merged }
}

/// A section that is one object (`[email]`, `[fraud]` …), named by the section: the
/// file's replaces the stored one whole; with [`Mode::Replace`] a file without it
/// removes it, with [`Mode::Remove`] a file naming it does.
fn merge_one<T: Serialize + Clone + PartialEq>(name: &'static str, current: &Option<T>, file: &Option<T>, mode: Mode, steps: &mut Vec<PlanStep>) -> Option<T> {
    let step = |action, before: Option<&T>, after: Option<&T>| PlanStep { action, object: name, id: name.to_owned(), before: before.map(to_json), after: after.map(to_json) };
    match (current, file, mode) {
        (Some(c), Some(_), Mode::Remove) | (Some(c), None, Mode::Replace) => {
            steps.push(step(Action::Remove, Some(c), None));
            None
        }
        (_, None, _) | (None, Some(_), Mode::Remove) => current.clone(),
        (Some(c), Some(f), _) if c == f => current.clone(),
        (c, Some(f), _) => {
            steps.push(step(if c.is_some() { Action::Update } else { Action::Create }, c.as_ref(), Some(f)));
            Some(f.clone())
        }
    }
}

/// The document `file` makes of `current` in `mode`, with the steps (none when
/// nothing changes). Checks nothing: [`ConfigDocument::plan`] does.
fn combine(current: &ConfigDocument, file: &ConfigDocument, mode: Mode) -> (ConfigDocument, Vec<PlanStep>) {
    let mut steps = Vec::new();
    let merged = ConfigDocument {
        currencies: merge_section(&current.currencies, &file.currencies, mode, &mut steps),
        stores: merge_section(&current.stores, &file.stores, mode, &mut steps),
        card_series: merge_section(&current.card_series, &file.card_series, mode, &mut steps),
        counters: merge_section(&current.counters, &file.counters, mode, &mut steps),
        tiers: merge_section(&current.tiers, &file.tiers, mode, &mut steps),
        coupon_series: merge_section(&current.coupon_series, &file.coupon_series, mode, &mut steps),
        segments: merge_section(&current.segments, &file.segments, mode, &mut steps),
        campaigns: merge_section(&current.campaigns, &file.campaigns, mode, &mut steps),
        webhooks: merge_section(&current.webhooks, &file.webhooks, mode, &mut steps),
        messages: merge_section(&current.messages, &file.messages, mode, &mut steps),
        catalogue: merge_section(&current.catalogue, &file.catalogue, mode, &mut steps),
        offers: merge_section(&current.offers, &file.offers, mode, &mut steps),
        email: merge_one("email", &current.email, &file.email, mode, &mut steps),
        sms: merge_one("sms", &current.sms, &file.sms, mode, &mut steps),
        viber: merge_one("viber", &current.viber, &file.viber, mode, &mut steps),
        whatsapp: merge_one("whatsapp", &current.whatsapp, &file.whatsapp, mode, &mut steps),
        telegram: merge_one("telegram", &current.telegram, &file.telegram, mode, &mut steps),
        portal: merge_one("portal", &current.portal, &file.portal, mode, &mut steps),
        retention: merge_one("retention", &current.retention, &file.retention, mode, &mut steps),
        restrictions: merge_one("restrictions", &current.restrictions, &file.restrictions, mode, &mut steps),
        fraud: merge_one("fraud", &current.fraud, &file.fraud, mode, &mut steps),
    };
    (merged, steps)
}

/// What changes from configuration `from` to configuration `to` (two stored versions,
/// say): every object created, updated or removed.
pub fn diff(from: &ConfigDocument, to: &ConfigDocument) -> Vec<PlanStep> {
    combine(from, to, Mode::Replace).1
}

/// The sections whose objects are edited one at a time (the admin API's
/// `/v1/admin/config/{section}/{id}`), with the field that names each object; `""`
/// for a section that is one object (`[email]`), named by the section itself
/// (`/v1/admin/config/email/email`).
pub const SECTIONS: [(&str, &str); 19] = [
    ("currencies", "code"),
    ("stores", "id"),
    ("card_series", "id"),
    ("counters", "id"),
    ("tiers", "id"),
    ("coupon_series", "id"),
    ("segments", "id"),
    ("campaigns", "id"),
    ("webhooks", "id"),
    ("messages", "id"),
    ("catalogue", "id"),
    ("offers", "id"),
    ("email", ""),
    ("sms", ""),
    ("viber", ""),
    ("whatsapp", ""),
    ("telegram", ""),
    ("portal", ""),
    ("retention", ""),
];

/// Whether `section` is one object named by the section ([`SECTIONS`]).
pub fn is_single(section: &str) -> bool {
    key_field(section) == Some("")
}

fn key_field(section: &str) -> Option<&'static str> {
    SECTIONS.iter().find(|(s, _)| *s == section).map(|(_, k)| *k)
}

fn problem(path: impl Into<String>, said: Said) -> Vec<ConfigError> {
    vec![ConfigError::said(path, said)]
}

/// Problems of a one-object document ([`ConfigDocument::of_object`]) with their paths
/// inside the object: `campaigns[0].rewards[1].percent` is `rewards[1].percent`, and
/// the object as a whole is `""`. Problems elsewhere (another object the change breaks)
/// keep their own path.
pub fn within_object(section: &str, errors: Vec<ConfigError>) -> Vec<ConfigError> {
    let prefix = if is_single(section) { section.to_owned() } else { format!("{section}[0]") };
    errors
        .into_iter()
        .map(|mut e| {
            if let Some(rest) = e.path.strip_prefix(&prefix).filter(|r| r.is_empty() || r.starts_with(['.', '['])) {
                e.path = rest.strip_prefix('.').unwrap_or(rest).to_owned();
            }
            e
        })
        .collect()
}

/// One object at a time, as the console edits it field by field.
impl ConfigDocument {
    /// The objects of `section` as JSON, in order; `None` for a section not in
    /// [`SECTIONS`].
    pub fn objects(&self, section: &str) -> Option<Vec<serde_json::Value>> {
        key_field(section)?;
        let mut doc = to_json(self);
        Some(match doc.get_mut(section).map(serde_json::Value::take) {
            Some(serde_json::Value::Array(items)) => items,
            Some(one @ serde_json::Value::Object(_)) => vec![one],
            _ => Vec::new(),
        })
    }

    /// The object of `section` named `id`, as JSON.
    pub fn object(&self, section: &str, id: &str) -> Option<serde_json::Value> {
        let field = key_field(section)?;
        if field.is_empty() {
            return self.objects(section)?.pop().filter(|_| id == section);
        }
        self.objects(section)?.into_iter().find(|o| o.get(field).and_then(serde_json::Value::as_str) == Some(id))
    }

    /// A document of one object of `section` named `id`, read from JSON. The object may
    /// leave its id out; another id is refused (an object is renamed by removing it and
    /// creating another). A shape problem names its field in the object
    /// (`rewards[0].percent`).
    pub fn of_object(section: &str, id: &str, mut object: serde_json::Value) -> Result<ConfigDocument, Vec<ConfigError>> {
        let Some(field) = key_field(section) else {
            let known: Vec<&str> = SECTIONS.iter().map(|(s, _)| *s).collect();
            return Err(problem("", said::unknown_section(section, known.join(", "))));
        };
        let Some(map) = object.as_object_mut() else { return Err(problem("", said::object_not_json())) };
        if field.is_empty() {
            // One object named by its section: `email/email`.
            if id != section {
                return Err(problem("", said::single_object(section)));
            }
            let doc = serde_json::json!({ section: object });
            return serde_path_to_error::deserialize::<_, ConfigDocument>(doc).map_err(|e| {
                let path = e.path().to_string();
                within_object(section, vec![ConfigError::text(path, e.into_inner().to_string())])
            });
        }
        match map.get(field) {
            None => {
                map.insert(field.to_owned(), serde_json::Value::String(id.to_owned()));
            }
            Some(serde_json::Value::String(given)) if given == id => {}
            Some(_) => return Err(problem(field, said::no_rename(id))),
        }
        let doc = serde_json::json!({ section: [object] });
        serde_path_to_error::deserialize::<_, ConfigDocument>(doc).map_err(|e| {
            let path = e.path().to_string();
            within_object(section, vec![ConfigError::text(path, e.into_inner().to_string())])
        })
    }

    /// The object of `section` named `id` with a JSON merge patch (RFC 7396) applied, as
    /// a one-object document: fields the patch gives are set, `null` takes a field back
    /// to its default, lists are replaced whole. `None` when there is no such object.
    pub fn patched_object(&self, section: &str, id: &str, patch: &serde_json::Value) -> Option<Result<ConfigDocument, Vec<ConfigError>>> {
        let mut object = self.object(section, id)?;
        json_patch::merge(&mut object, patch);
        Some(Self::of_object(section, id, object))
    }
}

/// Where an object of the merged document sits in the file, for error paths.
fn file_path<T: Section>(merged: &[T], file: &[T], index: usize) -> String {
    let Some(key) = merged.get(index).map(Section::key) else { return format!("{}[{index}]", T::NAME) };
    match file.iter().position(|f| f.key() == key) {
        Some(j) => format!("{}[{j}]", T::NAME),
        None => format!("{} '{key}' (stored, not in this file)", T::OBJECT),
    }
}

impl ConfigDocument {
    /// Checks the document on its own: unique ids, valid values.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut errors = Vec::new();
        duplicates(&self.currencies, &mut errors);
        duplicates(&self.stores, &mut errors);
        duplicates(&self.card_series, &mut errors);
        duplicates(&self.counters, &mut errors);
        duplicates(&self.tiers, &mut errors);
        duplicates(&self.coupon_series, &mut errors);
        duplicates(&self.segments, &mut errors);
        duplicates(&self.campaigns, &mut errors);
        duplicates(&self.webhooks, &mut errors);
        duplicates(&self.messages, &mut errors);
        duplicates(&self.catalogue, &mut errors);
        duplicates(&self.offers, &mut errors);
        for (i, s) in self.stores.iter().enumerate() {
            if let Err(e) = s.validate() {
                let path = format!("stores[{i}].name");
                errors.push(match e.said() {
                    Some(said) => ConfigError::said(path, said),
                    None => ConfigError::text(path, e.to_string()),
                });
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    /// Merges this file into the stored configuration `current`: the new full
    /// configuration and the steps that lead to it (none when nothing changes). The
    /// result must compile as a program; every problem is reported with its path in
    /// this file.
    pub fn merge_into(&self, current: &ConfigDocument) -> Result<(ConfigDocument, Vec<PlanStep>), Vec<ConfigError>> {
        self.plan(current, Mode::Merge)
    }

    /// [`ConfigDocument::merge_into`] in either mode: with [`Mode::Replace`] the result is
    /// this file alone, and the steps include removals.
    pub fn plan(&self, current: &ConfigDocument, mode: Mode) -> Result<(ConfigDocument, Vec<PlanStep>), Vec<ConfigError>> {
        self.validate()?;
        let mut errors = Vec::new();
        for (i, c) in self.currencies.iter().enumerate() {
            if let Some(before) = current.currencies.iter().find(|s| s.code == c.code)
                && (before.scale != c.scale || before.kind != c.kind)
            {
                errors.push(ConfigError::said(
                    format!("currencies[{i}]"),
                    said::currency_fixed(&c.code, before.kind.name(), before.scale.places()),
                ));
            }
        }
        let (merged, steps) = combine(current, self, mode);
        // A campaign's status moves only as its lifecycle allows, whoever sends it.
        for (i, c) in merged.campaigns.iter().enumerate() {
            if let Some(before) = current.campaigns.iter().find(|b| b.id == c.id)
                && let Err(why) = before.status.may_become(c.status)
            {
                errors.push(ConfigError::said(format!("{}.status", file_path(&merged.campaigns, &self.campaigns, i)), why));
            }
        }
        for (i, s) in merged.stores.iter().enumerate() {
            let money = merged.currencies.iter().find(|c| c.code == s.currency).map(|c| c.kind);
            if money != Some(CurrencyKind::Money) {
                errors.push(ConfigError::said(
                    format!("{}.currency", file_path(&merged.stores, &self.stores, i)),
                    said::store_currency_money(&s.currency),
                ));
            }
        }
        if let Err(compile) = crate::program::Program::compile(&merged, 0) {
            for e in compile {
                errors.push(ConfigError { path: self.file_error_path(&merged, &e.path), ..e });
            }
        }
        if errors.is_empty() { Ok((merged, steps)) } else { Err(errors) }
    }

    /// Rewrites a path into the merged document (`campaigns[4].rewards[0]`) into a path
    /// into this file.
    fn file_error_path(&self, merged: &ConfigDocument, path: &str) -> String {
        let Some((head, rest)) = path.split_once(']') else { return path.to_owned() };
        let Some((section, index)) = head.split_once('[') else { return path.to_owned() };
        let Ok(i) = index.parse::<usize>() else { return path.to_owned() };
        let prefix = match section {
            "currencies" => file_path(&merged.currencies, &self.currencies, i),
            "stores" => file_path(&merged.stores, &self.stores, i),
            "card_series" => file_path(&merged.card_series, &self.card_series, i),
            "counters" => file_path(&merged.counters, &self.counters, i),
            "tiers" => file_path(&merged.tiers, &self.tiers, i),
            "coupon_series" => file_path(&merged.coupon_series, &self.coupon_series, i),
            "segments" => file_path(&merged.segments, &self.segments, i),
            "campaigns" => file_path(&merged.campaigns, &self.campaigns, i),
            "webhooks" => file_path(&merged.webhooks, &self.webhooks, i),
            "messages" => file_path(&merged.messages, &self.messages, i),
            "catalogue" => file_path(&merged.catalogue, &self.catalogue, i),
            "offers" => file_path(&merged.offers, &self.offers, i),
            _ => return path.to_owned(),
        };
        format!("{prefix}{rest}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AssetCode, StoreCode};
    use crate::money::Scale;
    use crate::org::TimeZoneName;

    fn currency(code: &str, kind: CurrencyKind, places: u8) -> CurrencySpec {
        CurrencySpec::new(AssetCode::parse(code).unwrap(), kind, Scale::new(places).unwrap())
    }

    fn store(id: &str, name: &str) -> StoreSpec {
        StoreSpec {
            id: StoreCode::parse(id).unwrap(),
            name: name.into(),
            format: None,
            timezone: TimeZoneName::utc(),
            currency: AssetCode::parse("EUR").unwrap(),
            partner: None,
            offline_days: None,
            address: None,
            hours: None,
        }
    }

    fn eur() -> CurrencySpec {
        currency("EUR", CurrencyKind::Money, 2)
    }

    #[test]
    fn a_file_moves_a_campaigns_status_only_as_its_lifecycle_allows() {
        let with = |status: &str| {
            let campaign = serde_json::json!({"id": "w", "status": status, "rewards": [{"type": "discount", "percent": "5"}]});
            let doc = serde_json::json!({"currencies": [{"code": "EUR", "kind": "money", "scale": 2}], "campaigns": [campaign]});
            serde_json::from_value::<ConfigDocument>(doc).unwrap()
        };
        let (archived, _) = with("archived").merge_into(&ConfigDocument::default()).unwrap();
        let refused = with("active").merge_into(&archived).unwrap_err();
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(refused[0].path, "campaigns[0].status");
        assert_eq!(refused[0].said, Some(said::archived_stays()));
        let (active, _) = with("active").merge_into(&with("draft").merge_into(&ConfigDocument::default()).unwrap().0).unwrap();
        assert!(with("draft").merge_into(&active).is_err(), "a campaign that has run is no draft again");
        assert!(with("paused").merge_into(&active).is_ok() && with("active").merge_into(&active).is_ok());
    }

    #[test]
    fn a_document_equal_to_what_is_stored_plans_nothing() {
        let doc = ConfigDocument { currencies: vec![eur()], stores: vec![store("a", "A")], ..Default::default() };
        let (merged, steps) = doc.merge_into(&doc).unwrap();
        assert!(steps.is_empty());
        assert_eq!(merged, doc);
    }

    #[test]
    fn new_objects_are_created_changed_ones_updated_and_missing_ones_kept() {
        let current = ConfigDocument { currencies: vec![eur()], stores: vec![store("a", "A"), store("z", "Z")], ..Default::default() };
        let file = ConfigDocument { stores: vec![store("a", "A2"), store("b", "B")], ..Default::default() };
        let (merged, steps) = file.merge_into(&current).unwrap();
        assert_eq!(steps.len(), 2);
        assert_eq!((steps[0].action, steps[0].id.as_str()), (Action::Update, "a"));
        assert_eq!((steps[1].action, steps[1].id.as_str()), (Action::Create, "b"));
        assert_eq!(merged.stores.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), vec!["a", "z", "b"]);
        assert!(steps[0].to_string().contains("name: \"A\" -> \"A2\""), "{}", steps[0]);
    }

    #[test]
    fn a_currency_scale_cannot_change_once_stored() {
        let current = ConfigDocument { currencies: vec![eur()], ..Default::default() };
        let file = ConfigDocument { currencies: vec![currency("EUR", CurrencyKind::Money, 3)], ..Default::default() };
        let errors = file.merge_into(&current).unwrap_err();
        assert_eq!(errors[0].path, "currencies[0]");
        assert!(errors[0].message.contains("cannot change"));
    }

    #[test]
    fn a_store_needs_a_defined_money_currency() {
        let file = ConfigDocument { stores: vec![store("a", "A")], ..Default::default() };
        let errors = file.merge_into(&ConfigDocument::default()).unwrap_err();
        assert_eq!(errors[0].path, "stores[0].currency");
    }

    #[test]
    fn duplicate_ids_are_reported_with_their_path() {
        let doc = ConfigDocument { stores: vec![store("a", "A"), store("a", "B")], ..Default::default() };
        let errors = doc.validate().unwrap_err();
        assert_eq!(errors[0].path, "stores[1]");
    }
    #[test]
    fn replacing_removes_what_the_file_lacks_and_keeps_the_files_order() {
        let current = ConfigDocument { currencies: vec![eur()], stores: vec![store("a", "A"), store("z", "Z")], ..Default::default() };
        let file = ConfigDocument { currencies: vec![eur()], stores: vec![store("b", "B"), store("a", "A")], ..Default::default() };
        let (merged, steps) = file.plan(&current, Mode::Replace).unwrap();
        assert_eq!(merged, file);
        let shown: Vec<String> = steps.iter().map(|s| s.to_string()).collect();
        assert_eq!(shown[0], "- remove store z");
        assert!(shown[1].starts_with("+ create store b"), "{shown:?}");
        assert_eq!(steps.len(), 2);
        // Merging the same file removes nothing.
        let (_, merged_steps) = file.plan(&current, Mode::Merge).unwrap();
        assert!(merged_steps.iter().all(|s| s.action != Action::Remove));
    }

    #[test]
    fn a_diff_between_two_configurations_names_every_object_created_updated_and_removed() {
        let old = ConfigDocument { currencies: vec![eur()], stores: vec![store("a", "A"), store("z", "Z")], ..Default::default() };
        let new = ConfigDocument { currencies: vec![eur()], stores: vec![store("a", "A2"), store("b", "B")], ..Default::default() };
        let steps = diff(&old, &new);
        let actions: Vec<(Action, &str)> = steps.iter().map(|s| (s.action, s.id.as_str())).collect();
        assert_eq!(actions, vec![(Action::Remove, "z"), (Action::Update, "a"), (Action::Create, "b")]);
        assert!(diff(&new, &new).is_empty());
    }

    #[test]
    fn one_object_is_read_patched_and_removed_with_problems_at_its_fields() {
        let current = ConfigDocument { currencies: vec![eur()], stores: vec![store("a", "A"), store("z", "Z")], ..Default::default() };
        assert_eq!(current.object("stores", "z").unwrap()["name"], "Z");
        assert_eq!(current.objects("gadgets"), None);
        // A patch changes the fields it gives and keeps the rest.
        let doc = current.patched_object("stores", "z", &serde_json::json!({"name": "Zed", "offline_days": 7})).unwrap().unwrap();
        let (merged, steps) = doc.plan(&current, Mode::Merge).unwrap();
        assert_eq!((merged.stores[1].name.as_str(), merged.stores[1].offline_days, steps.len()), ("Zed", Some(7), 1));
        // Problems name the field inside the object.
        let err = ConfigDocument::of_object("stores", "z", serde_json::json!({"name": "Z", "offline_days": "soon"})).unwrap_err();
        assert_eq!(err[0].path, "offline_days");
        let err = ConfigDocument::of_object("stores", "z", serde_json::json!({"id": "y", "name": "Z"})).unwrap_err();
        assert_eq!(err[0].path, "id");
        let errs = within_object("campaigns", vec![ConfigError::text("campaigns[0].rewards[1].percent", "x")]);
        assert_eq!(errs[0].path, "rewards[1].percent");
        // Removal names only the object; the rest stays.
        let gone = ConfigDocument::of_object("stores", "a", current.object("stores", "a").unwrap()).unwrap();
        let (merged, steps) = gone.plan(&current, Mode::Remove).unwrap();
        assert_eq!(merged.stores, vec![store("z", "Z")]);
        assert_eq!((steps.len(), steps[0].action), (1, Action::Remove));
        assert_eq!(merged.currencies, current.currencies);
    }
}
