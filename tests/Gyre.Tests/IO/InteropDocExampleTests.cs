using Gyre.IO;
using Gyre.IO.Onnx;
using Gyre.Layers;
using Gyre.Tensors;
using Gyre.Tests.Layers;
using Xunit;

namespace Gyre.Tests.IO;

/// <summary>docs/interop.md's C# snippets, verbatim apart from the file paths, on files made the way the
/// document's Python makes them (a libtorch fixture for PyTorch, Keras-named tensors for Keras).</summary>
public sealed class InteropDocExampleTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gyre-interop-doc").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public void DocSnippetsRun()
    {
        string torchFile = TorchFixture.WriteStateDict("gru_i4_h6_l2_bi_b2_t9_s3.safetensors", _dir);
        string onnxFile = Path.Combine(_dir, "gru.onnx");
        string kerasFile = Path.Combine(_dir, "keras.safetensors");
        var fixture = TorchFixture.Load("gru_i4_h6_l2_bi_b2_t9_s3.safetensors");
        var x = fixture["x"];
        Safetensors.Write(kerasFile, new Dictionary<string, Tensor>
        {
            ["gru/gru_cell/kernel"] = RecurrentReference.Random(1, 4, 18),
            ["gru/gru_cell/recurrent_kernel"] = RecurrentReference.Random(2, 6, 18),
            ["gru/gru_cell/bias"] = RecurrentReference.Random(3, 18), // reset_after=False
        });

        // --- PyTorch → Gyre ---
        var gru = new Gru(inputSize: 4, hiddenSize: 6, numLayers: 2, batchFirst: true, bidirectional: true) { Training = false };
        gru.LoadStateDict(Safetensors.Read(torchFile).Tensors);
        var result = gru.Forward(x);            // x [B, T, 4] → Output [B, T, 12], Hidden [4, B, 6]
        OnnxTests.AssertClose(fixture["y"], gru.Forward(x, fixture["h0"]).Output, 1e-5f, "libtorch y (the fixture starts from its h0)");
        Assert.True(result.Hidden.HasShape(4, x.Dim(0), 6));

        // --- Keras → Gyre ---
        {
            RecurrentLayer layer = KerasWeights.Load(kerasFile);   // batch-first, as Keras
            var y = layer.Forward(x).Output;
            Assert.Equal(Gyre.Cells.CellKind.GruResetBefore, layer.Kind);
            Assert.True(y.HasShape(x.Dim(0), x.Dim(1), 6));
        }

        // --- Gyre → ONNX ---
        OnnxExport.Save(onnxFile, gru, new OnnxExportOptions { InitialStateInputs = true });
        var ort = OnnxTests.RunOrt(File.ReadAllBytes(onnxFile), ("x", x), ("h0", Tensor.Zeros(4, x.Dim(0), 6)));
        OnnxTests.AssertClose(ort["y"], result.Output, 1e-5f, "ORT y");

        // --- ONNX → Gyre ---
        {
            RecurrentLayer layer = OnnxImport.LoadLayer(onnxFile);
            var y = layer.Forward(x).Output;        // layout from gyre metadata, else from the GRU/LSTM layout attribute
            Assert.True(y.ReadOnlySpan.SequenceEqual(result.Output.ReadOnlySpan));
        }
    }

    [Fact]
    public void DocSnippetsAreTheOnesTested()
    {
        string doc = File.ReadAllText(FindDoc());
        foreach (var line in new[]
        {
            "var gru = new Gru(inputSize: 4, hiddenSize: 6, numLayers: 2, batchFirst: true, bidirectional: true) { Training = false };",
            "gru.LoadStateDict(Safetensors.Read(\"gru.safetensors\").Tensors);",
            "RecurrentLayer layer = KerasWeights.Load(\"keras.safetensors\");",
            "OnnxExport.Save(\"gru.onnx\", gru, new OnnxExportOptions { InitialStateInputs = true });",
            "RecurrentLayer layer = OnnxImport.LoadLayer(\"model.onnx\");",
            "save_file(model.state_dict(), \"gru.safetensors\")",
            "save_file({w.path: w.numpy() for w in model.weights}, \"keras.safetensors\")",
        })
            Assert.Contains(line, doc);
    }

    private static string FindDoc()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "docs", "interop.md");
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException("docs/interop.md not found above " + AppContext.BaseDirectory);
    }
}
