//! Stopping cleanly on SIGINT (Ctrl-C) and SIGTERM (systemd stop, `scancel`, Kubernetes pod
//! eviction): the handler only sets a flag; the pipeline checks it between units of work
//! (one study), commits what is finished and exits with 130 or 143 so a wrapper script can
//! tell "interrupted" from "failed". A second signal while stopping exits at once, for an
//! operator who does not want to wait for the current study.
//!
//! `signal-hook` rather than `ctrlc`: ctrlc's handler is not told which signal arrived, and
//! the exit code must say it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// A termination request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGINT: Ctrl-C.
    Interrupt,
    /// SIGTERM: `kill`, systemd, Slurm, Kubernetes.
    Terminate,
}

impl StopSignal {
    /// The shell convention 128 + signal number: 130 for SIGINT, 143 for SIGTERM.
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Interrupt => 130,
            Self::Terminate => 143,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Interrupt => "SIGINT",
            Self::Terminate => "SIGTERM",
        }
    }

    fn code(self) -> usize {
        match self {
            Self::Interrupt => 1,
            Self::Terminate => 2,
        }
    }

    fn from_code(code: usize) -> Option<Self> {
        match code {
            1 => Some(Self::Interrupt),
            2 => Some(Self::Terminate),
            _ => None,
        }
    }
}

impl std::fmt::Display for StopSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Returned by [`StopFlag::check`] so that a loop can stop with `?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stopped by {signal}")]
pub struct Interrupted {
    pub signal: StopSignal,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot install the SIGINT/SIGTERM handlers: {0}")]
pub struct SignalError(#[from] std::io::Error);

/// A shared "please stop" flag; cheap to clone into worker threads.
#[derive(Debug, Clone, Default)]
pub struct StopFlag {
    state: Arc<AtomicUsize>,
}

static INSTALLED: OnceLock<StopFlag> = OnceLock::new();

impl StopFlag {
    /// A flag no signal sets (tests, library users with their own cancellation).
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes SIGINT and SIGTERM of this process to a flag. Idempotent: every call returns
    /// the same flag.
    pub fn install() -> Result<Self, SignalError> {
        if let Some(f) = INSTALLED.get() {
            return Ok(f.clone());
        }
        let flag = Self::new();
        let armed = Arc::new(AtomicBool::new(false));
        for (sig, stop) in [
            (signal_hook::consts::SIGINT, StopSignal::Interrupt),
            (signal_hook::consts::SIGTERM, StopSignal::Terminate),
        ] {
            // Order matters: the forced exit is checked before the flag arms it, so only a
            // second signal exits at once.
            signal_hook::flag::register_conditional_shutdown(
                sig,
                i32::from(stop.exit_code()),
                Arc::clone(&armed),
            )?;
            signal_hook::flag::register_usize(sig, Arc::clone(&flag.state), stop.code())?;
            signal_hook::flag::register(sig, Arc::clone(&armed))?;
        }
        Ok(INSTALLED.get_or_init(|| flag).clone())
    }

    /// The signal that asked to stop (the last one, if several arrived), if any.
    pub fn signal(&self) -> Option<StopSignal> {
        StopSignal::from_code(self.state.load(Ordering::SeqCst))
    }

    pub fn should_stop(&self) -> bool {
        self.signal().is_some()
    }

    /// `Err` once a stop was requested; call between units of work.
    pub fn check(&self) -> Result<(), Interrupted> {
        match self.signal() {
            Some(signal) => Err(Interrupted { signal }),
            None => Ok(()),
        }
    }

    /// Requests a stop as if `signal` had arrived (tests, a `--max-time` budget, ...).
    pub fn request(&self, signal: StopSignal) {
        self.state.store(signal.code(), Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_is_seen_by_clones() {
        let f = StopFlag::new();
        let g = f.clone();
        assert!(!g.should_stop());
        assert_eq!(g.check(), Ok(()));
        f.request(StopSignal::Terminate);
        assert_eq!(g.signal(), Some(StopSignal::Terminate));
        assert_eq!(
            g.check().unwrap_err().to_string(),
            "stopped by SIGTERM".to_string()
        );
        f.request(StopSignal::Interrupt);
        assert_eq!(g.signal().map(StopSignal::exit_code), Some(130));
        assert_eq!(StopSignal::Terminate.exit_code(), 143);
    }
}
