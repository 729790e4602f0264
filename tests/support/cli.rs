//! Runs `mesayuda` CLI commands as ops and agents would, against a test's config.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

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
