//! Ports for the servers a test starts (Dovecot, Postfix, the daemon's HTTP listener).
//!
//! Binding port 0 and dropping the listener lets the kernel hand the same port out again (it
//! did: "the three ports must differ"), and those servers are other processes that cannot report
//! a port they chose. So ports come from below the kernel's ephemeral range, where neither port 0
//! nor an outgoing connection ever lands, and each one is reserved for the life of the test
//! process: an in-process set guards against this process, an exclusive lock file against
//! other test processes running at the same time (nextest, two `cargo test`s).

use std::collections::HashSet;
use std::fs::File;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Mutex;

/// Below Linux's default ephemeral range (32768–60999) and above the well-known services.
const FIRST: u16 = 20_000;
const LAST: u16 = 32_000;

struct Reserved {
    ports: HashSet<u16>,
    /// Held open so that the lock stays ours until the process exits.
    locks: Vec<File>,
}

static RESERVED: Mutex<Option<Reserved>> = Mutex::new(None);

fn lock_dir() -> PathBuf {
    let dir = std::env::temp_dir().join("mesayuda-test-ports");
    std::fs::create_dir_all(&dir).expect("create the port lock directory");
    dir
}

/// A port nobody listens on and no other test (in this or another process) will be given.
pub fn reserve() -> u16 {
    let mut guard = RESERVED.lock().unwrap_or_else(|e| e.into_inner());
    let reserved = guard.get_or_insert_with(|| Reserved {
        ports: HashSet::new(),
        locks: Vec::new(),
    });
    let dir = lock_dir();
    let span = u32::from(LAST - FIRST);
    let start = rand::random::<u32>() % span;
    for i in 0..span {
        let port = FIRST + ((start + i) % span) as u16;
        if reserved.ports.contains(&port) {
            continue;
        }
        let Ok(file) = File::create(dir.join(format!("{port}.lock"))) else {
            continue;
        };
        if file.try_lock().is_err() {
            continue; // another test process holds it
        }
        // Something outside the tests (a system service) may already listen there.
        if TcpListener::bind(("127.0.0.1", port)).is_err() {
            continue;
        }
        reserved.ports.insert(port);
        reserved.locks.push(file);
        return port;
    }
    panic!("no free test port between {FIRST} and {LAST}");
}
