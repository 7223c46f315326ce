using Prometheus;

namespace Gyre.Serve;

/// <summary>The server's Prometheus metrics, in a registry of its own (several servers may share a process).</summary>
public sealed class ServerMetrics
{
    public CollectorRegistry Registry { get; } = Metrics.NewCustomRegistry();
    /// <summary>Inference requests by model and HTTP status.</summary>
    public Counter Requests { get; }
    /// <summary>Inference request latency in seconds (parse to response), by model.</summary>
    public Histogram Latency { get; }
    /// <summary>Requests per batched step, by model.</summary>
    public Histogram BatchSize { get; }
    /// <summary>Inference requests being read, waiting or running now.</summary>
    public Gauge InFlight { get; }
    /// <summary>Streams held now.</summary>
    public Gauge LiveStreams { get; }
    /// <summary>Streams dropped after --stream-ttl idle.</summary>
    public Counter ExpiredStreams { get; }

    public ServerMetrics()
    {
        var f = Metrics.WithCustomRegistry(Registry);
        Requests = f.CreateCounter("gyre_infer_requests_total", "Inference requests by model and HTTP status", new CounterConfiguration { LabelNames = ["model", "code"] });
        Latency = f.CreateHistogram("gyre_infer_duration_seconds", "Inference request latency (body read to response written)",
            new HistogramConfiguration { LabelNames = ["model"], Buckets = Histogram.ExponentialBuckets(25e-6, 2, 18) });
        BatchSize = f.CreateHistogram("gyre_batch_size", "Requests per batched model step",
            new HistogramConfiguration { LabelNames = ["model"], Buckets = Histogram.ExponentialBuckets(1, 2, 10) });
        InFlight = f.CreateGauge("gyre_infer_in_flight", "Inference requests being read, waiting or running");
        LiveStreams = f.CreateGauge("gyre_live_streams", "Streams (sequences) held now");
        ExpiredStreams = f.CreateCounter("gyre_expired_streams_total", "Streams dropped after --stream-ttl idle");
    }
}
