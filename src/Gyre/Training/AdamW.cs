using Gyre.Layers;
using Gyre.Tensors;

namespace Gyre.Training;

/// <summary>
/// AdamW (Loshchilov &amp; Hutter), PyTorch's torch.optim.AdamW update:
/// θ ← θ − lr·λ·θ; m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
/// θ ← θ − lr·(m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε).
/// Moments mirror the parameters one to one, so a checkpoint stores them by parameter name.
/// </summary>
public sealed class AdamW
{
    private readonly Parameter[] _parameters;
    private readonly Tensor[] _m, _v;

    public float LearningRate { get; set; }
    public float Beta1 { get; }
    public float Beta2 { get; }
    public float Epsilon { get; }
    public float WeightDecay { get; }

    /// <summary>Number of updates taken (t in the bias corrections).</summary>
    public long StepCount { get; private set; }

    public AdamW(IEnumerable<Parameter> parameters, float lr = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f,
        float eps = 1e-8f, float weightDecay = 1e-2f)
    {
        _parameters = parameters.ToArray();
        _m = _parameters.Select(p => Tensor.Zeros(p.Value.Shape)).ToArray();
        _v = _parameters.Select(p => Tensor.Zeros(p.Value.Shape)).ToArray();
        LearningRate = lr; Beta1 = beta1; Beta2 = beta2; Epsilon = eps; WeightDecay = weightDecay;
    }

    public IReadOnlyList<Parameter> Parameters => _parameters;

    public void ZeroGrad()
    {
        foreach (var p in _parameters) p.Grad.Fill(0f);
    }

    public void Step()
    {
        StepCount++;
        double bc1 = 1 - Math.Pow(Beta1, StepCount), bc2 = 1 - Math.Pow(Beta2, StepCount);
        float lr = LearningRate, decay = 1f - lr * WeightDecay;
        float stepSize = (float)(lr / bc1), rootBc2 = (float)Math.Sqrt(bc2);
        for (int k = 0; k < _parameters.Length; k++)
        {
            var w = _parameters[k].Value.Span; var g = _parameters[k].Grad.ReadOnlySpan;
            var m = _m[k].Span; var v = _v[k].Span;
            for (int i = 0; i < w.Length; i++)
            {
                w[i] *= decay;
                m[i] = Beta1 * m[i] + (1f - Beta1) * g[i];
                v[i] = Beta2 * v[i] + (1f - Beta2) * g[i] * g[i];
                w[i] -= stepSize * m[i] / (MathF.Sqrt(v[i]) / rootBc2 + Epsilon);
            }
        }
    }

    /// <summary>Moments by position and name ("adam.m.{k}.{param}", "adam.v.{k}.{param}") for checkpoints.</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> State()
    {
        for (int k = 0; k < _parameters.Length; k++)
        {
            yield return new($"adam.m.{k}.{_parameters[k].Name}", _m[k]);
            yield return new($"adam.v.{k}.{_parameters[k].Name}", _v[k]);
        }
    }

    public void LoadState(IReadOnlyDictionary<string, Tensor> tensors, long stepCount, string source)
    {
        foreach (var (name, t) in State())
        {
            if (!tensors.TryGetValue(name, out var saved) || !saved.SameShape(t))
                throw new InvalidDataException($"{source}: optimizer state '{name}' missing or misshapen");
            t.CopyFrom(saved);
        }
        StepCount = stepCount;
    }
}

/// <summary>Gradient clipping and norms.</summary>
public static class GradientClipping
{
    /// <summary>Global L2 norm of all gradients, summed in double in parameter order (deterministic).</summary>
    public static double GlobalNorm(IEnumerable<Parameter> parameters)
    {
        double sum = 0;
        foreach (var p in parameters)
            foreach (float g in p.Grad.ReadOnlySpan) sum += (double)g * g;
        return Math.Sqrt(sum);
    }

    /// <summary>Scales all gradients by min(1, maxNorm / ‖g‖) like torch.nn.utils.clip_grad_norm_; returns ‖g‖ before clipping.</summary>
    public static double ClipByGlobalNorm(IReadOnlyList<Parameter> parameters, double maxNorm)
    {
        double norm = GlobalNorm(parameters);
        if (maxNorm > 0 && norm > maxNorm)
        {
            float scale = (float)(maxNorm / (norm + 1e-6));
            foreach (var p in parameters)
                System.Numerics.Tensors.TensorPrimitives.Multiply(p.Grad.ReadOnlySpan, scale, p.Grad.Span);
        }
        return norm;
    }
}
