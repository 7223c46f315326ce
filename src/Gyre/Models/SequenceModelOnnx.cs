using Gyre.IO.Onnx;

namespace Gyre.Models;

/// <summary>
/// Exports a <see cref="SequenceModel"/> to ONNX: recurrent encoder → head on the last step. Graph input
/// <c>x</c> [batch, seq, F] (every row its full length); output <c>prediction</c> [batch, O], the head's raw
/// outputs (logits for softmax, scores for the SVM, values for the linear head), plus the encoder's
/// <c>y</c> and <c>h_n</c>. Covered: no input transform, a GRU or LSTM encoder, one direction, last-state
/// pooling, and gated memory units after the encoder (<see cref="ModelSpec.Gmu"/>: MatMul + Add + Sigmoid + Mul
/// each, m from the memory layer's output; <c>y</c> is then the last unit's output); other settings are refused
/// with a message naming them.
/// </summary>
public static class SequenceModelOnnx
{
    public static void Export(SequenceModel model, string path, int opset = 14, string job = "sequence") =>
        OnnxExport.Save(path, model.Encoder.Layer, Options(model, opset, job));

    public static byte[] ToBytes(SequenceModel model, int opset = 14, string job = "sequence") =>
        OnnxExport.ToBytes(model.Encoder.Layer, Options(model, opset, job));

    private static OnnxExportOptions Options(SequenceModel model, int opset, string job)
    {
        var s = model.Spec;
        string? refused = s.Input != "none" ? $"input transform '{s.Input}'" : s.ConvBranch != null ? "a convolution branch" : s.Bidirectional ? "a bidirectional encoder"
            : s.Pool != "last" ? $"{s.Pool} pooling" : null;   // every cell exports (native node or a Scan over its step)
        if (refused != null)
            throw new NotSupportedException($"ONNX export of a {job} model with {refused} is not supported (export covers a one-direction encoder of any cell, last-state pooling and the head)");
        var head = model.Head.Parameters().ToList();
        return new OnnxExportOptions
        {
            Opset = opset,
            Head = new IO.Onnx.LinearHead(head[0].Value, head.Count > 1 ? head[1].Value : null),
            MemoryUnits = [.. model.Encoder.MemoryUnits.Select(u => new IO.Onnx.MemoryUnitExport(u.Weight.Value, u.Bias.Value))],
            MemoryLayer = model.Encoder.MemoryLayer,
            DocString = $"Gyre {job} model: {s.Cell} encoder ({s.Layers}×{s.Hidden}){(s.Gmu > 0 ? $" + {s.Gmu} GMU (memory: layer {model.Encoder.MemoryLayer})" : "")}, last state, {s.Head} head; " +
                $"input x [batch, seq, {s.InputSize}]; prediction [batch, {s.Outputs}] = the head's raw outputs",
        };
    }
}
