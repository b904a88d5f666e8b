//! Test plugin `wrong_abi`: reports an ABI version no rollcall speaks, and nothing else.

/// A version from the future.
#[unsafe(no_mangle)]
pub extern "C" fn rollcall_plugin_abi_version() -> u32 {
    9999
}
