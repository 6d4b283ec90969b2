//! `--hook EXE`: runs `EXE <hook-name> <instance-id> [args…]` on server
//! events, as the original does (no shell involved). Blocking hooks (ready,
//! close, namespaces-init) are waited for; the others run in the
//! background, and HOOKS lists them until a minute after they finished.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

/// How long a finished hook stays visible in HOOKS.
const KEEP_FINISHED: u64 = 60;

/// One hook run, as HOOKS reports it.
#[derive(Clone, Debug)]
pub struct HookRun {
    pub name: String,
    pub args: Vec<String>,
    pub pid: u32,
    pub created: u64,
    /// 0 while running.
    pub finished: u64,
    pub status: i32,
}

/// The hook program and the runs it had.
#[derive(Debug, Default)]
pub struct Hooks {
    exe: Option<PathBuf>,
    instance: String,
    runs: Arc<Mutex<Vec<HookRun>>>,
}

impl Hooks {
    pub fn new(exe: Option<PathBuf>, instance: String) -> Hooks {
        Hooks { exe, instance, runs: Arc::default() }
    }

    fn command(&self, exe: &PathBuf, name: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(exe);
        cmd.arg(name).arg(&self.instance).args(args);
        cmd
    }

    /// Whether a hook program is configured.
    pub fn enabled(&self) -> bool {
        self.exe.is_some()
    }

    /// Runs a hook and waits for it; `Ok(true)` when it exited 0 (or when
    /// no hook is configured).
    pub fn run_blocking(&self, name: &str, args: &[&str]) -> std::io::Result<bool> {
        let Some(exe) = &self.exe else { return Ok(true) };
        let status = self.command(exe, name, args).status()?;
        Ok(status.success())
    }

    /// Starts a hook in the background.
    pub fn spawn(&self, name: &str, args: &[&str]) {
        let Some(exe) = &self.exe else { return };
        let mut child = match self.command(exe, name, args).spawn() {
            Ok(child) => child,
            Err(e) => {
                tracing::warn!(hook = name, "could not start hook: {e}");
                return;
            }
        };
        let run = HookRun {
            name: name.to_string(),
            args: args.iter().map(|s| s.to_string()).collect(),
            pid: child.id(),
            created: crate::unix_now(),
            finished: 0,
            status: 0,
        };
        let pid = run.pid;
        let runs = self.runs.clone();
        runs.lock().unwrap_or_else(|p| p.into_inner()).push(run);
        std::thread::spawn(move || {
            let status = child.wait().ok().and_then(|s| s.code()).unwrap_or(-1);
            let mut runs = runs.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(r) = runs.iter_mut().find(|r| r.pid == pid && r.finished == 0) {
                r.finished = crate::unix_now();
                r.status = status;
            }
        });
    }

    /// Running hooks and those finished less than a minute ago.
    pub fn list(&self) -> Vec<HookRun> {
        let now = crate::unix_now();
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        runs.retain(|r| r.finished == 0 || now.saturating_sub(r.finished) < KEEP_FINISHED);
        runs.clone()
    }
}
