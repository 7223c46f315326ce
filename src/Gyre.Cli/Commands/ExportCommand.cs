using System.CommandLine;
using Gyre.Forecasting;

namespace Gyre.Cli.Commands;

/// <summary>`gyre export --model M.gyre --onnx OUT.onnx [--opset 14|22]`: a forecaster as one ONNX graph.</summary>
internal static class ExportCommand
{
    public static Command Create(CliContext ctx)
    {
        var model = new Option<string>("--model") { Description = "Forecaster model file", Required = true };
        var onnx = new Option<string>("--onnx") { Description = "ONNX file to write", Required = true };
        var opset = new Option<int>("--opset") { Description = "ONNX opset: 14 or 22", DefaultValueFactory = _ => 14 };
        opset.Validators.Add(r => { if (r.GetValueOrDefault<int>() is not (14 or 22)) r.AddError("--opset must be 14 or 22"); });
        var cmd = new Command("export", "Export a forecaster to ONNX (raw inputs → raw forecasts; runs in ONNX Runtime)");
        cmd.Options.Add(model); cmd.Options.Add(onnx); cmd.Options.Add(opset);
        cmd.SetAction(p =>
        {
            var f = Forecaster.Load(p.GetValue(model)!);
            try { ForecasterOnnx.Export(f, p.GetValue(onnx)!, p.GetValue(opset)); }
            catch (NotSupportedException e) { throw new ArgumentException(e.Message); }
            ctx.Out.WriteLine($"wrote {p.GetValue(onnx)}: input x [batch, {f.Options.Lookback}, {f.DataInfo.Columns.Length}], output prediction [batch, {f.Options.Horizon * f.DataInfo.TargetCount * f.Network.Config.QuantileCount}]");
            return Cli.Ok;
        });
        return cmd;
    }
}
