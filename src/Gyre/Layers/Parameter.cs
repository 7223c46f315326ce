using Gyre.Tensors;

namespace Gyre.Layers;

/// <summary>A named trainable tensor and its gradient (same shape; gradients accumulate with +=).</summary>
public sealed class Parameter(string name, Tensor value, Tensor grad)
{
    public string Name { get; } = name;
    public Tensor Value { get; } = value;
    public Tensor Grad { get; } = grad;
}

/// <summary>
/// One contiguous block of parameter values and a mirror block of gradients, carved into named
/// tensors, so zeroing gradients is one clear and an optimizer step is one loop.
/// </summary>
public sealed class ParameterBlock
{
    private readonly List<Parameter> _parameters = [];

    public float[] Values { get; }
    public float[] Grads { get; }
    public IReadOnlyList<Parameter> Parameters => _parameters;

    public ParameterBlock(IReadOnlyList<(string Name, int[] Shape)> layout)
    {
        long total = 0;
        foreach (var (_, shape) in layout) total += Numel(shape);
        Values = new float[total];
        Grads = new float[total];
        int offset = 0;
        foreach (var (name, shape) in layout)
        {
            _parameters.Add(new Parameter(name, new Tensor(Values, offset, shape), new Tensor(Grads, offset, shape)));
            offset += Numel(shape);
        }
    }

    public Parameter this[string name] => _parameters.Find(p => p.Name == name)
        ?? throw new KeyNotFoundException($"no parameter named '{name}'");

    public void ZeroGrad() => Array.Clear(Grads);

    private static int Numel(int[] shape)
    {
        int n = 1;
        foreach (int d in shape) n *= d;
        return n;
    }
}
