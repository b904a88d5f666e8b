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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Capability;
    use crate::message::CapabilityKind;
    use serde_json::{Value, json};

    fn describe() -> Description {
        Description {
            name: "echo".into(),
            version: "1.0.0".into(),
            description: None,
            capabilities: vec![Capability {
                kind: CapabilityKind::FieldTransform,
                function: "echo".into(),
                description: None,
                needs_record: false,
                needs: None,
            }],
            config_schema: None,
        }
    }

    fn handle(r: Request) -> Result<Response, String> {
        match r {
            Request::Transform { value, .. } if value == json!("boom") => panic!("boom"),
            Request::Transform { value, .. } => Ok(Response::Value { value }),
            _ => Err("unsupported".into()),
        }
    }

    #[test]
    fn handshake_requests_panics_and_goodbye() {
        let input = concat!(
            r#"{"type":"hello","protocol":1,"host":"test"}"#,
            "\n",
            r#"{"type":"transform","function":"echo","value":1}"#,
            "\n\nnot json\n",
            r#"{"type":"transform","function":"echo","value":"boom"}"#,
            "\n",
            r#"{"type":"goodbye"}"#,
            "\n",
            r#"{"type":"transform","function":"echo","value":2}"#,
            "\n",
        );
        let mut out = Vec::new();
        serve_on(input.as_bytes(), &mut out, describe, handle).unwrap();
        let lines: Vec<Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert_eq!(lines[0]["type"], "hello");
        assert_eq!(lines[0]["plugin"]["name"], "echo");
        assert_eq!(lines[1], json!({"type": "value", "value": 1}));
        assert_eq!(lines[2]["type"], "error");
        assert_eq!(
            lines[3],
            json!({"type": "error", "message": "the plugin panicked: boom"})
        );
    }
}
