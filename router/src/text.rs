//! Prompt templates with `{name}` variables, and Danish words for the
//! numbers, times and dates the bot says aloud.
//!
//! A prompt is written once; each variable has a written form (chat) and a
//! spoken form (phone), so one template yields both. The number words are
//! written here because text-to-speech reads "kl. 9.30" unreliably and the
//! answers' rule is that spoken text holds no digits; no maintained crate
//! spells Danish clock times and ordinals.

use jiff::civil::{Date, Time, Weekday};
use knowledge::Settings;

/// A text in its written (chat) and spoken (phone) form.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text {
    pub chat: String,
    pub spoken: String,
}

impl Text {
    /// The same text for both channels.
    pub fn same(s: impl Into<String>) -> Text {
        let s = s.into();
        Text {
            chat: s.clone(),
            spoken: s,
        }
    }

    /// The form for `channel`.
    pub fn for_channel(&self, channel: knowledge::Channel) -> &str {
        match channel {
            knowledge::Channel::Voice => &self.spoken,
            knowledge::Channel::Chat => &self.chat,
        }
    }
}

/// The `{name}` variables used in `template`, in order.
pub fn variables(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        out.push(&after[..close]);
        rest = &after[close + 1..];
    }
    out
}

/// Fills `template` from `dynamic` values first, then the municipality
/// settings; an unknown name is left as written (validation reports it
/// before a flow is ever used).
pub fn render(template: &str, settings: &Settings, dynamic: &[(&str, &Text)]) -> Text {
    let mut chat = String::with_capacity(template.len());
    let mut spoken = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        chat.push_str(&rest[..open]);
        spoken.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            rest = &rest[open..];
            break;
        };
        let name = &after[..close];
        if let Some((_, v)) = dynamic.iter().find(|(n, _)| *n == name) {
            chat.push_str(&v.chat);
            spoken.push_str(&v.spoken);
        } else if let Some(v) = settings.values.get(name) {
            chat.push_str(&v.chat);
            spoken.push_str(&v.spoken);
        } else {
            chat.push_str(&rest[open..open + close + 2]);
            spoken.push_str(&rest[open..open + close + 2]);
        }
        rest = &after[close + 1..];
    }
    chat.push_str(rest);
    spoken.push_str(rest);
    Text { chat, spoken }
}

const UNITS: [&str; 20] = [
    "nul", "en", "to", "tre", "fire", "fem", "seks", "syv", "otte", "ni", "ti", "elleve", "tolv",
    "tretten", "fjorten", "femten", "seksten", "sytten", "atten", "nitten",
];
const TENS: [&str; 10] = [
    "",
    "",
    "tyve",
    "tredive",
    "fyrre",
    "halvtreds",
    "tres",
    "halvfjerds",
    "firs",
    "halvfems",
];

/// A number from 0 to 99 in Danish words ("enogtyve").
pub fn number_words(n: u8) -> String {
    match n {
        0..=19 => UNITS[usize::from(n)].to_string(),
        20..=99 => {
            let (t, u) = (usize::from(n / 10), usize::from(n % 10));
            if u == 0 {
                TENS[t].to_string()
            } else {
                format!("{}og{}", UNITS[u], TENS[t])
            }
        }
        _ => n.to_string(),
    }
}

fn ordinal_words(day: i8) -> String {
    const FIRST: [&str; 20] = [
        "",
        "første",
        "anden",
        "tredje",
        "fjerde",
        "femte",
        "sjette",
        "syvende",
        "ottende",
        "niende",
        "tiende",
        "ellevte",
        "tolvte",
        "trettende",
        "fjortende",
        "femtende",
        "sekstende",
        "syttende",
        "attende",
        "nittende",
    ];
    match day {
        1..=19 => FIRST[day as usize].to_string(),
        20 => "tyvende".into(),
        21..=29 => format!("{}ogtyvende", UNITS[(day - 20) as usize]),
        30 => "tredivte".into(),
        31 => "enogtredivte".into(),
        _ => day.to_string(),
    }
}

/// Danish name of a weekday, lower case.
pub fn weekday_name(w: Weekday) -> &'static str {
    match w {
        Weekday::Monday => "mandag",
        Weekday::Tuesday => "tirsdag",
        Weekday::Wednesday => "onsdag",
        Weekday::Thursday => "torsdag",
        Weekday::Friday => "fredag",
        Weekday::Saturday => "lørdag",
        Weekday::Sunday => "søndag",
    }
}

fn month_name(m: i8) -> &'static str {
    const MONTHS: [&str; 12] = [
        "januar",
        "februar",
        "marts",
        "april",
        "maj",
        "juni",
        "juli",
        "august",
        "september",
        "oktober",
        "november",
        "december",
    ];
    MONTHS
        .get(usize::try_from(m - 1).unwrap_or(0))
        .copied()
        .unwrap_or("")
}

/// A clock time: "kl. 9" / "kl. 9.30" written, "klokken ni" / "klokken
/// halv ti" / "klokken ni femten" spoken.
pub fn clock(t: Time) -> Text {
    let (h, m) = (t.hour() as u8, t.minute() as u8);
    let chat = if m == 0 {
        format!("kl. {h}")
    } else {
        format!("kl. {h}.{m:02}")
    };
    let hour = |h: u8| {
        if h == 1 {
            "et".to_string()
        } else {
            number_words(h)
        }
    };
    let spoken = match m {
        0 => format!("klokken {}", hour(h)),
        30 => format!("klokken halv {}", hour((h + 1) % 24)),
        _ => format!("klokken {} {}", hour(h), number_words(m)),
    };
    Text { chat, spoken }
}

/// When something happens, said from `today`'s point of view: "i dag kl.
/// 13", "i morgen kl. 9", "på mandag kl. 9", or beyond a week "mandag den
/// 28. december kl. 9".
pub fn when(today: Date, day: Date, time: Time) -> Text {
    let (chat_day, spoken_day) = day_phrase(today, day);
    let at = clock(time);
    Text {
        chat: format!("{chat_day} {}", at.chat),
        spoken: format!("{spoken_day} {}", at.spoken),
    }
}

/// A day said from `today`'s point of view, written and spoken: "i dag",
/// "i morgen", "på mandag", beyond a week "mandag den 28. december".
pub fn day_phrase(today: Date, day: Date) -> (String, String) {
    let days = (day - today).get_days();
    match days {
        0 => ("i dag".to_string(), "i dag".to_string()),
        1 => ("i morgen".to_string(), "i morgen".to_string()),
        2..=6 => {
            let w = weekday_name(day.weekday());
            (format!("på {w}"), format!("på {w}"))
        }
        _ => {
            let w = weekday_name(day.weekday());
            let month = month_name(day.month());
            (
                format!("{w} den {}. {month}", day.day()),
                format!("{w} den {} {month}", ordinal_words(day.day())),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::{date, time};

    #[test]
    fn numbers_and_clock_times_in_words() {
        assert_eq!(number_words(21), "enogtyve");
        assert_eq!(number_words(50), "halvtreds");
        assert_eq!(clock(time(9, 0, 0, 0)).spoken, "klokken ni");
        assert_eq!(clock(time(9, 30, 0, 0)).spoken, "klokken halv ti");
        assert_eq!(clock(time(9, 30, 0, 0)).chat, "kl. 9.30");
        assert_eq!(clock(time(13, 15, 0, 0)).spoken, "klokken tretten femten");
    }

    #[test]
    fn when_counts_days_from_today() {
        let today = date(2026, 4, 2);
        let nine = time(9, 0, 0, 0);
        assert_eq!(when(today, today, nine).chat, "i dag kl. 9");
        assert_eq!(when(today, date(2026, 4, 3), nine).chat, "i morgen kl. 9");
        assert_eq!(when(today, date(2026, 4, 7), nine).chat, "på tirsdag kl. 9");
        let far = when(today, date(2026, 4, 27), nine);
        assert_eq!(far.chat, "mandag den 27. april kl. 9");
        assert_eq!(far.spoken, "mandag den syvogtyvende april klokken ni");
    }

    #[test]
    fn render_fills_dynamic_then_settings_values() {
        let mut settings = Settings::default();
        settings.values.insert(
            "kommune".into(),
            knowledge::SettingValue {
                chat: "Eksempel Kommune".into(),
                spoken: "Eksempel Kommune".into(),
            },
        );
        let dept = Text {
            chat: "Jobcenter".into(),
            spoken: "Jobcentret".into(),
        };
        let t = render(
            "{afdeling} i {kommune} {ukendt}",
            &settings,
            &[("afdeling", &dept)],
        );
        assert_eq!(t.chat, "Jobcenter i Eksempel Kommune {ukendt}");
        assert_eq!(t.spoken, "Jobcentret i Eksempel Kommune {ukendt}");
        assert_eq!(variables("a {b} c {d}"), ["b", "d"]);
    }
}
