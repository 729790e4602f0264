//! Runs `mesayuda` CLI commands as ops and agents would, against a test's config.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

/// Writes a configuration with the database at `db_url` and placeholder mail servers (port 1,
/// never reached): enough for commands that only use the database. Returns its path.
pub fn config_for_db(dir: &Path, db_url: &str) -> PathBuf {
    let p = dir.join("mesayuda.toml");
    std::fs::write(
        &p,
        format!(
            "[database]\nurl = \"{db_url}\"\n[imap]\nhost = \"127.0.0.1\"\nport = 1\nsecurity = \"none\"\n\
             username = \"m@example.test\"\npassword = \"x\"\n[smtp]\nhost = \"127.0.0.1\"\nport = 1\n\
             security = \"none\"\nfrom = \"s@example.test\"\nreply_to = \"m@example.test\"\n"
        ),
    )
    .unwrap();
    p
}

pub struct Cli {
    config: PathBuf,
}

impl Cli {
    pub fn new(config: &Path) -> Cli {
        Cli {
            config: config.to_owned(),
        }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_mesayuda"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .output()
            .expect("run mesayuda")
    }

    /// Runs a command that prints JSON and parses it; panics with its stderr otherwise.
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "mesayuda {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "mesayuda {args:?} printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    pub fn tickets(&self) -> Vec<Value> {
        match self.json(&["tickets", "list", "--json"]) {
            Value::Array(a) => a,
            other => panic!("tickets list --json is not an array: {other}"),
        }
    }

    pub fn ticket(&self, id: &str) -> Value {
        self.json(&["tickets", "show", id, "--json"])
    }
}
