//! Why the ledger refused a command. Every replica computes the same rejection,
//! and a rejected command leaves the ledger unchanged (but for remembering a
//! rejected entry id, so that the id always answers the same).

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::currency::Currency;
use crate::id::{AccountId, BranchCode, EntryId, PrincipalName};
use crate::journal_entry::EntryField;
use crate::statement::StatementRejection;

/// A business rejection: data that goes back to the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Rejection {
    /// The actor's role may not do this.
    #[error("forbidden: {reason}")]
    Forbidden {
        /// What the role lacks.
        reason: String,
    },
    /// The actor is not a known principal.
    #[error("principal {principal} is not known")]
    PrincipalNotFound {
        /// The name.
        principal: PrincipalName,
    },
    /// A principal by that name exists already.
    #[error("principal {principal} exists already")]
    PrincipalExists {
        /// The name.
        principal: PrincipalName,
    },
    /// The API key is registered to another principal.
    #[error("that key is registered already")]
    KeyInUse,
    /// No principal by that name (the subject of an admin command).
    #[error("no principal is named {principal}")]
    UnknownPrincipal {
        /// The name.
        principal: PrincipalName,
    },
    /// The principal was revoked; it cannot be changed or used again.
    #[error("principal {principal} is revoked")]
    PrincipalRevoked {
        /// The name.
        principal: PrincipalName,
    },
    /// Revoking it would leave no admin able to sign in.
    #[error("{principal} is the last admin that is not revoked; create another admin first")]
    LastAdmin {
        /// The name.
        principal: PrincipalName,
    },
    /// No such branch.
    #[error("branch {branch} does not exist")]
    BranchNotFound {
        /// The branch code.
        branch: BranchCode,
    },
    /// A branch with this code exists with different content.
    #[error("branch {branch} exists with a different {field}")]
    BranchExistsWithDifferent {
        /// The branch code.
        branch: BranchCode,
        /// The differing field.
        field: String,
    },
    /// No such account.
    #[error("account {account} does not exist")]
    AccountNotFound {
        /// The account id.
        account: AccountId,
    },
    /// An account with this id exists with different content.
    #[error("account {account} exists with a different {field}")]
    AccountExistsWithDifferent {
        /// The account id.
        account: AccountId,
        /// The differing field.
        field: String,
    },
    /// A posting's account holds another currency.
    #[error("account {account} holds {account_currency}, not {currency}")]
    AccountCurrencyMismatch {
        /// The account.
        account: AccountId,
        /// The account's currency.
        account_currency: Currency,
        /// The entry's currency.
        currency: Currency,
    },
    /// The account is frozen.
    #[error("account {account} is frozen")]
    AccountFrozen {
        /// The account.
        account: AccountId,
    },
    /// The account is closed.
    #[error("account {account} is closed")]
    AccountClosed {
        /// The account.
        account: AccountId,
    },
    /// The account still has a balance or pending amounts.
    #[error("account {account} still has a balance or pending amounts")]
    AccountBalanceNotZero {
        /// The account.
        account: AccountId,
    },
    /// A new account asked for the `closed` flag.
    #[error("an account cannot be opened closed")]
    AccountOpenedClosed,
    /// The branch has its one account of this purpose and currency already
    /// (clearing, settlement reserve, central bank reserve, or an external
    /// participant's vostro).
    #[error(
        "branch {branch} already has its {currency} clearing, reserve or settlement account {account}"
    )]
    ClearingAccountExists {
        /// The branch.
        branch: BranchCode,
        /// The currency.
        currency: Currency,
        /// The existing account.
        account: AccountId,
    },
    /// An inter-branch entry needs a clearing account the branch lacks.
    #[error("branch {branch} has no {currency} clearing account")]
    ClearingAccountMissing {
        /// The branch.
        branch: BranchCode,
        /// The currency.
        currency: Currency,
    },
    /// Fewer than two postings.
    #[error("an entry needs at least two postings")]
    PostingsTooFew,
    /// More postings than the limit.
    #[error("an entry may have at most {max} postings")]
    PostingsTooMany {
        /// The limit.
        max: usize,
    },
    /// A posting amount is zero or negative.
    #[error("posting amounts must be greater than zero")]
    AmountNotPositive,
    /// A posting amount is above the ledger's limit.
    #[error("posting amount is above the ledger's limit")]
    AmountTooLarge,
    /// A transfer names the same account on both sides.
    #[error("the debit and credit accounts must be different")]
    AccountsMustBeDifferent,
    /// Debits and credits differ.
    #[error("entry is unbalanced: debits {debits:?} and credits {credits:?} (minor units)")]
    EntryUnbalanced {
        /// Sum of debits.
        debits: Amount,
        /// Sum of credits.
        credits: Amount,
    },
    /// The posting would take debits past credits on a
    /// `debits_must_not_exceed_credits` account.
    #[error("insufficient funds in account {account}")]
    InsufficientFunds {
        /// The account.
        account: AccountId,
    },
    /// The posting would take credits past debits on a
    /// `credits_must_not_exceed_debits` account.
    #[error("credits would exceed debits in account {account}")]
    CreditsExceedDebits {
        /// The account.
        account: AccountId,
    },
    /// A balance would overflow.
    #[error("a balance of account {account} would overflow")]
    BalanceOverflow {
        /// The account.
        account: AccountId,
    },
    /// The id was used before with different content.
    #[error("entry {entry} exists with a different {}", field.name())]
    ExistsWithDifferent {
        /// The entry.
        entry: EntryId,
        /// The first differing field.
        field: EntryField,
    },
    /// No such entry.
    #[error("entry {entry} does not exist")]
    EntryNotFound {
        /// The entry.
        entry: EntryId,
    },
    /// Approve/reject on an entry that is not pending.
    #[error("entry {entry} is not pending")]
    EntryNotPending {
        /// The entry.
        entry: EntryId,
    },
    /// Reverse on an entry that is not posted.
    #[error("entry {entry} is not posted; a pending entry is rejected, not reversed")]
    EntryNotPosted {
        /// The entry.
        entry: EntryId,
    },
    /// Reverse on an entry that was reversed already.
    #[error("entry {entry} was reversed already by {reversed_by}")]
    EntryAlreadyReversed {
        /// The entry.
        entry: EntryId,
        /// The reversal.
        reversed_by: EntryId,
    },
    /// A reversal or rejection without a reason.
    #[error("a reason is required")]
    ReasonRequired,
    /// Maker-checker: the approver submitted the entry.
    #[error("{approver} submitted this entry and may not approve it")]
    ApproverIsPoster {
        /// The principal.
        approver: PrincipalName,
    },
    /// The approver's authority is below what the entry needs.
    #[error("approving this entry needs authority {required}; {approver} has {held}")]
    InsufficientAuthority {
        /// The approver.
        approver: PrincipalName,
        /// The level required.
        required: u8,
        /// The level held.
        held: u8,
    },
    /// A pending timeout above the limit.
    #[error("pending timeout may be at most {max_seconds} seconds")]
    TimeoutTooLong {
        /// The limit.
        max_seconds: u64,
    },
    /// A memo, reference, reason or name above the length limit.
    #[error("{field} is longer than {max} bytes")]
    TextTooLong {
        /// Which text.
        field: String,
        /// The limit.
        max: usize,
    },
    /// A batch with no entries.
    #[error("the batch is empty")]
    BatchEmpty,
    /// A batch above the limit.
    #[error("a batch may hold at most {max} entries")]
    BatchTooLarge {
        /// The limit.
        max: usize,
    },
    /// Another entry of an atomic batch was rejected, so this one was not applied.
    #[error("another entry of the atomic batch was rejected ({failed})")]
    AtomicBatchFailed {
        /// The entry that was rejected.
        failed: EntryId,
    },
    /// An approval policy with too many tiers or tiers out of order.
    #[error("approval policy is invalid: {reason}")]
    PolicyInvalid {
        /// What is wrong.
        reason: String,
    },
    /// A window operation on a window that does not exist.
    #[error("clearing window {window} does not exist")]
    WindowNotFound {
        /// The window.
        window: u64,
    },
    /// A window operation in the wrong state.
    #[error("clearing window {window} is {status}, not {expected}")]
    WindowState {
        /// The window.
        window: u64,
        /// Its status.
        status: String,
        /// The status the operation needs.
        expected: String,
    },
    /// A window is open already.
    #[error("clearing window {window} is open already")]
    WindowAlreadyOpen {
        /// The open window.
        window: u64,
    },
    /// The entry would take a branch's net debit position past its cap.
    #[error(
        "branch {branch} would owe {} {currency}, above its net debit cap of {} {currency}",
        .position.to_decimal_string(*.currency),
        .cap.to_decimal_string(*.currency)
    )]
    NetDebitCapExceeded {
        /// The payer branch.
        branch: BranchCode,
        /// The currency.
        currency: Currency,
        /// The cap.
        cap: Amount,
        /// The net debit position the entry would leave, pending included.
        position: Amount,
    },
    /// A queued entry that the gridlock resolution at the window's close
    /// could not release: settling it with the rest would have taken a payer
    /// past its net debit cap.
    #[error(
        "the entry was still queued when clearing window {window} closed, and releasing it would have taken branch {branch} past its net debit cap"
    )]
    QueueUnresolvedAtClose {
        /// The window that closed.
        window: u64,
        /// The payer that would have gone short.
        branch: BranchCode,
    },
    /// `queue_if_over_cap` in an atomic batch: a batch that posts whole
    /// cannot leave one entry waiting.
    #[error("entry {entry} asks to queue if over the cap, which an atomic batch cannot do")]
    QueueInAtomicBatch {
        /// The entry.
        entry: EntryId,
    },
    /// A net debit cap that cannot be set.
    #[error("net debit cap is invalid: {reason}")]
    CapInvalid {
        /// What is wrong.
        reason: String,
    },
    /// Settlement needs one clearing center: the root of the org tree.
    #[error("settlement needs exactly one root branch (the clearing center); there are {roots}")]
    ClearingCenterUndefined {
        /// How many internal branches have no parent.
        roots: u64,
    },
    /// Settlement needs an account the branch (or external participant, or
    /// the clearing center) lacks.
    #[error("branch {branch} has no {currency} {purpose} account to settle through")]
    SettlementAccountMissing {
        /// The branch.
        branch: BranchCode,
        /// The currency.
        currency: Currency,
        /// `clearing`, `settlement_reserve`, `vostro` (an external
        /// participant's) or `central_bank_reserve` (the clearing center's).
        purpose: String,
    },
    /// An external participant stands outside the org tree and is reached
    /// only through its clearing scheme.
    #[error("external participant {branch}: {reason}")]
    ExternalParticipantInvalid {
        /// The external participant.
        branch: BranchCode,
        /// What is wrong.
        reason: String,
    },
    /// Settlement entries of a settled window are never reversed.
    #[error("entry {entry} settles a clearing window and cannot be reversed")]
    SettlementEntryIrreversible {
        /// The settlement entry.
        entry: EntryId,
    },
    /// A settlement entry's id is taken by another entry.
    #[error("settlement entry id {entry} is in use by another entry")]
    SettlementEntryExists {
        /// The id.
        entry: EntryId,
    },
    /// An external statement that the ledger will not store.
    #[error("statement refused: {reason}")]
    StatementInvalid {
        /// Why.
        reason: String,
    },
    /// A statement with this identity was imported with other content.
    #[error("external statement {statement} exists with different content")]
    ExternalStatementExistsWithDifferentContent {
        /// The statement.
        statement: String,
    },
    /// No such external statement (of this account).
    #[error("external statement {statement} does not exist for this account")]
    ExternalStatementNotFound {
        /// The statement.
        statement: String,
    },
    /// Matching rules that cannot run.
    #[error("matching rules are invalid: {reason}")]
    RulesInvalid {
        /// Why.
        reason: String,
    },
    /// No such break.
    #[error("break {id} does not exist")]
    BreakNotFound {
        /// The break.
        id: u64,
    },
    /// The break is not open.
    #[error("break {id} is {status}, not open")]
    BreakNotOpen {
        /// The break.
        id: u64,
        /// Its status.
        status: String,
    },
    /// An adjusting entry that does not post to the break's account.
    #[error("an adjusting entry must post to the break's account {account}")]
    AdjustmentOffAccount {
        /// The account.
        account: AccountId,
    },
    /// An item that cannot be matched by hand.
    #[error("{item} cannot be matched: {reason}")]
    ItemNotMatchable {
        /// The item.
        item: String,
        /// Why.
        reason: String,
    },
    /// A manual match asked of a break that is not about one item: amount
    /// and balance differences, disputed and overdue statement returns are
    /// resolved by an adjusting entry or an explanation.
    #[error("break {id} is a {kind} break: resolve it by an adjusting entry or an explanation")]
    ManualMatchNotApplicable {
        /// The break.
        id: u64,
        /// Its kind.
        kind: String,
    },
    /// A manual match whose sides differ.
    #[error("the postings sum to {postings} but the lines to {lines}")]
    ManualMatchUnbalanced {
        /// The postings' sum (statement signs).
        postings: String,
        /// The lines' sum.
        lines: String,
    },
    /// A statement command was refused.
    #[error("{0}")]
    Statement(StatementRejection),
    /// The entry is valued in a period the branch has closed.
    #[error(
        "branch {branch} is closed through {closed_through}; value date {value_date} is in the closed period"
    )]
    PeriodClosed {
        /// The branch.
        branch: BranchCode,
        /// Its last closed day.
        closed_through: crate::time::Date,
        /// The entry's value date.
        value_date: crate::time::Date,
    },
    /// A close through a day before the branch's current close.
    #[error(
        "branch {branch} is closed through {closed_through} already; a period is never reopened"
    )]
    PeriodAlreadyClosed {
        /// The branch.
        branch: BranchCode,
        /// Its last closed day.
        closed_through: crate::time::Date,
    },
    /// A close through a day that has not ended.
    #[error("{through} cannot be closed on {today}: only days up to today can be closed")]
    PeriodNotEnded {
        /// The day asked for.
        through: crate::time::Date,
        /// The ledger's day.
        today: crate::time::Date,
    },
    /// A review of an entry that is not flagged for review.
    #[error("entry {entry} is not flagged for review")]
    EntryNotFlagged {
        /// The entry.
        entry: EntryId,
    },
    /// Someone else reviewed the entry already.
    #[error("entry {entry} was reviewed already by {reviewed_by}")]
    EntryAlreadyReviewed {
        /// The entry.
        entry: EntryId,
        /// The reviewer.
        reviewed_by: PrincipalName,
    },
}

impl Rejection {
    /// The stable snake_case code clients match on.
    pub fn code(&self) -> String {
        match self {
            Rejection::ExistsWithDifferent { field, .. } => {
                format!("exists_with_different_{}", field.name())
            }
            Rejection::BranchExistsWithDifferent { field, .. } => {
                format!("branch_exists_with_different_{field}")
            }
            Rejection::AccountExistsWithDifferent { field, .. } => {
                format!("account_exists_with_different_{field}")
            }
            Rejection::Forbidden { .. } => "forbidden".to_string(),
            Rejection::PrincipalNotFound { .. } => "principal_not_found".to_string(),
            Rejection::PrincipalExists { .. } => "principal_exists".to_string(),
            Rejection::KeyInUse => "key_in_use".to_string(),
            Rejection::UnknownPrincipal { .. } => "unknown_principal".to_string(),
            Rejection::PrincipalRevoked { .. } => "principal_revoked".to_string(),
            Rejection::LastAdmin { .. } => "last_admin".to_string(),
            Rejection::BranchNotFound { .. } => "branch_not_found".to_string(),
            Rejection::AccountNotFound { .. } => "account_not_found".to_string(),
            Rejection::AccountCurrencyMismatch { .. } => "account_currency_mismatch".to_string(),
            Rejection::AccountFrozen { .. } => "account_frozen".to_string(),
            Rejection::AccountClosed { .. } => "account_closed".to_string(),
            Rejection::AccountBalanceNotZero { .. } => "account_balance_not_zero".to_string(),
            Rejection::AccountOpenedClosed => "account_opened_closed".to_string(),
            Rejection::ClearingAccountExists { .. } => "clearing_account_exists".to_string(),
            Rejection::ClearingAccountMissing { .. } => "clearing_account_missing".to_string(),
            Rejection::PostingsTooFew => "postings_too_few".to_string(),
            Rejection::PostingsTooMany { .. } => "postings_too_many".to_string(),
            Rejection::AmountNotPositive => "amount_not_positive".to_string(),
            Rejection::AmountTooLarge => "amount_too_large".to_string(),
            Rejection::AccountsMustBeDifferent => "accounts_must_be_different".to_string(),
            Rejection::EntryUnbalanced { .. } => "entry_unbalanced".to_string(),
            Rejection::InsufficientFunds { .. } => "insufficient_funds".to_string(),
            Rejection::CreditsExceedDebits { .. } => "credits_exceed_debits".to_string(),
            Rejection::BalanceOverflow { .. } => "balance_overflow".to_string(),
            Rejection::EntryNotFound { .. } => "entry_not_found".to_string(),
            Rejection::EntryNotPending { .. } => "entry_not_pending".to_string(),
            Rejection::EntryNotPosted { .. } => "entry_not_posted".to_string(),
            Rejection::EntryAlreadyReversed { .. } => "entry_already_reversed".to_string(),
            Rejection::ReasonRequired => "reason_required".to_string(),
            Rejection::ApproverIsPoster { .. } => "approver_is_poster".to_string(),
            Rejection::InsufficientAuthority { .. } => "insufficient_authority".to_string(),
            Rejection::TimeoutTooLong { .. } => "timeout_too_long".to_string(),
            Rejection::TextTooLong { .. } => "text_too_long".to_string(),
            Rejection::BatchEmpty => "batch_empty".to_string(),
            Rejection::BatchTooLarge { .. } => "batch_too_large".to_string(),
            Rejection::AtomicBatchFailed { .. } => "atomic_batch_failed".to_string(),
            Rejection::PolicyInvalid { .. } => "policy_invalid".to_string(),
            Rejection::WindowNotFound { .. } => "window_not_found".to_string(),
            Rejection::WindowState { .. } => "window_state".to_string(),
            Rejection::WindowAlreadyOpen { .. } => "window_already_open".to_string(),
            Rejection::NetDebitCapExceeded { .. } => "net_debit_cap_exceeded".to_string(),
            Rejection::CapInvalid { .. } => "cap_invalid".to_string(),
            Rejection::QueueUnresolvedAtClose { .. } => "queue_unresolved_at_close".to_string(),
            Rejection::QueueInAtomicBatch { .. } => "queue_in_atomic_batch".to_string(),
            Rejection::ClearingCenterUndefined { .. } => "clearing_center_undefined".to_string(),
            Rejection::SettlementAccountMissing { .. } => "settlement_account_missing".to_string(),
            Rejection::ExternalParticipantInvalid { .. } => {
                "external_participant_invalid".to_string()
            }
            Rejection::SettlementEntryExists { .. } => "settlement_entry_exists".to_string(),
            Rejection::StatementInvalid { .. } => "statement_invalid".to_string(),
            Rejection::ExternalStatementExistsWithDifferentContent { .. } => {
                "external_statement_exists_with_different_content".to_string()
            }
            Rejection::ExternalStatementNotFound { .. } => {
                "external_statement_not_found".to_string()
            }
            Rejection::RulesInvalid { .. } => "rules_invalid".to_string(),
            Rejection::BreakNotFound { .. } => "break_not_found".to_string(),
            Rejection::BreakNotOpen { .. } => "break_not_open".to_string(),
            Rejection::AdjustmentOffAccount { .. } => "adjustment_off_account".to_string(),
            Rejection::ItemNotMatchable { .. } => "item_not_matchable".to_string(),
            Rejection::ManualMatchNotApplicable { .. } => "manual_match_not_applicable".to_string(),
            Rejection::ManualMatchUnbalanced { .. } => "manual_match_unbalanced".to_string(),
            Rejection::Statement(rejection) => rejection.code().to_string(),
            Rejection::PeriodClosed { .. } => "period_closed".to_string(),
            Rejection::PeriodAlreadyClosed { .. } => "period_already_closed".to_string(),
            Rejection::PeriodNotEnded { .. } => "period_not_ended".to_string(),
            Rejection::EntryNotFlagged { .. } => "entry_not_flagged".to_string(),
            Rejection::EntryAlreadyReviewed { .. } => "entry_already_reviewed".to_string(),
            Rejection::SettlementEntryIrreversible { .. } => {
                "settlement_entry_irreversible".to_string()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_refusal_prints_amounts_in_the_currency() {
        let refusal = Rejection::NetDebitCapExceeded {
            branch: BranchCode::new("SH01").unwrap(),
            currency: Currency::new("CNY").unwrap(),
            cap: Amount::from_minor(70_000_000),
            position: Amount::from_minor(73_444_000),
        };
        assert_eq!(
            refusal.to_string(),
            "branch SH01 would owe 734440.00 CNY, above its net debit cap of 700000.00 CNY"
        );
        let yen = Rejection::NetDebitCapExceeded {
            branch: BranchCode::new("SH01").unwrap(),
            currency: Currency::new("JPY").unwrap(),
            cap: Amount::from_minor(500),
            position: Amount::from_minor(501),
        };
        assert_eq!(
            yen.to_string(),
            "branch SH01 would owe 501 JPY, above its net debit cap of 500 JPY"
        );
    }
}
