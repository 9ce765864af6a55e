//! The customer portal's sign-in rules: how long a code lives, how many wrong guesses
//! it takes, how often one may be asked for (per address, per network address and in
//! all), and how long a session lasts. The store counts; this module decides.

use jiff::SignedDuration;

/// A sign-in code is good this long after it was sent.
pub const CODE_LIFE: SignedDuration = SignedDuration::from_mins(10);
/// Digits in a sign-in code.
pub const CODE_DIGITS: usize = 6;
/// Wrong codes typed before a code is good for nothing (a new one must be asked for).
pub const CODE_GUESSES: i64 = 5;
/// Codes one phone or e-mail may be sent within an hour.
pub const CODES_PER_ADDRESS_HOUR: i64 = 5;
/// Codes one network address may ask for within an hour.
pub const CODES_PER_IP_HOUR: i64 = 20;
/// Codes the whole portal sends within a minute (a flood of requests costs the
/// retailer SMS: this caps it).
pub const CODES_PER_MINUTE: i64 = 60;
/// Gift card balances one network address may ask for within an hour (wrong PINs also
/// count towards the card's own lock, as at a till).
pub const GIFT_CHECKS_PER_IP_HOUR: i64 = 10;
/// A portal session lasts this long from sign-in.
pub const SESSION_LIFE: SignedDuration = SignedDuration::from_hours(30 * 24);
/// Someone whose phone was confirmed may join within this long.
pub const JOIN_LIFE: SignedDuration = SignedDuration::from_mins(30);
/// The code the card page shows for the till is good this long.
pub const TILL_CODE_LIFE: SignedDuration = SignedDuration::from_mins(5);

/// How many codes were sent lately: to the address asked for within the hour, to the
/// network address asking within the hour, and by the whole portal within the minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CodesSent {
    pub address_hour: i64,
    pub ip_hour: i64,
    pub all_minute: i64,
}

/// Which limit keeps a code from being sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeLimit {
    Address,
    NetworkAddress,
    Everyone,
}

impl CodesSent {
    /// Whether one more code may be sent; the limit reached otherwise.
    pub fn may_send(self) -> Result<(), CodeLimit> {
        if self.address_hour >= CODES_PER_ADDRESS_HOUR {
            Err(CodeLimit::Address)
        } else if self.ip_hour >= CODES_PER_IP_HOUR {
            Err(CodeLimit::NetworkAddress)
        } else if self.all_minute >= CODES_PER_MINUTE {
            Err(CodeLimit::Everyone)
        } else {
            Ok(())
        }
    }
}

/// What typing a code did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guess {
    /// The code is right: it is used up.
    Right,
    /// Wrong: one guess more counted.
    Wrong,
    /// No live code to guess (none sent, expired, used, or its guesses spent).
    NoCode,
}

/// Judges a code typed against the live code of an address, `guesses` wrong ones
/// typed before; `matches` is whether the code's keyed hash is the one kept.
pub fn judge(guesses: i64, matches: bool) -> Guess {
    if guesses >= CODE_GUESSES {
        Guess::NoCode
    } else if matches {
        Guess::Right
    } else {
        Guess::Wrong
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_refused_once_any_of_the_three_limits_is_reached() {
        let calm = CodesSent { address_hour: 4, ip_hour: 19, all_minute: 59 };
        assert_eq!(calm.may_send(), Ok(()));
        assert_eq!(CodesSent { address_hour: 5, ..calm }.may_send(), Err(CodeLimit::Address));
        assert_eq!(CodesSent { ip_hour: 20, ..calm }.may_send(), Err(CodeLimit::NetworkAddress));
        assert_eq!(CodesSent { all_minute: 60, ..calm }.may_send(), Err(CodeLimit::Everyone));
    }

    #[test]
    fn after_five_wrong_guesses_even_the_right_code_is_no_code() {
        assert_eq!(judge(0, true), Guess::Right);
        assert_eq!(judge(4, false), Guess::Wrong);
        assert_eq!(judge(4, true), Guess::Right);
        assert_eq!(judge(5, true), Guess::NoCode);
    }
}
