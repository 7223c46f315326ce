using System.Globalization;
using System.Text.Json;
using Gyre.Classification;
using Gyre.Data;
using Gyre.Serve;
using Xunit;

namespace Gyre.Tests.Serve;

/// <summary>
/// Each request of a batch gets its own answer: a request the model refuses (a case over --max-stream-rows, times
/// that do not follow its stream's, a malformed body) gets its 4xx and message, leaves its stream as it was, and the
/// other requests of the batch get the answers they would get without it — for every model kind.
/// </summary>
[Collection("serve")]
public class BatchIsolationTests(ServeFixture f)
{
    private const int MaxRows = 60, Prime = 20, Piece = 2;

    /// <summary>Row t of stream s of a model's test data: x [Width] and its time (Unix seconds) when the model reads
    /// times. Streams start at different rows of the same data.</summary>
    private (float[] X, long Time) Row(ServedModel model, int s, int t)
    {
        switch (model.Name)
        {
            case "cs" or "cw":
                return ([Gun.Cases[s].Values[t]], 0);
            case "det5":
                var (time, value) = Nab[40 * s + t];
                return ([value], new DateTimeOffset(time, TimeSpan.Zero).ToUnixTimeSeconds());
            case "traj":
                return ([s + 0.3f * (1 + s % 3) * t, 0.5f * s + MathF.Sin(0.05f * (s + 1) * t)], 0);
            default:                                                  // the daily forecasters and detector: y (and x)
                var r = Daily[20 * s + t];
                return (model.Width == 2 ? [r.Y, r.X] : [r.Y], InferenceServerTests.Unix(r.Date));
        }
    }

    private SequenceSet Gun => _gun ??= TsLoader.Load(ServeFixture.Bundled("classification/GunPoint_TEST.ts"));
    private SequenceSet? _gun;
    private (string Date, float Y, float X)[] Daily => _daily ??= InferenceServerTests.DailyRows(f.Daily);
    private (string Date, float Y, float X)[]? _daily;
    private (DateTime Time, float Value)[] Nab => _nab ??= [.. File.ReadLines(f.Dir["nab.csv"]).Skip(1).Select(l => l.Split(','))
        .Select(c => (DateTime.ParseExact(c[0], "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture), float.Parse(c[1], CultureInfo.InvariantCulture)))];
    private (DateTime, float)[]? _nab;

    /// <summary>The request body for rows [from, from + count) of stream s (as sequence <paramref name="id"/>), with
    /// the covariate over the horizon after them for a model that reads known-future covariates.</summary>
    private string Body(ServedModel model, int s, int from, int count, string id, bool start = false, int timeShift = 0)
    {
        var rows = Enumerable.Range(from, count).Select(t => Row(model, s, t)).ToArray();
        long[]? times = model.NeedsTimes ? [.. Enumerable.Range(from + timeShift, count).Select(t => Row(model, s, t).Time)] : null;
        float[][]? future = model.FutureInput is { } spec
            ? [.. Enumerable.Range(from + count, spec.Shape[0]).Select(t => new[] { Row(model, s, t).X[1] })] : null;
        return ServeFixture.Body([.. rows.Select(r => r.X)], id, start, times: times, future: future);
    }

    private static void AssertSameOutputs(JsonElement want, JsonElement got, string what)
    {
        var a = want.GetProperty("outputs");
        var b = got.GetProperty("outputs");
        Assert.Equal(a.GetArrayLength(), b.GetArrayLength());
        for (int o = 0; o < a.GetArrayLength(); o++)
        {
            var x = a[o].GetProperty("data").EnumerateArray().ToArray();
            var y = b[o].GetProperty("data").EnumerateArray().ToArray();
            Assert.Equal(x.Length, y.Length);
            for (int j = 0; j < x.Length; j++)
            {
                if (x[j].ValueKind == JsonValueKind.Number) InferenceServerTests.AssertClose(x[j].GetSingle(), y[j].GetSingle(), $"{what} output {o}[{j}]");
                else Assert.Equal(x[j].ToString(), y[j].ToString());
            }
        }
    }

    /// <summary>
    /// For every model: five streams and their twins get the same first rows; then, at once, four streams send their
    /// next rows while the fifth sends a request the model refuses (a case over --max-stream-rows, or rows timed
    /// before its last) and a malformed request arrives. The refused and malformed requests get their 4xx and line,
    /// the four get exactly their twins' answers (each twin sent alone), and the refused stream, untouched, then
    /// answers its next rows as its twin does.
    /// </summary>
    [Theory]
    [InlineData("fc")]
    [InlineData("fq")]
    [InlineData("fs")]
    [InlineData("ff")]
    [InlineData("cs")]
    [InlineData("cw")]
    [InlineData("det")]
    [InlineData("det5")]
    [InlineData("traj")]
    public async Task A_refused_request_of_a_concurrent_batch_fails_alone(string name)
    {
        await using var server = await f.Start(new ServeOptions { MaxStreamRows = MaxRows, MaxBatchDelay = TimeSpan.FromMilliseconds(50) });
        using var http = new HttpClient { BaseAddress = server.Address };
        var model = server.Models[name];
        const int Streams = 5, Bad = 4;
        string Id(int s, bool twin) => $"{(twin ? "twin" : "main")}-{s}";
        foreach (bool twin in new[] { false, true })
            for (int s = 0; s < Streams; s++)
            {
                var (status, body) = await ServeFixture.Infer(http, name, Body(model, s, 0, Prime, Id(s, twin), start: true));
                Assert.True(status == 200, $"{name} priming stream {s}: {body}");
            }
        var alone = new JsonElement[Streams];
        for (int s = 0; s < Streams; s++)
        {
            var (status, body) = await ServeFixture.Infer(http, name, Body(model, s, Prime, Piece, Id(s, true)));
            Assert.True(status == 200, $"{name} twin {s}: {body}");
            alone[s] = body;
        }

        // What the model refuses of the fifth stream: a case past the row limit for window classifiers, rows timed
        // before its last for models that read times; others have no per-request refusal past the request's checks.
        string? refused = name == "cw" ? Body(model, Bad, Prime, MaxRows, Id(Bad, false))
            : model.NeedsTimes ? Body(model, Bad, Prime, Piece, Id(Bad, false), timeShift: -Prime + 1)
            : null;
        var malformed = ServeFixture.Body([[.. Enumerable.Repeat(1f, model.Width + 1)]], "other");
        var requests = Enumerable.Range(0, Bad).Select(s => ServeFixture.Infer(http, name, Body(model, s, Prime, Piece, Id(s, false))))
            .Append(ServeFixture.Infer(http, name, malformed))
            .Concat(refused is null ? [] : [ServeFixture.Infer(http, name, refused)])
            .ToArray();
        var answers = await Task.WhenAll(requests);
        for (int s = 0; s < Bad; s++)
        {
            Assert.True(answers[s].Status == 200, $"{name} stream {s}: {answers[s].Body}");
            AssertSameOutputs(alone[s], answers[s].Body, $"{name} stream {s}");
        }
        Assert.Equal(400, answers[Bad].Status);
        Assert.Contains("must have shape", answers[Bad].Body.GetProperty("error").GetString());
        if (refused is not null)
        {
            var (status, body) = answers[Bad + 1];
            Assert.Equal(name == "cw" ? 413 : 400, status);
            Assert.Contains(name == "cw" ? "--max-stream-rows" : "does not come after the stream's last time", body.GetProperty("error").GetString());
        }

        // The refused request left its stream as it was: its next rows answer as its twin's did.
        var next = await ServeFixture.Infer(http, name, Body(model, Bad, Prime, Piece, Id(Bad, false)));
        Assert.True(next.Status == 200, $"{name} after the refusal: {next.Body}");
        AssertSameOutputs(alone[Bad], next.Body, $"{name} refused stream's next rows");
    }

    /// <summary>One batch, stepped directly: the refused streams get their errors and stay as they were; the others'
    /// answers equal those of the same streams stepped in a batch without the refused ones.</summary>
    [Theory]
    [InlineData("cw")]
    [InlineData("fc")]
    [InlineData("fs")]
    [InlineData("det5")]
    public void A_batch_answers_the_admitted_streams_as_if_the_refused_were_not_there(string name)
    {
        var options = new ServeOptions { MaxStreamRows = MaxRows };
        var batched = ServedModel.Load(name, f.Dir[name + ".gyre"], options);
        var without = ServedModel.Load(name, f.Dir[name + ".gyre"], options);
        const int Streams = 6;
        var a = Enumerable.Range(0, Streams).Select(_ => batched.NewStream()).ToArray();
        var b = Enumerable.Range(0, Streams).Select(_ => without.NewStream()).ToArray();
        Observations Rows(int s, int from, int count, int timeShift = 0)
        {
            var rows = Enumerable.Range(from, count).Select(t => Row(batched, s, t)).ToArray();
            DateTime[]? times = batched.NeedsTimes
                ? [.. Enumerable.Range(from + timeShift, count).Select(t => DateTime.UnixEpoch.AddSeconds(Row(batched, s, t).Time))] : null;
            return new Observations([.. rows.SelectMany(r => r.X)], count, batched.Width, times);
        }
        var prime = Enumerable.Range(0, Streams).Select(s => Rows(s, 0, Prime)).ToArray();
        batched.Run([.. Enumerable.Range(0, Streams).Select(s => (a[s], prime[s]))]);
        without.Run([.. Enumerable.Range(0, Streams).Select(s => (b[s], prime[s]))]);

        bool Refused(int s) => s % 3 == 1;                           // streams 1 and 4
        var inputs = Enumerable.Range(0, Streams).Select(s => Refused(s)
            ? (name == "cw" ? Rows(s, Prime, MaxRows) : Rows(s, Prime, Piece, timeShift: -Prime + 1))
            : Rows(s, Prime, Piece)).ToArray();
        var results = batched.Run([.. Enumerable.Range(0, Streams).Select(s => (a[s], inputs[s]))]);
        var admitted = Enumerable.Range(0, Streams).Where(s => !Refused(s)).ToArray();
        var expected = without.Run([.. admitted.Select(s => (b[s], inputs[s]))]);
        for (int s = 0; s < Streams; s++)
        {
            if (!Refused(s)) continue;
            Assert.NotNull(results[s].Error);
            Assert.Equal(name == "cw" ? 413 : 400, results[s].Error!.Status);
            Assert.Equal(Prime, a[s].Rows);
        }
        for (int j = 0; j < admitted.Length; j++)
        {
            int s = admitted[j];
            Assert.Null(results[s].Error);
            for (int o = 0; o < expected[j].Outputs.Count; o++)
            {
                var want = expected[j].Outputs[o].Values ?? [];
                var got = results[s].Outputs[o].Values ?? [];
                Assert.Equal(want.Length, got.Length);
                for (int q = 0; q < want.Length; q++) InferenceServerTests.AssertClose(want[q], got[q], $"{name} stream {s} output {o}[{q}]");
            }
        }

        // The refused streams go on from where they were.
        var next = Enumerable.Range(0, Streams).Select(s => Rows(s, Refused(s) ? Prime : Prime + Piece, Piece)).ToArray();
        var after = batched.Run([.. Enumerable.Range(0, Streams).Select(s => (a[s], next[s]))]);
        Assert.All(after, r => Assert.Null(r.Error));
        Assert.All(Enumerable.Range(0, Streams), s => Assert.Equal(Prime + Piece + (Refused(s) ? 0 : Piece), a[s].Rows));
    }
}
