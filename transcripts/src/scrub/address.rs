//! Street addresses: a street name and a house number, with floor, side,
//! postcode and town when they follow ("skovbrynet 22 st th 8600
//! silkeborg", "Havnegade 2, 3. mf, 6700 Esbjerg"). A street with no
//! number ("på Industrivej") and a town or postcode alone are kept.

use super::numbers::{ordinal_value, word_value};
use super::{Ctx, Kind};

/// Endings of Danish street names.
const SUFFIXES: &[&str] = &[
    "vej",
    "vejen",
    "gade",
    "gaden",
    "vænget",
    "vænge",
    "allé",
    "alle",
    "stræde",
    "strædet",
    "plads",
    "pladsen",
    "torv",
    "torvet",
    "parken",
    "bakken",
    "bakke",
    "høj",
    "højen",
    "toften",
    "toft",
    "stien",
    "engen",
    "haven",
    "kæret",
    "lunden",
    "lund",
    "marken",
    "vangen",
    "vang",
    "brynet",
    "bryn",
    "agre",
    "ageren",
    "løkken",
    "løkke",
    "holm",
    "gården",
    "dalen",
    "boulevard",
    "kaj",
    "kajen",
    "strand",
    "stranden",
    "skrænten",
    "krogen",
    "hegnet",
    "gyde",
    "gyden",
    "svinget",
    "ringen",
    "tofte",
    "have",
    "mosen",
    "broen",
    "vold",
    "volden",
    "skoven",
    "gårde",
    "udsigten",
    "bakkerne",
    "tværvej",
];

/// Separate words that name a street after another word: "Niels Juels Gade".
const STREET_WORDS: &[&str] = &[
    "vej",
    "gade",
    "allé",
    "alle",
    "plads",
    "torv",
    "stræde",
    "boulevard",
    "vænge",
    "park",
];

fn is_street(w: &str) -> bool {
    let n = w.chars().count();
    n >= 5
        && w.chars().all(char::is_alphabetic)
        && SUFFIXES
            .iter()
            .any(|s| w.ends_with(s) && n > s.chars().count() + 1)
}

/// Words that never start a street name even with a suffix ending.
fn not_street(w: &str) -> bool {
    matches!(
        w,
        "genbrugsplads"
            | "genbrugspladsen"
            | "p-plads"
            | "parkeringsplads"
            | "parkeringspladsen"
            | "legeplads"
            | "legepladsen"
            | "arbejdsplads"
            | "arbejdspladsen"
            | "boligstøtte"
            | "hjemmehave"
            | "kolonihave"
            | "kolonihaven"
            | "børnehave"
            | "børnehaven"
            | "skolehave"
            | "baghave"
            | "baghaven"
            | "forhave"
            | "forhaven"
            | "rådhus"
            | "sygehus"
            | "plejehus"
            | "hospital"
            | "fødselsdag"
            | "cykelsti"
            | "cykelstien"
            | "gangsti"
            | "gangstien"
            | "fortovet"
            | "nabohus"
            | "rækkehus"
            | "parcelhus"
            | "sommerhus"
            | "halvdelen"
            | "skraldespand"
            | "kirkegården"
            | "havnen"
    )
}

fn is_floor_word(w: &str) -> bool {
    matches!(
        w,
        "st" | "stuen"
            | "kl"
            | "kælder"
            | "kælderen"
            | "sal"
            | "tv"
            | "th"
            | "mf"
            | "venstre"
            | "højre"
            | "midtfor"
            | "etage"
            | "lejl"
            | "lejlighed"
            | "dør"
    ) || ordinal_value(w).is_some_and(|v| v <= 12)
}

fn is_district(w: &str) -> bool {
    matches!(
        w,
        "n" | "v"
            | "m"
            | "j"
            | "f"
            | "c"
            | "s"
            | "k"
            | "ø"
            | "nv"
            | "sv"
            | "sø"
            | "nø"
            | "øst"
            | "vest"
            | "nord"
            | "syd"
    )
}

/// Whether token `i` is a house number: "9", "4B", "31a", or a number word
/// ("syv"; not the article "en"/"et").
fn house_number(ctx: &Ctx<'_>, i: usize, after_nummer: bool) -> bool {
    let Some(t) = ctx.tokens.get(i) else {
        return false;
    };
    let digits = t.text.bytes().take_while(u8::is_ascii_digit).count();
    if (1..=4).contains(&digits) {
        let rest = &t.text[digits..];
        return rest.is_empty()
            || (rest.chars().count() == 1 && rest.chars().all(char::is_alphabetic));
    }
    word_value(&t.lower).is_some_and(|v| v >= 1)
        && (after_nummer || !matches!(t.lower.as_str(), "en" | "et" | "to"))
}

fn after_cue(ctx: &Ctx<'_>, i: usize) -> bool {
    let (a, b) = (ctx.lower(i.wrapping_sub(2)), ctx.lower(i.wrapping_sub(1)));
    i >= 1
        && (matches!(
            (a, b),
            ("bor", "på")
                | ("flytter", "til")
                | ("flyttet", "til")
                | ("flyttede", "til")
                | ("boet", "på")
                | ("adresse", "er")
                | ("adressen", "er")
                | ("adressen", "på")
                | ("bopæl", "er")
        ) || matches!(b, "adresse" | "adressen" | "adr"))
}

pub(super) fn addresses(ctx: &mut Ctx<'_>) {
    let n = ctx.tokens.len();
    let mut i = 0;
    while i < n {
        let w = ctx.lower(i).to_string();
        let mut first = i;
        let street_word = STREET_WORDS.contains(&w.as_str())
            && i > 0
            && (ctx.tokens[i - 1].is_capitalised()
                || is_prefix(ctx.lower(i - 1))
                || (w != "alle"
                    && ctx.lower(i - 1).ends_with('s')
                    && ctx.lower(i - 1).chars().count() >= 4
                    && !is_common(ctx.lower(i - 1))));
        let street = if street_word {
            // "Niels Juels Gade", "H.C. Andersens Boulevard".
            first = i - 1;
            while first > 0
                && i - first < 4
                && ctx.tokens[first - 1].is_capitalised()
                && !super::tokens::starts_sentence(ctx.text, &ctx.tokens, first)
                && ctx.gap(first - 1).trim().len() <= 1
            {
                first -= 1;
            }
            true
        } else {
            (is_street(&w) && !not_street(&w))
                || (after_cue(ctx, i) && ctx.tokens[i].is_alpha() && !is_common(&w))
        };
        if !street || !ctx.free(i) {
            i += 1;
            continue;
        }
        // "Gammel Kongevej", "gl. kongevej", "nørre allé".
        while first > 0 && i - first < 3 && is_prefix(ctx.lower(first - 1)) && ctx.free(first - 1) {
            first -= 1;
        }
        let mut k = i + 1;
        let nummer = matches!(ctx.lower(k), "nummer" | "nr");
        if nummer {
            k += 1;
        }
        if !house_number(ctx, k, nummer) || ctx.gap(k - 1).contains('\n') {
            i += 1;
            continue;
        }
        let mut last = k + 1;
        // A separate letter after the number: "12 B".
        if ctx.tokens.get(last).is_some_and(|t| {
            t.text.len() == 1
                && t.text
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || ('a'..='h').contains(&c))
        }) && ctx.gap(last - 1) == " "
        {
            last += 1;
        }
        // Floor and side.
        loop {
            let w = ctx.lower(last);
            let g = ctx.gap(last - 1);
            if last >= n || g.contains('\n') || g.len() > 3 {
                break;
            }
            if is_floor_word(w) {
                last += 1;
            } else if w == "til" && matches!(ctx.lower(last + 1), "venstre" | "højre") {
                last += 2;
            } else if ctx.tokens[last].is_digits()
                && ctx.tokens[last].text.len() <= 2
                && (ctx.gap(last).starts_with('.') || is_floor_word(ctx.lower(last + 1)))
            {
                last += 1;
            } else {
                break;
            }
        }
        // Postcode and town.
        let pc = ctx.tokens.get(last);
        if pc.is_some_and(|t| t.is_digits() && t.text.len() == 4 && !t.text.starts_with('0'))
            && ctx.gap(last - 1).len() <= 3
            && ctx
                .tokens
                .get(last + 1)
                .is_some_and(|t| t.is_alpha() && !is_common(&t.lower))
        {
            last += 2;
            if ctx.tokens.get(last).is_some_and(|t| is_district(&t.lower))
                && ctx.gap(last - 1) == " "
            {
                last += 1;
            }
        }
        ctx.claim(first, last, Kind::Address);
        i = last;
    }
}

/// Function words that are never street names or towns.
fn is_common(w: &str) -> bool {
    matches!(
        w,
        "og" | "i"
            | "på"
            | "til"
            | "en"
            | "et"
            | "den"
            | "det"
            | "de"
            | "er"
            | "jeg"
            | "vi"
            | "han"
            | "hun"
            | "nummer"
            | "min"
            | "mit"
            | "nu"
            | "her"
            | "der"
            | "så"
            | "men"
            | "eller"
            | "med"
            | "for"
            | "om"
            | "at"
            | "fra"
            | "kl"
            | "klokken"
            | "siden"
            | "ikke"
            | "har"
            | "kan"
            | "skal"
            | "vil"
            | "øh"
            | "ca"
            | "cirka"
            | "over"
            | "under"
            | "efter"
            | "før"
            | "indtil"
    )
}

/// Words that begin a street name: "Gammel Kongevej", "Søndre Allé".
fn is_prefix(w: &str) -> bool {
    matches!(
        w,
        "gammel"
            | "gamle"
            | "gl"
            | "ny"
            | "nye"
            | "store"
            | "lille"
            | "nørre"
            | "søndre"
            | "vester"
            | "øster"
            | "sankt"
            | "skt"
            | "st"
            | "kongens"
            | "dronning"
            | "dronningens"
            | "prins"
            | "prinsesse"
            | "frederiks"
            | "christians"
            | "h"
            | "c"
    )
}
