//! Configuration as code: the document `loyd apply -f FILE` loads, and the plan that
//! turns the stored configuration into the one the file describes.
//!
//! The document is a set of sections; each names its objects by id. Applying is
//! idempotent: objects equal to what is stored are left alone, new ones are created,
//! changed ones updated. Objects missing from the file are kept (a file never deletes
//! history-bearing objects such as stores by omission). Later capabilities add sections;
//! unknown sections and fields are refused so a typo never passes silently.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::AssetCode;
use crate::money::{Rounding, Scale};
use crate::org::StoreSpec;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CurrencyKind {
    /// Loyalty points ("bonuses"): earned and spent, may carry activation and lifetime.
    Points,
    /// Money-like balances: gift card value, e-wallet, internal credit, store currency.
    Money,
    /// Counted things: visits, stamps.
    Counter,
}

impl CurrencyKind {
    pub fn name(self) -> &'static str {
        match self {
            CurrencyKind::Points => "points",
            CurrencyKind::Money => "money",
            CurrencyKind::Counter => "counter",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [CurrencyKind::Points, CurrencyKind::Money, CurrencyKind::Counter].into_iter().find(|k| k.name() == name)
    }
}

/// A currency (ledger asset). Its scale fixes the minor unit forever, so it cannot
/// change once defined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurrencySpec {
    pub code: AssetCode,
    pub kind: CurrencyKind,
    /// Decimal places: 2 for EUR, 0 for whole points.
    pub scale: Scale,
    #[serde(default)]
    pub name: Option<String>,
    /// How computed amounts are rounded; default: down for points and counters (never
    /// give a fraction away), half-up for money.
    #[serde(default)]
    pub rounding: Option<Rounding>,
}

impl CurrencySpec {
    pub fn rounding(&self) -> Rounding {
        self.rounding.unwrap_or(match self.kind {
            CurrencyKind::Points | CurrencyKind::Counter => Rounding::Down,
            CurrencyKind::Money => Rounding::HalfUp,
        })
    }

    /// The spec with defaults made explicit, so a stored spec and a file spec that mean
    /// the same thing compare equal.
    pub fn normalized(&self) -> Self {
        CurrencySpec { rounding: Some(self.rounding()), ..self.clone() }
    }
}

/// The whole configuration document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigDocument {
    #[serde(default)]
    pub currencies: Vec<CurrencySpec>,
    #[serde(default)]
    pub stores: Vec<StoreSpec>,
}

/// A problem found in a document, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigError {
    /// Where: `stores[2].name`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
}

/// One step of a plan: what will be created or changed, shown to the operator before
/// (`--dry-run`) or after applying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "object", rename_all = "snake_case")]
pub enum PlanStep {
    Currency { action: Action, before: Option<CurrencySpec>, after: CurrencySpec },
    Store { action: Action, before: Option<StoreSpec>, after: StoreSpec },
}

impl fmt::Display for PlanStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (action, what, before, after) = match self {
            PlanStep::Currency { action, before, after } => (
                action,
                format!("currency {}", after.code),
                before.as_ref().map(|b| format!("{b:?}")),
                format!("{after:?}"),
            ),
            PlanStep::Store { action, before, after } => (
                action,
                format!("store {}", after.id),
                before.as_ref().map(|b| format!("{b:?}")),
                format!("{after:?}"),
            ),
        };
        match (action, before) {
            (Action::Create, _) => write!(f, "+ create {what}: {after}"),
            (Action::Update, Some(b)) => write!(f, "~ update {what}:\n    - {b}\n    + {after}"),
            (Action::Update, None) => write!(f, "~ update {what}: {after}"),
        }
    }
}

/// What is stored now, in the document's own terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigSnapshot {
    pub currencies: Vec<CurrencySpec>,
    pub stores: Vec<StoreSpec>,
}

impl ConfigDocument {
    /// Checks the document on its own: unique ids, valid values.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mut codes = BTreeSet::new();
        for (i, c) in self.currencies.iter().enumerate() {
            if !codes.insert(c.code.clone()) {
                errors.push(ConfigError {
                    path: format!("currencies[{i}].code"),
                    message: format!("currency '{}' is defined twice", c.code),
                });
            }
        }
        let mut ids = BTreeSet::new();
        for (i, s) in self.stores.iter().enumerate() {
            if !ids.insert(s.id.clone()) {
                errors.push(ConfigError {
                    path: format!("stores[{i}].id"),
                    message: format!("store '{}' is defined twice", s.id),
                });
            }
            if let Err(e) = s.validate() {
                errors.push(ConfigError { path: format!("stores[{i}].name"), message: e.to_string() });
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    /// The steps that turn `current` into this document. Empty when nothing changes.
    pub fn plan(&self, current: &ConfigSnapshot) -> Result<Vec<PlanStep>, Vec<ConfigError>> {
        self.validate()?;
        let mut errors = Vec::new();
        let mut steps = Vec::new();

        let stored: BTreeMap<&AssetCode, &CurrencySpec> = current.currencies.iter().map(|c| (&c.code, c)).collect();
        for (i, c) in self.currencies.iter().enumerate() {
            let after = c.normalized();
            match stored.get(&c.code) {
                None => steps.push(PlanStep::Currency { action: Action::Create, before: None, after }),
                Some(before) => {
                    let before = before.normalized();
                    if before.scale != after.scale || before.kind != after.kind {
                        errors.push(ConfigError {
                            path: format!("currencies[{i}]"),
                            message: format!(
                                "currency '{}' is stored as {} with scale {}; kind and scale cannot change \
                                 (balances are kept in its minor units): define a new currency instead",
                                c.code,
                                before.kind.name(),
                                before.scale.places()
                            ),
                        });
                    } else if before != after {
                        steps.push(PlanStep::Currency { action: Action::Update, before: Some(before), after });
                    }
                }
            }
        }

        let stored: BTreeMap<_, &StoreSpec> = current.stores.iter().map(|s| (&s.id, s)).collect();
        for s in &self.stores {
            match stored.get(&s.id) {
                None => steps.push(PlanStep::Store { action: Action::Create, before: None, after: s.clone() }),
                Some(before) if *before != s => steps.push(PlanStep::Store {
                    action: Action::Update,
                    before: Some((*before).clone()),
                    after: s.clone(),
                }),
                Some(_) => {}
            }
        }
        if errors.is_empty() { Ok(steps) } else { Err(errors) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::StoreCode;
    use crate::org::TimeZoneName;

    fn currency(code: &str, kind: CurrencyKind, places: u8) -> CurrencySpec {
        CurrencySpec { code: AssetCode::parse(code).unwrap(), kind, scale: Scale::new(places).unwrap(), name: None, rounding: None }
    }

    fn store(id: &str, name: &str) -> StoreSpec {
        StoreSpec { id: StoreCode::parse(id).unwrap(), name: name.into(), format: None, timezone: TimeZoneName::utc() }
    }

    #[test]
    fn a_document_equal_to_what_is_stored_plans_nothing() {
        let doc = ConfigDocument { currencies: vec![currency("bonus", CurrencyKind::Points, 0)], stores: vec![store("a", "A")] };
        let snapshot = ConfigSnapshot {
            currencies: vec![currency("bonus", CurrencyKind::Points, 0).normalized()],
            stores: vec![store("a", "A")],
        };
        assert_eq!(doc.plan(&snapshot).unwrap(), vec![]);
    }

    #[test]
    fn new_objects_are_created_and_changed_ones_updated() {
        let doc = ConfigDocument { currencies: vec![], stores: vec![store("a", "A2"), store("b", "B")] };
        let snapshot = ConfigSnapshot { currencies: vec![], stores: vec![store("a", "A")] };
        let steps = doc.plan(&snapshot).unwrap();
        assert_eq!(steps.len(), 2);
        assert!(matches!(&steps[0], PlanStep::Store { action: Action::Update, after, .. } if after.name == "A2"));
        assert!(matches!(&steps[1], PlanStep::Store { action: Action::Create, after, .. } if after.id.as_str() == "b"));
    }

    #[test]
    fn a_currency_scale_cannot_change_once_stored() {
        let doc = ConfigDocument { currencies: vec![currency("EUR", CurrencyKind::Money, 3)], stores: vec![] };
        let snapshot = ConfigSnapshot { currencies: vec![currency("EUR", CurrencyKind::Money, 2)], stores: vec![] };
        let errors = doc.plan(&snapshot).unwrap_err();
        assert_eq!(errors[0].path, "currencies[0]");
        assert!(errors[0].message.contains("cannot change"));
    }

    #[test]
    fn duplicate_ids_are_reported_with_their_path() {
        let doc = ConfigDocument { currencies: vec![], stores: vec![store("a", "A"), store("a", "B")] };
        let errors = doc.validate().unwrap_err();
        assert_eq!(errors[0].path, "stores[1].id");
    }
}
