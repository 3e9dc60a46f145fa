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

// The CPU the calling thread runs on, or 0 where the platform cannot tell (a vDSO
// call on Linux: no system call). Glibc declares sched_getcpu only under _GNU_SOURCE,
// which Swift's Glibc module is not built with.
#if defined(__linux__)
extern int sched_getcpu(void);
static inline int floe_current_cpu(void) {
    int c = sched_getcpu();
    return c < 0 ? 0 : c;
}
#else
static inline int floe_current_cpu(void) { return 0; }
#endif
