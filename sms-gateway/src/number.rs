//! Danish mobile numbers, typed or spoken.
//!
//! A [`MobileNumber`] is personal data: it has a redacting `Debug`, no
//! `Display` and no `Serialize`. The only way to its digits is
//! [`MobileNumber::e164_digits`], which the providers and the outbox use.
//!
//! Which Danish numbers are mobile cannot be told from the digits alone:
//! since number portability, the 2–9 ranges mix mobile and landline
//! subscribers. What can be told is that a number starting with 0 or 1 is
//! not a subscriber number at all, and that 70, 80 and 90 numbers are
//! shared-cost, free-phone and premium service numbers, which never
//! receive SMS; those are refused as [`NumberError::NotMobile`].

/// A Danish mobile number (+45 and eight digits), held only as long as
/// sending needs it. Its `Debug` hides all but the last two digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MobileNumber {
    digits: [u8; 8],
}

impl std::fmt::Debug for MobileNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "MobileNumber(+45******{}{})",
            self.digits[6], self.digits[7]
        )
    }
}

/// Why a number was not accepted. [`NumberError::reply_da`] gives the
/// Danish sentence a citizen is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("a Danish mobile number has 8 digits, this has {0}")]
    WrongLength(usize),
    #[error("only Danish numbers (+45) can receive an SMS")]
    NotDanish,
    #[error("the number contains characters that are not digits")]
    NotDigits,
    #[error("this is a service or landline number, which cannot receive an SMS")]
    NotMobile,
    #[error("no number was given")]
    Empty,
}

impl NumberError {
    /// What the bot says or writes back, in Danish.
    pub fn reply_da(&self) -> &'static str {
        match self {
            NumberError::WrongLength(_) => {
                "Et dansk mobilnummer har otte cifre. Vil du sige eller skrive det igen?"
            }
            NumberError::NotDanish => {
                "Jeg kan kun sende sms til danske mobilnumre, der begynder med plus femogfyrre."
            }
            NumberError::NotDigits | NumberError::Empty => {
                "Jeg kunne ikke finde et telefonnummer. Vil du sige eller skrive de otte cifre?"
            }
            NumberError::NotMobile => {
                "Det nummer kan ikke modtage sms. Vil du give mig et mobilnummer?"
            }
        }
    }
}

impl MobileNumber {
    /// Parses "+45 12 34 56 78", "0045 12345678", "4512345678", "12345678"
    /// and other groupings with spaces, dashes, dots, slashes or
    /// parentheses.
    pub fn parse(input: &str) -> Result<MobileNumber, NumberError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(NumberError::Empty);
        }
        let (plus, rest) = match trimmed.strip_prefix('+') {
            Some(r) => (true, r),
            None => (false, trimmed),
        };
        let mut digits = Vec::new();
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c as u8 - b'0'),
                ' ' | '-' | '.' | '(' | ')' | '/' | '\u{a0}' => {}
                _ => return Err(NumberError::NotDigits),
            }
        }
        from_digits(plus, &digits)
    }

    /// Parses a number as speech recognition writes it: number words
    /// ("plus femogfyrre, tolv, fireogtredive, seksoghalvtreds,
    /// otteoghalvfjerds", "en to tre fire fem seks syv otte"), digits, or a
    /// mix, with fillers such as "øh" or "mit nummer er" around it.
    pub fn parse_spoken(input: &str) -> Result<MobileNumber, NumberError> {
        let lowered = input.to_lowercase();
        let tokens: Vec<&str> = lowered
            .split(|c: char| c.is_whitespace() || matches!(c, ',' | '.' | '-' | '/' | '(' | ')'))
            .filter(|t| !t.is_empty())
            .collect();
        let mut plus = false;
        let mut digits: Vec<u8> = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            let token = tokens[i];
            i += 1;
            if let Some(rest) = token.strip_prefix('+') {
                plus = digits.is_empty();
                if rest.is_empty() {
                    continue;
                }
                push_digits(rest, &mut digits)?;
                continue;
            }
            if token == "plus" {
                plus = digits.is_empty();
                continue;
            }
            if token.bytes().all(|b| b.is_ascii_digit()) {
                push_digits(token, &mut digits)?;
                continue;
            }
            if FILLERS.contains(&token) {
                continue;
            }
            // "fire og tredive" as three words.
            if let Some(unit) = unit_value(token) {
                if tokens.get(i) == Some(&"og") {
                    if let Some(tens) = tokens.get(i + 1).and_then(|t| tens_value(t)) {
                        digits.extend([tens, unit]);
                        i += 2;
                        continue;
                    }
                }
            }
            match word_value(token) {
                Some(WordValue::One(d)) => digits.push(d),
                Some(WordValue::Two(a, b)) => digits.extend([a, b]),
                None => return Err(NumberError::NotDigits),
            }
        }
        if digits.is_empty() {
            return Err(NumberError::Empty);
        }
        from_digits(plus, &digits)
    }

    /// The number as a provider expects it: "4512345678".
    pub fn e164_digits(&self) -> String {
        let mut s = String::from("45");
        s.extend(self.digits.iter().map(|d| char::from(b'0' + d)));
        s
    }
}

fn push_digits(text: &str, digits: &mut Vec<u8>) -> Result<(), NumberError> {
    for b in text.bytes() {
        if !b.is_ascii_digit() {
            return Err(NumberError::NotDigits);
        }
        digits.push(b - b'0');
    }
    Ok(())
}

/// The eight national digits from everything that was typed or said.
fn from_digits(plus: bool, digits: &[u8]) -> Result<MobileNumber, NumberError> {
    let national = if plus {
        digits.strip_prefix(&[4, 5]).ok_or(NumberError::NotDanish)?
    } else if let Some(rest) = digits.strip_prefix(&[0, 0]) {
        rest.strip_prefix(&[4, 5]).ok_or(NumberError::NotDanish)?
    } else if digits.len() == 10 && digits.starts_with(&[4, 5]) {
        &digits[2..]
    } else {
        digits
    };
    let digits: [u8; 8] = national
        .try_into()
        .map_err(|_| NumberError::WrongLength(national.len()))?;
    match digits {
        [0 | 1, ..] | [7, 0, ..] | [8, 0, ..] | [9, 0, ..] => Err(NumberError::NotMobile),
        _ => Ok(MobileNumber { digits }),
    }
}

/// Words around a spoken number that carry no digit.
const FILLERS: &[&str] = &[
    "øh",
    "øhm",
    "hmm",
    "æh",
    "mit",
    "min",
    "nummer",
    "nummeret",
    "telefonnummer",
    "mobilnummer",
    "mobil",
    "er",
    "det",
    "den",
    "jo",
    "altså",
    "ja",
    "og",
    "så",
    "tak",
];

enum WordValue {
    One(u8),
    Two(u8, u8),
}

fn unit_value(word: &str) -> Option<u8> {
    Some(match word {
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
        _ => return None,
    })
}

fn tens_value(word: &str) -> Option<u8> {
    Some(match word {
        "tyve" => 2,
        "tredive" | "tredve" => 3,
        "fyrre" | "fyrretyve" => 4,
        "halvtreds" | "halvtredsindstyve" => 5,
        "tres" | "tresindstyve" => 6,
        "halvfjerds" | "halvfjerdsindstyve" => 7,
        "firs" | "firsindstyve" => 8,
        "halvfems" | "halvfemsindstyve" => 9,
        _ => return None,
    })
}

fn word_value(word: &str) -> Option<WordValue> {
    if let Some(d) = unit_value(word) {
        return Some(WordValue::One(d));
    }
    let teen = match word {
        "ti" => Some(0),
        "elleve" => Some(1),
        "tolv" => Some(2),
        "tretten" => Some(3),
        "fjorten" => Some(4),
        "femten" => Some(5),
        "seksten" => Some(6),
        "sytten" => Some(7),
        "atten" => Some(8),
        "nitten" => Some(9),
        _ => None,
    };
    if let Some(u) = teen {
        return Some(WordValue::Two(1, u));
    }
    if let Some(t) = tens_value(word) {
        return Some(WordValue::Two(t, 0));
    }
    // "fireogtredive": a unit, "og", a tens word, written as one.
    let (unit, tens) = word.split_once("og")?;
    let unit = unit_value(unit).filter(|&u| u != 0)?;
    Some(WordValue::Two(tens_value(tens)?, unit))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(n: Result<MobileNumber, NumberError>) -> Result<String, NumberError> {
        n.map(|n| n.e164_digits())
    }

    #[test]
    fn accepts_common_groupings() {
        for input in [
            "+45 22 34 56 78",
            "004522345678",
            "4522345678",
            "22345678",
            "22-34-56-78",
            "+45 (2234) 5678",
            "22.34.56.78",
        ] {
            assert_eq!(
                digits(MobileNumber::parse(input)).as_deref(),
                Ok("4522345678"),
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_foreign_short_service_and_garbage() {
        assert_eq!(
            MobileNumber::parse("+46 22345678"),
            Err(NumberError::NotDanish)
        );
        assert_eq!(
            MobileNumber::parse("0046 22345678"),
            Err(NumberError::NotDanish)
        );
        assert_eq!(
            MobileNumber::parse("2234567"),
            Err(NumberError::WrongLength(7))
        );
        assert_eq!(MobileNumber::parse("22a45678"), Err(NumberError::NotDigits));
        assert_eq!(
            MobileNumber::parse("70 10 20 30"),
            Err(NumberError::NotMobile)
        );
        assert_eq!(
            MobileNumber::parse("80 20 30 40"),
            Err(NumberError::NotMobile)
        );
        assert_eq!(MobileNumber::parse("12345678"), Err(NumberError::NotMobile));
        assert_eq!(MobileNumber::parse("  "), Err(NumberError::Empty));
    }

    #[test]
    fn understands_spoken_numbers() {
        for input in [
            "plus femogfyrre toogtyve fireogtredive seksoghalvtreds otteoghalvfjerds",
            "plus fem og fyrre, to og tyve, fire og tredive, seks og halvtreds, otte og halvfjerds",
            "øh mit nummer er to to tre fire fem seks syv otte",
            "22 34 56 78",
            "+45 22 34 56 78",
            "toogtyve 34 seksoghalvtreds 78",
            "nul nul fem og fyrre 22 34 56 78",
        ] {
            assert_eq!(
                digits(MobileNumber::parse_spoken(input)).as_deref(),
                Ok("4522345678"),
                "{input}"
            );
        }
        assert_eq!(
            digits(MobileNumber::parse_spoken("tyve ti tres nul fem")).as_deref(),
            Ok("4520106005")
        );
    }

    #[test]
    fn spoken_errors_are_clear() {
        assert_eq!(
            MobileNumber::parse_spoken("plus seksogfyrre tyve tredive fyrre halvtreds"),
            Err(NumberError::NotDanish)
        );
        assert_eq!(
            MobileNumber::parse_spoken("tyve tredive fyrre"),
            Err(NumberError::WrongLength(6))
        );
        assert_eq!(
            MobileNumber::parse_spoken("ved ikke"),
            Err(NumberError::NotDigits)
        );
        assert_eq!(MobileNumber::parse_spoken("øh"), Err(NumberError::Empty));
    }

    #[test]
    fn debug_hides_the_number() {
        let n = MobileNumber::parse("22345678").unwrap();
        assert_eq!(format!("{n:?}"), "MobileNumber(+45******78)");
    }
}
