using System.CommandLine;

namespace Gyre.Cli;

/// <summary>Help that meets users where they are: the root's description from the commands that exist, and "did you mean" for typos.</summary>
internal static class Help
{
    /// <summary>"Gyre: …. Commands: a (first sentence of its description), b (…)." — from the registered subcommands.</summary>
    public static string RootDescription(Command root)
    {
        var lines = root.Subcommands.Select(c => $"{c.Name}: {FirstSentence(c.Description)}");
        return "Gyre: gated recurrent networks for .NET. Commands — " + string.Join("; ", lines) + ". Run `gyre COMMAND --help` for its options.";
    }

    private static string FirstSentence(string? text)
    {
        if (string.IsNullOrEmpty(text)) return "";
        int dot = text.IndexOf(". ", StringComparison.Ordinal);
        string s = dot < 0 ? text.TrimEnd('.') : text[..dot];
        int paren = s.IndexOf(" (", StringComparison.Ordinal);
        return paren > 0 ? s[..paren] : s;
    }

    /// <summary>
    /// For an unrecognised token, the closest option or subcommand of the command being parsed
    /// (Damerau-free Levenshtein distance at most max(2, ⌊length/3⌋)), as " — did you mean 'x'?"; else "".
    /// </summary>
    public static string DidYouMean(ParseResult parse, string token)
    {
        var command = parse.CommandResult.Command;
        var candidates = command.Subcommands.Select(c => c.Name)
            .Concat(command.Options.SelectMany(o => o.Aliases.Append(o.Name)))
            .Concat(AncestorRecursiveOptions(parse))
            .Where(n => !n.StartsWith('-') || token.StartsWith('-'))
            .Distinct().ToList();
        string bare = token.Split('=', 2)[0];
        var best = candidates.Select(c => (Name: c, Distance: Distance(bare, c))).Where(x => x.Distance > 0).OrderBy(x => x.Distance).ThenBy(x => x.Name, StringComparer.Ordinal).FirstOrDefault();
        return best.Name is not null && best.Distance <= Math.Max(2, bare.Length / 3) ? $" — did you mean '{best.Name}'?" : "";
    }

    private static IEnumerable<string> AncestorRecursiveOptions(ParseResult parse)
    {
        for (var r = parse.CommandResult.Parent; r is System.CommandLine.Parsing.CommandResult c; r = c.Parent)
            foreach (var o in c.Command.Options.Where(o => o.Recursive)) yield return o.Name;
    }

    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (char.ToLowerInvariant(a[i - 1]) == char.ToLowerInvariant(b[j - 1]) ? 0 : 1));
        return d[a.Length, b.Length];
    }
}
