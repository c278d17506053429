//! Hub staff signing in: passwords hashed with argon2id, sessions and their CSRF tokens in the
//! database (so any server process behind a load balancer knows a session, decision 0006),
//! wrong passwords counted in the database per address and per account and refused past a
//! limit, and the cookies that carry it all.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, PasswordVerifier};
use doorstep_core::record::User;

use crate::auth;
use crate::error::{Result, ServerError};
use crate::limits::{retry_after_s, window_start};
use crate::storage::{HubSession, Storage, Tx};

/// The session cookie (the token; the database keeps its hash).
pub const SESSION_COOKIE: &str = "doorstep_hub";
/// The sign-in form's own CSRF cookie (double submit: the form carries the same value).
pub const LOGIN_COOKIE: &str = "doorstep_hub_login";
/// A session lasts one shift.
pub const SESSION_MS: i64 = 8 * 60 * 60 * 1000;
/// Wrong passwords per minute, per address and per account, before sign-in answers 429.
pub const FAILURES_PER_MINUTE: u64 = 10;
/// The shortest password `doorstep admin create-hub-user` accepts.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// The argon2id hash (PHC string) of a new password, refused if too short.
pub fn hash_password(password: &str) -> Result<String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ServerError::BadRequest(format!(
            "a hub password needs at least {MIN_PASSWORD_CHARS} characters (a passphrase of three or four words is good)"
        )));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServerError::Storage(format!("could not hash the password: {e}")))
}

fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hub account: a user of the team (as `doorstep admin create-user` makes) with a password.
pub fn create_hub_user(
    storage: &Storage,
    user_id: &str,
    display_name: &str,
    role: doorstep_core::record::Role,
    team_id: &str,
    password: &str,
) -> Result<User> {
    let hash = hash_password(password)?;
    let user = crate::admin::create_user(storage, user_id, display_name, role, team_id)?;
    storage.write(|tx| tx.set_hub_password(user_id, &hash, crate::admin::now_ms()))?;
    Ok(user)
}

/// A new password for a hub account (or a hub password for an existing user); every session of
/// the account ends. Returns how many sessions ended.
pub fn set_hub_password(storage: &Storage, user_id: &str, password: &str) -> Result<u64> {
    let hash = hash_password(password)?;
    storage.write(|tx| {
        if tx.user(user_id)?.is_none() {
            return Err(ServerError::NotFound(format!("no user {user_id}")));
        }
        tx.set_hub_password(user_id, &hash, crate::admin::now_ms())?;
        tx.end_hub_sessions_of(user_id)
    })
}

/// Why a sign-in was refused: the words on the page. Never says which of the two was wrong.
pub const WRONG: &str =
    "That user id and password do not match an active hub account. Check both and try again.";

/// Sign in: the session and its token, or a refusal. The password is checked outside any
/// transaction (argon2 is slow on purpose and must not hold the write lock).
pub fn sign_in(
    storage: &Storage,
    address: &str,
    user_id: &str,
    password: &str,
    now_ms: i64,
) -> Result<(String, HubSession, User)> {
    let subjects = failure_subjects(address, user_id);
    let (user, stored) = storage.read(|tx| {
        for s in &subjects {
            if tx.counter(s, window_start(now_ms))? >= FAILURES_PER_MINUTE {
                return Err(ServerError::RateLimited {
                    what: "too many wrong sign-ins from this address or for this account".into(),
                    retry_after_s: retry_after_s(now_ms),
                });
            }
        }
        let user = tx.user(user_id)?;
        let active = match &user {
            Some(u) => !tx.user_disabled(&u.id)?,
            None => false,
        };
        let stored = if active {
            tx.hub_password(user_id)?
        } else {
            None
        };
        Ok((user, stored))
    })?;
    let ok = stored
        .as_deref()
        .is_some_and(|h| verify_password(password, h));
    let (Some(user), true) = (user, ok) else {
        storage.write(|tx| {
            for s in &subjects {
                tx.bump_counter(s, window_start(now_ms), 1)?;
            }
            Ok(())
        })?;
        return Err(ServerError::Forbidden(WRONG.into()));
    };
    let token = auth::new_token();
    let session = HubSession {
        token_hash: auth::hash(&token),
        user_id: user.id.clone(),
        csrf: auth::new_token(),
        created_ms: now_ms,
        expires_ms: now_ms + SESSION_MS,
    };
    storage.write(|tx| tx.add_hub_session(&session))?;
    Ok((token, session, user))
}

fn failure_subjects(address: &str, user_id: &str) -> [String; 2] {
    let user: String = user_id.chars().take(64).collect();
    [
        format!("hub-login-fail:{address}"),
        format!("hub-login-fail:user:{user}"),
    ]
}

/// The signed-in user of a session token, if the session is live and the account active.
pub fn signed_in(tx: &mut dyn Tx, token: &str, now_ms: i64) -> Result<Option<(HubSession, User)>> {
    let Some(session) = tx.hub_session(&auth::hash(token), now_ms)? else {
        return Ok(None);
    };
    let Some(user) = tx.user(&session.user_id)? else {
        return Ok(None);
    };
    if tx.user_disabled(&user.id)? {
        return Ok(None);
    }
    Ok(Some((session, user)))
}

/// Compare two secrets without leaking where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, path /hub; Secure when served over TLS.
pub fn set_cookie(name: &str, value: &str, max_age_s: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/hub; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_hashed_with_argon2id_and_a_short_one_refused() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("anything", "not a hash"));
        let e = hash_password("short").unwrap_err();
        assert!(e.to_string().contains("at least 12 characters"), "{e}");
    }

    #[test]
    fn cookies_are_read_from_any_header_and_secrets_compared_whole() {
        let mut h = axum::http::HeaderMap::new();
        h.append("cookie", "a=1; doorstep_hub=abc".parse().unwrap());
        h.append("cookie", "doorstep_hub_login=xyz".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, LOGIN_COOKIE).as_deref(), Some("xyz"));
        assert_eq!(cookie(&h, "missing"), None);
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("", ""));
        assert!(set_cookie(SESSION_COOKIE, "t", 60, true).ends_with("; Secure"));
    }
}
