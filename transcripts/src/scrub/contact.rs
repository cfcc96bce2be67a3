//! E-mail addresses, case numbers, licence plates, IBAN and the number
//! runs that are CPR, phone or account numbers.

use super::numbers::{self, Run};
use super::{Ctx, Kind};

/// Characters of a typed e-mail address.
fn email_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '+')
}

/// Written addresses ("a@b.dk", "ole.bjerre (at) stofanet.dk") and spoken
/// ones ("lone punktum bech snabel-a hotmail punktum dk").
pub(super) fn emails(ctx: &mut Ctx<'_>) {
    let text = ctx.text;
    // Written: find each "@" (or "(at)", "[at]") and grow both ways.
    let mut marks: Vec<(usize, usize)> = Vec::new();
    for (at, sep) in text.match_indices(['@']).map(|(i, s)| (i, s.len())).chain(
        ["(at)", "[at]", "(a)", "(snabel-a)"]
            .iter()
            .flat_map(|p| text.match_indices(p).map(|(i, s)| (i, s.len()))),
    ) {
        let left_end = text[..at].trim_end_matches(' ').len();
        let left_start = text[..left_end]
            .char_indices()
            .rev()
            .take_while(|(_, c)| email_char(*c))
            .last()
            .map_or(left_end, |(i, _)| i);
        let right_start =
            at + sep + (text[at + sep..].len() - text[at + sep..].trim_start_matches(' ').len());
        let right_len: usize = text[right_start..]
            .chars()
            .take_while(|c| email_char(*c))
            .map(char::len_utf8)
            .sum();
        let mut right_end = right_start + right_len;
        // A full stop after the address ends the sentence.
        while text[..right_end].ends_with(['.', '-']) {
            right_end -= 1;
        }
        let domain = &text[right_start..right_end];
        if left_start < left_end && domain.contains('.') {
            marks.push((left_start, right_end));
        }
    }
    for (s, e) in marks {
        ctx.claim_bytes(s, e, Kind::Email);
    }
    spoken_emails(ctx);
}

fn is_at_word(ctx: &Ctx<'_>, i: usize) -> Option<usize> {
    match ctx.lower(i) {
        "snabela" | "snabel-a" => Some(1),
        "snabel" if ctx.lower(i + 1) == "a" => Some(2),
        // "peter at gmail punktum com": "at" only before a spoken domain.
        "at" | "æt"
            if is_dot_word(ctx.lower(i + 2))
                && matches!(
                    ctx.lower(i + 3),
                    "dk" | "com" | "net" | "org" | "nu" | "se" | "eu" | "de" | "no" | "info"
                ) =>
        {
            Some(1)
        }
        _ => None,
    }
}

fn is_dot_word(w: &str) -> bool {
    matches!(
        w,
        "punktum" | "prik" | "dot" | "bindestreg" | "streg" | "understreg" | "underscore"
    )
}

/// Words that end the local part of a spoken address when reading back.
fn stops_local_part(w: &str) -> bool {
    matches!(
        w,
        "er" | "det"
            | "min"
            | "mit"
            | "mail"
            | "email"
            | "mailen"
            | "emailen"
            | "mailadresse"
            | "mailadressen"
            | "adresse"
            | "adressen"
            | "hedder"
            | "på"
            | "til"
            | "og"
            | "den"
            | "ja"
            | "nej"
            | "så"
            | "øh"
            | "altså"
            | "jo"
            | "bare"
            | "skriv"
            | "send"
            | "mig"
            | "lige"
            | "hej"
    )
}

fn spoken_emails(ctx: &mut Ctx<'_>) {
    let mut i = 0;
    while i < ctx.tokens.len() {
        let Some(at_len) = is_at_word(ctx, i).filter(|_| ctx.free(i)) else {
            i += 1;
            continue;
        };
        // Local part: back over words until a cue or function word.
        let mut first = i;
        while first > 0
            && i - first < 10
            && ctx.free(first - 1)
            && !stops_local_part(ctx.lower(first - 1))
            && !ctx.gap(first - 1).contains(['\n', ',', '?', '!'])
        {
            first -= 1;
        }
        // Domain: a word, then ("punktum" word)*.
        let mut last = i + at_len;
        if last < ctx.tokens.len() && ctx.free(last) {
            last += 1;
            while last + 1 < ctx.tokens.len() && is_dot_word(ctx.lower(last)) && ctx.free(last + 1)
            {
                last += 2;
            }
        }
        // A written dot in the domain: "snabel-a gmail.com".
        if first < i {
            ctx.claim(first, last, Kind::Email);
        }
        i = last.max(i + 1);
    }
}

/// IBAN: "DK50 0040 0440 1162 43".
pub(super) fn iban(ctx: &mut Ctx<'_>) {
    for i in 0..ctx.tokens.len() {
        let t = &ctx.tokens[i];
        let l = t.lower.as_str();
        if !(l.len() == 4 && l.starts_with("dk") && l[2..].bytes().all(|b| b.is_ascii_digit())) {
            continue;
        }
        let mut last = i + 1;
        let mut digits = 2;
        while last < ctx.tokens.len()
            && ctx.tokens[last].is_digits()
            && ctx.gap(last - 1).trim().is_empty()
        {
            digits += ctx.tokens[last].text.len();
            last += 1;
        }
        if digits >= 14 {
            ctx.claim(i, last, Kind::Account);
        }
    }
}

fn is_case_cue(w: &str) -> bool {
    matches!(
        w,
        "sag"
            | "sagen"
            | "sags"
            | "journal"
            | "j-nr"
            | "sagsnr"
            | "sagsnummer"
            | "sagsnummeret"
            | "sagsid"
            | "journalnr"
            | "journalnummer"
            | "journalnummeret"
            | "jnr"
            | "reference"
            | "referencenummer"
            | "referencenummeret"
            | "ref"
            | "refnr"
            | "afgift"
            | "afgiften"
            | "bødenummer"
            | "løbenummer"
            | "kvitteringsnummer"
            | "ansøgningsnummer"
    ) || (w == "j")
}

fn is_case_filler(w: &str) -> bool {
    matches!(
        w,
        "er" | "nr"
            | "nummer"
            | "nummeret"
            | "det"
            | "øh"
            | "jo"
            | "mit"
            | "min"
            | "no"
            | "har"
            | "lyder"
            | "på"
    )
}

/// Case and journal numbers after a cue ("sagsnr. 2024-018842",
/// "sagsnummeret er s 2 4 7 7 1 0", "journalnr. 27.12.04-P20-3-23"), and
/// year-number forms on their own ("2023/44871").
pub(super) fn case_numbers(ctx: &mut Ctx<'_>) {
    let n = ctx.tokens.len();
    let mut i = 0;
    while i < n {
        if !is_case_cue(ctx.lower(i)) || (ctx.lower(i) == "j" && ctx.lower(i + 1) != "nr") {
            i += 1;
            continue;
        }
        let mut k = i + 1;
        let mut skipped = 0;
        while k < n && is_case_filler(ctx.lower(k)) && skipped < 3 {
            k += 1;
            skipped += 1;
        }
        let start = k;
        let mut digits = 0;
        let mut last = k;
        while last < n && ctx.free(last) {
            let t = &ctx.tokens[last];
            let has_digit = t.text.bytes().any(|b| b.is_ascii_digit());
            let word = numbers::word_value(&t.lower).is_some();
            // Spelled letters before the digits: "s 2 4 7", "a b c 1 2 3".
            let letter_before_digits = t.is_single_letter()
                && ctx.tokens[last + 1..]
                    .iter()
                    .take(4)
                    .find(|n| !n.is_single_letter())
                    .is_some_and(|n| {
                        n.text.bytes().any(|b| b.is_ascii_digit())
                            || numbers::word_value(&n.lower).is_some()
                    });
            if !(has_digit || word || letter_before_digits) {
                break;
            }
            if last > start && !joinable(ctx.gap(last - 1)) {
                break;
            }
            digits += if has_digit {
                t.text.bytes().filter(u8::is_ascii_digit).count()
            } else if word {
                2
            } else {
                0
            };
            last += 1;
        }
        if digits >= 3 && last > start {
            ctx.claim(start, last, Kind::Case);
            i = last;
        } else {
            i += 1;
        }
    }
    // "2023/44871", "2024-018842": a year and a serial number.
    for i in 0..n.saturating_sub(1) {
        let (a, b) = (&ctx.tokens[i], &ctx.tokens[i + 1]);
        if ctx.free(i)
            && ctx.free(i + 1)
            && a.is_digits()
            && a.text.len() == 4
            && (a.text.starts_with("19") || a.text.starts_with("20"))
            && b.is_digits()
            && b.text.len() >= 4
            && matches!(ctx.gap(i), "-" | "/")
        {
            ctx.claim(i, i + 2, Kind::Case);
        }
    }
}

fn joinable(g: &str) -> bool {
    g.len() <= 3 && g.chars().all(|c| matches!(c, ' ' | '-' | '.' | '/' | ':'))
}

fn is_plate_cue(w: &str) -> bool {
    w.starts_with("nummerplade")
        || matches!(
            w,
            "bil"
                | "bilen"
                | "varebil"
                | "varebilen"
                | "plade"
                | "pladen"
                | "registreringsnummer"
                | "regnummer"
                | "motorcykel"
                | "trailer"
                | "campingvogn"
        )
}

/// Two letters and five digits: "AX 34 871", "ty 55019", "c x 48 213",
/// "h k otteogtredive fem hundrede og niogtyve".
pub(super) fn plates(ctx: &mut Ctx<'_>) {
    // Written as one token: "ab12345".
    for i in 0..ctx.tokens.len() {
        let t = ctx.tokens[i].text.as_bytes();
        if ctx.free(i)
            && t.len() == 7
            && t[..2].iter().all(u8::is_ascii_alphabetic)
            && t[2..].iter().all(u8::is_ascii_digit)
        {
            ctx.claim(i, i + 1, Kind::Plate);
        }
    }
    let runs = numbers::runs(ctx.text, &ctx.tokens, &|i| ctx.free(i));
    for run in runs {
        if run.digits.len() != 5 || run.first == 0 {
            continue;
        }
        let f = run.first;
        let cue = (f.saturating_sub(6)..f).any(|k| is_plate_cue(ctx.lower(k)));
        let gap_ok = |k: usize| ctx.gap(k).len() <= 2 && !ctx.gap(k).contains('\n');
        // Two single letters.
        if f >= 2
            && ctx.tokens[f - 1].is_single_letter()
            && ctx.tokens[f - 2].is_single_letter()
            && ctx.free(f - 1)
            && ctx.free(f - 2)
            && gap_ok(f - 1)
            && gap_ok(f - 2)
        {
            ctx.claim(f - 2, run.last, Kind::Plate);
            continue;
        }
        // One two-letter token: upper case, or after a cue.
        let t = &ctx.tokens[f - 1];
        if t.is_alpha() && t.text.chars().count() == 2 && ctx.free(f - 1) && gap_ok(f - 1) {
            let upper = t.text.chars().all(char::is_uppercase);
            if upper || cue || !is_two_letter_word(&t.lower) {
                ctx.claim(f - 1, run.last, Kind::Plate);
            }
        }
    }
}

/// What the nearest cue word before a number says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cue {
    Cpr,
    Phone,
    Account,
    Case,
    /// "nummer", "nr": a number of some sort.
    Number,
}

fn cue_of(ctx: &Ctx<'_>, i: usize) -> Option<Cue> {
    let w = ctx.lower(i);
    if w.starts_with("cpr") || w.starts_with("personnum") || w == "personnr" || w == "cifre" {
        return Some(Cue::Cpr);
    }
    // Spelled: "c p r".
    if w == "r" && i >= 2 && ctx.lower(i - 1) == "p" && ctx.lower(i - 2) == "c" {
        return Some(Cue::Cpr);
    }
    if matches!(w, "første" | "sidste") && matches!(ctx.lower(i + 1), "seks" | "fire" | "6" | "4")
    {
        return Some(Cue::Cpr);
    }
    if w == "reg"
        || w == "regnr"
        || w.starts_with("registreringsnummer")
        || w.starts_with("konto")
        || w.starts_with("nemkonto")
        || w == "bank"
        || w == "iban"
        || w.starts_with("kontonr")
    {
        return Some(Cue::Account);
    }
    if w.starts_with("tlf")
        || (w.starts_with("telefon") && !w.starts_with("telefontid"))
        || w.starts_with("mobil")
        || w.starts_with("ring")
        || w == "sms"
        || w.starts_with("sms'")
        || w == "fange"
        || w == "træffes"
        || w == "opkald"
    {
        return Some(Cue::Phone);
    }
    if is_case_cue(w) {
        return Some(Cue::Case);
    }
    if matches!(w, "nummer" | "nummeret" | "nr" | "no") {
        return Some(Cue::Number);
    }
    None
}

fn followed_by_unit(ctx: &Ctx<'_>, run: &Run) -> bool {
    matches!(
        ctx.lower(run.last),
        "kr" | "kroner"
            | "kr."
            | "dkk"
            | "procent"
            | "pct"
            | "år"
            | "timer"
            | "minutter"
            | "gange"
            | "euro"
            | "mb"
            | "km"
            | "meter"
            | "m2"
            | "kvm"
            | "kilo"
            | "kg"
            | "stk"
            | "uger"
            | "dage"
    )
}

/// Every number run not yet claimed: CPR, phone, account or case number
/// by digit count, date validity and the nearest cue before it.
pub(super) fn number_runs(ctx: &mut Ctx<'_>) {
    let runs = numbers::runs(ctx.text, &ctx.tokens, &|i| ctx.free(i));
    let mut floor = 0;
    // The previous hidden run: its kind and digit count.
    let mut previous: Option<(Kind, usize)> = None;
    for run in runs {
        if followed_by_unit(ctx, &run) {
            continue;
        }
        // Nearest cue within eight tokens, not reaching back past the
        // previous number that was hidden.
        let from = run.first.saturating_sub(8).max(floor);
        let mut cue = None;
        for k in (from..run.first).rev() {
            if let Some(c) = cue_of(ctx, k) {
                cue = Some(c);
                if c == Cue::Number {
                    // "cpr nummer", "sag nummer": a typed cue just before wins.
                    if let Some(typed) = (k.saturating_sub(2).max(from)..k)
                        .rev()
                        .find_map(|j| cue_of(ctx, j).filter(|c| *c != Cue::Number))
                    {
                        cue = Some(typed);
                    }
                }
                break;
            }
        }
        let d = run.digits.as_str();
        let n = d.len();
        let plus = ctx.text[..ctx.tokens[run.first].start].ends_with('+');
        // The second half of a number said in two parts: "071265 og så 3402",
        // "reg 2400 og så 6890123456".
        let near = floor > 0 && run.first.saturating_sub(floor) <= 3;
        let continued = match previous {
            Some((Kind::Cpr, 6)) if near && n == 4 => Some(Kind::Cpr),
            Some((Kind::Account, 4)) if near && (6..=10).contains(&n) => Some(Kind::Account),
            _ => None,
        };
        let kind = continued.or(match cue {
            Some(Cue::Account) if n >= 4 => Some(Kind::Account),
            Some(Cue::Cpr) if (4..=11).contains(&n) => Some(Kind::Cpr),
            Some(Cue::Case) if n >= 3 => Some(Kind::Case),
            Some(Cue::Phone)
                if n == 8
                    || (n == 10 && d.starts_with("45"))
                    || (n == 12 && d.starts_with("0045")) =>
            {
                Some(Kind::Phone)
            }
            Some(Cue::Number) if (4..=7).contains(&n) && !numbers::is_ddmmyy(d) => Some(Kind::Case),
            Some(Cue::Number) if n == 6 => Some(Kind::Cpr),
            _ => None,
        }
        .or(if n == 10 && numbers::is_cpr(d) {
            Some(Kind::Cpr)
        } else if (n == 10 && d.starts_with("45"))
            || (n == 12 && d.starts_with("0045"))
            || (n == 8 && plus)
        {
            Some(Kind::Phone)
        } else if n == 8
            && (run.groups == [2, 2, 4] || run.groups == [1, 1, 4])
            && numbers::is_ddmmyyyy(d)
        {
            // A written date ("24.12.2023") with no cue: an appointment or
            // a letter's date, kept.
            None
        } else if n == 8 && !d.starts_with(['0', '1']) {
            Some(Kind::Phone)
        } else if (11..=14).contains(&n) && run.groups.first() == Some(&4) {
            Some(Kind::Account)
        } else if n == 8 && cue.is_some() {
            Some(Kind::Phone)
        } else {
            None
        }));
        if let Some(kind) = kind {
            let start = ctx.tokens[run.first].start;
            let start = if kind == Kind::Phone && ctx.text[..start].ends_with('+') {
                start - 1
            } else {
                start
            };
            let end = ctx.tokens[run.last - 1].end;
            ctx.claim_bytes(start, end, kind);
            floor = run.last;
            previous = Some((kind, n));
        }
    }
}

/// Two-letter Danish words and abbreviations that are not plate letters.
fn is_two_letter_word(w: &str) -> bool {
    matches!(
        w,
        "er" | "på"
            | "og"
            | "at"
            | "en"
            | "et"
            | "de"
            | "du"
            | "vi"
            | "så"
            | "om"
            | "ud"
            | "op"
            | "nu"
            | "jo"
            | "ja"
            | "da"
            | "af"
            | "fx"
            | "ca"
            | "kl"
            | "nr"
            | "pr"
            | "må"
            | "gå"
            | "få"
            | "se"
            | "os"
            | "ok"
            | "to"
            | "ni"
            | "ti"
            | "år"
            | "kr"
            | "ml"
            | "km"
            | "kg"
            | "cm"
            | "mm"
            | "st"
            | "th"
            | "tv"
            | "mf"
            | "dk"
            | "eu"
            | "hr"
            | "fr"
            | "ex"
            | "in"
            | "is"
            | "it"
            | "of"
            | "on"
            | "or"
            | "no"
            | "my"
            | "me"
            | "we"
            | "he"
            | "so"
            | "up"
            | "ad"
            | "al"
            | "mv"
            | "ol"
            | "øh"
            | "eh"
            | "hm"
            | "jf"
            | "ifm"
            | "ku"
            | "ha"
            | "ik"
    )
}
