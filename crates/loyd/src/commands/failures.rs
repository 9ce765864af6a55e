//! `loyd failures`: the failure log of the POS API.

use super::*;

pub async fn failures(store: &Store, args: FailuresArgs) -> anyhow::Result<ExitCode> {
    let list = store
        .failures(FailureFilter {
            store: args.store,
            terminal: args.terminal,
            code: args.code,
            card: args.card,
            limit: args.limit,
            ..FailureFilter::default()
        })
        .await?;
    println!("at\tstore\tterminal\toperation\tcode\tcard\tid\tmessage");
    for f in list {
        let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            f.at,
            dash(&f.store),
            dash(&f.terminal),
            f.operation,
            f.code,
            dash(&f.card),
            dash(&f.client_id),
            f.message
        );
    }
    Ok(ExitCode::SUCCESS)
}
