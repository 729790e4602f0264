//! What the benchmarks share: the databases they run on (the URLs given on the command line,
//! or a fresh SQLite file and, when reachable, a fresh PostgreSQL database dropped at the end)
//! and a configuration whose mail servers are never reached.

use sqlx::Connection;
use std::path::Path;

pub struct Databases {
    pub urls: Vec<String>,
    /// The PostgreSQL database made for this run, to drop at the end.
    created: Option<(sqlx::PgConnection, String)>,
}

impl Databases {
    /// The URLs given as arguments; without any, a SQLite file in `dir` and a new PostgreSQL
    /// database on 127.0.0.1:5432 when one answers.
    pub async fn from_args(dir: &Path) -> anyhow::Result<Databases> {
        let mut urls: Vec<String> = std::env::args().skip(1).collect();
        let mut created = None;
        if urls.is_empty() {
            urls.push(format!("sqlite://{}", dir.join("bench.db").display()));
            let admin = "postgres://postgres@127.0.0.1:5432/postgres";
            match sqlx::PgConnection::connect(admin).await {
                Ok(mut c) => {
                    let name = format!("mesayuda_bench_{:x}", rand::random::<u32>());
                    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                        .execute(&mut c)
                        .await?;
                    // Loopback: TLS would only measure the encryption of a connection that
                    // leaves no host.
                    urls.push(format!(
                        "postgres://postgres@127.0.0.1:5432/{name}?sslmode=disable"
                    ));
                    created = Some((c, name));
                }
                Err(e) => println!("PostgreSQL skipped: {e}"),
            }
        }
        Ok(Databases { urls, created })
    }

    /// Drops the PostgreSQL database made for this run, if any.
    pub async fn drop_created(self) -> anyhow::Result<()> {
        if let Some((mut c, name)) = self.created {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE {name} WITH (FORCE)"
            )))
            .execute(&mut c)
            .await?;
        }
        Ok(())
    }
}

/// A configuration on the database at `url` with placeholder mail servers (port 1, never
/// reached), then `more` (further sections).
/// The sweep benchmarks' configuration, written to `dir/bench.toml`: the shipped templates and
/// an escalation chain, so SLA alerts have readers.
#[allow(dead_code)] // shared by the sweep benchmarks; other benches include this file too
pub fn write_sweep_config(url: &str, dir: &std::path::Path) -> std::io::Result<std::path::PathBuf> {
    let path = dir.join("bench.toml");
    std::fs::write(
        &path,
        config_text(
            url,
            &format!(
                "[paths]\ntemplates = \"{}\"\n[escalation]\ncoordinator = \"c@example.test\"\ndirector = \"d@example.test\"\n",
                concat!(env!("CARGO_MANIFEST_DIR"), "/templates")
            ),
        ),
    )?;
    Ok(path)
}

pub fn config_text(url: &str, more: &str) -> String {
    format!(
        "[database]\nurl = \"{url}\"\n[imap]\nhost = \"127.0.0.1\"\nport = 1\nsecurity = \"none\"\n\
         username = \"m@example.test\"\npassword = \"x\"\n[smtp]\nhost = \"127.0.0.1\"\nport = 1\n\
         security = \"none\"\nfrom = \"s@example.test\"\nreply_to = \"m@example.test\"\n{more}"
    )
}
