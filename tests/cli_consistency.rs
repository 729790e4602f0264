//! The CLI as ops meet it: commands that need one section work without the others, `migrate`
//! says what it did, and `--help` describes every option and argument.

mod support;

use std::process::{Command, Output};
use support::cli::config_for_db;
use support::{Cli, DbKind, TestDb};

fn mesayuda(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mesayuda"))
        .args(args)
        .output()
        .expect("run mesayuda")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn calendar_holidays_need_no_configuration_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such.toml");
    let out = Cli::new(&missing).run(&["calendar", "holidays", "2027"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    // A header row, then 1 January 2027, a Friday; the weekday is written in Spanish.
    let mut lines = text.lines();
    assert!(
        lines.next().unwrap().starts_with("FECHA       DÍA"),
        "{text}"
    );
    assert!(
        lines.next().unwrap().starts_with("2027-01-01  viernes"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 1 + 19, "{text}");
}

#[test]
fn calendar_holidays_read_only_the_calendar_section() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("m.toml");
    // No [imap] nor [smtp]: a half-written file still answers, with its extra holiday.
    std::fs::write(
        &cfg,
        "[database]\nurl = \"sqlite:///nowhere.db\"\n[calendar]\nextra_holidays = [\"2027-12-24\"]\n",
    )
    .unwrap();
    let days = Cli::new(&cfg).json(&["calendar", "holidays", "2027", "--json"]);
    let dates: Vec<&str> = days
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["date"].as_str().unwrap())
        .collect();
    assert!(dates.contains(&"2027-12-24"), "{dates:?}");

    std::fs::write(&cfg, "[calendar]\ntimezone = \"Mars/Olympus\"\n").unwrap();
    let out = Cli::new(&cfg).run(&["calendar", "holidays", "2027"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[calendar]"));
}

async fn migrate_says_how_many(kind: DbKind) {
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = TestDb::create(kind, dir.path()).await else {
        return;
    };
    let cfg = config_for_db(dir.path(), &db.url);
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .count();
    let cli = Cli::new(&cfg);
    let first = cli.run(&["migrate"]);
    assert!(first.status.success());
    assert_eq!(
        stdout(&first).trim(),
        format!("Se aplicaron {migrations} migraciones.")
    );
    let again = cli.run(&["migrate"]);
    assert!(again.status.success());
    assert_eq!(
        stdout(&again).trim(),
        "La base de datos ya estaba al día: ninguna migración por aplicar."
    );
}

/// Every subcommand's `--help`: each option and argument line carries a description.
#[test]
fn help_describes_every_option_and_argument() {
    let commands: &[&[&str]] = &[
        &[],
        &["run"],
        &["migrate"],
        &["check-config"],
        &["send-test-mail"],
        &["outbox", "list"],
        &["outbox", "retry"],
        &["tickets", "list"],
        &["tickets", "show"],
        &["jobs", "run"],
        &["calendar", "holidays"],
        &["approvals", "pending"],
        &["directory", "show"],
        &["sla", "report"],
        &[
            "sla",
            "compliance",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-30",
        ],
    ];
    for cmd in commands {
        let mut args = cmd.to_vec();
        args.push("--help");
        let out = mesayuda(&args);
        assert!(out.status.success(), "{args:?}");
        let text = stdout(&out);
        let mut section = "";
        for line in text.lines() {
            if !line.starts_with(' ') && line.ends_with(':') {
                section = line;
                continue;
            }
            if !matches!(section, "Options:" | "Arguments:") || line.trim().is_empty() {
                continue;
            }
            // "  -h, --help  Print help", "  <YEAR>  The year, …": name, two spaces, text.
            let item = line.trim_start();
            let described = item
                .split_once("  ")
                .is_some_and(|(_, d)| !d.trim().is_empty());
            // A long description wraps onto indented continuation lines: not an item.
            let continuation = line.starts_with("          ") && !item.starts_with('-');
            assert!(
                described || continuation,
                "mesayuda {} --help: `{item}` has no description",
                cmd.join(" ")
            );
        }
    }
}

/// The command succeeded; else its stderr is the failure.
fn succeeds(cli: &Cli, args: &[&str]) {
    let out = cli.run(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The command is refused as a configuration error (exit 2) that names `what`.
fn refused_naming(cli: &Cli, args: &[&str], what: &str) {
    let out = cli.run(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(what), "{args:?} does not name {what}: {err}");
}

/// Commands that only read or write the database run with a file holding `[database]` alone,
/// or with mail secrets the operator cannot read; the daemon's own checks still name what is
/// missing, and `jobs run`, which composes mail, names `[smtp]`.
async fn database_commands_need_only_the_database(kind: DbKind) {
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = TestDb::create(kind, dir.path()).await else {
        return;
    };
    let only_db = dir.path().join("solo-base.toml");
    std::fs::write(&only_db, format!("[database]\nurl = \"{}\"\n", db.url)).unwrap();
    let cli = Cli::new(&only_db);
    let period = ["--from", "2026-11-01", "--to", "2026-11-30"];
    for args in [
        &["migrate"][..],
        &["tickets", "list"],
        &["tickets", "list", "--json"],
        &["approvals", "pending"],
        &["sla", "report"],
        &[&["sla", "compliance"][..], &period[..]].concat(),
        &["outbox", "list"],
    ] {
        succeeds(&cli, args);
    }
    // A wrong word is refused in the operator's language, naming what would be accepted.
    refused_naming(
        &cli,
        &["tickets", "list", "--status", "abierto"],
        "[possible values: registrado, pendiente_por_usuario, pendiente_aprobacion",
    );
    refused_naming(
        &cli,
        &["tickets", "show", "abc"],
        "`abc` is not a ticket number (e.g. REQ-12 or INC-3)",
    );
    let now = "2026-12-01T08:00:00-05:00";
    refused_naming(&cli, &["jobs", "run", "--now", now], "[smtp]");
    refused_naming(&cli, &["check-config", "--offline"], "[imap]");

    // The mail servers' password files are not read by a command that does not need them.
    let unreadable = dir.path().join("sin-acceso.toml");
    let text = std::fs::read_to_string(config_for_db(dir.path(), &db.url))
        .unwrap()
        .replace(
            "password = \"x\"",
            "password_file = \"/nonexistent/imap.pass\"",
        );
    std::fs::write(&unreadable, text).unwrap();
    let cli = Cli::new(&unreadable);
    succeeds(&cli, &["tickets", "list"]);
    refused_naming(&cli, &["check-config", "--offline"], "imap.password");
}

/// The column each header starts at, in characters (Spanish accents are multi-byte).
fn column_starts(header: &str, names: &[&str]) -> Vec<usize> {
    names
        .iter()
        .map(|n| {
            let byte = header.find(n).unwrap_or_else(|| panic!("{n} in {header}"));
            header[..byte].chars().count()
        })
        .collect()
}

/// The cell of `line` that starts at character `at`.
fn cell_at(line: &str, at: usize) -> String {
    line.chars()
        .skip(at)
        .collect::<String>()
        .split("  ")
        .next()
        .unwrap()
        .to_owned()
}

/// Listings have a Spanish header row, columns as wide as their widest cell (a long address
/// does not push the subject out of line), and times with the calendar's offset; JSON has
/// RFC 3339 instants.
async fn listings_have_headers_aligned_columns_and_offsets(kind: DbKind) {
    let dir = tempfile::tempdir().unwrap();
    let Some(db) = TestDb::create(kind, dir.path()).await else {
        return;
    };
    let cli = Cli::new(&config_for_db(dir.path(), &db.url));
    succeeds(&cli, &["migrate"]);
    let pool = mesayuda::store::Db::connect(&db.url, 1).await.unwrap();
    let long = "maria.fernanda.gutierrez.de.la.espriella@secretaria-de-educacion.example.test";
    // 2026-11-30 01:48 UTC is 29/11/2026 8:48 p. m. in Bogotá (UTC-5).
    for (i, (requester, subject, at)) in [
        (
            "ana@example.test",
            "Instalación de impresora",
            1_796_003_280_i64,
        ),
        (long, "Contraseña del correo", 1_796_007_200),
    ]
    .iter()
    .enumerate()
    {
        sqlx::query(
            "INSERT INTO tickets (status, subject, requester, root_message_id, created_at, updated_at) \
             VALUES ('trabajo_en_progreso', $1, $2, $3, $4, $4)",
        )
        .bind(*subject)
        .bind(*requester)
        .bind(format!("root{i}@example.test"))
        .bind(*at)
        .execute(&pool.pool)
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO outbox (ticket_id, kind, message_id, envelope_from, recipients, raw, \
         status, attempts, next_attempt_at, created_at, sent_at) \
         VALUES (2, 'acuse', 'ack2@example.test', 'mesa@example.test', $1, $2, 'sent', 1, \
         1796007201, 1796007201, 1796007202)",
    )
    .bind(long)
    .bind(Vec::<u8>::new())
    .execute(&pool.pool)
    .await
    .unwrap();

    let out = cli.run(&["tickets", "list"]);
    assert!(out.status.success());
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let names = ["CASO", "ESTADO", "CREADO", "SOLICITANTE", "ASUNTO"];
    let starts = column_starts(lines[0], &names);
    assert_eq!(starts[0], 0, "{text}");
    // Every row has its cells where the header puts the columns, the long address included.
    for (line, cells) in lines[1..].iter().zip([
        [
            "REQ-1",
            "trabajo_en_progreso",
            "29/11/2026 8:48 p. m. -05:00",
            "ana@example.test",
            "Instalación de impresora",
        ],
        [
            "REQ-2",
            "trabajo_en_progreso",
            "29/11/2026 9:53 p. m. -05:00",
            long,
            "Contraseña del correo",
        ],
    ]) {
        for (at, want) in starts.iter().zip(cells) {
            assert_eq!(cell_at(line, *at), want, "column at {at}:\n{text}");
        }
        assert!(!line.ends_with(' '), "trailing blanks: {line:?}");
    }

    // JSON: the same instant in RFC 3339, in the same zone as the table.
    let json = cli.json(&["tickets", "list", "--json"]);
    assert_eq!(json[0]["created_at"], "2026-11-29T20:48:00-05:00", "{json}");

    // The outbox: same table, and JSON instants in RFC 3339 with the calendar's offset.
    let text = stdout(&cli.run(&["outbox", "list"]));
    let lines: Vec<&str> = text.lines().collect();
    let starts = column_starts(lines[0], &["ESTADO", "CASO", "CREADO", "PARA", "ERROR"]);
    for (at, want) in
        starts
            .iter()
            .zip(["sent", "REQ-2", "29/11/2026 9:53 p. m. -05:00", long, "-"])
    {
        assert_eq!(cell_at(lines[1], *at), want, "column at {at}:\n{text}");
    }
    let mail = &cli.json(&["outbox", "list", "--json"])[0];
    assert_eq!(mail["created_at"], "2026-11-29T21:53:21-05:00", "{mail}");
    assert_eq!(
        mail["next_attempt_at"], "2026-11-29T21:53:21-05:00",
        "{mail}"
    );
    assert_eq!(mail["sent_at"], "2026-11-29T21:53:22-05:00", "{mail}");
    assert_eq!(mail["recipients"], long, "{mail}");
}

on_both_databases!(setup = kind;
    migrate_says_how_many,
    database_commands_need_only_the_database,
    listings_have_headers_aligned_columns_and_offsets,
);
