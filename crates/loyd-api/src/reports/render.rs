//! A report's table as JSON, CSV or XLSX.
//!
//! JSON and CSV carry amounts as decimal strings, exact. XLSX carries them as numbers
//! formatted with their currency's places, since that is what a spreadsheet adds up;
//! a spreadsheet keeps numbers as binary floating point, exact to 15 significant
//! digits — every amount below a trillion with two places.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_xlsxwriter::{ExcelDateTime, Format as XlsxFormat, Workbook};

use super::{Cell, Table};
use crate::i18n::Lang;
use crate::error::ApiError;

/// How a report is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Xlsx,
}

impl Format {
    pub fn parse(text: Option<&str>) -> Result<Format, ApiError> {
        match text.map(str::trim).filter(|t| !t.is_empty()) {
            None | Some("json") => Ok(Format::Json),
            Some("csv") => Ok(Format::Csv),
            Some("xlsx") => Ok(Format::Xlsx),
            Some(other) => Err(ApiError::validation(format!("format: '{other}' is not json, csv or xlsx"))),
        }
    }
}

fn cell_json(c: &Cell) -> serde_json::Value {
    match c {
        Cell::Count(n) => serde_json::Value::from(*n),
        Cell::Empty => serde_json::Value::Null,
        other => serde_json::Value::String(other.plain()),
    }
}

/// `{"report", "from", "to", "period", "columns", "rows": [{column: value}], "totals"}`:
/// counts as numbers, amounts as decimal strings, unknown values as `null`.
pub fn json(t: &Table) -> serde_json::Value {
    let object = |row: &Vec<Cell>| -> serde_json::Value {
        serde_json::Value::Object(t.columns.iter().zip(row).map(|(k, c)| ((*k).to_owned(), cell_json(c))).collect())
    };
    serde_json::json!({
        "report": t.report.name(),
        "from": t.from.to_string(),
        "to": t.to.to_string(),
        "period": t.period.name(),
        "columns": t.columns,
        "rows": t.rows.iter().map(object).collect::<Vec<_>>(),
        "totals": t.totals.iter().map(object).collect::<Vec<_>>(),
        "counting": t.counted == super::Counting::Running,
        "counted_at": match t.counted {
            super::Counting::Earlier(at) => Some(at.to_string()),
            _ => None,
        },
        "compare": t.compare.iter().map(|c| serde_json::json!({
            "metric": c.metric,
            "current": cell_json(&c.current),
            "previous": cell_json(&c.previous),
            "change_percent": c.change.map(|d| d.to_string()),
        })).collect::<Vec<_>>(),
    })
}

/// The file name of a download: `loyd-sales-2026-11-01-2026-11-30.csv`.
fn file_name(t: &Table, ext: &str) -> String {
    format!("loyd-{}-{}-{}.{ext}", t.report.name().replace('_', "-"), t.from, t.to)
}

/// What a total row says in its first column, in `lang`.
fn total_label(lang: Lang) -> String {
    lang.words().get("report.total").to_owned()
}

/// The table as CSV: a header of column labels in `lang`, the rows, then the totals.
fn csv(t: &Table, lang: Lang) -> Result<Vec<u8>, ApiError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| ApiError::internal(format!("the report could not be written as CSV: {e}"));
    w.write_record(t.labels(lang)).map_err(fail)?;
    for row in &t.rows {
        w.write_record(row.iter().map(Cell::plain)).map_err(fail)?;
    }
    for row in &t.totals {
        w.write_record(row.iter().enumerate().map(|(k, c)| if k == 0 { total_label(lang) } else { c.plain() })).map_err(fail)?;
    }
    w.into_inner().map_err(|e| ApiError::internal(format!("the report could not be written as CSV: {e}")))
}

/// The table as an XLSX workbook of one sheet: bold labels, real dates, amounts as
/// numbers with their places, the totals in bold below.
fn xlsx(t: &Table, lang: Lang) -> Result<Vec<u8>, ApiError> {
    let fail = |e: rust_xlsxwriter::XlsxError| ApiError::internal(format!("the report could not be written as XLSX: {e}"));
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(t.report.name()).map_err(fail)?;
    let bold = XlsxFormat::new().set_bold();
    let day = XlsxFormat::new().set_num_format("yyyy-mm-dd");
    let places = |scale: u8, total: bool| {
        let f = XlsxFormat::new().set_num_format(if scale == 0 { "#,##0".to_owned() } else { format!("#,##0.{}", "0".repeat(usize::from(scale))) });
        if total { f.set_bold() } else { f }
    };
    for (col, label) in t.labels(lang).iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, label, &bold).map_err(fail)?;
    }
    let totals_from = t.rows.len();
    for (r, row) in t.rows.iter().chain(&t.totals).enumerate() {
        let (at, total) = ((r + 1) as u32, r >= totals_from);
        for (col, cell) in row.iter().enumerate() {
            let col = col as u16;
            match cell {
                Cell::Text(_) if total && col == 0 => sheet.write_string_with_format(at, col, total_label(lang), &bold),
                Cell::Text(s) if total => sheet.write_string_with_format(at, col, s, &bold),
                Cell::Text(s) | Cell::Link(s, _) => sheet.write_string(at, col, s),
                Cell::Day(d) => {
                    let date = ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8).map_err(fail)?;
                    sheet.write_datetime_with_format(at, col, &date, &day)
                }
                Cell::Count(n) => sheet.write_number_with_format(at, col, *n as f64, &places(0, total)),
                Cell::Amount(m) => {
                    // The decimal's nearest double: a spreadsheet's number.
                    let v: f64 = m.to_string().parse().map_err(|_| ApiError::internal("an amount did not convert"))?;
                    sheet.write_number_with_format(at, col, v, &places(m.scale.places(), total))
                }
                Cell::Ratio(r) => {
                    let v: f64 = r.to_string().parse().map_err(|_| ApiError::internal("a ratio did not convert"))?;
                    sheet.write_number_with_format(at, col, v, &places(2, total))
                }
                Cell::Empty => continue,
            }
            .map_err(fail)?;
        }
    }
    sheet.set_freeze_panes(1, 0).map_err(fail)?;
    sheet.autofit();
    book.save_to_buffer().map_err(fail)
}

/// The table as a file to download.
pub fn download(t: &Table, format: Format, lang: Lang) -> Result<Response, ApiError> {
    // Being counted: `202 Accepted` in every format, to ask again in a second.
    if t.counted == super::Counting::Running {
        return Ok((StatusCode::ACCEPTED, [(header::RETRY_AFTER, HeaderValue::from_static("1"))], axum::Json(json(t))).into_response());
    }
    let (body, kind, ext) = match format {
        Format::Json => return Ok(axum::Json(json(t)).into_response()),
        Format::Csv => (csv(t, lang)?, "text/csv; charset=utf-8", "csv"),
        Format::Xlsx => (xlsx(t, lang)?, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    };
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", file_name(t, ext))).unwrap_or(HeaderValue::from_static("attachment"));
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, HeaderValue::from_static(kind)), (header::CONTENT_DISPOSITION, disposition)], body).into_response())
}
