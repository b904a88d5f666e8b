//! The one error for a name that is not stored (an integration, a workflow, a report):
//! what was asked for, then the closest stored name, the stored names, or how to make one.

/// `there is no {kind} named `NAME`.` plus a hint. `plural` names the list ("integrations"),
/// `make` the command that stores one.
pub fn no_such(kind: &str, plural: &str, make: &str, name: &str, names: &[&str]) -> anyhow::Error {
    let hint = match rollcall_source::suggest(name, names.iter().copied()) {
        Some(s) => format!(" Did you mean `{s}`?"),
        None if names.is_empty() => format!(" There are none yet: `{make}` makes one."),
        None => format!(" The {plural} are: {}.", names.join(", ")),
    };
    anyhow::anyhow!("there is no {kind} named `{name}`.{hint}")
}

#[cfg(test)]
mod tests {
    use super::no_such;

    #[test]
    fn the_hint_is_the_closest_name_the_list_or_how_to_make_one() {
        let make = "rollcall workflows apply FILE";
        let e =
            |names: &[&str]| no_such("workflow", "workflows", make, "Inactiv", names).to_string();
        assert_eq!(
            e(&["Inactive", "Other"]),
            "there is no workflow named `Inactiv`. Did you mean `Inactive`?"
        );
        assert_eq!(
            e(&["Zebra"]),
            "there is no workflow named `Inactiv`. The workflows are: Zebra."
        );
        assert_eq!(
            e(&[]),
            "there is no workflow named `Inactiv`. There are none yet: `rollcall workflows apply FILE` makes one."
        );
    }
}
