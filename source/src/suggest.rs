//! "Did you mean" suggestions.

/// Edit distance between two strings, in characters: insertions, deletions,
/// substitutions and transpositions of adjacent characters each cost 1
/// (optimal string alignment distance).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j]: distance between a[..i] and b[..j]; only three rows are kept.
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j - 1] + cost).min(prev[j] + 1).min(cur[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(prev2[j - 2] + 1);
            }
            cur[j] = d;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
///
/// Comparison ignores ASCII case (an exact case-insensitive match always wins);
/// a candidate is close enough when its edit distance is at most a third of
/// the longer word's length (at least 1). Ties keep the first candidate.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // Very long inputs are not typos of field names; bound the work.
    if word.is_empty() || word.len() > 256 {
        return None;
    }
    let lower = word.to_ascii_lowercase();
    let mut best: Option<(usize, &'a str)> = None;
    for cand in candidates {
        if cand == word || cand.len() > 256 {
            continue;
        }
        let cand_lower = cand.to_ascii_lowercase();
        let d = if cand_lower == lower {
            0
        } else {
            edit_distance(&lower, &cand_lower).max(1)
        };
        let len = lower.chars().count().max(cand_lower.chars().count());
        let limit = (len / 3).max(1);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, cand));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("gte", "get"), 1);
        assert_eq!(edit_distance("pth", "path"), 1);
    }

    #[test]
    fn suggestions() {
        let fields = ["method", "path", "query", "headers"];
        assert_eq!(suggest("pth", fields), Some("path"));
        assert_eq!(suggest("Method", fields), Some("method"));
        assert_eq!(suggest("hedaers", fields), Some("headers"));
        assert_eq!(suggest("zzz", fields), None);
        assert_eq!(suggest("GTE", ["GET", "POST", "PUT"]), Some("GET"));
        assert_eq!(suggest("scm", ["scim", "offset"]), Some("scim"));
        assert_eq!(suggest("", ["a"]), None);
    }
}
