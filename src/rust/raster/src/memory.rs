//! The output memory. A batch of 1024 drawings at 128 x 128 is 134 MB of doubles that R has just
//! allocated; glibc gives blocks that large fresh from `mmap`, and touching them page by page
//! (32,768 faults of 4 KiB) costs about as much as the rendering itself. Two remedies:
//!
//! - [`advise_huge_pages`]: ask for transparent huge pages on the block before writing it (one
//!   fault per 2 MiB). Free: nothing is kept after R frees the array. Used on every batch.
//! - [`keep_freed_memory`]: make glibc serve large blocks from its heap and not give freed memory
//!   back, so the next batch reuses pages already touched. Faster still, but the process keeps
//!   its peak heap for good, so it is opt-in.

/// Advises the kernel to back the whole 2 MiB pages inside `out` with transparent huge pages
/// (Linux with THP in `madvise` or `always` mode; elsewhere nothing happens). Best effort: the
/// advice only changes how pages are faulted in, never the content.
pub fn advise_huge_pages<T>(out: &mut [T]) {
    #[cfg(target_os = "linux")]
    {
        const HUGE_PAGE: usize = 2 << 20;
        let start = out.as_mut_ptr() as usize;
        let end = start + std::mem::size_of_val(out);
        let first = start.next_multiple_of(HUGE_PAGE);
        let last = end / HUGE_PAGE * HUGE_PAGE;
        if last > first {
            // SAFETY: the range lies inside `out`, which we borrow mutably; MADV_HUGEPAGE does not
            // change its content. A failure (THP disabled) only means the advice is ignored.
            unsafe {
                libc::madvise(first as *mut libc::c_void, last - first, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = out;
}

/// Sets glibc's malloc to serve blocks up to `max_block` bytes from its heap instead of fresh
/// `mmap`s and to keep up to `keep` bytes of freed memory at the top of the heap instead of
/// returning it to the system. Returns whether both settings were accepted (false on other C
/// libraries). This changes the whole process and cannot be undone.
pub fn keep_freed_memory(max_block: usize, keep: usize) -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let as_int = |bytes: usize| libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt only changes allocator parameters; it is safe to call at any time.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, as_int(max_block)) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, as_int(keep)) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = (max_block, keep);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advice_keeps_the_content() {
        let mut buffer = vec![0.5; 3 << 20];
        advise_huge_pages(&mut buffer);
        advise_huge_pages(&mut buffer[1..10]);
        assert!(buffer.iter().all(|&value| value == 0.5));
    }
}
