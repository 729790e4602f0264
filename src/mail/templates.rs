//! Spanish mail texts live in `templates/` as handlebars files, so the service centre can word
//! them without a rebuild: `<name>.asunto.hbs` (one line) and `<name>.cuerpo.hbs`.

use crate::domain::template::Template;
use handlebars::Handlebars;
use serde::Serialize;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template directory {dir}: {message}")]
    Load { dir: String, message: String },
    #[error("template `{name}`: {message}")]
    Render { name: String, message: String },
}

pub struct Templates {
    registry: Handlebars<'static>,
    html: super::html::HtmlTemplates,
}

#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
}

impl Templates {
    pub fn load(dir: &Path) -> Result<Templates, TemplateError> {
        let load_err = |message: String| TemplateError::Load {
            dir: dir.display().to_string(),
            message,
        };
        let mut registry = Handlebars::new();
        // Plain-text mail: HTML escaping would turn "Pérez & Cía" into entities.
        registry.register_escape_fn(handlebars::no_escape);
        registry.set_strict_mode(true);
        let entries = std::fs::read_dir(dir).map_err(|e| load_err(e.to_string()))?;
        for entry in entries {
            let path = entry.map_err(|e| load_err(e.to_string()))?.path();
            let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
                continue;
            };
            if let Some(name) = file.strip_suffix(".hbs") {
                registry
                    .register_template_file(name, &path)
                    .map_err(|e| load_err(format!("{file}: {e}")))?;
            }
        }
        // Every template the daemon may render: a missing file fails at start, not at the
        // first mail that needs it.
        for name in Template::all() {
            for part in ["asunto", "cuerpo"] {
                if !registry.has_template(&format!("{name}.{part}")) {
                    return Err(load_err(format!("missing {name}.{part}.hbs")));
                }
            }
        }
        let html = super::html::HtmlTemplates::load(dir).map_err(load_err)?;
        Ok(Templates { registry, html })
    }

    /// The HTML alternative of a rendered mail: the same subject and text, with `actions`.
    pub fn render_html(
        &self,
        name: &str,
        rendered: &Rendered,
        actions: &[super::html::Action],
    ) -> Result<String, TemplateError> {
        self.render_html_with_panel(name, rendered, actions, None)
    }

    /// [`Templates::render_html`] with a button to the web panel.
    pub fn render_html_with_panel(
        &self,
        name: &str,
        rendered: &Rendered,
        actions: &[super::html::Action],
        panel: Option<&super::html::Action>,
    ) -> Result<String, TemplateError> {
        self.html
            .render_with_panel(name, &rendered.subject, &rendered.body, actions, panel)
            .map_err(|message| TemplateError::Render {
                name: format!("{name} (html)"),
                message,
            })
    }

    pub fn render<T: Serialize>(&self, name: &str, data: &T) -> Result<Rendered, TemplateError> {
        let render = |part: &str| {
            self.registry
                .render(&format!("{name}.{part}"), data)
                .map_err(|e| TemplateError::Render {
                    name: format!("{name}.{part}"),
                    message: e.to_string(),
                })
        };
        Ok(Rendered {
            subject: render("asunto")?.trim().to_owned(),
            body: render("cuerpo")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_templates_load_and_render_without_escaping() {
        let t = Templates::load(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("templates")
                .as_path(),
        )
        .unwrap();
        let r = t
            .render(
                "acuse_recibo",
                &serde_json::json!({
                    "ticket": "REQ-4", "subject": "Pérez & Cía <x>", "requester_name": "Ana",
                    "requester": "ana@example.test", "created_at": "jueves 26 de noviembre de 2026, 10:00 a. m.",
                    "service": "Instalación de impresora", "service_code": "IMPRESORA", "priority": "media",
                    "sla_target": "8,0 horas hábiles",
                    "sla_due_at": "jueves 26 de noviembre de 2026, 6:00 p. m.",
                }),
            )
            .unwrap();
        assert!(r.subject.contains("[REQ-4]") && r.subject.contains("Pérez & Cía <x>"));
        assert!(r.body.contains("REQ-4"));
        // The acknowledgement tells the requester what to expect and by when.
        assert!(r.body.contains("Prioridad: media"), "{}", r.body);
        assert!(r.body.contains("Tiempo de solución: 8,0 horas hábiles"));
        assert!(r
            .body
            .contains("Fecha estimada de solución: jueves 26 de noviembre de 2026, 6:00 p. m."));
    }
}
