//! Reading a connection's frames: a length header, then the body, decoded by `wire`. The
//! reader takes what the socket holds in one read of up to [`READ_BUF_BYTES`] and cuts frames
//! out of it, instead of two reads (header, body) per frame: a peer that pushes a burst of
//! 1,000 events (≈ 400 KiB) costs ≈ 25 reads, not 2,000 (issue 8, ingest). No IO of its own:
//! generic over any `AsyncRead`, so the tests drive it with in-memory streams.

use futures_lite::io::BufReader;
use futures_lite::{AsyncRead, AsyncReadExt};

use crate::wire::{self, Msg};

/// Read buffer of one connection's reader: one per open overlay connection, ≈ 2 MiB at
/// `MAX_CONNS` = 128 (≈ 160 KiB at a typical 10 links). A frame larger than what is buffered
/// is read straight into its own body (bounded by `wire::MAX_FRAME_BYTES`), never through it.
pub const READ_BUF_BYTES: usize = 16 * 1024;

/// Why a connection's frames ended.
#[derive(Debug)]
pub(super) enum ReadEnd {
    /// The stream closed or failed (mid-frame or between frames).
    Closed,
    /// The peer answered in HTTP (e.g. `-b` points at an HTTP port).
    Http,
    /// A header or body that is not a frame: the peer is dropped.
    Malformed(wire::DecodeError),
}

/// The buffered reader a connection's frames are read through.
pub(super) fn frame_reader<R: AsyncRead + Unpin>(inner: R) -> BufReader<R> {
    BufReader::with_capacity(READ_BUF_BYTES, inner)
}

/// The next frame from `reader` (a [`frame_reader`]; unbuffered, each frame costs two reads).
pub(super) async fn next_frame<R: AsyncRead + Unpin>(reader: &mut R) -> Result<Msg, ReadEnd> {
    let mut header = [0u8; wire::HEADER_BYTES];
    reader.read_exact(&mut header).await.map_err(|_| ReadEnd::Closed)?;
    let len = match wire::decode_header(header) {
        Ok(len) => len,
        Err(_) if header == *b"HTTP" => return Err(ReadEnd::Http),
        Err(e) => return Err(ReadEnd::Malformed(e)),
    };
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).await.map_err(|_| ReadEnd::Closed)?;
    wire::decode_body(&body).map_err(ReadEnd::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use futures_lite::future::block_on;

    use crate::wire::{encode_frame, Body, Gossip, GossipKind, MsgId};

    /// An in-memory stream that hands out at most `chunk` bytes per read and counts the reads.
    struct Counting {
        data: Vec<u8>,
        pos: usize,
        chunk: usize,
        reads: usize,
    }

    impl AsyncRead for Counting {
        fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
            self.reads += 1;
            let n = buf.len().min(self.chunk).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Poll::Ready(Ok(n))
        }
    }

    fn counting(data: Vec<u8>, chunk: usize) -> Counting {
        Counting { data, pos: 0, chunk, reads: 0 }
    }

    /// Frame `i` with a body of `body_len` bytes (the content tells the frames apart: a
    /// gossip's id is not what it is compared by).
    fn frame(i: u32, body_len: usize) -> Vec<u8> {
        let mut id = [0u8; 32];
        id[..4].copy_from_slice(&i.to_be_bytes());
        let body: Vec<u8> = (0..body_len).map(|k| (k as u32 ^ i) as u8).collect();
        let msg = Msg::Gossip(Gossip {
            id: MsgId(id),
            round: i as u16,
            kind: GossipKind::Event,
            body: Body::from_slice(&body),
        });
        encode_frame(&msg).expect("encodes")
    }

    /// The messages `frames` carry, as decoded one by one.
    fn messages(frames: &[Vec<u8>]) -> Vec<Msg> {
        frames.iter().map(|f| wire::decode_body(&f[wire::HEADER_BYTES..]).expect("decodes")).collect()
    }

    fn read_all<R: AsyncRead + Unpin>(reader: &mut R) -> (Vec<Msg>, ReadEnd) {
        let mut got = Vec::new();
        loop {
            match block_on(next_frame(reader)) {
                Ok(m) => got.push(m),
                Err(end) => return (got, end),
            }
        }
    }

    #[test]
    fn a_burst_of_frames_takes_few_reads() {
        let frames: Vec<Vec<u8>> = (0..1_000).map(|i| frame(i, 300)).collect();
        let sent = messages(&frames);
        let bytes = frames.concat();
        let total = bytes.len();
        let bound = total / READ_BUF_BYTES + 2;
        // As the reader was before: straight from the socket, two reads per frame.
        let mut unbuffered = counting(bytes.clone(), usize::MAX);
        let (got, _) = read_all(&mut unbuffered);
        assert_eq!(got, sent);
        assert!(unbuffered.reads > bound, "{} reads", unbuffered.reads);
        // Through the buffer: one read per buffer-full.
        let mut reader = frame_reader(counting(bytes, usize::MAX));
        let (got, end) = read_all(&mut reader);
        assert_eq!(got, sent);
        assert!(matches!(end, ReadEnd::Closed), "{end:?}");
        let reads = reader.get_ref().reads;
        assert!(reads <= bound, "{reads} reads for {total} bytes");
    }

    #[test]
    fn frames_split_anywhere_or_larger_than_the_buffer_decode() {
        let frames = vec![frame(1, 10), frame(2, 3 * READ_BUF_BYTES), frame(3, READ_BUF_BYTES - 3), frame(4, 0)];
        let sent = messages(&frames);
        let bytes = frames.concat();
        for chunk in [1, 3, 4, 5, 1_000, READ_BUF_BYTES - 1, READ_BUF_BYTES + 1, usize::MAX] {
            let (got, end) = read_all(&mut frame_reader(counting(bytes.clone(), chunk)));
            assert_eq!(got, sent, "chunk {chunk}");
            assert!(matches!(end, ReadEnd::Closed), "chunk {chunk}: {end:?}");
        }
    }

    #[test]
    fn hostile_streams_end_with_their_cause() {
        // A header past the frame limit, right after a good frame in the same read.
        let mut bytes = frame(1, 10);
        let good = bytes.len();
        bytes.extend_from_slice(&u32::MAX.to_be_bytes());
        bytes.extend_from_slice(&[0; 64]);
        let (got, end) = read_all(&mut frame_reader(counting(bytes.clone(), usize::MAX)));
        assert_eq!(got.len(), 1);
        assert!(matches!(end, ReadEnd::Malformed(_)), "{end:?}");
        // Cut in the middle of a body: the frame is not delivered.
        let (got, end) = read_all(&mut frame_reader(counting(bytes[..good - 1].to_vec(), 7)));
        assert!(got.is_empty() && matches!(end, ReadEnd::Closed), "{got:?} {end:?}");
        // An HTTP answer.
        let (got, end) = read_all(&mut frame_reader(counting(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(), 5)));
        assert!(got.is_empty() && matches!(end, ReadEnd::Http), "{end:?}");
        // A well-framed body that is not a message.
        let mut junk = frame(1, 10);
        let last = junk.len() - 12;
        junk[wire::HEADER_BYTES + 1..last].fill(0xc1); // 0xc1: never valid MessagePack
        let (got, end) = read_all(&mut frame_reader(counting(junk, usize::MAX)));
        assert!(got.is_empty() && matches!(end, ReadEnd::Malformed(_)), "{end:?}");
    }
}
