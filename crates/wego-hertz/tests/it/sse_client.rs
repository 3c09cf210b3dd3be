//! The SSE client against wego's own `Sse` responses: events over a real
//! connection, and reconnection with `Last-Event-ID` and the server's
//! `retry` delay.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use http::HeaderMap;
use wego_hertz::response::{Event, Sse};
use wego_hertz::sse_client::{EventParser, EventStream, Reconnecting, SseError};
use wego_hertz::{BoxError, Router, Server};
use wego_netpoll::Address;

use crate::client::{get, hyper_connect};
use crate::support::start;

/// `/events` sends three events after the `Last-Event-ID` it is given
/// (ids 1, 2, 3 from none), each with a multi-line payload, then ends;
/// the first also sets `retry: 1` (ms). The ids it was asked to resume
/// from are recorded.
fn app(seen: Arc<Mutex<Vec<Option<String>>>>) -> Router {
    Router::new()
        .get("/events", move |headers: HeaderMap| {
            let seen = seen.clone();
            async move {
                let last = headers
                    .get("last-event-id")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                seen.lock().unwrap().push(last.clone());
                let from: u32 = last.and_then(|l| l.parse().ok()).unwrap_or(0);
                let events = (from + 1..=from + 3).map(|n| {
                    let mut e = Event::new()
                        .with_event("tick")
                        .with_id(&n.to_string())
                        .with_data(format!("line {n}\nsecond"));
                    if n == 1 {
                        e = e.with_retry(Duration::from_millis(1));
                    }
                    Ok::<_, std::convert::Infallible>(e)
                });
                Sse::new(futures_util::stream::iter(events))
            }
        })
        .get("/huge", || async {
            let e = Event::new().with_data("x".repeat(4096));
            Sse::new(futures_util::stream::iter([Ok::<
                _,
                std::convert::Infallible,
            >(e)]))
        })
}

async fn open(
    addr: Address,
    path: &'static str,
    last: Option<String>,
) -> Result<hyper::body::Incoming, BoxError> {
    let mut conn = hyper_connect(&addr).await;
    let mut req = get(path);
    if let Some(id) = last {
        req.headers_mut().insert("last-event-id", id.parse()?);
    }
    let resp = conn.send(req).await;
    assert_eq!(
        resp.headers()["content-type"],
        "text/event-stream",
        "an event stream"
    );
    Ok(resp.into_body())
}

wego_test_support::each_backend!(sse_client_reads_wego_events, |_backend| async move {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (_server, addr, _task) = start(Server::builder(), app(seen)).await;
    let body = open(addr.clone(), "/events", None).await.unwrap();
    let mut events = EventStream::new(body);
    let mut got = Vec::new();
    while let Some(e) = events.next().await {
        let e = e.unwrap();
        got.push(format!("{}|{}|{}", e.event, e.id, e.data));
    }
    assert_eq!(
        got,
        [
            "tick|1|line 1\nsecond",
            "tick|2|line 2\nsecond",
            "tick|3|line 3\nsecond"
        ]
    );
    assert_eq!(events.parser().last_event_id(), "3");
    assert_eq!(events.parser().retry(), Some(Duration::from_millis(1)));
    // Over the limit: an error, not a larger buffer.
    let body = open(addr, "/huge", None).await.unwrap();
    let mut events = EventStream::with_parser(body, EventParser::with_max_event_size(1024));
    let e = events.next().await.unwrap().unwrap_err();
    assert!(matches!(e, SseError::EventTooLarge { limit: 1024 }), "{e}");
    assert!(events.next().await.is_none());
});

wego_test_support::each_backend!(
    sse_client_reconnects_with_last_event_id,
    |_backend| async move {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (_server, addr, _task) = start(Server::builder(), app(seen.clone())).await;
        let mut events =
            Reconnecting::new(move |last: Option<String>| open(addr.clone(), "/events", last))
                // Long: the server's `retry: 1` must replace it, or the test
                // would wait for a minute.
                .with_retry(Duration::from_secs(60));
        let mut ids = Vec::new();
        while ids.len() < 7 {
            let e = events.next().await.unwrap().unwrap();
            ids.push(e.id);
        }
        assert_eq!(ids, ["1", "2", "3", "4", "5", "6", "7"]);
        assert_eq!(events.last_event_id(), "7");
        assert_eq!(events.retry(), Duration::from_millis(1));
        assert_eq!(
            *seen.lock().unwrap(),
            [None, Some("3".to_owned()), Some("6".to_owned())]
        );
    }
);

wego_test_support::each_backend!(
    sse_client_reports_a_failed_open_and_retries,
    |_backend| async move {
        let attempts = Arc::new(Mutex::new(0));
        let counted = attempts.clone();
        let mut events = Reconnecting::new(move |_last: Option<String>| {
            let counted = counted.clone();
            async move {
                let mut n = counted.lock().unwrap();
                *n += 1;
                if *n < 3 {
                    Err::<wego_hertz::Body, _>(std::io::Error::other("refused"))
                } else {
                    Ok(wego_hertz::Body::from("data: at last\n\n"))
                }
            }
        })
        .with_retry(Duration::from_millis(1));
        for _ in 0..2 {
            let e = events.next().await.unwrap().unwrap_err();
            assert!(matches!(e, SseError::Connect(_)), "{e}");
        }
        let e = events.next().await.unwrap().unwrap();
        assert_eq!(e.data, "at last");
        assert_eq!(*attempts.lock().unwrap(), 3);
    }
);

/// The events of `events` as wego's `Sse` encodes them, read back by the
/// client's parser.
fn encoded(events: Vec<Event>) -> Vec<wego_hertz::sse_client::MessageEvent> {
    use wego_hertz::response::IntoResponse;
    let sse = Sse::new(futures_util::stream::iter(
        events.into_iter().map(Ok::<_, std::convert::Infallible>),
    ));
    let body = sse.into_response().into_body();
    let bytes = wego_netpoll::rt::block_on(body.collect_limited(1 << 16))
        .unwrap()
        .unwrap();
    let mut parser = EventParser::new();
    parser.push(&bytes).unwrap();
    std::iter::from_fn(|| parser.next_event().unwrap()).collect()
}

#[test]
fn sse_line_ends_in_values_cannot_add_fields_or_events() {
    // CR alone ends a line in an event stream, as do LF and CRLF.
    let got = encoded(vec![
        Event::new().with_data("hi\revent: admin\rid: 666\r\rdata: forged"),
        Event::new().with_data("a\r\nb\nc\rd\r"),
        Event::new()
            .with_event("tick\revent: admin\n")
            .with_id("7\rdata: forged\r\n")
            .with_data("x"),
    ]);
    let shown: Vec<(&str, &str, &str)> = got
        .iter()
        .map(|e| (e.event.as_str(), e.data.as_str(), e.id.as_str()))
        .collect();
    assert_eq!(
        shown,
        [
            ("message", "hi\nevent: admin\nid: 666\n\ndata: forged", ""),
            ("message", "a\nb\nc\nd\n", ""),
            ("tickevent: admin", "x", "7data: forged"),
        ]
    );
}
