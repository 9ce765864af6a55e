//! `loyd user` and `loyd api-key`: staff users and API keys.

use super::*;

pub(super) fn new_password() -> String {
    let mut bytes = [0u8; 12];
    rand::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub async fn user(store: &Store, cmd: UserCommand) -> anyhow::Result<ExitCode> {
    let actor = cli_actor();
    match cmd {
        UserCommand::Create { login, role, stores, password_stdin, email } => {
            let (password, shown) = if password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).context("reading the password from stdin")?;
                (line.trim_end_matches(['\r', '\n']).to_owned(), false)
            } else {
                (new_password(), true)
            };
            let role = loyd_domain::access::check_new_user(&login, &password, &role, &stores).map_err(|e| anyhow::anyhow!(e.0))?;
            let u = store.create_user(NewUser { login, password: password.clone(), role, stores, email }, actor).await?;
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
        UserCommand::Update { login, role, stores, reset_password, disable, enable, email } => {
            let password = reset_password.then(new_password);
            let role = loyd_domain::access::check_user_changes(password.as_deref(), role.as_deref()).map_err(|e| anyhow::anyhow!(e.0))?;
            let patch = UserPatch {
                password: password.clone(),
                role,
                stores: (!stores.is_empty()).then_some(stores),
                disabled: if disable { Some(true) } else if enable { Some(false) } else { None },
                email: email.map(|e| Some(e).filter(|e| !e.trim().is_empty())),
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

pub async fn api_key(store: &Store, cmd: ApiKeyCommand) -> anyhow::Result<ExitCode> {
    let ApiKeyCommand::Create { name, role } = cmd;
    let role = loyd_domain::access::check_api_key_role(&role).map_err(|e| anyhow::anyhow!(e.0))?;
    let key = Store::new_api_key();
    store.create_api_key(name.clone(), loyd_domain::org::terminal_key_hash(&key), role).await?;
    let what = serde_json::json!({ "role": role.name() });
    store.record_audit(super::cli_actor(), "api_key.create".into(), ("api_key".into(), name.clone()), None, Some(what)).await?;
    println!("created API key {name}; the key (shown once, keep it secret):");
    println!("{key}");
    Ok(ExitCode::SUCCESS)
}
