//! Runs the length-prefixed framing workload 20 times with one decoder, for
//! instruction counting under callgrind:
//!
//! ```sh
//! cargo build --release -p wego-benches --bin framing-count
//! valgrind --tool=callgrind target/release/framing-count linkbuffer 1024 1500
//! valgrind --tool=callgrind target/release/framing-count bytesmut 1024 1500
//! valgrind --tool=callgrind target/release/framing-count none 1024 1500   # setup only
//! ```
#![allow(clippy::print_stdout)] // prints the checksum so the work is not optimised away

use wego_benches::framing::{decode_bytesmut, decode_linkbuffer, frames, reads};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map_or("linkbuffer", String::as_str);
    let size = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1024);
    let read = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(8192);
    let chunks = reads(&frames(4096, size), read);
    let mut total = 0;
    for _ in 0..20 {
        total += match which {
            "linkbuffer" => decode_linkbuffer(&chunks),
            "bytesmut" => decode_bytesmut(&chunks),
            _ => 0,
        };
    }
    println!("{total}");
}
