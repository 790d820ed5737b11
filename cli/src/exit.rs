//! Exit codes, and the one place that turns an error into one.
//!
//! A command returns `anyhow::Result`; when the cause is something a script
//! should be able to tell apart, a [`Failure`] sits somewhere in the error's
//! chain and decides the exit code. Anything else is exit code 1. The codes
//! are part of the CLI's interface (docs/cli.md lists them) and never change.

use std::process::ExitCode;

use crate::client::Problem;

/// The command did what it was asked.
pub const SUCCESS: u8 = 0;
/// Something else went wrong: a local file could not be read or written, or
/// a node answered something that is not the API.
pub const FAILED: u8 = 1;
/// Bad flags or arguments, a bad configuration, or a bad input file; nothing
/// was sent (clap uses 2 for its own usage errors too).
pub const USAGE: u8 = 2;
/// The ledger rejected the request: a problem response with a `code`.
pub const REJECTED: u8 = 3;
/// No node could be reached, or the cluster has no leader or quorum, or a
/// write's outcome is unknown (re-run it: ids make that safe).
pub const UNAVAILABLE: u8 = 4;
/// The API key is missing, unknown, or its role may not do this (401/403).
pub const UNAUTHORIZED: u8 = 5;
/// The command was interrupted (Ctrl-C) before it finished.
pub const INTERRUPTED: u8 = 130;

/// A failure whose kind decides the exit code.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Bad usage or input; nothing was sent.
    #[error("{0}")]
    Usage(String),
    /// The ledger answered with a problem.
    #[error("the ledger rejected it: {} ({})", .0.code, .0.detail)]
    Rejected(Problem),
    /// The key may not do this.
    #[error("not authorized: {} ({})", .0.code, .0.detail)]
    Unauthorized(Problem),
    /// The cluster cannot answer.
    #[error("{0}")]
    Unavailable(String),
    /// Some items of a batch were rejected; the summary has been printed.
    #[error("{0}")]
    PartlyRejected(String),
    /// Ctrl-C.
    #[error("{0}")]
    Interrupted(String),
}

impl Failure {
    /// The exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => USAGE,
            Failure::Rejected(_) | Failure::PartlyRejected(_) => REJECTED,
            Failure::Unauthorized(_) => UNAUTHORIZED,
            Failure::Unavailable(_) => UNAVAILABLE,
            Failure::Interrupted(_) => INTERRUPTED,
        }
    }
}

/// Shorthand for a usage failure.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    Failure::Usage(message.into()).into()
}

/// Prints `error` for a person (never a debug dump) and returns its exit code.
pub fn report(error: &anyhow::Error) -> ExitCode {
    let failure = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<Failure>());
    let context: Vec<String> = error
        .chain()
        .take_while(|cause| cause.downcast_ref::<Failure>().is_none())
        .map(ToString::to_string)
        .collect();
    let lead = context.join(": ");
    let code = match failure {
        Some(Failure::Rejected(problem) | Failure::Unauthorized(problem)) => {
            let what = if matches!(failure, Some(Failure::Unauthorized(_))) {
                "not authorized"
            } else {
                "the ledger rejected it"
            };
            if lead.is_empty() {
                eprintln!("clearledger: {what}");
            } else {
                eprintln!("clearledger: {lead}: {what}");
            }
            eprintln!("  code:   {}", problem.code);
            eprintln!("  detail: {}", problem.detail);
            eprintln!("  status: {}", problem.status);
            failure.map_or(FAILED, Failure::exit_code)
        }
        Some(other) => {
            if lead.is_empty() {
                eprintln!("clearledger: {other}");
            } else {
                eprintln!("clearledger: {lead}: {other}");
            }
            other.exit_code()
        }
        None => {
            eprintln!("clearledger: {error:#}");
            FAILED
        }
    };
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use anyhow::Context;

    use super::*;

    fn problem(status: u16, code: &str) -> Problem {
        Problem {
            status,
            code: code.into(),
            title: String::new(),
            detail: "because".into(),
            body: serde_json::Value::Null,
        }
    }

    fn code_of(error: anyhow::Error) -> u8 {
        error
            .chain()
            .find_map(|cause| cause.downcast_ref::<Failure>())
            .map_or(FAILED, Failure::exit_code)
    }

    #[test]
    fn each_failure_kind_has_its_own_exit_code() {
        let wrapped =
            |failure: Failure| anyhow::Error::from(failure).context("posting transfer t-1");
        assert_eq!(code_of(wrapped(Failure::Usage("x".into()))), USAGE);
        assert_eq!(
            code_of(wrapped(Failure::Rejected(problem(
                409,
                "insufficient_funds"
            )))),
            REJECTED
        );
        assert_eq!(
            code_of(wrapped(Failure::Unauthorized(problem(403, "forbidden")))),
            UNAUTHORIZED
        );
        assert_eq!(
            code_of(wrapped(Failure::Unavailable("down".into()))),
            UNAVAILABLE
        );
        assert_eq!(
            code_of(wrapped(Failure::Interrupted("stop".into()))),
            INTERRUPTED
        );
        let other = std::fs::read("/nonexistent/clearledger").context("reading the file");
        assert_eq!(code_of(other.expect_err("missing file")), FAILED);
    }

    #[test]
    fn exit_codes_are_distinct() {
        let mut codes = vec![
            SUCCESS,
            FAILED,
            USAGE,
            REJECTED,
            UNAVAILABLE,
            UNAUTHORIZED,
            INTERRUPTED,
        ];
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), 7);
    }
}
