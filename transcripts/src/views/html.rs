//! HTML building blocks: escaping and the page frame.
//!
//! Pages are plain server-rendered HTML built with `format!`; every value
//! that comes from data or the request goes through [`esc`]. A template
//! engine would add a build step or a macro dialect for five small pages;
//! escaping by hand is one function and is tested below.

use std::fmt::Write;

use time::OffsetDateTime;

use crate::danish_time;
use crate::store::{Channel, Decision, OutcomeKind, Role, SessionUser, Speaker};

/// Escapes text for HTML element content and quoted attribute values.
pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Danish local time, to the minute.
pub(super) fn datetime(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    danish_time::local(t).format(f).unwrap_or_default()
}

/// The Danish date.
pub(super) fn date(t: OffsetDateTime) -> String {
    danish_time::local(t).date().to_string()
}

pub(super) fn channel_label(c: Channel) -> &'static str {
    match c {
        Channel::Voice => "Telefon",
        Channel::Chat => "Chat",
    }
}

pub(super) fn outcome_label(k: OutcomeKind) -> &'static str {
    match k {
        OutcomeKind::Answered => "Besvaret",
        OutcomeKind::SmsSent => "SMS sendt",
        OutcomeKind::Transferred => "Omstillet",
        OutcomeKind::HandedOver => "Overdraget til medarbejder",
        OutcomeKind::Emergency => "Nødsituation (112)",
        OutcomeKind::Abandoned => "Afbrudt",
    }
}

pub(super) fn speaker_label(s: Speaker) -> &'static str {
    match s {
        Speaker::Bot => "Bot",
        Speaker::Citizen => "Borger",
    }
}

pub(super) fn decision_label(d: Decision) -> &'static str {
    match d {
        Decision::Answer => "Svar",
        Decision::Confirm => "Bekræft",
        Decision::Handover => "Overdrag",
    }
}

pub(super) fn role_label(r: Role) -> &'static str {
    match r {
        Role::Analyst => "analytiker",
        Role::Editor => "redaktør",
        Role::Admin => "administrator",
    }
}

/// A whole page: `body` is already HTML.
pub(super) fn page(base: &str, title: &str, user: Option<&SessionUser>, body: &str) -> String {
    let mut nav = String::new();
    if let Some(u) = user {
        let _ = write!(
            nav,
            r#"<nav aria-label="Hovedmenu"><ul>
<li><a href="{base}/samtaler">Samtaler</a></li>
<li><a href="{base}/ikke-forstaaet">Ikke forstået</a></li>
<li><a href="{base}/noegletal">Nøgletal</a></li>
</ul>
<form method="post" action="{base}/logout" class="logout">
<input type="hidden" name="csrf" value="{csrf}">
<span>Logget ind som {name} ({role})</span> <button type="submit">Log ud</button>
</form></nav>"#,
            base = esc(base),
            csrf = esc(&u.csrf),
            name = esc(&u.name),
            role = role_label(u.role),
        );
    }
    format!(
        r#"<!doctype html>
<html lang="da">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} – Vejviser</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0 1.5rem 2rem; line-height: 1.4; color: #1a1a1a; }}
nav ul {{ list-style: none; padding: 0; display: flex; gap: 1.5rem; }}
nav {{ border-bottom: 1px solid #999; padding-bottom: .5rem; }}
.logout {{ display: inline; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border: 1px solid #999; padding: .25rem .5rem; text-align: left; vertical-align: top; }}
form.filter {{ display: flex; flex-wrap: wrap; gap: .75rem; align-items: end; }}
form.filter label {{ display: flex; flex-direction: column; font-size: .9rem; }}
.error {{ color: #a00000; font-weight: bold; }}
a:focus, button:focus, input:focus, select:focus {{ outline: 3px solid #1a5fb4; }}
</style>
</head>
<body>
<header>{nav}</header>
<main>
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"#,
        title = esc(title),
    )
}

/// A `<select>` with an empty "alle" choice first.
pub(super) fn select(name: &str, label: &str, options: &[(&str, &str)], current: &str) -> String {
    let mut s = format!(
        r#"<label>{label}<select name="{name}" id="{name}"><option value="">Alle</option>"#,
        label = esc(label),
        name = esc(name)
    );
    for (value, text) in options {
        let sel = if *value == current { " selected" } else { "" };
        let _ = write!(
            s,
            r#"<option value="{}"{sel}>{}</option>"#,
            esc(value),
            esc(text)
        );
    }
    s.push_str("</select></label>");
    s
}

/// A labelled `<input>`.
pub(super) fn input(kind: &str, name: &str, label: &str, value: &str) -> String {
    format!(
        r#"<label>{label}<input type="{kind}" name="{name}" id="{name}" value="{value}"></label>"#,
        label = esc(label),
        name = esc(name),
        value = esc(value),
    )
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>"a" & 'b'</script>"#),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
        assert_eq!(esc("æøå [CPR]"), "æøå [CPR]");
    }
}
