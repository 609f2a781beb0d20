//! Tokenisers for the captioning metrics: a simple lower-casing word splitter (the input
//! convention of [`rouge_l`](super::rouge_l), [`cider_d`](super::cider_d) and
//! [`coco_bleu`](super::coco_bleu)) and a port of sacrebleu's default `13a` tokeniser.

/// Lower-cases `text` and returns its maximal runs of alphanumeric characters as tokens.
///
/// Everything else (whitespace, punctuation, underscores, symbols) separates tokens and is
/// dropped, so `"A man's wave, twice!"` becomes `["a", "man", "s", "wave", "twice"]`. This
/// stands in for pycocoevalcap's Java PTBTokenizer pass (which also lower-cases and drops
/// punctuation, but splits contractions as `do n't`); the Python equivalent is
/// `re.findall(r"[^\W_]+", text.lower())` (identical on ASCII text).
pub fn tokenize(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Python's `str.isspace` (Rust's `char::is_whitespace` plus the U+001C..=U+001F separators).
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Characters `13a` surrounds with spaces: `[\{-\~\[-\` -\&\(-\+\:-\@\/]`.
fn is_13a_symbol(c: char) -> bool {
    matches!(c, '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/')
}

/// Emulates `re.sub(r"(A)(B)", repl, s)` for two single-character classes A and B.
fn sub_pairs(
    chars: &[char],
    first: impl Fn(char) -> bool,
    second: impl Fn(char) -> bool,
    repl: impl Fn(char, char, &mut Vec<char>),
) -> Vec<char> {
    let mut out = Vec::with_capacity(chars.len() + chars.len() / 2);
    let mut i = 0;
    while i < chars.len() {
        if i + 1 < chars.len() && first(chars[i]) && second(chars[i + 1]) {
            repl(chars[i], chars[i + 1], &mut out);
            i += 2;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Tokenises like sacrebleu's default `13a` tokeniser (mteval-v13a), without lower-casing.
///
/// Applies sacrebleu's `rstrip`, the `<skipped>`/`-\n`/newline and `&quot;`/`&amp;`/`&lt;`/
/// `&gt;` replacements, then the four `TokenizerRegexp` rules (symbols split off; `.`/`,`
/// split unless between digits; `-` split after a digit) and splits on whitespace.
pub fn tokenize_13a(line: &str) -> Vec<String> {
    let mut line = line
        .trim_end_matches(is_py_space)
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if line.contains('&') {
        line = line
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    let mut chars: Vec<char> = Vec::with_capacity(line.len() * 2 + 2);
    chars.push(' ');
    for c in line.chars() {
        if is_13a_symbol(c) {
            chars.extend([' ', c, ' ']);
        } else {
            chars.push(c);
        }
    }
    chars.push(' ');
    let digit = |c: char| c.is_ascii_digit();
    let dot_comma = |c: char| c == '.' || c == ',';
    let chars = sub_pairs(
        &chars,
        |c| !digit(c),
        dot_comma,
        |a, b, out| out.extend([a, ' ', b, ' ']),
    );
    let chars = sub_pairs(
        &chars,
        dot_comma,
        |c| !digit(c),
        |a, b, out| out.extend([' ', a, ' ', b]),
    );
    let chars = sub_pairs(
        &chars,
        digit,
        |c| c == '-',
        |a, b, out| out.extend([a, ' ', b, ' ']),
    );
    let joined: String = chars.into_iter().collect();
    joined
        .split(is_py_space)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_tokenizer_drops_punctuation() {
        assert_eq!(
            tokenize("A man's wave, twice!  (3.5x)"),
            ["a", "man", "s", "wave", "twice", "3", "5x"]
        );
        assert!(tokenize(" ,.; ").is_empty());
    }

    #[test]
    fn tokenizer_13a_matches_sacrebleu_rules() {
        // Expected strings from sacrebleu 2.6.0's Tokenizer13a.
        let cases = [
            ("Hello, world.", "Hello , world ."),
            ("3.5 and 1,000 items", "3.5 and 1,000 items"),
            ("well-known 3-4 &amp; co", "well-known 3 - 4 & co"),
            ("(quickly)! a.b", "( quickly ) ! a . b"),
            ("x.,y", "x . , y"),
        ];
        for (input, expected) in cases {
            assert_eq!(tokenize_13a(input).join(" "), expected, "{input}");
        }
    }
}
