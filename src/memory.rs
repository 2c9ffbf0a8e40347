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

/// Asks Linux to back the memory of `values` with transparent huge pages
/// as it is first written (`MADV_HUGEPAGE`; NumPy asks the same for its
/// arrays), so that reading its elements in a random order misses the TLB
/// far less often; a refusal is harmless.
pub(crate) fn advise_huge_pages<T>(values: &[T]) {
    #[cfg(target_os = "linux")]
    if let Some((start, length)) = whole_pages(values, 4096, 1) {
        advise(start, length, libc::MADV_HUGEPAGE);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = values;
}

/// Asks Linux to back the memory of `values` with transparent huge pages
/// now, in place (`MADV_COLLAPSE`, a 2 MB region at a time: no second copy
/// of the whole), for the same reason as [`advise_huge_pages`]; a kernel
/// without it, or memory it cannot collapse, is left as it is. Arrays of
/// less than a few huge pages are not worth it.
pub(crate) fn collapse_into_huge_pages<T>(values: &[T]) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if let Some((start, length)) = whole_pages(values, 2 << 20, 4) {
        advise(start, length, libc::MADV_HUGEPAGE);
        advise(start, length, libc::MADV_COLLAPSE);
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = values;
}

/// The whole pages of `page` bytes that `values` spans, where they are more
/// than `least`: their start and length in bytes.
#[cfg(target_os = "linux")]
fn whole_pages<T>(values: &[T], page: usize, least: usize) -> Option<(usize, usize)> {
    let start = values.as_ptr() as usize;
    let end = start + std::mem::size_of_val(values);
    let aligned = start.next_multiple_of(page);
    (end > aligned + least * page).then(|| (aligned, (end - aligned) / page * page))
}

/// `madvise` of the bytes `start..start + length`.
#[cfg(target_os = "linux")]
fn advise(start: usize, length: usize, advice: libc::c_int) {
    // SAFETY: callers pass whole pages inside a live slice's allocation
    // ([`whole_pages`]); the advice changes how its pages are backed, never
    // their contents, and a refusal is harmless.
    unsafe {
        libc::madvise(start as *mut libc::c_void, length, advice);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_budget_is_at_least_a_megabyte() {
        assert!(default_budget() >= 1 << 20);
    }
}
