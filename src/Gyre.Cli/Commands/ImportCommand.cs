using System.CommandLine;
using Gyre.Cli.Output;
using Gyre.Data;
using Gyre.IO;
using Gyre.IO.Onnx;
using Gyre.Layers;

namespace Gyre.Cli.Commands;

/// <summary>
/// `gyre import --onnx F | --keras F | --torch F --kind gru|lstm [--time-major] --out layer.safetensors`:
/// brings a GRU/LSTM from ONNX, Keras or PyTorch into a Gyre layer file (PyTorch-named tensors + spec).
/// </summary>
internal static class ImportCommand
{
    public static Command Create(CliContext ctx)
    {
        var onnx = new Option<string?>("--onnx") { Description = "ONNX model with GRU/LSTM nodes" };
        var keras = new Option<string?>("--keras") { Description = "safetensors file of Keras weights under their Keras names" };
        var torch = new Option<string?>("--torch") { Description = "safetensors file of a PyTorch nn.GRU/nn.LSTM state dict" };
        var kind = new Option<string?>("--kind") { Description = $"the cell of the state dict (for --torch): one with an ONNX mapping, e.g. {string.Join(" | ", Cells.CellRegistry.All.Where(c => c.Onnx != null).Select(c => c.Name))}" };
        var timeMajor = new Option<bool>("--time-major") { Description = "For --torch: the layer takes [T, B, I] (PyTorch's default batch_first=False)" };
        var output = new Option<string>("--out") { Description = "Gyre layer file to write", Required = true };
        var cmd = new Command("import", "Import a recurrent layer from ONNX, Keras or PyTorch into a Gyre layer file");
        foreach (var o in new Option[] { onnx, keras, torch, kind, timeMajor, output }) cmd.Options.Add(o);
        cmd.Validators.Add(r =>
        {
            int given = new[] { r.GetValue(onnx), r.GetValue(keras), r.GetValue(torch) }.Count(v => v != null);
            if (given != 1) r.AddError("give exactly one of --onnx, --keras or --torch");
            // GetResult, not GetValue: an option that failed to parse has no value to read here.
            if (r.GetValue(torch) != null && r.GetResult(kind) is null) r.AddError("--torch needs --kind (the cell)");
        });
        cmd.SetAction(p =>
        {
            var (option, source) = p.GetValue(onnx) is { } o ? ("--onnx", o) : p.GetValue(keras) is { } k ? ("--keras", k) : ("--torch", p.GetValue(torch)!);
            ForecastCommand.RequireFile(option, source);
            Cells.CellDefinition? cell = null;
            if (option == "--torch")
            {
                try { cell = Cells.CellRegistry.Get(p.GetValue(kind)!); }
                catch (ArgumentException e) { throw new GyreDataException($"--kind: {e.Message}"); }
            }
            using var plan = new OutputPlan();
            var outFile = plan.Add("--out", p.GetValue(output)!);
            plan.Input(option, source);
            plan.Check();
            RecurrentLayer layer;
            if (option == "--onnx") layer = OnnxImport.LoadLayer(source);
            else if (option == "--keras") layer = KerasWeights.Load(source);
            else
            {
                var dict = Safetensors.Read(source).Tensors;
                var spec = LayerFile.InferSpec(dict, cell!, !p.GetValue(timeMajor), source);
                layer = RecurrentLayer.FromSpec(spec, dict, source);
            }
            LayerFile.Save(outFile.Temp, layer);
            plan.Commit();
            ctx.Out.WriteLine($"wrote {outFile.Path}: {layer.Cell} input {layer.InputSize}, hidden {layer.HiddenSize}, {layer.NumLayers} layer(s){(layer.Bidirectional ? ", bidirectional" : "")}");
            return Cli.Ok;
        });
        return cmd;
    }
}
