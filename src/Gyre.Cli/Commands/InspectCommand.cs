using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gyre.Cli.Output;
using Gyre.Forecasting;
using Gyre.Models;
using Spectre.Console;

namespace Gyre.Cli.Commands;

/// <summary>
/// `gyre inspect --model M.gyre [--json]`: any Gyre model file, dispatched on the job its metadata names.
/// Forecasters get the forecast report; models built from a <see cref="ModelSpec"/> (classification and other
/// sequence jobs) their spec, parameters and training history; anything else its metadata and tensors.
/// </summary>
internal static class InspectCommand
{
    public static Command Create(CliContext ctx)
    {
        var model = new Option<string>("--model") { Description = "Model file of any job", Required = true };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("inspect", "Show any model file's job, configuration and training history");
        cmd.Options.Add(model); cmd.Options.Add(json);
        cmd.SetAction(p =>
        {
            string path = p.GetValue(model)!;
            bool asJson = p.GetValue(json);
            var (job, file) = ModelFile.Read(path);
            if (job == Forecaster.Job)
            {
                var f = Forecaster.FromFile(file, path);
                if (asJson) ctx.Out.WriteLine(Reports.InspectJson(f));
                else Reports.Inspect(ctx, f);
                return Cli.Ok;
            }
            if (file.Metadata.ContainsKey("spec"))
            {
                var (m, _, history, meta) = SequenceModel.Load(path);
                if (asJson) ctx.Out.WriteLine(SequenceJson(job, m, history, meta));
                else SequenceTables(ctx, job, m, history);
                return Cli.Ok;
            }
            if (asJson)
            {
                var node = new JsonObject { ["job"] = job, ["metadata"] = JsonSerializer.SerializeToNode(file.Metadata) };
                node["tensors"] = new JsonObject(file.Names.Select(n => KeyValuePair.Create(n, (JsonNode?)JsonSerializer.SerializeToNode(file.Get(n).Shape))));
                ctx.Out.WriteLine(node.ToJsonString());
            }
            else
            {
                var t = new Table().Title(Markup.Escape($"{job} model")).AddColumn("tensor").AddColumn("shape");
                foreach (var n in file.Names) t.AddRow(Markup.Escape(n), Markup.Escape(Tensors.Tensor.ShapeString(file.Get(n).Shape)));
                ctx.Console.Write(t);
            }
            return Cli.Ok;
        });
        return cmd;
    }

    private static string SequenceJson(string job, SequenceModel m, List<Training.EpochRecord> history, IReadOnlyDictionary<string, string> meta)
    {
        var node = new JsonObject
        {
            ["job"] = job,
            ["spec"] = JsonSerializer.SerializeToNode(m.Spec, Reports.Snake),
            ["parameters"] = m.ParameterCount(),
            ["history"] = JsonSerializer.SerializeToNode(history, Reports.Snake),
        };
        // The job's own entries (data description, labels, …) as they are stored.
        foreach (var (k, v) in meta)
            if (k is not ("format" or "version" or "job" or "spec" or "history"))
                node[k] = v.TrimStart().StartsWith('{') || v.TrimStart().StartsWith('[') ? JsonNode.Parse(v) : v;
        return node.ToJsonString(Reports.Snake);
    }

    private static void SequenceTables(CliContext ctx, string job, SequenceModel m, List<Training.EpochRecord> history)
    {
        var s = m.Spec;
        static string E(string text) => Markup.Escape(text);
        var cfg = new Table().Title(E($"{job} model")).AddColumn("setting").AddColumn("value");
        cfg.AddRow("input", E($"{s.InputSize} features{(s.Input == "linear" ? $", linear projection to {m.Input.OutputSize}" : "")}"));
        cfg.AddRow("encoder", E($"{s.Cell} × {s.Layers} layer(s){Models.EncoderStack.Describe(s.Layers, s.Gmu, s.GmuMemory)}, hidden {s.Hidden}{(s.Bidirectional ? ", bidirectional" : "")}{(s.Dropout > 0 ? $", dropout {s.Dropout}" : "")}"));
        cfg.AddRow("pooling", E(s.Pool + (s.Pool == "attention" ? $" ({((AttentionPooling)m.Pool).AttentionSize} units)" : "")));
        cfg.AddRow("head", E($"{s.Head}, {s.Outputs} {(m.Head.Classifies ? "classes" : "outputs")}{(s.ClassWeights != null ? $", class weights [{string.Join(", ", s.ClassWeights)}]" : "")}"));
        cfg.AddRow("parameters", m.ParameterCount().ToString());
        ctx.Console.Write(cfg);
        var metrics = history.Where(e => e.Metrics != null).SelectMany(e => e.Metrics!.Keys).Distinct().ToList();
        var h = new Table().Title("training history").AddColumn("epoch").AddColumn("train loss").AddColumn("val loss");
        foreach (var name in metrics) h.AddColumn(E("val " + name));
        h.AddColumn("lr").AddColumn("best");
        foreach (var e in history)
        {
            var row = new List<string> { e.Epoch.ToString(), e.TrainLoss.ToString("G5"), e.ValLoss?.ToString("G5") ?? "—" };
            row.AddRange(metrics.Select(n => e.Metrics != null && e.Metrics.TryGetValue(n, out var v) ? v.ToString("G4") : "—"));
            row.Add(e.LearningRate.ToString("G3")); row.Add(e.Best ? "*" : "");
            h.AddRow(row.ToArray());
        }
        ctx.Console.Write(h);
    }
}
