//! `mesayuda check-config`: render every template with sample data (every variable a template
//! names gets a sample value, so a syntax error or a broken helper shows up before a real mail
//! needs it), and reach the database, the mailbox and the SMTP server.

use crate::domain::directory::{Directory, Role};
use handlebars::Handlebars;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::path::Path;

/// Renders each `<name>.asunto.hbs` / `<name>.cuerpo.hbs` pair; returns the names rendered, or
/// one message per template that failed.
/// The HTML part of template `name`, with the buttons its mail would carry.
fn render_html(
    html: &crate::mail::html::HtmlTemplates,
    text: &Handlebars<'_>,
    name: &str,
    sample: &Value,
) -> Result<(), String> {
    let part = |p: &str| {
        text.render(&format!("{name}.{p}"), sample)
            .unwrap_or_default()
    };
    let (subject, body) = (part("asunto"), part("cuerpo"));
    let actions = crate::mail::html::actions(
        name,
        Some("mesayuda+token@example.org"),
        &subject,
        "agente@example.org",
    );
    html.render(name, &subject, &body, &actions)
        .map(|_| ())
        .map_err(|e| format!("{name} (html): {e}"))
}

pub fn render_all_templates(dir: &Path) -> Result<Vec<String>, Vec<String>> {
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
        let mut ok = true;
        for part in ["asunto", "cuerpo"] {
            let t = format!("{name}.{part}");
            if !registry.has_template(&t) {
                if !errors.iter().any(|e| e.starts_with(&format!("{t}.hbs"))) {
                    errors.push(format!("{t}.hbs is missing"));
                }
                ok = false;
                continue;
            }
            if let Err(e) = registry.render(&t, &sample) {
                errors.push(format!("{t}.hbs: {e}"));
                ok = false;
            }
        }
        if ok {
            if let Some(Err(e)) = html
                .as_ref()
                .map(|h| render_html(h, &registry, name, &sample))
            {
                errors.push(e);
                continue;
            }
            rendered.push(name.clone());
        }
    }
    if errors.is_empty() {
        Ok(rendered)
    } else {
        Err(errors)
    }
}

/// What the procedure needs of the reference data but does not stop the daemon: one Spanish
/// line per problem, for `check-config` to print as `aviso:` without failing.
/// `agents` are the ones mail reaches (directory `agente`s, else `[escalation] agents`).
pub fn procedure_warnings(
    directory: &Directory,
    incident_address: Option<&str>,
    agents: &[String],
) -> Vec<String> {
    let mut out = Vec::new();
    for p in directory.approvers_without_substitute() {
        out.push(format!(
            "{} ({}, {}) no tiene suplente en el directorio: el procedimiento exige que cada \
             aprobador designe uno (clave `substitute`)",
            p.name,
            p.email,
            p.role.label()
        ));
    }
    if incident_address.is_none_or(|a| a.trim().is_empty()) && agents.is_empty() {
        out.push(
            "los incidentes no llegarían a nadie: no hay `[incidents] address` ni agentes \
             (cargo `agente` en el directorio o `[escalation] agents`)"
                .to_owned(),
        );
    }
    // Without a directory nobody holds any role; that is said once, not per role.
    if directory.is_empty() {
        out.push(
            "sin directorio (`[paths] directory`): no hay aprobadores, agentes ni escalamiento \
             por cargos"
                .to_owned(),
        );
    } else {
        for role in Role::ALL {
            if role != Role::Funcionario && directory.with_role(role).is_empty() {
                out.push(format!(
                    "nadie en el directorio tiene el cargo `{}` ({})",
                    role.as_str(),
                    role.label()
                ));
            }
        }
    }
    out
}

/// Services whose resolver group the directory does not have: their work would silently go to
/// the agents instead (issue 17 item 10: a group nobody is in).
pub fn catalog_warnings(
    catalog: &crate::domain::catalog::Catalog,
    directory: &Directory,
) -> Vec<String> {
    catalog
        .services()
        .iter()
        .filter_map(|s| {
            let g = s.group.as_deref()?;
            directory.group(g).is_none().then(|| {
                format!(
                    "el servicio `{}` ({}) nombra el grupo `{g}`, que el directorio no tiene: \
                     su trabajo iría a los agentes",
                    s.code, s.name
                )
            })
        })
        .collect()
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
        insert_path(&mut inner, p, Value::String(format!("<{p}>")));
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

    #[test]
    fn the_shipped_directory_warns_of_nothing() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/directory.toml"),
        )
        .unwrap();
        let d = Directory::from_toml(&text, "directory.toml").unwrap();
        let agents: Vec<String> = d
            .with_role(Role::Agente)
            .iter()
            .map(|p| p.email.clone())
            .collect();
        assert_eq!(procedure_warnings(&d, None, &agents), Vec::<String>::new());
    }

    #[test]
    fn missing_substitutes_unreachable_incidents_and_empty_roles_are_named() {
        let d = Directory::from_toml(
            "[[person]]\nemail = \"jefe@x.test\"\nname = \"Jefa Uno\"\nrole = \"director\"\n\
             office = \"D\"\n",
            "d.toml",
        )
        .unwrap();
        let w = procedure_warnings(&d, None, &[]);
        assert!(
            w[0].starts_with("Jefa Uno (jefe@x.test, Director(a)) no tiene suplente"),
            "{w:?}"
        );
        assert!(
            w[1].starts_with("los incidentes no llegarían a nadie"),
            "{w:?}"
        );
        assert!(w.iter().any(|l| l.contains("`agente`")), "{w:?}");
        assert!(!w.iter().any(|l| l.contains("`director`")), "{w:?}");
        assert!(!w.iter().any(|l| l.contains("`funcionario`")), "{w:?}");
        // An incident address, or agents from the configuration, reach someone.
        let with_address = procedure_warnings(&d, Some("incidentes@x.test"), &[]);
        assert!(!with_address.iter().any(|l| l.contains("incidentes")));
        let with_agents = procedure_warnings(&d, None, &["a@x.test".to_owned()]);
        assert!(!with_agents.iter().any(|l| l.contains("incidentes")));
        let none = procedure_warnings(&Directory::default(), None, &[]);
        assert_eq!(none.len(), 2, "{none:?}");
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

    #[test]
    fn a_service_naming_a_group_the_directory_lacks_is_warned_of() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
        let catalog = crate::domain::catalog::Catalog::load(&root.join("catalog.toml")).unwrap();
        let directory = Directory::load(&root.join("directory.toml")).unwrap();
        assert_eq!(catalog_warnings(&catalog, &directory), Vec::<String>::new());
        let w = catalog_warnings(&catalog, &Directory::default());
        assert!(
            w.iter()
                .any(|w| w.contains("PRESTAMO-PORTATIL") && w.contains("soporte-sitio")),
            "{w:?}"
        );
    }
}
