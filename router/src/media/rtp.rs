//! RTP packets (RFC 3550) and telephone events (RFC 4733).
//!
//! Only the fixed header is needed on a telephone leg (no CSRC lists,
//! no header extensions are sent; received ones are skipped), so this is
//! written here: a dozen lines instead of a dependency.

/// A received RTP packet, borrowing its payload.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    pub payload_type: u8,
    pub marker: bool,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: &'a [u8],
}

/// Why a datagram is not RTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    #[error("datagram too short for an rtp header")]
    TooShort,
    #[error("rtp version is not 2")]
    Version,
}

impl<'a> Packet<'a> {
    pub fn parse(data: &'a [u8]) -> Result<Packet<'a>, RtpError> {
        if data.len() < 12 {
            return Err(RtpError::TooShort);
        }
        if data[0] >> 6 != 2 {
            return Err(RtpError::Version);
        }
        let padding = data[0] & 0x20 != 0;
        let extension = data[0] & 0x10 != 0;
        let csrc = usize::from(data[0] & 0x0f);
        let mut start = 12 + 4 * csrc;
        if extension {
            let ext = data.get(start + 2..start + 4).ok_or(RtpError::TooShort)?;
            start += 4 + 4 * usize::from(u16::from_be_bytes([ext[0], ext[1]]));
        }
        let mut end = data.len();
        if padding {
            let pad = usize::from(*data.last().ok_or(RtpError::TooShort)?);
            end = end.checked_sub(pad).ok_or(RtpError::TooShort)?;
        }
        let payload = data.get(start..end).ok_or(RtpError::TooShort)?;
        Ok(Packet {
            payload_type: data[1] & 0x7f,
            marker: data[1] & 0x80 != 0,
            sequence: u16::from_be_bytes([data[2], data[3]]),
            timestamp: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
            ssrc: u32::from_be_bytes([data[8], data[9], data[10], data[11]]),
            payload,
        })
    }
}

/// Writes a packet with the fixed 12-byte header into `out`.
pub fn write(
    out: &mut Vec<u8>,
    payload_type: u8,
    marker: bool,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    payload: &[u8],
) {
    out.clear();
    out.push(0x80);
    out.push((payload_type & 0x7f) | if marker { 0x80 } else { 0 });
    out.extend_from_slice(&sequence.to_be_bytes());
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(payload);
}

/// An RFC 4733 telephone-event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// The key: 0–9, `*`, `#`, A–D; `None` for events that are not keys.
    pub key: Option<char>,
    pub end: bool,
    /// Duration so far, in timestamp units.
    pub duration: u16,
}

impl TelephoneEvent {
    pub fn parse(payload: &[u8]) -> Option<TelephoneEvent> {
        if payload.len() < 4 {
            return None;
        }
        let key = match payload[0] {
            e @ 0..=9 => char::from_digit(u32::from(e), 10),
            10 => Some('*'),
            11 => Some('#'),
            e @ 12..=15 => Some(char::from(b'A' + (e - 12))),
            _ => None,
        };
        Some(TelephoneEvent {
            key,
            end: payload[1] & 0x80 != 0,
            duration: u16::from_be_bytes([payload[2], payload[3]]),
        })
    }

    /// The four payload bytes for `key` (volume 10 dBm0 below full scale).
    pub fn encode(key: char, end: bool, duration: u16) -> Option<[u8; 4]> {
        let code = match key {
            '0'..='9' => key as u8 - b'0',
            '*' => 10,
            '#' => 11,
            'A'..='D' => key as u8 - b'A' + 12,
            _ => return None,
        };
        let d = duration.to_be_bytes();
        Some([code, if end { 0x80 | 10 } else { 10 }, d[0], d[1]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let mut buf = Vec::new();
        write(&mut buf, 8, true, 65535, 0xdead_beef, 42, &[1, 2, 3]);
        let p = Packet::parse(&buf).expect("valid packet");
        assert_eq!(p.payload_type, 8);
        assert!(p.marker);
        assert_eq!(p.sequence, 65535);
        assert_eq!(p.timestamp, 0xdead_beef);
        assert_eq!(p.ssrc, 42);
        assert_eq!(p.payload, &[1, 2, 3]);
    }

    #[test]
    fn hostile_headers_are_errors_not_panics() {
        assert_eq!(Packet::parse(&[0x80; 5]).err(), Some(RtpError::TooShort));
        // CSRC count 15 with no room for them.
        assert!(Packet::parse(&[0x8f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        // Padding longer than the packet.
        let mut p = vec![0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200];
        assert!(Packet::parse(&p).is_err());
        // Extension header cut short.
        p[0] = 0x90;
        assert!(Packet::parse(&p).is_err());
    }

    #[test]
    fn telephone_events_round_trip() {
        for key in ['0', '5', '9', '*', '#', 'D'] {
            let bytes = TelephoneEvent::encode(key, true, 800).expect("a key");
            let e = TelephoneEvent::parse(&bytes).expect("four bytes");
            assert_eq!(e.key, Some(key));
            assert!(e.end);
            assert_eq!(e.duration, 800);
        }
    }
}
