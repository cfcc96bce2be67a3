//! Personal names: the shipped lists of Danish first names and surnames
//! (`transcripts/data/names-*.txt`), cue phrases ("jeg hedder", "mvh",
//! "navn:"), and names spelled letter by letter ("k j æ r").
//!
//! Names that are also ordinary words (`names-ambiguous.txt`: bo, hans,
//! per, skov, maj) count only after a cue, next to another name, or
//! capitalised inside a typed sentence (not right after another capitalised
//! word that is no name: "Digital Post"). Every list is also read without
//! æ, ø, å ("jorgensen", "joergensen"), the ambiguous list included.

use std::collections::HashSet;

use super::tokens::starts_sentence;
use super::{Ctx, Kind};

#[derive(Debug, Clone)]
pub(super) struct NameLexicon {
    names: HashSet<String>,
    ambiguous: HashSet<String>,
}

fn words(list: &str) -> impl Iterator<Item = String> + '_ {
    list.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_lowercase)
}

impl NameLexicon {
    pub(super) fn shipped() -> Self {
        let names: HashSet<String> = words(include_str!("../../data/names-first.txt"))
            .chain(words(include_str!("../../data/names-surnames.txt")))
            .collect();
        let ambiguous: HashSet<String> =
            words(include_str!("../../data/names-ambiguous.txt")).collect();
        // Chat is often typed without æ, ø, å: "jorgen", "soeren", "aase".
        // An ambiguous name stays ambiguous folded ("grøn", "gron").
        NameLexicon {
            names: with_folded(names),
            ambiguous: with_folded(ambiguous),
        }
    }

    fn known(&self, w: &str) -> bool {
        self.names.contains(w) || self.ambiguous.contains(w)
    }

    /// A listed name that is not also an ordinary word.
    fn strong(&self, w: &str) -> bool {
        self.names.contains(w) && !self.ambiguous.contains(w) && !is_function_word(w)
    }

    pub(super) fn find(&self, ctx: &mut Ctx<'_>) {
        let n = ctx.tokens.len();
        let mut is_name = vec![false; n];
        for (i, slot) in is_name.iter_mut().enumerate() {
            if !ctx.free(i) || !ctx.tokens[i].is_alpha() {
                continue;
            }
            let w = ctx.lower(i);
            // "Digital Post", "Danske Bank": a capital after a capitalised
            // word that is no name belongs to the name of a thing.
            let after_proper_noun = i > 0
                && joined(ctx.gap(i - 1))
                && ctx.tokens[i - 1].is_capitalised()
                && !self.known(ctx.lower(i - 1));
            let chat_capital = ctx.tokens[i].is_capitalised()
                && !starts_sentence(ctx.text, &ctx.tokens, i)
                && !ctx.tokens[i].text.chars().all(char::is_uppercase)
                && !after_proper_noun;
            let cue = cue_before(ctx, i);
            let next_known = i + 1 < n && self.strong(ctx.lower(i + 1)) && joined(ctx.gap(i));
            *slot = self.strong(w)
                || (self.known(w) && (matches!(cue, Cue::Strong | Cue::Weak) || chat_capital))
                                || (self.known(w) && cue == Cue::Relation && next_known)
                // "Min søn Elvin har": capitalised after a relation word.
                || (cue == Cue::Relation && chat_capital && !is_function_word(w))
                                || (cue == Cue::Strong
                    && !is_function_word(w)
                    && w.chars().count() >= 2
                    // "mit navn er ændret", "navnet er godkendt": a participle.
                    && !(w.ends_with('t') && !ctx.tokens[i].is_capitalised() && !self.known(w)));
        }
        // Grow each name into the words around it.
        let mut i = 0;
        while i < n {
            if !is_name[i] {
                i += 1;
                continue;
            }
            let mut first = i;
            while first > 0
                && ctx.free(first - 1)
                && joined(ctx.gap(first - 1))
                && self.known(ctx.lower(first - 1))
                && !is_function_word(ctx.lower(first - 1))
            {
                first -= 1;
            }
            let mut last = i + 1;
            loop {
                if last >= n
                    || !ctx.free(last)
                    || !joined(ctx.gap(last - 1))
                    || !ctx.tokens[last].is_alpha()
                {
                    break;
                }
                let w = ctx.lower(last);
                let capital =
                    ctx.tokens[last].is_capitalised() && ctx.tokens[last - 1].is_capitalised();
                if is_name[last]
                    || self.known(w)
                    || (capital && !is_function_word(w))
                    || looks_like_surname(w)
                {
                    last += 1;
                } else if is_particle(w)
                    && last + 1 < n
                    && joined(ctx.gap(last))
                    && ctx.tokens[last + 1].is_alpha()
                    && !is_function_word(ctx.lower(last + 1))
                {
                    last += 2;
                } else {
                    break;
                }
                if last - first >= 5 {
                    break;
                }
            }
            ctx.claim(first, last, Kind::Name);
            i = last;
        }
    }
}

/// Adds the spellings of each name typed without æ, ø, å: "jørgen" also as
/// "joergen" and "jorgen".
fn with_folded(mut set: HashSet<String>) -> HashSet<String> {
    let folded: Vec<String> = set
        .iter()
        .filter(|n| n.contains(['æ', 'ø', 'å']))
        .flat_map(|n| {
            [
                n.replace('æ', "ae").replace('ø', "oe").replace('å', "aa"),
                n.replace('æ', "a").replace('ø', "o").replace('å', "a"),
            ]
        })
        .collect();
    set.extend(folded);
    set
}

fn joined(gap: &str) -> bool {
    gap == " " || gap == "-"
}

fn is_particle(w: &str) -> bool {
    matches!(
        w,
        "el" | "al"
            | "van"
            | "von"
            | "de"
            | "da"
            | "bin"
            | "ibn"
            | "abu"
            | "ben"
            | "la"
            | "le"
            | "di"
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cue {
    None,
    /// Introduces a name whatever the word: "jeg hedder", "mvh", "navn:".
    Strong,
    /// Makes a listed name that is also a word a name: "det er bo".
    Weak,
    /// "min far", "min nabo": a name that is also a word only when another
    /// name follows ("min svigerfar hans kristian", not "min far hans bil").
    Relation,
}

fn cue_before(ctx: &Ctx<'_>, i: usize) -> Cue {
    let w1 = if i >= 1 { ctx.lower(i - 1) } else { "" };
    let w2 = if i >= 2 { ctx.lower(i - 2) } else { "" };
    let w3 = if i >= 3 { ctx.lower(i - 3) } else { "" };
    if matches!(w1, "mvh" | "hilsen" | "vh" | "kh" | "underskrevet")
        || (w1 == "navn" && ctx.gap(i - 1).contains(':'))
        || (matches!(w1, "er") && matches!(w2, "navn" | "navnet"))
    {
        return Cue::Strong;
    }
    // "jeg hedder", "min mor hedder", "en der hed": a person is named; "det
    // hedder", "hvad hedder" name a thing.
    let (verb, subject) = if matches!(w1, "hedder" | "hed") {
        (true, w2)
    } else if matches!(w1, "jo" | "øh" | "bare" | "altså") && matches!(w2, "hedder" | "hed") {
        (true, w3)
    } else {
        (false, "")
    };
    if verb {
        return if matches!(
            subject,
            "det"
                | "den"
                | "hvad"
                | "der"
                | "stedet"
                | "ydelsen"
                | "afdelingen"
                | "skemaet"
                | "blanketten"
                | ""
        ) && !(subject == "der" && w3 == "en")
        {
            Cue::Weak
        } else {
            Cue::Strong
        };
    }
    // "ja det er bo", "hej det er mette".
    if w1 == "er"
        && w2 == "det"
        && (i == 2
            || matches!(
                w3,
                "ja" | "hej" | "goddag" | "hallo" | "og" | "nå" | "jamen" | "dav"
            ))
    {
        return Cue::Weak;
    }
    if matches!(
        w1,
        "doktor"
            | "dr"
            | "læge"
            | "lægen"
            | "sagsbehandler"
            | "visitator"
            | "kontaktperson"
            | "mor"
            | "far"
            | "søn"
            | "datter"
            | "bror"
            | "søster"
            | "mand"
            | "kone"
            | "hustru"
            | "kæreste"
            | "samlever"
            | "nabo"
            | "svigerfar"
            | "svigermor"
            | "svigersøn"
            | "svigerdatter"
            | "farmor"
            | "farfar"
            | "mormor"
            | "morfar"
            | "onkel"
            | "tante"
            | "fætter"
            | "kusine"
            | "barnebarn"
            | "ven"
            | "veninde"
    ) {
        return Cue::Relation;
    }
    if matches!(w1, "hej" | "kære" | "hilsen")
        || (w1 == "med"
            && matches!(
                w2,
                "tale" | "snakke" | "talt" | "snakket" | "talte" | "snakkede"
            ))
    {
        return Cue::Weak;
    }
    Cue::None
}

/// Danish function words and everyday words that are never taken as a
/// name after a cue ("hedder det", "jeg er ...").
fn is_function_word(w: &str) -> bool {
    matches!(
        w,
        "jeg"
            | "du"
            | "han"
            | "hun"
            | "den"
            | "det"
            | "de"
            | "vi"
            | "i"
            | "er"
            | "og"
            | "at"
            | "på"
            | "til"
            | "om"
            | "med"
            | "for"
            | "ikke"
            | "en"
            | "et"
            | "som"
            | "så"
            | "men"
            | "har"
            | "var"
            | "mig"
            | "min"
            | "mit"
            | "mine"
            | "hendes"
            | "sin"
            | "sit"
            | "øh"
            | "altså"
            | "jo"
            | "bare"
            | "lige"
            | "nok"
            | "nu"
            | "her"
            | "der"
            | "også"
            | "fra"
            | "ved"
            | "af"
            | "efter"
            | "eller"
            | "hvad"
            | "hvor"
            | "hvem"
            | "hvordan"
            | "hvis"
            | "kan"
            | "skal"
            | "vil"
            | "må"
            | "ja"
            | "nej"
            | "tak"
            | "hej"
            | "godt"
            | "noget"
            | "nogen"
            | "ham"
            | "hende"
            | "os"
            | "jer"
            | "dem"
            | "sig"
            | "vores"
            | "jeres"
            | "deres"
            | "din"
            | "dit"
            | "dine"
            | "ind"
            | "ud"
            | "op"
            | "ned"
            | "hjem"
            | "mere"
            | "meget"
            | "helt"
            | "vist"
            | "faktisk"
            | "egentlig"
            | "sådan"
            | "vel"
            | "da"
            | "når"
            | "fordi"
            | "selv"
            | "alle"
            | "alt"
            | "andre"
            | "anden"
            | "andet"
            | "nye"
            | "ny"
            | "nyt"
            | "gamle"
            | "gammel"
            | "lidt"
            | "stadig"
            | "allerede"
            | "fint"
            | "ok"
            | "okay"
            | "hedder"
            | "navn"
            | "the"
            | "is"
            | "my"
            | "name"
            | "and"
            | "dag"
            | "godmorgen"
            | "goddag"
            | "mange"
            | "hilsner"
            | "venlig"
            | "venligst"
            | "mvh"
            | "familien"
            | "fam"
            | "fru"
            | "hr"
            | "borger"
            | "kommune"
            | "kommunen"
    )
}

/// Three or more single letters in a row: a spelled name ("k j æ r").
pub(super) fn spelled(ctx: &mut Ctx<'_>) {
    let n = ctx.tokens.len();
    let mut i = 0;
    while i < n {
        let mut last = i;
        while last < n
            && ctx.free(last)
            && ctx.tokens[last].is_single_letter()
            && (last == i || ctx.gap(last - 1) == " ")
        {
            last += 1;
        }
        // "dobbelt a", "to n", "med ø": a spelling instruction, not a letter
        // of the name.
        let mut first = i;
        if first < last && first > 0 && is_spelling_word(ctx.lower(first - 1)) {
            first += 1;
        }
        let letters: String = ctx.tokens[first..last]
            .iter()
            .map(|t| t.lower.as_str())
            .collect();
        // Abbreviations read letter by letter: "s f o", "b b r".
        let abbreviation = matches!(
            letters.as_str(),
            "cpr" | "mfl" | "sfo" | "bbr" | "cvr" | "pdf" | "sms" | "usa" | "atp" | "dsb"
        );
        if last - first >= 3 && !abbreviation {
            ctx.claim(first, last, Kind::Name);
            i = last;
        } else {
            i = last.max(i + 1);
        }
    }
}

fn is_spelling_word(w: &str) -> bool {
    matches!(w, "dobbelt" | "to" | "med" | "stort" | "lille" | "et")
}

/// Endings of Danish surnames not in the list, taken only right after a
/// name: "mette krogsgaard", "ole vinstrup".
fn looks_like_surname(w: &str) -> bool {
    const ENDINGS: &[&str] = &[
        "sen", "gaard", "gård", "strup", "rup", "holm", "berg", "bjerg", "lund", "skov", "dahl",
        "toft", "feldt", "mann", "borg", "bæk", "kjær", "høj", "sted", "vig", "lev", "gren",
        "qvist", "kvist", "ski", "ic", "oğlu",
    ];
    w.chars().count() >= 5 && ENDINGS.iter().any(|e| w.ends_with(e))
}
