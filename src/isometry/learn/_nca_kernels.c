/* Candidate work of the NCA objective (isometry/learn/nca.py) for one block of rows:
 * which softmax terms are kept, their exact float64 logits, the softmax, the weights
 * w_ij = p_ij (same_ij - p_i), and their share of the gradient, in one pass per row.
 * Called through ctypes; nca.py keeps a numpy/torch path for installs without a compiler.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../_kernels.h"

#define LANES 16

/* The largest of a[0:n], in LANES independent running maxima (no comparison waits on another). */
#define DEFINE_ROW_MAX(name, type)                                                           \
    ISO_INLINE type name(const type *restrict a, int n) {                                    \
        type lane[LANES];                                                                    \
        for (int t = 0; t < LANES; t++) lane[t] = -INFINITY;                                 \
        int j = 0;                                                                           \
        for (; j + LANES <= n; j += LANES)                                                   \
            for (int t = 0; t < LANES; t++) lane[t] = a[j + t] > lane[t] ? a[j + t] : lane[t]; \
        type top = -INFINITY;                                                                \
        for (int t = 0; t < LANES; t++) top = lane[t] > top ? lane[t] : top;                 \
        for (; j < n; j++) top = a[j] > top ? a[j] : top;                                    \
        return top;                                                                          \
    }

DEFINE_ROW_MAX(max_f32, float)
DEFINE_ROW_MAX(max_f64, double)

/* Positions of the nonzero bytes of flags[0:n] into out; returns their count. Runs of 32
 * zero flags are passed over in one test and eight flags are looked at a time, so rows with
 * few candidates cost little more than the flag pass. */
ISO_INLINE int collect(const uint8_t *restrict flags, int n, int32_t *restrict out) {
    int c = 0, j = 0;
    for (; j + 32 <= n; j += 32) {
        uint64_t w[4];
        memcpy(w, flags + j, 32);
        if (!(w[0] | w[1] | w[2] | w[3])) continue;
        for (int q = 0; q < 4; q++)
            for (uint64_t b = w[q]; b;) {
                int bit = __builtin_ctzll(b);
                out[c++] = j + 8 * q + (bit >> 3);
                b &= ~((uint64_t)0xff << (bit & ~7)); /* the whole byte: a flag may have two bits set */
            }
    }
    for (; j < n; j++)
        if (flags[j]) out[c++] = j;
    return c;
}

/* Rows s.. of a float32 screen block A (rows, n), logits 2 z_i.z_j - |z_j|^2: the entries at
 * or above their row's largest minus (cut + slack[i]), the diagonal (column s + i) excluded
 * (it is overwritten with -inf). Columns go row after row into cols (room for limit + n),
 * counts per row into counts. Returns the total, or -1 once it passes limit.
 * flags: n bytes of scratch. */
ISO_CLONES
int64_t nca_screen(float *A, int rows, int n, int64_t s, const float *slack, float cut, int32_t *cols,
                   int32_t *counts, int64_t limit, uint8_t *flags) {
    int64_t total = 0;
    for (int i = 0; i < rows; i++) {
        float *a = A + (int64_t)i * n;
        if (s + i < n) a[s + i] = -INFINITY;
        float floor = max_f32(a, n) - (cut + slack[i]);
        for (int j = 0; j < n; j++) flags[j] = a[j] >= floor;
        counts[i] = collect(flags, n, cols + total);
        total += counts[i];
        if (total > limit) return -1;
    }
    return total;
}

/* The same for an exact float64 block E (rows, n): entries at or above the row's largest
 * minus cut. Returns the total. */
ISO_CLONES
int64_t nca_exact_candidates(double *E, int rows, int n, int64_t s, double cut, int32_t *cols, int32_t *counts,
                             uint8_t *flags) {
    int64_t total = 0;
    for (int i = 0; i < rows; i++) {
        double *e = E + (int64_t)i * n;
        if (s + i < n) e[s + i] = -INFINITY;
        double floor = max_f64(e, n) - cut;
        for (int j = 0; j < n; j++) flags[j] = e[j] >= floor;
        counts[i] = collect(flags, n, cols + total);
        total += counts[i];
    }
    return total;
}

/* exp(x) for -700 <= x <= 0 in plain arithmetic, so that a loop of it vectorizes: x = k ln2 + r
 * (Cody-Waite, fdlibm's split of ln2), exp(r) by its Taylor series to r^13 (|r| <= ln2 / 2:
 * truncation below 1e-17), 2^k from k's bits. Within 2 ulp of exp. */
static inline double exp_nonpositive(double x) {
    const double shifter = 0x1.8p52;
    double t = x * 0x1.71547652b82fep0 + shifter; /* log2(e) x, rounded, in t's low bits */
    double kf = t - shifter;
    double r = (x - kf * 0x1.62e42feep-1) - kf * 0x1.a39ef35793c76p-33;
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    uint64_t bits;
    memcpy(&bits, &t, 8);
    bits = (bits + 1023) << 52; /* 2^k: t's mantissa ends in k */
    double scale;
    memcpy(&scale, &bits, 8);
    return p * scale;
}

/* x.y in LANES independent partial sums: their chains of additions overlap, where one
 * running sum would wait on each addition's latency. */
static inline double dot(const double *restrict x, const double *restrict y, int k) {
    double part[LANES] = {0.0};
    int t = 0;
    for (; t + LANES <= k; t += LANES)
        for (int u = 0; u < LANES; u++) part[u] += x[t + u] * y[t + u];
    for (int u = 0; t + u < k; u++) part[u] += x[t + u] * y[t + u];
    double half[LANES / 2];
    for (int u = 0; u < LANES / 2; u++) half[u] = part[u] + part[u + LANES / 2];
    double sum = 0.0;
    for (int u = 0; u < LANES / 2; u++) sum += half[u];
    return sum;
}

/* wzi += w zj and wzj += w zi (two different rows). */
static inline void exchange(double *restrict wzi, double *restrict wzj, const double *restrict zi,
                            const double *restrict zj, double w, int k) {
    for (int t = 0; t < k; t++) {
        wzi[t] += w * zj[t];
        wzj[t] += w * zi[t];
    }
}

/* Rows s.. of the upper triangle of a float32 Gram block G (rows, n - s), G[i][j - s] = z_i.z_j
 * for j >= s + i: each entry right of the diagonal is tested for both of its rows. (i, j) is kept
 * for row i when 2 z_i.z_j - |z_j|^2 >= floor[i], and for row j when 2 z_i.z_j - |z_i|^2 >= floor[j].
 * Kept pairs are appended, as (row, column), to prow / pcol after the first `total` (room for
 * limit + 2 n); a row's pairs come out with its columns in increasing order once all blocks are
 * in. Returns the new total, or -1 once it passes limit. flags (n bytes) and found (n) are scratch. */
ISO_CLONES
int64_t nca_screen_pairs(const float *G, int rows, int n, int64_t s, const float *sq, const float *floor,
                         int32_t *prow, int32_t *pcol, int64_t total, int64_t limit, uint8_t *flags, int32_t *found) {
    for (int i = 0; i < rows; i++) {
        int64_t gi = s + i;
        int m = n - (int)gi - 1;
        if (m <= 0) continue;
        const float *g = G + (int64_t)i * (n - s) + (gi + 1 - s);
        const float *sqj = sq + gi + 1, *floorj = floor + gi + 1;
        float floor_i = floor[gi], sq_i = sq[gi];
        for (int t = 0; t < m; t++) {
            float twice = 2.0f * g[t];
            flags[t] = (uint8_t)((twice - sqj[t] >= floor_i) | ((twice - sq_i >= floorj[t]) << 1));
        }
        int c = collect(flags, m, found);
        /* row gi's pairs, then the other rows'; each slot is written, and kept only when its
         * flag is set (no branch to mispredict): the next write or the next pass overwrites it */
        for (int a = 0; a < c; a++) {
            prow[total] = (int32_t)gi;
            pcol[total] = (int32_t)gi + 1 + found[a];
            total += flags[found[a]] & 1;
        }
        for (int a = 0; a < c; a++) {
            prow[total] = (int32_t)gi + 1 + found[a];
            pcol[total] = (int32_t)gi;
            total += flags[found[a]] >> 1;
        }
        if (total > limit) return -1;
    }
    return total;
}

/* The pairs (prow, pcol)[0:total] grouped by row, each row's in the order they came: counts (n)
 * and cols (total). start: n + 1 int64 of scratch. */
void nca_pairs_to_rows(const int32_t *prow, const int32_t *pcol, int64_t total, int n, int32_t *counts,
                       int32_t *cols, int64_t *start) {
    memset(counts, 0, sizeof(int32_t) * (size_t)n);
    for (int64_t a = 0; a < total; a++) counts[prow[a]]++;
    start[0] = 0;
    for (int r = 0; r < n; r++) start[r + 1] = start[r] + counts[r];
    for (int64_t a = 0; a < total; a++) cols[start[prow[a]]++] = pcol[a];
}

/* Rows s.. with their candidates (cols, counts as above): logits from E (rows, n) when given,
 * else 2 z_i.z_j - |z_j|^2 from Z (n, k) and sq (n); the softmax over each row's candidates
 * within cut of its largest (the others are dropped, whatever the screen let through);
 * w = p (same - p_i). Adds w's row and column sums to rc (n) and (W + W^T) Z to WZ (n, k), and
 * writes each row's largest logit's column to nearest (n). buf: n doubles of scratch.
 * Returns sum_i p_i over the block. */
ISO_CLONES
double nca_accumulate(int rows, int n, int k, int64_t s, const int32_t *cols, const int32_t *counts,
                      const double *E, const double *Z, const double *sq, const int64_t *codes, double cut,
                      double *rc, double *WZ, double *buf, int32_t *nearest) {
    double value = 0.0;
    int64_t at = 0;
    for (int i = 0; i < rows; i++) {
        int c = counts[i];
        int64_t gi = s + i;
        const double *zi = Z + gi * k;
        const int32_t *col = cols + at;
        at += c;
        double top = -INFINITY;
        int best = 0;
        for (int a = 0; a < c; a++) {
            double v;
            if (E) {
                v = E[(int64_t)i * n + col[a]];
            } else {
                v = 2.0 * dot(zi, Z + (int64_t)col[a] * k, k) - sq[col[a]];
            }
            buf[a] = v;
            if (v > top) {
                top = v;
                best = a;
            }
        }
        if (c > 0) nearest[gi] = col[best];
        for (int a = 0; a < c; a++) {
            double x = buf[a] - top;
            buf[a] = x >= -cut ? exp_nonpositive(x) : 0.0;
        }
        double sum = 0.0;
        for (int a = 0; a < c; a++) sum += buf[a];
        double p_i = 0.0;
        for (int a = 0; a < c; a++) {
            buf[a] /= sum;
            if (codes[col[a]] == codes[gi]) p_i += buf[a];
        }
        value += p_i;
        double row_sum = 0.0;
        double *wzi = WZ + gi * k;
        for (int a = 0; a < c; a++) {
            if (buf[a] == 0.0) continue; /* dropped above */
            int64_t j = col[a];
            double w = buf[a] * ((codes[j] == codes[gi] ? 1.0 : 0.0) - p_i);
            row_sum += w;
            rc[j] += w;
            exchange(wzi, WZ + j * k, zi, Z + j * k, w, k);
        }
        rc[gi] += row_sum;
    }
    return value;
}

static struct PyModuleDef nca_module = {PyModuleDef_HEAD_INIT, "_nca_kernels",
                                        "Candidate work of the NCA objective.", -1, NULL};

PyMODINIT_FUNC PyInit__nca_kernels(void) { return PyModule_Create(&nca_module); }
