namespace Gyre.Forecasting;

/// <summary>
/// Named starting configurations for <see cref="ForecastOptions"/>, each a published design; options a user
/// gives beside a preset override it.
/// <list type="bullet">
/// <item><c>segrnn</c> — SegRNN (Lin et al. 2023, "SegRNN: Segment Recurrent Neural Network for Long-Term Time
/// Series Forecasting"): channel-independent; the lookback cut into segments of 24 steps, each embedded by a
/// Linear + ReLU to 512 units and read by one GRU step; the parallel multi-step (pmf) decoder, one GRU step per
/// 24-step output segment from the final state with position and channel embeddings, run by the encoder's own GRU
/// (one GRU for both, as SegRNN; options given beside the preset that rule sharing out give the decoder weights of its
/// own); dropout 0.5 on the decoder's
/// output; last-value normalisation; batch 256, learning rate 2e-4 (the authors' ETTh2 lookback-96 script; at 1e-3
/// the validation loss rises after the first epoch), 30 epochs, early-stopping patience 10.</item>
/// </list>
/// </summary>
public static class ForecastPresets
{
    /// <summary>The preset names.</summary>
    public static IReadOnlyList<string> Names { get; } = ["segrnn"];

    /// <summary>Options <paramref name="o"/> with preset <paramref name="name"/> applied (an ArgumentException names the known ones).</summary>
    public static ForecastOptions Apply(string name, ForecastOptions o) => name switch
    {
        "segrnn" => o with
        {
            Preset = "segrnn", Cell = "gru", Hidden = 512, Layers = 1, Patch = 24, Decoder = "pmf", SharedDecoder = true, Dropout = 0.5f,
            ChannelIndependent = true, Norm = "last", InstanceNorm = false, Batch = 256, LearningRate = 2e-4f, Epochs = 30, Patience = 10,
        },
        _ => throw new ArgumentException($"unknown preset '{name}' (known: {string.Join(", ", Names)})"),
    };
}
