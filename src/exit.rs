//! Exit codes, the same for every command: 0 everything done, 1 partial (some items
//! failed and are listed), 2 usage or fatal error.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Partial = 1,
    Fatal = 2,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }
    /// `Partial` when `failed`, else `Ok`.
    pub fn partial_if(failed: bool) -> Exit {
        if failed { Exit::Partial } else { Exit::Ok }
    }
}
