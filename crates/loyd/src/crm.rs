//! Operator commands of the CRM: customers (create, show, update, find, merge, CSV
//! import and export), staff users, the keyring and the audit log.

use loyd_domain::ids::{CustomerId, OrganisationId};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use loyd_domain::access::CHANNELS;
use loyd_store::{AuditFilter, Customer, CustomerFilter, CustomerPatch, ImportRow, NewCustomer, NewUser, Store, UserPatch};

use crate::admin::customer_id;
use crate::cli::{AuditArgs, CustomerCommand, KeysCommand, UserCommand};
use crate::settings::Settings;

/// Who the audit log names for commands run on this machine.
pub fn cli_actor() -> String {
    format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "operator".into()))
}

/// `field=value` arguments: an empty value means "remove".
fn pairs(flag: &str, args: &[String]) -> anyhow::Result<Vec<(String, Option<String>)>> {
    args.iter()
        .map(|a| {
            let (k, v) = a.split_once('=').with_context(|| format!("--{flag} {a}: write NAME=VALUE"))?;
            Ok((k.to_owned(), (!v.is_empty()).then(|| v.to_owned())))
        })
        .collect()
}

fn yes_no(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" | "1" => Some(true),
        "no" | "n" | "false" | "0" => Some(false),
        _ => None,
    }
}

/// An empty flag value clears the field.
fn change(v: Option<String>) -> Option<Option<String>> {
    v.map(|v| (!v.is_empty()).then_some(v))
}

fn print_customer(c: &Customer, cards: &[loyd_store::CardInfo]) {
    println!("id\t{}", CustomerId(c.id));
    println!("phone\t{}", c.phone.clone().unwrap_or_default());
    println!("email\t{}", c.email.clone().unwrap_or_default());
    println!("name\t{}", c.name.clone().unwrap_or_default());
    println!("birth_date\t{}", c.birth_date.map(|d| d.to_string()).unwrap_or_default());
    for (k, v) in &c.profile {
        println!("profile.{k}\t{v}");
    }
    for (ch, consent) in &c.consents {
        println!("consent.{ch}\t{}\t{}", if consent.granted { "yes" } else { "no" }, consent.at);
    }
    if let Some(at) = c.opted_out_at {
        println!("opted_out_at\t{at}");
    }
    if let Some(o) = c.organisation {
        println!("organisation\t{}", OrganisationId(o));
    }
    if let Some(m) = c.merged_into {
        println!("merged_into\t{}", CustomerId(m));
    }
    for card in cards {
        let replaced = card.replaced_by.as_deref().map(|r| format!(" (replaced by {r})")).unwrap_or_default();
        println!("card\t{}\t{}\t{}{}{replaced}", card.number, card.series, card.state, if card.is_virtual { " virtual" } else { "" });
    }
}

pub async fn customer(store: &Store, cmd: CustomerCommand) -> anyhow::Result<ExitCode> {
    let actor = cli_actor();
    match cmd {
        CustomerCommand::Create { phone, email, name, birth_date, profile } => {
            let birth_date = birth_date.map(|d| d.parse::<jiff::civil::Date>()).transpose().context("--birth-date is YYYY-MM-DD")?;
            let mut fields = BTreeMap::new();
            for (k, v) in pairs("profile", &profile)? {
                fields.insert(k, v.context("--profile needs a value when creating a customer: FIELD=VALUE")?);
            }
            let new = NewCustomer { phone, email, name, birth_date, profile: fields, ..NewCustomer::default() };
            let c = store.create_customer(new, actor).await?;
            println!("{}", CustomerId(c.id));
        }
        CustomerCommand::Show { customer } => {
            let id = customer_id(&customer)?;
            let c = store.customer(id).await?.with_context(|| format!("customer {} does not exist", CustomerId(id)))?;
            print_customer(&c, &store.customer_cards(id).await?);
        }
        CustomerCommand::Update { customer, phone, email, name, profile, consent, opt_out, opt_in } => {
            let mut consents = BTreeMap::new();
            for (ch, v) in pairs("consent", &consent)? {
                let v = v.as_deref().and_then(yes_no).with_context(|| format!("--consent {ch}=yes or {ch}=no"))?;
                consents.insert(ch, v);
            }
            let patch = CustomerPatch {
                phone: change(phone),
                email: change(email),
                name: change(name),
                profile: pairs("profile", &profile)?.into_iter().collect(),
                consents,
                opted_out: if opt_out { Some(true) } else if opt_in { Some(false) } else { None },
                ..CustomerPatch::default()
            };
            let c = store.update_customer(customer_id(&customer)?, patch, actor).await?;
            let fields: Vec<String> = c.profile.iter().map(|(k, v)| format!("{k}={v}")).collect();
            println!("{}\t{}", CustomerId(c.id), fields.join(" "));
        }
        CustomerCommand::Find { phone, email, card, name, limit } => {
            anyhow::ensure!(phone.is_some() || email.is_some() || card.is_some() || name.is_some(), "give --phone, --email, --card or --name");
            let found = store.customers(CustomerFilter { phone, email, card, name, limit, ..CustomerFilter::default() }).await?;
            for c in &found {
                println!("{}\t{}\t{}\t{}", CustomerId(c.id), c.phone.as_deref().unwrap_or("-"), c.email.as_deref().unwrap_or("-"), c.name.as_deref().unwrap_or("-"));
            }
            if found.is_empty() {
                eprintln!("no customer found");
                return Ok(ExitCode::FAILURE);
            }
        }
        CustomerCommand::Merge { keep, duplicate } => {
            let c = store.merge_customers(customer_id(&keep)?, customer_id(&duplicate)?, actor).await?;
            println!("merged {duplicate} into {}", CustomerId(c.id));
        }
        CustomerCommand::Code { customer } => {
            let (code, expires) = store.issue_code(customer_id(&customer)?, jiff::SignedDuration::from_mins(5), actor).await?;
            println!("{code}\tvalid until {expires}");
        }
        CustomerCommand::Adjust { customer, currency, amount, reason, operation_id } => {
            return crate::admin::adjust(store, customer, currency, amount, reason, operation_id).await;
        }
        CustomerCommand::Import { file, card_series, errors, batch, quiet } => {
            return import(store, &file, card_series, errors.as_deref(), batch.clamp(1, 10_000), quiet).await;
        }
        CustomerCommand::Export { output, quiet } => return export(store, output.as_deref(), quiet).await,
    }
    Ok(ExitCode::SUCCESS)
}

/// Columns of the CSV format with a meaning of their own; any other column is a
/// profile field.
const CONTACT_COLUMNS: [&str; 7] = ["id", "phone", "email", "name", "birth_date", "card", "cards"];

/// Parses one CSV record into a row, or says why not.
fn parse_row(headers: &csv::StringRecord, record: &csv::StringRecord, line: u64) -> Result<ImportRow, String> {
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

fn progress(len: Option<u64>, quiet: bool, what: &str) -> ProgressBar {
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
async fn import(
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

fn csv_field(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// Two streaming passes: the profile field names (for the header), then the rows.
async fn export(store: &Store, output: Option<&std::path::Path>, quiet: bool) -> anyhow::Result<ExitCode> {
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

fn new_password() -> String {
    let mut bytes = [0u8; 12];
    rand::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub async fn user(store: &Store, cmd: UserCommand) -> anyhow::Result<ExitCode> {
    let actor = cli_actor();
    match cmd {
        UserCommand::Create { login, role, stores, password_stdin } => {
            let (password, shown) = if password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).context("reading the password from stdin")?;
                (line.trim_end_matches(['\r', '\n']).to_owned(), false)
            } else {
                (new_password(), true)
            };
            let u = store.create_user(NewUser { login, password: password.clone(), role, stores }, actor).await?;
            println!("created {} ({})", u.login, u.role);
            if shown {
                println!("password (shown once; log in at POST /v1/auth/login):");
                println!("{password}");
            }
        }
        UserCommand::List => {
            for u in store.users().await? {
                println!("{}\t{}\t{}\t{}", u.login, u.role, u.stores.join(","), if u.disabled { "disabled" } else { "active" });
            }
        }
        UserCommand::Update { login, role, stores, reset_password, disable, enable } => {
            let password = reset_password.then(new_password);
            let patch = UserPatch {
                password: password.clone(),
                role,
                stores: (!stores.is_empty()).then_some(stores),
                disabled: if disable { Some(true) } else if enable { Some(false) } else { None },
            };
            let u = store.update_user(login, patch, actor).await?;
            println!("{}\t{}\t{}\t{}", u.login, u.role, u.stores.join(","), if u.disabled { "disabled" } else { "active" });
            if let Some(p) = password {
                println!("new password (shown once):");
                println!("{p}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn keys(settings: &Settings, cmd: KeysCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        KeysCommand::List => {
            let store = crate::open(settings, true).await?;
            let ring = store.keyring().clone();
            let ids: Vec<String> = ring.key_ids().into_iter().map(str::to_owned).collect();
            let used = store.keys_in_use(ids.clone()).await?;
            for id in ids {
                let current = if id == ring.current() { " (seals new data)" } else { "" };
                println!("{id}\t{}{current}", if used.contains(&id) { "in use" } else { "unused" });
            }
        }
        KeysCommand::Rotate { no_new_key, retire } => {
            anyhow::ensure!(
                settings.keyring.is_none() || no_new_key,
                "the keyring is given directly (LOYD_KEYRING): add a key there yourself, then run `loyd keys rotate --no-new-key`"
            );
            let secret = settings.load_secret()?;
            let path = &settings.keyring_file;
            if !no_new_key {
                let ring = settings.load_keyring(&secret)?;
                let line = ring.new_key_line();
                let mut text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                text.push_str(&line);
                text.push('\n');
                replace_file(path, &text)?;
                eprintln!("added key {} to {}; give every server this keyring", line.split(' ').next().unwrap_or_default(), path.display());
            }
            let store = crate::open(settings, true).await?;
            let bar = progress(None, false, "re-sealing");
            let done = store
                .rotate_keys(|r| bar.set_message(format!("{} customers, {} CRM entries, {} audit entries", r.customers, r.crm_entries, r.audit_entries)))
                .await?;
            bar.finish_and_clear();
            println!(
                "re-sealed under {}: {} customers, {} CRM entries, {} audit entries",
                done.key, done.customers, done.crm_entries, done.audit_entries
            );
            store
                .record_audit(cli_actor(), "keys.rotate".into(), ("keyring".into(), done.key.clone()), None, Some(serde_json::to_value(&done)?))
                .await?;
            if retire {
                let ring = store.keyring().clone();
                let old: Vec<String> = ring.key_ids().into_iter().filter(|k| *k != ring.current()).map(str::to_owned).collect();
                let used = store.keys_in_use(old.clone()).await?;
                anyhow::ensure!(used.is_empty(), "keys {used:?} still seal data (written meanwhile?); run rotate again");
                let text = std::fs::read_to_string(path)?;
                let kept: Vec<&str> = text.lines().filter(|l| !old.iter().any(|k| l.trim_start().starts_with(&format!("{k} ")))).collect();
                replace_file(path, &(kept.join("\n") + "\n"))?;
                println!("retired keys {}", old.join(", "));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `text` to `path` atomically (a private temporary file renamed over it).
fn replace_file(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    crate::settings::write_private(&tmp, text.trim_end_matches('\n')).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

pub async fn audit(store: &Store, args: AuditArgs) -> anyhow::Result<ExitCode> {
    let entries = store
        .audit_log(AuditFilter { object_kind: args.object_kind, object_id: args.object_id, limit: args.limit, ..AuditFilter::default() })
        .await?;
    for e in entries {
        let after = e.after.map(|v| v.to_string()).unwrap_or_default();
        println!("{}\t{}\t{}\t{}\t{} {}\t{after}", e.id, e.at, e.actor, e.action, e.object_kind, e.object_id);
    }
    Ok(ExitCode::SUCCESS)
}
