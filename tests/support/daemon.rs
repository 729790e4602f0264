//! The real binary, run as a child process with its log captured to a file.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Daemon {
    child: Option<Child>,
    pub log: PathBuf,
}

impl Daemon {
    pub fn spawn(config: &Path, dir: &Path) -> Daemon {
        let log = dir.join(format!("daemon-{:x}.log", rand::random::<u32>()));
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_mesayuda"))
            .arg("--config")
            .arg(config)
            .arg("run")
            .env("RUST_LOG", "mesayuda=debug,info")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn mesayuda run");
        Daemon {
            child: Some(child),
            log,
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process is still alive: it has neither crashed nor exited.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Sends `sig` (`"HUP"`, `"TERM"`…) as `kill -SIG` would, e.g. `systemctl reload`'s SIGHUP.
    pub fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .arg(format!("-{sig}"))
                .arg(c.id().to_string())
                .status();
        }
    }

    /// SIGKILL: no chance to clean up, like a crash or power loss.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then waits; returns how long the daemon took to exit and its status.
    pub fn terminate(&mut self) -> (Duration, Option<std::process::ExitStatus>) {
        let start = std::time::Instant::now();
        let Some(mut c) = self.child.take() else {
            return (Duration::ZERO, None);
        };
        unsafe_sigterm(c.id());
        let deadline = start + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = c.try_wait() {
                return (start.elapsed(), Some(status));
            }
            if std::time::Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                return (start.elapsed(), None);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn unsafe_sigterm(pid: u32) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- daemon log ({}) ----\n{}",
                self.log.display(),
                self.log_text()
            );
        }
        self.kill();
    }
}
