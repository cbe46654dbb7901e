//! Keeps the load generator's progress lines off standard output.
//!
//! goose 0.19 prints "N users launched." with `println!` whatever its verbosity, which
//! put a line ahead of the report that `--json` promises as the only output. While the
//! load runs, descriptor 1 points at standard error, and it is restored afterwards.

use std::io::Write;

/// Standard output sent to standard error until the guard is dropped.
pub struct StdoutToStderr {
    /// A duplicate of the original descriptor 1.
    saved: libc::c_int,
}

impl StdoutToStderr {
    pub fn redirect() -> std::io::Result<StdoutToStderr> {
        // Whatever Rust buffered for the old target goes there first.
        std::io::stdout().flush()?;

        // SAFETY: dup and dup2 take plain descriptor numbers and touch no Rust memory.
        let saved = unsafe { libc::dup(1) };
        if saved < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: as above; descriptor 2 is open for the life of the process.
        if unsafe { libc::dup2(2, 1) } < 0 {
            let error = std::io::Error::last_os_error();
            // SAFETY: `saved` was returned by dup above and is closed once.
            unsafe { libc::close(saved) };
            return Err(error);
        }
        Ok(StdoutToStderr { saved })
    }
}

impl Drop for StdoutToStderr {
    fn drop(&mut self) {
        let _ = std::io::stdout().flush();
        // SAFETY: `saved` is the duplicate made in `redirect`, restored and closed once.
        unsafe {
            libc::dup2(self.saved, 1);
            libc::close(self.saved);
        }
    }
}
