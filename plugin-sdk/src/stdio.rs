//! A subprocess plugin's main loop, for plugins written in Rust: JSON lines on
//! stdin/stdout, the hello handshake first, until goodbye or end of input.

use std::io::{BufRead, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::ABI_VERSION;
use crate::export::{Handler, panic_message};
use crate::message::{Description, Request, Response};

/// Serves requests from stdin until the host says goodbye or closes stdin.
pub fn serve(describe: fn() -> Description, handle: Handler) -> std::io::Result<()> {
    let stdin = std::io::stdin().lock();
    let stdout = std::io::stdout().lock();
    serve_on(stdin, stdout, describe, handle)
}

/// [`serve`] on any reader and writer (for tests).
pub fn serve_on(
    input: impl BufRead,
    mut output: impl Write,
    describe: fn() -> Description,
    handle: Handler,
) -> std::io::Result<()> {
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let response = match serde_json::from_str::<Request>(&line) {
            Err(e) => Response::error(format!("the plugin could not read the request: {e}")),
            Ok(Request::Goodbye) => return Ok(()),
            Ok(Request::Hello { .. }) => Response::Hello {
                protocol: ABI_VERSION,
                plugin: describe(),
            },
            Ok(request) => match catch_unwind(AssertUnwindSafe(|| handle(request))) {
                Ok(Ok(r)) => r,
                Ok(Err(message)) => Response::Error { message },
                Err(p) => Response::error(format!("the plugin panicked: {}", panic_message(&*p))),
            },
        };
        serde_json::to_writer(&mut output, &response)?;
        output.write_all(b"\n")?;
        output.flush()?;
    }
    Ok(())
}
