//! `loyd card`: issue, replace, block and unblock cards.

use super::*;

pub async fn card(store: &Store, cmd: CardCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        CardCommand::Issue { series, count, customer, number, virtual_card } => {
            let customer = customer.as_deref().map(customer_id).transpose()?;
            let cards = store.issue_cards(IssueCards { series, count, customer, number, virtual_card, operation_id: None }, super::cli_actor()).await?;
            println!("number\tpin\tcustomer\tvalid_until");
            for c in cards {
                println!(
                    "{}\t{}\t{}\t{}",
                    c.number,
                    c.pin.as_deref().unwrap_or("-"),
                    c.customer.as_deref().unwrap_or("-"),
                    c.valid_until.map(|t| t.to_string()).unwrap_or_else(|| "-".into())
                );
            }
        }
        CardCommand::Replace { number, new_number } => {
            let card = store.replace_card(number.clone(), new_number, super::cli_actor()).await?;
            println!("card {number} is replaced by {} ({})", card.number, card.state);
            if let Some(pin) = card.pin {
                println!("new PIN (shown once):");
                println!("{pin}");
            }
        }
        CardCommand::Block { number } => {
            store.set_card_blocked(number.clone(), true, super::cli_actor()).await?;
            println!("card {number} is blocked");
        }
        CardCommand::Unblock { number } => {
            store.set_card_blocked(number.clone(), false, super::cli_actor()).await?;
            println!("card {number} is active");
        }
    }
    Ok(ExitCode::SUCCESS)
}
