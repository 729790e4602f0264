//! The procedure (Gestión de Requerimientos de Servicios TIC) as pure code: no I/O, no clock.

/// What the typed vocabularies (`Template`, `EventKind`, `MailKind`: `strum`-derived enums
/// whose variants are the stored or file names in snake_case) share: the name, every variant,
/// `Display`, and `==` against a name so that checks read as the procedure is written
/// (`m.template == "aprobado"`).
macro_rules! stored_words {
    ($ty:ident, $what:literal) => {
        impl $ty {
            #[doc = $what]
            pub fn as_str(self) -> &'static str {
                self.into()
            }

            pub fn all() -> impl Iterator<Item = $ty> {
                <$ty as strum::IntoEnumIterator>::iter()
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<&str> for $ty {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}
pub(crate) use stored_words;

pub mod authority;
pub mod authresults;
pub mod calendar;
pub mod catalog;
pub mod compliance;
pub mod directory;
pub mod es_co;
pub mod event_kind;
pub mod group;
pub mod incident;
pub mod intake;
pub mod ldap_directory;
pub mod mail_kind;
pub mod monthly_report;
pub mod procedure;
pub mod reference_warnings;
pub mod sla;
pub mod sla_board;
pub mod template;
pub mod text;
pub mod ticket;
