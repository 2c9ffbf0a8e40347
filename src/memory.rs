//! The memory budget: how many bytes of rows an engine may hold before it
//! streams a source block by block instead.

use crate::error::{Error, Result};

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

/// Bytes written as a number with a unit: `512MB`, `1.5GB`, `64KB`, or a
/// bare number of bytes (units of 1000; `MiB` and `GiB` of 1024).
pub fn parse_bytes(text: &str) -> Result<u64> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => f64::NAN,
    };
    let bytes = number.parse::<f64>().map(|n| n * factor).unwrap_or(f64::NAN);
    if bytes.is_finite() && bytes >= 1.0 {
        Ok(bytes as u64)
    } else {
        Err(Error::InvalidMemoryBudget {
            value: text.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_with_their_units() {
        assert_eq!(parse_bytes("1GB").unwrap(), 1_000_000_000);
        assert_eq!(parse_bytes("512 MB").unwrap(), 512_000_000);
        assert_eq!(parse_bytes("1.5gb").unwrap(), 1_500_000_000);
        assert_eq!(parse_bytes("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_bytes("4096").unwrap(), 4096);
        for bad in ["", "GB", "1 parsec", "-1GB", "0"] {
            assert_eq!(
                parse_bytes(bad),
                Err(Error::InvalidMemoryBudget { value: bad.into() }),
                "{bad}"
            );
        }
        assert!(default_budget() >= 1 << 20);
    }
}
