//! The HTML alternative of every mail: the same text, laid out for Outlook, webmail and phones
//! (one column, inline styles, no images, no scripts), plus buttons that compose the usual answer.
//! The buttons are `mailto:` links to the mail's own Reply-To — for staff a personal token
//! address — so one tap and Send is the same as typing the keyword (RFC 6068).

use crate::domain::template::Template;
use handlebars::Handlebars;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;
use std::path::Path;

/// The layout every mail's HTML part is rendered with (`templates/html/`).
pub const LAYOUT: &str = "correo";

/// Where the layout wants `[mail] footer`, which the composer adds to every mail.
pub const FOOTER_MARK: &str = "<!--pie-->";

/// `[mail] footer` as the last paragraph of the HTML part.
pub fn footer_paragraph(footer: &str) -> String {
    let lines: Vec<String> = footer.lines().map(escape).collect();
    format!(
        "<p style=\"margin:24px 0 0 0;padding-top:12px;border-top:1px solid #d1d5db;font-size:13px;color:#4b5563;\">{}</p>",
        lines.join("<br>")
    )
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    pub label: String,
    pub href: String,
    pub color: &'static str,
}

/// RFC 3986 unreserved characters stay as they are; everything else is escaped.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn mailto(to: &str, subject: &str, body: &str) -> String {
    format!(
        "mailto:{}?subject={}&body={}",
        utf8_percent_encode(to, QUERY),
        utf8_percent_encode(subject, QUERY),
        utf8_percent_encode(body, QUERY)
    )
}

const GREEN: &str = "#166534";
const RED: &str = "#991b1b";
const BLUE: &str = "#1e40af";

/// Buttons for a mail rendered from `template`, answering to `reply_to` (only tokenised
/// addresses, bound to the mail's recipient, get buttons: a shared address would prove
/// nothing) about `subject`.
pub fn actions(template: Template, reply_to: Option<&str>, subject: &str) -> Vec<Action> {
    let Some(reply_to) = reply_to else {
        return Vec::new();
    };
    let re = format!("RE: {subject}");
    let button = |label: &str, body: &str, color| Action {
        label: label.to_owned(),
        href: mailto(reply_to, &re, body),
        color,
    };
    use Template as T;
    match template {
        T::SolicitudAprobacion => vec![
            button("APROBAR", "APROBAR", GREEN),
            button("RECHAZAR", "RECHAZAR\nMotivo: ", RED),
        ],
        T::NuevaSolicitud
        | T::MensajeUsuario
        | T::MensajeTercero
        | T::Reabierto
        | T::Asignacion
        | T::AlertaSla
        | T::SinCategoria => vec![
            // Bare: the sender takes it, whoever of a group list's members taps it.
            button("Asignármela", "#asignar", BLUE),
            button("Pedir información", "#pendiente ", BLUE),
            button("Resolver", "#resolver ", GREEN),
            button("Nota interna", "#nota ", BLUE),
        ],
        // The approval overdue tells agents to change the approver if need be.
        T::AprobadorRequerido | T::AprobacionVencida => {
            vec![button("Indicar aprobador", "#aprobador ", BLUE)]
        }
        T::IncidenteCopia => vec![button("Es un requerimiento", "#requerimiento ", BLUE)],
        // The requester's survey: their own token address, so the rating counts.
        T::ResueltoEncuesta => vec![
            button("5 · Muy satisfecho", "5", GREEN),
            button("4 · Satisfecho", "4", GREEN),
            button("3 · Aceptable", "3", BLUE),
            button("2 · Insatisfecho", "2", RED),
            button("1 · Muy insatisfecho", "1", RED),
            button("No está resuelto", "No está resuelto: ", BLUE),
        ],
        // Mails that ask nothing of their reader, or whose answer is free text.
        T::AccionNoVerificada
        | T::AcuseRecibo
        | T::Catalogo
        | T::Aprobado
        | T::CierreCambio
        | T::CierreCancelado
        | T::CierreSinRespuesta
        | T::ComandoInvalido
        | T::DecisionRegistrada
        | T::EncuestaRegistrada
        | T::EnlaceIngreso
        | T::EsperaAprobacion
        | T::Incidente
        | T::InformacionFaltante
        | T::InformeMensual
        | T::LimiteRemitente
        | T::Rechazado
        | T::RespuestaAgente
        | T::RespuestaNoEntendida
        | T::RespuestaResumen
        | T::RespuestaSinEfecto
        | T::ResumenAprobaciones
        | T::SolicitanteNoVerificado => Vec::new(),
    }
}

fn hint(template: &str) -> &'static str {
    match template {
        "solicitud_aprobacion" => {
            "Toque un botón y envíe el correo que se abre (o responda con la palabra APROBAR o RECHAZAR):"
        }
        "resuelto_encuesta" => {
            "Toque su calificación y envíe el correo que se abre (puede añadir un comentario):"
        }
        _ => "Toque un botón, complete el texto y envíe el correo que se abre:",
    }
}

#[derive(Serialize)]
struct Layout<'a> {
    subject: &'a str,
    paragraphs: Vec<Vec<&'a str>>,
    actions: &'a [Action],
    actions_hint: &'static str,
    /// The ticket's page in the web panel (`[web] base_url`), for staff and approvers.
    panel: Option<&'a Action>,
}

/// The button to a page of the web panel: a plain link, not a mail to compose.
pub fn panel_button(label: &str, href: &str) -> Action {
    Action {
        label: label.to_owned(),
        href: href.to_owned(),
        color: BLUE,
    }
}

/// Blank lines separate paragraphs; single line breaks are kept inside one.
fn paragraphs(text: &str) -> Vec<Vec<&str>> {
    let mut out: Vec<Vec<&str>> = Vec::new();
    let mut current = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// HTML escaping for text and attribute values (handlebars' default also escapes `=`, which
/// would turn every `mailto:` query into entities that some clients show as typed).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub struct HtmlTemplates {
    registry: Handlebars<'static>,
}

impl HtmlTemplates {
    /// Loads `dir/html/*.html.hbs`, escaping everything: user text lands in HTML here.
    pub fn load(dir: &Path) -> Result<HtmlTemplates, String> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(escape);
        let path = dir.join("html").join(format!("{LAYOUT}.html.hbs"));
        registry
            .register_template_file(LAYOUT, &path)
            .map_err(|e| format!("html/{LAYOUT}.html.hbs: {e}"))?;
        Ok(HtmlTemplates { registry })
    }

    /// The HTML part of a one-off mail (an ops alert, a test mail) from the layout in
    /// `templates`, without buttons; `None`, with a warning, when the layout cannot be read
    /// (`check-config` names the problem): the mail then goes out as text alone.
    pub fn one_off(templates: &Path, name: &str, subject: &str, text: &str) -> Option<String> {
        match HtmlTemplates::load(templates).and_then(|h| h.render(name, subject, text, &[])) {
            Ok(html) => Some(html),
            Err(e) => {
                tracing::warn!(error = %e, "HTML layout unusable; mail sent as text only");
                None
            }
        }
    }

    pub fn render(
        &self,
        template: &str,
        subject: &str,
        text: &str,
        actions: &[Action],
    ) -> Result<String, String> {
        self.render_with_panel(template, subject, text, actions, None)
    }

    /// [`HtmlTemplates::render`] with a button to the web panel.
    pub fn render_with_panel(
        &self,
        template: &str,
        subject: &str,
        text: &str,
        actions: &[Action],
        panel: Option<&Action>,
    ) -> Result<String, String> {
        let data = Layout {
            subject,
            paragraphs: paragraphs(text),
            actions,
            actions_hint: hint(template),
            panel,
        };
        self.registry
            .render(LAYOUT, &data)
            .map_err(|e| format!("html/{LAYOUT}.html.hbs: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> HtmlTemplates {
        HtmlTemplates::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("templates")).unwrap()
    }

    #[test]
    fn approval_buttons_compose_the_answer_to_the_token_address() {
        let a = actions(
            Template::SolicitudAprobacion,
            Some("mesayuda+abc123@example.test"),
            "[REQ-4] Aprobación requerida: Acceso VPN",
        );
        assert_eq!(a.len(), 2);
        assert_eq!(
            a[0].href,
            "mailto:mesayuda%2Babc123%40example.test?subject=RE%3A%20%5BREQ-4%5D%20Aprobaci%C3%B3n%20requerida%3A%20Acceso%20VPN&body=APROBAR"
        );
        assert!(a[1].href.ends_with("&body=RECHAZAR%0AMotivo%3A%20"));
    }

    #[test]
    fn survey_buttons_rate_from_the_requesters_token_address() {
        let a = actions(
            Template::ResueltoEncuesta,
            Some("mesayuda+r1@example.test"),
            "[REQ-4] Solicitud resuelta",
        );
        let bodies: Vec<&str> = a
            .iter()
            .map(|b| b.href.rsplit("&body=").next().unwrap())
            .collect();
        assert_eq!(
            bodies,
            ["5", "4", "3", "2", "1", "No%20est%C3%A1%20resuelto%3A%20"]
        );
        assert!(a
            .iter()
            .all(|b| b.href.starts_with("mailto:mesayuda%2Br1%40example.test?")));
    }

    #[test]
    fn no_buttons_without_a_personal_address() {
        assert!(actions(Template::SolicitudAprobacion, None, "x").is_empty());
        assert!(actions(Template::AcuseRecibo, Some("m+t@x"), "x").is_empty());
    }

    #[test]
    fn the_html_part_escapes_user_text_and_keeps_every_line() {
        let html = shipped()
            .render(
                "acuse_recibo",
                "[REQ-1] <b>Pérez & Cía</b>",
                "Estimado(a) Ana:\n\nLínea uno\nLínea <script>alert(1)</script>\n",
                &[],
            )
            .unwrap();
        assert!(
            html.contains("&lt;b&gt;Pérez &amp; Cía&lt;/b&gt;"),
            "{html}"
        );
        assert!(!html.contains("<script>"));
        assert!(html.contains("Línea uno<br>Línea &lt;script&gt;"), "{html}");
        assert!(html.contains("<html lang=\"es\">"));
        assert!(!html.contains("<img") && !html.contains("src="));
    }

    #[test]
    fn buttons_are_links_in_the_html() {
        let a = actions(Template::SolicitudAprobacion, Some("m+t@example.test"), "s");
        let html = shipped()
            .render("solicitud_aprobacion", "s", "Texto", &a)
            .unwrap();
        assert!(html.contains(">APROBAR</a>") && html.contains(">RECHAZAR</a>"));
        assert!(
            html.contains(
                "href=\"mailto:m%2Bt%40example.test?subject=RE%3A%20s&amp;body=APROBAR\""
            ),
            "{html}"
        );
    }
}
