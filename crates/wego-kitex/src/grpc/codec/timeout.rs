//! The `grpc-timeout` header: at most 8 ASCII digits and a unit
//! (`H`ours, `M`inutes, `S`econds, `m`illis, `u`micros, `n`anos), per the
//! gRPC over HTTP/2 spec.

use std::time::Duration;

/// Why a `grpc-timeout` value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeoutError {
    /// Empty, or no digits before the unit.
    #[error("grpc-timeout has no value")]
    Empty,
    /// More than 8 digits.
    #[error("grpc-timeout value has more than 8 digits")]
    TooLong,
    /// A byte that is not an ASCII digit before the unit.
    #[error("grpc-timeout value is not a decimal number")]
    NotANumber,
    /// The last byte is not one of `HMSmun`.
    #[error("grpc-timeout has an unknown unit")]
    BadUnit,
}

/// Parses a `grpc-timeout` header value.
///
/// # Errors
///
/// [`TimeoutError`] for anything that is not 1 to 8 digits and a unit.
pub fn parse_timeout(raw: &[u8]) -> Result<Duration, TimeoutError> {
    let Some((&unit, digits)) = raw.split_last() else {
        return Err(TimeoutError::Empty);
    };
    if digits.is_empty() {
        return Err(TimeoutError::Empty);
    }
    if digits.len() > 8 {
        return Err(TimeoutError::TooLong);
    }
    let mut n: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(TimeoutError::NotANumber);
        }
        // 8 digits fit in u64 without overflow.
        n = n * 10 + u64::from(d - b'0');
    }
    Ok(match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return Err(TimeoutError::BadUnit),
    })
}

/// Formats a duration as a `grpc-timeout` value, choosing the finest unit
/// whose value fits in 8 digits (rounding up so that a deadline is never
/// shortened to zero). Durations over 99,999,999 hours are capped.
pub fn format_timeout(d: Duration) -> String {
    const MAX: u128 = 99_999_999;
    let nanos = d.as_nanos();
    let units: [(u128, char); 6] = [
        (1, 'n'),
        (1_000, 'u'),
        (1_000_000, 'm'),
        (1_000_000_000, 'S'),
        (60_000_000_000, 'M'),
        (3_600_000_000_000, 'H'),
    ];
    for (scale, unit) in units {
        let v = nanos.div_ceil(scale);
        if v <= MAX {
            return format!("{v}{unit}");
        }
    }
    format!("{MAX}H")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_timeout(b"1H"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_timeout(b"2M"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_timeout(b"3S"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_timeout(b"4m"), Ok(Duration::from_millis(4)));
        assert_eq!(parse_timeout(b"5u"), Ok(Duration::from_micros(5)));
        assert_eq!(
            parse_timeout(b"99999999n"),
            Ok(Duration::from_nanos(99_999_999))
        );
        assert_eq!(parse_timeout(b"0m"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_bad_timeout_strings() {
        assert_eq!(parse_timeout(b""), Err(TimeoutError::Empty));
        assert_eq!(parse_timeout(b"S"), Err(TimeoutError::Empty));
        assert_eq!(parse_timeout(b"123456789S"), Err(TimeoutError::TooLong));
        assert_eq!(parse_timeout(b"1.5S"), Err(TimeoutError::NotANumber));
        assert_eq!(parse_timeout(b"-1S"), Err(TimeoutError::NotANumber));
        assert_eq!(parse_timeout(b" 1S"), Err(TimeoutError::NotANumber));
        assert_eq!(parse_timeout(b"10s"), Err(TimeoutError::BadUnit));
        assert_eq!(parse_timeout(b"10"), Err(TimeoutError::BadUnit));
        assert_eq!(
            parse_timeout("1é".as_bytes()),
            Err(TimeoutError::NotANumber)
        );
    }

    #[test]
    fn formats_with_the_finest_fitting_unit() {
        assert_eq!(format_timeout(Duration::from_millis(25)), "25000000n");
        assert_eq!(format_timeout(Duration::from_millis(250)), "250000u");
        assert_eq!(format_timeout(Duration::from_secs(1)), "1000000u");
        assert_eq!(format_timeout(Duration::from_secs(3600)), "3600000m");
        assert_eq!(format_timeout(Duration::from_secs(200_000)), "200000S");
        assert_eq!(format_timeout(Duration::MAX), "99999999H");
    }

    proptest! {
        #[test]
        fn formatted_timeouts_parse_back_no_shorter(ns in 0u64..u64::MAX / 2) {
            let d = Duration::from_nanos(ns);
            let back = parse_timeout(format_timeout(d).as_bytes()).unwrap();
            prop_assert!(back >= d);
            // Rounding up costs at most one unit of the chosen scale: under 1/10^5 relative.
            prop_assert!(back - d <= d / 10_000 + Duration::from_nanos(1));
        }
    }
}
