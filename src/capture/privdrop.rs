//! Least privilege, as tcpdump `-Z` and sniffglue do it: the capture is opened (and any
//! listening socket bound) while privileged; then, before the first packet is parsed and before
//! the worker threads start, the process sets `PR_SET_NO_NEW_PRIVS`, empties its capability
//! bounding set, switches from root to the invoking user (`SUDO_UID`/`SUDO_GID`) or a named one
//! (`-Z USER`, default `nobody`), and clears every remaining capability. An open libpcap handle
//! keeps working without any of them.

use std::path::Path;

use caps::CapSet;
use nix::unistd::{Gid, Uid, User, setgid, setgroups, setuid};

use crate::error::{Error, Result};

/// What the drop did, for a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub uid: u32,
    pub gid: u32,
    pub user: String,
}

/// Whom to become when running as root.
fn target_user(requested: Option<&str>) -> Result<(Uid, Gid, String)> {
    if let Some(name) = requested {
        return match User::from_name(name) {
            Ok(Some(u)) => Ok((u.uid, u.gid, u.name)),
            _ => Err(Error::Config(format!("-Z: no such user '{name}'"))),
        };
    }
    // Under sudo, become the person who ran it.
    let env_id = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u32>().ok());
    if let (Some(uid), Some(gid)) = (env_id("SUDO_UID"), env_id("SUDO_GID"))
        && uid != 0
    {
        let name = std::env::var("SUDO_USER").unwrap_or_else(|_| uid.to_string());
        return Ok((Uid::from_raw(uid), Gid::from_raw(gid), name));
    }
    match User::from_name("nobody") {
        Ok(Some(u)) => Ok((u.uid, u.gid, u.name)),
        _ => Ok((
            Uid::from_raw(65_534),
            Gid::from_raw(65_534),
            "nobody".into(),
        )),
    }
}

/// The uid and gid root would become (`-Z`, sudo's user, or `nobody`), for files that must be
/// theirs before the drop; `None` when not root (nothing changes user).
pub fn target_ids(user: Option<&str>) -> Result<Option<(u32, u32)>> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    let (uid, gid, _) = target_user(user)?;
    Ok(Some((uid.as_raw(), gid.as_raw())))
}

fn fail(stage: &str, e: impl std::fmt::Display) -> Error {
    Error::PrivilegeDrop(format!(
        "cannot drop privileges ({stage}: {e}); pass --no-drop-privileges to run with them"
    ))
}

/// Drops every privilege the process holds. Call after opening the capture, before parsing.
pub fn drop_privileges(user: Option<&str>) -> Result<Dropped> {
    drop_privileges_keeping_group(user, None)
}

/// [`drop_privileges`], the new user also a member of `group` (when root): a followed log
/// stays readable through its group when it is reopened after a rotation.
pub fn drop_privileges_keeping_group(user: Option<&str>, group: Option<u32>) -> Result<Dropped> {
    let was_root = Uid::effective().is_root();
    if was_root {
        // Needs CAP_SETPCAP, which root still has here.
        caps::clear(None, CapSet::Bounding).map_err(|e| fail("bounding set", e))?;
        let (uid, gid, name) = target_user(user)?;
        let mut groups = vec![gid];
        groups.extend(group.map(Gid::from_raw).filter(|g| *g != gid));
        setgroups(&groups).map_err(|e| fail("setgroups", e))?;
        setgid(gid).map_err(|e| fail("setgid", e))?;
        // setuid from root to non-root also clears the permitted and effective sets.
        setuid(uid).map_err(|e| fail("setuid", e))?;
        if setuid(Uid::from_raw(0)).is_ok() {
            return Err(fail("verify", "could regain root after setuid"));
        }
        finish_drop()?;
        Ok(Dropped {
            uid: uid.as_raw(),
            gid: gid.as_raw(),
            user: name,
        })
    } else {
        // Running with file capabilities (setcap): keep the user, lose the capabilities.
        finish_drop()?;
        Ok(Dropped {
            uid: Uid::current().as_raw(),
            gid: Gid::current().as_raw(),
            user: User::from_uid(Uid::current())
                .ok()
                .flatten()
                .map_or_else(|| Uid::current().to_string(), |u| u.name),
        })
    }
}

/// Whether, once root has become the user of `-Z`/sudo/`nobody` with `path`'s group as an
/// extra group, `path` can still be opened for reading: the file readable by others, its group
/// or that user, and every directory above it searchable by them. Checked on the path as given
/// and on where its symlinks lead, since both are walked when the log is reopened.
///
/// `Some(group)`: readable, keeping that extra group (`None` when none is needed). The root
/// group is never kept: it would open far more than one log.
pub fn readable_after_drop(path: &Path, user: Option<&str>) -> Option<Option<u32>> {
    use std::os::unix::fs::MetadataExt;
    let (uid, gid, _) = target_user(user).ok()?;
    let file = std::fs::metadata(path).ok()?;
    let extra = Some(file.gid()).filter(|g| *g != 0 && *g != gid.as_raw());
    let groups = [Some(gid.as_raw()), extra];
    let allowed = |m: &std::fs::Metadata, bit: u32| {
        (m.mode() & bit) != 0
            || (m.mode() & (bit << 3) != 0 && groups.contains(&Some(m.gid())))
            || (m.mode() & (bit << 6) != 0 && m.uid() == uid.as_raw())
    };
    if !allowed(&file, 0o004) {
        return None;
    }
    let absolute = std::path::absolute(path).ok()?;
    let real = std::fs::canonicalize(path).ok()?;
    for p in [&absolute, &real] {
        for dir in p.ancestors().skip(1) {
            if !allowed(&std::fs::metadata(dir).ok()?, 0o001) {
                return None;
            }
        }
    }
    Some(extra)
}

fn finish_drop() -> Result<()> {
    for set in [
        CapSet::Ambient,
        CapSet::Inheritable,
        CapSet::Effective,
        CapSet::Permitted,
    ] {
        caps::clear(None, set).map_err(|e| fail("capabilities", e))?;
    }
    nix::sys::prctl::set_no_new_privs().map_err(|e| fail("no_new_privs", e))?;
    Ok(())
}
