//! The command line: the daemon and the ops/agent commands around the same database.

mod approvals;
mod calendar;
mod diagnosis;
mod directory;
mod error;
mod jobs;
mod ops;
mod sla;
mod table;
mod tickets;

use crate::config::Config;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "mesayuda",
    version = crate::VERSION_LINE,
    about = "IT help desk by e-mail: the daemon and the commands ops use around its database"
)]
pub struct Cli {
    /// Configuration file.
    #[arg(
        long,
        global = true,
        env = "MESAYUDA_CONFIG",
        default_value = "mesayuda.toml"
    )]
    pub config: PathBuf,
    /// Log as JSON lines (overrides `[log] format`).
    #[arg(long, global = true)]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon in the foreground.
    Run,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Validate the configuration, render every template, reach the database, IMAP and SMTP.
    CheckConfig {
        /// Only the configuration and the templates; no connections.
        #[arg(long)]
        offline: bool,
    },
    /// Send one mail to ADDRESS straight through the configured SMTP server.
    SendTestMail {
        /// Where to send it, e.g. ops@example.org.
        address: String,
    },
    /// Inspect the outgoing mail queue, and retry failed mail.
    Outbox {
        #[command(subcommand)]
        command: ops::OutboxCommand,
    },
    /// Inspect tickets.
    Tickets {
        #[command(subcommand)]
        command: TicketsCommand,
    },
    /// Time-driven sweeps (SLA alerts, expiries, auto-close).
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// The business calendar the daemon uses.
    Calendar {
        #[command(subcommand)]
        command: CalendarCommand,
    },
    /// Approvals waiting on approvers (the "plantilla de aprobaciones pendientes").
    Approvals {
        #[command(subcommand)]
        command: ApprovalsCommand,
    },
    /// SLA state of open tickets and compliance of closed ones.
    Sla {
        #[command(subcommand)]
        command: SlaCommand,
    },
    /// The people directory as the daemon sees it (TOML file and last LDAP read).
    Directory {
        #[command(subcommand)]
        command: DirectoryCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum DirectoryCommand {
    /// One person: name, position, office, role, boss, substitute, away periods.
    Show {
        /// The person's e-mail address.
        email: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Run every sweep once as if the clock read the given instant.
    Run {
        /// An RFC 3339 instant, e.g. 2026-11-30T11:00:00-05:00.
        #[arg(long)]
        now: String,
        /// Print JSON instead of the table (times in RFC 3339 with their offset).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApprovalsCommand {
    /// Pending approvals, oldest first.
    Pending {
        /// Only those this approver (or notified substitute) may decide.
        #[arg(long)]
        approver: Option<String>,
        /// Print JSON instead of the table (times in RFC 3339 with their offset).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// Public holidays (and extra non-working days) of a year.
    Holidays {
        /// The year, e.g. 2027.
        year: i32,
        /// Print JSON instead of the table (times in RFC 3339 with their offset).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SlaCommand {
    /// Open tickets with service, status, business time used, % used and due time.
    Report {
        /// Print JSON instead of the table (times in RFC 3339 with their offset).
        #[arg(long)]
        json: bool,
    },
    /// Tickets closed in [FROM, TO] within and outside their target, per service and overall.
    Compliance {
        /// First day, YYYY-MM-DD (Bogotá).
        #[arg(long)]
        from: String,
        /// Last day, inclusive, YYYY-MM-DD (Bogotá).
        #[arg(long)]
        to: String,
        /// Print JSON instead of the table (times in RFC 3339 with their offset).
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print CSV instead of the table (for a spreadsheet).
        #[arg(long)]
        csv: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TicketsCommand {
    /// List tickets (requests and incidents), oldest first.
    List {
        /// A request status; incidents have none, so it lists requests only.
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(
            crate::domain::ticket::Status::all().map(|s| s.as_str())
        ))]
        status: Option<String>,
        /// Only requests or only incidents.
        #[arg(long, value_parser = ["requerimiento", "incidente"])]
        kind: Option<String>,
        /// Print JSON instead of the table (times in RFC 3339 with their offset).
        #[arg(long)]
        json: bool,
    },
    /// Show one ticket with its messages and history.
    Show {
        /// REQ-n, n or INC-n.
        id: String,
        /// Print JSON instead of the table (times in RFC 3339 with their offset).
        #[arg(long)]
        json: bool,
    },
}

pub(crate) use error::CliError;
pub use error::{EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_USAGE};

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Run) {
        restore_default_sigpipe();
    }
    error::exit(dispatch(cli), &mut std::io::stderr())
}

/// Runs the command. Its error comes back here, for `main` alone to print; `Ok` carries the
/// code of the commands whose outcome is not an error (the daemon's, check-config's report).
fn dispatch(cli: Cli) -> Result<ExitCode, CliError> {
    if let Command::Calendar { command } = cli.command {
        return calendar::run(&cli.config, command).map(ok);
    }
    let needs = match cli.command {
        Command::Run | Command::CheckConfig { .. } | Command::SendTestMail { .. } => {
            crate::config::Needs::MailServers
        }
        _ => crate::config::Needs::Database,
    };
    let config = Config::load_for(&cli.config, needs)?;
    let format = if cli.log_json {
        crate::config::LogFormat::Json
    } else {
        config.log.format
    };
    if matches!(cli.command, Command::Run) {
        // Before the runtime's threads start.
        crate::ops::memory::configure();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failure(format_args!("cannot start the async runtime: {e}")))?;
    match cli.command {
        Command::Run => {
            crate::telemetry::init(format, config.log.level.as_deref());
            Ok(runtime.block_on(run(config)))
        }
        Command::Migrate => runtime.block_on(migrate(config)).map(ok),
        Command::CheckConfig { offline } => {
            Ok(runtime.block_on(ops::check_config(config, offline)))
        }
        Command::SendTestMail { address } => runtime
            .block_on(ops::send_test_mail(config, &address))
            .map(ok),
        Command::Outbox { command } => runtime.block_on(ops::outbox(config, command)).map(ok),
        Command::Tickets { command } => runtime.block_on(tickets::run(config, command)).map(ok),
        Command::Jobs { command } => runtime.block_on(jobs::run(config, command)).map(ok),
        // Normally answered above, before the configuration is loaded.
        Command::Calendar { command } => calendar::run(&cli.config, command).map(ok),
        Command::Approvals { command } => runtime.block_on(approvals::run(config, command)).map(ok),
        Command::Sla { command } => runtime.block_on(sla::run(config, command)).map(ok),
        Command::Directory { command } => runtime.block_on(directory::run(config, command)).map(ok),
    }
}

/// A command that ended without error.
fn ok(_: ()) -> ExitCode {
    ExitCode::SUCCESS
}

/// `mesayuda tickets list | head` must end quietly, like any Unix tool, instead of panicking on
/// a closed pipe. Only for the short-lived commands: the daemon keeps Rust's default (ignore
/// SIGPIPE, get EPIPE) so a closed socket can never kill it.
fn restore_default_sigpipe() {
    // SAFETY: called once, before any output; SIG_DFL is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

async fn run(config: Config) -> ExitCode {
    let app = match crate::runtime::app::Application::build(config).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "cannot start");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let cancel = tokio_util::sync::CancellationToken::new();
    crate::runtime::app::shutdown_on_signals(cancel.clone());
    match app.run_until(cancel).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "daemon failed");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

async fn migrate(config: Config) -> Result<(), CliError> {
    let result = async {
        let db = crate::store::Db::connect(&config.database.url, 1).await?;
        let applied = db.migrate().await?;
        anyhow::Ok(applied)
    }
    .await;
    match result.map_err(|e| CliError::failure(format_args!("{e:#}")))? {
        0 => println!("La base de datos ya estaba al día: ninguna migración por aplicar."),
        1 => println!("Se aplicó 1 migración."),
        n => println!("Se aplicaron {n} migraciones."),
    }
    Ok(())
}

/// Opens the database for a CLI command, or says why not.
/// Migrates too, so a command run before the daemon's first start sees an empty, valid store.
pub(crate) async fn open_db(config: &Config) -> Result<crate::store::Db, CliError> {
    let result = async {
        let db = crate::store::Db::connect(&config.database.url, 2).await?;
        db.migrate().await?;
        anyhow::Ok(db)
    }
    .await;
    result.map_err(|e| {
        CliError::failure(format_args!(
            "cannot open the database {} (database.url): {e:#}",
            crate::runtime::app::redact_url(&config.database.url)
        ))
    })
}

/// The zone every human time of the CLI is shown in: the business calendar's, the one SLA
/// deadlines are computed in. A bad `[calendar]` is a configuration error (exit 2).
pub(crate) fn calendar_tz(config: &Config) -> Result<chrono_tz::Tz, CliError> {
    crate::domain::calendar::BusinessCalendar::new(&config.calendar)
        .map(|c| c.timezone())
        .map_err(CliError::calendar)
}
