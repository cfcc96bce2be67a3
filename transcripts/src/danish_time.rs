//! Danish local time: the days analysts filter by and the per-day figures
//! are days in Denmark, not UTC days.
//!
//! Written here rather than taken from a time-zone crate because only one
//! zone is needed and its rule is simple and fixed: CET (UTC+1), with summer
//! time (CEST, UTC+2) from 01:00 UTC on the last Sunday of March to 01:00
//! UTC on the last Sunday of October (EU rule since 1996). This avoids a
//! time-zone database at run time. Should the EU end clock changes, this is
//! the one place to change.

use time::{Date, Month, OffsetDateTime, Time, UtcOffset, Weekday};

const CET: UtcOffset = match UtcOffset::from_hms(1, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};
const CEST: UtcOffset = match UtcOffset::from_hms(2, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

fn last_sunday(year: i32, month: Month) -> Date {
    // The last day of the month, then back to a Sunday.
    let last_day = time::util::days_in_month(month, year);
    let mut d = Date::from_calendar_date(year, month, last_day).unwrap_or(Date::MIN);
    while d.weekday() != Weekday::Sunday {
        d = d.previous_day().unwrap_or(Date::MIN);
    }
    d
}

/// The Danish offset in force at instant `t`.
fn offset_at(t: OffsetDateTime) -> UtcOffset {
    let utc = t.to_offset(UtcOffset::UTC);
    let year = utc.year();
    let switch = |month| {
        last_sunday(year, month)
            .with_time(Time::from_hms(1, 0, 0).unwrap_or(Time::MIDNIGHT))
            .assume_utc()
    };
    if utc >= switch(Month::March) && utc < switch(Month::October) {
        CEST
    } else {
        CET
    }
}

/// `t` in Danish local time.
pub(crate) fn local(t: OffsetDateTime) -> OffsetDateTime {
    t.to_offset(offset_at(t))
}

/// The instant Danish day `d` begins. Midnight is never skipped or doubled:
/// the clocks change at 02:00/03:00 local time.
pub(crate) fn start_of_day(d: Date) -> OffsetDateTime {
    let winter = d.with_time(Time::MIDNIGHT).assume_offset(CET);
    if offset_at(winter) == CEST {
        d.with_time(Time::MIDNIGHT).assume_offset(CEST)
    } else {
        winter
    }
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;

    #[test]
    fn summer_time_follows_the_eu_rule() {
        assert_eq!(offset_at(datetime!(2026-03-29 00:59 UTC)), CET);
        assert_eq!(offset_at(datetime!(2026-03-29 01:00 UTC)), CEST);
        assert_eq!(offset_at(datetime!(2026-10-25 00:59 UTC)), CEST);
        assert_eq!(offset_at(datetime!(2026-10-25 01:00 UTC)), CET);
        assert_eq!(offset_at(datetime!(2027-01-15 12:00 UTC)), CET);
    }

    #[test]
    fn days_start_at_danish_midnight() {
        assert_eq!(
            start_of_day(date!(2026 - 07 - 02)),
            datetime!(2026-07-01 22:00 UTC)
        );
        assert_eq!(
            start_of_day(date!(2026 - 12 - 02)),
            datetime!(2026-12-01 23:00 UTC)
        );
        // The days the clocks change begin on the old offset.
        assert_eq!(
            start_of_day(date!(2026 - 03 - 29)),
            datetime!(2026-03-28 23:00 UTC)
        );
        assert_eq!(
            start_of_day(date!(2026 - 10 - 25)),
            datetime!(2026-10-24 22:00 UTC)
        );
        assert_eq!(
            local(datetime!(2026-07-01 22:30 UTC)).date(),
            date!(2026 - 07 - 02)
        );
    }
}
