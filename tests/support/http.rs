//! Just enough HTTP/1.1 for the test servers: request heads in, responses out.

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The longest request head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// A request as a test server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `CONNECT`, ...
    pub method: String,
    /// The request target: a path (`/configuration-files/...`), or `host:port` for CONNECT.
    pub path: String,
    /// The headers in order, names lowercased.
    pub headers: Vec<(String, String)>,
}

impl RecordedRequest {
    /// The first value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `X-ConfigCat-UserAgent`.
    pub fn user_agent(&self) -> Option<&str> {
        self.header("x-configcat-useragent")
    }

    /// `If-None-Match`.
    pub fn if_none_match(&self) -> Option<&str> {
        self.header("if-none-match")
    }

    /// Whether the client asked to close the connection after this request.
    pub(crate) fn wants_close(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// Reads one request head (and discards a body declared by Content-Length); `None` at a clean
/// end of stream.
pub(crate) async fn read_request<R: AsyncBufRead + Unpin>(
    reader: &mut R,
) -> io::Result<Option<RecordedRequest>> {
    let mut line = String::new();
    let mut total = 0;
    // Skip blank lines between requests.
    loop {
        line.clear();
        let n = reader.read_line(&mut line).await?;
        if n == 0 {
            return Ok(None);
        }
        total += n;
        if !line.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("").to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "end of stream in the request head",
            ));
        }
        total += n;
        if total > MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too long",
            ));
        }
        let trimmed = line.trim_end_matches(['\r', '\n']);
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let request = RecordedRequest {
        method,
        path,
        headers,
    };
    if let Some(length) = request
        .header("content-length")
        .and_then(|v| v.parse::<u64>().ok())
    {
        let mut sink = tokio::io::sink();
        tokio::io::copy(&mut (&mut *reader).take(length), &mut sink).await?;
    }
    Ok(Some(request))
}

/// How a response body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `Content-Length`, the whole body.
    Length,
    /// `Transfer-Encoding: chunked`, in 8 KiB chunks.
    Chunked,
    /// `Content-Length` of the whole body, but only the first `n` bytes are written before the
    /// connection is closed.
    CutAfter(usize),
    /// `Content-Length` of the whole body, the head sent at once, then the body `step` bytes at
    /// a time with `pause` before each piece: a slow, trickling body.
    Trickle {
        /// Bytes per piece (at least 1).
        step: usize,
        /// The wait before each piece.
        pause: std::time::Duration,
    },
}

/// Writes a response. `extra` headers come after the status line.
pub(crate) async fn write_response<W: AsyncWrite + Unpin>(
    writer: &mut W,
    status: u16,
    extra: &[(&str, String)],
    body: &[u8],
    framing: Framing,
) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let bodyless = status == 304 || status == 204 || (100..200).contains(&status);
    match framing {
        _ if bodyless => {}
        Framing::Length | Framing::CutAfter(_) | Framing::Trickle { .. } => {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()))
        }
        Framing::Chunked => head.push_str("Transfer-Encoding: chunked\r\n"),
    }
    head.push_str("\r\n");
    writer.write_all(head.as_bytes()).await?;
    if !bodyless {
        match framing {
            Framing::Length => writer.write_all(body).await?,
            Framing::CutAfter(n) => {
                writer.write_all(&body[..n.min(body.len())]).await?;
                writer.flush().await?;
                return Err(io::Error::other("connection cut on purpose"));
            }
            Framing::Trickle { step, pause } => {
                // The head goes out at once: only the body is slow.
                writer.flush().await?;
                for piece in body.chunks(step.max(1)) {
                    tokio::time::sleep(pause).await;
                    writer.write_all(piece).await?;
                    writer.flush().await?;
                }
            }
            Framing::Chunked => {
                for chunk in body.chunks(8 * 1024) {
                    writer
                        .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                        .await?;
                    writer.write_all(chunk).await?;
                    writer.write_all(b"\r\n").await?;
                }
                writer.write_all(b"0\r\n\r\n").await?;
            }
        }
    }
    writer.flush().await
}

/// The reason phrase of the statuses the tests use.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}
