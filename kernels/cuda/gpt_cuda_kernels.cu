/* gpt_cuda_kernels.cu: the transformer's CUDA kernels (everything but the
 * matmuls) and their extern "C" launchers (gpt_cuda_kernels.h).
 *
 * What it is: straightforward kernels, one per layer operation of
 * kernels/nn/gpt_layers.h, validated against those CPU layers by
 * tests/unit/test_gpt_cuda.c.  All arithmetic is FP32; BF16 is only a storage
 * type (loads widen, stores round to nearest even).  Row kernels use one warp
 * per row (layernorm, attention softmax) or one block per row (the softmax
 * over the vocabulary); reductions over rows (parameter and bias gradients)
 * use 32-column tiles and one atomicAdd per column per chunk of rows.  What
 * it is not: tuned (no vectorised loads, no fusion beyond the obvious), nor
 * deterministic where atomics add (wte's gradient, column sums).
 */
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <math.h>

#include "kernels/cuda/gpt_cuda_kernels.h"

namespace {

typedef __nv_bfloat16 bf16;

const int kThreads = 256;
const int kWarpsPerBlock = kThreads / 32;

__device__ __forceinline__ float bfl(const bf16 *p, long i)
{
	return __bfloat162float(p[i]);
}

__device__ __forceinline__ bf16 tobf(float x)
{
	return __float2bfloat16_rn(x);
}

__device__ __forceinline__ float warp_sum(float v)
{
	for (int o = 16; o > 0; o >>= 1)
		v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

__device__ __forceinline__ float warp_max(float v)
{
	for (int o = 16; o > 0; o >>= 1)
		v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
	return v;
}

/* Sum (or max) over the block; every thread gets the result.  buf: 33
 * floats of shared memory; blockDim.x a multiple of 32, at most 1024. */
__device__ float block_reduce(float v, bool is_max, float *buf)
{
	const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	const int warps = blockDim.x >> 5;
	v = is_max ? warp_max(v) : warp_sum(v);
	__syncthreads(); /* buf may still be read from a previous call */
	if (lane == 0)
		buf[warp] = v;
	__syncthreads();
	if (warp == 0) {
		float w = lane < warps ? buf[lane] : (is_max ? -INFINITY : 0.0f);
		w = is_max ? warp_max(w) : warp_sum(w);
		if (lane == 0)
			buf[32] = w;
	}
	__syncthreads();
	return buf[32];
}

/* Blocks for a grid-stride loop over n elements. */
int blocks_for(long n)
{
	long b = (n + kThreads - 1) / kThreads;
	return static_cast<int>(b < 65536 ? (b > 0 ? b : 1) : 65536);
}

/* Blocks for one warp per row. */
int row_blocks(long rows)
{
	long b = (rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
	return static_cast<int>(b > 0 ? b : 1);
}

#define GRID_STRIDE(i, n)                                                                    \
	for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < (n);                  \
	     i += (long)gridDim.x * blockDim.x)

int launched()
{
	return static_cast<int>(cudaGetLastError());
}

cudaStream_t as_stream(void *s)
{
	return static_cast<cudaStream_t>(s);
}

/* ---- encoder ------------------------------------------------------------ */

__global__ void encoder_forward_kernel(float *out, const int *inp, const int *pos,
				       const float *wte, const float *wpe, int N, int T, int C)
{
	GRID_STRIDE(i, (long)N * C) {
		const long n = i / C, c = i % C;
		const long t = pos ? pos[n] : n % T;
		out[i] = wte[(long)inp[n] * C + c] + wpe[t * C + c];
	}
}

__global__ void encoder_backward_wte_kernel(float *dwte, const float *dout, const int *inp,
					    long N, int C)
{
	GRID_STRIDE(i, N * C) {
		const long n = i / C, c = i % C;
		atomicAdd(&dwte[(long)inp[n] * C + c], dout[i]);
	}
}

__global__ void encoder_backward_wpe_kernel(float *dwpe, const float *dout, int B, int T, int C)
{
	GRID_STRIDE(i, (long)T * C) {
		float s = 0.0f;
		for (int b = 0; b < B; b++)
			s += dout[(long)b * T * C + i];
		dwpe[i] += s;
	}
}

/* ---- layernorm (eps 1e-5 as GPT-2 and gpt_layers.h) ------------------------ */

__global__ void layernorm_forward_kernel(bf16 *out, float *mean, float *rstd, const float *inp,
					 const float *w, const float *b, int N, int C)
{
	const int lane = threadIdx.x & 31;
	const long row = (long)blockIdx.x * kWarpsPerBlock + (threadIdx.x >> 5);
	if (row >= N)
		return;
	const float *x = inp + row * C;
	float s = 0.0f;
	for (int c = lane; c < C; c += 32)
		s += x[c];
	const float m = warp_sum(s) / C;
	float v = 0.0f;
	for (int c = lane; c < C; c += 32) {
		const float d = x[c] - m;
		v += d * d;
	}
	const float r = 1.0f / sqrtf(warp_sum(v) / C + 1e-5f);
	bf16 *o = out + row * C;
	for (int c = lane; c < C; c += 32)
		o[c] = tobf((x[c] - m) * r * w[c] + b[c]);
	if (lane == 0) {
		if (mean)
			mean[row] = m;
		if (rstd)
			rstd[row] = r;
	}
}

/* dinp = rstd * (dnorm - mean(dnorm) - xhat * mean(dnorm * xhat)), dnorm =
 * dout * w: the layernorm input gradient (as llm.c's layernorm_backward
 * derives it). */
__global__ void layernorm_backward_input_kernel(float *dinp, const float *dout, const float *inp,
						const float *w, const float *mean,
						const float *rstd, int N, int C)
{
	const int lane = threadIdx.x & 31;
	const long row = (long)blockIdx.x * kWarpsPerBlock + (threadIdx.x >> 5);
	if (row >= N)
		return;
	const float *x = inp + row * C, *dy = dout + row * C;
	const float m = mean[row], r = rstd[row];
	float s1 = 0.0f, s2 = 0.0f;
	for (int c = lane; c < C; c += 32) {
		const float dn = dy[c] * w[c];
		s1 += dn;
		s2 += dn * (x[c] - m) * r;
	}
	s1 = warp_sum(s1) / C;
	s2 = warp_sum(s2) / C;
	float *dx = dinp + row * C;
	for (int c = lane; c < C; c += 32) {
		const float xhat = (x[c] - m) * r;
		dx[c] += r * (dy[c] * w[c] - s1 - xhat * s2);
	}
}

/* Column sums over rows in 32-column tiles: block (32, 8), grid (tiles,
 * chunks); each block sums its chunk of rows and adds with one atomic per
 * column. */
const int kTileRows = 8;

int row_chunks(int N)
{
	int chunks = (N + 63) / 64;
	return chunks < 1 ? 1 : (chunks > 1024 ? 1024 : chunks);
}

__global__ void layernorm_backward_params_kernel(float *dw, float *db, const float *dout,
						 const float *inp, const float *mean,
						 const float *rstd, int N, int C)
{
	__shared__ float sw[kTileRows][33], sb[kTileRows][33];
	const int tx = threadIdx.x, ty = threadIdx.y;
	const int c = blockIdx.x * 32 + tx;
	const int chunk = (N + gridDim.y - 1) / gridDim.y;
	const int n0 = blockIdx.y * chunk;
	const int n1 = min(N, n0 + chunk);
	float aw = 0.0f, ab = 0.0f;
	if (c < C) {
		for (int n = n0 + ty; n < n1; n += kTileRows) {
			const float d = dout[(long)n * C + c];
			aw += d * (inp[(long)n * C + c] - mean[n]) * rstd[n];
			ab += d;
		}
	}
	sw[ty][tx] = aw;
	sb[ty][tx] = ab;
	__syncthreads();
	if (ty == 0 && c < C && n0 < n1) {
		for (int k = 1; k < kTileRows; k++) {
			aw += sw[k][tx];
			ab += sb[k][tx];
		}
		atomicAdd(&dw[c], aw);
		atomicAdd(&db[c], ab);
	}
}

template <typename Src> __device__ float load_any(const Src *p, long i);
template <> __device__ float load_any<float>(const float *p, long i)
{
	return p[i];
}
template <> __device__ float load_any<bf16>(const bf16 *p, long i)
{
	return __bfloat162float(p[i]);
}

template <typename Src>
__global__ void bias_grad_kernel(float *dbias, const Src *dout, int N, int OC)
{
	__shared__ float s[kTileRows][33];
	const int tx = threadIdx.x, ty = threadIdx.y;
	const int c = blockIdx.x * 32 + tx;
	const int chunk = (N + gridDim.y - 1) / gridDim.y;
	const int n0 = blockIdx.y * chunk;
	const int n1 = min(N, n0 + chunk);
	float a = 0.0f;
	if (c < OC)
		for (int n = n0 + ty; n < n1; n += kTileRows)
			a += load_any<Src>(dout, (long)n * OC + c);
	s[ty][tx] = a;
	__syncthreads();
	if (ty == 0 && c < OC && n0 < n1) {
		for (int k = 1; k < kTileRows; k++)
			a += s[k][tx];
		atomicAdd(&dbias[c], a);
	}
}

__global__ void add_bias_kernel(bf16 *out, const bf16 *bias, int N, int OC, int ldo)
{
	GRID_STRIDE(i, (long)N * OC) {
		const long n = i / OC, c = i % OC;
		out[n * ldo + c] = tobf(bfl(out, n * ldo + c) + bfl(bias, c));
	}
}

/* ---- elementwise ---------------------------------------------------------- */

__global__ void residual_forward_kernel(float *out, const float *a, const bf16 *b, long n)
{
	GRID_STRIDE(i, n)
		out[i] = a[i] + bfl(b, i);
}

/* sqrt(2/pi) and the cubic coefficient of GELU's tanh approximation
 * (Hendrycks & Gimpel 2016, section 2). */
#define GELU_K 0.7978845608028654f
#define GELU_A 0.044715f

__global__ void gelu_forward_kernel(bf16 *out, const bf16 *inp, long n)
{
	GRID_STRIDE(i, n) {
		const float x = bfl(inp, i);
		out[i] = tobf(0.5f * x * (1.0f + tanhf(GELU_K * (x + GELU_A * x * x * x))));
	}
}

__global__ void gelu_backward_kernel(bf16 *dinp, const bf16 *inp, const float *dout, long n)
{
	GRID_STRIDE(i, n) {
		const float x = bfl(inp, i);
		const float th = tanhf(GELU_K * (x + GELU_A * x * x * x));
		const float sech2 = 1.0f - th * th;
		const float grad = 0.5f * (1.0f + th) +
				   0.5f * x * sech2 * GELU_K * (1.0f + 3.0f * GELU_A * x * x);
		dinp[i] = tobf(grad * dout[i]);
	}
}

__global__ void f32_to_bf16_kernel(bf16 *out, const float *in, long n)
{
	GRID_STRIDE(i, n)
		out[i] = tobf(in[i]);
}

__global__ void bf16_to_f32_kernel(float *out, const bf16 *in, long n)
{
	GRID_STRIDE(i, n)
		out[i] = bfl(in, i);
}

/* ---- attention layout ----------------------------------------------------- */

/* Element i of a (B,NH,T,hs) tensor -> its index in (B,T,C) with C = NH*hs,
 * row stride `stride` (3C for qkv, C otherwise). */
__device__ __forceinline__ long btc_index(long i, int T, int NH, int hs, long stride)
{
	const long d = i % hs;
	const long t = (i / hs) % T;
	const long h = (i / ((long)hs * T)) % NH;
	const long b = i / ((long)hs * T * NH);
	return (b * T + t) * stride + h * hs + d;
}

__global__ void permute_qkv_kernel(bf16 *q, bf16 *k, bf16 *v, const bf16 *qkv, int B, int T,
				   int NH, int hs)
{
	const long C = (long)NH * hs;
	GRID_STRIDE(i, (long)B * T * C) {
		const long src = btc_index(i, T, NH, hs, 3 * C);
		q[i] = qkv[src];
		k[i] = qkv[src + C];
		v[i] = qkv[src + 2 * C];
	}
}

__global__ void unpermute_kernel(bf16 *out, const bf16 *y, int B, int T, int NH, int hs)
{
	const long C = (long)NH * hs;
	GRID_STRIDE(i, (long)B * T * C)
		out[btc_index(i, T, NH, hs, C)] = y[i];
}

__global__ void permute_dout_kernel(bf16 *dy, const float *dout, int B, int T, int NH, int hs)
{
	const long C = (long)NH * hs;
	GRID_STRIDE(i, (long)B * T * C)
		dy[i] = tobf(dout[btc_index(i, T, NH, hs, C)]);
}

__global__ void unpermute_dqkv_kernel(bf16 *dqkv, const float *dq, const float *dk,
				      const float *dv, int B, int T, int NH, int hs)
{
	const long C = (long)NH * hs;
	GRID_STRIDE(i, (long)B * T * C) {
		const long dst = btc_index(i, T, NH, hs, 3 * C);
		dqkv[dst] = tobf(dq[i]);
		dqkv[dst + C] = tobf(dk[i]);
		dqkv[dst + 2 * C] = tobf(dv[i]);
	}
}

/* ---- attention softmax ---------------------------------------------------- */

__global__ void attn_softmax_forward_kernel(bf16 *att, const float *preatt, long rows, int T)
{
	const int lane = threadIdx.x & 31;
	const long r = (long)blockIdx.x * kWarpsPerBlock + (threadIdx.x >> 5);
	if (r >= rows)
		return;
	const int t = static_cast<int>(r % T);
	const float *p = preatt + r * T;
	bf16 *a = att + r * T;
	float mx = -INFINITY;
	for (int j = lane; j <= t; j += 32)
		mx = fmaxf(mx, p[j]);
	mx = warp_max(mx);
	float s = 0.0f;
	for (int j = lane; j <= t; j += 32)
		s += expf(p[j] - mx);
	const float inv = 1.0f / warp_sum(s);
	for (int j = lane; j < T; j += 32)
		a[j] = tobf(j <= t ? expf(p[j] - mx) * inv : 0.0f);
}

__global__ void attn_softmax_backward_kernel(bf16 *dpre, const bf16 *att, const float *datt,
					     long rows, int T)
{
	const int lane = threadIdx.x & 31;
	const long r = (long)blockIdx.x * kWarpsPerBlock + (threadIdx.x >> 5);
	if (r >= rows)
		return;
	const int t = static_cast<int>(r % T);
	const bf16 *a = att + r * T;
	const float *da = datt + r * T;
	float s = 0.0f;
	for (int j = lane; j <= t; j += 32)
		s += bfl(a, j) * da[j];
	s = warp_sum(s);
	bf16 *dp = dpre + r * T;
	for (int j = lane; j < T; j += 32)
		dp[j] = tobf(j <= t ? bfl(a, j) * (da[j] - s) : 0.0f);
}

/* ---- softmax cross-entropy over the vocabulary ---------------------------- */

/* max and sum of exp(x - max) over a row of V logits (block-wide). */
__device__ void row_softmax_stats(const bf16 *x, int V, float *buf, float *mx_out, float *sum_out)
{
	float mx = -INFINITY;
	for (int v = threadIdx.x; v < V; v += blockDim.x)
		mx = fmaxf(mx, bfl(x, v));
	mx = block_reduce(mx, true, buf);
	float s = 0.0f;
	for (int v = threadIdx.x; v < V; v += blockDim.x)
		s += expf(bfl(x, v) - mx);
	*sum_out = block_reduce(s, false, buf);
	*mx_out = mx;
}

__global__ void xent_forward_kernel(float *losses, const bf16 *logits, const int *targets, int V,
				    int ldv)
{
	__shared__ float buf[33];
	const long n = blockIdx.x;
	const bf16 *x = logits + n * ldv;
	float mx, s;
	row_softmax_stats(x, V, buf, &mx, &s);
	if (threadIdx.x == 0)
		losses[n] = logf(s) + mx - bfl(x, targets[n]);
}

__global__ void xent_backward_kernel(bf16 *logits, const int *targets, float dloss, int V, int ldv)
{
	__shared__ float buf[33];
	const long n = blockIdx.x;
	bf16 *x = logits + n * ldv;
	float mx, s;
	row_softmax_stats(x, V, buf, &mx, &s);
	const float inv = 1.0f / s;
	const int tgt = targets[n];
	/* Each element is read and written by the same thread, after both
	 * reductions (block_reduce ends with __syncthreads): safe in place. */
	for (int v = threadIdx.x; v < V; v += blockDim.x) {
		const float p = expf(bfl(x, v) - mx) * inv;
		x[v] = tobf((p - (v == tgt ? 1.0f : 0.0f)) * dloss);
	}
}

/* ---- AdamW ---------------------------------------------------------------- */

__global__ void adamw_kernel(float *p, bf16 *p16, const float *grad, float *m, float *v, long n,
			     float lr, float b1, float b2, float c1, float c2, float eps, float wd,
			     float grad_scale)
{
	GRID_STRIDE(i, n) {
		const float g = grad[i] * grad_scale;
		const float mi = b1 * m[i] + (1.0f - b1) * g;
		const float vi = b2 * v[i] + (1.0f - b2) * g * g;
		m[i] = mi;
		v[i] = vi;
		const float update = (mi * c1) / (sqrtf(vi * c2) + eps);
		const float pi = p[i] - lr * (update + wd * p[i]);
		p[i] = pi;
		p16[i] = tobf(pi);
	}
}

/* ---- inference: KV cache -------------------------------------------------- */

__global__ void kv_store_kernel(bf16 *kc, bf16 *vc, const bf16 *qkv, const int *slot,
				const int *pos, int n, int C, int max_len)
{
	GRID_STRIDE(i, (long)n * C) {
		const long r = i / C, c = i % C;
		const long dst = ((long)slot[r] * max_len + pos[r]) * C + c;
		kc[dst] = qkv[r * 3 * C + C + c];
		vc[dst] = qkv[r * 3 * C + 2 * C + c];
	}
}

/* One block per (row, head): scores over positions 0..pos[r] of the row's
 * slot in dynamic shared memory (max_len floats), softmax, weighted sum. */
__global__ void kv_attention_kernel(bf16 *out, const bf16 *qkv, const bf16 *kc, const bf16 *vc,
				    const int *slot, const int *pos, int C, int NH, int max_len)
{
	extern __shared__ float score[];
	__shared__ float buf[33];
	const int r = blockIdx.x / NH, h = blockIdx.x % NH;
	const int hs = C / NH;
	const int len = pos[r] + 1;
	const float scale = 1.0f / sqrtf(static_cast<float>(hs));
	const bf16 *q = qkv + (long)r * 3 * C + (long)h * hs;
	const bf16 *kbase = kc + (long)slot[r] * max_len * C + (long)h * hs;
	const bf16 *vbase = vc + (long)slot[r] * max_len * C + (long)h * hs;
	float mx = -INFINITY;
	for (int j = threadIdx.x; j < len; j += blockDim.x) {
		const bf16 *k = kbase + (long)j * C;
		float s = 0.0f;
		for (int d = 0; d < hs; d++)
			s += bfl(q, d) * bfl(k, d);
		s *= scale;
		score[j] = s;
		mx = fmaxf(mx, s);
	}
	mx = block_reduce(mx, true, buf);
	float sum = 0.0f;
	for (int j = threadIdx.x; j < len; j += blockDim.x) {
		const float e = expf(score[j] - mx);
		score[j] = e;
		sum += e;
	}
	const float inv = 1.0f / block_reduce(sum, false, buf); /* syncs: score[] complete */
	for (int d = threadIdx.x; d < hs; d += blockDim.x) {
		float acc = 0.0f;
		for (int j = 0; j < len; j++)
			acc += score[j] * bfl(vbase, (long)j * C + d);
		out[(long)r * C + (long)h * hs + d] = tobf(acc * inv);
	}
}

} // namespace

/* ---- launchers ------------------------------------------------------------ */

extern "C" {

int strata_gptk_encoder_forward(float *out, const int *inp, const int *pos, const float *wte,
				const float *wpe, int N, int T, int C, void *stream)
{
	encoder_forward_kernel<<<blocks_for((long)N * C), kThreads, 0, as_stream(stream)>>>(
		out, inp, pos, wte, wpe, N, T, C);
	return launched();
}

int strata_gptk_encoder_backward(float *dwte, float *dwpe, const float *dout, const int *inp,
				 int B, int T, int C, void *stream)
{
	const long N = (long)B * T;
	encoder_backward_wte_kernel<<<blocks_for(N * C), kThreads, 0, as_stream(stream)>>>(
		dwte, dout, inp, N, C);
	int e = launched();
	if (e)
		return e;
	encoder_backward_wpe_kernel<<<blocks_for((long)T * C), kThreads, 0, as_stream(stream)>>>(
		dwpe, dout, B, T, C);
	return launched();
}

int strata_gptk_layernorm_forward(strata_bf16 *out, float *mean, float *rstd, const float *inp,
				  const float *w, const float *b, int N, int C, void *stream)
{
	layernorm_forward_kernel<<<row_blocks(N), kThreads, 0, as_stream(stream)>>>(
		reinterpret_cast<bf16 *>(out), mean, rstd, inp, w, b, N, C);
	return launched();
}

int strata_gptk_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
				   const float *inp, const float *w, const float *mean,
				   const float *rstd, int N, int C, void *stream)
{
	layernorm_backward_input_kernel<<<row_blocks(N), kThreads, 0, as_stream(stream)>>>(
		dinp, dout, inp, w, mean, rstd, N, C);
	int e = launched();
	if (e)
		return e;
	dim3 block(32, kTileRows), grid((C + 31) / 32, row_chunks(N));
	layernorm_backward_params_kernel<<<grid, block, 0, as_stream(stream)>>>(dw, db, dout, inp,
										  mean, rstd, N, C);
	return launched();
}

int strata_gptk_bias_grad_f32(float *dbias, const float *dout, int N, int OC, void *stream)
{
	dim3 block(32, kTileRows), grid((OC + 31) / 32, row_chunks(N));
	bias_grad_kernel<float><<<grid, block, 0, as_stream(stream)>>>(dbias, dout, N, OC);
	return launched();
}

int strata_gptk_bias_grad_bf16(float *dbias, const strata_bf16 *dout, int N, int OC,
			       void *stream)
{
	dim3 block(32, kTileRows), grid((OC + 31) / 32, row_chunks(N));
	bias_grad_kernel<bf16><<<grid, block, 0, as_stream(stream)>>>(
		dbias, reinterpret_cast<const bf16 *>(dout), N, OC);
	return launched();
}

int strata_gptk_add_bias(strata_bf16 *out, const strata_bf16 *bias, int N, int OC, int ldo,
			 void *stream)
{
	add_bias_kernel<<<blocks_for((long)N * OC), kThreads, 0, as_stream(stream)>>>(
		reinterpret_cast<bf16 *>(out), reinterpret_cast<const bf16 *>(bias), N, OC, ldo);
	return launched();
}

int strata_gptk_residual_forward(float *out, const float *a, const strata_bf16 *b, long n,
				 void *stream)
{
	residual_forward_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(
		out, a, reinterpret_cast<const bf16 *>(b), n);
	return launched();
}

int strata_gptk_gelu_forward(strata_bf16 *out, const strata_bf16 *inp, long n, void *stream)
{
	gelu_forward_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(
		reinterpret_cast<bf16 *>(out), reinterpret_cast<const bf16 *>(inp), n);
	return launched();
}

int strata_gptk_gelu_backward(strata_bf16 *dinp, const strata_bf16 *inp, const float *dout,
			      long n, void *stream)
{
	gelu_backward_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(
		reinterpret_cast<bf16 *>(dinp), reinterpret_cast<const bf16 *>(inp), dout, n);
	return launched();
}

int strata_gptk_f32_to_bf16(strata_bf16 *out, const float *in, long n, void *stream)
{
	f32_to_bf16_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(
		reinterpret_cast<bf16 *>(out), in, n);
	return launched();
}

int strata_gptk_bf16_to_f32(float *out, const strata_bf16 *in, long n, void *stream)
{
	bf16_to_f32_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(
		out, reinterpret_cast<const bf16 *>(in), n);
	return launched();
}

int strata_gptk_permute_qkv(strata_bf16 *q, strata_bf16 *k, strata_bf16 *v,
			    const strata_bf16 *qkv, int B, int T, int NH, int hs, void *stream)
{
	permute_qkv_kernel<<<blocks_for((long)B * T * NH * hs), kThreads, 0, as_stream(stream)>>>(
		reinterpret_cast<bf16 *>(q), reinterpret_cast<bf16 *>(k),
		reinterpret_cast<bf16 *>(v), reinterpret_cast<const bf16 *>(qkv), B, T, NH, hs);
	return launched();
}

int strata_gptk_unpermute(strata_bf16 *out, const strata_bf16 *y, int B, int T, int NH, int hs,
			  void *stream)
{
	unpermute_kernel<<<blocks_for((long)B * T * NH * hs), kThreads, 0, as_stream(stream)>>>(
		reinterpret_cast<bf16 *>(out), reinterpret_cast<const bf16 *>(y), B, T, NH, hs);
	return launched();
}

int strata_gptk_permute_dout(strata_bf16 *dy, const float *dout, int B, int T, int NH, int hs,
			     void *stream)
{
	permute_dout_kernel<<<blocks_for((long)B * T * NH * hs), kThreads, 0, as_stream(stream)>>>(
		reinterpret_cast<bf16 *>(dy), dout, B, T, NH, hs);
	return launched();
}

int strata_gptk_unpermute_dqkv(strata_bf16 *dqkv, const float *dq, const float *dk,
			       const float *dv, int B, int T, int NH, int hs, void *stream)
{
	unpermute_dqkv_kernel<<<blocks_for((long)B * T * NH * hs), kThreads, 0,
				as_stream(stream)>>>(reinterpret_cast<bf16 *>(dqkv), dq, dk, dv, B,
						     T, NH, hs);
	return launched();
}

int strata_gptk_attn_softmax_forward(strata_bf16 *att, const float *preatt, long rows, int T,
				     void *stream)
{
	attn_softmax_forward_kernel<<<row_blocks(rows), kThreads, 0, as_stream(stream)>>>(
		reinterpret_cast<bf16 *>(att), preatt, rows, T);
	return launched();
}

int strata_gptk_attn_softmax_backward(strata_bf16 *dpreatt, const strata_bf16 *att,
				      const float *datt, long rows, int T, void *stream)
{
	attn_softmax_backward_kernel<<<row_blocks(rows), kThreads, 0, as_stream(stream)>>>(
		reinterpret_cast<bf16 *>(dpreatt), reinterpret_cast<const bf16 *>(att), datt, rows,
		T);
	return launched();
}

int strata_gptk_xent_forward(float *losses, const strata_bf16 *logits, const int *targets, int N,
			     int V, int ldv, void *stream)
{
	if (N <= 0)
		return 0;
	xent_forward_kernel<<<N, kThreads, 0, as_stream(stream)>>>(
		losses, reinterpret_cast<const bf16 *>(logits), targets, V, ldv);
	return launched();
}

int strata_gptk_xent_backward(strata_bf16 *logits, const int *targets, float dloss, int N, int V,
			      int ldv, void *stream)
{
	if (N <= 0)
		return 0;
	xent_backward_kernel<<<N, kThreads, 0, as_stream(stream)>>>(
		reinterpret_cast<bf16 *>(logits), targets, dloss, V, ldv);
	return launched();
}

int strata_gptk_adamw(float *p, strata_bf16 *p16, const float *grad, float *m, float *v, long n,
		      float lr, float beta1, float beta2, float c1, float c2, float eps, float wd,
		      float grad_scale, void *stream)
{
	adamw_kernel<<<blocks_for(n), kThreads, 0, as_stream(stream)>>>(
		p, reinterpret_cast<bf16 *>(p16), grad, m, v, n, lr, beta1, beta2, c1, c2, eps, wd,
		grad_scale);
	return launched();
}

int strata_gptk_kv_store(strata_bf16 *kcache, strata_bf16 *vcache, const strata_bf16 *qkv,
			 const int *slot, const int *pos, int n, int C, int max_len, void *stream)
{
	kv_store_kernel<<<blocks_for((long)n * C), kThreads, 0, as_stream(stream)>>>(
		reinterpret_cast<bf16 *>(kcache), reinterpret_cast<bf16 *>(vcache),
		reinterpret_cast<const bf16 *>(qkv), slot, pos, n, C, max_len);
	return launched();
}

int strata_gptk_kv_attention(strata_bf16 *out, const strata_bf16 *qkv, const strata_bf16 *kcache,
			     const strata_bf16 *vcache, const int *slot, const int *pos, int n,
			     int C, int NH, int max_len, void *stream)
{
	if (n <= 0)
		return 0;
	const size_t shmem = (size_t)max_len * sizeof(float);
	kv_attention_kernel<<<n * NH, 128, shmem, as_stream(stream)>>>(
		reinterpret_cast<bf16 *>(out), reinterpret_cast<const bf16 *>(qkv),
		reinterpret_cast<const bf16 *>(kcache), reinterpret_cast<const bf16 *>(vcache), slot,
		pos, C, NH, max_len);
	return launched();
}

int strata_gptk_kv_attention_max_len(int *max_len)
{
	cudaFuncAttributes a;
	const cudaError_t e = cudaFuncGetAttributes(&a, kv_attention_kernel);
	*max_len = e == cudaSuccess ? a.maxDynamicSharedSizeBytes / static_cast<int>(sizeof(float)) : 0;
	return static_cast<int>(e);
}

} // extern "C"
