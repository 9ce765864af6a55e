//! `loyd coupons`: generate the codes of a unique coupon series.

use super::*;

pub async fn coupons(store: &Store, cmd: CouponsCommand) -> anyhow::Result<ExitCode> {
    let CouponsCommand::Generate { series, count, customer } = cmd;
    let customer = customer.as_deref().map(customer_id).transpose()?;
    for (code, valid_until) in store.generate_coupons(series, count, customer, None, super::cli_actor()).await? {
        match valid_until {
            Some(v) => println!("{code}\t{v}"),
            None => println!("{code}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}
