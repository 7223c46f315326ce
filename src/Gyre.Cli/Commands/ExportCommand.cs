using System.CommandLine;
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
        var opset = new Option<int>("--opset") { Description = "ONNX opset: 14 or 22", DefaultValueFactory = _ => 14 };
        opset.Validators.Add(r => { if (r.GetValueOrDefault<int>() is not (14 or 22)) r.AddError("--opset must be 14 or 22"); });
        var cmd = new Command("export", "Export a forecaster or a recurrent layer to ONNX (runs in ONNX Runtime)");
        cmd.Options.Add(model); cmd.Options.Add(layer); cmd.Options.Add(onnx); cmd.Options.Add(opset);
        cmd.Validators.Add(r =>
        {
            if ((r.GetValue(model) is null) == (r.GetValue(layer) is null)) r.AddError("give exactly one of --model or --layer");
        });
        cmd.SetAction(p =>
        {
            string output = p.GetValue(onnx)!;
            if (p.GetValue(model) is { } modelPath && ModelFile.Read(modelPath) is var (job, file))
            {
                if (job == Forecaster.Job)
                {
                    var f = Forecaster.FromFile(file, modelPath);
                    ForecasterOnnx.Export(f, output, p.GetValue(opset));
                    ctx.Out.WriteLine($"wrote {output}: input x [batch, {f.Options.Lookback}, {f.DataInfo.Columns.Length}], output prediction [batch, {f.Options.Horizon * f.DataInfo.TargetCount * f.Network.Config.QuantileCount}]");
                }
                else if (file.Metadata.ContainsKey("spec"))
                {
                    var m = SequenceModel.Load(modelPath).Model;
                    SequenceModelOnnx.Export(m, output, p.GetValue(opset), job);
                    ctx.Out.WriteLine($"wrote {output}: input x [batch, seq, {m.Spec.InputSize}], output prediction [batch, {m.Spec.Outputs}] ({m.Spec.Head} head, raw outputs)");
                }
                else throw new NotSupportedException($"{modelPath}: ONNX export of {job} models is not supported");
            }
            else
            {
                var l = LayerFile.Load(p.GetValue(layer)!);
                OnnxExport.Save(output, l, new OnnxExportOptions { Opset = p.GetValue(opset), InitialStateInputs = true });
                ctx.Out.WriteLine($"wrote {output}: {l.Cell} {l.NumLayers}×{l.HiddenSize}{(l.Bidirectional ? " bidirectional" : "")}, inputs x, {string.Join(", ", l.Cell.StateNames.Select(n => $"{n}0"))}");
            }
            return Cli.Ok;
        });
        return cmd;
    }
}
