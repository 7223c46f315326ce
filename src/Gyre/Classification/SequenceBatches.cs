using Gyre.Tensors;

namespace Gyre.Classification;

/// <summary>
/// Network inputs of prepared cases ([T′, F] each, row-major) gathered into zero-padded batches
/// x [B, T, F] with per-row lengths. T is the batch's longest case rounded up to a multiple of
/// <see cref="Round"/>, so batches of similar lengths share one buffer: after the first few batches no
/// tensor is allocated. Padded steps never change a result (the model reads lengths).
/// </summary>
internal sealed class SequenceBatches
{
    public const int Round = 8;
    private readonly float[][] _inputs;
    private readonly int[] _steps;
    private readonly Dictionary<(int, int), (Tensor X, int[] Lengths)> _buffers = [];

    public int Features { get; }

    public SequenceBatches(float[][] inputs, int features)
    {
        _inputs = inputs;
        Features = features;
        _steps = inputs.Select(x => x.Length / features).ToArray();
    }

    public int Count => _inputs.Length;

    public int Steps(int i) => _steps[i];

    /// <summary>x [B, T, F] and lengths [B] for cases <paramref name="indices"/> (views into reused buffers).</summary>
    public (Tensor X, int[] Lengths) Gather(ReadOnlySpan<int> indices)
    {
        int b = indices.Length, longest = 1;
        foreach (int i in indices) longest = Math.Max(longest, _steps[i]);
        int t = (longest + Round - 1) / Round * Round;
        if (!_buffers.TryGetValue((b, t), out var buf))
        {
            if (_buffers.Count >= 16) _buffers.Clear();   // ragged evaluation tails: start over rather than grow
            _buffers[(b, t)] = buf = (Tensor.Zeros(b, t, Features), new int[b]);
        }
        var x = buf.X.Span;                                  // [B, T, F]
        x.Clear();
        for (int r = 0; r < b; r++)
        {
            int i = indices[r];
            _inputs[i].CopyTo(x.Slice(r * t * Features));
            buf.Lengths[r] = _steps[i];
        }
        return buf;
    }
}
