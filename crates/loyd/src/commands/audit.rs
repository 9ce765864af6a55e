//! `loyd audit`: the audit log.

use super::*;

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
