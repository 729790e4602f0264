//! `mesayuda calendar holidays YEAR`: the non-working days the daemon will use, so ops can
//! check them against the official list.

//! Reads only `[calendar]`, and works with no configuration file at all (Colombia's holidays).

use super::{CalendarCommand, EXIT_FAILURE};
use crate::config::{Config, EXIT_BAD_CONFIG};
use crate::domain::calendar::BusinessCalendar;
use crate::domain::es_co;
use std::path::Path;
use std::process::ExitCode;

pub fn run(config_path: &Path, cmd: CalendarCommand) -> ExitCode {
    let CalendarCommand::Holidays { year, json } = cmd;
    let calendar = match Config::load_calendar(config_path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mesayuda: {e}");
            return ExitCode::from(EXIT_BAD_CONFIG as u8);
        }
    };
    let cal = match BusinessCalendar::new(&calendar) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mesayuda: [calendar]: {e}");
            return ExitCode::from(EXIT_BAD_CONFIG as u8);
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
        let mut table = super::table::Table::new(&["FECHA", "DÍA", "FESTIVO"]);
        for h in &days {
            table.row(vec![
                h.date.to_string(),
                es_co::weekday_name(h.date).to_owned(),
                h.name.clone(),
            ]);
        }
        table.print();
    }
    ExitCode::SUCCESS
}
