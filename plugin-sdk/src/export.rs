//! The C ABI of dynamic-library plugins, exported by [`export_plugin!`](crate::export_plugin).
//!
//! The macro expands to four `extern "C"` functions that call the helpers below. The
//! helpers own every `unsafe` step, so a plugin crate contains none, and they catch
//! panics: since Rust 1.81 a panic unwinding out of an `extern "C"` function aborts
//! the whole process, host included.

use std::any::Any;
use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

use crate::message::{Description, Request, Response};
use crate::{INVOKE_BAD_REQUEST, INVOKE_OK, INVOKE_PANICKED};

/// The function a plugin implements: one request in, one response out. An `Err`
/// becomes [`Response::Error`].
pub type Handler = fn(Request) -> Result<Response, String>;

/// Exports a dynamic-library plugin.
///
/// ```text
/// fn describe() -> Description { ... }
/// fn handle(request: Request) -> Result<Response, String> { ... }
/// rollcall_plugin_sdk::export_plugin!(describe: describe, handle: handle);
/// ```
///
/// The crate must be built as a `cdylib`. The macro defines the symbols
/// `rollcall_plugin_abi_version`, `rollcall_plugin_describe`,
/// `rollcall_plugin_invoke` and `rollcall_plugin_free`.
#[macro_export]
macro_rules! export_plugin {
    (describe: $describe:path, handle: $handle:path $(,)?) => {
        /// The ABI version this plugin was built for.
        #[unsafe(no_mangle)]
        pub extern "C" fn rollcall_plugin_abi_version() -> u32 {
            $crate::ABI_VERSION
        }

        /// The plugin's description as NUL-terminated JSON, owned by the plugin.
        #[unsafe(no_mangle)]
        pub extern "C" fn rollcall_plugin_describe() -> *const ::std::ffi::c_char {
            static DESCRIPTION: ::std::sync::OnceLock<::std::option::Option<::std::ffi::CString>> =
                ::std::sync::OnceLock::new();
            $crate::export::describe(&DESCRIPTION, $describe)
        }

        /// Answers one JSON request with one JSON response.
        ///
        /// # Safety
        /// `req` points to `req_len` readable bytes; `out` and `out_len` are writable.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn rollcall_plugin_invoke(
            req: *const u8,
            req_len: usize,
            out: *mut *mut u8,
            out_len: *mut usize,
        ) -> i32 {
            // SAFETY: the host keeps the ABI contract stated above, which is the
            // contract of `invoke`.
            unsafe { $crate::export::invoke(req, req_len, out, out_len, $handle) }
        }

        /// Frees a response returned by `rollcall_plugin_invoke`.
        ///
        /// # Safety
        /// `ptr` and `len` are exactly what `rollcall_plugin_invoke` returned, freed once.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn rollcall_plugin_free(ptr: *mut u8, len: usize) {
            // SAFETY: the host keeps the ABI contract stated above, which is the
            // contract of `free`.
            unsafe { $crate::export::free(ptr, len) }
        }
    };
}

/// Builds the description once and returns a pointer to its JSON (null when the
/// description cannot be built). The string lives as long as the library.
pub fn describe(
    cell: &'static OnceLock<Option<CString>>,
    build: fn() -> Description,
) -> *const c_char {
    let json = cell.get_or_init(|| {
        let built = catch_unwind(build).ok()?;
        let text = serde_json::to_string(&built).ok()?;
        // serde_json escapes U+0000, so the text has no interior NUL.
        CString::new(text).ok()
    });
    match json {
        Some(s) => s.as_ptr(),
        None => std::ptr::null(),
    }
}

/// Answers one request.
///
/// # Safety
/// `req` is null or points to `req_len` readable bytes; `out` and `out_len` are
/// null or valid for one write. The response written to `*out` must be released with
/// [`free`].
pub unsafe fn invoke(
    req: *const u8,
    req_len: usize,
    out: *mut *mut u8,
    out_len: *mut usize,
    handle: Handler,
) -> i32 {
    if out.is_null() || out_len.is_null() {
        return INVOKE_BAD_REQUEST;
    }
    let bytes: &[u8] = if req.is_null() || req_len == 0 {
        &[]
    } else {
        // SAFETY: the caller guarantees `req` points to `req_len` readable bytes that
        // stay valid and unchanged during this call.
        unsafe { std::slice::from_raw_parts(req, req_len) }
    };
    let (code, response) = match catch_unwind(AssertUnwindSafe(|| answer(bytes, handle))) {
        Ok(answered) => answered,
        Err(payload) => (
            INVOKE_PANICKED,
            Response::error(format!("the plugin panicked: {}", panic_message(&*payload))),
        ),
    };
    let json = serde_json::to_vec(&response).unwrap_or_else(|_| {
        br#"{"type":"error","message":"the plugin's response could not be written as JSON"}"#
            .to_vec()
    });
    let boxed = json.into_boxed_slice();
    let len = boxed.len();
    let ptr = Box::into_raw(boxed).cast::<u8>();
    // SAFETY: both pointers were checked for null and the caller guarantees they are
    // valid for one write.
    unsafe {
        *out = ptr;
        *out_len = len;
    }
    code
}

/// Frees a response made by [`invoke`].
///
/// # Safety
/// `ptr` and `len` are exactly a pointer and length written by [`invoke`], and the
/// buffer is freed only once.
pub unsafe fn free(ptr: *mut u8, len: usize) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: `ptr`/`len` come from `Box::<[u8]>::into_raw` in `invoke` (guaranteed by
    // the caller), so rebuilding the box gives back that allocation exactly once.
    drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) });
}

fn answer(bytes: &[u8], handle: Handler) -> (i32, Response) {
    let request: Request = match serde_json::from_slice(bytes) {
        Ok(r) => r,
        Err(e) => {
            return (
                INVOKE_BAD_REQUEST,
                Response::error(format!("the plugin could not read the request: {e}")),
            );
        }
    };
    if matches!(request, Request::Hello { .. } | Request::Goodbye) {
        return (
            INVOKE_BAD_REQUEST,
            Response::error(
                "hello and goodbye are subprocess messages; a library is described by rollcall_plugin_describe",
            ),
        );
    }
    match handle(request) {
        Ok(r) => (INVOKE_OK, r),
        Err(message) => (INVOKE_OK, Response::Error { message }),
    }
}

/// The text of a panic payload.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn handle(r: Request) -> Result<Response, String> {
        match r {
            Request::Transform { value, .. } if value == json!("boom") => panic!("boom"),
            Request::Transform { value, .. } => Ok(Response::Value { value }),
            _ => Err("unsupported".into()),
        }
    }

    fn call(req: &[u8]) -> (i32, Response) {
        let mut out = std::ptr::null_mut();
        let mut len = 0;
        // SAFETY: valid buffers for the duration of the call.
        let code = unsafe { invoke(req.as_ptr(), req.len(), &mut out, &mut len, handle) };
        // SAFETY: `invoke` wrote a buffer of `len` bytes at `out`.
        let bytes = unsafe { std::slice::from_raw_parts(out, len) }.to_vec();
        // SAFETY: freed once, with what `invoke` returned.
        unsafe { free(out, len) };
        (code, serde_json::from_slice(&bytes).unwrap())
    }

    #[test]
    fn answers_errors_and_panics() {
        let (code, r) = call(br#"{"type":"transform","function":"f","value":"x"}"#);
        assert_eq!(
            (code, r),
            (INVOKE_OK, Response::Value { value: json!("x") })
        );
        let (code, r) = call(br#"{"type":"batch","function":"f","records":[]}"#);
        assert_eq!((code, r), (INVOKE_OK, Response::error("unsupported")));
        let (code, r) = call(b"not json");
        assert_eq!(code, INVOKE_BAD_REQUEST);
        assert!(matches!(r, Response::Error { .. }));
        let (code, r) = call(br#"{"type":"transform","function":"f","value":"boom"}"#);
        assert_eq!(code, INVOKE_PANICKED);
        assert_eq!(r, Response::error("the plugin panicked: boom"));
    }
}
