using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Gyre.Cli.Output;
using Gyre.Data;
using Gyre.Trajectories;
using Spectre.Console;

namespace Gyre.Cli.Commands;

/// <summary>
/// `gyre trajectory` — where moving agents go next: a recurrent model of displacements with a Gaussian head,
/// ADE/FDE beside constant-velocity and linear-fit baselines. Without a subcommand: train on the bundled UCY
/// students001 scene, test on crowds_zara01.
/// </summary>
internal static class TrajectoryCommand
{
    /// <summary>How tracks are read: the ETH/UCY text layout, or CSV columns.</summary>
    private sealed class DataOptions
    {
        public readonly Option<string?> TimeCol = new("--time-col") { Description = "CSV: time or frame column (default 'frame')" };
        public readonly Option<string?> IdCol = new("--id-col") { Description = "CSV: agent id column (default 'agent')" };
        public readonly Option<string?> X = new("--x") { Description = "CSV: x column (default 'x')" };
        public readonly Option<string?> Y = new("--y") { Description = "CSV: y column (default 'y')" };
        public readonly Option<string?> Z = new("--z") { Description = "CSV: z column for 3-D tracks" };

        public void AddTo(Command c)
        {
            foreach (Option o in new Option[] { TimeCol, IdCol, X, Y, Z }) c.Options.Add(o);
        }

        /// <summary>A .csv file, or any file when a CSV column option is given, is CSV; anything else the text layout.</summary>
        public TrackSet Load(ParseResult p, string path)
        {
            bool csv = path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) || p.GetValue(TimeCol) != null || p.GetValue(IdCol) != null
                || p.GetValue(X) != null || p.GetValue(Y) != null || p.GetValue(Z) != null;
            return csv ? TrackSet.LoadCsv(path, p.GetValue(TimeCol) ?? "frame", p.GetValue(IdCol) ?? "agent", p.GetValue(X) ?? "x", p.GetValue(Y) ?? "y", p.GetValue(Z))
                : TrackSet.LoadText(path);
        }
    }

    private sealed class ModelOptions
    {
        public readonly Option<int> Obs = new("--obs") { Description = "Observed positions", DefaultValueFactory = _ => 8 };
        public readonly Option<int> Pred = new("--pred") { Description = "Predicted positions", DefaultValueFactory = _ => 12 };
        public readonly Option<int> Hidden = new("--hidden") { Description = "Hidden units", DefaultValueFactory = _ => 64 };
        public readonly Option<int> Epochs = new("--epochs") { Description = "Training epochs", DefaultValueFactory = _ => 30 };
        public readonly Option<string> Cell = new("--cell") { Description = $"Recurrent cell: {string.Join(" | ", Cells.CellRegistry.Names)}; options as name(k=v,…)", DefaultValueFactory = _ => Cells.CellRegistry.Default };
        public readonly Option<int?> Layers = UserInput.Int("--layers", "Recurrent layers K (default 1)", min: 1, max: 64);
        public readonly Option<int?> Gmu = UserInput.Int("--gmu", "Gated memory units (SambaY) after the recurrent layers: z = σ(W·z + b) ⊙ m, m read from the --gmu-memory layer (default 0: none)", min: 0, max: Models.EncoderStack.MaxGmu);
        public readonly Option<int?> GmuMemory = UserInput.Int("--gmu-memory", "Recurrent layer (0-based) whose output the GMUs read as memory m (default: the last)", min: 0, max: 63);
        public readonly Option<bool?> Bidirectional = UserInput.Flag("--bidirectional", "The encoder reads the observed displacements in both directions");
        public readonly Option<bool> NoRotate = new("--no-rotate") { Description = "World frame: do not rotate training samples at random" };
        public readonly Option<string> Frame = new("--frame") { Description = "canonical (each sample turned to its heading) | world (random-rotation augmentation unless --no-rotate)", DefaultValueFactory = _ => "world" };
        public readonly Option<double> Holdout = new("--holdout") { Description = "Share of each training scene's time held out at its end to choose how much of the network's correction to constant velocity to keep (0 = keep all of it)", DefaultValueFactory = _ => 0.2 };
        public readonly Option<ulong> Seed = new("--seed") { Description = "Random seed", DefaultValueFactory = _ => 1UL };
        public readonly Option<string?> OnNan = UserInput.OnNan();

        public void AddTo(Command c)
        {
            foreach (Option o in new Option[] { Obs, Pred, Hidden, Epochs, Cell, Layers, Bidirectional, Gmu, GmuMemory, Frame, NoRotate, Holdout, Seed, OnNan }) c.Options.Add(o);
        }

        /// <summary>The options, checked: a value out of range is the user's input (exit 2), not a bug.</summary>
        public TrajectoryOptions Get(ParseResult p)
        {
            int layers = p.GetValue(Layers) ?? 1, gmu = p.GetValue(Gmu) ?? 0;
            int? memory = p.GetValue(GmuMemory);
            if (Models.EncoderStack.Problem(layers, gmu, memory) is { } bad) throw new GyreDataException(bad);
            try
            {
                var o = new TrajectoryOptions
                {
                    Obs = p.GetValue(Obs), Pred = p.GetValue(Pred), Hidden = p.GetValue(Hidden), Epochs = p.GetValue(Epochs), Cell = p.GetValue(Cell)!,
                    Layers = layers, Bidirectional = p.GetValue(Bidirectional) == true, Gmu = gmu, GmuMemory = memory,
                    Rotate = !p.GetValue(NoRotate), Holdout = p.GetValue(Holdout), Seed = p.GetValue(Seed), OnNan = UserInput.NanPolicy(p, OnNan),
                    Canonical = p.GetValue(Frame) switch { "canonical" => true, "world" => false, var f => throw new ArgumentException($"--frame '{f}' is not canonical or world") },
                };
                o.Validate();
                return o;
            }
            catch (ArgumentException e) { throw new GyreDataException(e.Message); }
        }
    }

    private static Option<string> Adapt() => new("--adapt")
    {
        Description = "online: choose the share of the network's correction for each window from the windows of the same scene whose truth ended by the end of its observation (causal) | none: the trained share for every window",
        DefaultValueFactory = _ => "online",
    };

    private static CorrectionAdaptation GetAdapt(ParseResult p, Option<string> o) => p.GetValue(o) switch
    {
        "online" => CorrectionAdaptation.Online,
        "none" => CorrectionAdaptation.None,
        var v => throw new GyreDataException($"--adapt '{v}' is not online or none"),
    };

    private static Option<int> Samples() => new("--samples") { Description = "K samples per window: best-of-K ADE/FDE beside the mean", DefaultValueFactory = _ => 20 };

    public static Command Create(CliContext ctx)
    {
        var m = new ModelOptions();
        var samples = Samples();
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var outDir = new Option<string>("--out-dir") { Description = "Folder for the bundled run's model, predictions and plot", DefaultValueFactory = _ => "gyre-output" };
        var adapt = Adapt();
        var cmd = new Command("trajectory", "Forecast where moving agents go next (ETH/UCY text or CSV tracks). Without a subcommand: train on UCY students001, test on crowds_zara01.");
        m.AddTo(cmd); cmd.Options.Add(samples); cmd.Options.Add(adapt); cmd.Options.Add(json); cmd.Options.Add(outDir);
        cmd.SetAction(p =>
        {
            string dir = p.GetValue(outDir)!;
            var o = m.Get(p);
            o.Validate();
            int k = CheckSamples(p.GetValue(samples));
            var how = GetAdapt(p, adapt);
            Directory.CreateDirectory(dir);
            var log = p.GetValue(json) ? ctx.Err : ctx.Out;
            log.WriteLine("gyre trajectory: bundled run — train on UCY students001, test on crowds_zara01 (Social-STGCNN data, MIT)");
            var train = TrainingWindows([TrackSet.LoadText(DetectCommand.Bundled("students001.txt"))], o);
            var test = Windows([TrackSet.LoadText(DetectCommand.Bundled("crowds_zara01.txt"))], o);
            string model = Path.Combine(dir, "trajectory.gyre"), csv = Path.Combine(dir, "zara01-predictions.csv"), png = Path.Combine(dir, "zara01-paths.png");
            using var plan = new OutputPlan();
            var (modelOut, csvOut, pngOut) = (plan.Add("--out-dir", model), plan.Add("--out-dir", csv), plan.Add("--out-dir", png));
            plan.Check();
            var predictor = Train(ctx, log, train, o);
            var (mean, drawn) = predictor.Predict(test, k, o.Seed, how);
            predictor.Save(modelOut.Temp);
            TrajectoryOutput.WriteCsv(csvOut.Temp, test, mean, drawn, k);
            TrajectoryOutput.WritePlot(pngOut.Temp, test, mean, drawn, k);
            plan.Commit();
            Report(ctx, p.GetValue(json), predictor, how, k, test, [model, csv, png]);
            return Cli.Ok;
        });
        cmd.Subcommands.Add(TrainCmd(ctx));
        cmd.Subcommands.Add(EvalCmd(ctx));
        cmd.Subcommands.Add(PredictCmd(ctx));
        return cmd;
    }

    private static int CheckSamples(int k) => k >= 0 ? k : throw new ArgumentException($"--samples {k} must be ≥ 0");

    private static TrajectoryWindows Windows(IReadOnlyList<TrackSet> sets, TrajectoryOptions o)
    {
        var parts = sets.Select(s => TrajectoryWindows.Build(s, o.Obs, o.Pred)).ToList();
        if (sets.Select(s => s.Dims).Distinct().Count() > 1) throw new GyreDataException("2-D and 3-D tracks cannot be mixed", sets[1].Source);
        for (int i = 0; i < sets.Count; i++)
            if (parts[i].Count == 0) throw new GyreDataException($"no agent is present at {o.Obs + o.Pred} consecutive frames (--obs {o.Obs} + --pred {o.Pred})", sets[i].Source);
        return TrajectoryWindows.Concat(parts);
    }

    /// <summary>Every training window and, with --holdout, the same scenes split in time (see <see cref="TrajectoryPredictor.Split"/>).</summary>
    private static TrainingData TrainingWindows(IReadOnlyList<TrackSet> sets, TrajectoryOptions o) => new(Windows(sets, o), TrajectoryPredictor.Split(sets, o));

    private sealed record TrainingData(TrajectoryWindows All, (TrajectoryWindows Head, TrajectoryWindows Held)? Split);

    private static TrajectoryPredictor Train(CliContext ctx, TextWriter log, TrainingData data, TrajectoryOptions o, Gyre.Training.DataParallel? parallel = null)
    {
        string holdout = $"--holdout {o.Holdout.ToString(CultureInfo.InvariantCulture)}";
        if (data.Split is var (head, held))
            log.WriteLine($"choosing the correction to constant velocity: training on {head.Count} earlier windows, scoring {held.Count} later ones ({holdout})");
        else if (o.Holdout > 0)
            log.WriteLine($"the scenes are too short to hold out their last {o.Holdout.ToString("P0", CultureInfo.InvariantCulture)} ({holdout}): the network's correction to constant velocity is kept in full");
        log.WriteLine($"training on {data.All.Count} windows ({o.Obs} observed + {o.Pred} predicted positions), {o.Epochs} epochs"
            + (data.Split is null ? "" : " (after the held-out run)"));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int lastEpoch = 0;
        var progress = new LineProgress(pr =>
        {
            if (pr.Batch != pr.Batches || pr.Epoch == lastEpoch) return;
            lastEpoch = pr.Epoch;
            if (pr.Epoch % 5 == 0 || pr.Epoch == pr.Epochs) log.WriteLine($"epoch {pr.Epoch}/{pr.Epochs}  nll {pr.Loss:F4}  {pr.Elapsed.TotalSeconds:F0}s");
        });
        var model = TrajectoryPredictor.Fit(data.All, o, progress, parallel, data.Split);
        int skipped = model.History.Sum(e => e.Skipped);
        log.WriteLine($"trained in {clock.Elapsed.TotalSeconds:F1} s" + (skipped > 0 ? $"; skipped {skipped} batch(es) with a NaN/Inf loss or gradient (--on-nan skip)" : ""));
        log.WriteLine($"correction to constant velocity kept: {model.Correction.ToString("0.##", CultureInfo.InvariantCulture)} of the network's"
            + (data.Split is null ? " (no holdout)" : " (lowest held-out ADE)"));
        return model;
    }

    /// <summary>Reports on the training thread, in order (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class LineProgress(Action<Gyre.Training.TrainingProgress> report) : IProgress<Gyre.Training.TrainingProgress>
    {
        public void Report(Gyre.Training.TrainingProgress value) => report(value);
    }

    private static Command TrainCmd(CliContext ctx)
    {
        var d = new DataOptions();
        var m = new ModelOptions();
        var data = new Option<string[]>("--data") { Description = "Track file(s); repeat for several scenes", Required = true, AllowMultipleArgumentsPerToken = false };
        var outPath = new Option<string>("--out") { Description = "Model file to write", Required = true };
        var distributed = DistributedRun.Flag();
        var bucket = DistributedRun.BucketOption();
        var cmd = new Command("train", "Train a trajectory model on one or more scenes");
        cmd.Options.Add(data); d.AddTo(cmd); m.AddTo(cmd); cmd.Options.Add(outPath); cmd.Options.Add(distributed); cmd.Options.Add(bucket);
        cmd.SetAction(p =>
        {
            string output = p.GetValue(outPath)!;
            using var plan = new OutputPlan();
            var modelOut = plan.Add("--out", output);
            foreach (var f in p.GetValue(data)!) plan.Input("--data", f);
            plan.Check();
            var o = m.Get(p);
            o.Validate();
            var train = TrainingWindows(p.GetValue(data)!.Select(f => d.Load(p, f)).ToList(), o);
            using var run = DistributedRun.Start(p.GetValue(distributed), p.GetValue(bucket), ctx);
            var model = Train(run.Context, run.Context.Out, train, o, run.Parallel);
            if (!run.IsRoot) return Cli.Ok;   // rank 0 writes the model
            model.Save(modelOut.Temp);
            plan.Commit();
            ctx.Out.WriteLine($"wrote {output}");
            return Cli.Ok;
        });
        return cmd;
    }

    private static Command EvalCmd(CliContext ctx)
    {
        var d = new DataOptions();
        var model = new Option<string>("--model") { Description = "Model file", Required = true };
        var data = new Option<string>("--data") { Description = "Track file to evaluate on", Required = true };
        var samples = Samples();
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var adapt = Adapt();
        var cmd = new Command("eval", "ADE/FDE of a model beside constant-velocity and linear-fit baselines on the same windows");
        cmd.Options.Add(model); cmd.Options.Add(data); d.AddTo(cmd); cmd.Options.Add(samples); cmd.Options.Add(adapt); cmd.Options.Add(json);
        cmd.SetAction(p =>
        {
            int k = CheckSamples(p.GetValue(samples));
            var how = GetAdapt(p, adapt);
            var predictor = TrajectoryPredictor.Load(p.GetValue(model)!);
            var set = d.Load(p, p.GetValue(data)!);
            if (set.Dims != predictor.Dims) throw new GyreDataException($"{set.Dims}-D tracks for a {predictor.Dims}-D model", set.Source);
            var w = Windows([set], predictor.Options);
            Report(ctx, p.GetValue(json), predictor, how, k, w, []);
            return Cli.Ok;
        });
        return cmd;
    }

    private static Command PredictCmd(CliContext ctx)
    {
        var d = new DataOptions();
        var model = new Option<string>("--model") { Description = "Model file", Required = true };
        var data = new Option<string>("--data") { Description = "Track file", Required = true };
        var outPath = new Option<string>("--out") { Description = "Predictions CSV", Required = true };
        var plot = new Option<string?>("--plot") { Description = "Also write a PNG of observed paths, truths and predictions" };
        var samples = new Option<int>("--samples") { Description = "K samples per window written beside the mean", DefaultValueFactory = _ => 0 };
        var adapt = Adapt();
        var cmd = new Command("predict", "Predict the next positions of every window (agent at obs + pred consecutive frames) and write them with the truth");
        cmd.Options.Add(model); cmd.Options.Add(data); d.AddTo(cmd); cmd.Options.Add(outPath); cmd.Options.Add(plot); cmd.Options.Add(samples); cmd.Options.Add(adapt);
        cmd.SetAction(p =>
        {
            var how = GetAdapt(p, adapt);
            string output = p.GetValue(outPath)!;
            using var plan = new OutputPlan();
            var csvOut = plan.Add("--out", output);
            var pngOut = p.GetValue(plot) is { } plotPath ? plan.Add("--plot", plotPath) : null;
            plan.Input("--model", p.GetValue(model)!);
            plan.Input("--data", p.GetValue(data)!);
            plan.Check();
            int k = CheckSamples(p.GetValue(samples));
            var predictor = TrajectoryPredictor.Load(p.GetValue(model)!);
            var set = d.Load(p, p.GetValue(data)!);
            if (set.Dims != predictor.Dims) throw new GyreDataException($"{set.Dims}-D tracks for a {predictor.Dims}-D model", set.Source);
            var w = Windows([set], predictor.Options);
            var (mean, drawn) = predictor.Predict(w, k, predictor.Options.Seed, how);
            TrajectoryOutput.WriteCsv(csvOut.Temp, w, mean, drawn, k);
            if (pngOut is not null) TrajectoryOutput.WritePlot(pngOut.Temp, w, mean, drawn, k);
            plan.Commit();
            ctx.Out.WriteLine($"wrote {output} ({w.Count} windows)" + (p.GetValue(plot) is { } pp ? $" and {pp}" : ""));
            return Cli.Ok;
        });
        return cmd;
    }

    /// <summary>
    /// The model's ADE/FDE with the chosen adaptation beside constant velocity and the linear fit; with online adaptation
    /// also the model with its trained α fixed, so the gain of adapting on the test scene's past is visible.
    /// </summary>
    private static void Report(CliContext ctx, bool json, TrajectoryPredictor model, CorrectionAdaptation adapt, int k, TrajectoryWindows w, string[] wrote)
    {
        ulong seed = model.Options.Seed;
        var s = model.Evaluate(w, k, seed, adapt);
        var fixedScores = adapt == CorrectionAdaptation.None ? s : model.Evaluate(w, 0, seed);
        var alphas = model.Corrections(w, adapt);
        double meanAlpha = alphas.Average();
        var cv = TrajectoryMetrics.Evaluate(w, TrajectoryBaselines.ConstantVelocity);
        var lin = TrajectoryMetrics.Evaluate(w, TrajectoryBaselines.Linear);
        static double R(double v) => Math.Round(v, 4);
        string trained = model.Correction.ToString("0.##", CultureInfo.InvariantCulture);
        if (json)
        {
            var metrics = new JsonObject { ["ade"] = R(s.Ade), ["fde"] = R(s.Fde) };
            if (s.BestOfKAde is { } ba) { metrics["best_of_k_ade"] = R(ba); metrics["best_of_k_fde"] = R(s.BestOfKFde!.Value); metrics["k"] = k; }
            var root = new JsonObject
            {
                ["metrics"] = metrics,
                ["baselines"] = new JsonObject
                {
                    ["constant_velocity"] = new JsonObject { ["ade"] = R(cv.Ade), ["fde"] = R(cv.Fde) },
                    ["linear"] = new JsonObject { ["ade"] = R(lin.Ade), ["fde"] = R(lin.Fde) },
                },
                ["windows"] = w.Count,
                ["adapt"] = adapt == CorrectionAdaptation.Online ? "online" : "none",
                ["correction"] = new JsonObject { ["trained"] = R(model.Correction), ["mean"] = R(meanAlpha), ["min"] = R(alphas.Min()), ["max"] = R(alphas.Max()) },
                ["fixed_correction"] = new JsonObject { ["ade"] = R(fixedScores.Ade), ["fde"] = R(fixedScores.Fde) },
            };
            ctx.Out.WriteLine(root.ToJsonString());
            return;
        }
        ctx.Out.WriteLine($"{w.Count} windows of {w.Obs} observed + {w.Pred} predicted positions; errors in metres");
        if (adapt == CorrectionAdaptation.Online)
            ctx.Out.WriteLine($"--adapt online: the test scene's own past is used causally — each window's share of the correction is chosen from the windows whose truth ended by the end of its observation (trained share {trained} as a prior worth {TrajectoryPredictor.OnlinePriorWindows:0} windows; mean {meanAlpha.ToString("0.##", CultureInfo.InvariantCulture)}, range {alphas.Min().ToString("0.##", CultureInfo.InvariantCulture)}–{alphas.Max().ToString("0.##", CultureInfo.InvariantCulture)}); --adapt none uses the trained share alone");
        var t = new Table().AddColumn("predictor").AddColumn(new TableColumn("ADE").RightAligned()).AddColumn(new TableColumn("FDE").RightAligned());
        static string F(double v) => v.ToString("F3", CultureInfo.InvariantCulture);
        t.AddRow(adapt == CorrectionAdaptation.Online ? "gyre (mean, adapted online)" : "gyre (mean)", F(s.Ade), F(s.Fde));
        if (s.BestOfKAde is { } b) t.AddRow($"gyre best of {k}", F(b), F(s.BestOfKFde!.Value));
        if (adapt == CorrectionAdaptation.Online) t.AddRow($"gyre (mean, trained share {trained} fixed)", F(fixedScores.Ade), F(fixedScores.Fde));
        t.AddRow("constant velocity", F(cv.Ade), F(cv.Fde));
        t.AddRow("linear fit", F(lin.Ade), F(lin.Fde));
        ctx.Console.Write(t);
        foreach (var f in wrote) ctx.Out.WriteLine($"wrote {f}");
    }
}
