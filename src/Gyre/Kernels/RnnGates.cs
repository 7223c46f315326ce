using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Gyre.Kernels;

/// <summary>
/// Pointwise Elman RNN step (<see cref="Cells.RnnCellMath"/>) over a step's [R, H] block taken flat: h' = act(pre),
/// and backward dpre = dh' ⊙ act'(h'). Equations: <see cref="Reference.RnnReference"/>, its scalar twin.
/// </summary>
/// <remarks>
/// Vector512 → 256 → 128, widest first, then single Vector128 lanes, so every element runs the same instruction
/// sequence whatever the length. ReLU and both backwards match the twin bit for bit; tanh forward is
/// <see cref="Activations.Tanh(Span{float}, ReadOnlySpan{float})"/>. The ReLU is a select, not a branch: a branch per
/// element on the sign of a pre-activation mispredicts half the time (rnn_relu ran at a quarter of rnn_tanh's speed).
/// </remarks>
public static class RnnGates
{
    /// <inheritdoc cref="Reference.RnnReference.Forward"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(Span<float> h, ReadOnlySpan<float> pre, bool relu)
    {
        if (h.Length < pre.Length) throw new ArgumentException($"span 'h' holds {h.Length} floats; {pre.Length} needed", nameof(h));
        if (!relu) { Activations.Tanh(h.Slice(0, pre.Length), pre); return; }
        if (!Vector128.IsHardwareAccelerated) { Reference.RnnReference.Forward(h, pre, relu); return; }
        ref float d = ref MemoryMarshal.GetReference(h);
        ref float s = ref MemoryMarshal.GetReference(pre);
        nuint n = (nuint)pre.Length, i = 0;
        if (Vector512.IsHardwareAccelerated) i = ReluRun<Simd512, Vector512<float>>(ref d, ref s, n, i);
        if (Vector256.IsHardwareAccelerated) i = ReluRun<Simd256, Vector256<float>>(ref d, ref s, n, i);
        i = ReluRun<Simd128, Vector128<float>>(ref d, ref s, n, i);
        ReluRun<Simd1, Vector128<float>>(ref d, ref s, n, i);
    }

    /// <inheritdoc cref="Reference.RnnReference.Backward"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(Span<float> dPre, ReadOnlySpan<float> dh, ReadOnlySpan<float> h, bool relu)
    {
        if (dPre.Length < dh.Length || h.Length < dh.Length)
            throw new ArgumentException($"spans 'dPre' ({dPre.Length}) and 'h' ({h.Length}) must hold the {dh.Length} floats of 'dh'");
        if (!Vector128.IsHardwareAccelerated) { Reference.RnnReference.Backward(dPre, dh, h, relu); return; }
        ref float d = ref MemoryMarshal.GetReference(dPre);
        ref float g = ref MemoryMarshal.GetReference(dh);
        ref float y = ref MemoryMarshal.GetReference(h);
        nuint n = (nuint)dh.Length, i = 0;
        if (Vector512.IsHardwareAccelerated) i = BackwardRun<Simd512, Vector512<float>>(ref d, ref g, ref y, n, i, relu);
        if (Vector256.IsHardwareAccelerated) i = BackwardRun<Simd256, Vector256<float>>(ref d, ref g, ref y, n, i, relu);
        i = BackwardRun<Simd128, Vector128<float>>(ref d, ref g, ref y, n, i, relu);
        BackwardRun<Simd1, Vector128<float>>(ref d, ref g, ref y, n, i, relu);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static nuint ReluRun<S, TV>(ref float h, ref float pre, nuint n, nuint i) where S : struct, ISimd<TV> where TV : struct
    {
        TV zero = S.Splat(0f);
        // A select on 0 ≥ pre, as the twin: NaN stays NaN, −0 becomes +0.
        for (nuint w = (nuint)S.Count; i + w <= n; i += w)
        {
            TV p = S.Load(ref pre, i);
            S.Store(S.Select(S.GreaterThanOrEqual(zero, p), zero, p), ref h, i);
        }
        return i;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    static nuint BackwardRun<S, TV>(ref float dPre, ref float dh, ref float h, nuint n, nuint i, bool relu)
        where S : struct, ISimd<TV> where TV : struct
    {
        TV zero = S.Splat(0f), one = S.Splat(1f);
        for (nuint w = (nuint)S.Count; i + w <= n; i += w)
        {
            TV y = S.Load(ref h, i), g = S.Load(ref dh, i);
            // Same operation order as the twin (no FMA): dh ⊙ (1 − h·h).
            S.Store(relu ? S.Select(S.GreaterThanOrEqual(zero, y), zero, g) : S.Mul(g, S.Sub(one, S.Mul(y, y))), ref dPre, i);
        }
        return i;
    }
}
