//! Test plugin `no_invoke`: the right ABI version and a description, but no invoke
//! symbol.

use std::ffi::{CStr, c_char};

static DESCRIPTION: &CStr =
    c"{\"name\":\"no_invoke\",\"version\":\"0.0.1\",\"capabilities\":[{\"kind\":\"field_transform\",\"function\":\"f\"}]}";

/// The ABI version rollcall speaks.
#[unsafe(no_mangle)]
pub extern "C" fn rollcall_plugin_abi_version() -> u32 {
    1
}

/// A static description.
#[unsafe(no_mangle)]
pub extern "C" fn rollcall_plugin_describe() -> *const c_char {
    DESCRIPTION.as_ptr()
}
