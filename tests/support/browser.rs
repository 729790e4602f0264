//! Debian's Chromium driven over WebDriver: chromedriver on a reserved port, its temporary
//! files in the test's directory, and everything it started killed when the test ends.

use fantoccini::{Client, ClientBuilder};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// chromedriver in a process group of its own: killing the group also stops a browser it left
/// behind (SIGTERM to chromedriver alone leaves Chromium running, owned by PID 1).
pub struct Chromedriver {
    child: Child,
    pub url: String,
}

impl Chromedriver {
    /// `None` (with the reason printed) when chromedriver is not installed, except under
    /// `CI=true`, where that is a failure: `deploy/dev/test.sh` installs it.
    pub async fn start(dir: &Path) -> Option<Chromedriver> {
        let installed = Command::new("chromedriver")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("chromedriver is required in CI (apt-get install chromium chromium-driver)");
            }
            eprintln!("SKIPPED browser test: chromedriver is not installed (deploy/dev/test.sh installs chromium and chromium-driver)");
            return None;
        }
        let port = super::ports::reserve();
        let tmp = dir.join("chromium-tmp");
        std::fs::create_dir_all(&tmp).expect("chromium temp dir");
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            // Chromium's profile and socket directories go here, removed with the test's.
            .env("TMPDIR", &tmp)
            .env("HOME", &tmp)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("spawn chromedriver");
        let driver = Chromedriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let status = format!("{}/status", driver.url);
        super::eventually(Duration::from_secs(10), "chromedriver listening", || {
            let status = status.clone();
            async move { reqwest::get(&status).await.ok().map(|_| ()) }
        })
        .await;
        Some(driver)
    }

    /// A headless session whose viewport is a phone's: 390x844 CSS pixels.
    pub async fn phone(&self) -> Client {
        let caps = serde_json::json!({
            "goog:chromeOptions": {
                // Root has no sandbox, and there is no display.
                "args": ["--headless=new", "--no-sandbox", "--disable-breakpad"],
                // A window of 390x844 gives a 390x701 viewport; emulation gives the exact one.
                "mobileEmulation": {
                    "deviceMetrics": { "width": 390, "height": 844, "pixelRatio": 3.0 }
                }
            }
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!()
        };
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let pgid = self.child.id() as i32;
        // SAFETY: kill(2) with a negative pid signals the process group we created.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}
