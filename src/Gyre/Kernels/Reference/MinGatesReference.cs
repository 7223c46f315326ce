namespace Gyre.Kernels.Reference;

/// <summary>
/// Scalar twin of <see cref="MinGates"/>: one step of minGRU / minLSTM (Feng et al. 2024), R rows, H units. The
/// gates see x only (gx = x·W_ihᵀ + b_ih), so the step is linear in h: h' = a ⊙ h + b.
/// <code>
/// g(x) = x + ½ (x ≥ 0), σ(x) (x &lt; 0)        g′ = 1 (x ≥ 0), σ(x)(1 − σ(x)) (x &lt; 0)
/// minGRU   gx = [k_z | p]:       z = σ(k_z),  h̃ = g(p),  a = 1 − z,  b = z ⊙ h̃
/// minLSTM  gx = [k_f | k_i | p]: f = σ(k_f), i = σ(k_i), f′ = f/(f + i), h̃ = g(p), a = f′, b = (1 − f′) ⊙ h̃
///          (where k_f and k_i are both below −80, f′ = σ(k_f − k_i): there σ(k) = e^k to float precision)
/// h' = a ⊙ h + b   (two roundings, no FMA, as <see cref="LinearRecurrence"/>)
/// backward, g = ∂L/∂h':  ∂L/∂h = g ⊙ a,  ∂L/∂p = g ⊙ (1 − a) ⊙ g′(p)
///   minGRU   ∂L/∂k_z = g ⊙ (h̃ − h) ⊙ z(1 − z)
///   minLSTM  δ = −g ⊙ (h̃ − h) ⊙ f′(1 − f′),  ∂L/∂k_f = δ ⊙ (1 − f),  ∂L/∂k_i = −δ ⊙ (1 − i)
/// </code>
/// Saved per unit: minGRU z | h̃ | g′ (S = 3); minLSTM f′ | 1 − f | 1 − i | h̃ | g′ (S = 5).
/// </summary>
public static class MinGatesReference
{
    /// <summary>hNext [R, H] = a ⊙ hPrev + b from gx [R, G·H]; saved [R, S·H] written unless empty.</summary>
    public static void Forward(Span<float> hNext, Span<float> saved, ReadOnlySpan<float> gx, ReadOnlySpan<float> hPrev,
        int rows, int hidden, bool lstm)
    {
        MinGates.CheckForward(hNext.Length, saved.Length, gx.Length, hPrev.Length, rows, hidden, lstm, "hNext", "hPrev");
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < hidden; j++)
            {
                var (a, b) = Step(saved, gx, r, j, hidden, lstm);
                int o = r * hidden + j;
                hNext[o] = a * hPrev[o] + b;
            }
    }

    /// <summary>a, b [R, H] of the step h' = a ⊙ h + b from gx [R, G·H]; saved [R, S·H] written unless empty.</summary>
    public static void Coefficients(Span<float> a, Span<float> b, Span<float> saved, ReadOnlySpan<float> gx,
        int rows, int hidden, bool lstm)
    {
        MinGates.CheckForward(a.Length, saved.Length, gx.Length, b.Length, rows, hidden, lstm, "a", "b");
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < hidden; j++)
                (a[r * hidden + j], b[r * hidden + j]) = Step(saved, gx, r, j, hidden, lstm);
    }

    static (float A, float B) Step(Span<float> saved, ReadOnlySpan<float> gx, int r, int j, int h, bool lstm)
    {
        int g = MinGates.Gates(lstm), sw = MinGates.SavedWidth(lstm), og = r * g * h, os = r * sw * h;
        float p = gx[og + (g - 1) * h + j], sp = GateReference.Sigmoid(p);
        float ht = p >= 0f ? p + 0.5f : sp, gp = p >= 0f ? 1f : sp * (1f - sp);
        float a, z;
        if (lstm)
        {
            float kf = gx[og + j], ki = gx[og + h + j];
            float f = GateReference.Sigmoid(kf), i = GateReference.Sigmoid(ki);
            a = kf < MinGates.TailBelow && ki < MinGates.TailBelow ? GateReference.Sigmoid(kf - ki) : f / (f + i);
            z = 1f - a;
            if (!saved.IsEmpty)
            {
                saved[os + j] = a; saved[os + h + j] = 1f - f; saved[os + 2 * h + j] = 1f - i;
                saved[os + 3 * h + j] = ht; saved[os + 4 * h + j] = gp;
            }
        }
        else
        {
            z = GateReference.Sigmoid(gx[og + j]);
            a = 1f - z;
            if (!saved.IsEmpty) { saved[os + j] = z; saved[os + h + j] = ht; saved[os + 2 * h + j] = gp; }
        }
        return (a, z * ht);
    }

    /// <summary>From g = dhNext [R, H]: dGx [R, G·H] and dhPrev [R, H] (both overwritten); saved and hPrev of the step.</summary>
    public static void Backward(Span<float> dGx, Span<float> dhPrev, ReadOnlySpan<float> dhNext, ReadOnlySpan<float> saved,
        ReadOnlySpan<float> hPrev, int rows, int hidden, bool lstm)
    {
        MinGates.CheckBackward(dGx.Length, dhPrev.Length, dhNext.Length, saved.Length, hPrev.Length, rows, hidden, lstm);
        int g = MinGates.Gates(lstm), sw = MinGates.SavedWidth(lstm), h = hidden;
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < hidden; j++)
            {
                int o = r * h + j, og = r * g * h, os = r * sw * h;
                float dh = dhNext[o], hv = hPrev[o], ht = saved[os + (sw - 2) * h + j], gp = saved[os + (sw - 1) * h + j];
                float a, z;
                if (lstm)
                {
                    a = saved[os + j];
                    z = 1f - a;
                    float dd = -(dh * (ht - hv)) * (a * z);
                    dGx[og + j] = dd * saved[os + h + j];
                    dGx[og + h + j] = -(dd * saved[os + 2 * h + j]);
                }
                else
                {
                    z = saved[os + j];
                    a = 1f - z;
                    dGx[og + j] = dh * (ht - hv) * (z * a);
                }
                dGx[og + (g - 1) * h + j] = dh * z * gp;
                dhPrev[o] = dh * a;
            }
    }
}
