//! The memory budget: how many bytes of rows an engine may hold before it
//! streams a source block by block instead.

/// The share of physical memory the default budget takes.
const DEFAULT_SHARE: f64 = 0.5;
/// The budget where physical memory cannot be read.
const FALLBACK: u64 = 4 << 30;

/// Half of the machine's physical memory (4 GiB where it cannot be read).
pub fn default_budget() -> u64 {
    physical_memory().map_or(FALLBACK, |bytes| (bytes as f64 * DEFAULT_SHARE) as u64)
}

#[cfg(target_os = "linux")]
fn physical_memory() -> Option<u64> {
    // SAFETY: sysconf only reads system constants.
    let (pages, page_size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    (pages > 0 && page_size > 0).then(|| pages as u64 * page_size as u64)
}

#[cfg(not(target_os = "linux"))]
fn physical_memory() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_budget_is_at_least_a_megabyte() {
        assert!(default_budget() >= 1 << 20);
    }
}
