//! Reading the model's answer back as a class, following the authors' scorer
//! (`wangzy01/SkeletonLLM` `eval/calculate_ntu_accuracy.py`): a prediction is lower-cased and
//! stripped, one containing `error` is invalid, and it is correct when the lower-cased true
//! label occurs in it as a substring.

/// The authors' per-prediction rule: `None` if the prediction is invalid (contains `error`
/// after lower-casing), else whether the lower-cased `label` is a substring of it.
pub fn answer_matches(answer: &str, label: &str) -> Option<bool> {
    let pred = answer.trim().to_lowercase();
    if pred.contains("error") {
        return None;
    }
    Some(pred.contains(&label.to_lowercase()))
}

/// The index in `labels` of the class an answer names, or `None` (invalid or no/ambiguous
/// match).
///
/// Same normalisation as the authors' scorer (strip, case-fold, `error` = invalid). If the
/// answer has a `Label: <action>` line (reasoning-style answers), the text after the last one is
/// read first. An exact match (ignoring surrounding quotes, `*` and a final `.`) wins; otherwise
/// the longest label occurring as a substring (the scorer's test), so `throw ball (shoot a
/// basket)` is not read as `throw`; two different labels of equal longest length → `None`.
pub fn parse_answer(answer: &str, labels: &[&str]) -> Option<usize> {
    let pred = answer.trim().to_lowercase();
    if pred.contains("error") {
        return None;
    }
    let lowered: Vec<String> = labels.iter().map(|l| l.trim().to_lowercase()).collect();
    let label_line = pred.lines().rev().find_map(|l| {
        let l = l.trim_start_matches(|c: char| c.is_whitespace() || c == '*');
        l.strip_prefix("label:")
    });
    label_line
        .and_then(|t| match_text(t, &lowered))
        .or_else(|| match_text(&pred, &lowered))
}

/// Strips whitespace, quotes, backticks, `*` around a label and `.` after it (repeatedly).
pub fn clean_label(text: &str) -> &str {
    let mut t = text;
    loop {
        let next = t
            .trim_matches(|c: char| matches!(c, '"' | '\'' | '*' | '`') || c.is_whitespace())
            .trim_end_matches('.');
        if next.len() == t.len() {
            return next;
        }
        t = next;
    }
}

fn match_text(text: &str, labels: &[String]) -> Option<usize> {
    let clean = clean_label(text);
    if let Some(i) = labels.iter().position(|l| !l.is_empty() && l == clean) {
        return Some(i);
    }
    let mut best: Option<(usize, usize)> = None; // (index, len)
    let mut tie = false;
    for (i, l) in labels.iter().enumerate() {
        if l.is_empty() || !text.contains(l.as_str()) {
            continue;
        }
        match best {
            Some((j, n)) if l.len() == n && labels[j] != *l => tie = true,
            Some((_, n)) if l.len() <= n => {}
            _ => {
                best = Some((i, l.len()));
                tie = false;
            }
        }
    }
    if tie { None } else { best.map(|(i, _)| i) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: [&str; 5] = [
        "throw",
        "throw ball (shoot a basket)",
        "Reading",
        "writing",
        "touch someone's pocket",
    ];

    #[test]
    fn exact_and_case_folded() {
        assert_eq!(parse_answer("reading", &L), Some(2));
        assert_eq!(parse_answer("  WRITING.\n", &L), Some(3));
        assert_eq!(parse_answer("\"touch someone's pocket\"", &L), Some(4));
        assert_eq!(parse_answer("throw", &L), Some(0));
    }

    #[test]
    fn substring_longest_and_label_line() {
        assert_eq!(
            parse_answer("the person throw ball (shoot a basket)", &L),
            Some(1)
        );
        assert_eq!(
            parse_answer("Arms rise; it could be throw.\nLabel: writing", &L),
            Some(3)
        );
        assert_eq!(parse_answer("**Label:** Reading", &L), Some(2));
        assert_eq!(parse_answer("reading or writing", &L), None);
        assert_eq!(parse_answer("jump up", &L), None);
        assert_eq!(parse_answer("ERROR: CUDA out of memory", &L), None);
        assert_eq!(parse_answer("", &L), None);
    }

    #[test]
    fn scorer_rule() {
        assert_eq!(answer_matches(" Reading the book", "reading"), Some(true));
        assert_eq!(answer_matches("writing", "reading"), Some(false));
        assert_eq!(answer_matches("Error: x", "reading"), None);
    }
}
