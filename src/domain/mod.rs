//! The procedure (Gestión de Requerimientos de Servicios TIC) as pure code: no I/O, no clock.

pub mod authority;
pub mod authresults;
pub mod calendar;
pub mod catalog;
pub mod compliance;
pub mod directory;
pub mod es_co;
pub mod group;
pub mod incident;
pub mod intake;
pub mod ldap_directory;
pub mod monthly_report;
pub mod procedure;
pub mod reference_warnings;
pub mod sla;
pub mod sla_board;
pub mod template;
pub mod text;
pub mod ticket;
