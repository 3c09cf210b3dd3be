//! Conditional requests (RFC 9110 §13): `If-Match`, `If-Unmodified-Since`,
//! `If-None-Match`, `If-Modified-Since` and `If-Range`, evaluated against a
//! representation's entity tag and modification time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::Method;
use http::header::{self, HeaderMap};

/// A representation's validators.
#[derive(Debug, Clone)]
pub(crate) struct Validators {
    /// The strong entity tag, quotes included (`"…"`).
    pub(crate) etag: String,
    /// The modification time, truncated to whole seconds (HTTP dates have
    /// no finer resolution).
    pub(crate) modified: Option<SystemTime>,
}

impl Validators {
    /// Validators of a file from its length and modification time: the tag
    /// changes whenever either does, as nginx's and Apache's do.
    pub(crate) fn for_file(len: u64, modified: Option<SystemTime>) -> Self {
        let since_epoch = modified.and_then(|m| m.duration_since(UNIX_EPOCH).ok());
        let etag = match since_epoch {
            Some(d) => format!("\"{:x}-{:x}-{:x}\"", len, d.as_secs(), d.subsec_nanos()),
            None => format!("\"{len:x}\""),
        };
        Self {
            etag,
            modified: since_epoch.map(|d| UNIX_EPOCH + Duration::from_secs(d.as_secs())),
        }
    }

    /// The `Last-Modified` value.
    pub(crate) fn last_modified(&self) -> Option<String> {
        self.modified.map(httpdate::fmt_http_date)
    }
}

/// What the preconditions say about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Answer normally.
    Proceed,
    /// 304 Not Modified (GET or HEAD whose cached copy is current).
    NotModified,
    /// 412 Precondition Failed.
    PreconditionFailed,
}

/// Evaluates the preconditions in the order of RFC 9110 §13.2.2.
pub(crate) fn evaluate(method: &Method, headers: &HeaderMap, v: &Validators) -> Outcome {
    let get_or_head = method == Method::GET || method == Method::HEAD;
    // 1-2: If-Match, else If-Unmodified-Since.
    if let Some(h) = headers.get(header::IF_MATCH) {
        if !matches_list(h.as_bytes(), &v.etag, Comparison::Strong) {
            return Outcome::PreconditionFailed;
        }
    } else if let Some(since) = date(headers, header::IF_UNMODIFIED_SINCE)
        && let Some(modified) = v.modified
        && modified > since
    {
        return Outcome::PreconditionFailed;
    }
    // 3-4: If-None-Match, else If-Modified-Since (GET and HEAD only).
    if let Some(h) = headers.get(header::IF_NONE_MATCH) {
        if matches_list(h.as_bytes(), &v.etag, Comparison::Weak) {
            return if get_or_head {
                Outcome::NotModified
            } else {
                Outcome::PreconditionFailed
            };
        }
    } else if get_or_head
        && let Some(since) = date(headers, header::IF_MODIFIED_SINCE)
        && let Some(modified) = v.modified
        && modified <= since
    {
        return Outcome::NotModified;
    }
    Outcome::Proceed
}

/// Whether a `Range` may be honoured: there is no `If-Range`, or it names
/// the current representation (a strong tag match, or exactly its
/// modification date).
pub(crate) fn if_range_holds(headers: &HeaderMap, v: &Validators) -> bool {
    let Some(h) = headers.get(header::IF_RANGE) else {
        return true;
    };
    let value = h.as_bytes();
    if value.starts_with(b"\"") || value.starts_with(b"W/") {
        return matches_list(value, &v.etag, Comparison::Strong);
    }
    match (
        std::str::from_utf8(value)
            .ok()
            .and_then(|s| httpdate::parse_http_date(s).ok()),
        v.modified,
    ) {
        (Some(date), Some(modified)) => date == modified,
        _ => false,
    }
}

fn date(headers: &HeaderMap, name: header::HeaderName) -> Option<SystemTime> {
    let value = headers.get(name)?.to_str().ok()?;
    httpdate::parse_http_date(value).ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    /// Both tags strong and equal (If-Match, If-Range).
    Strong,
    /// Equal opaque parts, weak or not (If-None-Match).
    Weak,
}

/// Whether a `*` or a comma-separated list of entity tags matches `etag`
/// (our strong tag, quotes included). A malformed list matches nothing.
fn matches_list(list: &[u8], etag: &str, cmp: Comparison) -> bool {
    let trimmed = list.trim_ascii();
    if trimmed == b"*" {
        return true;
    }
    let mut rest = trimmed;
    loop {
        rest = rest.trim_ascii_start();
        while let Some(r) = rest.strip_prefix(b",") {
            rest = r.trim_ascii_start();
        }
        if rest.is_empty() {
            return false;
        }
        let (weak, tagged) = match rest.strip_prefix(b"W/") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let Some(body) = tagged.strip_prefix(b"\"") else {
            return false;
        };
        let Some(end) = body.iter().position(|&b| b == b'"') else {
            return false;
        };
        // `etag` is `"opaque"`: compare the opaque parts.
        let opaque = &body[..end];
        let ours = etag.as_bytes();
        let same = ours.len() == opaque.len() + 2 && &ours[1..ours.len() - 1] == opaque;
        if same && (cmp == Comparison::Weak || !weak) {
            return true;
        }
        rest = &body[end + 1..];
        let next = rest.trim_ascii_start();
        if !(next.is_empty() || next.starts_with(b",")) {
            return false;
        }
        rest = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn v() -> Validators {
        Validators::for_file(10, Some(UNIX_EPOCH + Duration::new(1_700_000_000, 500)))
    }

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, val) in pairs {
            h.append(k.clone(), HeaderValue::from_str(val).unwrap());
        }
        h
    }

    #[test]
    fn etag_and_last_modified_follow_length_and_time() {
        let v = v();
        assert_eq!(v.etag, "\"a-6553f100-1f4\"");
        assert_eq!(
            v.last_modified().as_deref(),
            Some("Tue, 14 Nov 2023 22:13:20 GMT")
        );
        assert_ne!(Validators::for_file(11, v.modified).etag, v.etag);
    }

    #[test]
    fn if_none_match_answers_304_for_get_and_412_otherwise() {
        let v = v();
        let tag = v.etag.clone();
        for list in [
            tag.as_str(),
            "*",
            &format!("W/{tag}"),
            &format!("\"x\", {tag}"),
        ] {
            let h = headers(&[(header::IF_NONE_MATCH, list)]);
            assert_eq!(
                evaluate(&Method::GET, &h, &v),
                Outcome::NotModified,
                "{list}"
            );
            assert_eq!(
                evaluate(&Method::HEAD, &h, &v),
                Outcome::NotModified,
                "{list}"
            );
            assert_eq!(evaluate(&Method::POST, &h, &v), Outcome::PreconditionFailed);
        }
        for list in ["\"other\"", "", "garbage", "\"a-6553f100-1f4", ","] {
            let h = headers(&[(header::IF_NONE_MATCH, list)]);
            assert_eq!(evaluate(&Method::GET, &h, &v), Outcome::Proceed, "{list}");
        }
    }

    #[test]
    fn if_modified_since_compares_whole_seconds_and_yields_to_if_none_match() {
        let v = v();
        let same = v.last_modified().unwrap();
        let h = headers(&[(header::IF_MODIFIED_SINCE, &same)]);
        assert_eq!(evaluate(&Method::GET, &h, &v), Outcome::NotModified);
        let earlier = httpdate::fmt_http_date(v.modified.unwrap() - Duration::from_secs(1));
        let h = headers(&[(header::IF_MODIFIED_SINCE, &earlier)]);
        assert_eq!(evaluate(&Method::GET, &h, &v), Outcome::Proceed);
        // Ignored for other methods, and when If-None-Match is present.
        let h = headers(&[(header::IF_MODIFIED_SINCE, &same)]);
        assert_eq!(evaluate(&Method::POST, &h, &v), Outcome::Proceed);
        let h = headers(&[
            (header::IF_MODIFIED_SINCE, &same),
            (header::IF_NONE_MATCH, "\"x\""),
        ]);
        assert_eq!(evaluate(&Method::GET, &h, &v), Outcome::Proceed);
        // An invalid date is ignored.
        let h = headers(&[(header::IF_MODIFIED_SINCE, "yesterday")]);
        assert_eq!(evaluate(&Method::GET, &h, &v), Outcome::Proceed);
    }

    #[test]
    fn if_match_needs_a_strong_match() {
        let v = v();
        let h = headers(&[(header::IF_MATCH, &v.etag)]);
        assert_eq!(evaluate(&Method::PUT, &h, &v), Outcome::Proceed);
        let h = headers(&[(header::IF_MATCH, &format!("W/{}", v.etag))]);
        assert_eq!(evaluate(&Method::PUT, &h, &v), Outcome::PreconditionFailed);
        let h = headers(&[(header::IF_MATCH, "\"nope\"")]);
        assert_eq!(evaluate(&Method::GET, &h, &v), Outcome::PreconditionFailed);
        let earlier = httpdate::fmt_http_date(v.modified.unwrap() - Duration::from_secs(5));
        let h = headers(&[(header::IF_UNMODIFIED_SINCE, &earlier)]);
        assert_eq!(evaluate(&Method::GET, &h, &v), Outcome::PreconditionFailed);
    }

    #[test]
    fn if_range_holds_for_the_current_tag_or_date_only() {
        let v = v();
        assert!(if_range_holds(&HeaderMap::new(), &v));
        assert!(if_range_holds(&headers(&[(header::IF_RANGE, &v.etag)]), &v));
        assert!(!if_range_holds(
            &headers(&[(header::IF_RANGE, &format!("W/{}", v.etag))]),
            &v
        ));
        assert!(!if_range_holds(
            &headers(&[(header::IF_RANGE, "\"old\"")]),
            &v
        ));
        let date = v.last_modified().unwrap();
        assert!(if_range_holds(&headers(&[(header::IF_RANGE, &date)]), &v));
        let other = httpdate::fmt_http_date(v.modified.unwrap() + Duration::from_secs(1));
        assert!(!if_range_holds(&headers(&[(header::IF_RANGE, &other)]), &v));
        assert!(!if_range_holds(&headers(&[(header::IF_RANGE, "junk")]), &v));
    }

    #[test]
    fn etag_lists_with_commas_inside_tags_parse() {
        let v = Validators {
            etag: "\"a,b\"".to_owned(),
            modified: None,
        };
        let h = headers(&[(header::IF_NONE_MATCH, "\"x,y\" , \"a,b\"")]);
        assert_eq!(evaluate(&Method::GET, &h, &v), Outcome::NotModified);
        let h = headers(&[(header::IF_NONE_MATCH, "\"a\"junk, \"a,b\"")]);
        assert_eq!(evaluate(&Method::GET, &h, &v), Outcome::Proceed);
    }
}
