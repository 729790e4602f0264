//! SMTP connections opened and reused by us, around lettre's connection. lettre's own transport
//! writes a message and its final dot in two writes: with Nagle's algorithm on (lettre leaves it
//! on) the dot waits for the server to acknowledge the message, which a server waiting for the
//! dot delays (40 ms on Linux, 200 ms on Windows) — every mail took 50 ms on a loopback Postfix
//! that takes one in 3 ms. Here the message, its dot-stuffing and the final dot go in one write.

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;
use lettre::transport::smtp::Error;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// A connection idle longer is closed rather than reused: servers drop idle clients (Postfix
/// after 300 s, others sooner) and a dropped one would fail the next mail.
const MAX_IDLE: Duration = Duration::from_secs(50);
/// An idle connection older than this is checked with NOOP before a mail goes on it.
const CHECK_AFTER: Duration = Duration::from_secs(5);
/// Idle connections kept; the outbox sender has a few mails in flight at once.
const MAX_KEPT: usize = 8;

pub enum Wire {
    Plain,
    Starttls(TlsParameters),
    Tls(TlsParameters),
}

pub struct Login {
    pub credentials: Credentials,
    pub mechanisms: Vec<Mechanism>,
}

/// Connects, says EHLO, upgrades with STARTTLS when asked (required, never optional) and logs in.
pub async fn open(
    host: &str,
    port: u16,
    wire: &Wire,
    login: Option<&Login>,
) -> Result<AsyncSmtpConnection, Error> {
    let hello = ClientId::default();
    let implicit = match wire {
        Wire::Tls(p) => Some(p.clone()),
        _ => None,
    };
    let mut conn = AsyncSmtpConnection::connect_tokio1(
        (host, port),
        Some(CONNECT_TIMEOUT),
        &hello,
        implicit,
        None,
    )
    .await?;
    // Keepalive and a user timeout: lettre puts no deadline on a read (see `crate::tcp`).
    crate::tcp::tune_all_sockets();
    if let Wire::Starttls(p) = wire {
        conn.starttls(p.clone(), &hello).await?;
    }
    if let Some(l) = login {
        conn.auth(&l.mechanisms, &l.credentials).await?;
    }
    Ok(conn)
}

/// A failed [`send`]; the connection is unusable either way (the caller drops it).
pub struct Failed {
    pub error: Error,
    /// The connection broke before the server answered the first command: nothing of the
    /// mail can have been accepted, so it may go at once on another connection. Servers
    /// close idle connections, and a pooled one is only found closed this way.
    pub before_mail: bool,
}

/// One mail on `conn`.
pub async fn send(
    conn: &mut AsyncSmtpConnection,
    envelope: &Envelope,
    raw: &[u8],
) -> Result<Response, Failed> {
    let mut before_mail = true;
    send_steps(conn, envelope, raw, &mut before_mail)
        .await
        .map_err(|error| Failed {
            before_mail: before_mail && !error.is_transient() && !error.is_permanent(),
            error,
        })
}

async fn send_steps(
    conn: &mut AsyncSmtpConnection,
    envelope: &Envelope,
    raw: &[u8],
    before_mail: &mut bool,
) -> Result<Response, Error> {
    let ascii = |a: &lettre::Address| AsRef::<str>::as_ref(a).is_ascii();
    let addresses_ascii = envelope.from().is_none_or(ascii) && envelope.to().iter().all(ascii);
    let eight_bit_ok =
        raw.is_ascii() || conn.server_info().supports_feature(Extension::EightBitMime);
    let text = match std::str::from_utf8(raw) {
        Ok(t) if addresses_ascii && eight_bit_ok => t,
        // SMTPUTF8 addresses, bytes that are not UTF-8, a server without 8BITMIME: rare, and
        // lettre's own path handles (or refuses) them.
        _ => {
            *before_mail = false;
            return conn.send(envelope, raw).await;
        }
    };
    let mut params = Vec::new();
    if !raw.is_ascii() {
        params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    conn.command(Mail::new(envelope.from().cloned(), params))
        .await?;
    *before_mail = false;
    for to in envelope.to() {
        conn.command(Rcpt::new(to.clone(), vec![])).await?;
    }
    conn.command(Data).await?;
    conn.command(Body(text)).await
}

/// A message as it goes after DATA: a dot opening a line doubled, then the final dot.
struct Body<'a>(&'a str);

impl fmt::Display for Body<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Every line break counts, bare LF included: a server that ends lines at LF must not
        // read a lone dot after one as the end of the message.
        let mut line_start = true;
        for piece in self.0.split_inclusive('\n') {
            if line_start && piece.starts_with('.') {
                f.write_str(".")?;
            }
            f.write_str(piece)?;
            line_start = piece.ends_with('\n');
        }
        if self.0.ends_with("\r\n") {
            f.write_str(".\r\n")
        } else {
            f.write_str("\r\n.\r\n")
        }
    }
}

struct Idle {
    conn: AsyncSmtpConnection,
    since: Instant,
    /// The OAuth2 token it logged in with: when the token changes, the connection goes.
    token: Option<String>,
}

/// Connections waiting for the next mail.
#[derive(Default)]
pub struct Pool {
    idle: Mutex<Vec<Idle>>,
}

/// A connection taken from the pool, and whether it was already used (then worth a check).
pub struct Taken {
    pub conn: AsyncSmtpConnection,
    pub idle_for: Duration,
}

impl Pool {
    /// The most recently used connection logged in with `token`, unless it idled too long.
    pub fn take(&self, token: &Option<String>) -> Option<Taken> {
        let mut idle = self.idle.lock().ok()?;
        idle.retain(|i| i.since.elapsed() < MAX_IDLE && i.token == *token);
        idle.pop().map(|i| Taken {
            idle_for: i.since.elapsed(),
            conn: i.conn,
        })
    }

    pub fn put(&self, conn: AsyncSmtpConnection, token: Option<String>) {
        if conn.has_broken() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_KEPT {
                idle.push(Idle {
                    conn,
                    since: Instant::now(),
                    token,
                });
            }
        }
    }

    pub fn clear(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }
}

impl Taken {
    /// Whether the connection should answer a NOOP before carrying a mail.
    pub fn needs_check(&self) -> bool {
        self.idle_for >= CHECK_AFTER
    }
}

#[cfg(test)]
mod tests {
    use super::Body;

    #[test]
    fn dots_opening_lines_are_doubled_and_the_message_ends_with_a_lone_dot() {
        assert_eq!(
            Body("Hola\r\n.\r\n..x\r\nfin.\r\n").to_string(),
            "Hola\r\n..\r\n...x\r\nfin.\r\n.\r\n"
        );
        assert_eq!(Body(".a").to_string(), "..a\r\n.\r\n");
        assert_eq!(Body("a\n.\nb").to_string(), "a\n..\nb\r\n.\r\n");
    }
}
