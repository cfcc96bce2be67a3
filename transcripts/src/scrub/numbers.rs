//! Numbers as speech recognition and chat write them.
//!
//! Digits ("28471963"), split groups ("28 47 19 63", "0 8 1 0 6 3"), Danish
//! number words ("nul fem elleve syvogtres", "fem hundrede og niogtyve") and
//! mixtures of them are read into one [`Run`]: the digit string a person
//! would type, with the tokens it came from. Rules then decide by length,
//! date validity and cue words what the run is.

use super::tokens::{gap, Token};

/// Value of a single Danish number word, 0..=99.
pub(crate) fn word_value(w: &str) -> Option<u32> {
    if let Some(v) = simple_value(w) {
        return Some(v);
    }
    // "enogtyve", "otteogfirs", "treoghalvfems": unit + "og" + tens.
    let (unit, tens) = w.split_once("og")?;
    let u = match unit {
        "en" | "et" => 1,
        "to" => 2,
        "tre" => 3,
        "fire" => 4,
        "fem" => 5,
        "seks" => 6,
        "syv" => 7,
        "otte" => 8,
        "ni" => 9,
        _ => return None,
    };
    let t = tens_value(tens)?;
    Some(t + u)
}

fn simple_value(w: &str) -> Option<u32> {
    Some(match w {
        "nul" => 0,
        "en" | "et" | "én" | "ét" | "een" => 1,
        "to" => 2,
        "tre" => 3,
        "fire" => 4,
        "fem" => 5,
        "seks" => 6,
        "syv" => 7,
        "otte" => 8,
        "ni" => 9,
        "ti" => 10,
        "elleve" => 11,
        "tolv" => 12,
        "tretten" => 13,
        "fjorten" => 14,
        "femten" => 15,
        "seksten" => 16,
        "sytten" => 17,
        "atten" => 18,
        "nitten" => 19,
        _ => return tens_value(w),
    })
}

fn tens_value(w: &str) -> Option<u32> {
    Some(match w {
        "tyve" => 20,
        "tredive" | "tredve" => 30,
        "fyrre" | "fyrretyve" => 40,
        "halvtreds" | "halvtredsindstyve" => 50,
        "tres" | "treds" | "tresindstyve" => 60,
        "halvfjerds" | "halvfjerdsindstyve" => 70,
        "firs" | "firsindstyve" => 80,
        "halvfems" | "halvfemsindstyve" => 90,
        _ => return None,
    })
}

/// Ordinal words used in spoken dates: "tredje" → 3, "enogtredivte" → 31.
pub(crate) fn ordinal_value(w: &str) -> Option<u32> {
    Some(match w {
        "første" => 1,
        "anden" | "andet" => 2,
        "tredje" => 3,
        "fjerde" => 4,
        "femte" => 5,
        "sjette" => 6,
        "syvende" => 7,
        "ottende" => 8,
        "niende" => 9,
        "tiende" => 10,
        "ellevte" => 11,
        "tolvte" => 12,
        "trettende" => 13,
        "fjortende" => 14,
        "femtende" => 15,
        "sekstende" => 16,
        "syttende" => 17,
        "attende" => 18,
        "nittende" => 19,
        "tyvende" => 20,
        "tredivte" | "tredivde" => 30,
        _ => {
            let (unit, tens) = w.split_once("og")?;
            let u = word_value(unit).filter(|u| (1..=9).contains(u))?;
            let t = match tens {
                "tyvende" => 20,
                "tredivte" | "tredivde" => 30,
                _ => return None,
            };
            t + u
        }
    })
}

pub(crate) fn is_month(w: &str) -> bool {
    matches!(
        w,
        "januar"
            | "februar"
            | "marts"
            | "april"
            | "maj"
            | "juni"
            | "juli"
            | "august"
            | "september"
            | "oktober"
            | "november"
            | "december"
            | "jan"
            | "feb"
            | "mar"
            | "apr"
            | "jun"
            | "jul"
            | "aug"
            | "sep"
            | "sept"
            | "okt"
            | "nov"
            | "dec"
    )
}

/// A stretch of tokens that reads as one number.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    /// Token index of the first and one past the last token.
    pub(crate) first: usize,
    pub(crate) last: usize,
    pub(crate) digits: String,
    /// Digit count of each group, in order ("3409 10552873" → [4, 8]).
    pub(crate) groups: Vec<usize>,
}

/// Words a speaker drops into the middle of a number.
fn is_filler(w: &str) -> bool {
    matches!(w, "øh" | "øhm" | "æh" | "eh" | "hmm" | "øhh")
}

/// Whether the gap between two tokens may lie inside one written number.
fn joins(g: &str) -> bool {
    g.len() <= 3
        && g.chars().all(|c| matches!(c, ' ' | '-' | '.' | '/' | '\t'))
        && g.chars().filter(|c| !c.is_whitespace()).count() <= 1
}

/// The numeric value of token `i` as a group, and how many tokens it spans
/// ("fem hundrede og niogtyve" is one group of four tokens).
fn group_at(
    tokens: &[Token<'_>],
    i: usize,
    usable: &dyn Fn(usize) -> bool,
) -> Option<(String, usize)> {
    let t = &tokens[i];
    if t.is_digits() {
        return Some((t.text.to_string(), 1));
    }
    // "totusind og ni": the thousands said as one word.
    if matches!(t.lower.as_str(), "totusind" | "totusinde") {
        let (rest, n) = og_tail(tokens, i + 1, usable).unwrap_or((0, 0));
        return Some(((2000 + rest).to_string(), 1 + n));
    }
    let v = word_value(&t.lower)?;
    let lower = |k: usize| {
        tokens
            .get(k)
            .filter(|_| usable(k))
            .map(|t| t.lower.as_str())
    };
    // A count, not a digit: "de sidste fire", "seks cifre".
    if i > 0 && matches!(tokens[i - 1].lower.as_str(), "første" | "sidste") {
        return None;
    }
    if matches!(
        lower(i + 1),
        Some("cifre" | "tal" | "gange" | "år" | "uger" | "dage" | "måneder" | "timer" | "minutter")
    ) {
        return None;
    }
    let mut value = v;
    let mut used = 1;
    if matches!(lower(i + 1), Some("hundrede" | "hundred")) {
        value = v * 100;
        used = 2;
        if let Some((rest, n)) = og_tail(tokens, i + 2, usable) {
            value += rest;
            used += n;
        }
    } else if matches!(lower(i + 1), Some("tusind" | "tusinde")) {
        value = v * 1000;
        used = 2;
        if let Some((rest, n)) = og_tail(tokens, i + 2, usable) {
            value += rest;
            used += n;
        }
    } else if (1..=9).contains(&v)
        && lower(i + 1) == Some("og")
        && lower(i + 2).and_then(tens_value).is_some()
    {
        // "ni og tres": a compound number split by speech recognition.
        value = v + lower(i + 2).and_then(tens_value).unwrap_or(0);
        used = 3;
    }
    let s = if matches!(t.lower.as_str(), "nul") {
        "0".to_string()
    } else {
        value.to_string()
    };
    Some((s, used))
}

/// "og niogtyve" after "hundrede", or "og treogtyve" after "tusind".
fn og_tail(tokens: &[Token<'_>], i: usize, usable: &dyn Fn(usize) -> bool) -> Option<(u32, usize)> {
    let t = tokens.get(i).filter(|_| usable(i))?;
    if t.lower == "og" {
        let v = tokens
            .get(i + 1)
            .filter(|_| usable(i + 1))
            .and_then(|n| word_value(&n.lower))?;
        return Some((v, 2));
    }
    // "nitten hundrede tooghalvfjerds" without "og".
    let v = word_value(&t.lower).filter(|v| *v >= 10)?;
    Some((v, 1))
}

/// All maximal number runs among the tokens for which `usable` holds.
pub(crate) fn runs(text: &str, tokens: &[Token<'_>], usable: &dyn Fn(usize) -> bool) -> Vec<Run> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if !usable(i) {
            i += 1;
            continue;
        }
        let Some((g, n)) = group_at(tokens, i, usable) else {
            i += 1;
            continue;
        };
        let mut run = Run {
            first: i,
            last: i + n,
            groups: vec![g.len()],
            digits: g,
        };
        let mut j = i + n;
        loop {
            // Skip one filler word inside the number.
            let mut k = j;
            if k < tokens.len()
                && usable(k)
                && is_filler(&tokens[k].lower)
                && joins(gap(text, tokens, k - 1))
            {
                k += 1;
            }
            if k >= tokens.len() || !usable(k) || !joins(gap(text, tokens, k - 1)) {
                break;
            }
            let Some((g, n)) = group_at(tokens, k, usable) else {
                break;
            };
            run.groups.push(g.len());
            run.digits.push_str(&g);
            run.last = k + n;
            j = k + n;
        }
        // An article is not a digit at the edges of a run: "en 28 47 19 63".
        while run.last - run.first > 1
            && run.groups.first() == Some(&1)
            && matches!(tokens[run.first].lower.as_str(), "en" | "et")
        {
            run.first += 1;
            run.digits.remove(0);
            run.groups.remove(0);
        }
        while run.last - run.first > 1
            && run.groups.last() == Some(&1)
            && matches!(tokens[run.last - 1].lower.as_str(), "en" | "et")
        {
            run.last -= 1;
            run.digits.pop();
            run.groups.pop();
        }
        i = j.max(i + 1);
        out.push(run);
    }
    out
}

fn days_in_month(month: u32, year: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 0,
    }
}

pub(crate) fn valid_date(day: u32, month: u32, year: u32) -> bool {
    (1..=12).contains(&month) && day >= 1 && day <= days_in_month(month, year)
}

fn two(d: &[u8]) -> u32 {
    u32::from(d[0] - b'0') * 10 + u32::from(d[1] - b'0')
}

/// Whether ten digits can be a CPR number: a real date whose century
/// follows from the seventh digit. Deliberately no modulus-11 check: CPR
/// numbers issued since 2007 need not pass it.
pub(crate) fn is_cpr(digits: &str) -> bool {
    let d = digits.as_bytes();
    if d.len() != 10 || !d.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let (day, month, yy) = (two(&d[0..2]), two(&d[2..4]), two(&d[4..6]));
    let century = match d[6] - b'0' {
        0..=3 => 1900,
        4 | 9 if yy <= 36 => 2000,
        4 | 9 => 1900,
        _ if yy <= 57 => 2000,
        _ => 1800,
    };
    valid_date(day, month, century + yy)
}

/// Whether six digits read as ddmmyy.
pub(crate) fn is_ddmmyy(digits: &str) -> bool {
    let d = digits.as_bytes();
    d.len() == 6
        && d.iter().all(u8::is_ascii_digit)
        && valid_date(two(&d[0..2]), two(&d[2..4]), 2000)
}

/// Whether eight digits read as ddmmyyyy with a plausible birth year.
pub(crate) fn is_ddmmyyyy(digits: &str) -> bool {
    let d = digits.as_bytes();
    if d.len() != 8 || !d.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let year = two(&d[4..6]) * 100 + two(&d[6..8]);
    (1890..=2030).contains(&year) && valid_date(two(&d[0..2]), two(&d[2..4]), year)
}

#[cfg(test)]
mod tests {
    use super::super::tokens::tokenize;
    use super::*;

    fn digits_of(text: &str) -> Vec<String> {
        let t = tokenize(text);
        runs(text, &t, &|_| true)
            .into_iter()
            .map(|r| r.digits)
            .collect()
    }

    #[test]
    fn reads_number_words_and_groups() {
        assert_eq!(
            digits_of("nul fem elleve syvogtres seksten tyve"),
            ["0511671620"]
        );
        assert_eq!(digits_of("fireogfyrre 18 tooghalvfjerds 06"), ["44187206"]);
        assert_eq!(
            digits_of("h k otteogtredive fem hundrede og niogtyve"),
            ["38529"]
        );
        assert_eq!(digits_of("nitten hundrede og otteogfyrre"), ["1948"]);
        assert_eq!(digits_of("170562-1183"), ["1705621183"]);
        assert_eq!(digits_of("de sidste fire er 1068"), ["1068"]);
    }

    #[test]
    fn cpr_uses_date_and_century_not_modulus_11() {
        assert!(is_cpr("0511671620"));
        assert!(is_cpr("2907891236") == valid_date(29, 7, 1989));
        assert!(!is_cpr("4402196731"));
        // 29 February exists in 2000 (century digit 4, yy 00) but not in 1900.
        assert!(is_cpr("2902004000"));
        assert!(!is_cpr("2902001000"));
    }
}
