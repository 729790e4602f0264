//! Access tokens for `auth = "xoauth2"`: the OAuth2 client-credentials flow against a token
//! endpoint (Microsoft Entra ID by default), or a command that prints a token. A token is
//! reused until shortly before it expires, then fetched again.

use crate::config::{AuthMethod, Config, OAuth2Config};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// A token is refreshed this long before the expiry the endpoint announced.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The endpoint or command answered, and said no: credentials, tenant or scope are wrong.
    #[error("OAuth2 token refused: {0}")]
    Refused(String),
    /// The endpoint or command could not be reached or run; may fix itself.
    #[error("OAuth2 token unavailable: {0}")]
    Unavailable(String),
}

impl TokenError {
    pub fn is_refused(&self) -> bool {
        matches!(self, TokenError::Refused(_))
    }
}

#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    config: OAuth2Config,
    cached: Mutex<Option<(SecretString, Instant)>>,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSource(..)")
    }
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// The token sources the wiring hands to the mail adapters: `None` on a side that logs in with
/// a password. IMAP and SMTP share one source (one token, one refresh) when both use
/// `auth = "xoauth2"`; the configuration only describes `[oauth2]`.
#[derive(Clone, Default)]
pub struct MailTokens {
    pub imap: Option<TokenSource>,
    pub smtp: Option<TokenSource>,
}

impl MailTokens {
    pub fn build(config: &Config) -> MailTokens {
        let Some(o) = &config.oauth2 else {
            return MailTokens::default();
        };
        let source = TokenSource::new(o.clone());
        let wanted = |auth: AuthMethod| (auth == AuthMethod::Xoauth2).then(|| source.clone());
        MailTokens {
            imap: wanted(config.imap.auth),
            smtp: wanted(config.smtp.auth),
        }
    }
}

impl TokenSource {
    pub fn new(config: OAuth2Config) -> TokenSource {
        TokenSource {
            inner: Arc::new(Inner {
                config,
                cached: Mutex::new(None),
            }),
        }
    }

    /// A valid access token, from the cache or freshly fetched.
    pub async fn token(&self) -> Result<SecretString, TokenError> {
        let mut cached = self.inner.cached.lock().await;
        if let Some((token, valid_until)) = cached.as_ref() {
            if Instant::now() < *valid_until {
                return Ok(token.clone());
            }
        }
        let (token, lifetime) = self.fetch().await?;
        let valid_for = lifetime.saturating_sub(REFRESH_MARGIN.min(lifetime / 2));
        *cached = Some((token.clone(), Instant::now() + valid_for));
        tracing::debug!(
            valid_for_secs = valid_for.as_secs(),
            "OAuth2 token obtained"
        );
        Ok(token)
    }

    /// Drops the cached token, e.g. after the server refused it.
    pub async fn invalidate(&self) {
        *self.inner.cached.lock().await = None;
    }

    async fn fetch(&self) -> Result<(SecretString, Duration), TokenError> {
        let c = &self.inner.config;
        if let Some(cmd) = &c.token_command {
            return run_command(cmd, Duration::from_secs(c.token_command_lifetime_secs)).await;
        }
        let url = c
            .token_url()
            .ok_or_else(|| TokenError::Refused("no token_url and no tenant".into()))?;
        let secret = c
            .client_secret
            .as_ref()
            .map(|s| s.expose_secret().to_owned())
            .unwrap_or_default();
        let client_id = c.client_id.clone().unwrap_or_default();
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", secret.as_str()),
            ("scope", c.scope.as_str()),
        ];
        let client = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .build()
            .map_err(|e| TokenError::Unavailable(e.to_string()))?;
        let resp = client
            .post(&url)
            .form(&form)
            .send()
            .await
            .map_err(|e| TokenError::Unavailable(format!("{url}: {e}")))?;
        let status = resp.status();
        let body = resp
            .text()
            .await
            .map_err(|e| TokenError::Unavailable(format!("{url}: {e}")))?;
        if !status.is_success() {
            let detail = error_detail(&body);
            let msg = format!("{url} answered {status}: {detail}");
            return Err(if status.is_client_error() {
                TokenError::Refused(msg)
            } else {
                TokenError::Unavailable(msg)
            });
        }
        let parsed: TokenResponse = serde_json::from_str(&body).map_err(|e| {
            TokenError::Unavailable(format!("{url}: answer is not a token response: {e}"))
        })?;
        Ok((
            SecretString::from(parsed.access_token),
            Duration::from_secs(parsed.expires_in.unwrap_or(3600)),
        ))
    }
}

/// The `error` and `error_description` of an OAuth2 error answer; never the whole body.
fn error_detail(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let code = v["error"].as_str().unwrap_or("no OAuth2 error code");
    let desc = v["error_description"]
        .as_str()
        .map(|d| d.lines().next().unwrap_or(d).to_owned());
    match desc {
        Some(d) => format!("{code}: {d}"),
        None => code.to_owned(),
    }
}

async fn run_command(
    cmd: &str,
    lifetime: Duration,
) -> Result<(SecretString, Duration), TokenError> {
    let out = tokio::time::timeout(
        HTTP_TIMEOUT,
        tokio::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(cmd)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| {
        TokenError::Unavailable(format!("token_command timed out after {HTTP_TIMEOUT:?}"))
    })?
    .map_err(|e| TokenError::Unavailable(format!("token_command: {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(TokenError::Refused(format!(
            "token_command exited with {}: {}",
            out.status,
            err.lines().last().unwrap_or("").trim()
        )));
    }
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if token.is_empty() {
        return Err(TokenError::Refused("token_command printed nothing".into()));
    }
    Ok((SecretString::from(token), lifetime))
}

/// The SASL XOAUTH2 initial response (before base64): `user=U^Aauth=Bearer T^A^A`.
pub fn xoauth2_response(user: &str, token: &str) -> String {
    format!("user={user}\x01auth=Bearer {token}\x01\x01")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth2_error_detail_names_the_code_not_the_body() {
        let d = error_detail(
            r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret.\r\nTrace ID: x"}"#,
        );
        assert_eq!(d, "invalid_client: AADSTS7000215: Invalid client secret.");
    }

    #[tokio::test]
    async fn token_command_output_is_the_token_and_a_failure_is_a_refusal() {
        let mut c: OAuth2Config = toml::from_str("token_command = \"echo tok-123\"").unwrap();
        let t = TokenSource::new(c.clone()).token().await.unwrap();
        assert_eq!(t.expose_secret(), "tok-123");
        c.token_command = Some("echo nope >&2; exit 3".into());
        let e = TokenSource::new(c).token().await.unwrap_err();
        assert!(e.is_refused() && e.to_string().contains("nope"), "{e}");
    }
}
