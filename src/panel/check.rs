//! `check-config` for the panel: every page template parses and renders with sample data, and
//! the stylesheet is there, as the daemon will need them when it starts the panel.

use std::path::Path;

/// The number of pages rendered, or one message per problem (file named).
pub fn check_pages(dir: &Path) -> Result<usize, Vec<String>> {
    let pages = super::load_pages(dir).map_err(|e| vec![e.to_string()])?;
    let mut errors = Vec::new();
    if let Err(e) = std::fs::metadata(dir.join("estilo.css")) {
        errors.push(format!("{}: {e}", dir.join("estilo.css").display()));
    }
    let sources: Vec<String> = super::PAGES
        .iter()
        .filter_map(|name| std::fs::read_to_string(dir.join(format!("{name}.html.hbs"))).ok())
        .collect();
    let sample = crate::mail::template_check::sample_data(&sources);
    for name in super::PAGES {
        if let Err(e) = pages.render(name, &sample) {
            errors.push(format!("{name}.html.hbs: {e}"));
        }
    }
    if errors.is_empty() {
        Ok(super::PAGES.len())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_pages_pass_and_a_broken_one_is_named() {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/panel");
        assert_eq!(check_pages(&shipped), Ok(super::super::PAGES.len()));
        let d = tempfile::tempdir().unwrap();
        for e in std::fs::read_dir(&shipped).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), d.path().join(e.file_name())).unwrap();
        }
        std::fs::write(d.path().join("sla.html.hbs"), "{{#each groups}}sin cerrar").unwrap();
        let errors = check_pages(d.path()).unwrap_err();
        assert!(errors[0].contains("sla.html.hbs"), "{errors:?}");
    }
}
