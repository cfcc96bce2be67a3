//! How long a text is as an SMS: GSM-7 or UCS-2, and how many segments.
//!
//! The GSM 03.38 default alphabet holds æ ø å Æ Ø Å (and é, ü, ä, ö …), so
//! ordinary Danish fits in GSM-7: 160 characters in one SMS, 153 per
//! segment when split. One character outside it (an en dash, a curly
//! quote, an emoji) makes the whole message UCS-2: 70 characters, 67 per
//! segment. Written out here rather than taken from a crate because the
//! table is small, fixed by the standard, and the crates found either
//! encode (which we do not need) or leave out the extension table.

/// The characters of the GSM 03.38 default alphabet (one septet each).
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// The extension table: two septets each (escape + character).
const EXTENDED: &str = "\u{c}^{}\\[~]|€";

/// The encoding a text needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// 7-bit default alphabet: 160 / 153 characters per segment.
    Gsm7,
    /// 16-bit: 70 / 67 characters per segment.
    Ucs2,
}

/// The size of a text as an SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsLength {
    pub encoding: Encoding,
    /// Septets for GSM-7, UTF-16 code units for UCS-2.
    pub units: usize,
    /// Segments the provider will bill.
    pub segments: usize,
    /// The characters that forced UCS-2 (empty for GSM-7), each once.
    pub non_gsm: Vec<char>,
}

/// Measures `text` as an SMS.
pub fn measure(text: &str) -> SmsLength {
    let mut septets = 0;
    let mut non_gsm: Vec<char> = Vec::new();
    for c in text.chars() {
        if BASIC.contains(c) {
            septets += 1;
        } else if EXTENDED.contains(c) {
            septets += 2;
        } else if !non_gsm.contains(&c) {
            non_gsm.push(c);
        }
    }
    if non_gsm.is_empty() {
        SmsLength {
            encoding: Encoding::Gsm7,
            units: septets,
            segments: segments(septets, 160, 153),
            non_gsm,
        }
    } else {
        let units = text.encode_utf16().count();
        SmsLength {
            encoding: Encoding::Ucs2,
            units,
            segments: segments(units, 70, 67),
            non_gsm,
        }
    }
}

fn segments(units: usize, single: usize, per_part: usize) -> usize {
    if units <= single {
        1
    } else {
        units.div_ceil(per_part)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn danish_letters_are_gsm7() {
        let l = measure("Se videoen om pas på Æblevej, Øster Åby: https://x.dk");
        assert_eq!(l.encoding, Encoding::Gsm7);
        assert_eq!(l.segments, 1);
    }

    #[test]
    fn segment_boundaries() {
        assert_eq!(measure(&"a".repeat(160)).segments, 1);
        assert_eq!(measure(&"a".repeat(161)).segments, 2);
        assert_eq!(measure(&"a".repeat(306)).segments, 2);
        assert_eq!(measure(&"a".repeat(307)).segments, 3);
        // The euro sign takes two septets.
        assert_eq!(measure(&"€".repeat(80)).units, 160);
        assert_eq!(measure(&"€".repeat(81)).segments, 2);
    }

    #[test]
    fn en_dash_forces_ucs2() {
        let l = measure(&format!("kl. 10–15 {}", "a".repeat(60)));
        assert_eq!(l.encoding, Encoding::Ucs2);
        assert_eq!(l.non_gsm, vec!['–']);
        assert_eq!(l.units, 70);
        assert_eq!(l.segments, 1);
        assert_eq!(measure(&format!("– {}", "a".repeat(69))).segments, 2);
    }
}
