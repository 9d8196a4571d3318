//! `TempDir`: a scratch directory for override files and file caches.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

static DIRECTORIES: AtomicUsize = AtomicUsize::new(0);

/// A fresh, empty directory under the system temp dir, unique to this process and call;
/// removed (with its contents) when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new directory whose name contains `name`.
    pub fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "configcat-actix-{name}-{}-{}",
            std::process::id(),
            DIRECTORIES.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("creating a temp dir");
        TempDir(path)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A path in the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The names of the files in the directory, sorted.
    pub fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
