//! Calendar dates without a time zone: study dates are DICOM DA values, and RECIST
//! intervals (SD minimum duration, confirmation) are counted in whole days.

use std::fmt;

/// A proleptic Gregorian date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i32,
    month: u32,
    day: u32,
}

impl Date {
    /// Parses `YYYY-MM-DD` (the contract's form) or `YYYYMMDD` (DICOM DA); `None` for
    /// anything else or an impossible day.
    pub fn parse(s: &str) -> Option<Date> {
        let s = s.trim();
        let (y, m, d) = match s.len() {
            10 if s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-' => {
                (s.get(0..4)?, s.get(5..7)?, s.get(8..10)?)
            }
            8 => (s.get(0..4)?, s.get(4..6)?, s.get(6..8)?),
            _ => return None,
        };
        let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if !(all_digits(y) && all_digits(m) && all_digits(d)) {
            return None;
        }
        let date = Date {
            year: y.parse().ok()?,
            month: m.parse().ok()?,
            day: d.parse().ok()?,
        };
        (date.month >= 1 && date.month <= 12 && date.day >= 1 && date.day <= date.month_len())
            .then_some(date)
    }

    fn month_len(&self) -> u32 {
        let leap = (self.year % 4 == 0 && self.year % 100 != 0) || self.year % 400 == 0;
        match self.month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }

    /// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
    pub fn days(&self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms_and_rejects_impossible_days() {
        assert_eq!(Date::parse("2024-02-29"), Date::parse("20240229"));
        assert!(Date::parse("2023-02-29").is_none());
        assert!(Date::parse("2024-13-01").is_none());
        assert!(Date::parse("2024-1-01").is_none());
        assert!(Date::parse("not a date").is_none());
        assert!(Date::parse("").is_none());
        assert_eq!(Date::parse("20240105").unwrap().to_string(), "2024-01-05");
    }

    #[test]
    fn day_counts() {
        assert_eq!(Date::parse("1970-01-01").unwrap().days(), 0);
        assert_eq!(Date::parse("2000-03-01").unwrap().days(), 11_017);
        let a = Date::parse("2024-01-01").unwrap().days();
        let b = Date::parse("2025-01-01").unwrap().days();
        assert_eq!(b - a, 366);
    }
}
