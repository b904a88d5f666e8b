//! How an error reaches the user: its sentence, then each cause in turn that is not
//! already part of the text.

/// An error and its causes on one line (`what: why: why`), each cause once. Many error
/// types write their source into their own sentence (`cannot open X: {source}`) and
/// also report it as their source, so printing the chain as it is (`{:#}`) would say
/// the same thing twice; a cause whose text is already there is left out.
pub fn describe(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if part.is_empty() || text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

#[cfg(test)]
mod tests {
    use std::fmt;

    use super::describe;

    /// An error whose sentence ends with its source's, and which also reports it as
    /// its source (`#[error("...: {source}")]` with a `source` field).
    #[derive(Debug)]
    struct Wrapping(std::io::Error);

    impl fmt::Display for Wrapping {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "cannot read the key file k.txt: {}", self.0)
        }
    }

    impl std::error::Error for Wrapping {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    fn denied() -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied")
    }

    #[test]
    fn a_cause_already_in_the_sentence_is_said_once() {
        let e = anyhow::Error::new(Wrapping(denied())).context("the run of `x` did not start");
        assert_eq!(format!("{e:#}").matches("permission denied").count(), 2);
        assert_eq!(
            describe(&e),
            "the run of `x` did not start: cannot read the key file k.txt: permission denied"
        );
    }

    #[test]
    fn causes_not_in_the_sentence_are_kept_in_order() {
        let e = anyhow::Error::new(denied())
            .context("cannot write run.lock")
            .context("the run of `x` did not start");
        assert_eq!(
            describe(&e),
            "the run of `x` did not start: cannot write run.lock: permission denied"
        );
    }
}
