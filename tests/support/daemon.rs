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
        Self::spawn_with(config, dir, "mesayuda=debug,info", &[])
    }

    /// [`Daemon::spawn`] with its own `RUST_LOG`, e.g. `info,sqlx::query=debug` to see every
    /// statement the daemon sends to the database.
    pub fn spawn_logging(config: &Path, dir: &Path, rust_log: &str) -> Daemon {
        Self::spawn_with(config, dir, rust_log, &[])
    }

    /// [`Daemon::spawn`] with environment variables set, e.g. `NOTIFY_SOCKET` to play systemd.
    pub fn spawn_with_env(config: &Path, dir: &Path, env: &[(&str, &str)]) -> Daemon {
        Self::spawn_with(config, dir, "mesayuda=debug,info", env)
    }

    fn spawn_with(config: &Path, dir: &Path, rust_log: &str, env: &[(&str, &str)]) -> Daemon {
        let log = dir.join(format!("daemon-{:x}.log", rand::random::<u32>()));
        let file = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mesayuda"));
        cmd.arg("--config")
            .arg(config)
            .arg("run")
            .env("RUST_LOG", rust_log)
            // A test run under systemd must not hand the daemon the runner's own sockets.
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .stdout(Stdio::null())
            .stderr(file);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Daemon {
            child: Some(cmd.spawn().expect("spawn mesayuda run")),
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

    /// SIGHUP, as `systemctl reload mesayuda` sends it.
    pub fn hup(&self) {
        self.signal("HUP");
    }

    /// The process id (0 once it was killed or terminated).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Sends `sig` (`"HUP"`, `"STOP"`, `"CONT"`…) as `kill -SIG` would.
    pub fn signal(&self, sig: &str) {
        // `kill -SIG 0` would signal the test's whole process group.
        if self.pid() == 0 {
            return;
        }
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{sig} failed");
    }

    /// SIGKILL: no chance to clean up, like a crash or power loss.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Waits for the process to exit by itself (a refused start, a second instance).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let start = std::time::Instant::now();
        let c = self.child.as_mut()?;
        loop {
            if let Ok(Some(s)) = c.try_wait() {
                self.child = None;
                return Some(s);
            }
            if start.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the log holds `what`.
    pub async fn wait_log(&self, what: &str, timeout: Duration) {
        super::eventually(timeout, &format!("log line `{what}`"), || async {
            self.log_text().contains(what).then_some(())
        })
        .await
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
            // The end of the story: a debug log of a long test would bury the failure.
            const TAIL: usize = 300;
            let log = self.log_text();
            let lines: Vec<&str> = log.lines().collect();
            let from = lines.len().saturating_sub(TAIL);
            eprintln!(
                "---- daemon log ({}), last {} of {} lines ----\n{}",
                self.log.display(),
                lines.len() - from,
                lines.len(),
                lines[from..].join("\n")
            );
        }
        self.kill();
    }
}
