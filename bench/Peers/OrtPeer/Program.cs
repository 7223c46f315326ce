// ONNX Runtime peer (Microsoft.ML.OnnxRuntime 1.31.1, CPU execution provider): an ONNX model holding a
// single GRU (linear_before_reset = 1, the PyTorch/cuDNN form Gyre implements) or LSTM node with random
// weights, built in memory from the ONNX protobuf classes of OnnxSharp. Inference only (ONNX Runtime's
// training build is not on the package mirror).
//
// Input and outputs are bound once through IOBinding to pre-allocated OrtValues, so a timed run is the
// kernel plus ONNX Runtime's fixed per-call overhead, not managed marshalling.
//
// Layout: the ONNX default, X [T, B, I] (sequence-major). ONNX's layout = 1 (batch-major, like
// batch_first) is rejected by ONNX Runtime's CPU RNN kernels; the arithmetic is the same either way.
using Gyre.Bench.Peers;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

return PeerBench.Run("onnxruntime", args, ["infer"], (shape, mode, threads) =>
    mode == "infer" ? new OrtCase(shape, threads) : null);

/// <summary>A prepared InferenceSession over one GRU/LSTM node with its bound input and outputs.</summary>
sealed class OrtCase : IPeerCase
{
    readonly InferenceSession _session;
    readonly RunOptions _runOptions = new();
    readonly OrtIoBinding _binding;
    readonly List<OrtValue> _values = [];

    public OrtCase(Shape s, int threads)
    {
        int B = s.Batch, T = s.Seq, I = s.Input, H = s.Hidden, G = s.Gates;
        byte[] model = BuildModel(s).ToByteArray();

        var options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _session = new InferenceSession(model, options);
        options.Dispose();

        _binding = _session.CreateIoBinding();
        // X [T, B, I] pinned managed memory, same data (seed 42) as the other peers, in ONNX's layout.
        var x = OrtValue.CreateTensorValueFromMemory(PeerBench.Uniform(T * B * I, 1f, 42), [T, B, I]);
        _binding.BindInput("X", Keep(x));
        _binding.BindOutput("Y", Keep(Allocate([T, 1, B, H])));   // [T, D=1, B, H]
        _binding.BindOutput("Y_h", Keep(Allocate([1, B, H])));    // [D=1, B, H]
        if (G == 4) _binding.BindOutput("Y_c", Keep(Allocate([1, B, H])));
    }

    public void Run() => _session.RunWithBinding(_runOptions, _binding);

    OrtValue Keep(OrtValue v) { _values.Add(v); return v; }

    static OrtValue Allocate(long[] shape) =>
        OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float, shape);

    /// <summary>One GRU or LSTM node (opset 14). W [1, G·H, I], R [1, G·H, H], B [1, 2·G·H] are
    /// initializers, uniform in ±1/sqrt(H) as PyTorch initialises them; X is the only graph input.</summary>
    static ModelProto BuildModel(Shape s)
    {
        int B = s.Batch, T = s.Seq, I = s.Input, H = s.Hidden, G = s.Gates;
        float scale = 1f / MathF.Sqrt(H);
        var graph = new GraphProto { Name = $"{s.Cell}_bench" };
        graph.Input.Add(TensorInfo("X", T, B, I));
        graph.Initializer.Add(Initializer("W", PeerBench.Uniform(G * H * I, scale, 1), 1, G * H, I));
        graph.Initializer.Add(Initializer("R", PeerBench.Uniform(G * H * H, scale, 2), 1, G * H, H));
        graph.Initializer.Add(Initializer("B", PeerBench.Uniform(2 * G * H, scale, 3), 1, 2 * G * H));

        var node = new NodeProto { OpType = s.Cell == "gru" ? "GRU" : "LSTM", Name = s.Cell };
        node.Input.Add(["X", "W", "R", "B"]);
        node.Output.Add(["Y", "Y_h"]);
        graph.Output.Add(TensorInfo("Y", T, 1, B, H));
        graph.Output.Add(TensorInfo("Y_h", 1, B, H));
        if (G == 4)
        {
            node.Output.Add("Y_c");
            graph.Output.Add(TensorInfo("Y_c", 1, B, H));
        }
        node.Attribute.Add(new AttributeProto { Name = "hidden_size", Type = AttributeProto.Types.AttributeType.Int, I = H });
        if (G == 3)
            node.Attribute.Add(new AttributeProto { Name = "linear_before_reset", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
        graph.Node.Add(node);

        var model = new ModelProto { IrVersion = 8, ProducerName = "gyre-bench-peers", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 14 });
        return model;
    }

    static ValueInfoProto TensorInfo(string name, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (long d in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }

    static TensorProto Initializer(string name, float[] values, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.Add(dims);
        t.FloatData.Add(values);
        return t;
    }

    public void Dispose()
    {
        _binding.Dispose();
        foreach (var v in _values) v.Dispose();
        _runOptions.Dispose();
        _session.Dispose();
    }
}
