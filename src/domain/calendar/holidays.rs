use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};

/// A public holiday: the day off as observed (after any move to Monday).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Holiday {
    pub date: NaiveDate,
    pub name: String,
}

/// Fixed holidays that are never moved.
const FIXED: [(u32, u32, &str); 6] = [
    (1, 1, "Año Nuevo"),
    (5, 1, "Día del Trabajo"),
    (7, 20, "Día de la Independencia"),
    (8, 7, "Batalla de Boyacá"),
    (12, 8, "Inmaculada Concepción"),
    (12, 25, "Navidad"),
];

/// Holidays that Ley 51 de 1983 moves to the following Monday.
const MOVED_TO_MONDAY: [(u32, u32, &str); 7] = [
    (1, 6, "Día de los Reyes Magos"),
    (3, 19, "Día de San José"),
    (6, 29, "San Pedro y San Pablo"),
    (8, 15, "Asunción de la Virgen"),
    (10, 12, "Día de la Raza"),
    (11, 1, "Día de Todos los Santos"),
    (11, 11, "Independencia de Cartagena"),
];

/// Ley 2578 de 2026 adds 9 July, moved to Monday like those of Ley 51.
const CHIQUINQUIRA: (u32, u32, &str) = (7, 9, "Nuestra Señora del Rosario de Chiquinquirá");
const CHIQUINQUIRA_SINCE: i32 = 2026;

/// Days after Easter Sunday. The last three are the Monday the holiday is
/// moved to (Ascension Thursday +39, Corpus Christi +60 and Sacred Heart
/// Friday +68 are never observed on their own day since Ley 51 de 1983).
const EASTER_BASED: [(i64, &str); 5] = [
    (-3, "Jueves Santo"),
    (-2, "Viernes Santo"),
    (43, "Ascensión del Señor"),
    (64, "Corpus Christi"),
    (71, "Sagrado Corazón de Jesús"),
];

/// Colombian public holidays of `year`, sorted by date (then name; two
/// holidays can share a Monday, e.g. 30 June 2025).
///
/// Today's rules are applied to every year; before 1984 (Ley 51 de 1983)
/// the real calendar differed. Years outside chrono's date range give an
/// empty list.
#[must_use]
pub fn colombian_holidays(year: i32) -> Vec<Holiday> {
    holiday_dates(year)
        .into_iter()
        .map(|(date, name)| Holiday {
            date,
            name: name.to_owned(),
        })
        .collect()
}

/// Allocation-light form of [`colombian_holidays`], for the calendar tables.
pub(super) fn holiday_dates(year: i32) -> Vec<(NaiveDate, &'static str)> {
    let mut out = Vec::with_capacity(20);
    let on = |month, day| NaiveDate::from_ymd_opt(year, month, day);

    out.extend(FIXED.iter().filter_map(|&(m, d, n)| Some((on(m, d)?, n))));

    let chiquinquira = (year >= CHIQUINQUIRA_SINCE).then_some(&CHIQUINQUIRA);
    out.extend(
        MOVED_TO_MONDAY
            .iter()
            .chain(chiquinquira)
            .filter_map(|&(m, d, n)| Some((next_monday(on(m, d)?)?, n))),
    );

    if let Some(easter) = easter_sunday(year) {
        out.extend(
            EASTER_BASED
                .iter()
                .filter_map(|&(offset, n)| Some((add_days(easter, offset)?, n))),
        );
    }

    out.sort_unstable();
    out
}

/// Gregorian Easter Sunday (anonymous algorithm, Meeus/Jones/Butcher),
/// applied proleptically to any year chrono can represent.
#[must_use]
pub fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let y = i64::from(year);
    let a = y.rem_euclid(19);
    let b = y.div_euclid(100);
    let c = y.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c.div_euclid(4);
    let k = c.rem_euclid(4);
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l).div_euclid(451);
    let month = (h + l - 7 * m + 114).div_euclid(31);
    let day = (h + l - 7 * m + 114).rem_euclid(31) + 1;
    NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

/// The date itself if it is a Monday, else the Monday after it (Ley 51 de 1983).
fn next_monday(date: NaiveDate) -> Option<NaiveDate> {
    let ahead = (7 - date.weekday().num_days_from_monday()) % 7;
    date.checked_add_days(Days::new(u64::from(ahead)))
}

fn add_days(date: NaiveDate, offset: i64) -> Option<NaiveDate> {
    let days = Days::new(offset.unsigned_abs());
    if offset >= 0 {
        date.checked_add_days(days)
    } else {
        date.checked_sub_days(days)
    }
}
