//! Who may do what: staff roles, the permissions they grant, and the contact-data rules
//! (e-mail, consent channels) that the CRM checks at the edge.
//!
//! Permissions are coarse verbs on objects; each admin route needs exactly one (the
//! table lives next to the routes, in `loyd-api`). A route without an entry is denied:
//! deny by default. Store managers are further limited to their stores wherever an
//! object belongs to a store (receipts, failures, purchase history).

use serde::{Deserialize, Serialize};

use crate::program::CardKind;

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
            Role::Marketer => matches!(p, CustomersRead | ConfigRead | ConfigWrite | CouponsIssue | ReceiptsRead),
            Role::Analyst => matches!(p, CustomersRead | ConfigRead | ReceiptsRead | FailuresRead),
            Role::StoreManager => {
                matches!(p, CustomersRead | ContactsRead | CustomersWrite | CardsManage | CodesIssue | CrmWrite | ReceiptsRead | FailuresRead)
            }
            Role::Support => matches!(
                p,
                CustomersRead | ContactsRead | CustomersWrite | CardsManage | CodesIssue | CrmWrite | BalanceAdjust | ReceiptsRead
                    | FailuresRead | AuditRead
            ),
            Role::Auditor => matches!(p, CustomersRead | ConfigRead | ReceiptsRead | FailuresRead | AuditRead | LedgerAudit),
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

/// Normalises an e-mail address for storage and lookup: trimmed, lowercased; `None`
/// when it is not a plausible address (one `@`, a dot in the domain, no spaces, at
/// most 254 characters).
pub fn normalize_email(text: &str) -> Option<String> {
    let e = text.trim().to_lowercase();
    let (local, domain) = e.split_once('@')?;
    let ok = e.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !e.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ',' | ';'));
    ok.then_some(e)
}

/// Channels a customer consents to (or not) separately.
pub const CHANNELS: [&str; 5] = ["sms", "email", "push", "phone", "post"];

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_manage_staff_and_only_some_roles_see_contact_data() {
        for role in Role::ALL {
            assert_eq!(role.allows(Permission::UsersManage), role == Role::Admin, "{role}");
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
}
