//! Dates of birth after a cue ("født", "fødselsdato", "f."), written
//! ("05.06.2019", "3/11-1971") or spoken ("den syttende august to tusind og
//! tolv", "tolvte i ellevte nul syv"). Other dates (appointments, moving
//! days, deadlines) are kept.

use super::numbers::{is_month, ordinal_value, word_value};
use super::{Ctx, Kind};

fn is_birth_cue(ctx: &Ctx<'_>, i: usize) -> bool {
    let w = ctx.lower(i);
    matches!(w, "født" | "fodt" | "født:" | "fødselsdag" | "fødselsdagen" | "foedt")
        || w.starts_with("fødselsdato")
        || w.starts_with("foedselsdato")
        || w.starts_with("fodselsdato")
        // "(f. 12.04.1938)"
        || (w == "f" && ctx.gap(i).starts_with('.'))
}

/// Words that may sit between the cue and the date.
fn is_lead(w: &str) -> bool {
    matches!(
        w,
        "er" | "den" | "d" | "i" | "jo" | "øh" | "var" | "det" | "så" | "sgu" | "nok"
    )
}

/// Words a spoken or written date is made of.
fn is_date_word(w: &str, digits: bool) -> bool {
    digits
        || word_value(w).is_some()
        || ordinal_value(w).is_some()
        || is_month(w)
        || matches!(
            w,
            "hundrede" | "tusind" | "tusinde" | "totusind" | "totusinde"
        )
}

pub(super) fn birth_dates(ctx: &mut Ctx<'_>) {
    let n = ctx.tokens.len();
    for i in 0..n {
        if !is_birth_cue(ctx, i) {
            continue;
        }
        let mut k = i + 1;
        while k < n && is_lead(ctx.lower(k)) && k - i <= 3 {
            k += 1;
        }
        let start = k;
        let mut last = k;
        while last < n && ctx.free(last) && last - start < 12 {
            let t = &ctx.tokens[last];
            let w = t.lower.as_str();
            if is_date_word(w, t.is_digits()) {
                last += 1;
            } else if matches!(w, "og" | "i" | "den") && last > start {
                // Only inside a date: "to tusind og tolv", "tolvte i ellevte".
                let next = ctx.tokens.get(last + 1);
                if next.is_some_and(|t| is_date_word(&t.lower, t.is_digits())) {
                    last += 1;
                } else {
                    break;
                }
            } else {
                break;
            }
            if last < n && ctx.gap(last - 1).contains(['\n', ',', '(', ')', '?', '!']) {
                break;
            }
        }
        // A bare count after "født" ("født i 3 uger for tidligt") is not a date.
        let digits: usize = ctx.tokens[start..last]
            .iter()
            .map(|t| if t.is_digits() { t.text.len() } else { 2 })
            .sum();
        let all_digits: String = ctx.tokens[start..last]
            .iter()
            .filter(|t| t.is_digits())
            .map(|t| t.text)
            .collect();
        if super::numbers::is_cpr(&all_digits) {
            continue;
        }
        if last > start && (digits >= 4 || (last - start) >= 2) {
            ctx.claim(start, last, Kind::BirthDate);
        }
    }
}
