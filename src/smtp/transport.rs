//! The SMTP transport: plain, implicit TLS or STARTTLS (required, never optional), trusting the
//! web roots plus an optional CA bundle; AUTH with a password or XOAUTH2 (a fresh token when
//! the old one expires). A certificate the client does not trust is an error, never a reason
//! to fall back to plain text.
//!
//! Errors say whether retrying can help: a refused login is neither permanent nor transient
//! for the mail (the sender keeps it queued), and it is reported to `/healthz` and the ops
//! alert, since only a person can fix it.

use super::connection::{self, Login, Pool, Wire};
use crate::config::{AuthMethod, Security, SmtpConfig};
use crate::oauth2::TokenSource;
use crate::ops::health::{self, Component};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::response::Response;
use lettre::AsyncTransport;
use secrecy::ExposeSecret;
use std::fmt;
use std::sync::Arc;
use tracing::error;

/// SMTP replies that mean "your credentials or your AUTH are the problem".
const AUTH_CODES: &[&str] = &["530", "534", "535", "538"];

#[derive(Debug)]
pub enum SendError {
    /// The server (or the way to it) failed; see `is_permanent` / `is_transient`.
    Smtp {
        addr: String,
        source: lettre::transport::smtp::Error,
    },
    /// The server refused our login: fix the credentials (the mail stays queued).
    Auth {
        addr: String,
        user: String,
        source: lettre::transport::smtp::Error,
    },
    /// No OAuth2 token could be had.
    Token(crate::oauth2::TokenError),
}

impl SendError {
    /// The server refused this mail for good (5xx other than a login refusal).
    pub fn is_permanent(&self) -> bool {
        matches!(self, SendError::Smtp { source, .. } if source.is_permanent())
    }
    /// The server asked to try this mail again later (4xx).
    pub fn is_transient(&self) -> bool {
        matches!(self, SendError::Smtp { source, .. } if source.is_transient())
    }
    /// 421: the server closes the connection for every mail, not for this one.
    pub fn is_service_unavailable(&self) -> bool {
        matches!(self, SendError::Smtp { source, .. }
            if source.status().is_some_and(|c| c.to_string() == "421"))
    }
    pub fn is_auth(&self) -> bool {
        match self {
            SendError::Auth { .. } => true,
            SendError::Token(t) => t.is_refused(),
            SendError::Smtp { .. } => false,
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Smtp { addr, source } => {
                write!(f, "SMTP server {addr}: {source}")?;
                let mut cause = std::error::Error::source(source);
                let mut seen = source.to_string();
                while let Some(c) = cause {
                    let text = c.to_string();
                    if !seen.contains(&text) {
                        write!(f, ": {text}")?;
                        seen.push_str(&text);
                    }
                    cause = c.source();
                }
                if source.is_tls() || seen.contains("certificate") {
                    f.write_str(
                        " (TLS failed: if the server's certificate comes from a private CA, \
                         set smtp.ca_file to that CA's PEM bundle)",
                    )?;
                }
                Ok(())
            }
            SendError::Auth { addr, user, source } => write!(
                f,
                "SMTP server {addr} refused the login of {user}: {source} \
                 (check smtp.username, the password or the OAuth2 grant)"
            ),
            SendError::Token(e) => write!(f, "SMTP login impossible: {e}"),
        }
    }
}

impl std::error::Error for SendError {}

#[derive(Clone)]
pub struct Transport {
    inner: Arc<Shared>,
}

struct Shared {
    cfg: SmtpConfig,
    tokens: Option<TokenSource>,
    addr: String,
    wire: Wire,
    pool: Pool,
}

/// Checks the TLS settings (a CA file that cannot be read is a configuration error, found at
/// start); connections are only opened when mail is sent.
/// `tokens`: the OAuth2 source for `auth = "xoauth2"` (built by the wiring, see
/// [`crate::oauth2::MailTokens`]).
pub fn build(cfg: &SmtpConfig, tokens: Option<TokenSource>) -> Result<Transport, String> {
    let tls = if cfg.security != Security::None {
        let mut params = TlsParameters::builder(cfg.host.clone());
        if let Some(path) = &cfg.ca_file {
            let pem =
                std::fs::read(path).map_err(|e| format!("smtp.ca_file {}: {e}", path.display()))?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| format!("smtp.ca_file {}: {e}", path.display()))?;
            params = params.add_root_certificate(cert);
        }
        Some(params.build_rustls().map_err(|e| e.to_string())?)
    } else {
        None
    };
    let wire = match (cfg.security, tls) {
        (Security::Tls, Some(p)) => Wire::Tls(p),
        (Security::Starttls, Some(p)) => Wire::Starttls(p),
        _ => Wire::Plain,
    };
    Ok(Transport {
        inner: Arc::new(Shared {
            cfg: cfg.clone(),
            tokens,
            addr: format!("{}:{}", cfg.host, cfg.port),
            wire,
            pool: Pool::default(),
        }),
    })
}

impl Transport {
    fn login(&self, token: Option<&str>) -> Option<Login> {
        let cfg = &self.inner.cfg;
        match (cfg.auth, &cfg.username) {
            (AuthMethod::Xoauth2, Some(user)) => Some(Login {
                credentials: Credentials::new(user.clone(), token.unwrap_or_default().to_owned()),
                mechanisms: vec![Mechanism::Xoauth2],
            }),
            (AuthMethod::Password, Some(user)) => cfg.password.as_ref().map(|pass| Login {
                credentials: Credentials::new(user.clone(), pass.expose_secret().to_owned()),
                mechanisms: vec![Mechanism::Plain, Mechanism::Login],
            }),
            _ => None,
        }
    }

    /// `host:port`, for log lines.
    pub fn address(&self) -> &str {
        &self.inner.addr
    }

    /// The OAuth2 token to log in with now, when the config asks for one.
    async fn token(&self) -> Result<Option<String>, SendError> {
        match (&self.inner.cfg.auth, &self.inner.tokens) {
            (AuthMethod::Xoauth2, Some(src)) => match src.token().await {
                Ok(t) => Ok(Some(t.expose_secret().to_owned())),
                Err(e) => {
                    let e = SendError::Token(e);
                    self.report(&e);
                    Err(e)
                }
            },
            _ => Ok(None),
        }
    }

    /// A logged-in connection: a pooled one that still answers (then `true`), or a new one.
    async fn connection(
        &self,
        token: &Option<String>,
    ) -> Result<(AsyncSmtpConnection, bool), lettre::transport::smtp::Error> {
        while let Some(mut taken) = self.inner.pool.take(token) {
            if !taken.needs_check() || taken.conn.test_connected().await {
                return Ok((taken.conn, true));
            }
        }
        Ok((self.open(token).await?, false))
    }

    async fn open(
        &self,
        token: &Option<String>,
    ) -> Result<AsyncSmtpConnection, lettre::transport::smtp::Error> {
        let cfg = &self.inner.cfg;
        connection::open(
            &cfg.host,
            cfg.port,
            &self.inner.wire,
            self.login(token.as_deref()).as_ref(),
        )
        .await
    }

    fn classify(&self, source: lettre::transport::smtp::Error) -> SendError {
        let is_auth = source
            .status()
            .map(|c| AUTH_CODES.contains(&c.to_string().as_str()))
            .unwrap_or(false);
        if is_auth {
            SendError::Auth {
                addr: self.inner.addr.clone(),
                user: self.inner.cfg.username.clone().unwrap_or_default(),
                source,
            }
        } else {
            SendError::Smtp {
                addr: self.inner.addr.clone(),
                source,
            }
        }
    }

    /// Tells `/healthz` (and, for refused logins, the log and the ops alert) what happened.
    fn report(&self, e: &SendError) {
        if e.is_auth() {
            error!(error = %e, "SMTP login refused; queued mail waits until the credentials are fixed");
            health::failed(Component::Smtp, e.to_string(), true);
        } else if e.is_permanent() || e.is_transient() {
            // The server answered: it is reachable, it just did not want this mail.
            health::ok(Component::Smtp);
        } else {
            health::failed(Component::Smtp, e.to_string(), false);
        }
    }

    async fn after_failure(&self, e: &SendError) {
        if matches!(e, SendError::Auth { .. }) {
            if let Some(src) = &self.inner.tokens {
                src.invalidate().await;
            }
            // A pooled connection logged in with the old token must not be reused.
            self.inner.pool.clear();
        }
    }

    /// Connects (and logs in) and says NOOP: what `/healthz` and `check-config` rely on.
    pub async fn test_connection(&self) -> Result<(), SendError> {
        let token = self.token().await?;
        let result = match self.connection(&token).await {
            Ok((mut conn, _)) => {
                use lettre::transport::smtp::commands::Noop;
                let r = conn.command(Noop).await;
                if r.is_ok() {
                    self.inner.pool.put(conn, token);
                } else {
                    conn.abort().await;
                }
                r
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(_) => {
                health::ok(Component::Smtp);
                Ok(())
            }
            Err(e) => Err(self.failed(e).await),
        }
    }

    async fn failed(&self, source: lettre::transport::smtp::Error) -> SendError {
        let e = self.classify(source);
        self.report(&e);
        self.after_failure(&e).await;
        e
    }
}

impl Transport {
    async fn attempt(
        &self,
        token: &Option<String>,
        envelope: &Envelope,
        email: &[u8],
    ) -> Result<Response, lettre::transport::smtp::Error> {
        let (conn, reused) = self.connection(token).await?;
        match self.send_on(conn, token, envelope, email).await {
            // The server had closed the pooled connection: a fresh one, once.
            Err(f) if reused && f.before_mail => {
                let conn = self.open(token).await?;
                self.send_on(conn, token, envelope, email)
                    .await
                    .map_err(|f| f.error)
            }
            r => r.map_err(|f| f.error),
        }
    }

    /// Sends on `conn` and pools it again, or drops it after a failure (mid-transaction after
    /// a refusal, or broken).
    async fn send_on(
        &self,
        mut conn: AsyncSmtpConnection,
        token: &Option<String>,
        envelope: &Envelope,
        email: &[u8],
    ) -> Result<Response, connection::Failed> {
        match connection::send(&mut conn, envelope, email).await {
            Ok(r) => {
                self.inner.pool.put(conn, token.clone());
                Ok(r)
            }
            Err(f) => {
                conn.abort().await;
                Err(f)
            }
        }
    }
}

#[async_trait::async_trait]
impl AsyncTransport for Transport {
    type Ok = Response;
    type Error = SendError;

    async fn send_raw(&self, envelope: &Envelope, email: &[u8]) -> Result<Response, SendError> {
        let token = self.token().await?;
        match self.attempt(&token, envelope, email).await {
            Ok(r) => {
                health::ok(Component::Smtp);
                Ok(r)
            }
            Err(e) => Err(self.failed(e).await),
        }
    }
}
