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
    /// <paramref name="strict"/> no other key may remain.
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> tensors, bool strict = true, string source = "state dict")
    {
        var parameters = NamedParameters().ToList();
        string prefix = FindPrefix(tensors.Keys, parameters.Select(p => p.Name), source);
        foreach (var (name, p) in parameters)
        {
            if (!tensors.TryGetValue(prefix + name, out var t))
                throw new InvalidDataException($"{source}: missing tensor '{prefix + name}'");
            if (!t.SameShape(p.Value))
                throw new InvalidDataException($"{source}: tensor '{prefix + name}' has shape {Tensor.ShapeString(t.Shape)}, the layer needs {Tensor.ShapeString(p.Value.Shape)}");
        }
        if (strict)
        {
            var names = parameters.Select(p => prefix + p.Name).ToHashSet();
            var extra = tensors.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal) && !names.Contains(k)).ToList();
            if (extra.Count > 0)
                throw new InvalidDataException($"{source}: unexpected tensor '{extra[0]}' (the layer has no such parameter)");
        }
        foreach (var (name, p) in parameters) p.Value.CopyFrom(tensors[prefix + name]);
    }

    private static string FindPrefix(IEnumerable<string> keys, IEnumerable<string> names, string source)
    {
        var keyList = keys.ToList();
        string first = names.First();
        if (keyList.Contains(first)) return "";
        var candidates = keyList.Where(k => k.EndsWith("." + first, StringComparison.Ordinal))
            .Select(k => k[..^first.Length]).Distinct().ToList();
        if (candidates.Count == 1) return candidates[0];
        if (candidates.Count > 1)
            throw new InvalidDataException($"{source}: several modules hold '{first}' ({string.Join(", ", candidates.Select(c => c.TrimEnd('.')))}); load a dictionary with one of them");
        throw new InvalidDataException($"{source}: missing tensor '{first}' (found: {string.Join(", ", keyList.Take(8))}{(keyList.Count > 8 ? ", …" : "")})");
    }
}
