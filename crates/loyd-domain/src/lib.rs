//! # loyd-domain
//!
//! The pure core of Loyd: no IO, no async, no database or HTTP types, no clock (every
//! function that needs the time takes `now`). Everything here is a value or a function
//! of values, so it is tested with tables and properties. The store loads, a planner
//! here decides, the store writes: `docs/architecture.md` draws it.
//!
//! ## Layout, by capability
//! - Receipts: [`receipt`] (the request, parsed strictly once, the context, the
//!   calculation and the response; [`receipt::TimePolicy`], the dates a receipt may
//!   carry, offline included), [`refusal`] ([`refusal::ReceiptError`], every refusal of
//!   every POS operation and its code),
//!   [`engine`] (receipt + context + program → calculation: campaigns, coupons,
//!   redemptions, gift cards, accruals, limits), [`returns`] (what a cancel or a
//!   partial return reverses).
//! - Cards: [`cards`] (numbers, series, states, usability, PIN policy and lockout, whom
//!   a card identifies), [`giftcards`] (activation), [`passes`] (visits), [`coupons`]
//!   (codes and validity), [`operations`] (gift card, visit and inquiry requests and
//!   replies, and the [`operations::Outcome`] of every POS operation).
//! - Programs: [`config`] (the document `loyd apply` loads), [`program`] (the program
//!   format and its compiled form: currencies, counters and tiers, campaigns, goods
//!   filters, custom conditions), [`simulate`] (a proposed change over past receipts).
//! - Customers and staff: [`profile`] (profile fields), [`crm`] (CRM entries),
//!   [`access`] (roles, permissions, login, password, contact and consent rules),
//!   [`segments`] (purchase facts of a customer, RFM scores and groups).
//! - Integrators and customers: [`events`] (what happened, which webhooks a program
//!   subscribes to it, how a delivery is signed and retried), [`messages`] (which
//!   event sends which message, its texts as checked templates, whom it may reach),
//!   [`portal`] (the customer portal's sign-in: code life, guesses, rate limits).
//! - Ledger: [`ledger`] (accounts, transfers, two-phase holds, lots, the batch rules).
//! - Shared: [`money`] (decimals, minor units, rounding), [`alloc`] (splitting an
//!   amount over lines), [`ids`] (typed identifiers, printed and parsed in one place),
//!   [`text`] (the alphabet and length of free text and PINs, e-mail addresses), [`time`] (timestamps,
//!   validity in days, the [`time::Clock`] the outer layers inject), [`org`] (stores
//!   and terminals).
//!
//! ## Where is …
//! - **Tier levels**: [`program::Tier::level`], per receipt, on counter values from
//!   [`program::counter_values`] or [`program::counter_values_from_totals`]; the engine
//!   reads them in `engine/select.rs`.
//! - **PIN check and lock**: [`cards::Card::check_pin`] with [`cards::PIN_ATTEMPTS`] and
//!   [`cards::PIN_LOCK`]; the store counts failures (`shared/cards.rs`).
//! - **Card usability**: [`cards::check_usable`], the one state → refusal rule.
//! - **Points expire**: [`program::Currency::lot_terms`] dates each accrual's lot;
//!   [`ledger::Lot::is_active`] and [`ledger::Lot::spend_order`] decide what a debit
//!   takes; the store's job burns what expired (`burn_expired_lots` in
//!   `loyd-store/src/shared/jobs.rs`).
//! - **Rounding**: [`money::round_to_minor`] and [`money::round_scaled`], with the
//!   currency's [`money::Rounding`]; splits over lines are [`alloc::allocate`]; returns
//!   reverse by cumulative targets ([`returns`]).
//! - **Coupon validation**: the code's form in [`coupons`]; unknown, expired, used or
//!   not applicable in `apply_coupons` (`engine/discounts.rs`); validity dates in
//!   [`coupons::valid_until`].
//! - **Gift card activation** [`giftcards::plan_activation`]; **a visit**
//!   [`passes::plan_visit`]; **conversion** [`program::Conversion::of`]; **staff
//!   checks** [`access::check_new_user`], [`access::check_user_changes`],
//!   [`access::check_api_key_role`], [`access::check_stores`].
//! - **The SQLite writer's batching** is not here: `loyd-store/src/sqlite/mod.rs`.

pub mod access;
pub mod alloc;
pub mod cards;
pub mod config;
pub mod coupons;
pub mod crm;
pub mod engine;
pub mod events;
pub mod fraud;
pub mod giftcards;
pub mod ids;
pub mod ledger;
pub mod mailings;
pub mod messages;
pub mod money;
pub mod operations;
pub mod org;
pub mod passes;
pub mod portal;
pub mod privacy;
pub mod profile;
pub mod program;
pub mod receipt;
pub mod refusal;
pub mod returns;
pub mod said;
pub mod segments;
pub mod simulate;
pub mod text;
pub mod time;
