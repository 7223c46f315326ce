using Gyre.Kernels;

namespace Gyre.Layers;

/// <summary>
/// ParaGRU (Danieli et al. 2025): a GRU whose recurrent weights are diagonal, so ∂h_t/∂h_{t−1} is diagonal
/// and the layer can run parallel in time (<see cref="ParallelRecurrentLayer"/>). Gate order r, z, n; with
/// gx = x·W_ihᵀ + b_ih and per-unit vectors a = weight_hh [3H], c = bias_hh [3H]:
/// <code>
/// r = σ(gx_r + a_r ⊙ h + c_r)      z = σ(gx_z + a_z ⊙ h + c_z)
/// q = a_n ⊙ h + c_n                n = tanh(gx_n + r ⊙ q)
/// h' = n + z ⊙ (h − n)
/// ∂h'/∂h = z + (h − n)·z(1 − z)·a_z + (1 − z)(1 − n²)·(r·a_n + q·r(1 − r)·a_r)
/// </code>
/// This is PyTorch's nn.GRU (reset-after) with weight_hh = [diag(a_r); diag(a_z); diag(a_n)]. The input
/// projection is dense (one GEMM over all steps); per-head block-diagonal input weights are a special case.
/// </summary>
public sealed class ParaGru(int inputSize, int hiddenSize, ulong seed = 0)
    : ParallelRecurrentLayer(inputSize, hiddenSize, block: 1, gates: 3, saved: 4, [("weight_hh", 3), ("bias_hh", 3)], seed)
{
    // Saved per (t, b): r | z | n | q, each [H].
    protected override void Evaluate(int t, int b, int j0, int j1, ReadOnlySpan<float> prev, Span<float> next, Span<float> jac)
    {
        int h = HiddenSize, n = j1 - j0, m0 = b * h;
        var u = PerUnitValues;
        ReadOnlySpan<float> gx = Gx.Slice((b * Steps + t) * 3 * h, 3 * h);
        Span<float> sv = SavedGates.Slice((t * BatchSize + b) * 4 * h, 4 * h);
        Span<float> r = sv.Slice(j0, n), z = sv.Slice(h + j0, n), nn = sv.Slice(2 * h + j0, n), q = sv.Slice(3 * h + j0, n);
        for (int i = 0; i < n; i++)
        {
            int j = j0 + i;
            float hp = prev.IsEmpty ? 0f : prev[m0 + j];
            r[i] = gx[j] + u[j] * hp + u[3 * h + j];
            z[i] = gx[h + j] + u[h + j] * hp + u[4 * h + j];
            q[i] = u[2 * h + j] * hp + u[5 * h + j];
        }
        Activations.Sigmoid(r, r);
        Activations.Sigmoid(z, z);
        for (int i = 0; i < n; i++) nn[i] = gx[2 * h + j0 + i] + r[i] * q[i];
        Activations.Tanh(nn, nn);
        for (int i = 0; i < n; i++)
        {
            int j = j0 + i;
            float hp = prev.IsEmpty ? 0f : prev[m0 + j];
            float zi = z[i], ni = nn[i], ri = r[i];
            next[m0 + j] = ni + zi * (hp - ni);
            if (!jac.IsEmpty)
                jac[m0 + j] = zi + (hp - ni) * zi * (1f - zi) * u[h + j]
                    + (1f - zi) * (1f - ni * ni) * (ri * u[2 * h + j] + q[i] * ri * (1f - ri) * u[j]);
        }
    }

    protected override void LocalBackward(int t, int b, ReadOnlySpan<float> prev, ReadOnlySpan<float> g, Span<float> dgx, Span<float> dUnit)
    {
        int h = HiddenSize, m0 = b * h;
        ReadOnlySpan<float> sv = SavedGates.Slice((t * BatchSize + b) * 4 * h, 4 * h);
        for (int j = 0; j < h; j++)
        {
            float hp = prev.IsEmpty ? 0f : prev[m0 + j], gj = g[m0 + j];
            float r = sv[j], z = sv[h + j], n = sv[2 * h + j], q = sv[3 * h + j];
            float dn = gj * (1f - z) * (1f - n * n);
            float dz = gj * (hp - n) * z * (1f - z);
            float dq = dn * r;
            float dr = dn * q * r * (1f - r);
            dgx[j] = dr; dgx[h + j] = dz; dgx[2 * h + j] = dn;
            // weight_hh (a_r, a_z, a_n) then bias_hh (c_r, c_z, c_n)
            dUnit[j] = dr * hp; dUnit[h + j] = dz * hp; dUnit[2 * h + j] = dq * hp;
            dUnit[3 * h + j] = dr; dUnit[4 * h + j] = dz; dUnit[5 * h + j] = dq;
        }
    }
}
