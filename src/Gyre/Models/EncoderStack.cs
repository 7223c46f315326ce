namespace Gyre.Models;

/// <summary>
/// The user-facing checks of the shared <see cref="RecurrentEncoder"/>'s stack options, in the CLI's words, so every
/// job that offers <c>--layers</c>, <c>--gmu</c> and <c>--gmu-memory</c> refuses the same values with the same line.
/// K recurrent layers, G gated memory units reading the output of recurrent layer L (0-based; null: the last).
/// </summary>
public static class EncoderStack
{
    /// <summary>The most gated memory units a stack takes (each is a [D·W_0, D·W_0] GEMM per step).</summary>
    public const int MaxGmu = 64;

    /// <summary>The first bad value as one line naming its option, or null when (K, G, L) is a valid stack.</summary>
    public static string? Problem(int layers, int gmu, int? gmuMemory)
    {
        if (layers <= 0) return $"--layers must be positive, got {layers}";
        if (gmu is < 0 or > MaxGmu) return $"--gmu must be in 0..{MaxGmu}, got {gmu}";
        if (gmuMemory is { } mem && gmu == 0) return $"--gmu-memory {mem} needs --gmu 1 or more";
        if (gmuMemory is { } layer && (layer < 0 || layer >= layers))
            return $"--gmu-memory must name a recurrent layer in 0..{layers - 1} (0-based; --layers {layers}), got {layer}";
        return null;
    }

    /// <summary>"" without GMUs, else ", G GMU (memory: layer L)" for the settings lines and inspect reports.</summary>
    public static string Describe(int layers, int gmu, int? gmuMemory) =>
        gmu == 0 ? "" : $", {gmu} GMU (memory: layer {gmuMemory ?? layers - 1})";
}
