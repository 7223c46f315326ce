using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gyre.Serve;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

// Load and cost benchmarks of `gyre serve` (bench/serve-bench.sh runs both). Loopback only, bounded in requests
// and time. Numbers on a shared machine are noisy: compare within one run.
//   load --url http://127.0.0.1:PORT/ --model NAME --streams 1,16,256 --seconds 10 [--max-requests N] [--pid PID]
//   cost --model M.gyre --onnx M.onnx --window L [--reps N]
var opts = new Dictionary<string, string>();
for (int i = 1; i + 1 < args.Length; i += 2) opts[args[i].TrimStart('-')] = args[i + 1];
string Opt(string name, string? fallback = null) => opts.TryGetValue(name, out var v) ? v : fallback ?? throw new ArgumentException($"--{name} is required");
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
return args.FirstOrDefault() switch
{
    "load" => await Load(new Uri(Opt("url")), Opt("model"), [.. Opt("streams", "1,16,256").Split(',').Select(int.Parse)],
        double.Parse(Opt("seconds", "10")), long.Parse(Opt("max-requests", "2000000")), opts.TryGetValue("pid", out var pid) ? int.Parse(pid) : null),
    "cost" => Cost(Opt("model"), Opt("onnx"), int.Parse(Opt("window")), int.Parse(Opt("reps", "400"))),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: load --url http://127.0.0.1:PORT/ --model NAME [--streams 1,16,256] [--seconds 10] [--max-requests N] [--pid PID]");
    Console.Error.WriteLine("       cost --model M.gyre --onnx M.onnx --window L [--reps N]");
    return 2;
}

// ---------------------------------------------------------------------- load

static async Task<int> Load(Uri url, string model, int[] levels, double seconds, long maxRequests, int? pid)
{
    if (!(url.IsLoopback || (IPAddress.TryParse(url.Host, out var ip) && IPAddress.IsLoopback(ip))))
    {
        Console.Error.WriteLine($"load: {url} is not a loopback address; this tool only loads a local server");
        return 2;
    }
    using var meta = new HttpClient { BaseAddress = url };
    var m = JsonNode.Parse(await meta.GetStringAsync($"v2/models/{model}"))!;
    int width = (int)m["inputs"]![0]!["shape"]![1]!;
    bool times = m["inputs"]!.AsArray().Count > 1;
    Console.WriteLine($"| streams | seconds | requests | requests/s | p50 ms | p99 ms | mean batch | max batch bucket | non-4xx errors | 4xx | server RSS MiB |");
    Console.WriteLine($"|---|---|---|---|---|---|---|---|---|---|---|");
    long sequenceBase = Environment.TickCount64 * 1000;
    foreach (int streams in levels)
    {
        var handler = new SocketsHttpHandler { MaxConnectionsPerServer = streams, PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        using var http = new HttpClient(handler) { BaseAddress = url, Timeout = TimeSpan.FromSeconds(30) };
        var before = await Scrape(meta, model);
        var latencies = new List<double>[streams];
        long errors = 0, clientErrors = 0, sent = 0;
        var clock = Stopwatch.StartNew();
        var deadline = TimeSpan.FromSeconds(seconds);
        await Task.WhenAll(Enumerable.Range(0, streams).Select(async s =>
        {
            var lat = latencies[s] = new List<double>(4096);
            long seq = sequenceBase + s;
            for (int t = 0; clock.Elapsed < deadline && Interlocked.Increment(ref sent) <= maxRequests; t++)
            {
                float v = MathF.Sin(0.1f * t + s);
                var row = string.Join(",", Enumerable.Repeat(v.ToString("R", CultureInfo.InvariantCulture), width));
                string time = times ? $",{{\"name\":\"time\",\"shape\":[1],\"datatype\":\"INT64\",\"data\":[{1_600_000_000L + 3600L * t}]}}" : "";
                string body = $"{{\"parameters\":{{\"sequence_id\":{seq},\"sequence_start\":{(t == 0 ? "true" : "false")}}},\"inputs\":[{{\"name\":\"x\",\"shape\":[1,{width}],\"datatype\":\"FP32\",\"data\":[{row}]}}{time}]}}";
                long start = Stopwatch.GetTimestamp();
                try
                {
                    using var r = await http.PostAsync($"v2/models/{model}/infer", new StringContent(body, Encoding.UTF8, "application/json"));
                    await r.Content.ReadAsByteArrayAsync();
                    int code = (int)r.StatusCode;
                    if (code >= 400 && code < 500) Interlocked.Increment(ref clientErrors);
                    else if (code != 200) Interlocked.Increment(ref errors);
                }
                catch (HttpRequestException) { Interlocked.Increment(ref errors); }
                catch (TaskCanceledException) { Interlocked.Increment(ref errors); }
                lat.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
        }));
        double elapsed = clock.Elapsed.TotalSeconds;
        var after = await Scrape(meta, model);
        var all = latencies.SelectMany(l => l).Order().ToArray();
        double p50 = all.Length > 0 ? all[all.Length / 2] : double.NaN, p99 = all.Length > 0 ? all[Math.Min(all.Length - 1, (int)(all.Length * 0.99))] : double.NaN;
        double batches = after.Count - before.Count, batched = after.Sum - before.Sum;
        string rss = pid is { } p ? (Rss(p) / 1024.0).ToString("F0") : "—";
        Console.WriteLine($"| {streams} | {elapsed:F1} | {all.Length} | {all.Length / elapsed:F0} | {p50:F2} | {p99:F2} | {(batches > 0 ? batched / batches : 0):F1} | {LargestBucket(before.Buckets, after.Buckets)} | {errors} | {clientErrors} | {rss} |");
    }
    return 0;
}

/// <summary>gyre_batch_size count, sum and bucket counts of the model from /metrics.</summary>
static async Task<(double Count, double Sum, Dictionary<string, double> Buckets)> Scrape(HttpClient http, string model)
{
    string text = await http.GetStringAsync("metrics");
    double count = 0, sum = 0;
    var buckets = new Dictionary<string, double>();
    foreach (var line in text.Split('\n'))
    {
        if (!line.Contains($"model=\"{model}\"")) continue;
        double value = double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
        if (line.StartsWith("gyre_batch_size_count", StringComparison.Ordinal)) count = value;
        else if (line.StartsWith("gyre_batch_size_sum", StringComparison.Ordinal)) sum = value;
        else if (line.StartsWith("gyre_batch_size_bucket", StringComparison.Ordinal))
            buckets[line[(line.IndexOf("le=\"", StringComparison.Ordinal) + 4)..line.LastIndexOf('"')]] = value;
    }
    return (count, sum, buckets);
}

/// <summary>The smallest bucket bound that holds every batch of the level ("≤ 4").</summary>
static string LargestBucket(Dictionary<string, double> before, Dictionary<string, double> after)
{
    double total = after.GetValueOrDefault("+Inf") - before.GetValueOrDefault("+Inf");
    foreach (var (le, v) in after.Where(kv => kv.Key != "+Inf").OrderBy(kv => double.Parse(kv.Key, CultureInfo.InvariantCulture)))
        if (v - before.GetValueOrDefault(le) >= total) return "≤ " + le;
    return "> " + after.Keys.Where(k => k != "+Inf").Max(k => double.Parse(k, CultureInfo.InvariantCulture));
}

/// <summary>Resident set size in KiB from /proc/PID/status.</summary>
static long Rss(int pid)
{
    foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
    return 0;
}

// ---------------------------------------------------------------------- cost

// Per-request model cost in-process, no HTTP: the served model's step for one stream given one new observation
// (after a window of L rows), against ONNX Runtime re-running the exported model on the whole L-row window.
static int Cost(string modelPath, string onnxPath, int window, int reps)
{
    var served = ServedModel.Load("bench", modelPath, new ServeOptions());
    int width = served.Width;
    var rng = new Random(1);
    float[] Row() => [.. Enumerable.Range(0, width).Select(_ => (float)rng.NextDouble())];
    DateTime[]? Times(int n, int from) => served.NeedsTimes ? [.. Enumerable.Range(from, n).Select(i => new DateTime(2020, 1, 1).AddHours(i))] : null;
    var stream = served.NewStream();
    var first = Enumerable.Range(0, window).SelectMany(_ => Row()).ToArray();
    served.Step([(stream, new Observations(first, window, width, Times(window, 0)))]);
    using var session = new InferenceSession(onnxPath);
    // Every graph input over the window: [1, L] per column (forecasters) or [1, L, F] (sequence models); int64 inputs
    // (a forecaster's clock) get consecutive hours.
    var inputs = new List<NamedOnnxValue>();
    foreach (var (name, meta) in session.InputMetadata)
    {
        int[] dims = meta.Dimensions.Length == 2 ? [1, window] : [1, window, meta.Dimensions[^1]];
        int count = dims.Aggregate(1, (a, d) => a * d);
        inputs.Add(meta.ElementType == typeof(long)
            ? NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(Enumerable.Range(0, count).Select(i => 1_600_000_000L + 3600L * i).ToArray(), dims))
            : NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(Enumerable.Range(0, count).Select(_ => (float)rng.NextDouble()).ToArray(), dims)));
    }
    // Warm-up, a second each (serve-bench.sh runs this mode with DOTNET_TieredCompilation=0, so the managed side is
    // timed in its optimised code, as a long-running server runs it, not in the JIT's first tier).
    int warm = 0;
    for (long t0 = Stopwatch.GetTimestamp(); Stopwatch.GetElapsedTime(t0).TotalSeconds < 1;) session.Run(inputs).Dispose();
    for (long t0 = Stopwatch.GetTimestamp(); Stopwatch.GetElapsedTime(t0).TotalSeconds < 1; warm++)
        served.Step([(stream, new Observations(Row(), 1, width, Times(1, window + warm)))]);

    // Interleaved, one request of each per round, so both see the same load on a shared machine.
    var gyre = new List<double>(reps);
    var ort = new List<double>(reps);
    for (int i = 0; i < reps; i++)
    {
        var obs = new Observations(Row(), 1, width, Times(1, window + warm + i));
        long t0 = Stopwatch.GetTimestamp();
        served.Step([(stream, obs)]);
        gyre.Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
        t0 = Stopwatch.GetTimestamp();
        using (session.Run(inputs)) { }
        ort.Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
    }
    double g = Median(gyre), o = Median(ort);
    Console.WriteLine($"| {Path.GetFileName(modelPath)} | {served.Job} | {served.StreamKind} | {window} | {g:F1} | {o:F1} | {o / g:F1}× |");
    return 0;
}

static double Median(List<double> v)
{
    var s = v.Order().ToArray();
    return s[s.Length / 2];
}
