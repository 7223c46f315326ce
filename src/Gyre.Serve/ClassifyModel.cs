using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Gyre.Classification;
using Gyre.Data;
using Gyre.Tensors;

namespace Gyre.Serve;

/// <summary>
/// A sequence classifier or regressor (job "classify") served over streams: a stream is one case whose
/// observations arrive over time, and each answer is the model's output for the case so far (its prefix).
/// Input x [rows, C]. Outputs: "probabilities" [K] and "label" (BYTES [1]), or "value" [1] for regression.
/// <para>
/// Stream state, "state" kind (one recurrent step per new patch of P observations): when each step's input depends
/// on its own observations only — global or no normalisation, a unidirectional encoder (with or without gated memory
/// units, which read only their own step's outputs), last / mean / max pooling, no test-time augmentation — a stream
/// keeps the encoder's recurrent states, the running pool (sum, maximum or last of the encoder's outputs) and the
/// observations of an unfinished patch. An unfinished patch is answered
/// from a copy of the states advanced over it padded with its last observation, as the offline model pads a
/// case's last patch. Otherwise ("window" kind: per-case normalisation, which rescales every earlier step when a
/// new observation arrives; a bidirectional encoder; attention pooling; test-time augmentation) the stream keeps
/// the whole case and re-runs it (also with a convolutional input transform or path, which reads following patches). Either way an answer equals <see cref="SequenceClassifier.Predict"/> on the prefix.
/// </para>
/// </summary>
public sealed class ClassifyModel : ServedModel
{
    private readonly SequenceClassifier _c;
    private readonly int _maxRows;
    private readonly bool _incremental;
    private readonly string? _windowReason;

    public ClassifyModel(string name, string path, int maxRows) : base(name, path, SequenceClassifier.Job)
    {
        _c = SequenceClassifier.Load(path);
        _c.Model.Encoder.Layer.WeightsFrozen = true;        // served weights never change: pack them once
        _maxRows = maxRows;
        _windowReason = WindowReason(_c);
        _incremental = _windowReason is null;
        int k = _c.Model.Spec.Outputs;
        Outputs = _c.IsRegression ? [new("value", "FP32", [1])] : [new("probabilities", "FP32", [k]), new("label", "BYTES", [1])];
    }

    /// <summary>Why the model's streams keep their whole case (null: they step).</summary>
    private static string? WindowReason(SequenceClassifier c)
    {
        if (c.Normalizer.Mode is not (SequenceNormalization.Global or SequenceNormalization.None))
            return $"{SequenceNormalizer.Name(c.Normalizer.Mode)} normalisation rescales the whole case with every new observation";
        if (!c.Model.Encoder.Layer.Streamable) return "a bidirectional encoder reads every step from both ends";
        if (c.Model.Spec.Input == "conv") return "the convolutional input transform reads the patches after each step as well";
        if (c.Model.Branch != null) return "the convolutional path reads the patches after each step as well";
        if (c.Model.Spec.Pool is not ("last" or "mean" or "max")) return $"{c.Model.Spec.Pool} pooling weighs every step by the whole case";
        if (c.TestViews > 1) return $"test-time augmentation averages {c.TestViews - 1} random slices of the whole case";
        return null;
    }

    public override int Width => _c.Channels;
    public override IReadOnlyList<TensorSpec> Outputs { get; }
    public override string StreamKind => _incremental ? "state" : "window";

    public override string StreamDescription => _incremental
        ? $"the encoder's recurrent states, the running {_c.Model.Spec.Pool} of its outputs{(_c.Model.Encoder.MemoryUnits.Count > 0 ? $" (after its {_c.Model.Encoder.MemoryUnits.Count} gated memory units, which read only their own step)" : "")} and the observations of an unfinished patch of {_c.Patch}: one recurrent step per patch; each answer equals `gyre classify predict` on the case so far"
        : $"the whole case so far (at most {_maxRows} rows), re-run per request because {_windowReason}; each answer equals `gyre classify predict` on the case so far";

    public override StreamState NewStream() => _incremental ? new CaseState(_c) : new RowWindow(Width, int.MaxValue, false);

    public override StepResult[] Step(IReadOnlyList<(StreamState State, Observations Input)> batch) =>
        _incremental ? StepStates(batch) : StepWindows(batch);

    /// <summary>A window stream's case may hold at most --max-stream-rows rows.</summary>
    public override ServeException? Refusal(StreamState state, Observations input) =>
        state is RowWindow w && w.Count + input.Rows > _maxRows
            ? new ServeException(413, $"a case holds at most {_maxRows} rows (--max-stream-rows); this one would have {w.Count + input.Rows}")
            : base.Refusal(state, input);

    // ------------------------------------------------------------------ whole case

    /// <summary>Appends each stream's observations (within --max-stream-rows: <see cref="Refusal"/>) and re-runs every
    /// case of the batch in one prediction: the
    /// classifier pads only within groups of similar lengths and seeds each case's test-time slices as if it were
    /// alone, so each answer equals the stream's case predicted by itself.</summary>
    private StepResult[] StepWindows(IReadOnlyList<(StreamState State, Observations Input)> batch)
    {
        int b = batch.Count;
        var cases = new LabeledSequence[b];
        for (int i = 0; i < b; i++)
        {
            var w = (RowWindow)batch[i].State;
            w.Append(batch[i].Input);
            cases[i] = new LabeledSequence("stream", w.Values, Width, null, double.NaN, 0);
        }
        var set = new SequenceSet(Name, Name, Width, _c.IsRegression ? LabelKind.Regression : LabelKind.Classification, cases, null);
        var p = _c.PredictEachAlone(set);
        int k = _c.Model.Spec.Outputs;
        var results = new StepResult[b];
        for (int i = 0; i < b; i++)
            results[i] = new StepResult(_c.IsRegression ? Answer(p.Values[i]) : Answer(p.Probabilities.AsSpan(i * k, k).ToArray()));
        return results;
    }

    private OutputTensor[] Answer(double value) => [new("value", "FP32", [1], [(float)value])];

    private OutputTensor[] Answer(float[] probabilities)
    {
        int best = 0;
        for (int k = 1; k < probabilities.Length; k++) if (probabilities[k] > probabilities[best]) best = k;
        return [new("probabilities", "FP32", [probabilities.Length], probabilities), new("label", "BYTES", [1], Strings: [_c.Classes[best]])];
    }

    // ------------------------------------------------------------------ recurrent states

    /// <summary>A case's stream: encoder states NS × [L, 1, W_j], the running pool [W_0] (sum, maximum or last output) over <see cref="Steps"/>
    /// encoder steps, and the normalised observations of the unfinished patch [r, C], r &lt; P.</summary>
    private sealed class CaseState(SequenceClassifier c) : StreamState
    {
        public readonly Tensor[] States = c.Model.Encoder.Layer.NewStates(1);
        public readonly float[] Pool = new float[c.Model.Encoder.OutputSize];
        public readonly List<float> Pending = [];
        public int Steps;
    }

    private StepResult[] StepStates(IReadOnlyList<(StreamState State, Observations Input)> batch)
    {
        var m = _c.Model;
        int b = batch.Count, ch = _c.Channels, p = _c.Patch, f = p * ch, h = m.Encoder.OutputSize;   // h: W_0, the output width
        var streams = new CaseState[b];
        var patches = new int[b];
        for (int i = 0; i < b; i++)
        {
            streams[i] = (CaseState)batch[i].State;
            var o = batch[i].Input;
            streams[i].Pending.AddRange(_c.Normalizer.Apply(o.Values, ch));
            streams[i].Rows += o.Rows;
            patches[i] = streams[i].Pending.Count / f;
        }

        // Every finished patch of every stream in one batched advance (rows with none sit it out).
        int k = patches.Max();
        if (k > 0)
        {
            var x = Tensor.Zeros(b, k, f);                                   // [B, k, P·C]
            for (int i = 0; i < b; i++)
            {
                var pending = streams[i].Pending;
                int n = patches[i] * f;
                for (int j = 0; j < n; j++) x.Span[i * k * f + j] = pending[j];
                pending.RemoveRange(0, n);
            }
            var y = Advance(streams, x, patches, (s, st) => st);             // [B, k, W_0]
            for (int i = 0; i < b; i++)
                for (int s = 0; s < patches[i]; s++) Pool(streams[i].Pool, y.ReadOnlySpan.Slice((i * k + s) * h, h), streams[i].Steps++ == 0);
        }

        // The pooled features: from the states, or from a copy advanced over the padded unfinished patch.
        var z = Tensor.Zeros(b, h);                                          // [B, W_0]
        var partial = Enumerable.Range(0, b).Where(i => streams[i].Pending.Count > 0).ToArray();
        for (int i = 0; i < b; i++)
            if (streams[i].Pending.Count == 0) Pooled(streams[i], default, z.Span.Slice(i * h, h));
        if (partial.Length > 0)
        {
            var x = Tensor.Zeros(partial.Length, 1, f);                     // [B', 1, P·C]
            for (int r = 0; r < partial.Length; r++)
            {
                var pending = streams[partial[r]].Pending;
                int have = pending.Count / ch;
                for (int j = 0; j < p; j++)
                    for (int q = 0; q < ch; q++) x.Span[r * f + j * ch + q] = pending[Math.Min(j, have - 1) * ch + q];
            }
            var sub = partial.Select(i => streams[i]).ToArray();
            var y = Advance(sub, x, [.. Enumerable.Repeat(1, partial.Length)], (s, st) => [.. st.Select(t => t.Clone())]);
            for (int r = 0; r < partial.Length; r++) Pooled(sub[r], y.ReadOnlySpan.Slice(r * h, h), z.Span.Slice(partial[r] * h, h));
        }

        m.Head.Training = false;
        var out_ = m.Head.Forward(z, null).ReadOnlySpan;                     // [B, O]
        int o_ = m.Spec.Outputs;
        var results = new StepResult[b];
        for (int i = 0; i < b; i++)
        {
            var row = out_.Slice(i * o_, o_);
            if (_c.IsRegression) { results[i] = new StepResult(Answer(row[0] * _c.TargetStd + _c.TargetMean)); continue; }
            var probs = new float[o_];
            TensorPrimitives.SoftMax(row, probs);
            results[i] = new StepResult(Answer(probs));
        }
        return results;
    }

    /// <summary>Advances the streams' states (or the copies <paramref name="states"/> makes) over x [B, k, P·C]
    /// by lengths[i] steps per row in one batched call; returns the encoder outputs [B, k, W_0].</summary>
    private Tensor Advance(CaseState[] streams, Tensor x, int[] lengths, Func<CaseState, Tensor[], Tensor[]> states)
    {
        var m = _c.Model;
        var layer = m.Encoder.Layer;
        int b = streams.Length, k = x.Dim(1), l = m.Spec.Layers, ns = layer.StateCount;
        m.Input.Training = false;
        var u = m.Input.Forward(x, null);                                   // [B, k, E]
        var own = streams.Select(s => states(s, s.States)).ToArray();
        var batched = layer.NewStates(b);                                    // NS × [L, B, W_j]
        for (int j = 0; j < ns; j++)
        {
            int w = layer.StateWidth(j);
            for (int i = 0; i < b; i++)
                for (int q = 0; q < l; q++) own[i][j].ReadOnlySpan.Slice(q * w, w).CopyTo(batched[j].Span.Slice((q * b + i) * w, w));
        }
        var y = m.Encoder.Advance(u, batched, Tensor.Zeros(b, k, layer.OutputSize), lengths);   // [B, k, W_0]
        for (int j = 0; j < ns; j++)
        {
            int w = layer.StateWidth(j);
            for (int i = 0; i < b; i++)
                for (int q = 0; q < l; q++) batched[j].ReadOnlySpan.Slice((q * b + i) * w, w).CopyTo(own[i][j].Span.Slice(q * w, w));
        }
        return y;
    }

    /// <summary>Adds one encoder output to a running pool in the offline pooling's order (sum in time order; maximum
    /// replaced only by a larger value).</summary>
    private void Pool(float[] pool, ReadOnlySpan<float> y, bool first)
    {
        switch (_c.Model.Spec.Pool)
        {
            case "last": case "mean" when first: case "max" when first: y.CopyTo(pool); break;
            case "mean": TensorPrimitives.Add(pool, y, pool); break;
            case "max":
                for (int u = 0; u < pool.Length; u++) if (y[u] > pool[u]) pool[u] = y[u];
                break;
        }
    }

    /// <summary>The pooled features of a stream, with the output of its padded unfinished patch when given.</summary>
    private void Pooled(CaseState s, ReadOnlySpan<float> extra, Span<float> z)
    {
        int h = z.Length;
        int steps = s.Steps + (extra.IsEmpty ? 0 : 1);
        switch (_c.Model.Spec.Pool)
        {
            case "last":
                (extra.IsEmpty ? s.Pool : extra).CopyTo(z);
                break;
            case "mean":
                if (s.Steps == 0) extra.CopyTo(z);
                else { s.Pool.CopyTo(z); if (!extra.IsEmpty) TensorPrimitives.Add(z, extra, z); }
                TensorPrimitives.Multiply(z, 1f / steps, z);
                break;
            case "max":
                if (s.Steps == 0) extra.CopyTo(z);
                else
                {
                    s.Pool.CopyTo(z);
                    for (int u = 0; u < h && !extra.IsEmpty; u++) if (extra[u] > z[u]) z[u] = extra[u];
                }
                break;
        }
    }
}
