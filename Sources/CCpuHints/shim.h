// CPU hints Swift has no spelling for. Header only: each is a few instructions or nothing.
#pragma once
#include <stddef.h>
#include <stdint.h>

// Starts loading the cache line at `p` for a read soon; never faults, even on a bad address.
static inline void floe_prefetch(const void *p) {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p, 0, 3);
#else
    (void)p;
#endif
}

// Starts loading every 64-byte cache line that `[p, p + n)` touches (lines are aligned
// on addresses, not on offsets into the caller's buffer).
static inline void floe_prefetch_range(const void *p, size_t n) {
    uintptr_t line = (uintptr_t)p & ~(uintptr_t)63;
    const uintptr_t end = (uintptr_t)p + n;
    for (; line < end; line += 64) floe_prefetch((const void *)line);
}
