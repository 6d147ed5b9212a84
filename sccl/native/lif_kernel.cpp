// sccl native kernel: the recurrent LIF layer's time loop, forward and backward, fused per time step,
// with spike-driven products, and the event-based input projection. See docs/performance.md.
//
// Rounding: compiled without -ffast-math and with -ffp-contract=off, every operation below is rounded
// where the PyTorch path (sccl/model.py) rounds it, in the same order:
//   forward   U_{t+1} = fma(-U', S_t, U')  with U' = beta U_t + I_t         (addcmul_ with value -1)
//             I_{t+1} = alpha I_t + (S_{t-1} v + ff_t)
//   backward  ga_{t-1} = fma(keep_t, gU_{t+1}, alpha ga_t)                   (addcmul_)
//             gU_t     = fma(beta keep_t, gU_{t+1}, (g_ext_t + ga_{t+1} v^T) sig_t)
// (torch's addcmul is a fused multiply-add on this CPU; the kernel uses std::fma exactly there).
// A spike-driven product sum_j S[j] W[j, :] adds the rows of the active units in ascending j, split
// into the same K blocks as the BLAS (block size `kb`, measured by sccl/kernels.py), so its result
// equals the dense matmul bit for bit when the BLAS sums each block in order.
//
// Layout: time-major [T, B, H], contiguous; float32 or float64. Single-threaded, except the dense
// gradient products, which call ATen (same calls as the PyTorch path).
#include <ATen/ATen.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <dlfcn.h>
#endif

namespace {

using at::Tensor;

// Indices of the nonzero entries of row[0..n), ascending: a vector compare to a bit mask, then the
// set bits (most of a spike row is zero). idx needs room for n entries.
template <typename T>
inline int active_units(const T* row, int n, int* idx) {
  int m = 0;
  int j = 0;
#if defined(__AVX512F__)
  // the lane numbers of the nonzero lanes, packed by a compress and stored with a mask: no branch per
  // set bit (a bit loop mispredicts on sparse spikes; measured 1.5-2x slower in S^T G and the forward)
  const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  constexpr int L = std::is_same_v<T, float> ? 16 : 8;
  for (; j + L <= n; j += L) {
    __mmask16 k;
    if constexpr (std::is_same_v<T, float>)
      k = _mm512_cmp_ps_mask(_mm512_loadu_ps(row + j), _mm512_setzero_ps(), _CMP_NEQ_UQ);
    else
      k = _mm512_cmp_pd_mask(_mm512_loadu_pd(row + j), _mm512_setzero_pd(), _CMP_NEQ_UQ);
    const __m512i packed = _mm512_maskz_compress_epi32(k, _mm512_add_epi32(lanes, _mm512_set1_epi32(j)));
    const int c = __builtin_popcount(static_cast<unsigned>(k));
    _mm512_mask_storeu_epi32(idx + m, static_cast<__mmask16>((1u << c) - 1), packed);
    m += c;
  }
  if (j < n) {   // the last n - j < L lanes, with a masked load
    const __mmask16 tail = static_cast<__mmask16>((1u << (n - j)) - 1);
    __mmask16 k;
    if constexpr (std::is_same_v<T, float>)
      k = _mm512_mask_cmp_ps_mask(tail, _mm512_maskz_loadu_ps(tail, row + j), _mm512_setzero_ps(), _CMP_NEQ_UQ);
    else
      k = _mm512_mask_cmp_pd_mask(static_cast<__mmask8>(tail), _mm512_maskz_loadu_pd(static_cast<__mmask8>(tail), row + j),
                                  _mm512_setzero_pd(), _CMP_NEQ_UQ);
    const __m512i packed = _mm512_maskz_compress_epi32(k, _mm512_add_epi32(lanes, _mm512_set1_epi32(j)));
    const int c = __builtin_popcount(static_cast<unsigned>(k));
    _mm512_mask_storeu_epi32(idx + m, static_cast<__mmask16>((1u << c) - 1), packed);
    m += c;
    j = n;
  }
#elif defined(__AVX2__)
  if constexpr (std::is_same_v<T, float>) {
    const __m256 zero = _mm256_setzero_ps();
    for (; j + 8 <= n; j += 8) {
      unsigned k = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(row + j), zero, _CMP_NEQ_UQ));
      for (; k; k &= k - 1) idx[m++] = j + __builtin_ctz(k);
    }
  } else {
    const __m256d zero = _mm256_setzero_pd();
    for (; j + 4 <= n; j += 4) {
      unsigned k = _mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd(row + j), zero, _CMP_NEQ_UQ));
      for (; k; k &= k - 1) idx[m++] = j + __builtin_ctz(k);
    }
  }
#endif
  for (; j < n; ++j)
    if (row[j] != T(0)) idx[m++] = j;
  return m;
}

// One 64-byte vector of T (16 floats / 8 doubles) with loads and stores of a partial tail (n < L lanes,
// masked on AVX-512) and an exact fused multiply-add. Without AVX-512: plain arrays (the compiler
// vectorises the fixed-length loops) and std::fma.
#if defined(__AVX512F__)
template <typename T> struct VecReg;
template <> struct VecReg<float> { using type = __m512; };
template <> struct VecReg<double> { using type = __m512d; };
#endif

template <typename T>
struct Vec {
  static constexpr int L = 64 / static_cast<int>(sizeof(T));
#if defined(__AVX512F__)
  typename VecReg<T>::type r;
  static Vec zero() {
    if constexpr (std::is_same_v<T, float>) return {_mm512_setzero_ps()}; else return {_mm512_setzero_pd()};
  }
  static Vec set1(T c) {
    if constexpr (std::is_same_v<T, float>) return {_mm512_set1_ps(c)}; else return {_mm512_set1_pd(c)};
  }
  static Vec load(const T* p) {
    if constexpr (std::is_same_v<T, float>) return {_mm512_loadu_ps(p)}; else return {_mm512_loadu_pd(p)};
  }
  static Vec loadn(const T* p, int n) {   // lanes >= n are zero; nothing past p + n is read
    if constexpr (std::is_same_v<T, float>)
      return {_mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), p)};
    else
      return {_mm512_maskz_loadu_pd(static_cast<__mmask8>((1u << n) - 1), p)};
  }
  void store(T* p) const {
    if constexpr (std::is_same_v<T, float>) _mm512_storeu_ps(p, r); else _mm512_storeu_pd(p, r);
  }
  void storen(T* p, int n) const {
    if constexpr (std::is_same_v<T, float>)
      _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1), r);
    else
      _mm512_mask_storeu_pd(p, static_cast<__mmask8>((1u << n) - 1), r);
  }
  static Vec fma(Vec a, Vec b, Vec c) {   // a * b + c, one rounding
    if constexpr (std::is_same_v<T, float>) return {_mm512_fmadd_ps(a.r, b.r, c.r)};
    else return {_mm512_fmadd_pd(a.r, b.r, c.r)};
  }
  static Vec mul(Vec a, Vec b) {
    if constexpr (std::is_same_v<T, float>) return {_mm512_mul_ps(a.r, b.r)}; else return {_mm512_mul_pd(a.r, b.r)};
  }
  static Vec add(Vec a, Vec b) {
    if constexpr (std::is_same_v<T, float>) return {_mm512_add_ps(a.r, b.r)}; else return {_mm512_add_pd(a.r, b.r)};
  }
#else
  T r[L];
  static Vec zero() { Vec v; for (int i = 0; i < L; ++i) v.r[i] = T(0); return v; }
  static Vec set1(T c) { Vec v; for (int i = 0; i < L; ++i) v.r[i] = c; return v; }
  static Vec load(const T* p) { Vec v; for (int i = 0; i < L; ++i) v.r[i] = p[i]; return v; }
  static Vec loadn(const T* p, int n) { Vec v; for (int i = 0; i < L; ++i) v.r[i] = i < n ? p[i] : T(0); return v; }
  void store(T* p) const { for (int i = 0; i < L; ++i) p[i] = r[i]; }
  void storen(T* p, int n) const { for (int i = 0; i < n; ++i) p[i] = r[i]; }
  static Vec fma(Vec a, Vec b, Vec c) { Vec v; for (int i = 0; i < L; ++i) v.r[i] = std::fma(a.r[i], b.r[i], c.r[i]); return v; }
  static Vec mul(Vec a, Vec b) { Vec v; for (int i = 0; i < L; ++i) v.r[i] = a.r[i] * b.r[i]; return v; }
  static Vec add(Vec a, Vec b) { Vec v; for (int i = 0; i < L; ++i) v.r[i] = a.r[i] + b.r[i]; return v; }
#endif
};

// The largest number of vector accumulators one pass keeps in registers.
constexpr int kMaxVecs = 16;

// Runs f(std::integral_constant<int, NV>{}, k0, n) for each chunk [k0, k0 + n) of N columns, n <=
// kMaxVecs vectors: NV = ceil(n / L) is a compile-time constant, so a chunk's accumulators stay in
// registers (the kernels' one dispatch from a runtime width to their NV-templated bodies).
template <typename T, typename F>
inline void for_column_chunks(int N, F&& f) {
  constexpr int L = Vec<T>::L;
  for (int k0 = 0; k0 < N; k0 += kMaxVecs * L) {
    const int n = std::min(N - k0, kMaxVecs * L);
    switch ((n + L - 1) / L) {
#define SCCL_CASE(NV) case NV: f(std::integral_constant<int, NV>{}, k0, n); break;
      SCCL_CASE(1) SCCL_CASE(2) SCCL_CASE(3) SCCL_CASE(4) SCCL_CASE(5) SCCL_CASE(6) SCCL_CASE(7) SCCL_CASE(8)
      SCCL_CASE(9) SCCL_CASE(10) SCCL_CASE(11) SCCL_CASE(12) SCCL_CASE(13) SCCL_CASE(14) SCCL_CASE(15) SCCL_CASE(16)
#undef SCCL_CASE
    }
  }
}

// Asks for bytes [p, p + n) in cache ahead of random-order reads (a sequential sweep the hardware
// prefetcher follows, instead of one cache miss per first touch later).
inline void prefetch_span(const void* p, int64_t n) {
  const char* c = static_cast<const char*>(p);
  for (int64_t i = 0; i < n; i += 64) __builtin_prefetch(c + i, 0, 3);
}

// out[k0 .. k0 + n) of sum over the active rows j (values val[j]) of val[j] * W[j, :], summed in K blocks
// of `kb` like the BLAS: each block from zero in ascending j (fused multiply-adds, as the BLAS's kernel;
// for 0/1 spikes fma(1, w, a) is the plain sum a + w), the block sums added in order. NV vectors (the
// last one n - (NV - 1) L lanes wide) of accumulators stay in registers over a block.
template <typename T, int NV>
inline void spike_rows_vec(T* __restrict out, const T* __restrict W, int N, int k0, int n, const int* idx, int m,
                           const T* val, int kb) {
  using V = Vec<T>;
  constexpr int L = V::L;
  const int tail = n - (NV - 1) * L;
  T* o = out + k0;
  V a[NV];
  int i = 0;
  bool first = true;
  while (i < m) {
    const int block_end = (idx[i] / kb + 1) * kb;
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) a[v] = V::zero();
    for (; i < m && idx[i] < block_end; ++i) {
      const T* w = W + static_cast<int64_t>(idx[i]) * N + k0;
      const V c = V::set1(val[idx[i]]);
#pragma GCC unroll 16
      for (int v = 0; v < NV - 1; ++v) a[v] = V::fma(c, V::load(w + v * L), a[v]);
      const V x = tail == L ? V::load(w + (NV - 1) * L) : V::loadn(w + (NV - 1) * L, tail);
      a[NV - 1] = V::fma(c, x, a[NV - 1]);
    }
    if (!first) {   // the earlier blocks' sum waits in out (L1)
#pragma GCC unroll 16
      for (int v = 0; v < NV - 1; ++v) a[v] = V::add(V::load(o + v * L), a[v]);
      a[NV - 1] = V::add(tail == L ? V::load(o + (NV - 1) * L) : V::loadn(o + (NV - 1) * L, tail), a[NV - 1]);
    }
#pragma GCC unroll 16
    for (int v = 0; v < NV - 1; ++v) a[v].store(o + v * L);
    if (tail == L) a[NV - 1].store(o + (NV - 1) * L); else a[NV - 1].storen(o + (NV - 1) * L, tail);
    first = false;
  }
  if (first) {   // no active row
    for (int k = 0; k < n; ++k) o[k] = T(0);
  }
}

template <typename T>
inline void spike_rows(T* __restrict out, const T* __restrict W, int N, const int* idx, int m, const T* val,
                       int kb, T* /*unused*/) {
  for_column_chunks<T>(N, [&](auto nv, int k0, int n) {
    spike_rows_vec<T, decltype(nv)::value>(out, W, N, k0, n, idx, m, val, kb);
  });
}

// acc[k0 .. k0 + n) of one output row of the input projection, NV vectors (the last one n - (NV-1) L
// lanes wide), in registers over the row's events: acc = c w[col] + acc from zero in event order,
// fused for float (torch's embedding_bag on this CPU), multiply-then-add for double (ditto, tested).
template <typename T, int NV>
inline void gather_rows(T* __restrict out, const T* __restrict w, int H, int k0, int n, const int64_t* cols,
                        const T* vals, int64_t e0, int64_t e1) {
  using V = Vec<T>;
  constexpr int L = V::L;
  const int tail = n - (NV - 1) * L;   // lanes of the last vector, 1..L
  V acc[NV];
#pragma GCC unroll 16
  for (int v = 0; v < NV; ++v) acc[v] = V::zero();
  for (int64_t e = e0; e < e1; ++e) {
    const T* wr = w + cols[e] * H + k0;
    const V c = V::set1(vals[e]);
#pragma GCC unroll 16
    for (int v = 0; v < NV - 1; ++v) {
      if constexpr (std::is_same_v<T, float>) acc[v] = V::fma(c, V::load(wr + v * L), acc[v]);
      else acc[v] = V::add(acc[v], V::mul(c, V::load(wr + v * L)));
    }
    const V x = tail == L ? V::load(wr + (NV - 1) * L) : V::loadn(wr + (NV - 1) * L, tail);
    if constexpr (std::is_same_v<T, float>) acc[NV - 1] = V::fma(c, x, acc[NV - 1]);
    else acc[NV - 1] = V::add(acc[NV - 1], V::mul(c, x));
  }
#pragma GCC unroll 16
  for (int v = 0; v < NV - 1; ++v) acc[v].store(out + k0 + v * L);
  if (tail == L) acc[NV - 1].store(out + k0 + (NV - 1) * L); else acc[NV - 1].storen(out + k0 + (NV - 1) * L, tail);
}

template <typename T>
inline void gather_row(T* out, const T* w, int H, const int64_t* cols, const T* vals, int64_t e0, int64_t e1) {
  for_column_chunks<T>(H, [&](auto nv, int k0, int n) {
    gather_rows<T, decltype(nv)::value>(out, w, H, k0, n, cols, vals, e0, e1);
  });
}

// ----------------------------------------------------------------------------------- forward

// Layer 1's drive straight from the input's events (the input projection fused into the time loop).
template <typename T>
struct EventDrive {
  const int64_t* cols;
  const T* vals;
  const int64_t* offsets;   // [B * T], row b * T + t
  int64_t n;                // number of events
  const T* w1;              // [I, H]
};

template <typename T>
void forward_impl(const T* drive, const T* s_in, const T* w, int Hin, int kb_in, const T* v, int kb_rec,
                  const T* rec_dense, T* spk, T* mem, T* mem_pair, int64_t Tn, int64_t B, int H,
                  T alpha, T beta, T thr, int64_t t, T* syn, std::vector<int>& idx, std::vector<T>& buf,
                  const EventDrive<T>* events = nullptr) {
  // One time step t for all rows b. spk is [T + 1, B, H] (spk[0] = 0); mem [T, B, H] or null
  // (then the ping-pong pair mem_pair [2, B, H] holds U_t and U_{t+1}).
  const int64_t BH = B * H;
  T* u_t = mem ? mem + t * BH : mem_pair + (t % 2) * BH;
  T* u_n = mem ? mem + (t + 1) * BH : mem_pair + ((t + 1) % 2) * BH;
  T* s_t = spk + (t + 1) * BH;
  const T* s_prev = spk + t * BH;
  T* rec = buf.data();
  T* ff = rec + H;
  T* tmp = ff + H;
  int* act = idx.data();
  for (int64_t b = 0; b < B; ++b) {
    const T* u = u_t + b * H;
    T* s = s_t + b * H;
    T* I = syn + b * H;
    for (int k = 0; k < H; ++k) s[k] = u[k] > thr ? T(1) : T(0);          // S_t = Theta(U_t - thr)
    if (t + 1 < Tn) {                                                     // U_{t+1}
      T* un = u_n + b * H;
      if (t == 0) {
        for (int k = 0; k < H; ++k) {
          const T x = u[k] * beta;
          un[k] = std::fma(-x, s[k], x);
        }
      } else {
        for (int k = 0; k < H; ++k) {
          const T x = u[k] * beta + I[k];
          un[k] = std::fma(-x, s[k], x);
        }
      }
    }
    if (t + 2 < Tn) {                                                     // I_{t+1}
      const T* f;
      if (drive) {
        f = drive + t * BH + b * H;
      } else if (events) {                                                // X @ w1 of row (b, t)
        const int64_t r = b * Tn + t;
        const int64_t e1 = r + 1 < B * Tn ? events->offsets[r + 1] : events->n;
        gather_row<T>(ff, events->w1, H, events->cols, events->vals, events->offsets[r], e1);
        f = ff;
      } else {
        const T* row = s_in + t * B * Hin + b * Hin;
        const int m = active_units(row, Hin, act);
        spike_rows(ff, w, H, act, m, row, kb_in, tmp);
        f = ff;
      }
      if (t == 0) {
        for (int k = 0; k < H; ++k) I[k] = f[k];                          // I_1 = ff_0
      } else {
        const T* r;
        if (rec_dense) {
          r = rec_dense + b * H;
        } else {
          const T* prev = s_prev + b * H;
          const int m = active_units(prev, H, act);
          spike_rows(rec, v, H, act, m, prev, kb_rec, tmp);
          r = rec;
        }
        for (int k = 0; k < H; ++k) I[k] = I[k] * alpha + (r[k] + f[k]);
      }
    }
  }
}

// Returns {spk [T + 1, B, H] (spk[0] = 0), mem [T, B, H] (empty unless keep_mem)}.
// Exactly one of drive [T, B, H] and (s_in [T, B, Hin], w [Hin, H]) is given.
// exact: the recurrent (and feed-forward) products are the same ATen matmuls as the PyTorch path;
// otherwise they are spike-driven with BLAS block sizes kb_rec (K = H) and kb_in (K = Hin).
struct EventTensors {   // the input's events and w1 for layer 1 (lif_forward_events)
  Tensor cols, vals, offsets, w1;
  int64_t B = 0, Tn = 0;
};

std::vector<Tensor> lif_forward_common(const c10::optional<Tensor>& drive_opt, const c10::optional<Tensor>& s_in_opt,
                                       const c10::optional<Tensor>& w_opt, const Tensor& v, double alpha, double beta,
                                       double thr, bool keep_mem, bool exact, int64_t kb_rec, int64_t kb_in,
                                       const EventTensors* ev) {
  TORCH_CHECK(v.dim() == 2 && v.size(0) == v.size(1), "v must be [H, H]");
  Tensor drive;
  Tensor s_in, w;
  if (ev) {
    TORCH_CHECK(!exact, "lif_forward_events is native only");
  } else if (drive_opt.has_value() && drive_opt->defined()) {
    drive = drive_opt->contiguous();
  } else {
    TORCH_CHECK(s_in_opt.has_value() && w_opt.has_value(), "lif_forward needs a drive or (s_in, w)");
    s_in = s_in_opt->contiguous();
    w = w_opt->contiguous();
    if (exact) {  // the PyTorch path's feed-forward drive: one matmul over all steps
      const int64_t Tn = s_in.size(0), B = s_in.size(1);
      drive = at::mm(s_in.reshape({Tn * B, s_in.size(2)}), w).view({Tn, B, w.size(1)});
    }
  }
  const Tensor& shape_src = drive.defined() ? drive : s_in;
  const int64_t Tn = ev ? ev->Tn : shape_src.size(0), B = ev ? ev->B : shape_src.size(1);
  const int H = static_cast<int>(v.size(0));
  const int Hin = (drive.defined() || ev) ? H : static_cast<int>(s_in.size(2));
  TORCH_CHECK(!drive.defined() || drive.size(2) == H, "drive width must match v");
  TORCH_CHECK(ev || drive.defined() || (w.size(0) == Hin && w.size(1) == H), "w must be [Hin, H]");
  TORCH_CHECK(!ev || (ev->w1.size(1) == H && ev->offsets.numel() == B * Tn), "w1 must be [I, H], offsets [B * T]");
  Tensor vc = v.contiguous();
  auto opts = vc.options();
  // every entry is written by the loop except spk[0] = S_{-1} and mem[0] = U_0 (zero)
  Tensor spk = at::empty({Tn + 1, B, H}, opts);
  Tensor mem = keep_mem ? at::empty({Tn, B, H}, opts) : at::Tensor();
  Tensor pair = keep_mem ? at::Tensor() : at::empty({2, B, H}, opts);
  spk[0].zero_();
  if (Tn > 0) (keep_mem ? mem : pair)[0].zero_();
  Tensor syn = at::zeros({B, H}, opts);
  Tensor rec = exact ? at::empty({B, H}, opts) : at::Tensor();
  AT_DISPATCH_FLOATING_TYPES(vc.scalar_type(), "lif_forward", [&] {
    using T = scalar_t;
    std::vector<int> idx(std::max(H, Hin));
    std::vector<T> buf(3 * static_cast<size_t>(H));
    EventDrive<T> evd{};
    if (ev) evd = {ev->cols.data_ptr<int64_t>(), ev->vals.data_ptr<T>(), ev->offsets.data_ptr<int64_t>(),
                   ev->cols.numel(), ev->w1.data_ptr<T>()};
    for (int64_t t = 0; t < Tn; ++t) {
      const T* rec_ptr = nullptr;
      if (exact && t >= 1 && t + 2 < Tn) {  // torch.mm(S_{t-1}, v), as the PyTorch loop
        at::mm_out(rec, spk[t], vc);
        rec_ptr = rec.data_ptr<T>();
      }
      forward_impl<T>(drive.defined() ? drive.data_ptr<T>() : nullptr,
                      s_in.defined() ? s_in.data_ptr<T>() : nullptr,
                      w.defined() ? w.data_ptr<T>() : nullptr, Hin, static_cast<int>(kb_in),
                      vc.data_ptr<T>(), static_cast<int>(kb_rec), rec_ptr, spk.data_ptr<T>(),
                      keep_mem ? mem.data_ptr<T>() : nullptr, keep_mem ? nullptr : pair.data_ptr<T>(),
                      Tn, B, H, static_cast<T>(alpha), static_cast<T>(beta), static_cast<T>(thr), t,
                      syn.data_ptr<T>(), idx, buf, ev ? &evd : nullptr);
    }
  });
  return {spk, keep_mem ? mem : at::empty({0}, opts)};
}

std::vector<Tensor> lif_forward(const c10::optional<Tensor>& drive_opt, const c10::optional<Tensor>& s_in_opt,
                                const c10::optional<Tensor>& w_opt, const Tensor& v, double alpha, double beta,
                                double thr, bool keep_mem, bool exact, int64_t kb_rec, int64_t kb_in) {
  return lif_forward_common(drive_opt, s_in_opt, w_opt, v, alpha, beta, thr, keep_mem, exact, kb_rec, kb_in,
                            nullptr);
}

// Layer 1 driven by the input's events (cols, vals, offsets of sccl.model.InputEvents; B, T) and w1 [I, H]:
// the drive of row (b, t) is computed in the time loop exactly as events_forward computes it (the same
// spikes as lif_forward on events_forward's currents), without writing the [T, B, H] currents.
std::vector<Tensor> lif_forward_events(const Tensor& cols, const Tensor& vals, const Tensor& offsets,
                                       const Tensor& w1, int64_t B, int64_t Tn, const Tensor& v, double alpha,
                                       double beta, double thr, bool keep_mem, int64_t kb_rec) {
  EventTensors ev;
  ev.w1 = w1.contiguous();
  ev.cols = cols.to(at::kLong).contiguous();
  ev.vals = vals.to(ev.w1.scalar_type()).contiguous();
  ev.offsets = offsets.to(at::kLong).contiguous();
  ev.B = B;
  ev.Tn = Tn;
  TORCH_CHECK(ev.w1.scalar_type() == v.scalar_type(), "w1 and v must have one dtype");
  return lif_forward_common(c10::nullopt, c10::nullopt, c10::nullopt, v, alpha, beta, thr, keep_mem, false, kb_rec,
                            0, &ev);
}

// ----------------------------------------------------------------------------------- backward

// acc_row[k0 .. k0 + n) += sum over m rows of G (row numbers rows[i], weights val[i]) of val[i] * G[row],
// NV vectors of accumulators in registers (the last one n - (NV - 1) L lanes wide).
template <typename T, int NV, typename I>
inline void weighted_rows_add(T* __restrict acc_row, const T* __restrict G, int N, int k0, int n, int m,
                              const I* rows, const T* val) {
  using V = Vec<T>;
  constexpr int L = V::L;
  const int tail = n - (NV - 1) * L;
  V acc[NV];
#pragma GCC unroll 16
  for (int v = 0; v < NV; ++v) acc[v] = V::zero();
  for (int i = 0; i < m; ++i) {
    const T* g = G + static_cast<int64_t>(rows[i]) * N + k0;
    const V c = V::set1(val[i]);
#pragma GCC unroll 16
    for (int v = 0; v < NV - 1; ++v) acc[v] = V::fma(c, V::load(g + v * L), acc[v]);
    const V x = tail == L ? V::load(g + (NV - 1) * L) : V::loadn(g + (NV - 1) * L, tail);
    acc[NV - 1] = V::fma(c, x, acc[NV - 1]);
  }
  T* o = acc_row + k0;
#pragma GCC unroll 16
  for (int v = 0; v < NV - 1; ++v) V::add(acc[v], V::load(o + v * L)).store(o + v * L);
  if (tail == L) V::add(acc[NV - 1], V::load(o + (NV - 1) * L)).store(o + (NV - 1) * L);
  else V::add(acc[NV - 1], V::loadn(o + (NV - 1) * L, tail)).storen(o + (NV - 1) * L, tail);
}

template <typename T, typename I>
inline void weighted_rows_add_all(T* acc_row, const T* G, int N, int m, const I* rows, const T* val) {
  for_column_chunks<T>(N, [&](auto nv, int k0, int n) {
    weighted_rows_add<T, decltype(nv)::value, I>(acc_row, G, N, k0, n, m, rows, val);
  });
}

// gW [K, N] += S^T G for S [R, K] (0/1 spikes or counts, mostly zero) and a dense G [R, N]. Large gW: the rows are
// taken in tiles whose G rows stay in cache; within a tile the active entries are grouped by unit j (a
// counting sort), each unit's sum of val * G[r] is kept in registers and added to gW[j] once per tile.
// gW[j, k0 .. k0 + n) += val_j G[r, k0 .. k0 + n) for the m active units j of one row r of S: the G row
// stays in registers (NV vectors), the gradient rows are read and written (they sit in L1 when gW is small).
template <typename T, int NV>
inline void row_scatter(T* __restrict gW, const T* __restrict g, const T* srow, int N, int k0, int n, const int* idx,
                        int m) {
  using V = Vec<T>;
  constexpr int L = V::L;
  const int tail = n - (NV - 1) * L;
  V x[NV];
#pragma GCC unroll 16
  for (int v = 0; v < NV - 1; ++v) x[v] = V::load(g + k0 + v * L);
  x[NV - 1] = tail == L ? V::load(g + k0 + (NV - 1) * L) : V::loadn(g + k0 + (NV - 1) * L, tail);
  for (int i = 0; i < m; ++i) {
    T* o = gW + static_cast<int64_t>(idx[i]) * N + k0;
    const V c = V::set1(srow[idx[i]]);
#pragma GCC unroll 16
    for (int v = 0; v < NV - 1; ++v) V::fma(c, x[v], V::load(o + v * L)).store(o + v * L);
    if (tail == L) V::fma(c, x[NV - 1], V::load(o + (NV - 1) * L)).store(o + (NV - 1) * L);
    else V::fma(c, x[NV - 1], V::loadn(o + (NV - 1) * L, tail)).storen(o + (NV - 1) * L, tail);
  }
}

// S^T G for a small gW (fits in L1): row by row, no grouping.
template <typename T>
void spike_t_matmul_rows(T* __restrict gW, const T* S, const T* G, int64_t R, int K, int N) {
  std::vector<int> idx(K);
  for (int64_t r = 0; r < R; ++r) {
    const T* srow = S + r * K;
    const int m = active_units(srow, K, idx.data());
    if (!m) continue;
    const T* g = G + r * N;
    for_column_chunks<T>(N, [&](auto nv, int k0, int n) {
      row_scatter<T, decltype(nv)::value>(gW, g, srow, N, k0, n, idx.data(), m);
    });
  }
}

template <typename T>
void spike_t_matmul(T* __restrict gW, const T* S, const T* G, int64_t R, int K, int N) {
  // up to 48 KB of gradient (K = N = 100 floats) the row-by-row scatter is faster (measured: 10-20 %)
  if (static_cast<int64_t>(K) * N * static_cast<int64_t>(sizeof(T)) <= 48 * 1024) {
    spike_t_matmul_rows(gW, S, G, R, K, N);
    return;
  }
  constexpr int kTileRows = 256;
  std::vector<int32_t> count(K + 1);
  // the tile's active entries, row by row (unit, tile row, value), then grouped by unit (rows, vals)
  std::vector<int> act_j(static_cast<size_t>(kTileRows) * K);
  std::vector<int32_t> act_r(act_j.size()), rows(act_j.size());
  std::vector<T> act_v(act_j.size()), vals(act_j.size());
  for (int64_t r0 = 0; r0 < R; r0 += kTileRows) {
    const int rt = static_cast<int>(std::min<int64_t>(kTileRows, R - r0));
    std::fill(count.begin(), count.end(), 0);
    int na = 0;
    for (int r = 0; r < rt; ++r) {
      const T* srow = S + (r0 + r) * K;
      int* js = act_j.data() + na;
      const int m = active_units(srow, K, js);
      for (int i = 0; i < m; ++i) {
        act_r[na + i] = r;
        act_v[na + i] = srow[js[i]];
        ++count[js[i] + 1];
      }
      na += m;
    }
    if (!na) continue;
    for (int j = 0; j < K; ++j) count[j + 1] += count[j];
    for (int a = 0; a < na; ++a) {
      const int32_t pos = count[act_j[a]]++;
      rows[pos] = act_r[a];
      vals[pos] = act_v[a];
    }
    // count[j] is now the end of unit j's entries; unit j begins at count[j - 1] (0 for j = 0)
    int32_t b = 0;
    const T* Gt = G + r0 * N;
    for (int j = 0; j < K; ++j) {
      const int32_t e = count[j];
      if (e > b) weighted_rows_add_all<T>(gW + static_cast<int64_t>(j) * N, Gt, N, e - b, rows.data() + b, vals.data() + b);
      b = e;
    }
  }
}

// The BLAS's own gemm (Fortran sgemm_ / dgemm_, exported by the BLAS that torch links, e.g. MKL), looked up
// once at run time; null where torch exports none, or where SCCL_NATIVE_BLAS=aten asks for ATen's call (the
// same product; tests compare the two): then addmm_rows makes ATen's call.
template <typename T>
using GemmFn = void (*)(const char*, const char*, const int*, const int*, const int*, const T*, const T*, const int*,
                        const T*, const int*, const T*, T*, const int*);

template <typename T>
GemmFn<T> blas_gemm() {
#if defined(__unix__) || defined(__APPLE__)
  static const GemmFn<T> fn =
      reinterpret_cast<GemmFn<T>>(dlsym(RTLD_DEFAULT, std::is_same_v<T, float> ? "sgemm_" : "dgemm_"));
  const char* via = std::getenv("SCCL_NATIVE_BLAS");
  return via && std::string(via) == "aten" ? nullptr : fn;
#else
  return nullptr;
#endif
}

// out [M, N] = c [M, N] + a [M, K] @ bt [K, N], all row-major and contiguous: the call ATen's addmm_out
// makes for these operands (the column-major product out^T = bt^T a^T with beta 1 over a copy of c), made
// directly, without ATen's dispatch and the per-step tensor views (~5 us a call: 0.2-0.5 ms per layer
// and training step at H = 50-100, measured). Same BLAS routine and arguments, so the same result.
template <typename T>
void addmm_rows(GemmFn<T> gemm, Tensor& out, const T* c, const T* a, const Tensor& bt, int M, int K, int N) {
  T* o = out.data_ptr<T>();
  if (!gemm) {
    const auto opts = out.options();
    at::addmm_out(out, at::from_blob(const_cast<T*>(c), {M, N}, opts), at::from_blob(const_cast<T*>(a), {M, K}, opts),
                  bt);
    return;
  }
  if (o != c) std::copy(c, c + static_cast<int64_t>(M) * N, o);
  const T one = T(1);
  gemm("N", "N", &N, &M, &K, &one, bt.data_ptr<T>(), &N, a, &K, &one, o, &N);
}

// Returns {ga [T, B, H] (dL/d drive), gv [H, H] (empty unless need_gv)}.
// spk_full: the forward's [T + 1, B, H] spikes; mem: [T, B, H] pre-update membranes.
std::vector<Tensor> lif_backward(const Tensor& g_spk, const Tensor& spk_full, const Tensor& mem, const Tensor& v,
                                 double alpha, double beta, double thr, double scale, bool need_gv, bool exact) {
  const int64_t Tn = mem.size(0), B = mem.size(1);
  const int H = static_cast<int>(mem.size(2));
  const int64_t BH = B * H;
  auto opts = mem.options();
  Tensor g = g_spk.contiguous();
  Tensor ga = at::empty({Tn, B, H}, opts);
  // exact: the PyTorch path's transposed view; native: a contiguous copy (MKL's NN kernel is faster here)
  Tensor vt = exact ? v.t() : v.t().contiguous();
  Tensor gmem = at::zeros({B, H}, opts);
  Tensor tmp = at::empty({B, H}, opts);
  AT_DISPATCH_FLOATING_TYPES(mem.scalar_type(), "lif_backward", [&] {
    using T = scalar_t;
    const T a = static_cast<T>(alpha), be = static_cast<T>(beta), th = static_cast<T>(thr),
            sc = static_cast<T>(scale);
    T* gap = ga.data_ptr<T>();
    const T* sp = spk_full.data_ptr<T>() + BH;  // S_t at sp + t * BH
    const T* up = mem.data_ptr<T>();
    const T* gp = g.data_ptr<T>();
    T* gm = gmem.data_ptr<T>();
    const GemmFn<T> gemm = exact ? nullptr : blas_gemm<T>();   // once per call, not per step
    for (int64_t t = std::max<int64_t>(Tn - 2, 0); t < Tn; ++t)
      for (int64_t i = 0; i < BH; ++i) gap[t * BH + i] = T(0);  // a_{T-2}, a_{T-1} reach no spike
    for (int64_t t = Tn - 1; t > 0; --t) {
      const bool has_gm = t < Tn - 1;
      const T* src;
      if (t + 3 < Tn) {  // g_ext_t + ga_{t+1} v^T, the PyTorch path's addmm
        if (exact) at::addmm_out(tmp, g[t], ga[t + 1], vt);
        else addmm_rows<T>(gemm, tmp, gp + t * BH, gap + (t + 1) * BH, vt, static_cast<int>(B), H, H);
        src = tmp.data_ptr<T>();
      } else {
        src = gp + t * BH;
      }
      const T* s = sp + t * BH;
      const T* u = up + t * BH;
      const T* ga_t = gap + t * BH;
      T* ga_prev = gap + (t - 1) * BH;
      // one pass over the step's rows: gI_t from gU_{t+1}, then gU_t over it
      if (t == 1) {
        if (has_gm)
          for (int64_t i = 0; i < BH; ++i) ga_prev[i] = std::fma(T(1) - s[i], gm[i], ga_t[i] * a);   // gI_1
        break;
      }
      if (has_gm) {
        for (int64_t i = 0; i < BH; ++i) {
          const T keep = T(1) - s[i];
          const T g_next = gm[i];                                             // gU_{t+1}
          ga_prev[i] = std::fma(keep, g_next, ga_t[i] * a);                   // gI_t
          const T y = std::abs(u[i] - th) * sc + T(1);
          const T gn = src[i] * (T(1) / (y * y));                             // sigma'(U_t - thr) gS_t
          gm[i] = std::fma(be * keep, g_next, gn);                            // gU_t
        }
      } else {
        for (int64_t i = 0; i < BH; ++i) {
          const T y = std::abs(u[i] - th) * sc + T(1);
          gm[i] = src[i] * (T(1) / (y * y));
        }
      }
    }
  });
  Tensor gv;
  if (need_gv) {
    if (exact) {
      gv = at::mm(spk_full.narrow(0, 0, Tn).reshape({Tn * B, H}).t(), ga.reshape({Tn * B, H}));
    } else {
      gv = at::zeros({H, H}, opts);
      AT_DISPATCH_FLOATING_TYPES(mem.scalar_type(), "lif_backward_gv", [&] {
        using T = scalar_t;
        // sum_t S_{t-1}^T ga_t; S_{-1} = 0 and ga_{T-2} = ga_{T-1} = 0 contribute nothing
        const int64_t t_end = std::max<int64_t>(Tn - 2, 1);
        if (t_end > 1)
          spike_t_matmul<T>(gv.data_ptr<T>(), spk_full.data_ptr<T>() + BH, ga.data_ptr<T>() + BH,
                            (t_end - 1) * B, H, H);
      });
    }
  }
  return {ga, need_gv ? gv : at::empty({0}, opts)};
}

// S^T G for spikes S [R, K] (0/1 or counts) and a dense G [R, N]: the weight gradient of a
// spike-driven product. exact: the PyTorch path's matmul.
Tensor spike_grad_weight(const Tensor& S, const Tensor& G, bool exact) {
  Tensor s = S.contiguous(), g = G.contiguous();
  if (exact) return at::mm(s.t(), g);
  const int64_t R = s.size(0);
  const int K = static_cast<int>(s.size(1)), N = static_cast<int>(g.size(1));
  Tensor out = at::zeros({K, N}, g.options());
  AT_DISPATCH_FLOATING_TYPES(g.scalar_type(), "spike_grad_weight", [&] {
    spike_t_matmul<scalar_t>(out.data_ptr<scalar_t>(), s.data_ptr<scalar_t>(), g.data_ptr<scalar_t>(), R, K, N);
  });
  return out;
}

// Spike-driven S @ W [K, N] summed in BLAS blocks of kb (used to measure the BLAS's blocking).
Tensor spike_matmul(const Tensor& S, const Tensor& W, int64_t kb) {
  Tensor s = S.contiguous(), w = W.contiguous();
  const int64_t R = s.size(0);
  const int K = static_cast<int>(s.size(1)), N = static_cast<int>(w.size(1));
  Tensor out = at::empty({R, N}, w.options());
  AT_DISPATCH_FLOATING_TYPES(w.scalar_type(), "spike_matmul", [&] {
    using T = scalar_t;
    std::vector<int> idx(K);
    std::vector<T> tmp(N);
    for (int64_t r = 0; r < R; ++r) {
      const T* row = s.data_ptr<T>() + r * K;
      const int m = active_units(row, K, idx.data());
      spike_rows<T>(out.data_ptr<T>() + r * N, w.data_ptr<T>(), N, idx.data(), m, row, static_cast<int>(kb),
                    tmp.data());
    }
  });
  return out;
}

// ----------------------------------------------------------------------------------- input projection


// Row numbers b * T + t of the events of a coalesced COO input (indices [3, n]: b, t, i; sorted) and the
// first event of every row (offsets [B * T]): what sccl.model.input_events computes with torch ops
// (b * T + t, searchsorted), in one pass.
std::vector<Tensor> events_index(const Tensor& indices, int64_t B, int64_t Tn) {
  TORCH_CHECK(indices.dim() == 2 && indices.size(0) >= 2, "events_index: indices must be [3, n]");
  Tensor idx = indices.to(at::kLong).contiguous();
  const int64_t n = idx.size(1), R = B * Tn;
  Tensor rows = at::empty({n}, idx.options()), offsets = at::empty({R}, idx.options());
  const int64_t* bp = idx.data_ptr<int64_t>();
  const int64_t* tp = bp + n;
  int64_t* rp = rows.data_ptr<int64_t>();
  int64_t* op = offsets.data_ptr<int64_t>();
  int64_t r = 0, prev = 0;
  for (int64_t e = 0; e < n; ++e) {
    const int64_t row = bp[e] * Tn + tp[e];
    TORCH_CHECK(row >= prev && row < R, "events_index: the events must be coalesced (sorted) and inside [B, T]");
    prev = row;
    rp[e] = row;
    for (; r <= row; ++r) op[r] = e;
  }
  for (; r < R; ++r) op[r] = n;
  return {rows, offsets};
}

// Layer-1 currents X @ w1 from the input's events, written time-major [T, B, H]. Row r = b * T + t
// (sorted) owns events [offsets[r], offsets[r + 1]); each adds count * w1[col] to the row from zero in
// event order, rounded like torch's embedding_bag with per_sample_weights on this CPU (float: one fused
// multiply-add per event; double: a product, then a sum). The row's accumulators stay in registers.
Tensor events_forward(const Tensor& cols, const Tensor& vals, const Tensor& offsets, const Tensor& w1, int64_t B,
                      int64_t Tn) {
  Tensor c = cols.to(at::kLong).contiguous(), o = offsets.to(at::kLong).contiguous();
  Tensor w = w1.contiguous();
  Tensor x = vals.to(w.scalar_type()).contiguous();
  const int H = static_cast<int>(w.size(1));
  const int64_t n = c.numel();
  TORCH_CHECK(o.numel() == B * Tn, "events_forward: offsets must have B * T entries");
  Tensor out = at::empty({Tn, B, H}, w.options());
  AT_DISPATCH_FLOATING_TYPES(w.scalar_type(), "events_forward", [&] {
    using T = scalar_t;
    const int64_t* cp = c.data_ptr<int64_t>();
    const int64_t* op = o.data_ptr<int64_t>();
    const T* xp = x.data_ptr<T>();
    const T* wp = w.data_ptr<T>();
    T* outp = out.data_ptr<T>();
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t t = 0; t < Tn; ++t) {
        const int64_t r = b * Tn + t;
        const int64_t e0 = op[r], e1 = (r + 1 < B * Tn) ? op[r + 1] : n;
        gather_row<T>(outp + (t * B + b) * H, wp, H, cp, xp, e0, e1);
      }
    }
  });
  return out;
}

// dL/dw1 = X^T G from the events and the time-major gradient G [T, B, H] of the currents. The events
// (sorted by row b * T + t) are taken in tiles of consecutive rows whose G rows stay in cache; within
// a tile they are grouped by channel (a counting sort), each channel's sum is kept in registers and
// added to gw1[channel] once per tile. (The order of the sums differs from the PyTorch path's, which
// sums each channel in row order: the result agrees to rounding.)
Tensor events_backward(const Tensor& rows, const Tensor& cols, const Tensor& vals, const Tensor& G, int64_t n_inputs) {
  Tensor rr = rows.to(at::kLong).contiguous(), c = cols.to(at::kLong).contiguous();
  Tensor g = G.contiguous();
  Tensor x = vals.to(g.scalar_type()).contiguous();
  const int64_t Tn = g.size(0), B = g.size(1);
  const int H = static_cast<int>(g.size(2));
  const int64_t n = c.numel();
  const int C = static_cast<int>(n_inputs);
  Tensor out = at::zeros({n_inputs, H}, g.options());
  constexpr int64_t kTileRows = 256;
  AT_DISPATCH_FLOATING_TYPES(g.scalar_type(), "events_backward", [&] {
    using T = scalar_t;
    const int64_t* rp = rr.data_ptr<int64_t>();
    const int64_t* cp = c.data_ptr<int64_t>();
    const T* xp = x.data_ptr<T>();
    const T* gp = g.data_ptr<T>();
    T* outp = out.data_ptr<T>();
    std::vector<int64_t> start(C + 1);
    std::vector<T> cval;       // count of each event of the tile, in channel order
    std::vector<int64_t> grow;   // time-major G row of each event of the tile, in channel order
    std::vector<int64_t> g_row(kTileRows);   // time-major G row of each row b * T + t of the tile
    int64_t e0 = 0;
    while (e0 < n) {
      const int64_t r_begin = rp[e0] - rp[e0] % kTileRows, r_end = r_begin + kTileRows;
      for (int64_t k = 0; k < kTileRows; ++k)    // (two divisions per row here, none per event)
        g_row[k] = ((r_begin + k) % Tn) * B + (r_begin + k) / Tn;
      int64_t e1 = e0;
      while (e1 < n && rp[e1] < r_end) ++e1;
      const int64_t m = e1 - e0;
      std::fill(start.begin(), start.end(), 0);
      for (int64_t e = e0; e < e1; ++e) ++start[cp[e] + 1];
      for (int k = 0; k < C; ++k) start[k + 1] += start[k];
      cval.resize(m);
      grow.resize(m);
      for (int64_t e = e0; e < e1; ++e) {
        const int64_t pos = start[cp[e]]++;
        cval[pos] = xp[e];
        grow[pos] = g_row[rp[e] - r_begin];
      }
      for (int64_t r = rp[e0]; r <= rp[e1 - 1]; ++r)   // the tile's rows of G
        prefetch_span(gp + g_row[r - r_begin] * H, static_cast<int64_t>(H) * static_cast<int64_t>(sizeof(T)));
      // start[k] is now the end of channel k's events; channel k begins at start[k - 1] (0 for k = 0)
      int64_t s = 0;
      for (int k = 0; k < C; ++k) {
        const int64_t end = start[k];
        if (end > s) {
          weighted_rows_add_all<T>(outp + static_cast<int64_t>(k) * H, gp, H, static_cast<int>(end - s),
                                   grow.data() + s, cval.data() + s);
        }
        s = end;
      }
      e0 = e1;
    }
  });
  return out;
}

}  // namespace

TORCH_LIBRARY(sccl_native, m) {
  m.def("lif_forward", &lif_forward);
  m.def("lif_forward_events", &lif_forward_events);
  m.def("lif_backward", &lif_backward);
  m.def("spike_grad_weight", &spike_grad_weight);
  m.def("spike_matmul", &spike_matmul);
  m.def("events_index", &events_index);
  m.def("events_forward", &events_forward);
  m.def("events_backward", &events_backward);
}
