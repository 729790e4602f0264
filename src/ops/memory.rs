//! The allocator's settings for a long-running daemon (glibc malloc, chosen on measurements:
//! bench/README.md, "Memory"). By default glibc gives each thread that allocates an arena of
//! its own (up to 8 per core) and raises its mmap threshold after every large free (up to
//! 32 MB), so the buffers of a burst of mail and of a big message stay in the arenas after
//! they are freed: resident memory after 1,000 requests was twice the idle figure.

/// Before any thread starts: two arenas (the tokio workers share them), blocks over 128 KiB
/// mapped on their own and returned to the system when freed, and free memory at the top of
/// a heap returned above 128 KiB.
pub fn configure() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's malloc parameters; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 * 1024);
    }
}

/// After a burst (the mailbox reader going idle once it took mail in, the sender once its
/// queue is empty): SQLite's page caches are emptied, then the free pages inside the arenas go
/// back to the system, not only those at the top of a heap.
pub async fn release(db: &crate::store::Db) {
    db.release_memory().await;
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes the arenas' locks itself; it frees nothing in use.
    unsafe {
        libc::malloc_trim(0);
    }
}
