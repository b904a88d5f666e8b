//! Parsing YAML/JSON text into a [`Document`] with positions.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Number, Value};
use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, ScanError, Span, Tag};

use crate::diagnostic::{Diagnostic, Pos};
use crate::file::{MAX_FILE_SIZE, SourceFile, clamp_u32};
use crate::path::{escape_pointer_segment, parent_pointer};

/// Resource limits applied by [`parse_with_limits`]. [`parse`] uses [`Limits::default`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Maximum nesting of mappings and lists (default 64).
    pub max_depth: usize,
    /// Maximum size of the text in bytes (default [`MAX_FILE_SIZE`], 4 MiB).
    pub max_bytes: usize,
    /// Maximum number of values in the document, aliases expanded (default 1,000,000).
    pub max_nodes: usize,
    /// Maximum number of values that aliases (`*name`) may copy in total
    /// (default 100,000); this is what stops "billion laughs" alias bombs.
    pub max_alias_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 64,
            max_bytes: MAX_FILE_SIZE,
            max_nodes: 1_000_000,
            max_alias_nodes: 100_000,
        }
    }
}

/// Where a node came from: the position of its key (for mapping values) and of the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct NodePos {
    key: Option<Pos>,
    value: Pos,
}

/// A parsed document: the value tree plus where each node came from.
///
/// Nodes are addressed by RFC 6901 JSON pointers: `""` is the root,
/// `/streams/users/fields/0` is the first element of the `fields` list.
/// Values copied by an alias keep the positions of the anchored original,
/// except the alias node itself, which is located at the `*alias`.
#[derive(Clone, Debug)]
pub struct Document {
    file: SourceFile,
    value: Value,
    index: HashMap<String, NodePos>,
}

impl Document {
    /// A document built from an existing value, without positions (every
    /// lookup falls back to 1:1). Useful for values produced by code.
    pub fn from_value(file: SourceFile, value: Value) -> Document {
        Document {
            file,
            value,
            index: HashMap::new(),
        }
    }

    /// The value tree.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The file the document was parsed from.
    pub fn file(&self) -> &SourceFile {
        &self.file
    }

    /// Position of the value at an RFC 6901 JSON pointer
    /// (`"/streams/users/fields/active/path"`), if there is such a value.
    pub fn value_pos(&self, pointer: &str) -> Option<Pos> {
        self.index.get(pointer).map(|n| n.value)
    }

    /// Position of the mapping key whose value is at `pointer` (for "unknown
    /// field" errors). `None` for the root, list elements and unknown pointers.
    pub fn key_pos(&self, pointer: &str) -> Option<Pos> {
        self.index.get(pointer).and_then(|n| n.key)
    }

    /// [`value_pos`](Self::value_pos), else the position of the nearest
    /// ancestor that has one, else 1:1. Never fails.
    pub fn pos_or_ancestor(&self, pointer: &str) -> Pos {
        let mut p = pointer;
        loop {
            if let Some(pos) = self.value_pos(p) {
                return pos;
            }
            match parent_pointer(p) {
                Some(parent) => p = parent,
                None => return Pos::START,
            }
        }
    }

    /// An error diagnostic located at the value at `pointer` (or its nearest
    /// located ancestor).
    pub fn error_at(
        &self,
        pointer: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Diagnostic {
        Diagnostic::error(&self.file.name, self.pos_or_ancestor(pointer), message)
            .with_hint_opt(hint)
            .with_pointer(pointer)
    }

    /// An error diagnostic located at the key of the value at `pointer`
    /// (falling back to the value's position).
    pub fn error_at_key(
        &self,
        pointer: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Diagnostic {
        let pos = self
            .key_pos(pointer)
            .unwrap_or_else(|| self.pos_or_ancestor(pointer));
        Diagnostic::error(&self.file.name, pos, message)
            .with_hint_opt(hint)
            .with_pointer(pointer)
    }

    /// Deserialize the whole value into `T`. On failure, one diagnostic
    /// located at the failing path, with serde's message made readable.
    pub fn deserialize<T: serde::de::DeserializeOwned>(&self) -> Result<T, Diagnostic> {
        self.deserialize_at("")
    }

    /// Deserialize the value at `pointer` into `T`, like [`deserialize`](Self::deserialize).
    /// A pointer that names no value deserializes `null`.
    pub fn deserialize_at<T: serde::de::DeserializeOwned>(
        &self,
        pointer: &str,
    ) -> Result<T, Diagnostic> {
        let value = self.value.pointer(pointer).unwrap_or(&Value::Null);
        serde_path_to_error::deserialize(value).map_err(|err| {
            let mut ptr = pointer.to_string();
            for seg in err.path().iter() {
                match seg {
                    serde_path_to_error::Segment::Seq { index } => {
                        ptr.push('/');
                        ptr.push_str(&index.to_string());
                    }
                    serde_path_to_error::Segment::Map { key } => {
                        ptr.push('/');
                        ptr.push_str(&escape_pointer_segment(key));
                    }
                    serde_path_to_error::Segment::Enum { variant } => {
                        // Externally tagged: the variant is a key, if it is a mapping.
                        let candidate = format!("{ptr}/{}", escape_pointer_segment(variant));
                        if self.value.pointer(&candidate).is_some() {
                            ptr = candidate;
                        }
                    }
                    serde_path_to_error::Segment::Unknown => {}
                }
            }
            self.serde_error(&ptr, &err.into_inner().to_string())
        })
    }

    /// Turn a serde error message about the value at `ptr` into a diagnostic.
    fn serde_error(&self, ptr: &str, msg: &str) -> Diagnostic {
        let name = crate::path::name(ptr);
        let cap_name = crate::path::capitalized(&name);
        let ticked = |s: &str| -> Vec<String> {
            s.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect()
        };
        if let Some(rest) = msg.strip_prefix("missing field ") {
            let field = ticked(rest).into_iter().next().unwrap_or_default();
            return self.error_at(
                ptr,
                format!("{cap_name} is missing the required field `{field}`"),
                Some(format!("add `{field}: ...` to {name}")),
            );
        }
        if let Some(rest) = msg.strip_prefix("unknown field ") {
            let names = ticked(rest);
            let field = names.first().cloned().unwrap_or_default();
            let allowed: Vec<&str> = names.iter().skip(1).map(String::as_str).collect();
            // serde_path_to_error's path usually ends with the unknown field itself.
            let escaped = escape_pointer_segment(&field);
            let (field_ptr, path) = match ptr.strip_suffix(&escaped) {
                Some(parent) if parent.ends_with('/') => (
                    ptr.to_string(),
                    crate::path::name(&parent[..parent.len() - 1]),
                ),
                _ => (format!("{ptr}/{escaped}"), name.clone()),
            };
            let hint = fields_hint(&field, &allowed);
            return self.error_at_key(
                &field_ptr,
                format!("unknown field `{field}` in {path}"),
                Some(hint),
            );
        }
        if let Some(rest) = msg.strip_prefix("unknown variant ") {
            let names = ticked(rest);
            let variant = names.first().cloned().unwrap_or_default();
            let allowed: Vec<&str> = names.iter().skip(1).map(String::as_str).collect();
            let mut hint = String::new();
            if let Some(s) = crate::suggest(&variant, allowed.iter().copied()) {
                hint.push_str(&format!("did you mean `{s}`? "));
            }
            hint.push_str(&format!("Use one of: {}.", allowed.join(", ")));
            // The variant may be a key (`scm: {...}`) or a string value.
            let key_ptr = format!("{ptr}/{}", escape_pointer_segment(&variant));
            let msg = format!(
                "{name} is `{variant}`, which is not one of {}",
                allowed.join(", ")
            );
            return if self.key_pos(&key_ptr).is_some() {
                self.error_at_key(&key_ptr, msg, Some(hint))
            } else {
                self.error_at(ptr, msg, Some(hint))
            };
        }
        if let Some(rest) = msg.strip_prefix("invalid type: ")
            && let Some((got, expected)) = rest.rsplit_once(", expected ")
        {
            return self.error_at(
                ptr,
                format!("{name} must be {expected}, but it is {got}"),
                Some(format!("write {expected} here")),
            );
        }
        if let Some(rest) = msg.strip_prefix("invalid value: ")
            && let Some((got, expected)) = rest.rsplit_once(", expected ")
        {
            return self.error_at(
                ptr,
                format!("{name} has an invalid value ({got}): expected {expected}"),
                Some(format!("write {expected} here")),
            );
        }
        self.error_at(
            ptr,
            format!("{cap_name}: {msg}"),
            Some("check this value against the documentation".to_string()),
        )
    }
}

/// "did you mean `x`? The allowed fields are: a, b." (the second sentence alone when nothing is close).
pub(crate) fn fields_hint(field: &str, allowed: &[&str]) -> String {
    let mut hint = String::new();
    if let Some(s) = crate::suggest(field, allowed.iter().copied()) {
        hint.push_str(&format!("did you mean `{s}`? "));
    }
    if allowed.is_empty() {
        hint.push_str("No fields are allowed here.");
    } else {
        hint.push_str(&format!("The allowed fields are: {}.", allowed.join(", ")));
    }
    hint
}

/// Parse YAML 1.2 or JSON text (JSON goes through the same YAML 1.2 parser,
/// with positions), with the default [`Limits`].
///
/// Returns every problem found: duplicate keys, bad scalars and unsupported
/// tags are all reported; a syntax error or an exceeded limit stops parsing and
/// is reported together with the problems found before it.
pub fn parse(file: SourceFile) -> Result<Document, Vec<Diagnostic>> {
    parse_with_limits(file, Limits::default())
}

/// [`parse`] with explicit limits.
pub fn parse_with_limits(file: SourceFile, limits: Limits) -> Result<Document, Vec<Diagnostic>> {
    if file.text.len() > limits.max_bytes {
        return Err(vec![
            Diagnostic::error(
                &file.name,
                Pos::START,
                format!(
                    "the file is too large ({} bytes; the limit is {} bytes)",
                    file.text.len(),
                    limits.max_bytes
                ),
            )
            .with_hint("split the configuration into several smaller files"),
        ]);
    }
    let text = file.text.strip_prefix('\u{feff}').unwrap_or(&file.text);
    let mut b = Builder {
        file: &file.name,
        text,
        limits,
        diags: Vec::new(),
        stack: Vec::new(),
        entries: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        root_is_empty_scalar: false,
        skip_depth: 0,
        nodes: 0,
        alias_nodes: 0,
        documents: 0,
    };
    b.run();
    let Builder {
        mut diags,
        root,
        root_is_empty_scalar,
        entries,
        ..
    } = b;
    let fatal = diags.iter().any(Diagnostic::is_error);
    if !fatal && (root.is_none() || root_is_empty_scalar) {
        diags.push(
            Diagnostic::error(&file.name, Pos::START, "the file is empty")
                .with_hint("write the configuration as YAML (`key: value` lines) or JSON"),
        );
    }
    if diags.iter().any(Diagnostic::is_error) {
        diags.sort_by_key(|d| d.pos);
        diags.dedup();
        return Err(diags);
    }
    let index: HashMap<String, NodePos> = entries.into_iter().collect();
    Ok(Document {
        file,
        value: root.unwrap_or(Value::Null),
        index,
    })
}

/// A stored anchor: the value and the positions of its nodes (pointers relative to it).
struct Anchor {
    value: Value,
    entries: Vec<(String, NodePos)>,
    nodes: usize,
}

struct PendingKey {
    name: String,
    pos: Pos,
    /// The YAML merge key `<<`.
    merge: bool,
    /// The key was bad (duplicate, complex): skip its value.
    poisoned: bool,
}

enum Kind {
    Seq(Vec<Value>),
    Map {
        map: Map<String, Value>,
        key: Option<PendingKey>,
        /// Where each explicitly written key is.
        seen: HashMap<String, Pos>,
        /// Keys that came from a merge (`<<`) and may be overridden.
        merged: HashSet<String>,
    },
}

struct Frame {
    kind: Kind,
    pointer: String,
    anchor: usize,
    entries_start: usize,
    /// Number of nodes in this collection (itself included).
    nodes: usize,
}

/// Where the next node goes.
enum Slot {
    Skip,
    Key,
    Value { pointer: String, key: Option<Pos> },
}

struct Builder<'a> {
    file: &'a str,
    text: &'a str,
    limits: Limits,
    diags: Vec<Diagnostic>,
    stack: Vec<Frame>,
    entries: Vec<(String, NodePos)>,
    anchors: HashMap<usize, Anchor>,
    root: Option<Value>,
    root_is_empty_scalar: bool,
    /// Open collections inside a node being skipped.
    skip_depth: usize,
    nodes: usize,
    alias_nodes: usize,
    documents: usize,
}

/// Stop the event loop.
struct Fatal;

fn marker_pos(line: usize, col: usize) -> Pos {
    Pos::new(clamp_u32(line.max(1)), clamp_u32(col.saturating_add(1)))
}

fn span_pos(span: &Span) -> Pos {
    marker_pos(span.start.line(), span.start.col())
}

/// Where a node's tag is written (the node itself if unknown).
fn tag_pos(span: &Span) -> Pos {
    span.tag_start
        .map_or_else(|| span_pos(span), |m| marker_pos(m.line(), m.col()))
}

impl Builder<'_> {
    fn err(&mut self, pos: Pos, message: impl Into<String>, hint: impl Into<String>) {
        self.diags
            .push(Diagnostic::error(self.file, pos, message).with_hint(hint));
    }

    fn run(&mut self) {
        let options = serde_saphyr::granit_parser::options! {
            emit_comments: false,
        };
        let mut parser = Parser::new_from_str_with_options(self.text, options);
        while let Some(next) = parser.next_event() {
            match next {
                Ok((event, span)) => {
                    if self.event(event, span).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    self.syntax_error(&e);
                    break;
                }
            }
        }
    }

    fn syntax_error(&mut self, e: &ScanError) {
        let m = e.marker();
        let pos = marker_pos(m.line(), m.col());
        let info = e.info();
        let line_has_tab = self
            .text
            .lines()
            .nth((pos.line as usize).saturating_sub(1))
            .is_some_and(|l| l.trim_start_matches(' ').starts_with('\t'));
        let hint = if line_has_tab || info.contains("tab") {
            "YAML indentation must use spaces, not tabs"
        } else if info.contains("anchor") {
            "an alias `*name` must come after the anchor `&name` it refers to"
        } else {
            "check the indentation, the `:` after keys and the quoting around this position"
        };
        let info = if info.is_empty() {
            format!("{:?}", e.kind())
        } else {
            info
        };
        self.err(pos, format!("invalid YAML: {info}"), hint);
    }

    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), Fatal> {
        match event {
            Event::DocumentStart(..) => {
                self.documents += 1;
                if self.documents > 1 {
                    self.err(
                        span_pos(&span),
                        "the file contains more than one YAML document",
                        "a rollcall file holds a single document: remove this `---` line and what follows, or move it into its own file",
                    );
                    return Err(Fatal);
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.count_node(&span)?;
                self.scalar(&text, style, anchor, tag.as_deref(), &span)?;
            }
            Event::SequenceStart(_, anchor, tag) => {
                self.count_node(&span)?;
                self.check_collection_tag(tag.as_deref(), "seq", &span);
                self.start(Kind::Seq(Vec::new()), anchor, &span)?;
            }
            Event::MappingStart(_, anchor, tag) => {
                self.count_node(&span)?;
                self.check_collection_tag(tag.as_deref(), "map", &span);
                let kind = Kind::Map {
                    map: Map::new(),
                    key: None,
                    seen: HashMap::new(),
                    merged: HashSet::new(),
                };
                self.start(kind, anchor, &span)?;
            }
            Event::SequenceEnd | Event::MappingEnd => self.end()?,
            Event::Alias(id) => {
                self.count_node(&span)?;
                self.alias(id, &span)?;
            }
            Event::UnresolvedAlias(name) => {
                self.err(
                    span_pos(&span),
                    format!("the alias `*{name}` refers to no anchor"),
                    format!("define `&{name}` on a value before using `*{name}`"),
                );
                return Err(Fatal);
            }
            _ => {}
        }
        Ok(())
    }

    fn count_node(&mut self, span: &Span) -> Result<(), Fatal> {
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            self.err(
                span_pos(span),
                format!(
                    "the document has too many values (the limit is {})",
                    self.limits.max_nodes
                ),
                "split the configuration into several smaller files",
            );
            return Err(Fatal);
        }
        Ok(())
    }

    fn raw_tag(&self, span: &Span, tag: &Tag) -> String {
        span.tag_span()
            .and_then(|s| s.slice(self.text))
            .map(str::to_string)
            .unwrap_or_else(|| format!("{}{}", tag.handle(), tag.suffix()))
    }

    fn check_collection_tag(&mut self, tag: Option<&Tag>, core: &str, span: &Span) {
        let Some(tag) = tag else { return };
        let ok =
            (tag.handle().is_empty() && tag.suffix() == "!") || tag.is_yaml_core_schema_tag(core);
        if !ok && self.skip_depth == 0 {
            let raw = self.raw_tag(span, tag);
            self.err(
                tag_pos(span),
                format!("unsupported tag `{raw}`"),
                "remove the tag: rollcall files use plain YAML values",
            );
        }
    }

    /// Decide where the next node goes, without consuming the pending key.
    fn slot(&mut self) -> Slot {
        if self.skip_depth > 0 {
            return Slot::Skip;
        }
        let Some(frame) = self.stack.last_mut() else {
            return Slot::Value {
                pointer: String::new(),
                key: None,
            };
        };
        match &mut frame.kind {
            Kind::Seq(items) => Slot::Value {
                pointer: format!("{}/{}", frame.pointer, items.len()),
                key: None,
            },
            Kind::Map { key: None, .. } => Slot::Key,
            Kind::Map { key: Some(k), .. } if k.poisoned => Slot::Skip,
            Kind::Map { key: Some(k), .. } => Slot::Value {
                pointer: format!("{}/{}", frame.pointer, escape_pointer_segment(&k.name)),
                key: Some(k.pos),
            },
        }
    }

    /// After a skipped node is complete: drop a poisoned pending key.
    fn finish_skip(&mut self) {
        if self.skip_depth == 0
            && let Some(Frame {
                kind: Kind::Map { key, .. },
                ..
            }) = self.stack.last_mut()
            && key.as_ref().is_some_and(|k| k.poisoned)
        {
            *key = None;
        }
    }

    fn scalar(
        &mut self,
        text: &str,
        style: ScalarStyle,
        anchor: usize,
        tag: Option<&Tag>,
        span: &Span,
    ) -> Result<(), Fatal> {
        let pos = span_pos(span);
        match self.slot() {
            Slot::Skip => {
                self.finish_skip();
                Ok(())
            }
            Slot::Key => {
                let name = if style == ScalarStyle::Plain && text == "~" && span.start == span.end {
                    String::new()
                } else {
                    text.to_string()
                };
                let merge = style == ScalarStyle::Plain && name == "<<" && tag.is_none();
                if anchor != 0 {
                    self.anchors.insert(
                        anchor,
                        Anchor {
                            value: Value::String(name.clone()),
                            entries: Vec::new(),
                            nodes: 1,
                        },
                    );
                }
                self.set_key(name, pos, merge);
                Ok(())
            }
            Slot::Value { pointer, key } => {
                let value = match self.resolve_scalar(text, style, tag, span) {
                    Ok(v) => v,
                    Err((msg, hint)) => {
                        let at = if tag.is_some() { tag_pos(span) } else { pos };
                        self.err(at, msg, hint);
                        Value::Null
                    }
                };
                if self.stack.is_empty() {
                    self.root_is_empty_scalar =
                        style == ScalarStyle::Plain && span.start == span.end;
                }
                let start = self.entries.len();
                self.entries.push((pointer, NodePos { key, value: pos }));
                self.attach(value, anchor, start, 1, pos);
                Ok(())
            }
        }
    }

    fn set_key(&mut self, name: String, pos: Pos, merge: bool) {
        let mut dup: Option<Pos> = None;
        let mut path = String::new();
        if let Some(Frame {
            kind: Kind::Map {
                key, seen, merged, ..
            },
            pointer,
            ..
        }) = self.stack.last_mut()
        {
            if !merge {
                if let Some(first) = seen.get(&name) {
                    dup = Some(*first);
                    path = crate::path::name(pointer);
                } else {
                    seen.insert(name.clone(), pos);
                    merged.remove(&name);
                }
            }
            *key = Some(PendingKey {
                name: name.clone(),
                pos,
                merge,
                poisoned: dup.is_some(),
            });
        }
        if let Some(first) = dup {
            self.err(
                pos,
                format!(
                    "duplicate key `{name}`: it is already set at line {}",
                    first.line
                ),
                format!("remove one of the two `{name}` entries in {path}"),
            );
        }
    }

    fn poison_key(&mut self, pos: Pos) {
        if let Some(Frame {
            kind: Kind::Map { key, .. },
            ..
        }) = self.stack.last_mut()
        {
            *key = Some(PendingKey {
                name: String::new(),
                pos,
                merge: false,
                poisoned: true,
            });
        }
    }

    fn start(&mut self, kind: Kind, anchor: usize, span: &Span) -> Result<(), Fatal> {
        let pos = span_pos(span);
        match self.slot() {
            Slot::Skip => {
                self.skip_depth += 1;
                Ok(())
            }
            Slot::Key => {
                self.err(
                    pos,
                    "a mapping or a list cannot be used as a key",
                    "keys must be plain text, like `name:`; quote the key if it contains `[`, `{` or `?`",
                );
                self.poison_key(pos);
                self.skip_depth = 1;
                Ok(())
            }
            Slot::Value { pointer, key } => {
                if self.stack.len() >= self.limits.max_depth {
                    self.err(
                        pos,
                        format!(
                            "the document is nested too deeply (more than {} levels)",
                            self.limits.max_depth
                        ),
                        "flatten the structure; rollcall files never need this much nesting",
                    );
                    return Err(Fatal);
                }
                let entries_start = self.entries.len();
                self.entries
                    .push((pointer.clone(), NodePos { key, value: pos }));
                self.stack.push(Frame {
                    kind,
                    pointer,
                    anchor,
                    entries_start,
                    nodes: 1,
                });
                Ok(())
            }
        }
    }

    fn end(&mut self) -> Result<(), Fatal> {
        if self.skip_depth > 0 {
            self.skip_depth -= 1;
            self.finish_skip();
            return Ok(());
        }
        let Some(frame) = self.stack.pop() else {
            return Ok(());
        };
        let value = match frame.kind {
            Kind::Seq(items) => Value::Array(items),
            Kind::Map { map, .. } => Value::Object(map),
        };
        let pos = self
            .entries
            .get(frame.entries_start)
            .map_or(Pos::START, |e| e.1.value);
        self.attach(value, frame.anchor, frame.entries_start, frame.nodes, pos);
        Ok(())
    }

    fn alias(&mut self, id: usize, span: &Span) -> Result<(), Fatal> {
        let pos = span_pos(span);
        let raw = span.slice(self.text).unwrap_or("*").to_string();
        let slot = self.slot();
        if matches!(slot, Slot::Skip) {
            self.finish_skip();
            return Ok(());
        }
        let Some(anchor) = self.anchors.get(&id) else {
            self.err(
                pos,
                format!("the alias `{raw}` refers to a value that is not complete here"),
                "an alias cannot be used inside the value its anchor is on",
            );
            if matches!(slot, Slot::Key) {
                self.poison_key(pos);
            } else {
                self.attach(Value::Null, 0, self.entries.len(), 1, pos);
            }
            return Ok(());
        };
        match slot {
            Slot::Skip => Ok(()),
            Slot::Key => {
                let name = match &anchor.value {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    Value::Bool(b) => Some(b.to_string()),
                    _ => None,
                };
                match name {
                    Some(name) => self.set_key(name, pos, false),
                    None => {
                        self.err(
                            pos,
                            format!("the alias `{raw}` is a mapping or a list and cannot be used as a key"),
                            "keys must be plain text, like `name:`",
                        );
                        self.poison_key(pos);
                    }
                }
                Ok(())
            }
            Slot::Value { pointer, key } => {
                let nodes = anchor.nodes;
                self.alias_nodes = self.alias_nodes.saturating_add(nodes);
                self.nodes = self.nodes.saturating_add(nodes);
                if self.alias_nodes > self.limits.max_alias_nodes {
                    self.err(
                        pos,
                        format!(
                            "aliases expand to too many values (more than {}); this looks like an alias bomb",
                            self.limits.max_alias_nodes
                        ),
                        "use fewer `*aliases`, or write the values out",
                    );
                    return Err(Fatal);
                }
                if self.nodes > self.limits.max_nodes {
                    return self.count_node(span);
                }
                let value = anchor.value.clone();
                let start = self.entries.len();
                self.entries
                    .push((pointer.clone(), NodePos { key, value: pos }));
                let copied: Vec<(String, NodePos)> = anchor
                    .entries
                    .iter()
                    .filter(|(rel, _)| !rel.is_empty())
                    .map(|(rel, np)| (format!("{pointer}{rel}"), *np))
                    .collect();
                self.entries.extend(copied);
                self.attach(value, 0, start, nodes, pos);
                Ok(())
            }
        }
    }

    /// Put a finished node into its parent (or make it the root).
    fn attach(
        &mut self,
        value: Value,
        anchor: usize,
        entries_start: usize,
        nodes: usize,
        pos: Pos,
    ) {
        if anchor != 0 {
            let base = self
                .entries
                .get(entries_start)
                .map(|e| e.0.clone())
                .unwrap_or_default();
            let entries = self.entries[entries_start.min(self.entries.len())..]
                .iter()
                .map(|(p, np)| (p.get(base.len()..).unwrap_or("").to_string(), *np))
                .collect();
            self.anchors.insert(
                anchor,
                Anchor {
                    value: value.clone(),
                    entries,
                    nodes,
                },
            );
        }
        let Some(frame) = self.stack.last_mut() else {
            self.root = Some(value);
            return;
        };
        frame.nodes = frame.nodes.saturating_add(nodes);
        match &mut frame.kind {
            Kind::Seq(items) => items.push(value),
            Kind::Map {
                map, key, merged, ..
            } => {
                let Some(k) = key.take() else { return };
                if !k.merge {
                    map.insert(k.name, value);
                    return;
                }
                // YAML merge key: copy entries that are not set explicitly.
                let base = format!("{}/<<", frame.pointer);
                let sources: Vec<(Option<usize>, Map<String, Value>)> = match value {
                    Value::Object(m) => vec![(None, m)],
                    Value::Array(items) if items.iter().all(Value::is_object) => items
                        .into_iter()
                        .enumerate()
                        .filter_map(|(i, v)| match v {
                            Value::Object(m) => Some((Some(i), m)),
                            _ => None,
                        })
                        .collect(),
                    _ => {
                        self.entries.truncate(entries_start);
                        self.err(
                            pos,
                            "the merge key `<<` needs a mapping or a list of mappings",
                            "write `<<: *anchor` where `&anchor` is on a mapping",
                        );
                        return;
                    }
                };
                let old_entries = self
                    .entries
                    .split_off(entries_start.min(self.entries.len()));
                let mut inserted: HashSet<(Option<usize>, String)> = HashSet::new();
                for (i, m) in sources {
                    for (name, v) in m {
                        if !map.contains_key(&name) {
                            map.insert(name.clone(), v);
                            merged.insert(name.clone());
                            inserted.insert((i, escape_pointer_segment(&name)));
                        }
                    }
                }
                for (p, np) in old_entries {
                    let Some(rel) = p.strip_prefix(&base) else {
                        continue;
                    };
                    let mut segs = rel.splitn(3, '/').skip(1);
                    let (idx, first) = if inserted.iter().any(|(i, _)| i.is_some()) {
                        let idx = segs.next().and_then(|s| s.parse::<usize>().ok());
                        (idx, segs.next())
                    } else {
                        (None, segs.next())
                    };
                    let Some(first) = first else { continue };
                    let first_key = first.split('/').next().unwrap_or("");
                    if inserted.contains(&(idx, first_key.to_string())) {
                        let tail = match idx {
                            Some(i) => rel
                                .strip_prefix(&format!("/{i}"))
                                .unwrap_or(rel)
                                .to_string(),
                            None => rel.to_string(),
                        };
                        self.entries.push((format!("{}{tail}", frame.pointer), np));
                    }
                }
            }
        }
    }

    /// YAML 1.2 core-schema resolution of a scalar.
    fn resolve_scalar(
        &self,
        text: &str,
        style: ScalarStyle,
        tag: Option<&Tag>,
        span: &Span,
    ) -> Result<Value, (String, String)> {
        let Some(tag) = tag else {
            return if style == ScalarStyle::Plain {
                resolve_plain(text)
            } else {
                Ok(Value::String(text.to_string()))
            };
        };
        if tag.handle().is_empty() && tag.suffix() == "!" {
            return Ok(Value::String(text.to_string()));
        }
        let raw = self.raw_tag(span, tag);
        let bad = |what: &str| {
            (
                format!("`{text}` is not {what}, but it is tagged `{raw}`"),
                "remove the tag or fix the value".to_string(),
            )
        };
        if tag.is_yaml_core_schema() {
            match tag.suffix() {
                "str" => return Ok(Value::String(text.to_string())),
                "null" => {
                    return match resolve_plain(text) {
                        Ok(Value::Null) => Ok(Value::Null),
                        _ => Err(bad("null")),
                    };
                }
                "bool" => {
                    return match resolve_plain(text) {
                        Ok(v @ Value::Bool(_)) => Ok(v),
                        _ => Err(bad("a boolean")),
                    };
                }
                "int" => {
                    return match resolve_plain(text)? {
                        v @ Value::Number(_) if v.is_i64() || v.is_u64() => Ok(v),
                        _ => Err(bad("an integer")),
                    };
                }
                "float" => {
                    return match resolve_plain(text)? {
                        Value::Number(n) => Ok(n
                            .as_f64()
                            .and_then(Number::from_f64)
                            .map_or(Value::Number(n), Value::Number)),
                        _ => Err(bad("a number")),
                    };
                }
                _ => {}
            }
        }
        Err((
            format!("unsupported tag `{raw}`"),
            "remove the tag: rollcall files use plain YAML values".to_string(),
        ))
    }
}

/// Resolve a plain scalar per the YAML 1.2 core schema.
fn resolve_plain(s: &str) -> Result<Value, (String, String)> {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Value::Null),
        "true" | "True" | "TRUE" => return Ok(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Ok(Value::Bool(false)),
        _ => {}
    }
    let too_big = || {
        (
            format!("the number `{s}` is too large: integers must fit in 64 bits"),
            format!("quote it (\"{s}\") if it is meant as text"),
        )
    };
    let non_finite = || {
        (
            format!("`{s}` is not a finite number, which rollcall files cannot hold"),
            format!("quote it (\"{s}\") if it is meant as text"),
        )
    };
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = s.parse::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = unsigned.parse::<u64>()
            && !s.starts_with('-')
        {
            return Ok(Value::from(u));
        }
        return Err(too_big());
    }
    for (prefix, radix) in [("0o", 8), ("0x", 16)] {
        if let Some(digits) = s.strip_prefix(prefix)
            && !digits.is_empty()
            && digits.chars().all(|c| c.is_digit(radix))
        {
            return u64::from_str_radix(digits, radix)
                .map(Value::from)
                .map_err(|_| too_big());
        }
    }
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") || matches!(s, ".nan" | ".NaN" | ".NAN") {
        return Err(non_finite());
    }
    if is_core_float(s) {
        return match s.parse::<f64>().ok().and_then(Number::from_f64) {
            Some(n) => Ok(Value::Number(n)),
            None => Err(non_finite()),
        };
    }
    Ok(Value::String(s.to_string()))
}

/// `[-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`
fn is_core_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    let int_digits = digits(&mut i);
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        frac_digits = digits(&mut i);
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// How a quoted string would read unquoted (for "remove the quotes" hints).
pub(crate) fn resolve_plain_for_hint(s: &str) -> Option<Value> {
    match resolve_plain(s) {
        Ok(Value::String(_)) | Err(_) => None,
        Ok(v) => Some(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars() {
        assert_eq!(resolve_plain("yes").unwrap(), Value::from("yes"));
        assert_eq!(resolve_plain("True").unwrap(), Value::from(true));
        assert_eq!(resolve_plain("~").unwrap(), Value::Null);
        assert_eq!(resolve_plain("-12").unwrap(), Value::from(-12));
        assert_eq!(resolve_plain("0x1F").unwrap(), Value::from(31));
        assert_eq!(resolve_plain("0o17").unwrap(), Value::from(15));
        assert_eq!(resolve_plain("1.5e3").unwrap(), Value::from(1500.0));
        assert_eq!(resolve_plain(".5").unwrap(), Value::from(0.5));
        assert_eq!(resolve_plain("1.").unwrap(), Value::from(1.0));
        assert_eq!(
            resolve_plain("18446744073709551615").unwrap(),
            Value::from(u64::MAX)
        );
        assert!(resolve_plain("18446744073709551616").is_err());
        assert!(resolve_plain("-9223372036854775809").is_err());
        assert!(resolve_plain(".inf").is_err());
        assert!(resolve_plain("-.Inf").is_err());
        assert!(resolve_plain(".NaN").is_err());
        assert!(resolve_plain("1e999").is_err());
        assert_eq!(resolve_plain("1.2.3").unwrap(), Value::from("1.2.3"));
        assert_eq!(resolve_plain("e5").unwrap(), Value::from("e5"));
        assert_eq!(resolve_plain("+").unwrap(), Value::from("+"));
        assert_eq!(resolve_plain("0x").unwrap(), Value::from("0x"));
    }
}
