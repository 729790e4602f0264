//! `mesayuda calendar holidays YEAR`: the non-working days the daemon will use, so ops can
//! check them against the official list.

//! Reads only `[calendar]`, and works with no configuration file at all (Colombia's holidays).

use super::{CalendarCommand, CliError};
use crate::config::Config;
use crate::domain::calendar::BusinessCalendar;
use crate::domain::es_co;
use std::path::Path;

pub fn run(config_path: &Path, cmd: CalendarCommand) -> Result<(), CliError> {
    let CalendarCommand::Holidays { year, json } = cmd;
    let calendar = Config::load_calendar(config_path)?;
    let cal = BusinessCalendar::new(&calendar).map_err(CliError::calendar)?;
    let days = cal.holidays(year);
    if json {
        let s = serde_json::to_string(&days).map_err(CliError::failure)?;
        println!("{s}");
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
    Ok(())
}
