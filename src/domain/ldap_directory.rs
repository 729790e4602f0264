//! What an LDAP directory (Active Directory, OpenLDAP) says about people, turned into the help
//! desk's people: the role from group membership or from the title, the immediate boss from
//! `manager`, the substitute from an attribute. Pure: `crate::ldap` reads the entries, and
//! [`Directory::from_toml_over`] puts the TOML file's additions and overrides on top.

use std::collections::{BTreeMap, HashMap};

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::directory::{Person, Role};
use super::text::{canonical_address, is_email};

/// One person entry as read, attribute values already picked by the configured names. Stored
/// as read (JSON in the database), so that a restart while LDAP is down finds it again and
/// the rules of the day apply to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub dn: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub title: Option<String>,
    pub department: Option<String>,
    pub phone: Option<String>,
    /// The boss's DN (`manager`).
    pub manager: Option<String>,
    /// The DNs of the groups the person is a member of (`memberOf`).
    pub groups: Vec<String>,
    /// A DN or an e-mail address, when a substitute attribute is configured.
    pub substitute: Option<String>,
}

/// When two rules match, the higher position wins: a director who is also in the help-desk
/// group approves as director.
const PRECEDENCE: [Role; 9] = [
    Role::SeguridadInformacion,
    Role::Ministro,
    Role::Viceministro,
    Role::Director,
    Role::Subdirector,
    Role::JefeOficina,
    Role::Coordinador,
    Role::Especialista,
    Role::Agente,
];

/// Roles by group membership (group DNs) and by title (regexes); anybody else is a
/// `funcionario`.
#[derive(Debug, Clone, Default)]
pub struct RoleRules {
    groups: Vec<(Role, Vec<String>)>,
    titles: Vec<(Role, Vec<Regex>)>,
}

impl RoleRules {
    /// `Err((key, message))` names the offending rule, e.g. `roles_by_title.director`.
    pub fn new(
        by_group: &BTreeMap<Role, Vec<String>>,
        by_title: &BTreeMap<Role, Vec<String>>,
    ) -> Result<RoleRules, (String, String)> {
        let mut rules = RoleRules::default();
        for role in PRECEDENCE {
            if let Some(dns) = by_group.get(&role) {
                rules
                    .groups
                    .push((role, dns.iter().map(|d| normalize_dn(d)).collect()));
            }
            if let Some(patterns) = by_title.get(&role) {
                let compiled = patterns
                    .iter()
                    .map(|p| {
                        Regex::new(p).map_err(|e| {
                            (
                                format!("roles_by_title.{}", role.as_str()),
                                format!("`{p}`: {e}"),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                rules.titles.push((role, compiled));
            }
        }
        for role in [Role::Funcionario] {
            if by_group.contains_key(&role) || by_title.contains_key(&role) {
                return Err((
                    format!("roles_by_group.{}", role.as_str()),
                    "funcionario is what everybody else is; it needs no rule".into(),
                ));
            }
        }
        Ok(rules)
    }

    /// The highest role in [`PRECEDENCE`] that a group or a title rule gives.
    pub fn role(&self, e: &Entry) -> Role {
        let groups: Vec<String> = e.groups.iter().map(|g| normalize_dn(g)).collect();
        let title = e.title.as_deref();
        PRECEDENCE
            .into_iter()
            .find(|role| {
                let by_group = self
                    .groups
                    .iter()
                    .filter(|(r, _)| r == role)
                    .any(|(_, dns)| dns.iter().any(|d| groups.contains(d)));
                let by_title = title.is_some_and(|t| {
                    self.titles
                        .iter()
                        .filter(|(r, _)| r == role)
                        .any(|(_, res)| res.iter().any(|re| re.is_match(t)))
                });
                by_group || by_title
            })
            .unwrap_or(Role::Funcionario)
    }
}

/// DNs compare case-insensitively and without the spaces AD and people put around `,` and `=`.
pub fn normalize_dn(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| rdn.split('=').map(str::trim).collect::<Vec<_>>().join("="))
        .collect::<Vec<_>>()
        .join(",")
        .to_lowercase()
}

/// What a read gave: the people, and how many entries were left out for having no valid
/// e-mail address (a service account, a room).
#[derive(Debug, Clone, Default)]
pub struct People {
    pub people: Vec<Person>,
    pub without_email: usize,
}

impl People {
    /// How many people hold each role other than `funcionario`.
    pub fn role_counts(&self) -> Vec<(Role, usize)> {
        Role::ALL
            .into_iter()
            .filter(|r| *r != Role::Funcionario)
            .map(|r| (r, self.people.iter().filter(|p| p.role == r).count()))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

/// The people of `entries`, in their order; the first entry wins when two share an address.
pub fn people(entries: &[Entry], rules: &RoleRules) -> People {
    let email_of = |e: &Entry| {
        e.email
            .as_deref()
            .map(str::trim)
            .filter(|m| is_email(m))
            .map(canonical_address)
    };
    let by_dn: HashMap<String, String> = entries
        .iter()
        .filter_map(|e| Some((normalize_dn(&e.dn), email_of(e)?)))
        .collect();
    // A DN names someone in this read; an address is taken as written.
    let resolve = |v: &str| -> Option<String> {
        let v = v.trim();
        if is_email(v) {
            Some(canonical_address(v))
        } else {
            by_dn.get(&normalize_dn(v)).cloned()
        }
    };
    let mut out = People::default();
    let mut seen = std::collections::HashSet::new();
    for e in entries {
        let Some(email) = email_of(e) else {
            out.without_email += 1;
            continue;
        };
        if !seen.insert(email.clone()) {
            continue;
        }
        let text = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let boss = e
            .manager
            .as_deref()
            .and_then(resolve)
            .filter(|b| *b != email);
        let substitute = e
            .substitute
            .as_deref()
            .and_then(resolve)
            .filter(|s| *s != email);
        out.people.push(Person {
            name: text(&e.name).unwrap_or_else(|| email.clone()),
            role: rules.role(e),
            office: text(&e.department).unwrap_or_default(),
            substitute,
            away_from: None,
            away_until: None,
            position: text(&e.title),
            phone: text(&e.phone),
            boss,
            email,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::directory::Directory;

    const BASE: &str = "OU=Personas,DC=minhacienda,DC=test";

    fn dn(cn: &str) -> String {
        format!("CN={cn},{BASE}")
    }

    fn entry(cn: &str, title: &str, department: &str, manager: Option<&str>) -> Entry {
        Entry {
            dn: dn(cn),
            email: Some(format!("{}@minhacienda.test", cn.to_lowercase())),
            name: Some(cn.to_owned()),
            title: Some(title.to_owned()),
            department: Some(department.to_owned()),
            phone: Some("+57 601 381 1700".into()),
            manager: manager.map(dn),
            groups: Vec::new(),
            substitute: None,
        }
    }

    fn rules() -> RoleRules {
        let mut by_group = BTreeMap::new();
        by_group.insert(
            Role::Agente,
            vec!["cn=Mesa de Ayuda, ou=Grupos,dc=minhacienda,dc=test".to_owned()],
        );
        by_group.insert(
            Role::SeguridadInformacion,
            vec!["CN=Seguridad,OU=Grupos,DC=minhacienda,DC=test".to_owned()],
        );
        let mut by_title = BTreeMap::new();
        by_title.insert(Role::Director, vec!["^Director".to_owned()]);
        by_title.insert(Role::Subdirector, vec!["^Subdirector".to_owned()]);
        by_title.insert(Role::Coordinador, vec!["(?i)^coordinador".to_owned()]);
        RoleRules::new(&by_group, &by_title).unwrap()
    }

    fn ministry() -> Vec<Entry> {
        let mut agent = entry(
            "Laura",
            "Técnica de soporte",
            "Mesa de Ayuda",
            Some("Coord"),
        );
        agent.groups = vec!["CN=Mesa de Ayuda,OU=Grupos,DC=minhacienda,DC=test".into()];
        let mut director_in_group = entry("Dora", "Directora TIC", "Dirección TIC", None);
        director_in_group.title = Some("Director de Tecnología".into());
        director_in_group.groups = agent.groups.clone();
        vec![
            director_in_group,
            entry(
                "Sub",
                "Subdirectora de Infraestructura",
                "Infraestructura",
                Some("Dora"),
            ),
            entry(
                "Coord",
                "COORDINADOR de soporte",
                "Infraestructura",
                Some("Sub"),
            ),
            agent,
            entry(
                "Ana",
                "Profesional especializado",
                "Infraestructura",
                Some("Coord"),
            ),
            Entry {
                dn: dn("Sala 5"),
                email: None,
                ..Entry::default()
            },
        ]
    }

    #[test]
    fn roles_come_from_groups_or_titles_and_the_higher_position_wins() {
        let p = people(&ministry(), &rules());
        let role = |e: &str| {
            p.people
                .iter()
                .find(|x| x.email == e)
                .map(|x| x.role)
                .unwrap()
        };
        assert_eq!(role("laura@minhacienda.test"), Role::Agente);
        assert_eq!(role("coord@minhacienda.test"), Role::Coordinador);
        assert_eq!(role("sub@minhacienda.test"), Role::Subdirector);
        assert_eq!(role("ana@minhacienda.test"), Role::Funcionario);
        // In the agents' group, but the title says director: a lower position does not
        // demote her.
        assert_eq!(role("dora@minhacienda.test"), Role::Director);
        assert_eq!(p.without_email, 1);
        let counts = p.role_counts();
        assert!(counts.contains(&(Role::Agente, 1)), "{counts:?}");
        assert!(counts.contains(&(Role::Subdirector, 1)), "{counts:?}");
    }

    #[test]
    fn the_boss_is_the_first_approver_up_the_manager_chain() {
        let p = people(&ministry(), &rules());
        let d = Directory::from_toml_over(p.people, "", "t").unwrap();
        // Ana reports to a coordinator, who cannot approve: the subdirector above does.
        let ana = d.person("ana@minhacienda.test").unwrap();
        assert_eq!(ana.boss.as_deref(), Some("coord@minhacienda.test"));
        assert_eq!(
            d.boss_of("ana@minhacienda.test").unwrap().email,
            "sub@minhacienda.test"
        );
        assert_eq!(ana.office, "Infraestructura");
        assert_eq!(ana.position.as_deref(), Some("Profesional especializado"));
        assert_eq!(ana.phone.as_deref(), Some("+57 601 381 1700"));
        // Nobody above Dora.
        assert!(d.boss_of("dora@minhacienda.test").is_none());
        // The boss is offered first when the requester must choose.
        assert_eq!(
            d.approver_choices("ana@minhacienda.test")[0].email,
            "sub@minhacienda.test"
        );
    }

    #[test]
    fn dns_compare_without_case_or_spaces() {
        assert_eq!(
            normalize_dn("CN=Ana Gómez , OU = Personas,DC=x"),
            "cn=ana gómez,ou=personas,dc=x"
        );
        let mut e = ministry();
        e[4].manager = Some("cn=coord, ou=personas, dc=minhacienda, dc=test".into());
        let p = people(&e, &rules());
        assert_eq!(p.people[4].boss.as_deref(), Some("coord@minhacienda.test"));
        // A manager outside the read (or a broken reference) is no boss.
        e[4].manager = Some(dn("Nadie"));
        assert!(people(&e, &rules()).people[4].boss.is_none());
    }

    #[test]
    fn substitutes_from_an_attribute_by_dn_or_address_then_the_toml_file_overrides() {
        let mut e = ministry();
        e[1].substitute = Some(dn("Coord"));
        e[0].substitute = Some("Sub@MinHacienda.test".into());
        let p = people(&e, &rules());
        assert_eq!(
            p.people[1].substitute.as_deref(),
            Some("coord@minhacienda.test")
        );
        assert_eq!(
            p.people[0].substitute.as_deref(),
            Some("sub@minhacienda.test")
        );
        let toml = r#"
[[person]]
email = "sub@minhacienda.test"
substitute = "ana@minhacienda.test"
away_from = 2026-12-01
away_until = 2026-12-31

[[person]]
email = "externo@contratista.test"
name = "Contratista Externo"
role = "especialista"
office = "Proveedor"
"#;
        let d = Directory::from_toml_over(p.people, toml, "directory.toml").unwrap();
        let sub = d.person("sub@minhacienda.test").unwrap();
        assert_eq!(sub.substitute.as_deref(), Some("ana@minhacienda.test"));
        assert!(sub.is_away("2026-12-24".parse().unwrap()));
        // LDAP's fields stay where the file sets nothing.
        assert_eq!(sub.role, Role::Subdirector);
        assert_eq!(sub.office, "Infraestructura");
        assert_eq!(sub.boss.as_deref(), Some("dora@minhacienda.test"));
        assert_eq!(
            d.person("externo@contratista.test").unwrap().role,
            Role::Especialista
        );
        assert_eq!(d.len(), 6);
    }

    #[test]
    fn an_override_of_someone_ldap_lacks_is_set_aside_not_an_error() {
        // Ana left the ministry, but the file still records her holidays and her group.
        let mut e = ministry();
        e.retain(|x| x.name.as_deref() != Some("Ana"));
        let p = people(&e, &rules());
        let toml = "[[person]]\nemail = \"ana@minhacienda.test\"\naway_from = 2026-12-01\n\
                    [[group]]\ncode = \"redes\"\nname = \"Redes\"\n\
                    members = [\"ana@minhacienda.test\", \"laura@minhacienda.test\"]\n";
        let d = Directory::from_toml_over(p.people, toml, "directory.toml").unwrap();
        assert!(d.person("ana@minhacienda.test").is_none());
        assert_eq!(
            d.group("redes").unwrap().members,
            ["laura@minhacienda.test"]
        );
        assert_eq!(d.set_aside().len(), 2, "{:?}", d.set_aside());
        // Without LDAP the same entry is incomplete, as always.
        let e = Directory::from_toml(toml, "directory.toml").unwrap_err();
        assert_eq!(e.key(), Some("name"), "{e}");
        let twice = "[[person]]\nemail = \"ana@minhacienda.test\"\n\
                     [[person]]\nemail = \"ANA@minhacienda.test\"\n";
        let p = people(&ministry(), &rules());
        let e = Directory::from_toml_over(p.people, twice, "directory.toml").unwrap_err();
        assert!(e.to_string().contains("duplicate"), "{e}");
    }

    #[test]
    fn bad_rules_are_named() {
        let mut by_title = BTreeMap::new();
        by_title.insert(Role::Director, vec!["^Director(".to_owned()]);
        let (key, _) = RoleRules::new(&BTreeMap::new(), &by_title).unwrap_err();
        assert_eq!(key, "roles_by_title.director");
        let mut f = BTreeMap::new();
        f.insert(Role::Funcionario, vec!["x".to_owned()]);
        assert!(RoleRules::new(&f, &BTreeMap::new()).is_err());
    }
}
