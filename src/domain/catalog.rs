//! The service catalogue ("Catálogo de Servicios TIC"): which services the help desk offers,
//! who must approve each one, what a request must carry, how long it may take, and which words
//! in a mail suggest it. Read from a TOML file of `[[service]]` entries; pure apart from
//! [`Catalog::load`].

use std::collections::HashMap;
use std::path::Path;
use std::sync::LazyLock;

use regex::{Regex, RegexBuilder};
use regex_automata::meta;
use regex_automata::nfa::thompson::WhichCaptures;
use regex_automata::util::syntax;
use serde::{Deserialize, Serialize};

use self::toml_list::Problem;
use super::text::{field_key, fold, Priority};

/// Who must approve a service before it is worked (activities 9–12 of the procedure).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalKind {
    /// Worked as soon as the request is complete.
    None,
    /// The requester's immediate boss (a director, subdirector, head of office, vice-minister
    /// or the minister), or the boss's substitute.
    JefeInmediato,
    /// The information-security officer.
    SeguridadInformacion,
}

impl ApprovalKind {
    pub const ALL: [ApprovalKind; 3] = [
        ApprovalKind::None,
        ApprovalKind::JefeInmediato,
        ApprovalKind::SeguridadInformacion,
    ];

    /// The TOML name: `"none"`, `"jefe_inmediato"`, `"seguridad_informacion"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalKind::None => "none",
            ApprovalKind::JefeInmediato => "jefe_inmediato",
            ApprovalKind::SeguridadInformacion => "seguridad_informacion",
        }
    }

    /// Spanish, for people: `"sin aprobación"`, `"jefe inmediato"`, …
    pub fn label(self) -> &'static str {
        match self {
            ApprovalKind::None => "sin aprobación",
            ApprovalKind::JefeInmediato => "jefe inmediato",
            ApprovalKind::SeguridadInformacion => "seguridad de la información",
        }
    }

    /// What a service of this kind asks for, as the end of a sentence: `"no requiere
    /// aprobación"`, `"requiere la aprobación del jefe inmediato"`, …
    pub fn requirement(self) -> &'static str {
        match self {
            ApprovalKind::None => "no requiere aprobación",
            ApprovalKind::JefeInmediato => "requiere la aprobación del jefe inmediato",
            ApprovalKind::SeguridadInformacion => {
                "requiere la aprobación del oficial de seguridad de la información"
            }
        }
    }

    pub fn is_required(self) -> bool {
        self != ApprovalKind::None
    }
}

impl std::fmt::Display for ApprovalKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ApprovalKind {
    type Err = String;
    /// The TOML names.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ApprovalKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| format!("unknown approval kind `{s}`"))
    }
}

/// One entry of the catalogue.
#[derive(Debug, Clone)]
pub struct Service {
    /// Short, ASCII, stored uppercase (`VPN`, `ADMIN-LOCAL`): what agents type after `#servicio`.
    pub code: String,
    /// The Spanish name shown to users, e.g. "Acceso remoto a la red local (VPN)".
    pub name: String,
    pub category: String,
    pub priority: Priority,
    /// Time to resolve, in business hours, counted while the request is worked.
    pub resolution_hours: f64,
    pub approval: ApprovalKind,
    /// Field names (Spanish, as written in the file) the request must fill in; compared with
    /// [`super::text::field_key`], so case and accents do not matter.
    pub required_fields: Vec<String>,
    /// The request needs a supporting document attached.
    pub requires_attachment: bool,
    /// Compiled case-insensitively, matched against folded text (see [`Catalog::recognise`]).
    pub keywords: Keywords,
    /// The directory `[[group]]` that works it (lowercase code); `None`: the agents.
    pub group: Option<String>,
}

impl Service {
    pub fn needs_approval(&self) -> bool {
        self.approval.is_required()
    }

    /// Whether one of the keywords matches `folded` (already passed through
    /// [`super::text::fold`]).
    pub fn matches_folded(&self, folded: &str) -> bool {
        self.keywords.is_match(folded)
    }
}

/// A service's keywords as one regex of several patterns: it matches where one of them would.
/// Each keyword compiled as a `regex::Regex` of its own kept about 90 regexes alive, each with
/// its capture groups, engines and a search cache per thread: 4.9 MiB compiled, 8.8 MiB after
/// matching from two threads; as one regex per service without capture groups (only whether
/// one matches is asked), 2.2 and 6.0 MiB, no slower (bench/README.md, "Memory").
#[derive(Debug, Clone)]
pub struct Keywords {
    count: usize,
    regex: Option<meta::Regex>,
}

/// Bytes of lazy-DFA transitions a service's keywords may cache per thread that matches them.
/// At the regex crate's default (2 MiB) the 25 services' caches grew during a burst of mail and
/// stayed allocated (the crate keeps them for reuse): 64 KiB left the daemon 1.1–1.5 MiB
/// smaller after 1,000 requests, with the same CPU. The text patterns (`text::*`) keep the
/// default: at 64 KiB they cost 20 % more CPU and a MiB more memory (bench/README.md, "The
/// regexes' caches").
const KEYWORD_DFA_CACHE: usize = 64 * 1024;

impl Keywords {
    /// Patterns already checked one by one by [`compile_keyword`] and folded by
    /// [`fold_literals`].
    fn new(folded_patterns: &[String]) -> Result<Keywords, String> {
        if folded_patterns.is_empty() {
            return Ok(Keywords {
                count: 0,
                regex: None,
            });
        }
        let regex = meta::Builder::new()
            .configure(
                meta::Config::new()
                    .which_captures(WhichCaptures::None)
                    .nfa_size_limit(Some(KEYWORD_SIZE_LIMIT * folded_patterns.len()))
                    .onepass(false)
                    .backtrack(false)
                    .hybrid_cache_capacity(KEYWORD_DFA_CACHE),
            )
            .syntax(syntax::Config::new().case_insensitive(true))
            .build_many(folded_patterns)
            .map_err(|e| format!("the keywords together do not compile: {e}"))?;
        Ok(Keywords {
            count: folded_patterns.len(),
            regex: Some(regex),
        })
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether one of the keywords matches `folded`.
    pub fn is_match(&self, folded: &str) -> bool {
        self.regex.as_ref().is_some_and(|re| re.is_match(folded))
    }
}

/// The catalogue: services in file order, with indexes by code and by folded name.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    services: Vec<Service>,
    by_code: HashMap<String, usize>,
    by_name: HashMap<String, usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read service catalogue {file}: {error}")]
    Unreadable {
        file: String,
        #[source]
        error: std::io::Error,
    },
    /// Not TOML, or the top level is not a list of `[[service]]` tables.
    #[error("service catalogue {file}: {message}")]
    Invalid { file: String, message: String },
    /// `entry` is the service's code, or `entry #n` (1-based) when it has none.
    #[error("service catalogue {file}: {entry}: key `{key}`: {message}")]
    BadEntry {
        file: String,
        entry: String,
        key: String,
        message: String,
    },
}

impl CatalogError {
    /// The offending key, when the error is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            CatalogError::BadEntry { key, .. } => Some(key),
            _ => None,
        }
    }
}

const SERVICE_KEYS: &[&str] = &[
    "code",
    "name",
    "category",
    "priority",
    "resolution_hours",
    "approval",
    "required_fields",
    "requires_attachment",
    "keywords",
    "group",
];

/// The field every service with approval must ask for: a denied request is to be asked again
/// "argumentando el motivo", so the reason has to be part of the request from the start.
pub const JUSTIFICATION_FIELD: &str = "Justificación";

/// What `#servicio CODE` accepts (see `text::commands`), so every code can be typed there.
static CODE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}$").unwrap());

/// A field name users can write as a `Nombre: valor` line (see `text::fields`): a letter, then
/// letters, digits, spaces, `_`, `-`, `/` or `.`; at most 40 characters.
/// (The length is checked apart: see `text::FIELD_NAME_MAX`.)
static FIELD_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\p{L}[\p{L}\p{M}\p{N} _\-/.]*$").unwrap());

impl Catalog {
    /// Parses and validates a catalogue; `source` names the file in errors.
    pub fn from_toml(text: &str, source: &str) -> Result<Catalog, CatalogError> {
        let invalid = |message: String| CatalogError::Invalid {
            file: source.to_string(),
            message,
        };
        let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            invalid(format!("not valid TOML: {}", e.to_string().trim_end()))
        })?;
        let entries = toml_list::entries(&doc, "service", &[]).map_err(|p| invalid(p.message))?;

        let mut catalog = Catalog::default();
        for (i, table) in entries.into_iter().enumerate() {
            let entry = toml_list::label(table, "code", i);
            let bad = |p: Problem| CatalogError::BadEntry {
                file: source.to_string(),
                entry: entry.clone(),
                key: p.key,
                message: p.message,
            };
            let service = read_service(table).map_err(bad)?;
            catalog.add(service).map_err(bad)?;
        }
        Ok(catalog)
    }

    /// Reads and validates the catalogue at `path`.
    pub fn load(path: &Path) -> Result<Catalog, CatalogError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| CatalogError::Unreadable {
            file: file.clone(),
            error,
        })?;
        Catalog::from_toml(&text, &file)
    }

    /// In file order.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    pub fn len(&self) -> usize {
        self.services.len()
    }

    /// By code, case-insensitively (`#servicio vpn`).
    pub fn by_code(&self, code: &str) -> Option<&Service> {
        self.by_code
            .get(&code.trim().to_ascii_uppercase())
            .map(|&i| &self.services[i])
    }

    /// By name, folded (case-, accent- and spacing-insensitive).
    pub fn by_name(&self, name: &str) -> Option<&Service> {
        self.by_name.get(&fold(name)).map(|&i| &self.services[i])
    }

    /// The service a `Servicio:` field names: a code (case-insensitive) or a name (folded:
    /// case/accent-insensitive). Quotes, `*bold*` marks and a final `.` are ignored, and the
    /// forms the catalogue listing shows are accepted too: `VPN - Acceso remoto a la red local
    /// (VPN)` and `Teletrabajo (TELETRABAJO)`.
    /// How mails and pages name a stored service: its name, or the code as stored when the
    /// catalogue no longer has it.
    pub fn name_of(&self, code: &str) -> String {
        self.by_code_or_name(code)
            .map_or_else(|| code.to_owned(), |s| s.name.clone())
    }

    pub fn by_code_or_name(&self, s: &str) -> Option<&Service> {
        let s = strip_decoration(s);
        if s.is_empty() {
            return None;
        }
        self.by_code(s)
            .or_else(|| self.by_name(s))
            .or_else(|| self.by_code_then_name(s))
            .or_else(|| self.by_name_then_code(s))
    }

    /// First service (in file order) one of whose keyword regexes matches the folded subject or
    /// the folded body. The file lists services so that the first match is the best guess.
    pub fn recognise(&self, subject: &str, body: &str) -> Option<&Service> {
        let subject = fold(subject);
        let body = fold(body);
        self.services
            .iter()
            .find(|s| s.matches_folded(&subject) || s.matches_folded(&body))
    }

    /// Services that need the given approval, in file order.
    pub fn with_approval(&self, kind: ApprovalKind) -> Vec<&Service> {
        self.services
            .iter()
            .filter(|s| s.approval == kind)
            .collect()
    }

    fn add(&mut self, service: Service) -> Result<(), Problem> {
        let number = |i: usize| format!("entry #{}", i + 1);
        if let Some(&other) = self.by_code.get(&service.code) {
            return Err(Problem::new(
                "code",
                format!(
                    "duplicate code `{}`, already used by {}",
                    service.code,
                    number(other)
                ),
            ));
        }
        let name = fold(&service.name);
        if let Some(&other) = self.by_name.get(&name) {
            return Err(Problem::new(
                "name",
                format!(
                    "duplicate name `{}`, already used by {} ({})",
                    service.name,
                    number(other),
                    self.services[other].code
                ),
            ));
        }
        self.by_code
            .insert(service.code.clone(), self.services.len());
        self.by_name.insert(name, self.services.len());
        self.services.push(service);
        Ok(())
    }

    /// `CODE - Name`, `CODE: Name`, `CODE Name`, the name possibly cut short.
    fn by_code_then_name(&self, s: &str) -> Option<&Service> {
        self.services.iter().find(|svc| {
            let Some(head) = s.get(..svc.code.len()) else {
                return false;
            };
            let rest = &s[svc.code.len()..];
            let boundary = rest.chars().next().is_some_and(|c| !is_code_char(c));
            let rest = fold(rest.trim_start_matches(|c: char| {
                c.is_whitespace() || matches!(c, '-' | '–' | '—' | ':' | '|' | '.' | ',')
            }));
            head.eq_ignore_ascii_case(&svc.code)
                && boundary
                && rest.len() >= 3
                && fold(&svc.name).starts_with(&rest)
        })
    }

    /// `Name (CODE)` or `Name [CODE]` where the name does not already end so.
    fn by_name_then_code(&self, s: &str) -> Option<&Service> {
        let (inner, open) = if let Some(t) = s.strip_suffix(')') {
            (t, '(')
        } else {
            (s.strip_suffix(']')?, '[')
        };
        let (name, code) = inner.rsplit_once(open)?;
        let svc = self.by_code(code)?;
        (fold(name) == fold(&svc.name)).then_some(svc)
    }
}

fn is_code_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// Trims spaces, quotes, markdown emphasis and a final period from a field value.
fn strip_decoration(s: &str) -> &str {
    let mut s = s.trim();
    loop {
        let t = s
            .trim_matches(|c: char| {
                c.is_whitespace() || matches!(c, '"' | '\'' | '*' | '_' | '«' | '»' | '“' | '”')
            })
            .trim_end_matches('.');
        if t == s {
            return s;
        }
        s = t;
    }
}

fn read_service(t: &toml::Table) -> Result<Service, Problem> {
    toml_list::check_keys(t, SERVICE_KEYS)?;

    let code = toml_list::text(t, "code")?;
    if !CODE.is_match(&code) {
        return Err(Problem::new(
            "code",
            format!(
                "`{code}` is not a usable code: letters, digits, `-`, `_` or `.`, \
                 starting with a letter or digit, at most 40"
            ),
        ));
    }
    let name = toml_list::text(t, "name")?;
    let category = toml_list::text(t, "category")?;

    let priority_text: String = toml_list::required(t, "priority")?;
    let priority = priority_text.parse::<Priority>().map_err(|()| {
        Problem::new(
            "priority",
            format!("unknown priority `{priority_text}`: use alta, media or baja"),
        )
    })?;

    let resolution_hours: f64 = toml_list::required(t, "resolution_hours")?;
    if !(resolution_hours.is_finite() && resolution_hours > 0.0) {
        return Err(Problem::new(
            "resolution_hours",
            format!("must be a positive number of business hours, not {resolution_hours}"),
        ));
    }

    // Required on purpose: a forgotten key must not silently skip the boss's approval.
    let approval: ApprovalKind = toml_list::required(t, "approval")?;

    let required_fields: Vec<String> =
        toml_list::optional(t, "required_fields")?.unwrap_or_default();
    let mut seen = Vec::new();
    for f in &required_fields {
        let key = field_key(f);
        if key.is_empty() {
            return Err(Problem::new("required_fields", "a field name is empty"));
        }
        let fits = f.trim().chars().count() <= crate::domain::text::FIELD_NAME_MAX;
        if !fits || !FIELD_NAME.is_match(f.trim()) {
            return Err(Problem::new(
                "required_fields",
                format!(
                    "`{}` cannot be written as a `Nombre: valor` line: start with a letter, \
                     then letters, digits, spaces, `-`, `_`, `/` or `.`; at most 40",
                    f.trim()
                ),
            ));
        }
        if seen.contains(&key) {
            return Err(Problem::new(
                "required_fields",
                format!("field `{}` is listed twice", f.trim()),
            ));
        }
        seen.push(key);
    }
    let required_fields: Vec<String> = required_fields
        .into_iter()
        .map(|f| f.trim().to_string())
        .collect();
    if approval.is_required() && !seen.contains(&field_key(JUSTIFICATION_FIELD)) {
        return Err(Problem::new(
            "required_fields",
            format!(
                "a service with approval `{approval}` must require \"{JUSTIFICATION_FIELD}\": \
                 a denied request is asked again arguing its reason"
            ),
        ));
    }

    let requires_attachment: bool = toml_list::optional(t, "requires_attachment")?.unwrap_or(false);

    let patterns: Vec<String> = toml_list::optional(t, "keywords")?.unwrap_or_default();
    let folded = patterns
        .iter()
        .enumerate()
        .map(|(i, p)| {
            compile_keyword(p).map_err(|m| Problem::new("keywords", format!("#{}: {m}", i + 1)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let keywords = Keywords::new(&folded).map_err(|m| Problem::new("keywords", m))?;

    let group = match toml_list::optional::<String>(t, "group")? {
        None => None,
        Some(g) => Some(super::group::code(&g).ok_or_else(|| {
            Problem::new(
                "group",
                format!("`{g}` is not a group code of the directory"),
            )
        })?),
    };

    Ok(Service {
        group,
        code: code.to_ascii_uppercase(),
        name,
        category,
        priority,
        resolution_hours,
        approval,
        required_fields,
        requires_attachment,
        keywords,
    })
}

/// The compiled size allowed to one keyword (the regex crate's `size_limit`).
const KEYWORD_SIZE_LIMIT: usize = 1 << 20;

/// Compiles a keyword written against folded text. Spanish is the catalogue's language, so a
/// pattern may be written with accents or `ñ`: its literals are folded the way text is
/// (`contraseña` → `contrasena`), so it matches what its folded form matches. Only non-ASCII
/// characters change, and regex syntax is all ASCII, so folding them never alters the syntax.
/// Upper case is harmless (the regex is case-insensitive), but double spaces would never match
/// folded text, and a pattern matching the empty text would recognise every mail: both are errors.
/// Returns the folded pattern; the regex compiled here only checks it (see [`Keywords`]).
fn compile_keyword(written: &str) -> Result<String, String> {
    let pattern = fold_literals(written);
    let pattern = pattern.as_str();
    if written.contains("  ") || written.contains(['\t', '\n', '\r']) {
        return Err(format!(
            "`{written}` has a tab, a line break or two spaces in a row; folded text has single \
             spaces"
        ));
    }
    let re = RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(KEYWORD_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("`{written}` is not a valid regex: {e}"))?;
    if re.is_match("") {
        return Err(format!(
            "`{written}` matches empty text, so it would recognise every mail"
        ));
    }
    Ok(pattern.to_owned())
}

/// A pattern with each non-ASCII character replaced by its folded form (`Ñ` → `n`, a combining
/// accent → nothing, a non-breaking space → a space).
fn fold_literals(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        if c.is_ascii() {
            out.push(c);
        } else if c.is_whitespace() {
            out.push(' ');
        } else {
            out.push_str(&fold(c.encode_utf8(&mut [0; 4])));
        }
    }
    out
}

/// Reading files made of one `[[list]]` of tables, key by key, so that every error can name
/// its key. Shared with [`super::directory`].
pub(super) mod toml_list {
    use serde::de::DeserializeOwned;
    use toml::{Table, Value};

    /// What is wrong with one key, before the caller adds the file and the entry.
    #[derive(Debug)]
    pub struct Problem {
        pub key: String,
        pub message: String,
    }

    impl Problem {
        pub fn new(key: &str, message: impl Into<String>) -> Problem {
            Problem {
                key: key.to_string(),
                message: message.into(),
            }
        }
    }

    /// The tables of the top-level array `list` (empty when absent); a top-level key that is
    /// neither `list` nor one of `siblings` (the file's other lists) is an error.
    pub fn entries<'a>(
        doc: &'a Table,
        list: &str,
        siblings: &[&str],
    ) -> Result<Vec<&'a Table>, Problem> {
        if let Some(other) = doc
            .keys()
            .find(|k| *k != list && !siblings.contains(&k.as_str()))
        {
            let mut lists = vec![format!("[[{list}]]")];
            lists.extend(siblings.iter().map(|s| format!("[[{s}]]")));
            return Err(Problem::new(
                other,
                format!(
                    "unknown top-level key `{other}`: the file holds only {} entries",
                    lists.join(" and ")
                ),
            ));
        }
        let Some(value) = doc.get(list) else {
            return Ok(Vec::new());
        };
        let not_list = || {
            Problem::new(
                list,
                format!("`{list}` must be a list of tables, each starting with [[{list}]]"),
            )
        };
        value
            .as_array()
            .ok_or_else(not_list)?
            .iter()
            .map(|v| v.as_table().ok_or_else(not_list))
            .collect()
    }

    /// How errors name an entry: the value of `key` when it is a non-empty string, else
    /// `entry #n` (1-based).
    pub fn label(table: &Table, key: &str, index: usize) -> String {
        match table.get(key).and_then(Value::as_str).map(str::trim) {
            Some(s) if !s.is_empty() => s.to_string(),
            _ => format!("entry #{}", index + 1),
        }
    }

    /// Fails on the first key (alphabetically) not in `allowed`.
    pub fn check_keys(table: &Table, allowed: &[&str]) -> Result<(), Problem> {
        match table.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(Problem::new(
                k,
                format!("unknown key; expected one of: {}", allowed.join(", ")),
            )),
            None => Ok(()),
        }
    }

    pub fn optional<T: DeserializeOwned>(table: &Table, key: &str) -> Result<Option<T>, Problem> {
        table
            .get(key)
            .map(|v| {
                T::deserialize(v.clone())
                    .map_err(|e| Problem::new(key, e.message().trim().to_string()))
            })
            .transpose()
    }

    pub fn required<T: DeserializeOwned>(table: &Table, key: &str) -> Result<T, Problem> {
        optional(table, key)?.ok_or_else(|| Problem::new(key, "missing"))
    }

    /// A required string, trimmed, that must not be empty.
    pub fn text(table: &Table, key: &str) -> Result<String, Problem> {
        let s: String = required(table, key)?;
        let s = s.trim();
        if s.is_empty() {
            return Err(Problem::new(key, "must not be empty"));
        }
        Ok(s.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../deploy/catalog.toml");

    fn shipped() -> Catalog {
        Catalog::from_toml(SHIPPED, "deploy/catalog.toml").unwrap()
    }

    /// One valid service, to be bent by each test.
    fn one(extra: &str) -> String {
        format!(
            "[[service]]\ncode = \"VPN\"\nname = \"Acceso remoto (VPN)\"\ncategory = \"Redes\"\n\
             priority = \"media\"\nresolution_hours = 16\napproval = \"jefe_inmediato\"\n\
             required_fields = [\"Justificación\"]\n{extra}"
        )
    }

    fn err(text: &str) -> (CatalogError, String) {
        let e = Catalog::from_toml(text, "cat.toml").unwrap_err();
        let shown = e.to_string();
        assert!(shown.contains("cat.toml"), "{shown}");
        (e, shown)
    }

    /// Asserts the error names the file, the entry and the key, and mentions `words`.
    fn entry_err(text: &str, entry: &str, key: &str, words: &str) {
        let (e, shown) = err(text);
        assert!(
            matches!(&e, CatalogError::BadEntry { entry: en, key: k, .. } if en == entry && k == key),
            "{shown}"
        );
        assert!(
            shown.contains(&format!(": {entry}: key `{key}`: ")),
            "{shown}"
        );
        assert!(shown.contains(words), "{shown}");
        assert_eq!(e.key(), Some(key));
    }

    #[test]
    fn shipped_catalogue_has_every_service_the_procedure_names() {
        let c = shipped();
        let boss = [
            "Anillado",
            "Empastado",
            "Fotocopiado",
            "Laminado",
            "Llamadas a celular",
            "Llamadas a larga distancia internacional",
            "Llamadas a larga distancia nacional",
            "Teletrabajo",
            "Acceso a páginas o portales restringidos",
            "Acceso remoto a la red local (VPN)",
            "Administrador local del equipo de cómputo",
            "Reserva dirección IP",
            "Instalación de software libre",
            "Instalación de software licenciado",
            "Ampliación tamaño de buzón",
        ];
        let security = [
            "Claves de usuarios que no se encuentran",
            "Acceso a información",
            "Cambio de contraseña",
        ];
        for name in boss {
            let s = c.by_name(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(s.approval, ApprovalKind::JefeInmediato, "{name}");
        }
        for name in security {
            let s = c.by_name(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(s.approval, ApprovalKind::SeguridadInformacion, "{name}");
        }
        assert_eq!(
            c.with_approval(ApprovalKind::JefeInmediato).len(),
            boss.len()
        );
        assert_eq!(
            c.with_approval(ApprovalKind::SeguridadInformacion).len(),
            security.len()
        );
        let free = c.with_approval(ApprovalKind::None);
        assert!(free.len() >= 5, "{}", free.len());
        for name in [
            "Instalación de impresora",
            "Configuración de correo en dispositivo móvil",
            "Préstamo de equipo portátil",
            "Préstamo de videobeam",
            "Creación de cuenta de usuario",
            "Recuperación de archivos",
        ] {
            assert_eq!(
                c.by_name(name).map(|s| s.approval),
                Some(ApprovalKind::None),
                "{name}"
            );
        }
    }

    #[test]
    fn shipped_catalogue_is_sane() {
        let c = shipped();
        assert!(!c.is_empty());
        assert_eq!(c.len(), c.services().len());
        for s in c.services() {
            assert_eq!(s.code, s.code.to_ascii_uppercase());
            assert!(s.code.len() <= 20, "{}", s.code);
            assert!((4.0..=40.0).contains(&s.resolution_hours), "{}", s.code);
            assert!(!s.keywords.is_empty(), "{} has no keywords", s.code);
            assert!(!s.required_fields.is_empty(), "{}", s.code);
            assert_eq!(
                s.needs_approval(),
                s.required_fields.iter().any(|f| f == JUSTIFICATION_FIELD),
                "{}",
                s.code
            );
        }
        assert_eq!(c.by_code("VPN").unwrap().priority, Priority::Media);
        assert!(c.by_code("TELETRABAJO").unwrap().requires_attachment);
        assert!(!c.by_code("VPN").unwrap().requires_attachment);
        assert_eq!(
            c.by_code("LDN").unwrap().required_fields,
            ["Justificación", "Extensión", "Destino"]
        );
    }

    #[test]
    fn recognises_the_briefs_examples() {
        let c = shipped();
        let code = |subject: &str, body: &str| c.recognise(subject, body).map(|s| s.code.as_str());
        assert_eq!(
            code("Solicitud", "necesito acceso por VPN desde casa"),
            Some("VPN")
        );
        assert_eq!(
            code("Cambio de contraseña por vacaciones", ""),
            Some("CLAVE")
        );
        assert_eq!(
            c.recognise("Cambio de contraseña por vacaciones", "")
                .unwrap()
                .approval,
            ApprovalKind::SeguridadInformacion
        );
    }

    #[test]
    fn recognises_a_typical_request_for_every_service() {
        let c = shipped();
        let cases = [
            (
                "CLAVE",
                "Cambio de clave",
                "Por renuncia de Pedro, cambiar la clave de su usuario.",
            ),
            (
                "CLAVE-AUSENTE",
                "Acceso",
                "Necesito la contraseña del usuario de Pedro, que ya no labora aquí.",
            ),
            (
                "ACCESO-INFO",
                "Permisos",
                "Solicito permisos de escritura en la carpeta de presupuesto.",
            ),
            (
                "ACCESO-INFO",
                "Carpeta",
                "Necesito acceso a la carpeta compartida de Jurídica.",
            ),
            ("VPN", "VPN", ""),
            ("TELETRABAJO", "Teletrabajo martes y jueves", ""),
            (
                "TELETRABAJO",
                "Solicitud",
                "Voy a trabajar desde casa desde el lunes.",
            ),
            (
                "PORTALES",
                "Página bloqueada",
                "La página del DANE aparece bloqueada.",
            ),
            (
                "PORTALES",
                "",
                "Favor desbloquear el acceso a YouTube para capacitación.",
            ),
            ("ADMIN-LOCAL", "Permisos de administrador", ""),
            (
                "RESERVA-IP",
                "",
                "Necesito una IP fija para el equipo del laboratorio.",
            ),
            ("SW-LIBRE", "Instalar LibreOffice", ""),
            ("SW-LICENCIADO", "Instalación de AutoCAD", ""),
            (
                "SW-LICENCIADO",
                "",
                "Por favor instalar el programa de firma digital.",
            ),
            ("BUZON", "Buzón lleno", "Mi buzón está sin espacio."),
            ("BUZON", "Ampliación del tamaño de mi buzón", ""),
            (
                "CELULAR",
                "Habilitar llamadas a celulares en mi extensión",
                "",
            ),
            (
                "LDI",
                "",
                "Requiero hacer llamadas al exterior (Washington) la próxima semana.",
            ),
            ("LDN", "Llamadas de larga distancia", "a Medellín"),
            ("ANILLADO", "Anillado de informes", ""),
            ("EMPASTADO", "", "Necesito empastar los libros contables."),
            ("FOTOCOPIADO", "Fotocopias", ""),
            ("LAMINADO", "", "Plastificar los carnés."),
            (
                "DESBLOQUEO",
                "Usuario bloqueado",
                "Mi cuenta está bloqueada desde esta mañana.",
            ),
            ("DESBLOQUEO", "Ayuda", "Olvidé mi contraseña."),
            (
                "CUENTA",
                "Creación de usuario",
                "Para la nueva contratista de la oficina.",
            ),
            (
                "RECUPERACION",
                "Urgente",
                "Borré sin querer un archivo de Excel del escritorio.",
            ),
            ("RECUPERACION", "Recuperar archivos", ""),
            ("IMPRESORA", "Instalar impresora del piso 3", ""),
            (
                "CORREO-MOVIL",
                "Correo en el celular",
                "Quiero tener el correo en mi iPhone.",
            ),
            (
                "CORREO-MOVIL",
                "",
                "Configurar el correo institucional en el celular nuevo",
            ),
            (
                "PRESTAMO-PORTATIL",
                "Préstamo de portátil",
                "para la reunión del viernes",
            ),
            ("PRESTAMO-VIDEOBEAM", "Video beam sala 4", ""),
        ];
        for (want, subject, body) in cases {
            assert_eq!(
                c.recognise(subject, body).map(|s| s.code.as_str()),
                Some(want),
                "{subject} / {body}"
            );
        }
        for svc in c.services() {
            assert!(
                cases.iter().any(|(code, ..)| *code == svc.code),
                "{} has no recognition case",
                svc.code
            );
            // The service's own name is recognised as the service itself.
            assert_eq!(
                c.recognise(&svc.name, "").map(|s| s.code.as_str()),
                Some(svc.code.as_str()),
                "{}",
                svc.name
            );
        }
    }

    #[test]
    fn signatures_and_unrelated_mail_are_not_recognised() {
        let c = shipped();
        let signature = "Cordialmente,\n\nJuan Pérez\nProfesional Especializado\nOficina Asesora \
             Jurídica\nCorreo: juan.perez@minhacienda.gov.co\nCelular: 300 123 4567\nTeléfono: \
             (601) 381 1700 Ext. 1234\nCarrera 8 No. 6C-38, Bogotá";
        assert!(c.recognise("El mouse no funciona", signature).is_none());
        assert!(c.recognise("", "").is_none());
        assert_eq!(
            c.recognise("Configurar correo en el celular", signature)
                .map(|s| s.code.as_str()),
            Some("CORREO-MOVIL")
        );
    }

    #[test]
    fn recognition_takes_the_first_service_in_file_order() {
        let text =
            "[[service]]\ncode = \"A\"\nname = \"A\"\ncategory = \"c\"\npriority = \"baja\"\n\
            resolution_hours = 4\napproval = \"none\"\nkeywords = ['\\bred\\b']\n\
            [[service]]\ncode = \"B\"\nname = \"B\"\ncategory = \"c\"\npriority = \"baja\"\n\
            resolution_hours = 4\napproval = \"none\"\nkeywords = ['RED', 'wifi']\n";
        let c = Catalog::from_toml(text, "t").unwrap();
        assert_eq!(c.recognise("", "sin RED ni wifi").unwrap().code, "A");
        assert_eq!(c.recognise("WiFi caído", "").unwrap().code, "B");
        // Only B's keyword lacks word boundaries.
        assert_eq!(c.recognise("redes", "").unwrap().code, "B");
        assert!(c.recognise("correo", "").is_none());
    }

    #[test]
    fn finds_by_code_or_name_with_any_case_and_accents() {
        let c = shipped();
        let code = |s: &str| c.by_code_or_name(s).map(|s| s.code.as_str());
        for s in [
            "VPN",
            "vpn",
            " Vpn. ",
            "\"VPN\"",
            "*VPN*",
            "Acceso remoto a la red local (VPN)",
            "ACCESO REMOTO A LA RED LOCAL (vpn)",
            "acceso  remoto a la red local (VPN).",
            "VPN - Acceso remoto a la red local (VPN)",
            "VPN: Acceso remoto",
            "vpn – acceso remoto a la red local",
        ] {
            assert_eq!(code(s), Some("VPN"), "{s}");
        }
        assert_eq!(code("CAMBIO DE CONTRASEÑA"), Some("CLAVE"));
        assert_eq!(code("cambio de contrasena"), Some("CLAVE"));
        assert_eq!(code("clave"), Some("CLAVE"));
        assert_eq!(
            code("Administrador local del equipo de computo"),
            Some("ADMIN-LOCAL")
        );
        assert_eq!(code("admin-local"), Some("ADMIN-LOCAL"));
        assert_eq!(code("Teletrabajo (TELETRABAJO)"), Some("TELETRABAJO"));
        assert_eq!(
            code("Préstamo de equipo portátil [PRESTAMO-PORTATIL]"),
            Some("PRESTAMO-PORTATIL")
        );
        assert_eq!(code("Reserva dirección IP"), Some("RESERVA-IP"));
        for s in [
            "",
            "  ",
            ".",
            "VPNX",
            "VPN-X",
            "VPN y algo más",
            "VPN - Teletrabajo",
            "acceso",
            "Teletrabajo (VPN)",
        ] {
            assert_eq!(code(s), None, "{s}");
        }
    }

    #[test]
    fn minimal_and_empty_catalogues() {
        let c = Catalog::from_toml("", "empty.toml").unwrap();
        assert!(c.is_empty());
        assert!(c.recognise("vpn", "vpn").is_none());
        assert!(c.by_code_or_name("VPN").is_none());
        assert!(Catalog::default().is_empty());

        let c = Catalog::from_toml(&one("keywords = ['VPN']"), "t").unwrap();
        let s = &c.services()[0];
        assert_eq!(s.code, "VPN");
        assert_eq!(s.resolution_hours, 16.0);
        assert!(!s.requires_attachment);
        assert!(s.needs_approval());
        assert_eq!(c.recognise("Mi Vpn", "").unwrap().code, "VPN");

        // Lower-case codes are stored upper-case; fractional hours are fine.
        let text = one("")
            .replace("\"VPN\"", "\"vpn-2\"")
            .replace("= 16", "= 4.5");
        let c = Catalog::from_toml(&text, "t").unwrap();
        assert_eq!(c.services()[0].code, "VPN-2");
        assert_eq!(c.services()[0].resolution_hours, 4.5);
        assert!(c.by_code("Vpn-2").is_some());

        // A lower-case, accentless Justificación counts.
        let text = one("").replace("Justificación", "justificacion");
        assert!(Catalog::from_toml(&text, "t").is_ok());
    }

    #[test]
    fn rejects_unknown_approval_kind() {
        let text = one("").replace("jefe_inmediato", "director");
        entry_err(&text, "VPN", "approval", "unknown variant `director`");
    }

    #[test]
    fn rejects_missing_approval() {
        let text = one("").replace("approval = \"jefe_inmediato\"\n", "");
        entry_err(&text, "VPN", "approval", "missing");
    }

    #[test]
    fn rejects_bad_regex() {
        entry_err(
            &one("keywords = ['ok', '(vpn']"),
            "VPN",
            "keywords",
            "#2: `(vpn` is not a valid regex",
        );
    }

    #[test]
    fn each_keyword_matches_on_its_own_though_compiled_together() {
        // One regex per service: a keyword's flags, anchors and group names stay its own.
        let c = Catalog::from_toml(
            &one(
                "keywords = ['^(?P<w>vpn)$', '(?-i:^ZZ)', '(?P<w>acceso) remoto', \
                 '\\bred\\b.{0,5}\\bcaida']",
            ),
            "t",
        )
        .unwrap();
        assert_eq!(c.services()[0].keywords.len(), 4);
        for (text, recognised) in [
            ("VPN", true),
            ("la vpn", false),
            ("zz", false),
            ("quiero acceso remoto", true),
            ("la red ya caida", true),
            // `.` counts characters, not bytes: five of them, eight bytes.
            ("la red ¡¡¡ caída", true),
            ("la red ¡¡¡¡ caída", false),
            ("la redcaida", false),
            ("la red de la oficina esta caida", false),
        ] {
            assert_eq!(c.recognise(text, "").is_some(), recognised, "{text}");
        }
    }

    #[test]
    fn keywords_written_with_accents_match_like_their_folded_form() {
        let c = Catalog::from_toml(
            &one("keywords = ['contrase(ñ|n)a', 'CAMIÓN', 'ampliaci[oó]n']"),
            "t",
        )
        .unwrap();
        for text in [
            "Cambio de contraseña",
            "cambio de CONTRASENA",
            "el camion",
            "Ampliación",
        ] {
            assert!(c.recognise(text, "").is_some(), "{text}");
        }
        assert!(c.recognise("contraseia", "").is_none());
        // A decomposed accent (n + U+0303) folds the same as the composed one.
        let c = Catalog::from_toml(&one("keywords = ['contrasen\u{303}a']"), "t").unwrap();
        assert!(c.recognise("contraseña", "").is_some());
        // Upper case is harmless: keywords are case-insensitive.
        let c = Catalog::from_toml(&one("keywords = ['Acceso \\bVPN\\b']"), "t").unwrap();
        assert!(c.recognise("", "ACCESO VPN").is_some());
    }

    #[test]
    fn rejects_keywords_matching_empty_text() {
        entry_err(
            &one("keywords = ['vpn|']"),
            "VPN",
            "keywords",
            "matches empty text",
        );
        entry_err(
            &one("keywords = ['']"),
            "VPN",
            "keywords",
            "matches empty text",
        );
        entry_err(&one("keywords = ['a  b']"), "VPN", "keywords", "two spaces");
    }

    #[test]
    fn rejects_duplicate_codes_case_insensitively() {
        let text = format!(
            "{}{}",
            one(""),
            one("")
                .replace("\"VPN\"", "\"vpn\"")
                .replace("(VPN)", "bis")
        );
        entry_err(
            &text,
            "vpn",
            "code",
            "duplicate code `VPN`, already used by entry #1",
        );
    }

    #[test]
    fn rejects_duplicate_names_folded() {
        let text = format!(
            "{}{}",
            one(""),
            one("")
                .replace("\"VPN\"", "\"VPN2\"")
                .replace("Acceso", "ACCESO ")
        );
        entry_err(&text, "VPN2", "name", "duplicate name");
    }

    #[test]
    fn rejects_empty_or_missing_code_and_name() {
        let two = |a: &str| {
            format!(
                "{}{}",
                one("").replace("\"VPN\"", "\"X\"").replace("(VPN)", "x"),
                a
            )
        };
        entry_err(
            &two(&one("").replace("\"VPN\"", "\"  \"")),
            "entry #2",
            "code",
            "must not be empty",
        );
        entry_err(
            &two(&one("").replace("code = \"VPN\"\n", "")),
            "entry #2",
            "code",
            "missing",
        );
        entry_err(
            &one("").replace("\"Acceso remoto (VPN)\"", "\"\""),
            "VPN",
            "name",
            "must not be empty",
        );
        entry_err(
            &one("").replace("\"VPN\"", "\"VPN NUEVA\""),
            "VPN NUEVA",
            "code",
            "not a usable code",
        );
        entry_err(
            &one("")
                .replace("\"VPN\"", "\"vpn\"")
                .replace("\"Redes\"", "\"\""),
            "vpn",
            "category",
            "must not be empty",
        );
    }

    #[test]
    fn rejects_non_positive_hours() {
        for h in ["0", "-1", "0.0", "nan", "inf"] {
            let text = one("").replace("= 16", &format!("= {h}"));
            entry_err(&text, "VPN", "resolution_hours", "positive");
        }
        let text = one("").replace("= 16", "= \"16\"");
        entry_err(&text, "VPN", "resolution_hours", "invalid type");
    }

    #[test]
    fn rejects_approval_without_justification() {
        let text = one("").replace("[\"Justificación\"]", "[\"Número de equipo\"]");
        entry_err(
            &text,
            "VPN",
            "required_fields",
            "must require \"Justificación\"",
        );
        let text = one("").replace("required_fields = [\"Justificación\"]\n", "");
        entry_err(&text, "VPN", "required_fields", "argu");
        let security = text.replace("jefe_inmediato", "seguridad_informacion");
        entry_err(&security, "VPN", "required_fields", "seguridad_informacion");
        // Without approval, no justification is needed.
        let none = text.replace("jefe_inmediato", "none");
        assert!(Catalog::from_toml(&none, "t").is_ok());
    }

    #[test]
    fn rejects_bad_required_fields() {
        let bad = |fields: &str, words: &str| {
            let text = one("").replace("[\"Justificación\"]", fields);
            entry_err(&text, "VPN", "required_fields", words);
        };
        bad("[\"Justificación\", \"justificacion\"]", "listed twice");
        bad("[\"Justificación\", \" \"]", "empty");
        bad("[\"Justificación\", \"Equipo (placa)\"]", "`Nombre: valor`");
        bad("[\"Justificación\", \"1 Equipo\"]", "`Nombre: valor`");
        bad("\"Justificación\"", "invalid type");
    }

    #[test]
    fn rejects_unknown_keys_and_priorities() {
        entry_err(
            &one("requires_attachement = true"),
            "VPN",
            "requires_attachement",
            "unknown key",
        );
        entry_err(
            &one("").replace("\"media\"", "\"urgente\""),
            "VPN",
            "priority",
            "alta, media or baja",
        );
        entry_err(
            &one("requires_attachment = \"sí\""),
            "VPN",
            "requires_attachment",
            "invalid type",
        );
        assert!(Catalog::from_toml(&one("").replace("\"media\"", "\"Alta\""), "t").is_ok());
    }

    #[test]
    fn rejects_a_bad_top_level() {
        let (e, shown) = err("[[services]]\ncode = \"X\"\n");
        assert!(matches!(e, CatalogError::Invalid { .. }), "{shown}");
        assert!(shown.contains("`services`"), "{shown}");
        let (_, shown) = err("[service]\ncode = \"X\"\n");
        assert!(shown.contains("[[service]]"), "{shown}");
        let (_, shown) = err("service = [1]\n");
        assert!(shown.contains("[[service]]"), "{shown}");
        let (_, shown) = err("[[service]\n");
        assert!(shown.contains("not valid TOML"), "{shown}");
    }

    #[test]
    fn loads_from_a_file_and_names_it_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalogo.toml");
        std::fs::write(&path, SHIPPED).unwrap();
        assert_eq!(Catalog::load(&path).unwrap().len(), shipped().len());

        std::fs::write(&path, one("").replace("16", "0")).unwrap();
        let shown = Catalog::load(&path).unwrap_err().to_string();
        assert!(shown.contains(&path.display().to_string()), "{shown}");
        assert!(shown.contains("resolution_hours"), "{shown}");

        let missing = dir.path().join("nope.toml");
        let e = Catalog::load(&missing).unwrap_err();
        assert!(matches!(e, CatalogError::Unreadable { .. }));
        assert!(e.to_string().contains("nope.toml"));
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn approval_kind_names() {
        for k in ApprovalKind::ALL {
            assert_eq!(k.as_str().parse::<ApprovalKind>(), Ok(k));
            assert_eq!(k.to_string(), k.as_str());
            let t: toml::Table = format!("k = \"{}\"", k.as_str()).parse().unwrap();
            assert_eq!(toml_list::required::<ApprovalKind>(&t, "k").unwrap(), k);
        }
        assert!(!ApprovalKind::None.is_required());
        assert!("jefe".parse::<ApprovalKind>().is_err());
    }
}
