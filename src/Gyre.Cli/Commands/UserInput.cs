using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Gyre.Cli.Commands;

/// <summary>
/// Options that parse and range-check their own values, so a bad value is reported in the user's terms
/// ("--lookback: 'abc' is not a whole number", "--season must be at least 1 (got -3)") as a parse error
/// (exit 2) before any command runs, instead of a .NET type name.
/// </summary>
internal static class UserInput
{
    /// <summary>A whole-number option in [<paramref name="min"/>, <paramref name="max"/>]; <paramref name="hint"/> is appended to range errors.</summary>
    public static Option<int?> Int(string name, string description, int min, int max = int.MaxValue, string? hint = null) =>
        new(name)
        {
            Description = description,
            CustomParser = r => Last(r) is not { } text ? null
                : !int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int v) ? Error<int?>(r, $"{name}: '{text}' is not a whole number")
                : v < min || v > max ? Error<int?>(r, $"{name} must be {Range(min, max)} (got {v}){Hint(hint)}")
                : v,
        };

    /// <summary>A number option in [<paramref name="min"/>, <paramref name="max"/>] (an open lower end when <paramref name="minExclusive"/>).</summary>
    public static Option<float?> Float(string name, string description, float min, float max, bool minExclusive = false, bool maxExclusive = false) =>
        new(name)
        {
            Description = description,
            CustomParser = r =>
            {
                if (Last(r) is not { } text) return null;
                if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) || !float.IsFinite(v))
                    return Error<float?>(r, $"{name}: '{text}' is not a finite number");
                bool low = minExclusive ? v <= min : v < min, high = maxExclusive ? v >= max : v > max;
                if (low || high)
                    return Error<float?>(r, $"{name} must be {(minExclusive ? "> " : "≥ ")}{Show(min)} and {(maxExclusive ? "< " : "≤ ")}{Show(max)} (got {Show(v)})");
                return v;
            },
        };

    /// <summary>A non-negative 64-bit integer option (seeds).</summary>
    public static Option<ulong?> ULong(string name, string description) =>
        new(name)
        {
            Description = description,
            CustomParser = r => Last(r) is not { } text ? null
                : ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong v) ? v
                : Error<ulong?>(r, $"{name}: '{text}' is not a whole number from 0 to {ulong.MaxValue}"),
        };

    /// <summary>A flag that may also be given a value: `--x`, `--x true`, `--x false`.</summary>
    public static Option<bool?> Flag(string name, string description) =>
        new(name)
        {
            Description = description,
            Arity = ArgumentArity.ZeroOrOne,
            CustomParser = r => r.Tokens.Count == 0 ? true
                : bool.TryParse(r.Tokens[^1].Value, out bool v) ? v
                : Error<bool?>(r, $"{name}: '{r.Tokens[^1].Value}' is not true or false"),
        };

    /// <summary>A word option from a fixed list, compared case-insensitively (the value is returned lower-cased).</summary>
    public static Option<string?> Choice(string name, string description, params string[] choices)
    {
        var option = new Option<string?>(name)
        {
            Description = description,
            CustomParser = r => Last(r) is not { } text ? null
                : choices.Contains(text.Trim().ToLowerInvariant()) ? text.Trim().ToLowerInvariant()
                : Error<string?>(r, $"{name}: '{text}' is not one of {string.Join(", ", choices)}"),
        };
        option.CompletionSources.Add(choices);
        return option;
    }

    /// <summary>
    /// --on-nan, on every job's train command: what a batch whose loss or gradient is NaN or ±∞ does
    /// (<see cref="Gyre.Training.TrainerOptions.OnNan"/>).
    /// </summary>
    public static Option<string?> OnNan() => Choice("--on-nan",
        "stop | skip: a batch with a NaN or infinite loss or gradient stops training, naming the epoch and batch and keeping the last checkpoint (default), or is skipped "
        + "(no update, counted in the log; more than 10 % of an epoch's batches skipped stops the run)", "stop", "skip");

    /// <summary>The policy <paramref name="option"/> (made by <see cref="OnNan"/>) gives; stop when left out.</summary>
    public static Gyre.Training.NanPolicy NanPolicy(ParseResult p, Option<string?> option) =>
        p.GetValue(option) is { } v ? Gyre.Training.NanPolicies.Parse(v) : Gyre.Training.NanPolicy.Stop;

    private static string? Last(ArgumentResult r) => r.Tokens.Count == 0 ? null : r.Tokens[^1].Value;

    private static T Error<T>(ArgumentResult r, string message)
    {
        r.AddError(message);
        return default!;
    }

    private static string Range(int min, int max) =>
        max == int.MaxValue ? $"at least {min}" : $"between {min} and {max}";

    private static string Hint(string? hint) => hint is null ? "" : $"; {hint}";

    private static string Show(float v) => v.ToString("G6", CultureInfo.InvariantCulture);
}
