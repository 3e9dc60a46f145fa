// ThreadSanitizer happens-before annotations that cost a predictable branch and
// do nothing unless the process is linked with the TSan runtime
// (`swift build/test --sanitize=thread`). See Sources/Floe/Util/Lock.swift for why.
#pragma once

#if defined(__linux__)
// Weak references: non-null only when the TSan runtime (which exports these) is linked in.
extern void __tsan_acquire(void *addr) __attribute__((weak));
extern void __tsan_release(void *addr) __attribute__((weak));

static inline void floe_tsan_acquire(void *addr) {
    if (__tsan_acquire) __tsan_acquire(addr);
}

static inline void floe_tsan_release(void *addr) {
    if (__tsan_release) __tsan_release(addr);
}
#else
// Elsewhere Mutex sits on a lock TSan intercepts (os_unfair_lock, SRWLOCK): nothing to add.
static inline void floe_tsan_acquire(void *addr) { (void)addr; }
static inline void floe_tsan_release(void *addr) { (void)addr; }
#endif
