//! Opening an authenticated IMAP session over plain TCP, implicit TLS or STARTTLS, logging in
//! with a password (LOGIN) or an OAuth2 token (AUTHENTICATE XOAUTH2).
//! A TLS failure is an error; there is never a silent fallback to plain text.

use crate::config::{AuthMethod, ImapConfig, Security};
use crate::oauth2::TokenSource;
use secrecy::ExposeSecret;
use std::fmt;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;

pub type Session = async_imap::Session<ImapStream>;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot reach IMAP server {addr}: {source}")]
    Network {
        addr: String,
        source: std::io::Error,
    },
    #[error("TLS with IMAP server {addr} failed: {message}")]
    Tls { addr: String, message: String },
    /// `said`: the server's own words (its NO or BAD text).
    #[error("IMAP login as {user} refused; the server said: {said}")]
    Login { user: String, said: String },
    #[error("IMAP login as {user} impossible: {source}")]
    Token {
        user: String,
        source: crate::oauth2::TokenError,
    },
    #[error("IMAP protocol error: {0}")]
    Protocol(#[from] async_imap::error::Error),
    #[error("timed out talking to IMAP server {0}")]
    Timeout(String),
}

impl ConnectError {
    /// Wrong credentials will not fix themselves; ops must hear about it loudly.
    pub fn is_auth(&self) -> bool {
        match self {
            ConnectError::Login { .. } => true,
            ConnectError::Token { source, .. } => source.is_refused(),
            _ => false,
        }
    }
}

pub enum ImapStream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl fmt::Debug for ImapStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ImapStream::Plain(_) => "ImapStream::Plain",
            ImapStream::Tls(_) => "ImapStream::Tls",
        })
    }
}

impl AsyncRead for ImapStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ImapStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_flush(cx),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

const STEP_TIMEOUT: Duration = Duration::from_secs(30);

async fn timed<T, E>(
    addr: &str,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, ConnectError>
where
    ConnectError: From<E>,
{
    match tokio::time::timeout(STEP_TIMEOUT, f).await {
        Ok(r) => r.map_err(ConnectError::from),
        Err(_) => Err(ConnectError::Timeout(addr.to_owned())),
    }
}

impl From<std::io::Error> for ConnectError {
    fn from(e: std::io::Error) -> Self {
        ConnectError::Network {
            addr: String::new(),
            source: e,
        }
    }
}

/// `tokens`: the OAuth2 source for `auth = "xoauth2"` (built by the wiring, see
/// [`crate::oauth2::MailTokens`]).
pub async fn connect(
    cfg: &ImapConfig,
    tokens: Option<&TokenSource>,
) -> Result<Session, ConnectError> {
    let addr = format!("{}:{}", cfg.host, cfg.port);
    let tcp = timed(&addr, TcpStream::connect(&addr))
        .await
        .map_err(|e| match e {
            ConnectError::Network { source, .. } => ConnectError::Network {
                addr: addr.clone(),
                source,
            },
            other => other,
        })?;
    // No read of the session has a deadline: keepalive ends a dead one (see `crate::tcp`).
    crate::tcp::tune(std::os::fd::AsRawFd::as_raw_fd(&tcp));
    let tls_err = |message: String| ConnectError::Tls {
        addr: addr.clone(),
        message,
    };
    let stream = match cfg.security {
        Security::None => ImapStream::Plain(tcp),
        Security::Tls => ImapStream::Tls(Box::new(
            handshake(&cfg.host, cfg.ca_file.as_deref(), tcp)
                .await
                .map_err(tls_err)?,
        )),
        Security::Starttls => {
            let mut client = async_imap::Client::new(tcp);
            timed(&addr, client.read_response()).await?;
            timed(&addr, client.run_command_and_check_ok("STARTTLS", None)).await?;
            let tcp = client.into_inner();
            ImapStream::Tls(Box::new(
                handshake(&cfg.host, cfg.ca_file.as_deref(), tcp)
                    .await
                    .map_err(tls_err)?,
            ))
        }
    };
    let mut client = async_imap::Client::new(stream);
    if cfg.security != Security::Starttls {
        timed(&addr, client.read_response()).await?;
    }
    if cfg.auth == AuthMethod::Xoauth2 {
        return login_xoauth2(cfg, tokens, client, addr).await;
    }
    let password = cfg
        .password
        .as_ref()
        .map(|p| p.expose_secret().to_owned())
        .unwrap_or_default();
    match tokio::time::timeout(STEP_TIMEOUT, client.login(&cfg.username, password)).await {
        Err(_) => Err(ConnectError::Timeout(addr)),
        Ok(Err((e, _))) => Err(ConnectError::Login {
            user: cfg.username.clone(),
            said: server_words(&e),
        }),
        Ok(Ok(session)) => Ok(session),
    }
}

/// What the server said when it refused, without the library's wrapping: async-imap formats a
/// NO as `no response: code: None, info: Some("[AUTHENTICATIONFAILED] Authentication
/// failed.")`, which reads as a program's debug output in `check-config`.
fn server_words(e: &async_imap::error::Error) -> String {
    use async_imap::error::Error;
    let (Error::No(s) | Error::Bad(s)) = e else {
        return e.to_string();
    };
    let info = s
        .split_once("info: Some(\"")
        .and_then(|(_, rest)| rest.rsplit_once("\")"))
        .map(|(said, _)| said.replace("\\\"", "\""));
    match info {
        Some(said) if !said.trim().is_empty() => said.trim().to_owned(),
        _ => s.trim().to_owned(),
    }
}

/// SASL XOAUTH2: the token in the initial response; on refusal the server sends an error
/// challenge, which is answered with an empty line to get the final NO.
struct XOauth2 {
    response: Option<String>,
}

impl async_imap::Authenticator for XOauth2 {
    type Response = String;
    fn process(&mut self, _challenge: &[u8]) -> String {
        self.response.take().unwrap_or_default()
    }
}

async fn login_xoauth2(
    cfg: &ImapConfig,
    tokens: Option<&TokenSource>,
    client: async_imap::Client<ImapStream>,
    addr: String,
) -> Result<Session, ConnectError> {
    let Some(source) = tokens else {
        return Err(ConnectError::Token {
            user: cfg.username.clone(),
            source: crate::oauth2::TokenError::Refused("no [oauth2] configuration".into()),
        });
    };
    let token = source.token().await.map_err(|e| ConnectError::Token {
        user: cfg.username.clone(),
        source: e,
    })?;
    let auth = XOauth2 {
        response: Some(crate::oauth2::xoauth2_response(
            &cfg.username,
            token.expose_secret(),
        )),
    };
    match tokio::time::timeout(STEP_TIMEOUT, client.authenticate("XOAUTH2", auth)).await {
        Err(_) => Err(ConnectError::Timeout(addr)),
        Ok(Err((e, _))) => {
            // The token may have been revoked early: fetch a new one next time.
            source.invalidate().await;
            Err(ConnectError::Login {
                user: cfg.username.clone(),
                said: format!("XOAUTH2: {}", server_words(&e)),
            })
        }
        Ok(Ok(session)) => Ok(session),
    }
}

async fn handshake(
    host: &str,
    ca_file: Option<&Path>,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    let connector = crate::tls::connector(ca_file)?;
    let name = ServerName::try_from(host.to_owned()).map_err(|e| e.to_string())?;
    match tokio::time::timeout(STEP_TIMEOUT, connector.connect(name, tcp)).await {
        Err(_) => Err("handshake timed out".into()),
        Ok(r) => r.map_err(|e| {
            let text = e.to_string();
            if text.contains("certificate") {
                format!(
                    "{text} (the server's certificate is not trusted: if it comes from a \
                     private CA, set imap.ca_file to that CA's PEM bundle)"
                )
            } else {
                text
            }
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_told_in_the_servers_words() {
        let no = async_imap::error::Error::No(
            "code: None, info: Some(\"[AUTHENTICATIONFAILED] Authentication failed.\")".into(),
        );
        assert_eq!(
            server_words(&no),
            "[AUTHENTICATIONFAILED] Authentication failed."
        );
        let bare = async_imap::error::Error::Bad("invalid command".into());
        assert_eq!(server_words(&bare), "invalid command");
    }
}
