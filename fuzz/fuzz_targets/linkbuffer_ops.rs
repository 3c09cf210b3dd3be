//! Drives a LinkBuffer with an arbitrary sequence of operations decoded
//! from the input, checking it against a byte-queue model.
#![no_main]

use std::collections::VecDeque;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use wego_netpoll::LinkBuffer;

fuzz_target!(|data: &[u8]| {
    let mut buf = LinkBuffer::with_block_size(64);
    let mut unflushed = Vec::new();
    let mut readable = VecDeque::new();
    let mut it = data.chunks(2);
    while let Some(op) = it.next() {
        let arg = op.get(1).copied().unwrap_or(0) as usize;
        match op[0] % 9 {
            0 => {
                let d: Vec<u8> = (0..arg).map(|i| i as u8).collect();
                buf.write_slice(&d);
                unflushed.extend(d);
            }
            1 => {
                let d: Vec<u8> = (0..arg).map(|i| (i * 3) as u8).collect();
                buf.malloc(d.len()).copy_from_slice(&d);
                unflushed.extend(d);
            }
            2 => {
                let d: Vec<u8> = (0..arg).map(|i| (i * 7) as u8).collect();
                buf.append(Bytes::from(d.clone()));
                unflushed.extend(d);
            }
            3 => {
                buf.flush();
                readable.extend(unflushed.drain(..));
            }
            4 => match buf.peek(arg) {
                Ok(s) => assert!(s.iter().eq(readable.iter().take(arg))),
                Err(_) => assert!(arg > readable.len()),
            },
            5 => match buf.next(arg) {
                Ok(s) => assert!(
                    s.iter()
                        .eq(readable.drain(..arg).collect::<Vec<_>>().iter())
                ),
                Err(_) => assert!(arg > readable.len()),
            },
            6 => match buf.slice(arg) {
                Ok(s) => assert!(
                    s.iter()
                        .eq(readable.drain(..arg).collect::<Vec<_>>().iter())
                ),
                Err(_) => assert!(arg > readable.len()),
            },
            7 => match buf.skip(arg) {
                Ok(()) => {
                    readable.drain(..arg);
                }
                Err(_) => assert!(arg > readable.len()),
            },
            _ => buf.release(),
        }
        assert_eq!(buf.len(), readable.len());
    }
});
