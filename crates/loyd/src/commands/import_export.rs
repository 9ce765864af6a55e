//! `loyd customer import` and `loyd customer export`: customers as CSV, with progress.

use super::*;

/// Columns of the CSV format with a meaning of their own; any other column is a
/// profile field.
pub(super) const CONTACT_COLUMNS: [&str; 7] = ["id", "phone", "email", "name", "birth_date", "card", "cards"];

/// Parses one CSV record into a row, or says why not.
pub(super) fn parse_row(headers: &csv::StringRecord, record: &csv::StringRecord, line: u64) -> Result<ImportRow, String> {
    let mut customer = NewCustomer::default();
    let mut cards = Vec::new();
    for (column, value) in headers.iter().zip(record.iter()) {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        match column {
            "id" => {} // an export's ids are not imported: the database gives new ones
            "phone" => customer.phone = Some(value.to_owned()),
            "email" => customer.email = Some(value.to_owned()),
            "name" => customer.name = Some(value.to_owned()),
            "birth_date" => customer.birth_date = Some(value.parse().map_err(|_| format!("birth_date '{value}' is not YYYY-MM-DD"))?),
            "card" | "cards" => cards.extend(value.split_whitespace().map(str::to_owned)),
            "opted_out" => {}
            other => match other.strip_prefix("consent_") {
                Some(ch) => {
                    let v = yes_no(value).ok_or_else(|| format!("{other} is yes or no, not '{value}'"))?;
                    customer.consents.insert(ch.to_owned(), v);
                }
                None => {
                    customer.profile.insert(other.to_owned(), value.to_owned());
                }
            },
        }
    }
    Ok(ImportRow { line, customer, cards })
}

pub(super) fn progress(len: Option<u64>, quiet: bool, what: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = match len {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    let template = if len.is_some() {
        format!("{what} {{bar:40}} {{percent}}% {{bytes}}/{{total_bytes}} {{msg}} [{{elapsed_precise}}, {{eta}} left]")
    } else {
        format!("{what} {{spinner}} {{pos}} {{msg}} [{{elapsed_precise}}]")
    };
    bar.set_style(ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    bar
}

/// Streams the file in batches: memory stays bounded by one batch whatever its size.
pub(super) async fn import(
    store: &Store,
    path: &std::path::Path,
    card_series: Option<String>,
    errors_to: Option<&std::path::Path>,
    batch_size: usize,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let size = file.metadata().map(|m| m.len()).ok();
    let bar = progress(size, quiet, "importing");
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(bar.wrap_read(std::io::BufReader::new(file)));
    let headers = reader.headers().context("reading the header row")?.clone();
    let names: Vec<String> = headers.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
    let headers = csv::StringRecord::from(names.clone());
    for h in &names {
        if let Some(ch) = h.strip_prefix("consent_") {
            anyhow::ensure!(CHANNELS.contains(&ch), "column {h}: the channels are {}", CHANNELS.join(", "));
        } else if !CONTACT_COLUMNS.contains(&h.as_str()) && h != "opted_out" {
            loyd_domain::profile::check_key(h).with_context(|| format!("column '{h}' is neither a known column nor a profile field name"))?;
        }
    }
    let mut refused: Box<dyn Write> = match errors_to {
        Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)),
        None => Box::new(std::io::stderr()),
    };
    writeln!(refused, "line,reason")?;
    let (mut imported, mut failed) = (0u64, 0u64);
    let mut rows = Vec::with_capacity(batch_size);
    let mut record = csv::StringRecord::new();
    let actor = cli_actor();
    let mut done = false;
    while !done {
        rows.clear();
        while rows.len() < batch_size {
            match reader.read_record(&mut record) {
                Ok(true) => {
                    let line = record.position().map(|p| p.line()).unwrap_or_default();
                    match parse_row(&headers, &record, line) {
                        Ok(row) => rows.push(row),
                        Err(reason) => {
                            failed += 1;
                            writeln!(refused, "{line},{}", csv_field(&reason))?;
                        }
                    }
                }
                Ok(false) => {
                    done = true;
                    break;
                }
                Err(e) => {
                    // A malformed record (wrong number of fields, bad quoting): report it and go on.
                    failed += 1;
                    let line = e.position().map(|p| p.line()).unwrap_or_default();
                    writeln!(refused, "{line},{}", csv_field(&e.to_string()))?;
                    if !matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. } | csv::ErrorKind::Utf8 { .. }) {
                        anyhow::bail!("the file cannot be read past line {line}: {e}");
                    }
                }
            }
        }
        if rows.is_empty() {
            continue;
        }
        let outcomes = store.import_customers(std::mem::take(&mut rows), card_series.clone(), actor.clone()).await?;
        for o in outcomes {
            match o.result {
                Ok(_) => imported += 1,
                Err(reason) => {
                    failed += 1;
                    writeln!(refused, "{},{}", o.line, csv_field(&reason))?;
                }
            }
        }
        bar.set_message(format!("{imported} imported, {failed} refused"));
    }
    bar.finish_and_clear();
    refused.flush()?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!("imported {imported} customers, refused {failed} rows, in {secs:.1} s ({:.0} rows/s)", (imported + failed) as f64 / secs.max(0.001));
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

pub(super) fn csv_field(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// Two streaming passes: the profile field names (for the header), then the rows.
pub(super) async fn export(store: &Store, output: Option<&std::path::Path>, quiet: bool) -> anyhow::Result<ExitCode> {
    const PAGE: u32 = 1000;
    let started = Instant::now();
    let mut fields = BTreeSet::new();
    let mut after = 0;
    loop {
        let page = store.customers(CustomerFilter { after_id: Some(after), limit: PAGE, ..CustomerFilter::default() }).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for c in &page {
            fields.extend(c.profile.keys().cloned());
        }
    }
    let out: Box<dyn Write> = match output {
        Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let mut w = csv::Writer::from_writer(out);
    let mut header: Vec<String> = ["id", "phone", "email", "name", "birth_date", "cards", "opted_out"].map(String::from).to_vec();
    header.extend(CHANNELS.iter().map(|c| format!("consent_{c}")));
    header.extend(fields.iter().cloned());
    w.write_record(&header)?;
    let bar = progress(None, quiet || output.is_none(), "exporting");
    let mut after = 0;
    let mut count = 0u64;
    loop {
        let page = store.export_customers(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.0.id;
        for (c, cards) in page {
            if c.merged_into.is_some() {
                continue;
            }
            let mut row = vec![
                CustomerId(c.id).to_string(),
                c.phone.unwrap_or_default(),
                c.email.unwrap_or_default(),
                c.name.unwrap_or_default(),
                c.birth_date.map(|d| d.to_string()).unwrap_or_default(),
                cards.join(" "),
                if c.opted_out_at.is_some() { "yes".into() } else { String::new() },
            ];
            row.extend(CHANNELS.iter().map(|ch| match c.consents.get(*ch) {
                Some(x) if x.granted => "yes".to_owned(),
                Some(_) => "no".to_owned(),
                None => String::new(),
            }));
            row.extend(fields.iter().map(|f| c.profile.get(f).cloned().unwrap_or_default()));
            w.write_record(&row)?;
            count += 1;
        }
        bar.set_position(count);
    }
    w.flush()?;
    bar.finish_and_clear();
    eprintln!("exported {count} customers in {:.1} s", started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}
