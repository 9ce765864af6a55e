//! [`Said`]: what a refusal says to a person, as a stable key and its named values, so
//! that every surface says the same in its own language. The English text of each key
//! is here ([`TEXTS`]); the console's catalogues hold the other languages, and a test
//! there checks that each has a text for every key with the same placeholders.
//!
//! A problem of a program ([`crate::config::ConfigError`]), a refusal at the till
//! ([`crate::refusal::ReceiptError::said`]) and a bad text field
//! ([`crate::text::TextError::said`]) each say themselves this way. Free text that has
//! no key (a parser's message) stays as it is, in English.

use std::fmt;

use serde::ser::{Serialize, SerializeMap, Serializer};

/// A message by key: `unknown_currency` with `currency = "PTS"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    pub key: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl Said {
    /// The English text of a key, with `{name}` where a value goes.
    pub fn template(key: &str) -> Option<&'static str> {
        TEXTS.iter().find(|(k, ..)| *k == key).map(|(_, t, _)| *t)
    }

    /// This message in English.
    pub fn english(&self) -> String {
        self.fill(Said::template(self.key).unwrap_or(self.key), |_, v| v.to_owned())
    }

    /// `template` with each `{name}` replaced by its value, as `word` gives it.
    pub fn fill(&self, template: &str, word: impl Fn(&str, &str) -> String) -> String {
        let mut out = template.to_owned();
        for (name, value) in &self.args {
            out = out.replace(&format!("{{{name}}}"), &word(name, value));
        }
        out
    }

    /// The names of the placeholders of a template, in order.
    pub fn placeholders(template: &str) -> Vec<&str> {
        template.split('{').skip(1).filter_map(|s| s.split_once('}').map(|(name, _)| name)).collect()
    }
}

impl fmt::Display for Said {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.english())
    }
}

/// `{"kind": key, "args": {name: value}}`, added to a problem on the wire.
impl Serialize for Said {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Args<'a>(&'a [(&'static str, String)]);
        impl Serialize for Args<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(self.0.len()))?;
                for (k, v) in self.0 {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("kind", self.key)?;
        m.serialize_entry("args", &Args(&self.args))?;
        m.end()
    }
}

/// Things a message names by their kind (`{what}`): the words other languages translate.
pub const WORDS: &[&str] = &[
    "account",
    "API key",
    "batch",
    "campaign",
    "card",
    "card series",
    "configuration version",
    "counter",
    "coupon series",
    "credit account",
    "CRM entry",
    "currency",
    "customer",
    "mailing",
    "message",
    "organisation",
    "organisation with tax id",
    "segment",
    "staff user",
    "store",
    "terminal",
    "tier",
    "webhook",
];

macro_rules! texts {
    ($($key:ident($($arg:ident),*) = $text:literal;)*) => {
        $(
            pub fn $key($($arg: impl fmt::Display),*) -> Said {
                Said { key: stringify!($key), args: vec![$((stringify!($arg), $arg.to_string())),*] }
            }
        )*
        /// Every key, its English text and the names of the values it takes.
        pub const TEXTS: &[(&str, &str, &[&str])] = &[$((stringify!($key), $text, &[$(stringify!($arg)),*])),*];
    };
}

texts! {
    // ---- programs: rewards ----
    rate_exactly_one() = "give exactly one rate: percent, per + units, step + units, per_item, or fixed";
    rate_not_negative() = "rates must not be negative, and per/step must be positive";
    reward_stray(field) = "{field} does not belong to a reward of this type";
    unknown_currency(currency) = "unknown currency '{currency}'";
    accrual_needs_currency() = "an accrual needs a currency";
    unknown_counter(counter) = "unknown counter '{counter}'";
    accumulated_range() = "step must be positive and 0 ≤ base ≤ max ≤ 100";
    discount_exactly_one() = "a discount needs exactly one of percent (0–100), amount, price, or accumulated";
    coupon_series_not_unique(series) = "'{series}' is not a coupon series of kind unique";
    coupon_series_needed() = "issuing a coupon needs its coupon_series";
    gift_needs_name() = "a gift needs its name (1 to 100 characters)";
    multibuy_needs_group() = "a multi-buy needs group: the number of units in one group (at least 1)";
    multibuy_free_range(group) = "free units must be 1 to {group} (the group)";
    multibuy_pay_fewer(group) = "a group of {group} must be paid for fewer than {group} units";
    bundle_price_negative() = "a bundle price cannot be negative";
    multibuy_exactly_one() = "a multi-buy needs exactly one of free (units free per group), pay (\"3 for the price of 2\") or price (\"2 for 5.00\")";
    free_sku_or_unit() = "give free_sku or free_unit, not both";
    bundle_has_no_free(sku) = "a bundle price has no free units: drop free_sku '{sku}' or give free";
    free_sku_names_item() = "free_sku names an item (SKU)";
    max_groups_at_least_one() = "max_groups must be at least 1";
    // ---- programs: currencies and series ----
    unit_value_positive() = "the value of a unit must be positive";
    unit_value_needed() = "a currency that pays receipts needs the value of one unit";
    redeem_not_negative(places) = "must be a non-negative amount with at most {places} decimals";
    redeem_above_zero(places) = "must be an amount above 0 with at most {places} decimals";
    lifetime_exactly_one() = "give exactly one of days, months, until or period_end";
    convert_into_itself() = "a currency cannot convert into itself";
    conversion_positive(from, to) = "every and gives must be positive amounts of {from} and {to}";
    not_money_currency(currency) = "'{currency}' is not a money currency defined in [[currencies]]";
    store_currency_in_itself(currency) = "{currency} is a store currency: it is counted in itself";
    denomination_needed(stores, currency) = "stores take {stores}: say which of them one unit of {currency} is worth (denominated_in)";
    rates_need_denomination() = "rates convert from the currency named in denominated_in; name it";
    already_counted_in(currency, to) = "{currency} is already counted in {to}";
    rate_positive() = "a rate must be positive";
    prefix_digits() = "a prefix is digits only";
    card_number_length() = "a card number has 6 to 19 digits, more than the prefix and check digit";
    random_digits(least, free) = "random numbers need at least {least} digits after the prefix and check digit; this series has {free}";
    series_needs_currency(kind) = "a {kind} series needs a currency";
    series_currency_kind(kind, kinds) = "a {kind} series needs a {kinds} currency";
    gift_range_or_nominals() = "both nominals and amount_min/amount_max given: a gift series sells either fixed nominals or any amount in a range";
    gift_needs_amounts() = "a gift series needs either amount_min and amount_max, or nominals";
    range_needs_both() = "a range needs both amount_min and amount_max";
    amount_min_range() = "amount_min must be positive and at most amount_max";
    pass_needs_visits() = "a pass series needs a number of visits";
    credit_needs_limit() = "a credit series needs a credit limit";
    currency_fixed(currency, kind, scale) = "currency '{currency}' is stored as {kind} with scale {scale}; kind and scale cannot change (balances are kept in its minor units): define a new currency instead";
    store_name(max) = "store name must be 1 to {max} characters, none of them a control character";
    store_line(field, max) = "a store's {field} is one line of at most {max} characters";
    offline_days_range(max) = "offline_days must be 1 to {max}";
    store_currency_money(currency) = "store currency '{currency}' must be a money currency defined in [[currencies]]";
    // ---- programs: counters, tiers, coupons, segments, campaigns, restrictions ----
    share_range() = "a share is a fraction above 0 and at most 1, e.g. \"0.30\"";
    hours_format() = "hours are \"HH:MM\" from and to, e.g. from = \"09:00\", to = \"12:00\"";
    limit_negative() = "a limit cannot be negative";
    defined_twice(what, id) = "{what} '{id}' is defined twice";
    counter_window() = "a counter needs exactly one of window_days (above 0) or period";
    tier_levels() = "levels need ascending, distinct `from` values";
    coupon_value_or_campaign() = "a coupon gives percent or amount, unless a campaign names its series in coupon_series";
    coupon_percent_and_amount() = "both percent and amount given: a coupon gives one of them";
    coupon_value_range() = "a coupon gives percent (above 0, at most 100) or amount (above 0)";
    round_per_line_percent() = "round_per_line is for percent coupons";
    promo_code_format() = "a promo code is 1 to 32 letters, digits, '-' or '_'";
    promo_code_twice(code) = "promo code {code} is used by two series";
    unique_coupons_no_code() = "unique coupons get generated codes; `code` is for promo series";
    uses_at_least_one() = "uses must be at least 1";
    coupon_expires_after_start() = "a coupon must expire after it becomes valid";
    campaign_ends_after_start() = "a campaign must end after it starts";
    month_days_range() = "days of the month are 1 to 31";
    unknown_tier_level(level) = "no tier has a level '{level}'";
    unknown_card_series(series) = "unknown card series '{series}'";
    unknown_segment(segment) = "unknown segment '{segment}'";
    profile_values_needed() = "list the values the field may have, e.g. [\"Riga\"]";
    limits_need_customers() = "limits per customer need customers_only = true";
    limit_uses_at_least_one() = "a limit of uses must be at least 1";
    control_share_range() = "a control group is a share above 0 and below 1, e.g. \"0.10\"";
    control_with_code() = "a campaign that needs a code cannot hold out a control group: the customer who presents the code expects its reward";
    unknown_coupon_series(series) = "unknown coupon series '{series}'";
    accrual_needs_rate(currency, held_in, store, store_currency) = "{currency} is counted in {held_in} and store {store} takes {store_currency} with no rate: give the currency rates.{store_currency}, or keep the campaign out of {store} (exclude_stores)";
    archived_stays() = "an archived campaign cannot run again: create a new one from it";
    draft_not_paused() = "a draft has not run: activate or archive it";
    run_not_draft() = "a campaign that has run cannot become a draft again: pause it";
    restrictions_need_schedules() = "[restrictions] always holds: give times to its schedules ([[restrictions.schedules]])";
    schedule_nested() = "a schedule has no schedules of its own";
    schedule_ends_after_start() = "a schedule must end after it starts";
    webhook_url_scheme(url) = "the webhook URL '{url}' must start with http:// or https://";
    webhook_url_host(url) = "the webhook URL '{url}' has no host";
    webhook_url_credentials() = "the webhook URL must not carry a user or password (the webhook's secret signs what it receives)";
    webhook_url_spaces(url) = "the webhook URL '{url}' must not contain spaces";
    webhook_no_events(events) = "a webhook needs the events it is for: {events}";
    unknown_event(event, events) = "unknown event '{event}' (known: {events})";
    template_invalid(error) = "the template does not read: {error}";
    template_variable(variable, variables) = "a template may not read '{variable}' (it may read: {variables})";
    email_host() = "the SMTP host is a name or address without spaces";
    email_from(from) = "'{from}' is not a sender: an address (news@shop.example) or a name and an address (Shop <news@shop.example>)";
    channel_not_configured(channel) = "{channel} messages need the program's [{channel}] section: the way they leave";
    message_channel_event(channel, event) = "a {event} message cannot go by {channel}: it goes to an address given for it (email or a phone channel; a task: email)";
    email_ca() = "ca_certificate is a certificate authority's certificate in PEM: -----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----";
    single_object(section) = "[{section}] is one object, named {section}: /{section}/{section}";
    telegram_bot(bot) = "'{bot}' is not a bot's username: 5 to 32 letters, digits and '_', without '@'";
    portal_card_series(series) = "'{series}' is no loyalty card series of the program";
    portal_segment(segment) = "'{segment}' is no segment whose members the segments job lists (one whose condition reads no receipt, store or balances) nor an RFM group such as rfm:champions";
    portal_fields_most(most) = "the portal asks for at most {most} profile fields";
    portal_field_key(key) = "'{key}' cannot be a portal field: a profile field's name (a-z, 0-9 and '_', from a letter), not city or language (they have fields of their own), each once";
    portal_field_value(max) = "a value is one line of 1 to {max} characters, each once";
    portal_text_needed(languages) = "give a title in at least one language ({languages})";
    portal_text_language(language, languages) = "'{language}' is not a language of the portal ({languages})";
    portal_text_title(max) = "a title is one line of 1 to {max} characters";
    portal_text_body(max) = "a text is at most {max} characters, without control characters";
    reward_currency(currency) = "'{currency}' is no points currency of the program: rewards are paid in points";
    reward_cost(places) = "a cost is an amount above zero with at most {places} decimal places";
    reward_series(series) = "'{series}' is no unique coupon series of the program: a reward gives a personal coupon";
    retention_days(field, least, most) = "{field} is {least} to {most} days";
    reward_per_customer(most) = "this reward is taken at most {most} time(s) per member, and that many are taken";
    reward_out_of_stock() = "this reward is out of stock";
    offer_ends_after_start() = "an offer must end after it starts";
    offer_link(url) = "'{url}' is not a link: an address that starts with https:// or http://";
    message_no_text(languages) = "a message needs a text in at least one language ({languages})";
    message_language(language, languages) = "'{language}' is not a language of messages ({languages})";
    message_subject_line() = "a subject is one line";
    message_subject_needed() = "an e-mail needs a subject";
    message_condition(field, events, event) = "{field} is for {events} messages, not {event}";
    message_days_range(lowest) = "days_before is {lowest} to 60";
    message_amount_positive(field) = "{field} is an amount above zero";
    channel_rate() = "rate_per_minute is 1 to 1000000 messages a minute";
    channel_customer_limit() = "customer_limit is count = 1 to 1000 messages within days = 1 to 365";
    mailing_variants(most) = "a mailing has 1 to {most} variants";
    mailing_variant_name(name) = "'{name}' is not a variant's name: 1 to 32 of letters, digits, '-' and '_'";
    mailing_variant_twice(name) = "two variants are called '{name}'";
    mailing_test_share() = "test_share is the percent of the audience that tries the variants: 1 to 100";
    mailing_decide_after() = "decide_after_hours is 1 to 720";
    mailing_attribution_days() = "attribution_days is 1 to 90";
    mailing_quiet_hours(time) = "'{time}' is not a time of day (HH:MM, e.g. 21:00)";
    mailing_time_zone(zone) = "'{zone}' is not a time zone (e.g. Europe/Riga)";
    mailing_audience(audience) = "'{audience}' is not an audience: all, segment:<id> (a segment whose members the segments job lists, or an RFM group such as segment:rfm:champions) or list";
    mailing_list_needed() = "a mailing to a list needs its customers (customers: [ids])";
    mailing_list_only() = "customers are given only with the audience list";
    mailing_channel(channel) = "the program has no [{channel}] section to send the mailing through";
    mailing_state(state) = "the mailing is {state} already";
    sms_method(method) = "'{method}' is not a method a gateway is called with (POST, PUT)";
    sms_header(header) = "'{header}' is not a header name (letters, digits and '-')";
    fraud_block_rule(rule) = "'{rule}' is not about a customer, so it has no card to block: block lists receipts_per_hour, stores_per_day, return_after_accrual or cards_per_phone";
    fraud_peer_factor() = "peer_factor is how many times the peers' median makes an outlier: at least 1, e.g. \"5\"";
    // ---- programs: documents, files and their application ----
    unknown_section(section, known) = "unknown section '{section}': one of {known}";
    unknown_file_section(section, sections) = "unknown section '{section}'; the sections are {sections}";
    section_is_list(section) = "'{section}' is a list: write [[{section}]] tables";
    object_not_json() = "the object must be a JSON object";
    no_rename(id) = "this is '{id}': to rename it, create the new one and remove this one";
    kept_by_balances(accounts) = "cannot be removed: {accounts} account(s) hold a balance or a hold in it";
    kept_by_history(terminals, receipts) = "cannot be removed: it has {terminals} terminal(s) and {receipts} receipt(s)";
    kept_by_cards(cards) = "cannot be removed: {cards} card(s) of this series are issued";
    kept_by_coupons(coupons) = "cannot be removed: {coupons} coupon(s) of this series can still be presented";
    currency_defined_before(currency, kind, scale) = "cannot be defined so: '{currency}' was defined earlier as {kind} with scale {scale}, and its accounts are kept in those units";
    // ---- staff, API keys, customers' contacts ----
    login_format() = "a login is 2 to 64 of a-z, 0-9 and . _ - @";
    password_length() = "a password is 10 to 256 characters";
    unknown_role(role, roles) = "'{role}' is not a role ({roles})";
    store_manager_needs_stores() = "a store manager needs at least one store";
    role_not_store_scoped(role) = "a {role} is not limited to stores; give stores to store managers only";
    api_key_role(roles) = "an API key's role is one of {roles}";
    api_key_name() = "an API key's name is 2 to 64 of a-z, 0-9, '.', '_' and '-'";
    phone_international() = "phone must be international, e.g. +37120000000";
    not_email(email) = "'{email}' is not an e-mail address";
    name_length() = "name must be 1 to 200 characters without control characters";
    unknown_consent(channel, channels) = "'{channel}' is not a consent channel ({channels})";
    crm_kind(kinds) = "a CRM entry is one of {kinds}";
    crm_status(statuses) = "a status is one of {statuses}";
    crm_subject() = "a CRM entry is about one customer or one organisation";
    crm_due_needed() = "tasks and reminders need a due time";
    crm_channel(channels) = "a channel is one of {channels}";
    series_full(series) = "series {series} has no free numbers left";
    cards_at_a_time(max) = "issue 1 to {max} cards at a time";
    card_needs_customer(kind) = "a {kind} card is issued to a customer";
    virtual_card_one() = "a virtual card is one loyalty card";
    virtual_card_phone() = "a virtual card is bound to the customer's phone; give the customer a phone first";
    number_or_count() = "give either a number or a count";
    not_series_number(number, series, prefix) = "{number} is not a number of series {series} (prefix {prefix})";
    adjustment_zero() = "an adjustment needs a non-zero amount";
    // ---- text fields ----
    text_empty(field) = "{field} must not be empty";
    text_too_long(field, max) = "{field} is longer than {max} characters";
    text_control(field) = "{field} must not contain control characters";
    text_alphabet(field, allowed) = "{field} may contain only {allowed}";
    // ---- refusals at the till and of the admin API ----
    card_unknown(card) = "card {card} is not known";
    customer_unknown() = "no customer with this phone number";
    code_unknown() = "the one-time code is unknown, used or expired";
    card_blocked(card) = "card {card} is blocked";
    card_expired(card) = "card {card} has expired";
    card_not_active(card) = "card {card} is not activated";
    card_already_active(card) = "card {card} is already activated";
    wrong_pin(card) = "wrong PIN for card {card}";
    too_many_attempts(card) = "too many wrong PINs for card {card}; try again later";
    insufficient_funds(what, available, requested) = "{what}: {available} available, {requested} requested";
    below_minimum_redeem(currency, minimum) = "{currency} can be redeemed from a balance of {minimum}";
    redeem_limit(max, currency) = "at most {max} {currency} can pay this receipt";
    redeem_limit_step(max, currency, step) = "at most {max} {currency} can pay this receipt, in steps of {step}";
    currency_not_accepted(currency, held_in, store) = "{currency} is counted in {held_in} and this store takes {store}: no rate between them is configured";
    receipt_not_found(receipt) = "receipt {receipt} was not found";
    coupon_unknown(code) = "coupon {code} is not known";
    coupon_used(code) = "coupon {code} has been used";
    coupon_expired(code) = "coupon {code} has expired or is not valid yet";
    not_found(what, id) = "{what} '{id}' does not exist";
    already_exists(what, id) = "{what} '{id}' already exists";
    id_used(what) = "{what} was already used with a different request; use a new id for a new operation";
    database_unavailable() = "the database is unavailable; retry with the same id";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_fills_its_values_into_its_english_text() {
        assert_eq!(unknown_currency("PTS").english(), "unknown currency 'PTS'");
        assert_eq!(multibuy_pay_fewer(3).to_string(), "a group of 3 must be paid for fewer than 3 units");
        assert_eq!(Said::placeholders("{what} '{id}' is defined twice"), ["what", "id"]);
    }

    #[test]
    fn every_key_is_unique_and_every_placeholder_is_a_value_it_is_given() {
        let mut keys: Vec<&str> = TEXTS.iter().map(|(k, ..)| *k).collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n, "a key is listed twice");
        // Each template names exactly the values its message is given.
        for (key, text, args) in TEXTS {
            let mut named = Said::placeholders(text);
            named.sort_unstable();
            named.dedup();
            let mut given = args.to_vec();
            given.sort_unstable();
            assert_eq!(named, given, "{key}: its text and its values differ");
        }
    }

    #[test]
    fn refusals_and_text_errors_say_by_key_exactly_what_they_print() {
        use crate::refusal::ReceiptError as R;
        let code = |s: &str| crate::ids::AssetCode::parse(s).unwrap();
        let refusals = [
            R::UnknownCard("2001".into()),
            R::UnknownCustomer,
            R::UnknownCode,
            R::CardBlocked("2001".into()),
            R::CardExpired("2001".into()),
            R::CardNotActive("2001".into()),
            R::CardAlreadyActive("2001".into()),
            R::WrongPin("2001".into()),
            R::TooManyAttempts("2001".into()),
            R::InsufficientFunds { what: "PTS".into(), available: "1".into(), requested: "2".into() },
            R::BelowMinimumRedeem { currency: code("PTS"), minimum: "100".into() },
            R::RedeemLimitExceeded { currency: code("PTS"), max: "5".into(), step: None },
            R::RedeemLimitExceeded { currency: code("PTS"), max: "5".into(), step: Some("10".into()) },
            R::CurrencyNotAccepted { currency: code("PTS"), held_in: code("EUR"), store: code("SEK") },
            R::ReceiptNotFound("r1".into()),
            R::CouponUnknown("X".into()),
            R::CouponUsed("X".into()),
            R::CouponExpired("X".into()),
        ];
        for r in refusals {
            assert_eq!(r.said().expect("a keyed refusal").english(), r.to_string());
        }
        assert_eq!(R::Invalid("free".into()).said(), None);
        use crate::text::TextError as T;
        for t in [
            T::Empty { field: "name".into() },
            T::TooLong { field: "name".into(), max: 3 },
            T::Control { field: "name".into() },
            T::Alphabet { field: "code".into(), allowed: "digits" },
        ] {
            assert_eq!(t.said().english(), t.to_string());
        }
        for o in [crate::org::OrgError::BadName { max: 100 }, crate::org::OrgError::BadOfflineDays { max: 30 }] {
            assert_eq!(o.said().unwrap().english(), o.to_string());
        }
    }

    #[test]
    fn a_message_serialises_as_its_kind_and_values() {
        let v = serde_json::to_value(defined_twice("campaign", "w")).unwrap();
        assert_eq!(v, serde_json::json!({ "kind": "defined_twice", "args": { "what": "campaign", "id": "w" } }));
    }
}
