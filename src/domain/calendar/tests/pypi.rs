//! Cross-check against the PyPI package `holidays`, an independent
//! implementation. The data file and its generator live in
//! tests/data/holidays/; the file was generated with holidays 0.109.
//!
//! That version already implements Ley 2578 de 2026 (9 July moved to
//! Monday from 2026), so no difference is allowed for. Should the file ever
//! be regenerated with an older version (0.98 lacked it), the generator
//! refuses, and `data_knows_ley_2578` below fails rather than this test
//! being loosened.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use super::{colombian_holidays, date};

const DATA: &str = include_str!("../../../../tests/data/holidays/co_1984_2060.json");
const YEARS: std::ops::RangeInclusive<i32> = 1984..=2060;

#[derive(Deserialize)]
struct Row {
    date: NaiveDate,
    name: String,
}

fn by_year() -> BTreeMap<i32, Vec<Row>> {
    let rows: Vec<Row> = serde_json::from_str(DATA).expect("valid holiday data file");
    let mut years: BTreeMap<i32, Vec<Row>> = BTreeMap::new();
    for row in rows {
        years.entry(row.date.year()).or_default().push(row);
    }
    years
}

#[test]
fn data_knows_ley_2578() {
    let years = by_year();
    let chiquinquira = |year: i32| -> Vec<NaiveDate> {
        years[&year]
            .iter()
            .filter(|r| r.name.contains("Chiquinquirá"))
            .map(|r| r.date)
            .collect()
    };
    assert_eq!(chiquinquira(2025), vec![]);
    assert_eq!(chiquinquira(2026), vec![date(2026, 7, 13)]);
    assert_eq!(chiquinquira(2027), vec![date(2027, 7, 12)]);
}

#[test]
fn same_dates_as_pypi_holidays_1984_to_2060() {
    let years = by_year();
    assert_eq!(
        years.keys().copied().collect::<Vec<_>>(),
        YEARS.collect::<Vec<_>>()
    );
    for (year, rows) in years {
        // Dates as a multiset: a shared Monday appears once per holiday in
        // both sources. Names differ in wording and are not compared.
        let mut theirs: Vec<NaiveDate> = rows.iter().map(|r| r.date).collect();
        theirs.sort();
        let ours: Vec<NaiveDate> = colombian_holidays(year).iter().map(|h| h.date).collect();
        assert_eq!(ours, theirs, "holidays of {year}");
    }
}
