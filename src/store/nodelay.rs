//! sqlx opens its PostgreSQL sockets with Nagle's algorithm on and has no setting to turn it
//! off. Whatever sqlx sends in two writes before it reads — the TLS handshake's records, a
//! statement over TLS carrying more than one 16 KB record (a stored message with an
//! attachment) — then waits for the server's delayed ACK, 40 ms, before its last part leaves:
//! an encrypted connection took 90 ms to open and a 140 KB message 20 ms to store instead of 6.
//! So every TCP socket of the process gets TCP_NODELAY, found through `/proc/self/fd`, each time
//! a database connection is opened: all of them belong to request/response clients (PostgreSQL,
//! IMAP, SMTP, the OAuth2 token endpoint) or to the HTTP listener, for which Nagle only adds waits.

/// Sets TCP_NODELAY on every TCP socket this process has open now.
pub fn set_on_all_sockets() {
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
            let one: libc::c_int = 1;
            // SAFETY: setsockopt only reads `one` for the length given, and on a descriptor
            // that is not (or no longer) a TCP socket it fails with an error code, ignored here.
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::IPPROTO_TCP,
                    libc::TCP_NODELAY,
                    (&one as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_tcp_socket_of_the_process_gets_nodelay() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let client =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        assert!(!client.nodelay().expect("nodelay"));
        super::set_on_all_sockets();
        assert!(client.nodelay().expect("nodelay"));
    }
}
