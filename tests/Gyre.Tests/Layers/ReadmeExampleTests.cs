using Gyre.IO;
using Gyre.Layers;
using Gyre.Tensors;
using Xunit;

namespace Gyre.Tests.Layers;

/// <summary>The README's library example, verbatim apart from the file paths.</summary>
public class ReadmeExampleTests
{
    [Fact]
    public void ReadmeLibraryExampleRuns()
    {
        string dir = Directory.CreateTempSubdirectory("gyre-readme").FullName;
        try
        {
            Run(dir);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void Run(string dir)
    {
        string path = TorchFixture.WriteStateDict("gru_i5_h7_l1_b3_t11_s1.safetensors", dir);
        string copyPath = Path.Combine(dir, "gru-copy.safetensors");

        // --- README example starts ---
        var weights = Safetensors.Read(path);                 // written by torch + safetensors
        var gru = new Gru(inputSize: 5, hiddenSize: 7, batchFirst: true) { Training = false };
        gru.LoadStateDict(weights.Tensors);                   // keys with or without a "rnn." prefix

        var x = Tensor.Zeros(3, 11, 5);                       // [batch, time, features]
        x.Span.Fill(0.1f);
        var result = gru.Forward(x);                          // result.Output [3, 11, 7], result.Hidden [1, 3, 7]
        Console.WriteLine(result.Output[0, 10, 0]);

        Safetensors.Write(copyPath, gru.StateDict());         // loads back into torch with load_state_dict
        // --- README example ends ---

        var back = new Gru(5, 7, batchFirst: true) { Training = false };
        back.LoadStateDict(Safetensors.Read(copyPath).Tensors);
        Assert.Equal(result.Output.ReadOnlySpan.ToArray(), back.Forward(x).Output.ReadOnlySpan.ToArray());
        Assert.True(result.Output.HasShape(3, 11, 7));
    }

    [Fact]
    public void StrictLoadRejectsTheOtherDirection()
    {
        var bi = new Gru(3, 4, bidirectional: true);
        var ex = Assert.Throws<InvalidDataException>(() => new Gru(3, 4).LoadStateDict(bi.StateDict()));
        Assert.Contains("weight_ih_l0_reverse", ex.Message);
    }
}
