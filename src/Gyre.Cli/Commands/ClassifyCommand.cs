using System.CommandLine;
using System.Globalization;
using Gyre.Classification;
using Gyre.Cli.Output;
using Gyre.Data;

namespace Gyre.Cli.Commands;

/// <summary>
/// `gyre classify` — with no subcommand, the bundled job (GunPoint: train, then test accuracy beside the
/// majority-class, 1-NN Euclidean and 1-NN DTW baselines); subcommands train, eval, predict, inspect.
/// </summary>
internal static class ClassifyCommand
{
    internal static string BundledFolder => Path.Combine(AppContext.BaseDirectory, "Data", "classification");

    /// <summary>The options every classify command that trains shares; only options the user gave override the defaults.</summary>
    private sealed class Options
    {
        public readonly Option<string?> Task = new("--task") { Description = "classification (class labels) | regression (one numeric target per sequence: MSE/MAE, mean-predictor baseline)" };
        public readonly Option<string?> Normalize = new("--normalize")
        {
            Description = "series+stats (default: z-score each case and channel, and give the case's mean and log standard deviation back as two inputs per channel, "
                + "so shape, level and scale all reach the network) | series (z-score each case and channel: removes levels and scales, e.g. per-speaker levels) "
                + "| global (z-score each channel with training statistics: keeps them, but small-amplitude cases shrink to near zero) | none "
                + "| auto (series or global, whichever gives the better leave-one-out 1-NN score on the training cases; ties go to global). The choice and its reason are printed",
        };
        public readonly Option<int?> Patch = new("--patch") { Description = "Steps per encoder input patch P (default: ⌈median length / 64⌉)" };
        public readonly Option<string?> Fill = new("--fill") { Description = "Missing values ('?', NaN, empty): ffill | linear (default: an error naming file, case and dimension)" };
        public readonly Option<string?> IdCol = new("--id-col") { Description = "CSV long format: case id column" };
        public readonly Option<string?> TimeCol = new("--time-col") { Description = "CSV long format: time/step column ordering the rows of a case (default: file order)" };
        public readonly Option<string?> LabelCol = new("--label-col") { Description = "CSV long format: class label (or regression target) column" };
        public readonly Option<string?> Features = new("--features") { Description = "CSV long format: feature columns C,… (default: all other columns)" };
        public readonly Option<string?> Input = new("--input") { Description = "none | linear (a learned projection of each patch before the encoder) | conv (convolution blocks over the patches: conv → layer norm → ReLU, H channels each, kernels from --conv)" };
        public readonly Option<string?> Conv = new("--conv") { Description = "Kernel widths of the --input conv blocks, first to last, e.g. 8,5,3 (default 8,5,3)" };
        public readonly Option<string?> ConvBranch = new("--conv-branch") { Description = "Kernel widths of a convolutional path beside the encoder, e.g. 8,5,3: conv → layer norm → ReLU blocks of H channels over the patches, averaged over the valid steps and joined to the pooled state before the head; none = off" };
        public readonly Option<string?> Cell = new("--cell") { Description = $"Recurrent cell: {string.Join(" | ", Cells.CellRegistry.Names)}; options as name(k=v,…)" };
        public readonly Option<int?> Hidden = new("--hidden") { Description = "Hidden units H (default 64)" };
        public readonly Option<int?> Layers = new("--layers") { Description = "Recurrent layers (default 1)" };
        public readonly Option<bool?> Bidirectional = new("--bidirectional") { Description = "Run a second, reversed direction" };
        public readonly Option<float?> Dropout = new("--dropout") { Description = "Dropout between recurrent layers" };
        public readonly Option<int?> Gmu = new("--gmu") { Description = "Gated memory units (SambaY) after the recurrent layers: y = σ(W·x + b) ⊙ m, m read from the --gmu-memory layer (default 0: none)" };
        public readonly Option<int?> GmuMemory = new("--gmu-memory") { Description = "Recurrent layer (0-based) whose output the GMUs read as memory m (default: the last)" };
        public readonly Option<string?> Pool = new("--pool") { Description = "last | mean | max | attention over the valid steps (default max)" };
        public readonly Option<string?> Head = new("--head") { Description = "softmax (cross-entropy) | svm (squared hinge)" };
        public readonly Option<float?> LabelSmoothing = new("--label-smoothing") { Description = "ε of the softmax head's label-smoothed cross-entropy: target (1 − ε)·onehot + ε/K (default 0)" };
        public readonly Option<string?> ClassWeights = new("--class-weights") { Description = "balanced: weight class k by N / (K·N_k)" };
        public readonly Option<double?> Valid = new("--valid") { Description = "Hold out this fraction of the training cases (stratified) for early stopping" };
        public readonly Option<int?> Epochs = new("--epochs") { Description = "Maximum epochs (default: about 6000 optimizer steps, at least 34 and at most 500 epochs)" };
        public readonly Option<int?> TestAugment = new("--test-augment") { Description = "Slices averaged with each case at prediction time (default: 8 when training used augmented copies; 0 = off)" };
        public readonly Option<int?> Augment = new("--augment") { Description = "Augmented copies per training case: random window slices stretched back plus jitter (default: about 4000 sequences in all, at most 15 copies; 0 = off)" };
        public readonly Option<int?> Batch = new("--batch") { Description = "Batch size" };
        public readonly Option<float?> Lr = new("--lr") { Description = "AdamW learning rate" };
        public readonly Option<double?> Warmup = new("--warmup") { Description = "Share of the epochs over which the learning rate ramps up linearly (default 0.1; 0 = off)" };
        public readonly Option<float?> WeightDecay = new("--weight-decay") { Description = "AdamW weight decay" };
        public readonly Option<string?> Betas = new("--betas") { Description = "AdamW's β1,β2 (default 0.9,0.999)" };
        public readonly Option<float?> Clip = new("--clip") { Description = "Clip gradients to this global norm (0 = off)" };
        public readonly Option<int?> Patience = new("--patience") { Description = "Early-stopping patience in epochs (with --valid)" };
        public readonly Option<ulong?> Seed = new("--seed") { Description = "Random seed (same seed, same bits)" };
        public readonly Option<int?> Threads = new("--threads") { Description = "Threads for the baselines (default: all cores; results do not depend on it)" };
        public readonly Option<string?> OnNan = UserInput.OnNan();
        public readonly Option<bool> NoBaselines = new("--no-baselines") { Description = "Skip the 1-NN baselines (they can take longest on long series)" };

        public Option[] All =>
        [
            Task, Normalize, Patch, Fill, IdCol, TimeCol, LabelCol, Features, Input, Conv, ConvBranch, Cell, Hidden, Layers, Bidirectional, Dropout, Gmu, GmuMemory, Pool, Head,
            LabelSmoothing, ClassWeights, Valid, Epochs, Augment, TestAugment, Batch, Lr, Warmup, WeightDecay, Betas, Clip, Patience, Seed, Threads, NoBaselines, OnNan,
        ];

        public void AddTo(Command c)
        {
            foreach (var o in All) c.Options.Add(o);
        }

        public ClassifierOptions Apply(ParseResult p, ClassifierOptions o)
        {
            if (p.GetValue(Task) is { } task)
                o = o with
                {
                    Task = task.ToLowerInvariant() switch
                    {
                        "classification" => LabelKind.Classification,
                        "regression" => LabelKind.Regression,
                        _ => throw new GyreDataException($"--task: unknown task '{task}' (expected classification or regression)"),
                    },
                };
            if (p.GetValue(Normalize) is { } n) o = o with { Normalize = n.ToLowerInvariant() };
            if (p.GetValue(Patch) is { } patch) o = o with { Patch = patch };
            if (p.GetValue(Fill) is { } fill) o = o with { Fill = fill.ToLowerInvariant() };
            if (p.GetValue(IdCol) is { } id) o = o with { IdColumn = id };
            if (p.GetValue(TimeCol) is { } time) o = o with { TimeColumn = time };
            if (p.GetValue(LabelCol) is { } label) o = o with { LabelColumn = label };
            if (p.GetValue(Features) is { } f) o = o with { Features = [.. CsvOptions.ParseColumnList(f)] };
            if (p.GetValue(Input) is { } input) o = o with { Input = input.ToLowerInvariant() };
            if (p.GetValue(Conv) is { } conv) o = o with { ConvKernels = Kernels("--conv", conv) };
            if (p.GetValue(ConvBranch) is { } branch) o = o with { ConvBranch = branch.Trim().Equals("none", StringComparison.OrdinalIgnoreCase) ? [] : Kernels("--conv-branch", branch) };
            if (p.GetValue(Cell) is { } cell) o = o with { Cell = cell.ToLowerInvariant() };
            if (p.GetValue(Hidden) is { } h) o = o with { Hidden = h };
            if (p.GetValue(Layers) is { } k) o = o with { Layers = k };
            if (p.GetValue(Bidirectional) is { } bi) o = o with { Bidirectional = bi };
            if (p.GetValue(Dropout) is { } d) o = o with { Dropout = d };
            if (p.GetValue(Gmu) is { } gmu) o = o with { Gmu = gmu };
            if (p.GetValue(GmuMemory) is { } mem) o = o with { GmuMemory = mem };
            if (p.GetValue(Pool) is { } pool) o = o with { Pool = pool.ToLowerInvariant() };
            if (p.GetValue(Head) is { } head) o = o with { Head = head.ToLowerInvariant() };
            if (p.GetValue(LabelSmoothing) is { } ls) o = o with { LabelSmoothing = ls };
            if (p.GetValue(ClassWeights) is { } cw) o = o with { ClassWeights = cw.ToLowerInvariant() };
            if (p.GetValue(Valid) is { } v) o = o with { ValidFraction = v };
            if (p.GetValue(Epochs) is { } e) o = o with { Epochs = e };
            if (p.GetValue(Augment) is { } aug) o = o with { Augment = aug };
            if (p.GetValue(TestAugment) is { } tta) o = o with { TestAugment = tta };
            if (p.GetValue(Batch) is { } b) o = o with { Batch = b };
            if (p.GetValue(Lr) is { } lr) o = o with { LearningRate = lr };
            if (p.GetValue(Warmup) is { } warm) o = o with { Warmup = warm };
            if (p.GetValue(WeightDecay) is { } wd) o = o with { WeightDecay = wd };
            if (p.GetValue(Betas) is { } betas) { var (b1, b2) = TrainingOptions.ParseBetas(betas); o = o with { Beta1 = b1, Beta2 = b2 }; }
            if (p.GetValue(Clip) is { } clip) o = o with { ClipNorm = clip };
            if (p.GetValue(Patience) is { } pat) o = o with { Patience = pat };
            if (p.GetValue(Seed) is { } seed) o = o with { Seed = seed };
            if (p.GetValue(Threads) is { } threads) o = o with { Threads = threads };
            if (p.GetValue(OnNan) is not null) o = o with { OnNan = UserInput.NanPolicy(p, OnNan) };
            o.Validate();
            return o;
        }

        private static int[] Kernels(string option, string text) =>
            [.. text.Split(',', StringSplitOptions.TrimEntries).Select(k => int.TryParse(k, out int w) ? w
                : throw new GyreDataException($"{option}: '{k}' is not a kernel width (expected integers like 8,5,3)"))];
    }

    public static Command Create(CliContext ctx)
    {
        var options = new Options();
        var dataset = new Option<string>("--dataset") { Description = "Bundled dataset: GunPoint | ArrowHead | PLAID", DefaultValueFactory = _ => "GunPoint" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (logs go to stderr)" };
        var outDir = new Option<string>("--out-dir") { Description = "Folder for the bundled job's outputs", DefaultValueFactory = _ => "gyre-output" };
        var cmd = new Command("classify", "Sequence classification and sequence-level regression from .ts or long-format CSV files. Without a subcommand: the bundled GunPoint job.");
        options.AddTo(cmd);
        cmd.Options.Add(dataset); cmd.Options.Add(json); cmd.Options.Add(outDir);
        cmd.SetAction(p => RunBundled(ctx, options.Apply(p, new ClassifierOptions()), p.GetValue(dataset)!, p.GetValue(outDir)!, p.GetValue(json), !p.GetValue(options.NoBaselines)));
        cmd.Subcommands.Add(Train(ctx));
        cmd.Subcommands.Add(Eval(ctx));
        cmd.Subcommands.Add(Predict(ctx));
        cmd.Subcommands.Add(Inspect(ctx));
        return cmd;
    }

    private static int RunBundled(CliContext ctx, ClassifierOptions options, string dataset, string outDir, bool json, bool baselines)
    {
        string[] known = ["GunPoint", "ArrowHead", "PLAID"];
        string name = known.FirstOrDefault(k => k.Equals(dataset, StringComparison.OrdinalIgnoreCase))
            ?? throw new GyreDataException($"--dataset: unknown bundled dataset '{dataset}' (known: {string.Join(", ", known)})");
        string train = Path.Combine(BundledFolder, $"{name}_TRAIN.ts"), test = Path.Combine(BundledFolder, $"{name}_TEST.ts");
        if (!File.Exists(train) || !File.Exists(test)) throw new GyreDataException("bundled dataset missing (reinstall gyre)", train);
        var log = json ? ctx.Err : ctx.Out;
        log.WriteLine($"gyre classify: bundled job — {name} (UCR archive via sktime, see Data/SOURCES.md): train {Path.GetFileName(train)}, test {Path.GetFileName(test)}");
        Directory.CreateDirectory(outDir);
        string model = Path.Combine(outDir, $"{name.ToLowerInvariant()}.gyre"), png = Path.Combine(outDir, $"{name.ToLowerInvariant()}-confusion.png");
        return TrainAndReport(ctx, options, train, test, model, png, null, json, log, baselines);
    }

    private static int TrainAndReport(CliContext ctx, ClassifierOptions options, string trainPath, string? testPath, string modelPath, string? plot,
        string? historyPlot, bool json, TextWriter log, bool baselines, Training.DataParallel? parallel = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var plan = new OutputPlan();
        var modelOut = plan.Add("--out", modelPath);
        var plotOut = plot is null ? null : plan.Add("--plot", plot);
        var historyOut = historyPlot is null ? null : plan.Add("--plot-history", historyPlot);
        plan.Input("--data", trainPath);
        if (testPath is not null) plan.Input("--test", testPath);
        plan.Check();
        var train = options.LoadData(trainPath);
        var test = testPath is null ? null : options.LoadData(testPath);
        log.WriteLine($"data: {train.Cases.Count} training cases, {train.Channels} dimension(s), lengths {train.MinLength}–{train.MaxLength}"
            + (train.Task == LabelKind.Classification ? $", classes {string.Join(' ', train.Classes())}" : ", regression target"));
        var f = SequenceClassifier.Fit(train, options, log.WriteLine, e =>
            log.WriteLine($"epoch {e.Epoch}  loss {e.TrainLoss:F5}" + (e.ValLoss is { } v ? $"  val {v:F5}" : "")
                + (e.Metrics?.TryGetValue("accuracy", out var a) == true ? $"  val acc {a:F3}" : "") + $"  {e.Seconds:F2}s{e.SkippedNote()}{(e.Best ? "  *" : "")}"),
            parallel: parallel);
        if (parallel is { IsRoot: false }) return Cli.Ok;   // rank 0 evaluates, writes and reports
        double trainSeconds = clock.Elapsed.TotalSeconds;
        var report = test is null ? null : f.Evaluate(test, baselines ? train : null);
        f.Save(modelOut.Temp);
        if (plotOut is not null)
        {
            if (report?.Confusion is not null) ClassifyPlots.Confusion(plotOut.Temp, report.Classes, report.Confusion, $"{train.Name}: confusion on {Path.GetFileName(testPath)}");
            else plan.Discard(plotOut);
        }
        if (historyOut is not null) ClassifyPlots.History(historyOut.Temp, f.History, $"{train.Name}: training");
        plan.Commit();
        var written = new[] { modelPath, report?.Confusion is not null ? plot : null, historyPlot }.Where(w => w is not null).ToArray();
        if (json)
            ctx.Out.WriteLine(ClassifyReports.Json(report, new() { ["model"] = modelPath, ["train_seconds"] = trainSeconds, ["seconds"] = clock.Elapsed.TotalSeconds }));
        else
        {
            if (report is not null) ClassifyReports.Table(ctx, report);
            ctx.Out.WriteLine($"wrote {string.Join(", ", written)} in {clock.Elapsed.TotalSeconds:F1} s (training {trainSeconds:F1} s)");
        }
        return Cli.Ok;
    }

    private static Command Train(CliContext ctx)
    {
        var options = new Options();
        var data = new Option<string>("--data") { Description = "Training data: .ts file, or long-format CSV with --id-col and --label-col", Required = true };
        var test = new Option<string?>("--test") { Description = "Also evaluate on this test file beside the baselines" };
        var outPath = new Option<string>("--out") { Description = "Model file to write", DefaultValueFactory = _ => "model.gyre" };
        var plot = new Option<string?>("--plot") { Description = "With --test: confusion-matrix PNG" };
        var history = new Option<string?>("--plot-history") { Description = "Training-curve PNG" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (logs go to stderr)" };
        var distributed = DistributedRun.Flag();
        var bucket = DistributedRun.BucketOption();
        var cmd = new Command("train", "Train a sequence classifier (or regressor with --task regression)");
        cmd.Options.Add(data); options.AddTo(cmd); cmd.Options.Add(test); cmd.Options.Add(outPath); cmd.Options.Add(plot); cmd.Options.Add(history); cmd.Options.Add(json);
        cmd.Options.Add(distributed); cmd.Options.Add(bucket);
        cmd.SetAction(p =>
        {
            bool asJson = p.GetValue(json);
            var settings = options.Apply(p, new ClassifierOptions());
            using var run = DistributedRun.Start(p.GetValue(distributed), p.GetValue(bucket), ctx);
            var c = run.Context;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            int code = TrainAndReport(c, settings, p.GetValue(data)!, p.GetValue(test), p.GetValue(outPath)!,
                p.GetValue(plot), p.GetValue(history), asJson, asJson ? c.Err : c.Out, !p.GetValue(options.NoBaselines), run.Parallel);
            run.Report(asJson ? c.Err : c.Out, clock.Elapsed);
            return code;
        });
        return cmd;
    }

    private static Command Eval(CliContext ctx)
    {
        var model = new Option<string>("--model") { Description = "Model file", Required = true };
        var data = new Option<string>("--data") { Description = "Labelled test data (.ts or long-format CSV)", Required = true };
        var train = new Option<string?>("--train") { Description = "Training data for the baselines (default: the path stored in the model)" };
        var plot = new Option<string?>("--plot") { Description = "Confusion-matrix PNG" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("eval", "Evaluate a model beside the majority-class, 1-NN Euclidean and 1-NN DTW baselines");
        cmd.Options.Add(model); cmd.Options.Add(data); cmd.Options.Add(train); cmd.Options.Add(plot); cmd.Options.Add(json);
        cmd.SetAction(p =>
        {
            using var plan = new OutputPlan();
            var pngOut = p.GetValue(plot) is { } png ? plan.Add("--plot", png) : null;
            plan.Input("--model", p.GetValue(model)!);
            plan.Input("--data", p.GetValue(data)!);
            plan.Check();
            var f = SequenceClassifier.Load(p.GetValue(model)!);
            var test = f.Options.LoadData(p.GetValue(data)!);
            string? trainPath = p.GetValue(train) ?? (File.Exists(f.TrainPath) ? f.TrainPath : null);
            if (p.GetValue(train) is { } given && !File.Exists(given)) throw new GyreDataException("file not found", given);
            var trainSet = trainPath is null ? null : f.Options.LoadData(trainPath);
            var report = f.Evaluate(test, trainSet);
            if (pngOut is not null)
            {
                if (report.Confusion is not null) ClassifyPlots.Confusion(pngOut.Temp, report.Classes, report.Confusion, $"confusion on {Path.GetFileName(test.Path)}");
                else plan.Discard(pngOut);
                plan.Commit();
            }
            if (p.GetValue(json)) ctx.Out.WriteLine(ClassifyReports.Json(report, []));
            else
            {
                ClassifyReports.Table(ctx, report);
                if (trainSet is null) ctx.Out.WriteLine($"baselines: training data {f.TrainPath} not found (give --train)");
            }
            return Cli.Ok;
        });
        return cmd;
    }

    private static Command Predict(CliContext ctx)
    {
        var model = new Option<string>("--model") { Description = "Model file", Required = true };
        var data = new Option<string>("--data") { Description = "Cases to label (.ts or long-format CSV; labels optional)", Required = true };
        var outPath = new Option<string>("--out") { Description = "CSV: case, predicted label and one probability column per class (regression: the prediction)", DefaultValueFactory = _ => "labels.csv" };
        var cmd = new Command("predict", "Label new sequences");
        cmd.Options.Add(model); cmd.Options.Add(data); cmd.Options.Add(outPath);
        cmd.SetAction(p =>
        {
            string output = p.GetValue(outPath)!;
            using var plan = new OutputPlan();
            var csvOut = plan.Add("--out", output);
            plan.Input("--model", p.GetValue(model)!);
            plan.Input("--data", p.GetValue(data)!);
            plan.Check();
            var f = SequenceClassifier.Load(p.GetValue(model)!);
            var set = f.Options.LoadData(p.GetValue(data)!, requireLabels: false);
            var pred = f.Predict(set);
            ClassifyReports.WritePredictions(csvOut.Temp, f, set, pred);
            plan.Commit();
            ctx.Out.WriteLine($"wrote {output} ({set.Cases.Count} cases)");
            return Cli.Ok;
        });
        return cmd;
    }

    private static Command Inspect(CliContext ctx)
    {
        var model = new Option<string>("--model") { Description = "Model file", Required = true };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("inspect", "Show a classify model's settings, classes, normalisation and training history");
        cmd.Options.Add(model); cmd.Options.Add(json);
        cmd.SetAction(p =>
        {
            var f = SequenceClassifier.Load(p.GetValue(model)!);
            if (p.GetValue(json)) ctx.Out.WriteLine(ClassifyReports.InspectJson(f));
            else ClassifyReports.Inspect(ctx, f);
            return Cli.Ok;
        });
        return cmd;
    }

}
