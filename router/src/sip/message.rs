//! SIP messages: parsed by rsip, then kept as a flat, uniform view (start
//! line, headers in order, body) that the user-agent code reads; replies
//! and requests are written as text.
//!
//! rsip does the tokenising and the validation of the start line and of
//! the header grammar; what is added here is what a user agent server needs
//! around it: header lookup by full or compact name, framing on a stream
//! (Content-Length), and response construction that copies the request's
//! Via, From, To, Call-ID and CSeq exactly (RFC 3261 §8.2.6).

use std::fmt::Write as _;

/// The largest SIP message accepted, datagram or stream.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// A parsed message.
#[derive(Debug, Clone)]
pub struct Message {
    pub start: Start,
    /// Header names as sent (compact forms expanded by rsip where it knows
    /// them), values trimmed.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    Request { method: String, uri: String },
    Response { code: u16 },
}

/// Why bytes are not a SIP message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("not a sip message")]
    Syntax,
    #[error("message larger than {MAX_MESSAGE} bytes")]
    TooLarge,
}

/// Full and compact (RFC 3261 §7.3.3) names of the headers read here.
const COMPACT: &[(&str, &str)] = &[
    ("via", "v"),
    ("from", "f"),
    ("to", "t"),
    ("call-id", "i"),
    ("contact", "m"),
    ("content-length", "l"),
    ("content-type", "c"),
    ("event", "o"),
    ("refer-to", "r"),
];

fn same_name(a: &str, b: &str) -> bool {
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    COMPACT.iter().any(|(full, short)| {
        (a.eq_ignore_ascii_case(full) && b.eq_ignore_ascii_case(short))
            || (a.eq_ignore_ascii_case(short) && b.eq_ignore_ascii_case(full))
    })
}

impl Message {
    pub fn parse(bytes: &[u8]) -> Result<Message, ParseError> {
        if bytes.len() > MAX_MESSAGE {
            return Err(ParseError::TooLarge);
        }
        let msg = rsip::SipMessage::try_from(bytes).map_err(|_| ParseError::Syntax)?;
        let (start, headers, body) = match msg {
            rsip::SipMessage::Request(r) => (
                Start::Request {
                    method: r.method.to_string(),
                    uri: r.uri.to_string(),
                },
                r.headers,
                r.body,
            ),
            rsip::SipMessage::Response(r) => (
                Start::Response {
                    code: r.status_code.code(),
                },
                r.headers,
                r.body,
            ),
        };
        let headers = headers
            .iter()
            .filter_map(|h| {
                let line = h.to_string();
                let (name, value) = line.split_once(':')?;
                Some((name.trim().to_string(), value.trim().to_string()))
            })
            .collect();
        Ok(Message {
            start,
            headers,
            body,
        })
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| same_name(n, name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header, in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| same_name(n, name))
            .map(|(_, v)| v.as_str())
    }

    pub fn method(&self) -> Option<&str> {
        match &self.start {
            Start::Request { method, .. } => Some(method),
            Start::Response { .. } => None,
        }
    }

    pub fn call_id(&self) -> Option<&str> {
        self.header("call-id")
    }

    /// The CSeq number and method.
    pub fn cseq(&self) -> Option<(u32, &str)> {
        let v = self.header("cseq")?;
        let mut f = v.split_whitespace();
        Some((f.next()?.parse().ok()?, f.next()?))
    }

    /// The `tag` parameter of a From or To value.
    pub fn tag(&self, header: &str) -> Option<&str> {
        tag_of(self.header(header)?)
    }

    /// Whether the mandatory headers of a request are there (RFC 3261 §8.1.1).
    pub fn is_well_formed_request(&self) -> bool {
        self.method().is_some()
            && self.header("via").is_some()
            && self.header("from").is_some()
            && self.header("to").is_some()
            && self.call_id().is_some()
            && self.cseq().is_some()
    }

    /// A response to this request. `to_tag` is added to To when it has none.
    pub fn response(
        &self,
        code: u16,
        reason: &str,
        to_tag: Option<&str>,
        extra: &[(&str, String)],
        body: Option<(&str, &str)>,
    ) -> Vec<u8> {
        let mut s = format!("SIP/2.0 {code} {reason}\r\n");
        for v in self.headers_named("via") {
            let _ = write!(s, "Via: {v}\r\n");
        }
        for name in ["From", "To", "Call-ID", "CSeq"] {
            if let Some(v) = self.header(name) {
                if name == "To" && tag_of(v).is_none() {
                    if let Some(t) = to_tag {
                        let _ = write!(s, "To: {v};tag={t}\r\n");
                        continue;
                    }
                }
                let _ = write!(s, "{name}: {v}\r\n");
            }
        }
        for (n, v) in extra {
            let _ = write!(s, "{n}: {}\r\n", clean(v));
        }
        s.push_str("Server: vejviser\r\n");
        match body {
            Some((ctype, b)) => {
                let _ = write!(
                    s,
                    "Content-Type: {ctype}\r\nContent-Length: {}\r\n\r\n{b}",
                    b.len()
                );
            }
            None => s.push_str("Content-Length: 0\r\n\r\n"),
        }
        s.into_bytes()
    }
}

/// The `tag` parameter of a name-addr header value.
pub fn tag_of(value: &str) -> Option<&str> {
    // Parameters follow the closing `>` when there is one.
    let params = match value.rfind('>') {
        Some(i) => &value[i..],
        None => value,
    };
    params.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("tag").then(|| v.trim())
    })
}

/// The URI inside a name-addr (`"Name" <sip:a@b>;x` → `sip:a@b`).
pub fn uri_of(value: &str) -> &str {
    match (value.find('<'), value.find('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        _ => value.split(';').next().unwrap_or(value).trim(),
    }
}

/// A header value made safe to send: no line breaks, at most 200 characters.
pub fn clean(v: &str) -> String {
    v.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect()
}

/// Where a message ends in a stream buffer: `Some(len)` once the headers
/// and the Content-Length body are in; `Err` when it cannot be framed.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, ParseError> {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() > MAX_MESSAGE {
            return Err(ParseError::TooLarge);
        }
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| ParseError::Syntax)?;
    let mut length = None;
    for line in head.split("\r\n").skip(1) {
        if let Some((n, v)) = line.split_once(':') {
            if same_name(n.trim(), "content-length") {
                length = Some(v.trim().parse::<usize>().map_err(|_| ParseError::Syntax)?);
            }
        }
    }
    // On a stream, Content-Length is mandatory (RFC 3261 §18.3).
    let total = head_end + 4 + length.ok_or(ParseError::Syntax)?;
    if total > MAX_MESSAGE {
        return Err(ParseError::TooLarge);
    }
    Ok((buf.len() >= total).then_some(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:bot@127.0.0.1:5060 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1\r\n\
        From: sipp <sip:sipp@127.0.0.1:5061>;tag=abc\r\n\
        To: <sip:bot@127.0.0.1:5060>\r\n\
        Call-ID: 1-2@127.0.0.1\r\n\
        CSeq: 1 INVITE\r\n\
        Contact: <sip:sipp@127.0.0.1:5061>\r\n\
        Max-Forwards: 70\r\n\
        Content-Length: 0\r\n\r\n";

    #[test]
    fn reads_what_a_user_agent_server_needs() {
        let m = Message::parse(INVITE.as_bytes()).expect("parses");
        assert_eq!(m.method(), Some("INVITE"));
        assert_eq!(m.call_id(), Some("1-2@127.0.0.1"));
        assert_eq!(m.cseq(), Some((1, "INVITE")));
        assert_eq!(m.tag("from"), Some("abc"));
        assert_eq!(m.tag("to"), None);
        assert!(m.is_well_formed_request());
        assert_eq!(
            uri_of(m.header("contact").expect("contact")),
            "sip:sipp@127.0.0.1:5061"
        );
    }

    #[test]
    fn responses_copy_the_transaction_headers_and_tag_the_to() {
        let m = Message::parse(INVITE.as_bytes()).expect("parses");
        let r = String::from_utf8(m.response(200, "OK", Some("xyz"), &[], None)).expect("utf-8");
        assert!(r.starts_with("SIP/2.0 200 OK\r\n"));
        assert!(r.contains("Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1\r\n"));
        assert!(r.contains(";tag=xyz\r\n"), "{r}");
        let back = Message::parse(r.as_bytes()).expect("our response parses");
        assert_eq!(back.start, Start::Response { code: 200 });
        assert_eq!(back.tag("to"), Some("xyz"));
    }

    #[test]
    fn stream_framing_waits_for_the_body() {
        let mut msg = INVITE
            .replace("Content-Length: 0", "Content-Length: 4")
            .into_bytes();
        assert_eq!(frame_len(&msg), Ok(None));
        msg.extend_from_slice(b"v=0\nNEXT");
        assert_eq!(frame_len(&msg), Ok(Some(msg.len() - 4)));
        assert_eq!(
            frame_len(b"INVITE x SIP/2.0\r\n\r\n"),
            Err(ParseError::Syntax)
        );
    }

    #[test]
    fn garbage_is_an_error() {
        for g in [
            &b""[..],
            b"\x00\xff\xfe",
            b"SIP/2.0\r\n\r\n",
            b"INVITE\r\n\r\n",
        ] {
            assert!(Message::parse(g).is_err());
        }
    }
}
