//! `ApiError`: the only type that knows HTTP. Every failure leaves the node
//! as `application/problem+json` with a stable snake_case `code`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ledger::{Rejection, StatementRejection};
use serde_json::{Value, json};

use crate::proposer::ProposeError;

/// A problem to report to the client.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: String,
    /// What went wrong, for a person.
    pub detail: String,
    /// Extra members of the problem object.
    pub extra: Option<Value>,
}

impl ApiError {
    /// A problem with `status`, `code` and `detail`.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_string(),
            detail: detail.into(),
            extra: None,
        }
    }

    /// 422 for input that is well-formed JSON but not acceptable.
    pub fn invalid(code: &str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    /// 400 for input that is not what the call takes.
    pub fn bad_request(code: &str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 404.
    pub fn not_found(code: &str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, detail)
    }

    /// 403.
    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// 503 when no quorum or leader can answer in time.
    pub fn unavailable(code: &str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, detail)
    }

    /// Adds members to the problem object.
    pub fn with(mut self, extra: Value) -> ApiError {
        self.extra = Some(extra);
        self
    }
}

/// The HTTP status of a ledger rejection.
pub fn rejection_status(rejection: &Rejection) -> StatusCode {
    match rejection {
        Rejection::Forbidden { .. } | Rejection::PrincipalNotFound { .. } => StatusCode::FORBIDDEN,
        Rejection::AccountNotFound { .. }
        | Rejection::UnknownPrincipal { .. }
        | Rejection::BranchNotFound { .. }
        | Rejection::EntryNotFound { .. }
        | Rejection::WindowNotFound { .. }
        | Rejection::ExternalStatementNotFound { .. }
        | Rejection::BreakNotFound { .. } => StatusCode::NOT_FOUND,
        Rejection::PostingsTooFew
        | Rejection::PostingsTooMany { .. }
        | Rejection::AmountNotPositive
        | Rejection::AmountTooLarge
        | Rejection::AccountsMustBeDifferent
        | Rejection::EntryUnbalanced { .. }
        | Rejection::AccountCurrencyMismatch { .. }
        | Rejection::TimeoutTooLong { .. }
        | Rejection::TextTooLong { .. }
        | Rejection::BatchEmpty
        | Rejection::BatchTooLarge { .. }
        | Rejection::PolicyInvalid { .. }
        | Rejection::CapInvalid { .. }
        | Rejection::ReasonRequired
        | Rejection::AccountOpenedClosed
        | Rejection::StatementInvalid { .. }
        | Rejection::RulesInvalid { .. }
        | Rejection::AdjustmentOffAccount { .. }
        | Rejection::ItemNotMatchable { .. }
        | Rejection::ManualMatchNotApplicable { .. }
        | Rejection::ManualMatchUnbalanced { .. }
        | Rejection::ExternalParticipantInvalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        Rejection::Statement(rejection) => statement_rejection_status(rejection),
        _ => StatusCode::CONFLICT,
    }
}

/// The HTTP status of a refused statement command: a missing statement is
/// 404, input that can never succeed 422, a clash with what exists 409.
fn statement_rejection_status(rejection: &StatementRejection) -> StatusCode {
    match rejection {
        StatementRejection::NotFound { .. } => StatusCode::NOT_FOUND,
        StatementRejection::VerificationCodeMismatch { .. }
        | StatementRejection::StatedBalanceRequired
        | StatementRejection::CutoffInFuture { .. }
        | StatementRejection::DueBeforeCutoff { .. }
        | StatementRejection::SelectionInvalid { .. }
        | StatementRejection::PolicyInvalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        StatementRejection::AlreadyReturned { .. }
        | StatementRejection::CutoffBeforeLatest { .. }
        | StatementRejection::AccountNotOpenAtCutoff { .. }
        | StatementRejection::ExistsWithDifferentDue { .. } => StatusCode::CONFLICT,
    }
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> ApiError {
        ApiError::new(
            rejection_status(&rejection),
            &rejection.code(),
            rejection.to_string(),
        )
    }
}

impl From<ProposeError> for ApiError {
    fn from(error: ProposeError) -> ApiError {
        match error {
            ProposeError::NotLeader { leader } => ApiError::unavailable(
                "not_leader",
                "this node is not the leader and nothing was proposed; retry",
            )
            .with(json!({ "leader": leader })),
            ProposeError::Unknown(reason) => ApiError::unavailable(
                "outcome_unknown",
                format!(
                    "the write may or may not have been applied ({reason}); retry with the same id to learn its outcome"
                ),
            ),
            ProposeError::Overloaded => {
                ApiError::unavailable("overloaded", "too many writes are queued; retry shortly")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error");
        let mut body = json!({
            "type": format!("https://clearledger.dev/problems/{}", self.code),
            "title": title,
            "status": self.status.as_u16(),
            "code": self.code,
            "detail": self.detail,
        });
        if let (Some(Value::Object(extra)), Value::Object(object)) = (self.extra, &mut body) {
            object.extend(extra);
        }
        let mut response = (self.status, body.to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}
