using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gyre.Anomaly;
using Gyre.Classification;
using Gyre.Data;
using Gyre.Forecasting;
using Gyre.Serve;
using Gyre.Tests.Cli;
using Gyre.Trajectories;
using Xunit;

namespace Gyre.Tests.Serve;

/// <summary>
/// The inference server end to end on 127.0.0.1: every endpoint, streams of every job whose answers equal the
/// offline model's on the same rows (100 steps for forecast and classify), batching, expiry, the stream cap and limits.
/// </summary>
[Collection("serve")]
public class InferenceServerTests(ServeFixture f)
{
    internal static void AssertClose(float want, float got, string what) =>
        Assert.True(Math.Abs(want - got) <= 1e-5f * Math.Max(1f, Math.Abs(want)), $"{what}: server {got:R}, offline {want:R}");

    internal static (string Date, float Y, float X)[] DailyRows(string path) =>
        [.. File.ReadAllLines(path).Skip(1).Select(l => l.Split(',')).Select(c => (c[0], float.Parse(c[1], CultureInfo.InvariantCulture), float.Parse(c[2], CultureInfo.InvariantCulture)))];

    internal static long Unix(string date) =>
        new DateTimeOffset(DateTime.ParseExact(date, "yyyy-MM-dd", CultureInfo.InvariantCulture), TimeSpan.Zero).ToUnixTimeSeconds();

    [Fact]
    public Task A_forecast_stream_of_100_steps_equals_offline_predict_on_the_same_rows() => StreamOfDailyRowsEqualsOffline("fc", "store-7", 100);

    /// <summary>Sends the daily rows one at a time as stream <paramref name="sequence"/> of <paramref name="model"/> (a
    /// forecaster of y with covariate x and a calendar) and compares each answer with offline Predict on the prefix.</summary>
    private async Task StreamOfDailyRowsEqualsOffline(string model, object sequence, int steps)
    {
        var rows = DailyRows(f.Daily);
        var forecaster = Forecaster.Load(f.Dir[$"{model}.gyre"]);
        int lookback = forecaster.Options.Lookback;
        var lines = File.ReadAllLines(f.Daily);
        for (int t = 0; t < steps; t++)
        {
            var (status, body) = await ServeFixture.Infer(f.Http, model,
                ServeFixture.Body([[rows[t].Y, rows[t].X]], sequence, start: t == 0, times: [Unix(rows[t].Date)]));
            Assert.True(status == 200, body.ToString());
            Assert.Equal("req", body.GetProperty("id").GetString());
            Assert.Equal(sequence.ToString(), body.GetProperty("parameters").GetProperty("sequence_id").ToString());
            if (t + 1 < lookback)
            {
                Assert.Equal(lookback - t - 1, body.GetProperty("parameters").GetProperty("rows_needed").GetInt32());
                Assert.Equal(0, body.GetProperty("outputs").GetArrayLength());
                continue;
            }
            string prefix = f.Dir.Write($"{model}-prefix{t}.csv", string.Join('\n', lines.Take(t + 2)) + "\n");
            var offline = forecaster.Predict(forecaster.LoadData(prefix));
            File.Delete(prefix);
            var served = ServeFixture.Output(body, "forecast");
            Assert.Equal(offline.Rows.Count, served.Length);
            for (int h = 0; h < served.Length; h++) AssertClose(offline.Rows[h].Values[0], served[h], $"row {t}, step {h + 1}");
        }
    }

    [Fact]
    public async Task A_sliding_forecast_stream_of_100_steps_equals_offline_predict_and_a_window_request_too()
    {
        var rows = DailyRows(f.Daily);
        var forecaster = Forecaster.Load(f.Dir["fs.gyre"]);
        int lookback = forecaster.Options.Lookback;
        using (var meta = JsonDocument.Parse(await f.Http.GetStringAsync("v2/models/fs")))
        {
            var parameters = meta.RootElement.GetProperty("parameters");
            Assert.Equal("state", parameters.GetProperty("stream_kind").GetString());
            Assert.Contains("slid one step per row", parameters.GetProperty("stream_state").GetString());
        }
        using (var meta = JsonDocument.Parse(await f.Http.GetStringAsync("v2/models/fc")))
            Assert.Contains("not linear in its state", meta.RootElement.GetProperty("parameters").GetProperty("stream_state").GetString());
        await StreamOfDailyRowsEqualsOffline("fs", 77, lookback + 100);
        var lines = File.ReadAllLines(f.Daily);
        // Without a sequence the rows are a fresh stream's whole window: the same answer as offline on them.
        int end = 60;
        var window = rows.Skip(end - lookback - 3).Take(lookback + 3).ToArray();
        var (ws, wb) = await ServeFixture.Infer(f.Http, "fs", ServeFixture.Body([.. window.Select(r => new[] { r.Y, r.X })], times: [.. window.Select(r => Unix(r.Date))]));
        Assert.True(ws == 200, wb.ToString());
        string last = f.Dir.Write("fs-window.csv", string.Join('\n', lines.Take(end + 1)) + "\n");
        var want = forecaster.Predict(forecaster.LoadData(last));
        File.Delete(last);
        var got = ServeFixture.Output(wb, "forecast");
        for (int h = 0; h < got.Length; h++) AssertClose(want.Rows[h].Values[0], got[h], $"window request, step {h + 1}");
    }

    /// <summary>A stateful forecaster's stream (two GRU layers, one recurrent step per row) answers from its first row,
    /// each answer equal to offline Predict on the stream's rows from its start, over 100 steps; sequence_start starts
    /// it over.</summary>
    [Fact]
    public async Task A_stateful_forecast_stream_of_100_steps_equals_offline_predict_from_the_start_and_restarts()
    {
        var rows = DailyRows(f.Daily);
        var forecaster = Forecaster.Load(f.Dir["fst.gyre"]);
        Assert.True(forecaster.Options.Stateful);
        using (var meta = JsonDocument.Parse(await f.Http.GetStringAsync("v2/models/fst")))
        {
            var parameters = meta.RootElement.GetProperty("parameters");
            Assert.Equal("state", parameters.GetProperty("stream_kind").GetString());
            Assert.Contains("a stateful forecaster", parameters.GetProperty("stream_state").GetString());
        }
        var lines = File.ReadAllLines(f.Daily);
        float[]? first = null;
        for (int t = 0; t < 100; t++)
        {
            var (status, body) = await ServeFixture.Infer(f.Http, "fst", ServeFixture.Body([[rows[t].Y, rows[t].X]], "fst-1", start: t == 0));
            Assert.True(status == 200, body.ToString());
            var served = ServeFixture.Output(body, "forecast");
            first ??= served;
            if (t < 1) continue;            // a file of one row has no time step to date a forecast by
            string prefix = f.Dir.Write($"fst-prefix{t}.csv", string.Join('\n', lines.Take(t + 2)) + "\n");
            var offline = forecaster.Predict(forecaster.LoadData(prefix));
            File.Delete(prefix);
            Assert.Equal(offline.Rows.Count, served.Length);
            for (int h = 0; h < served.Length; h++) AssertClose(offline.Rows[h].Values[0], served[h], $"row {t}, step {h + 1}");
        }
        var (again, restarted) = await ServeFixture.Infer(f.Http, "fst", ServeFixture.Body([[rows[0].Y, rows[0].X]], "fst-1", start: true));
        Assert.True(again == 200, restarted.ToString());
        Assert.Equal(first, ServeFixture.Output(restarted, "forecast"));
    }

    [Fact]
    public async Task A_forecast_stream_with_known_future_covariates_takes_them_as_input_future_and_equals_offline_predict()
    {
        var rows = DailyRows(f.Daily);
        var forecaster = Forecaster.Load(f.Dir["ff.gyre"]);
        int lookback = forecaster.Options.Lookback, n = forecaster.Options.Horizon;
        using (var meta = JsonDocument.Parse(await f.Http.GetStringAsync("v2/models/ff")))
        {
            var future = meta.RootElement.GetProperty("inputs").EnumerateArray().Single(i => i.GetProperty("name").GetString() == "future");
            Assert.Equal(("FP32", $"[{n},1]"), (future.GetProperty("datatype").GetString(), future.GetProperty("shape").GetRawText()));
            Assert.Equal("[-1,2]", meta.RootElement.GetProperty("inputs")[0].GetProperty("shape").GetRawText());
        }
        var lines = File.ReadAllLines(f.Daily);
        for (int t = 0; t < lookback + 40; t++)
        {
            // x holds y and the covariate's value at the row; "future" its next N values.
            var body = JsonNode.Parse(ServeFixture.Body([[rows[t].Y, rows[t].X]], "ff-1", start: t == 0))!;
            body["inputs"]!.AsArray().Add(new JsonObject
            {
                ["name"] = "future", ["datatype"] = "FP32", ["shape"] = new JsonArray(n, 1),
                ["data"] = new JsonArray([.. rows[(t + 1)..(t + 1 + n)].Select(r => (JsonNode)JsonValue.Create(r.X))]),
            });
            var (status, answer) = await ServeFixture.Infer(f.Http, "ff", body.ToJsonString());
            Assert.True(status == 200, answer.ToString());
            if (t + 1 < lookback) continue;
            string prefix = f.Dir.Write($"ff{t}.csv", string.Join('\n', lines.Take(t + 2)) + "\n");
            string next = f.Dir.Write($"ff{t}-future.csv", "date,x\n" + string.Join('\n', lines.Skip(t + 2).Take(n).Select(l => l.Split(',')[0] + "," + l.Split(',')[2])) + "\n");
            var offline = forecaster.Predict(forecaster.LoadData(prefix), forecaster.LoadFutureData(next));
            File.Delete(prefix); File.Delete(next);
            var served = ServeFixture.Output(answer, "forecast");
            Assert.Equal(n, served.Length);
            for (int h = 0; h < n; h++) AssertClose(offline.Rows[h].Values[0], served[h], $"row {t}, step {h + 1}");
        }
        // Without it the request is refused, naming the input and its shape.
        var (missing, error) = await ServeFixture.Infer(f.Http, "ff", ServeFixture.Body([[1f, 2f]], "ff-2", start: true));
        Assert.Equal(400, missing);
        Assert.Contains($"needs input 'future' (FP32 [{n}, 1])", error.GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_forecast_stream_with_instance_norm_patches_and_quantiles_equals_offline_predict()
    {
        var rows = DailyRows(f.Daily);
        var forecaster = Forecaster.Load(f.Dir["fq.gyre"]);
        var lines = File.ReadAllLines(f.Daily);
        for (int t = 0; t < 30; t++)
        {
            // Rows arrive two at a time; the window of the last 12 is re-run.
            if (t % 2 == 0) continue;
            float[][] piece = [[rows[t - 1].Y], [rows[t].Y]];
            var (status, body) = await ServeFixture.Infer(f.Http, "fq", ServeFixture.Body(piece, "fq-1", start: t == 1));
            Assert.True(status == 200, body.ToString());
            if (t + 1 < forecaster.Options.Lookback) continue;
            string prefix = f.Dir.Write($"fq{t}.csv", string.Join('\n', lines.Take(t + 2)) + "\n");
            var offline = forecaster.Predict(forecaster.LoadData(prefix));
            File.Delete(prefix);
            var point = ServeFixture.Output(body, "forecast");
            var quantiles = ServeFixture.Output(body, "quantiles");
            Assert.Equal(offline.Rows.Count * 3, quantiles.Length);
            for (int h = 0; h < point.Length; h++)
            {
                AssertClose(offline.Rows[h].Values[0], point[h], $"row {t}, step {h + 1}");
                for (int q = 0; q < 3; q++) AssertClose(offline.Rows[h].Quantiles[0][q], quantiles[h * 3 + q], $"row {t}, step {h + 1}, quantile {q}");
            }
        }
    }

    internal static SequenceSet Prefix(SequenceSet set, int kase, int rows)
    {
        var c = set.Cases[kase];
        var prefix = new LabeledSequence(c.Id, c.Values[..(rows * set.Channels)], set.Channels, null, double.NaN, 0);
        return new SequenceSet(set.Path, set.Name, set.Channels, LabelKind.Classification, [prefix], null);
    }

    [Fact]
    public async Task Concurrent_classify_streams_step_their_states_and_equal_offline_predict_on_each_prefix()
    {
        var model = (ClassifyModel)f.Server.Models["cs"];
        Assert.Equal("state", model.StreamKind);
        var classifier = SequenceClassifier.Load(f.Dir["cs.gyre"]);
        var test = TsLoader.Load(ServeFixture.Bundled("classification/GunPoint_TEST.ts"));
        double batchesBefore = f.Server.Metrics.BatchSize.WithLabels("cs").Count, requestsBefore = f.Server.Metrics.BatchSize.WithLabels("cs").Sum;
        // Four streams at once (so their steps batch), each sending its case's first 100 observations in pieces of 1 or 2.
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async s =>
        {
            var values = test.Cases[s].Values;
            int sent = 0, piece = 0;
            while (sent < 100)
            {
                int k = Math.Min(1 + (piece++ + s) % 2, 100 - sent);
                float[][] rows = [.. Enumerable.Range(sent, k).Select(r => new[] { values[r] })];
                var (status, body) = await ServeFixture.Infer(f.Http, "cs", ServeFixture.Body(rows, 1000 + s, start: sent == 0, end: sent + k == 100));
                Assert.True(status == 200, body.ToString());
                sent += k;
                SequencePredictions offline;
                lock (classifier) offline = classifier.Predict(Prefix(test, s, sent));   // one model instance: one call at a time
                var probs = ServeFixture.Output(body, "probabilities");
                for (int j = 0; j < probs.Length; j++) AssertClose(offline.Probabilities[j], probs[j], $"stream {s} after {sent} rows, class {j}");
                string label = body.GetProperty("outputs")[1].GetProperty("data")[0].GetString()!;
                Assert.Equal(classifier.Classes[offline.Classes[0]], label);
            }
        }));
        var sizes = f.Server.Metrics.BatchSize.WithLabels("cs");
        Assert.True(sizes.Sum - requestsBefore >= sizes.Count - batchesBefore, "every request is in a batch");
    }

    [Fact]
    public async Task A_classify_model_with_per_case_normalisation_keeps_the_case_and_equals_offline_predict()
    {
        var model = f.Server.Models["cw"];
        Assert.Equal("window", model.StreamKind);
        Assert.Contains("normalisation", model.StreamDescription);
        var classifier = SequenceClassifier.Load(f.Dir["cw.gyre"]);
        var test = TsLoader.Load(ServeFixture.Bundled("classification/GunPoint_TEST.ts"));
        var values = test.Cases[3].Values;
        for (int t = 0; t < 12; t++)
        {
            var (status, body) = await ServeFixture.Infer(f.Http, "cw", ServeFixture.Body([[values[t]]], "case-3", start: t == 0));
            Assert.True(status == 200, body.ToString());
            var offline = classifier.Predict(Prefix(test, 3, t + 1));
            var probs = ServeFixture.Output(body, "probabilities");
            for (int j = 0; j < probs.Length; j++) AssertClose(offline.Probabilities[j], probs[j], $"after {t + 1} rows, class {j}");
        }
        // Without a sequence the request is the whole case.
        var whole = await ServeFixture.Infer(f.Http, "cw", ServeFixture.Body([.. values[..40].Select(v => new[] { v })]));
        var expected = classifier.Predict(Prefix(test, 3, 40)).Probabilities;
        var got = ServeFixture.Output(whole.Body, "probabilities");
        for (int j = 0; j < got.Length; j++) AssertClose(expected[j], got[j], $"whole case, class {j}");
    }

    [Fact]
    public async Task A_detect_stream_scores_each_row_as_offline_scoring_of_the_rows_so_far()
    {
        var rows = DailyRows(f.Daily);
        var detector = DetectorFile.Load(f.Dir["det.gyre"]);
        int warmup = detector.Scorer.Warmup;
        for (int t = 0; t < 60; t++)
        {
            var (status, body) = await ServeFixture.Infer(f.Http, "det", ServeFixture.Body([[rows[t].Y]], 77, start: t == 0));
            Assert.True(status == 200, body.ToString());
            if (t < warmup) { Assert.Equal(warmup + 1 - (t + 1), body.GetProperty("parameters").GetProperty("rows_needed").GetInt32()); continue; }
            var series = new SeriesInput([.. rows.Take(t + 1).Select(r => r.Y)], 1);
            var offline = AnomalyDetection.Apply(detector.Scorer, series, detector.Threshold, detector.Options);
            AssertClose((float)offline.Combined[t], ServeFixture.Output(body, "score")[0], $"row {t}");
            bool alarm = body.GetProperty("outputs")[1].GetProperty("data")[0].GetBoolean();
            Assert.Equal(offline.Combined[t] > detector.Threshold, alarm);
        }
    }

    [Fact]
    public async Task A_detect_stream_with_times_reads_the_phase_of_the_day_as_offline_scoring_does()
    {
        var rows = File.ReadLines(f.Dir["nab.csv"]).Skip(1).Select(l => l.Split(','))
            .Select(c => (Time: DateTime.ParseExact(c[0], "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture), Value: float.Parse(c[1], CultureInfo.InvariantCulture))).ToArray();
        var detector = DetectorFile.Load(f.Dir["det5.gyre"]);
        Assert.True(f.Server.Models["det5"].NeedsTimes);
        int warmup = detector.Scorer.Warmup;
        for (int t = 0; t < 40; t++)
        {
            long unix = new DateTimeOffset(rows[t].Time, TimeSpan.Zero).ToUnixTimeSeconds();
            var (status, body) = await ServeFixture.Infer(f.Http, "det5", ServeFixture.Body([[rows[t].Value]], "nab", start: t == 0, times: [unix]));
            Assert.True(status == 200, body.ToString());
            if (t < warmup) continue;
            var prefix = rows.Take(t + 1).ToArray();
            var series = new SeriesInput([.. prefix.Select(r => r.Value)], 1, SeriesInput.DailyPhase([.. prefix.Select(r => r.Time)]), 2);
            var offline = AnomalyDetection.Apply(detector.Scorer, series, detector.Threshold, detector.Options);
            AssertClose((float)offline.Combined[t], ServeFixture.Output(body, "score")[0], $"row {t}");
        }
    }

    [Fact]
    public async Task A_stop_lets_the_request_in_flight_finish()
    {
        await using var server = await f.Start(new ServeOptions());
        using var http = new HttpClient { BaseAddress = server.Address };
        // A whole case of 90,000 rows without a sequence: parsing and running it takes a while.
        var rng = new Random(3);
        var body = ServeFixture.Body([.. Enumerable.Range(0, 90_000).Select(_ => new[] { (float)rng.NextDouble() })]);
        var request = ServeFixture.Infer(http, "cw", body);
        var waited = Stopwatch.StartNew();
        while (server.Metrics.InFlight.Value == 0 && waited.Elapsed < TimeSpan.FromSeconds(60)) await Task.Delay(1);
        Assert.Equal(1, server.Metrics.InFlight.Value);      // the server has the request (reading or running it)
        var stop = server.StopAsync();
        var (status, answer) = await request;
        await stop;
        Assert.True(status == 200, answer.ToString());
        Assert.Equal(2, ServeFixture.Output(answer, "probabilities").Length);
    }

    [Fact]
    public async Task A_trajectory_stream_predicts_as_offline_predict_on_the_same_window()
    {
        var predictor = TrajectoryPredictor.Load(f.Dir["traj.gyre"]);
        int obs = predictor.Options.Obs, pred = predictor.Options.Pred;
        var windows = TrajectoryWindows.Build(TrackSet.LoadText(ServeFixture.Bundled("students001.txt")), obs, pred);
        var (mean, _) = predictor.Predict(windows);
        foreach (int w in new[] { 0, 17 })
        {
            var sample = windows.Sample(w).ToArray();
            JsonElement last = default;
            for (int t = 0; t < obs; t++)
            {
                var (status, body) = await ServeFixture.Infer(f.Http, "traj", ServeFixture.Body([[sample[2 * t], sample[2 * t + 1]]], $"agent-{w}", start: t == 0));
                Assert.True(status == 200, body.ToString());
                last = body;
            }
            var served = ServeFixture.Output(last, "positions");
            Assert.Equal(pred * 2, served.Length);
            for (int j = 0; j < served.Length; j++) AssertClose(mean[w * pred * 2 + j], served[j], $"window {w}, value {j}");
        }
    }

    [Fact]
    public async Task Health_metadata_openapi_home_page_and_metrics_answer()
    {
        async Task<(HttpStatusCode, string)> Get(string path)
        {
            using var r = await f.Http.GetAsync(path);
            return (r.StatusCode, await r.Content.ReadAsStringAsync());
        }
        Assert.Equal((HttpStatusCode.OK, "{\"live\":true}"), await Get("v2/health/live"));
        Assert.Equal((HttpStatusCode.OK, "{\"ready\":true}"), await Get("v2/health/ready"));
        var (code, server) = await Get("v2");
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Contains("\"sequence\"", server);
        foreach (var (name, job, input, output) in new[] { ("fc", "forecast", "[-1,2]", "forecast"), ("cs", "classify", "[-1,1]", "probabilities"),
            ("det", "detect", "[-1,1]", "score"), ("traj", "trajectory", "[-1,2]", "positions") })
        {
            var (c, meta) = await Get($"v2/models/{name}");
            Assert.Equal(HttpStatusCode.OK, c);
            using var doc = JsonDocument.Parse(meta);
            Assert.Equal(name, doc.RootElement.GetProperty("name").GetString());
            Assert.Equal("gyre_" + job, doc.RootElement.GetProperty("platform").GetString());
            var x = doc.RootElement.GetProperty("inputs")[0];
            Assert.Equal(("x", "FP32", input), (x.GetProperty("name").GetString(), x.GetProperty("datatype").GetString(), x.GetProperty("shape").GetRawText()));
            Assert.Equal(output, doc.RootElement.GetProperty("outputs")[0].GetProperty("name").GetString());
            Assert.Equal((HttpStatusCode.OK, $"{{\"name\":\"{name}\",\"ready\":true}}"), await Get($"v2/models/{name}/ready"));
        }
        using (var fc = JsonDocument.Parse((await Get("v2/models/fc")).Item2))
            Assert.Equal("time", fc.RootElement.GetProperty("inputs")[1].GetProperty("name").GetString());
        var (missing, error) = await Get("v2/models/nope/ready");
        Assert.Equal(HttpStatusCode.NotFound, missing);
        Assert.Contains("no model 'nope'", error);

        var (oc, openapi) = await Get("openapi.json");
        Assert.Equal(HttpStatusCode.OK, oc);
        using (var doc = JsonDocument.Parse(openapi))
        {
            var paths = doc.RootElement.GetProperty("paths");
            foreach (var p in new[] { "/v2/health/live", "/v2/health/ready", "/v2", "/v2/models/{name}", "/v2/models/{name}/ready", "/v2/models/{name}/infer", "/metrics" })
                Assert.True(paths.TryGetProperty(p, out _), $"openapi.json lacks {p}");
            var infer = paths.GetProperty("/v2/models/{name}/infer").GetProperty("post");
            Assert.True(infer.GetProperty("requestBody").GetProperty("content").TryGetProperty("application/json", out _), "the infer body has no schema");
        }
        var (hc, home) = await Get("");
        Assert.Equal(HttpStatusCode.OK, hc);
        foreach (var name in new[] { "fc", "cs", "cw", "det", "traj" }) Assert.Contains($"<h2>{name}</h2>", home);
        Assert.Contains("curl -s http://127.0.0.1:", home);

        await ServeFixture.Infer(f.Http, "cs", ServeFixture.Body([[0.5f]], "metrics-1", start: true, end: true));
        var (mc, metrics) = await Get("metrics");
        Assert.Equal(HttpStatusCode.OK, mc);
        foreach (var m in new[] { "gyre_infer_requests_total{model=\"cs\",code=\"200\"}", "gyre_infer_duration_seconds_bucket{model=\"cs\"", "gyre_batch_size_bucket{model=\"cs\"", "gyre_live_streams" })
            Assert.Contains(m, metrics);
        var (nc, none) = await Get("v3/nothing");
        Assert.Equal(HttpStatusCode.NotFound, nc);
        Assert.Contains("\"error\"", none);
    }

    /// <summary>A clock the test moves by hand.</summary>
    private sealed class ManualClock : TimeProvider
    {
        public long Ticks;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public override long GetTimestamp() => Interlocked.Read(ref Ticks);
    }

    [Fact]
    public async Task Idle_streams_expire_and_the_stream_cap_refuses_new_streams_until_one_ends()
    {
        var clock = new ManualClock();
        await using var server = await f.Start(new ServeOptions { StreamTtl = TimeSpan.FromSeconds(30), MaxStreams = 2 }, clock);
        using var http = new HttpClient { BaseAddress = server.Address };
        Assert.Equal(200, (await ServeFixture.Infer(http, "cs", ServeFixture.Body([[0.1f]], 1, start: true))).Status);
        Assert.Equal(200, (await ServeFixture.Infer(http, "cs", ServeFixture.Body([[0.1f]], 2, start: true))).Status);
        var (full, error) = await ServeFixture.Infer(http, "cs", ServeFixture.Body([[0.1f]], 3, start: true));
        Assert.Equal(503, full);
        Assert.Contains("--max-streams", error.GetProperty("error").GetString());
        Assert.Equal(200, (await ServeFixture.Infer(http, "cs", ServeFixture.Body([[0.2f]], 2, end: true))).Status);
        Assert.Equal(200, (await ServeFixture.Infer(http, "cs", ServeFixture.Body([[0.1f]], 3, start: true))).Status);
        Assert.Equal(2, server.Streams.Count);

        clock.Ticks += TimeSpan.FromSeconds(20).Ticks;
        Assert.Equal(200, (await ServeFixture.Infer(http, "cs", ServeFixture.Body([[0.3f]], 3))).Status);   // used: its idle time starts over
        clock.Ticks += TimeSpan.FromSeconds(20).Ticks;
        var (expired, why) = await ServeFixture.Infer(http, "cs", ServeFixture.Body([[0.1f]], 1));
        Assert.Equal(400, expired);
        Assert.Contains("expired", why.GetProperty("error").GetString());
        Assert.Contains("--stream-ttl", why.GetProperty("error").GetString());
        Assert.Equal(200, (await ServeFixture.Infer(http, "cs", ServeFixture.Body([[0.3f]], 3))).Status);
        // A new stream past the cap first drops the idle ones.
        clock.Ticks += TimeSpan.FromSeconds(31).Ticks;
        Assert.Equal(200, (await ServeFixture.Infer(http, "cs", ServeFixture.Body([[0.1f]], 4, start: true))).Status);
        Assert.Equal(200, (await ServeFixture.Infer(http, "cs", ServeFixture.Body([[0.1f]], 5, start: true))).Status);
        Assert.Equal(2, server.Streams.Count);
        var (never, text) = await ServeFixture.Infer(http, "cs", ServeFixture.Body([[0.1f]], 99));
        Assert.Equal(400, never);
        Assert.Contains("sequence_start", text.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Bodies_and_tensors_over_the_limits_are_refused_with_413()
    {
        await using var server = await f.Start(new ServeOptions { MaxBodyBytes = 4096, MaxElements = 64 });
        using var http = new HttpClient { BaseAddress = server.Address };
        var big = ServeFixture.Body([.. Enumerable.Range(0, 600).Select(i => new[] { i * 0.001f })]);
        var (status, body) = await ServeFixture.Infer(http, "cw", big);
        Assert.Equal(413, status);
        Assert.Contains("--max-body", body.GetProperty("error").GetString());
        // Chunked (no length given): refused while reading.
        using (var chunked = new HttpRequestMessage(HttpMethod.Post, "v2/models/cw/infer") { Content = new PushContent(Encoding.UTF8.GetBytes(big)) })
        using (var r = await http.SendAsync(chunked))
        {
            string text = await r.Content.ReadAsStringAsync();
            Assert.True(413 == (int)r.StatusCode, $"{(int)r.StatusCode}: {text}");
            Assert.Contains("--max-body", text);
        }
        var (many, why) = await ServeFixture.Infer(http, "cw", ServeFixture.Body([.. Enumerable.Range(0, 65).Select(i => new[] { 0.5f })]));
        Assert.Equal(413, many);
        Assert.Contains("--max-elements 64", why.GetProperty("error").GetString());
    }

    /// <summary>Content without a length, so the client sends it chunked.</summary>
    private sealed class PushContent(byte[] bytes) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => stream.WriteAsync(bytes).AsTask();
        protected override bool TryComputeLength(out long length) { length = 0; return false; }
    }
}
