//! `mesayuda directory show EMAIL`: one person as the daemon sees them — the TOML directory
//! over the last LDAP read the daemon stored — with the boss who approves their requests.

use super::{open_db, CliError, DirectoryCommand};
use crate::config::Config;
use crate::domain::directory::{Directory, Person};
use crate::domain::es_co;
use crate::workflow::{LdapRead, Procedure};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};

pub async fn run(config: Config, cmd: DirectoryCommand) -> Result<(), CliError> {
    let DirectoryCommand::Show { email, json } = cmd;
    let procedure =
        Procedure::from_config(&config).map_err(|e| CliError::config(format_args!("{e:#}")))?;
    let mut read_at = None;
    if config.directory.ldap.is_some() {
        let db = open_db(&config).await?;
        // Not `?` on the query: this error, unlike the other commands' database errors, has
        // always been printed as the whole chain without the "database error:" prefix.
        let stored = async {
            let mut conn = db.pool.acquire().await?;
            crate::store::ldap_directory::load(&mut conn).await
        }
        .await
        .map_err(|e| CliError::failure(format_args!("{e:#}")))?;
        if let Some((entries, at)) = stored {
            procedure
                .install_ldap(
                    &config,
                    LdapRead {
                        entries,
                        read_at: at,
                    },
                )
                .map_err(|e| CliError::failure(format_args!("{e:#}")))?;
            read_at = Some(at);
        }
    }
    let snap = procedure.snapshot();
    let d = &snap.directory;
    let Some(p) = d.person(&email) else {
        return Err(CliError::not_found(format_args!(
            "nobody with the address {email} in the directory"
        )));
    };
    let tz = procedure.calendar.timezone();
    let read_at = read_at.and_then(|t| DateTime::<Utc>::from_timestamp(t, 0));
    if json {
        let v = to_json(d, p, read_at.map(|t| crate::clock::cli_rfc3339(t, &tz)));
        println!("{v}");
    } else {
        let when = read_at.map(|t| crate::clock::cli_time(t, &tz));
        print!("{}", human(d, p, when));
    }
    Ok(())
}

fn someone(d: &Directory, email: Option<&str>) -> Value {
    match email {
        None => Value::Null,
        Some(e) => json!({
            "email": e,
            "name": d.person(e).map(|p| p.name.clone()),
        }),
    }
}

fn to_json(d: &Directory, p: &Person, ldap_read_at: Option<String>) -> Value {
    let away = (p.away_from.is_some() || p.away_until.is_some()).then(|| {
        json!({
            "from": p.away_from.map(|x| x.to_string()),
            "until": p.away_until.map(|x| x.to_string()),
        })
    });
    json!({
        "email": p.email,
        "name": p.name,
        "position": p.position,
        "office": p.office,
        "phone": p.phone,
        "roles": [p.role.as_str()],
        "boss": someone(d, p.boss.as_deref()),
        "approver": someone(d, d.boss_of(&p.email).map(|b| b.email.as_str())),
        "substitute": someone(d, p.substitute.as_deref()),
        "away_periods": away.into_iter().collect::<Vec<_>>(),
        "ldap_read_at": ldap_read_at,
    })
}

fn date(d: Option<NaiveDate>) -> Option<String> {
    d.map(es_co::date)
}

fn human(d: &Directory, p: &Person, ldap_read_at: Option<String>) -> String {
    let named = |email: Option<&str>| match email {
        None => "—".to_owned(),
        Some(e) => match d.person(e) {
            Some(x) => x.mailbox(),
            None => format!("{e} (no está en el directorio)"),
        },
    };
    let away = match (date(p.away_from), date(p.away_until)) {
        (None, None) => "ninguna".to_owned(),
        (Some(f), Some(u)) => format!("del {f} al {u}"),
        (Some(f), None) => format!("desde el {f}"),
        (None, Some(u)) => format!("hasta el {u}"),
    };
    let rows = [
        ("Nombre", p.name.clone()),
        ("Correo", p.email.clone()),
        ("Cargo", p.position.clone().unwrap_or_else(|| "—".into())),
        ("Dependencia", non_empty(&p.office)),
        ("Teléfono", p.phone.clone().unwrap_or_else(|| "—".into())),
        ("Rol", format!("{} ({})", p.role.label(), p.role.as_str())),
        ("Jefe inmediato", named(p.boss.as_deref())),
        (
            "Aprueba sus solicitudes",
            named(d.boss_of(&p.email).map(|b| b.email.as_str())),
        ),
        ("Suplente", named(p.substitute.as_deref())),
        ("Ausencias", away),
        (
            "Directorio LDAP leído",
            ldap_read_at.unwrap_or_else(|| "nunca (solo el archivo del directorio)".into()),
        ),
    ];
    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{k}:{} {v}\n", " ".repeat(width - k.chars().count())))
        .collect()
}

fn non_empty(s: &str) -> String {
    if s.trim().is_empty() {
        "—".into()
    } else {
        s.to_owned()
    }
}
