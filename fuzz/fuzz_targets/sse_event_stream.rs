//! Fuzzes wego-hertz's event-stream parser (the SSE client): any bytes,
//! fed whole or in pieces of any size, give events or a typed error,
//! never a panic; no event is larger than the limit; and the pieces give
//! the same events and outcome as the whole (line ends split between
//! pieces, a CR at the end of one piece and its LF in the next, a BOM
//! split up, all included).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wego_hertz::sse_client::{EventParser, MessageEvent};

const MAX: usize = 256;

/// Feeds `data` in pieces of `step` bytes; the events and whether it
/// failed.
fn parse(data: &[u8], step: usize) -> (Vec<MessageEvent>, bool) {
    let mut p = EventParser::with_max_event_size(MAX);
    let mut events = Vec::new();
    for piece in data.chunks(step.max(1)) {
        if p.push(piece).is_err() {
            return (events, true);
        }
        loop {
            match p.next_event() {
                Ok(Some(e)) => {
                    // "message", the type of an event without an `event`
                    // field, is not read from the stream and not counted.
                    let event = if e.event == "message" {
                        0
                    } else {
                        e.event.len()
                    };
                    assert!(e.data.len() + event <= MAX + 1, "event over the limit");
                    events.push(e);
                }
                Ok(None) => break,
                Err(_) => return (events, true),
            }
        }
    }
    (events, false)
}

fuzz_target!(|input: &[u8]| {
    let Some((&step, data)) = input.split_first() else {
        return;
    };
    let whole = parse(data, data.len());
    let pieces = parse(data, usize::from(step % 17) + 1);
    assert_eq!(whole, pieces, "pieces of {} bytes disagree", step % 17 + 1);
});
