//! What a command prints: a [`View`] holds the node's JSON answer and the
//! blocks a person reads, and renders as a table (fitted to the terminal),
//! CSV (one table, for scripts) or JSON (the node's answer, pretty-printed).

use comfy_table::{
    Cell, CellAlignment, ColumnConstraint, ContentArrangement, Table, TableComponent, presets,
};
use serde_json::Value;

use crate::args::OutputFormat;

/// How a column's cells line up, and whether they may wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Ids, codes, times: left-aligned, never wrapped.
    Left,
    /// Amounts and counts: right-aligned, never wrapped.
    Right,
    /// Names, memos, reasons: left-aligned, wrapped to fit the terminal.
    Text,
}

/// Rows under headers.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// Column headers and alignment.
    pub columns: Vec<(String, Align)>,
    /// Cells, one `Vec` per row, as many as there are columns.
    pub rows: Vec<Vec<String>>,
}

impl Listing {
    /// An empty listing with these columns.
    pub fn new(columns: &[(&str, Align)]) -> Listing {
        Listing {
            columns: columns
                .iter()
                .map(|(name, align)| (name.to_string(), *align))
                .collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub fn push(&mut self, row: Vec<String>) {
        debug_assert_eq!(row.len(), self.columns.len(), "a row has a cell per column");
        self.rows.push(row);
    }
}

/// One part of what a person reads.
#[derive(Debug, Clone)]
pub enum Block {
    /// A table, with an optional caption above it.
    Table {
        /// Printed above the table.
        caption: Option<String>,
        /// The rows.
        listing: Listing,
    },
    /// Named values of one object, one per line.
    Fields(Vec<(String, String)>),
    /// A sentence.
    Line(String),
}

/// A command's answer, ready to print in any format.
#[derive(Debug, Clone)]
pub struct View {
    /// What `--output json` prints.
    pub json: Value,
    /// What `--output table` prints.
    pub blocks: Vec<Block>,
    /// What `--output csv` prints, when it is not the first table or fields.
    pub csv: Option<Listing>,
}

impl View {
    /// A view of `json` with `blocks`.
    pub fn new(json: Value, blocks: Vec<Block>) -> View {
        View {
            json,
            blocks,
            csv: None,
        }
    }

    /// The one table CSV output prints.
    fn csv_listing(&self) -> Listing {
        if let Some(listing) = &self.csv {
            return listing.clone();
        }
        for block in &self.blocks {
            match block {
                Block::Table { listing, .. } => return listing.clone(),
                Block::Fields(fields) => {
                    let mut listing = Listing {
                        columns: fields
                            .iter()
                            .map(|(name, _)| (name.clone(), Align::Left))
                            .collect(),
                        rows: Vec::new(),
                    };
                    listing.push(fields.iter().map(|(_, value)| value.clone()).collect());
                    return listing;
                }
                Block::Line(_) => {}
            }
        }
        Listing::default()
    }
}

/// Renders `view` in `format`; `width` fixes the table width (otherwise
/// tables fit the terminal, or do not wrap when output is not a terminal).
pub fn render(view: &View, format: OutputFormat, width: Option<u16>) -> String {
    match format {
        OutputFormat::Json => {
            let mut text =
                serde_json::to_string_pretty(&view.json).unwrap_or_else(|_| view.json.to_string());
            text.push('\n');
            text
        }
        OutputFormat::Csv => csv_text(&view.csv_listing()),
        OutputFormat::Table => {
            let parts: Vec<String> = view
                .blocks
                .iter()
                .map(|block| block_text(block, width))
                .collect();
            let mut text = parts.join("\n");
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text
        }
    }
}

fn block_text(block: &Block, width: Option<u16>) -> String {
    match block {
        Block::Line(line) => format!("{line}\n"),
        Block::Fields(fields) => {
            let name_width = fields
                .iter()
                .map(|(name, _)| name.chars().count())
                .max()
                .unwrap_or(0);
            fields
                .iter()
                .map(|(name, value)| {
                    format!("{name:<name_width$}  {value}")
                        .trim_end()
                        .to_string()
                        + "\n"
                })
                .collect()
        }
        Block::Table { caption, listing } => {
            let mut text = caption
                .as_ref()
                .map(|caption| format!("{caption}\n"))
                .unwrap_or_default();
            text.push_str(&table_text(listing, width));
            text.push('\n');
            text
        }
    }
}

/// A listing as a terminal table: no borders, a rule under the header,
/// amounts and counts right-aligned. Only [`Align::Text`] columns wrap, so a
/// narrow terminal wraps names and reasons, never an id or a number.
pub fn table_text(listing: &Listing, width: Option<u16>) -> String {
    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    table.set_style(TableComponent::HeaderLines, '─');
    table.set_style(TableComponent::MiddleHeaderIntersections, '─');
    table.set_style(TableComponent::VerticalLines, ' ');
    table.set_content_arrangement(ContentArrangement::Dynamic);
    if let Some(width) = width {
        table.set_width(width);
    }
    table.set_header(listing.columns.iter().map(|(name, _)| Cell::new(name)));
    for row in &listing.rows {
        table.add_row(row.iter().map(Cell::new));
    }
    for (index, (_, align)) in listing.columns.iter().enumerate() {
        if let Some(column) = table.column_mut(index) {
            let last = index + 1 == listing.columns.len();
            column.set_padding((0, if last { 0 } else { 1 }));
            column.set_cell_alignment(match align {
                Align::Left | Align::Text => CellAlignment::Left,
                Align::Right => CellAlignment::Right,
            });
            if *align != Align::Text {
                column.set_constraint(ColumnConstraint::ContentWidth);
            }
        }
    }
    let text: String = table
        .lines()
        .map(|line| line.trim_end().to_string() + "\n")
        .collect();
    if listing.rows.is_empty() {
        return format!("{text}(none)");
    }
    text.trim_end_matches('\n').to_string()
}

/// A listing as CSV with a header row.
pub fn csv_text(listing: &Listing) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let headers: Vec<String> = listing
        .columns
        .iter()
        .map(|(name, _)| name.to_lowercase().replace(' ', "_"))
        .collect();
    let mut rows = vec![headers];
    rows.extend(listing.rows.iter().cloned());
    for row in rows {
        if writer.write_record(&row).is_err() {
            break;
        }
    }
    let bytes = writer.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// A JSON value as a cell: strings bare, null empty, booleans yes/no.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Bool(true) => "yes".to_string(),
        Value::Bool(false) => "no".to_string(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// `value[key]` as a cell.
pub fn field(value: &Value, key: &str) -> String {
    cell(value.get(key).unwrap_or(&Value::Null))
}

/// Named fields of `value`: each `(label, key)` as `label` and `value[key]`.
pub fn key_values(value: &Value, fields: &[(&str, &str)]) -> Block {
    Block::Fields(
        fields
            .iter()
            .map(|(label, key)| (label.to_string(), field(value, key)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_quoting_and_keeps_amounts_exact() {
        let mut listing = Listing::new(&[
            ("ID", Align::Left),
            ("MEMO", Align::Left),
            ("AMOUNT", Align::Right),
        ]);
        listing.push(vec!["t-1".into(), "rent, March".into(), "1250.00".into()]);
        assert_eq!(
            csv_text(&listing),
            "id,memo,amount\nt-1,\"rent, March\",1250.00\n"
        );
    }

    #[test]
    fn fields_become_a_one_row_csv() {
        let view = View::new(
            Value::Null,
            vec![Block::Fields(vec![
                ("id".into(), "A-1".into()),
                ("currency".into(), "CNY".into()),
            ])],
        );
        assert_eq!(
            render(&view, OutputFormat::Csv, None),
            "id,currency\nA-1,CNY\n"
        );
    }
}
