//! JSON pointers (RFC 6901) and their user-facing dotted form.

/// Escape one reference token for a JSON pointer (`~` → `~0`, `/` → `~1`).
pub fn escape_pointer_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// The unescaped reference tokens of a JSON pointer (`""` → none).
pub fn pointer_segments(pointer: &str) -> Vec<String> {
    if pointer.is_empty() {
        return Vec::new();
    }
    pointer
        .strip_prefix('/')
        .unwrap_or(pointer)
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// The parent pointer (`"/a/b"` → `"/a"`), or `None` for the root.
pub(crate) fn parent_pointer(pointer: &str) -> Option<&str> {
    if pointer.is_empty() {
        None
    } else {
        Some(pointer.rfind('/').map_or("", |i| &pointer[..i]))
    }
}

/// A JSON pointer as users read it: `/streams/users/fields/0/name` →
/// `streams.users.fields[0].name`. Keys that are not plain identifiers are
/// quoted: `headers["X-Api.Key"]`. The root is `the document`.
pub fn display_path(pointer: &str) -> String {
    let segments = pointer_segments(pointer);
    if segments.is_empty() {
        return "the document".to_string();
    }
    let mut out = String::new();
    for seg in segments {
        let is_index = !seg.is_empty() && seg.len() < 10 && seg.bytes().all(|b| b.is_ascii_digit());
        let plain = !seg.is_empty()
            && seg
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '$');
        if is_index {
            out.push_str(&format!("[{seg}]"));
        } else if plain {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        } else {
            out.push_str(&format!("[{}]", serde_json::Value::String(seg)));
        }
    }
    out
}

/// `` `a.b` `` (the dotted path in backticks), or `the document` for the root.
pub(crate) fn name(pointer: &str) -> String {
    if pointer.is_empty() {
        "the document".to_string()
    } else {
        format!("`{}`", display_path(pointer))
    }
}

/// The text with its first letter in upper case.
pub(crate) fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
