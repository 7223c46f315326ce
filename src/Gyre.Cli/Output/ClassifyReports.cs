using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gyre.Classification;
using Gyre.Data;
using Spectre.Console;

namespace Gyre.Cli.Output;

/// <summary>Tables, JSON and prediction CSVs of `gyre classify`.</summary>
internal static class ClassifyReports
{
    private static string F(double v) => double.IsNaN(v) ? "—" : v.ToString("F3", CultureInfo.InvariantCulture);

    private static JsonNode? Num(double v) => double.IsFinite(v) ? JsonValue.Create(v) : null;

    /// <summary>
    /// {"metrics": {…}, "baselines": {name: headline metric}, "baseline_metrics": {name: {…}}, "classes": […],
    /// "confusion": [[…]], "per_class": [{class, precision, recall, support}], …extra}; null report: only extra.
    /// </summary>
    public static string Json(SequenceReport? r, Dictionary<string, object> extra)
    {
        var node = new JsonObject();
        if (r is not null)
        {
            node["task"] = r.Task == LabelKind.Regression ? "regression" : "classification";
            node["data"] = r.Data;
            node["cases"] = r.Cases;
            var m = new JsonObject();
            foreach (var (name, v) in r.Metrics) m[name] = Num(v);
            node["metrics"] = m;
            var b = new JsonObject();
            var bm = new JsonObject();
            foreach (var (name, metrics) in r.Baselines)
            {
                b[name] = Num(metrics.First(x => x.Metric == r.Headline).Value);
                var o = new JsonObject();
                foreach (var (metric, v) in metrics) o[metric] = Num(v);
                bm[name] = o;
            }
            node["baselines"] = b;
            node["baseline_metrics"] = bm;
            if (r.Confusion is { } c)
            {
                node["classes"] = new JsonArray(r.Classes.Select(k => (JsonNode)JsonValue.Create(k)).ToArray());
                var rows = new JsonArray();
                for (int i = 0; i < r.Classes.Length; i++)
                    rows.Add(new JsonArray(Enumerable.Range(0, r.Classes.Length).Select(j => (JsonNode)JsonValue.Create(c[i, j])).ToArray()));
                node["confusion"] = rows;
                node["per_class"] = new JsonArray(Enumerable.Range(0, r.Classes.Length).Select(k => (JsonNode)new JsonObject
                {
                    ["class"] = r.Classes[k], ["precision"] = Num(r.Precision[k]), ["recall"] = Num(r.Recall[k]), ["support"] = r.Support[k],
                }).ToArray());
            }
        }
        foreach (var (k, v) in extra) node[k] = JsonValue.Create(v);
        return node.ToJsonString();
    }

    public static void Table(CliContext ctx, SequenceReport r)
    {
        ctx.Out.WriteLine($"test metrics: {Path.GetFileName(r.Data)}, {r.Cases} cases");
        var t = new Table();
        t.AddColumn("metric");
        t.AddColumn(new TableColumn("gyre").RightAligned());
        foreach (var (name, _) in r.Baselines) t.AddColumn(new TableColumn(Markup.Escape(name.Replace('_', ' '))).RightAligned());
        foreach (var (name, value) in r.Metrics)
        {
            var cells = new List<string> { name.Replace('_', ' '), F(value) };
            foreach (var (_, metrics) in r.Baselines)
                cells.Add(metrics.FirstOrDefault(x => x.Metric == name) is { Metric: not null } hit ? F(hit.Value) : "—");
            t.AddRow(cells.ToArray());
        }
        ctx.Console.Write(t);
        if (r.Baselines.Count > 0)
        {
            var best = r.Baselines.Select(b => (b.Name, Value: b.Metrics.First(x => x.Metric == r.Headline).Value))
                .OrderBy(b => r.Task == LabelKind.Regression ? b.Value : -b.Value).First();
            double mine = r.Metric(r.Headline);
            bool beats = r.Task == LabelKind.Regression ? mine < best.Value : mine > best.Value;
            ctx.Out.WriteLine($"{r.Headline}: gyre {F(mine)}, best baseline {best.Name} {F(best.Value)} — {(beats ? "beats it" : "does not beat it")}");
        }
        if (r.Confusion is { } c && r.Classes.Length <= 20)
        {
            // The caption as its own line: a table title wraps to the table's width.
            ctx.Out.WriteLine("confusion (rows actual, columns predicted):");
            var ct = new Table();
            ct.AddColumn("");
            foreach (var k in r.Classes) ct.AddColumn(new TableColumn(Markup.Escape(k)).RightAligned());
            ct.AddColumn(new TableColumn("precision").RightAligned());
            ct.AddColumn(new TableColumn("recall").RightAligned());
            for (int i = 0; i < r.Classes.Length; i++)
                ct.AddRow([Markup.Escape(r.Classes[i]), .. Enumerable.Range(0, r.Classes.Length).Select(j => c[i, j].ToString(CultureInfo.InvariantCulture)),
                    F(r.Precision[i]), F(r.Recall[i])]);
            ctx.Console.Write(ct);
        }
    }

    /// <summary>case, label (predicted), p_&lt;class&gt;… — or case, prediction for regression; written to a temporary name and renamed.</summary>
    public static void WritePredictions(string path, SequenceClassifier f, SequenceSet set, SequencePredictions p)
    {
        static string Q(string s) => s.Contains(',') || s.Contains('"') ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;
        var sb = new StringBuilder();
        if (f.IsRegression)
        {
            sb.Append("case,prediction\n");
            for (int i = 0; i < set.Cases.Count; i++)
                sb.Append(Q(set.Cases[i].Id)).Append(',').Append(p.Values[i].ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        }
        else
        {
            int K = f.Classes.Length;
            sb.Append("case,label");
            foreach (var k in f.Classes) sb.Append(",p_").Append(Q(k));
            sb.Append('\n');
            for (int i = 0; i < set.Cases.Count; i++)
            {
                sb.Append(Q(set.Cases[i].Id)).Append(',').Append(Q(f.Classes[p.Classes[i]]));
                for (int k = 0; k < K; k++) sb.Append(',').Append(p.Probabilities[i * K + k].ToString("0.######", CultureInfo.InvariantCulture));
                sb.Append('\n');
            }
        }
        string full = Path.GetFullPath(path);
        string tmp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            File.WriteAllText(tmp, sb.ToString());
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    public static string InspectJson(SequenceClassifier f)
    {
        var node = new JsonObject
        {
            ["job"] = SequenceClassifier.Job,
            ["task"] = f.IsRegression ? "regression" : "classification",
            ["options"] = JsonSerializer.SerializeToNode(f.Options, SequenceClassifier.Json),
            ["spec"] = JsonSerializer.SerializeToNode(f.Model.Spec, SequenceClassifier.Json),
            ["classes"] = new JsonArray(f.Classes.Select(k => (JsonNode)JsonValue.Create(k)).ToArray()),
            ["channels"] = f.Channels,
            ["patch"] = f.Patch,
            ["normalize"] = SequenceNormalizer.Name(f.Normalizer.Mode),
            ["normalize_reason"] = f.NormalizeReason,
            ["train_data"] = f.TrainPath,
            ["parameters"] = f.Model.Parameters().Sum(p => p.Value.Length),
            ["history"] = JsonSerializer.SerializeToNode(f.History, SequenceClassifier.Json),
        };
        return node.ToJsonString();
    }

    public static void Inspect(CliContext ctx, SequenceClassifier f)
    {
        static string E(string text) => Markup.Escape(text);
        var s = f.Model.Spec;
        var t = new Table().Title("classify model").AddColumn("setting").AddColumn("value");
        t.AddRow("task", f.IsRegression ? "regression" : $"classification, {f.Classes.Length} classes: {E(string.Join(' ', f.Classes))}");
        t.AddRow("network", E($"{s.Cell} × {s.Layers} layer(s), hidden {s.Hidden}{(s.Bidirectional ? ", bidirectional" : "")}{Models.EncoderStack.Describe(s.Layers, s.Gmu, s.GmuMemory)}, pool {s.Pool}, head {s.Head}"));
        t.AddRow("input", $"{f.Channels} dimension(s), patches of {f.Patch} step(s) → {s.InputSize} inputs per encoder step");
        t.AddRow("normalize", E($"{SequenceNormalizer.Name(f.Normalizer.Mode)} ({f.NormalizeReason})"));
        t.AddRow("training data", E(f.TrainPath));
        t.AddRow("parameters", f.Model.Parameters().Sum(p => p.Value.Length).ToString(CultureInfo.InvariantCulture));
        ctx.Console.Write(t);
        var h = new Table().Title("training history").AddColumn("epoch").AddColumn("train loss").AddColumn("val loss").AddColumn("val acc").AddColumn("best");
        foreach (var e in f.History)
            h.AddRow(e.Epoch.ToString(CultureInfo.InvariantCulture), e.TrainLoss.ToString("G5", CultureInfo.InvariantCulture),
                e.ValLoss?.ToString("G5", CultureInfo.InvariantCulture) ?? "—",
                e.Metrics?.TryGetValue("accuracy", out var a) == true ? F(a) : "—", e.Best ? "*" : "");
        ctx.Console.Write(h);
    }
}
