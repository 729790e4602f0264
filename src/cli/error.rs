//! The one error a CLI command ends with: its message and its exit code. Commands return it;
//! only `cli::main` prints it (`mesayuda: {message}` on stderr) and exits with its code.

use crate::config::{ConfigError, EXIT_BAD_CONFIG};
use std::fmt;
use std::io::Write;
use std::process::ExitCode;

/// Exit codes (documented in the README): 0 ok, 1 runtime failure, 2 bad configuration or
/// usage, 3 not found.
pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_USAGE: u8 = EXIT_BAD_CONFIG as u8;
pub const EXIT_NOT_FOUND: u8 = 3;

/// Why a command stopped. The message is English (stderr is for operators and scripts); the
/// code says what kind of failure it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    message: String,
    code: u8,
}

impl CliError {
    /// Something failed at run time: a server, the database, the runtime (exit 1).
    pub fn failure(message: impl fmt::Display) -> CliError {
        CliError {
            message: message.to_string(),
            code: EXIT_FAILURE,
        }
    }

    /// A query failed (exit 1).
    pub fn database(e: sqlx::Error) -> CliError {
        CliError::failure(format_args!("database error: {e}"))
    }

    /// The configuration is wrong (exit 2).
    pub fn config(message: impl fmt::Display) -> CliError {
        CliError {
            message: message.to_string(),
            code: EXIT_USAGE,
        }
    }

    /// `[calendar]` is wrong (exit 2), named so the operator knows which section.
    pub fn calendar(e: impl fmt::Display) -> CliError {
        CliError::config(format_args!("[calendar]: {e}"))
    }

    /// An argument is wrong (exit 2).
    pub fn usage(message: impl fmt::Display) -> CliError {
        CliError {
            message: message.to_string(),
            code: EXIT_USAGE,
        }
    }

    /// What the command was asked about does not exist (exit 3).
    pub fn not_found(message: impl fmt::Display) -> CliError {
        CliError {
            message: message.to_string(),
            code: EXIT_NOT_FOUND,
        }
    }

    pub fn code(&self) -> u8 {
        self.code
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl From<sqlx::Error> for CliError {
    fn from(e: sqlx::Error) -> CliError {
        CliError::database(e)
    }
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> CliError {
        CliError::config(e)
    }
}

/// The one place a command's outcome becomes what the shell sees: an error is printed as
/// `mesayuda: {error}` on `stderr` and its code is the exit code.
pub fn exit(result: Result<ExitCode, CliError>, stderr: &mut dyn Write) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            // Nothing better to do if stderr itself is gone; the exit code still says it.
            let _ = writeln!(stderr, "mesayuda: {e}");
            ExitCode::from(e.code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(result: Result<ExitCode, CliError>) -> (String, ExitCode) {
        let mut err = Vec::new();
        let code = exit(result, &mut err);
        (String::from_utf8(err).unwrap(), code)
    }

    #[test]
    fn an_error_is_one_prefixed_line_on_stderr_and_its_code_is_the_exit_code() {
        assert_eq!(
            run(Err(CliError::not_found("no request REQ-7"))),
            ("mesayuda: no request REQ-7\n".to_owned(), ExitCode::from(3))
        );
        assert_eq!(
            run(Err(CliError::usage("unknown status `x`"))),
            (
                "mesayuda: unknown status `x`\n".to_owned(),
                ExitCode::from(2)
            )
        );
        assert_eq!(
            run(Err(CliError::calendar("bad zone"))),
            (
                "mesayuda: [calendar]: bad zone\n".to_owned(),
                ExitCode::from(2)
            )
        );
    }

    #[test]
    fn a_query_error_through_question_mark_says_database_error_and_exits_1() {
        fn query() -> Result<ExitCode, CliError> {
            Err(sqlx::Error::RowNotFound)?
        }
        let (line, code) = run(query());
        assert_eq!(
            line,
            format!("mesayuda: database error: {}\n", sqlx::Error::RowNotFound)
        );
        assert_eq!(code, ExitCode::from(1));
    }

    #[test]
    fn success_prints_nothing_and_keeps_the_commands_code() {
        assert_eq!(
            run(Ok(ExitCode::SUCCESS)),
            (String::new(), ExitCode::SUCCESS)
        );
        // check-config's report: a failed check is a code, not an error line.
        assert_eq!(
            run(Ok(ExitCode::from(2))),
            (String::new(), ExitCode::from(2))
        );
    }
}
