using Google.Protobuf;
using Gyre.Data;
using Gyre.IO.Onnx;
using Gyre.Layers;
using Gyre.Tensors;
using Gyre.Training;
using Onnx;
using static Gyre.IO.Onnx.OnnxProto;

namespace Gyre.Forecasting;

/// <summary>
/// Exports a whole <see cref="Forecaster"/> to ONNX, raw inputs to raw forecasts, in every configuration the
/// forecaster trains: scaler → [channel independence] → [instance normalisation] → [patch embedding] → recurrent
/// encoder → direct head or recurrent decoder → [inverse instance normalisation] → inverse scaler.
/// <para>Inputs, named after the training columns (dimension names B = batch, L = lookback, N = horizon):
/// each target and past covariate <c>[B, L]</c> float, its last L values; each known-future covariate
/// <c>[B, L + N]</c> float, its last L values then its values over the horizon; with calendar features, the time
/// column <c>[B, L + N]</c> int64, each of those steps' clock time as seconds since 1970-01-01T00:00 (the data's own
/// clock, as read from the file: hour, weekday, day of month, month and day of year are computed in the graph).</para>
/// <para>Outputs: <c>forecast</c> <c>[B, N, C]</c> float in the targets' units, targets in training order (the
/// median quantile with quantile loss); with quantiles also <c>quantiles</c> <c>[B, N, C, Q]</c>.</para>
/// <para>The recurrent stacks are <see cref="OnnxExport"/>'s graphs (native GRU/LSTM/RNN nodes, or a Scan over
/// the cell's step), embedded under the prefixes <c>encoder/</c> and <c>decoder/</c>; the decoder's initial
/// states are the encoder's final states. Everything else is plain ONNX operators.</para>
/// </summary>
public static class ForecasterOnnx
{
    /// <summary>Writes the graph to <paramref name="path"/> (a temporary file renamed at the end).</summary>
    public static void Export(Forecaster f, string path, int opset = 14) => OnnxExport.WriteAtomically(path, ToBytes(f, opset));

    public static byte[] ToBytes(Forecaster f, int opset = 14) => Build(f, opset).ToByteArray();

    /// <summary>Why <paramref name="f"/> cannot be exported (one line), or null when it can: only a cell whose step has no
    /// ONNX form is refused (every option the forecaster trains with exports).</summary>
    public static string? Unsupported(Forecaster f)
    {
        try
        {
            Build(f, 14);
            return null;
        }
        catch (NotSupportedException e)
        {
            return $"ONNX export of this forecaster is not supported: {e.Message}";
        }
    }

    /// <summary>The graph input names, in order: the columns (calendar columns excepted), then the time column when
    /// the model has calendar features.</summary>
    public static IReadOnlyList<string> InputNames(Forecaster f)
    {
        var info = f.DataInfo;
        var names = info.Columns.Take(info.Columns.Length - info.CalendarCount).ToList();
        if (info.CalendarCount > 0) names.Add(info.TimeColumn!);
        return names;
    }

    /// <summary>One line describing the graph's inputs and outputs (what `gyre export` prints).</summary>
    public static string Describe(Forecaster f)
    {
        var info = f.DataInfo;
        int l = f.Options.Lookback, n = f.Options.Horizon, c = info.TargetCount, k = info.Columns.Length - info.CalendarCount;
        int firstFuture = info.TargetCount + info.PastCount;
        var inputs = info.Columns.Take(k).Select((name, j) => $"{name} [batch, {(j >= firstFuture ? $"{l}+{n}" : l.ToString(System.Globalization.CultureInfo.InvariantCulture))}]").ToList();
        if (info.CalendarCount > 0) inputs.Add($"{info.TimeColumn} [batch, {l}+{n}] int64 seconds since 1970-01-01");
        string outputs = $"forecast [batch, {n}, {c}]" + (f.Options.Quantiles.Length > 0 ? $", quantiles [batch, {n}, {c}, {f.Options.Quantiles.Length}]"
            : f.Distribution is { } d ? $", distribution [batch, {n}, {c}, {f.Network.Config.QuantileCount}] ({Distributions.Name(d)}: {DistributionLayout(d)})" : "");
        return $"inputs {string.Join(", ", inputs)}; outputs {outputs}";
    }

    internal static ModelProto Build(Forecaster f, int opset)
    {
        if (opset is not (14 or 22)) throw new ArgumentException($"ONNX export: opset {opset} is not supported (use 14 or 22)");
        var o = f.Options;
        // The exported graph reads one window from zero states; a stateful forecaster reads its series from the start.
        if (o.Stateful) throw new NotSupportedException("a stateful forecaster (--stateful) reads each series from its start with its state carried; the graph reads one window from zero states");
        var info = f.DataInfo;
        var net = f.Network;
        var cfg = net.Config;
        var scaler = f.Scaler;
        int L = o.Lookback, N = o.Horizon, K = info.Columns.Length, C = info.TargetCount, W = info.CalendarCount;
        int F = info.FutureCount, U = F - W, Q = cfg.QuantileCount, H = cfg.Hidden;
        int firstFuture = C + info.PastCount;
        int cm = f.ModelTargets;                              // targets per network row: 1 when channel-independent
        var g = new Graph(new GraphProto { Name = "gyre_forecaster" }, opset);
        const string B = "batch";

        // ---- raw inputs → x [B, L, K] and future [B, N, F] in column order (targets, past, future, calendar)
        var lookbackParts = new List<string>();
        var futureParts = new List<string>();
        for (int j = 0; j < K - W; j++)
        {
            string name = info.Columns[j];
            bool known = j >= firstFuture;
            g.Proto.Input.Add(FloatValue(name, known ? $"column '{name}': its last {L} values, then its {N} values over the horizon" : $"column '{name}': its last {L} values",
                B, known ? L + N : L));
            string col = g.Op("Unsqueeze", [name, g.Longs(2)]);                                  // [B, T, 1]
            lookbackParts.Add(known ? g.Slice(col, 1, 0, L) : col);
            if (known) futureParts.Add(g.Slice(col, 1, L, L + N));
        }
        if (W > 0)
        {
            var t = g.Proto.Input;
            string time = info.TimeColumn!;
            t.Add(LongValue(time, $"time column '{time}': clock time of the last {L} steps and the {N} horizon steps, seconds since 1970-01-01T00:00", B, L + N));
            string cal = CalendarFeatures(g, time, Calendar.Parse(o.Calendar));                  // [B, L + N, W]
            lookbackParts.Add(g.Slice(cal, 1, 0, L));
            futureParts.Add(g.Slice(cal, 1, L, L + N));
        }
        string rawX = lookbackParts.Count == 1 ? lookbackParts[0] : g.Op("Concat", [.. lookbackParts], Int("axis", 2));   // [B, L, K]
        string x = g.Op("Div", [g.Op("Sub", [rawX, g.Floats(scaler.Center.AsSpan(0, K), K)]), g.Floats(scaler.Scale.AsSpan(0, K), K)]);
        string? future = null;                                                                    // [B, N, F]
        if (F > 0)
        {
            string rawF = futureParts.Count == 1 ? futureParts[0] : g.Op("Concat", [.. futureParts], Int("axis", 2));
            future = g.Op("Div", [g.Op("Sub", [rawF, g.Floats(scaler.Center.AsSpan(K - F, F), F)]), g.Floats(scaler.Scale.AsSpan(K - F, F), F)]);
        }

        // ---- channel independence: row b·C + c holds target c with every covariate: [B·C, L, 1 + K − C]
        if (o.ChannelIndependent)
        {
            string targets = g.Op("Reshape", [g.Op("Transpose", [g.Slice(x, 2, 0, C)], Ints("perm", 0, 2, 1)), g.Longs(-1, L, 1)]);
            if (K > C)
            {
                string covariates = g.Slice(x, 2, C, K);                                            // [B, L, X]
                string tiled = g.Op("Tile", [g.Op("Unsqueeze", [covariates, g.Longs(1)]), g.Longs(1, C, 1, 1)]);
                x = g.Op("Concat", [targets, g.Op("Reshape", [tiled, g.Longs(-1, L, K - C)])], Int("axis", 2));
            }
            else x = targets;
            if (future != null)
                future = g.Op("Reshape", [g.Op("Tile", [g.Op("Unsqueeze", [future, g.Longs(1)]), g.Longs(1, C, 1, 1)]), g.Longs(-1, N, F)]);
        }
        int kNet = o.ChannelIndependent ? 1 + K - C : K;

        // ---- instance normalisation of the target columns: (x − μ)/σ per row and column, σ = √(var + 1e-5)
        string? mean = null, std = null;                                                           // [B', 1, cm]
        if (o.Normalization == "revin")
        {
            string tx = g.Slice(x, 2, 0, cm);
            mean = g.ReduceMean(tx, 1);
            string centered = g.Op("Sub", [tx, mean]);
            std = g.Op("Sqrt", [g.Op("Add", [g.ReduceMean(g.Op("Mul", [centered, centered]), 1), g.Floats([1e-5f])])]);
            string normalized = g.Op("Div", [centered, std]);
            x = kNet > cm ? g.Op("Concat", [normalized, g.Slice(x, 2, cm, kNet)], Int("axis", 2)) : normalized;
        }
        else if (o.Normalization == "last")
        {
            // Last-value normalisation: x − x_L per row and target column (σ = 1, so only the level comes back).
            string tx = g.Slice(x, 2, 0, cm);
            mean = g.Slice(tx, 1, L - 1, L);
            string normalized = g.Op("Sub", [tx, mean]);
            x = kNet > cm ? g.Op("Concat", [normalized, g.Slice(x, 2, cm, kNet)], Int("axis", 2)) : normalized;
        }

        // ---- patch embedding: the last S·P steps as S tokens of P·K' values, each mapped to H
        string encIn = x;
        if (net.PatchEmbedding is { } patch)
        {
            int p = cfg.Patch, s = cfg.PatchCount;
            string tokens = g.Op("Reshape", [g.Slice(x, 1, L - s * p, L), g.Longs(-1, s, p * kNet)]);
            encIn = g.Linear(tokens, patch, "patch");
            if (cfg.Decoder == "pmf") encIn = g.Op("Relu", [encIn]);                                // SegRNN's segment embedding
        }

        // ---- encoder: final states [layers, B', H]; the head reads the last layer's h
        var encoder = net.Encoder;
        var stack = net.EncoderStack;
        var encOptions = new OnnxExportOptions
        {
            Opset = opset, MemoryLayer = stack.MemoryLayer,
            MemoryUnits = [.. stack.MemoryUnits.Select(u => new MemoryUnitExport(u.Weight.Value, u.Bias.Value))],
        };
        var encGraph = g.Embed(OnnxExport.Build(encoder.ToSpec(), encoder.StateDict(), encOptions).Graph, "encoder/",
            new Dictionary<string, string> { ["x"] = encIn });
        var stateOut = StateNames(encoder, output: true);
        var encFinal = stateOut.Select(encGraph).ToArray();                                        // [layers, B', W_j] each
        if (cfg.Gmu > 0)
        {
            // As ForecastNetwork: the last GMU's output at the last step stands in for the top layer's final h.
            string zLast = g.Op("Unsqueeze", [g.Op("Gather", [encGraph("y"), g.Scalar(cfg.PatchCount - 1)], Int("axis", 1)), g.Longs(0)]);   // [1, B', W_0]
            encFinal[0] = cfg.Layers == 1 ? zLast : g.Op("Concat", [g.Slice(encFinal[0], 0, 0, cfg.Layers - 1), zLast], Int("axis", 0));
        }
        string hLast = g.Op("Gather", [encFinal[0], g.Scalar(cfg.Layers - 1)], Int("axis", 0));   // [B', H]

        string pred;                                                                                // [B', N, cm, Q]
        if (net.Decoder is not { } decoder)
        {
            string headIn = future is null ? hLast : g.Op("Concat", [hLast, g.Op("Reshape", [future, g.Longs(-1, N * F)])], Int("axis", 1));
            pred = g.Op("Reshape", [g.Linear(headIn, net.Head, "head"), g.Longs(-1, N, cm, Q)]);
        }
        else if (cfg.Decoder == "pmf")
        {
            // One decoder step per (row, segment) from the row's final encoder states, reading
            // [position_m ‖ channel_c ‖ the segment's known-future values, zero past the horizon].
            int m = cfg.Segments, e = cfg.EmbeddingWidth, ps = cfg.SegmentLength, rows = o.ChannelIndependent ? C : 1;
            var named = net.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Value);
            var pos = named["embedding.position"].ReadOnlySpan;                                    // [M, E]
            var chan = named["embedding.channel"].ReadOnlySpan;                                    // [Channels, E]
            var table = new float[rows * m * 2 * e];                                               // [R·M, 2E], row r·M + m
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < m; j++)
                {
                    pos.Slice(j * e, e).CopyTo(table.AsSpan((r * m + j) * 2 * e));
                    chan.Slice(r * e, e).CopyTo(table.AsSpan((r * m + j) * 2 * e + e));
                }
            string windows = g.Op("Concat", [g.Slice(g.Op("Shape", [rawX]), 0, 0, 1), g.Longs(1)], Int("axis", 0));   // [B, 1]
            string decIn = g.Op("Reshape", [g.Op("Tile", [g.Floats(table, rows * m, 2 * e), windows]), g.Longs(-1, 1, 2 * e)]);  // [B'·M, 1, 2E]
            if (future != null)
            {
                string padded = m * ps > N ? g.Op("Pad", [future, g.Longs(0, 0, 0, 0, m * ps - N, 0)]) : future;   // [B', M·P_out, F]
                decIn = g.Op("Concat", [decIn, g.Op("Reshape", [padded, g.Longs(-1, 1, ps * F)])], Int("axis", 2));
            }
            var inputs = new Dictionary<string, string> { ["x"] = decIn };
            var stateIn = StateNames(decoder, output: false);
            for (int j = 0; j < stateIn.Length; j++)                                               // [K, B', H] → [K, B'·M, H]
                inputs[stateIn[j]] = g.Op("Reshape", [g.Op("Tile", [g.Op("Unsqueeze", [encFinal[j], g.Longs(2)]), g.Longs(1, 1, m, 1)]), g.Longs(cfg.Layers, -1, H)]);
            var dec = g.Embed(OnnxExport.Build(decoder.ToSpec(), decoder.StateDict(), new OnnxExportOptions { Opset = opset, InitialStateInputs = true }).Graph,
                "decoder/", inputs);
            string segments = g.Linear(g.Op("Reshape", [dec("y"), g.Longs(-1, H)]), net.Head, "head");  // [B'·M, P_out·cm·Q]
            pred = g.Slice(g.Op("Reshape", [segments, g.Longs(-1, m * ps, cm, Q)]), 1, 0, N);
        }
        else
        {
            // [future ‖ 1] per horizon step; the constant column takes its batch size from h_last.
            string batchN1 = g.Op("Concat", [g.Slice(g.Op("Shape", [hLast]), 0, 0, 1), g.Longs(N, 1)], Int("axis", 0));
            string ones = g.Op("ConstantOfShape", [batchN1], new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = FloatTensor("value", [1f], 1) });
            string decIn = future is null ? ones : g.Op("Concat", [future, ones], Int("axis", 2));     // [B', N, F + 1]
            var inputs = new Dictionary<string, string> { ["x"] = decIn };
            var stateIn = StateNames(decoder, output: false);
            for (int j = 0; j < stateIn.Length; j++) inputs[stateIn[j]] = encFinal[j];
            var dec = g.Embed(OnnxExport.Build(decoder.ToSpec(), decoder.StateDict(), new OnnxExportOptions { Opset = opset, InitialStateInputs = true }).Graph,
                "decoder/", inputs);
            pred = g.Op("Reshape", [g.Linear(dec("y"), net.Head, "head"), g.Longs(-1, N, cm, Q)]);
        }

        string Per(string v) => g.Op("Unsqueeze", [v, g.Longs(3)]);                                 // [B', 1, cm, 1]
        var distribution = f.Distribution;
        if (distribution is { } kind)
        {
            // Raw outputs → natural parameters (Distributions.ToNatural), then the location moves with the window's
            // level and the scale with its σ (ν unchanged), as Forecaster.RunNetwork does.
            var parts = Enumerable.Range(0, Q).Select(r => g.Slice(pred, 3, r, r + 1)).ToArray();
            string Positive(string u) => g.Op("Add", [g.Op("Softplus", [u]), g.Floats([Distributions.Epsilon])]);
            if (kind == LossKind.NegBinomial) parts[0] = Positive(parts[0]);
            parts[1] = Positive(parts[1]);
            if (kind == LossKind.StudentT) parts[2] = g.Op("Add", [g.Op("Softplus", [parts[2]]), g.Floats([2f])]);
            if (mean != null)
            {
                parts[0] = g.Op("Add", [std is null ? parts[0] : g.Op("Mul", [parts[0], Per(std)]), Per(mean)]);
                if (std != null) parts[1] = g.Op("Mul", [parts[1], Per(std)]);
            }
            pred = g.Op("Concat", [.. parts], Int("axis", 3));
        }
        else if (mean != null)
            pred = g.Op("Add", [std is null ? pred : g.Op("Mul", [pred, Per(std)]), Per(mean)]);
        if (o.ChannelIndependent)
            pred = g.Op("Transpose", [g.Op("Reshape", [pred, g.Longs(-1, C, N, Q)])], Ints("perm", 0, 2, 1, 3));   // [B, N, C, Q]

        var scale = new float[C * Q];
        var center = new float[C * Q];
        for (int j = 0; j < C; j++)
            for (int r = 0; r < Q; r++)
            {
                // Point and quantile values map as values, and so does a distribution's location (or mean count,
                // as Predict reports it); its scale by the column's scale alone; ν and the dispersion not at all.
                bool location = distribution is null || r == 0;
                bool scaleOnly = distribution is LossKind.Gaussian or LossKind.StudentT && r == 1;
                scale[j * Q + r] = location || scaleOnly ? scaler.Scale[j] : 1f;
                center[j * Q + r] = location ? scaler.Center[j] : 0f;
            }
        string raw = g.Op("Add", [g.Op("Mul", [pred, g.Floats(scale, C, Q)]), g.Floats(center, C, Q)]);   // [B, N, C, Q]

        g.Proto.Node.Add(Node("Gather", "forecast", [raw, g.Scalar(distribution is null ? f.MedianQuantile() : 0)], ["forecast"], Int("axis", 3)));
        g.Proto.Output.Add(FloatValue("forecast", $"forecasts in the targets' units [batch, horizon, targets], targets {string.Join(", ", info.Columns.Take(C))}"
            + (o.Quantiles.Length > 0 ? $", the quantile {o.Quantiles[f.MedianQuantile()]}" : distribution is { } d ? $", the {Distributions.Name(d)} distribution's mean" : ""), B, N, C));
        if (distribution is { } dist)
        {
            g.Proto.Node.Add(Node("Identity", "distribution", [raw], ["distribution"]));
            g.Proto.Output.Add(FloatValue("distribution", $"{Distributions.Name(dist)} parameters [batch, horizon, targets, {Q}]: " + DistributionLayout(dist), B, N, C, Q));
        }
        if (o.Quantiles.Length > 0)
        {
            g.Proto.Node.Add(Node("Identity", "quantiles", [raw], ["quantiles"]));
            g.Proto.Output.Add(FloatValue("quantiles", $"quantile forecasts [batch, horizon, targets, quantiles], levels {string.Join(", ", o.Quantiles)}", B, N, C, Q));
        }

        g.Proto.DocString = $"Gyre forecaster: {o.Cell} encoder ({o.Layers}×{o.Hidden}), lookback {L}, horizon {N}"
            + (o.Normalization == "revin" ? ", instance norm" : o.Normalization == "last" ? ", last-value norm" : "") + (cfg.Patch > 1 ? $", patches of {cfg.Patch}" : "") + (o.ChannelIndependent ? ", channel-independent" : "")
            + (cfg.Decoder != "direct" ? $", {cfg.Decoder} decoder" : "") + $"; {Describe(f)}";
        var model = new ModelProto
        {
            IrVersion = opset >= 21 ? 10 : 7,
            ProducerName = "gyre",
            ProducerVersion = typeof(ForecasterOnnx).Assembly.GetName().Version?.ToString() ?? "",
            DocString = g.Proto.DocString,
            Graph = g.Proto,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        model.MetadataProps.Add(new StringStringEntryProto { Key = "gyre.format", Value = "1" });
        model.MetadataProps.Add(new StringStringEntryProto { Key = "gyre.job", Value = Forecaster.Job });
        return model;
    }

    /// <summary>What the last axis of the distribution output holds, in the targets' units.</summary>
    public static string DistributionLayout(LossKind kind) => kind switch
    {
        LossKind.Gaussian => "μ (mean), σ (standard deviation)",
        LossKind.StudentT => "μ (location), σ (scale), ν (degrees of freedom)",
        _ => "μ (mean count), α (dispersion; variance μ + αμ²)",
    };

    /// <summary>The state inputs (h0, c0 / &lt;state&gt;0) or outputs (h_n, c_n / &lt;state&gt;_n) <see cref="OnnxExport"/> gives a layer of this cell.</summary>
    private static string[] StateNames(RecurrentLayer layer, bool output)
    {
        var names = layer.Cell.StateNames;
        return [.. Enumerable.Range(0, layer.Cell.States).Select(j => j == 0 ? (output ? "h_n" : "h0") : output ? $"{names[j]}_n" : $"{names[j]}0")];
    }

    /// <summary>
    /// Calendar features of an int64 [B, T] time input (seconds since 1970-01-01) as [B, T, W] floats in
    /// <see cref="Calendar.Encode"/>'s order: for each selected feature with phase p, (sin 2πp, cos 2πp). The civil
    /// date comes from the day number by the proleptic-Gregorian days-to-civil algorithm, in int64 arithmetic.
    /// </summary>
    private static string CalendarFeatures(Graph g, string time, CalendarFeatures features)
    {
        string days = g.FloorDiv(time, 86400);
        string minuteOfDay = g.Op("Div", [g.Op("Sub", [time, g.Op("Mul", [days, g.Long(86400)])]), g.Long(60)]);
        // Civil date: shift the era to start on 0000-03-01 so that leap days fall at the end of a year.
        string z = g.Op("Add", [days, g.Long(719468)]);
        string era = g.FloorDiv(z, 146097);
        string doe = g.Op("Sub", [z, g.Op("Mul", [era, g.Long(146097)])]);                        // [0, 146096]
        string yoe = g.Op("Div", [g.Op("Sub", [g.Op("Add", [g.Op("Sub", [doe, g.Op("Div", [doe, g.Long(1460)])]), g.Op("Div", [doe, g.Long(36524)])]),
            g.Op("Div", [doe, g.Long(146096)])]), g.Long(365)]);                                     // [0, 399]
        string doyMarch = g.Op("Sub", [doe, g.Op("Sub", [g.Op("Add", [g.Op("Mul", [yoe, g.Long(365)]), g.Op("Div", [yoe, g.Long(4)])]), g.Op("Div", [yoe, g.Long(100)])])]);
        string mp = g.Op("Div", [g.Op("Add", [g.Op("Mul", [doyMarch, g.Long(5)]), g.Long(2)]), g.Long(153)]);   // March = 0
        string day = g.Op("Add", [g.Op("Sub", [doyMarch, g.Op("Div", [g.Op("Add", [g.Op("Mul", [mp, g.Long(153)]), g.Long(2)]), g.Long(5)])]), g.Long(1)]);
        string janFeb = g.Op("GreaterOrEqual", [mp, g.Long(10)]);
        string month = g.Op("Where", [janFeb, g.Op("Sub", [mp, g.Long(9)]), g.Op("Add", [mp, g.Long(3)])]);   // 1..12
        string year = g.Op("Add", [g.Op("Add", [yoe, g.Op("Mul", [era, g.Long(400)])]), g.Op("Cast", [janFeb], Int("to", (long)TensorProto.Types.DataType.Int64))]);
        string Divides(long d) => g.Op("Equal", [g.Op("Mod", [year, g.Long(d)]), g.Long(0)]);
        string leapBool = g.Op("Or", [g.Op("And", [Divides(4), g.Op("Not", [Divides(100)])]), Divides(400)]);
        string leap = g.Op("Cast", [leapBool], Int("to", (long)TensorProto.Types.DataType.Int64));
        string monthIndex = g.Op("Sub", [month, g.Long(1)]);
        string afterFeb = g.Op("Cast", [g.Op("Greater", [month, g.Long(2)])], Int("to", (long)TensorProto.Types.DataType.Int64));
        string isFeb = g.Op("Cast", [g.Op("Equal", [month, g.Long(2)])], Int("to", (long)TensorProto.Types.DataType.Int64));

        var parts = new List<string>();
        void Phase(string numerator, string denominator)
        {
            string p = g.Op("Div", [g.Op("Cast", [numerator], Int("to", (long)TensorProto.Types.DataType.Double)),
                g.Op("Cast", [denominator], Int("to", (long)TensorProto.Types.DataType.Double))]);
            string angle = g.Op("Mul", [p, g.Double(2 * Math.PI)]);
            foreach (var op in new[] { "Sin", "Cos" })
                parts.Add(g.Op("Unsqueeze", [g.Op("Cast", [g.Op(op, [angle])], Int("to", (long)TensorProto.Types.DataType.Float)), g.Longs(2)]));
        }
        if (features.HasFlag(Data.CalendarFeatures.Hour)) Phase(minuteOfDay, g.Long(1440));
        if (features.HasFlag(Data.CalendarFeatures.DayOfWeek)) Phase(g.Op("Mod", [g.Op("Add", [days, g.Long(3)]), g.Long(7)]), g.Long(7));   // 1970-01-01 was a Thursday
        if (features.HasFlag(Data.CalendarFeatures.DayOfMonth))
        {
            string length = g.Op("Add", [g.Op("Gather", [g.Longs(31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31), monthIndex], Int("axis", 0)), g.Op("Mul", [isFeb, leap])]);
            Phase(g.Op("Sub", [day, g.Long(1)]), length);
        }
        if (features.HasFlag(Data.CalendarFeatures.Month)) Phase(monthIndex, g.Long(12));
        if (features.HasFlag(Data.CalendarFeatures.DayOfYear))
        {
            string before = g.Op("Gather", [g.Longs(0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334), monthIndex], Int("axis", 0));
            string dayOfYear0 = g.Op("Add", [g.Op("Add", [before, g.Op("Sub", [day, g.Long(1)])]), g.Op("Mul", [afterFeb, leap])]);
            Phase(dayOfYear0, g.Op("Add", [g.Long(365), leap]));
        }
        return parts.Count == 1 ? parts[0] : g.Op("Concat", [.. parts], Int("axis", 2));
    }

    private static ValueInfoProto LongValue(string name, string doc, params object[] dims)
    {
        var v = FloatValue(name, doc, dims);
        v.Type.TensorType.ElemType = Int64Type;
        return v;
    }

    /// <summary>A graph under construction: every node gets a fresh output name under "fc/", constants become initializers.</summary>
    private sealed class Graph(GraphProto proto, int opset)
    {
        private int _next;
        public GraphProto Proto { get; } = proto;

        public string Op(string op, string[] inputs, params AttributeProto[] attributes)
        {
            string output = $"fc/{op.ToLowerInvariant()}_{_next++}";
            Proto.Node.Add(Node(op, output, inputs, [output], attributes));
            return output;
        }

        private string Constant(TensorProto t)
        {
            t.Name = $"fc/const_{_next++}";
            Proto.Initializer.Add(t);
            return t.Name;
        }

        public string Longs(params long[] v) => Constant(Int64Tensor("", v, v.Length));
        public string Long(long v) => Constant(Int64Tensor("", [v]));
        public string Scalar(long v) => Long(v);
        public string Floats(ReadOnlySpan<float> v, params long[] dims) => Constant(FloatTensor("", v, dims.Length == 0 ? [v.Length] : dims));
        public string Double(double v)
        {
            var t = new TensorProto { DataType = (int)TensorProto.Types.DataType.Double };
            t.DoubleData.Add(v);
            return Constant(t);
        }

        /// <summary>[start, end) of <paramref name="axis"/>.</summary>
        public string Slice(string value, long axis, long start, long end) => Op("Slice", [value, Longs(start), Longs(end), Longs(axis)]);

        /// <summary>Mean over <paramref name="axis"/>, kept as a dimension of 1 (axes an attribute before opset 18, an input from it).</summary>
        public string ReduceMean(string value, long axis) =>
            opset >= 18 ? Op("ReduceMean", [value, Longs(axis)], Int("keepdims", 1)) : Op("ReduceMean", [value], Ints("axes", axis), Int("keepdims", 1));

        /// <summary>⌊value / d⌋ for int64 (ONNX's integer Div truncates toward zero).</summary>
        public string FloorDiv(string value, long d)
        {
            string q = Op("Div", [value, Long(d)]);
            string negativeRest = Op("Less", [Op("Sub", [value, Op("Mul", [q, Long(d)])]), Long(0)]);
            return Op("Where", [negativeRest, Op("Sub", [q, Long(1)]), q]);
        }

        /// <summary>v·Wᵀ + b over the last axis, W [O, I] stored transposed as [I, O].</summary>
        public string Linear(string value, Linear layer, string name)
        {
            int o = layer.OutputSize, i = layer.InputSize;
            var w = layer.Weight.Value.ReadOnlySpan;
            var wt = new float[i * o];
            for (int r = 0; r < o; r++)
                for (int c = 0; c < i; c++) wt[c * o + r] = w[r * i + c];
            string y = Op("MatMul", [value, Constant(FloatTensor("", wt, i, o))]);
            return layer.Bias is { } b ? Op("Add", [y, Constant(FloatTensor("", b.Value.ReadOnlySpan, o))]) : y;
        }

        /// <summary>
        /// Copies <paramref name="sub"/>'s nodes and initializers into this graph with every name under
        /// <paramref name="prefix"/> (Scan bodies included, so their outer-scope references follow), its inputs wired to
        /// <paramref name="inputs"/>; returns the new name of any of its values.
        /// </summary>
        public Func<string, string> Embed(GraphProto sub, string prefix, IReadOnlyDictionary<string, string> inputs)
        {
            foreach (var i in sub.Input)
                if (!inputs.ContainsKey(i.Name)) throw new InvalidOperationException($"embedded graph input '{i.Name}' is not wired");
            string Rename(string name) => name.Length == 0 ? "" : inputs.TryGetValue(name, out var to) ? to : prefix + name;
            foreach (var t in sub.Initializer)
            {
                var copy = t.Clone();
                copy.Name = Rename(t.Name);
                Proto.Initializer.Add(copy);
            }
            foreach (var n in sub.Node) Proto.Node.Add(RenameNode(n, Rename));
            return Rename;
        }

        private static NodeProto RenameNode(NodeProto n, Func<string, string> rename)
        {
            var copy = n.Clone();
            copy.Name = rename(n.Name);
            for (int i = 0; i < copy.Input.Count; i++) copy.Input[i] = rename(copy.Input[i]);
            for (int i = 0; i < copy.Output.Count; i++) copy.Output[i] = rename(copy.Output[i]);
            foreach (var a in copy.Attribute)
            {
                if (a.G != null) RenameGraph(a.G, rename);
                foreach (var body in a.Graphs) RenameGraph(body, rename);
            }
            return copy;
        }

        private static void RenameGraph(GraphProto body, Func<string, string> rename)
        {
            // Symbolic dimensions are names too: ONNX Runtime holds every "batch" in a model to one size, and a
            // channel-independent network's batch is B·C rows.
            foreach (var v in body.Input.Concat(body.Output).Concat(body.ValueInfo))
            {
                v.Name = rename(v.Name);
                if (v.Type?.TensorType?.Shape is { } shape)
                    foreach (var d in shape.Dim)
                        if (d.DimParam.Length > 0) d.DimParam = rename(d.DimParam);
            }
            foreach (var t in body.Initializer) t.Name = rename(t.Name);
            var nodes = body.Node.Select(n => RenameNode(n, rename)).ToList();
            body.Node.Clear();
            body.Node.AddRange(nodes);
        }
    }
}
