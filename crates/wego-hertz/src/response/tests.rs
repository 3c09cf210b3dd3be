use std::time::Duration;

use http::header::CONTENT_TYPE;
use http::{HeaderMap, StatusCode};

use super::*;

fn collect(res: Response) -> (StatusCode, HeaderMap, Bytes) {
    let (parts, body) = res.into_parts();
    let bytes = wego_netpoll::rt::block_on(body.collect_limited(1 << 24))
        .unwrap()
        .unwrap();
    (parts.status, parts.headers, bytes)
}

#[test]
fn text_and_bytes_set_content_types() {
    let (s, h, b) = collect("hi".into_response());
    assert_eq!((s, &b[..]), (StatusCode::OK, &b"hi"[..]));
    assert_eq!(h[CONTENT_TYPE], "text/plain; charset=utf-8");
    let (_, h, _) = collect(String::from("x").into_response());
    assert_eq!(h[CONTENT_TYPE], "text/plain; charset=utf-8");
    let (_, h, b) = collect(vec![1u8, 2].into_response());
    assert_eq!(h[CONTENT_TYPE], "application/octet-stream");
    assert_eq!(&b[..], &[1, 2]);
    let (_, h, _) = collect(Bytes::from_static(b"z").into_response());
    assert_eq!(h[CONTENT_TYPE], "application/octet-stream");
    let (_, h, b) = collect(Html("<p>x</p>").into_response());
    assert_eq!(h[CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(&b[..], b"<p>x</p>");
    let (s, h, b) = collect(().into_response());
    assert_eq!((s, b.len()), (StatusCode::OK, 0));
    assert!(h.is_empty());
}

#[test]
fn tuples_set_status_and_headers() {
    let (s, h, b) =
        collect((StatusCode::CREATED, [("x-a", "1"), ("x-b", "2")], "made").into_response());
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(
        (&h["x-a"], &h["x-b"]),
        (
            &"1".parse::<HeaderValue>().unwrap(),
            &"2".parse::<HeaderValue>().unwrap()
        )
    );
    assert_eq!(&b[..], b"made");
    let mut extra = HeaderMap::new();
    extra.append("set-cookie", "a=1".parse().unwrap());
    extra.append("set-cookie", "b=2".parse().unwrap());
    let (s, h, _) = collect((extra, "x").into_response());
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h.get_all("set-cookie").iter().count(), 2);
    let (s, _, _) = collect((StatusCode::IM_A_TEAPOT, "x").into_response());
    assert_eq!(s, StatusCode::IM_A_TEAPOT);
    let (s, _, b) = collect(([("bad header", "v")], "x").into_response());
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(&b[..], b"invalid header name");
    let (s, _, _) = collect(StatusCode::NO_CONTENT.into_response());
    assert_eq!(s, StatusCode::NO_CONTENT);
}

#[test]
fn results_render_either_side() {
    let ok: Result<&str, (StatusCode, &str)> = Ok("fine");
    assert_eq!(collect(ok.into_response()).0, StatusCode::OK);
    let err: Result<&str, (StatusCode, &str)> = Err((StatusCode::BAD_GATEWAY, "upstream"));
    let (s, _, b) = collect(err.into_response());
    assert_eq!((s, &b[..]), (StatusCode::BAD_GATEWAY, &b"upstream"[..]));
}

#[test]
fn json_and_unserialisable_json() {
    let (_, h, b) = collect(Json(serde_json::json!({"a": [1, 2]})).into_response());
    assert_eq!(h[CONTENT_TYPE], "application/json");
    assert_eq!(&b[..], br#"{"a":[1,2]}"#);
    let mut bad = std::collections::HashMap::new();
    bad.insert(vec![1u8], 1);
    let (s, _, _) = collect(Json(bad).into_response());
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
}

#[test]
fn redirects() {
    let (s, h, _) = collect(Redirect::to("/next").into_response());
    assert_eq!(
        (s, &h["location"]),
        (
            StatusCode::SEE_OTHER,
            &"/next".parse::<HeaderValue>().unwrap()
        )
    );
    assert_eq!(
        Redirect::temporary("/t").status(),
        StatusCode::TEMPORARY_REDIRECT
    );
    assert_eq!(
        Redirect::permanent("/p").status(),
        StatusCode::PERMANENT_REDIRECT
    );
    assert_eq!(Redirect::found("/f").location(), "/f");
    let (s, _, _) = collect(Redirect::to("bad\nlocation").into_response());
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
}

#[test]
fn any_http_body_response_is_accepted() {
    let res = http::Response::builder()
        .status(StatusCode::ACCEPTED)
        .body(http_body_util::Full::new(Bytes::from_static(b"full")))
        .unwrap();
    let (s, _, b) = collect(res.into_response());
    assert_eq!((s, &b[..]), (StatusCode::ACCEPTED, &b"full"[..]));
    // A Response<Body> passes through without re-boxing.
    let own = http::Response::new(Body::from("own"));
    assert_eq!(&collect(own.into_response()).2[..], b"own");
}

#[test]
fn streams_files_in_chunks() {
    let dir = std::env::temp_dir().join(format!("wego-hertz-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("data.json");
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &content).unwrap();
    let (s, h, b) = wego_netpoll::rt::block_on(async {
        let file = File::open(&path).await.unwrap();
        assert_eq!(file.len(), 200_000);
        let (parts, body) = file.into_response().into_parts();
        (
            parts.status,
            parts.headers,
            body.collect_limited(1 << 20).await.unwrap(),
        )
    })
    .unwrap();
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h[CONTENT_TYPE], "application/json");
    assert_eq!(h["content-length"], "200000");
    assert_eq!(&b[..], &content[..]);
    let missing = wego_netpoll::rt::block_on(File::open(dir.join("nope"))).unwrap();
    let err = missing.unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(collect(err.into_response()).0, StatusCode::NOT_FOUND);
    let dir_err = wego_netpoll::rt::block_on(File::open(&dir))
        .unwrap()
        .unwrap_err();
    assert_eq!(collect(dir_err.into_response()).0, StatusCode::NOT_FOUND);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sse_encodes_events_and_keep_alive() {
    let ev = Event::new()
        .with_event("up\ndate")
        .with_id("7")
        .with_retry(Duration::from_millis(1500))
        .with_data("line1\nline2");
    let events = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(ev)]);
    let (_, h, b) = collect(Sse::new(events).into_response());
    assert_eq!(h[CONTENT_TYPE], "text/event-stream");
    assert_eq!(
        std::str::from_utf8(&b).unwrap(),
        "event: update\nid: 7\nretry: 1500\ndata: line1\ndata: line2\n\n"
    );
    // A quiet stream gets keep-alive comments.
    let quiet = futures_util::stream::pending::<Result<Event, std::io::Error>>();
    let sse = Sse::new(quiet).with_keep_alive(
        SseKeepAlive::new()
            .with_interval(Duration::from_millis(10))
            .with_text("ping"),
    );
    let body = sse.into_response().into_body();
    let first = wego_netpoll::rt::block_on(async move {
        use http_body_util::BodyExt;
        let mut body = body;
        body.frame().await.unwrap().unwrap().into_data().unwrap()
    })
    .unwrap();
    assert_eq!(&first[..], b": ping\n\n");
}

#[cfg(feature = "protobuf")]
#[test]
fn protobuf_responses() {
    #[derive(Clone, PartialEq, prost::Message)]
    struct Msg {
        #[prost(string, tag = "1")]
        name: String,
    }
    let (_, h, b) = collect(Protobuf(Msg { name: "x".into() }).into_response());
    assert_eq!(h[CONTENT_TYPE], "application/x-protobuf");
    assert_eq!(&b[..], &[0x0a, 0x01, b'x']);
}
