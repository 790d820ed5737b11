//! The statement importers: camt.053 (.001.02 and .001.08), MT940, MT950 and
//! CSV. Real banks' fixtures (tests/data/recon, see its README for their
//! licences) must be read exactly, and every malformed or inconsistent file
//! must be refused with the line or XML path of the fault, or the reason the
//! balances do not add up.

use ledger::recon::csv::{CsvMapping, CsvSource, DateFormat};
use ledger::recon::{FaultLocation, ImportError, ParsedStatement, StatementFormat, import};
use ledger::{Amount, Currency, Date, Side};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/recon/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn date(text: &str) -> Date {
    Date::parse(text).unwrap()
}

fn money(text: &str, currency: &str) -> Amount {
    Amount::parse(text, Currency::new(currency).unwrap()).unwrap()
}

fn camt(bytes: &[u8]) -> Result<Vec<ParsedStatement>, ImportError> {
    import(StatementFormat::Camt053V02, bytes, None)
}

fn mt940(bytes: &[u8]) -> Result<Vec<ParsedStatement>, ImportError> {
    import(StatementFormat::Mt940, bytes, None)
}

fn malformed_at(result: Result<Vec<ParsedStatement>, ImportError>) -> (FaultLocation, String) {
    match result {
        Err(ImportError::Malformed { location, reason }) => (location, reason),
        other => panic!("expected a malformed-file error, got {other:?}"),
    }
}

fn line_of(result: Result<Vec<ParsedStatement>, ImportError>) -> (usize, String) {
    match malformed_at(result) {
        (FaultLocation::Line(line), reason) => (line, reason),
        (other, _) => panic!("expected a line, got {other:?}"),
    }
}

#[test]
fn camt_v02_multi_statement_file_reads_every_statement_exactly() {
    let statements = camt(&fixture("camt/camt053.v2.multi.statement.xml")).unwrap();
    assert_eq!(statements.len(), 2);
    let first = &statements[0];
    assert_eq!(first.format, StatementFormat::Camt053V02);
    assert_eq!(first.reference, "253EURNL26VAYB8060476890");
    assert_eq!(first.external_account, "NL26VAYB8060476890");
    assert_eq!(first.currency.code(), "EUR");
    assert_eq!(first.opening.amount, money("18.15", "EUR"));
    assert_eq!(first.opening.date, date("2014-12-30"));
    assert_eq!(first.closing.amount, money("27.00", "EUR"));
    assert_eq!(first.lines.len(), 1);
    let line = &first.lines[0];
    assert_eq!(
        (line.amount, line.side),
        (money("8.85", "EUR"), Side::Credit)
    );
    assert_eq!(line.booking_date, date("2014-12-31"));
    assert_eq!(line.value_date, date("2015-01-02"));
    let second = &statements[1];
    assert_eq!(second.reference, "254EURNL26VAYB8060476890");
    assert_eq!(second.opening.amount, money("27.00", "EUR"));
    assert_eq!(second.closing.amount, money("20.00", "EUR"));
    assert_eq!(second.lines[0].side, Side::Debit);
    assert_eq!(second.lines[0].amount, money("7.00", "EUR"));
}

#[test]
fn camt_v08_reads_timestamps_other_account_ids_and_references() {
    let statements = camt(&fixture("camt/camt053.v8.balanced.xml")).unwrap();
    let statement = &statements[0];
    assert_eq!(statement.format, StatementFormat::Camt053V08);
    assert_eq!(statement.external_account, "NL26VAYB8060476890");
    assert_eq!(statement.sequence.as_deref(), Some("12312"));
    let line = &statement.lines[0];
    assert_eq!(
        line.booking_date,
        date("2014-12-31"),
        "the local day of BookgDt/DtTm"
    );
    assert_eq!(line.reference.as_deref(), Some("MUELL/FINP/RA12345"));
    assert_eq!(
        line.bank_reference.as_deref(),
        Some("AAAASESS-FP-CN_98765/01")
    );
}

#[test]
fn camt_whose_lines_do_not_add_up_is_refused_with_the_figures() {
    // 18.150 + 8.850 is 27.000, but the file states a closing of 27.050.
    match camt(&fixture("camt/camt053.v2.five.decimals.xml")) {
        Err(ImportError::Unbalanced {
            opening,
            lines,
            expected,
            closing,
            ..
        }) => {
            assert_eq!(
                (
                    opening.as_str(),
                    lines.as_str(),
                    expected.as_str(),
                    closing.as_str()
                ),
                ("18.15", "8.85", "27.00", "27.05")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn camt_faults_name_the_xml_path_and_line() {
    let (location, reason) = malformed_at(camt(&fixture("camt/camt053.v2.minimal.xml")));
    assert_eq!(
        location,
        FaultLocation::XmlPath {
            path: "/Document/BkToCstmrStmt/Stmt/Bal[2]/Amt".into(),
            line: Some(60)
        }
    );
    assert!(reason.contains("SEK"), "{reason}");
    let (location, reason) = malformed_at(camt(&fixture("camt/camt053.v8.xml")));
    assert!(
        matches!(location, FaultLocation::XmlPath { line: Some(80), .. }),
        "{location:?}"
    );
    assert!(reason.contains("SEK"));
    let (location, reason) = malformed_at(camt(&fixture("camt/camt053.v2.wrong.xml")));
    assert_eq!(
        location,
        FaultLocation::XmlPath {
            path: "/Document/BkToCstmrStmt".into(),
            line: Some(3)
        }
    );
    assert_eq!(reason, "Stmt is missing");
    let (_, reason) = malformed_at(camt(&fixture("camt/camt052.v2.xml")));
    assert!(
        reason.contains("camt.052"),
        "a camt.052 report is not a statement: {reason}"
    );
}

/// A small camt.053.001.02 statement with one entry, for the hand-made faults.
fn camt_with_entry(amount: &str, currency: &str, indicator: &str) -> String {
    format!(
        r#"<?xml version="1.0"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
<BkToCstmrStmt><GrpHdr><MsgId>M</MsgId></GrpHdr>
<Stmt><Id>S1</Id><Acct><Id><IBAN>CN00TEST</IBAN></Id><Ccy>{currency}</Ccy></Acct>
<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="{currency}">0</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-20</Dt></Dt></Bal>
<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="{currency}">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-21</Dt></Dt></Bal>
<Ntry><Amt Ccy="{currency}">{amount}</Amt><CdtDbtInd>{indicator}</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>2026-11-21</Dt></BookgDt></Ntry>
</Stmt></BkToCstmrStmt></Document>"#
    )
}

#[test]
fn hand_made_camt_faults_are_located() {
    let good = camt_with_entry("1234567890123456.78", "CNY", "CRDT");
    let statements = camt(good.as_bytes()).unwrap();
    assert_eq!(
        statements[0].lines[0].amount,
        Amount::from_minor(123_456_789_012_345_678),
        "large amounts are exact"
    );
    assert_eq!(
        statements[0].lines[0].value_date,
        date("2026-11-21"),
        "value date defaults to booking date"
    );

    let (location, reason) = malformed_at(camt(camt_with_entry("1.005", "CNY", "CRDT").as_bytes()));
    assert_eq!(
        location,
        FaultLocation::XmlPath {
            path: "/Document/BkToCstmrStmt/Stmt/Ntry/Amt".into(),
            line: Some(7)
        }
    );
    assert!(reason.contains("decimals"), "never rounded: {reason}");
    let (location, _) = malformed_at(camt(camt_with_entry("5", "JPY", "CRDX").as_bytes()));
    assert_eq!(
        location,
        FaultLocation::XmlPath {
            path: "/Document/BkToCstmrStmt/Stmt/Ntry/CdtDbtInd".into(),
            line: Some(7)
        }
    );
    let (location, reason) = malformed_at(camt(b"<Document>\n<BkToCstmrStmt>\n</Document>"));
    assert!(
        matches!(location, FaultLocation::XmlPath { line: Some(3), .. }),
        "{location:?}"
    );
    assert!(reason.contains("not well-formed"), "{reason}");
}

#[test]
fn mt940_february_30th_is_the_last_day_of_february() {
    let statements = mt940(&fixture("mt940/february_30.sta")).unwrap();
    let statement = &statements[0];
    assert_eq!(statement.reference, "STARTUMSE");
    assert_eq!(statement.opening.amount, money("1200.00", "EUR"));
    assert_eq!(statement.opening.date, date("2016-02-29"));
    assert_eq!(statement.closing.amount, money("1194.00", "EUR"));
    let line = &statement.lines[0];
    assert_eq!(
        (line.amount, line.side),
        (money("6.00", "EUR"), Side::Debit)
    );
    assert_eq!(line.value_date, date("2016-02-29"));
    assert_eq!(line.booking_date, date("2016-03-01"));
    assert!(
        line.description
            .as_deref()
            .unwrap()
            .starts_with("805?00ENTGELTABSCHLUSS")
    );
}

#[test]
fn mt940_many_statements_with_debit_balances() {
    let statements = mt940(&fixture("mt940/betterplace/sepa_mt9401.sta")).unwrap();
    assert_eq!(statements.len(), 26);
    let first = &statements[0];
    assert_eq!(first.reference, "T089413946000001");
    assert_eq!(first.opening.amount, money("-1234718.36", "EUR"));
    assert_eq!(first.closing.amount, money("-1237628.23", "EUR"));
    assert_eq!(first.lines.len(), 7);
    let total: usize = statements.iter().map(|s| s.lines.len()).sum();
    assert_eq!(total, 97, "every :61: of the file");
}

#[test]
fn mt940_swift_wrapper_references_and_binary_characters() {
    let statements = mt940(&fixture("mt940/mbank.sta")).unwrap();
    let statement = &statements[0];
    assert_eq!(statement.external_account, "PL29114010810000267002001002");
    assert_eq!(statement.opening.amount, money("0.40", "PLN"));
    assert_eq!(statement.closing.amount, money("0.43", "PLN"));
    let line = &statement.lines[0];
    assert_eq!(
        (line.amount, line.side),
        (money("0.01", "PLN"), Side::Credit)
    );
    assert_eq!(line.reference, None, "NONREF is no reference");
    assert_eq!(line.bank_reference.as_deref(), Some("MB170119012058"));
    assert_eq!(line.booking_date, date("2017-01-19"));
    let statements = mt940(&fixture("mt940/betterplace/with_binary_character.sta")).unwrap();
    assert_eq!(statements.len(), 2);
}

#[test]
fn mt940_refusals_name_the_line_or_the_figures() {
    assert!(matches!(
        mt940(&fixture("mt940/betterplace/sepa_snippet.sta")),
        Err(ImportError::Unbalanced { .. })
    ));
    let (line, reason) = line_of(mt940(&fixture("mt940/cmxl/mt940.sta")));
    assert_eq!(line, 4);
    assert!(reason.contains("DEM"), "{reason}");
    let (line, reason) = line_of(mt940(&fixture("mt940/mt942.sta")));
    assert_eq!(
        line, 7,
        "an MT942 interim report has no opening balance: {reason}"
    );
}

const MT950: &str =
    "{1:F01BANKCNBJAXXX0000000000}{2:O9501200261121BANKDEFFXXXX00000000002611211200N}{4:
:20:NOSTRO-1121
:25:DE89370400440532013000
:28C:42/1
:60F:C261120CNY1000,00
:61:261121C250,50NTRFPAY-001//BK-9
:61:2611211121D1000,NCHKPAY-002
:62F:C261121CNY250,50
-}
";

#[test]
fn mt950_is_read_and_refuses_details() {
    let statements = import(StatementFormat::Mt950, MT950.as_bytes(), None).unwrap();
    let statement = &statements[0];
    assert_eq!(statement.format, StatementFormat::Mt950);
    assert_eq!(statement.sequence.as_deref(), Some("42/1"));
    assert_eq!(statement.lines[0].reference.as_deref(), Some("PAY-001"));
    assert_eq!(statement.lines[0].bank_reference.as_deref(), Some("BK-9"));
    assert_eq!(statement.lines[1].amount, money("1000", "CNY"));
    assert_eq!(statement.lines[1].side, Side::Debit);
    let with_details = MT950.replace(":62F:", ":86:details\n:62F:");
    let (line, _) = line_of(import(
        StatementFormat::Mt950,
        with_details.as_bytes(),
        None,
    ));
    assert_eq!(line, 8);
}

#[test]
fn hand_made_mt940_faults_are_located() {
    let bad_amount = MT950.replace("C250,50NTRF", "C25x,50NTRF");
    let (line, reason) = line_of(mt940(bad_amount.as_bytes()));
    assert_eq!(line, 6, "{reason}");
    let bad_date = MT950.replace(":60F:C261120", ":60F:C261320");
    let (line, _) = line_of(mt940(bad_date.as_bytes()));
    assert_eq!(line, 5);
    let no_closing = MT950.replace(":62F:C261121CNY250,50\n", "");
    let (line, reason) = line_of(mt940(no_closing.as_bytes()));
    assert_eq!(line, 2);
    assert!(reason.contains(":62F:"), "{reason}");
    let other_currency = MT950.replace(":62F:C261121CNY", ":62F:C261121USD");
    let (line, _) = line_of(mt940(other_currency.as_bytes()));
    assert_eq!(line, 8);
    let unbalanced = MT950.replace("CNY250,50", "CNY250,51");
    assert!(matches!(
        mt940(unbalanced.as_bytes()),
        Err(ImportError::Unbalanced { .. })
    ));
    let (line, _) = line_of(mt940(b"hello\n"));
    assert_eq!(line, 1);
}

fn csv_source(mapping: CsvMapping) -> CsvSource {
    CsvSource {
        mapping,
        currency: Currency::new("CNY").unwrap(),
        reference: "bank-x-2026-11-21".into(),
        external_account: "6222000011112222".into(),
        opening: None,
        closing: None,
    }
}

fn running_balance_mapping() -> CsvMapping {
    CsvMapping {
        delimiter: None,
        decimal_separator: None,
        date_format: DateFormat::Iso,
        booking_date: "Date".into(),
        value_date: Some("Value".into()),
        amount: Some("Amount".into()),
        debit: None,
        credit: None,
        reference: Some("Ref".into()),
        bank_reference: None,
        description: Some("Text".into()),
        balance: Some("Balance".into()),
    }
}

const CSV: &str = "Date,Value,Amount,Ref,Text,Balance
2026-11-21,2026-11-21,\"1,000.00\",PAY-1,incoming,\"11,000.00\"
2026-11-21,2026-11-22,-250.25,PAY-2,outgoing,10749.75
";

#[test]
fn csv_with_a_running_balance_derives_opening_and_closing() {
    let source = csv_source(running_balance_mapping());
    let statements = import(StatementFormat::Csv, CSV.as_bytes(), Some(&source)).unwrap();
    let statement = &statements[0];
    assert_eq!(statement.opening.amount, money("10000.00", "CNY"));
    assert_eq!(statement.closing.amount, money("10749.75", "CNY"));
    assert_eq!(statement.lines[1].side, Side::Debit);
    assert_eq!(statement.lines[1].amount, money("250.25", "CNY"));
    assert_eq!(statement.lines[1].value_date, date("2026-11-22"));
    assert_eq!(statement.lines[0].reference.as_deref(), Some("PAY-1"));

    let broken = CSV.replace("10749.75", "10749.70");
    let (line, reason) = line_of(import(
        StatementFormat::Csv,
        broken.as_bytes(),
        Some(&source),
    ));
    assert_eq!(line, 3, "{reason}");
    let bad_date = CSV.replace("2026-11-21,2026-11-22", "2026-11-31,2026-11-22");
    let (line, _) = line_of(import(
        StatementFormat::Csv,
        bad_date.as_bytes(),
        Some(&source),
    ));
    assert_eq!(line, 3);
    let (line, reason) = line_of(import(
        StatementFormat::Csv,
        b"When,Amount\n",
        Some(&source),
    ));
    assert_eq!(line, 1);
    assert!(reason.contains("\"Date\""), "{reason}");
    assert!(matches!(
        import(StatementFormat::Csv, CSV.as_bytes(), None),
        Err(ImportError::InvalidMapping { .. })
    ));
}

#[test]
fn csv_with_debit_and_credit_columns_and_given_balances() {
    let mapping = CsvMapping {
        delimiter: Some(';'),
        decimal_separator: Some(','),
        date_format: DateFormat::DayMonthYear,
        booking_date: "Buchungstag".into(),
        value_date: None,
        amount: None,
        debit: Some("Soll".into()),
        credit: Some("Haben".into()),
        reference: None,
        bank_reference: Some("Referenz".into()),
        description: None,
        balance: None,
    };
    let file = "Buchungstag;Soll;Haben;Referenz\n21.11.2026;1.500,10;;R1\n22.11.2026;;0,10;R2\n";
    let mut source = csv_source(mapping);
    source.opening = Some(money("2000", "CNY"));
    source.closing = Some(money("500.00", "CNY"));
    let statement = &import(StatementFormat::Csv, file.as_bytes(), Some(&source)).unwrap()[0];
    assert_eq!(statement.lines[0].amount, money("1500.10", "CNY"));
    assert_eq!(statement.lines[0].side, Side::Debit);
    assert_eq!(statement.closing.date, date("2026-11-22"));
    source.closing = Some(money("500.01", "CNY"));
    assert!(matches!(
        import(StatementFormat::Csv, file.as_bytes(), Some(&source)),
        Err(ImportError::Unbalanced { .. })
    ));
    let both = file.replace(";0,10;", "0,01;0,10;");
    let (line, _) = line_of(import(StatementFormat::Csv, both.as_bytes(), Some(&source)));
    assert_eq!(line, 3);
    source.mapping.credit = None;
    assert!(matches!(
        import(StatementFormat::Csv, file.as_bytes(), Some(&source)),
        Err(ImportError::InvalidMapping { .. })
    ));
}

proptest::proptest! {
    /// Whatever the bytes, an importer answers with statements or an error,
    /// never a panic: damage one character of a good file anywhere.
    #[test]
    fn damaged_files_are_refused_never_a_panic(at in 0usize..400, byte in proptest::prelude::any::<u8>(), which in 0usize..3) {
        let good = [MT950.to_string(), camt_with_entry("12.34", "CNY", "CRDT"), CSV.to_string()];
        let mut bytes = good[which].clone().into_bytes();
        let at = at % bytes.len();
        bytes[at] = byte;
        let source = csv_source(running_balance_mapping());
        let format = [StatementFormat::Mt940, StatementFormat::Camt053V02, StatementFormat::Csv][which];
        let _ = import(format, &bytes, Some(&source));
    }
}
