//! The validated knowledge: topics, municipality settings and answers.

use std::collections::BTreeMap;

/// A department of the municipality (a transfer target) or an outside
/// authority (informed about, never transferred to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub id: String,
    pub name: String,
    pub is_department: bool,
}

/// One topic of the topic contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    pub id: String,
    pub owner: String,
    pub label: String,
}

/// The topic contract (`topics.yaml`).
#[derive(Debug, Clone, Default)]
pub struct Taxonomy {
    pub units: Vec<Unit>,
    pub topics: Vec<Topic>,
}

/// The special topic for utterances no answer covers.
pub const TOPIC_NONE: &str = "none";
/// The special topic for a request to talk to a person.
pub const TOPIC_HUMAN: &str = "menneske";
/// The special topic for emergencies (call 112).
pub const TOPIC_EMERGENCY: &str = "noedsituation";

impl Taxonomy {
    pub fn topic(&self, id: &str) -> Option<&Topic> {
        self.topics.iter().find(|t| t.id == id)
    }

    pub fn department(&self, id: &str) -> Option<&Unit> {
        self.units.iter().find(|u| u.id == id && u.is_department)
    }
}

/// A value from the municipality settings, in its written and spoken form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingValue {
    pub chat: String,
    pub spoken: String,
}

/// The municipality settings: what varies from one municipality to the next.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub municipality_id: String,
    pub municipality_name: String,
    pub values: BTreeMap<String, SettingValue>,
}

/// What a link leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// A digital self-service page.
    SelfService,
    /// A step-by-step video guide.
    Video,
    /// An information page.
    Info,
}

impl LinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::SelfService => "selvbetjening",
            LinkKind::Video => "video",
            LinkKind::Info => "info",
        }
    }
}

/// A link an answer can show in chat or send by SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub kind: LinkKind,
    pub title: String,
    pub url: String,
}

/// One answer, with the municipality's values filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub id: String,
    pub topic: String,
    pub title: String,
    pub questions: Vec<String>,
    pub keywords: Vec<String>,
    /// The text shown in chat.
    pub chat: String,
    /// The shorter text said on the phone.
    pub spoken: String,
    pub links: Vec<Link>,
    /// The department a caller can be transferred to.
    pub department: Option<String>,
}
