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

/* Positions of the nonzero bytes of flags[0:n] into out; returns their count. Eight flags
 * are tested at a time, so rows with few candidates cost little more than the flag pass. */
static int collect(const uint8_t *restrict flags, int n, int32_t *restrict out) {
    int c = 0, j = 0;
    for (; j + 8 <= n; j += 8) {
        uint64_t w;
        memcpy(&w, flags + j, 8);
        for (; w; w &= w - 1) out[c++] = j + (__builtin_ctzll(w) >> 3);
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

/* Rows s.. with their candidates (cols, counts as above): logits from E (rows, n) when given,
 * else 2 z_i.z_j - |z_j|^2 from Z (n, k) and sq (n); softmax over each row's candidates;
 * w = p (same - p_i). Adds w's row and column sums to rc (n) and (W + W^T) Z to WZ (n, k).
 * buf: n doubles of scratch. Returns sum_i p_i over the block. */
ISO_CLONES
double nca_accumulate(int rows, int n, int k, int64_t s, const int32_t *cols, const int32_t *counts,
                      const double *E, const double *Z, const double *sq, const int64_t *codes, double *rc,
                      double *WZ, double *buf) {
    double value = 0.0;
    int64_t at = 0;
    for (int i = 0; i < rows; i++) {
        int c = counts[i];
        int64_t gi = s + i;
        const double *zi = Z + gi * k;
        const int32_t *col = cols + at;
        at += c;
        double top = -INFINITY;
        for (int a = 0; a < c; a++) {
            double v;
            if (E) {
                v = E[(int64_t)i * n + col[a]];
            } else {
                v = 2.0 * dot(zi, Z + (int64_t)col[a] * k, k) - sq[col[a]];
            }
            buf[a] = v;
            top = v > top ? v : top;
        }
        for (int a = 0; a < c; a++) buf[a] = exp_nonpositive(buf[a] - top);  /* >= -(cut + slack) */
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
