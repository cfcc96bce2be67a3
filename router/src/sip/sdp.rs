//! SDP offer/answer (RFC 3264) for one audio stream of G.711 with
//! telephone events.
//!
//! Written here: a telephone leg needs the connection address, the audio
//! port and three payload types out of the offer, and a ten-line answer.
//! The SDP crates on crates.io either model all of WebRTC (webrtc-sdp,
//! sdp) or are unmaintained; this is smaller than adapting either.

use std::net::IpAddr;

use crate::media::Law;

/// What the caller offered that this side can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub address: IpAddr,
    pub port: u16,
    pub law: Law,
    /// The payload type the caller numbers G.711 with (0 or 8, or dynamic).
    pub payload_type: u8,
    pub dtmf_payload_type: Option<u8>,
}

/// Why an offer cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("the offer has no audio stream")]
    NoAudio,
    #[error("the offer has no connection address")]
    NoAddress,
    #[error("the offer has neither PCMU nor PCMA at 8000 Hz")]
    NoCodec,
}

/// Reads an offer; the first of PCMU/PCMA in the caller's order wins.
pub fn parse_offer(body: &str) -> Result<Offer, SdpError> {
    let mut session_addr: Option<IpAddr> = None;
    let mut media_addr: Option<IpAddr> = None;
    let mut audio: Option<(u16, Vec<u8>)> = None;
    let mut rtpmap: Vec<(u8, String)> = Vec::new();
    let mut in_audio = false;
    let mut seen_media = false;
    for line in body.lines() {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("m=") {
            seen_media = true;
            let mut f = rest.split_whitespace();
            in_audio = f.next() == Some("audio") && audio.is_none();
            if in_audio {
                let port = f.next().and_then(|p| p.split('/').next()?.parse().ok());
                let _proto = f.next();
                let pts = f.filter_map(|p| p.parse().ok()).collect();
                audio = port.map(|p| (p, pts));
            }
        } else if let Some(rest) = line.strip_prefix("c=") {
            let addr = rest
                .split_whitespace()
                .nth(2)
                .and_then(|a| a.split('/').next()?.parse().ok());
            if !seen_media {
                session_addr = addr;
            } else if in_audio {
                media_addr = addr;
            }
        } else if let Some(rest) = line.strip_prefix("a=rtpmap:") {
            if in_audio {
                let mut f = rest.split_whitespace();
                if let (Some(Ok(pt)), Some(enc)) = (f.next().map(str::parse::<u8>), f.next()) {
                    rtpmap.push((pt, enc.to_ascii_lowercase()));
                }
            }
        }
    }
    let (port, pts) = audio.ok_or(SdpError::NoAudio)?;
    if port == 0 {
        return Err(SdpError::NoAudio);
    }
    let address = media_addr.or(session_addr).ok_or(SdpError::NoAddress)?;
    let named = |pt: u8| {
        rtpmap
            .iter()
            .find(|(p, _)| *p == pt)
            .map(|(_, e)| e.as_str())
    };
    let mut chosen = None;
    for &pt in &pts {
        let law = match (pt, named(pt)) {
            (_, Some("pcmu/8000")) | (0, None) => Some(Law::Mu),
            (_, Some("pcma/8000")) | (8, None) => Some(Law::A),
            _ => None,
        };
        if let Some(law) = law {
            chosen = Some((law, pt));
            break;
        }
    }
    let (law, payload_type) = chosen.ok_or(SdpError::NoCodec)?;
    let dtmf_payload_type = pts
        .iter()
        .copied()
        .find(|&pt| named(pt).is_some_and(|e| e.starts_with("telephone-event/8000")));
    Ok(Offer {
        address,
        port,
        law,
        payload_type,
        dtmf_payload_type,
    })
}

/// The answer for `offer`, with media at `address:port`.
pub fn answer(offer: &Offer, address: IpAddr, port: u16, session: u64, version: u64) -> String {
    let family = if address.is_ipv4() { "IP4" } else { "IP6" };
    let mut pts = offer.payload_type.to_string();
    if let Some(d) = offer.dtmf_payload_type {
        pts.push_str(&format!(" {d}"));
    }
    let mut s = format!(
        "v=0\r\no=vejviser {session} {version} IN {family} {address}\r\ns=vejviser\r\n\
         c=IN {family} {address}\r\nt=0 0\r\nm=audio {port} RTP/AVP {pts}\r\n\
         a=rtpmap:{} {}/8000\r\n",
        offer.payload_type,
        offer.law.name()
    );
    if let Some(d) = offer.dtmf_payload_type {
        s.push_str(&format!(
            "a=rtpmap:{d} telephone-event/8000\r\na=fmtp:{d} 0-15\r\n"
        ));
    }
    s.push_str("a=ptime:20\r\na=sendrecv\r\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n\
        c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 0 101\r\n\
        a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";

    #[test]
    fn first_supported_codec_of_the_offer_wins() {
        let o = parse_offer(OFFER).expect("valid offer");
        assert_eq!(o.law, Law::A);
        assert_eq!(o.port, 6000);
        assert_eq!(o.dtmf_payload_type, Some(101));
        let a = answer(&o, "10.0.0.1".parse().expect("ip"), 4000, 1, 1);
        assert!(a.contains("m=audio 4000 RTP/AVP 8 101\r\n"), "{a}");
        assert!(a.contains("a=rtpmap:101 telephone-event/8000"));
    }

    #[test]
    fn offers_without_g711_or_audio_are_refused() {
        let g722 = OFFER.replace("RTP/AVP 8 0 101", "RTP/AVP 9");
        assert_eq!(parse_offer(&g722), Err(SdpError::NoCodec));
        assert_eq!(parse_offer("v=0\r\n"), Err(SdpError::NoAudio));
        let no_c = OFFER.replace("c=IN IP4 127.0.0.1\r\n", "");
        assert_eq!(parse_offer(&no_c), Err(SdpError::NoAddress));
    }
}
