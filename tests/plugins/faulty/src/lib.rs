//! Test plugin `faulty`: built with the SDK, misbehaving on purpose.
//!
//! - `panic` (field transform): panics.
//! - `wrong_kind` (field transform): answers with records instead of a value.
//! - `short` (record transform): answers one outcome fewer than it was sent.
//! - `upper` (field transform): uppercases text (a working function).
//! - `panic_pages` (paginator): panics.
//! - `hang` (field transform) and `hang_pages` (paginator): never return (the call
//!   blocks its thread forever, without using the CPU).
//! - With `ROLLCALL_FAULTY_HANG_ON_LOAD` set in the environment, `describe` never
//!   returns, so loading the library hangs.

use rollcall_plugin_sdk::{Capability, CapabilityKind, Description, Request, Response};
use serde_json::Value;

rollcall_plugin_sdk::export_plugin!(describe: describe, handle: handle);

fn describe() -> Description {
    if std::env::var_os("ROLLCALL_FAULTY_HANG_ON_LOAD").is_some() {
        hang();
    }
    let cap = |kind, function: &str| Capability {
        kind,
        function: function.into(),
        description: None,
        needs_record: false,
        needs: None,
    };
    Description {
        name: "faulty".into(),
        version: "0.0.1".into(),
        description: None,
        capabilities: vec![
            cap(CapabilityKind::FieldTransform, "panic"),
            cap(CapabilityKind::FieldTransform, "wrong_kind"),
            cap(CapabilityKind::RecordTransform, "short"),
            cap(CapabilityKind::FieldTransform, "upper"),
            cap(CapabilityKind::Paginator, "panic_pages"),
            cap(CapabilityKind::FieldTransform, "hang"),
            cap(CapabilityKind::Paginator, "hang_pages"),
        ],
        config_schema: None,
    }
}

fn handle(request: Request) -> Result<Response, String> {
    match request {
        Request::Transform {
            function, value, ..
        } => match function.as_str() {
            "panic" => panic!("the faulty plugin panics on {value}"),
            "hang" => hang(),
            "wrong_kind" => Ok(Response::Records { records: vec![] }),
            "upper" => Ok(Response::Value {
                value: value
                    .as_str()
                    .map(|s| Value::from(s.to_uppercase()))
                    .unwrap_or(value),
            }),
            other => Err(format!("no function `{other}`")),
        },
        Request::Batch { mut records, .. } => {
            records.pop();
            Ok(Response::Records {
                records: records
                    .into_iter()
                    .map(rollcall_plugin_sdk::RecordOutcome::Keep)
                    .collect(),
            })
        }
        Request::Paginate { function, .. } if function == "hang_pages" => hang(),
        Request::Paginate { page, .. } => panic!("the faulty paginator panics after page {page}"),
        _ => Err("unsupported".into()),
    }
}

/// Blocks the calling thread for good, as a plugin stuck on a lock or a socket would.
fn hang() -> ! {
    loop {
        std::thread::park();
    }
}
