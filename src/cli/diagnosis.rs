//! What `check-config` tells an operator about a mail or directory server that failed, in
//! Spanish like the rest of its output. The adapters' errors are written for the log (English);
//! here they are said again in the operator's words, and whatever a server or the system said
//! itself is quoted as it came ("detalle: …"), since it cannot be translated.

use crate::imap::connect::ConnectError;
use crate::ldap::LdapError;
use crate::oauth2::TokenError;
use crate::smtp::transport::SendError;
use std::io::ErrorKind;

/// The operating system's word for a failed connection.
fn io_words(e: &std::io::Error) -> String {
    let what = match e.kind() {
        ErrorKind::ConnectionRefused => {
            "conexión rechazada (¿el servidor está en marcha y escucha en ese puerto?)"
        }
        ErrorKind::TimedOut => "tiempo de espera agotado",
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
            "el servidor cortó la conexión"
        }
        ErrorKind::PermissionDenied => "permiso denegado",
        ErrorKind::AddrNotAvailable | ErrorKind::NotFound => "dirección no disponible",
        _ if e.to_string().contains("lookup") => "no se encontró el nombre del servidor",
        _ => return format!("error del sistema (detalle: {e})"),
    };
    what.to_owned()
}

fn token_words(e: &TokenError) -> String {
    match e {
        TokenError::Refused(said) => {
            format!("el proveedor OAuth2 rechazó la solicitud del token (detalle: {said})")
        }
        TokenError::Unavailable(said) => {
            format!("no se pudo obtener el token OAuth2 (detalle: {said})")
        }
    }
}

pub fn imap(e: &ConnectError) -> String {
    match e {
        ConnectError::Network { addr, source } => {
            format!("no se pudo conectar con el servidor IMAP {addr}: {}", io_words(source))
        }
        ConnectError::Tls { addr, message } => format!(
            "falló la conexión TLS con el servidor IMAP {addr}; si su certificado lo emite una \
             CA privada, indique esa CA en imap.ca_file (detalle: {message})"
        ),
        ConnectError::Login { user, said } => format!(
            "el servidor IMAP rechazó el inicio de sesión de {user} (respuesta del servidor: {said})"
        ),
        ConnectError::Token { user, source } => {
            format!("no se pudo iniciar sesión IMAP como {user}: {}", token_words(source))
        }
        ConnectError::Protocol(p) => {
            format!("el servidor IMAP respondió algo inesperado (detalle: {p})")
        }
        ConnectError::Timeout(addr) => {
            format!("el servidor IMAP {addr} no respondió a tiempo")
        }
    }
}

pub fn smtp(e: &SendError) -> String {
    match e {
        SendError::Auth { addr, user, source } => format!(
            "el servidor SMTP {addr} rechazó el inicio de sesión de {user} (respuesta del \
             servidor: {source})"
        ),
        SendError::Token(t) => format!("no se pudo iniciar sesión SMTP: {}", token_words(t)),
        SendError::Smtp { addr, source } => {
            // The system's word when the connection itself failed, else the server's.
            let mut cause = std::error::Error::source(source);
            while let Some(c) = cause {
                if let Some(io) = c.downcast_ref::<std::io::Error>() {
                    return format!(
                        "no se pudo conectar con el servidor SMTP {addr}: {}",
                        io_words(io)
                    );
                }
                cause = c.source();
            }
            if source.is_tls() {
                return format!(
                    "falló la conexión TLS con el servidor SMTP {addr}; si su certificado lo \
                     emite una CA privada, indique esa CA en smtp.ca_file (detalle: {source})"
                );
            }
            format!("el servidor SMTP {addr} no aceptó la conexión (detalle: {source})")
        }
    }
}

/// Why `database.url` could not be used, in the operator's words; the server's own message
/// quoted (without sqlx's wrapping, whose Debug carries PostgreSQL's source file and line).
pub fn database(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => {
            let said = d.message();
            match d.code().as_deref() {
                Some("28P01" | "28000") => format!(
                    "el servidor rechazó el usuario o la contraseña (respuesta del servidor: \
                     {said})"
                ),
                Some("3D000") => {
                    format!("la base de datos no existe (respuesta del servidor: {said})")
                }
                // SQLite: CANTOPEN, READONLY, NOTADB.
                Some("14") => format!("no se pudo abrir el archivo (detalle: {said})"),
                Some("8") => format!("el archivo es de solo lectura (detalle: {said})"),
                Some("26") => {
                    format!("el archivo no es una base de datos SQLite (detalle: {said})")
                }
                _ => format!("el servidor respondió: {said}"),
            }
        }
        sqlx::Error::Io(io) => format!("no se pudo conectar: {}", io_words(io)),
        sqlx::Error::Tls(t) => format!("falló la conexión TLS (detalle: {t})"),
        sqlx::Error::PoolTimedOut => "no se obtuvo una conexión a tiempo".into(),
        other => format!("error de la base de datos (detalle: {other})"),
    }
}

pub fn ldap(e: &LdapError) -> String {
    match e {
        LdapError::Connect { url, cause } => format!(
            "no se pudo conectar con {url}; revise directory.ldap.url, starttls y ca_file \
             (detalle: {cause})"
        ),
        LdapError::Bind { bind_dn, cause } => format!(
            "el servidor LDAP rechazó la autenticación de {bind_dn}; revise \
             directory.ldap.bind_dn y password_file (detalle: {cause})"
        ),
        LdapError::Search { base_dn, cause } => format!(
            "falló la búsqueda bajo {base_dn}; revise directory.ldap.base_dn y filter \
             (detalle: {cause})"
        ),
        LdapError::Empty { base_dn } => format!(
            "la búsqueda bajo {base_dn} no encontró a nadie con correo; revise \
             directory.ldap.base_dn, filter y attributes.mail (se conserva el último directorio \
             leído)"
        ),
        LdapError::Timeout(d) => {
            format!("el servidor LDAP no respondió en {} s", d.as_secs())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_login_is_said_in_spanish_with_the_servers_words_quoted() {
        let e = ConnectError::Login {
            user: "mesayuda@example.test".into(),
            said: "[AUTHENTICATIONFAILED] Authentication failed.".into(),
        };
        assert_eq!(
            imap(&e),
            "el servidor IMAP rechazó el inicio de sesión de mesayuda@example.test (respuesta del \
             servidor: [AUTHENTICATIONFAILED] Authentication failed.)"
        );
        let refused = ConnectError::Network {
            addr: "127.0.0.1:1".into(),
            source: std::io::Error::from(ErrorKind::ConnectionRefused),
        };
        assert_eq!(
            database(&sqlx::Error::Io(std::io::Error::from(
                ErrorKind::ConnectionRefused
            ))),
            "no se pudo conectar: conexión rechazada (¿el servidor está en marcha y escucha en \
             ese puerto?)"
        );
        assert!(imap(&refused).starts_with(
            "no se pudo conectar con el servidor IMAP 127.0.0.1:1: conexión rechazada"
        ));
    }
}
