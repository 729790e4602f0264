//! The command line: the daemon and the ops/agent commands around the same database.

mod tickets;

use crate::config::{Config, EXIT_BAD_CONFIG};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "mesayuda",
    version,
    about = "Mesa de ayuda TIC por correo electrónico"
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
    /// Validate the configuration and the templates.
    CheckConfig,
    /// Inspect tickets.
    Tickets {
        #[command(subcommand)]
        command: TicketsCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum TicketsCommand {
    /// List tickets, oldest first.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show one ticket with its messages and history.
    Show {
        /// REQ-n or n.
        id: String,
        #[arg(long)]
        json: bool,
    },
}

/// Exit codes (documented in the README): 0 ok, 1 runtime failure, 2 bad configuration or
/// usage, 3 not found.
pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_NOT_FOUND: u8 = 3;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(&cli.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mesayuda: {e}");
            return ExitCode::from(EXIT_BAD_CONFIG as u8);
        }
    };
    let format = if cli.log_json {
        crate::config::LogFormat::Json
    } else {
        config.log.format
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mesayuda: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    match cli.command {
        Command::Run => {
            crate::telemetry::init(format, config.log.level.as_deref());
            runtime.block_on(run(config))
        }
        Command::Migrate => runtime.block_on(migrate(config)),
        Command::CheckConfig => check_config(config),
        Command::Tickets { command } => runtime.block_on(tickets::run(config, command)),
    }
}

async fn run(config: Config) -> ExitCode {
    let app = match crate::app::Application::build(config).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "cannot start");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let cancel = tokio_util::sync::CancellationToken::new();
    crate::app::shutdown_on_signals(cancel.clone());
    match app.run_until(cancel).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "daemon failed");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

async fn migrate(config: Config) -> ExitCode {
    let result = async {
        let db = crate::store::Db::connect(&config.database.url, 1).await?;
        db.migrate().await?;
        anyhow::Ok(())
    }
    .await;
    match result {
        Ok(()) => {
            println!("Migraciones aplicadas.");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mesayuda: {e:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn check_config(config: Config) -> ExitCode {
    match crate::mail::templates::Templates::load(&config.paths.templates) {
        Ok(_) => {
            println!("Configuración válida: {}", config.source.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "mesayuda: config file {}: key `paths.templates`: {e}",
                config.source.display()
            );
            ExitCode::from(EXIT_BAD_CONFIG as u8)
        }
    }
}

/// Opens the database for a CLI command, or says why not.
/// Migrates too, so a command run before the daemon's first start sees an empty, valid store.
pub(crate) async fn open_db(config: &Config) -> Result<crate::store::Db, ExitCode> {
    let result = async {
        let db = crate::store::Db::connect(&config.database.url, 2).await?;
        db.migrate().await?;
        anyhow::Ok(db)
    }
    .await;
    result.map_err(|e| {
        eprintln!(
            "mesayuda: no se pudo abrir la base de datos {}: {e:#}",
            crate::app::redact_url(&config.database.url)
        );
        ExitCode::from(EXIT_FAILURE)
    })
}
