//! Receipts as the POS API carries them: the request (parsed strictly once, here), the
//! context the engine needs, the calculation it produces, and the response rendered
//! from it. Field names follow the POS API contract (`POS-API.md` in the specification,
//! `docs/pos-integration.md` here) exactly.
//!
//! ## Layout
//! - `request`: [`ReceiptRequest`] as sent and [`ReceiptRequest::parse`] into a
//!   [`Receipt`]; [`CustomerRef::identify`] and [`normalize_phone`].
//! - [`ReceiptError`] and its stable codes are in [`crate::refusal`], re-exported here.
//! - `window`: [`TimePolicy`], the dates a store's receipts may carry.
//! - `context`: [`Context`], what the store loads for the engine.
//! - `calculation`: [`Calculation`], what the engine produces.
//! - `response`: [`ReceiptResponse`], rendered by [`Calculation::response`].
//! - `tests`: parsing and rendering table tests.

mod calculation;
mod context;
mod request;
mod response;
#[cfg(test)]
mod tests;
mod window;

pub use self::calculation::*;
pub use self::context::*;
pub use crate::refusal::*;
pub use self::request::*;
pub use self::response::*;
pub use self::window::*;
