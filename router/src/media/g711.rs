//! G.711 µ-law (PCMU) and A-law (PCMA) for 16-bit linear samples.
//!
//! Written here rather than taken from a crate: the codec is the
//! ITU-T G.711 segment arithmetic (a few lines each way, as in the
//! reference `g711.c` of Sun Microsystems, public domain), and the crates
//! that offer it bring a whole media framework with them.

/// Which G.711 law a call uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Law {
    /// PCMU, RTP payload type 0.
    Mu,
    /// PCMA, RTP payload type 8.
    A,
}

impl Law {
    /// The static RTP payload type.
    pub fn payload_type(self) -> u8 {
        match self {
            Law::Mu => 0,
            Law::A => 8,
        }
    }

    /// The SDP encoding name.
    pub fn name(self) -> &'static str {
        match self {
            Law::Mu => "PCMU",
            Law::A => "PCMA",
        }
    }

    pub fn encode(self, sample: i16) -> u8 {
        match self {
            Law::Mu => linear_to_ulaw(sample),
            Law::A => linear_to_alaw(sample),
        }
    }

    pub fn decode(self, byte: u8) -> i16 {
        match self {
            Law::Mu => ulaw_to_linear(byte),
            Law::A => alaw_to_linear(byte),
        }
    }
}

const BIAS: i32 = 0x84;
const CLIP: i32 = 32635;

/// The segment (exponent) of a magnitude: the position of its highest set
/// bit above bit 7, 0–7.
fn segment(magnitude: i32) -> i32 {
    let mut seg = 0;
    let mut v = magnitude >> 8;
    while v > 0 && seg < 7 {
        seg += 1;
        v >>= 1;
    }
    seg
}

pub fn linear_to_ulaw(sample: i16) -> u8 {
    let s = i32::from(sample);
    let sign = if s < 0 { 0x80 } else { 0 };
    let magnitude = s.abs().min(CLIP) + BIAS;
    let exponent = segment(magnitude);
    let mantissa = (magnitude >> (exponent + 3)) & 0x0f;
    !((sign | (exponent << 4) | mantissa) as u8)
}

pub fn ulaw_to_linear(byte: u8) -> i16 {
    let u = i32::from(!byte);
    let sign = u & 0x80;
    let exponent = (u >> 4) & 0x07;
    let mantissa = u & 0x0f;
    let magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
    (if sign != 0 { -magnitude } else { magnitude }) as i16
}

pub fn linear_to_alaw(sample: i16) -> u8 {
    let s = i32::from(sample);
    let (sign, magnitude) = if s >= 0 {
        (0x80, s)
    } else {
        (0x00, (-s - 1).max(0))
    };
    let magnitude = magnitude.min(0x7fff);
    let byte = if magnitude < 256 {
        (magnitude >> 4) & 0x0f
    } else {
        let exponent = segment(magnitude);
        (exponent << 4) | ((magnitude >> (exponent + 3)) & 0x0f)
    };
    ((sign | byte) ^ 0x55) as u8
}

pub fn alaw_to_linear(byte: u8) -> i16 {
    let a = i32::from(byte ^ 0x55);
    let exponent = (a >> 4) & 0x07;
    let mantissa = a & 0x0f;
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    (if a & 0x80 != 0 { magnitude } else { -magnitude }) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_known_values() {
        assert_eq!(linear_to_ulaw(0), 0xff);
        assert_eq!(linear_to_ulaw(-1), 0x7f);
        assert_eq!(ulaw_to_linear(0xff), 0);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0x00), -32124);
    }

    #[test]
    fn alaw_known_values() {
        assert_eq!(linear_to_alaw(0), 0xd5);
        assert_eq!(alaw_to_linear(0xd5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xaa), 32256);
    }

    #[test]
    fn round_trip_error_is_within_the_segment_step() {
        for law in [Law::Mu, Law::A] {
            for s in (-32000i32..32000).step_by(37) {
                let s = s as i16;
                let back = law.decode(law.encode(s));
                let err = (i32::from(back) - i32::from(s)).abs();
                let step = (i32::from(s).abs() / 16).max(16);
                assert!(err <= step, "{law:?} {s} -> {back}");
            }
        }
    }
}
