using BenchmarkDotNet.Attributes;
using Gyre.Kernels;
using Gyre.Kernels.Reference;

namespace Gyre.Bench;

// BenchmarkDotNet micro-benchmarks: every SIMD kernel beside its scalar twin (the baseline), so the
// report's Ratio column is the speed-up. Run: dotnet run --project bench/Gyre.Bench -c Release -- bdn
// (add --filter '*Gate*' etc. to pick; BenchmarkDotNet's own options follow).

[MemoryDiagnoser]
public class GruGateBenchmarks
{
    [Params(1, 64)] public int Batch;
    [Params(128, 768)] public int Hidden;
    private float[] _gi = [], _gh = [], _h = [], _hNext = [], _saved = [], _dGi = [], _dGh = [], _dhPrev = [];

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1);
        float[] Make(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        int n = Batch * Hidden;
        _gi = Make(3 * n); _gh = Make(3 * n); _h = Make(n); _hNext = new float[n]; _saved = new float[4 * n];
        _dGi = new float[3 * n]; _dGh = new float[3 * n]; _dhPrev = new float[n];
        GruGates.Forward(_hNext, _saved, _gi, _gh, _h, Batch, Hidden);
    }

    [Benchmark(Baseline = true)] public void ForwardScalar() => GateReference.GruForward(_hNext, _saved, _gi, _gh, _h, Batch, Hidden);
    [Benchmark] public void ForwardSimd() => GruGates.Forward(_hNext, _saved, _gi, _gh, _h, Batch, Hidden);
    [Benchmark] public void BackwardScalar() => GateReference.GruBackward(_dGi, _dGh, _dhPrev, _h, _saved, _h, Batch, Hidden);
    [Benchmark] public void BackwardSimd() => GruGates.Backward(_dGi, _dGh, _dhPrev, _h, _saved, _h, Batch, Hidden);
}

[MemoryDiagnoser]
public class LstmGateBenchmarks
{
    [Params(1, 64)] public int Batch;
    [Params(128)] public int Hidden;
    private float[] _gates = [], _c = [], _hNext = [], _cNext = [], _saved = [];

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(2);
        float[] Make(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        int n = Batch * Hidden;
        _gates = Make(4 * n); _c = Make(n); _hNext = new float[n]; _cNext = new float[n]; _saved = new float[5 * n];
    }

    [Benchmark(Baseline = true)] public void ForwardScalar() => GateReference.LstmForward(_hNext, _cNext, _saved, _gates, _c, Batch, Hidden);
    [Benchmark] public void ForwardSimd() => LstmGates.Forward(_hNext, _cNext, _saved, _gates, _c, Batch, Hidden);
}

[MemoryDiagnoser]
public class ActivationBenchmarks
{
    [Params(127, 8192)] public int Length;
    private float[] _x = [], _y = [];

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(3);
        _x = Enumerable.Range(0, Length).Select(_ => (float)(rng.NextDouble() * 20 - 10)).ToArray();
        _y = new float[Length];
    }

    [Benchmark(Baseline = true)] public void SigmoidScalar() => GateReference.Sigmoid(_y, _x);
    [Benchmark] public void SigmoidSimd() => Activations.Sigmoid(_y, _x);
    [Benchmark] public void TanhScalar() => GateReference.Tanh(_y, _x);
    [Benchmark] public void TanhSimd() => Activations.Tanh(_y, _x);
}

[MemoryDiagnoser]
public class GemmBenchmarks
{
    [Params(64, 256)] public int Size;
    private float[] _a = [], _b = [], _c = [];

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(4);
        _a = Enumerable.Range(0, Size * Size).Select(_ => (float)rng.NextDouble()).ToArray();
        _b = Enumerable.Range(0, Size * Size).Select(_ => (float)rng.NextDouble()).ToArray();
        _c = new float[Size * Size];
    }

    [Benchmark(Baseline = true)] public void Reference() => GemmReference.Multiply(false, true, Size, Size, Size, _a, Size, _b, Size, _c, Size, false);
    [Benchmark] public void Blocked() => Gemm.Multiply(false, true, Size, Size, Size, _a, Size, _b, Size, _c, Size, false);
}
