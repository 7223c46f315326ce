namespace Gyre.Serve;

/// <summary>Settings of an <see cref="InferenceServer"/> (the options of `gyre serve`).</summary>
public sealed record ServeOptions
{
    /// <summary>Models to serve: the name clients use in /v2/models/{name} and the model file.</summary>
    public IReadOnlyList<(string Name, string Path)> Models { get; init; } = [];

    /// <summary>Address to listen on; loopback unless the operator asks for more.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>HTTP port; 0 picks a free one (<see cref="InferenceServer.Address"/> tells which).</summary>
    public int Port { get; init; } = 8000;

    /// <summary>Port of the Open Inference Protocol's gRPC service (HTTP/2 cleartext) on the same host; null: no gRPC
    /// service (the default; `--grpc-port 0`), 0: a free one (<see cref="InferenceServer.GrpcAddress"/> tells which).</summary>
    public int? GrpcPort { get; init; }

    /// <summary>A stream idle this long is dropped; its next request without sequence_start is refused.</summary>
    public TimeSpan StreamTtl { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Live streams at most, over all models; a new one beyond it is refused (503) until one ends or expires.</summary>
    public int MaxStreams { get; init; } = 10_000;

    /// <summary>How long the first request of a batch waits for others to the same model.</summary>
    public TimeSpan MaxBatchDelay { get; init; } = TimeSpan.FromMilliseconds(1);

    /// <summary>Requests per batched step at most.</summary>
    public int MaxBatch { get; init; } = 256;

    /// <summary>Request bodies above this many bytes are refused (413).</summary>
    public long MaxBodyBytes { get; init; } = 4 << 20;

    /// <summary>Elements per input tensor at most (413 above).</summary>
    public int MaxElements { get; init; } = 1 << 20;

    /// <summary>Rows a growing stream (a classify case) keeps at most; more is refused (413).</summary>
    public int MaxStreamRows { get; init; } = 100_000;

    /// <summary>How long a SIGTERM waits for requests in flight.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>One line naming the first bad setting.</summary>
    public void Validate()
    {
        if (Models.Count == 0) throw new ArgumentException("--model: give at least one model as NAME=path.gyre");
        foreach (var (name, _) in Models)
            if (string.IsNullOrWhiteSpace(name) || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
                throw new ArgumentException($"--model: model name '{name}' must be letters, digits, '-', '_' or '.'");
        var dup = Models.GroupBy(m => m.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (dup != null) throw new ArgumentException($"--model: model name '{dup.Key}' is given twice");
        if (Port is < 0 or > 65535) throw new ArgumentException($"--port {Port} is outside 0..65535");
        if (GrpcPort is < 0 or > 65535) throw new ArgumentException($"--grpc-port {GrpcPort} is outside 0..65535");
        if (GrpcPort is > 0 && GrpcPort == Port) throw new ArgumentException($"--grpc-port {GrpcPort} is the HTTP --port too: give the gRPC service a port of its own");
        if (StreamTtl <= TimeSpan.Zero) throw new ArgumentException($"--stream-ttl must be positive, got {StreamTtl.TotalSeconds} s");
        if (MaxStreams <= 0) throw new ArgumentException($"--max-streams must be positive, got {MaxStreams}");
        if (MaxBatchDelay < TimeSpan.Zero) throw new ArgumentException($"--max-batch-delay must be ≥ 0, got {MaxBatchDelay.TotalMilliseconds} ms");
        if (MaxBatch <= 0) throw new ArgumentException($"--max-batch must be positive, got {MaxBatch}");
        if (MaxBodyBytes <= 0) throw new ArgumentException($"--max-body must be positive, got {MaxBodyBytes}");
        if (MaxElements <= 0) throw new ArgumentException($"--max-elements must be positive, got {MaxElements}");
        if (MaxStreamRows <= 0) throw new ArgumentException($"--max-stream-rows must be positive, got {MaxStreamRows}");
    }
}

/// <summary>A request the server refuses: the HTTP status (over gRPC its status code: 400 INVALID_ARGUMENT, 404
/// NOT_FOUND, 413 RESOURCE_EXHAUSTED, 503 UNAVAILABLE) and one line for the client.</summary>
public sealed class ServeException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;
}
