using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Grpc.Net.Client;
using Gyre.Serve;
using Gyre.Serve.Grpc;
using Gyre.Tests.Cli;
using Xunit;

namespace Gyre.Tests.Serve;

/// <summary>
/// Small models of every job, trained once by the CLI into a temp folder (removed at the end), and a server on
/// 127.0.0.1 port 0 serving them: "fc" (forecast with a past covariate and a weekday calendar, so it takes "time"),
/// "fq" (forecast with instance norm, patches, a recurrent decoder and quantiles), "fs" (forecast on a one-layer minGRU
/// encoder: sliding state streams), "fst" (a stateful two-layer GRU forecaster: one recurrent step per row), "ff" (forecast with a known-future covariate: input "future"), "cs" (classify, global normalisation and mean pooling over patches of 3: stepped streams), "cw" (classify with the
/// default per-case normalisation: window streams), "det" (detect on daily rows), "det5" (detect on five-minute rows:
/// it reads the phase of the day, so it takes "time") and "traj" (trajectory). The server answers gRPC too, on a second
/// free port (<see cref="Grpc"/>). One fixture for every class of the "serve" collection: the models are trained once.
/// </summary>
public sealed class ServeFixture : IAsyncLifetime
{
    public CliFolder Dir { get; } = new();
    public InferenceServer Server { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;
    public GrpcChannel Channel { get; private set; } = null!;
    /// <summary>A client of the server's gRPC service.</summary>
    public GRPCInferenceService.GRPCInferenceServiceClient Grpc { get; private set; } = null!;
    public string Daily => Dir["daily.csv"];
    public static string Bundled(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "Data", name);

    public async Task InitializeAsync()
    {
        Dir.Daily("daily.csv", 240);
        Dir.Ok("forecast", "train", "--data", Daily, "--target", "y", "--features", "x", "--calendar", "dow", "--lookback", "14", "--horizon", "7",
            "--hidden", "8", "--epochs", "1", "--out", Dir["fc.gyre"]);
        Dir.Ok("forecast", "train", "--data", Daily, "--target", "y", "--instance-norm", "--patch", "2", "--decoder", "recurrent", "--loss", "quantile",
            "--quantiles", "0.1,0.5,0.9", "--lookback", "12", "--horizon", "5", "--hidden", "8", "--epochs", "1", "--out", Dir["fq.gyre"]);
        // One-layer minGRU, no window norm: its streams slide the encoder state (patches of 2, so two phase windows).
        Dir.Ok("forecast", "train", "--data", Daily, "--target", "y", "--features", "x", "--calendar", "dow", "--cell", "mingru", "--norm", "none", "--patch", "2",
            "--lookback", "14", "--horizon", "7", "--hidden", "8", "--epochs", "1", "--out", Dir["fs.gyre"]);
        // A stateful forecaster: two GRU layers over the whole stream, one recurrent step per row.
        Dir.Ok("forecast", "train", "--data", Daily, "--target", "y", "--features", "x", "--stateful", "--layers", "2",
            "--lookback", "14", "--horizon", "7", "--hidden", "8", "--epochs", "1", "--out", Dir["fst.gyre"]);
        // Known-future covariate x (its value over the horizon comes as input "future"), sliding streams.
        Dir.Ok("forecast", "train", "--data", Daily, "--target", "y", "--future-features", "x", "--cell", "minlstm", "--norm", "none",
            "--lookback", "14", "--horizon", "5", "--hidden", "8", "--epochs", "1", "--out", Dir["ff.gyre"]);
        string gun = Bundled("classification/GunPoint_TRAIN.ts");
        Dir.Ok("classify", "train", "--data", gun, "--hidden", "8", "--epochs", "1", "--augment", "0", "--test-augment", "0",
            "--normalize", "global", "--pool", "mean", "--patch", "3", "--out", Dir["cs.gyre"]);
        Dir.Ok("classify", "train", "--data", gun, "--hidden", "8", "--epochs", "1", "--augment", "0", "--out", Dir["cw.gyre"]);
        Dir.Ok("detect", "train", "--data", Daily, "--target", "y", "--window", "12", "--hidden", "8", "--epochs", "1", "--train-fraction", "0.4",
            "--out", Dir["det.gyre"]);
        // Five-minute rows: the scorer reads the phase of the day, so the served model takes "time".
        Dir.Write("nab.csv", string.Join('\n', File.ReadLines(Bundled("art_daily_jumpsup.csv")).Take(701)) + "\n");
        Dir.Ok("detect", "train", "--data", Dir["nab.csv"], "--target", "value", "--window", "12", "--hidden", "8", "--epochs", "1",
            "--train-fraction", "0.5", "--out", Dir["det5.gyre"]);
        Dir.Ok("trajectory", "train", "--data", Bundled("students001.txt"), "--hidden", "8", "--epochs", "1", "--out", Dir["traj.gyre"]);
        Server = await Start(new ServeOptions { MaxBatchDelay = TimeSpan.FromMilliseconds(2), GrpcPort = 0 });
        Http = new HttpClient { BaseAddress = Server.Address };
        Channel = GrpcChannel.ForAddress(Server.GrpcAddress!);
        Grpc = new GRPCInferenceService.GRPCInferenceServiceClient(Channel);
    }

    /// <summary>A server of every model with <paramref name="options"/> (models and port set here).</summary>
    public Task<InferenceServer> Start(ServeOptions options, TimeProvider? clock = null) =>
        InferenceServer.StartAsync(options with
        {
            Host = "127.0.0.1", Port = 0,
            Models = [("fc", Dir["fc.gyre"]), ("fq", Dir["fq.gyre"]), ("fs", Dir["fs.gyre"]), ("fst", Dir["fst.gyre"]), ("ff", Dir["ff.gyre"]), ("cs", Dir["cs.gyre"]), ("cw", Dir["cw.gyre"]), ("det", Dir["det.gyre"]), ("det5", Dir["det5.gyre"]),
                ("traj", Dir["traj.gyre"])],
        }, clock: clock);

    public async Task DisposeAsync()
    {
        Http?.Dispose();
        Channel?.Dispose();
        if (Server != null) await Server.DisposeAsync();
        Dir.Dispose();
    }

    /// <summary>An infer request body: rows of x (and times, and input "future" [N, Fu]), sequence parameters when
    /// <paramref name="sequence"/> is given.</summary>
    public static string Body(float[][] rows, object? sequence = null, bool start = false, bool end = false, long[]? times = null, float[][]? future = null)
    {
        var inputs = new JsonArray
        {
            new JsonObject
            {
                ["name"] = "x", ["datatype"] = "FP32", ["shape"] = new JsonArray(rows.Length, rows[0].Length),
                ["data"] = new JsonArray([.. rows.Select(r => (JsonNode)new JsonArray([.. r.Select(v => (JsonNode)JsonValue.Create(v))]))]),
            },
        };
        if (times != null)
            inputs.Add(new JsonObject { ["name"] = "time", ["datatype"] = "INT64", ["shape"] = new JsonArray(times.Length), ["data"] = new JsonArray([.. times.Select(t => (JsonNode)JsonValue.Create(t))]) });
        if (future != null)
            inputs.Add(new JsonObject
            {
                ["name"] = "future", ["datatype"] = "FP32", ["shape"] = new JsonArray(future.Length, future[0].Length),
                ["data"] = new JsonArray([.. future.SelectMany(r => r).Select(v => (JsonNode)JsonValue.Create(v))]),
            });
        var body = new JsonObject { ["id"] = "req", ["inputs"] = inputs };
        if (sequence != null)
            body["parameters"] = new JsonObject { ["sequence_id"] = JsonValue.Create(sequence), ["sequence_start"] = start, ["sequence_end"] = end };
        return body.ToJsonString();
    }

    /// <summary>POSTs to /v2/models/{model}/infer; returns the status and the parsed JSON body.</summary>
    public static async Task<(int Status, JsonElement Body)> Infer(HttpClient http, string model, string body)
    {
        using var response = await http.PostAsync($"v2/models/{model}/infer", new StringContent(body, Encoding.UTF8, "application/json"));
        string text = await response.Content.ReadAsStringAsync();
        using var doc = JsonDocument.Parse(text);
        return ((int)response.StatusCode, doc.RootElement.Clone());
    }

    /// <summary>The FP32 data of output <paramref name="name"/>.</summary>
    public static float[] Output(JsonElement response, string name)
    {
        foreach (var o in response.GetProperty("outputs").EnumerateArray())
            if (o.GetProperty("name").GetString() == name) return [.. o.GetProperty("data").EnumerateArray().Select(v => v.GetSingle())];
        throw new Xunit.Sdk.XunitException($"no output '{name}' in {response}");
    }
}

/// <summary>The server tests share one <see cref="ServeFixture"/> (and run one class at a time).</summary>
[CollectionDefinition("serve")]
public sealed class ServeCollection : ICollectionFixture<ServeFixture>;
