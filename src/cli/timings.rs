//! `export --timings`: where a run's time went, phase by phase.
//!
//! Owns: [`Timed`], a [`Progress`] that passes everything on to the display and notes,
//! at each phase's start and at the end, the wall clock, this process's CPU time (user,
//! system: /proc/self/stat, all threads) and its I/O counters (/proc/self/io: bytes
//! read and written by system calls, bytes sent to and fetched from storage); and
//! [`Timed::lines`], one line per phase. In: the phases the library announces. Out:
//! text for stderr. Never fails: a counter that cannot be read (no /proc) is left out.

use std::sync::Mutex;
use std::time::Instant;

use mxsalvage::export::Progress;
use mxsalvage::units::size;

/// Clock ticks per second of /proc/self/stat's CPU times (USER_HZ: 100 on Linux).
const TICKS: f64 = 100.0;

/// What the counters said at one moment.
#[derive(Clone, Copy)]
struct Mark {
    at: Instant,
    /// User and system CPU seconds.
    cpu: Option<(f64, f64)>,
    /// rchar, wchar, read_bytes, write_bytes.
    io: Option<[u64; 4]>,
}

impl Mark {
    fn now() -> Mark {
        Mark {
            at: Instant::now(),
            cpu: cpu(),
            io: io(),
        }
    }
}

fn cpu() -> Option<(f64, f64)> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces: the fields after it follow its ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after field 3.
    let user: f64 = f.get(11)?.parse().ok()?;
    let sys: f64 = f.get(12)?.parse().ok()?;
    Some((user / TICKS, sys / TICKS))
}

fn io() -> Option<[u64; 4]> {
    let s = std::fs::read_to_string("/proc/self/io").ok()?;
    let get = |k: &str| -> Option<u64> {
        s.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix(": "))?
            .trim()
            .parse()
            .ok()
    };
    Some([
        get("rchar")?,
        get("wchar")?,
        get("read_bytes")?,
        get("write_bytes")?,
    ])
}

/// The display, with a note of every phase's start.
pub struct Timed<'a> {
    inner: &'a dyn Progress,
    started: Mutex<Vec<(String, Mark)>>,
}

impl<'a> Timed<'a> {
    pub fn new(inner: &'a dyn Progress) -> Timed<'a> {
        Timed {
            inner,
            started: Mutex::new(vec![("checking OUT".into(), Mark::now())]),
        }
    }

    fn note(&self, name: &str) {
        let mut v = self.started.lock().unwrap_or_else(|e| e.into_inner());
        v.push((name.to_string(), Mark::now()));
    }

    /// One line per phase, ending now, and one for the whole run.
    pub fn lines(&self) -> Vec<String> {
        let end = Mark::now();
        let v = self.started.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for (i, (name, from)) in v.iter().enumerate() {
            let to = v.get(i + 1).map_or(&end, |(_, m)| m);
            out.push(line(name, from, to));
        }
        if let Some((_, first)) = v.first() {
            out.push(line("whole run", first, &end));
        }
        out
    }
}

/// `phase: 12.3 s wall, 10.1 s user + 15.2 s sys CPU (2.06 cores), read 1.0 GB,
/// wrote 7.3 GB (593 MB/s; to storage 7.2 GB)`.
fn line(name: &str, from: &Mark, to: &Mark) -> String {
    let wall = to.at.duration_since(from.at).as_secs_f64();
    let mut l = format!("timing: {name}: {wall:.2} s wall");
    if let (Some((u0, s0)), Some((u1, s1))) = (from.cpu, to.cpu) {
        let (u, s) = ((u1 - u0).max(0.0), (s1 - s0).max(0.0));
        let cores = match wall > 0.0 {
            true => format!(" ({:.2} cores)", (u + s) / wall),
            false => String::new(),
        };
        l.push_str(&format!(", {u:.2} s user + {s:.2} s sys CPU{cores}"));
    }
    if let (Some(a), Some(b)) = (from.io, to.io) {
        let d = |i: usize| b[i].saturating_sub(a[i]);
        let rate = match wall > 0.0 {
            true => format!("{}/s; ", size((d(1) as f64 / wall) as u64)),
            false => String::new(),
        };
        l.push_str(&format!(
            ", read {}, wrote {} ({rate}to storage {})",
            size(d(0)),
            size(d(1)),
            size(d(3))
        ));
    }
    l
}

impl Progress for Timed<'_> {
    fn phase(&self, name: &str, total: u64) {
        self.note(name);
        self.inner.phase(name, total);
    }
    fn phase_bytes(&self, name: &str, total: u64) {
        self.note(name);
        self.inner.phase_bytes(name, total);
    }
    fn tick(&self) {
        self.inner.tick();
    }
    fn advance(&self, n: u64) {
        self.inner.advance(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mxsalvage::export::NoProgress;

    #[test]
    fn one_line_per_phase_with_the_counters() {
        let t = Timed::new(&NoProgress);
        t.phase("writing messages", 3);
        let _ = std::fs::write(
            std::env::temp_dir().join("mxsalvage-timings-test"),
            [0u8; 5000],
        );
        t.phase_bytes("writing mailboxes", 10);
        let lines = t.lines();
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(lines[0].starts_with("timing: checking OUT: "), "{lines:?}");
        assert!(
            lines[1].starts_with("timing: writing messages: "),
            "{lines:?}"
        );
        assert!(lines[3].starts_with("timing: whole run: "), "{lines:?}");
        // This machine has /proc: CPU and I/O are in every line; the 5 KB write is in
        // the phase it happened in.
        assert!(
            lines
                .iter()
                .all(|l| l.contains(" sys CPU") && l.contains(", wrote "))
        );
        assert!(!lines[1].contains("wrote 0 B"), "{lines:?}");
        let _ = std::fs::remove_file(std::env::temp_dir().join("mxsalvage-timings-test"));
    }
}
