//! Journal entries (会计分录/凭证): postings that balance, applied whole or not at all.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::codec::{self, put_bytes, put_signed, put_varint};
use crate::currency::Currency;
use crate::id::{AccountId, EntryId, PrincipalName};
use crate::ledger::Position;
use crate::rejection::Rejection;
use crate::time::{Date, Timestamp};

/// Debit or credit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// 借.
    Debit,
    /// 贷.
    Credit,
}

impl Side {
    /// The other side.
    pub fn opposite(self) -> Side {
        match self {
            Side::Debit => Side::Credit,
            Side::Credit => Side::Debit,
        }
    }
}

/// One line of an entry: an account, a side and a positive amount.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Posting {
    /// The account posted to.
    pub account: AccountId,
    /// Debit or credit.
    pub side: Side,
    /// A positive amount in the entry's currency.
    pub amount: Amount,
}

/// A journal entry as a client submits it. A transfer is an entry with one
/// debit and one credit posting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEntry {
    /// Client-chosen id: the idempotency key.
    pub id: EntryId,
    /// The entry's one currency.
    pub currency: Currency,
    /// The postings, as given.
    pub postings: Vec<Posting>,
    /// Ask for the entry to wait for approval even below any threshold.
    pub pending: bool,
    /// How long a pending entry waits before it expires.
    pub timeout_seconds: Option<u64>,
    /// Free text.
    pub memo: Option<String>,
    /// The client's reference (e.g. its own voucher number).
    pub reference: Option<String>,
    /// Value date (起息日), if not the booking day.
    pub value_date: Option<Date>,
    /// Wait in the liquidity-saving queue instead of being refused when the
    /// entry would take a payer past its net debit cap (see
    /// [`EntryStatus::Queued`]).
    pub queue_if_over_cap: bool,
}

impl NewEntry {
    /// A two-posting transfer: debit `debit`, credit `credit`.
    pub fn transfer(
        id: EntryId,
        debit: AccountId,
        credit: AccountId,
        amount: Amount,
        currency: Currency,
    ) -> NewEntry {
        NewEntry {
            id,
            currency,
            postings: vec![
                Posting {
                    account: debit,
                    side: Side::Debit,
                    amount,
                },
                Posting {
                    account: credit,
                    side: Side::Credit,
                    amount,
                },
            ],
            pending: false,
            timeout_seconds: None,
            memo: None,
            reference: None,
            value_date: None,
            queue_if_over_cap: false,
        }
    }

    /// The sum of the debit postings: the entry's amount for thresholds.
    pub fn debit_total(&self) -> Amount {
        self.postings
            .iter()
            .filter(|posting| posting.side == Side::Debit)
            .fold(Amount::ZERO, |sum, posting| {
                sum.checked_add(posting.amount).unwrap_or(sum)
            })
    }

    /// The first field in which `other` differs from `self`, for
    /// `exists_with_different_*` rejections.
    pub fn first_difference(&self, other: &NewEntry) -> Option<EntryField> {
        if self.currency != other.currency {
            return Some(EntryField::Currency);
        }
        if self.postings != other.postings {
            let transfer_shaped = |entry: &NewEntry| {
                entry.postings.len() == 2
                    && entry.postings[0].side == Side::Debit
                    && entry.postings[1].side == Side::Credit
            };
            if transfer_shaped(self) && transfer_shaped(other) {
                if self.postings[0].account != other.postings[0].account {
                    return Some(EntryField::DebitAccount);
                }
                if self.postings[1].account != other.postings[1].account {
                    return Some(EntryField::CreditAccount);
                }
                return Some(EntryField::Amount);
            }
            return Some(EntryField::Postings);
        }
        if self.pending != other.pending {
            return Some(EntryField::Pending);
        }
        if self.timeout_seconds != other.timeout_seconds {
            return Some(EntryField::Timeout);
        }
        if self.memo != other.memo {
            return Some(EntryField::Memo);
        }
        if self.reference != other.reference {
            return Some(EntryField::Reference);
        }
        if self.value_date != other.value_date {
            return Some(EntryField::ValueDate);
        }
        if self.queue_if_over_cap != other.queue_if_over_cap {
            return Some(EntryField::QueueIfOverCap);
        }
        None
    }
}

/// A field of an entry request, named in `exists_with_different_<field>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryField {
    /// The currency.
    Currency,
    /// A transfer's debit account.
    DebitAccount,
    /// A transfer's credit account.
    CreditAccount,
    /// A transfer's amount.
    Amount,
    /// An entry's postings.
    Postings,
    /// The pending flag.
    Pending,
    /// The pending timeout.
    Timeout,
    /// The memo.
    Memo,
    /// The reference.
    Reference,
    /// The value date.
    ValueDate,
    /// The liquidity-queue flag.
    QueueIfOverCap,
    /// The entry reversed.
    Reverses,
    /// The reason.
    Reason,
}

impl EntryField {
    /// The field's snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            EntryField::Currency => "currency",
            EntryField::DebitAccount => "debit_account",
            EntryField::CreditAccount => "credit_account",
            EntryField::Amount => "amount",
            EntryField::Postings => "postings",
            EntryField::Pending => "pending",
            EntryField::Timeout => "timeout",
            EntryField::Memo => "memo",
            EntryField::Reference => "reference",
            EntryField::ValueDate => "value_date",
            EntryField::QueueIfOverCap => "queue_if_over_cap",
            EntryField::Reverses => "reverses",
            EntryField::Reason => "reason",
        }
    }
}

/// Where an entry stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryStatus {
    /// Applied to the posted balances.
    Posted,
    /// Reserved, waiting for approval (待授权).
    Pending,
    /// Waiting in the liquidity-saving queue of its payer branch: over the
    /// payer's net debit cap when submitted, it reserves nothing and counts
    /// against no cap until offsetting payments make room. It leaves the
    /// queue posted (or pending, if it needs approval), voided (withdrawn or
    /// expired), or rejected (when it can no longer post, or at the window's
    /// close when the gridlock resolution cannot release it).
    Queued,
    /// A pending entry that was rejected by an approver or expired.
    Voided {
        /// Why it was voided.
        reason: VoidReason,
    },
    /// Refused when submitted; nothing was booked. Kept so that the id always
    /// answers the same.
    Rejected {
        /// The rejection.
        rejection: Rejection,
    },
}

/// Why a pending entry was voided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoidReason {
    /// An approver rejected it.
    RejectedByApprover,
    /// Its timeout passed.
    Expired,
}

/// Why an entry needed approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalReason {
    /// The client asked for it.
    Requested,
    /// At or above the branch/currency threshold (大额).
    AboveThreshold,
    /// An outbound posting from an internal account.
    InternalAccountOutbound,
}

/// An approver's decision on a pending entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Who decided (the system, for expiry).
    pub by: PrincipalName,
    /// When.
    pub at: Timestamp,
    /// Where in the log.
    pub position: Position,
    /// Why, as the approver put it.
    pub reason: Option<String>,
}

/// A journal entry as booked. Its record (see the `Serialize` impl) keeps
/// the booked postings as what they add to the request's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// The request as submitted, kept for idempotency checks.
    pub request: NewEntry,
    /// The postings as booked: the request's plus the clearing postings the
    /// ledger added for an inter-branch entry.
    pub postings: Vec<Posting>,
    /// Where it stands.
    pub status: EntryStatus,
    /// Where in the log it was booked.
    pub booked: Position,
    /// When it was booked.
    pub booked_at: Timestamp,
    /// Who submitted it.
    pub posted_by: PrincipalName,
    /// Why it waits for approval (empty when it posted directly).
    pub approval_reasons: Vec<ApprovalReason>,
    /// The lowest authority level that may approve it.
    pub required_authority: u8,
    /// When a pending entry expires.
    pub expires_at: Option<Timestamp>,
    /// The approver's or expiry's decision (boxed: most entries have none,
    /// and every entry is held in memory; the encoding is the same).
    pub decision: Option<Box<Decision>>,
    /// The entry this one reverses (冲正).
    pub reverses: Option<EntryId>,
    /// Why this entry reverses another.
    pub reversal_reason: Option<String>,
    /// The entry that reversed this one.
    pub reversed_by: Option<EntryId>,
    /// The clearing window an inter-branch entry's positions went to.
    pub window: Option<u64>,
    /// For an entry that waited in the liquidity-saving queue: which queue,
    /// and when it left.
    /// Boxed, as `decision` is.
    pub queue: Option<Box<QueueStay>>,
}

/// The booked postings of an entry's record. Almost every entry books its
/// request's postings and then the clearing postings the ledger added, so
/// the record keeps only the added ones: every entry is held in memory and
/// stored for good, and the request's postings are its largest part.
#[derive(Serialize, Deserialize)]
enum BookedPostings<'a> {
    /// The request's postings, then these.
    AfterRequested(Cow<'a, [Posting]>),
    /// These alone (none, for an entry refused).
    Own(Cow<'a, [Posting]>),
}

impl<'a> BookedPostings<'a> {
    fn of(entry: &'a JournalEntry) -> BookedPostings<'a> {
        match entry
            .postings
            .strip_prefix(entry.request.postings.as_slice())
        {
            Some(added) => BookedPostings::AfterRequested(Cow::Borrowed(added)),
            None => BookedPostings::Own(Cow::Borrowed(&entry.postings)),
        }
    }

    fn into_postings(self, requested: &[Posting]) -> Vec<Posting> {
        match self {
            BookedPostings::AfterRequested(added) => [requested, &added].concat(),
            BookedPostings::Own(postings) => postings.into_owned(),
        }
    }
}

/// The fields in declaration order, as a tuple: in bincode a struct and a
/// tuple of its fields encode alike.
impl Serialize for JournalEntry {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (
            &self.request,
            BookedPostings::of(self),
            &self.status,
            &self.booked,
            &self.booked_at,
            &self.posted_by,
            &self.approval_reasons,
            self.required_authority,
            &self.expires_at,
            &self.decision,
            &self.reverses,
            &self.reversal_reason,
            &self.reversed_by,
            &self.window,
            &self.queue,
        )
            .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for JournalEntry {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (
            request,
            postings,
            status,
            booked,
            booked_at,
            posted_by,
            approval_reasons,
            required_authority,
            expires_at,
            decision,
            reverses,
            reversal_reason,
            reversed_by,
            window,
            queue,
        ): (
            NewEntry,
            BookedPostings<'static>,
            _,
            _,
            _,
            _,
            _,
            _,
            _,
            _,
            _,
            _,
            _,
            _,
            _,
        ) = Deserialize::deserialize(deserializer)?;
        Ok(JournalEntry {
            postings: postings.into_postings(&request.postings),
            request,
            status,
            booked,
            booked_at,
            posted_by,
            approval_reasons,
            required_authority,
            expires_at,
            decision,
            reverses,
            reversal_reason,
            reversed_by,
            window,
            queue,
        })
    }
}

/// Appends `entry`'s record exactly as [`codec::encode`] encodes it. Posted
/// and pending entries without a decision or a queue stay (what nearly
/// every entry is when booked) are encoded by hand, several times faster
/// than through serde; the rest go through serde.
/// `tests::hand_encoding_equals_bincode` holds the two equal.
pub(crate) fn encode_entry(entry: &JournalEntry, out: &mut Vec<u8>) {
    let status = match entry.status {
        EntryStatus::Posted => 0,
        EntryStatus::Pending => 1,
        _ => return codec::encode_into(entry, out),
    };
    if entry.decision.is_some() || entry.queue.is_some() {
        return codec::encode_into(entry, out);
    }
    let request = &entry.request;
    put_bytes(out, request.id.as_bytes());
    put_bytes(out, request.currency.as_bytes());
    put_postings(out, &request.postings);
    out.push(u8::from(request.pending));
    put_option(out, request.timeout_seconds, put_varint);
    put_option(out, request.memo.as_deref(), |out, memo| {
        put_bytes(out, memo.as_bytes());
    });
    put_option(out, request.reference.as_deref(), |out, reference| {
        put_bytes(out, reference.as_bytes());
    });
    put_option(out, request.value_date, |out, date| {
        put_signed(out, i128::from(date.0));
    });
    out.push(u8::from(request.queue_if_over_cap));
    match BookedPostings::of(entry) {
        BookedPostings::AfterRequested(added) => {
            put_varint(out, 0);
            put_postings(out, &added);
        }
        BookedPostings::Own(postings) => {
            put_varint(out, 1);
            put_postings(out, &postings);
        }
    }
    put_varint(out, status);
    put_varint(out, entry.booked.index);
    put_varint(out, u64::from(entry.booked.seq));
    put_signed(out, i128::from(entry.booked_at.0));
    put_bytes(out, entry.posted_by.as_bytes());
    put_varint(out, entry.approval_reasons.len() as u64);
    for reason in &entry.approval_reasons {
        put_varint(out, *reason as u64);
    }
    out.push(entry.required_authority);
    put_option(out, entry.expires_at, |out, at| {
        put_signed(out, i128::from(at.0));
    });
    // No decision.
    out.push(0);
    put_option(out, entry.reverses.as_ref(), |out, id| {
        put_bytes(out, id.as_bytes());
    });
    put_option(out, entry.reversal_reason.as_deref(), |out, reason| {
        put_bytes(out, reason.as_bytes());
    });
    put_option(out, entry.reversed_by.as_ref(), |out, id| {
        put_bytes(out, id.as_bytes());
    });
    put_option(out, entry.window, put_varint);
    // No queue stay.
    out.push(0);
}

/// Appends a sequence of postings as [`codec::encode`] encodes it.
pub(crate) fn put_postings(out: &mut Vec<u8>, postings: &[Posting]) {
    put_varint(out, postings.len() as u64);
    for posting in postings {
        put_bytes(out, posting.account.as_bytes());
        put_varint(out, posting.side as u64);
        put_signed(out, posting.amount.minor());
    }
}

/// Appends an option: a 0 byte, or a 1 byte and the value as `put` writes it.
fn put_option<T>(out: &mut Vec<u8>, value: Option<T>, put: impl FnOnce(&mut Vec<u8>, T)) {
    match value {
        None => out.push(0),
        Some(value) => {
            out.push(1);
            put(out, value);
        }
    }
}

/// What a restore needs of a posted entry's record: which of the marks
/// that make an entry notable it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PostedMarks {
    /// It waited for approval.
    pub(crate) approval: bool,
    /// It reverses another entry.
    pub(crate) reverses: bool,
    /// Another entry reversed it.
    pub(crate) reversed: bool,
}

impl PostedMarks {
    /// The marks `entry` carries.
    pub(crate) fn of(entry: &JournalEntry) -> PostedMarks {
        PostedMarks {
            approval: !entry.approval_reasons.is_empty(),
            reverses: entry.reverses.is_some(),
            reversed: entry.reversed_by.is_some(),
        }
    }

    /// Whether it carries any.
    pub(crate) fn any(self) -> bool {
        self.approval || self.reverses || self.reversed
    }
}

/// Reads the record of a posted entry without a decision or queue stay
/// (what nearly every record is) as [`codec::decode`] would, checking every
/// field, but without building the entry. `None` when the record is of
/// another shape or is not written as [`encode_entry`] writes: what this
/// accepts decodes, and the caller decodes the rest through serde, which
/// then gives the verdict. `tests::skimmed_records_decode` holds it so.
pub(crate) fn skim_posted(bytes: &[u8]) -> Option<PostedMarks> {
    let mut record = Reader(bytes);
    let r = &mut record;
    // The request.
    r.id()?;
    Currency::from_bytes(r.string()?)?;
    r.postings()?;
    r.flag()?;
    r.option(Reader::u64)?;
    r.option(Reader::text)?;
    r.option(Reader::text)?;
    r.option(|r| r.signed(252))?;
    r.flag()?;
    // The booked postings, as added to the request's or their own.
    if r.u32()? > 1 {
        return None;
    }
    r.postings()?;
    // Posted.
    if r.u32()? != 0 {
        return None;
    }
    r.u64()?;
    r.u32()?;
    r.signed(253)?;
    r.id()?;
    let reasons = r.u64()?;
    for _ in 0..reasons {
        if r.u32()? > ApprovalReason::InternalAccountOutbound as u32 {
            return None;
        }
    }
    r.byte()?;
    r.option(|r| r.signed(253))?;
    // No decision.
    if r.flag()? {
        return None;
    }
    let reverses = r.option(Reader::id)?.is_some();
    r.option(Reader::text)?;
    let reversed = r.option(Reader::id)?.is_some();
    r.option(Reader::u64)?;
    // No queue stay, and nothing after it.
    if r.flag()? || !r.0.is_empty() {
        return None;
    }
    Some(PostedMarks {
        approval: reasons > 0,
        reverses,
        reversed,
    })
}

/// The bytes of a record still to read, for [`skim_posted`]. Each read
/// takes what bincode's standard configuration writes, written the one way
/// the encoder writes it, or fails.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&byte, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(byte)
    }

    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let (taken, rest) = self.0.split_at_checked(len)?;
        self.0 = rest;
        Some(taken)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    /// A variable-length unsigned integer with a marker up to `widest`
    /// (251: 16 bits, 252: 32, 253: 64, 254: 128), in its shortest form.
    fn varint(&mut self, widest: u8) -> Option<u128> {
        let marker = self.byte()?;
        let (value, least) = match marker {
            0..=250 => return Some(u128::from(marker)),
            251 => (u128::from(u16::from_le_bytes(self.array()?)), 251),
            252 => (u128::from(u32::from_le_bytes(self.array()?)), 1 << 16),
            253 => (u128::from(u64::from_le_bytes(self.array()?)), 1 << 32),
            254 => (u128::from_le_bytes(self.array()?), 1 << 64),
            _ => return None,
        };
        (marker <= widest && value >= least).then_some(value)
    }

    fn u64(&mut self) -> Option<u64> {
        u64::try_from(self.varint(253)?).ok()
    }

    /// A `u32`, or an enum's variant index.
    fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.varint(252)?).ok()
    }

    /// A zig-zag mapped signed integer whose widest marker is `widest`.
    fn signed(&mut self, widest: u8) -> Option<i128> {
        let zigzag = self.varint(widest)?;
        let magnitude = (zigzag >> 1) as i128;
        Some(if zigzag & 1 == 1 {
            -magnitude - 1
        } else {
            magnitude
        })
    }

    fn flag(&mut self) -> Option<bool> {
        match self.byte()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    /// A string's bytes, not yet checked as UTF-8.
    fn string(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.u64()?).ok()?;
        self.take(len)
    }

    fn text(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.string()?).ok()
    }

    /// An id: what passes [`crate::id::validate_id`] is ASCII, so its bytes
    /// are checked as they are.
    fn id(&mut self) -> Option<()> {
        crate::id::is_id(self.string()?).then_some(())
    }

    fn option<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.flag()? {
            read(self).map(Some)
        } else {
            Some(None)
        }
    }

    fn postings(&mut self) -> Option<()> {
        for _ in 0..self.u64()? {
            self.id()?;
            if self.u32()? > Side::Credit as u32 {
                return None;
            }
            self.signed(254)?;
        }
        Some(())
    }
}

/// An entry's stay in the liquidity-saving queue (流动性节约队列). It
/// entered when it was booked (`JournalEntry::booked`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStay {
    /// The payer branch whose queue (in the entry's currency) it waits in:
    /// its first payer in branch-code order.
    pub branch: crate::id::BranchCode,
    /// Where in the log it left the queue (released, voided or rejected).
    pub left: Option<Position>,
    /// When it left.
    pub left_at: Option<Timestamp>,
}

impl JournalEntry {
    /// An entry booked with nothing else to it: no approval asked, no
    /// expiry, decision, reversal, window or queue stay.
    pub(crate) fn plain(
        request: NewEntry,
        postings: Vec<Posting>,
        status: EntryStatus,
        booked: Position,
        booked_at: Timestamp,
        posted_by: PrincipalName,
    ) -> JournalEntry {
        JournalEntry {
            request,
            postings,
            status,
            booked,
            booked_at,
            posted_by,
            approval_reasons: Vec::new(),
            required_authority: 0,
            expires_at: None,
            decision: None,
            reverses: None,
            reversal_reason: None,
            reversed_by: None,
            window: None,
            queue: None,
        }
    }

    /// The entry's id.
    pub fn id(&self) -> &EntryId {
        &self.request.id
    }

    /// Whether the entry crosses branches (it carries clearing postings).
    pub fn is_inter_branch(&self) -> bool {
        self.postings.len() > self.request.postings.len()
    }
}

/// The answer for one entry of a post: its id, status and where it was booked.
/// A retry with the same id and content gets the original answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryOutcome {
    /// The entry's id.
    pub id: EntryId,
    /// `Posted`, `Pending`, `Queued`, `Voided` or `Rejected`.
    pub status: EntryStatus,
    /// Where it was booked (for a retry: the original position).
    pub position: Position,
    /// When it was booked.
    pub booked_at: Timestamp,
}

impl EntryOutcome {
    /// The outcome recorded for a booked entry.
    pub fn of(entry: &JournalEntry) -> EntryOutcome {
        EntryOutcome {
            id: entry.request.id.clone(),
            status: entry.status.clone(),
            position: entry.booked,
            booked_at: entry.booked_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec;

    fn posting(account: &str, side: Side, minor: i128) -> Posting {
        Posting {
            account: AccountId::new(account).unwrap(),
            side,
            amount: Amount::from_minor(minor),
        }
    }

    fn booked(postings: Vec<Posting>, status: EntryStatus) -> JournalEntry {
        let request = NewEntry::transfer(
            EntryId::new("e-1").unwrap(),
            AccountId::new("payer-account").unwrap(),
            AccountId::new("payee-account").unwrap(),
            Amount::from_minor(125),
            Currency::new("CNY").unwrap(),
        );
        JournalEntry::plain(
            request,
            postings,
            status,
            Position { index: 9, seq: 2 },
            Timestamp(1_700_000_000_000),
            PrincipalName::new("op1").unwrap(),
        )
    }

    /// Every shape of booked postings comes back from the record as it
    /// was: the request's alone, the request's and clearing postings, none
    /// (refused), and postings that do not start with the request's.
    #[test]
    fn booked_postings_round_trip() {
        let requested = booked(Vec::new(), EntryStatus::Posted).request.postings;
        let clearing = [
            posting("clearing-a", Side::Credit, 125),
            posting("clearing-b", Side::Debit, 125),
        ];
        let shapes = [
            requested.clone(),
            [requested.as_slice(), &clearing].concat(),
            Vec::new(),
            requested.iter().rev().cloned().collect(),
            clearing.to_vec(),
        ];
        for postings in shapes {
            let entry = booked(postings, EntryStatus::Posted);
            let bytes = codec::encode(&entry);
            assert_eq!(codec::decode::<JournalEntry>(&bytes), Ok(entry));
        }
    }

    /// The record of an entry that booked its request's postings carries
    /// each account id once.
    #[test]
    fn requested_postings_are_stored_once() {
        let entry = booked(
            booked(Vec::new(), EntryStatus::Posted).request.postings,
            EntryStatus::Posted,
        );
        let bytes = codec::encode(&entry);
        for account in ["payer-account", "payee-account"] {
            let times = bytes
                .windows(account.len())
                .filter(|window| *window == account.as_bytes())
                .count();
            assert_eq!(times, 1, "{account}");
        }
    }

    /// The hand encoding writes what serde writes, for every field of the
    /// shapes it encodes itself (each optional field absent and present,
    /// integers across bincode's width markers) and for the shapes it
    /// leaves to serde.
    /// Entries of the shapes the hand encoding writes (each optional field
    /// absent and present, integers across bincode's width markers), then
    /// three it leaves to serde: decided, queued and voided.
    fn shapes() -> Vec<JournalEntry> {
        let clearing = [posting("clearing-a", Side::Credit, 1 << 40)];
        let requested = booked(Vec::new(), EntryStatus::Posted).request.postings;
        let mut entries = Vec::new();
        for n in 0..12_u32 {
            let wide = |small: u64| {
                if n % 2 == 0 {
                    small
                } else {
                    small << (8 * (n % 8))
                }
            };
            let mut entry = booked(
                [requested.as_slice(), &clearing[..(n % 2) as usize]].concat(),
                if n % 3 == 0 {
                    EntryStatus::Pending
                } else {
                    EntryStatus::Posted
                },
            );
            entry.booked = Position {
                index: wide(200),
                seq: u32::try_from(wide(3) & u64::from(u32::MAX)).unwrap(),
            };
            entry.booked_at = Timestamp(-(i64::from(n) << (5 * n)));
            entry.request.postings[0].amount = Amount::from_minor(i128::from(wide(7)) << (10 * n));
            if n % 2 == 1 {
                let request = &mut entry.request;
                request.pending = true;
                request.timeout_seconds = Some(wide(300));
                request.memo = Some("m".repeat(n as usize * 30));
                request.reference = Some("voucher 7".into());
                request.value_date = Some(Date(-(n as i32) * 1_000));
                request.queue_if_over_cap = true;
                entry.approval_reasons = vec![
                    ApprovalReason::Requested,
                    ApprovalReason::AboveThreshold,
                    ApprovalReason::InternalAccountOutbound,
                ];
                entry.required_authority = 250 + (n % 6) as u8;
                entry.expires_at = Some(Timestamp(i64::MAX - i64::from(n)));
                entry.reverses = Some(EntryId::new("e-0").unwrap());
                entry.reversal_reason = Some("wrong payee".into());
                entry.reversed_by = Some(EntryId::new("x".repeat(40)).unwrap());
                entry.window = Some(wide(60));
            }
            entries.push(entry);
        }
        // Shapes left to serde.
        let mut decided = booked(requested.clone(), EntryStatus::Posted);
        decided.decision = Some(Box::new(Decision {
            by: PrincipalName::new("approver").unwrap(),
            at: Timestamp(5),
            position: Position { index: 10, seq: 0 },
            reason: None,
        }));
        let mut queued = booked(requested.clone(), EntryStatus::Queued);
        queued.queue = Some(Box::new(QueueStay {
            branch: crate::id::BranchCode::new("B01").unwrap(),
            left: None,
            left_at: None,
        }));
        let voided = booked(
            requested,
            EntryStatus::Voided {
                reason: VoidReason::Expired,
            },
        );
        entries.extend([decided, queued, voided]);
        entries
    }

    /// The hand encoding writes what serde writes, for the shapes it
    /// encodes itself and for those it leaves to serde.
    #[test]
    fn hand_encoding_equals_bincode() {
        for entry in shapes() {
            let mut hand = Vec::new();
            encode_entry(&entry, &mut hand);
            assert_eq!(hand, codec::encode(&entry), "{entry:?}");
            assert_eq!(codec::decode::<JournalEntry>(&hand), Ok(entry));
        }
    }

    /// The skim reads the marks of every posted record, declines the other
    /// shapes, and accepts nothing that does not decode: every record with
    /// any one byte changed (to each of the values where bincode's markers
    /// and flags change meaning), cut short, or with a byte added.
    #[test]
    fn skimmed_records_decode() {
        let mut skimmed = 0;
        for entry in shapes() {
            let bytes = codec::encode(&entry);
            let marks = skim_posted(&bytes);
            if entry.status == EntryStatus::Posted && entry.decision.is_none() {
                assert_eq!(marks, Some(PostedMarks::of(&entry)), "{entry:?}");
            } else {
                assert_eq!(marks, None, "{entry:?}");
            }
            let mut variants = vec![
                bytes[..bytes.len() - 1].to_vec(),
                [&bytes[..], &[0]].concat(),
            ];
            for at in 0..bytes.len() {
                for value in [
                    0,
                    1,
                    2,
                    3,
                    45,
                    127,
                    128,
                    250,
                    251,
                    252,
                    253,
                    254,
                    255,
                    bytes[at] ^ 1,
                ] {
                    let mut changed = bytes.clone();
                    changed[at] = value;
                    variants.push(changed);
                }
                variants.push(bytes[..at].to_vec());
            }
            for changed in variants {
                if skim_posted(&changed).is_some() {
                    skimmed += 1;
                    assert!(
                        codec::decode::<JournalEntry>(&changed).is_ok(),
                        "skimmed but does not decode: {changed:?}"
                    );
                }
            }
        }
        assert!(skimmed > 1_000, "{skimmed} changed records skimmed");
    }
}
