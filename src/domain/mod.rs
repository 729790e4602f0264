//! The procedure (Gestión de Requerimientos de Servicios TIC) as pure code: no I/O, no clock.

pub mod intake;
pub mod text;
pub mod ticket;
