//! Times as people write them in contract files: a duration from now (`30d`, `12h`, `2w`) or an
//! RFC 3339 date (`2026-01-31` or `2026-01-31T12:00:00Z`), and unix seconds shown back in RFC
//! 3339 (UTC). Written by hand to keep `tf` free of a calendar dependency; the civil-date
//! arithmetic is the usual days-from-civil conversion over the proleptic Gregorian calendar.

/// Seconds in an hour, a day and a week.
const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;
const WEEK: u64 = 7 * DAY;

const DURATION_HINT: &str = "write a number and a unit: h (hours), d (days) or w (weeks), e.g. `30d`";
const DATE_HINT: &str = "write a date such as `2026-01-31` (midnight UTC) or `2026-01-31T12:00:00Z`";

/// Reads a duration such as `30d`, `12h`, `2w` or `3 days` into seconds; the error says what to
/// write instead.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let input = text.trim();
    let split = input.find(|c: char| !c.is_ascii_digit()).unwrap_or(input.len());
    let (number, unit) = (&input[..split], input[split..].trim_start());
    if number.is_empty() {
        return Err(format!("`{text}` is not a duration; {DURATION_HINT}"));
    }
    let unit_seconds = match unit.to_ascii_lowercase().as_str() {
        "" => {
            return Err(format!(
                "`{text}` has no unit; write `{number}d` (days), `{number}h` (hours) or `{number}w` (weeks)"
            ))
        }
        "h" | "hour" | "hours" => HOUR,
        "d" | "day" | "days" => DAY,
        "w" | "week" | "weeks" => WEEK,
        "m" | "min" | "mins" | "minute" | "minutes" | "s" | "sec" | "second" | "seconds" => {
            return Err(format!("`{text}` is too short a unit for a contract; use h (hours), d (days) or w (weeks)"))
        }
        _ => return Err(format!("unknown unit `{unit}` in `{text}`; use h (hours), d (days) or w (weeks)")),
    };
    let too_long = || format!("`{text}` is too long; write a date instead, e.g. `2030-01-01`");
    let n: u64 = number.parse().map_err(|_| too_long())?;
    if n == 0 {
        return Err(format!("`{text}` would end the contract at once; {DURATION_HINT}, or remove `expires`"));
    }
    n.checked_mul(unit_seconds).ok_or_else(too_long)
}

/// Reads an RFC 3339 date-time (`2026-01-31T12:00:00Z`, `2026-01-31T14:00:00+02:00`, a space
/// instead of `T`, fractions of a second ignored) or a bare date (`2026-01-31`, midnight UTC)
/// into unix seconds.
pub fn parse_rfc3339(text: &str) -> Result<u64, String> {
    let input = text.trim();
    let bad = || format!("`{text}` is not a date; {DATE_HINT}");
    let b = input.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Result<i64, String> {
        let s = input.get(range).ok_or_else(bad)?;
        if s.bytes().all(|c| c.is_ascii_digit()) {
            Ok(s.parse().expect("digits"))
        } else {
            Err(bad())
        }
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    if !(1..=12).contains(&month) {
        return Err(format!("`{text}`: month {month} does not exist; {DATE_HINT}"));
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err(format!("`{text}`: {year}-{month:02} has no day {day}; {DATE_HINT}"));
    }
    let mut seconds = 0i64;
    let mut offset = 0i64;
    if b.len() > 10 {
        if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 19 || b[13] != b':' || b[16] != b':' {
            return Err(bad());
        }
        let (h, m, s) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
        if h > 23 || m > 59 || s > 59 {
            return Err(format!("`{text}`: {h:02}:{m:02}:{s:02} is not a time of day; {DATE_HINT}"));
        }
        seconds = h * 3600 + m * 60 + s;
        let mut rest = &input[19..];
        if let Some(frac) = rest.strip_prefix('.') {
            let end = frac.find(|c: char| !c.is_ascii_digit()).unwrap_or(frac.len());
            if end == 0 {
                return Err(bad());
            }
            rest = &frac[end..];
        }
        offset = match rest.as_bytes() {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] if [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()) => {
                let (oh, om) = (i64::from((h1 - b'0') * 10 + (h2 - b'0')), i64::from((m1 - b'0') * 10 + (m2 - b'0')));
                if oh > 23 || om > 59 {
                    return Err(bad());
                }
                let off = oh * 3600 + om * 60;
                if *sign == b'+' {
                    off
                } else {
                    -off
                }
            }
            [] => {
                return Err(format!(
                    "`{text}` has no time zone; add one, e.g. `{}Z` for UTC or `{}+02:00`",
                    &input[..19],
                    &input[..19]
                ))
            }
            _ => return Err(bad()),
        };
    }
    let unix = days_from_civil(year, month, day) * 86400 + seconds - offset;
    u64::try_from(unix).map_err(|_| format!("`{text}` is before 1970; {DATE_HINT}"))
}

/// Unix seconds as RFC 3339 in UTC, e.g. `2026-01-31T12:00:00Z`.
pub fn format_rfc3339(unix: u64) -> String {
    let days = (unix / 86400) as i64;
    let secs = unix % 86400;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

/// A span of seconds as people say it: `30 days`, `12 hours`, `2 weeks`, `1 day 6 hours`.
pub fn describe_duration(seconds: u64) -> String {
    let plural = |n: u64, unit: &str| if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") };
    let (days, hours, minutes) = (seconds / DAY, seconds % DAY / HOUR, seconds % HOUR / 60);
    match (days, hours) {
        (0, 0) => plural(minutes, "minute"),
        (0, h) => plural(h, "hour"),
        (d, 0) if d % 7 == 0 && d < 70 => plural(d / 7, "week"),
        (d, 0) => plural(d, "day"),
        (d, h) => format!("{} {}", plural(d, "day"), plural(h, "hour")),
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The date of a day count since 1970-01-01 (inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for (text, secs) in [
            ("30d", 30 * DAY),
            ("12h", 12 * HOUR),
            ("2w", 2 * WEEK),
            ("3 days", 3 * DAY),
            ("1 Hour", HOUR),
            (" 1W ", WEEK),
        ] {
            assert_eq!(parse_duration(text).unwrap(), secs, "{text}");
        }
        let msg = |t: &str| parse_duration(t).unwrap_err();
        assert_eq!(msg("30"), "`30` has no unit; write `30d` (days), `30h` (hours) or `30w` (weeks)");
        assert_eq!(
            msg("d"),
            "`d` is not a duration; write a number and a unit: h (hours), d (days) or w (weeks), e.g. `30d`"
        );
        assert!(msg("-3d").contains("is not a duration"));
        assert_eq!(msg("5y"), "unknown unit `y` in `5y`; use h (hours), d (days) or w (weeks)");
        assert_eq!(msg("90m"), "`90m` is too short a unit for a contract; use h (hours), d (days) or w (weeks)");
        assert!(msg("0d").contains("would end the contract at once"));
        assert_eq!(
            msg("99999999999999999999w"),
            "`99999999999999999999w` is too long; write a date instead, e.g. `2030-01-01`"
        );
        assert!(msg("9999999999999999w").contains("too long"));
    }

    #[test]
    fn dates() {
        for (text, unix) in [
            ("1970-01-01", 0),
            ("1970-01-01T00:00:00Z", 0),
            ("2000-03-01T00:00:00Z", 951868800),
            ("2024-02-29", 1709164800),
            ("2026-01-31T12:00:00Z", 1769860800),
            ("2026-01-31t12:00:00z", 1769860800),
            ("2026-01-31 12:00:00Z", 1769860800),
            ("2026-01-31T14:00:00+02:00", 1769860800),
            ("2026-01-31T07:30:00-04:30", 1769860800),
            ("2026-01-31T12:00:00.999Z", 1769860800),
            ("2100-12-31T23:59:59Z", 4133980799),
        ] {
            assert_eq!(parse_rfc3339(text).unwrap(), unix, "{text}");
        }
        let msg = |t: &str| parse_rfc3339(t).unwrap_err();
        assert_eq!(
            msg("next week"),
            "`next week` is not a date; write a date such as `2026-01-31` (midnight UTC) or `2026-01-31T12:00:00Z`"
        );
        assert!(msg("2026-13-01").starts_with("`2026-13-01`: month 13 does not exist"));
        assert!(msg("2025-02-29").starts_with("`2025-02-29`: 2025-02 has no day 29"));
        assert!(msg("2026-01-31T24:00:00Z").contains("24:00:00 is not a time of day"));
        assert_eq!(
            msg("2026-01-31T12:00:00"),
            "`2026-01-31T12:00:00` has no time zone; add one, e.g. `2026-01-31T12:00:00Z` for UTC or `2026-01-31T12:00:00+02:00`"
        );
        assert!(msg("2026-01-31T12:00:00+2").contains("is not a date"));
        assert!(msg("2026-01-31T12:00:00.Z").contains("is not a date"));
        assert!(msg("1969-12-31").contains("is before 1970"));
        assert!(msg("2026-1-31").contains("is not a date"));
        assert!(msg("2026-01-31X").contains("is not a date"));
        assert!(msg("2026-01-3é").contains("is not a date"));
    }

    #[test]
    fn formats_and_round_trips() {
        for unix in [0, 951868800, 1709164800, 1769860800, 4133980799, 253402300799] {
            assert_eq!(parse_rfc3339(&format_rfc3339(unix)).unwrap(), unix);
        }
        assert_eq!(format_rfc3339(1769860800), "2026-01-31T12:00:00Z");
        for (secs, text) in [
            (30 * DAY, "30 days"),
            (2 * WEEK, "2 weeks"),
            (DAY, "1 day"),
            (12 * HOUR, "12 hours"),
            (DAY + 6 * HOUR, "1 day 6 hours"),
            (600, "10 minutes"),
            (70 * DAY, "70 days"),
        ] {
            assert_eq!(describe_duration(secs), text);
        }
    }
}
