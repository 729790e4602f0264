//! What the procedure needs of the reference data (directory, catalogue) but does not stop
//! the daemon: `check-config` prints each as `aviso:` without failing.

use super::catalog::Catalog;
use super::directory::{Directory, Role};

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

/// Services whose resolver group the directory does not have, or has with nobody to mail
/// (no members left, no list address): their work would silently go to the agents instead
/// (issue 17 item 10: a group nobody is in).
pub fn catalog_warnings(catalog: &Catalog, directory: &Directory) -> Vec<String> {
    catalog
        .services()
        .iter()
        .filter_map(|s| {
            let g = s.group.as_deref()?;
            match directory.group(g) {
                None => Some(format!(
                    "el servicio `{}` ({}) nombra el grupo `{g}`, que el directorio no tiene: \
                     su trabajo iría a los agentes",
                    s.code, s.name
                )),
                Some(group) if group.recipients().is_empty() => Some(format!(
                    "el grupo `{g}` del servicio `{}` ({}) no tiene miembros ni dirección: su \
                     trabajo iría a los agentes",
                    s.code, s.name
                )),
                Some(_) => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

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
