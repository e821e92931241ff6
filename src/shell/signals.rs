//! SIGINT/SIGTERM for [`run`](super::run): blocked before any shard thread exists (threads
//! inherit the mask, so no shard is ever interrupted by them) and taken synchronously with
//! `sigwait` on the controlling thread.

use std::io;

/// A set of signals blocked in the calling thread, restorable.
pub(crate) struct BlockedSignals {
    set: libc::sigset_t,
    previous: libc::sigset_t,
}

impl BlockedSignals {
    /// Blocks SIGINT and SIGTERM in the calling thread; threads spawned afterwards inherit it.
    pub fn termination() -> io::Result<Self> {
        // NOTE: sigset_t is plain data; sigemptyset initialises it below.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        let mut previous: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: both sets are valid, writable sigset_t values.
        unsafe {
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
        }
        // SAFETY: as above; pthread_sigmask only reads `set` and writes `previous`.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut previous) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(BlockedSignals { set, previous })
    }

    /// Waits for one of the blocked signals and returns its number.
    pub fn wait(&self) -> io::Result<libc::c_int> {
        Self::wait_set(&self.set)
    }

    /// The waitable set, for a second waiter on another thread.
    pub fn set(&self) -> libc::sigset_t {
        self.set
    }

    pub fn wait_set(set: &libc::sigset_t) -> io::Result<libc::c_int> {
        let mut sig: libc::c_int = 0;
        // SAFETY: `set` is an initialised sigset_t and `sig` is writable.
        let rc = unsafe { libc::sigwait(set, &mut sig) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(sig)
    }

    /// Restores the calling thread's previous mask.
    pub fn restore(self) {
        // SAFETY: `previous` was filled by pthread_sigmask.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.previous, std::ptr::null_mut()) };
    }
}

/// `SIGINT`/`SIGTERM` by name, for log lines.
pub(crate) fn name(sig: libc::c_int) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        _ => "signal",
    }
}
