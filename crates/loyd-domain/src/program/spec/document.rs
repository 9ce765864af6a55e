//! The whole configuration document `loyd apply -f FILE` loads: stores and the program's
//! sections, and the error that names a problem by its path in the file. How a document
//! is merged into the stored configuration is [`crate::config`].

use std::fmt;

use serde::{Deserialize, Serialize};

use super::*;
use crate::org::StoreSpec;
use crate::said::Said;

/// The whole configuration document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigDocument {
    #[serde(default)]
    pub currencies: Vec<CurrencySpec>,
    #[serde(default)]
    pub stores: Vec<StoreSpec>,
    #[serde(default)]
    pub card_series: Vec<CardSeriesSpec>,
    #[serde(default)]
    pub counters: Vec<CounterSpec>,
    #[serde(default)]
    pub tiers: Vec<TierSpec>,
    #[serde(default)]
    pub coupon_series: Vec<CouponSeriesSpec>,
    #[serde(default)]
    pub segments: Vec<SegmentSpec>,
    #[serde(default)]
    pub campaigns: Vec<CampaignSpec>,
    /// Where events are posted for integrators.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<WebhookSpec>,
    /// Messages to customers, sent when events happen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<MessageSpec>,
    /// The portal's rewards catalogue.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub catalogue: Vec<CatalogueSpec>,
    /// The portal's advertising blocks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offers: Vec<OfferSpec>,
    /// The SMTP server e-mail leaves through. Replaced as a whole when a file gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailSpec>,
    /// The HTTP gateway SMS leave through. Replaced as a whole when a file gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms: Option<GatewaySpec>,
    /// The HTTP gateway Viber messages leave through. Replaced as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viber: Option<GatewaySpec>,
    /// The HTTP gateway WhatsApp messages leave through. Replaced as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp: Option<GatewaySpec>,
    /// The program's Telegram bot. Replaced as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telegram: Option<TelegramSpec>,
    /// The customer portal. Replaced as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portal: Option<PortalSpec>,
    /// How long personal data is kept. Replaced as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionSpec>,
    /// Limits on top of all campaigns. Replaced as a whole when a file gives it.
    #[serde(default)]
    pub restrictions: Option<RestrictionsSpec>,
    /// The fraud rules' thresholds. Replaced as a whole when a file gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraud: Option<FraudSpec>,
}

/// A problem found in a document, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigError {
    /// Where: `stores[2].name`.
    pub path: String,
    /// What, in English.
    pub message: String,
    /// What, by key and values ([`crate::said`]), when the problem has a key: on the
    /// wire as `kind` and `args` beside the message.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub said: Option<Said>,
}

impl ConfigError {
    /// A problem said by key at `path`.
    pub fn said(path: impl Into<String>, said: Said) -> ConfigError {
        ConfigError { path: path.into(), message: said.english(), said: Some(said) }
    }

    /// A problem in free text (a parser's), with no key.
    pub fn text(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError { path: path.into(), message: message.into(), said: None }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}
