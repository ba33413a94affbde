//! Human-readable sizes for summaries, progress and refusals.
//!
//! Owns: [`size`], decimal units (B, KB, MB, GB, TB; 1 KB = 1000 B) with two or three
//! significant digits: `512 B`, `22 KB`, `1.4 MB`, `6.1 GB`. Pure; never fails.

/// `bytes` with a unit: one decimal below 10 of a unit, none above.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 999.5 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if v < 9.95 {
        format!("{v:.1} {}", UNITS[u])
    } else {
        format!("{v:.0} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::size;

    #[test]
    fn units() {
        for (bytes, shown) in [
            (0, "0 B"),
            (999, "999 B"),
            (1000, "1.0 KB"),
            (22_300, "22 KB"),
            (999_400, "999 KB"),
            (999_600, "1.0 MB"),
            (1_449_000, "1.4 MB"),
            (9_960_000, "10 MB"),
            (952_000_000, "952 MB"),
            (6_100_000_000, "6.1 GB"),
            (u64::MAX, "18446744 TB"),
        ] {
            assert_eq!(size(bytes), shown, "{bytes}");
        }
    }
}
