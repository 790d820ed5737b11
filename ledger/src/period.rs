//! Period close (关账) per branch: once a date is closed for a branch, no
//! entry valued on or before it may touch the branch's accounts. Closed
//! books are corrected by reversals, which the ledger values in the first
//! open day, never by editing the closed period.
//!
//! An entry's value date is its own `value_date` or, without one, the day it
//! posts (the booking day, or the approval day for a pending entry).

use serde::{Deserialize, Serialize};

use crate::account_table::BranchNo;
use crate::audit::AuditEvent;
use crate::command::Receipt;
use crate::id::{BranchCode, PrincipalName};
use crate::ledger::{Context, Ledger, Position};
use crate::rejection::Rejection;
use crate::time::{Date, Timestamp};

/// A branch's books, closed through a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodClose {
    /// The branch.
    pub branch: BranchCode,
    /// The last closed day: entries valued on or before it are refused.
    pub closed_through: Date,
    /// When it was closed.
    pub closed_at: Timestamp,
    /// Where in the log.
    pub position: Position,
    /// Who closed it.
    pub closed_by: PrincipalName,
}

impl Ledger {
    pub(crate) fn close_period(
        &mut self,
        context: &Context,
        branch: BranchCode,
        through: Date,
    ) -> Result<Receipt, Rejection> {
        Self::require(&context.role, &["operator"], "close periods")?;
        let Some(&no) = self.derived.branch_numbers.get(&branch) else {
            return Err(Rejection::BranchNotFound { branch });
        };
        if let Some(existing) = self.closed_periods.get(&branch) {
            // A retry answers the same; a period is never reopened.
            if existing.closed_through == through {
                return Ok(Receipt::PeriodClosed(existing.clone()));
            }
            if existing.closed_through > through {
                return Err(Rejection::PeriodAlreadyClosed {
                    branch,
                    closed_through: existing.closed_through,
                });
            }
        }
        let today = context.at.date();
        if through > today {
            return Err(Rejection::PeriodNotEnded { through, today });
        }
        // From here on, closing cannot fail.
        let close = PeriodClose {
            branch: branch.clone(),
            closed_through: through,
            closed_at: context.at,
            position: context.position,
            closed_by: context.actor.principal.clone(),
        };
        self.closed_periods.insert(branch.clone(), close.clone());
        self.derived.closed_through.insert(no, through);
        self.record(
            context,
            AuditEvent::PeriodClosed {
                branch,
                closed_through: through,
            },
        );
        Ok(Receipt::PeriodClosed(close))
    }

    /// Refuses an entry valued on `value_date` (or, without one, on the day
    /// of `at`) that touches a branch closed through that day.
    pub(crate) fn check_period_open(
        &self,
        branches: impl IntoIterator<Item = BranchNo>,
        value_date: Option<Date>,
        at: Timestamp,
    ) -> Result<(), Rejection> {
        if self.derived.closed_through.is_empty() {
            return Ok(());
        }
        let value_date = value_date.unwrap_or(at.date());
        for branch in branches {
            if let Some(&closed_through) = self.derived.closed_through.get(&branch)
                && value_date <= closed_through
            {
                return Err(Rejection::PeriodClosed {
                    branch: self.derived.branch_codes[branch.index()].clone(),
                    closed_through,
                    value_date,
                });
            }
        }
        Ok(())
    }

    /// The value date a correction of an entry touching `branches` gets at
    /// `at`: none (the booking day) while that day is open everywhere, else
    /// the day after the latest close.
    pub(crate) fn correction_value_date(
        &self,
        branches: impl IntoIterator<Item = BranchNo>,
        at: Timestamp,
    ) -> Option<Date> {
        let today = at.date();
        let latest = branches
            .into_iter()
            .filter_map(|branch| self.derived.closed_through.get(&branch).copied())
            .max()?;
        (latest >= today).then(|| latest.next())
    }

    /// Every branch's period close, by branch code.
    pub fn period_closes(&self) -> impl Iterator<Item = &PeriodClose> {
        self.closed_periods.values()
    }

    /// The period close of `branch`, if its books were ever closed.
    pub fn period_close(&self, branch: &BranchCode) -> Option<&PeriodClose> {
        self.closed_periods.get(branch)
    }
}
