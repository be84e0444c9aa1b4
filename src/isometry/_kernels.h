/* Shared by the optional C kernels. ISO_CLONES builds a hot function for AVX-512, AVX2 and
 * the baseline, and the dynamic loader picks one for the CPU at run time (gcc on x86-64
 * Linux; one baseline build elsewhere). */
#ifndef ISOMETRY_KERNELS_H
#define ISOMETRY_KERNELS_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define ISO_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ISO_CLONES
#endif

/* A helper of an ISO_CLONES function: inlined, so each clone gets it built for its target
 * (a helper left out of line runs the baseline build in every clone). */
#if defined(__GNUC__)
#define ISO_INLINE static inline __attribute__((always_inline))
#else
#define ISO_INLINE static inline
#endif

#endif
