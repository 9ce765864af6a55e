//! The SQL and row mapping of every capability, one source for both backends: each
//! backend compiles this folder once (`#[path]`), with its own `Db`, `Conn` and `PG`,
//! so SQLite and PostgreSQL run the very same statements. Only three things differ and
//! are switched on `PG`: `FOR UPDATE` locking, DDL in `migrations/`, and the write path.
//! Each module loads what a capability needs, lets `loyd_domain` decide, and writes the
//! result.
//!
//! | module | capability |
//! |---|---|
//! | [`rows`] | column lists, row decoders and list filters shared by all |
//! | [`keys`] | hashes (requests, PINs, codes), advisory-lock digests, transfer ids |
//! | [`idempotency`] | stored replies by client id, claims of one id |
//! | [`ledger`] | accounts, transfers, lots: the ledger's persistence, the ledger audit, the system accounts |
//! | [`writes`] | writes staged in a transaction and sent in one round trip |
//! | [`balances`] | a holder's balances and lots, adjustments, statements |
//! | [`stores`] | stores and terminals |
//! | [`config`] | configuration versions: applying a program file |
//! | [`receipts`] | calculate and commit a receipt; receipts a simulation replays; gifts handed over |
//! | [`counters`] | a customer's counters over their receipts (tiers, accumulated discounts) |
//! | [`returns`] | returns and cancellations |
//! | [`coupons`] | coupons on a receipt, issuing and generating coupons |
//! | [`cards`] | the stored card, PIN lockout, identification, inquiry, blocking, one-time codes |
//! | [`card_issue`] | issuing cards of a series, replacing a card |
//! | [`giftcards`] | gift card activation |
//! | [`passes`] | visits on a pass |
//! | [`credit`] | settling internal credit |
//! | [`customers`] | profiles with sealed personal data, search, purchases |
//! | [`merge`] | merging duplicate customers |
//! | [`organisations`] | organisations sharing accounts |
//! | [`crm_entries`] | notes, events, tasks and reminders |
//! | [`import_export`] | customer import and export |
//! | [`pii`] | sealing and re-sealing personal data at rest |
//! | [`audit`] | the audit log |
//! | [`staff`] | staff users, logins, sessions |
//! | [`api_keys`] | admin API keys |
//! | [`failures`] | the failure log and guessing counts |
//! | [`cursors`] | the jobs' cursors over what others wrote |
//! | [`events`] | events and their deliveries to webhooks (the outbox): dispatch, claims, attempts, channel secrets |
//! | [`messengers`] | a customer's Telegram chat connected and let go; the portal's notifications |
//! | [`portal`] | the customer portal: sign-in codes, sessions, joining; a customer's lots and coupons |
//! | [`mailings`] | mailings: made, enqueued a batch at a time, tested, decided, reported; opens, clicks, unsubscribes |
//! | [`fraud`] | fraud detection: the rules over receipts, returns and refusals; alerts and decisions |
//! | [`rollups`] | aggregates off the receipt path: sales per store and day, customers' purchases |
//! | [`transactions`] | every operation of a period; a receipt with its transfers, returns and their transfers |
//! | [`segments`] | the segments job (RFM groups, members of segments), member lists and history, trying a condition |
//! | [`jobs`] | scheduled work: expired holds, expired lots (points to `expired`, cards' rest to `breakage`), inactivity burn, conversions |

pub(crate) use super::{Backend, Conn, Db, PG};

#[macro_use]
pub(crate) mod rows;
pub(crate) mod api_keys;
pub(crate) mod audit;
pub(crate) mod balances;
pub(crate) mod card_issue;
pub(crate) mod catalogue;
pub(crate) mod cards;
pub(crate) mod config;
pub(crate) mod counters;
pub(crate) mod coupons;
pub(crate) mod credit;
pub(crate) mod crm_entries;
pub(crate) mod cursors;
pub(crate) mod customers;
pub(crate) mod erasure;
pub(crate) mod events;
pub(crate) mod failures;
pub(crate) mod fraud;
pub(crate) mod giftcards;
pub(crate) mod idempotency;
pub(crate) mod import_export;
pub(crate) mod jobs;
pub(crate) mod keys;
pub(crate) mod ledger;
pub(crate) mod mailings;
pub(crate) mod merge;
pub(crate) mod messengers;
pub(crate) mod organisations;
pub(crate) mod passes;
pub(crate) mod portal;
pub(crate) mod pii;
pub(crate) mod receipts;
pub(crate) mod retention;
pub(crate) mod returns;
pub(crate) mod rollups;
pub(crate) mod segments;
pub(crate) mod transactions;
pub(crate) mod staff;
pub(crate) mod stores;
pub(crate) mod writes;
