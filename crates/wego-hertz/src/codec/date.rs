//! The `Date` header value (RFC 9110 §5.6.7 IMF-fixdate), formatted once per
//! second.

use std::time::{SystemTime, UNIX_EPOCH};

const LEN: usize = 29;

/// A formatted `Date` value, refreshed when the second changes. The caller
/// supplies the time, so the codec stays clock-free.
#[derive(Debug, Clone)]
pub struct DateCache {
    second: u64,
    text: [u8; LEN],
}

impl Default for DateCache {
    fn default() -> Self {
        Self::new()
    }
}

impl DateCache {
    /// An empty cache; the first [`get`](Self::get) formats.
    pub const fn new() -> Self {
        Self {
            second: u64::MAX,
            text: [b' '; LEN],
        }
    }

    /// The value for `now`, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`; formats
    /// only when the second differs from the previous call's.
    pub fn get(&mut self, now: SystemTime) -> &[u8] {
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if second != self.second {
            self.format(second);
        }
        &self.text
    }

    fn format(&mut self, secs: u64) {
        const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
        const MONTHS: [&[u8; 3]; 12] = [
            b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
            b"Dec",
        ];
        // Dates past year 9999 do not fit IMF-fixdate; clamp.
        let secs = secs.min(253_402_300_799);
        let days = secs / 86_400;
        let rem = secs % 86_400;
        let (year, month, day) = civil_from_days(days);
        let t = &mut self.text;
        t[..3].copy_from_slice(DAYS[(days % 7) as usize]);
        t[3..5].copy_from_slice(b", ");
        two(&mut t[5..7], day);
        t[7] = b' ';
        t[8..11].copy_from_slice(MONTHS[(month - 1) as usize]);
        t[11] = b' ';
        two(&mut t[12..14], year / 100);
        two(&mut t[14..16], year % 100);
        t[16] = b' ';
        two(&mut t[17..19], rem / 3600);
        t[19] = b':';
        two(&mut t[20..22], rem % 3600 / 60);
        t[22] = b':';
        two(&mut t[23..25], rem % 60);
        t[25..29].copy_from_slice(b" GMT");
        self.second = secs;
    }
}

fn two(dst: &mut [u8], n: u64) {
    dst[0] = b'0' + (n / 10 % 10) as u8;
    dst[1] = b'0' + (n % 10) as u8;
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31), after Howard
/// Hinnant's `civil_from_days`.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> String {
        let mut c = DateCache::default();
        String::from_utf8(c.get(UNIX_EPOCH + Duration::from_secs(secs)).to_vec()).unwrap()
    }

    #[test]
    fn formats_imf_fixdate() {
        assert_eq!(at(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(at(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(at(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(at(1_700_000_000), "Tue, 14 Nov 2023 22:13:20 GMT");
        assert_eq!(at(253_402_400_000), "Fri, 31 Dec 9999 23:59:59 GMT");
    }

    #[test]
    fn reformats_only_when_the_second_changes() {
        let mut c = DateCache::default();
        let t = UNIX_EPOCH + Duration::from_secs(100);
        let a = c.get(t).to_vec();
        assert_eq!(c.get(t + Duration::from_millis(900)), &a[..]);
        assert_ne!(c.get(t + Duration::from_secs(1)), &a[..]);
    }
}
