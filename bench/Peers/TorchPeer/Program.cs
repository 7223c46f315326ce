// libtorch peer (TorchSharp-cpu 0.107.0 = libtorch 2.10): nn.GRU / nn.LSTM, batch_first, one layer.
// infer: forward under no_grad. train: forward + sum(y).backward() with x requiring grad, so both the
// weight and the input gradients are computed (what Gyre's train mode computes). The weight gradients are
// set to none at the start of each run (a training loop's zero_grad, inside the timing; it costs nothing
// next to the pass); x's gradient accumulates, one elementwise add of [B, T, I] per run.
//
// On Debian 12 libLibTorchSharp.so needs bench/Peers/fix-torchsharp.sh run over the build output first;
// without it loading fails and this peer prints a one-line note and exits 3 (bench/compare goes on).
using Gyre.Bench.Peers;
using TorchSharp;
using static TorchSharp.torch;

try
{
    // Touch the native library before anything else so that a load failure is reported as such.
    torch.manual_seed(1);
}
catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or NotSupportedException or EntryPointNotFoundException)
{
    Console.Error.WriteLine($"libtorch: native library did not load ({e.GetBaseException().Message.Split('\n')[0]}); "
        + "run bench/Peers/fix-torchsharp.sh after building TorchPeer. Skipped.");
    return 3;
}

return PeerBench.Run("libtorch", args, ["infer", "train"], (shape, mode, threads) =>
{
    torch.set_num_threads(threads);
    return new TorchCase(shape, mode == "train");
});

/// <summary>A prepared nn.GRU / nn.LSTM with its input [B, T, I]; <see cref="Run"/> is one timed pass.</summary>
sealed class TorchCase : IPeerCase
{
    readonly nn.Module _rnn;
    readonly Tensor _x; // [B, T, I]
    readonly bool _train;
    readonly bool _lstm;

    public TorchCase(Shape s, bool train)
    {
        _train = train;
        _lstm = s.Cell == "lstm";
        torch.manual_seed(1234);
        // nn.GRU / nn.LSTM initialise their weights uniform in ±1/sqrt(H), as PyTorch does.
        _rnn = _lstm
            ? nn.LSTM(s.Input, s.Hidden, numLayers: 1, bias: true, batchFirst: true)
            : nn.GRU(s.Input, s.Hidden, numLayers: 1, bias: true, batchFirst: true);
        _x = torch.tensor(PeerBench.Uniform(s.Batch * s.Seq * s.Input, 1f, 42), [s.Batch, s.Seq, s.Input]);
        if (train) _x.requires_grad = true;
        else
            foreach (var p in _rnn.parameters()) p.requires_grad = false;
    }

    public void Run()
    {
        if (_train) _rnn.zero_grad();
        // The scope disposes every intermediate tensor of this pass now, not at some later finalizer run.
        using var scope = torch.NewDisposeScope();
        if (_train)
        {
            Tensor y = Apply();
            y.sum().backward();
        }
        else
        {
            using var _ = torch.no_grad();
            Apply();
        }
    }

    Tensor Apply()
    {
        if (_lstm)
        {
            var (y, _, _) = ((TorchSharp.Modules.LSTM)_rnn).call(_x, null);
            return y;
        }
        else
        {
            var (y, _) = ((TorchSharp.Modules.GRU)_rnn).call(_x, null);
            return y;
        }
    }

    public void Dispose()
    {
        _x.Dispose();
        _rnn.Dispose();
    }
}
