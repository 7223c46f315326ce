using Gyre.Data;
using Gyre.Serve;
using Xunit;

namespace Gyre.Tests.Serve;

/// <summary>A batched step answers every stream as a step of that stream alone would, whatever the batch's mix of
/// streams, piece lengths and unfinished patches.</summary>
[Collection("serve")]
public class BatchedStepTests(ServeFixture f)
{
    [Theory]
    [InlineData("cs")]
    [InlineData("cw")]
    public void A_batch_equals_each_stream_stepped_alone(string name)
    {
        var batched = ServedModel.Load(name, f.Dir[name + ".gyre"], new ServeOptions());
        var alone = ServedModel.Load(name, f.Dir[name + ".gyre"], new ServeOptions());
        var test = TsLoader.Load(ServeFixture.Bundled("classification/GunPoint_TEST.ts"));
        const int Streams = 5;
        var a = Enumerable.Range(0, Streams).Select(_ => batched.NewStream()).ToArray();
        var b = Enumerable.Range(0, Streams).Select(_ => alone.NewStream()).ToArray();
        int[] sent = new int[Streams];
        for (int round = 0; round < 8; round++)
        {
            var inputs = new List<(StreamState, Observations)>();
            var single = new StepResult[Streams];
            for (int s = 0; s < Streams; s++)
            {
                int k = 1 + (round * 3 + s) % 4;
                var obs = new Observations(test.Cases[s].Values[sent[s]..(sent[s] + k)], k, 1, null);
                sent[s] += k;
                inputs.Add((a[s], obs));
                single[s] = alone.Step([(b[s], obs)])[0];
            }
            var results = batched.Step(inputs);
            for (int s = 0; s < Streams; s++)
            {
                var want = single[s].Outputs[0].Values!;
                var got = results[s].Outputs[0].Values!;
                for (int j = 0; j < want.Length; j++)
                    Assert.True(Math.Abs(want[j] - got[j]) <= 1e-6f, $"{name} round {round} stream {s} output {j}: batched {got[j]}, alone {want[j]}");
            }
        }
    }

    /// <summary>A classifier whose encoder ends in gated memory units steps its streams (the units read only their own
    /// step's outputs and memory, so the recurrent states are all a stream keeps), whichever layer the units read as
    /// memory and whatever the pooling; every answer of a batch of streams fed in uneven pieces (unfinished patches
    /// included) equals offline Predict on the stream's case so far.</summary>
    [Theory]
    [InlineData("last", "0")]
    [InlineData("max", "1")]
    [InlineData("mean", "0")]
    public void A_classifier_with_gated_memory_units_steps_its_streams_and_equals_offline_predict(string pool, string memoryLayer)
    {
        using var dir = new Gyre.Tests.Cli.CliFolder();
        dir.Ok("classify", "train", "--data", ServeFixture.Bundled("classification/GunPoint_TRAIN.ts"), "--hidden", "8", "--epochs", "1",
            "--augment", "0", "--test-augment", "0", "--normalize", "global", "--patch", "3", "--layers", "2", "--gmu", "2",
            "--gmu-memory", memoryLayer, "--pool", pool, "--out", dir["gmu.gyre"]);
        var model = ServedModel.Load("gmu", dir["gmu.gyre"], new ServeOptions());
        Assert.Equal("state", model.StreamKind);
        var classifier = Gyre.Classification.SequenceClassifier.Load(dir["gmu.gyre"]);
        Assert.Equal(2, classifier.Model.Encoder.MemoryUnits.Count);
        var test = TsLoader.Load(ServeFixture.Bundled("classification/GunPoint_TEST.ts"));
        const int Streams = 4;
        var streams = Enumerable.Range(0, Streams).Select(_ => model.NewStream()).ToArray();
        int[] sent = new int[Streams];
        for (int round = 0; round < 10; round++)
        {
            var inputs = new List<(StreamState, Observations)>();
            for (int s = 0; s < Streams; s++)
            {
                int k = 1 + (round * 3 + s) % 4;
                inputs.Add((streams[s], new Observations(test.Cases[s].Values[sent[s]..(sent[s] + k)], k, 1, null)));
                sent[s] += k;
            }
            var results = model.Step(inputs);
            for (int s = 0; s < Streams; s++)
            {
                var offline = classifier.Predict(InferenceServerTests.Prefix(test, s, sent[s])).Probabilities;
                var got = results[s].Outputs[0].Values!;
                for (int j = 0; j < got.Length; j++) InferenceServerTests.AssertClose(offline[j], got[j], $"{pool} round {round} stream {s} after {sent[s]} rows, class {j}");
            }
        }
    }

    /// <summary>Forecast streams: those with a lookback are forecast in one batched network call (windows re-run
    /// together for "fc" and "fq", sliding states through the head together for "fs", stateful streams' recurrent steps as one batched step for "fst"), each answer equal to the stream
    /// stepped alone; streams still short of a lookback answer rows_needed in the same batch.</summary>
    [Theory]
    [InlineData("fc")]
    [InlineData("fq")]
    [InlineData("fs")]
    [InlineData("fst")]
    public void A_forecast_batch_runs_one_forward_and_equals_each_stream_alone(string name)
    {
        var batched = ServedModel.Load(name, f.Dir[name + ".gyre"], new ServeOptions());
        var alone = ServedModel.Load(name, f.Dir[name + ".gyre"], new ServeOptions());
        var rows = InferenceServerTests.DailyRows(f.Daily);
        int width = batched.Width;
        const int Streams = 5;
        var a = Enumerable.Range(0, Streams).Select(_ => batched.NewStream()).ToArray();
        var b = Enumerable.Range(0, Streams).Select(_ => alone.NewStream()).ToArray();
        int[] sent = [.. Enumerable.Range(0, Streams).Select(s => 7 * s)];   // streams start at different rows
        int answered = 0;
        for (int round = 0; round < 12; round++)
        {
            var inputs = new List<(StreamState, Observations)>();
            var single = new StepResult[Streams];
            for (int s = 0; s < Streams; s++)
            {
                int k = 1 + (round + s) % 3 + (round == 0 ? 2 * s : 0);
                var piece = rows[sent[s]..(sent[s] + k)];
                float[] values = [.. piece.SelectMany(r => width == 2 ? new[] { r.Y, r.X } : [r.Y])];
                DateTime[]? times = batched.NeedsTimes ? [.. piece.Select(r => DateTime.UnixEpoch.AddSeconds(InferenceServerTests.Unix(r.Date)))] : null;
                var obs = new Observations(values, k, width, times);
                sent[s] += k;
                inputs.Add((a[s], obs));
                single[s] = alone.Step([(b[s], obs)])[0];
            }
            answered += AssertSameAnswers(name, round, single, batched.Step(inputs));
        }
        Assert.True(answered > 20, $"{answered} forecasts compared");
    }

    /// <summary>Trajectory streams: every stream holding its observed window is predicted in one network call, each
    /// answer equal to the stream stepped alone; streams still short of a window answer rows_needed in the same batch.</summary>
    [Fact]
    public void A_trajectory_batch_runs_one_prediction_and_equals_each_stream_alone()
    {
        var batched = ServedModel.Load("traj", f.Dir["traj.gyre"], new ServeOptions());
        var alone = ServedModel.Load("traj", f.Dir["traj.gyre"], new ServeOptions());
        int d = batched.Width;
        const int Streams = 6;
        // Walkers of different speeds and headings, curving at different rates.
        float Coordinate(int s, int t, int j) => j == 0 ? s + 0.3f * (1 + s % 3) * t : 0.5f * s + MathF.Sin(0.05f * (s + 1) * t);
        var a = Enumerable.Range(0, Streams).Select(_ => batched.NewStream()).ToArray();
        var b = Enumerable.Range(0, Streams).Select(_ => alone.NewStream()).ToArray();
        int[] sent = new int[Streams];
        int answered = 0, waiting = 0;
        for (int round = 0; round < 10; round++)
        {
            var inputs = new List<(StreamState, Observations)>();
            var single = new StepResult[Streams];
            for (int s = 0; s < Streams; s++)
            {
                int k = 1 + (round + s) % 3;
                var values = new float[k * d];
                for (int t = 0; t < k; t++)
                    for (int j = 0; j < d; j++) values[t * d + j] = Coordinate(s, sent[s] + t, j);
                var obs = new Observations(values, k, d, null);
                sent[s] += k;
                inputs.Add((a[s], obs));
                single[s] = alone.Step([(b[s], obs)])[0];
            }
            int n = AssertSameAnswers("traj", round, single, batched.Step(inputs));
            answered += n;
            waiting += Streams - n;
        }
        Assert.True(answered > 20 && waiting > 0, $"{answered} predictions compared, {waiting} answers of rows needed");
    }

    /// <summary>Detector streams: every stream holding its warm-up is scored in one <c>ScoreMany</c> (all streams'
    /// windows through the network together), each answer equal to the stream stepped alone; streams of different
    /// lengths (some still short of the warm-up) share the batch. "det5" reads the phase of the day from the times.</summary>
    [Theory]
    [InlineData("det")]
    [InlineData("det5")]
    public void A_detect_batch_scores_every_stream_together_and_equals_each_stream_alone(string name)
    {
        var batched = ServedModel.Load(name, f.Dir[name + ".gyre"], new ServeOptions());
        var alone = ServedModel.Load(name, f.Dir[name + ".gyre"], new ServeOptions());
        var rows = name == "det"
            ? [.. InferenceServerTests.DailyRows(f.Daily).Select(r => (Time: DateTime.UnixEpoch.AddSeconds(InferenceServerTests.Unix(r.Date)), Value: r.Y))]
            : File.ReadLines(f.Dir["nab.csv"]).Skip(1).Select(l => l.Split(','))
                .Select(c => (Time: DateTime.ParseExact(c[0], "yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture),
                    Value: float.Parse(c[1], System.Globalization.CultureInfo.InvariantCulture))).ToArray();
        const int Streams = 6;
        var a = Enumerable.Range(0, Streams).Select(_ => batched.NewStream()).ToArray();
        var b = Enumerable.Range(0, Streams).Select(_ => alone.NewStream()).ToArray();
        int[] sent = [.. Enumerable.Range(0, Streams).Select(s => 11 * s)];   // streams start at different rows
        int answered = 0, waiting = 0;
        for (int round = 0; round < 10; round++)
        {
            var inputs = new List<(StreamState, Observations)>();
            var single = new StepResult[Streams];
            for (int s = 0; s < Streams; s++)
            {
                int k = 1 + (round + s) % 3 + (round == 0 ? 3 * s : 0);    // first pieces of 1 to 18 rows
                var piece = rows[sent[s]..(sent[s] + k)];
                var obs = new Observations([.. piece.Select(r => r.Value)], k, 1, batched.NeedsTimes ? [.. piece.Select(r => r.Time)] : null);
                sent[s] += k;
                inputs.Add((a[s], obs));
                single[s] = alone.Step([(b[s], obs)])[0];
            }
            int n = AssertSameAnswers(name, round, single, batched.Step(inputs));
            answered += n;
            waiting += Streams - n;
        }
        Assert.True(answered > 30 && waiting > 0, $"{answered} scores compared, {waiting} answers of rows needed");
    }

    /// <summary>Asserts that each stream's batched result equals its result stepped alone (rows needed, and outputs to
    /// 1e-5 relative); returns how many streams had an answer.</summary>
    private static int AssertSameAnswers(string name, int round, StepResult[] single, StepResult[] results)
    {
        int answered = 0;
        for (int s = 0; s < single.Length; s++)
        {
            Assert.Equal(single[s].RowsNeeded, results[s].RowsNeeded);
            Assert.Equal(single[s].Outputs.Count, results[s].Outputs.Count);
            if (single[s].Outputs.Count > 0) answered++;
            for (int o = 0; o < single[s].Outputs.Count; o++)
            {
                Assert.Equal(single[s].Outputs[o].Flags, results[s].Outputs[o].Flags);
                var want = single[s].Outputs[o].Values ?? [];
                var got = results[s].Outputs[o].Values ?? [];
                Assert.Equal(want.Length, got.Length);
                for (int j = 0; j < want.Length; j++)
                    Assert.True(Math.Abs(want[j] - got[j]) <= 1e-5f * Math.Max(1f, Math.Abs(want[j])), $"{name} round {round} stream {s} output {o}[{j}]: batched {got[j]:R}, alone {want[j]:R}");
            }
        }
        return answered;
    }
}
