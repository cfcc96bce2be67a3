//! SMS with links for Vejviser.
//!
//! This crate owns sending a link to a citizen's mobile phone: accepting
//! only Danish mobile numbers, the message templates, the providers and a
//! durable outbox. It never stores a phone number longer than delivery
//! needs, and a [`MobileNumber`] cannot be printed or serialised.
//!
//! Today it holds the number type; the outbox and providers follow.

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

/// Why a number was not accepted, in words a citizen can be told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("a Danish mobile number has 8 digits, this has {0}")]
    WrongLength(usize),
    #[error("only Danish numbers (+45) can receive an SMS")]
    NotDanish,
    #[error("the number contains characters that are not digits")]
    NotDigits,
}

impl MobileNumber {
    /// Parses "+45 12 34 56 78", "0045 12345678", "12345678" and other
    /// groupings with spaces, dashes, dots or parentheses.
    pub fn parse(input: &str) -> Result<MobileNumber, NumberError> {
        let trimmed = input.trim();
        let (international, rest) = if let Some(r) = trimmed.strip_prefix('+') {
            (true, r)
        } else if let Some(r) = trimmed.strip_prefix("00") {
            (true, r)
        } else {
            (false, trimmed)
        };
        let mut digits = Vec::new();
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c as u8 - b'0'),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(NumberError::NotDigits),
            }
        }
        let national = if international {
            match digits.strip_prefix(&[4, 5]) {
                Some(n) => n,
                None => return Err(NumberError::NotDanish),
            }
        } else {
            &digits[..]
        };
        let digits: [u8; 8] = national
            .try_into()
            .map_err(|_| NumberError::WrongLength(national.len()))?;
        Ok(MobileNumber { digits })
    }

    /// The number as a provider expects it: "4512345678".
    pub fn e164_digits(&self) -> String {
        let mut s = String::from("45");
        s.extend(self.digits.iter().map(|d| char::from(b'0' + d)));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_common_groupings() {
        for input in [
            "+45 12 34 56 78",
            "004512345678",
            "12345678",
            "12-34-56-78",
            "+45 (1234) 5678",
        ] {
            let n = MobileNumber::parse(input).unwrap();
            assert_eq!(n.e164_digits(), "4512345678", "{input}");
        }
    }

    #[test]
    fn rejects_foreign_short_and_garbage() {
        assert_eq!(
            MobileNumber::parse("+46 12345678"),
            Err(NumberError::NotDanish)
        );
        assert_eq!(
            MobileNumber::parse("1234567"),
            Err(NumberError::WrongLength(7))
        );
        assert_eq!(MobileNumber::parse("12a45678"), Err(NumberError::NotDigits));
    }

    #[test]
    fn debug_hides_the_number() {
        let n = MobileNumber::parse("12345678").unwrap();
        assert_eq!(format!("{n:?}"), "MobileNumber(+45******78)");
    }
}
