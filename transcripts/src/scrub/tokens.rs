//! Splitting text into word tokens with byte spans.
//!
//! A token is a maximal run of letters and digits (Unicode), so "jens74",
//! "4B" and "otteogfirs" are one token each and "170562-1183" is two. What
//! lies between tokens (spaces, punctuation) is kept as the gap so rules can
//! ask whether two tokens are joined by a dash, a dot or a line break.

/// One word or number in the utterance.
#[derive(Debug, Clone)]
pub(crate) struct Token<'a> {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) text: &'a str,
    /// Lowercase form, used by every lexicon lookup.
    pub(crate) lower: String,
}

impl Token<'_> {
    pub(crate) fn is_digits(&self) -> bool {
        self.text.bytes().all(|b| b.is_ascii_digit())
    }

    pub(crate) fn is_alpha(&self) -> bool {
        self.text.chars().all(char::is_alphabetic)
    }

    pub(crate) fn is_capitalised(&self) -> bool {
        self.text.chars().next().is_some_and(char::is_uppercase)
    }

    pub(crate) fn is_single_letter(&self) -> bool {
        let mut chars = self.text.chars();
        chars.next().is_some_and(char::is_alphabetic) && chars.next().is_none()
    }
}

pub(crate) fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if c.is_alphanumeric() {
            if start.is_none() {
                start = Some(i);
            }
        } else if let Some(s) = start.take() {
            out.push(make(text, s, i));
        }
    }
    if let Some(s) = start {
        out.push(make(text, s, text.len()));
    }
    out
}

fn make(text: &str, start: usize, end: usize) -> Token<'_> {
    let t = &text[start..end];
    Token {
        start,
        end,
        text: t,
        lower: t.to_lowercase(),
    }
}

/// The text between token `i` and token `i + 1`.
pub(crate) fn gap<'a>(text: &'a str, tokens: &[Token<'_>], i: usize) -> &'a str {
    match (tokens.get(i), tokens.get(i + 1)) {
        (Some(a), Some(b)) => &text[a.end..b.start],
        _ => "",
    }
}

/// Whether token `i` starts a sentence: nothing but spaces before it, or a
/// full stop, question mark, exclamation mark or line break.
pub(crate) fn starts_sentence(text: &str, tokens: &[Token<'_>], i: usize) -> bool {
    let before = match i.checked_sub(1) {
        None => return true,
        Some(p) => &text[tokens[p].end..tokens[i].start],
    };
    // "H.C. Andersens": a dot after an initial ends no sentence.
    let initial = tokens[i - 1].text.chars().count() == 1 && tokens[i - 1].is_capitalised();
    before.contains(['!', '?', '\n', ':']) || (before.contains('.') && !initial)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_punctuation_and_keeps_spans() {
        let text = "cpr: 170562-1183, jens74";
        let t = tokenize(text);
        let words: Vec<&str> = t.iter().map(|t| t.text).collect();
        assert_eq!(words, ["cpr", "170562", "1183", "jens74"]);
        assert_eq!(&text[t[1].start..t[2].end], "170562-1183");
        assert_eq!(gap(text, &t, 1), "-");
    }
}
