//! Danish public holidays, computed per year.
//!
//! The Easter date is computed with the anonymous Gregorian algorithm
//! (Meeus/Jones/Butcher). It is a dozen lines of integer arithmetic that
//! never changes; a holiday crate would add a dependency and its own idea
//! of which days Danish municipalities close on, which staff must control.
//!
//! Store Bededag was abolished as a public holiday from 2024 (lov nr. 1 af
//! 2023) and counts only for earlier years. Grundlovsdag, juleaftensdag and
//! nytårsaftensdag are not public holidays; whether the municipality closes
//! on them is a closure setting in `flows/departments.yaml`.

use jiff::civil::Date;
use jiff::ToSpan;

/// A public holiday: its date and Danish name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holiday {
    pub date: Date,
    pub name: &'static str,
}

/// Easter Sunday of `year` (Gregorian calendar).
pub fn easter_sunday(year: i16) -> Date {
    let y = i32::from(year);
    let a = y % 19;
    let b = y / 100;
    let c = y % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    // Month is 3 or 4 and day 1..=31 by construction of the algorithm.
    Date::new(year, month as i8, day as i8).unwrap_or(Date::constant(2000, 4, 23))
}

/// The public holidays of `year`, in date order.
pub fn public_holidays(year: i16) -> Vec<Holiday> {
    let easter = easter_sunday(year);
    let rel = |days: i32, name: &'static str| Holiday {
        date: easter.checked_add(days.days()).unwrap_or(easter),
        name,
    };
    let fixed = |month: i8, day: i8, name: &'static str| Holiday {
        date: Date::new(year, month, day).unwrap_or(easter),
        name,
    };
    let mut out = vec![
        fixed(1, 1, "nytårsdag"),
        rel(-3, "skærtorsdag"),
        rel(-2, "langfredag"),
        rel(0, "påskedag"),
        rel(1, "2. påskedag"),
    ];
    if year < 2024 {
        out.push(rel(26, "store bededag"));
    }
    out.extend([
        rel(39, "Kristi himmelfartsdag"),
        rel(49, "pinsedag"),
        rel(50, "2. pinsedag"),
        fixed(12, 25, "juledag"),
        fixed(12, 26, "2. juledag"),
    ]);
    out
}

/// The public holiday on `date`, if it is one.
pub fn holiday_on(date: Date) -> Option<Holiday> {
    public_holidays(date.year())
        .into_iter()
        .find(|h| h.date == date)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn easter_matches_known_dates() {
        assert_eq!(easter_sunday(2019), date(2019, 4, 21));
        assert_eq!(easter_sunday(2023), date(2023, 4, 9));
        assert_eq!(easter_sunday(2024), date(2024, 3, 31));
        assert_eq!(easter_sunday(2025), date(2025, 4, 20));
        assert_eq!(easter_sunday(2026), date(2026, 4, 5));
        assert_eq!(easter_sunday(2027), date(2027, 3, 28));
        assert_eq!(easter_sunday(2038), date(2038, 4, 25));
    }

    #[test]
    fn holidays_of_2026() {
        let days: Vec<_> = public_holidays(2026)
            .iter()
            .map(|h| (h.date.to_string(), h.name))
            .collect();
        assert_eq!(
            days,
            [
                ("2026-01-01".to_string(), "nytårsdag"),
                ("2026-04-02".into(), "skærtorsdag"),
                ("2026-04-03".into(), "langfredag"),
                ("2026-04-05".into(), "påskedag"),
                ("2026-04-06".into(), "2. påskedag"),
                ("2026-05-14".into(), "Kristi himmelfartsdag"),
                ("2026-05-24".into(), "pinsedag"),
                ("2026-05-25".into(), "2. pinsedag"),
                ("2026-12-25".into(), "juledag"),
                ("2026-12-26".into(), "2. juledag"),
            ]
        );
    }

    #[test]
    fn store_bededag_only_before_2024() {
        assert_eq!(
            holiday_on(date(2023, 5, 5)).map(|h| h.name),
            Some("store bededag")
        );
        assert_eq!(holiday_on(date(2024, 4, 26)), None);
        assert_eq!(holiday_on(date(2025, 5, 16)), None);
        assert_eq!(public_holidays(2023).len(), 11);
        assert_eq!(public_holidays(2024).len(), 10);
    }

    #[test]
    fn easter_based_days_across_years() {
        assert_eq!(
            holiday_on(date(2025, 5, 29)).map(|h| h.name),
            Some("Kristi himmelfartsdag")
        );
        assert_eq!(
            holiday_on(date(2024, 5, 20)).map(|h| h.name),
            Some("2. pinsedag")
        );
        assert_eq!(
            holiday_on(date(2027, 3, 25)).map(|h| h.name),
            Some("skærtorsdag")
        );
        assert_eq!(holiday_on(date(2026, 6, 5)), None, "grundlovsdag");
        assert_eq!(holiday_on(date(2026, 12, 24)), None, "juleaftensdag");
    }
}
