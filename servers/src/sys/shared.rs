//! Memory shared between a server and the children it forks.

use std::io;
use std::num::NonZeroUsize;

use nix::sys::mman::{mmap_anonymous, MapFlags, ProtFlags};

/// Places `T::default()` in an anonymous `MAP_SHARED` mapping that lives for
/// the rest of the process, so forked children and the parent see the same
/// value. `T` must be made only of atomics (`Sync`, no heap pointers).
pub fn shared_default<T: Default + Sync + 'static>() -> io::Result<&'static T> {
    let len = NonZeroUsize::new(std::mem::size_of::<T>().max(1)).expect("non-zero");
    // SAFETY: mmap_anonymous with no address hint cannot alias existing
    // memory; it returns a fresh, page-aligned (so aligned for any T whose
    // alignment is at most a page) zero-filled region of at least `len` bytes.
    let ptr = unsafe {
        mmap_anonymous(
            None,
            len,
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
            MapFlags::MAP_SHARED,
        )
    }
    .map_err(io::Error::from)?;
    let ptr = ptr.cast::<T>().as_ptr();
    assert!(std::mem::align_of::<T>() <= 4096);
    // SAFETY: ptr is valid for writes of one T (see above) and is never
    // unmapped, so the &'static reference stays valid; T is Sync, so sharing
    // it between threads (and, being atomics only, between processes) is fine.
    unsafe {
        ptr.write(T::default());
        Ok(&*ptr)
    }
}
