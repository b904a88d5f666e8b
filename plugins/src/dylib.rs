//! Dynamic-library plugins through libloading: the ABI version is read before
//! anything else, then the three other symbols; a library is never unloaded
//! (thread-local destructors of an unloaded Rust library crash at thread exit).
//! Calls run on the plugin's own threads ([`crate::calls`]), each waited for at
//! most the per-call timeout.

use std::ffi::{CStr, c_char};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::calls::CallThreads;
use libloading::Library;
use rollcall_core::plugin::{Description, Plugin, Request, Response};
use rollcall_plugin_sdk::{
    ABI_VERSION, INVOKE_BAD_REQUEST, INVOKE_OK, INVOKE_PANICKED, OLDEST_ABI_VERSION,
    SYMBOL_ABI_VERSION, SYMBOL_DESCRIBE, SYMBOL_FREE, SYMBOL_INVOKE, supported_version,
};

type AbiVersionFn = unsafe extern "C" fn() -> u32;
type DescribeFn = unsafe extern "C" fn() -> *const c_char;
type InvokeFn = unsafe extern "C" fn(*const u8, usize, *mut *mut u8, *mut usize) -> i32;
type FreeFn = unsafe extern "C" fn(*mut u8, usize);

/// A loaded plugin library.
pub struct LibraryPlugin {
    name: String,
    file: PathBuf,
    description: Description,
    who: String,
    calls: CallThreads<Answer>,
}

/// The library's call and free functions: what a call thread needs to answer a
/// request.
#[derive(Clone, Copy)]
struct Symbols {
    invoke: InvokeFn,
    free: FreeFn,
}

/// What `invoke` returned: its status and the response buffer it allocated (null
/// when it gave none), owned until it is dropped, which gives it back to the
/// library's `free`. The call thread hands it to the caller, which reads it.
struct Answer {
    code: i32,
    out: *mut u8,
    out_len: usize,
    free: FreeFn,
}

// SAFETY: an `Answer` owns its buffer alone (the ABI hands it to the host until it is
// given back to `free`, which only `Drop` does, once), and the buffer and `free` are
// plain memory and a plain function of the library, usable from any thread (the SDK
// frees with the global allocator; docs/plugins.md says `free` may be called on another
// thread than `invoke`).
unsafe impl Send for Answer {}

impl LibraryPlugin {
    /// [`load`](Self::load) on a thread of its own, waited for at most `timeout`: loading
    /// runs the library's initialisers and its `describe`, and a library that hangs there
    /// must not hang rollcall. A load that times out is left running (a thread cannot be
    /// stopped safely) and this returns an error saying so.
    pub fn load_within(name: &str, file: &Path, timeout: Duration) -> Result<Self, String> {
        let (done, result) = std::sync::mpsc::sync_channel(1);
        let (owned_name, owned_file) = (name.to_owned(), file.to_path_buf());
        std::thread::Builder::new()
            .name(format!("rollcall-plugin-load-{name}"))
            .spawn(move || {
                // The receiver is gone only when the load timed out; nobody waits then.
                let _ = done.send(LibraryPlugin::load(&owned_name, &owned_file, timeout));
            })
            .map_err(|e| {
                format!(
                    "the plugin `{name}` ({}) cannot be loaded: no thread to load it on ({e})",
                    file.display()
                )
            })?;
        match result.recv_timeout(timeout) {
            Ok(loaded) => loaded,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                tracing::warn!(plugin = name, file = %file.display(), "a library plugin did not finish loading and is left running");
                Err(format!(
                    "the plugin `{name}` ({}) did not finish loading within {:.1}s: its initialisers or its `{}` do not return. rollcall cannot stop a library, so the load is left running on a thread of its own (restart rollcall to free it). Fix the plugin, or raise --plugin-timeout (ROLLCALL_PLUGIN_TIMEOUT) if it is just slow to load",
                    file.display(),
                    timeout.as_secs_f64(),
                    SYMBOL_DESCRIBE,
                ))
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(format!(
                "the plugin `{name}` ({}) cannot be loaded: the thread that loaded it stopped unexpectedly (its initialisers or `describe` may have panicked)",
                file.display()
            )),
        }
    }

    /// Loads the library at `file` as plugin `name`; each call is waited for at most
    /// `timeout`.
    pub fn load(name: &str, file: &Path, timeout: Duration) -> Result<Self, String> {
        let shown = file.display();
        // SAFETY: loading a library runs its initialisers, i.e. trusted code. The file
        // comes from a plugin directory the user configured and has passed its
        // sha256 pin, which is the trust model documented in docs/plugins.md.
        let library = unsafe { Library::new(file) }.map_err(|e| {
            format!("the plugin `{name}` ({shown}) cannot be loaded as a dynamic library: {e}")
        })?;
        // Never unloaded: the library lives as long as the process.
        let library: &'static Library = Box::leak(Box::new(library));
        let missing = |symbol: &str, e: libloading::Error| {
            format!(
                "the plugin `{name}` ({shown}) is not a rollcall plugin: it does not export `{symbol}` ({e}); build it with rollcall_plugin_sdk::export_plugin!"
            )
        };
        // SAFETY: the symbol is declared by the ABI as `uint32_t (void)`, which is
        // `AbiVersionFn`; the library is never unloaded, so the pointer stays valid.
        let abi_version: AbiVersionFn = *unsafe { library.get::<AbiVersionFn>(SYMBOL_ABI_VERSION) }
            .map_err(|e| missing(SYMBOL_ABI_VERSION, e))?;
        // SAFETY: calling `uint32_t (void)` with no arguments; it only returns a constant.
        let version = unsafe { abi_version() };
        if !supported_version(version) {
            return Err(format!(
                "the plugin `{name}` ({shown}) was built for plugin ABI version {version}, but this rollcall speaks versions {OLDEST_ABI_VERSION} to {ABI_VERSION}; rebuild the plugin against a matching rollcall-plugin-sdk"
            ));
        }
        // SAFETY: the ABI version matched, so the library promises these three
        // symbols have the documented signatures, which are the types given here.
        let describe: DescribeFn = *unsafe { library.get::<DescribeFn>(SYMBOL_DESCRIBE) }
            .map_err(|e| missing(SYMBOL_DESCRIBE, e))?;
        // SAFETY: as above.
        let invoke: InvokeFn = *unsafe { library.get::<InvokeFn>(SYMBOL_INVOKE) }
            .map_err(|e| missing(SYMBOL_INVOKE, e))?;
        // SAFETY: as above.
        let free: FreeFn =
            *unsafe { library.get::<FreeFn>(SYMBOL_FREE) }.map_err(|e| missing(SYMBOL_FREE, e))?;
        // SAFETY: `describe` has the documented signature (ABI version checked).
        let text = unsafe { describe() };
        if text.is_null() {
            return Err(format!(
                "the plugin `{name}` ({shown}) could not describe itself (its describe function returned nothing, e.g. it panicked)"
            ));
        }
        // SAFETY: the ABI says a non-null result is a NUL-terminated string owned by
        // the library, which is never unloaded; we copy it at once.
        let text = unsafe { CStr::from_ptr(text) }
            .to_string_lossy()
            .into_owned();
        let description: Description = serde_json::from_str(&text).map_err(|e| {
            format!(
                "the plugin `{name}` ({shown}) described itself with invalid JSON ({e}); it starts with: {}",
                crate::shorten(&text, 80)
            )
        })?;
        crate::check_name(name, file, &description)?;
        let who = format!("the plugin `{name}` ({shown})");
        let symbols = Symbols { invoke, free };
        Ok(LibraryPlugin {
            name: name.to_string(),
            file: file.to_path_buf(),
            description,
            calls: CallThreads::new(
                who.clone(),
                name,
                timeout,
                Arc::new(move |request| symbols.invoke(&request)),
            ),
            who,
        })
    }
}

impl Plugin for LibraryPlugin {
    fn description(&self) -> &Description {
        &self.description
    }

    fn file(&self) -> &Path {
        &self.file
    }

    /// A library only computes: async callers call it directly (a call that hangs
    /// still ends at the timeout, and later calls fail at once).
    fn blocks(&self) -> bool {
        false
    }

    fn invoke(&self, request: &Request) -> Result<Response, String> {
        let bytes = serde_json::to_vec(request).map_err(|e| {
            format!(
                "cannot write the request for the plugin `{}` ({}): {e}",
                self.name,
                self.file.display()
            )
        })?;
        self.invoke_json(bytes)
    }

    fn invoke_json(&self, bytes: Vec<u8>) -> Result<Response, String> {
        self.read(self.calls.call(bytes)?)
    }
}

impl Symbols {
    /// Calls `invoke` with one request (on a call thread).
    fn invoke(self, bytes: &[u8]) -> Answer {
        let mut out: *mut u8 = std::ptr::null_mut();
        let mut out_len: usize = 0;
        // SAFETY: `invoke` has the documented signature (ABI version checked at load);
        // `bytes` is readable for its length during the call; `out` and `out_len` are
        // valid, writable locals.
        let code = unsafe { (self.invoke)(bytes.as_ptr(), bytes.len(), &mut out, &mut out_len) };
        Answer {
            code,
            out,
            out_len,
            free: self.free,
        }
    }
}

impl LibraryPlugin {
    /// Reads what `invoke` returned (on the caller's thread).
    fn read(&self, answer: Answer) -> Result<Response, String> {
        let who = &self.who;
        let code = answer.code;
        let Some(bytes) = answer.bytes() else {
            return Err(format!("{who} gave no response (status {code})"));
        };
        let response = serde_json::from_slice::<Response>(bytes).map_err(|e| {
            format!(
                "{who} answered with something that is not a rollcall message ({e}); it starts with: {}",
                crate::shorten(&String::from_utf8_lossy(bytes), 80)
            )
        })?;
        drop(answer);
        match (code, response) {
            (INVOKE_OK, r) => Ok(r),
            (INVOKE_PANICKED, Response::Error { message }) => Err(format!("{who}: {message}")),
            (INVOKE_PANICKED, _) => Err(format!("{who} panicked")),
            (INVOKE_BAD_REQUEST, Response::Error { message }) => {
                Err(format!("{who} could not use the request: {message}"))
            }
            (other, _) => Err(format!("{who} returned the unknown status {other}")),
        }
    }
}

impl Answer {
    /// The response buffer; None when `invoke` gave none.
    fn bytes(&self) -> Option<&[u8]> {
        if self.out.is_null() {
            return None;
        }
        // SAFETY: the ABI says a non-null `out` points to `out_len` bytes that stay
        // valid until they are given back to `free`, which only `drop` does, after
        // every borrow of `self` has ended.
        Some(unsafe { std::slice::from_raw_parts(self.out, self.out_len) })
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if !self.out.is_null() {
            // SAFETY: `out`/`out_len` are exactly what `invoke` returned, given back
            // once (here), to the library that allocated them; no borrow of them is left.
            unsafe { (self.free)(self.out, self.out_len) };
        }
    }
}
