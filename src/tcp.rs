//! Options for every TCP socket of the process: all of them belong to request/response clients
//! (PostgreSQL, IMAP, SMTP, the OAuth2 token endpoint, LDAP) or to the HTTP listener.
//!
//! - **TCP_NODELAY.** sqlx opens its PostgreSQL sockets with Nagle's algorithm on and has no
//!   setting to turn it off. Whatever sqlx sends in two writes before it reads — the TLS
//!   handshake's records, a statement over TLS carrying more than one 16 KB record (a stored
//!   message with an attachment) — then waits for the server's delayed ACK, 40 ms, before its
//!   last part leaves: an encrypted connection took 90 ms to open and a 140 KB message 20 ms to
//!   store instead of 6.
//! - **Keepalive and a user timeout.** A client waiting for an answer whose server end is gone
//!   without a word waits for ever: no library we use puts a deadline on a read. It happened in
//!   the chaos run (issue 16): with the loopback slowed, PostgreSQL ended a session idle in its
//!   transaction (`idle_in_transaction_session_timeout`), its goodbye was lost, and both outbox
//!   senders waited on those dead sockets, sending nothing for minutes while the rest of the
//!   daemon worked. A NAT or firewall that forgets a connection, or a database host that
//!   vanishes, does the same. With keepalive probes after 5 s of silence, a peer whose socket is
//!   gone answers the first probe with a reset, and one that does not answer at all is given up
//!   after [`KEEPALIVE_IDLE_SECS`] + [`KEEPALIVE_PROBES`] × [`KEEPALIVE_INTERVAL_SECS`] = 11 s;
//!   data left unacknowledged for [`USER_TIMEOUT_MS`] ends the connection too. A live server
//!   answers the probes from its kernel, so a long query or an IDLE of 25 minutes is untouched.
//!
//! The IMAP connection is ours and is set directly ([`tune`]). sqlx offers neither option, and
//! lettre opens its own sockets, so theirs are found through `/proc/self/fd` each time one of
//! their connections is opened ([`tune_all_sockets`]; a few dozen descriptors, some
//! microseconds).

pub const KEEPALIVE_IDLE_SECS: libc::c_int = 5;
pub const KEEPALIVE_INTERVAL_SECS: libc::c_int = 2;
pub const KEEPALIVE_PROBES: libc::c_int = 3;
pub const USER_TIMEOUT_MS: libc::c_int = 20_000;

/// Sets the options above on every TCP socket this process has open now.
pub fn tune_all_sockets() {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    for entry in dir.flatten() {
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|t| t.to_string_lossy().starts_with("socket:"));
        let fd = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok());
        if let (true, Some(fd)) = (is_socket, fd) {
            tune(fd);
        }
    }
}

/// Sets the options above on one socket of ours (the IMAP connection's).
pub fn tune(fd: libc::c_int) {
    use libc::{IPPROTO_TCP as TCP, SOL_SOCKET};
    for (level, option, value) in [
        (TCP, libc::TCP_NODELAY, 1),
        (SOL_SOCKET, libc::SO_KEEPALIVE, 1),
        (TCP, libc::TCP_KEEPIDLE, KEEPALIVE_IDLE_SECS),
        (TCP, libc::TCP_KEEPINTVL, KEEPALIVE_INTERVAL_SECS),
        (TCP, libc::TCP_KEEPCNT, KEEPALIVE_PROBES),
        (TCP, libc::TCP_USER_TIMEOUT, USER_TIMEOUT_MS),
    ] {
        set(fd, level, option, value);
    }
}

fn set(fd: libc::c_int, level: libc::c_int, option: libc::c_int, value: libc::c_int) {
    // SAFETY: setsockopt only reads `value` for the length given, and on a descriptor that is
    // not (or no longer) a TCP socket it fails with an error code, ignored here (a Unix socket
    // of the logging or a pipe simply keeps its options).
    unsafe {
        libc::setsockopt(
            fd,
            level,
            option,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    fn get(fd: libc::c_int, level: libc::c_int, option: libc::c_int) -> libc::c_int {
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `value`.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                level,
                option,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        assert_eq!(rc, 0, "getsockopt");
        value
    }

    #[test]
    fn a_tcp_socket_of_the_process_gets_nodelay_keepalive_and_a_user_timeout() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let client =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let fd = client.as_raw_fd();
        assert!(!client.nodelay().expect("nodelay"));
        assert_eq!(get(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 0);
        tune_all_sockets();
        assert!(client.nodelay().expect("nodelay"));
        assert_eq!(get(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 1);
        assert_eq!(get(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE), 5);
        assert_eq!(get(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL), 2);
        assert_eq!(get(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT), 3);
        assert_eq!(get(fd, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT), 20_000);
    }
}
