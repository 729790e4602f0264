//! Recovery news between the instances on one PostgreSQL database (`store::news`): what this
//! instance finds reachable again is published, what another one found wakes this one's
//! workers waiting out a retry delay (`outage::heard_back`).

use crate::ops::outage::{self, Dependency};
use crate::store::{self, news, Db};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::debug;

/// Pause before listening again after the listening connection failed.
const RECONNECT: Duration = Duration::from_secs(2);
/// A publication that takes longer is given up: the news only saves the others some waiting.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn run(db: Db, url: String, cancel: CancellationToken) {
    tokio::join!(publish(db, cancel.clone()), listen(url, cancel));
}

async fn publish(db: Db, cancel: CancellationToken) {
    let [mut database, mut smtp, mut mailbox, mut ldap] = Dependency::ALL.map(outage::found);
    loop {
        let dep = tokio::select! {
            _ = cancel.cancelled() => return,
            r = database.changed() => r.map(|_| Dependency::Database),
            r = smtp.changed() => r.map(|_| Dependency::Smtp),
            r = mailbox.changed() => r.map(|_| Dependency::Mailbox),
            r = ldap.changed() => r.map(|_| Dependency::Ldap),
        };
        let Ok(dep) = dep else { return };
        let sent = tokio::time::timeout(
            PUBLISH_TIMEOUT,
            news::publish(&db, dep.key(), store::instance_name()),
        )
        .await;
        match sent {
            Ok(Ok(())) => debug!(
                dependency = dep.key(),
                "told the other instances it is reachable again"
            ),
            Ok(Err(e)) => {
                debug!(dependency = dep.key(), error = %e, "could not tell the other instances")
            }
            Err(_) => debug!(
                dependency = dep.key(),
                "could not tell the other instances in time"
            ),
        }
    }
}

async fn listen(url: String, cancel: CancellationToken) {
    let mut lost = false;
    while !cancel.is_cancelled() {
        match news::Listener::connect(&url).await {
            Ok(mut l) => {
                if lost {
                    // Listening again means the database answers again: whoever waits for it
                    // may retry now.
                    outage::heard_back(Dependency::Database);
                }
                loop {
                    let next = tokio::select! {
                        _ = cancel.cancelled() => return,
                        n = l.next() => n,
                    };
                    match next {
                        Ok(Some(n)) if n.from == store::instance_name() => {}
                        Ok(Some(n)) => {
                            let Some(dep) = Dependency::from_key(&n.what) else {
                                continue;
                            };
                            debug!(dependency = dep.key(), instance = %n.from, "another instance found it reachable again");
                            outage::heard_back(dep);
                        }
                        Ok(None) | Err(_) => break,
                    }
                }
            }
            Err(e) => debug!(error = %e, "cannot listen to the other instances"),
        }
        lost = true;
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(RECONNECT) => {}
        }
    }
}
