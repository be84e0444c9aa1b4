/* Candidate work of the NCA objective (isometry/learn/nca.py): which softmax terms are kept,
 * their exact float64 logits, the softmax, the weights w_ij = p_ij (same_ij - p_i), and their
 * share of the gradient. Two forms: one block of rows at a time, one pass per row
 * (nca_screen / nca_exact_candidates, then nca_accumulate); or, given hints for each row's
 * nearest point, the upper triangle screened in low precision with an error bound and the
 * work done once per pair (nca_screen_inputs, nca_screen_pairs_*, nca_pairs_accumulate).
 * Called through ctypes; nca.py keeps a numpy/torch path for installs without a compiler.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
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

/* One bit per byte of w (bit q for byte q, little-endian), set where the byte's low two bits
 * are not both zero: the bits are moved together by one multiplication. */
ISO_INLINE uint64_t nonzero_bytes(uint64_t w) {
    w = (w | (w >> 1)) & 0x0101010101010101ULL;
    return (w * 0x0102040810204080ULL) >> 56;
}

/* Positions of the nonzero bytes of flags[0:n] (each 0-3) into out; returns their count. Flags
 * are turned into a 64-bit mask 64 at a time and its set bits taken one by one, so the work
 * is one step per position found plus a few per 64 flags. */
ISO_INLINE int collect(const uint8_t *restrict flags, int n, int32_t *restrict out) {
    int c = 0, j = 0;
    for (; j + 64 <= n; j += 64) {
        uint64_t bits = 0;
        for (int q = 0; q < 8; q++) {
            uint64_t w;
            memcpy(&w, flags + j + 8 * q, 8);
            bits |= nonzero_bytes(w) << (8 * q);
        }
        for (; bits; bits &= bits - 1) out[c++] = j + __builtin_ctzll(bits);
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

/* bfloat16 to float32: its bits are the high half of the float's. */
ISO_INLINE float from_bf16(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Rows s.. of the upper triangle of a low-precision Gram block G (rows, n - s), G[i][j - s] ~
 * z_i.z_j for j >= s + i, off by at most alpha[i] u[j] + u[i] alpha[j]: each entry right of the
 * diagonal is tested for both of its rows, with that bound added. (i, j) is kept for row i when
 * 2 z_i.z_j - |z_j|^2 may reach floor[i] (flag 1), and for row j when 2 z_i.z_j - |z_i|^2 may
 * reach floor[j] (flag 2). Each pair kept for either row is appended once, as (i, j, flags) with
 * i < j, to pi / pj / pf after the first `total` (room for limit + n): rows in order, and each
 * row's columns in increasing order. Returns the new total, or -1 once it passes limit.
 * flags (n bytes) and found (n) are scratch. */
#define DEFINE_SCREEN_PAIRS(name, type, load)                                                               \
    ISO_CLONES                                                                                            \
    int64_t name(const type *G, int rows, int n, int64_t s, const float *sq, const float *floor,            \
                 const float *alpha, const float *u, int32_t *pi, int32_t *pj, uint8_t *pf, int64_t total,  \
                 int64_t limit, uint8_t *flags, int32_t *found) {                                           \
        for (int i = 0; i < rows; i++) {                                                                  \
            int64_t gi = s + i;                                                                           \
            int m = n - (int)gi - 1;                                                                      \
            if (m <= 0) continue;                                                                         \
            const type *g = G + (int64_t)i * (n - s) + (gi + 1 - s);                                      \
            const float *sqj = sq + gi + 1, *floorj = floor + gi + 1, *aj = alpha + gi + 1, *uj = u + gi + 1; \
            float floor_i = floor[gi], sq_i = sq[gi], a_i = 2.0f * alpha[gi], u_i = 2.0f * u[gi];         \
            for (int t = 0; t < m; t++) {                                                                 \
                float high = 2.0f * load(g[t]) + (a_i * uj[t] + u_i * aj[t]);                             \
                flags[t] = (uint8_t)((high - sqj[t] >= floor_i) | ((high - sq_i >= floorj[t]) << 1));    \
            }                                                                                             \
            int c = collect(flags, m, found);                                                             \
            for (int a = 0; a < c; a++) {                                                                 \
                pi[total + a] = (int32_t)gi;                                                              \
                pj[total + a] = (int32_t)gi + 1 + found[a];                                               \
                pf[total + a] = flags[found[a]];                                                          \
            }                                                                                             \
            total += c;                                                                                   \
            if (total > limit) return -1;                                                                 \
        }                                                                                                 \
        return total;                                                                                     \
    }

#define AS_FLOAT(x) (x)
DEFINE_SCREEN_PAIRS(nca_screen_pairs_f32, float, AS_FLOAT)
DEFINE_SCREEN_PAIRS(nca_screen_pairs_bf16, uint16_t, from_bf16)

/* 8 doubles, one AVX-512 register (two AVX2 ones, four SSE ones in the other builds). */
typedef double v8d __attribute__((vector_size(64)));
#define LOAD8(v, p) memcpy(&(v), (p), 64)
#define STORE8(p, v) memcpy((p), &(v), 64)

/* For pairs (i, j[a]) with weights w[a], a < m: WZ_i += sum_a w_a z_j[a] and WZ_j[a] += w_a z_i.
 * WZ_i's share is summed in registers, 32 columns at a time, so that each pair stores only to
 * WZ_j (stores limit this loop). */
ISO_INLINE void exchange_run(double *WZ, const double *Z, int k, int64_t i, const int32_t *j, const double *w,
                             int64_t m) {
    double *wzi = WZ + i * k;
    const double *zi = Z + i * k;
    int t0 = 0;
    for (; t0 + 32 <= k; t0 += 32) {
        v8d acc[4] = {{0}}, z[4], x, y;
        for (int q = 0; q < 4; q++) LOAD8(z[q], zi + t0 + 8 * q);
        for (int64_t a = 0; a < m; a++) {
            double v = w[a];
            if (v == 0.0) continue;
            const double *zj = Z + (int64_t)j[a] * k + t0;
            double *wzj = WZ + (int64_t)j[a] * k + t0;
            for (int q = 0; q < 4; q++) {
                LOAD8(x, zj + 8 * q);
                acc[q] += v * x;
                LOAD8(y, wzj + 8 * q);
                y += v * z[q];
                STORE8(wzj + 8 * q, y);
            }
        }
        for (int q = 0; q < 4; q++) {
            LOAD8(y, wzi + t0 + 8 * q);
            y += acc[q];
            STORE8(wzi + t0 + 8 * q, y);
        }
    }
    if (t0 < k)
        for (int64_t a = 0; a < m; a++)
            if (w[a] != 0.0)
                exchange(wzi + t0, WZ + (int64_t)j[a] * k + t0, zi + t0, Z + (int64_t)j[a] * k + t0, w[a], k - t0);
}

/* Inputs of the triangular screen from Z (n, k): sq = |z|^2 (n, float64), low = Z rounded to
 * bfloat16 (bits, when bf16) or float32 (n, k), sq32 = sq in float32, and alpha, u (n, float32,
 * rounded up) with |z_i.z_j - G_ij| <= alpha_i u_j + u_i alpha_j for the Gram matrix G that a
 * GEMM forms from low with float32 sums (u = max(|z|, |low(z)|), alpha = |z - low(z)| + c u,
 * c covering sums over k and two roundings of G to bfloat16). floor (n, float32, rounded down)
 * is each row's exact logit to its hint `nearest` less cut and a slack for the float32
 * arithmetic of the tests. Returns -1 where a value is beyond float32's range, else 0. */
ISO_CLONES
int nca_screen_inputs(int n, int k, const double *Z, const int32_t *nearest, double cut, int bf16, double *sq,
                      void *low, float *sq32, float *floor, float *alpha, float *u) {
    const double eps32 = FLT_EPSILON, c = (bf16 ? 0x1p-8 : eps32) + k * eps32;
    double max_sq = 0.0;
    for (int i = 0; i < n; i++) {
        const double *z = Z + (int64_t)i * k;
        double s = 0.0, s_low = 0.0, s_off = 0.0;
        if (bf16) {
            uint16_t *out = (uint16_t *)low + (int64_t)i * k;
            for (int t = 0; t < k; t++) {
                float f = (float)z[t];
                uint32_t bits;
                memcpy(&bits, &f, 4);
                out[t] = (uint16_t)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16); /* to nearest, ties to even */
                double b = from_bf16(out[t]);
                s += z[t] * z[t];
                s_low += b * b;
                s_off += (z[t] - b) * (z[t] - b);
            }
        } else {
            float *out = (float *)low + (int64_t)i * k;
            for (int t = 0; t < k; t++) {
                out[t] = (float)z[t];
                double b = out[t];
                s += z[t] * z[t];
                s_low += b * b;
                s_off += (z[t] - b) * (z[t] - b);
            }
        }
        double norm = sqrt(s > s_low ? s : s_low);
        sq[i] = s;
        sq32[i] = (float)s;
        u[i] = nextafterf((float)norm, INFINITY);
        alpha[i] = nextafterf((float)(sqrt(s_off) + c * norm), INFINITY);
        max_sq = s > max_sq ? s : max_sq;
    }
    int finite = 1;
    for (int i = 0; i < n; i++) {
        int32_t j = nearest[i];
        double known = 2.0 * dot(Z + (int64_t)i * k, Z + (int64_t)j * k, k) - sq[j];
        double lowest = known - cut - (1.0 + 8.0 * k * eps32 * (sq[i] + max_sq));
        float f = (float)lowest;
        floor[i] = (double)f > lowest ? nextafterf(f, -INFINITY) : f;
        finite &= isfinite(floor[i]) && isfinite(sq32[i]) && isfinite(alpha[i]);
    }
    return finite ? 0 : -1;
}

/* The NCA candidate work over pairs (pi, pj, pf)[0:total] from nca_screen_pairs, in passes over
 * the pairs: each pair's z_i.z_j once in float64, giving row i's logit 2 z_i.z_j - |z_j|^2
 * (when flag 1) and row j's 2 z_i.z_j - |z_i|^2 (when flag 2); each row's largest; the softmax
 * terms (those below exp(-cut) of their row's largest dropped); and w = p (same - p_row) for
 * both ends, whose sum W_ij + W_ji is added once to rc (n, at both ends) and to (W + W^T) Z in
 * WZ (n, k), both set to zero first; WZ ends as diag(rc) Z - (W + W^T) Z. Writes each row's
 * largest logit's column to nearest (n); rows with no pair keep theirs. Scratch: up and down
 * (total doubles each), rows (3 n doubles). Returns sum_i p_i. */
ISO_CLONES
double nca_pairs_accumulate(int n, int k, int64_t total, const int32_t *pi, const int32_t *pj, const uint8_t *pf,
                            const double *Z, const double *sq, const int64_t *codes, double cut, double *rc,
                            double *WZ, int32_t *nearest, double *up, double *down, double *rows) {
    double *top = rows, *sum = rows + n, *same_sum = rows + 2 * (int64_t)n;
    memset(rc, 0, sizeof(double) * (size_t)n);
    memset(WZ, 0, sizeof(double) * (size_t)n * (size_t)k);
    for (int r = 0; r < n; r++) {
        top[r] = -INFINITY;
        sum[r] = same_sum[r] = 0.0;
    }
    for (int64_t p = 0; p < total; p++) {
        int32_t i = pi[p], j = pj[p];
        double twice = 2.0 * dot(Z + (int64_t)i * k, Z + (int64_t)j * k, k);
        double to_i = (pf[p] & 1) ? twice - sq[j] : -INFINITY, to_j = (pf[p] & 2) ? twice - sq[i] : -INFINITY;
        up[p] = to_i;
        down[p] = to_j;
        top[i] = to_i > top[i] ? to_i : top[i];
        top[j] = to_j > top[j] ? to_j : top[j];
    }
    for (int64_t p = 0; p < total; p++) {
        int32_t i = pi[p], j = pj[p];
        if (up[p] == top[i] && up[p] > -INFINITY) nearest[i] = j;
        if (down[p] == top[j] && down[p] > -INFINITY) nearest[j] = i;
        up[p] -= top[i];
        down[p] -= top[j];
    }
    for (int64_t p = 0; p < total; p++) { /* -inf and NaN (a row with no logit) give 0 */
        up[p] = up[p] >= -cut ? exp_nonpositive(up[p]) : 0.0;
        down[p] = down[p] >= -cut ? exp_nonpositive(down[p]) : 0.0;
    }
    for (int64_t p = 0; p < total; p++) {
        int32_t i = pi[p], j = pj[p];
        double same = codes[i] == codes[j] ? 1.0 : 0.0;
        sum[i] += up[p];
        sum[j] += down[p];
        same_sum[i] += same * up[p];
        same_sum[j] += same * down[p];
    }
    double value = 0.0;
    for (int r = 0; r < n; r++) { /* same_sum becomes p_r, sum 1 / sum */
        if (sum[r] == 0.0) continue;
        same_sum[r] /= sum[r];
        sum[r] = 1.0 / sum[r];
        value += same_sum[r];
    }
    for (int64_t p = 0; p < total; p++) { /* up becomes W_ij + W_ji */
        int64_t i = pi[p], j = pj[p];
        double same = codes[i] == codes[j] ? 1.0 : 0.0;
        double w = up[p] * sum[i] * (same - same_sum[i]) + down[p] * sum[j] * (same - same_sum[j]);
        up[p] = w;
        rc[i] += w;
        rc[j] += w;
    }
    for (int64_t first = 0, last; first < total; first = last) { /* runs of pairs with the same i */
        for (last = first + 1; last < total && pi[last] == pi[first]; last++) {}
        exchange_run(WZ, Z, k, pi[first], pj + first, up + first, last - first);
    }
    for (int r = 0; r < n; r++)
        for (int t = 0; t < k; t++) WZ[(int64_t)r * k + t] = rc[r] * Z[(int64_t)r * k + t] - WZ[(int64_t)r * k + t];
    return value;
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
