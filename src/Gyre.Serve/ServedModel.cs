using Gyre.Data;
using Gyre.Models;

namespace Gyre.Serve;

/// <summary>A tensor a model declares in its metadata: name, Open Inference Protocol datatype, shape (−1: any length).</summary>
public sealed record TensorSpec(string Name, string Datatype, int[] Shape);

/// <summary>What one request brings: <see cref="Rows"/> observations of <see cref="Width"/> values [Rows, Width]
/// row-major, and with them their times (UTC) for models whose features depend on the time.</summary>
public sealed record Observations(float[] Values, int Rows, int Width, DateTime[]? Times)
{
    /// <summary>Input "future" [N, Fu] row-major for models that read known-future covariates over the horizon
    /// (<see cref="ServedModel.FutureInput"/>), else null.</summary>
    public float[]? Future { get; init; }
}

/// <summary>One output tensor of an answer: FP32 values, BYTES strings or BOOL flags.</summary>
public sealed record OutputTensor(string Name, string Datatype, int[] Shape, float[]? Values = null, string[]? Strings = null, bool[]? Flags = null);

/// <summary>A model's answer for one stream after its new observations: the outputs, or how many more rows the
/// stream needs before the model has a window to read (<see cref="RowsNeeded"/> &gt; 0, no outputs).</summary>
public sealed record StepResult(IReadOnlyList<OutputTensor> Outputs, int RowsNeeded = 0)
{
    /// <summary>Why this stream's request failed (the others of its batch are unaffected); null on success.</summary>
    public ServeException? Error { get; init; }
}

/// <summary>A stream's state, made and read only by the model that serves it.</summary>
public abstract class StreamState
{
    /// <summary>Rows the stream has seen.</summary>
    public long Rows { get; set; }

    /// <summary>The time of the newest row taken (models that read times), else null.</summary>
    public DateTime? LastTime { get; set; }
}

/// <summary>
/// A model file served over the inference protocol: its metadata, and a batched step that advances streams by
/// their new observations and answers with the job's output. Calls come from one batching loop per model,
/// never concurrently.
/// </summary>
public abstract class ServedModel
{
    protected ServedModel(string name, string path, string job) { Name = name; Path = path; Job = job; }

    public string Name { get; }
    public string Path { get; }
    /// <summary>The model file's job: forecast, classify, detect or trajectory.</summary>
    public string Job { get; }

    /// <summary>Values per observation row (the width of input "x").</summary>
    public abstract int Width { get; }

    /// <summary>Whether input "time" (INT64 Unix seconds, UTC, one per row) is required.</summary>
    public virtual bool NeedsTimes => false;

    /// <summary>How a stream is kept: "state" (the recurrent states: one recurrent step per new observation; a
    /// sequence_id is required) or "window" (the recent rows, re-run per request).</summary>
    public abstract string StreamKind { get; }

    /// <summary>One sentence on what a stream's state is and which offline output its answers equal.</summary>
    public abstract string StreamDescription { get; }

    /// <summary>Whether a stream keeps recurrent state (<see cref="StreamKind"/> "state").</summary>
    public bool Stateful => StreamKind == "state";

    /// <summary>Whether requests must name a sequence: by default when <see cref="Stateful"/>; a model whose request
    /// without one (a whole window on a fresh stream) is answered the same way may take both.</summary>
    public virtual bool SequenceRequired => Stateful;

    /// <summary>Input "future" (FP32 [N, Fu]: known-future covariates over the horizon), required on every request of a
    /// model that reads them; null for others.</summary>
    public virtual TensorSpec? FutureInput => null;

    public IReadOnlyList<TensorSpec> Inputs =>
    [
        new("x", "FP32", [-1, Width]),
        .. NeedsTimes ? [new TensorSpec("time", "INT64", [-1])] : Array.Empty<TensorSpec>(),
        .. FutureInput is { } future ? [future] : Array.Empty<TensorSpec>(),
    ];

    public abstract IReadOnlyList<TensorSpec> Outputs { get; }

    /// <summary>The state of a stream that has seen nothing.</summary>
    public abstract StreamState NewStream();

    /// <summary>Advances every stream of the batch by its observations (each stream at most once per batch) and
    /// answers for each.</summary>
    public abstract StepResult[] Step(IReadOnlyList<(StreamState State, Observations Input)> batch);

    /// <summary>
    /// Why this request cannot advance its stream (a per-request limit, or times that do not follow the stream's), or
    /// null. Checked for each request of a batch before any stream moves, so the refused request gets its own error
    /// and leaves its stream as it was, while the others of the batch are answered as usual.
    /// </summary>
    public virtual ServeException? Refusal(StreamState state, Observations input)
    {
        if (input.Times is { Length: > 0 } times && state.LastTime is { } last && times[0] <= last)
            return new ServeException(400, $"input 'time': data[0] = {Unix(times[0])} does not come after the stream's last time {Unix(last)}");
        return null;
    }

    private static long Unix(DateTime t) => (long)(t - DateTime.UnixEpoch).TotalSeconds;

    /// <summary>
    /// <see cref="Step"/> of the requests of a batch that are not refused (<see cref="Refusal"/>): a refused request's
    /// result carries its error, the others' results are those of a batch without it.
    /// </summary>
    public StepResult[] Run(IReadOnlyList<(StreamState State, Observations Input)> batch)
    {
        var results = new StepResult[batch.Count];
        var admitted = new List<int>(batch.Count);
        for (int i = 0; i < batch.Count; i++)
        {
            if (Refusal(batch[i].State, batch[i].Input) is { } refusal) results[i] = new StepResult([]) { Error = refusal };
            else admitted.Add(i);
        }
        if (admitted.Count == 0) return results;
        var answers = Step(admitted.Count == batch.Count ? batch : [.. admitted.Select(i => batch[i])]);
        for (int j = 0; j < admitted.Count; j++)
        {
            var (state, input) = batch[admitted[j]];
            if (input.Times is { Length: > 0 } times) state.LastTime = times[^1];
            results[admitted[j]] = answers[j];
        }
        return results;
    }

    /// <summary>Loads a model file of any served job; one line naming the file when it cannot be served.</summary>
    public static ServedModel Load(string name, string path, ServeOptions options)
    {
        var (job, _) = ModelFile.Read(path);
        return job switch
        {
            Forecasting.Forecaster.Job => new ForecastModel(name, path),
            Classification.SequenceClassifier.Job => new ClassifyModel(name, path, options.MaxStreamRows),
            "detect" => new DetectModel(name, path),
            "trajectory" => new TrajectoryModel(name, path),
            _ => throw new GyreDataException($"a {job} model: gyre serve serves forecast, classify, detect and trajectory models", path),
        };
    }
}

/// <summary>
/// A stream kept as its most recent rows (at most <see cref="Capacity"/>), for models that read a fixed window
/// (or the whole sequence) and re-run it per request: the answer is the offline model's on the same rows.
/// </summary>
public sealed class RowWindow(int width, int capacity, bool times) : StreamState
{
    private readonly List<float> _values = [];
    private readonly List<DateTime>? _times = times ? [] : null;

    public int Width { get; } = width;
    public int Capacity { get; } = capacity;
    /// <summary>Rows kept now.</summary>
    public int Count => _values.Count / Width;
    public float[] Values => [.. _values];
    public DateTime[]? Times => _times?.ToArray();

    /// <summary>Appends the rows, dropping the oldest beyond <see cref="Capacity"/>.</summary>
    public void Append(Observations o)
    {
        _values.AddRange(o.Values);
        if (_times != null) _times.AddRange(o.Times!);
        Rows += o.Rows;
        int drop = Count - Capacity;
        if (drop > 0)
        {
            _values.RemoveRange(0, drop * Width);
            _times?.RemoveRange(0, drop);
        }
    }
}

/// <summary>A served model whose streams are <see cref="RowWindow"/>s, answered by the job's offline inference on
/// the kept rows of every ready stream of a batch together.</summary>
public abstract class WindowModel(string name, string path, string job) : ServedModel(name, path, job)
{
    /// <summary>Rows a stream keeps.</summary>
    protected abstract int Capacity { get; }

    /// <summary>Rows a stream needs before it has an answer.</summary>
    protected abstract int MinRows { get; }

    public override string StreamKind => "window";

    public override StreamState NewStream() => new RowWindow(Width, Capacity, NeedsTimes);

    /// <summary>The results for several streams' kept rows (each at least <see cref="MinRows"/>), in one batched
    /// inference where the job allows; a stream whose rows the model cannot read gets its own error result.</summary>
    protected abstract StepResult[] AnswerAll(RowWindow[] windows);

    public override StepResult[] Step(IReadOnlyList<(StreamState State, Observations Input)> batch)
    {
        var results = new StepResult[batch.Count];
        var ready = new List<int>(batch.Count);
        for (int i = 0; i < batch.Count; i++)
        {
            var w = (RowWindow)batch[i].State;
            w.Append(batch[i].Input);
            if (w.Count < MinRows) results[i] = new StepResult([], MinRows - w.Count);
            else ready.Add(i);
        }
        if (ready.Count > 0)
        {
            var answers = AnswerAll([.. ready.Select(i => (RowWindow)batch[i].State)]);
            for (int r = 0; r < ready.Count; r++) results[ready[r]] = answers[r];
        }
        return results;
    }
}
