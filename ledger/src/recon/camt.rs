//! camt.053 (bank-to-customer statement), versions .001.02 and .001.08.
//!
//! Reads each `Stmt` of a `BkToCstmrStmt`: its id and sequence number, the
//! account, the opening (`OPBD`, or `PRCD`) and closing (`CLBD`) booked
//! balances, and the booked (`BOOK`) entries. A fault is reported with the
//! XML path of the element and its line.

use roxmltree::{Document, Node};

use super::statement::{
    FaultLocation, ImportError, ParsedStatement, StatementBalance, StatementFormat, StatementLine,
    parse_decimal,
};
use crate::amount::Amount;
use crate::currency::Currency;
use crate::journal_entry::Side;
use crate::time::{Date, Timestamp};

const NAMESPACE_PREFIX: &str = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.";

/// The XML path of `node`: element names from the root, with a 1-based
/// index where siblings share the name. (roxmltree's sibling iterators
/// start at the node itself.)
fn path_of(node: Node) -> String {
    let mut parts = Vec::new();
    for element in node.ancestors().filter(Node::is_element) {
        let name = element.tag_name().name();
        let same = |other: &Node| other.is_element() && other.tag_name().name() == name;
        let before = element.prev_siblings().skip(1).filter(same).count();
        let after = element.next_siblings().skip(1).filter(same).count();
        if before + after > 0 {
            parts.push(format!("{name}[{}]", before + 1));
        } else {
            parts.push(name.to_string());
        }
    }
    parts.reverse();
    format!("/{}", parts.join("/"))
}

fn fault(document: &Document, node: Node, reason: impl Into<String>) -> ImportError {
    ImportError::Malformed {
        location: FaultLocation::XmlPath {
            path: path_of(node),
            line: Some(document.text_pos_at(node.range().start).row),
        },
        reason: reason.into(),
    }
}

fn child<'a, 'input>(node: Node<'a, 'input>, name: &str) -> Option<Node<'a, 'input>> {
    node.children()
        .find(|child| child.is_element() && child.tag_name().name() == name)
}

fn children<'a, 'input>(
    node: Node<'a, 'input>,
    name: &'static str,
) -> impl Iterator<Item = Node<'a, 'input>> {
    node.children()
        .filter(move |child| child.is_element() && child.tag_name().name() == name)
}

/// Reads one statement file at a time, remembering the document for faults.
struct Reader<'a, 'input> {
    document: &'a Document<'input>,
}

impl<'a, 'input> Reader<'a, 'input> {
    fn required(
        &self,
        node: Node<'a, 'input>,
        name: &str,
    ) -> Result<Node<'a, 'input>, ImportError> {
        child(node, name).ok_or_else(|| fault(self.document, node, format!("{name} is missing")))
    }

    /// The trimmed text of a child element, which must be present and not empty.
    fn text(&self, node: Node<'a, 'input>, name: &str) -> Result<String, ImportError> {
        let element = self.required(node, name)?;
        let text = element.text().unwrap_or_default().trim();
        if text.is_empty() {
            return Err(fault(self.document, element, "is empty"));
        }
        Ok(text.to_string())
    }

    fn optional_text(&self, node: Node<'a, 'input>, path: &[&str]) -> Option<String> {
        let mut at = node;
        for name in path {
            at = child(at, name)?;
        }
        let text = at.text()?.trim();
        (!text.is_empty()).then(|| text.to_string())
    }

    /// A date element holding `Dt` (a date) or `DtTm` (a timestamp, whose
    /// local date counts).
    fn date(&self, node: Node<'a, 'input>, name: &str) -> Result<Date, ImportError> {
        let holder = self.required(node, name)?;
        if let Some(date) = child(holder, "Dt") {
            let text = date.text().unwrap_or_default().trim();
            return Date::parse(text)
                .map_err(|error| fault(self.document, date, error.to_string()));
        }
        if let Some(stamp) = child(holder, "DtTm") {
            let text = stamp.text().unwrap_or_default().trim();
            // The local calendar day the servicer stated, not the UTC one.
            let day = text.get(..10).unwrap_or(text);
            Timestamp::parse_rfc3339(text)
                .map_err(|error| fault(self.document, stamp, error.to_string()))?;
            return Date::parse(day)
                .map_err(|error| fault(self.document, stamp, error.to_string()));
        }
        Err(fault(
            self.document,
            holder,
            "neither Dt nor DtTm is present",
        ))
    }

    /// An `Amt` with its `Ccy` and the sibling `CdtDbtInd`, signed.
    fn signed_amount(
        &self,
        node: Node<'a, 'input>,
        currency: Currency,
    ) -> Result<(Amount, Side), ImportError> {
        let amount = self.required(node, "Amt")?;
        let stated = amount
            .attribute("Ccy")
            .ok_or_else(|| fault(self.document, amount, "the Ccy attribute is missing"))?;
        if stated != currency.code() {
            return Err(fault(
                self.document,
                amount,
                format!("currency {stated} differs from the statement's {currency}"),
            ));
        }
        let value = parse_decimal(amount.text().unwrap_or_default(), currency)
            .map_err(|reason| fault(self.document, amount, reason))?;
        if value.minor() < 0 {
            return Err(fault(
                self.document,
                amount,
                "amounts are unsigned in camt.053",
            ));
        }
        let indicator = self.required(node, "CdtDbtInd")?;
        let side = match indicator.text().unwrap_or_default().trim() {
            "CRDT" => Side::Credit,
            "DBIT" => Side::Debit,
            other => {
                return Err(fault(
                    self.document,
                    indicator,
                    format!("{other:?} is neither CRDT nor DBIT"),
                ));
            }
        };
        Ok((value, side))
    }

    fn balance(
        &self,
        balance: Node<'a, 'input>,
        currency: Currency,
    ) -> Result<StatementBalance, ImportError> {
        let (amount, side) = self.signed_amount(balance, currency)?;
        let amount = if side == Side::Credit {
            amount
        } else {
            amount.negated()
        };
        Ok(StatementBalance {
            amount,
            date: self.date(balance, "Dt")?,
        })
    }

    fn statement(
        &self,
        statement: Node<'a, 'input>,
        format: StatementFormat,
    ) -> Result<ParsedStatement, ImportError> {
        let reference = self.text(statement, "Id")?;
        let account = self.required(statement, "Acct")?;
        let account_id = self.required(account, "Id")?;
        let external_account = self
            .optional_text(account_id, &["IBAN"])
            .or_else(|| self.optional_text(account_id, &["Othr", "Id"]))
            .ok_or_else(|| {
                fault(
                    self.document,
                    account_id,
                    "neither IBAN nor Othr/Id is present",
                )
            })?;
        let balances: Vec<_> = children(statement, "Bal").collect();
        let code = |balance: &Node| self.optional_text(*balance, &["Tp", "CdOrPrtry", "Cd"]);
        let opening = balances
            .iter()
            .find(|b| code(b).as_deref() == Some("OPBD"))
            .or_else(|| balances.iter().find(|b| code(b).as_deref() == Some("PRCD")))
            .ok_or_else(|| {
                fault(
                    self.document,
                    statement,
                    "no opening (OPBD or PRCD) balance",
                )
            })?;
        let closing = balances
            .iter()
            .find(|b| code(b).as_deref() == Some("CLBD"))
            .ok_or_else(|| fault(self.document, statement, "no closing (CLBD) balance"))?;
        let currency_text = match self.optional_text(account, &["Ccy"]) {
            Some(code) => code,
            None => self
                .required(*opening, "Amt")?
                .attribute("Ccy")
                .unwrap_or_default()
                .to_string(),
        };
        let currency = Currency::new(&currency_text).map_err(|error| {
            fault(
                self.document,
                account,
                format!("statement currency: {error}"),
            )
        })?;
        let mut lines = Vec::new();
        for entry in children(statement, "Ntry") {
            if let Some(line) = self.line(entry, currency)? {
                lines.push(line);
            }
        }
        Ok(ParsedStatement {
            format,
            reference,
            sequence: self.optional_text(statement, &["ElctrncSeqNb"]),
            external_account,
            currency,
            opening: self.balance(*opening, currency)?,
            closing: self.balance(*closing, currency)?,
            lines,
        })
    }

    /// A booked entry as a line; `None` for pending or information-only entries.
    fn line(
        &self,
        entry: Node<'a, 'input>,
        currency: Currency,
    ) -> Result<Option<StatementLine>, ImportError> {
        let status = self
            .optional_text(entry, &["Sts", "Cd"])
            .or_else(|| self.optional_text(entry, &["Sts"]))
            .ok_or_else(|| fault(self.document, entry, "Sts is missing"))?;
        match status.as_str() {
            "BOOK" => {}
            "PDNG" | "INFO" | "FUTR" => return Ok(None),
            other => {
                let at = child(entry, "Sts").unwrap_or(entry);
                return Err(fault(
                    self.document,
                    at,
                    format!("unknown entry status {other:?}"),
                ));
            }
        }
        let (amount, side) = self.signed_amount(entry, currency)?;
        let booking_date = self.date(entry, "BookgDt")?;
        let value_date = match child(entry, "ValDt") {
            Some(_) => self.date(entry, "ValDt")?,
            None => booking_date,
        };
        let details = child(entry, "NtryDtls").and_then(|details| child(details, "TxDtls"));
        let reference = details
            .and_then(|tx| self.optional_text(tx, &["Refs", "EndToEndId"]))
            .filter(|id| id != "NOTPROVIDED");
        let description = self
            .optional_text(entry, &["AddtlNtryInf"])
            .or_else(|| details.and_then(|tx| self.optional_text(tx, &["RmtInf", "Ustrd"])));
        Ok(Some(StatementLine {
            amount,
            side,
            booking_date,
            value_date,
            reference,
            bank_reference: self.optional_text(entry, &["AcctSvcrRef"]),
            description,
        }))
    }
}

/// Parses a camt.053 document into its statements.
pub(crate) fn parse(bytes: &[u8]) -> Result<Vec<ParsedStatement>, ImportError> {
    let text = std::str::from_utf8(bytes).map_err(|error| ImportError::Malformed {
        location: FaultLocation::XmlPath {
            path: "/".into(),
            line: None,
        },
        reason: format!("not UTF-8: {error}"),
    })?;
    let document = Document::parse(text).map_err(|error| ImportError::Malformed {
        location: FaultLocation::XmlPath {
            path: "/".into(),
            line: Some(error.pos().row),
        },
        reason: format!("not well-formed XML: {error}"),
    })?;
    let root = document.root_element();
    let reader = Reader {
        document: &document,
    };
    if root.tag_name().name() != "Document" {
        return Err(fault(&document, root, "the root element must be Document"));
    }
    let namespace = root.tag_name().namespace().unwrap_or_default();
    let format = match namespace.strip_prefix(NAMESPACE_PREFIX) {
        Some("02") => StatementFormat::Camt053V02,
        Some("08") => StatementFormat::Camt053V08,
        _ => {
            return Err(fault(
                &document,
                root,
                format!("namespace {namespace:?} is not camt.053.001.02 or .08"),
            ));
        }
    };
    let message = reader.required(root, "BkToCstmrStmt")?;
    let statements: Vec<_> = children(message, "Stmt").collect();
    if statements.is_empty() {
        return Err(fault(&document, message, "Stmt is missing"));
    }
    statements
        .into_iter()
        .map(|statement| reader.statement(statement, format))
        .collect()
}
