using Gyre.Tensors;

namespace Gyre.IO;

/// <summary>
/// Helpers for matching a file's tensor names to the parameter names a layer expects. PyTorch saves a
/// submodule's parameters under its attribute path ("rnn.weight_ih_l0", "model.encoder.weight_ih_l0"),
/// while a bare module saves "weight_ih_l0"; these helpers let either load.
/// </summary>
public static class StateDict
{
    /// <summary>
    /// Finds the module prefix P ("" or a dotted path ending in '.') such that P + e is a key of
    /// <paramref name="tensors"/> for every expected name e, and returns every tensor whose key starts
    /// with P, keyed by the rest of its name. The result therefore holds all expected names and may hold
    /// extra tensors of the same module; a caller that wants strict loading checks for those.
    /// <para>
    /// With <paramref name="prefix"/> given, that prefix is used as is. Otherwise the empty prefix wins
    /// when it works (a bare state dict); else the one non-empty prefix that works; several that work
    /// (e.g. "encoder.rnn." and "decoder.rnn.") are ambiguous and throw, asking for the prefix.
    /// </para>
    /// </summary>
    /// <param name="tensors">A file's tensors, e.g. <see cref="SafetensorsFile.Tensors"/>.</param>
    /// <param name="expectedNames">The parameter names the caller needs, without any module prefix.</param>
    /// <param name="prefix">An explicit module prefix, or null to infer one.</param>
    /// <param name="source">The file name used in error messages.</param>
    /// <exception cref="InvalidDataException">No prefix (or the given one) makes every expected name
    /// present, or several do; the one-line message lists the missing names and the names found.</exception>
    public static Dictionary<string, Tensor> StripPrefix(IReadOnlyDictionary<string, Tensor> tensors,
        IEnumerable<string> expectedNames, string? prefix = null, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentNullException.ThrowIfNull(expectedNames);
        var expected = expectedNames.Distinct(StringComparer.Ordinal).ToArray();
        string where = source is null ? "" : source + ": ";

        if (prefix is null)
        {
            // Candidates: every P such that some key is P + e for an expected e, with P empty or
            // ending at a module boundary, so "weight_ih_l0" never yields the prefix "grad_".
            var candidates = new HashSet<string>(StringComparer.Ordinal);
            foreach (string key in tensors.Keys)
                foreach (string e in expected)
                    if (key.EndsWith(e, StringComparison.Ordinal))
                    {
                        string p = key[..^e.Length];
                        if (p.Length == 0 || p[^1] == '.') candidates.Add(p);
                    }
            if (expected.Length == 0) candidates.Add("");

            var complete = candidates.Where(p => expected.All(e => tensors.ContainsKey(p + e)))
                                     .OrderBy(p => p, StringComparer.Ordinal).ToList();
            if (complete.Contains(""))
                prefix = "";
            else if (complete.Count == 1)
                prefix = complete[0];
            else if (complete.Count > 1)
                throw new InvalidDataException($"{where}several module prefixes hold every expected tensor ({string.Join(", ", complete.Select(Show))}); pass the prefix to use");
            else
            {
                // Report against the prefix that got closest, so the message shows what is really missing.
                string best = candidates.OrderByDescending(p => expected.Count(e => tensors.ContainsKey(p + e)))
                                        .ThenBy(p => p, StringComparer.Ordinal).FirstOrDefault() ?? "";
                throw NotFound(where, tensors, expected, best, inferred: true);
            }
        }
        else if (!expected.All(e => tensors.ContainsKey(prefix + e)))
            throw NotFound(where, tensors, expected, prefix, inferred: false);

        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (key, tensor) in tensors)
            if (key.StartsWith(prefix, StringComparison.Ordinal))
                result[key[prefix.Length..]] = tensor;
        return result;
    }

    private static InvalidDataException NotFound(string where, IReadOnlyDictionary<string, Tensor> tensors,
        string[] expected, string prefix, bool inferred)
    {
        const int shown = 40;
        var missing = expected.Where(e => !tensors.ContainsKey(prefix + e)).ToArray();
        var found = tensors.Keys.Order(StringComparer.Ordinal).ToArray();
        string foundList = string.Join(", ", found.Take(shown)) + (found.Length > shown ? $", ... ({found.Length - shown} more)" : "");
        string how = inferred
            ? (prefix.Length == 0 ? "with or without a module prefix" : $"under the closest module prefix {Show(prefix)}")
            : $"under the module prefix {Show(prefix)}";
        return new InvalidDataException(
            $"{where}missing {missing.Length} of {expected.Length} expected tensors {how}: {string.Join(", ", missing)}; names found ({found.Length}): {foundList}");
    }

    private static string Show(string prefix) => Safetensors.Quote(prefix);
}
