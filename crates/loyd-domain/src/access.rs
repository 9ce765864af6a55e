//! Who may do what: staff roles, the permissions they grant, and the contact-data rules
//! (e-mail, consent channels) that the CRM checks at the edge.
//!
//! Permissions are coarse verbs on objects; each admin route needs exactly one (the
//! table lives next to the routes, in `loyd-api`). A route without an entry is denied:
//! deny by default. Store managers are further limited to their stores wherever an
//! object belongs to a store (receipts, failures, purchase history).

use serde::{Deserialize, Serialize};

use crate::program::CardKind;
use crate::said::{self, Said};
use crate::text::normalize_email;

/// A staff role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including staff and keys.
    Admin,
    /// Programs, campaigns, coupons; reads customers' profiles but not their contact data.
    Marketer,
    /// Reads reports, receipts and failures; customers without contact data.
    Analyst,
    /// Serves customers and reads receipts and failures of their own stores only.
    StoreManager,
    /// Customer care: customers, cards, codes, CRM, goodwill adjustments.
    Support,
    /// Reads everything that is a record (audit log, ledger audit, configuration,
    /// failures, receipts) but changes nothing and sees no contact data.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 6] = [Role::Admin, Role::Marketer, Role::Analyst, Role::StoreManager, Role::Support, Role::Auditor];

    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Marketer => "marketer",
            Role::Analyst => "analyst",
            Role::StoreManager => "store_manager",
            Role::Support => "support",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Whether this role is limited to the stores assigned to the user.
    pub fn is_store_scoped(self) -> bool {
        self == Role::StoreManager
    }

    /// Whether the role grants `p`.
    pub fn allows(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Marketer => matches!(p, CustomersRead | ConfigRead | ConfigWrite | CouponsIssue | ReceiptsRead | ReportsRead),
            Role::Analyst => matches!(p, CustomersRead | ConfigRead | ReceiptsRead | FailuresRead | ReportsRead | FraudRead | FraudManage),
            Role::StoreManager => matches!(
                p,
                CustomersRead | ContactsRead | CustomersWrite | CardsManage | CodesIssue | CrmWrite | ReceiptsRead | FailuresRead | ReportsRead
            ),
            Role::Support => matches!(
                p,
                CustomersRead | ContactsRead | CustomersWrite | CardsManage | CodesIssue | CrmWrite | BalanceAdjust | ReceiptsRead
                    | FailuresRead | AuditRead | FraudRead | FraudManage
            ),
            Role::Auditor => matches!(p, CustomersRead | ConfigRead | ReceiptsRead | FailuresRead | AuditRead | LedgerAudit | ReportsRead | FraudRead),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Customer records: profile, consents, cards, balances, CRM entries.
    CustomersRead,
    /// Contact data in the clear (name, phone, e-mail, birth date). Without it they
    /// are masked.
    ContactsRead,
    /// Create and change customers, organisations, consents; merge duplicates.
    CustomersWrite,
    /// Bulk export and import of customers.
    CustomersBulk,
    /// Issue, block, unblock and replace cards.
    CardsManage,
    /// One-time identification codes.
    CodesIssue,
    /// Notes, contact events, tasks, reminders.
    CrmWrite,
    /// Manual balance adjustments and credit settlements.
    BalanceAdjust,
    CouponsIssue,
    ConfigRead,
    ConfigWrite,
    ReceiptsRead,
    FailuresRead,
    AuditRead,
    LedgerAudit,
    /// Staff users and their roles.
    UsersManage,
    /// Terminals of the stores: creating them and issuing, rotating and revoking keys.
    TerminalsManage,
    /// Run a scheduled job now (expiry, inactivity, conversion).
    JobsRun,
    /// Reports, KPI and campaign effectiveness (a store manager's: their stores').
    ReportsRead,
    /// Fraud alerts and their evidence.
    FraudRead,
    /// Acknowledging and dismissing fraud alerts (blocking a card with one also takes
    /// [`Permission::CardsManage`]).
    FraudManage,
}

/// An admin action whose permission depends on what it touches, not only on its route.
///
/// Every action that can move value, or give someone a new way to spend value, is here,
/// and [`Act::needs`] is the one table saying what it takes: the API checks it for every
/// such request (`Actor::require`), after the route's own permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// Issuing cards of a kind, to a customer who is (or is not) a contact of an
    /// organisation.
    IssueCards { kind: CardKind, for_contact: bool },
    /// Replacing a card of a kind held by a customer who is (or is not) a contact.
    ReplaceCard { kind: CardKind, of_contact: bool },
    /// Unblocking a card: it can pay or identify again.
    UnblockCard { kind: CardKind, of_contact: bool },
    /// A one-time code that identifies a customer at the till.
    IssueCode { for_contact: bool },
    /// Making a customer a contact of an organisation (their balances move to it), or
    /// detaching them.
    SetOrganisation,
    /// Changing the phone of an organisation's contact: a phone identifies at the till.
    ChangeContactPhone,
}

impl Act {
    /// The permission the action needs.
    ///
    /// - A loyalty card of an ordinary customer holds nothing of its own: serving the
    ///   customer ([`Permission::CardsManage`]) is enough.
    /// - A gift card shows its PIN when issued and holds money once sold; a pass is
    ///   visits made from nothing; a credit card is a credit line: each moves value.
    /// - A contact of an organisation spends the organisation's shared balance: any new
    ///   card, phone, one-time code or membership is a new key to it.
    /// - Unblocking is judged like replacing: it gives a blocked key back.
    ///
    /// Moving value is [`Permission::BalanceAdjust`], like adjustments and merges.
    pub fn needs(self) -> Permission {
        match self {
            Act::IssueCards { kind: CardKind::Loyalty, for_contact: false }
            | Act::ReplaceCard { kind: CardKind::Loyalty, of_contact: false }
            | Act::UnblockCard { kind: CardKind::Loyalty, of_contact: false } => Permission::CardsManage,
            Act::IssueCode { for_contact: false } => Permission::CodesIssue,
            Act::IssueCards { .. }
            | Act::ReplaceCard { .. }
            | Act::UnblockCard { .. }
            | Act::IssueCode { .. }
            | Act::SetOrganisation
            | Act::ChangeContactPhone => Permission::BalanceAdjust,
        }
    }

    /// What the action is, for a refusal's message.
    pub fn describe(self) -> String {
        let of = |contact: bool| if contact { " of an organisation's contact" } else { "" };
        match self {
            Act::IssueCards { kind, for_contact } => format!("issuing {} cards{}", kind.name(), of(for_contact)),
            Act::ReplaceCard { kind, of_contact } => format!("replacing a {} card{}", kind.name(), of(of_contact)),
            Act::UnblockCard { kind, of_contact } => format!("unblocking a {} card{}", kind.name(), of(of_contact)),
            Act::IssueCode { for_contact } => format!("a one-time code{}", of(for_contact)),
            Act::SetOrganisation => "joining or leaving an organisation (balances move)".into(),
            Act::ChangeContactPhone => "changing the phone of an organisation's contact".into(),
        }
    }
}


/// Channels a customer consents to (or not) separately.
pub const CHANNELS: [&str; 8] = ["sms", "email", "push", "phone", "post", "telegram", "viber", "whatsapp"];

pub fn is_channel(name: &str) -> bool {
    CHANNELS.contains(&name)
}

/// `anna@example.com` → `a•••@example.com`: what a role without
/// [`Permission::ContactsRead`] sees (names and phones use
/// [`crate::operations::mask_name`] and [`crate::operations::mask_phone`]).
pub fn mask_email(email: &str) -> String {
    let (local, domain) = email.split_once('@').unwrap_or((email, ""));
    let first: String = local.chars().take(1).collect();
    format!("{first}•••@{domain}")
}

/// A staff or CRM input refused, saying what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub Said);

/// A staff login: 2 to 64 of a-z, 0-9 and `. _ - @`.
pub fn check_login(login: &str) -> Result<(), Invalid> {
    let ok = (2..=64).contains(&login.len())
        && login.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-' | b'@'));
    if ok { Ok(()) } else { Err(Invalid(said::login_format())) }
}

/// A staff password: 10 to 256 characters.
pub fn check_password(password: &str) -> Result<(), Invalid> {
    let n = password.chars().count();
    if (10..=256).contains(&n) { Ok(()) } else { Err(Invalid(said::password_length())) }
}

/// A role by its name, as a request or the command line gives it.
pub fn parse_role(role: &str) -> Result<Role, Invalid> {
    Role::parse(role).ok_or_else(|| {
        Invalid(said::unknown_role(role, Role::ALL.iter().map(|r| r.name()).collect::<Vec<_>>().join(", ")))
    })
}

/// The stores a role is limited to: store managers have at least one store, every
/// other role none.
pub fn check_stores(role: Role, stores: &[String]) -> Result<(), Invalid> {
    if role.is_store_scoped() && stores.is_empty() {
        return Err(Invalid(said::store_manager_needs_stores()));
    }
    if !role.is_store_scoped() && !stores.is_empty() {
        return Err(Invalid(said::role_not_store_scoped(role)));
    }
    Ok(())
}

/// A role by its name and the stores it is limited to ([`parse_role`], [`check_stores`]).
pub fn check_role(role: &str, stores: &[String]) -> Result<Role, Invalid> {
    let r = parse_role(role)?;
    check_stores(r, stores)?;
    Ok(r)
}

/// A staff user to create, checked in this order: login, password, role and its stores.
pub fn check_new_user(login: &str, password: &str, role: &str, stores: &[String]) -> Result<Role, Invalid> {
    check_login(login)?;
    check_password(password)?;
    check_role(role, stores)
}

/// Changes to a staff user, checked in this order: the new password, the new role (its
/// stores are checked against the user's once they are known).
pub fn check_user_changes(password: Option<&str>, role: Option<&str>) -> Result<Option<Role>, Invalid> {
    if let Some(p) = password {
        check_password(p)?;
    }
    role.map(parse_role).transpose()
}

/// An API key's role: any role but store manager (a key is limited to no stores).
pub fn check_api_key_role(role: &str) -> Result<Role, Invalid> {
    Role::parse(role).filter(|r| !r.is_store_scoped()).ok_or_else(|| {
        let roles: Vec<&str> = Role::ALL.iter().filter(|r| !r.is_store_scoped()).map(|r| r.name()).collect();
        Invalid(said::api_key_role(roles.join(", ")))
    })
}

/// An API key's name and role: a name of 2 to 64 of a-z, 0-9 and `. _ -` (the audit log
/// names the key by it), and [`check_api_key_role`].
pub fn check_api_key(name: &str, role: &str) -> Result<Role, Invalid> {
    let ok = (2..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !ok {
        return Err(Invalid(said::api_key_name()));
    }
    check_api_key_role(role)
}

/// A customer's contact data, checked and normalised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contacts {
    pub name: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    /// Lower case.
    pub email: Option<String>,
    pub birth_date: Option<jiff::civil::Date>,
}

/// Checks and normalises contact data: an international phone, a plausible e-mail, a
/// name of 1 to 200 characters without control characters (trimmed).
pub fn check_contacts(phone: Option<&str>, email: Option<&str>, name: Option<&str>, birth: Option<jiff::civil::Date>) -> Result<Contacts, Invalid> {
    let phone = phone
        .map(|p| crate::receipt::normalize_phone(p).ok_or_else(|| Invalid(said::phone_international())))
        .transpose()?;
    let email = email
        .map(|e| normalize_email(e).ok_or_else(|| Invalid(said::not_email(e.chars().take(80).collect::<String>()))))
        .transpose()?;
    let name = match name.map(str::trim) {
        Some(n) if n.is_empty() || n.chars().count() > 200 || n.chars().any(char::is_control) => {
            return Err(Invalid(said::name_length()));
        }
        other => other.map(str::to_owned),
    };
    Ok(Contacts { name, phone, email, birth_date: birth })
}

/// Consents name known channels only ([`CHANNELS`]).
pub fn check_consents(consents: &std::collections::BTreeMap<String, bool>) -> Result<(), Invalid> {
    match consents.keys().find(|k| !is_channel(k)) {
        Some(k) => Err(Invalid(said::unknown_consent(k, CHANNELS.join(", ")))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_manage_staff_and_only_some_roles_see_contact_data() {
        for role in Role::ALL {
            assert_eq!(role.allows(Permission::UsersManage), role == Role::Admin, "{role}");
            assert_eq!(role.allows(Permission::TerminalsManage), role == Role::Admin, "{role}");
            assert_eq!(role.allows(Permission::JobsRun), role == Role::Admin, "{role}");
        }
        let sees_contacts: Vec<Role> = Role::ALL.into_iter().filter(|r| r.allows(Permission::ContactsRead)).collect();
        assert_eq!(sees_contacts, vec![Role::Admin, Role::StoreManager, Role::Support]);
        assert!(!Role::Auditor.allows(Permission::CustomersWrite));
        assert!(!Role::Marketer.allows(Permission::BalanceAdjust));
        assert!(Role::Auditor.allows(Permission::AuditRead));
    }

    #[test]
    fn only_loyalty_cards_of_ordinary_customers_are_managed_without_the_balance_permission() {
        use CardKind::*;
        let cases = [
            (Act::IssueCards { kind: Loyalty, for_contact: false }, Permission::CardsManage),
            (Act::IssueCards { kind: Loyalty, for_contact: true }, Permission::BalanceAdjust),
            (Act::IssueCards { kind: Gift, for_contact: false }, Permission::BalanceAdjust),
            (Act::IssueCards { kind: Pass, for_contact: false }, Permission::BalanceAdjust),
            (Act::IssueCards { kind: Credit, for_contact: false }, Permission::BalanceAdjust),
            (Act::ReplaceCard { kind: Loyalty, of_contact: false }, Permission::CardsManage),
            (Act::ReplaceCard { kind: Loyalty, of_contact: true }, Permission::BalanceAdjust),
            (Act::ReplaceCard { kind: Gift, of_contact: false }, Permission::BalanceAdjust),
            (Act::UnblockCard { kind: Loyalty, of_contact: false }, Permission::CardsManage),
            (Act::UnblockCard { kind: Gift, of_contact: false }, Permission::BalanceAdjust),
            (Act::UnblockCard { kind: Loyalty, of_contact: true }, Permission::BalanceAdjust),
            (Act::IssueCode { for_contact: false }, Permission::CodesIssue),
            (Act::IssueCode { for_contact: true }, Permission::BalanceAdjust),
            (Act::SetOrganisation, Permission::BalanceAdjust),
            (Act::ChangeContactPhone, Permission::BalanceAdjust),
        ];
        for (act, needs) in cases {
            assert_eq!(act.needs(), needs, "{act:?}");
        }
        // Store managers serve customers but move no value.
        assert!(Role::StoreManager.allows(Act::IssueCards { kind: Loyalty, for_contact: false }.needs()));
        assert!(!Role::StoreManager.allows(Act::IssueCards { kind: Gift, for_contact: false }.needs()));
        assert!(Role::Support.allows(Act::SetOrganisation.needs()));
    }

    #[test]
    fn role_names_round_trip_and_unknown_names_are_refused() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.name()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
        assert!(Role::StoreManager.is_store_scoped());
        assert!(!Role::Support.is_store_scoped());
    }

    #[test]
    fn emails_are_normalised_and_implausible_ones_refused() {
        assert_eq!(normalize_email("  Anna.B@Example.COM ").as_deref(), Some("anna.b@example.com"));
        for bad in ["anna", "anna@", "@example.com", "a@b", "a b@example.com", "a@@example.com", "a@example.com.", "<a>@x.lv"] {
            assert_eq!(normalize_email(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_masked_email_keeps_the_first_letter_and_the_domain() {
        assert_eq!(mask_email("anna@example.com"), "a•••@example.com");
    }

    #[test]
    fn logins_passwords_and_roles_are_checked_with_what_to_fix() {
        assert!(check_login("anna.b@shop").is_ok());
        for bad in ["a", "Anna", "anna b", &"x".repeat(65)] {
            assert_eq!(check_login(bad).unwrap_err().to_string(), "a login is 2 to 64 of a-z, 0-9 and . _ - @", "{bad}");
        }
        assert!(check_password("ten chars!").is_ok());
        assert!(check_password("nine char").is_err());
        assert!(check_password(&"ž".repeat(256)).is_ok(), "characters, not bytes");
        assert!(check_password(&"x".repeat(257)).is_err());
        assert_eq!(check_role("support", &[]).unwrap(), Role::Support);
        assert_eq!(check_role("store_manager", &["riga-01".into()]).unwrap(), Role::StoreManager);
        assert_eq!(check_role("store_manager", &[]).unwrap_err().to_string(), "a store manager needs at least one store");
        assert!(check_role("marketer", &["riga-01".into()]).unwrap_err().to_string().contains("give stores to store managers only"));
        assert!(check_role("owner", &[]).unwrap_err().to_string().starts_with("'owner' is not a role (admin, "));
    }

    #[test]
    fn a_new_user_is_checked_login_first_then_password_then_role() {
        let stores = ["riga-01".to_owned()];
        assert_eq!(check_new_user("anna", "a long password", "store_manager", &stores), Ok(Role::StoreManager));
        let refused = |login, password, role, stores: &[String]| check_new_user(login, password, role, stores).unwrap_err().to_string();
        assert_eq!(refused("A", "short", "owner", &[]), "a login is 2 to 64 of a-z, 0-9 and . _ - @");
        assert_eq!(refused("anna", "short", "owner", &[]), "a password is 10 to 256 characters");
        assert!(refused("anna", "a long password", "owner", &[]).starts_with("'owner' is not a role"));
        assert_eq!(refused("anna", "a long password", "store_manager", &[]), "a store manager needs at least one store");
    }

    #[test]
    fn changes_to_a_user_check_the_password_before_the_role() {
        assert_eq!(check_user_changes(None, None), Ok(None));
        assert_eq!(check_user_changes(Some("a long password"), Some("auditor")), Ok(Some(Role::Auditor)));
        assert_eq!(check_user_changes(Some("short"), Some("owner")).unwrap_err().to_string(), "a password is 10 to 256 characters");
        assert!(check_user_changes(None, Some("owner")).unwrap_err().to_string().starts_with("'owner' is not a role"));
    }

    #[test]
    fn an_api_key_may_have_any_role_but_store_manager() {
        for role in Role::ALL {
            assert_eq!(check_api_key_role(role.name()).is_ok(), role != Role::StoreManager, "{role}");
        }
        assert_eq!(check_api_key_role("owner").unwrap_err().to_string(), "an API key's role is one of admin, marketer, analyst, support, auditor");
    }

    #[test]
    fn contacts_are_normalised_or_refused_and_consents_name_known_channels() {
        let c = check_contacts(Some("+371 2000-0000"), Some(" Anna@Shop.LV "), Some("  Anna Bērziņa "), None).unwrap();
        assert_eq!(c.phone.as_deref(), Some("+37120000000"));
        assert_eq!(c.email.as_deref(), Some("anna@shop.lv"));
        assert_eq!(c.name.as_deref(), Some("Anna Bērziņa"));
        assert_eq!(check_contacts(None, None, None, None).unwrap(), Contacts::default());
        assert!(check_contacts(Some("20000000"), None, None, None).unwrap_err().to_string().starts_with("phone must be international"));
        assert_eq!(check_contacts(None, Some("anna"), None, None).unwrap_err().to_string(), "'anna' is not an e-mail address");
        assert!(check_contacts(None, None, Some("   "), None).is_err());
        assert!(check_contacts(None, None, Some("a\u{7}b"), None).is_err());
        let mut consents = std::collections::BTreeMap::from([("sms".to_owned(), true), ("email".to_owned(), false)]);
        assert!(check_consents(&consents).is_ok());
        consents.insert("fax".into(), true);
        assert_eq!(check_consents(&consents).unwrap_err().to_string(), "'fax' is not a consent channel (sms, email, push, phone, post, telegram, viber, whatsapp)");
    }
}
