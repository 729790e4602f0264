use chrono::{Datelike, Weekday};

use super::{colombian_holidays, date, easter_sunday, Holiday};

/// Official lists (Ministerio del Trabajo / decretos de festivos), written
/// out by hand so that a rule mistake cannot hide in shared code.
const Y2024: &[(&str, &str)] = &[
    ("2024-01-01", "Año Nuevo"),
    ("2024-01-08", "Día de los Reyes Magos"),
    ("2024-03-25", "Día de San José"),
    ("2024-03-28", "Jueves Santo"),
    ("2024-03-29", "Viernes Santo"),
    ("2024-05-01", "Día del Trabajo"),
    ("2024-05-13", "Ascensión del Señor"),
    ("2024-06-03", "Corpus Christi"),
    ("2024-06-10", "Sagrado Corazón de Jesús"),
    ("2024-07-01", "San Pedro y San Pablo"),
    ("2024-07-20", "Día de la Independencia"),
    ("2024-08-07", "Batalla de Boyacá"),
    ("2024-08-19", "Asunción de la Virgen"),
    ("2024-10-14", "Día de la Raza"),
    ("2024-11-04", "Día de Todos los Santos"),
    ("2024-11-11", "Independencia de Cartagena"),
    ("2024-12-08", "Inmaculada Concepción"),
    ("2024-12-25", "Navidad"),
];

const Y2025: &[(&str, &str)] = &[
    ("2025-01-01", "Año Nuevo"),
    ("2025-01-06", "Día de los Reyes Magos"),
    ("2025-03-24", "Día de San José"),
    ("2025-04-17", "Jueves Santo"),
    ("2025-04-18", "Viernes Santo"),
    ("2025-05-01", "Día del Trabajo"),
    ("2025-06-02", "Ascensión del Señor"),
    ("2025-06-23", "Corpus Christi"),
    // Two holidays on one Monday; both are listed.
    ("2025-06-30", "Sagrado Corazón de Jesús"),
    ("2025-06-30", "San Pedro y San Pablo"),
    ("2025-07-20", "Día de la Independencia"),
    ("2025-08-07", "Batalla de Boyacá"),
    ("2025-08-18", "Asunción de la Virgen"),
    ("2025-10-13", "Día de la Raza"),
    ("2025-11-03", "Día de Todos los Santos"),
    ("2025-11-17", "Independencia de Cartagena"),
    ("2025-12-08", "Inmaculada Concepción"),
    ("2025-12-25", "Navidad"),
];

const Y2026: &[(&str, &str)] = &[
    ("2026-01-01", "Año Nuevo"),
    ("2026-01-12", "Día de los Reyes Magos"),
    ("2026-03-23", "Día de San José"),
    ("2026-04-02", "Jueves Santo"),
    ("2026-04-03", "Viernes Santo"),
    ("2026-05-01", "Día del Trabajo"),
    ("2026-05-18", "Ascensión del Señor"),
    ("2026-06-08", "Corpus Christi"),
    ("2026-06-15", "Sagrado Corazón de Jesús"),
    ("2026-06-29", "San Pedro y San Pablo"),
    // Ley 2578 de 2026: Thursday 9 July moved to Monday.
    ("2026-07-13", "Nuestra Señora del Rosario de Chiquinquirá"),
    ("2026-07-20", "Día de la Independencia"),
    ("2026-08-07", "Batalla de Boyacá"),
    ("2026-08-17", "Asunción de la Virgen"),
    ("2026-10-12", "Día de la Raza"),
    ("2026-11-02", "Día de Todos los Santos"),
    ("2026-11-16", "Independencia de Cartagena"),
    ("2026-12-08", "Inmaculada Concepción"),
    ("2026-12-25", "Navidad"),
];

const Y2027: &[(&str, &str)] = &[
    ("2027-01-01", "Año Nuevo"),
    ("2027-01-11", "Día de los Reyes Magos"),
    ("2027-03-22", "Día de San José"),
    ("2027-03-25", "Jueves Santo"),
    ("2027-03-26", "Viernes Santo"),
    ("2027-05-01", "Día del Trabajo"),
    ("2027-05-10", "Ascensión del Señor"),
    ("2027-05-31", "Corpus Christi"),
    ("2027-06-07", "Sagrado Corazón de Jesús"),
    ("2027-07-05", "San Pedro y San Pablo"),
    ("2027-07-12", "Nuestra Señora del Rosario de Chiquinquirá"),
    ("2027-07-20", "Día de la Independencia"),
    ("2027-08-07", "Batalla de Boyacá"),
    ("2027-08-16", "Asunción de la Virgen"),
    ("2027-10-18", "Día de la Raza"),
    ("2027-11-01", "Día de Todos los Santos"),
    ("2027-11-15", "Independencia de Cartagena"),
    ("2027-12-08", "Inmaculada Concepción"),
    ("2027-12-25", "Navidad"),
];

fn assert_year(year: i32, expected: &[(&str, &str)]) {
    let actual: Vec<(String, String)> = colombian_holidays(year)
        .into_iter()
        .map(|h| (h.date.to_string(), h.name))
        .collect();
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|&(d, n)| (d.to_owned(), n.to_owned()))
        .collect();
    assert_eq!(actual, expected, "holidays of {year}");
}

#[test]
fn official_2024() {
    assert_year(2024, Y2024);
}

#[test]
fn official_2025() {
    assert_year(2025, Y2025);
}

#[test]
fn official_2026() {
    assert_year(2026, Y2026);
}

#[test]
fn official_2027() {
    assert_year(2027, Y2027);
}

#[test]
fn chiquinquira_only_from_2026() {
    assert_eq!(date(2026, 7, 9).weekday(), Weekday::Thu);
    let has_it = |year| {
        colombian_holidays(year)
            .iter()
            .any(|h| h.name.contains("Chiquinquirá"))
    };
    assert!(!has_it(2025));
    assert!(has_it(2026));
    // 9 July 2029 is a Monday and is kept.
    assert!(colombian_holidays(2029)
        .iter()
        .any(|h| h.date == date(2029, 7, 9)));
}

#[test]
fn easter_known_dates() {
    for (year, m, d) in [
        (2000, 4, 23),
        (2024, 3, 31),
        (2025, 4, 20),
        (2026, 4, 5),
        (2027, 3, 28),
        (2038, 4, 25), // latest possible
        (2285, 3, 22), // earliest possible
    ] {
        assert_eq!(easter_sunday(year), Some(date(year, m, d)), "Easter {year}");
    }
}

#[test]
fn moved_holidays_always_on_monday() {
    const FIXED: [&str; 6] = [
        "Año Nuevo",
        "Día del Trabajo",
        "Día de la Independencia",
        "Batalla de Boyacá",
        "Inmaculada Concepción",
        "Navidad",
    ];
    for year in 1984..=2200 {
        let list = colombian_holidays(year);
        assert!(list.windows(2).all(|w| w[0] <= w[1]), "{year} sorted");
        for h in list {
            match h.name.as_str() {
                n if FIXED.contains(&n) => {}
                "Jueves Santo" => assert_eq!(h.date.weekday(), Weekday::Thu),
                "Viernes Santo" => assert_eq!(h.date.weekday(), Weekday::Fri),
                _ => assert_eq!(h.date.weekday(), Weekday::Mon, "{h:?}"),
            }
            assert_eq!(h.date.year(), year);
        }
    }
}

#[test]
fn extreme_years_do_not_panic() {
    for year in [i32::MIN, -262_144, -262_143, 0, 262_142, 262_143, i32::MAX] {
        let _ = colombian_holidays(year);
    }
    assert!(colombian_holidays(i32::MAX).is_empty());
}

#[test]
fn serializes_as_date_and_name() {
    let h = Holiday {
        date: date(2026, 7, 13),
        name: "Nuestra Señora del Rosario de Chiquinquirá".into(),
    };
    let json = serde_json::to_string(&h).expect("serializable");
    assert_eq!(
        json,
        r#"{"date":"2026-07-13","name":"Nuestra Señora del Rosario de Chiquinquirá"}"#
    );
}
