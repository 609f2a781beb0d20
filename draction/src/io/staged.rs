//! [`StagedDir`]: write a folder of outputs so that a crash or a kill never leaves half-written
//! files in it.
//!
//! Files are written into a hidden sibling folder (`.NAME.partial-PID`); [`StagedDir::commit`]
//! then renames them into the real folder, each rename atomic, with a chosen file (the report,
//! e.g. `render.json`) removed first and renamed last, so that its presence means the set is
//! whole. A folder left by a killed run is removed by the next run into the same place, and an
//! error (or a panic) removes it at once. Files already in the target that are not replaced stay.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A staging folder beside an output folder. Dropped without [`StagedDir::commit`], it is
/// removed with everything in it.
#[derive(Debug)]
pub struct StagedDir {
    target: PathBuf,
    staging: PathBuf,
    committed: bool,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Whether the process `pid` still runs (Linux `/proc`; elsewhere every process counts as alive,
/// so only this platform cleans up after killed runs).
fn alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

impl StagedDir {
    /// Starts staging outputs for the folder `target` (which need not exist yet). Removes the
    /// staging folders of earlier runs into `target` that were killed.
    ///
    /// # Errors
    /// [`Error::Io`] when `target` exists but is not a folder, or the staging folder cannot be
    /// created.
    pub fn new(target: &Path) -> Result<StagedDir> {
        if target.exists() && !target.is_dir() {
            return Err(Error::Io {
                path: target.to_path_buf(),
                source: std::io::Error::other("exists and is not a folder"),
            });
        }
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".to_string());
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(io_err(&parent))?;
        let prefix = format!(".{name}.partial-");
        if let Ok(entries) = std::fs::read_dir(&parent) {
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                let stale = file
                    .strip_prefix(&prefix)
                    .and_then(|pid| pid.parse::<u32>().ok())
                    .is_some_and(|pid| pid != std::process::id() && !alive(pid));
                if stale {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let staging = parent.join(format!("{prefix}{}", std::process::id()));
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(io_err(&staging))?;
        }
        std::fs::create_dir_all(&staging).map_err(io_err(&staging))?;
        Ok(StagedDir {
            target: target.to_path_buf(),
            staging,
            committed: false,
        })
    }

    /// The folder to write into now.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// The folder the outputs end up in.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Where a staged path will be after [`StagedDir::commit`].
    pub fn final_path(&self, staged: &Path) -> PathBuf {
        match staged.strip_prefix(&self.staging) {
            Ok(rel) => self.target.join(rel),
            Err(_) => staged.to_path_buf(),
        }
    }

    /// Moves every staged file into the target folder. `last` (a file name, e.g. the run's
    /// report) is removed from the target first and moved in last; `stale` names files of an
    /// earlier run to remove from the target when this run did not write them (e.g.
    /// `frame_13.png` after a 12-frame render).
    ///
    /// # Errors
    /// [`Error::Io`] naming the file that could not be moved or removed.
    pub fn commit(mut self, last: Option<&str>, stale: impl Fn(&str) -> bool) -> Result<()> {
        let target = self.target.clone();
        if !target.exists() {
            // Nothing to merge with: the whole folder appears in one rename.
            std::fs::rename(&self.staging, &target).map_err(io_err(&target))?;
            self.committed = true;
            return Ok(());
        }
        if let Some(last) = last {
            let report = target.join(last);
            if report.exists() {
                std::fs::remove_file(&report).map_err(io_err(&report))?;
            }
        }
        let mut names: Vec<String> = std::fs::read_dir(&self.staging)
            .map_err(io_err(&self.staging))?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        if let Ok(entries) = std::fs::read_dir(&target) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if stale(&name) && !names.contains(&name) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        names.sort_by_key(|n| Some(n.as_str()) == last);
        for name in &names {
            let to = target.join(name);
            std::fs::rename(self.staging.join(name), &to).map_err(io_err(&to))?;
        }
        let _ = std::fs::remove_dir_all(&self.staging);
        self.committed = true;
        Ok(())
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.staging);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn new_folder_appears_whole() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        let s = StagedDir::new(&out).unwrap();
        std::fs::write(s.path().join("a.txt"), "a").unwrap();
        assert!(!out.exists(), "nothing is visible before the commit");
        assert_eq!(s.final_path(&s.path().join("a.txt")), out.join("a.txt"));
        s.commit(None, |_| false).unwrap();
        assert_eq!(names(&out), ["a.txt"]);
        assert_eq!(names(root.path()), ["out"], "no staging folder is left");
    }

    #[test]
    fn merge_replaces_report_last_and_drops_stale_files() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        std::fs::create_dir(&out).unwrap();
        for f in ["mine.txt", "frame_03.png", "report.json"] {
            std::fs::write(out.join(f), "old").unwrap();
        }
        let s = StagedDir::new(&out).unwrap();
        std::fs::write(s.path().join("frame_01.png"), "new").unwrap();
        std::fs::write(s.path().join("report.json"), "new").unwrap();
        s.commit(Some("report.json"), |n| n.starts_with("frame_"))
            .unwrap();
        assert_eq!(names(&out), ["frame_01.png", "mine.txt", "report.json"]);
        assert_eq!(
            std::fs::read_to_string(out.join("report.json")).unwrap(),
            "new"
        );
        assert_eq!(names(root.path()), ["out"]);
    }

    #[test]
    fn dropped_without_commit_leaves_nothing_and_stale_runs_are_cleaned() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        {
            let s = StagedDir::new(&out).unwrap();
            std::fs::write(s.path().join("half.npy"), "x").unwrap();
        }
        assert!(names(root.path()).is_empty());
        // A killed run's folder (a pid that cannot be running) is removed by the next run.
        let dead = root.path().join(".out.partial-4294967295");
        std::fs::create_dir(&dead).unwrap();
        std::fs::write(dead.join("frames.npy"), "x").unwrap();
        let s = StagedDir::new(&out).unwrap();
        assert!(!dead.exists());
        drop(s);
        // A file in the way is an error naming it.
        std::fs::write(&out, "file").unwrap();
        let e = StagedDir::new(&out).unwrap_err().to_string();
        assert!(e.contains("not a folder"), "{e}");
    }
}
