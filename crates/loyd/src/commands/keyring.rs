//! `loyd keys`: the keyring that seals personal data, and key rotation.

use super::*;
use super::import_export::progress;

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
                .rotate_keys(|r| {
                    bar.set_message(format!("{} customers, {} CRM entries, {} audit entries, {} events and secrets", r.customers, r.crm_entries, r.audit_entries, r.events))
                })
                .await?;
            bar.finish_and_clear();
            println!(
                "re-sealed under {}: {} customers, {} CRM entries, {} audit entries, {} events and secrets",
                done.key, done.customers, done.crm_entries, done.audit_entries, done.events
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
pub(super) fn replace_file(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    crate::settings::write_private(&tmp, text.trim_end_matches('\n')).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}
