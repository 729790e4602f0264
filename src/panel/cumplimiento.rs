//! Coordinator, subdirector and director: `GET /cumplimiento?desde=&hasta=`, the compliance
//! report of `sla compliance` for those days (the same computation:
//! `workflow::monthly_report::report_between`), with a bar chart per service drawn by the
//! server as inline SVG, and the satisfaction survey; `GET /cumplimiento.csv` is the same
//! report as the CLI's `--csv` prints it.

use super::sla::require_supervisor;
use super::{Panel, PanelError};
use crate::domain::compliance::{self, Line, Period, Report};
use crate::domain::es_co;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::sync::Arc;

/// The period asked for: `desde` and `hasta` as typed (for the form), and the period or the
/// Spanish reason it is not one. A field left out or empty is the current month's bound.
fn period(p: &Panel, query: Option<&str>) -> (String, String, Result<Period, &'static str>) {
    let today = p
        .now()
        .with_timezone(&p.procedure.calendar.timezone())
        .date_naive();
    let month = Period::month_of(today);
    let mut desde = month.from.to_string();
    let mut hasta = month.to.to_string();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let v = v.trim();
        match k.as_ref() {
            "desde" if !v.is_empty() => desde = v.chars().take(40).collect(),
            "hasta" if !v.is_empty() => hasta = v.chars().take(40).collect(),
            _ => {}
        }
    }
    let parsed = Period::parse(&desde, &hasta);
    (desde, hasta, parsed)
}

async fn report(p: &Panel, period: Period) -> Result<Report, PanelError> {
    let (from, to) =
        period
            .bounds(&p.procedure.calendar.timezone())
            .ok_or(PanelError::BadRequest(
                "Esas fechas no existen en la zona horaria del calendario.",
            ))?;
    let mut conn = p.db.pool.acquire().await?;
    Ok(crate::workflow::monthly_report::report_between(&mut conn, from, to).await?)
}

/// `GET /cumplimiento`.
pub async fn informe(
    State(p): State<Arc<Panel>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, PanelError> {
    let s = match require_supervisor(&p, &headers).await? {
        Ok(s) => s,
        Err(redirect) => return Ok(redirect),
    };
    let (desde, hasta, parsed) = period(&p, query.as_deref());
    let title = "Cumplimiento de los tiempos de atención";
    let period = match parsed {
        Ok(period) => period,
        Err(why) => {
            let data = json!({ "desde": desde, "hasta": hasta, "error": why });
            return p.page(
                StatusCode::BAD_REQUEST,
                "cumplimiento",
                title,
                Some(&s),
                data,
            );
        }
    };
    let r = report(&p, period).await?;
    let snap = p.procedure.snapshot();
    let name = |l: &Line| -> (String, Option<String>) {
        match l.service.as_str() {
            "TOTAL" => ("Total".to_owned(), None),
            code => match snap.catalog.by_code_or_name(code) {
                Some(svc) if svc.name != code => (svc.name.clone(), Some(code.to_owned())),
                _ => (code.to_owned(), None),
            },
        }
    };
    let lines: Vec<&Line> = r
        .services
        .iter()
        .chain(std::iter::once(&r.overall))
        .collect();
    let rows: Vec<Value> = lines.iter().map(|l| line_row(l, name(l))).collect();
    let survey: Vec<Value> = lines
        .iter()
        .filter(|l| l.survey_answers > 0 || l.service == "TOTAL")
        .map(|l| line_row(l, name(l)))
        .collect();
    let csv_link = format!(
        "/cumplimiento.csv?desde={}&hasta={}",
        period.from, period.to
    );
    p.page(
        StatusCode::OK,
        "cumplimiento",
        title,
        Some(&s),
        json!({
            "desde": desde,
            "hasta": hasta,
            "from": es_co::date(period.from),
            "to": es_co::date(period.to),
            "closed": r.overall.closed,
            "rows": rows,
            "chart": chart(&lines, &name),
            "survey": survey,
            "answers": r.overall.survey_answers,
            "csv": csv_link,
        }),
    )
}

/// `GET /cumplimiento.csv`: exactly what `sla compliance --csv` prints for those days.
pub async fn csv(
    State(p): State<Arc<Panel>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, PanelError> {
    if let Err(redirect) = require_supervisor(&p, &headers).await? {
        return Ok(redirect);
    }
    let period = period(&p, query.as_deref())
        .2
        .map_err(PanelError::BadRequest)?;
    let r = report(&p, period).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", period.csv_name()),
            ),
        ],
        compliance::csv(&r),
    )
        .into_response())
}

fn line_row(l: &Line, (name, code): (String, Option<String>)) -> Value {
    let dec = |x: f64| es_co::decimal(x, 1);
    json!({
        "name": name,
        "code": code,
        "total": l.service == "TOTAL",
        "closed": l.closed,
        "attended": l.attended,
        "within": l.within_target,
        "outside": l.outside_target,
        "within_pct": dec(l.within_pct),
        "outside_pct": dec(l.outside_pct),
        "median": dec(l.median_business_hours),
        "p90": dec(l.p90_business_hours),
        "paused": dec(l.paused_business_hours),
        "alerts": [l.alerts_50, l.alerts_75, l.alerts_100],
        "answers": l.survey_answers,
        "average": l.average_rating.map(|a| es_co::decimal(a, 2)),
        "ratings": l.ratings,
    })
}

/// Width of the chart's drawing, in SVG units; the page scales it to the screen.
const CHART_WIDTH: f64 = 360.0;
/// Each service: its name, its figures, then its bar.
const ROW_HEIGHT: f64 = 58.0;

/// One horizontal bar per service (and the total): the share attended within target in
/// green, outside in red. Geometry only; the template draws it, escaping every name.
fn chart(lines: &[&Line], name: &dyn Fn(&Line) -> (String, Option<String>)) -> Value {
    let bars: Vec<Value> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let top = i as f64 * ROW_HEIGHT;
            let within_w = (CHART_WIDTH * l.within_pct / 100.0).round();
            let outside_w = if l.attended == 0 {
                0.0
            } else {
                CHART_WIDTH - within_w
            };
            let (name, code) = name(l);
            let figures = if l.attended == 0 {
                "Sin solicitudes atendidas".to_owned()
            } else {
                format!(
                    "{} % a tiempo ({} de {})",
                    es_co::decimal(l.within_pct, 1),
                    l.within_target,
                    l.attended
                )
            };
            json!({
                // "Acceso remoto a la red local (VPN)" already says its code.
                "label": match code {
                    Some(c) if !name.contains(&format!("({c})")) => format!("{name} ({c})"),
                    _ => name,
                },
                "figures": figures,
                "y_name": top + 14.0,
                "y_figures": top + 30.0,
                "y_bar": top + 36.0,
                "within_w": within_w,
                "outside_x": within_w,
                "outside_w": outside_w,
                "empty": l.attended == 0,
            })
        })
        .collect();
    json!({
        "width": CHART_WIDTH,
        "height": lines.len() as f64 * ROW_HEIGHT,
        "bars": bars,
    })
}
