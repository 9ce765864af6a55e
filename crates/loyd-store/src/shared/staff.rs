//! Staff users, login sessions and the principal behind a bearer token, one source for
//! both backends. Passwords are argon2id hashes, verified outside any transaction (they
//! cost tens of milliseconds on purpose); five wrong passwords in a row lock a login
//! for [`LOGIN_LOCK_MINUTES`].

use std::sync::Arc;

use loyd_domain::access::{self};
use loyd_domain::org::terminal_key_hash;
use loyd_domain::time::{Timestamp, from_micros, to_micros};
use sqlx::Row;

use super::Backend;
use super::audit::audit;
use crate::crypto::{hash_password, random_token, verify_password};
use crate::error::StoreError;
use crate::{LoginRefusal, NewUser, Principal, Session, User, UserPatch};

/// Wrong passwords in a row that lock a login…
pub const LOGIN_ATTEMPTS: i64 = 5;
/// …for this long.
pub const LOGIN_LOCK_MINUTES: i64 = 15;

macro_rules! user_cols {
    () => {
        "id, login, password_hash, role, stores, created_at, disabled_at, email"
    };
}

fn bad(message: impl Into<String>) -> StoreError {
    StoreError::Invalid(message.into())
}

/// A staff member's e-mail, normalised; refused when it is not one.
fn staff_email(email: Option<&str>) -> Result<Option<String>, StoreError> {
    email.map(str::trim).filter(|e| !e.is_empty()).map(|e| loyd_domain::text::normalize_email(e).ok_or_else(|| bad(format!("email: '{e}' is not an e-mail address")))).transpose()
}

fn user_from(r: &super::rows::DbRow) -> Result<User, StoreError> {
    let stores: Option<String> = r.try_get("stores")?;
    Ok(User {
        id: r.try_get("id")?,
        login: r.try_get("login")?,
        role: super::rows::role(r, super::rows::unknown_role)?,
        stores: stores.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default(),
        disabled: r.try_get::<Option<i64>, _>("disabled_at")?.is_some(),
        email: r.try_get("email")?,
        created_at: from_micros(r.try_get("created_at")?),
    })
}

async fn check_stores(c: &mut super::Conn, stores: &[String]) -> Result<(), StoreError> {
    for s in stores {
        if sqlx::query("SELECT 1 FROM stores WHERE id = $1").bind(s.clone()).fetch_optional(&mut *c).await?.is_none() {
            return Err(StoreError::NotFound { what: "store", id: s.clone() });
        }
    }
    Ok(())
}

async fn user_row(c: &mut super::Conn, login: &str) -> Result<Option<(User, String)>, StoreError> {
    let Some(r) = sqlx::query(concat!("SELECT ", user_cols!(), " FROM users WHERE login = $1")).bind(login.to_owned()).fetch_optional(&mut *c).await? else {
        return Ok(None);
    };
    Ok(Some((user_from(&r)?, r.try_get("password_hash")?)))
}

/// A fixed hash to verify against when the login is unknown, so both cases take the
/// same time.
static DECOY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| hash_password("decoy password, never valid"));

impl Backend {
    pub async fn create_user(&self, new: NewUser, actor: String, now: Timestamp) -> Result<User, StoreError> {
        access::check_login(&new.login)?;
        access::check_password(&new.password)?;
        access::check_stores(new.role, &new.stores)?;
        let email = staff_email(new.email.as_deref())?;
        let hash = tokio::task::spawn_blocking({
            let p = new.password.clone();
            move || hash_password(&p)
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let (new, secrets) = (Arc::new(new), self.secrets.clone());
        self.write(move |c| {
            let (new, hash, secrets, actor, email) = (new.clone(), hash.clone(), secrets.clone(), actor.clone(), email.clone());
            Box::pin(async move {
                if user_row(c, &new.login).await?.is_some() {
                    return Err(StoreError::AlreadyExists { what: "staff user", id: new.login.clone() });
                }
                check_stores(c, &new.stores).await?;
                sqlx::query("INSERT INTO users (login, password_hash, role, stores, created_at, updated_at, email) VALUES ($1, $2, $3, $4, $5, $5, $6)")
                    .bind(new.login.clone())
                    .bind(hash)
                    .bind(new.role.name())
                    .bind((!new.stores.is_empty()).then(|| serde_json::to_string(&new.stores).unwrap_or_default()))
                    .bind(to_micros(now))
                    .bind(email.clone())
                    .execute(&mut *c)
                    .await?;
                let user = user_row(c, &new.login).await?.expect("just inserted").0;
                audit(c, &secrets.ring, now, &actor, "user.create", "user", &user.login, None::<&()>, Some(&user)).await?;
                Ok(user)
            })
        })
        .await
    }

    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        let mut c = self.reader().await?;
        sqlx::query(concat!("SELECT ", user_cols!(), " FROM users ORDER BY login")).fetch_all(&mut *c).await?.iter().map(user_from).collect()
    }

    /// Changes a user; a new password, a new role, new stores or disabling end all of
    /// their sessions.
    pub async fn update_user(&self, login: String, patch: UserPatch, actor: String, now: Timestamp) -> Result<User, StoreError> {
        if let Some(p) = &patch.password {
            access::check_password(p)?;
        }
        let email = patch.email.as_ref().map(|e| staff_email(e.as_deref())).transpose()?;
        let hash = match patch.password.clone() {
            Some(p) => Some(tokio::task::spawn_blocking(move || hash_password(&p)).await.map_err(|e| StoreError::Unavailable(e.to_string()))?),
            None => None,
        };
        let (patch, secrets) = (Arc::new(patch), self.secrets.clone());
        self.write(move |c| {
            let (login, patch, hash, secrets, actor, email) = (login.clone(), patch.clone(), hash.clone(), secrets.clone(), actor.clone(), email.clone());
            Box::pin(async move {
                let (before, old_hash) = user_row(c, &login).await?.ok_or_else(|| StoreError::NotFound { what: "staff user", id: login.clone() })?;
                let role = patch.role.unwrap_or(before.role);
                let stores = patch.stores.clone().unwrap_or_else(|| before.stores.clone());
                access::check_stores(role, &stores)?;
                check_stores(c, &stores).await?;
                let disabled = patch.disabled.unwrap_or(before.disabled);
                sqlx::query(
                    "UPDATE users SET password_hash = $1, role = $2, stores = $3, updated_at = $4, \
                     disabled_at = CASE WHEN $5 THEN COALESCE(disabled_at, $4) ELSE NULL END, email = $7 WHERE login = $6",
                )
                .bind(hash.clone().unwrap_or(old_hash))
                .bind(role.name())
                .bind((!stores.is_empty()).then(|| serde_json::to_string(&stores).unwrap_or_default()))
                .bind(to_micros(now))
                .bind(disabled)
                .bind(login.clone())
                .bind(email.unwrap_or(before.email.clone()))
                .execute(&mut *c)
                .await?;
                sqlx::query("DELETE FROM login_attempts WHERE login = $1").bind(login.clone()).execute(&mut *c).await?;
                let after = user_row(c, &login).await?.expect("exists").0;
                if hash.is_some() || after.role != before.role || after.stores != before.stores || after.disabled {
                    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
                        .bind(to_micros(now))
                        .bind(after.id)
                        .execute(&mut *c)
                        .await?;
                }
                let mut shown = serde_json::to_value(&after).map_err(|e| bad(e.to_string()))?;
                if hash.is_some() {
                    shown["password"] = "changed".into();
                }
                audit(c, &secrets.ring, now, &actor, "user.update", "user", &login, Some(&before), Some(&shown)).await?;
                Ok(after)
            })
        })
        .await
    }

    /// Checks a login and password; on success opens a session of `ttl`.
    pub async fn login(&self, login: String, password: String, ttl: jiff::SignedDuration, now: Timestamp) -> Result<Result<Session, LoginRefusal>, StoreError> {
        let (found, locked) = {
            let mut c = self.reader().await?;
            let locked: Option<i64> = sqlx::query("SELECT locked_until FROM login_attempts WHERE login = $1")
                .bind(login.clone())
                .fetch_optional(&mut *c)
                .await?
                .map(|r| r.try_get("locked_until"))
                .transpose()?
                .flatten();
            (user_row(&mut c, &login).await?, locked.map(from_micros).filter(|until| *until > now))
        };
        // Known or not, a login name is locked the same way.
        if let Some(until) = locked {
            return Ok(Err(LoginRefusal::Locked { until }));
        }
        let hash = found.as_ref().map(|(_, h)| h.clone()).unwrap_or_else(|| DECOY.clone());
        let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let user = match found {
            Some((user, _)) if ok && !user.disabled => user,
            _ => {
                let lock_until = now + jiff::SignedDuration::from_mins(LOGIN_LOCK_MINUTES);
                self.write(move |c| {
                    let login = login.clone();
                    Box::pin(async move {
                        sqlx::query(
                            "INSERT INTO login_attempts (login, failures) VALUES ($1, 1) \
                             ON CONFLICT (login) DO UPDATE SET failures = login_attempts.failures + 1",
                        )
                        .bind(login.clone())
                        .execute(&mut *c)
                        .await?;
                        sqlx::query("UPDATE login_attempts SET locked_until = $1, failures = 0 WHERE login = $2 AND failures >= $3")
                            .bind(to_micros(lock_until))
                            .bind(login)
                            .bind(LOGIN_ATTEMPTS)
                            .execute(&mut *c)
                            .await?;
                        Ok(())
                    })
                })
                .await?;
                return Ok(Err(LoginRefusal::BadCredentials));
            }
        };
        let token = random_token("lsess_");
        let token_hash = terminal_key_hash(&token);
        let expires_at = now + ttl;
        let id = user.id;
        let name = user.login.clone();
        self.write(move |c| {
            let (token_hash, name) = (token_hash.clone(), name.clone());
            Box::pin(async move {
                sqlx::query("DELETE FROM login_attempts WHERE login = $1").bind(name).execute(&mut *c).await?;
                // Expired sessions of this user are of no further use.
                sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND expires_at <= $2").bind(id).bind(to_micros(now)).execute(&mut *c).await?;
                sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
                    .bind(token_hash)
                    .bind(id)
                    .bind(to_micros(now))
                    .bind(to_micros(expires_at))
                    .execute(&mut *c)
                    .await?;
                Ok(())
            })
        })
        .await?;
        Ok(Ok(Session { token, expires_at, user }))
    }

    /// Ends the session of a token (no-op for unknown tokens).
    pub async fn logout(&self, token_hash: String, now: Timestamp) -> Result<(), StoreError> {
        self.write(move |c| {
            let token_hash = token_hash.clone();
            Box::pin(async move {
                sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL")
                    .bind(to_micros(now))
                    .bind(token_hash)
                    .execute(&mut *c)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    /// Who a bearer token belongs to: a live session of an enabled user, or a live API key.
    pub async fn principal(&self, token_hash: String, now: Timestamp) -> Result<Option<Principal>, StoreError> {
        let mut c = self.reader().await?;
        let row = sqlx::query(
            "SELECT u.login, u.role, u.stores FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND u.disabled_at IS NULL",
        )
        .bind(token_hash.clone())
        .bind(to_micros(now))
        .fetch_optional(&mut *c)
        .await?;
        if let Some(r) = row {
            let stores: Option<String> = r.try_get("stores")?;
            return Ok(Some(Principal {
                name: format!("user:{}", r.try_get::<String, _>("login")?),
                role: super::rows::role(&r, super::rows::refused_role)?,
                stores: stores.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default(),
            }));
        }
        let row = sqlx::query("SELECT name, role FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL")
            .bind(token_hash)
            .fetch_optional(&mut *c)
            .await?;
        row.map(|r| Ok(Principal { name: format!("key:{}", r.try_get::<String, _>("name")?), role: super::rows::role(&r, super::rows::refused_role)?, stores: Vec::new() }))
            .transpose()
    }
}
