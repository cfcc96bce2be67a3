//! The SMS settings file (`municipalities/<id>/sms.yaml`): the sender
//! name, the message templates per link, the provider and the outbox.
//!
//! Three steps like every staff file: the binary parses the YAML into the
//! raw structs below (this crate never calls a YAML parser),
//! [`SmsConfig::validate`] turns them into typed, checked values or a list
//! of [`ConfigProblem`]s, then the values run. Texts are measured at load
//! time: a template that cannot fit `max_segments` is an error, one that
//! forces UCS-2 is a warning.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::gsm::{self, Encoding, SmsLength};

/// `sms.yaml` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmsFile {
    pub version: u32,
    /// The sender shown on the citizen's phone: up to 11 letters and
    /// digits, or a number of up to 15 digits.
    pub sender: String,
    /// The most segments one message may take (default 2).
    #[serde(default)]
    pub max_segments: Option<usize>,
    pub templates: Vec<RawTemplate>,
    #[serde(default)]
    pub provider: Option<RawProvider>,
    #[serde(default)]
    pub outbox: Option<RawOutbox>,
    #[serde(default)]
    pub callback: Option<RawCallback>,
}

/// One message template: for every link of a `kind`, or for the one link
/// with this `url` (settings placeholders such as `{video_url}` allowed).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTemplate {
    pub id: String,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    /// The text; `{url}` is required, `{title}` (the link's title) allowed.
    pub text: String,
}

/// Which provider sends, and how to reach it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    pub kind: ProviderKind,
    #[serde(default)]
    pub url: Option<String>,
    /// Name of the environment variable holding the API token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// Or a file holding it (e.g. a container secret).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// The provider kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Writes messages to the data directory (local runs).
    File,
    /// A GatewayAPI-style REST API.
    Gatewayapi,
    /// A generic JSON webhook.
    Webhook,
}

/// Outbox tuning.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutbox {
    #[serde(default)]
    pub per_number_per_day: Option<u32>,
    #[serde(default)]
    pub max_attempts: Option<u32>,
    #[serde(default)]
    pub backoff_base_ms: Option<u64>,
    #[serde(default)]
    pub backoff_max_ms: Option<u64>,
    #[serde(default)]
    pub concurrency: Option<usize>,
}

/// Where the delivery-status callback secret comes from.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCallback {
    #[serde(default)]
    pub secret_env: Option<String>,
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
}

/// A validation problem (or warning), located by the top-level key and,
/// for a template, its index, so the caller can name line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Stable code, e.g. `sms.missing-url`.
    pub code: &'static str,
    /// `Some(("templates", i))` for the i-th template.
    pub item: Option<(&'static str, usize)>,
    /// The key the problem is about.
    pub key: &'static str,
    pub message: String,
}

/// Where a secret is read from; the binary reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
}

/// The validated provider settings.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub kind: ProviderKind,
    /// Present for the HTTP kinds.
    pub url: Option<String>,
    pub token: Option<SecretSource>,
    pub timeout: Duration,
}

/// The validated outbox and worker settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxSettings {
    /// Messages one number may receive in 24 hours (default 5).
    pub per_number_per_day: u32,
    /// Tries before a message is marked failed (default 8).
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Messages in flight at once (default 4).
    pub concurrency: usize,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        OutboxSettings {
            per_number_per_day: 5,
            max_attempts: 8,
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(600),
            concurrency: 4,
        }
    }
}

/// The link an SMS is about, as the knowledge base knows it.
#[derive(Debug, Clone, Copy)]
pub struct LinkRef<'a> {
    /// `video`, `selvbetjening` or `info`.
    pub kind: &'a str,
    /// The resolved URL.
    pub url: &'a str,
    pub title: &'a str,
}

/// A rendered message text and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub template_id: String,
    pub text: String,
    pub length: SmsLength,
}

#[derive(Debug, Clone)]
struct Template {
    id: String,
    target: Target,
    text: String,
}

#[derive(Debug, Clone)]
enum Target {
    Kind(String),
    Url(String),
}

/// The validated SMS settings.
#[derive(Debug, Clone)]
pub struct SmsConfig {
    pub sender: String,
    pub max_segments: usize,
    pub provider: ProviderSettings,
    pub outbox: OutboxSettings,
    pub callback_secret: Option<SecretSource>,
    templates: Vec<Template>,
}

/// A validated configuration and the warnings found on the way.
#[derive(Debug)]
pub struct Validated {
    pub config: SmsConfig,
    pub warnings: Vec<ConfigProblem>,
}

const LINK_KINDS: &[&str] = &["video", "selvbetjening", "info"];
const ALLOWED_PLACEHOLDERS: &[&str] = &["url", "title"];
/// Placeholder names that would put personal data in a message.
const PERSONAL_WORDS: &[&str] = &[
    "cpr", "navn", "name", "telefon", "phone", "nummer", "number", "mobil", "adresse", "address",
    "email", "mail", "fødsels", "foedsels", "birth", "borger", "citizen",
];
/// Stand-ins used to measure kind templates at load time, long enough for
/// most links; `vejviser sms check` measures every real link.
const NOMINAL_URL: &str = "https://www.eksempel.dk/selvbetjening/en-side-med-et-langt-navn";
const NOMINAL_TITLE: &str = "Ansøg om eller forny dit pas på borger.dk";

impl SmsConfig {
    /// Checks `raw`. `settings` are the municipality's values (name →
    /// written text) used to resolve `{name}` in template URLs.
    pub fn validate(
        raw: RawSmsFile,
        settings: &BTreeMap<String, String>,
    ) -> Result<Validated, Vec<ConfigProblem>> {
        let mut problems = Vec::new();
        let mut warnings = Vec::new();
        let top = |code, key, message: String| ConfigProblem {
            code,
            item: None,
            key,
            message,
        };
        if raw.version != 1 {
            problems.push(top(
                "sms.version",
                "version",
                format!(
                    "unsupported version {}; this build reads version 1",
                    raw.version
                ),
            ));
        }
        let sender = raw.sender.trim().to_string();
        let numeric = !sender.is_empty() && sender.bytes().all(|b| b.is_ascii_digit());
        let alnum = sender
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == ' ');
        if sender.is_empty()
            || (numeric && sender.len() > 15)
            || (!numeric && (!alnum || sender.chars().count() > 11))
        {
            problems.push(top(
                "sms.sender",
                "sender",
                "the sender must be 1–11 letters (a–z, A–Z), digits or spaces, or a number of up to 15 digits".into(),
            ));
        }
        let max_segments = raw.max_segments.unwrap_or(2);
        if max_segments == 0 {
            problems.push(top(
                "sms.max-segments",
                "max_segments",
                "max_segments must be at least 1".into(),
            ));
        }

        let mut templates = Vec::new();
        let mut ids = HashSet::new();
        let mut targets = HashSet::new();
        for (i, t) in raw.templates.into_iter().enumerate() {
            let at = |code, key, message: String| ConfigProblem {
                code,
                item: Some(("templates", i)),
                key,
                message,
            };
            if t.id.is_empty()
                || !t
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                problems.push(at(
                    "sms.template-id",
                    "id",
                    format!(
                        "template id `{}` must be lowercase letters, digits and dashes",
                        t.id
                    ),
                ));
            } else if !ids.insert(t.id.clone()) {
                problems.push(at(
                    "sms.duplicate-id",
                    "id",
                    format!("template id `{}` is used twice", t.id),
                ));
            }
            let target = match (t.kind, t.url) {
                (Some(kind), None) => {
                    if !LINK_KINDS.contains(&kind.as_str()) {
                        problems.push(at("sms.link-kind", "kind", format!("unknown link kind `{kind}`; expected one of video, selvbetjening, info")));
                    }
                    Some(Target::Kind(kind))
                }
                (None, Some(url)) => match resolve(&url, settings) {
                    Ok(url) => Some(Target::Url(url)),
                    Err(name) => {
                        problems.push(at(
                            "sms.unknown-setting",
                            "url",
                            format!("`{{{name}}}` is not a value in the municipality settings"),
                        ));
                        None
                    }
                },
                _ => {
                    problems.push(at(
                        "sms.template-target",
                        "id",
                        "a template names either `kind` or `url`, not both or neither".into(),
                    ));
                    None
                }
            };
            if let Some(target) = &target {
                let key = match target {
                    Target::Kind(k) => format!("kind:{k}"),
                    Target::Url(u) => format!("url:{u}"),
                };
                if !targets.insert(key) {
                    problems.push(at(
                        "sms.duplicate-target",
                        "id",
                        "another template already covers this link".into(),
                    ));
                }
            }
            let mut has_url = false;
            for name in placeholders(&t.text) {
                if name == "url" {
                    has_url = true;
                } else if ALLOWED_PLACEHOLDERS.contains(&name) {
                } else if looks_personal(name) {
                    problems.push(at("sms.personal-placeholder", "text", format!("`{{{name}}}` would put personal data in the message; only {{url}} and {{title}} are allowed")));
                } else {
                    problems.push(at("sms.unknown-placeholder", "text", format!("unknown placeholder `{{{name}}}`; only {{url}} and {{title}} are allowed")));
                }
            }
            if !has_url {
                problems.push(at(
                    "sms.missing-url",
                    "text",
                    "the text must contain {url}".into(),
                ));
            }
            let url = match &target {
                Some(Target::Url(u)) => u.as_str(),
                _ => NOMINAL_URL,
            };
            let length = gsm::measure(&fill(&t.text, url, NOMINAL_TITLE));
            if length.segments > max_segments {
                problems.push(at(
                    "sms.too-long",
                    "text",
                    format!(
                        "the message takes {} segments, more than max_segments ({max_segments})",
                        length.segments
                    ),
                ));
            }
            if length.encoding == Encoding::Ucs2 {
                warnings.push(at("sms.ucs2", "text", format!("{} is not in the GSM-7 alphabet, so the message is sent as UCS-2 (70 characters a segment)", quote_chars(&length.non_gsm))));
            }
            if let Some(target) = target {
                templates.push(Template {
                    id: t.id,
                    target,
                    text: t.text,
                });
            }
        }
        for kind in LINK_KINDS {
            if !templates
                .iter()
                .any(|t| matches!(&t.target, Target::Kind(k) if k == kind))
            {
                warnings.push(top(
                    "sms.no-template",
                    "templates",
                    format!("no template for `{kind}` links: they cannot be sent by SMS"),
                ));
            }
        }

        let provider = match raw.provider {
            None => ProviderSettings {
                kind: ProviderKind::File,
                url: None,
                token: None,
                timeout: Duration::from_secs(10),
            },
            Some(p) => {
                let token = match (p.token_env, p.token_file) {
                    (Some(e), None) => Some(SecretSource::Env(e)),
                    (None, Some(f)) => Some(SecretSource::File(f)),
                    (None, None) => None,
                    (Some(_), Some(_)) => {
                        problems.push(top(
                            "sms.token",
                            "provider",
                            "give either token_env or token_file, not both".into(),
                        ));
                        None
                    }
                };
                match p.kind {
                    ProviderKind::File => {}
                    ProviderKind::Gatewayapi | ProviderKind::Webhook => {
                        match &p.url {
                            Some(u) if u.starts_with("https://") || u.starts_with("http://") => {}
                            _ => problems.push(top(
                                "sms.provider-url",
                                "provider",
                                "this provider needs a `url` starting with https://".into(),
                            )),
                        }
                        if p.kind == ProviderKind::Gatewayapi && token.is_none() {
                            problems.push(top(
                                "sms.token",
                                "provider",
                                "the gatewayapi provider needs token_env or token_file".into(),
                            ));
                        }
                    }
                }
                ProviderSettings {
                    kind: p.kind,
                    url: p.url,
                    token,
                    timeout: Duration::from_millis(p.timeout_ms.unwrap_or(10_000)),
                }
            }
        };

        let defaults = OutboxSettings::default();
        let outbox = match raw.outbox {
            None => defaults,
            Some(o) => OutboxSettings {
                per_number_per_day: o.per_number_per_day.unwrap_or(defaults.per_number_per_day),
                max_attempts: o.max_attempts.unwrap_or(defaults.max_attempts).max(1),
                backoff_base: o
                    .backoff_base_ms
                    .map_or(defaults.backoff_base, Duration::from_millis),
                backoff_max: o
                    .backoff_max_ms
                    .map_or(defaults.backoff_max, Duration::from_millis),
                concurrency: o.concurrency.unwrap_or(defaults.concurrency).clamp(1, 64),
            },
        };
        let callback_secret = match raw.callback {
            None => None,
            Some(RawCallback {
                secret_env: Some(e),
                secret_file: None,
            }) => Some(SecretSource::Env(e)),
            Some(RawCallback {
                secret_env: None,
                secret_file: Some(f),
            }) => Some(SecretSource::File(f)),
            Some(_) => {
                problems.push(top(
                    "sms.callback-secret",
                    "callback",
                    "give exactly one of secret_env or secret_file".into(),
                ));
                None
            }
        };

        if problems.is_empty() {
            Ok(Validated {
                config: SmsConfig {
                    sender,
                    max_segments,
                    provider,
                    outbox,
                    callback_secret,
                    templates,
                },
                warnings,
            })
        } else {
            Err(problems)
        }
    }

    /// The message for `link`: the template for its URL if there is one,
    /// else the one for its kind; `None` when neither exists.
    pub fn render(&self, link: LinkRef<'_>) -> Option<Rendered> {
        let template = self
            .templates
            .iter()
            .find(|t| matches!(&t.target, Target::Url(u) if u == link.url))
            .or_else(|| {
                self.templates
                    .iter()
                    .find(|t| matches!(&t.target, Target::Kind(k) if k == link.kind))
            })?;
        let text = fill(&template.text, link.url, link.title);
        Some(Rendered {
            template_id: template.id.clone(),
            length: gsm::measure(&text),
            text,
        })
    }
}

fn looks_personal(name: &str) -> bool {
    let lower = name.to_lowercase();
    PERSONAL_WORDS.iter().any(|w| lower.contains(w))
}

fn quote_chars(chars: &[char]) -> String {
    chars
        .iter()
        .map(|c| format!("`{c}` (U+{:04X})", u32::from(*c)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `{name}`s in a text.
fn placeholders(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                out.push(after[..close].trim());
                rest = &after[close + 1..];
            }
            None => break,
        }
    }
    out
}

/// Fills in the link. A title is written for the web and may hold
/// typographic marks outside GSM-7 (– ’ “ …) that would make the whole
/// SMS UCS-2 and more than double its length; they become their plain
/// equivalents here. The staff-written text is left as it is (its UCS-2
/// characters are warned about at load time).
fn fill(text: &str, url: &str, title: &str) -> String {
    let mut plain = String::with_capacity(title.len());
    for c in title.chars() {
        match c {
            '–' | '—' | '‐' | '‑' => plain.push('-'),
            '‘' | '’' | '‚' | '´' => plain.push('\''),
            '“' | '”' | '„' | '«' | '»' => plain.push('"'),
            '…' => plain.push_str("..."),
            '\u{a0}' => plain.push(' '),
            c => plain.push(c),
        }
    }
    text.replace("{url}", url).replace("{title}", &plain)
}

/// Replaces `{name}` with the settings value; the unknown name on failure.
fn resolve(text: &str, settings: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = text.to_string();
    for name in placeholders(text) {
        let value = settings.get(name).ok_or_else(|| name.to_string())?;
        out = out.replace(&format!("{{{name}}}"), value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> RawSmsFile {
        RawSmsFile {
            version: 1,
            sender: "Eksempel".into(),
            max_segments: None,
            templates: vec![
                RawTemplate {
                    id: "video".into(),
                    kind: Some("video".into()),
                    url: None,
                    text: text.into(),
                },
                RawTemplate {
                    id: "pas".into(),
                    kind: None,
                    url: Some("{video_url}/pas".into()),
                    text: "Pas: {url}".into(),
                },
            ],
            provider: None,
            outbox: None,
            callback: None,
        }
    }

    fn settings() -> BTreeMap<String, String> {
        BTreeMap::from([(
            "video_url".to_string(),
            "https://video.eksempel.dk".to_string(),
        )])
    }

    fn codes(r: Result<Validated, Vec<ConfigProblem>>) -> Vec<&'static str> {
        match r {
            Ok(v) => v.warnings.iter().map(|w| w.code).collect(),
            Err(p) => p.iter().map(|p| p.code).collect(),
        }
    }

    #[test]
    fn renders_by_url_then_kind() {
        let v = SmsConfig::validate(raw("Se videoen «{title}»: {url}"), &settings()).unwrap();
        let c = v.config;
        let r = c
            .render(LinkRef {
                kind: "video",
                url: "https://video.eksempel.dk/pas",
                title: "x",
            })
            .unwrap();
        assert_eq!(r.text, "Pas: https://video.eksempel.dk/pas");
        let r = c
            .render(LinkRef {
                kind: "video",
                url: "https://v.dk/a",
                title: "Affald",
            })
            .unwrap();
        assert_eq!(r.template_id, "video");
        assert!(c
            .render(LinkRef {
                kind: "info",
                url: "https://v.dk/a",
                title: "x"
            })
            .is_none());
        assert!(v
            .warnings
            .iter()
            .any(|w| w.code == "sms.ucs2" && w.message.contains("«")));
    }

    #[test]
    fn missing_url_and_personal_placeholders_are_errors() {
        assert_eq!(
            codes(SmsConfig::validate(raw("Hej"), &settings())),
            vec!["sms.missing-url"]
        );
        assert_eq!(
            codes(SmsConfig::validate(raw("Hej {navn}: {url}"), &settings())),
            vec!["sms.personal-placeholder"]
        );
        assert_eq!(
            codes(SmsConfig::validate(
                raw("Hej {cpr_nummer} {url}"),
                &settings()
            )),
            vec!["sms.personal-placeholder"]
        );
        assert_eq!(
            codes(SmsConfig::validate(raw("Hej {foo} {url}"), &settings())),
            vec!["sms.unknown-placeholder"]
        );
    }

    #[test]
    fn too_long_is_an_error() {
        let long = format!("{} {{url}}", "a".repeat(400));
        assert_eq!(
            codes(SmsConfig::validate(raw(&long), &settings())),
            vec!["sms.too-long"]
        );
    }

    #[test]
    fn unknown_setting_in_url_is_an_error() {
        let mut r = raw("{url}");
        r.templates[1].url = Some("{nope}/x".into());
        assert_eq!(
            codes(SmsConfig::validate(r, &settings())),
            vec!["sms.unknown-setting"]
        );
    }
}
