/* Selection kernels of the symmetric self k-NN search (isometry/distances/_selfsearch.py).
 *
 * The caller forms tiles of inner products S = X_I X_J^T (numpy's BLAS) for the upper
 * triangle of the (n, n) distance matrix; each entry d = a_i + b_j - 2 s_ij is offered to
 * row i's list (when d is below row i's threshold) and to row j's list (below row j's).
 * A list is a reservoir of `cap` (distance, id) slots: when it is full, the k smallest are
 * kept (select) and the k-th of them becomes the row's threshold. Thresholds only fall, so
 * an entry refused is never among the row's k nearest. Called through ctypes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "../_kernels.h"

/* One slot of a row's list: a distance and the other row's id, side by side. */
typedef struct {
    float d;
    int32_t id;
} entry;

/* Keep the k smallest of e[0:n] in e[0:k]; returns the largest of them. */
static float select_k(entry *e, int n, int k) {
    int lo = 0, hi = n - 1, want = k - 1;
    while (lo < hi) {
        float pivot = e[lo + ((hi - lo) >> 1)].d;
        int i = lo, j = hi;
        while (i <= j) {
            while (e[i].d < pivot) i++;
            while (e[j].d > pivot) j--;
            if (i <= j) {
                entry t = e[i]; e[i] = e[j]; e[j] = t;
                i++; j--;
            }
        }
        if (want <= j) hi = j;
        else if (want >= i) lo = i;
        else break;
    }
    float top = e[0].d;
    for (int a = 1; a < k; a++) if (e[a].d > top) top = e[a].d;
    return top;
}

static inline void offer(int64_t row, float v, int32_t id, float *restrict thr, entry *restrict res,
                         int32_t *restrict cnt, int cap, int k) {
    if (!(v < thr[row])) return;
    entry *list = res + row * (int64_t)cap;
    int c = cnt[row];
    if (c == cap) {
        thr[row] = select_k(list, cap, k);
        c = k;
        if (!(v < thr[row])) { cnt[row] = c; return; }
    }
    list[c].d = v;
    list[c].id = id;
    cnt[row] = c + 1;
}

static inline void offer_flagged(uint8_t f, float v, int64_t row, int64_t col, float *restrict thr,
                                 entry *restrict res, int32_t *restrict cnt, int cap, int k) {
    if (f & 1) offer(row, v, (int32_t)col, thr, res, cnt, cap, k);
    if (f & 2) offer(col, v, (int32_t)row, thr, res, cnt, cap, k);
}

/* S: (nr, nc) inner products, row stride ld, of rows r0.. against columns c0..; only entries
 * with c0 + j > r0 + i are used, each offered to the list of its row and of its column.
 * a, b: the rows' and columns' squared norms (zeros for inner-product order). dbuf (nc floats)
 * and fbuf (nc bytes) are scratch. */
ISO_CLONES
void iso_scan(const float *restrict S, int64_t ld, int nr, int nc, int64_t r0, int64_t c0,
              const float *restrict a, const float *restrict b, float *restrict thr, entry *restrict res,
              int32_t *restrict cnt, int cap, int k, float *restrict dbuf, uint8_t *restrict fbuf) {
    const float *tc = thr + c0;
    for (int i = 0; i < nr; i++) {
        const float *s = S + (int64_t)i * ld;
        int64_t first = r0 + i + 1 - c0;
        int j0 = first > 0 ? (int)(first < nc ? first : nc) : 0;
        float ai = a[i], ti = thr[r0 + i];
        for (int j = j0; j < nc; j++) {
            float d = ai + b[j] - 2.0f * s[j];
            dbuf[j] = d;
            fbuf[j] = (uint8_t)((d < ti) | ((d < tc[j]) << 1));
        }
        int j = j0;
        for (; j + 8 <= nc; j += 8) {  /* eight flags at a time: most words are zero */
            uint64_t w;
            memcpy(&w, fbuf + j, 8);
            while (w) {
                int at = __builtin_ctzll(w) >> 3;
                offer_flagged(fbuf[j + at], dbuf[j + at], r0 + i, c0 + j + at, thr, res, cnt, cap, k);
                w &= ~(0xFFull << (8 * at));
            }
        }
        for (; j < nc; j++)
            if (fbuf[j]) offer_flagged(fbuf[j], dbuf[j], r0 + i, c0 + j, thr, res, cnt, cap, k);
    }
}

static inline uint32_t sortable(float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

static inline float unsortable(uint32_t u) {
    u = (u & 0x80000000u) ? (u & 0x7fffffffu) : ~u;
    float v;
    memcpy(&v, &u, 4);
    return v;
}

/* Rows r0:r1 with at least k entries: their k smallest, ascending (an LSD radix sort of the
 * whole list on the float bits), into outd / outi (r1 - r0, k). Rows with fewer are left untouched.
 * tmp: 4 * cap uint32 of scratch. */
void iso_finish(const entry *res, const int32_t *cnt, int cap, int k, int64_t r0, int64_t r1, float *outd,
                int64_t *outi, uint32_t *tmp) {
    for (int64_t g = r0; g < r1; g++) {
        int c = cnt[g];
        if (c < k) continue;
        const entry *list = res + g * (int64_t)cap;
        uint32_t *ka = tmp, *kb = tmp + cap, *ia = tmp + 2 * cap, *ib = tmp + 3 * cap;
        for (int a = 0; a < c; a++) { ka[a] = sortable(list[a].d); ia[a] = (uint32_t)list[a].id; }
        for (int shift = 0; shift < 32; shift += 8) {
            int hist[256] = {0};
            for (int a = 0; a < c; a++) hist[(ka[a] >> shift) & 255]++;
            if (hist[(ka[0] >> shift) & 255] == c) continue;  /* one bucket: nothing moves */
            int pos = 0;
            for (int h = 0; h < 256; h++) { int n = hist[h]; hist[h] = pos; pos += n; }
            for (int a = 0; a < c; a++) {
                int p = hist[(ka[a] >> shift) & 255]++;
                kb[p] = ka[a];
                ib[p] = ia[a];
            }
            uint32_t *t = ka; ka = kb; kb = t;
            t = ia; ia = ib; ib = t;
        }
        float *od = outd + (g - r0) * (int64_t)k;
        int64_t *oi = outi + (g - r0) * (int64_t)k;
        for (int a = 0; a < k; a++) { od[a] = unsortable(ka[a]); oi[a] = (int64_t)ia[a]; }
    }
}

/* An importable module, so the package finds this library by import; the kernels are
 * called through ctypes. */
static struct PyModuleDef selfknn_module = {PyModuleDef_HEAD_INIT, "_selfknn",
                                            "Selection kernels of the symmetric self k-NN search.", -1, NULL};

PyMODINIT_FUNC PyInit__selfknn(void) { return PyModule_Create(&selfknn_module); }
