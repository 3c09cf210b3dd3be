use std::collections::VecDeque;

use bytes::Bytes;
use proptest::prelude::*;

use super::*;

fn filled(parts: &[&[u8]]) -> LinkBuffer {
    let mut buf = LinkBuffer::with_block_size(64);
    for p in parts {
        buf.append(Bytes::copy_from_slice(p));
    }
    buf.flush();
    buf
}

#[test]
fn reads_fail_with_incomplete_and_consume_nothing() {
    let mut buf = filled(&[b"abc"]);
    assert_eq!(
        buf.next(4).unwrap_err(),
        Incomplete {
            needed: 4,
            available: 3
        }
    );
    assert!(buf.skip(4).is_err());
    assert!(buf.read_u32().is_err());
    assert!(buf.slice(4).is_err());
    assert_eq!(buf.len(), 3);
    assert_eq!(buf.next(3).unwrap(), b"abc");
}

#[test]
fn peek_across_blocks_merges_once() {
    let mut buf = filled(&[b"ab", b"cd", b"ef"]);
    assert_eq!(buf.block_count(), 3);
    assert_eq!(buf.peek(5).unwrap(), b"abcde");
    // "abcde" merged into one block, "f" left in the next.
    assert_eq!(buf.block_count(), 2);
    assert_eq!(buf.next(5).unwrap(), b"abcde");
    assert_eq!(buf.next(1).unwrap(), b"f");
    assert!(buf.is_empty());
}

#[test]
fn slice_within_a_block_shares_memory() {
    let block = Bytes::from_static(b"hello world");
    let mut buf = LinkBuffer::new();
    buf.append(block.clone());
    buf.flush();
    buf.skip(6).unwrap();
    let s = buf.slice(5).unwrap();
    assert_eq!(&s[..], b"world");
    assert_eq!(s.as_ptr(), block[6..].as_ptr(), "slice must not copy");
}

#[test]
fn big_endian_integers_read_across_block_boundaries() {
    let mut buf = filled(&[&[0x00, 0x00], &[0x01, 0x02, 0xff], &[0xfe]]);
    assert_eq!(buf.peek_u32().unwrap(), 0x0102);
    assert_eq!(buf.read_u32().unwrap(), 0x0102);
    assert_eq!(buf.read_i16().unwrap(), -2);
    assert!(buf.is_empty());
}

#[test]
fn malloc_is_invisible_until_flush() {
    let mut buf = LinkBuffer::new();
    buf.malloc(4).copy_from_slice(&7u32.to_be_bytes());
    buf.write_slice(b"body");
    assert_eq!(buf.len(), 0);
    assert_eq!(buf.unflushed_len(), 8);
    buf.flush();
    assert_eq!(buf.read_u32().unwrap(), 7);
    assert_eq!(buf.next(4).unwrap(), b"body");
}

#[test]
fn release_keeps_unread_bytes() {
    let mut buf = filled(&[b"abcdef", b"gh"]);
    buf.skip(3).unwrap();
    buf.release();
    assert_eq!(buf.len(), 5);
    assert_eq!(
        buf.chunks().collect::<Vec<_>>(),
        vec![&b"def"[..], &b"gh"[..]]
    );
}

#[test]
fn write_to_and_read_from_move_all_bytes() {
    let rt = crate::rt::Runtime::builder().build().unwrap();
    rt.block_on(async {
        let mut out = LinkBuffer::with_block_size(64);
        for i in 0..100u32 {
            out.write_slice(&i.to_be_bytes());
            out.append(Bytes::from(vec![i as u8; (i % 7) as usize]));
        }
        out.flush();
        let expected: Vec<u8> = out.chunks().flatten().copied().collect();
        let (mut a, mut b) = tokio::io::duplex(128);
        let writer = crate::rt::spawn(async move {
            out.write_to(&mut a).await.unwrap();
            assert!(out.is_empty());
        });
        let mut input = LinkBuffer::with_block_size(64);
        while input.len() < expected.len() {
            assert!(input.read_from(&mut b).await.unwrap() > 0);
        }
        writer.await.unwrap();
        assert_eq!(input.next(expected.len()).unwrap(), &expected[..]);
    });
}

#[derive(Debug, Clone)]
enum Op {
    WriteSlice(Vec<u8>),
    Malloc(Vec<u8>),
    Append(Vec<u8>),
    Flush,
    Peek(usize),
    Next(usize),
    Skip(usize),
    Slice(usize),
    ReadU32,
    PeekU16,
    Release,
}

fn op() -> impl Strategy<Value = Op> {
    let data = proptest::collection::vec(any::<u8>(), 0..200);
    prop_oneof![
        data.clone().prop_map(Op::WriteSlice),
        data.clone().prop_map(Op::Malloc),
        data.prop_map(Op::Append),
        Just(Op::Flush),
        (0usize..300).prop_map(Op::Peek),
        (0usize..300).prop_map(Op::Next),
        (0usize..300).prop_map(Op::Skip),
        (0usize..300).prop_map(Op::Slice),
        Just(Op::ReadU32),
        Just(Op::PeekU16),
        Just(Op::Release),
    ]
}

proptest! {
    /// Any sequence of writes and reads returns the same bytes as a model
    /// made of a `Vec<u8>` (unflushed) and a `VecDeque<u8>` (readable).
    #[test]
    fn behaves_like_a_byte_queue(ops in proptest::collection::vec(op(), 0..60), block in 64usize..512) {
        let mut buf = LinkBuffer::with_block_size(block);
        let mut unflushed: Vec<u8> = Vec::new();
        let mut readable: VecDeque<u8> = VecDeque::new();
        let take = |q: &mut VecDeque<u8>, n: usize| q.drain(..n).collect::<Vec<u8>>();
        for op in ops {
            match op {
                Op::WriteSlice(d) => { buf.write_slice(&d); unflushed.extend(&d); }
                Op::Malloc(d) => { buf.malloc(d.len()).copy_from_slice(&d); unflushed.extend(&d); }
                Op::Append(d) => { buf.append(Bytes::from(d.clone())); unflushed.extend(&d); }
                Op::Flush => { buf.flush(); readable.extend(unflushed.drain(..)); }
                Op::Peek(n) => match buf.peek(n) {
                    Ok(got) => { prop_assert!(n <= readable.len()); prop_assert_eq!(got, &readable.iter().take(n).copied().collect::<Vec<_>>()[..]); }
                    Err(e) => { prop_assert!(n > readable.len()); prop_assert_eq!(e.available, readable.len()); }
                },
                Op::Next(n) => match buf.next(n) {
                    Ok(got) => { let want = take(&mut readable, n); prop_assert_eq!(got, &want[..]); }
                    Err(_) => prop_assert!(n > readable.len()),
                },
                Op::Skip(n) => match buf.skip(n) {
                    Ok(()) => { take(&mut readable, n); }
                    Err(_) => prop_assert!(n > readable.len()),
                },
                Op::Slice(n) => match buf.slice(n) {
                    Ok(got) => { let want = take(&mut readable, n); prop_assert_eq!(&got[..], &want[..]); }
                    Err(_) => prop_assert!(n > readable.len()),
                },
                Op::ReadU32 => match buf.read_u32() {
                    Ok(v) => { let want = take(&mut readable, 4); prop_assert_eq!(v.to_be_bytes().to_vec(), want); }
                    Err(_) => prop_assert!(readable.len() < 4),
                },
                Op::PeekU16 => match buf.peek_u16() {
                    Ok(v) => { prop_assert_eq!(v.to_be_bytes().to_vec(), readable.iter().take(2).copied().collect::<Vec<_>>()); }
                    Err(_) => prop_assert!(readable.len() < 2),
                },
                Op::Release => buf.release(),
            }
            prop_assert_eq!(buf.len(), readable.len());
            prop_assert_eq!(buf.unflushed_len(), unflushed.len());
            let chunks: Vec<u8> = buf.chunks().flatten().copied().collect();
            prop_assert_eq!(chunks, readable.iter().copied().collect::<Vec<_>>());
        }
    }
}
