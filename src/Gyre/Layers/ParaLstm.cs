using Gyre.Kernels;

namespace Gyre.Layers;

/// <summary>
/// ParaLSTM (Danieli et al. 2025): an LSTM with a coupled input–forget gate, peepholes and diagonal recurrent
/// weights, so ∂(c_t, h_t)/∂(c_{t−1}, h_{t−1}) is a 2×2 block per unit and the layer can run parallel in time
/// (<see cref="ParallelRecurrentLayer"/>, state components c then h). Gate order f, g, o; with
/// gx = x·W_ihᵀ + b_ih, a = weight_hh [3H] and peepholes p = peephole [2H] (p_f on c_{t−1}, p_o on c_t):
/// <code>
/// f = σ(gx_f + p_f ⊙ c + a_f ⊙ h)        g = tanh(gx_g + a_g ⊙ h)
/// c' = g + f ⊙ (c − g)                   (input gate 1 − f)
/// o = σ(gx_o + p_o ⊙ c' + a_o ⊙ h)       h' = o ⊙ tanh(c')
/// ∂c'/∂c = f + (c − g)·f(1 − f)·p_f      ∂c'/∂h = (c − g)·f(1 − f)·a_f + (1 − f)(1 − g²)·a_g
/// ∂h'/∂· = o(1 − o)·(p_o·∂c'/∂· [+ a_o for h])·tanh c' + o(1 − tanh² c')·∂c'/∂·
/// </code>
/// </summary>
public sealed class ParaLstm(int inputSize, int hiddenSize, ulong seed = 0)
    : ParallelRecurrentLayer(inputSize, hiddenSize, block: 2, gates: 3, saved: 5, [("weight_hh", 3), ("peephole", 2)], seed)
{
    // Saved per (t, b): f | g | o | c' | tanh c', each [H].
    protected override void Evaluate(int t, int b, int j0, int j1, ReadOnlySpan<float> prev, Span<float> next, Span<float> jac)
    {
        int h = HiddenSize, n = j1 - j0, m0 = b * h, m = Channels;
        var u = PerUnitValues;
        ReadOnlySpan<float> gx = Gx.Slice((b * Steps + t) * 3 * h, 3 * h);
        Span<float> sv = SavedGates.Slice((t * BatchSize + b) * 5 * h, 5 * h);
        Span<float> f = sv.Slice(j0, n), g = sv.Slice(h + j0, n), o = sv.Slice(2 * h + j0, n), c = sv.Slice(3 * h + j0, n), tc = sv.Slice(4 * h + j0, n);
        for (int i = 0; i < n; i++)
        {
            int j = j0 + i;
            float cp = prev.IsEmpty ? 0f : prev[m0 + j], hp = prev.IsEmpty ? 0f : prev[m + m0 + j];
            f[i] = gx[j] + u[3 * h + j] * cp + u[j] * hp;
            g[i] = gx[h + j] + u[h + j] * hp;
        }
        Activations.Sigmoid(f, f);
        Activations.Tanh(g, g);
        for (int i = 0; i < n; i++)
        {
            int j = j0 + i;
            float cp = prev.IsEmpty ? 0f : prev[m0 + j], hp = prev.IsEmpty ? 0f : prev[m + m0 + j];
            c[i] = g[i] + f[i] * (cp - g[i]);
            o[i] = gx[2 * h + j] + u[4 * h + j] * c[i] + u[2 * h + j] * hp;
        }
        Activations.Sigmoid(o, o);
        Activations.Tanh(tc, c);
        for (int i = 0; i < n; i++)
        {
            int j = j0 + i;
            next[m0 + j] = c[i];
            next[m + m0 + j] = o[i] * tc[i];
            if (jac.IsEmpty) continue;
            float cp = prev.IsEmpty ? 0f : prev[m0 + j];
            float fi = f[i], gi = g[i], oi = o[i], ti = tc[i];
            float sf = fi * (1f - fi), so = oi * (1f - oi), k = oi * (1f - ti * ti);
            float dcc = fi + (cp - gi) * sf * u[3 * h + j];
            float dch = (cp - gi) * sf * u[j] + (1f - fi) * (1f - gi * gi) * u[h + j];
            float doc = so * u[4 * h + j] * dcc;
            float doh = so * (u[4 * h + j] * dch + u[2 * h + j]);
            jac[m0 + j] = dcc;                 // (c', c)
            jac[m + m0 + j] = dch;             // (c', h)
            jac[2 * m + m0 + j] = doc * ti + k * dcc; // (h', c)
            jac[3 * m + m0 + j] = doh * ti + k * dch; // (h', h)
        }
    }

    protected override void LocalBackward(int t, int b, ReadOnlySpan<float> prev, ReadOnlySpan<float> g, Span<float> dgx, Span<float> dUnit)
    {
        int h = HiddenSize, m0 = b * h, m = Channels;
        var u = PerUnitValues;
        ReadOnlySpan<float> sv = SavedGates.Slice((t * BatchSize + b) * 5 * h, 5 * h);
        for (int j = 0; j < h; j++)
        {
            float cp = prev.IsEmpty ? 0f : prev[m0 + j], hp = prev.IsEmpty ? 0f : prev[m + m0 + j];
            float gc = g[m0 + j], gh = g[m + m0 + j];
            float f = sv[j], gg = sv[h + j], o = sv[2 * h + j], c = sv[3 * h + j], tc = sv[4 * h + j];
            float dOpre = gh * tc * o * (1f - o);
            float dc = gc + gh * o * (1f - tc * tc) + dOpre * u[4 * h + j];
            float dFpre = dc * (cp - gg) * f * (1f - f);
            float dGpre = dc * (1f - f) * (1f - gg * gg);
            dgx[j] = dFpre; dgx[h + j] = dGpre; dgx[2 * h + j] = dOpre;
            // weight_hh (a_f, a_g, a_o) then peephole (p_f, p_o)
            dUnit[j] = dFpre * hp; dUnit[h + j] = dGpre * hp; dUnit[2 * h + j] = dOpre * hp;
            dUnit[3 * h + j] = dFpre * cp; dUnit[4 * h + j] = dOpre * c;
        }
    }
}
