//! JSON views of ledger values: amounts as decimal strings in the currency's
//! minor unit, times as RFC 3339, statuses and codes as snake_case words.

use ledger::{
    Account, Amount, Applied, Balance, Branch, ClearingWindow, Currency, EntryOutcome, EntryStatus,
    Exposure, JournalEntry, NetDebitCap, Posting, Principal, Receipt, VoidReason, WindowPositions,
};
use serde_json::{Value, json};

/// An amount in `currency` as a decimal string.
pub fn amount(value: Amount, currency: Currency) -> Value {
    Value::String(value.to_decimal_string(currency))
}

/// A balance with its derived figures.
pub fn balance(balance: &Balance, account: &Account) -> Value {
    let currency = account.currency;
    json!({
        "debits_posted": amount(balance.debits_posted, currency),
        "credits_posted": amount(balance.credits_posted, currency),
        "debits_pending": amount(balance.debits_pending, currency),
        "credits_pending": amount(balance.credits_pending, currency),
        "posted": amount(balance.posted(account.class), currency),
        "available": amount(balance.available(account.class), currency),
    })
}

/// An account with its current balance.
pub fn account(account: &Account) -> Value {
    json!({
        "id": account.id,
        "branch": account.branch,
        "currency": account.currency,
        "class": account.class,
        "purpose": account.purpose,
        "name": account.name,
        "flags": account.flags,
        "balance": balance(&account.balance, account),
        "opened_index": account.opened_at.index,
        "opened_by": account.opened_by,
    })
}

/// A branch.
pub fn branch(branch: &Branch) -> Value {
    json!({
        "code": branch.code,
        "name": branch.name,
        "parent": branch.parent,
        "kind": branch.kind.name(),
        "scheme": branch.kind.scheme(),
        "created_index": branch.created_at.index,
    })
}

/// A principal (never its key).
pub fn principal(principal: &Principal) -> Value {
    json!({
        "name": principal.name,
        "role": principal.role.to_string(),
        "authority": principal.authority,
        "key_id": principal.key_id,
        "revoked": principal.revoked,
    })
}

/// A status word and, for a rejection, its code and detail.
pub fn status(status: &EntryStatus) -> (&'static str, Option<String>, Option<String>) {
    match status {
        EntryStatus::Posted => ("posted", None, None),
        EntryStatus::Pending => ("pending", None, None),
        EntryStatus::Queued => ("queued", None, None),
        EntryStatus::Voided {
            reason: VoidReason::Expired,
        } => ("voided", Some("expired".into()), None),
        EntryStatus::Voided {
            reason: VoidReason::RejectedByApprover,
        } => ("voided", Some("rejected_by_approver".into()), None),
        EntryStatus::Rejected { rejection } => (
            "rejected",
            Some(rejection.code()),
            Some(rejection.to_string()),
        ),
    }
}

/// One item's result in a transfer or entry batch.
pub fn entry_outcome(outcome: &EntryOutcome) -> Value {
    let (word, code, detail) = status(&outcome.status);
    let mut value = json!({
        "id": outcome.id,
        "status": word,
        "index": outcome.position.index,
        "booked_at": outcome.booked_at.to_string(),
    });
    if let Some(code) = code {
        value["code"] = Value::String(code);
    }
    if let Some(detail) = detail {
        value["detail"] = Value::String(detail);
    }
    value
}

fn postings(postings: &[Posting], currency: Currency) -> Value {
    postings
        .iter()
        .map(|posting| {
            json!({
                "account": posting.account,
                "side": posting.side,
                "amount": amount(posting.amount, currency),
            })
        })
        .collect()
}

/// A journal entry with its postings and status.
pub fn entry(entry: &JournalEntry) -> Value {
    let currency = entry.request.currency;
    let (word, code, detail) = status(&entry.status);
    json!({
        "id": entry.request.id,
        "currency": currency,
        "status": word,
        "code": code,
        "detail": detail,
        "amount": amount(entry.request.debit_total(), currency),
        "postings": postings(&entry.postings, currency),
        "requested_postings": postings(&entry.request.postings, currency),
        "memo": entry.request.memo,
        "reference": entry.request.reference,
        "value_date": entry.request.value_date.map(|date| date.to_string()),
        "booked_index": entry.booked.index,
        "booked_at": entry.booked_at.to_string(),
        "posted_by": entry.posted_by,
        "approval_reasons": entry.approval_reasons,
        "required_authority": (!entry.approval_reasons.is_empty()).then_some(entry.required_authority),
        "expires_at": entry.expires_at.map(|at| at.to_string()),
        "decision": entry.decision.as_ref().map(|decision| json!({
            "by": decision.by,
            "at": decision.at.to_string(),
            "index": decision.position.index,
            "reason": decision.reason,
        })),
        "reverses": entry.reverses,
        "reversal_reason": entry.reversal_reason,
        "reversed_by": entry.reversed_by,
        "window": entry.window,
        "inter_branch": entry.is_inter_branch(),
        "queue_if_over_cap": entry.request.queue_if_over_cap,
        "queue": entry.queue.as_ref().map(|stay| json!({
            "branch": stay.branch,
            "left_index": stay.left.map(|position| position.index),
            "left_at": stay.left_at.map(|at| at.to_string()),
        })),
    })
}

/// A clearing window with its positions and history.
pub fn window(window: &ClearingWindow, flows: &WindowPositions) -> Value {
    json!({
        "id": window.id,
        "status": window.status.name(),
        "opened_at": window.opened_at.to_string(),
        "opened_index": window.opened.index,
        "closed_at": window.closed_at.map(|at| at.to_string()),
        "closed_index": window.closed.map(|position| position.index),
        "entries": window.entries,
        "ended_at": window.ended_at.map(|at| at.to_string()),
        "ended_by": window.ended_by,
        "settlement": window.settlement,
        "carried_to": window.carried_to,
        "carried_from": window.carried_from,
        "positions": positions(flows),
    })
}

/// Multilateral and bilateral positions of a window.
pub fn positions(flows: &WindowPositions) -> Value {
    let multilateral: Vec<Value> = flows
        .multilateral
        .iter()
        .map(|(branch, currency, flows)| {
            json!({
                "branch": branch,
                "currency": currency,
                "paid": amount(flows.paid, *currency),
                "received": amount(flows.received, *currency),
                "net": amount(flows.net(), *currency),
                "count": flows.count,
            })
        })
        .collect();
    let bilateral: Vec<Value> = flows
        .bilateral
        .iter()
        .map(|(payer, payee, currency, flows)| {
            json!({
                "payer": payer,
                "payee": payee,
                "currency": currency,
                "amount": amount(flows.amount, *currency),
                "count": flows.count,
            })
        })
        .collect();
    json!({ "multilateral": multilateral, "bilateral": bilateral })
}

/// A net debit cap with the branch's exposure against it.
pub fn cap(cap: &NetDebitCap, exposure: &Exposure) -> Value {
    let currency = cap.currency;
    let net_debit = exposure.net_debit();
    json!({
        "branch": cap.branch,
        "currency": currency,
        "cap": amount(cap.cap, currency),
        "warning_percent": cap.warning_percent,
        "warning_at": amount(cap.warning_at(), currency),
        "exposure": {
            "closed": amount(exposure.closed, currency),
            "open": amount(exposure.open, currency),
            "pending": amount(exposure.pending, currency),
            "net_debit": amount(net_debit, currency),
        },
        "headroom": amount(cap.cap - net_debit, currency),
        "warning": net_debit >= cap.warning_at(),
    })
}

/// A receipt as JSON, with where and when it was applied.
pub fn receipt(applied: &Applied, receipt: &Receipt) -> Value {
    let mut value = match receipt {
        Receipt::Principal(principal_value) => principal(principal_value),
        Receipt::Branch(branch_value) => branch(branch_value),
        Receipt::Account(account_value) => account(account_value),
        Receipt::Entries(outcomes) => {
            json!({ "results": outcomes.iter().map(entry_outcome).collect::<Vec<_>>() })
        }
        Receipt::Entry(entry_value) => entry(entry_value),
        Receipt::Policy(policy) => json!({
            "branch": policy.branch,
            "currency": policy.currency,
            "threshold": policy.threshold.map(|t| amount(t, policy.currency)),
            "tiers": policy.tiers.iter().map(|tier| json!({
                "at_least": amount(tier.at_least, policy.currency),
                "authority": tier.authority,
            })).collect::<Vec<_>>(),
        }),
        // A new window has no positions; the window routes answer with a
        // fresh read of them instead of this.
        Receipt::Window(window_value) => window(window_value, &WindowPositions::default()),
        Receipt::Cap(cap_value) => cap(cap_value, &Exposure::default()),
        Receipt::Ticked => json!({}),
        Receipt::Statements(statements) => crate::http::statements_api::receipt(statements),
        Receipt::PeriodClosed(close) => crate::http::audit_api::period(close),
        Receipt::Reviewed(mark) => crate::http::audit_api::review(mark),
        Receipt::ExternalStatements(stored) => json!({
            "statements": stored
                .iter()
                .map(|s| crate::http::recon_api::statement(None, s, true))
                .collect::<Vec<_>>(),
        }),
        Receipt::Reconciliation(run) => json!({ "id": run.id }),
        Receipt::Break(record) => crate::http::recon_api::reconciliation_break(record, applied.at),
    };
    value["index"] = json!(applied.position.index);
    // An entry keeps its own booking time; the decision's time is in `decision`.
    if value.get("booked_at").is_none() {
        value["booked_at"] = Value::String(applied.at.to_string());
    }
    value
}
