//! The procedure's expected product: "requerimientos atendidos de acuerdo con los niveles de
//! servicio". Per service and overall: attended within target or not, business time to
//! resolve (median, 90th percentile), time paused waiting on users, alerts sent per tier, and
//! the satisfaction survey (activity 17): answers and average rating.
//! Only requests attended (closed as `resuelto` or `cambio`) count against the target.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// The days a report covers, both included: `sla compliance --from --to` and the panel's
/// `/cumplimiento?desde=&hasta=` read them the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    /// The calendar month holding `today`.
    pub fn month_of(today: NaiveDate) -> Period {
        let from = today.with_day(1).unwrap_or(today);
        let next = from
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(from);
        Period {
            from,
            to: next.pred_opt().unwrap_or(from),
        }
    }

    /// Two `YYYY-MM-DD` dates, the first not after the second; the error is the Spanish
    /// sentence to show whoever typed them.
    pub fn parse(from: &str, to: &str) -> Result<Period, &'static str> {
        let day = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
        let (Some(from), Some(to)) = (day(from), day(to)) else {
            return Err("Escriba las fechas como AAAA-MM-DD, por ejemplo 2026-11-01.");
        };
        if from > to {
            return Err("La fecha inicial es posterior a la final.");
        }
        Ok(Period { from, to })
    }

    /// From local midnight of the first day to local midnight after the last, in `tz` (the
    /// business calendar's zone).
    pub fn bounds<Tz: TimeZone>(&self, tz: &Tz) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let midnight = |d: NaiveDate| {
            tz.from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
        };
        Some((midnight(self.from)?, midnight(self.to.succ_opt()?)?))
    }

    /// "cumplimiento-2026-11-01-a-2026-11-30.csv".
    pub fn csv_name(&self) -> String {
        format!("cumplimiento-{}-a-{}.csv", self.from, self.to)
    }
}

#[derive(Debug, Clone)]
pub struct ClosedTicket {
    pub service: Option<String>,
    pub attended: bool,
    pub target_secs: i64,
    pub used_secs: i64,
    pub paused_secs: i64,
    pub alerts_sent: u8,
    /// The survey's 1–5 rating, when the requester answered.
    pub survey_rating: Option<u8>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Line {
    pub service: String,
    pub closed: usize,
    pub attended: usize,
    pub within_target: usize,
    pub outside_target: usize,
    pub within_pct: f64,
    pub outside_pct: f64,
    pub median_business_hours: f64,
    pub p90_business_hours: f64,
    pub paused_business_hours: f64,
    pub alerts_50: usize,
    pub alerts_75: usize,
    pub alerts_100: usize,
    pub survey_answers: usize,
    /// Mean of the ratings given, two decimals; `None` when nobody answered.
    pub average_rating: Option<f64>,
    /// How many answers gave each rating, 1 to 5.
    pub ratings: [usize; 5],
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    pub services: Vec<Line>,
    pub overall: Line,
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn hours(secs: i64) -> f64 {
    (secs as f64 / 3600.0 * 100.0).round() / 100.0
}

fn pct(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 1000.0 / whole as f64).round() / 10.0
    }
}

fn line(service: &str, tickets: &[&ClosedTicket]) -> Line {
    let attended: Vec<&&ClosedTicket> = tickets.iter().filter(|t| t.attended).collect();
    let within = attended
        .iter()
        .filter(|t| t.used_secs <= t.target_secs)
        .count();
    let mut used: Vec<i64> = attended.iter().map(|t| t.used_secs).collect();
    used.sort_unstable();
    let tier = |n: u8| tickets.iter().filter(|t| t.alerts_sent >= n).count();
    let ratings: Vec<u8> = tickets.iter().filter_map(|t| t.survey_rating).collect();
    let average_rating = (!ratings.is_empty()).then(|| {
        let sum: u32 = ratings.iter().map(|&r| u32::from(r)).sum();
        (f64::from(sum) * 100.0 / ratings.len() as f64).round() / 100.0
    });
    Line {
        service: service.to_owned(),
        closed: tickets.len(),
        attended: attended.len(),
        within_target: within,
        outside_target: attended.len() - within,
        within_pct: pct(within, attended.len()),
        outside_pct: pct(attended.len() - within, attended.len()),
        median_business_hours: hours(percentile(&used, 50.0)),
        p90_business_hours: hours(percentile(&used, 90.0)),
        paused_business_hours: hours(tickets.iter().map(|t| t.paused_secs).sum()),
        alerts_50: tier(1),
        alerts_75: tier(2),
        alerts_100: tier(3),
        survey_answers: ratings.len(),
        average_rating,
        ratings: [1u8, 2, 3, 4, 5].map(|r| ratings.iter().filter(|&&x| x == r).count()),
    }
}

pub fn report(tickets: &[ClosedTicket]) -> Report {
    let mut by_service: BTreeMap<String, Vec<&ClosedTicket>> = BTreeMap::new();
    for t in tickets {
        let key = t
            .service
            .clone()
            .unwrap_or_else(|| "(sin categorizar)".into());
        by_service.entry(key).or_default().push(t);
    }
    let all: Vec<&ClosedTicket> = tickets.iter().collect();
    Report {
        services: by_service.iter().map(|(s, ts)| line(s, ts)).collect(),
        overall: line("TOTAL", &all),
    }
}

/// The report as CSV, one line per service then `TOTAL`: what `sla compliance --csv` prints and
/// the monthly mail attaches, so both always agree. Decimal points, for spreadsheets.
pub fn csv(r: &Report) -> String {
    let mut out = String::from(
        "servicio,cerrados,atendidos,dentro,fuera,pct_dentro,pct_fuera,mediana_h,p90_h,pausa_h,\
         alertas_50,alertas_75,alertas_100,encuestas,calificacion_promedio\n",
    );
    for l in r.services.iter().chain(std::iter::once(&r.overall)) {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            csv_field(&l.service),
            l.closed,
            l.attended,
            l.within_target,
            l.outside_target,
            l.within_pct,
            l.outside_pct,
            l.median_business_hours,
            l.p90_business_hours,
            l.paused_business_hours,
            l.alerts_50,
            l.alerts_75,
            l.alerts_100,
            l.survey_answers,
            l.average_rating.map(|a| a.to_string()).unwrap_or_default()
        ));
    }
    out
}

/// A service code with a comma or quote would shift every column after it.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(service: &str, target_h: i64, used_h: i64, alerts: u8) -> ClosedTicket {
        ClosedTicket {
            service: Some(service.into()),
            attended: true,
            target_secs: target_h * 3600,
            used_secs: used_h * 3600,
            paused_secs: 1800,
            alerts_sent: alerts,
            survey_rating: None,
        }
    }

    #[test]
    fn counts_percentages_and_percentiles_match_a_hand_computation() {
        // VPN: targets 16 h, used 4, 10, 20 → 2 within, 1 outside (66.7 % / 33.3 %), median 10 h.
        // IMPRESORA: target 8 h, used 2 and 9 → 1 within (50 %).
        let mut ts = vec![
            t("VPN", 16, 4, 0),
            t("VPN", 16, 10, 1),
            t("VPN", 16, 20, 3),
            t("IMPRESORA", 8, 2, 0),
            t("IMPRESORA", 8, 9, 3),
        ];
        ts.push(ClosedTicket {
            attended: false,
            ..t("VPN", 16, 1, 0)
        });
        let r = report(&ts);
        let vpn = r.services.iter().find(|l| l.service == "VPN").unwrap();
        assert_eq!(
            (
                vpn.closed,
                vpn.attended,
                vpn.within_target,
                vpn.outside_target
            ),
            (4, 3, 2, 1)
        );
        assert_eq!((vpn.within_pct, vpn.outside_pct), (66.7, 33.3));
        assert_eq!(vpn.median_business_hours, 10.0);
        assert_eq!(vpn.p90_business_hours, 20.0);
        assert_eq!((vpn.alerts_50, vpn.alerts_75, vpn.alerts_100), (2, 1, 1));
        assert_eq!(vpn.paused_business_hours, 2.0);
        let all = &r.overall;
        assert_eq!(
            (all.attended, all.within_target, all.outside_target),
            (5, 3, 2)
        );
        assert_eq!(all.within_pct, 60.0);
        // Sorted used hours 2, 4, 9, 10, 20: median (rank 3) 9 h, p90 (rank 5) 20 h.
        assert_eq!(all.median_business_hours, 9.0);
        assert_eq!(all.p90_business_hours, 20.0);
    }

    #[test]
    fn survey_answers_are_counted_and_averaged_per_service_and_overall() {
        let rated = |svc, r| ClosedTicket {
            survey_rating: Some(r),
            ..t(svc, 8, 2, 0)
        };
        let ts = vec![
            rated("VPN", 5),
            rated("VPN", 4),
            t("VPN", 8, 2, 0),
            rated("IMPRESORA", 2),
            t("IMPRESORA", 8, 2, 0),
        ];
        let r = report(&ts);
        let vpn = r.services.iter().find(|l| l.service == "VPN").unwrap();
        assert_eq!((vpn.survey_answers, vpn.average_rating), (2, Some(4.5)));
        assert_eq!(vpn.ratings, [0, 0, 0, 1, 1]);
        // 5 + 4 + 2 = 11 over 3 answers.
        assert_eq!(
            (r.overall.survey_answers, r.overall.average_rating),
            (3, Some(3.67))
        );
        let none = report(&[t("VPN", 8, 2, 0)]);
        assert_eq!(none.overall.average_rating, None);
        let text = csv(&r);
        assert!(text
            .lines()
            .next()
            .unwrap()
            .ends_with(",encuestas,calificacion_promedio"));
        assert!(
            text.contains("\nVPN,3,3,3,0,100,0,2,2,1.5,0,0,0,2,4.5\n"),
            "{text}"
        );
        assert!(text.ends_with(",3,3.67\n"), "{text}");
        assert!(csv(&none).ends_with(",0,\n"));
    }

    #[test]
    fn periods_read_as_the_cli_reads_them() {
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let p = Period::parse("2026-11-01", " 2026-11-30").unwrap();
        assert_eq!((p.from, p.to), (d("2026-11-01"), d("2026-11-30")));
        assert_eq!(Period::month_of(d("2026-02-14")).to, d("2026-02-28"));
        assert_eq!(Period::month_of(d("2026-12-31")).from, d("2026-12-01"));
        assert!(Period::parse("2026-11-31", "2026-12-01").is_err());
        assert!(Period::parse("01/11/2026", "2026-12-01").is_err());
        assert_eq!(
            Period::parse("2026-12-02", "2026-12-01"),
            Err("La fecha inicial es posterior a la final.")
        );
        // Bogotá is UTC-5 all year: local midnight is 05:00 UTC, and the last day is whole.
        let tz: chrono_tz::Tz = "America/Bogota".parse().unwrap();
        let (from, to) = p.bounds(&tz).unwrap();
        assert_eq!(from.to_rfc3339(), "2026-11-01T05:00:00+00:00");
        assert_eq!(to.to_rfc3339(), "2026-12-01T05:00:00+00:00");
        assert_eq!(p.csv_name(), "cumplimiento-2026-11-01-a-2026-11-30.csv");
    }

    #[test]
    fn an_empty_period_reports_zeroes() {
        let r = report(&[]);
        assert_eq!(r.overall.closed, 0);
        assert_eq!(r.overall.within_pct, 0.0);
    }
}
