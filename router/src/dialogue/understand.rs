//! What a short utterance means before any matching: yes or no, "say that
//! again", goodbye, an emergency, a request for a person.
//!
//! These are small closed sets of everyday Danish phrases, checked on
//! lower-cased words. They run on the raw text in memory and return only a
//! verdict; nothing here keeps or logs the text.

/// Lower-cased words, punctuation removed.
fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The words joined by single spaces, padded with a space at each end so
/// phrases match on word boundaries.
fn padded(words: &[String]) -> String {
    format!(" {} ", words.join(" "))
}

fn has_phrase(padded: &str, phrases: &[&str]) -> bool {
    phrases.iter().any(|p| padded.contains(&format!(" {p} ")))
}

/// Fillers that carry no meaning at the start of an answer.
const FILLERS: &[&str] = &[
    "øh", "øhm", "øhh", "hmm", "hm", "mm", "åh", "altså", "jamen", "nåh", "nå", "ehm", "eh", "men",
    "så",
];

const NO_PHRASES: &[&str] = &[
    "det er det ikke",
    "det gør det ikke",
    "ikke rigtigt",
    "ikke korrekt",
    "det er forkert",
    "det passer ikke",
    "noget andet",
    "helt andet",
    "andet emne",
    "slet ikke",
];

const YES_PHRASES: &[&str] = &[
    "det er rigtigt",
    "det er korrekt",
    "det passer",
    "det gør det",
    "det er det",
    "helt rigtigt",
    "lige præcis",
    "det stemmer",
];

const NO_WORDS: &[&str] = &[
    "nej", "nej tak", "nix", "næ", "næh", "nææ", "nope", "no", "forkert", "ikke", "aldrig",
];

const YES_WORDS: &[&str] = &[
    "ja",
    "jo",
    "jah",
    "jaa",
    "jep",
    "jeps",
    "japper",
    "yes",
    "yep",
    "jamen ja",
    "korrekt",
    "rigtigt",
    "præcis",
    "netop",
    "gerne",
    "okay",
    "ok",
    "selvfølgelig",
    "sikkert",
    "klart",
    "bestemt",
    "absolut",
];

/// `Some(true)` for yes, `Some(false)` for no, `None` when the utterance is
/// neither (then it is probably a new question).
pub(crate) fn yes_no(text: &str) -> Option<bool> {
    let all = words(text);
    let start = all
        .iter()
        .position(|w| !FILLERS.contains(&w.as_str()))
        .unwrap_or(all.len());
    let ws = &all[start..];
    let first = ws.first()?;
    let p = padded(ws);
    if has_phrase(&p, NO_PHRASES) {
        return Some(false);
    }
    if NO_WORDS.contains(&first.as_str()) {
        return Some(false);
    }
    if YES_WORDS.contains(&first.as_str()) || has_phrase(&p, YES_PHRASES) {
        return Some(true);
    }
    None
}

/// "Fortryd", "nej tak", "glem det": the citizen no longer wants to give
/// a number. Text with digits in it is never a cancel (it is a number,
/// perhaps a wrong one).
pub fn is_cancel(text: &str) -> bool {
    if text.chars().any(|c| c.is_ascii_digit()) {
        return false;
    }
    let ws = words(text);
    let p = padded(&ws);
    has_phrase(
        &p,
        &[
            "fortryd",
            "fortryder",
            "annuller",
            "afbryd",
            "glem det",
            "lad være",
            "lad vær",
            "ingen sms",
            "ikke alligevel",
            "stop",
        ],
    ) || yes_no(text) == Some(false)
}

/// "Kan du gentage", "hvad sagde du", "en gang til".
pub(crate) fn is_repeat(text: &str) -> bool {
    let p = padded(&words(text));
    has_phrase(
        &p,
        &[
            "gentage",
            "gentag",
            "hvad sagde du",
            "hvad siger du",
            "en gang til",
            "sig det igen",
            "sige det igen",
            "igen tak",
            "undskyld hvad",
            "hvad var det",
            "det hørte jeg ikke",
            "repeat",
        ],
    )
}

/// "Tak det var det", "farvel", "hej hej".
pub(crate) fn is_goodbye(text: &str) -> bool {
    let p = padded(&words(text));
    has_phrase(
        &p,
        &[
            "farvel",
            "det var det",
            "det var alt",
            "det var bare det",
            "hej hej",
            "hav en god dag",
            "ha en god dag",
            "tak for hjælpen",
            "vi ses",
            "bye",
            "goodbye",
        ],
    )
}

/// Built-in emergency cues; `extra` are the flow's own words.
pub fn is_emergency(text: &str, extra: &[String]) -> bool {
    let ws = words(text);
    let p = padded(&ws);
    const PHRASES: &[&str] = &[
        "trækker ikke vejret",
        "trækker ikke længere vejret",
        "kan ikke trække vejret",
        "kan ikke få vejret",
        "ånder ikke",
        "bevidstløs",
        "det brænder",
        "brand",
        "ild i",
        "ambulance",
        "livsfare",
        "bløder meget",
        "ring 112",
        "1 1 2",
        "overdosis",
        "vil tage mit liv",
        "selvmord",
        // Breathing, collapse, unconsciousness.
        "kan ikke få luft",
        "får ikke luft",
        "kan ikke ånde",
        "faldet om",
        "besvimet",
        "livløs",
        "kan ikke vække",
        "kramper",
        "allergisk chok",
        // Fire, accidents, violence.
        "står i flammer",
        "sket en ulykke",
        "trafikulykke",
        "bløder voldsomt",
        "overfaldet",
        "truet med kniv",
        // Risk of suicide.
        "tage sit liv",
        "tage sit eget liv",
        "slå mig ihjel",
        "slå sig ihjel",
        "vil ikke leve mere",
        // Citizens who write in English.
        "not breathing",
        "can't breathe",
        "cannot breathe",
        "unconscious",
        "heart attack",
        "on fire",
    ];
    has_phrase(&p, PHRASES)
        || acute_event(&ws)
        || ws.iter().any(|w| w == "112")
        || extra.iter().any(|e| p.contains(&format!(" {e} ")))
}

/// A sudden illness named as happening now: "han har et hjerteanfald",
/// not "jeg har haft en blodprop og skal genoptrænes". The words just
/// before it tell the past ("haft", "havde", "efter") from the present.
fn acute_event(ws: &[String]) -> bool {
    const EVENTS: &[&str] = &[
        "hjertestop",
        "hjertestopp",
        "hjerteanfald",
        "blodprop",
        "slagtilfælde",
    ];
    const PAST: &[&str] = &["haft", "havde", "efter", "siden"];
    ws.iter().enumerate().any(|(i, w)| {
        EVENTS.contains(&w.as_str())
            && !ws[i.saturating_sub(3)..i]
                .iter()
                .any(|b| PAST.contains(&b.as_str()))
    })
}

/// An explicit request to talk to a person. Single words such as
/// "medarbejder" are left to the matcher: "jeg er medarbejder i kommunen
/// og mangler min lønseddel" is a question about pay, not a request.
pub(crate) fn is_human_request(text: &str) -> bool {
    let p = padded(&words(text));
    let asks = [
        "tale med",
        "snakke med",
        "have fat i",
        "få fat i",
        "stilles om til",
    ];
    let whom = [
        "en medarbejder",
        "et menneske",
        "en person",
        "en rigtig person",
        "et rigtigt menneske",
        "omstillingen",
        "en sagsbehandler",
    ];
    has_phrase(
        &p,
        &[
            "rigtig person",
            "rigtigt menneske",
            "stil mig om",
            "stille mig om",
            "omstillingen tak",
        ],
    ) || asks
        .iter()
        .any(|a| whom.iter().any(|w| p.contains(&format!(" {a} {w} "))))
}

/// Phrases that ask to be put through to someone.
const PUT_THROUGH: &[&str] = &[
    "stil mig om til",
    "stille mig om til",
    "stiller mig om til",
    "omstilling til",
    "tale med",
    "snakke med",
    "have fat i",
    "få fat i",
    "forbind mig med",
    "ringe til",
];

/// The words after a request to be put through ("stil mig om til
/// jobcentret" gives "jobcentret"), padded for [`names`].
pub(crate) fn transfer_request(text: &str) -> Option<String> {
    let p = padded(&words(text));
    PUT_THROUGH.iter().find_map(|phrase| {
        let at = p.find(&format!(" {phrase} "))?;
        Some(format!(" {}", &p[at + phrase.len() + 2..]))
    })
}

/// Whether the padded words `asked` contain `name` as whole words.
pub(crate) fn names(asked: &str, name: &str) -> bool {
    let name = words(name).join(" ");
    !name.is_empty() && asked.contains(&format!(" {name} "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_in_everyday_forms_but_never_with_digits() {
        for t in [
            "fortryd",
            "Fortryd!",
            "nej tak",
            "glem det",
            "jeg vil ikke alligevel",
        ] {
            assert!(is_cancel(t), "{t}");
        }
        for t in ["12 34 56 78", "nej 20304050", "ja", "hvad koster et pas"] {
            assert!(!is_cancel(t), "{t}");
        }
    }

    #[test]
    fn everyday_yes() {
        for s in [
            "ja",
            "Ja tak.",
            "jo",
            "jep",
            "øh ja det er rigtigt",
            "det er rigtigt",
            "korrekt",
            "ja det gør det",
            "jamen ja",
            "præcis",
            "Yes",
            "ja, det er det",
        ] {
            assert_eq!(yes_no(s), Some(true), "{s}");
        }
    }

    #[test]
    fn everyday_no() {
        for s in [
            "nej",
            "nej tak",
            "Nej, det er noget andet",
            "nej det er det ikke",
            "næ",
            "det er forkert",
            "det er det ikke",
            "øh nej",
            "ikke rigtigt",
            "det er noget helt andet",
        ] {
            assert_eq!(yes_no(s), Some(false), "{s}");
        }
    }

    #[test]
    fn questions_are_neither_yes_nor_no() {
        for s in [
            "hvad koster et pas",
            "min skraldespand er ikke tømt",
            "",
            "jeg vil gerne flytte",
        ] {
            assert_eq!(yes_no(s), None, "{s}");
        }
    }

    #[test]
    fn request_to_be_put_through_names_the_department() {
        let asked = transfer_request("kan du stille mig om til jobcentret tak").expect("a request");
        assert!(names(&asked, "jobcentret"));
        assert!(!names(&asked, "borgerservice"));
        assert!(transfer_request("jeg skal flytte min samtale på jobcentret").is_none());
    }

    #[test]
    fn repeat_goodbye_emergency_and_person() {
        assert!(is_repeat("kan du gentage det"));
        assert!(is_repeat("hvad sagde du"));
        assert!(!is_repeat("hvad koster et pas"));
        assert!(is_goodbye("tak det var det"));
        assert!(is_goodbye("Farvel!"));
        assert!(!is_goodbye("hvad er det for en pris"));
        assert!(is_emergency(
            "min mand er faldet og trækker ikke vejret",
            &[]
        ));
        assert!(is_emergency("der er brand i køkkenet", &[]));
        assert!(!is_emergency("brandforsikring på mit hus", &[]));
        assert!(is_emergency("han er blevet helt blå", &["blå".into()]));
        assert!(is_emergency("min far har et hjerteanfald", &[]));
        assert!(is_emergency("jeg tror hun får en blodprop nu", &[]));
        assert!(!is_emergency(
            "jeg har haft en blodprop og skal genoptræne",
            &[]
        ));
        assert!(!is_emergency(
            "efter mit slagtilfælde vil jeg have hjælp",
            &[]
        ));
        assert!(is_emergency("min kone er faldet om i haven", &[]));
        assert!(is_emergency("my husband is not breathing", &[]));
        assert!(is_human_request("jeg vil tale med en medarbejder"));
        assert!(is_human_request("kan jeg ikke få fat i et menneske"));
        assert!(!is_human_request("hvad koster et pas"));
        assert!(!is_human_request(
            "jeg er medarbejder i kommunen og mangler min lønseddel"
        ));
    }
}
