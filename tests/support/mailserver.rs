//! A private Dovecot + Postfix per test, started with the project's own script.

use std::path::PathBuf;
use std::process::Command;

pub struct MailServer {
    pub dir: PathBuf,
    pub smtp_port: u16,
    /// SMTP with implicit TLS, as `smtps` clients reach it (only [`MailServer::with_smtps`]).
    pub smtps_port: Option<u16>,
    pub imap_port: u16,
    pub imaps_port: u16,
}

fn script() -> PathBuf {
    super::repo_root().join("deploy/dev/mailserver.sh")
}

impl MailServer {
    pub async fn start() -> MailServer {
        Self::start_with(&[]).await
    }

    /// With extra `mailserver.sh start` options, e.g. `--oauth2-token T` (which also makes SMTP
    /// offer AUTH, and accepts T as any user's password besides "secret").
    pub async fn start_with(extra: &[&str]) -> MailServer {
        Self::start_inner(extra, false).await
    }

    /// [`MailServer::start_with`] that also listens for SMTPS (implicit TLS), for the tests
    /// of every TLS flavour.
    pub async fn with_smtps(extra: &[&str]) -> MailServer {
        Self::start_inner(extra, true).await
    }

    async fn start_inner(extra: &[&str], smtps: bool) -> MailServer {
        // Socket paths are limited to ~107 bytes: keep the state directory short.
        let dir = PathBuf::from(format!(
            "/tmp/msy-{}-{:x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let server = MailServer {
            dir,
            smtp_port: super::ports::reserve(),
            smtps_port: smtps.then(super::ports::reserve),
            imap_port: super::ports::reserve(),
            imaps_port: super::ports::reserve(),
        };
        let out = tokio::process::Command::new(script())
            .arg("start")
            .arg(&server.dir)
            .args(["--smtp-port", &server.smtp_port.to_string()])
            .args(["--imap-port", &server.imap_port.to_string()])
            .args(["--imaps-port", &server.imaps_port.to_string()])
            .args(
                server
                    .smtps_port
                    .map(|p| vec!["--smtps-port".to_owned(), p.to_string()])
                    .unwrap_or_default(),
            )
            .args(extra)
            .output()
            .await
            .expect("run mailserver.sh");
        assert!(
            out.status.success(),
            "mail server did not start: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        server
    }

    fn control(&self, verb: &str) {
        let out = Command::new(script())
            .arg(verb)
            .arg(&self.dir)
            .output()
            .expect("run mailserver.sh");
        assert!(
            out.status.success(),
            "mailserver.sh {verb} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn stop_smtp(&self) {
        self.control("stop-smtp");
    }
    pub fn start_smtp(&self) {
        self.control("start-smtp");
    }
    pub fn stop_imap(&self) {
        self.control("stop-imap");
    }
    pub fn start_imap(&self) {
        self.control("start-imap");
    }
    /// The instance's own CA, which signed every TLS flavour it offers.
    pub fn cert(&self) -> PathBuf {
        self.dir.join("tls/cert.pem")
    }

    pub fn dovecot_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log/dovecot.log")).unwrap_or_default()
    }

    pub fn postfix_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log/postfix.log")).unwrap_or_default()
    }

    /// Whether Postfix holds no mail: everything it accepted has reached a mailbox. Postfix
    /// deletes a queue file only after Dovecot's LMTP answer, which comes once the mail is
    /// stored. Read in the order mail moves between the queues, twice: a deferred mail put
    /// back in `active` after `active` was read in the first pass is found in the second.
    pub fn queue_is_empty(&self) -> bool {
        fn files(dir: &std::path::Path) -> usize {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return 0;
            };
            entries
                .filter_map(|e| e.ok())
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => files(&e.path()),
                    Ok(_) => 1,
                    Err(_) => 0,
                })
                .sum()
        }
        let queue = self.dir.join("postfix-queue");
        (0..2).all(|_| {
            ["maildrop", "incoming", "active", "deferred", "hold"]
                .iter()
                .all(|q| files(&queue.join(q)) == 0)
        })
    }
}

impl Drop for MailServer {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("stop").arg(&self.dir).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
