//! Writing to an h2 stream with flow control: data is sent only as the
//! peer's window allows, so a slow reader slows the writer instead of
//! growing our buffers.

use bytes::Bytes;
use h2::SendStream;

/// Sends `data` on `stream`, waiting for window capacity as needed.
pub(crate) async fn send_all(
    stream: &mut SendStream<Bytes>,
    mut data: Bytes,
    end_of_stream: bool,
) -> Result<(), h2::Error> {
    while !data.is_empty() {
        stream.reserve_capacity(data.len());
        match std::future::poll_fn(|cx| stream.poll_capacity(cx)).await {
            None => {
                // The stream closed under us; a send surfaces the reason.
                return stream.send_data(Bytes::new(), true);
            }
            Some(Err(e)) => return Err(e),
            Some(Ok(n)) => {
                let chunk = data.split_to(n.min(data.len()));
                let last = data.is_empty() && end_of_stream;
                stream.send_data(chunk, last)?;
                if last {
                    return Ok(());
                }
            }
        }
    }
    if end_of_stream {
        stream.send_data(Bytes::new(), true)?;
    }
    Ok(())
}
