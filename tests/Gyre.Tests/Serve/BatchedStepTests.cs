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
}
