//! A read side that refuses any Redis reply larger than a limit before it is buffered.
//!
//! The `redis` crate's codec buffers a reply until it is complete, whatever length the server
//! announces: a server that announces a 1 GB bulk string and streams it would be buffered
//! whole. [`Guarded`] sits between the socket and that codec and follows the RESP framing of
//! the bytes that pass (headers, bulk lengths, aggregate counts, not the contents): when one
//! top-level reply would exceed the limit, or a header line never ends, the read fails with an
//! I/O error, the connection is dropped, and at most about the limit was ever held.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What a reply may hold beyond the entry itself: headers, a `SET`'s `+OK`, an error line.
pub(super) const REPLY_OVERHEAD: usize = 4096;

/// Where the scanner is within the reply stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a header line (type byte up to CRLF), `line` bytes of it so far.
    Line,
    /// Skipping a bulk body (contents and its CRLF), this many bytes left.
    Body(u64),
}

/// Follows RESP2/RESP3 framing and counts the bytes of the current top-level reply.
#[derive(Debug)]
pub(super) struct Scanner {
    limit: u64,
    state: State,
    /// The header line being read (only its first bytes matter: type and length).
    line: Vec<u8>,
    /// Elements still expected by each open aggregate, innermost last.
    open: Vec<u64>,
    /// Bytes of the current top-level reply so far.
    reply: u64,
}

/// Why a reply was refused.
fn too_large(limit: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "a reply over the limit of {limit} bytes (the largest entry plus framing); \
             the connection was dropped"
        ),
    )
}

fn malformed() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "a malformed Redis reply")
}

impl Scanner {
    /// A scanner refusing replies of more than `limit` bytes in all.
    pub(super) fn new(limit: usize) -> Scanner {
        Scanner {
            limit: limit as u64,
            state: State::Line,
            line: Vec::new(),
            open: Vec::new(),
            reply: 0,
        }
    }

    /// Accounts for `bytes`, the next ones of the stream.
    pub(super) fn feed(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let used = match self.state {
                State::Body(left) => {
                    let take = left.min(bytes.len() as u64);
                    self.count(take)?;
                    if take == left {
                        self.state = State::Line;
                        self.element_done();
                    } else {
                        self.state = State::Body(left - take);
                    }
                    take as usize
                }
                State::Line => match bytes.iter().position(|&b| b == b'\n') {
                    Some(end) => {
                        self.count(end as u64 + 1)?;
                        self.keep_line_start(&bytes[..end]);
                        self.header()?;
                        end + 1
                    }
                    None => {
                        self.count(bytes.len() as u64)?;
                        self.keep_line_start(bytes);
                        bytes.len()
                    }
                },
            };
            bytes = &bytes[used..];
        }
        Ok(())
    }

    /// Adds `bytes` to the current reply: an error past the limit.
    fn count(&mut self, bytes: u64) -> io::Result<()> {
        self.reply = self.reply.saturating_add(bytes);
        if self.reply > self.limit {
            return Err(too_large(self.limit));
        }
        Ok(())
    }

    /// Only the start of a header line is needed to read a length (a simple string or an
    /// error line is text: counted, not kept).
    fn keep_line_start(&mut self, part: &[u8]) {
        let keep = 32usize.saturating_sub(self.line.len()).min(part.len());
        self.line.extend_from_slice(&part[..keep]);
    }

    /// A complete header line is in `line` (without its `\n`).
    fn header(&mut self) -> io::Result<()> {
        let line = std::mem::take(&mut self.line);
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        let Some((&kind, rest)) = line.split_first() else {
            return Err(malformed());
        };
        let number = || -> io::Result<i64> {
            std::str::from_utf8(rest)
                .ok()
                .and_then(|text| text.parse().ok())
                .ok_or_else(malformed)
        };
        match kind {
            // Simple string, error, integer, null, boolean, double, big number.
            b'+' | b'-' | b':' | b'_' | b'#' | b',' | b'(' => self.element_done(),
            // Bulk string, bulk error, verbatim string: a length, then the body and CRLF.
            b'$' | b'!' | b'=' => match u64::try_from(number()?) {
                Err(_) => self.element_done(), // `$-1`: the RESP2 null.
                Ok(length) if length > self.limit => return Err(too_large(self.limit)),
                Ok(length) => self.state = State::Body(length + 2),
            },
            // Array, set, push; map and attribute hold pairs.
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let count = match u64::try_from(number()?) {
                    Err(_) => 0, // `*-1`: the RESP2 null array.
                    Ok(count) if kind == b'%' || kind == b'|' => count.saturating_mul(2),
                    Ok(count) => count,
                };
                if count > self.limit {
                    return Err(too_large(self.limit));
                }
                if kind == b'|' {
                    // An attribute precedes a reply and is not an element of its parent: it
                    // is an aggregate one element larger, the reply it annotates.
                    self.open.push(count + 1);
                } else if count == 0 {
                    self.element_done();
                } else {
                    self.open.push(count);
                }
            }
            _ => return Err(malformed()),
        }
        Ok(())
    }

    /// One element ended: close every aggregate it completes, and the reply if it was the
    /// top-level one.
    fn element_done(&mut self) {
        loop {
            match self.open.last_mut() {
                None => {
                    self.reply = 0;
                    return;
                }
                Some(left) if *left > 1 => {
                    *left -= 1;
                    return;
                }
                Some(_) => {
                    self.open.pop();
                }
            }
        }
    }
}

/// A stream whose read side is checked by a [`Scanner`]; writes pass through.
pub(super) struct Guarded<S> {
    inner: S,
    scanner: Scanner,
}

impl<S> Guarded<S> {
    /// `inner`, refusing replies of more than `limit` bytes.
    pub(super) fn new(inner: S, limit: usize) -> Guarded<S> {
        Guarded {
            inner,
            scanner: Scanner::new(limit),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let read = &buf.filled()[before..];
                Poll::Ready(this.scanner.feed(read))
            }
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(limit: usize, chunks: &[&[u8]]) -> io::Result<Scanner> {
        let mut scanner = Scanner::new(limit);
        for chunk in chunks {
            scanner.feed(chunk)?;
        }
        Ok(scanner)
    }

    #[test]
    fn replies_within_the_limit_pass_and_reset_the_count() {
        // Many small replies, in one chunk and split at every byte: each is counted alone.
        let stream: Vec<u8> =
            b"+OK\r\n$5\r\nhello\r\n:1\r\n$-1\r\n*2\r\n$3\r\nabc\r\n*-1\r\n".repeat(50);
        let scanner = feed_all(20, &[&stream]).unwrap();
        assert_eq!((scanner.reply, scanner.open.len()), (0, 0));
        let mut scanner = Scanner::new(20);
        for byte in &stream {
            scanner.feed(std::slice::from_ref(byte)).unwrap();
        }
        assert_eq!((scanner.reply, scanner.state), (0, State::Line));
    }

    #[test]
    fn an_announced_bulk_over_the_limit_is_refused_at_its_header() {
        let error = feed_all(1024, &[b"$1000000000\r\n"]).err().unwrap();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(error.to_string().contains("1024 bytes"), "{error}");
        // The limit counts the whole reply, header and CRLFs included (17 bytes here).
        feed_all(17, &[b"$10\r\n0123456789\r\n"]).unwrap();
        assert!(feed_all(16, &[b"$10\r\n", b"0123456789\r\n"]).is_err());
    }

    #[test]
    fn an_aggregate_over_the_limit_is_refused_as_a_whole() {
        // Ten bulks of 5 bytes each fit the limit of 20 one by one, not together.
        let mut reply = b"*10\r\n".to_vec();
        reply.extend(b"$5\r\nabcde\r\n".repeat(10));
        assert!(feed_all(20, &[&reply]).is_err());
        assert!(feed_all(200, &[&reply]).is_ok());
        // Nested, and split across reads.
        let nested = b"*2\r\n*1\r\n$3\r\nabc\r\n%1\r\n+k\r\n:7\r\n+next\r\n";
        let (a, b) = nested.split_at(13);
        let scanner = feed_all(40, &[a, b]).unwrap();
        assert_eq!((scanner.reply, scanner.open.len()), (0, 0));
    }

    #[test]
    fn a_line_that_never_ends_is_refused() {
        let chunk = vec![b'a'; 100];
        let mut scanner = Scanner::new(1000);
        scanner.feed(b"+").unwrap();
        let refused = (0..20).any(|_| scanner.feed(&chunk).is_err());
        assert!(refused);
        assert!(scanner.line.len() <= 32, "only the start of a line is kept");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for junk in [
            &b"?\r\n"[..],
            b"$abc\r\n",
            b"\r\n",
            b"*99999999999999999999\r\n",
        ] {
            assert!(feed_all(1000, &[junk]).is_err(), "{junk:?}");
        }
    }
}
