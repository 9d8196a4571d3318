//! Reading a file that someone else may have planted: the file cache's entries and the flag
//! overrides file live in directories other users or processes can write.
//!
//! A leaf module (std only), shared by the file cache and the overrides. Only a regular file
//! is read, never through a symbolic link at its own name, and never more than a bound:
//!
//! * On Unix the file is opened with `O_NOFOLLOW | O_NONBLOCK` and the *opened handle* is
//!   checked with `fstat`. `O_NOFOLLOW` makes the kernel refuse a symbolic link at the last
//!   component (`ELOOP`), so a link to `/dev/zero` or to a root-only file is never opened;
//!   `O_NONBLOCK` makes opening a FIFO return at once instead of waiting for a writer (and
//!   leaves reads of a regular file unchanged). Because the type is checked on the handle that
//!   is then read, there is no gap between check and use: swapping the name for a FIFO or a
//!   directory after the check changes nothing, the handle is still the checked file.
//! * On Windows the file is opened with `FILE_FLAG_OPEN_REPARSE_POINT` (the link itself, not
//!   its target, is opened) and the handle's metadata is checked the same way.
//! * Elsewhere the handle's metadata is checked after a plain open (which follows links).
//!
//! Errors never carry the file's content (nor its path, which the caller adds): only what is
//! wrong with it.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

/// The most a local file may hold: the largest body the HTTP client accepts by default, plus
/// room for an entry's first two lines (fetch time and ETag). One source of truth with the
/// HTTP limit.
pub(crate) const MAX_FILE_BYTES: u64 = crate::defaults::DEFAULT_MAX_BODY_BYTES as u64 + 64 * 1024;

/// Whether a symbolic link at the path itself is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Links {
    /// Refused: for a name in a directory others can write (the file cache).
    Refuse,
    /// Followed, to a target that must be a regular file all the same: for a path the
    /// application chose (an overrides file mounted as a link, as Kubernetes mounts a
    /// ConfigMap).
    Follow,
}

/// Opens `path` for reading if it is a regular file, without blocking on a FIFO or a device,
/// and (with [`Links::Refuse`]) without following a symbolic link at `path` itself.
///
/// # Errors
/// `NotFound` when nothing is there; `IsADirectory` for a directory; `InvalidInput` for a
/// symbolic link, a FIFO, a device or a socket (the message says which); other I/O errors as
/// they come.
pub(crate) fn open_regular(path: &Path, links: Links) -> io::Result<File> {
    let file = open_nonblocking(path, links).map_err(refused_link)?;
    let kind = file.metadata()?.file_type();
    if kind.is_file() {
        return Ok(file);
    }
    // A directory is told apart: no write can replace it, unlike the others.
    let error_kind = if kind.is_dir() {
        io::ErrorKind::IsADirectory
    } else {
        io::ErrorKind::InvalidInput
    };
    Err(io::Error::new(
        error_kind,
        format!("it is {}, not a regular file", describe(&kind)),
    ))
}

/// Reads the regular file at `path` whole, if it holds at most `limit` bytes.
///
/// # Errors
/// Those of [`open_regular`], and `InvalidData` when the file is larger than `limit` (checked
/// before reading, and again while reading, for a file that grows meanwhile).
pub(crate) fn read_bounded(path: &Path, links: Links, limit: u64) -> io::Result<Vec<u8>> {
    let file = open_regular(path, links)?;
    let too_large = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("it is larger than {limit} bytes"),
        )
    };
    let len = file.metadata()?.len();
    if len > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Reads the regular file at `path` as UTF-8 text, within `limit` bytes.
///
/// # Errors
/// Those of [`read_bounded`], and `InvalidData` when the bytes are not UTF-8 (the message
/// never quotes them).
pub(crate) fn read_text(path: &Path, links: Links, limit: u64) -> io::Result<String> {
    String::from_utf8(read_bounded(path, links, limit)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "it is not UTF-8 text"))
}

#[cfg(unix)]
fn open_nonblocking(path: &Path, links: Links) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let no_follow = match links {
        Links::Refuse => libc::O_NOFOLLOW,
        Links::Follow => 0,
    };
    OpenOptions::new()
        .read(true)
        .custom_flags(no_follow | libc::O_NONBLOCK)
        .open(path)
}

#[cfg(windows)]
fn open_nonblocking(path: &Path, links: Links) -> io::Result<File> {
    use std::os::windows::fs::OpenOptionsExt;
    /// `FILE_FLAG_OPEN_REPARSE_POINT`: opens a symbolic link itself rather than its target.
    const OPEN_REPARSE_POINT: u32 = 0x0020_0000;
    let mut options = OpenOptions::new();
    options.read(true);
    if links == Links::Refuse {
        options.custom_flags(OPEN_REPARSE_POINT);
    }
    options.open(path)
}

#[cfg(not(any(unix, windows)))]
fn open_nonblocking(path: &Path, _: Links) -> io::Result<File> {
    File::open(path)
}

/// `O_NOFOLLOW` refuses a symbolic link with `ELOOP`, whose own text ("too many levels of
/// symbolic links") would mislead: say what it is.
fn refused_link(error: io::Error) -> io::Error {
    #[cfg(unix)]
    if error.raw_os_error() == Some(libc::ELOOP) {
        return io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is a symbolic link, which is not followed",
        );
    }
    error
}

/// What kind of file `kind` is, for an error message.
fn describe(kind: &std::fs::FileType) -> &'static str {
    if kind.is_dir() {
        return "a directory";
    }
    if kind.is_symlink() {
        return "a symbolic link";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "a special file"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "configcat-local-file-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_regular_file_is_read_within_the_limit_and_refused_beyond_it() {
        let dir = scratch("limit");
        let path = dir.join("entry");
        std::fs::write(&path, b"0123456789").unwrap();
        assert_eq!(
            read_bounded(&path, Links::Refuse, 10).unwrap(),
            b"0123456789"
        );
        let error = read_bounded(&path, Links::Refuse, 9).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(error.to_string().contains("larger than 9 bytes"), "{error}");
        assert!(!error.to_string().contains("0123"), "{error}");
        assert_eq!(
            read_bounded(&dir.join("missing"), Links::Refuse, 9)
                .unwrap_err()
                .kind(),
            io::ErrorKind::NotFound
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn text_that_is_not_utf8_is_refused_without_its_bytes() {
        let dir = scratch("utf8");
        let path = dir.join("entry");
        std::fs::write(&path, b"secret\xff").unwrap();
        let error = read_text(&path, Links::Refuse, 100).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(!error.to_string().contains("secret"), "{error}");
        let _ = std::fs::remove_dir_all(dir);
    }

    // Windows refuses to open a directory as a file at all (access denied).
    #[cfg(unix)]
    #[test]
    fn a_directory_is_not_read() {
        let dir = scratch("dir");
        let error = read_bounded(&dir, Links::Follow, 100).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::IsADirectory, "{error}");
        assert!(error.to_string().contains("a directory"), "{error}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[cfg(unix)]
    #[test]
    fn links_and_devices_are_never_opened() {
        let dir = scratch("links");
        let private = dir.join("private");
        std::fs::write(&private, b"root-only password").unwrap();
        for (name, target) in [
            ("to-file", private.as_path()),
            ("to-zero", Path::new("/dev/zero")),
        ] {
            let link = dir.join(name);
            std::os::unix::fs::symlink(target, &link).unwrap();
            let error = read_text(&link, Links::Refuse, MAX_FILE_BYTES).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{error}");
            assert!(error.to_string().contains("symbolic link"), "{error}");
            assert!(!error.to_string().contains("password"), "{error}");
        }
        // Followed where asked, to a regular file only.
        let link = dir.join("to-file");
        assert_eq!(
            read_text(&link, Links::Follow, 100).unwrap(),
            "root-only password"
        );
        let error = read_bounded(&dir.join("to-zero"), Links::Follow, MAX_FILE_BYTES).unwrap_err();
        assert!(error.to_string().contains("a device"), "{error}");
        // A FIFO with no writer: refused at once, never waited on.
        let fifo = dir.join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        let error = read_bounded(&fifo, Links::Follow, MAX_FILE_BYTES).unwrap_err();
        assert!(error.to_string().contains("a FIFO"), "{error}");
        // A device node itself (not through a link) is refused by its type.
        let error =
            read_bounded(Path::new("/dev/zero"), Links::Refuse, MAX_FILE_BYTES).unwrap_err();
        assert!(error.to_string().contains("a device"), "{error}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
