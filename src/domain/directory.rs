//! The people the help desk knows: requesters, the agents and specialists who work tickets,
//! the approvers the procedure lists (directors, subdirectors, heads of office,
//! vice-ministers, the minister) with their substitutes and absences, and the
//! information-security officer. Read from a TOML file of `[[person]]` entries; pure apart
//! from [`Directory::load`].

use std::collections::HashMap;
use std::path::Path;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::catalog::toml_list::{self, Problem};
use super::group::{self, Group};
use super::text::{canonical_address, fold, is_email};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Funcionario,
    Agente,
    Especialista,
    Coordinador,
    Subdirector,
    Director,
    JefeOficina,
    Viceministro,
    Ministro,
    SeguridadInformacion,
}

impl Role {
    pub const ALL: [Role; 10] = [
        Role::Funcionario,
        Role::Agente,
        Role::Especialista,
        Role::Coordinador,
        Role::Subdirector,
        Role::Director,
        Role::JefeOficina,
        Role::Viceministro,
        Role::Ministro,
        Role::SeguridadInformacion,
    ];

    /// The TOML name, e.g. `"jefe_oficina"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Funcionario => "funcionario",
            Role::Agente => "agente",
            Role::Especialista => "especialista",
            Role::Coordinador => "coordinador",
            Role::Subdirector => "subdirector",
            Role::Director => "director",
            Role::JefeOficina => "jefe_oficina",
            Role::Viceministro => "viceministro",
            Role::Ministro => "ministro",
            Role::SeguridadInformacion => "seguridad_informacion",
        }
    }

    /// Spanish, for people: `"Jefe de oficina"`, `"Subdirector(a)"`, … (the directory does not
    /// record gender, so the position is written for either).
    pub fn label(self) -> &'static str {
        match self {
            Role::Funcionario => "Funcionario(a)",
            Role::Agente => "Agente de soporte",
            Role::Especialista => "Especialista",
            Role::Coordinador => "Coordinador(a)",
            Role::Subdirector => "Subdirector(a)",
            Role::Director => "Director(a)",
            Role::JefeOficina => "Jefe de oficina",
            Role::Viceministro => "Viceministro(a)",
            Role::Ministro => "Ministro(a)",
            Role::SeguridadInformacion => "Seguridad de la información",
        }
    }

    /// Agents, specialists and coordinators: the people who are assigned tickets.
    pub fn works_tickets(self) -> bool {
        matches!(self, Role::Agente | Role::Especialista | Role::Coordinador)
    }

    /// Coordinador, subdirector or director: who answers for the SLA and reads the
    /// compliance report (the panel's `/sla` and `/cumplimiento`).
    pub fn supervises(self) -> bool {
        matches!(self, Role::Coordinador | Role::Subdirector | Role::Director)
    }

    /// The roles the procedure lets a requester choose as approver.
    pub fn can_approve_as_boss(self) -> bool {
        matches!(
            self,
            Role::Director
                | Role::Subdirector
                | Role::JefeOficina
                | Role::Viceministro
                | Role::Ministro
        )
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    /// The TOML names.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| format!("unknown role `{s}`"))
    }
}

#[derive(Debug, Clone)]
pub struct Person {
    /// Canonical: lowercase, without `+detail`.
    pub email: String,
    pub name: String,
    pub role: Role,
    pub office: String,
    /// For approvers: who approves while they are away (canonical e-mail). The procedure asks
    /// every approver to designate one.
    pub substitute: Option<String>,
    pub away_from: Option<NaiveDate>,
    pub away_until: Option<NaiveDate>,
    /// The position as the organisation writes it (LDAP `title`), when known.
    pub position: Option<String>,
    /// LDAP `telephoneNumber`, when known.
    pub phone: Option<String>,
    /// Their immediate boss (canonical e-mail), from LDAP `manager`.
    pub boss: Option<String>,
}

impl Person {
    /// `away_from <= today <= away_until`, a missing bound being open; never away when both
    /// are missing.
    pub fn is_away(&self, today: NaiveDate) -> bool {
        if self.away_from.is_none() && self.away_until.is_none() {
            return false;
        }
        self.away_from.is_none_or(|from| from <= today)
            && self.away_until.is_none_or(|until| today <= until)
    }

    /// Agente, especialista or coordinador.
    pub fn works_tickets(&self) -> bool {
        self.role.works_tickets()
    }

    /// Director, subdirector, jefe de oficina, viceministro or ministro.
    pub fn can_approve_as_boss(&self) -> bool {
        self.role.can_approve_as_boss()
    }

    /// `"Name, Position"`: how a mail names someone the reader may not know by address.
    pub fn label(&self) -> String {
        format!("{}, {}", self.name, self.position_label())
    }

    /// The position as the organisation writes it ("Subdirectora de Infraestructura
    /// Tecnológica") when the directory has it, else the role's Spanish name.
    pub fn position_label(&self) -> String {
        match self.position.as_deref().map(str::trim) {
            Some(p) if !p.is_empty() => p.to_owned(),
            _ => self.role.label().to_owned(),
        }
    }

    /// `Name <email>`, for mail headers and messages.
    pub fn mailbox(&self) -> String {
        format!("{} <{}>", self.name, self.email)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Directory {
    people: Vec<Person>,
    by_email: HashMap<String, usize>,
    groups: Vec<Group>,
    set_aside: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("cannot read directory {file}: {error}")]
    Unreadable {
        file: String,
        #[source]
        error: std::io::Error,
    },
    /// Not TOML, or the top level is not a list of `[[person]]` tables.
    #[error("directory {file}: {message}")]
    Invalid { file: String, message: String },
    /// `entry` is the person's e-mail as written, or `entry #n` (1-based) when it has none.
    #[error("directory {file}: {entry}: key `{key}`: {message}")]
    BadEntry {
        file: String,
        entry: String,
        key: String,
        message: String,
    },
}

impl DirectoryError {
    /// The offending key, when the error is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            DirectoryError::BadEntry { key, .. } => Some(key),
            _ => None,
        }
    }
}

const PERSON_KEYS: &[&str] = &[
    "email",
    "name",
    "role",
    "office",
    "substitute",
    "away_from",
    "away_until",
    "position",
    "phone",
];

impl Directory {
    /// Parses and validates a directory; `source` names the file in errors.
    pub fn from_toml(text: &str, source: &str) -> Result<Directory, DirectoryError> {
        Directory::read(Vec::new(), text, source, true)
    }

    /// People read elsewhere (LDAP), with the TOML file's `[[person]]` entries on top: an
    /// entry whose e-mail is one of `base` overrides only the keys it sets (away periods, a
    /// substitute, …); a complete entry adds a person. An override of someone `base` lacks
    /// (they left LDAP, or LDAP was not read yet) is set aside, not an error, and so is a
    /// group member nobody has: a person leaving LDAP must not stop the directory from
    /// loading. [`Directory::set_aside`] lists them. Groups otherwise as in
    /// [`Directory::from_toml`].
    pub fn from_toml_over(
        base: Vec<Person>,
        text: &str,
        source: &str,
    ) -> Result<Directory, DirectoryError> {
        Directory::read(base, text, source, false)
    }

    /// What [`Directory::from_toml_over`] set aside, one Spanish line each (`check-config`).
    pub fn set_aside(&self) -> &[String] {
        &self.set_aside
    }

    fn read(
        base: Vec<Person>,
        text: &str,
        source: &str,
        strict: bool,
    ) -> Result<Directory, DirectoryError> {
        let invalid = |message: String| DirectoryError::Invalid {
            file: source.to_string(),
            message,
        };
        let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            invalid(format!("not valid TOML: {}", e.to_string().trim_end()))
        })?;
        let entries =
            toml_list::entries(&doc, "person", &["group"]).map_err(|p| invalid(p.message))?;

        let mut dir = Directory::default();
        for person in base {
            if !dir.by_email.contains_key(&person.email) {
                dir.by_email.insert(person.email.clone(), dir.people.len());
                dir.people.push(person);
            }
        }
        let from_base = dir.people.len();
        let mut overridden = std::collections::HashSet::new();
        for (i, table) in entries.into_iter().enumerate() {
            let entry = toml_list::label(table, "email", i);
            let bad = |p: Problem| DirectoryError::BadEntry {
                file: source.to_string(),
                entry: entry.clone(),
                key: p.key,
                message: p.message,
            };
            let known = table
                .get("email")
                .and_then(toml::Value::as_str)
                .map(canonical_address)
                .and_then(|e| dir.by_email.get(&e).copied())
                .filter(|&at| at < from_base);
            if let Some(at) = known {
                if !overridden.insert(at) {
                    return Err(bad(Problem::new(
                        "email",
                        format!("duplicate e-mail `{}`", dir.people[at].email),
                    )));
                }
                override_person(&mut dir.people[at], table).map_err(bad)?;
                continue;
            }
            let complete = ["name", "role", "office"]
                .iter()
                .all(|k| table.contains_key(*k));
            if !strict && !complete {
                dir.set_aside.push(format!(
                    "[[person]] {entry}: modifica a alguien que la lectura de LDAP no tiene; se ignora"
                ));
                continue;
            }
            let person = read_person(table).map_err(bad)?;
            if let Some(&other) = dir.by_email.get(&person.email) {
                return Err(bad(Problem::new(
                    "email",
                    format!(
                        "duplicate e-mail `{}`, already used by entry #{} ({})",
                        person.email,
                        other + 1,
                        dir.people[other].name
                    ),
                )));
            }
            dir.by_email.insert(person.email.clone(), dir.people.len());
            dir.people.push(person);
        }
        // Groups after people: a member may be listed anywhere in the file.
        let groups =
            toml_list::entries(&doc, "group", &["person"]).map_err(|p| invalid(p.message))?;
        for (i, table) in groups.into_iter().enumerate() {
            let entry = format!("group {}", toml_list::label(table, "code", i));
            let bad = |p: Problem| DirectoryError::BadEntry {
                file: source.to_string(),
                entry: entry.clone(),
                key: p.key,
                message: p.message,
            };
            let mut g = group::read_group(table).map_err(bad)?;
            if !strict {
                let (known, gone): (Vec<String>, Vec<String>) =
                    g.members.into_iter().partition(|m| dir.person(m).is_some());
                for m in gone {
                    dir.set_aside.push(format!(
                        "[[group]] {}: el miembro {m} no está en el directorio; se ignora",
                        g.code
                    ));
                }
                g.members = known;
            }
            dir.check_group(&g).map_err(bad)?;
            dir.groups.push(g);
        }
        Ok(dir)
    }

    /// A group's members must be people who work tickets: they act on its notices with
    /// commands, and only staff commands count (`domain::authority`).
    fn check_group(&self, g: &Group) -> Result<(), Problem> {
        if self.group(&g.code).is_some() {
            return Err(Problem::new(
                "code",
                format!("duplicate group code `{}`", g.code),
            ));
        }
        for m in &g.members {
            match self.person(m) {
                None => {
                    return Err(Problem::new(
                        "members",
                        format!("`{m}` is not a [[person]] of this directory"),
                    ))
                }
                Some(p) if !p.works_tickets() => {
                    return Err(Problem::new(
                        "members",
                        format!(
                            "`{m}` has role `{}`; members must be agente, especialista or \
                             coordinador",
                            p.role
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// In file order.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The list addresses (`[[group]] email`) whose mail `email` receives as a member: a
    /// reply code issued to such a list proves any of its members.
    pub fn lists_of(&self, email: &str) -> Vec<String> {
        let me = canonical_address(email);
        self.groups
            .iter()
            .filter(|g| g.members.contains(&me))
            .filter_map(|g| g.email.clone())
            .collect()
    }

    /// By code, case ignored.
    pub fn group(&self, code: &str) -> Option<&Group> {
        let code = group::code(code)?;
        self.groups.iter().find(|g| g.code == code)
    }

    /// Reads and validates the directory at `path`.
    pub fn load(path: &Path) -> Result<Directory, DirectoryError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| DirectoryError::Unreadable {
            file: file.clone(),
            error,
        })?;
        Directory::from_toml(&text, &file)
    }

    /// [`Directory::load`] over people read elsewhere ([`Directory::from_toml_over`]).
    pub fn load_over(base: Vec<Person>, path: &Path) -> Result<Directory, DirectoryError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| DirectoryError::Unreadable {
            file: file.clone(),
            error,
        })?;
        Directory::from_toml_over(base, &text, &file)
    }

    /// In file order.
    pub fn people(&self) -> &[Person] {
        &self.people
    }

    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
    }

    pub fn len(&self) -> usize {
        self.people.len()
    }

    /// By canonical address: case and `+detail` ignored; `"Name <a@b>"` and Outlook's
    /// `a@b<mailto:a@b>` accepted.
    pub fn person(&self, email: &str) -> Option<&Person> {
        self.by_email
            .get(&canonical_address(email))
            .map(|&i| &self.people[i])
    }

    /// By e-mail when the text has an `@` (and then only by e-mail: a display name is whatever
    /// the sender typed), else by full name, folded, when exactly one person has it.
    pub fn find(&self, email_or_name: &str) -> Option<&Person> {
        let s = email_or_name.trim();
        if s.contains('@') {
            return self.person(s);
        }
        let name = fold(s.trim_matches(|c: char| matches!(c, '"' | '\'')));
        if name.is_empty() {
            return None;
        }
        let mut found = self.people.iter().filter(|p| fold(&p.name) == name);
        match (found.next(), found.next()) {
            (Some(p), None) => Some(p),
            _ => None,
        }
    }

    /// In file order.
    pub fn with_role(&self, role: Role) -> Vec<&Person> {
        self.people.iter().filter(|p| p.role == role).collect()
    }

    /// The first person with `role` whose office folds equal to `office`.
    pub fn in_office(&self, office: &str, role: Role) -> Option<&Person> {
        let office = fold(office);
        self.people
            .iter()
            .find(|p| p.role == role && fold(&p.office) == office)
    }

    /// The first person with role `seguridad_informacion`.
    pub fn security_officer(&self) -> Option<&Person> {
        self.people
            .iter()
            .find(|p| p.role == Role::SeguridadInformacion)
    }

    /// Everyone a requester may choose as approver, in file order.
    pub fn approvers(&self) -> Vec<&Person> {
        self.people
            .iter()
            .filter(|p| p.can_approve_as_boss())
            .collect()
    }

    /// How a mail names whoever writes from `email`: "Name, Position" when the directory knows
    /// them, "grupo Name" for a resolver group's code, else the address itself (never an empty
    /// name).
    pub fn label(&self, email: &str) -> String {
        if let Some(g) = self.group(email).filter(|_| !email.contains('@')) {
            // An assignee may be a resolver group's code ("soporte-sitio").
            return format!("grupo {}", g.name);
        }
        self.person(email)
            .map(Person::label)
            .unwrap_or_else(|| email.trim().to_owned())
    }

    /// Just the name, for greetings ("Estimado(a) Ana María Gómez Rojas:"); `fallback` (the
    /// name the mail gave, or the address) when the directory does not know `email`.
    pub fn name_or(&self, email: &str, fallback: &str) -> String {
        self.person(email)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| fallback.to_owned())
    }

    /// The approvers a requester may choose, in file order but with the approvers of the
    /// requester's own office first: their immediate boss is the likely answer, so the list
    /// starts with them. Never the requester themself.
    pub fn approver_choices(&self, requester: &str) -> Vec<&Person> {
        let me = self.person(requester);
        let office = me.map(|p| fold(&p.office));
        let mut choices: Vec<&Person> = self
            .approvers()
            .into_iter()
            .filter(|p| me.is_none_or(|m| m.email != p.email))
            .collect();
        // Stable: within each group the file order stays. The boss LDAP names comes first
        // of all.
        let boss = self.boss_of(requester).map(|p| p.email.as_str());
        choices.sort_by_key(|p| {
            (
                Some(p.email.as_str()) != boss,
                office.as_deref() != Some(fold(&p.office).as_str()),
            )
        });
        choices
    }

    /// Who acts for `person` on `today`: the person when present, else their substitute (and
    /// the substitute's substitute, and so on) when listed here and present. `None` when
    /// nobody in that chain is available.
    pub fn acting_for<'a>(&'a self, person: &'a Person, today: NaiveDate) -> Option<&'a Person> {
        let mut current = person;
        for _ in 0..=self.people.len() {
            if !current.is_away(today) {
                return Some(current);
            }
            current = self.person(current.substitute.as_deref()?)?;
        }
        None
    }

    /// Who approves as `email`'s immediate boss: the first one up their chain of bosses (LDAP
    /// `manager`) who may approve as a boss; a coordinator's manager, say, when the
    /// coordinator reports to a subdirector. `None` when the directory knows no boss.
    pub fn boss_of(&self, email: &str) -> Option<&Person> {
        let me = self.person(email)?;
        let mut current = self.person(me.boss.as_deref()?)?;
        for _ in 0..self.people.len() {
            if current.can_approve_as_boss() && current.email != me.email {
                return Some(current);
            }
            current = self.person(current.boss.as_deref()?)?;
        }
        None
    }

    /// Approvers with no substitute, or whose substitute is not in the directory: the
    /// procedure asks every approver to designate one. For `check-config` warnings.
    pub fn approvers_without_substitute(&self) -> Vec<&Person> {
        self.people
            .iter()
            .filter(|p| p.can_approve_as_boss())
            .filter(|p| {
                p.substitute
                    .as_deref()
                    .and_then(|s| self.person(s))
                    .is_none()
            })
            .collect()
    }
}

fn read_person(t: &toml::Table) -> Result<Person, Problem> {
    toml_list::check_keys(t, PERSON_KEYS)?;

    let email = toml_list::text(t, "email")?;
    if !is_email(&email) {
        return Err(Problem::new(
            "email",
            format!("`{email}` is not an e-mail address (write it bare: name@domain)"),
        ));
    }
    let email = canonical_address(&email);
    let name = toml_list::text(t, "name")?;
    let role: Role = toml_list::required(t, "role")?;
    let office = toml_list::text(t, "office")?;

    let substitute = substitute(t, &email)?;
    let away_from = date(t, "away_from")?;
    let away_until = date(t, "away_until")?;
    check_absence(away_from, away_until)?;

    Ok(Person {
        email,
        name,
        role,
        office,
        substitute,
        away_from,
        away_until,
        position: toml_list::optional::<String>(t, "position")?,
        phone: toml_list::optional::<String>(t, "phone")?,
        boss: None,
    })
}

/// A `[[person]]` entry on top of someone read from LDAP: each key it sets replaces that
/// field; the rest stays as LDAP has it.
fn override_person(p: &mut Person, t: &toml::Table) -> Result<(), Problem> {
    toml_list::check_keys(t, PERSON_KEYS)?;
    if t.contains_key("name") {
        p.name = toml_list::text(t, "name")?;
    }
    if t.contains_key("role") {
        p.role = toml_list::required(t, "role")?;
    }
    if t.contains_key("office") {
        p.office = toml_list::text(t, "office")?;
    }
    if t.contains_key("substitute") {
        p.substitute = substitute(t, &p.email)?;
    }
    if t.contains_key("position") {
        p.position = toml_list::optional::<String>(t, "position")?;
    }
    if t.contains_key("phone") {
        p.phone = toml_list::optional::<String>(t, "phone")?;
    }
    if t.contains_key("away_from") || t.contains_key("away_until") {
        p.away_from = date(t, "away_from")?;
        p.away_until = date(t, "away_until")?;
        check_absence(p.away_from, p.away_until)?;
    }
    Ok(())
}

fn check_absence(from: Option<NaiveDate>, until: Option<NaiveDate>) -> Result<(), Problem> {
    if let (Some(from), Some(until)) = (from, until) {
        if until < from {
            return Err(Problem::new(
                "away_until",
                format!("{until} is before away_from {from}"),
            ));
        }
    }
    Ok(())
}

fn substitute(t: &toml::Table, email: &str) -> Result<Option<String>, Problem> {
    match toml_list::optional::<String>(t, "substitute")? {
        None => Ok(None),
        Some(s) => {
            let s = s.trim();
            if !is_email(s) {
                return Err(Problem::new(
                    "substitute",
                    format!("`{s}` is not an e-mail address"),
                ));
            }
            let s = canonical_address(s);
            if s == email {
                return Err(Problem::new(
                    "substitute",
                    "a person cannot be their own substitute",
                ));
            }
            Ok(Some(s))
        }
    }
}

/// A TOML local date (`2026-12-21`) or a string holding one.
fn date(t: &toml::Table, key: &str) -> Result<Option<NaiveDate>, Problem> {
    let bad = |what: String| {
        Problem::new(
            key,
            format!("{what} is not a date; write it like 2026-12-21"),
        )
    };
    match t.get(key) {
        None => Ok(None),
        Some(toml::Value::Datetime(dt)) => match (dt.date, dt.time, dt.offset) {
            (Some(d), None, None) => {
                NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
                    .map(Some)
                    .ok_or_else(|| bad(format!("`{dt}`")))
            }
            _ => Err(bad(format!("`{dt}` (a date and time)"))),
        },
        Some(toml::Value::String(s)) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map(Some)
            .map_err(|_| bad(format!("`{s}`"))),
        Some(other) => Err(bad(format!("a {}", other.type_str()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../deploy/directory.toml");

    fn shipped() -> Directory {
        Directory::from_toml(SHIPPED, "deploy/directory.toml").unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn person(extra: &str) -> String {
        format!(
            "[[person]]\nemail = \"ana@example.test\"\nname = \"Ana Gómez\"\nrole = \"funcionario\"\n\
             office = \"Oficina Asesora Jurídica\"\n{extra}"
        )
    }

    #[test]
    fn a_position_written_in_the_directory_names_the_person_in_mail() {
        let d = Directory::from_toml(
            &person("position = \"Asesora jurídica\"\nphone = \"601 381 1700 ext. 2301\"\n"),
            "dir.toml",
        )
        .unwrap();
        let ana = d.person("ana@example.test").unwrap();
        assert_eq!(d.label("ana@example.test"), "Ana Gómez, Asesora jurídica");
        assert_eq!(ana.phone.as_deref(), Some("601 381 1700 ext. 2301"));
        // Without one, the role's name.
        let d = Directory::from_toml(&person(""), "dir.toml").unwrap();
        assert_eq!(d.label("ana@example.test"), "Ana Gómez, Funcionario(a)");
    }

    fn entry_err(text: &str, entry: &str, key: &str, words: &str) {
        let e = Directory::from_toml(text, "dir.toml").unwrap_err();
        let shown = e.to_string();
        assert!(
            shown.starts_with(&format!("directory dir.toml: {entry}: key `{key}`: ")),
            "{shown}"
        );
        assert!(shown.contains(words), "{shown}");
        assert_eq!(e.key(), Some(key));
    }

    #[test]
    fn groups_are_read_and_their_members_must_work_tickets() {
        let d = shipped();
        let g = d.group("Soporte-Sitio").unwrap();
        assert_eq!(g.recipients(), ["miguel.torres@example.test"]);
        let agent = "[[person]]\nemail = \"ag@example.test\"\nname = \"Ag\"\nrole = \"agente\"\noffice = \"CST\"\n";
        let listed = format!("{agent}[[group]]\ncode = \"redes\"\nname = \"Redes\"\nemail = \"redes@example.test\"\nmembers = [\"ag@example.test\"]\n");
        let d = Directory::from_toml(&listed, "dir.toml").unwrap();
        assert_eq!(
            d.group("redes").unwrap().recipients(),
            ["redes@example.test"]
        );
        let funcionario = format!(
            "{}[[group]]\ncode = \"redes\"\nname = \"Redes\"\nmembers = [\"ana@example.test\"]\n",
            person("")
        );
        entry_err(&funcionario, "group redes", "members", "role `funcionario`");
        let unknown =
            "[[group]]\ncode = \"redes\"\nname = \"Redes\"\nmembers = [\"x@example.test\"]\n";
        entry_err(unknown, "group redes", "members", "not a [[person]]");
    }

    #[test]
    fn shipped_directory_has_the_office_structure() {
        let d = shipped();
        assert!(!d.is_empty());
        let count = |r| d.with_role(r).len();
        assert!(count(Role::Funcionario) >= 3);
        assert_eq!(count(Role::Agente), 2);
        for r in [
            Role::Especialista,
            Role::Coordinador,
            Role::Subdirector,
            Role::Director,
            Role::JefeOficina,
            Role::Viceministro,
            Role::SeguridadInformacion,
        ] {
            assert!(count(r) >= 1, "{r}");
        }
        for p in d.people() {
            assert!(p.email.ends_with("@example.test"), "{}", p.email);
        }
        let jefe = &d.with_role(Role::JefeOficina)[0];
        let sub = d.person(jefe.substitute.as_deref().unwrap()).unwrap();
        assert_eq!(sub.office, jefe.office);
        assert!(d
            .people()
            .iter()
            .any(|p| p.away_from.is_some() && p.away_until.is_some()));
        assert_eq!(
            d.security_officer().unwrap().email,
            "camilo.herrera@example.test"
        );
        // Every approver designated a substitute, as the procedure asks.
        assert!(d.approvers_without_substitute().is_empty());
        assert_eq!(d.approvers().len(), 5);
        // Every requester's office has an approver.
        for p in d.with_role(Role::Funcionario) {
            assert!(
                d.approvers()
                    .iter()
                    .any(|a| fold(&a.office) == fold(&p.office)),
                "{}",
                p.office
            );
        }
    }

    #[test]
    fn finds_people_by_any_form_of_their_address() {
        let d = shipped();
        for s in [
            "laura.rojas@example.test",
            "Laura.Rojas@Example.TEST",
            "Laura Rojas <laura.rojas@example.test>",
            "\"Rojas, Laura\" <Laura.Rojas+REQ-12@example.test>",
            "laura.rojas@example.test<mailto:laura.rojas@example.test>",
            " mailto:laura.rojas@example.test ",
        ] {
            assert_eq!(
                d.person(s).map(|p| p.name.as_str()),
                Some("Laura Rojas Méndez"),
                "{s}"
            );
        }
        assert!(d.person("laura.rojas@example.org").is_none());
        assert!(d.person("").is_none());
        assert!(d.person("Laura Rojas Méndez").is_none());
    }

    #[test]
    fn finds_people_by_name_only_when_unambiguous() {
        let d = shipped();
        let email = |s: &str| d.find(s).map(|p| p.email.as_str());
        assert_eq!(
            email("Laura Rojas Méndez"),
            Some("laura.rojas@example.test")
        );
        assert_eq!(
            email("  laura  rojas MENDEZ "),
            Some("laura.rojas@example.test")
        );
        assert_eq!(
            email("\"Hernan Dario Quintero Velez\""),
            Some("hernan.quintero@example.test")
        );
        assert_eq!(
            email("LAURA.ROJAS@example.test"),
            Some("laura.rojas@example.test")
        );
        // A display name never stands in for an unknown address.
        assert_eq!(email("Laura Rojas Méndez <impostor@example.org>"), None);
        assert_eq!(email("Laura"), None);
        assert_eq!(email(""), None);

        let twins = format!("{}{}", person(""), person("").replace("ana@", "ana.2@"));
        let d = Directory::from_toml(&twins, "t").unwrap();
        assert!(d.find("Ana Gómez").is_none());
        assert_eq!(
            d.find("ana.2@example.test").unwrap().email,
            "ana.2@example.test"
        );
    }

    #[test]
    fn finds_the_boss_of_an_office() {
        let d = shipped();
        let boss = |office: &str, role| d.in_office(office, role).map(|p| p.email.as_str());
        assert_eq!(
            boss("oficina asesora juridica", Role::JefeOficina),
            Some("patricia.vargas@example.test")
        );
        assert_eq!(
            boss(
                "SUBDIRECCIÓN DE INFRAESTRUCTURA  TECNOLÓGICA",
                Role::Subdirector
            ),
            Some("luisa.martinez@example.test")
        );
        assert_eq!(boss("Oficina Asesora Jurídica", Role::Director), None);
        assert_eq!(boss("Oficina de Control Interno", Role::JefeOficina), None);
        let agents: Vec<_> = d
            .with_role(Role::Agente)
            .iter()
            .map(|p| p.email.as_str())
            .collect();
        assert_eq!(
            agents,
            ["laura.rojas@example.test", "andres.castro@example.test"]
        );
    }

    #[test]
    fn absences_include_both_days_and_substitutes_act() {
        let d = shipped();
        let jefe = d.person("patricia.vargas@example.test").unwrap();
        assert!(!jefe.is_away(day("2026-10-04")));
        assert!(jefe.is_away(day("2026-10-05")));
        assert!(jefe.is_away(day("2026-12-24")));
        assert!(jefe.is_away(day("2027-02-07")));
        assert!(!jefe.is_away(day("2027-02-08")));

        let acting = |d0: &str| d.acting_for(jefe, day(d0)).map(|p| p.email.as_str());
        assert_eq!(acting("2026-11-26"), Some("jorge.ramirez@example.test"));
        assert_eq!(acting("2027-03-01"), Some("patricia.vargas@example.test"));
        let laura = d.person("laura.rojas@example.test").unwrap();
        assert!(!laura.is_away(day("2026-11-26")));
    }

    #[test]
    fn open_ended_absences() {
        let mut p = shipped().person("ana.gomez@example.test").unwrap().clone();
        assert!(!p.is_away(day("2026-01-01")));
        p.away_from = Some(day("2026-03-01"));
        assert!(!p.is_away(day("2026-02-28")));
        assert!(p.is_away(day("2099-01-01")));
        p.away_from = None;
        p.away_until = Some(day("2026-03-01"));
        assert!(p.is_away(day("2000-01-01")));
        assert!(!p.is_away(day("2026-03-02")));
    }

    #[test]
    fn acting_for_stops_on_unknown_away_or_circular_substitutes() {
        let text =
            "[[person]]\nemail = \"a@x.co\"\nname = \"A\"\nrole = \"director\"\noffice = \"O\"\n\
            substitute = \"b@x.co\"\naway_from = 2026-01-01\n\
            [[person]]\nemail = \"b@x.co\"\nname = \"B\"\nrole = \"funcionario\"\noffice = \"O\"\n\
            substitute = \"a@x.co\"\naway_from = \"2026-06-01\"\n\
            [[person]]\nemail = \"c@x.co\"\nname = \"C\"\nrole = \"subdirector\"\noffice = \"O\"\n\
            substitute = \"nobody@x.co\"\naway_until = 2026-12-31\n";
        let d = Directory::from_toml(text, "t").unwrap();
        let a = d.person("a@x.co").unwrap();
        let c = d.person("c@x.co").unwrap();
        assert_eq!(d.acting_for(a, day("2026-03-01")).unwrap().name, "B");
        assert!(d.acting_for(a, day("2026-07-01")).is_none());
        assert!(d.acting_for(c, day("2026-07-01")).is_none());
        assert_eq!(d.acting_for(c, day("2027-01-01")).unwrap().name, "C");
        let missing: Vec<_> = d
            .approvers_without_substitute()
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(missing, ["C"]);
    }

    #[test]
    fn roles() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
            let t: toml::Table = format!("role = \"{r}\"").parse().unwrap();
            assert_eq!(toml_list::required::<Role>(&t, "role").unwrap(), r);
            assert!(!(r.works_tickets() && r.can_approve_as_boss()));
        }
        let workers: Vec<_> = Role::ALL
            .into_iter()
            .filter(|r| r.works_tickets())
            .collect();
        assert_eq!(
            workers,
            [Role::Agente, Role::Especialista, Role::Coordinador]
        );
        let bosses: Vec<_> = Role::ALL
            .into_iter()
            .filter(|r| r.can_approve_as_boss())
            .collect();
        assert_eq!(
            bosses,
            [
                Role::Subdirector,
                Role::Director,
                Role::JefeOficina,
                Role::Viceministro,
                Role::Ministro
            ]
        );
        let d = shipped();
        assert!(d
            .person("laura.rojas@example.test")
            .unwrap()
            .works_tickets());
        assert!(!d.security_officer().unwrap().can_approve_as_boss());
        assert_eq!(
            d.person("gabriel.ortiz@example.test").unwrap().mailbox(),
            "Gabriel Esteban Ortiz Mejía <gabriel.ortiz@example.test>"
        );
    }

    #[test]
    fn stores_canonical_addresses() {
        let text =
            person("substitute = \"Jorge.Ramirez+x@Example.test\"").replace("ana@", "Ana+tag@");
        let d = Directory::from_toml(&text, "t").unwrap();
        let p = &d.people()[0];
        assert_eq!(p.email, "ana@example.test");
        assert_eq!(p.substitute.as_deref(), Some("jorge.ramirez@example.test"));
        assert_eq!(p.office, "Oficina Asesora Jurídica");
        assert!(Directory::from_toml("", "t").unwrap().is_empty());
    }

    #[test]
    fn rejects_unknown_roles_and_keys() {
        entry_err(
            &person("").replace("funcionario", "jefe"),
            "ana@example.test",
            "role",
            "unknown variant `jefe`",
        );
        entry_err(
            &person("cargo = \"Asesor\""),
            "ana@example.test",
            "cargo",
            "unknown key",
        );
        entry_err(
            &person("").replace("role = \"funcionario\"\n", ""),
            "ana@example.test",
            "role",
            "missing",
        );
        entry_err(
            &person("").replace("\"Oficina Asesora Jurídica\"", "\" \""),
            "ana@example.test",
            "office",
            "empty",
        );
        entry_err(
            &person("").replace("\"Ana Gómez\"", "\"\""),
            "ana@example.test",
            "name",
            "empty",
        );
    }

    #[test]
    fn rejects_duplicate_and_invalid_emails() {
        let dup = format!("{}{}", person(""), person("").replace("ana@", "ANA+otra@"));
        entry_err(
            &dup,
            "ANA+otra@example.test",
            "email",
            "duplicate e-mail `ana@example.test`, already used by entry #1 (Ana Gómez)",
        );
        entry_err(
            &person("").replace("ana@example.test", "ana"),
            "ana",
            "email",
            "not an e-mail",
        );
        entry_err(
            &person("").replace("ana@example.test", "Ana <ana@example.test>"),
            "Ana <ana@example.test>",
            "email",
            "not an e-mail",
        );
        let two = format!(
            "{}{}",
            person("").replace("ana@", "bea@"),
            person("").replace("email = \"ana@example.test\"\n", "")
        );
        entry_err(&two, "entry #2", "email", "missing");
    }

    #[test]
    fn rejects_bad_substitutes() {
        entry_err(
            &person("substitute = \"jorge\""),
            "ana@example.test",
            "substitute",
            "not an e-mail",
        );
        entry_err(
            &person("substitute = \"ANA+x@example.test\""),
            "ana@example.test",
            "substitute",
            "own substitute",
        );
        entry_err(
            &person("substitute = 3"),
            "ana@example.test",
            "substitute",
            "invalid type",
        );
    }

    #[test]
    fn rejects_bad_absences() {
        entry_err(
            &person("away_from = 2026-12-21\naway_until = 2026-12-20"),
            "ana@example.test",
            "away_until",
            "before away_from",
        );
        entry_err(
            &person("away_from = \"21/12/2026\""),
            "ana@example.test",
            "away_from",
            "not a date",
        );
        entry_err(
            &person("away_until = 2026-12-21T08:00:00"),
            "ana@example.test",
            "away_until",
            "date and time",
        );
        entry_err(
            &person("away_until = 20261221"),
            "ana@example.test",
            "away_until",
            "integer",
        );
        let same = person("away_from = 2026-12-21\naway_until = \"2026-12-21\"");
        let d = Directory::from_toml(&same, "t").unwrap();
        assert!(d.people()[0].is_away(day("2026-12-21")));
    }

    #[test]
    fn rejects_a_bad_top_level_and_names_the_file() {
        for text in [
            "[[people]]\nemail = \"a@b.co\"\n",
            "[person]\nemail = \"a@b.co\"\n",
            "[[person]\n",
        ] {
            let e = Directory::from_toml(text, "dir.toml").unwrap_err();
            assert!(matches!(e, DirectoryError::Invalid { .. }), "{e}");
            assert!(e.to_string().starts_with("directory dir.toml: "), "{e}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("directorio.toml");
        std::fs::write(&path, SHIPPED).unwrap();
        assert_eq!(Directory::load(&path).unwrap().len(), shipped().len());
        let e = Directory::load(&dir.path().join("nope.toml")).unwrap_err();
        assert!(matches!(e, DirectoryError::Unreadable { .. }));
        assert!(e.to_string().contains("nope.toml"), "{e}");
    }

    #[test]
    fn mails_name_people_by_name_and_position_else_by_address() {
        let d = shipped();
        assert_eq!(
            d.label("LUISA.MARTINEZ+x@example.test"),
            "Luisa Fernanda Martínez Acosta, Subdirectora de Infraestructura Tecnológica"
        );
        // No position written: the role's name.
        assert_eq!(
            d.label("hernan.quintero@example.test"),
            "Hernán Darío Quintero Vélez, Director(a)"
        );
        assert_eq!(d.label(" nadie@example.test "), "nadie@example.test");
        assert_eq!(
            d.name_or("ana.gomez@example.test", "ana.gomez@example.test"),
            "Ana María Gómez Rojas"
        );
        assert_eq!(d.name_or("nadie@example.test", "Nadie"), "Nadie");
    }

    #[test]
    fn approver_choices_start_with_the_requesters_own_office() {
        let d = shipped();
        let emails = |v: Vec<&Person>| v.into_iter().map(|p| p.email.clone()).collect::<Vec<_>>();
        // Ana works in the Oficina Asesora Jurídica: its head comes first, then everyone else
        // in file order.
        let ana = emails(d.approver_choices("ana.gomez@example.test"));
        let all = emails(d.approvers());
        assert_eq!(ana[0], "patricia.vargas@example.test");
        assert_eq!(ana.len(), all.len());
        let rest: Vec<_> = all.iter().filter(|e| *e != &ana[0]).cloned().collect();
        assert_eq!(ana[1..], rest[..]);
        // Unknown requesters get the file order; an approver is never offered to themself.
        assert_eq!(emails(d.approver_choices("nadie@example.test")), all);
        let luisa = emails(d.approver_choices("luisa.martinez@example.test"));
        assert!(!luisa.contains(&"luisa.martinez@example.test".to_owned()));
    }
}
