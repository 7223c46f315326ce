using Gyre.IO.Onnx;
using Gyre.Tensors;
using Gyre.Training;

namespace Gyre.Forecasting;

/// <summary>
/// Exports a whole <see cref="Forecaster"/> to ONNX: input scaler → recurrent encoder → linear head on the
/// last step → inverse target scaler, so the graph maps raw inputs to raw forecasts.
/// Graph input <c>x</c> [batch, L, K] (the model's input columns in <see cref="ForecastDataInfo.Columns"/>
/// order, raw units); output <c>prediction</c> [batch, N·C·Q] laid out as [N, C, Q] (horizon step, target,
/// quantile), plus the encoder's <c>y</c> and <c>h_n</c>.
/// Configurations whose pre/post-processing has no such graph — instance normalisation, patching, the
/// recurrent decoder, known-future covariates, channel independence — are refused with a message naming the option.
/// </summary>
public static class ForecasterOnnx
{
    public static void Export(Forecaster f, string path, int opset = 14) =>
        OnnxExport.Save(path, f.Network.Encoder, Options(f, opset));

    public static byte[] ToBytes(Forecaster f, int opset = 14) =>
        OnnxExport.ToBytes(f.Network.Encoder, Options(f, opset));

    /// <summary>Why <paramref name="f"/> cannot be exported (one line), or null when it can.</summary>
    public static string? Unsupported(Forecaster f)
    {
        var o = f.Options;
        string? refused = f.Network.Encoder.Cell.Onnx is null ? $"cell {f.Network.Encoder.Cell} (no ONNX operator mapping)" : o.Normalization != "none" ? (o.InstanceNorm ? "--instance-norm" : $"--norm {o.Normalization}") : o.Patch > 1 ? "--patch" : o.Decoder != "direct" ? $"--decoder {o.Decoder}"
            : f.Distribution is { } dist ? $"--loss {Distributions.Name(dist)}"
            : f.DataInfo.FutureCount > 0 ? "known-future covariates (--future-features/--calendar)" : o.ChannelIndependent ? "--channel-independent" : null;
        return refused is null ? null
            : $"ONNX export of a forecaster trained with {refused} is not supported (export covers scaler → encoder → direct head)";
    }

    private static OnnxExportOptions Options(Forecaster f, int opset)
    {
        var o = f.Options;
        if (Unsupported(f) is { } reason) throw new NotSupportedException(reason);
        var scaler = f.Scaler;
        int k = f.DataInfo.Columns.Length, n = o.Horizon, c = f.DataInfo.TargetCount, q = f.Network.Config.QuantileCount;
        var inScale = new float[k]; var inShift = new float[k];
        for (int j = 0; j < k; j++) { inScale[j] = 1f / scaler.Scale[j]; inShift[j] = -scaler.Center[j] / scaler.Scale[j]; }
        var outScale = new float[n * c * q]; var outShift = new float[n * c * q];
        for (int h = 0; h < n; h++)
            for (int j = 0; j < c; j++)
                for (int r = 0; r < q; r++)
                {
                    int i = (h * c + j) * q + r;
                    outScale[i] = scaler.Scale[j]; outShift[i] = scaler.Center[j];
                }
        var head = f.Network.Head;
        return new OnnxExportOptions
        {
            Opset = opset,
            Head = new LinearHead(head.Weight.Value, head.Bias?.Value),
            InputScaler = new AffineScaler(Tensor.FromSpan(inScale, k), Tensor.FromSpan(inShift, k)),
            OutputScaler = new AffineScaler(Tensor.FromSpan(outScale, n * c * q), Tensor.FromSpan(outShift, n * c * q)),
            DocString = $"Gyre forecaster: {o.Cell} encoder ({o.Layers}×{o.Hidden}), lookback {o.Lookback}, horizon {n}; " +
                $"input x [batch, {o.Lookback}, {k}] columns {string.Join(",", f.DataInfo.Columns)} in raw units; " +
                $"prediction [batch, {n * c * q}] = [N={n}, C={c}, Q={q}] in raw units",
        };
    }
}
