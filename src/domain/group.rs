//! Resolver groups ("grupos solucionadores"): the teams a catalogue service sends its work to.
//! Read from the directory's `[[group]]` entries; pure.

use std::sync::LazyLock;

use regex::Regex;

use super::catalog::toml_list::{self, Problem};
use super::text::{canonical_address, is_email};

/// What `#asignar CODE` and a service's `group` accept: letters, digits, `-`, `_`, `.`; never
/// an `@`, so a code is never mistaken for an address.
pub static GROUP_CODE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9][a-z0-9_.\-]{0,39}$").unwrap());

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Lowercase, e.g. `soporte-sitio`.
    pub code: String,
    /// Spanish, for people: "Soporte en sitio".
    pub name: String,
    /// Canonical addresses of directory people who work tickets.
    pub members: Vec<String>,
    /// A list address that receives the group's mail instead of its members.
    pub email: Option<String>,
}

impl Group {
    /// Who reads the group's mail: its list address when it has one, else its members.
    pub fn recipients(&self) -> Vec<String> {
        match &self.email {
            Some(e) => vec![e.clone()],
            None => self.members.clone(),
        }
    }
}

pub const GROUP_KEYS: &[&str] = &["code", "name", "members", "email"];

/// A group code as stored (lowercase), when `s` can be one.
pub fn code(s: &str) -> Option<String> {
    let c = s.trim().to_lowercase();
    GROUP_CODE.is_match(&c).then_some(c)
}

/// One `[[group]]` table; members are checked against the people by the directory.
pub fn read_group(t: &toml::Table) -> Result<Group, Problem> {
    toml_list::check_keys(t, GROUP_KEYS)?;
    let raw = toml_list::text(t, "code")?;
    let code = code(&raw).ok_or_else(|| {
        Problem::new(
            "code",
            format!(
                "`{raw}` is not a usable group code: letters, digits, `-`, `_` or `.`, \
                 starting with a letter or digit, at most 40"
            ),
        )
    })?;
    let name = toml_list::text(t, "name")?;
    let listed: Vec<String> = toml_list::optional(t, "members")?.unwrap_or_default();
    let mut members = Vec::new();
    for m in listed {
        if !is_email(m.trim()) {
            return Err(Problem::new(
                "members",
                format!("`{m}` is not an e-mail address"),
            ));
        }
        let m = canonical_address(&m);
        if members.contains(&m) {
            return Err(Problem::new("members", format!("`{m}` is listed twice")));
        }
        members.push(m);
    }
    let email = match toml_list::optional::<String>(t, "email")? {
        Some(e) if !is_email(e.trim()) => {
            return Err(Problem::new(
                "email",
                format!("`{e}` is not an e-mail address"),
            ))
        }
        Some(e) => Some(canonical_address(&e)),
        None => None,
    };
    if members.is_empty() && email.is_none() {
        // Work routed to such a group would reach nobody.
        return Err(Problem::new(
            "members",
            "a group needs members, an `email`, or both",
        ));
    }
    Ok(Group {
        code,
        name,
        members,
        email,
    })
}
