//! Request fields written as `Nombre: valor` lines.

use std::sync::LazyLock;

use regex::Regex;

use super::normalize::{fold, lines};

// A name starts with a letter and is at most [`NAME_MAX`] chars (counted in code: a bounded
// repetition of Unicode classes compiles into a regex of megabytes, and its search caches as
// much again); an optional bullet and `*` bold markup (from HTML-to-text conversions) around
// it are tolerated.
static FIELD_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^\s*(?:[-•·]\s+)?\**\s*(\p{L}[\p{L}\p{M}\p{N} _\-/.]*?)\s*\**\s*:\s*\**\s*(.*?)\s*$",
    )
    .unwrap()
});

/// The longest field name, in characters.
pub const NAME_MAX: usize = 40;

/// One `Nombre: valor` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The name as written, trimmed.
    pub name: String,
    /// The value, trimmed; empty when the line had nothing after the colon.
    pub value: String,
    key: String,
}

/// The fields of a text in the order they appear, looked up by folded name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    entries: Vec<Field>,
}

/// The lookup key of a field name: folded, with `_` and `-` read as spaces, so
/// `Centro_de-Costo` and `centro de costo` match.
pub fn field_key(name: &str) -> String {
    fold(&name.replace(['_', '-'], " "))
}

impl Fields {
    /// The value of the field called `name` (compared by [`field_key`]). When
    /// the name repeats, the first non-empty value wins; `Some("")` means the
    /// field is there but empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        let key = field_key(name);
        let mut found = None;
        for f in self.entries.iter().filter(|f| f.key == key) {
            if !f.value.is_empty() {
                return Some(&f.value);
            }
            found = Some("");
        }
        found
    }

    /// The names in `required`, as given, that are absent or empty.
    pub fn missing<S: AsRef<str>>(&self, required: &[S]) -> Vec<String> {
        required
            .iter()
            .map(AsRef::as_ref)
            .filter(|n| self.get(n).is_none_or(str::is_empty))
            .map(str::to_string)
            .collect()
    }

    /// Every field line in order, duplicates included.
    pub fn iter(&self) -> impl Iterator<Item = &Field> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Reads every `Nombre: valor` line of `text`.
///
/// The caller chooses the text (usually [`super::new_text`] of the body);
/// lines starting with `>` are skipped anyway, as are URLs (`https://…`) and
/// times (`a las 10:30`). Values are single-line.
pub fn read_fields(text: &str) -> Fields {
    let entries = lines(text)
        .filter(|l| !l.trim_start().starts_with('>'))
        .filter_map(parse_line)
        .collect();
    Fields { entries }
}

fn parse_line(line: &str) -> Option<Field> {
    let caps = FIELD_LINE.captures(line)?;
    let name = caps.get(1)?.as_str();
    if name.chars().count() > NAME_MAX {
        return None;
    }
    let name = name.trim();
    let value = caps.get(2)?.as_str().trim();
    if value.starts_with("//") || matches!(fold(name).as_str(), "http" | "https" | "ftp" | "mailto")
    {
        return None;
    }
    let is_time = name.ends_with(|c: char| c.is_ascii_digit())
        && value.starts_with(|c: char| c.is_ascii_digit());
    if is_time {
        return None;
    }
    Some(Field {
        name: name.to_string(),
        value: value.to_string(),
        key: field_key(name),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: &str = "Buenas tardes,\r\n\r\n\
        Solicito acceso al sistema SIIF Nación.\r\n\r\n\
        Nombre completo: Juan Pérez Gómez\r\n\
        Cédula: 1.020.304.050\r\n\
        JUSTIFICACION : Nuevo funcionario de la Subdirección de Tesorería\r\n\
        Centro_de-costo: 2301\r\n\
        Fecha de inicio:\r\n\
        Manual: https://intranet.minhacienda.gov.co/manual\r\n\
        https://intranet.minhacienda.gov.co/otro\r\n\
        Reunión a las 10:30 en la sala 4\r\n\
        > Justificación: texto citado\r\n\
        Gracias.";

    #[test]
    fn reads_a_spanish_form() {
        let f = read_fields(FORM);
        assert_eq!(f.get("nombre completo"), Some("Juan Pérez Gómez"));
        assert_eq!(f.get("cedula"), Some("1.020.304.050"));
        assert_eq!(
            f.get("Justificación"),
            Some("Nuevo funcionario de la Subdirección de Tesorería")
        );
        assert_eq!(f.get("centro de costo"), Some("2301"));
        assert_eq!(f.get("fecha de inicio"), Some(""));
        assert_eq!(
            f.get("manual"),
            Some("https://intranet.minhacienda.gov.co/manual")
        );
        assert_eq!(f.get("telefono"), None);
        let names: Vec<_> = f.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Nombre completo",
                "Cédula",
                "JUSTIFICACION",
                "Centro_de-costo",
                "Fecha de inicio",
                "Manual"
            ]
        );
    }

    #[test]
    fn reports_missing_as_given() {
        let f = read_fields(FORM);
        let missing = f.missing(&[
            "Nombre completo",
            "Fecha de inicio",
            "Teléfono",
            "JUSTIFICACIÓN",
        ]);
        assert_eq!(missing, ["Fecha de inicio", "Teléfono"]);
        assert!(Fields::default().missing::<&str>(&[]).is_empty());
    }

    #[test]
    fn first_non_empty_value_wins() {
        let f = read_fields("Sistema:\nSistema: SIIF\nSistema: SECOP");
        assert_eq!(f.get("sistema"), Some("SIIF"));
        assert_eq!(f.len(), 3);
    }

    #[test]
    fn tolerates_markup_and_bullets() {
        let f = read_fields(
            "**Nombre:** Ana\n- Área: Contabilidad\n* Usuario de red: ana.r\n\tCargo:\tProfesional",
        );
        assert_eq!(f.get("nombre"), Some("Ana"));
        assert_eq!(f.get("area"), Some("Contabilidad"));
        assert_eq!(f.get("usuario de red"), Some("ana.r"));
        assert_eq!(f.get("cargo"), Some("Profesional"));
    }

    #[test]
    fn accepts_decomposed_names() {
        let f = read_fields("Justificacio\u{301}n: porque sí");
        assert_eq!(f.get("justificacion"), Some("porque sí"));
    }

    #[test]
    fn rejects_non_field_lines() {
        let long = format!("{}: x", "a".repeat(41));
        let f = read_fields(&format!(
            "10:30\n: vacío\n1 Nombre: x\n{long}\nhttp: //x\nsin dos puntos\n"
        ));
        assert!(f.is_empty(), "{f:?}");
        assert!(read_fields("").is_empty());
    }

    #[test]
    fn a_name_of_forty_characters_is_a_field_whatever_the_spaces_before_its_colon() {
        let name = format!("Ñ{}", "a b".repeat(13));
        assert_eq!(name.chars().count(), 40);
        let f = read_fields(&format!("* {name} \t ** : valor\n"));
        assert_eq!(
            f.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            [name.as_str()]
        );
    }
}
