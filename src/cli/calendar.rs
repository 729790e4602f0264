//! `mesayuda calendar holidays YEAR`: the non-working days the daemon will use, so ops can
//! check them against the official list.

use super::{CalendarCommand, EXIT_FAILURE};
use crate::config::Config;
use crate::domain::calendar::BusinessCalendar;
use std::process::ExitCode;

pub fn run(config: Config, cmd: CalendarCommand) -> ExitCode {
    let CalendarCommand::Holidays { year, json } = cmd;
    let cal = match BusinessCalendar::new(&config.calendar) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mesayuda: [calendar]: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let days = cal.holidays(year);
    if json {
        match serde_json::to_string(&days) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("mesayuda: {e}");
                return ExitCode::from(EXIT_FAILURE);
            }
        }
    } else {
        for h in &days {
            println!("{}  {}  {}", h.date, h.date.format("%a"), h.name);
        }
    }
    ExitCode::SUCCESS
}
