//! Black-box HTTP tests: a real server, a real database (both backends), a real client.

mod admin;
mod browser;
mod config;
mod console;
mod crm;
mod fraud;
mod hardening;
mod offers;
mod helpers;
mod mailings;
mod messages;
mod messengers;
mod pos;
mod portal;
mod reports;
mod scenarios;
mod segments;
mod scenarios_rules;
mod shell;
mod transactions;
mod triggers;
mod webhooks;
