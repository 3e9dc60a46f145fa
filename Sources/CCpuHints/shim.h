// CPU hints Swift has no spelling for. Header only: each is one instruction or nothing.
#pragma once

// Starts loading the cache line at `p` for a read soon; never faults, even on a bad address.
static inline void floe_prefetch(const void *p) {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p, 0, 3);
#else
    (void)p;
#endif
}
