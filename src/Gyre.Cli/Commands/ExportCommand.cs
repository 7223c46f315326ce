using System.CommandLine;
using Gyre.Cli.Output;
using Gyre.Data;
using Gyre.Forecasting;
using Gyre.IO;
using Gyre.IO.Onnx;
using Gyre.Models;

namespace Gyre.Cli.Commands;

/// <summary>
/// `gyre export --model M.gyre | --layer L.safetensors --onnx OUT.onnx [--opset 14|22]`: a forecaster
/// (raw inputs → raw forecasts) or a recurrent layer as ONNX.
/// </summary>
internal static class ExportCommand
{
    public static Command Create(CliContext ctx)
    {
        var model = new Option<string?>("--model") { Description = "Model file of any job (forecast, classify, …)" };
        var layer = new Option<string?>("--layer") { Description = "Gyre layer file (gyre import)" };
        var onnx = new Option<string>("--onnx") { Description = "ONNX file to write", Required = true };
        var opset = UserInput.Int("--opset", "ONNX opset: 14 or 22 (default 14)", min: 1);
        opset.Validators.Add(r => { if (r.GetValueOrDefault<int?>() is { } v && v is not (14 or 22)) r.AddError($"--opset must be 14 or 22 (got {v})"); });
        var cmd = new Command("export", "Export a forecaster or a recurrent layer to ONNX (runs in ONNX Runtime)");
        cmd.Options.Add(model); cmd.Options.Add(layer); cmd.Options.Add(onnx); cmd.Options.Add(opset);
        cmd.Validators.Add(r =>
        {
            if ((r.GetValue(model) is null) == (r.GetValue(layer) is null)) r.AddError("give exactly one of --model or --layer");
        });
        cmd.SetAction(p =>
        {
            int version = p.GetValue(opset) ?? 14;
            string? modelPath = p.GetValue(model) is { } mp ? ForecastCommand.RequireFile("--model", mp) : null;
            string? layerPath = p.GetValue(layer) is { } lp ? ForecastCommand.RequireFile("--layer", lp) : null;
            using var plan = new OutputPlan();
            var output = plan.Add("--onnx", p.GetValue(onnx)!);
            plan.Input(modelPath != null ? "--model" : "--layer", (modelPath ?? layerPath)!);
            plan.Check();
            if (modelPath != null && ModelFile.Read(modelPath) is var (job, file))
            {
                if (job == Forecaster.Job)
                {
                    var f = Forecaster.FromFile(file, modelPath);
                    if (ForecasterOnnx.Unsupported(f) is { } reason) throw new GyreDataException(reason, modelPath);
                    ForecasterOnnx.Export(f, output.Temp, version);
                    plan.Commit();
                    ctx.Out.WriteLine($"wrote {output.Path}: {ForecasterOnnx.Describe(f)}");
                }
                else if (file.Metadata.ContainsKey("spec"))
                {
                    var m = SequenceModel.Load(modelPath).Model;
                    // What a model's export cannot express is a property of the user's model, not a bug.
                    try { SequenceModelOnnx.Export(m, output.Temp, version, job); }
                    catch (NotSupportedException e) { throw new GyreDataException(e.Message, modelPath); }
                    plan.Commit();
                    ctx.Out.WriteLine($"wrote {output.Path}: input x [batch, seq, {m.Spec.InputSize}], output prediction [batch, {m.Spec.Outputs}] ({m.Spec.Head} head, raw outputs)");
                }
                else throw new GyreDataException($"ONNX export of {job} models is not supported", modelPath);
            }
            else
            {
                var l = LayerFile.Load(layerPath!);
                OnnxExport.Save(output.Temp, l, new OnnxExportOptions { Opset = version, InitialStateInputs = true });
                plan.Commit();
                ctx.Out.WriteLine($"wrote {output.Path}: {l.Cell} {l.NumLayers}×{l.HiddenSize}{(l.Bidirectional ? " bidirectional" : "")}, inputs x, {string.Join(", ", l.Cell.StateNames.Select(n => $"{n}0"))}");
            }
            return Cli.Ok;
        });
        return cmd;
    }
}
