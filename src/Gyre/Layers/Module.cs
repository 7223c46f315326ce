using Gyre.Tensors;

namespace Gyre.Layers;

/// <summary>Something with named parameters: state-dict I/O and gradient housekeeping.</summary>
public abstract class Module
{
    /// <summary>Training mode keeps activations for <c>Backward</c> and enables dropout.</summary>
    public bool Training { get; set; } = true;

    public abstract IEnumerable<Parameter> Parameters();

    /// <summary>Parameters under their state-dict names (a composite prefixes its children's names).</summary>
    public virtual IEnumerable<(string Name, Parameter Parameter)> NamedParameters() =>
        Parameters().Select(p => (p.Name, p));

    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.Grad.Fill(0f);
    }

    public long ParameterCount() => Parameters().Sum(p => (long)p.Value.Length);

    /// <summary>Parameter values by name (views; clone to keep a snapshot).</summary>
    public IReadOnlyDictionary<string, Tensor> StateDict()
    {
        var dict = new Dictionary<string, Tensor>();
        foreach (var (name, p) in NamedParameters()) dict[name] = p.Value;
        return dict;
    }

    /// <summary>
    /// Copies tensors into the parameters of the same name. Keys may carry a common module prefix
    /// ("rnn.weight_ih_l0"). Every parameter must be present with its exact shape; with
    /// <paramref name="strict"/> no other key under that prefix may remain (pass strict: false to load
    /// the parameters out of a file that holds more, such as a reference file with inputs and gradients).
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> tensors, bool strict = true, string source = "state dict")
    {
        var parameters = NamedParameters().ToList();
        var found = IO.StateDict.StripPrefix(tensors, parameters.Select(p => p.Name), source: source);
        foreach (var (name, p) in parameters)
        {
            if (!found.TryGetValue(name, out var t))
                throw new InvalidDataException($"{source}: missing tensor '{name}'");
            if (!t.SameShape(p.Value))
                throw new InvalidDataException($"{source}: tensor '{name}' has shape {Tensor.ShapeString(t.Shape)}, the layer needs {Tensor.ShapeString(p.Value.Shape)}");
        }
        if (strict)
        {
            // Every key under the module's prefix must be a parameter: a running statistic, a scale or a
            // layer more that this module would silently drop means the file is not this module's.
            var names = parameters.Select(p => p.Name).ToHashSet();
            var extra = found.Keys.Where(k => !names.Contains(k)).ToList();
            if (extra.Count > 0)
                throw new InvalidDataException($"{source}: unexpected tensor '{extra[0]}' (the layer has no such parameter)");
        }
        foreach (var (name, p) in parameters) p.Value.CopyFrom(found[name]);
    }
}
