//! `lossyfs`: a FUSE filesystem that forgets every write not yet made
//! durable, on command — the model of a power loss under a node's data
//! directory, for the `lose-unsynced` nemesis.
//!
//! kill -9 alone never loses a byte that reached `write(2)`: it sits in the
//! page cache and the next process reads it back. So a node that forgets to
//! fsync its write-ahead log passes every kill test. Under this filesystem
//! a "crash" takes back exactly what a machine losing power may lose.
//!
//! What is modelled:
//!
//! - **File data is durable only once fsynced.** Every write, truncate,
//!   `fallocate` that changes the length and punched hole leaves an entry in
//!   the file's undo log (the length before, the bytes it overwrote);
//!   `fsync` or `fdatasync` of the file (through any descriptor) empties the
//!   log, and so does a write through a descriptor opened `O_SYNC` or
//!   `O_DSYNC`. A crash replays every file's log backwards, so each file is
//!   exactly as it was at its last sync: no torn writes, no partial loss.
//! - **Directory operations are durable at once** (create, mkdir, unlink,
//!   rmdir, rename — over an existing file too — are never taken back, so
//!   `fsync` of a directory has nothing to do). A file created and never
//!   synced survives a crash empty.
//!
//! That is weaker than a real disk (ext4 may also lose a rename or a new
//! directory entry that was not fsynced), but it is exactly enough for the
//! question asked: RocksDB appends each write to its write-ahead log and,
//! for a write with `sync`, calls `fdatasync` on that log before answering.
//! Whatever a node acknowledged without that `fdatasync` is in the WAL's
//! un-synced tail, and the crash cuts the tail off. RocksDB's own
//! bookkeeping (MANIFEST and SST files written and fsynced before `CURRENT`
//! is renamed over) is durable here as on a disk. The files' bytes are
//! kept in unnamed files in a backing directory on the machine's disk (the
//! node's directory), gone with their inodes; only the undo logs are in
//! memory, and they hold just the bytes that un-synced changes overwrote
//! (appends overwrite none).
//!
//! What a node does through it: create, open, read, write at any offset
//! (append included), fsync, fdatasync, rename over an existing file,
//! unlink (an open file lives on until closed), mkdir, rmdir, readdir,
//! truncate and ftruncate, `fallocate` (plain and `FALLOC_FL_KEEP_SIZE`
//! preallocation, `FALLOC_FL_PUNCH_HOLE`; other modes are refused with
//! `EOPNOTSUPP`), statfs, and POSIX and BSD locks (left to the kernel,
//! which handles them locally on a FUSE mount that does not claim them).
//! Entries and attributes are given with a zero TTL and files are opened
//! without `FOPEN_KEEP_CACHE`, so after a crash the kernel asks again and
//! never serves the forgotten bytes from its caches. No symlinks, hard
//! links or extended attributes (RocksDB needs none).
//!
//! While a crashed filesystem waits for its node to restart, every
//! request is answered `EIO`: only a request the dead process had already
//! sent can arrive then, and it must not land after the crash.

mod contents;

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use fuser::{
    BackgroundSession, Config, Errno, FileAttr, FileHandle, FileType, FopenFlags, Generation,
    INodeNo, LockOwner, MountOption, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow,
    WriteFlags,
};
use libc::{FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, O_DSYNC, O_EXCL, O_TRUNC};
use serde::Serialize;

use crate::cmd;
use contents::{Contents, Refused};

/// The source name of every mount, as `/proc/mounts` shows it.
pub const FS_NAME: &str = "jepsen-tests-lossyfs";
/// The mount type's subtype (`fuse.lossyfs`).
const SUBTYPE: &str = "lossyfs";
/// Nothing is cached by the kernel.
const TTL: Duration = Duration::ZERO;
/// The block size reported.
const BLOCK: u32 = 4096;
/// The capacity reported by statfs.
const CAPACITY: u64 = 64 << 30;
/// The longest name.
const NAME_MAX: usize = 255;

enum Body {
    Dir {
        parent: u64,
        entries: BTreeMap<OsString, u64>,
    },
    File(Contents),
}

struct Inode {
    body: Body,
    perm: u16,
    uid: u32,
    gid: u32,
    nlink: u32,
    open: u32,
    atime: SystemTime,
    mtime: SystemTime,
    ctime: SystemTime,
}

impl Inode {
    fn new(body: Body, perm: u16, uid: u32, gid: u32) -> Inode {
        let now = SystemTime::now();
        Inode {
            body,
            perm,
            uid,
            gid,
            nlink: 1,
            open: 0,
            atime: now,
            mtime: now,
            ctime: now,
        }
    }

    fn kind(&self) -> FileType {
        match self.body {
            Body::Dir { .. } => FileType::Directory,
            Body::File(_) => FileType::RegularFile,
        }
    }

    fn touch(&mut self) {
        let now = SystemTime::now();
        self.mtime = now;
        self.ctime = now;
    }
}

/// What one crash took away.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Lost {
    /// Files that had un-synced changes.
    pub files: u64,
    /// Un-synced changes undone (appends in a row count once).
    pub changes: u64,
    /// Bytes written since each file's last sync.
    pub bytes: u64,
    /// Those bytes per file (its path in the filesystem).
    pub per_file: BTreeMap<String, u64>,
}

/// The whole filesystem.
struct State {
    inodes: HashMap<u64, Inode>,
    next_ino: u64,
    listings: HashMap<u64, Vec<(u64, FileType, OsString)>>,
    next_fh: u64,
    down: bool,
    /// Where the files' bytes are kept (as unnamed files).
    backing: PathBuf,
}

type Result<T> = std::result::Result<T, Errno>;

fn refused(refused: Refused) -> Errno {
    match refused {
        Refused::TooLarge => Errno::EFBIG,
        Refused::Io(error) => Errno::from(error),
    }
}

impl State {
    fn new(backing: PathBuf) -> State {
        let root = Inode::new(
            Body::Dir {
                parent: INodeNo::ROOT.0,
                entries: BTreeMap::new(),
            },
            0o755,
            0,
            0,
        );
        State {
            inodes: HashMap::from([(INodeNo::ROOT.0, root)]),
            next_ino: INodeNo::ROOT.0 + 1,
            listings: HashMap::new(),
            next_fh: 1,
            down: false,
            backing,
        }
    }

    /// A new, empty file's contents (in an unnamed file in the backing
    /// directory, gone with the inode).
    fn new_contents(&self) -> Result<Contents> {
        let file = tempfile::tempfile_in(&self.backing).map_err(Errno::from)?;
        Ok(Contents::new(file))
    }

    fn inode(&self, ino: u64) -> Result<&Inode> {
        self.inodes.get(&ino).ok_or(Errno::ENOENT)
    }

    fn inode_mut(&mut self, ino: u64) -> Result<&mut Inode> {
        self.inodes.get_mut(&ino).ok_or(Errno::ENOENT)
    }

    fn file_mut(&mut self, ino: u64) -> Result<&mut Contents> {
        match &mut self.inode_mut(ino)?.body {
            Body::File(contents) => Ok(contents),
            Body::Dir { .. } => Err(Errno::EISDIR),
        }
    }

    fn entries(&self, dir: u64) -> Result<&BTreeMap<OsString, u64>> {
        match &self.inode(dir)?.body {
            Body::Dir { entries, .. } => Ok(entries),
            Body::File(_) => Err(Errno::ENOTDIR),
        }
    }

    fn entries_mut(&mut self, dir: u64) -> Result<&mut BTreeMap<OsString, u64>> {
        match &mut self.inode_mut(dir)?.body {
            Body::Dir { entries, .. } => Ok(entries),
            Body::File(_) => Err(Errno::ENOTDIR),
        }
    }

    fn child(&self, parent: u64, name: &OsStr) -> Result<u64> {
        self.entries(parent)?
            .get(name)
            .copied()
            .ok_or(Errno::ENOENT)
    }

    fn attr(&self, ino: u64) -> Result<FileAttr> {
        let inode = self.inode(ino)?;
        let (size, nlink) = match &inode.body {
            Body::Dir { .. } => (u64::from(BLOCK), 2),
            Body::File(contents) => (contents.len(), inode.nlink),
        };
        Ok(FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: inode.atime,
            mtime: inode.mtime,
            ctime: inode.ctime,
            crtime: inode.ctime,
            kind: inode.kind(),
            perm: inode.perm,
            nlink,
            uid: inode.uid,
            gid: inode.gid,
            rdev: 0,
            blksize: BLOCK,
            flags: 0,
        })
    }

    /// A new entry `name` in `parent`.
    fn make(&mut self, parent: u64, name: &OsStr, inode: Inode) -> Result<u64> {
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        if self.entries(parent)?.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        self.inodes.insert(ino, inode);
        self.entries_mut(parent)?.insert(name.to_os_string(), ino);
        self.inode_mut(parent)?.touch();
        Ok(ino)
    }

    /// Forgets a file nobody can reach any more.
    fn collect(&mut self, ino: u64) {
        if let Some(inode) = self.inodes.get(&ino)
            && inode.nlink == 0
            && inode.open == 0
        {
            self.inodes.remove(&ino);
        }
    }

    /// Removes `name` from `parent` and drops one link of what it named.
    fn detach(&mut self, parent: u64, name: &OsStr, ino: u64) -> Result<()> {
        self.entries_mut(parent)?.remove(name);
        self.inode_mut(parent)?.touch();
        let inode = self.inode_mut(ino)?;
        inode.nlink = inode.nlink.saturating_sub(1);
        inode.ctime = SystemTime::now();
        if matches!(inode.body, Body::Dir { .. }) {
            self.inodes.remove(&ino);
        } else {
            self.collect(ino);
        }
        Ok(())
    }

    fn unlink(&mut self, parent: u64, name: &OsStr) -> Result<()> {
        let ino = self.child(parent, name)?;
        if matches!(self.inode(ino)?.body, Body::Dir { .. }) {
            return Err(Errno::EISDIR);
        }
        self.detach(parent, name, ino)
    }

    fn rmdir(&mut self, parent: u64, name: &OsStr) -> Result<()> {
        let ino = self.child(parent, name)?;
        if !self.entries(ino)?.is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        self.detach(parent, name, ino)
    }

    /// Whether `dir` is `ancestor` or lies below it.
    fn is_within(&self, mut dir: u64, ancestor: u64) -> bool {
        loop {
            if dir == ancestor {
                return true;
            }
            match self.inodes.get(&dir).map(|inode| &inode.body) {
                Some(Body::Dir { parent, .. }) if *parent != dir => dir = *parent,
                _ => return false,
            }
        }
    }

    fn rename(
        &mut self,
        parent: u64,
        name: &OsStr,
        new_parent: u64,
        new_name: &OsStr,
        flags: RenameFlags,
    ) -> Result<()> {
        if flags.intersects(RenameFlags::RENAME_EXCHANGE | RenameFlags::RENAME_WHITEOUT) {
            return Err(Errno::EINVAL);
        }
        if new_name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let ino = self.child(parent, name)?;
        self.entries(new_parent)?;
        let moving_dir = matches!(self.inode(ino)?.body, Body::Dir { .. });
        if moving_dir && self.is_within(new_parent, ino) {
            return Err(Errno::EINVAL);
        }
        if let Some(&target) = self.entries(new_parent)?.get(new_name) {
            if target == ino {
                return Ok(());
            }
            if flags.contains(RenameFlags::RENAME_NOREPLACE) {
                return Err(Errno::EEXIST);
            }
            match (&self.inode(target)?.body, moving_dir) {
                (Body::Dir { entries, .. }, true) if !entries.is_empty() => {
                    return Err(Errno::ENOTEMPTY);
                }
                (Body::Dir { .. }, false) => return Err(Errno::EISDIR),
                (Body::File(_), true) => return Err(Errno::ENOTDIR),
                _ => {}
            }
            self.detach(new_parent, new_name, target)?;
        }
        self.entries_mut(parent)?.remove(name);
        self.inode_mut(parent)?.touch();
        self.entries_mut(new_parent)?
            .insert(new_name.to_os_string(), ino);
        self.inode_mut(new_parent)?.touch();
        let inode = self.inode_mut(ino)?;
        inode.ctime = SystemTime::now();
        if let Body::Dir { parent, .. } = &mut inode.body {
            *parent = new_parent;
        }
        Ok(())
    }

    fn open(&mut self, ino: u64) -> Result<()> {
        let inode = self.inode_mut(ino)?;
        if matches!(inode.body, Body::Dir { .. }) {
            return Err(Errno::EISDIR);
        }
        inode.open += 1;
        Ok(())
    }

    fn release(&mut self, ino: u64) {
        if let Some(inode) = self.inodes.get_mut(&ino) {
            inode.open = inode.open.saturating_sub(1);
        }
        self.collect(ino);
    }

    fn read(&mut self, ino: u64, offset: u64, size: u32) -> Result<Vec<u8>> {
        let inode = self.inode_mut(ino)?;
        inode.atime = SystemTime::now();
        match &inode.body {
            Body::File(contents) => contents.read(offset, size).map_err(Errno::from),
            Body::Dir { .. } => Err(Errno::EISDIR),
        }
    }

    fn write(&mut self, ino: u64, offset: u64, data: &[u8], durable: bool) -> Result<u32> {
        let written = u32::try_from(data.len()).map_err(|_| Errno::EINVAL)?;
        let contents = self.file_mut(ino)?;
        contents.write(offset, data).map_err(refused)?;
        if durable {
            contents.sync();
        }
        self.inode_mut(ino)?.touch();
        Ok(written)
    }

    fn set_len(&mut self, ino: u64, len: u64) -> Result<()> {
        self.file_mut(ino)?.set_len(len).map_err(refused)?;
        self.inode_mut(ino)?.touch();
        Ok(())
    }

    fn fallocate(&mut self, ino: u64, offset: u64, length: u64, mode: i32) -> Result<()> {
        let end = offset.checked_add(length).ok_or(Errno::EFBIG)?;
        let contents = self.file_mut(ino)?;
        match mode {
            0 => {
                if end > contents.len() {
                    contents.set_len(end).map_err(refused)?;
                }
            }
            // Preallocation beyond the end changes nothing that can be read.
            FALLOC_FL_KEEP_SIZE => {}
            _ if mode == FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE => {
                contents.zero(offset, length).map_err(refused)?;
            }
            _ => return Err(Errno::EOPNOTSUPP),
        }
        self.inode_mut(ino)?.touch();
        Ok(())
    }

    fn sync(&mut self, ino: u64) -> Result<()> {
        if let Body::File(contents) = &mut self.inode_mut(ino)?.body {
            contents.sync();
        }
        Ok(())
    }

    fn opendir(&mut self, ino: u64) -> Result<u64> {
        let Body::Dir { parent, entries } = &self.inode(ino)?.body else {
            return Err(Errno::ENOTDIR);
        };
        let mut listing = vec![
            (ino, FileType::Directory, OsString::from(".")),
            (*parent, FileType::Directory, OsString::from("..")),
        ];
        for (name, child) in entries {
            let kind = self.inode(*child)?.kind();
            listing.push((*child, kind, name.clone()));
        }
        let fh = self.next_fh;
        self.next_fh += 1;
        self.listings.insert(fh, listing);
        Ok(fh)
    }

    fn stored_bytes(&self) -> u64 {
        self.inodes
            .values()
            .map(|inode| match &inode.body {
                Body::File(contents) => contents.len(),
                Body::Dir { .. } => 0,
            })
            .sum()
    }

    /// Every reachable inode's path from the root.
    fn paths(&self) -> HashMap<u64, String> {
        let mut paths = HashMap::new();
        let mut pending = vec![(INodeNo::ROOT.0, String::new())];
        while let Some((dir, prefix)) = pending.pop() {
            let Ok(entries) = self.entries(dir) else {
                continue;
            };
            for (name, ino) in entries {
                let path = format!("{prefix}{}", name.to_string_lossy());
                if matches!(
                    self.inodes.get(ino).map(|i| &i.body),
                    Some(Body::Dir { .. })
                ) {
                    pending.push((*ino, format!("{path}/")));
                }
                paths.insert(*ino, path);
            }
        }
        paths
    }

    /// The crash: every file back to its last sync; requests fail until
    /// [`State::resume`].
    fn crash(&mut self) -> std::io::Result<Lost> {
        self.down = true;
        self.listings.clear();
        let paths = self.paths();
        let mut lost = Lost::default();
        for (ino, inode) in &mut self.inodes {
            if let Body::File(contents) = &mut inode.body
                && contents.is_dirty()
            {
                let reverted = contents.revert()?;
                lost.files += 1;
                lost.changes += reverted.changes;
                lost.bytes += reverted.bytes;
                let path = paths
                    .get(ino)
                    .cloned()
                    .unwrap_or_else(|| format!("(unlinked inode {ino})"));
                lost.per_file.insert(path, reverted.bytes);
            }
        }
        Ok(lost)
    }
}

/// The FUSE side: every request is one short call under the lock.
struct LossyFs {
    state: Arc<Mutex<State>>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LossyFs {
    /// Runs `op` on the state unless the filesystem is down.
    fn with<T>(&self, op: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        let mut state = lock(&self.state);
        if state.down {
            return Err(Errno::EIO);
        }
        op(&mut state)
    }
}

fn set_time(time: Option<TimeOrNow>, now: SystemTime) -> Option<SystemTime> {
    time.map(|time| match time {
        TimeOrNow::SpecificTime(at) => at,
        TimeOrNow::Now => now,
    })
}

fn mode_bits(mode: u32, umask: u32) -> u16 {
    // Masked to the 12 permission bits, so the cast keeps everything.
    (mode & !umask & 0o7777) as u16
}

impl fuser::Filesystem for LossyFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.with(|state| state.attr(state.child(parent.0, name)?)) {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(error) => reply.error(error),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.with(|state| state.attr(ino.0)) {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(error) => reply.error(error),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let result = self.with(|state| {
            if let Some(size) = size {
                state.set_len(ino.0, size)?;
            }
            let now = SystemTime::now();
            let inode = state.inode_mut(ino.0)?;
            if let Some(mode) = mode {
                inode.perm = mode_bits(mode, 0);
            }
            if let Some(uid) = uid {
                inode.uid = uid;
            }
            if let Some(gid) = gid {
                inode.gid = gid;
            }
            if let Some(atime) = set_time(atime, now) {
                inode.atime = atime;
            }
            if let Some(mtime) = set_time(mtime, now) {
                inode.mtime = mtime;
            }
            inode.ctime = now;
            state.attr(ino.0)
        });
        match result {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(error) => reply.error(error),
        }
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let result = self.with(|state| {
            let body = Body::Dir {
                parent: parent.0,
                entries: BTreeMap::new(),
            };
            let inode = Inode::new(body, mode_bits(mode, umask), req.uid(), req.gid());
            let ino = state.make(parent.0, name, inode)?;
            state.attr(ino)
        });
        match result {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(error) => reply.error(error),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.with(|state| state.unlink(parent.0, name)) {
            Ok(()) => reply.ok(),
            Err(error) => reply.error(error),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.with(|state| state.rmdir(parent.0, name)) {
            Ok(()) => reply.ok(),
            Err(error) => reply.error(error),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        match self.with(|state| state.rename(parent.0, name, newparent.0, newname, flags)) {
            Ok(()) => reply.ok(),
            Err(error) => reply.error(error),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.with(|state| state.open(ino.0)) {
            Ok(()) => reply.opened(FileHandle(0), FopenFlags::empty()),
            Err(error) => reply.error(error),
        }
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let result = self.with(|state| {
            let ino = match state.child(parent.0, name) {
                Ok(_) if flags & O_EXCL != 0 => return Err(Errno::EEXIST),
                Ok(ino) => {
                    if flags & O_TRUNC != 0 {
                        state.set_len(ino, 0)?;
                    }
                    ino
                }
                Err(_) => {
                    let body = Body::File(state.new_contents()?);
                    let inode = Inode::new(body, mode_bits(mode, umask), req.uid(), req.gid());
                    state.make(parent.0, name, inode)?
                }
            };
            state.open(ino)?;
            state.attr(ino)
        });
        match result {
            Ok(attr) => reply.created(
                &TTL,
                &attr,
                Generation(0),
                FileHandle(0),
                FopenFlags::empty(),
            ),
            Err(error) => reply.error(error),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.with(|state| state.read(ino.0, offset, size)) {
            Ok(data) => reply.data(&data),
            Err(error) => reply.error(error),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        // O_SYNC includes O_DSYNC: each such write is durable at once.
        let durable = flags.0 & O_DSYNC != 0;
        match self.with(|state| state.write(ino.0, offset, data, durable)) {
            Ok(written) => reply.written(written),
            Err(error) => reply.error(error),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // close(2) makes nothing durable.
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        // Also while down: the dead process's descriptors close then.
        lock(&self.state).release(ino.0);
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        match self.with(|state| state.sync(ino.0)) {
            Ok(()) => reply.ok(),
            Err(error) => reply.error(error),
        }
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.with(|state| state.opendir(ino.0)) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(error) => reply.error(error),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let state = lock(&self.state);
        let Some(listing) = state.listings.get(&fh.0).filter(|_| !state.down) else {
            reply.error(Errno::EIO);
            return;
        };
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        for (index, (ino, kind, name)) in listing.iter().enumerate().skip(start) {
            if reply.add(INodeNo(*ino), index as u64 + 1, *kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        lock(&self.state).listings.remove(&fh.0);
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        // Directory operations are durable at once.
        match self.with(|_| Ok(())) {
            Ok(()) => reply.ok(),
            Err(error) => reply.error(error),
        }
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        match self.with(|state| Ok((state.stored_bytes(), state.inodes.len() as u64))) {
            Ok((stored, files)) => {
                let blocks = CAPACITY / u64::from(BLOCK);
                let free = blocks.saturating_sub(stored.div_ceil(u64::from(BLOCK)));
                let max_files = 1 << 20;
                reply.statfs(
                    blocks,
                    free,
                    free,
                    max_files,
                    max_files - files.min(max_files),
                    BLOCK,
                    NAME_MAX as u32,
                    BLOCK,
                );
            }
            Err(error) => reply.error(error),
        }
    }

    fn access(&self, _req: &Request, ino: INodeNo, _mask: fuser::AccessFlags, reply: ReplyEmpty) {
        // Everything is allowed to the owner (the mounts are private).
        match self.with(|state| state.inode(ino.0).map(drop)) {
            Ok(()) => reply.ok(),
            Err(error) => reply.error(error),
        }
    }

    fn fallocate(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        match self.with(|state| state.fallocate(ino.0, offset, length, mode)) {
            Ok(()) => reply.ok(),
            Err(error) => reply.error(error),
        }
    }
}

/// A mounted lossy filesystem. Dropping it unmounts it (lazily, so a
/// straggler can never make that block); its contents go with it.
pub struct Mount {
    mountpoint: PathBuf,
    state: Arc<Mutex<State>>,
    session: Option<BackgroundSession>,
}

impl std::fmt::Debug for Mount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mount")
            .field("mountpoint", &self.mountpoint)
            .finish_non_exhaustive()
    }
}

impl Mount {
    /// Mounts an empty filesystem at `mountpoint` (an existing, empty
    /// directory), keeping the files' bytes in unnamed files in `backing`.
    pub fn new(mountpoint: &Path, backing: &Path) -> anyhow::Result<Mount> {
        let state = Arc::new(Mutex::new(State::new(backing.to_path_buf())));
        let fs = LossyFs {
            state: state.clone(),
        };
        let mut config = Config::default();
        config.mount_options = vec![
            MountOption::FSName(FS_NAME.to_string()),
            MountOption::Subtype(SUBTYPE.to_string()),
            MountOption::NoAtime,
        ];
        let session = fuser::spawn_mount(fs, mountpoint, &config).with_context(|| {
            format!(
                "cannot mount the lossy filesystem at {} (needs /dev/fuse and root)",
                mountpoint.display()
            )
        })?;
        Ok(Mount {
            mountpoint: mountpoint.to_path_buf(),
            state,
            session: Some(session),
        })
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        &self.mountpoint
    }

    /// The crash: every write not yet fsynced is forgotten, and every
    /// request fails until [`Mount::resume`]. Call it while nothing uses
    /// the filesystem (its node is dead).
    pub fn lose_unsynced(&self) -> anyhow::Result<Lost> {
        lock(&self.state).crash().with_context(|| {
            format!(
                "cannot take back the writes under {}",
                self.mountpoint.display()
            )
        })
    }

    /// Serves requests again after a crash (before the node restarts).
    pub fn resume(&self) {
        lock(&self.state).down = false;
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            if let Err(error) = unmount(&self.mountpoint) {
                eprintln!("jepsen-tests: {error:#}");
            }
            // Its thread ends with the connection; no need to wait for it.
            drop(session);
        }
    }
}

/// Detaches the mount at `path` (lazily: whoever still uses it keeps it
/// until done, but no one new reaches it).
fn unmount(path: &Path) -> anyhow::Result<()> {
    let path = path.to_str().context("a mount path that is not UTF-8")?;
    cmd::run("umount", &["-l", path]).map(drop)
}

/// The mount points of lossy filesystems in this mount namespace.
pub fn mounted() -> Vec<PathBuf> {
    parse_mounts(&std::fs::read_to_string("/proc/self/mounts").unwrap_or_default())
}

/// The mount points of lossy filesystems that process `pid` sees.
pub fn mounted_for(pid: u32) -> anyhow::Result<Vec<PathBuf>> {
    let mounts = std::fs::read_to_string(format!("/proc/{pid}/mounts"))
        .with_context(|| format!("cannot read the mounts of process {pid}"))?;
    Ok(parse_mounts(&mounts))
}

/// Lossy mount points in a `/proc/<pid>/mounts` listing.
fn parse_mounts(mounts: &str) -> Vec<PathBuf> {
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let source = fields.next()?;
            let target = fields.next()?;
            (source == FS_NAME).then(|| PathBuf::from(unescape(target)))
        })
        .collect()
}

/// Undoes `/proc/mounts`' octal escapes (`\040` for a space, ...).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|digits| bytes[i] == b'\\' && digits.iter().all(|d| (b'0'..=b'7').contains(d)))
            .map(|digits| {
                digits
                    .iter()
                    .fold(0u32, |value, digit| value * 8 + u32::from(digit - b'0'))
            })
            .and_then(|value| u8::try_from(value).ok());
        match octal {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Unmounts every lossy filesystem left in this mount namespace (a run
/// whose harness was killed); returns their mount points.
pub fn cleanup() -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for path in mounted() {
        match unmount(&path) {
            Ok(()) => removed.push(path),
            Err(error) => eprintln!("jepsen-tests: {error:#}"),
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> &OsStr {
        OsStr::new(text)
    }

    fn fresh() -> State {
        State::new(std::env::temp_dir())
    }

    fn file(state: &mut State, parent: u64, text: &str) -> u64 {
        let inode = Inode::new(Body::File(state.new_contents().unwrap()), 0o644, 0, 0);
        state.make(parent, name(text), inode).unwrap()
    }

    fn data(state: &mut State, ino: u64) -> Vec<u8> {
        state.read(ino, 0, u32::MAX).unwrap()
    }

    #[test]
    fn a_crash_keeps_the_tree_and_the_synced_bytes_only() {
        let mut state = fresh();
        let root = INodeNo::ROOT.0;
        let wal = file(&mut state, root, "000004.log");
        state.write(wal, 0, b"record-1;", false).unwrap();
        state.sync(wal).unwrap();
        state.write(wal, 9, b"record-2;", false).unwrap();
        let tmp = file(&mut state, root, "000005.dbtmp");
        state.write(tmp, 0, b"MANIFEST-000005\n", false).unwrap();
        state.sync(tmp).unwrap();
        let current = file(&mut state, root, "CURRENT");
        state
            .write(current, 0, b"MANIFEST-000001\n", false)
            .unwrap();
        state.sync(current).unwrap();
        state
            .rename(
                root,
                name("000005.dbtmp"),
                root,
                name("CURRENT"),
                RenameFlags::empty(),
            )
            .unwrap();
        let never_synced = file(&mut state, root, "LOG");
        state.write(never_synced, 0, b"info", false).unwrap();
        let durable = file(&mut state, root, "odirect");
        state.write(durable, 0, b"at once", true).unwrap();

        let lost = state.crash().unwrap();
        assert_eq!(
            lost,
            Lost {
                files: 2,
                changes: 2,
                bytes: 13,
                per_file: BTreeMap::from([("000004.log".into(), 9), ("LOG".into(), 4)]),
            }
        );
        state.down = false;
        assert_eq!(data(&mut state, wal), b"record-1;");
        let current = state.child(root, name("CURRENT")).unwrap();
        assert_eq!(current, tmp);
        assert_eq!(data(&mut state, current), b"MANIFEST-000005\n");
        assert!(state.child(root, name("000005.dbtmp")).is_err());
        assert_eq!(data(&mut state, never_synced), b"");
        assert_eq!(data(&mut state, durable), b"at once");
    }

    #[test]
    fn directories_behave() {
        let mut state = fresh();
        let root = INodeNo::ROOT.0;
        let dir = Inode::new(
            Body::Dir {
                parent: root,
                entries: BTreeMap::new(),
            },
            0o755,
            0,
            0,
        );
        let sub = state.make(root, name("db"), dir).unwrap();
        let inner = file(&mut state, sub, "x");
        let clash = Inode::new(Body::File(state.new_contents().unwrap()), 0, 0, 0);
        assert_eq!(state.make(root, name("db"), clash), Err(Errno::EEXIST));
        assert_eq!(state.rmdir(root, name("db")), Err(Errno::ENOTEMPTY));
        assert_eq!(state.unlink(root, name("db")), Err(Errno::EISDIR));
        assert_eq!(
            state.rename(root, name("db"), sub, name("loop"), RenameFlags::empty()),
            Err(Errno::EINVAL)
        );
        let other = file(&mut state, root, "y");
        assert_eq!(
            state.rename(
                sub,
                name("x"),
                root,
                name("y"),
                RenameFlags::RENAME_NOREPLACE
            ),
            Err(Errno::EEXIST)
        );
        state
            .rename(sub, name("x"), root, name("y"), RenameFlags::empty())
            .unwrap();
        assert!(!state.inodes.contains_key(&other));
        assert_eq!(state.child(root, name("y")), Ok(inner));
        state.rmdir(root, name("db")).unwrap();
        let fh = state.opendir(root).unwrap();
        let names: Vec<&OsString> = state.listings[&fh].iter().map(|(_, _, n)| n).collect();
        assert_eq!(names, [".", "..", "y"]);
        assert_eq!(state.read(root, 0, 1), Err(Errno::EISDIR));
        assert_eq!(state.opendir(inner), Err(Errno::ENOTDIR));
    }

    #[test]
    fn an_unlinked_open_file_lives_until_closed() {
        let mut state = fresh();
        let root = INodeNo::ROOT.0;
        let ino = file(&mut state, root, "old.sst");
        state.write(ino, 0, b"table", false).unwrap();
        state.open(ino).unwrap();
        state.unlink(root, name("old.sst")).unwrap();
        assert_eq!(data(&mut state, ino), b"table");
        state.release(ino);
        assert_eq!(state.attr(ino), Err(Errno::ENOENT));
    }

    #[test]
    fn fallocate_modes() {
        let mut state = fresh();
        let ino = file(&mut state, INodeNo::ROOT.0, "f");
        state.write(ino, 0, b"abcdef", false).unwrap();
        state.sync(ino).unwrap();
        state
            .fallocate(ino, 0, 1 << 20, FALLOC_FL_KEEP_SIZE)
            .unwrap();
        assert_eq!(data(&mut state, ino), b"abcdef");
        state
            .fallocate(ino, 2, 2, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)
            .unwrap();
        assert_eq!(data(&mut state, ino), b"ab\0\0ef");
        state.fallocate(ino, 4, 4, 0).unwrap();
        assert_eq!(state.attr(ino).unwrap().size, 8);
        assert_eq!(state.fallocate(ino, 0, 1, 0x10), Err(Errno::EOPNOTSUPP));
        assert_eq!(state.fallocate(ino, u64::MAX, 2, 0), Err(Errno::EFBIG));
        state.crash().unwrap();
        state.down = false;
        assert_eq!(data(&mut state, ino), b"abcdef");
    }

    #[test]
    fn a_mounted_filesystem_keeps_exactly_the_synced_bytes_after_a_crash() {
        use std::io::Write;
        if !Path::new("/dev/fuse").exists() {
            eprintln!("skipped: /dev/fuse is missing, so lossyfs cannot be mounted here");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let backing = tempfile::tempdir().unwrap();
        let mount = Mount::new(&root, backing.path()).unwrap();
        assert!(mounted().contains(&root), "{:?}", mounted());
        let wal = root.join("db").join("000004.log");
        std::fs::create_dir(root.join("db")).unwrap();
        {
            let mut file = std::fs::File::create(&wal).unwrap();
            file.write_all(b"synced-1;").unwrap();
            file.sync_data().unwrap();
            file.write_all(b"synced-2;").unwrap();
            file.sync_all().unwrap();
            file.write_all(b"lost-1;").unwrap();
            file.write_all(b"lost-2;").unwrap();
            std::fs::write(root.join("db").join("LOG"), b"never synced").unwrap();
            std::fs::write(root.join("db").join("CURRENT.tmp"), b"MANIFEST-2\n").unwrap();
            std::fs::File::open(root.join("db").join("CURRENT.tmp"))
                .unwrap()
                .sync_all()
                .unwrap();
            std::fs::rename(
                root.join("db").join("CURRENT.tmp"),
                root.join("db").join("CURRENT"),
            )
            .unwrap();
            // Every descriptor is closed before the crash, as a dead node's are.
        }
        assert_eq!(
            std::fs::read(&wal).unwrap(),
            b"synced-1;synced-2;lost-1;lost-2;"
        );
        let lost = mount.lose_unsynced().unwrap();
        assert_eq!(
            lost,
            Lost {
                files: 2,
                changes: 2,
                bytes: 26,
                per_file: BTreeMap::from([("db/000004.log".into(), 14), ("db/LOG".into(), 12)]),
            }
        );
        assert!(
            std::fs::read(&wal).is_err(),
            "a crashed filesystem answers nothing"
        );
        mount.resume();
        assert_eq!(std::fs::read(&wal).unwrap(), b"synced-1;synced-2;");
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), 18);
        assert_eq!(std::fs::read(root.join("db").join("LOG")).unwrap(), b"");
        assert_eq!(
            std::fs::read(root.join("db").join("CURRENT")).unwrap(),
            b"MANIFEST-2\n"
        );
        let mut names: Vec<String> = std::fs::read_dir(root.join("db"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["000004.log", "CURRENT", "LOG"]);
        drop(mount);
        assert!(!mounted().contains(&root));
        assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0);
    }

    #[test]
    fn mount_paths_are_found_and_unescaped() {
        assert_eq!(unescape(r"/tmp/a\040b\134c"), r"/tmp/a b\c");
        assert_eq!(unescape(r"/plain\0"), r"/plain\0");
        let listing = "proc /proc proc rw 0 0\n\
            jepsen-tests-lossyfs /r/s1-id1/data fuse.lossyfs rw,nosuid 0 0\n\
            other /x fuse.other rw 0 0\n\
            jepsen-tests-lossyfs /r/my\\040run/data fuse.lossyfs rw 0 0\n";
        assert_eq!(
            parse_mounts(listing),
            [
                PathBuf::from("/r/s1-id1/data"),
                PathBuf::from("/r/my run/data")
            ]
        );
    }
}
