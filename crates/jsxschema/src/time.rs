//! Date and time strings to unix seconds (UTC), without a calendar library.
//!
//! Accepted: `YYYY-MM-DD` for dates; for date-times the same optionally followed by a `T` or a
//! space, `HH:MM`, optional `:SS`, optional fraction `.fff` (dropped), and an optional offset
//! `Z`, `+HH:MM`, `-HH:MM` or `+HHMM`. Without an offset the time is taken as UTC.

/// Days from 1970-01-01 to the given proleptic Gregorian date (negative before it).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    // Years counted from March, so that the leap day is the last day of the year.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Reads exactly `len` ASCII digits at the start of `text`.
fn digits(text: &str, len: usize) -> Option<(i64, &str)> {
    let head = text.get(..len)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head.parse().ok()?, &text[len..]))
}

/// `YYYY-MM-DD` at the start of `text`: (unix seconds of UTC midnight, rest of the text).
fn date_prefix(text: &str) -> Option<(i64, &str)> {
    let (year, rest) = digits(text, 4)?;
    let (month, rest) = digits(rest.strip_prefix('-')?, 2)?;
    let (day, rest) = digits(rest.strip_prefix('-')?, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    Some((days_from_civil(year, month, day) * 86_400, rest))
}

/// `YYYY-MM-DD` exactly, as unix seconds of UTC midnight.
pub(crate) fn parse_date(text: &str) -> Option<i64> {
    match date_prefix(text)? {
        (seconds, "") => Some(seconds),
        _ => None,
    }
}

/// `HH:MM[:SS[.fff]]` at the start of `text`: (seconds since midnight, rest).
fn time_prefix(text: &str) -> Option<(i64, &str)> {
    let (hour, rest) = digits(text, 2)?;
    let (minute, mut rest) = digits(rest.strip_prefix(':')?, 2)?;
    let mut second = 0;
    if let Some(after) = rest.strip_prefix(':') {
        (second, rest) = digits(after, 2)?;
        if let Some(fraction) = rest.strip_prefix('.') {
            let len = fraction.bytes().take_while(u8::is_ascii_digit).count();
            if len == 0 {
                return None;
            }
            rest = &fraction[len..];
        }
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    Some((hour * 3600 + minute * 60 + second, rest))
}

/// `Z`, `+HH:MM`, `-HH:MM`, `+HHMM` or nothing: the offset east of UTC in seconds.
fn offset(text: &str) -> Option<i64> {
    if text.is_empty() || text.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let (sign, rest) = match text.as_bytes()[0] {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (hours, rest) = digits(rest, 2)?;
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    let (minutes, rest) = digits(rest, 2)?;
    if !rest.is_empty() || hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

/// A date or date-time string (see the module docs) as unix seconds.
pub(crate) fn parse_datetime(text: &str) -> Option<i64> {
    let (day, rest) = date_prefix(text)?;
    if rest.is_empty() {
        return Some(day);
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (time, rest) = time_prefix(rest)?;
    Some(day + time - offset(rest)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2000-03-01"), Some(951_868_800));
        assert_eq!(parse_date("2020-02-29"), Some(1_582_934_400));
        assert_eq!(parse_date("1969-12-31"), Some(-86_400));
        assert_eq!(parse_date("2019-02-29"), None);
        assert_eq!(parse_date("2020-13-01"), None);
        assert_eq!(parse_date("2020-1-01"), None);
        assert_eq!(parse_date("2020-01-01x"), None);
    }

    #[test]
    fn datetimes() {
        assert_eq!(parse_datetime("2020-06-28 12:30"), Some(1_593_347_400));
        assert_eq!(parse_datetime("2020-06-28T12:30:15Z"), Some(1_593_347_415));
        assert_eq!(parse_datetime("2020-06-28T12:30:15.123+02:00"), Some(1_593_340_215));
        assert_eq!(parse_datetime("2020-06-28T12:30:15-0130"), Some(1_593_352_815));
        assert_eq!(parse_datetime("2020-06-28"), Some(1_593_302_400));
        assert_eq!(parse_datetime("2020-06-28 24:00"), None);
        assert_eq!(parse_datetime("2020-06-28 12:30:15."), None);
        assert_eq!(parse_datetime("2020-06-28 12:30 UTC"), None);
        assert_eq!(parse_datetime("2020-06-28 é"), None);
    }
}
