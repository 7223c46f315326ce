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
/// output; last-value normalisation. Trained as the authors' runs train it (their ETTh2 lookback-96 script and
/// training loop): MSE, batches of 256 time windows with all their channels, Adam at 2e-4 without weight decay or
/// gradient clipping (at 1e-3 the validation loss rises after the first epoch), 30 epochs, early-stopping patience 10
/// on the validation MSE in the scaler's space, and their schedule: the first epoch at 1/25 of the rate (the rate
/// their one-cycle scheduler sets when it is built, although their loop never steps it), epochs 2–4 at the rate, then
/// ×0.8 per epoch — <c>exponential(gamma=0.8,hold=4,warmup=1,start=0.04)</c>. The same one-cycle scheduler, built with
/// its default momentum cycling, also sets Adam's β1 to its maximum momentum, 0.95, when it is built; never stepped, it
/// leaves it there for the whole run, so their Adam runs with betas (0.95, 0.999), not PyTorch's default (0.9, 0.999).</item>
/// </list>
/// </summary>
public static class ForecastPresets
{
    /// <summary>SegRNN's learning-rate schedule (see the class summary).</summary>
    public const string SegRnnSchedule = "exponential(gamma=0.8,hold=4,warmup=1,start=0.04)";

    /// <summary>The preset names.</summary>
    public static IReadOnlyList<string> Names { get; } = ["segrnn"];

    /// <summary>Options <paramref name="o"/> with preset <paramref name="name"/> applied (an ArgumentException names the known ones).</summary>
    public static ForecastOptions Apply(string name, ForecastOptions o) => name switch
    {
        "segrnn" => o with
        {
            Preset = "segrnn", Cell = "gru", Hidden = 512, Layers = 1, Patch = 24, Decoder = "pmf", SharedDecoder = true, Dropout = 0.5f,
            ChannelIndependent = true, WholeWindows = true, Norm = "last", InstanceNorm = false, Loss = "mse", Batch = 256, LearningRate = 2e-4f,
            Beta1 = 0.95f, Beta2 = 0.999f, WeightDecay = 0f, ClipNorm = 0f, Schedule = SegRnnSchedule, Epochs = 30, Patience = 10,
        },
        _ => throw new ArgumentException($"unknown preset '{name}' (known: {string.Join(", ", Names)})"),
    };
}
