//! The departments directory (`flows/departments.yaml`): where a call can
//! be transferred, and when each department answers the phone.
//!
//! Read in three steps like every staff file: [`DepartmentsFile`] mirrors
//! the YAML, [`Directory::validate`] resolves it into typed hours and
//! dates with located problems, and [`Directory::phone_status`] answers
//! "open now, or when next?" for a moment in Europe/Copenhagen time.

use std::collections::BTreeMap;
use std::path::Path;

use jiff::civil::{Date, Time, Weekday};
use jiff::{ToSpan, Zoned};
use knowledge::{Problem, Settings, Taxonomy};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::holidays;
use crate::locate::Locator;
use crate::text::{self, Text};

/// `flows/departments.yaml` as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentsFile {
    /// Format version; always 1.
    pub version: u32,
    /// Days on which every department is closed, besides public holidays.
    #[serde(default)]
    pub closures: ClosuresFile,
    pub departments: Vec<DepartmentFile>,
}

/// Closure days for the whole municipality.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosuresFile {
    /// Closed on Grundlovsdag (5 June).
    #[serde(default)]
    pub grundlovsdag: bool,
    /// Closed on juleaftensdag (24 December).
    #[serde(default)]
    pub juleaftensdag: bool,
    /// Closed on nytårsaftensdag (31 December).
    #[serde(default)]
    pub nytaarsaftensdag: bool,
    /// Further closure dates, `YYYY-MM-DD`.
    #[serde(default)]
    pub dates: Vec<String>,
}

/// One department as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentFile {
    /// A department id from `knowledge/topics.yaml`.
    pub id: String,
    /// The name the bot says ("Borgerservice").
    pub name: String,
    /// Where calls are transferred: `sip:` or `sips:` URI.
    pub sip: String,
    /// The public phone number; may be a `{name}` from the settings.
    pub phone: String,
    /// Opening hours for personal attendance, per weekday ("10:00-15:00").
    #[serde(default)]
    pub opening_hours: WeekFile,
    /// Telephone hours per weekday; a transfer rings out only within them.
    pub phone_hours: WeekFile,
    /// Extra days this department is closed, `YYYY-MM-DD`.
    #[serde(default)]
    pub closed_on: Vec<String>,
    /// Words citizens use for the department.
    #[serde(default)]
    pub synonyms: Vec<String>,
}

/// Hours per weekday, e.g. `"09:00-15:00"`; a missing day is closed.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WeekFile {
    pub monday: Option<String>,
    pub tuesday: Option<String>,
    pub wednesday: Option<String>,
    pub thursday: Option<String>,
    pub friday: Option<String>,
    pub saturday: Option<String>,
    pub sunday: Option<String>,
}

/// Hours of one week: an interval per weekday, Monday first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Week(pub [Option<(Time, Time)>; 7]);

impl Week {
    /// The interval of `day`, if open that weekday.
    pub fn on(&self, day: Weekday) -> Option<(Time, Time)> {
        self.0[day.to_monday_zero_offset() as usize]
    }
}

/// A validated department.
#[derive(Debug, Clone)]
pub struct Department {
    pub id: String,
    pub name: String,
    pub sip_uri: String,
    pub phone: Text,
    pub opening_hours: Week,
    pub phone_hours: Week,
    pub closed_on: Vec<Date>,
    pub synonyms: Vec<String>,
}

/// Whether a department answers the phone at a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneStatus {
    pub open_now: bool,
    /// When it next opens, said from today's point of view (`None` when
    /// open now, or when it opens in none of the next 30 days).
    pub opens: Option<Text>,
    /// Why it is closed today, when today is a holiday or closure day.
    pub closed_because: Option<String>,
}

/// The validated directory.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    departments: BTreeMap<String, Department>,
    grundlovsdag: bool,
    juleaftensdag: bool,
    nytaarsaftensdag: bool,
    closure_dates: Vec<Date>,
}

/// How far ahead [`Directory::phone_status`] looks for the next opening.
const LOOKAHEAD_DAYS: i32 = 30;

impl Directory {
    pub fn get(&self, id: &str) -> Option<&Department> {
        self.departments.get(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Department> {
        self.departments.values()
    }

    /// Validates the parsed file against the topic contract and settings;
    /// every problem is located in `text` (the file as read).
    pub fn validate(
        file: DepartmentsFile,
        path: &Path,
        text: &str,
        taxonomy: &Taxonomy,
        settings: &Settings,
    ) -> Result<Directory, Vec<Problem>> {
        let loc = Locator::new(path, text);
        let mut problems = Vec::new();
        if file.version != 1 {
            problems.push(loc.at(
                loc.top("version"),
                "version",
                format!("version {} is not known; write `version: 1`", file.version),
            ));
        }
        let mut dir = Directory {
            grundlovsdag: file.closures.grundlovsdag,
            juleaftensdag: file.closures.juleaftensdag,
            nytaarsaftensdag: file.closures.nytaarsaftensdag,
            ..Directory::default()
        };
        for d in &file.closures.dates {
            match d.parse::<Date>() {
                Ok(date) => dir.closure_dates.push(date),
                Err(_) => problems.push(loc.at(
                    loc.find_from(loc.nested("closures", "dates"), d),
                    "bad-date",
                    format!("`{d}` is not a date; write it as YYYY-MM-DD"),
                )),
            }
        }
        for (i, d) in file.departments.into_iter().enumerate() {
            let at = |key: &str| loc.item("departments", i, key);
            if taxonomy.department(&d.id).is_none() {
                problems.push(loc.at(
                    at("id"),
                    "unknown-department",
                    format!(
                        "department `{}` is not a department in knowledge/topics.yaml",
                        d.id
                    ),
                ));
            }
            if dir.departments.contains_key(&d.id) {
                problems.push(loc.at(
                    at("id"),
                    "duplicate-department",
                    format!("department `{}` is listed twice", d.id),
                ));
            }
            if !(d.sip.starts_with("sip:") || d.sip.starts_with("sips:")) || d.sip.len() < 6 {
                problems.push(loc.at(
                    at("sip"),
                    "bad-sip-uri",
                    format!(
                        "`{}` is not a SIP address; write e.g. sip:borgerservice@pbx.kommune.dk",
                        d.sip
                    ),
                ));
            }
            for name in text::variables(&d.phone) {
                if !settings.values.contains_key(name) {
                    problems.push(loc.at(
                        at("phone"),
                        "unknown-variable",
                        format!("`{{{name}}}` is not a value in the municipality settings"),
                    ));
                }
            }
            let mut week = |w: &WeekFile, key: &str| {
                parse_week(w).unwrap_or_else(|(day, value)| {
                    problems.push(loc.at(
                        loc.find_from(at(key), &value),
                        "bad-hours",
                        format!(
                            "{day}: `{value}` is not an interval of hours; write e.g. \"09:00-15:00\""
                        ),
                    ));
                    Week::default()
                })
            };
            let opening_hours = week(&d.opening_hours, "opening_hours");
            let phone_hours = week(&d.phone_hours, "phone_hours");
            let mut closed_on = Vec::new();
            for s in &d.closed_on {
                match s.parse::<Date>() {
                    Ok(date) => closed_on.push(date),
                    Err(_) => problems.push(loc.at(
                        loc.find_from(at("closed_on"), s),
                        "bad-date",
                        format!("`{s}` is not a date; write it as YYYY-MM-DD"),
                    )),
                }
            }
            for syn in &d.synonyms {
                let key = syn.to_lowercase();
                if let Some(other) = dir
                    .departments
                    .values()
                    .find(|o| o.synonyms.iter().any(|x| x.to_lowercase() == key))
                {
                    problems.push(loc.at(
                        loc.find_from(at("synonyms"), syn),
                        "duplicate-synonym",
                        format!(
                            "`{syn}` is already a synonym of `{}`; a caller asking for it could not be put through",
                            other.id
                        ),
                    ));
                }
            }
            let phone = text::render(&d.phone, settings, &[]);
            dir.departments.insert(
                d.id.clone(),
                Department {
                    id: d.id,
                    name: d.name,
                    sip_uri: d.sip,
                    phone,
                    opening_hours,
                    phone_hours,
                    closed_on,
                    synonyms: d.synonyms,
                },
            );
        }
        if problems.is_empty() {
            Ok(dir)
        } else {
            Err(problems)
        }
    }

    /// Why `dept` is closed all day on `date` (a holiday or closure day).
    pub fn closed_because(&self, dept: &Department, date: Date) -> Option<String> {
        if let Some(h) = holidays::holiday_on(date) {
            return Some(h.name.to_string());
        }
        let (m, d) = (date.month(), date.day());
        if self.grundlovsdag && (m, d) == (6, 5) {
            return Some("grundlovsdag".into());
        }
        if self.juleaftensdag && (m, d) == (12, 24) {
            return Some("juleaftensdag".into());
        }
        if self.nytaarsaftensdag && (m, d) == (12, 31) {
            return Some("nytårsaftensdag".into());
        }
        if self.closure_dates.contains(&date) || dept.closed_on.contains(&date) {
            return Some("lukkedag".into());
        }
        None
    }

    /// Whether `dept` answers the phone at `now`, and if not, when next.
    pub fn phone_status(&self, dept: &Department, now: &Zoned) -> PhoneStatus {
        let today = now.date();
        let closed_because = self.closed_because(dept, today);
        let mut day = today;
        for offset in 0..LOOKAHEAD_DAYS {
            if offset > 0 {
                day = match day.checked_add(1.day()) {
                    Ok(d) => d,
                    Err(_) => break,
                };
            }
            if self.closed_because(dept, day).is_some() {
                continue;
            }
            let Some((start, end)) = dept.phone_hours.on(day.weekday()) else {
                continue;
            };
            if offset == 0 {
                let t = now.time();
                if t >= start && t < end {
                    return PhoneStatus {
                        open_now: true,
                        opens: None,
                        closed_because: None,
                    };
                }
                if t >= end {
                    continue;
                }
            }
            return PhoneStatus {
                open_now: false,
                opens: Some(text::when(today, day, start)),
                closed_because,
            };
        }
        PhoneStatus {
            open_now: false,
            opens: None,
            closed_because,
        }
    }
}

impl Directory {
    /// The next day `dept` answers the phone, with its phone hours: today
    /// if it has not opened yet, otherwise the first later day that is no
    /// holiday or closure day (within 30 days). `None` if there is none.
    pub fn next_phone_day(&self, dept: &Department, now: &Zoned) -> Option<(Date, Time, Time)> {
        let mut day = now.date();
        for offset in 0..LOOKAHEAD_DAYS {
            if offset > 0 {
                day = day.checked_add(1.day()).ok()?;
            }
            if self.closed_because(dept, day).is_some() {
                continue;
            }
            let Some((start, end)) = dept.phone_hours.on(day.weekday()) else {
                continue;
            };
            if offset == 0 && now.time() >= start {
                continue;
            }
            return Some((day, start, end));
        }
        None
    }
}

/// Parses each day's interval; the first bad one as (day, value).
fn parse_week(w: &WeekFile) -> Result<Week, (&'static str, String)> {
    let days = [
        ("monday", &w.monday),
        ("tuesday", &w.tuesday),
        ("wednesday", &w.wednesday),
        ("thursday", &w.thursday),
        ("friday", &w.friday),
        ("saturday", &w.saturday),
        ("sunday", &w.sunday),
    ];
    let mut week = Week::default();
    for (i, (name, value)) in days.into_iter().enumerate() {
        if let Some(v) = value {
            week.0[i] = Some(parse_interval(v).ok_or((name, v.clone()))?);
        }
    }
    Ok(week)
}

/// "09:00-15:00", "9-15", "9.30–17.30" → (start, end) with start < end.
fn parse_interval(s: &str) -> Option<(Time, Time)> {
    let (a, b) = s.split_once(['-', '–'])?;
    let (start, end) = (parse_time(a.trim())?, parse_time(b.trim())?);
    (start < end).then_some((start, end))
}

fn parse_time(s: &str) -> Option<Time> {
    let (h, m) = match s.split_once([':', '.']) {
        Some((h, m)) => (h.parse::<i8>().ok()?, m.parse::<i8>().ok()?),
        None => (s.parse::<i8>().ok()?, 0),
    };
    Time::new(h, m, 0, 0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::{date, time};
    use jiff::tz::TimeZone;

    fn dept() -> Department {
        let nine_to_three = Some((time(9, 0, 0, 0), time(15, 0, 0, 0)));
        Department {
            id: "borgerservice".into(),
            name: "Borgerservice".into(),
            sip_uri: "sip:bs@pbx".into(),
            phone: Text::same("70 10 20 31"),
            opening_hours: Week::default(),
            phone_hours: Week([
                nine_to_three,
                nine_to_three,
                nine_to_three,
                nine_to_three,
                Some((time(9, 0, 0, 0), time(13, 0, 0, 0))),
                None,
                None,
            ]),
            closed_on: vec![],
            synonyms: vec![],
        }
    }

    fn at(y: i16, m: i8, d: i8, h: i8, min: i8) -> Zoned {
        date(y, m, d)
            .at(h, min, 0, 0)
            .to_zoned(TimeZone::get("Europe/Copenhagen").expect("bundled tz"))
            .expect("valid")
    }

    #[test]
    fn intervals_in_everyday_spellings() {
        assert_eq!(
            parse_interval("9-15"),
            Some((time(9, 0, 0, 0), time(15, 0, 0, 0)))
        );
        assert_eq!(
            parse_interval("09.30 – 17.30"),
            Some((time(9, 30, 0, 0), time(17, 30, 0, 0)))
        );
        assert_eq!(parse_interval("15-9"), None);
        assert_eq!(parse_interval("hele dagen"), None);
    }

    #[test]
    fn open_within_phone_hours_closed_outside() {
        let dir = Directory::default();
        let d = dept();
        assert!(dir.phone_status(&d, &at(2026, 3, 10, 10, 0)).open_now);
        let evening = dir.phone_status(&d, &at(2026, 3, 10, 18, 0));
        assert!(!evening.open_now);
        assert_eq!(
            evening.opens.map(|t| t.chat).as_deref(),
            Some("i morgen kl. 9")
        );
        let friday = dir.phone_status(&d, &at(2026, 3, 13, 14, 0));
        assert_eq!(
            friday.opens.map(|t| t.chat).as_deref(),
            Some("på mandag kl. 9")
        );
    }

    #[test]
    fn closed_over_easter_until_tuesday() {
        let dir = Directory::default();
        // Skærtorsdag 2026: closed through 2. påskedag, opens Tuesday 7 April.
        let s = dir.phone_status(&dept(), &at(2026, 4, 2, 10, 0));
        assert!(!s.open_now);
        assert_eq!(s.closed_because.as_deref(), Some("skærtorsdag"));
        assert_eq!(s.opens.map(|t| t.chat).as_deref(), Some("på tirsdag kl. 9"));
    }

    #[test]
    fn christmas_eve_closure_is_configurable() {
        let d = dept();
        let christmas_eve = at(2026, 12, 24, 10, 0);
        assert!(
            Directory::default()
                .phone_status(&d, &christmas_eve)
                .open_now
        );
        let dir = Directory {
            juleaftensdag: true,
            ..Directory::default()
        };
        let s = dir.phone_status(&d, &christmas_eve);
        assert!(!s.open_now);
        // 25 and 26 are holidays, 27 December 2026 is a Sunday.
        assert_eq!(s.opens.map(|t| t.chat).as_deref(), Some("på mandag kl. 9"));
    }
}
