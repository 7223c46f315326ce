namespace Gyre.Cells;

/// <summary>
/// Cells by name. Adding a cell is one file holding its <see cref="ICell"/> struct and <see cref="CellDefinition"/>
/// plus one line in <see cref="Builtins"/> (or a <see cref="Register(string, Func{CellOptions, CellDefinition}, string[])"/> call at run time, e.g. from a test).
/// Names are lower case; lookups ignore case.
/// </summary>
public static class CellRegistry
{
    private static readonly object Gate = new();
    private static readonly Dictionary<string, Func<CellOptions, CellDefinition>> Factories = new(StringComparer.OrdinalIgnoreCase);
    private static readonly List<string> Listed = [];

    // One line per cell: name, factory (options → definition), aliases.
    private static void Builtins()
    {
        Register("gru", GruDefinition.FromOptions);
        Register("gru_reset_before", NoOptions("gru_reset_before", () => new GruResetBeforeDefinition()));
        Register("lstm", LstmDefinition.FromOptions);
        Register("paragru", NoOptions("paragru", () => new ParaGruDefinition()));
        Register("paralstm", NoOptions("paralstm", () => new ParaLstmDefinition()));
        Register("rnn_tanh", NoOptions("rnn_tanh", () => new RnnTanhDefinition()), "tanh");
        Register("rnn_relu", NoOptions("rnn_relu", () => new RnnReluDefinition()), "relu");
        Register("rnn", RnnReluDefinition.FromOptions, listed: false);
        Register("slstm", SlstmDefinition.FromOptions);
        Register("indrnn", IndRnnDefinition.FromOptions);
        Register("mingru", NoOptions("mingru", () => new MinGruDefinition()));
        Register("minlstm", NoOptions("minlstm", () => new MinLstmDefinition()));
        Register("mgu", NoOptions("mgu", () => new MguDefinition()));
        Register("leaky_rnn", NoOptions("leaky_rnn", () => new LeakyRnnDefinition()));
        Register("leaky_gru", NoOptions("leaky_gru", () => new LeakyGruDefinition()));
        Register("gla", GlaDefinition.FromOptions);
        Register("lssl", LsslDefinition.FromOptions);
    }

    static CellRegistry() => Builtins();

    /// <summary>A factory for a cell that takes no options (any option is an error naming it).</summary>
    public static Func<CellOptions, CellDefinition> NoOptions(string name, Func<CellDefinition> make) => o =>
    {
        o.OnlyKnown(name);
        return make();
    };

    /// <summary>Registers <paramref name="name"/> (and <paramref name="aliases"/>) and lists it in <see cref="Names"/>
    /// (the CLI's list and the benchmark grid). Registering a name again replaces it.</summary>
    public static void Register(string name, Func<CellOptions, CellDefinition> factory, params string[] aliases) =>
        Register(name, factory, listed: true, aliases);

    /// <summary>Registers <paramref name="name"/> (and <paramref name="aliases"/>); <paramref name="listed"/> puts it in <see cref="Names"/>.</summary>
    public static void Register(string name, Func<CellOptions, CellDefinition> factory, bool listed, params string[] aliases)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(factory);
        lock (Gate)
        {
            Factories[name] = factory;
            foreach (var a in aliases) Factories[a] = factory;
            if (listed && !Listed.Contains(name.ToLowerInvariant())) Listed.Add(name.ToLowerInvariant());
        }
    }

    /// <summary>The cell a model gets when none is named.</summary>
    public static string Default => "gru";

    /// <summary>The cells <c>gyre forecast tune</c> draws from: the two with native ONNX nodes and the longest record.</summary>
    public static IReadOnlyList<string> Tuned { get; } = ["gru", "lstm"];

    /// <summary>The listed cell names in registration order.</summary>
    public static IReadOnlyList<string> Names { get { lock (Gate) return [.. Listed]; } }

    /// <summary>The definitions of every listed cell (default options).</summary>
    public static IEnumerable<CellDefinition> All => Names.Select(n => Get(n));

    /// <summary>Whether <paramref name="name"/> is registered.</summary>
    public static bool Contains(string name) { lock (Gate) return Factories.ContainsKey(name); }

    /// <summary>The cell <paramref name="name"/> with <paramref name="options"/>; a one-line
    /// <see cref="ArgumentException"/> listing the known cells when the name is unknown.</summary>
    public static CellDefinition Get(string name, CellOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        Func<CellOptions, CellDefinition>? f;
        lock (Gate) Factories.TryGetValue(name.Trim(), out f);
        if (f is null) throw new ArgumentException($"unknown cell '{name}' (known: {string.Join(", ", Names)})");
        return f(options ?? CellOptions.Empty);
    }

    /// <summary>"name" or "name(k=v,...)" as <see cref="CellDefinition.ToString"/> writes it.</summary>
    public static CellDefinition FromText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int open = text.IndexOf('(');
        if (open < 0) return Get(text);
        if (!text.EndsWith(')')) throw new ArgumentException($"cell '{text}': expected name(k=v,...)");
        return Get(text[..open], CellOptions.Parse(text[(open + 1)..^1]));
    }

    // ------------------------------------------------------------------ the enum of the first cells

    /// <summary>Parses a name of the five first cells into their <see cref="CellKind"/>.</summary>
    public static CellKind Parse(string name) => KindOf(Get(name));

    /// <summary>The registry name of <paramref name="kind"/>.</summary>
    public static string Name(CellKind kind) => kind switch
    {
        CellKind.Gru => "gru",
        CellKind.GruResetBefore => "gru_reset_before",
        CellKind.Lstm => "lstm",
        CellKind.RnnTanh => "rnn_tanh",
        CellKind.RnnRelu => "rnn_relu",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a cell kind"),
    };

    /// <summary>The definition of <paramref name="kind"/>.</summary>
    public static CellDefinition Get(CellKind kind) => Get(Name(kind));

    /// <summary>The <see cref="CellKind"/> of a definition; cells added after the enum have none.</summary>
    public static CellKind KindOf(CellDefinition cell) => (cell.Options.IsEmpty ? cell.Name : cell.ToString()) switch
    {
        "gru" => CellKind.Gru,
        "gru_reset_before" => CellKind.GruResetBefore,
        "lstm" => CellKind.Lstm,
        "rnn_tanh" => CellKind.RnnTanh,
        "rnn_relu" => CellKind.RnnRelu,
        _ => throw new NotSupportedException($"cell '{cell}' has no CellKind (use the layer's Cell)"),
    };

    /// <summary>G of <paramref name="kind"/>.</summary>
    public static int Gates(CellKind kind) => Get(kind).Gates;

    /// <summary>S of <paramref name="kind"/>.</summary>
    public static int SavedWidth(CellKind kind) => Get(kind).SavedWidth;

    /// <summary>Whether <paramref name="kind"/> carries a second state c.</summary>
    public static bool HasCellState(CellKind kind) => Get(kind).States > 1;
}
