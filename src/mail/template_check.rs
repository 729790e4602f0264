//! `mesayuda check-config` and the panel's start: render every template with sample data (every
//! variable a template names gets a sample value, so a syntax error or a broken helper shows up
//! before a real mail needs it).

use handlebars::Handlebars;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::path::Path;

/// The HTML part of template `name`, with the buttons its mail would carry.
fn render_html(
    html: &crate::mail::html::HtmlTemplates,
    text: &Handlebars<'_>,
    name: &str,
    sample: &Value,
) -> Result<String, String> {
    let part = |p: &str| {
        text.render(&format!("{name}.{p}"), sample)
            .unwrap_or_default()
    };
    let (subject, body) = (part("asunto"), part("cuerpo"));
    // A file the daemon never renders (no such template) has no buttons to check.
    let actions = name
        .parse::<crate::domain::template::Template>()
        .map(|t| crate::mail::html::actions(t, Some("mesayuda+token@example.org"), &subject))
        .unwrap_or_default();
    html.render(name, &subject, &body, &actions)
        .map_err(|e| format!("{name} (html): {e}"))
}

/// One mail as check-config renders it from sample data.
#[derive(Debug)]
pub struct SampleMail {
    pub name: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Renders each `<name>.asunto.hbs` / `<name>.cuerpo.hbs` pair; returns the names rendered, or
/// one message per template that failed.
pub fn render_all_templates(dir: &Path) -> Result<Vec<String>, Vec<String>> {
    render_samples(dir).map(|mails| mails.into_iter().map(|m| m.name).collect())
}

/// [`render_all_templates`], keeping what each mail's two parts say.
pub fn render_samples(dir: &Path) -> Result<Vec<SampleMail>, Vec<String>> {
    let mut registry = Handlebars::new();
    registry.register_escape_fn(handlebars::no_escape);
    registry.set_strict_mode(true);
    let mut names = BTreeSet::new();
    let mut errors = Vec::new();
    let mut sources = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return Err(vec![format!("{}: {e}", dir.display())]),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(file) = path.file_name().and_then(|f| f.to_str()).map(str::to_owned) else {
            continue;
        };
        let Some(name) = file.strip_suffix(".hbs") else {
            continue;
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                if let Err(e) = registry.register_template_string(name, &text) {
                    errors.push(format!("{file}: {e}"));
                }
                sources.push(text);
            }
            Err(e) => errors.push(format!("{file}: {e}")),
        }
        if let Some(base) = name
            .strip_suffix(".asunto")
            .or_else(|| name.strip_suffix(".cuerpo"))
        {
            names.insert(base.to_owned());
        }
    }
    let sample = sample_data(&sources);
    let html = crate::mail::html::HtmlTemplates::load(dir)
        .map_err(|e| errors.push(e))
        .ok();
    let mut rendered = Vec::new();
    for name in &names {
        let mut parts = Vec::new();
        for part in ["asunto", "cuerpo"] {
            let t = format!("{name}.{part}");
            if !registry.has_template(&t) {
                if !errors.iter().any(|e| e.starts_with(&format!("{t}.hbs"))) {
                    errors.push(format!("{t}.hbs is missing"));
                }
                continue;
            }
            match registry.render(&t, &sample) {
                Ok(out) => parts.push(out),
                Err(e) => errors.push(format!("{t}.hbs: {e}")),
            }
        }
        let [subject, text] = <[String; 2]>::try_from(parts).unwrap_or_default();
        if subject.is_empty() && text.is_empty() {
            continue;
        }
        let html = match html
            .as_ref()
            .map(|h| render_html(h, &registry, name, &sample))
        {
            Some(Err(e)) => {
                errors.push(e);
                continue;
            }
            Some(Ok(h)) => h,
            None => String::new(),
        };
        rendered.push(SampleMail {
            name: name.clone(),
            subject,
            text,
            html,
        });
    }
    if errors.is_empty() {
        Ok(rendered)
    } else {
        Err(errors)
    }
}

/// A value for every variable the templates mention: text for `{{x}}` and `{{#if x}}`, a
/// one-element list for `{{#each x}}`.
pub(crate) fn sample_data(sources: &[String]) -> Value {
    let re = regex::Regex::new(
        r"\{\{~?\s*(#each|#if|#unless|#with)?\s*((?:\.\./)*[A-Za-z_][A-Za-z0-9_.]*)",
    )
    .expect("valid regex");
    let mut plain = BTreeSet::new();
    let mut lists = BTreeSet::new();
    for text in sources {
        for c in re.captures_iter(text) {
            let name = c[2].trim_start_matches("../").to_owned();
            let first = name.split('.').next().unwrap_or("").to_owned();
            if ["else", "this", "true", "false", "null"].contains(&first.as_str()) {
                continue;
            }
            if c.get(1).map(|m| m.as_str()) == Some("#each") {
                lists.insert(name);
            } else {
                plain.insert(name);
            }
        }
    }
    let mut inner = Map::new();
    for p in &plain {
        let last = p.rsplit('.').next().unwrap_or(p);
        let value = realistic(last).unwrap_or_else(|| Value::String(format!("<{p}>")));
        insert_path(&mut inner, p, value);
    }
    for l in &lists {
        insert_path(
            &mut inner,
            l,
            Value::Array(vec![Value::String(format!("<{l}>"))]),
        );
    }
    let mut outer = inner.clone();
    for l in &lists {
        insert_path(
            &mut outer,
            l,
            Value::Array(vec![Value::Object(inner.clone())]),
        );
    }
    Value::Object(outer)
}

/// The sample date: every date the daemon writes comes formatted this way.
pub const SAMPLE_DATE: &str = "miércoles 2 de diciembre de 2026, 5:00 p. m.";

/// A value in the form the daemon fills `key` in (dates and numbers as written in Colombia),
/// so that a mail rendered from sample data reads as its recipient will read it.
fn realistic(key: &str) -> Option<Value> {
    use crate::domain::es_co;
    let text = |s: String| Some(Value::String(s));
    match key {
        "created_at" | "due_at" | "sla_due_at" | "deadline" | "approval_due" | "reached_at"
        | "received_at" | "requested_at" | "at" => {
            let when = chrono::NaiveDate::from_ymd_opt(2026, 12, 2)?.and_hms_opt(17, 0, 0)?;
            text(es_co::datetime(when))
        }
        "sla_target" => text(format!("{} hábiles", es_co::hours(8 * 3600))),
        "approval_hours" => text(es_co::hours(24 * 3600)),
        "hours" | "used_hours" | "target_hours" | "median_hours" | "paused_hours" => {
            text(es_co::decimal(6.0, 1))
        }
        "percent" | "within_pct" | "outside_pct" => text(es_co::decimal(87.5, 1)),
        "average_rating" => text(es_co::decimal(4.6, 1)),
        "size" => text(es_co::size(2_500_000)),
        "ticket" => text("REQ-123".into()),
        "month" => text("noviembre de 2026".into()),
        "business_days" => Some(Value::from(3)),
        _ => None,
    }
}

fn insert_path(map: &mut Map<String, Value>, path: &str, value: Value) {
    let mut parts = path.split('.').peekable();
    let mut cur = map;
    while let Some(p) = parts.next() {
        if parts.peek().is_none() {
            cur.insert(p.to_owned(), value);
            return;
        }
        let entry = cur
            .entry(p.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(next) = entry else { return };
        cur = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_templates_all_render_with_sample_data() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let names = render_all_templates(&dir).unwrap();
        assert!(names.contains(&"acuse_recibo".to_owned()), "{names:?}");
    }

    /// Dates and decimals as the daemon writes them, in both parts of every mail: a template
    /// that wrote a date or number its own way would show it here.
    #[test]
    fn every_shipped_mail_renders_both_parts_in_colombian_formats() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mails = render_samples(&dir).unwrap();
        assert!(mails.len() >= 30, "{}", mails.len());
        let iso =
            regex::Regex::new(r"\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}(?: ?[AaPp][Mm]\b)|\b\d+\.\d\b")
                .unwrap();
        // What the HTML part shows: no style sheet, no tags.
        let markup = regex::Regex::new(r"(?s)<style.*?</style>|<[^>]*>").unwrap();
        for m in &mails {
            let shown = markup.replace_all(&m.html, " ").into_owned();
            for (part, body) in [("text", &m.text), ("html", &shown)] {
                assert!(!body.trim().is_empty(), "{}: empty {part}", m.name);
                assert!(!iso.is_match(body), "{} ({part}): {body}", m.name);
            }
            assert!(m.html.contains("<html"), "{}: {}", m.name, m.html);
        }
        let ack = mails.iter().find(|m| m.name == "acuse_recibo").unwrap();
        for line in [
            format!("Fecha estimada de solución: {SAMPLE_DATE}"),
            "Tiempo de solución: 8,0 horas hábiles".into(),
        ] {
            assert!(ack.text.contains(&line), "{line}: {}", ack.text);
            assert!(ack.html.contains(&line), "{line}: {}", ack.html);
        }
    }

    #[test]
    fn a_broken_template_is_named() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.asunto.hbs"), "[{{ticket}}] {{subject}}").unwrap();
        std::fs::write(
            d.path().join("a.cuerpo.hbs"),
            "{{#each items}}{{name}}{{/each}}",
        )
        .unwrap();
        std::fs::write(d.path().join("b.asunto.hbs"), "{{#if x}}sin cerrar").unwrap();
        std::fs::write(d.path().join("b.cuerpo.hbs"), "ok").unwrap();
        std::fs::create_dir(d.path().join("html")).unwrap();
        let layout = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/html/correo.html.hbs");
        std::fs::copy(layout, d.path().join("html/correo.html.hbs")).unwrap();
        let errors = render_all_templates(d.path()).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with("b.asunto.hbs"), "{errors:?}");
    }
}
