using System.Diagnostics;
using Gyre.Kernels;

// Gyre micro-benchmarks. `sgemm [size] [threads]`: median GFLOP/s of C = A·B at size³ (default 2048,
// threads default GYRE_NUM_THREADS / processor count), after warm-up. Numbers on a shared machine are
// noisy: repeat and compare medians.
if (args.Length == 0)
{
    Console.WriteLine("Gyre micro-benchmarks: see bench/README.md");
    Console.WriteLine("usage: sgemm [size] [threads] | sgemm-shape m n k [threads] | sgemm-step B H G [threads] | pmf-step N [rounds] [B] | gates [H] [B] | team [threads] | rnn cell B T I H infer|train threads reps | rnn-grid threads reps [mode] | rnn-parts ... | rnn-cpu reps ROW... | batch1 cell T I H threads min-hidden patience reps | sgemm-tn ... | bdn [BenchmarkDotNet options]");
    return 0;
}
switch (args[0])
{
    case "sgemm":
        {
            int size = args.Length > 1 ? int.Parse(args[1]) : 2048;
            return Sgemm(size, size, size, args.Length > 2 ? int.Parse(args[2]) : WorkerTeam.Shared.Size);
        }
    case "sgemm-shape": // sgemm-shape m n k [threads]
        return Sgemm(int.Parse(args[1]), int.Parse(args[2]), int.Parse(args[3]),
                     args.Length > 4 ? int.Parse(args[4]) : WorkerTeam.Shared.Size);
    case "sgemm-tn": // sgemm-tn m n k [threads] [inplace-max-k]: C = Aᵀ·B with A stored [K, M] (weight gradients over T·B rows)
        TransA = true;
        if (args.Length > 5) Gemm.InPlaceMaxK = int.Parse(args[5]);
        return Sgemm(int.Parse(args[1]), int.Parse(args[2]), int.Parse(args[3]),
                     args.Length > 4 ? int.Parse(args[4]) : WorkerTeam.Shared.Size);
    case "sgemm-step": // sgemm-step batch hidden gates [threads]: h[B, H] · W_hhᵀ, W_hh [G·H, H]
        return SgemmStep(int.Parse(args[1]), int.Parse(args[2]), int.Parse(args[3]),
                         args.Length > 4 ? int.Parse(args[4]) : WorkerTeam.Shared.Size);
    case "lstm-rows": // lstm-rows B H: µs per fused multi-row LSTM step with hot caches
        unsafe
        {
            int b = int.Parse(args[1]), h = int.Parse(args[2]);
            var w = GC.AllocateArray<float>(4 * h * h + 16, pinned: true); var wp = GC.AllocateArray<float>(4 * h * h + 16, pinned: true);
            var gx = GC.AllocateArray<float>(b * 4 * h, pinned: true); var hs = GC.AllocateArray<float>(2 * b * h, pinned: true); var cs = GC.AllocateArray<float>(2 * b * h, pinned: true);
            new Random(1).NextBytes(new byte[1]); for (int i = 0; i < w.Length; i++) w[i] = (i % 7) * 0.01f;
            fixed (float* pw = w) fixed (float* pwp = wp) fixed (float* pg = gx) fixed (float* ph = hs) fixed (float* pc = cs)
            {
                float* blocks = (float*)(((nuint)pwp + 63) & ~(nuint)63);
                RecurrentStepKernels.PackUnitBlocks(blocks, pw, h, 4, narrow: true);
                var times = new List<double>();
                for (int rep = 0; rep < 30; rep++)
                {
                    var sw = Stopwatch.StartNew();
                    for (int s = 0; s < 200; s++) RecurrentStepKernels.LstmRowsStep(ph + b * h, pc + b * h, null, pg, ph, pc, blocks, b, h, 0, h);
                    times.Add(sw.Elapsed.TotalMicroseconds / 200);
                }
                times.Sort();
                Console.WriteLine($"lstm-rows B={b} H={h}: median {times[15]:F2} µs per step, {2.0 * b * 4 * h * h / times[15] / 1000:F1} GFLOP/s");
            }
            return 0;
        }
    case "bdn": // BenchmarkDotNet: every SIMD kernel against its scalar twin (KernelBenchmarks.cs)
        BenchmarkDotNet.Running.BenchmarkSwitcher.FromAssembly(typeof(Gyre.Bench.GruGateBenchmarks).Assembly).Run(args[1..]);
        return 0;
    case "pmf-step": // pmf-step N [rounds] [B]: SegRNN-shaped training step, shared-state decoder step vs the decoder layer
        return Gyre.Bench.PmfBench.Run(args[1..]);
    case "forecast-soup": // forecast-soup DATA HORIZON [K…]: the SegRNN preset's best epoch against greedy checkpoint soups, all windows and drop-last
        return Gyre.Bench.ForecastSoup.Run(args[1..]);
    case "forecast-curve": // forecast-curve DATA HORIZON [EPOCHS] [HALF-LIFE…]: per-epoch validation and test MSE of the SegRNN preset and of weight EMAs
        return Gyre.Bench.ForecastCurve.Run(args[1..]);
    case "droplast": // droplast MODEL DATA [B]: scaled test MSE / MAE over all test windows and over the first ⌊W/B⌋·B of each series
        {
            var f = Gyre.Forecasting.Forecaster.Load(args[1]);
            var raw = f.LoadData(args[2]);
            int batch = args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 256;
            var all = f.Evaluate(raw, rawScale: false);
            int perSeries = all.TestWindows / (f.Options.ChannelIndependent ? f.DataInfo.TargetCount : 1) / raw.Series.Count;
            int kept = perSeries / batch * batch;
            var prefix = f.EvaluateTestPrefix(raw, kept, rawScale: false);
            Console.WriteLine($"all {perSeries} windows per series: MSE {all.Metrics.Mse:F4} MAE {all.Metrics.Mae:F4}; "
                + $"first {kept} (drop-last, batch {batch}): MSE {prefix.Metrics.Mse:F4} MAE {prefix.Metrics.Mae:F4}");
            return 0;
        }
    case "gates": // gates [H] [B]: fused gate kernels, SIMD vs scalar twin
        return Gyre.Bench.GateBench.Run(args[1..]);
    case "rnn": // rnn cell B T I H mode threads reps: one `gyre bench --json` row (RecurrentBenchmark)
        {
            var shape = new Gyre.Benchmarks.RecurrentBenchShape(Gyre.Cells.CellRegistry.Get(args[1]).Name,
                int.Parse(args[2]), int.Parse(args[3]), int.Parse(args[4]), int.Parse(args[5]));
            Console.WriteLine(Gyre.Benchmarks.RecurrentBenchmark.Run(shape, args[6], int.Parse(args[7]), int.Parse(args[8])).ToJson());
            return 0;
        }
    case "rnn-parts": // rnn-parts cell B T I H reps [threads]: median ms of inference, of a training Forward and of its Backward
        {
            var cell = Gyre.Cells.CellRegistry.FromText(args[1]);
            int b = int.Parse(args[2]), t = int.Parse(args[3]), i = int.Parse(args[4]), h = int.Parse(args[5]), reps = int.Parse(args[6]);
            Gemm.Team = new WorkerTeam(args.Length > 7 ? int.Parse(args[7]) : 1);
            var layer = new Gyre.Layers.RecurrentLayer(cell, i, h);
            // GYRE_BENCH_GROUP_ROWS: the backward's row groups (ExecutionOptions.BackwardGroupRows; 0: none) for A/B runs.
            if (Environment.GetEnvironmentVariable("GYRE_BENCH_GROUP_ROWS") is { } groupRows)
                layer.Execution = layer.Execution with { BackwardGroupRows = int.Parse(groupRows) };
            int ns = layer.StateCount;
            var x = Gyre.Tensors.Tensor.Zeros(t, b, i); new Gyre.Tensors.Rng(2).Uniform(x.Span, -1f, 1f);
            var y = Gyre.Tensors.Tensor.Zeros(t, b, h);
            var finals = Enumerable.Range(0, ns).Select(_ => Gyre.Tensors.Tensor.Zeros(1, b, h)).ToArray();
            var dInits = Enumerable.Range(0, ns).Select(_ => Gyre.Tensors.Tensor.Zeros(1, b, h)).ToArray();
            var inits = new Gyre.Tensors.Tensor?[ns];
            var dy = Gyre.Tensors.Tensor.Zeros(t, b, h); dy.Span.Fill(1f);
            var dx = Gyre.Tensors.Tensor.Zeros(t, b, i);
            var inf = new double[reps]; var fw = new double[reps]; var bw = new double[reps];
            // Interleaved, so a slow minute hits all three.
            for (int r = -3; r < reps; r++)
            {
                layer.Training = false;
                long t0 = Stopwatch.GetTimestamp();
                layer.Forward(x, inits, y, finals, default);
                layer.Training = true;
                long t1 = Stopwatch.GetTimestamp();
                layer.Forward(x, inits, y, finals, default);
                long t2 = Stopwatch.GetTimestamp();
                layer.Backward(dy, inits, dx, dInits);
                long t3 = Stopwatch.GetTimestamp();
                if (r >= 0)
                {
                    inf[r] = Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds;
                    fw[r] = Stopwatch.GetElapsedTime(t1, t2).TotalMilliseconds; bw[r] = Stopwatch.GetElapsedTime(t2, t3).TotalMilliseconds;
                }
            }
            Array.Sort(inf); Array.Sort(fw); Array.Sort(bw);

            Console.WriteLine($"{args[1]} {b}·{t}·{i}·{h} threads {Gemm.Team.Size}: inference median {inf[reps / 2]:F3} ms; forward(train) median {fw[reps / 2]:F3} ms; " +
                $"backward median {bw[reps / 2]:F3} ms; (forward + backward) / inference {(fw[reps / 2] + bw[reps / 2]) / inf[reps / 2]:F2}");
            return 0;
        }
    case "groups-ab": // groups-ab cell B T I H reps threads: training ms (forward + backward) with the backward's row groups
                      // (ExecutionOptions.BackwardGroupRows 32) against the shared loop (0), interleaved in one process
        {
            var cell = Gyre.Cells.CellRegistry.FromText(args[1]);
            int b = int.Parse(args[2]), t = int.Parse(args[3]), i = int.Parse(args[4]), h = int.Parse(args[5]), reps = int.Parse(args[6]);
            Gemm.Team = new WorkerTeam(int.Parse(args[7]));
            var layers = new[] { 32, 0 }.Select(g => new Gyre.Layers.RecurrentLayer(cell, i, h, seed: 1)
            {
                Execution = new Gyre.Layers.ExecutionOptions { BackwardGroupRows = g },
            }).ToArray();
            int ns = layers[0].StateCount;
            var x = Gyre.Tensors.Tensor.Zeros(t, b, i); new Gyre.Tensors.Rng(2).Uniform(x.Span, -1f, 1f);
            var y = Gyre.Tensors.Tensor.Zeros(t, b, h);
            var finals = Enumerable.Range(0, ns).Select(_ => Gyre.Tensors.Tensor.Zeros(1, b, h)).ToArray();
            var dInits = Enumerable.Range(0, ns).Select(_ => Gyre.Tensors.Tensor.Zeros(1, b, h)).ToArray();
            var inits = new Gyre.Tensors.Tensor?[ns];
            var dy = Gyre.Tensors.Tensor.Zeros(t, b, h); new Gyre.Tensors.Rng(3).Uniform(dy.Span, -1f, 1f);
            var dx = Gyre.Tensors.Tensor.Zeros(t, b, i);
            var fw = new[] { new List<double>(), new List<double>() }; var bw = new[] { new List<double>(), new List<double>() };
            for (int r = -5; r < reps; r++)
                for (int m = 0; m < 2; m++)
                {
                    int arm = r % 2 == 0 ? m : 1 - m;   // alternate which arm runs first
                    long t0 = Stopwatch.GetTimestamp();
                    layers[arm].Forward(x, inits, y, finals, default);
                    long t1 = Stopwatch.GetTimestamp();
                    layers[arm].Backward(dy, inits, dx, dInits);
                    long t2 = Stopwatch.GetTimestamp();
                    if (r >= 0) { fw[arm].Add(Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds); bw[arm].Add(Stopwatch.GetElapsedTime(t1, t2).TotalMilliseconds); }
                }
            for (int m = 0; m < 2; m++)
            {
                fw[m].Sort(); bw[m].Sort();
                Console.WriteLine($"{args[1]} {b}·{t}·{i}·{h} threads {Gemm.Team.Size} {(m == 0 ? "row groups" : "shared loop")}: forward median {fw[m][reps / 2]:F3} ms, backward median {bw[m][reps / 2]:F3} ms");
            }
            return 0;
        }
    case "fused-ab": // fused-ab cell B T I H reps threads [fixed-rows]: inference ms with the fused paths against without
                     // (fixed-rows: with claimed row blocks against the fixed row split), interleaved
        {
            var cell = Gyre.Cells.CellRegistry.FromText(args[1]);
            int b = int.Parse(args[2]), t = int.Parse(args[3]), i = int.Parse(args[4]), h = int.Parse(args[5]), reps = int.Parse(args[6]);
            var team = new WorkerTeam(int.Parse(args[7]));
            Gemm.Team = team;
            var layer = new Gyre.Layers.RecurrentLayer(cell, i, h, seed: 1) { Training = false };
            int ns = layer.StateCount;
            var x = Gyre.Tensors.Tensor.Zeros(t, b, i); new Gyre.Tensors.Rng(2).Uniform(x.Span, -1f, 1f);
            var y = Gyre.Tensors.Tensor.Zeros(t, b, h);
            var finals = Enumerable.Range(0, ns).Select(_ => Gyre.Tensors.Tensor.Zeros(1, b, h)).ToArray();
            var inits = new Gyre.Tensors.Tensor?[ns];
            var ms = new[] { new List<double>(), new List<double>() };
            bool rowBlocks = args.Length > 8 && args[8] == "fixed-rows";
            var options = new[] { new Gyre.Layers.ExecutionOptions { AllowFused = true },
                rowBlocks ? new Gyre.Layers.ExecutionOptions { FusedRowBlocks = false } : new Gyre.Layers.ExecutionOptions { AllowFused = false } };
            string[] arms = rowBlocks ? ["row blocks", "fixed rows"] : ["fused", "unfused"];
            var paths = new string[2];
            for (int r = -5; r < reps; r++)
                for (int m = 0; m < 2; m++)
                {
                    layer.Execution = options[m];
                    long t0 = Stopwatch.GetTimestamp();
                    layer.Forward(x, inits, y, finals, default);
                    if (r >= 0) ms[m].Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                    paths[m] = layer.LastForwardPaths[0].ToString();
                }
            for (int m = 0; m < 2; m++)
            {
                ms[m].Sort();
                Console.WriteLine($"{args[1]} {b}·{t}·{i}·{h} threads {team.Size} {arms[m]} (path {paths[m]}): median {ms[m][reps / 2]:F3} ms");
            }
            return 0;
        }
    case "advance": // advance cell I H threads k calls: µs per Advance of one stream by k steps (B = 1)
        {
            var cell = Gyre.Cells.CellRegistry.FromText(args[1]);
            int i = int.Parse(args[2]), h = int.Parse(args[3]), k = int.Parse(args[5]), calls = int.Parse(args[6]);
            Gemm.Team = new WorkerTeam(int.Parse(args[4]));
            var layer = new Gyre.Layers.RecurrentLayer(cell, i, h, seed: 1) { Training = false, WeightsFrozen = args.Length > 7 && args[7] == "frozen" };
            var x = Gyre.Tensors.Tensor.Zeros(k, 1, i); new Gyre.Tensors.Rng(2).Uniform(x.Span, -1f, 1f);
            var y = Gyre.Tensors.Tensor.Zeros(k, 1, h);
            var states = Enumerable.Range(0, layer.StateCount).Select(j => Gyre.Tensors.Tensor.Zeros(1, 1, layer.StateWidth(j))).ToArray();
            // Interleaved rounds: the layer as it is (timed arms) and always split (the arm before timing existed).
            var times = new[] { new List<double>(), new List<double>() };
            for (int round = 0; round < 22; round++)
            {
                int arm = round % 2;
                layer.Execution = new Gyre.Layers.ExecutionOptions { TimeFusedSplit = arm == 0 };
                long t0 = Stopwatch.GetTimestamp();
                for (int c = 0; c < calls; c++) layer.Advance(x, states, y);
                if (round > 1) times[arm].Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds / calls);
            }
            for (int arm = 0; arm < 2; arm++)
            {
                times[arm].Sort();
                double m = times[arm][times[arm].Count / 2];
                Console.WriteLine($"advance {args[1]} I={i} H={h} threads {Gemm.Team.Size} k={k} {(arm == 0 ? "timed arms" : "always split")}: median {m:F2} µs per call ({m / k:F2} per step)");
            }
            return 0;
        }
    case "rnn-cpu": // rnn-cpu reps "cell B T I H"...: one thread, median thread-CPU ms of inference and of training, and their ratio
        {
            int reps = int.Parse(args[1]);
            Gemm.Team = new WorkerTeam(1);
            foreach (var row in args.Skip(2))
            {
                var f = row.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var cell = Gyre.Cells.CellRegistry.FromText(f[0]);
                int b = int.Parse(f[1]), t = int.Parse(f[2]), i = int.Parse(f[3]), h = int.Parse(f[4]);
                var layer = new Gyre.Layers.RecurrentLayer(cell, i, h, seed: 1);
                int ns = layer.StateCount;
                var x = Gyre.Tensors.Tensor.Zeros(t, b, i); new Gyre.Tensors.Rng(2).Uniform(x.Span, -1f, 1f);
                var y = Gyre.Tensors.Tensor.Zeros(t, b, layer.OutputSize);
                var finals = Enumerable.Range(0, ns).Select(j => Gyre.Tensors.Tensor.Zeros(1, b, layer.StateWidth(j))).ToArray();
                var dInits = Enumerable.Range(0, ns).Select(j => Gyre.Tensors.Tensor.Zeros(1, b, layer.StateWidth(j))).ToArray();
                var inits = new Gyre.Tensors.Tensor?[ns];
                var dy = Gyre.Tensors.Tensor.Zeros(t, b, layer.OutputSize); dy.Span.Fill(1f);
                var dx = Gyre.Tensors.Tensor.Zeros(t, b, i);
                double Measure(bool train)
                {
                    layer.Training = train;
                    var cpu = new double[reps];
                    for (int r = -3; r < reps; r++)
                    {
                        long c0 = ThreadCpuNs();
                        layer.Forward(x, inits, y, finals, default);
                        if (train) layer.Backward(dy, new Gyre.Tensors.Tensor?[ns], dx, dInits);
                        if (r >= 0) cpu[r] = (ThreadCpuNs() - c0) / 1e6;
                    }
                    Array.Sort(cpu);
                    return cpu[reps / 2];
                }
                double infer = Measure(false), train = Measure(true);
                Console.WriteLine($"{row}: thread CPU infer {infer:F3} ms, train {train:F3} ms, train/infer {train / infer:F2}");
            }
            return 0;
        }
    case "batch1": // batch1 cell T I H threads min-hidden patience reps: wall ms of batch-1 inference (median, p90, max)
        {
            var cell = Gyre.Cells.CellRegistry.FromText(args[1]);
            int t = int.Parse(args[2]), i = int.Parse(args[3]), h = int.Parse(args[4]), reps = int.Parse(args[8]);
            using var team = new WorkerTeam(int.Parse(args[5]));
            var layer = new Gyre.Layers.RecurrentLayer(cell, i, h, seed: 1)
            {
                Training = false,
                Execution = new Gyre.Layers.ExecutionOptions
                {
                    Team = team, ParallelFusedMinHidden = int.Parse(args[6]),
                    FusedSplitPatience = double.Parse(args[7], System.Globalization.CultureInfo.InvariantCulture),
                },
            };
            int ns = layer.StateCount;
            var x = Gyre.Tensors.Tensor.Zeros(t, 1, i); new Gyre.Tensors.Rng(2).Uniform(x.Span, -1f, 1f);
            var y = Gyre.Tensors.Tensor.Zeros(t, 1, layer.OutputSize);
            var finals = Enumerable.Range(0, ns).Select(j => Gyre.Tensors.Tensor.Zeros(1, 1, layer.StateWidth(j))).ToArray();
            var inits = new Gyre.Tensors.Tensor?[ns];
            var ms = new double[reps];
            for (int r = -20; r < reps; r++)
            {
                long t0 = Stopwatch.GetTimestamp();
                layer.Forward(x, inits, y, finals, default);
                if (r >= 0) ms[r] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            }
            Array.Sort(ms);
            Console.WriteLine($"batch1 {args[1]} T={t} I={i} H={h} threads={team.Size} min-hidden={args[6]} patience={args[7]}: median {ms[reps / 2]:F3} ms, p90 {ms[reps * 9 / 10]:F3}, max {ms[^1]:F3} ({layer.LastForwardPaths[0]})");
            return 0;
        }
    case "rnn-grid": // rnn-grid threads reps [mode]: the standard grid as JSON lines
        foreach (var shape in Gyre.Benchmarks.RecurrentBenchmark.StandardGrid)
            foreach (var mode in args.Length > 3 ? new[] { args[3] } : new[] { "infer", "train" })
                Console.WriteLine(Gyre.Benchmarks.RecurrentBenchmark.Run(shape, mode, int.Parse(args[1]), int.Parse(args[2])).ToJson());
        return 0;
    case "team": // team [threads]: dispatch cost of an empty job, and whether busy shares overlap
        return Team(args.Length > 1 ? int.Parse(args[1]) : WorkerTeam.Shared.Size);
    default:
        Console.Error.WriteLine($"unknown benchmark '{args[0]}' (known: sgemm, sgemm-shape, sgemm-step, gates, team, rnn, rnn-grid, rnn-parts, sgemm-tn, bdn)");
        return 2;
}

static int Sgemm(int m, int n, int k, int threads)
{
    var rng = new Random(1);
    var a = new float[m * k]; var b = new float[k * n]; var c = new float[m * n];
    for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble() - 0.5f;
    for (int i = 0; i < b.Length; i++) b[i] = (float)rng.NextDouble() - 0.5f;
    using var team = new WorkerTeam(threads);
    double flops = 2.0 * m * n * k;
    int warm = 3, runs = flops >= 1e9 ? 9 : 51;
    var rates = new double[runs];
    var cpuRates = new double[runs];
    using var process = Process.GetCurrentProcess();
    for (int r = -warm; r < runs; r++)
    {
        process.Refresh();
        TimeSpan cpu0 = process.TotalProcessorTime;
        long t0 = Stopwatch.GetTimestamp();
        Gemm.Multiply(TransA, false, m, n, k, a, TransA ? m : k, b, n, c, n, false, team);
        double s = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        process.Refresh();
        double cpu = (process.TotalProcessorTime - cpu0).TotalSeconds;
        if (r >= 0) { rates[r] = flops / s / 1e9; cpuRates[r] = flops / Math.Max(cpu, 1e-6) / 1e9; }
    }
    Array.Sort(rates);
    Array.Sort(cpuRates);
    Console.WriteLine($"tile {Gemm.MR}x{Gemm.NR}; sgemm m={m} n={n} k={k} threads={threads}: median {rates[runs / 2]:F1} GFLOP/s (min {rates[0]:F1}, max {rates[^1]:F1}, {runs} runs); per CPU-second: median {cpuRates[runs / 2]:F1} GFLOP");
    return 0;
}

// One recurrent time step's h·W_hhᵀ, W_hh unpacked (packed again on every call) and pre-packed once.
static int SgemmStep(int batch, int hidden, int gates, int threads)
{
    int gh = gates * hidden;
    var rng = new Random(2);
    var h = new float[batch * hidden]; var w = new float[gh * hidden]; var c = new float[batch * gh];
    for (int i = 0; i < h.Length; i++) h[i] = (float)rng.NextDouble() - 0.5f;
    for (int i = 0; i < w.Length; i++) w[i] = (float)rng.NextDouble() - 0.5f;
    using var team = new WorkerTeam(threads);
    var packed = Gemm.PackB(true, gh, hidden, w, hidden);
    double Median(Action step)
    {
        const int inner = 200, runs = 15;
        var us = new double[runs];
        for (int i = 0; i < 3 * inner; i++) step();
        for (int r = 0; r < runs; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < inner; i++) step();
            us[r] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds / inner;
        }
        Array.Sort(us);
        return us[runs / 2];
    }
    double unpacked = Median(() => Gemm.Multiply(false, true, batch, gh, hidden, h, hidden, w, hidden, c, gh, false, team));
    double prepacked = Median(() => Gemm.Multiply(false, batch, h, hidden, packed, c, gh, false, team));
    Console.WriteLine($"sgemm-step B={batch} H={hidden} G={gates} threads={threads}: unpacked {unpacked:F2} µs, pre-packed {prepacked:F2} µs per step (median)");
    return 0;
}

static int Team(int threads)
{
    using var team = new WorkerTeam(threads);
    var empty = new BusyJob { Microseconds = 0 };
    for (int i = 0; i < 10_000; i++) team.Run(ref empty);
    long t0 = Stopwatch.GetTimestamp();
    for (int i = 0; i < 100_000; i++) team.Run(ref empty);
    double dispatch = Stopwatch.GetElapsedTime(t0).TotalMicroseconds / 100_000;
    var busy = new BusyJob { Microseconds = 20_000 };
    t0 = Stopwatch.GetTimestamp();
    team.Run(ref busy);
    double wall = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
    Console.WriteLine($"team threads={threads}: back-to-back dispatch {dispatch:F2} µs; {threads} shares of 20 ms busy took {wall:F1} ms wall");
    return 0;
}

struct BusyJob : IWorkerJob
{
    public int Microseconds;
    public readonly void Execute(int worker, int workers)
    {
        long end = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 1_000_000 * Microseconds;
        while (Stopwatch.GetTimestamp() < end) { }
    }
}

static unsafe partial class Program
{
    static bool TransA;

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, long* timespec);

    /// <summary>CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID): unlike wall time, it does not count the
    /// minutes another process holds the core, so one-thread runs compare on a shared machine.</summary>
    static long ThreadCpuNs()
    {
        long* ts = stackalloc long[2];
        return ClockGetTime(3, ts) == 0 ? ts[0] * 1_000_000_000L + ts[1] : 0;
    }
}
