//! Namespace commands: NSNEW, NSDEL, NSLIST, NSINFO, NSSET, SELECT, DBSIZE,
//! RELOAD, FLUSH, NSJUMP.

use std::fmt::Write;
use std::path::Path;

use super::auth::check_secure;
use super::{constant_time_eq, write_refusal, Action, Ctx};
use crate::format::Mode;
use crate::resp::reply;
use crate::storage::{valid_name, DEFAULT_NAMESPACE};

/// DBSIZE: live keys in the current namespace.
pub fn dbsize(c: &mut Ctx) -> Action {
    let entries = c.client.ns.lock().entries;
    reply::int(c.out, entries as i64);
    Action::Continue
}

/// NSNEW name (admin).
pub fn nsnew(c: &mut Ctx) -> Action {
    if !c.require_admin() || !c.exact_args(2) {
        return Action::Continue;
    }
    let Some(name) = c.ns_name(1) else { return Action::Continue };
    if !valid_name(&name) || name == DEFAULT_NAMESPACE || c.args[1].contains(&0) {
        return c.error("This name is not allowed");
    }
    if c.shared.store.get(&name).is_some() {
        return c.error("This namespace is not available");
    }
    match c.shared.store.create(&name) {
        Ok(_) => {
            c.shared.hooks.spawn("namespace-created", &[&name]);
            reply::status(c.out, "OK");
            Action::Continue
        }
        Err(e) => {
            tracing::error!(namespace = %name, "cannot create namespace: {e:#}");
            c.error("Could not create namespace")
        }
    }
}

/// NSDEL name (admin): removes the namespace and its files. Clients still
/// in it are told and disconnected at their next command.
pub fn nsdel(c: &mut Ctx) -> Action {
    if !c.require_admin() || !c.exact_args(2) {
        return Action::Continue;
    }
    let Some(name) = c.ns_name(1) else { return Action::Continue };
    if name == DEFAULT_NAMESPACE {
        return c.error("Cannot remove default namespace");
    }
    let Some(ns) = c.shared.store.get(&name) else {
        return c.error("This namespace doesn't exists");
    };
    if std::sync::Arc::ptr_eq(&ns, &c.client.ns) {
        return c.error("Cannot remove namespace you're currently using.");
    }
    match c.shared.store.remove(&name) {
        Ok(()) => {
            c.shared.hooks.spawn("namespace-deleted", &[&name]);
            reply::status(c.out, "OK");
            Action::Continue
        }
        Err(e) => {
            tracing::error!(namespace = %name, "cannot delete namespace: {e:#}");
            c.error("Could not delete this namespace")
        }
    }
}

/// NSLIST: every namespace name, default first.
pub fn nslist(c: &mut Ctx) -> Action {
    let names = c.shared.store.names();
    reply::array(c.out, names.len());
    for n in names {
        reply::bulk(c.out, n.as_bytes());
    }
    Action::Continue
}

/// NSINFO name: `key: value` lines (admins also see paths and positions).
pub fn nsinfo(c: &mut Ctx) -> Action {
    if !c.exact_args(2) {
        return Action::Continue;
    }
    let Some(name) = c.ns_name(1) else { return Action::Continue };
    let Some(ns) = c.shared.store.get(&name) else {
        return c.error("Namespace not found");
    };
    let st = ns.lock();
    let password = c.effective_password(&ns, &st).is_some();
    let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
    let mut t = String::new();
    let _ = writeln!(t, "# namespace");
    let _ = writeln!(t, "name: {}", ns.name);
    let _ = writeln!(t, "entries: {}", st.entries);
    let _ = writeln!(t, "public: {}", yes_no(st.desc.public));
    let _ = writeln!(t, "worm: {}", yes_no(st.desc.worm));
    let _ = writeln!(t, "locked: {}", yes_no(st.locked));
    let _ = writeln!(t, "frozen: {}", yes_no(st.frozen));
    let _ = writeln!(t, "password: {}", yes_no(password));
    let _ = writeln!(t, "data_size_bytes: {}", st.data_bytes);
    let _ = writeln!(t, "data_size_mb: {:.2}", mb(st.data_bytes));
    let _ = writeln!(t, "data_limits_bytes: {}", st.desc.maxsize);
    let _ = writeln!(t, "index_size_bytes: {}", st.index_bytes);
    let _ = writeln!(t, "index_size_kb: {:.2}", st.index_bytes as f64 / 1024.0);
    // Printed byte-swapped, as the original does.
    let _ = writeln!(t, "next_internal_id: 0x{:016x}", st.next_id().swap_bytes());
    let _ = writeln!(t, "mode: {}", st.mode.info_name());
    if st.desc.maxsize > 0 {
        let _ = writeln!(t, "space_available: {}", st.desc.maxsize.saturating_sub(st.data_bytes));
    }
    for (label, dir) in [("index", &st.files.index_dir), ("data", &st.files.data_dir)] {
        if let Some(free) = disk_free(dir) {
            let _ = writeln!(t, "{label}_disk_freespace_bytes: {free}");
            let _ = writeln!(t, "{label}_disk_freespace_mb: {:.2}", mb(free));
        }
    }
    // Replication: where this namespace's log ends here, and how far each
    // replica has acknowledged it.
    let _ = writeln!(t, "replication_position: {}:{}", st.files.current, st.files.data_len);
    let replicas = c.shared.replication.positions(&ns.name, st.generation, st.files.current, st.files.data_len);
    for (id, file, offset, lag) in replicas {
        let _ = writeln!(t, "replica_{id}_position: {file}:{offset}");
        let _ = writeln!(t, "replica_{id}_lag_bytes: {lag}");
    }
    if let (true, Some(pw)) = (c.client.master, &st.desc.password) {
        let _ = writeln!(t, "password_raw: {pw}");
    }
    if c.client.admin {
        let current = st.files.current;
        let _ = writeln!(t, "data_path: {}", st.files.data_dir.display());
        let _ = writeln!(t, "data_active: {}", st.files.path(crate::storage::files::Kind::Data, current).display());
        let _ = writeln!(t, "index_path: {}", st.files.index_dir.display());
        let _ = writeln!(t, "index_active: {}", st.files.path(crate::storage::files::Kind::Index, current).display());
        let _ = writeln!(t, "data_current_id: {current}");
        let _ = writeln!(t, "data_current_offset: {}", st.files.data_len);
        let _ = writeln!(t, "index_current_offset: {}", st.files.index_len);
    }
    reply::bulk(c.out, t.as_bytes());
    Action::Continue
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn disk_free(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated path and an owned out-struct.
    (unsafe { libc::statvfs(path.as_ptr(), &mut s) } == 0).then(|| s.f_bsize as u64 * s.f_bavail as u64)
}

/// NSSET name property value (admin).
pub fn nsset(c: &mut Ctx) -> Action {
    if !c.require_admin() || !c.exact_args(4) {
        return Action::Continue;
    }
    let Some(name) = c.ns_name(1) else { return Action::Continue };
    if c.args[3].len() > 63 || c.args[2].len() > 63 {
        return c.error("Argument too long");
    }
    let property = String::from_utf8_lossy(&c.args[2]).to_ascii_lowercase();
    let value = String::from_utf8_lossy(&c.args[3]).into_owned();
    let Some(ns) = c.shared.store.get(&name) else {
        return c.error("Namespace not found");
    };
    if name == DEFAULT_NAMESPACE && !matches!(property.as_str(), "mode" | "lock" | "freeze") {
        return c.error("Cannot update default namespace");
    }
    let flag = value.starts_with('1');
    let mut st = ns.lock();
    match property.as_str() {
        "maxsize" => st.desc.maxsize = value.trim().parse().unwrap_or(0),
        "password" if value == "*" => st.desc.password = None,
        "password" => st.desc.password = Some(value),
        "public" => st.desc.public = flag,
        "worm" => st.desc.worm = flag,
        "lock" => st.locked = flag,
        "freeze" => st.frozen = flag,
        "mode" => {
            if c.shared.forced_mode.is_some() {
                return c.error("This server instance is configured to use a single runtime mode");
            }
            let mode = match value.as_str() {
                "user" => Mode::User,
                "seq" => Mode::Seq,
                _ => return c.error("Invalid property value (expected: user, seq)"),
            };
            if mode != st.mode {
                if !st.is_fresh() {
                    return c.error("Cannot change mode of used namespace");
                }
                if let Err(e) = st.change_mode(mode) {
                    tracing::error!(namespace = %name, "cannot change mode: {e}");
                    return c.error("Cannot write index right now");
                }
            }
        }
        _ => return c.error("Invalid property"),
    }
    if let Err(e) = c.shared.store.save_descriptor(&st) {
        tracing::error!(namespace = %name, "cannot save namespace properties: {e}");
        return c.error("Cannot write namespace descriptor");
    }
    drop(st);
    c.shared.hooks.spawn("namespace-updated", &[&name]);
    reply::status(c.out, "OK");
    Action::Continue
}

/// SELECT name [password] | SELECT name SECURE hash.
pub fn select(c: &mut Ctx) -> Action {
    if c.args.len() < 2 {
        return c.error("Invalid argument");
    }
    if c.args.len() > 4 {
        return c.error("Too many arguments");
    }
    let Some(name) = c.ns_name(1) else { return Action::Continue };
    let Some(ns) = c.shared.store.get(&name) else {
        return c.error("Namespace not found");
    };
    let (password, public) = {
        let st = ns.lock();
        (c.effective_password(&ns, &st), st.desc.public)
    };
    let mut writable = true;
    if let Some(password) = password {
        match c.args.len() {
            2 if public => writable = false,
            2 => return c.error("Namespace protected and private"),
            3 => {
                if c.args[2].len() > 255 {
                    return c.error("Password too long");
                }
                if !constant_time_eq(&c.args[2], password.as_bytes()) {
                    return c.error("Access denied");
                }
            }
            _ => {
                if !c.args[2].eq_ignore_ascii_case(b"SECURE") {
                    return c.error("Only SECURE extra method supported");
                }
                if let Err(e) = check_secure(c.client, &c.args[3], &password) {
                    return c.error(e);
                }
            }
        }
    } else if c.args.len() == 4 && !c.args[2].eq_ignore_ascii_case(b"SECURE") {
        return c.error("Only SECURE extra method supported");
    }
    c.client.ns = ns;
    c.client.writable = writable;
    reply::status(c.out, "OK");
    Action::Continue
}

/// RELOAD name (admin): re-reads the namespace from disk.
pub fn reload(c: &mut Ctx) -> Action {
    if !c.require_admin() || !c.exact_args(2) {
        return Action::Continue;
    }
    let Some(name) = c.ns_name(1) else { return Action::Continue };
    let Some(ns) = c.shared.store.get(&name) else {
        return c.error("Namespace not found");
    };
    match c.shared.store.reload(&ns) {
        Ok(()) => {
            c.shared.hooks.spawn("namespace-reloaded", &[&name]);
            reply::status(c.out, "OK");
            Action::Continue
        }
        Err(e) => {
            tracing::error!(namespace = %name, "reload failed: {e:#}");
            c.error("Internal Error")
        }
    }
}

/// FLUSH: empties the current namespace (files and history), which must
/// be private and password protected, and writable by this client.
pub fn flush(c: &mut Ctx) -> Action {
    let ns = c.client.ns.clone();
    {
        let st = ns.lock();
        if st.desc.public || st.desc.password.is_none() {
            return c.error("Flushing public namespace denied");
        }
        if let Some(refusal) = write_refusal(c.client, &st) {
            return c.error(refusal);
        }
    }
    match c.shared.store.flush(&ns) {
        Ok(()) => {
            reply::status(c.out, "OK");
            Action::Continue
        }
        Err(e) => {
            tracing::error!(namespace = %ns.name, "flush failed: {e:#}");
            c.error("Internal Server Error")
        }
    }
}

/// NSJUMP (admin): closes the current file pair and starts the next.
pub fn nsjump(c: &mut Ctx) -> Action {
    if !c.require_admin() {
        return Action::Continue;
    }
    let ns = c.client.ns.clone();
    let result = ns.lock().jump();
    match result {
        Ok(()) => {
            reply::status(c.out, "OK");
            Action::Continue
        }
        Err(e) => {
            tracing::error!(namespace = %ns.name, "jump failed: {e}");
            c.error("Internal Error")
        }
    }
}
