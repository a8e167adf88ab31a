//! Dates written into mail: RFC 5322 §3.3 `Date:`/`Received:` stamps and the asctime form
//! of mbox `From ` lines, both in UTC. One implementation for the server, the delivery
//! path and the client, so no calendar code is repeated.

/// RFC 5322 §3.3 date-time in UTC, e.g. `Tue, 5 Mar 2024 09:04:05 +0000`.
pub fn rfc5322(unix_secs: u64) -> String {
    let (weekday, y, month, d, hh, mm, ss) = parts(unix_secs as i64);
    format!("{weekday}, {d} {month} {y} {hh:02}:{mm:02}:{ss:02} +0000")
}

/// The asctime form used by mbox `From ` lines, e.g. `Tue Mar  5 09:04:05 2024`.
pub fn asctime(unix_secs: i64) -> String {
    let (weekday, y, month, d, hh, mm, ss) = parts(unix_secs);
    format!("{weekday} {month} {d:2} {hh:02}:{mm:02}:{ss:02} {y}")
}

/// Seconds since the Unix epoch now (0 if the clock is before 1970).
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

type Parts = (&'static str, i64, &'static str, u32, i64, i64, i64);

fn parts(secs: i64) -> Parts {
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let weekday = WEEKDAYS[days.rem_euclid(7) as usize];
    let month = MONTHS[(m as usize).clamp(1, 12) - 1];
    (weekday, y, month, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(rfc5322(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(rfc5322(1_709_629_445), "Tue, 5 Mar 2024 09:04:05 +0000");
        assert_eq!(asctime(1_709_629_445), "Tue Mar  5 09:04:05 2024");
        assert_eq!(asctime(0), "Thu Jan  1 00:00:00 1970");
        assert_eq!(civil_from_days(20_000), (2024, 10, 4));
    }
}
