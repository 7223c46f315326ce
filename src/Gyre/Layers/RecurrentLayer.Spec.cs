using Gyre.Cells;
using Gyre.IO;
using Gyre.Tensors;

namespace Gyre.Layers;

// Wiring between the layer and the interop description RecurrentSpec (ONNX, Keras, safetensors), kept
// apart from the driver so the time loop stays readable.
public partial class RecurrentLayer
{
    /// <summary>
    /// Builds a layer that runs the stack <paramref name="spec"/> describes with the weights of
    /// <paramref name="stateDict"/> (PyTorch names, see <see cref="RecurrentSpec"/>; a common module prefix such
    /// as "rnn." is accepted). Cell: <see cref="RecurrentSpec.Cell"/>; <see cref="RecurrentSpec.Reverse"/>
    /// gives a <see cref="ReverseOnly"/> layer. No dropout. <paramref name="source"/> names the file in errors.
    /// </summary>
    /// <exception cref="InvalidDataException">A tensor the spec needs is missing or has the wrong shape, the
    /// state dict holds a parameter the spec does not (e.g. a layer more), or the spec is inconsistent; one
    /// line naming the tensor, its shape and the expected one.</exception>
    public static RecurrentLayer FromSpec(RecurrentSpec spec, IReadOnlyDictionary<string, Tensor> stateDict, string source = "state dict")
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(stateDict);
        var names = spec.Parameters().Select(p => p.Name);
        var found = IO.StateDict.StripPrefix(stateDict, names, source: source);
        spec.Validate(found, source);
        var layer = new RecurrentLayer(spec.Cell(), spec.InputSize, spec.HiddenSize, spec.NumLayers, spec.Bias, spec.BatchFirst,
            dropout: 0f, spec.Bidirectional, reverseOnly: spec.Reverse);
        layer.LoadStateDict(found, strict: true, source);
        return layer;
    }

    /// <summary>
    /// The <see cref="RecurrentSpec"/> of this layer; with <see cref="Module.StateDict"/> (same names) it is what
    /// the ONNX exporter and the safetensors writer need. Dropout is a training setting and is not part of it.
    /// </summary>
    /// <exception cref="NotSupportedException">The
    /// one-step layer inside a <see cref="RecurrentCell"/> (its parameters carry no layer suffix).</exception>
    public RecurrentSpec ToSpec()
    {
        if (_singleCellNames)
            throw new NotSupportedException("a cell's one-step layer has no stack spec (its parameters are named weight_ih, not weight_ih_l0)");
        return SpecCells.For(Cell, InputSize, HiddenSize, NumLayers, Bidirectional, HasBias, BatchFirst) with { Reverse = ReverseOnly };
    }
}
