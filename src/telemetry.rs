//! Logging: human-readable lines by default, JSON for log shippers.

use crate::config::LogFormat;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

/// The mail libraries log the protocol itself below INFO: lettre every line it writes at DEBUG
/// (`AUTH PLAIN <base64 of user and password>`, and each outgoing mail with its live approval
/// tokens), async-imap every command at TRACE (`LOGIN user password`, `AUTHENTICATE` with an
/// OAuth2 token). These targets are capped at INFO by a filter that must pass *in addition to*
/// `RUST_LOG`, so no setting of `RUST_LOG` or `[log] level` can lift the cap. Capping was chosen
/// over redacting the lines: a redactor has to recognise every way a secret is written (base64,
/// SASL continuations, literals, folded mail); a cap needs no knowledge of the wire format, and
/// what these lines would tell an operator (server replies, failures) reaches our own log lines
/// through the errors the libraries return. handlebars logs every helper's parameters at DEBUG,
/// and mail data holds the approval and reply tokens (the `mailto:` buttons): capped too.
const WIRE_LOGGING: [&str; 4] = ["lettre", "async_imap", "imap_proto", "handlebars"];

/// The filter every log line must pass besides the configured level.
fn secret_cap() -> Targets {
    WIRE_LOGGING.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |t, target| t.with_target(*target, LevelFilter::INFO),
    )
}

/// `RUST_LOG` or `[log] level` (default `info`), with the scheduler library's start-up chatter ("Uninited",
/// "Job creator created" at INFO) kept below it unless the level names that library itself.
/// sqlx's pool warns when a connection dies during a database outage ("error occurred while
/// testing the connection on-release"), beside our own one ERROR line per outage
/// (`src/outage.rs`): kept below ERROR too, unless the level names it.
fn configured(level: Option<&str>) -> String {
    let level = level.unwrap_or("info");
    let mut out = level.to_owned();
    if !level.contains("tokio_cron_scheduler") {
        out.push_str(",tokio_cron_scheduler=warn");
    }
    // sqlx logs its pool under two targets: `sqlx::pool` (named) and `sqlx_core::pool::…`
    // (the module path, e.g. the on-release ping's warning).
    for pool in ["sqlx::pool", "sqlx_core::pool"] {
        if !level.contains(pool) {
            out.push_str(&format!(",{pool}=error"));
        }
    }
    out
}

/// Installs the global subscriber once; later calls (tests) are ignored.
pub fn init(format: LogFormat, level: Option<&str>) {
    // `RUST_LOG`, when set, replaces `[log] level`; the scheduler's chatter stays out of both.
    let from_env = std::env::var(EnvFilter::DEFAULT_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty());
    let filter = EnvFilter::try_new(configured(from_env.as_deref().or(level)))
        .unwrap_or_else(|_| EnvFilter::new(configured(None)));
    use std::io::IsTerminal;
    // Colour codes only for a person at a terminal, never in journald or a log file.
    let layer = fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let layer = match format {
        LogFormat::Json => layer.json().flatten_event(true).boxed(),
        LogFormat::Text => layer.with_target(false).boxed(),
    };
    // Both filters as global layers: a line is written only when each of them lets it through.
    // (As a per-layer `filter.and(cap)` instead, EnvFilter dropped some of our own INFO lines.)
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(secret_cap())
        .with(layer)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passes(target: &str, level: tracing::Level) -> bool {
        secret_cap().would_enable(target, &level)
    }

    #[test]
    fn wire_logging_of_the_mail_libraries_is_capped_and_ours_is_not() {
        use tracing::Level;
        for t in [
            "lettre::transport::smtp::client::async_connection",
            "async_imap::imap_stream",
        ] {
            assert!(!passes(t, Level::DEBUG), "{t} at debug");
            assert!(!passes(t, Level::TRACE), "{t} at trace");
            assert!(passes(t, Level::WARN), "{t} at warn");
        }
        assert!(!passes("imap_proto::parser", Level::TRACE));
        assert!(passes("mesayuda::imap::watcher", Level::TRACE));
        assert!(passes("sqlx::query", Level::DEBUG));
    }

    #[test]
    fn the_scheduler_library_is_quiet_at_info_unless_asked_for() {
        assert_eq!(
            configured(None),
            "info,tokio_cron_scheduler=warn,sqlx::pool=error,sqlx_core::pool=error"
        );
        assert_eq!(
            configured(Some(
                "debug,tokio_cron_scheduler=debug,sqlx::pool=debug,sqlx_core::pool=debug"
            )),
            "debug,tokio_cron_scheduler=debug,sqlx::pool=debug,sqlx_core::pool=debug"
        );
    }
}
