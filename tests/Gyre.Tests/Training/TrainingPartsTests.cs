using Gyre.Layers;
using Gyre.Tensors;
using Gyre.Training;
using Xunit;

namespace Gyre.Tests.Training;

public class TrainingPartsTests
{
    [Theory]
    [InlineData(LossKind.Mse)]
    [InlineData(LossKind.Mae)]
    [InlineData(LossKind.Huber)]
    [InlineData(LossKind.Quantile)]
    public void LossGradientsMatchFiniteDifferences(LossKind kind)
    {
        var rng = new Rng(3);
        float[] qs = kind == LossKind.Quantile ? [0.1f, 0.5f, 0.9f] : [];
        int q = Math.Max(qs.Length, 1);
        var t = new float[12]; rng.Uniform(t, -2, 2);
        var p = new float[12 * q]; rng.Uniform(p, -3, 3);
        var mask = Enumerable.Range(0, 12).Select(i => i % 5 == 0 ? 0f : 1f).ToArray();
        var g = new float[p.Length];
        Losses.Compute(kind, p, t, mask, g, qs);
        var scratch = new float[p.Length];
        for (int i = 0; i < p.Length; i++)
        {
            float keep = p[i];
            p[i] = keep + 1e-3f; double a = Losses.Compute(kind, p, t, mask, scratch, qs);
            p[i] = keep - 1e-3f; double b = Losses.Compute(kind, p, t, mask, scratch, qs);
            p[i] = keep;
            Assert.Equal((a - b) / 2e-3, g[i], 3);
            if (mask[i / q] == 0f) Assert.Equal(0f, g[i]);
        }
    }

    [Fact]
    public void LossValuesByHand()
    {
        float[] p = [1f, 3f], t = [0f, 0f], g = new float[2];
        Assert.Equal(5.0, Losses.Compute(LossKind.Mse, p, t, default, g, default), 6);
        Assert.Equal(2.0, Losses.Compute(LossKind.Mae, p, t, default, g, default), 6);
        Assert.Equal((0.5 + 2.5) / 2, Losses.Compute(LossKind.Huber, p, t, default, g, default), 6);
        // pinball at τ = 0.9 with t − p = −1 and −3: 0.1·1 and 0.1·3
        Assert.Equal(0.2, Losses.Compute(LossKind.Quantile, p, t, default, g, [0.9f]), 6);
    }

    [Fact]
    public void AdamWFirstStepMatchesTheFormula()
    {
        var block = new ParameterBlock([("w", [2])]);
        var w = block.Parameters[0];
        w.Value.Span[0] = 1f; w.Value.Span[1] = -2f;
        w.Grad.Span[0] = 0.5f; w.Grad.Span[1] = -0.25f;
        var opt = new AdamW(block.Parameters, lr: 0.1f, weightDecay: 0.01f);
        opt.Step();
        // Step 1: m̂ = g, v̂ = g², so the update is lr·g/(|g| + ε) = ±lr after decay θ(1 − lr·λ).
        Assert.Equal(1f * (1 - 0.001f) - 0.1f, w.Value.Span[0], 5);
        Assert.Equal(-2f * (1 - 0.001f) + 0.1f, w.Value.Span[1], 5);
    }

    /// <summary>The second step is the first that β1 and β2 shape (the first is ±lr whatever they are): m̂ and v̂ by hand.</summary>
    [Theory]
    [InlineData(0.9f, 0.999f)]
    [InlineData(0.95f, 0.999f)]
    [InlineData(0.5f, 0.9f)]
    public void AdamWSecondStepFollowsItsBetas(float beta1, float beta2)
    {
        var block = new ParameterBlock([("w", [1])]);
        var w = block.Parameters[0];
        w.Value.Span[0] = 1f;
        var opt = new AdamW(block.Parameters, lr: 0.1f, beta1: beta1, beta2: beta2, weightDecay: 0f);
        w.Grad.Span[0] = 0.5f; opt.Step();
        w.Grad.Span[0] = -1f; opt.Step();
        double m = (1 - beta1) * 0.5, v = (1 - beta2) * 0.25;
        m = beta1 * m + (1 - beta1) * -1.0; v = beta2 * v + (1 - beta2) * 1.0;
        double mHat = m / (1 - beta1 * beta1), vHat = v / (1 - beta2 * beta2);
        Assert.Equal(1.0 - 0.1 - 0.1 * mHat / (Math.Sqrt(vHat) + 1e-8), w.Value.Span[0], 5);
    }

    [Fact]
    public void TrainerOptionsRejectBetasOutsideTheUnitInterval()
    {
        Assert.Throws<ArgumentException>(() => new TrainerOptions { Beta1 = 1f }.Validate());
        Assert.Throws<ArgumentException>(() => new TrainerOptions { Beta2 = -0.1f }.Validate());
        Assert.Throws<ArgumentException>(() => new TrainerOptions { Beta1 = float.NaN }.Validate());
        new TrainerOptions { Beta1 = 0f, Beta2 = 0.95f }.Validate();
    }

    [Fact]
    public void ClippingScalesToTheMaxNorm()
    {
        var block = new ParameterBlock([("a", [2]), ("b", [1])]);
        block.Parameters[0].Grad.Span[0] = 3f; block.Parameters[1].Grad.Span[0] = 4f;
        Assert.Equal(5.0, GradientClipping.ClipByGlobalNorm(block.Parameters, 1.0), 6);
        Assert.Equal(1.0, GradientClipping.GlobalNorm(block.Parameters), 4);
    }

    [Fact]
    public void LinearMatchesFiniteDifferences()
    {
        var lin = new Linear(4, 3, seed: 2);
        var rng = new Rng(1);
        var x = Layers.GradientCheckTests.Random(rng, [5, 4]);
        var up = Layers.GradientCheckTests.Random(rng, [5, 3]);
        lin.Forward(x);
        var dx = lin.Backward(up);
        for (int i = 0; i < x.Length; i++)
        {
            float keep = x.Span[i];
            x.Span[i] = keep + 1e-2f; double a = Layers.GradientCheckTests.Dot(lin.Forward(x), up);
            x.Span[i] = keep - 1e-2f; double b = Layers.GradientCheckTests.Dot(lin.Forward(x), up);
            x.Span[i] = keep;
            Assert.Equal((a - b) / 2e-2, dx.Span[i], 3);
        }
    }

    [Fact]
    public void CosineScheduleEndsAtTheMinimum()
    {
        var s = new LearningRateSchedule(ScheduleKind.Cosine, 1f, 10, 0.1f);
        Assert.Equal(1f, s.ForEpoch(0), 5);
        Assert.Equal(0.55f, s.ForEpoch(5), 5);
        Assert.Equal(0.1f, s.ForEpoch(10), 5);
    }

    [Fact]
    public void WarmUpRampsTheFirstEpochsLinearly()
    {
        var s = new LearningRateSchedule(ScheduleKind.Cosine, 1f, 10, 0.1f) { WarmupEpochs = 3 };
        Assert.Equal(0.25f, s.ForEpoch(0), 5);
        Assert.Equal(0.5f * (0.1f + 0.45f * (1f + MathF.Cos(MathF.PI / 10))), s.ForEpoch(1), 5);
        Assert.Equal(0.55f, s.ForEpoch(5), 5);
        var constant = new LearningRateSchedule(ScheduleKind.Constant, 2f, 10) { WarmupEpochs = 1 };
        Assert.Equal(1f, constant.ForEpoch(0), 5);
        Assert.Equal(2f, constant.ForEpoch(1), 5);
        Assert.Equal(2f, constant.CurrentLr, 5);
    }
    [Fact]
    public void ExponentialScheduleHoldsThenDecaysByGamma()
    {
        var s = new LearningRateSchedule(ScheduleSpec.Parse("exponential(gamma=0.5,hold=2)"), 1f, 10, minLr: 0.3f);
        Assert.Equal([1f, 1f, 0.5f, 0.25f, 0.125f], Enumerable.Range(0, 5).Select(s.ForEpoch));   // no floor: below minLr
        Assert.Equal(0.125f, s.CurrentLr);
        // hold=0 decays from the first epoch on.
        Assert.Equal(0.5f, new LearningRateSchedule(ScheduleSpec.Parse("exp(gamma=0.5,hold=0)"), 1f, 10).ForEpoch(0));
    }

    [Fact]
    public void WarmUpStartsAtTheGivenShare()
    {
        var s = new LearningRateSchedule(ScheduleSpec.Parse("constant(warmup=2,start=0.1)"), 2f, 10);
        Assert.Equal([0.2f, 1.1f, 2f], Enumerable.Range(0, 3).Select(s.ForEpoch));
        // SegRNN's runs: the first epoch at 1/25 of the rate, three at the rate, then ×0.8 per epoch.
        var seg = new LearningRateSchedule(ScheduleSpec.Parse(global::Gyre.Forecasting.ForecastPresets.SegRnnSchedule), 1f, 30);
        var lrs = Enumerable.Range(0, 7).Select(seg.ForEpoch).ToArray();
        Assert.Equal(new[] { 0.04f, 1f, 1f, 1f, 0.8f, 0.64f, 0.512f }, lrs, (a, b) => Math.Abs(a - b) < 1e-6f);
    }

    [Theory]
    [InlineData("exponential(gamma=0)", "gamma must lie in (0, 1]")]
    [InlineData("exponential(hold=-1)", "hold must be an integer ≥ 0")]
    [InlineData("cosine(gamma=0.5)", "unknown option 'gamma' for cosine")]
    [InlineData("cosine(start=0.5)", "start needs warmup ≥ 1")]
    [InlineData("plateau(factor=0.5", "closing parenthesis")]
    [InlineData("plateau(factor)", "'factor' is not key=value")]
    [InlineData("step", "unknown schedule 'step'")]
    public void MalformedSchedulesNameTheirFault(string text, string message) =>
        Assert.Contains(message, Assert.Throws<ArgumentException>(() => ScheduleSpec.Parse(text)).Message);

    [Fact]
    public void PlateauTakesItsFactorAndPatienceFromTheText()
    {
        var s = new LearningRateSchedule(ScheduleSpec.Parse("plateau(factor=0.1,patience=1)"), 1f, 10);
        s.Observe(1); s.Observe(1); Assert.Equal(1f, s.CurrentLr);
        s.Observe(1); Assert.Equal(0.1f, s.CurrentLr, 6);
    }
}
