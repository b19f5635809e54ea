//! The write-ahead log of `--persistence sync`. Each group of changes the writer takes from
//! the journal is appended here as one record and synced (`fdatasync`) before the
//! acknowledgements waiting for it go out; the redb store takes the same changes later, in
//! one larger transaction per checkpoint, off the acknowledgements' path. At start, the
//! groups the store has not checkpointed yet are read back and applied first.
//!
//! Files: `wal-<number of its first group, 16 hex digits>.log` in the data folder, each
//! [`SEGMENT_BYTES`] long (sparse) from its creation, so an append does not change the
//! file's size. A record: body length (u32 LE), xxh3-64 of the group number and the body
//! (u64 LE), group number (u64 LE), body (`record::encode_group`). A zero length, a record
//! that would run past the end, a checksum that does not match or a group number out of
//! sequence ends the log: that is a write the broker never synced, so nothing it
//! acknowledged. Anywhere but in the last file, that is damage.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use xxhash_rust::xxh3::Xxh3;

/// How long a log file is made; a group larger than what is left starts a new file
/// (one larger than this, if the group is).
pub const SEGMENT_BYTES: u64 = 64 << 20;
const HEADER_BYTES: usize = 4 + 8 + 8;
const PREFIX: &str = "wal-";
const SUFFIX: &str = ".log";

/// The log being appended to, and the older files that are kept until a checkpoint
/// covers them.
pub struct Wal {
    dir: PathBuf,
    file: File,
    offset: u64,
    len: u64,
    /// The group the next append must carry.
    next_group: u64,
    /// The first group of the file being appended to (its name).
    current_first: u64,
    /// Older files, with the last group each holds.
    older: Vec<(u64, PathBuf)>,
}

fn checksum(group: u64, body: &[u8]) -> u64 {
    let mut hasher = Xxh3::new();
    hasher.update(&group.to_le_bytes());
    hasher.update(body);
    hasher.digest()
}

/// The log files in `dir`, oldest first, with the group each starts at.
pub fn files(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(hex) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.strip_suffix(SUFFIX))
        else {
            continue;
        };
        if let Ok(first) = u64::from_str_radix(hex, 16) {
            found.push((first, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// Every group the log files in `dir` hold, in order: (group number, body). An error
/// names the file and what is wrong with it.
pub fn read(dir: &Path) -> Result<Vec<(u64, Vec<u8>)>, String> {
    let files = files(dir).map_err(|e| format!("cannot list the write-ahead log: {e}"))?;
    let mut groups = Vec::new();
    let mut expected: Option<u64> = None;
    for (index, (first, path)) in files.iter().enumerate() {
        let last_file = index + 1 == files.len();
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if expected.is_some_and(|next| next != *first) {
            return Err(format!(
                "{} starts at group {first}, but the log before it ends before group {}",
                path.display(),
                expected.unwrap_or(0)
            ));
        }
        let mut group = *first;
        let mut at = 0;
        let ended_cleanly = loop {
            let Some(header) = bytes.get(at..at + HEADER_BYTES) else {
                break true;
            };
            let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
            if len == 0 {
                break true;
            }
            let sum = u64::from_le_bytes(header[4..12].try_into().unwrap_or_default());
            let number = u64::from_le_bytes(header[12..20].try_into().unwrap_or_default());
            let Some(body) = bytes.get(at + HEADER_BYTES..at + HEADER_BYTES + len) else {
                break false;
            };
            if number != group || checksum(number, body) != sum {
                break false;
            }
            groups.push((number, body.to_vec()));
            group += 1;
            at += HEADER_BYTES + len;
        };
        if !ended_cleanly && !last_file {
            return Err(format!(
                "{}: the record at byte {at} is damaged, and later log files follow",
                path.display()
            ));
        }
        expected = Some(group);
    }
    Ok(groups)
}

/// Removes every log file in `dir` (once the store holds all they had).
pub fn remove_all(dir: &Path) -> io::Result<()> {
    for (_, path) in files(dir)? {
        std::fs::remove_file(path)?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Wal {
    /// Starts a new log file in `dir` whose first group is `next_group`. The folder must
    /// hold no log files the store has not taken (`Store::open` replays and removes them).
    pub fn create(dir: &Path, next_group: u64) -> io::Result<Wal> {
        let (file, len) = Wal::new_file(dir, next_group, SEGMENT_BYTES)?;
        Ok(Wal {
            dir: dir.to_path_buf(),
            file,
            offset: 0,
            len,
            next_group,
            current_first: next_group,
            older: Vec::new(),
        })
    }

    fn path(dir: &Path, first_group: u64) -> PathBuf {
        dir.join(format!("{PREFIX}{first_group:016x}{SUFFIX}"))
    }

    fn new_file(dir: &Path, first_group: u64, len: u64) -> io::Result<(File, u64)> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(Wal::path(dir, first_group))?;
        file.set_len(len)?;
        file.sync_all()?;
        // The file itself must survive a crash, not only its contents.
        sync_dir(dir)?;
        Ok((file, len))
    }

    /// Appends `body` as the next group and syncs it: when this returns, the group
    /// survives a crash. Returns the group's number.
    pub fn append(&mut self, body: &[u8]) -> io::Result<u64> {
        let group = self.next_group;
        let len = u32::try_from(body.len())
            .map_err(|_| io::Error::other("a group of changes over 4 GiB"))?;
        let needed = (HEADER_BYTES + body.len()) as u64;
        if self.offset + needed > self.len {
            let (file, file_len) = Wal::new_file(&self.dir, group, SEGMENT_BYTES.max(needed))?;
            self.file = file;
            self.older
                .push((group - 1, Wal::path(&self.dir, self.current_first)));
            self.current_first = group;
            self.offset = 0;
            self.len = file_len;
        }
        let mut record = Vec::with_capacity(HEADER_BYTES + body.len());
        record.extend_from_slice(&len.to_le_bytes());
        record.extend_from_slice(&checksum(group, body).to_le_bytes());
        record.extend_from_slice(&group.to_le_bytes());
        record.extend_from_slice(body);
        self.file.write_all_at(&record, self.offset)?;
        self.file.sync_data()?;
        self.offset += needed;
        self.next_group += 1;
        Ok(group)
    }

    /// The store has taken every group up to `group`: older files that hold nothing
    /// later are removed.
    pub fn checkpointed(&mut self, group: u64) -> io::Result<()> {
        while let Some((last, path)) = self.older.first() {
            if *last > group {
                break;
            }
            std::fs::remove_file(path)?;
            self.older.remove(0);
        }
        Ok(())
    }
}
