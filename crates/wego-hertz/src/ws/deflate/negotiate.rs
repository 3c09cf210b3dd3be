//! The `Sec-WebSocket-Extensions` header and the permessage-deflate
//! parameters of RFC 7692 §7.1: parsing offers, choosing one on the
//! server, checking the server's answer on the client.

use http::{HeaderMap, HeaderValue, header};

use super::PerMessageDeflate;

/// The most extensions read from one handshake; the rest are ignored.
const MAX_EXTENSIONS: usize = 16;
/// The most parameters read for one extension; an offer with more is
/// declined.
const MAX_PARAMS: usize = 8;

/// The extension's registered name.
pub(crate) const NAME: &str = "permessage-deflate";

/// One extension of an `extension-list`: a name and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Extension<'a> {
    pub(crate) name: &'a str,
    pub(crate) params: Vec<(&'a str, Option<&'a str>)>,
}

/// Why an extension list does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed;

/// Parses every `Sec-WebSocket-Extensions` field of `headers` as one
/// list (RFC 6455 §9.1: `extension *( ";" param )`, comma-separated,
/// a parameter `token [ "=" ( token | quoted-string ) ]`). At most
/// [`MAX_EXTENSIONS`] extensions are kept.
pub(crate) fn parse(headers: &HeaderMap) -> Result<Vec<Extension<'_>>, Malformed> {
    let mut out = Vec::new();
    for value in headers.get_all(header::SEC_WEBSOCKET_EXTENSIONS) {
        let text = value.to_str().map_err(|_| Malformed)?;
        for item in split_outside_quotes(text, ',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            if out.len() == MAX_EXTENSIONS {
                return Ok(out);
            }
            out.push(parse_extension(item)?);
        }
    }
    Ok(out)
}

fn parse_extension(item: &str) -> Result<Extension<'_>, Malformed> {
    let mut parts = split_outside_quotes(item, ';');
    let name = parts.next().map(str::trim).ok_or(Malformed)?;
    if !is_token(name) {
        return Err(Malformed);
    }
    let mut params = Vec::new();
    for param in parts {
        let param = param.trim();
        let (key, value) = match param.split_once('=') {
            Some((k, v)) => (k.trim(), Some(unquote(v.trim())?)),
            None => (param, None),
        };
        if !is_token(key) {
            return Err(Malformed);
        }
        params.push((key, value));
    }
    Ok(Extension { name, params })
}

/// Splits on `sep` where it is not inside a quoted string.
fn split_outside_quotes(text: &str, sep: char) -> impl Iterator<Item = &str> {
    let mut quoted = false;
    let mut escaped = false;
    text.split(move |c: char| {
        if escaped {
            escaped = false;
            return false;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => return true,
            _ => {}
        }
        false
    })
}

/// A parameter value: a token, or a quoted string whose content is a
/// token (RFC 6455 §9.1 asks that of quoted values); escapes are not
/// needed for any value permessage-deflate defines and are refused.
fn unquote(value: &str) -> Result<&str, Malformed> {
    let inner = match value.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"').ok_or(Malformed)?,
        None => value,
    };
    if is_token(inner) {
        Ok(inner)
    } else {
        Err(Malformed)
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// What both sides agreed for one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Agreed {
    /// This side resets its compressor after every message.
    pub(crate) reset_compressor: bool,
}

/// A window size parameter: an integer from 8 to 15, no leading zero.
fn window_bits(value: Option<&str>) -> Option<u8> {
    let v = value?;
    if v.len() > 2 || v.starts_with('0') {
        return None;
    }
    v.parse::<u8>().ok().filter(|b| (8..=15).contains(b))
}

/// The server's choice: the first permessage-deflate offer in `headers`
/// it can honour, with the `Sec-WebSocket-Extensions` value to answer.
///
/// An offer is declined when a parameter is unknown, repeated or out of
/// range, or when it asks the server for a window under 32 KiB
/// (`server_max_window_bits` below 15: the compressor always uses the
/// full window). `client_max_window_bits` is accepted and left out of the
/// answer, so the client keeps the window it likes; the inflater reads
/// any. A list that does not parse is ignored as a whole.
pub(crate) fn choose_offer(
    headers: &HeaderMap,
    config: &PerMessageDeflate,
) -> Option<(HeaderValue, Agreed)> {
    let offers = parse(headers).ok()?;
    offers
        .iter()
        .filter(|e| e.name.eq_ignore_ascii_case(NAME))
        .find_map(|offer| accept_offer(offer, config))
}

fn accept_offer(
    offer: &Extension<'_>,
    config: &PerMessageDeflate,
) -> Option<(HeaderValue, Agreed)> {
    if offer.params.len() > MAX_PARAMS {
        return None;
    }
    let mut seen = [false; 4];
    let mut server_no_takeover = false;
    let mut client_no_takeover = false;
    for (key, value) in &offer.params {
        let slot = match key.to_ascii_lowercase().as_str() {
            "server_no_context_takeover" if value.is_none() => {
                server_no_takeover = true;
                0
            }
            "client_no_context_takeover" if value.is_none() => {
                client_no_takeover = true;
                1
            }
            "server_max_window_bits" => match window_bits(*value) {
                Some(15) => 2,
                _ => return None,
            },
            "client_max_window_bits" => match value {
                None => 3,
                Some(_) if window_bits(*value).is_some() => 3,
                Some(_) => return None,
            },
            _ => return None,
        };
        if std::mem::replace(&mut seen[slot], true) {
            return None;
        }
    }
    let reset_compressor = server_no_takeover || config.no_context_takeover;
    let mut answer = String::from(NAME);
    if reset_compressor {
        answer.push_str("; server_no_context_takeover");
    }
    if client_no_takeover {
        answer.push_str("; client_no_context_takeover");
    }
    let value = HeaderValue::from_str(&answer).ok()?;
    Some((value, Agreed { reset_compressor }))
}

/// The client's offer: `permessage-deflate`, with
/// `client_no_context_takeover` when the client resets its compressor
/// after every message.
pub(crate) fn offer(config: &PerMessageDeflate) -> HeaderValue {
    if config.no_context_takeover {
        HeaderValue::from_static("permessage-deflate; client_no_context_takeover")
    } else {
        HeaderValue::from_static("permessage-deflate")
    }
}

/// Why the server's `Sec-WebSocket-Extensions` answer is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadAnswer;

/// Checks the server's answer to [`offer`]: no extension (declined), or
/// exactly one permessage-deflate with parameters RFC 7692 §7.1 lets a
/// server answer with. `client_max_window_bits` is refused because the
/// offer did not carry it.
pub(crate) fn check_answer(
    headers: &HeaderMap,
    config: &PerMessageDeflate,
) -> Result<Option<Agreed>, BadAnswer> {
    let answers = parse(headers).map_err(|_| BadAnswer)?;
    let answer = match answers.as_slice() {
        [] => return Ok(None),
        [one] if one.name.eq_ignore_ascii_case(NAME) => one,
        _ => return Err(BadAnswer),
    };
    let mut seen = [false; 3];
    let mut client_no_takeover = false;
    for (key, value) in &answer.params {
        let slot = match key.to_ascii_lowercase().as_str() {
            "server_no_context_takeover" if value.is_none() => 0,
            "client_no_context_takeover" if value.is_none() => {
                client_no_takeover = true;
                1
            }
            "server_max_window_bits" if window_bits(*value).is_some() => 2,
            _ => return Err(BadAnswer),
        };
        if std::mem::replace(&mut seen[slot], true) {
            return Err(BadAnswer);
        }
    }
    Ok(Some(Agreed {
        reset_compressor: client_no_takeover || config.no_context_takeover,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                header::SEC_WEBSOCKET_EXTENSIONS,
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn chosen(values: &[&str], config: &PerMessageDeflate) -> Option<(String, bool)> {
        choose_offer(&headers(values), config)
            .map(|(v, a)| (v.to_str().unwrap().to_owned(), a.reset_compressor))
    }

    #[test]
    fn parses_lists_across_fields_with_quoted_values() {
        let h = headers(&[
            "permessage-deflate; client_max_window_bits, foo",
            "permessage-deflate; server_max_window_bits=\"15\"",
        ]);
        let exts = parse(&h).unwrap();
        assert_eq!(exts.len(), 3);
        assert_eq!(exts[0].params, vec![("client_max_window_bits", None)]);
        assert_eq!(exts[1].name, "foo");
        assert_eq!(exts[2].params, vec![("server_max_window_bits", Some("15"))]);
    }

    #[test]
    fn refuses_malformed_lists() {
        for bad in [
            "permessage-deflate; =1",
            "permessage deflate",
            "x; a=\"1",
            "x; a=\"1 2\"",
            "x; a=",
            "; a",
        ] {
            assert_eq!(parse(&headers(&[bad])), Err(Malformed), "{bad}");
        }
        let many = vec!["a"; 40].join(", ");
        assert_eq!(parse(&headers(&[&many])).unwrap().len(), MAX_EXTENSIONS);
    }

    #[test]
    fn server_takes_the_first_offer_it_can_honour() {
        let config = PerMessageDeflate::default();
        assert_eq!(
            chosen(&["permessage-deflate; client_max_window_bits"], &config),
            Some(("permessage-deflate".into(), false))
        );
        // A window under 32 KiB for the server cannot be honoured; the
        // next offer is taken.
        assert_eq!(
            chosen(
                &["permessage-deflate; server_max_window_bits=10, permessage-deflate"],
                &config
            ),
            Some(("permessage-deflate".into(), false))
        );
        assert_eq!(
            chosen(
                &["permessage-deflate; server_no_context_takeover; client_no_context_takeover"],
                &config
            ),
            Some((
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover".into(),
                true
            ))
        );
        let resetting = PerMessageDeflate::default().with_no_context_takeover(true);
        assert_eq!(
            chosen(&["x-webkit-deflate-frame, permessage-deflate"], &resetting),
            Some((
                "permessage-deflate; server_no_context_takeover".into(),
                true
            ))
        );
    }

    #[test]
    fn server_declines_offers_with_bad_parameters() {
        let config = PerMessageDeflate::default();
        for bad in [
            "permessage-deflate; foo",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; client_max_window_bits=7",
            "permessage-deflate; client_max_window_bits=016",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
            "permessage-deflate; a; b; c; d; e; f; g; h; i",
            "x-other",
            "permessage-deflate; =",
        ] {
            assert_eq!(chosen(&[bad], &config), None, "{bad}");
        }
    }

    #[test]
    fn client_checks_the_answer() {
        let config = PerMessageDeflate::default();
        let check = |v: &[&str]| check_answer(&headers(v), &config);
        assert_eq!(check(&[]), Ok(None));
        assert_eq!(
            check(&["permessage-deflate"]),
            Ok(Some(Agreed {
                reset_compressor: false
            }))
        );
        assert_eq!(
            check(&["permessage-deflate; client_no_context_takeover; server_max_window_bits=12"]),
            Ok(Some(Agreed {
                reset_compressor: true
            }))
        );
        for bad in [
            "permessage-deflate; client_max_window_bits=10",
            "permessage-deflate, permessage-deflate",
            "x-other",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; \"",
        ] {
            assert_eq!(check(&[bad]), Err(BadAnswer), "{bad}");
        }
    }

    #[test]
    fn the_offer_names_the_clients_own_reset() {
        assert_eq!(offer(&PerMessageDeflate::default()), "permessage-deflate");
        assert_eq!(
            offer(&PerMessageDeflate::default().with_no_context_takeover(true)),
            "permessage-deflate; client_no_context_takeover"
        );
    }
}
