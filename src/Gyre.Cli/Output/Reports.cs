using System.Text.Json;
using System.Text.Json.Nodes;
using Gyre.Forecasting;
using Spectre.Console;

namespace Gyre.Cli.Output;

/// <summary>Evaluation tables (Spectre.Console) and JSON for scripts.</summary>
internal static class Reports
{
    internal static readonly JsonSerializerOptions Snake = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static string Json(EvaluationReport r, Dictionary<string, object> extra)
    {
        var node = JsonSerializer.SerializeToNode(r, Snake)!.AsObject();
        foreach (var (k, v) in extra) node[k] = JsonValue.Create(v);
        return node.ToJsonString(Snake);
    }

    /// <summary>Forecast rows for scripts: {targets, quantiles, rows: [{series, step, time, values: {target: v}, quantiles: {target: {level: v}}}], …extra}.</summary>
    public static string ForecastJson(ForecastTable table, string offsetSuffix, Dictionary<string, object?> extra)
    {
        string timeFormat = Gyre.Data.TimeParsing.ColumnFormat(table.Rows.Where(r => r.Time is not null).Select(r => r.Time!.Value));
        var rows = new JsonArray();
        foreach (var row in table.Rows)
        {
            var values = new JsonObject();
            var quantiles = new JsonObject();
            for (int c = 0; c < table.Targets.Length; c++)
            {
                values[table.Targets[c]] = Finite(row.Values[c]);
                if (table.QuantileLevels.Length == 0) continue;
                var levels = new JsonObject();
                for (int q = 0; q < table.QuantileLevels.Length; q++)
                    levels[table.QuantileLevels[q].ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)] = Finite(row.Quantiles[c][q]);
                quantiles[table.Targets[c]] = levels;
            }
            var o = new JsonObject { ["series"] = row.SeriesId, ["step"] = row.Step };
            if (row.Time is { } t) o["time"] = Gyre.Data.TimeParsing.Format(t, timeFormat, offsetSuffix);
            o["values"] = values;
            if (table.QuantileLevels.Length > 0) o["quantiles"] = quantiles;
            if (row.Paths is { } paths)
            {
                var byTarget = new JsonObject();
                for (int c = 0; c < table.Targets.Length; c++)
                    byTarget[table.Targets[c]] = new JsonArray(paths[c].Select(v => (JsonNode?)Finite(v)).ToArray());
                o["paths"] = byTarget;
            }
            rows.Add(o);
        }
        var node = new JsonObject
        {
            ["targets"] = new JsonArray(table.Targets.Select(t => (JsonNode?)JsonValue.Create(t)).ToArray()),
            ["quantiles"] = new JsonArray(table.QuantileLevels.Select(q => (JsonNode?)JsonValue.Create(q)).ToArray()),
            ["rows"] = rows,
        };
        foreach (var (k, v) in extra) if (v is not null) node[k] = JsonValue.Create(v);
        return node.ToJsonString();
    }

    // JSON has no NaN: a non-finite forecast (a diverged model) is written as null.
    private static JsonNode? Finite(float v) => float.IsFinite(v) ? JsonValue.Create(v) : null;

    public static void Table(CliContext ctx, EvaluationReport r)
    {
        // The caption as its own line: a table title wraps to the table's width.
        ctx.Out.WriteLine($"{r.Protocol} metrics ({r.Scale} scale): {r.TestWindows} windows, horizon {r.Horizon}, lookback {r.Lookback}, season {r.Season}{(r.SeasonReason is { } why ? $" ({why})" : "")}");
        var t = new Table();
        t.AddColumn("metric");
        t.AddColumn(new TableColumn("gyre").RightAligned());
        t.AddColumn(new TableColumn("naive").RightAligned());
        t.AddColumn(new TableColumn("seasonal naive").RightAligned());
        void Row(string name, Func<MetricSet, double?> get)
        {
            var cells = new[] { r.Metrics, r.Baselines["naive"], r.Baselines["seasonal_naive"] }.Select(m => get(m) is { } v ? v.ToString("G5") : "—");
            t.AddRow([name, .. cells]);
        }
        Row("MSE", m => m.Mse); Row("RMSE", m => m.Rmse); Row("MAE", m => m.Mae);
        Row("MAPE %", m => m.Mape); Row("sMAPE %", m => m.Smape); Row("MASE", m => m.Mase);
        if (r.Metrics.Pinball != null)
        {
            Row("pinball", m => m.Pinball); Row("CRPS", m => m.Crps);
            Row($"coverage (nominal {r.NominalCoverage:P0})", m => m.Coverage);
        }
        ctx.Console.Write(t);
    }

    public static string InspectJson(Forecaster f)
    {
        var node = new JsonObject
        {
            ["options"] = JsonSerializer.SerializeToNode(f.Options, Snake),
            ["network"] = JsonSerializer.SerializeToNode(f.Network.Config, Snake),
            ["data"] = JsonSerializer.SerializeToNode(f.DataInfo, Snake),
            ["scaler"] = JsonSerializer.SerializeToNode(f.Scaler.ToDto(), Snake),
            ["parameters"] = f.Network.ParameterCount(),
            ["history"] = JsonSerializer.SerializeToNode(f.History, Snake),
        };
        return node.ToJsonString(Snake);
    }

    public static void Inspect(CliContext ctx, Forecaster f)
    {
        var o = f.Options;
        // Cells are Spectre markup: user text (column names, "[0.1, 0.5, 0.9]") must be escaped.
        static string E(string text) => Markup.Escape(text);
        var cfg = new Table().Title("model").AddColumn("setting").AddColumn("value");
        cfg.AddRow("cell", E($"{o.Cell} × {o.Layers} layer(s){Models.EncoderStack.Describe(o.Layers, o.Gmu, o.GmuMemory)}, hidden {o.Hidden}, decoder {o.Decoder}{(o.Patch > 1 ? $", patch {o.Patch}" : "")}"));
        cfg.AddRow("window", o.Stateful
            ? $"stateful: each series read from its start, forecasting {o.Horizon} steps from every step's state (trained in chunks of up to {o.ChunkFor(f.DataInfo.Season)} steps; evaluated at the origins of lookback {o.Lookback})"
            : $"lookback {o.Lookback}, horizon {o.Horizon}");
        cfg.AddRow("loss", E(o.Loss + (o.Quantiles.Length > 0 ? $" [{string.Join(", ", o.Quantiles)}]" : "")));
        cfg.AddRow("data", E($"{f.DataInfo.Source}: targets {string.Join(", ", f.DataInfo.Columns.Take(f.DataInfo.TargetCount))}; split {o.Split}; season {f.DataInfo.Season}"));
        cfg.AddRow("scaling", E($"{o.Scaler}{(o.InstanceNorm ? " + instance norm" : "")}{(o.Stateful && o.Normalization == "last" ? " + level-following head (forecast relative to the last observation)" : "")}{(o.ChannelIndependent ? ", channel-independent" : "")}"));
        cfg.AddRow("parameters", f.Network.ParameterCount().ToString());
        ctx.Console.Write(cfg);
        var sc = new Table().Title("scaler").AddColumn("column").AddColumn("center").AddColumn("scale");
        for (int i = 0; i < f.Scaler.Columns.Length; i++) sc.AddRow(E(f.Scaler.Columns[i]), f.Scaler.Center[i].ToString("G6"), f.Scaler.Scale[i].ToString("G6"));
        ctx.Console.Write(sc);
        var h = new Table().Title("training history").AddColumn("epoch").AddColumn("train loss").AddColumn("val loss").AddColumn("lr").AddColumn("best");
        foreach (var e in f.History) h.AddRow(e.Epoch.ToString(), e.TrainLoss.ToString("G5"), e.ValLoss?.ToString("G5") ?? "—", e.LearningRate.ToString("G3"), e.Best ? "*" : "");
        ctx.Console.Write(h);
    }
}
