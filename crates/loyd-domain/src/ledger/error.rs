use crate::ids::{AccountId, AssetCode, TransferId};

/// Why a transfer was refused. "Always say why": each variant names the rule broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    #[error("the amount must be positive")]
    AmountMustBePositive,
    #[error("debit and credit account are the same account")]
    SameAccount,
    #[error("reference is longer than {max} characters")]
    ReferenceTooLong { max: usize },
    #[error("debit account {0} does not exist")]
    DebitAccountNotFound(AccountId),
    #[error("credit account {0} does not exist")]
    CreditAccountNotFound(AccountId),
    #[error("debit account holds {debit} but credit account holds {credit}")]
    AssetMismatch { debit: AssetCode, credit: AssetCode },
    #[error("account {account} has {available} available, {requested} requested")]
    InsufficientFunds { account: AccountId, available: i64, requested: i64 },
    #[error("transfer {0} already exists with different content")]
    IdConflict(TransferId),
    #[error("transfer id {0} appears twice in the batch")]
    DuplicateIdInBatch(TransferId),
    #[error("pending transfer {0} does not exist")]
    PendingNotFound(TransferId),
    #[error("transfer {0} is not a pending transfer")]
    NotPending(TransferId),
    #[error("pending transfer {0} was already posted")]
    PendingAlreadyPosted(TransferId),
    #[error("pending transfer {0} was already voided")]
    PendingAlreadyVoided(TransferId),
    #[error("pending transfer {0} has expired")]
    PendingExpired(TransferId),
    #[error("pending transfer {0} has not reached its timeout")]
    PendingNotYetExpired(TransferId),
    #[error("accounts must be those of the pending transfer")]
    AccountsDifferFromPending,
    #[error("cannot post {requested}: the pending transfer holds {pending}")]
    PostExceedsPending { pending: i64, requested: i64 },
    #[error("a void must name the full pending amount {pending}, not {requested}")]
    VoidAmountMismatch { pending: i64, requested: i64 },
    #[error("transfer {0} to reverse does not exist")]
    ReversedNotFound(TransferId),
    #[error("transfer {0} cannot be reversed: only posted transfers can")]
    CannotReverse(TransferId),
    #[error("a reversal must swap the accounts of the transfer it reverses")]
    ReversalAccountsMismatch,
    #[error("only {remaining} of the original transfer is left to reverse, {requested} requested")]
    ReversalExceedsOriginal { remaining: i64, requested: i64 },
    #[error("lot dates given for account {0}, which does not track lots")]
    LotTermsOnPlainAccount(AccountId),
    #[error("a lot must become available before it expires")]
    InvalidLotTerms,
    #[error("lot {0} does not exist in the debited account")]
    LotNotFound(TransferId),
    #[error("not allowed here: {0}")]
    OptionNotAllowed(&'static str),
    #[error("amount out of range")]
    Overflow,
}

/// A batch is atomic: the first refused transfer refuses the whole batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("transfer #{index} ({id}): {error}")]
pub struct BatchError {
    pub index: usize,
    pub id: TransferId,
    pub error: TransferError,
}
