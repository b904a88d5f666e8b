//! Resolving an integration's mapping table: smart mappings (connector fields mapped
//! to the user fields of the same meaning), then explicit ones, which add fields or
//! replace a smart mapping of the same user field; then the sync key.

use rollcall_source::suggest;
use serde::{Deserialize, Serialize};

use super::model::MappingsSpec;
use crate::compile::Field;
use crate::manifest::FieldType;

/// The user fields every person has, with their labels, in display order.
pub const BUILTIN_USER_FIELDS: [(&str, &str); 4] = [
    ("username", "Username"),
    ("email", "Email"),
    ("first_name", "First name"),
    ("last_name", "Last name"),
];

/// The connector field ids smart mapping looks for, per built-in user field, in order
/// of preference: the first one the stream has is mapped.
pub const SMART_SOURCES: [(&str, &[&str]); 4] = [
    ("username", &["username", "user_name", "login"]),
    ("email", &["email", "email_address", "mail"]),
    ("first_name", &["first_name", "given_name"]),
    ("last_name", &["last_name", "family_name", "surname"]),
];

/// One row of the resolved mapping table: a connector field into a user field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedMapping {
    /// The connector field id (e.g. `id`).
    pub source: String,
    /// The connector field's label (e.g. `Id`).
    pub source_label: String,
    /// The user field (e.g. `miro_id`).
    pub target: String,
    /// The user field's label (e.g. `Miro ID`).
    pub label: String,
    /// Whether the user field is a custom one (created by the mapping if needed).
    pub custom: bool,
    /// Whether this mapping carries the sync key (exactly one mapping does).
    pub sync_key: bool,
}

/// A problem found while resolving, located by a JSON pointer into the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MappingProblem {
    /// Where (RFC 6901 pointer into the integration file).
    pub pointer: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

/// The label of a built-in user field, or `None` for any other name.
pub fn builtin_label(field: &str) -> Option<&'static str> {
    BUILTIN_USER_FIELDS
        .iter()
        .find(|(k, _)| *k == field)
        .map(|(_, l)| *l)
}

fn is_custom_key(key: &str) -> bool {
    let mut chars = key.chars();
    key.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn type_name(t: FieldType) -> &'static str {
    match t {
        FieldType::String => "string",
        FieldType::Bool => "bool",
        FieldType::Integer => "integer",
        FieldType::Number => "number",
        FieldType::Datetime => "datetime",
        FieldType::List => "list",
        FieldType::Json => "json",
    }
}

/// Resolves the mapping table of `spec` over a stream's `fields` (named `stream` in
/// messages) and marks the mapping that carries `sync_key` (a connector field id).
/// Every problem is returned; the table is meaningful only when there are none.
pub fn resolve(
    fields: &[Field],
    stream: &str,
    spec: &MappingsSpec,
    sync_key: &str,
) -> (Vec<ResolvedMapping>, Vec<MappingProblem>) {
    let mut problems = Vec::new();
    let mut problem = |pointer: String, message: String, hint: Option<String>| {
        problems.push(MappingProblem {
            pointer,
            message,
            hint,
        });
    };
    let field = |id: &str| fields.iter().find(|f| f.id == id);
    let ids: Vec<&str> = fields.iter().map(|f| f.id.as_str()).collect();
    let unknown_field_hint = |id: &str| -> String {
        match suggest(id, ids.iter().copied()) {
            Some(s) => format!("did you mean `{s}`? The fields are: {}.", ids.join(", ")),
            None => format!("the fields are: {}.", ids.join(", ")),
        }
    };

    // Explicit mappings, checked one by one.
    let mut explicit: Vec<(usize, ResolvedMapping)> = Vec::new();
    for (i, m) in spec.fields.iter().enumerate() {
        let ptr = format!("/mappings/fields/{i}");
        let source = field(&m.from);
        if source.is_none() {
            problem(
                format!("{ptr}/from"),
                format!("the stream `{stream}` has no field `{}`", m.from),
                Some(unknown_field_hint(&m.from)),
            );
        }
        let builtin = builtin_label(&m.to);
        match builtin {
            Some(label) => {
                if m.create {
                    problem(
                        format!("{ptr}/create"),
                        format!("`{}` is a built-in user field, so it cannot be created", m.to),
                        Some("remove `create: true` to fill the built-in field, or give the custom field another name".into()),
                    );
                }
                if m.label.is_some() {
                    problem(
                        format!("{ptr}/label"),
                        format!(
                            "the built-in user field `{}` has the label `{label}`; `label` is only for custom fields",
                            m.to
                        ),
                        Some("remove `label`".into()),
                    );
                }
                if let Some(f) = source
                    && f.field_type != FieldType::String
                {
                    problem(
                        format!("{ptr}/from"),
                        format!(
                            "the user field `{}` holds text, but the connector field `{}` is of type {}",
                            m.to,
                            f.id,
                            type_name(f.field_type)
                        ),
                        Some("map it to a custom field instead (`create: true`)".into()),
                    );
                }
            }
            None if !is_custom_key(&m.to) => {
                let lower = m.to.to_ascii_lowercase().replace(['-', ' '], "_");
                let hint = match builtin_label(&lower) {
                    Some(_) => format!("the built-in user field is spelled `{lower}`"),
                    None => "use lowercase letters, digits and `_`, starting with a letter (at most 64 characters), e.g. `miro_id`".into(),
                };
                problem(
                    format!("{ptr}/to"),
                    format!("`{}` is not a valid user field name", m.to),
                    Some(hint),
                );
            }
            None if !m.create => {
                let builtins = BUILTIN_USER_FIELDS.iter().map(|(k, _)| *k);
                let hint = match suggest(&m.to, builtins) {
                    Some(s) => format!(
                        "did you mean the built-in user field `{s}`? To create a custom field `{}` instead, add `create: true`",
                        m.to
                    ),
                    None => format!(
                        "to create the custom user field `{}`, add `create: true`; the built-in user fields are username, email, first_name and last_name",
                        m.to
                    ),
                };
                problem(
                    format!("{ptr}/to"),
                    format!("`{}` is not a built-in user field", m.to),
                    Some(hint),
                );
            }
            None => {}
        }
        if let Some((j, prev)) = explicit.iter().find(|(_, r)| r.target == m.to) {
            problem(
                format!("{ptr}/to"),
                format!(
                    "the user field `{}` is already filled from `{}` by mappings.fields.{j}",
                    m.to, prev.source
                ),
                Some(
                    "a user field takes one connector field; remove one of the two mappings".into(),
                ),
            );
            continue;
        }
        let source_label = source.map(|f| f.label.clone()).unwrap_or_default();
        let label = match builtin {
            Some(l) => l.to_string(),
            None => m.label.clone().unwrap_or_else(|| {
                if source_label.is_empty() {
                    m.to.clone()
                } else {
                    source_label.clone()
                }
            }),
        };
        if let Some(l) = &m.label
            && l.trim().is_empty()
        {
            problem(format!("{ptr}/label"), "the label is empty".into(), None);
        }
        explicit.push((
            i,
            ResolvedMapping {
                source: m.from.clone(),
                source_label,
                target: m.to.clone(),
                label,
                custom: builtin.is_none(),
                sync_key: false,
            },
        ));
    }

    // Smart mappings, in the stream's field order; an explicit mapping of the same
    // user field takes the smart one's place.
    let mut table: Vec<ResolvedMapping> = Vec::new();
    let mut used = vec![false; explicit.len()];
    if spec.smart {
        let mut smart: Vec<(usize, &str)> = SMART_SOURCES
            .iter()
            .filter_map(|(target, candidates)| {
                candidates
                    .iter()
                    .find_map(|c| fields.iter().position(|f| f.id == *c))
                    .map(|pos| (pos, *target))
            })
            .collect();
        smart.sort();
        for (pos, target) in smart {
            if let Some(k) = explicit.iter().position(|(_, r)| r.target == target) {
                used[k] = true;
                table.push(explicit[k].1.clone());
                continue;
            }
            let f = &fields[pos];
            if f.field_type != FieldType::String {
                continue;
            }
            table.push(ResolvedMapping {
                source: f.id.clone(),
                source_label: f.label.clone(),
                target: target.to_string(),
                label: builtin_label(target).unwrap_or(target).to_string(),
                custom: false,
                sync_key: false,
            });
        }
    }
    for (k, (_, r)) in explicit.iter().enumerate() {
        if !used[k] {
            table.push(r.clone());
        }
    }

    // The sync key.
    match field(sync_key) {
        None => problem(
            "/sync_key".into(),
            format!("the stream `{stream}` has no field `{sync_key}` to use as the sync key"),
            Some(unknown_field_hint(sync_key)),
        ),
        Some(f) => {
            let can_key = |r: &ResolvedMapping| {
                r.source == sync_key && r.target != "first_name" && r.target != "last_name"
            };
            if let Some(r) = table.iter_mut().find(|r| can_key(r)) {
                r.sync_key = true;
                if !matches!(f.field_type, FieldType::String | FieldType::Integer) {
                    problem(
                        "/sync_key".into(),
                        format!(
                            "the sync key must be text or a whole number, but `{sync_key}` is of type {}",
                            type_name(f.field_type)
                        ),
                        Some(
                            "pick a field that identifies a person, such as a username or an email"
                                .into(),
                        ),
                    );
                }
            } else {
                let mapped: Vec<&str> = table
                    .iter()
                    .filter(|r| r.source == sync_key)
                    .map(|r| r.target.as_str())
                    .collect();
                let message = match mapped.as_slice() {
                    [] => format!("the sync key `{sync_key}` is not mapped to a user field"),
                    targets => format!(
                        "the sync key `{sync_key}` is mapped to `{}`, which cannot identify a person",
                        targets.join("`, `")
                    ),
                };
                problem(
                    "/sync_key".into(),
                    message,
                    Some(format!(
                        "map `{sync_key}` to `username`, `email` or a custom field under `mappings.fields`, e.g. `{{ from: {sync_key}, to: username }}`"
                    )),
                );
            }
        }
    }
    (table, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integration::model::MappingSpec;
    use crate::manifest::FieldType;

    fn fields(spec: &[(&str, &str, FieldType)]) -> Vec<Field> {
        spec.iter()
            .map(|(id, label, t)| Field {
                id: id.to_string(),
                label: label.to_string(),
                source: crate::compile::FieldSource::Computed(crate::manifest::Computed::SyncTime),
                field_type: *t,
                required: false,
                default: None,
                transforms: Vec::new(),
                plugin: None,
            })
            .collect()
    }

    fn miro_like() -> Vec<Field> {
        use FieldType::*;
        fields(&[
            ("id", "Id", String),
            ("username", "Username", String),
            ("email", "Email", String),
            ("first_name", "First name", String),
            ("family_name", "Family name", String),
            ("active", "Active?", Bool),
            ("admin_roles", "Admin roles", List),
        ])
    }

    fn map(from: &str, to: &str, label: Option<&str>, create: bool) -> MappingSpec {
        MappingSpec {
            from: from.into(),
            to: to.into(),
            label: label.map(str::to_string),
            create,
        }
    }

    fn rows(table: &[ResolvedMapping]) -> Vec<String> {
        table
            .iter()
            .map(|r| {
                format!(
                    "{}->{} {}{}{}",
                    r.source,
                    r.target,
                    r.label,
                    if r.custom { " custom" } else { "" },
                    if r.sync_key { " key" } else { "" }
                )
            })
            .collect()
    }

    #[test]
    fn smart_mapping_fills_the_built_in_fields_present_in_the_stream() {
        let spec = MappingsSpec {
            smart: true,
            fields: vec![map("id", "miro_id", Some("Miro ID"), true)],
        };
        let (table, problems) = resolve(&miro_like(), "users", &spec, "username");
        assert_eq!(problems, vec![]);
        assert_eq!(
            rows(&table),
            [
                "username->username Username key",
                "email->email Email",
                "first_name->first_name First name",
                "family_name->last_name Last name",
                "id->miro_id Miro ID custom",
            ]
        );
        assert_eq!(table[4].source_label, "Id");
    }

    #[test]
    fn smart_mapping_maps_only_what_the_stream_has() {
        use FieldType::*;
        let f = fields(&[("login", "Login", String), ("surname", "Surname", String)]);
        let (table, problems) = resolve(&f, "people", &MappingsSpec::default(), "login");
        assert_eq!(problems, vec![]);
        assert_eq!(
            rows(&table),
            [
                "login->username Username key",
                "surname->last_name Last name"
            ]
        );
    }

    #[test]
    fn explicit_mappings_replace_smart_ones_of_the_same_user_field() {
        let spec = MappingsSpec {
            smart: true,
            fields: vec![
                map("id", "miro_id", None, true),
                map("username", "email", None, false),
            ],
        };
        let (table, problems) = resolve(&miro_like(), "users", &spec, "id");
        assert_eq!(problems, vec![]);
        assert_eq!(
            rows(&table),
            [
                "username->username Username",
                "username->email Email",
                "first_name->first_name First name",
                "family_name->last_name Last name",
                "id->miro_id Id custom key",
            ]
        );
    }

    #[test]
    fn without_smart_only_explicit_mappings_count() {
        let spec = MappingsSpec {
            smart: false,
            fields: vec![map("email", "email", None, false)],
        };
        let (table, problems) = resolve(&miro_like(), "users", &spec, "email");
        assert_eq!(problems, vec![]);
        assert_eq!(rows(&table), ["email->email Email key"]);
    }

    #[test]
    fn problems_are_located_and_explained() {
        let spec = MappingsSpec {
            smart: true,
            fields: vec![
                map("idd", "miro_id", None, true),
                map("id", "emial", None, false),
                map("id", "email", None, true),
                map("active", "first_name", None, false),
                map("id", "Miro-ID", None, true),
                map("email", "miro_id", None, true),
            ],
        };
        let (_, problems) = resolve(&miro_like(), "users", &spec, "family_name");
        let got: Vec<(String, String)> = problems
            .iter()
            .map(|p| (p.pointer.clone(), p.message.clone()))
            .collect();
        let want = [
            (
                "/mappings/fields/0/from",
                "the stream `users` has no field `idd`",
            ),
            (
                "/mappings/fields/1/to",
                "`emial` is not a built-in user field",
            ),
            (
                "/mappings/fields/2/create",
                "`email` is a built-in user field, so it cannot be created",
            ),
            (
                "/mappings/fields/3/from",
                "the user field `first_name` holds text, but the connector field `active` is of type bool",
            ),
            (
                "/mappings/fields/4/to",
                "`Miro-ID` is not a valid user field name",
            ),
            (
                "/mappings/fields/5/to",
                "the user field `miro_id` is already filled from `idd` by mappings.fields.0",
            ),
            (
                "/sync_key",
                "the sync key `family_name` is mapped to `last_name`, which cannot identify a person",
            ),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(p, m)| (p.to_string(), m.to_string()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(
            problems[0].hint.as_deref(),
            Some(
                "did you mean `id`? The fields are: id, username, email, first_name, family_name, active, admin_roles."
            )
        );
        assert!(
            problems[1]
                .hint
                .as_deref()
                .unwrap()
                .starts_with("did you mean the built-in user field `email`?")
        );
    }

    #[test]
    fn an_unmapped_or_unknown_sync_key_is_a_problem() {
        let spec = MappingsSpec {
            smart: false,
            fields: vec![],
        };
        let (_, p) = resolve(&miro_like(), "users", &spec, "username");
        assert_eq!(
            p[0].message,
            "the sync key `username` is not mapped to a user field"
        );
        let (_, p) = resolve(&miro_like(), "users", &MappingsSpec::default(), "usernme");
        assert_eq!(
            p[0].message,
            "the stream `users` has no field `usernme` to use as the sync key"
        );
        assert!(
            p[0].hint
                .as_deref()
                .unwrap()
                .starts_with("did you mean `username`?")
        );
    }
}
