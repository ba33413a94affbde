//! How a long run shows that it moves: [`Progress`] (phases, steps) and [`NoProgress`].
//!
//! A leaf of `export/`: the run's phases and `verify` count through it, the command line
//! draws it. In: counts. Out: nothing (a display is the implementor's). Cannot fail.

/// Progress reporting (the command draws a bar; the library only counts).
pub trait Progress: Sync {
    /// A phase starts with `total` steps (0: a phase that cannot be counted).
    fn phase(&self, _name: &str, _total: u64) {}
    /// A phase starts whose steps are bytes of mail, `total` of them (a display shows
    /// sizes). By default, as [`Progress::phase`].
    fn phase_bytes(&self, name: &str, total: u64) {
        self.phase(name, total)
    }
    /// One step done.
    fn tick(&self) {
        self.advance(1)
    }
    /// `n` steps done.
    fn advance(&self, _n: u64) {}
}

/// No progress output.
pub struct NoProgress;
impl Progress for NoProgress {}
