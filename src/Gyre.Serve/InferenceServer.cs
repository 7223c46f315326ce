using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Gyre.Data;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace Gyre.Serve;

/// <summary>
/// `gyre serve`: Gyre models behind the Open Inference Protocol v2 (HTTP/REST, KServe / Triton) on Kestrel, with
/// per-stream recurrent state (Triton's sequence_id / sequence_start / sequence_end), dynamic batching, an OpenAPI
/// document (/openapi.json), a page listing the models (/), Prometheus metrics (/metrics) and a graceful stop
/// (requests in flight finish). With <see cref="ServeOptions.GrpcPort"/> the protocol's gRPC service
/// (<see cref="GrpcInferenceService"/>) answers on a second port through the same inference path (<see cref="RunAsync"/>).
/// </summary>
public sealed class InferenceServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Dictionary<string, ServedModel> _models;
    private readonly Dictionary<string, Batcher> _batchers;
    private readonly Timer _sweeper;

    public ServeOptions Options { get; }
    public ServerMetrics Metrics { get; }
    public StreamTable Streams { get; }
    public IReadOnlyDictionary<string, ServedModel> Models => _models;
    /// <summary>The address the server listens on (the port chosen when 0 was asked).</summary>
    public Uri Address { get; private set; } = null!;
    /// <summary>The address of the gRPC service (h2c), null when it is off.</summary>
    public Uri? GrpcAddress { get; private set; }
    /// <summary>True once the host is stopping: readiness answers false.</summary>
    public bool Stopping => _app.Lifetime.ApplicationStopping.IsCancellationRequested;

    private InferenceServer(ServeOptions options, WebApplication app, Dictionary<string, ServedModel> models, ServerMetrics metrics, TimeProvider clock, Action<string> log)
    {
        Options = options; _app = app; _models = models; Metrics = metrics;
        Streams = new StreamTable(options, metrics, clock);
        _batchers = models.ToDictionary(kv => kv.Key, kv => new Batcher(kv.Value, options, metrics, log));
        var period = TimeSpan.FromTicks(Math.Clamp(options.StreamTtl.Ticks / 4, TimeSpan.TicksPerMillisecond * 50, TimeSpan.TicksPerSecond * 10));
        _sweeper = new Timer(_ => Streams.SweepExpired(), null, period, period);
    }

    /// <summary>
    /// Loads every model (a bad model file is one <see cref="GyreDataException"/> naming it, before anything listens),
    /// then starts listening. <paramref name="log"/> gets the server's own lines (start, stop, internal errors).
    /// </summary>
    public static async Task<InferenceServer> StartAsync(ServeOptions options, Action<string>? log = null, TimeProvider? clock = null)
    {
        options.Validate();
        log ??= _ => { };
        var models = new Dictionary<string, ServedModel>(StringComparer.Ordinal);
        foreach (var (name, path) in options.Models) models[name] = ServedModel.Load(name, path, options);
        if (!IPAddress.TryParse(options.Host, out var ip) && options.Host != "localhost")
            throw new ArgumentException($"--host '{options.Host}' is not an IP address (or localhost)");

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        // The gRPC service is made on its first call, after the server exists; its messages are capped like REST bodies.
        InferenceServer? self = null;
        builder.Services.AddGrpc(g => { g.MaxReceiveMessageSize = (int)Math.Min(options.MaxBodyBytes, int.MaxValue); g.EnableDetailedErrors = false; });
        builder.Services.AddSingleton(_ => new GrpcInferenceService(self!));
        builder.Services.AddSingleton<global::Grpc.AspNetCore.Server.Model.IServiceMethodProvider<GrpcInferenceService>, GrpcMethods>();
        // Server reflection (v1 and v1alpha), so tools such as grpcurl list and call the service without the proto. Its
        // discovery finds services through their generated base class; GrpcMethods binds the service by hand, so the
        // descriptors are given here (registered after AddGrpcReflection's own, which they replace).
        builder.Services.AddGrpcReflection();
        global::Google.Protobuf.Reflection.ServiceDescriptor[] reflected =
            [Grpc.GRPCInferenceService.Descriptor, global::Grpc.Reflection.V1.ServerReflection.Descriptor, global::Grpc.Reflection.V1Alpha.ServerReflection.Descriptor];
        builder.Services.AddSingleton(new global::Grpc.Reflection.ReflectionServiceImpl(reflected));
        builder.Services.AddSingleton(new global::Grpc.Reflection.ReflectionV1ServiceImpl(reflected));
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = options.ShutdownTimeout);
        builder.Services.AddOpenApi(o =>
        {
            o.AddDocumentTransformer((doc, _, _) =>
            {
                doc.Info.Title = "Gyre inference server";
                doc.Info.Description = "Open Inference Protocol v2 (REST) with per-stream recurrent state: models " + string.Join(", ", models.Keys);
                return Task.CompletedTask;
            });
            // The infer body is read by hand (any content type, refusals in the protocol's words), so its schema is added here.
            o.AddOperationTransformer(async (op, context, cancel) =>
            {
                if (context.Description.RelativePath?.EndsWith("/infer", StringComparison.Ordinal) != true) return;
                var schema = await context.GetOrCreateSchemaAsync(typeof(InferRequestDoc), null, cancel);
                op.RequestBody = new Microsoft.OpenApi.OpenApiRequestBody
                {
                    Required = true,
                    Content = new Dictionary<string, Microsoft.OpenApi.OpenApiMediaType> { ["application/json"] = new() { Schema = schema } },
                };
            });
        });
        ListenOptions? grpcListen = null;
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = 2 * options.MaxBodyBytes + (1 << 20);   // see ReadBody
            k.AddServerHeader = false;
            if (ip is null) k.ListenLocalhost(options.Port); else k.Listen(ip, options.Port);
            // gRPC needs HTTP/2; without TLS there is no protocol negotiation, so this port speaks HTTP/2 only (h2c).
            if (options.GrpcPort is int g)
            {
                void H2(ListenOptions o) { o.Protocols = HttpProtocols.Http2; grpcListen = o; }
                if (ip is null) k.ListenLocalhost(g, H2); else k.Listen(ip, g, H2);
            }
        });
        var app = builder.Build();
        var metrics = new ServerMetrics();
        var server = new InferenceServer(options, app, models, metrics, clock ?? TimeProvider.System, log);
        self = server;
        server.Map(app);
        await app.StartAsync();
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        string? grpcAddress = grpcListen is { IPEndPoint: { } bound } ? addresses.FirstOrDefault(a => a.EndsWith($":{bound.Port}", StringComparison.Ordinal)) : null;
        server.Address = new Uri(addresses.First(a => a != grpcAddress).Replace("[::]", "127.0.0.1"));
        if (grpcAddress != null) server.GrpcAddress = new Uri(grpcAddress.Replace("[::]", "127.0.0.1"));
        log($"gyre serve: listening on {server.Address}{(server.GrpcAddress is { } ga ? $" (gRPC on {ga})" : "")} ({string.Join(", ", models.Values.Select(m => $"{m.Name}: {m.Job}, {m.StreamKind} streams"))})");
        return server;
    }

    /// <summary>Completes when the host stops (SIGTERM, Ctrl-C or <see cref="StopAsync"/>).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancel = default) => _app.WaitForShutdownAsync(cancel);

    /// <summary>Stops listening, lets requests in flight finish (up to <see cref="ServeOptions.ShutdownTimeout"/>), then stops the batching loops.</summary>
    public async Task StopAsync()
    {
        await _app.StopAsync();
        foreach (var b in _batchers.Values) await b.DisposeAsync();
        await _sweeper.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _app.DisposeAsync();
    }

    // ------------------------------------------------------------------ endpoints

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,   // readable text; never embedded in HTML
    };

    private void Map(WebApplication app)
    {
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        // A refusal from any endpoint (an unknown model) keeps the protocol's error shape.
        app.Use(async (ctx, next) =>
        {
            try { await next(ctx); }
            catch (ServeException e) when (!ctx.Response.HasStarted)
            {
                ctx.Response.Clear();
                ctx.Response.StatusCode = e.Status;
                await ctx.Response.WriteAsJsonAsync(new ErrorBody(e.Message));
            }
        });
        app.MapGet("/v2/health/live", () => Results.Json(new { live = true }))
            .WithSummary("Liveness: the process answers");
        app.MapGet("/v2/health/ready", () => lifetime.ApplicationStopping.IsCancellationRequested
                ? Results.Json(new { ready = false }, statusCode: 503) : Results.Json(new { ready = true }))
            .WithSummary("Readiness: every model is loaded and the server is not stopping");
        app.MapGet("/v2", () => Results.Json(Identity))
            .WithSummary("Server metadata").Produces<ServerMetadata>();
        app.MapGet("/v2/models/{name}", (string name) => Results.Json(Metadata(Model(name)), Json))
            .WithSummary("Model metadata: inputs and outputs with name, datatype and shape (−1: any length); how streams are kept")
            .Produces<ModelMetadata>().Produces<ErrorBody>(404);
        app.MapGet("/v2/models/{name}/ready", (string name) => Results.Json(new { name = Model(name).Name, ready = !lifetime.ApplicationStopping.IsCancellationRequested }))
            .WithSummary("Model readiness").Produces<ErrorBody>(404);
        app.MapPost("/v2/models/{name}/infer", (string name, HttpContext ctx) => Infer(name, ctx))
            .WithSummary("Inference: the observations of one stream (parameters.sequence_id) or a whole window")
            .Produces<InferResponseDoc>().Produces<ErrorBody>(400).Produces<ErrorBody>(404)
            .Produces<ErrorBody>(413).Produces<ErrorBody>(503);
        app.MapGet("/metrics", async (HttpContext ctx, CancellationToken cancel) =>
        {
            ctx.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await Metrics.Registry.CollectAndExportAsTextAsync(ctx.Response.Body, cancel);
        }).WithSummary("Prometheus metrics: requests, latency, batch sizes, live streams");
        app.MapOpenApi("/openapi.json");
        if (Options.GrpcPort is not null)
        {
            app.MapGrpcService<GrpcInferenceService>();
            app.MapGrpcReflectionService();
        }
        app.MapGet("/", () => Results.Content(HomePage(), "text/html; charset=utf-8")).ExcludeFromDescription();
        app.MapFallback((HttpContext ctx) => Results.Json(new ErrorBody($"no endpoint {ctx.Request.Method} {ctx.Request.Path} (see /openapi.json)"), statusCode: 404))
            .ExcludeFromDescription();
        // Errors from the framework itself (a body over the limit, a malformed request line) keep the protocol's shape.
        app.UseStatusCodePages(async context =>
        {
            var r = context.HttpContext.Response;
            if (r.HasStarted || r.ContentLength > 0) return;
            r.ContentType = "application/json";
            await r.WriteAsync(JsonSerializer.Serialize(new ErrorBody($"HTTP {r.StatusCode}")));
        });
    }

    /// <summary>The server's name, version and protocol extensions (/v2 and the gRPC ServerMetadata).</summary>
    internal static readonly ServerMetadata Identity =
        new("gyre", typeof(InferenceServer).Assembly.GetName().Version?.ToString(3) ?? "0", ["sequence", "model_repository_readonly"]);

    internal ServedModel Model(string name) =>
        _models.TryGetValue(name, out var m) ? m : throw new ServeException(404, $"no model '{name}' (models: {string.Join(", ", _models.Keys)})");

    internal static ModelMetadata Metadata(ServedModel m) => new(m.Name, ["1"], "gyre_" + m.Job,
        [.. m.Inputs.Select(i => new TensorMetadata(i.Name, i.Datatype, i.Shape))],
        [.. m.Outputs.Select(o => new TensorMetadata(o.Name, o.Datatype, o.Shape))],
        new Dictionary<string, string> { ["job"] = m.Job, ["stream_kind"] = m.StreamKind, ["stream_state"] = m.StreamDescription, ["path"] = Path.GetFileName(m.Path) });

    private async Task<IResult> Infer(string name, HttpContext ctx)
    {
        try
        {
            var (model, request, result) = await RunAsync(name, async m => InferRequest.Parse(await ReadBody(ctx), m, Options), ctx.RequestAborted);
            return Results.Text(Response(model, request, result), "application/json", Encoding.UTF8);
        }
        catch (ServeException e) { return Results.Json(new ErrorBody(e.Message), statusCode: e.Status); }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested) { return Results.Empty; }
    }

    /// <summary>
    /// The one inference path of both transports: reads and checks the request (<paramref name="read"/>, given the
    /// model), takes the stream (or a fresh state without a sequence), runs it through the model's batcher and counts it
    /// in the metrics. Every refusal is a <see cref="ServeException"/> (data errors become 400s); a cancelled request
    /// throws <see cref="OperationCanceledException"/>; anything else is the server's own fault.
    /// </summary>
    internal async Task<(ServedModel Model, InferRequest Request, StepResult Result)> RunAsync(string name, Func<ServedModel, Task<InferRequest>> read, CancellationToken cancel)
    {
        long started = Stopwatch.GetTimestamp();
        string label = _models.ContainsKey(name) ? name : "(unknown)";
        int status = 200;
        Metrics.InFlight.Inc();
        try
        {
            var model = Model(name);
            var batcher = _batchers[model.Name];
            StepResult result;
            InferRequest request;
            batcher.Announce();
            bool submitted = false;
            try
            {
                request = await read(model);
                if (request.SequenceId is null)
                {
                    submitted = true;
                    result = await batcher.Submit(model.NewStream(), request.Input);
                    if (result.Error is null && result.RowsNeeded > 0)
                        throw new ServeException(400, $"model '{model.Name}' needs at least {request.Input.Rows + result.RowsNeeded} rows of 'x' without a sequence, got {request.Input.Rows}");
                }
                else
                {
                    var entry = await Streams.AcquireAsync(model, request.SequenceId, request.Start, cancel);
                    bool end = request.End;
                    try { submitted = true; result = await batcher.Submit(entry.State, request.Input); }
                    catch { end = true; throw; }             // a failed step may have left the state half-advanced: drop it
                    finally { Streams.Release(model, request.SequenceId, entry, end); }
                }
            }
            finally { if (!submitted) batcher.Withdraw(); }
            if (result.Error is { } error) throw error;
            return (model, request, result);
        }
        catch (ServeException e) { status = e.Status; throw; }
        catch (GyreDataException e) { status = 400; throw new ServeException(400, e.Message); }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException e) { status = e.StatusCode; throw new ServeException(e.StatusCode, e.Message); }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested) { status = 499; throw; }
        finally
        {
            Metrics.InFlight.Dec();
            Metrics.Requests.WithLabels(label, status.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();
            Metrics.Latency.WithLabels(label).Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
    }

    /// <summary>
    /// The body, refused with 413 beyond --max-body. A body up to twice the limit (plus 1 MiB; Kestrel's own limit) is
    /// read to its end first, so that the client, still sending, reads the answer instead of a reset connection.
    /// </summary>
    private async Task<ReadOnlyMemory<byte>> ReadBody(HttpContext ctx)
    {
        long max = Options.MaxBodyBytes;
        bool over = ctx.Request.ContentLength > max;
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int n;
        try
        {
            while ((n = await ctx.Request.Body.ReadAsync(chunk, ctx.RequestAborted)) > 0)
            {
                if (over || buffer.Length + n > max) { over = true; continue; }
                buffer.Write(chunk, 0, n);
            }
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException e) when (e.StatusCode == 413) { over = true; }
        if (over)
        {
            ctx.Response.Headers.Connection = "close";
            throw new ServeException(413, ctx.Request.ContentLength is { } length
                ? $"the request body has {length} bytes, more than --max-body {max}"
                : $"the request body exceeds --max-body {max} bytes");
        }
        if (buffer.Length == 0) throw new ServeException(400, "the request body is empty (expected the inference request JSON)");
        return buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
    }

    private static string Response(ServedModel model, InferRequest request, StepResult result)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteString("model_name", model.Name);
            w.WriteString("model_version", "1");
            if (request.Id is not null) w.WriteString("id", request.Id);
            w.WriteStartObject("parameters");
            if (request.SequenceIdJson is { } sid) { w.WritePropertyName("sequence_id"); sid.WriteTo(w); }
            if (request.Start) w.WriteBoolean("sequence_start", true);
            if (request.End) w.WriteBoolean("sequence_end", true);
            if (result.RowsNeeded > 0) w.WriteNumber("rows_needed", result.RowsNeeded);
            w.WriteEndObject();
            w.WriteStartArray("outputs");
            foreach (var o in result.Outputs)
            {
                if (request.Outputs is { } wanted && !wanted.Contains(o.Name)) continue;
                w.WriteStartObject();
                w.WriteString("name", o.Name);
                w.WriteString("datatype", o.Datatype);
                w.WriteStartArray("shape");
                foreach (int d in o.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data");
                if (o.Values is { } v) foreach (float f in v) w.WriteNumberValue(f);
                if (o.Strings is { } s) foreach (string t in s) w.WriteStringValue(t);
                if (o.Flags is { } b) foreach (bool x in b) w.WriteBooleanValue(x);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.GetBuffer(), 0, (int)ms.Length);
    }

    // ------------------------------------------------------------------ the page at /

    private string HomePage()
    {
        var sb = new StringBuilder();
        sb.Append("<!doctype html><html><head><meta charset=\"utf-8\"><title>Gyre inference server</title>")
          .Append("<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}pre{background:#f4f4f4;padding:1em;overflow-x:auto}td,th{padding:.2em .8em;text-align:left}</style></head><body>")
          .Append("<h1>Gyre inference server</h1><p>Open Inference Protocol v2 over HTTP/REST. Endpoints: <code>/v2</code>, <code>/v2/health/live</code>, ")
          .Append("<code>/v2/health/ready</code>, <code>/v2/models/{name}</code>, <code>/v2/models/{name}/ready</code>, <code>POST /v2/models/{name}/infer</code>, ")
          .Append("<a href=\"/openapi.json\">/openapi.json</a>, <a href=\"/metrics\">/metrics</a>.</p>")
          .Append("<p>Streams: send <code>parameters.sequence_id</code>, <code>sequence_start: true</code> on a stream's first request and ")
          .Append("<code>sequence_end: true</code> on its last; each request brings the stream's new rows.</p>");
        foreach (var m in _models.Values)
        {
            string inputs = string.Join(", ", m.Inputs.Select(i => $"{i.Name} {i.Datatype} {InferRequest.ShapeText(i.Shape)}"));
            string outputs = string.Join(", ", m.Outputs.Select(o => $"{o.Name} {o.Datatype} {InferRequest.ShapeText(o.Shape)}"));
            sb.Append($"<h2>{WebUtility.HtmlEncode(m.Name)}</h2><table><tr><th>job</th><td>{m.Job}</td></tr>")
              .Append($"<tr><th>inputs</th><td>{WebUtility.HtmlEncode(inputs)}</td></tr><tr><th>outputs</th><td>{WebUtility.HtmlEncode(outputs)}</td></tr>")
              .Append($"<tr><th>streams</th><td>{m.StreamKind}: {WebUtility.HtmlEncode(m.StreamDescription)}</td></tr></table>")
              .Append("<pre>").Append(WebUtility.HtmlEncode(SampleRequest(m))).Append("</pre>");
        }
        return sb.Append("</body></html>").ToString();
    }

    /// <summary>A curl command sending one observation row to a new stream of <paramref name="m"/>.</summary>
    public string SampleRequest(ServedModel m)
    {
        string row = string.Join(", ", Enumerable.Repeat("0.5", m.Width));
        string time = m.NeedsTimes ? $", {{\"name\": \"time\", \"shape\": [1], \"datatype\": \"INT64\", \"data\": [{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}]}}" : "";
        return $"curl -s {Address}v2/models/{m.Name}/infer -H 'Content-Type: application/json' -d '{{\"id\": \"1\", "
            + $"\"parameters\": {{\"sequence_id\": 42, \"sequence_start\": true}}, "
            + $"\"inputs\": [{{\"name\": \"x\", \"shape\": [1, {m.Width}], \"datatype\": \"FP32\", \"data\": [[{row}]]}}{time}]}}'";
    }
}

// Shapes of the JSON documents, for the OpenAPI description.

/// <summary>Every error: one line naming what was wrong.</summary>
public sealed record ErrorBody(string Error);

public sealed record ServerMetadata(string Name, string Version, string[] Extensions);

public sealed record TensorMetadata(string Name, string Datatype, int[] Shape);

public sealed record ModelMetadata(string Name, string[] Versions, string Platform, TensorMetadata[] Inputs, TensorMetadata[] Outputs,
    Dictionary<string, string> Parameters);

public sealed record InferTensorDoc(string Name, int[] Shape, string Datatype, float[] Data);

public sealed record InferOutputRequestDoc(string Name);

public sealed record InferParametersDoc(ulong? SequenceId, bool? SequenceStart, bool? SequenceEnd);

public sealed record InferRequestDoc(string? Id, InferTensorDoc[] Inputs, InferOutputRequestDoc[]? Outputs, InferParametersDoc? Parameters);

public sealed record InferResponseDoc(string ModelName, string ModelVersion, string? Id, Dictionary<string, object> Parameters, InferTensorDoc[] Outputs);
