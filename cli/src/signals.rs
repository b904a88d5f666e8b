//! SIGINT (Ctrl-C) and SIGTERM for the commands that stop cleanly instead of dying
//! mid-write: `rollcall daemon` and `rollcall run`.

use std::future::Future;

/// The signal that asked rollcall to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
}

impl Stop {
    /// `SIGINT` or `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            Stop::Interrupt => "SIGINT",
            Stop::Terminate => "SIGTERM",
        }
    }

    /// The exit status of a command the signal stopped: 128 + the signal's number, as
    /// shells report a process the signal killed.
    pub fn exit_code(self) -> u8 {
        match self {
            Stop::Interrupt => 130,
            Stop::Terminate => 143,
        }
    }
}

/// Takes SIGINT and SIGTERM over from now on (they no longer end the process) and
/// returns a future that completes with the first one to arrive, even if it arrives
/// before the future is first polled. When the signals cannot be listened to, a
/// warning is logged, they keep their default effect and the future never completes.
pub fn listen() -> impl Future<Output = Stop> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let listening = match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(int), Ok(term)) => Some((int, term)),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(
                    "cannot listen for SIGINT and SIGTERM ({e}); they stop rollcall at once, and a run in progress is rolled back by SQLite and marked interrupted at the next start"
                );
                None
            }
        };
        async move {
            let Some((mut int, mut term)) = listening else {
                return std::future::pending().await;
            };
            tokio::select! {
                _ = int.recv() => Stop::Interrupt,
                _ = term.recv() => Stop::Terminate,
            }
        }
    }
    #[cfg(not(unix))]
    {
        let ctrl_c = tokio::signal::ctrl_c();
        async move {
            match ctrl_c.await {
                Ok(()) => Stop::Interrupt,
                Err(e) => {
                    tracing::warn!("cannot listen for Ctrl-C ({e}); it stops rollcall at once");
                    std::future::pending().await
                }
            }
        }
    }
}
