//! Test plugin `bad_json`: a correct ABI whose invoke answers bytes that are not JSON.

use std::ffi::{CStr, c_char};

static DESCRIPTION: &CStr =
    c"{\"name\":\"bad_json\",\"version\":\"0.0.1\",\"capabilities\":[{\"kind\":\"field_transform\",\"function\":\"anything\"},{\"kind\":\"record_transform\",\"function\":\"batch\"}]}";

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

/// Answers every request with text that is not JSON.
///
/// # Safety
/// `out` and `out_len` are valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rollcall_plugin_invoke(
    _req: *const u8,
    _req_len: usize,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> i32 {
    let answer: Box<[u8]> = b"<html>this is not JSON".to_vec().into_boxed_slice();
    let len = answer.len();
    // SAFETY: the host passes valid, writable pointers (the ABI contract above).
    unsafe {
        *out = Box::into_raw(answer).cast::<u8>();
        *out_len = len;
    }
    0
}

/// Frees an answer made by `rollcall_plugin_invoke`.
///
/// # Safety
/// `ptr`/`len` are exactly what `rollcall_plugin_invoke` returned, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rollcall_plugin_free(ptr: *mut u8, len: usize) {
    // SAFETY: rebuilds the boxed slice made in `rollcall_plugin_invoke` (contract above).
    drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) });
}
