//! `loyd customer`: create, show, update, find, merge, one-time codes and balance
//! adjustments of customers (CSV import and export are in `import_export`).

use super::*;
use super::import_export::{export, import};

/// `field=value` arguments: an empty value means "remove".
pub(super) fn pairs(flag: &str, args: &[String]) -> anyhow::Result<Vec<(String, Option<String>)>> {
    args.iter()
        .map(|a| {
            let (k, v) = a.split_once('=').with_context(|| format!("--{flag} {a}: write NAME=VALUE"))?;
            Ok((k.to_owned(), (!v.is_empty()).then(|| v.to_owned())))
        })
        .collect()
}

/// An empty flag value clears the field.
pub(super) fn change(v: Option<String>) -> Option<Option<String>> {
    v.map(|v| (!v.is_empty()).then_some(v))
}

pub(super) fn print_customer(c: &Customer, cards: &[loyd_store::CardInfo]) {
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
            return super::balances::adjust(store, customer, currency, amount, reason, operation_id).await;
        }
        CustomerCommand::Import { file, card_series, errors, batch, quiet } => {
            return import(store, &file, card_series, errors.as_deref(), batch.clamp(1, 10_000), quiet).await;
        }
        CustomerCommand::Export { output, quiet } => return export(store, output.as_deref(), quiet).await,
    }
    Ok(ExitCode::SUCCESS)
}
