using System.CommandLine;
using Gyre.Cli.Output;
using Gyre.Data;
using Gyre.Forecasting;
using Spectre.Console;

namespace Gyre.Cli.Commands;

/// <summary>
/// `gyre forecast` — with no subcommand, the bundled job (train on the bundled CO₂ series, report test
/// metrics beside baselines, write model, forecast CSV and plot); subcommands train, eval, predict, inspect.
/// </summary>
internal static class ForecastCommand
{
    /// <summary>
    /// The bundled job: monthly Mauna Loa CO₂, three years of lookback, one year ahead. Instance normalisation
    /// because the trend carries the test split beyond every level seen in training.
    /// </summary>
    internal static ForecastOptions BundledDefaults => new()
    {
        Targets = ["CO2"], Lookback = 36, Horizon = 12, Hidden = 64, Layers = 1, Epochs = 60, Batch = 32, InstanceNorm = true,
        LearningRate = 3e-3f, Patience = 15, Seed = 1, Gaps = "keep",   // co2 lacks three months (first 1958-06): rows stay consecutive
    };

    /// <summary>`forecast train`'s baseline: the library defaults, except that a gap in the time index is refused until --fill-gaps or --allow-gaps says what to do.</summary>
    /// <remarks>Normalisation follows each window's level (last value) by default: a level shift between the training
    /// and test periods then costs nothing, and a network that outputs zero forecasts the naive forecast.</remarks>
    internal static ForecastOptions TrainDefaults => new() { Gaps = "error", Norm = "last" };

    internal static string BundledData => Path.Combine(AppContext.BaseDirectory, "Data", "co2-concentration.csv");

    public static Command Create(CliContext ctx)
    {
        var training = new TrainingOptions();
        var json = new Option<bool>("--json") { Description = "Print one JSON object (logs go to stderr)" };
        var outDir = new Option<string>("--out-dir") { Description = "Folder for the bundled job's outputs", DefaultValueFactory = _ => "gyre-output" };
        training.ShowDefaults(BundledDefaults, "bundled job");
        var cmd = new Command("forecast", "Train, evaluate, backtest and predict recurrent forecasters from CSV files. Without a subcommand: the bundled CO₂ job, "
            + $"whose defaults differ from `forecast train`'s in {training.Differences(TrainDefaults, BundledDefaults)}; the options below apply to it.");
        training.AddTo(cmd);
        cmd.Options.Add(json);
        cmd.Options.Add(outDir);
        cmd.SetAction(p =>
        {
            var options = training.Apply(p, BundledDefaults, Warn(ctx));
            return RunBundled(ctx, options, p.GetValue(outDir)!, p.GetValue(json), training.Settings(p, options, BundledDefaults));
        });
        cmd.Subcommands.Add(Train(ctx));
        cmd.Subcommands.Add(Eval(ctx));
        cmd.Subcommands.Add(Predict(ctx));
        cmd.Subcommands.Add(Inspect(ctx));
        cmd.Subcommands.Add(ForecastTuneCommand.Create(ctx));
        return cmd;
    }

    private static int RunBundled(CliContext ctx, ForecastOptions options, string outDir, bool json, string settings)
    {
        string data = BundledData;
        if (!File.Exists(data)) throw new GyreDataException("bundled dataset missing (reinstall gyre)", data);
        if (File.Exists(outDir)) throw new GyreDataException($"--out-dir: '{outDir}' is a file, not a folder");
        // The one folder gyre creates itself (the bundled job's documented default); everything inside goes through the plan.
        try { Directory.CreateDirectory(outDir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new GyreDataException($"--out-dir: cannot create folder '{outDir}'");
        }
        using var plan = new OutputPlan();
        string model = Path.Combine(outDir, "co2.gyre"), csv = Path.Combine(outDir, "co2-forecast.csv"), png = Path.Combine(outDir, "co2-forecast.png");
        var modelOut = plan.Add("--out-dir", model);
        var csvOut = plan.Add("--out-dir", csv);
        var pngOut = plan.Add("--out-dir", png);
        plan.Check();
        var log = json ? ctx.Err : ctx.Out;
        log.WriteLine($"gyre forecast: bundled job — {Path.GetFileName(data)} (monthly Mauna Loa CO₂, Scripps CO2 Program, CC BY 4.0)");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var f = TrainWithProgress(ctx, data, options, null, false, json, settings: settings);
        var set = f.LoadData(data);
        WarnIfWorseOnValidation(log, f, set);
        var report = f.Evaluate(set);
        var table = f.Predict(set);
        f.Save(modelOut.Temp);
        ForecastCsv.Write(csvOut.Temp, table, set.ReadInfo?.OffsetSuffix ?? "");
        var plotted = ForecastPlot.Write(pngOut.Temp, set, table, f.Options.Lookback * 3);
        plan.Commit();
        if (plotted.LeftOut is not null) log.WriteLine(plotted.Describe(png));
        if (json) ctx.Out.WriteLine(Reports.Json(report, new() { ["model"] = model, ["forecast_csv"] = csv, ["plot"] = png, ["seconds"] = clock.Elapsed.TotalSeconds }));
        else
        {
            Reports.Table(ctx, report);
            ctx.Out.WriteLine($"wrote {model}, {csv}, {png} in {clock.Elapsed.TotalSeconds:F1} s");
        }
        return Cli.Ok;
    }

    private static Command Train(CliContext ctx)
    {
        var training = new TrainingOptions();
        var data = new Option<string>("--data") { Description = "CSV file (header row; a time column is detected)", Required = true };
        var outPath = new Option<string>("--out") { Description = "Model file to write", DefaultValueFactory = _ => "model.gyre" };
        var resume = new Option<bool>("--resume") { Description = "Continue a killed run from its checkpoint (<out>.ckpt)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (logs go to stderr)" };
        training.ShowDefaults(TrainDefaults, "default");
        var distributed = DistributedRun.Flag();
        var bucket = DistributedRun.BucketOption();
        var plotHistory = new Option<string?>("--plot-history") { Description = "Also write a PNG of train/validation loss per epoch with the best epoch marked" };
        var cmd = new Command("train", "Train a forecaster on a CSV and report test metrics beside baselines");
        var failIfWorse = new FailIfWorseOption();
        cmd.Options.Add(data); training.AddTo(cmd); cmd.Options.Add(outPath); cmd.Options.Add(resume); cmd.Options.Add(json); failIfWorse.AddTo(cmd);
        cmd.Options.Add(distributed); cmd.Options.Add(bucket); cmd.Options.Add(plotHistory);
        cmd.SetAction(p =>
        {
            string path = RequireFile("--data", p.GetValue(data)!), output = p.GetValue(outPath)!;
            bool asJson = p.GetValue(json), resuming = p.GetValue(resume);
            var options = training.Apply(p, TrainDefaults, Warn(ctx));
            (options, string? chosen) = ForecastDefaults.FromData(path, options,
                lookback: !training.Given(p, training.Lookback), patch: !training.Given(p, training.Patch) && options.Preset is null && !options.Stateful,
                channelIndependent: !training.Given(p, training.ChannelIndependent) && options.Preset is null);
            options.Validate();
            string? historyPng = p.GetValue(plotHistory);
            using var plan = new OutputPlan();
            var modelOut = plan.Add("--out", output);
            var historyOut = historyPng is null ? null : plan.Add("--plot-history", historyPng);
            // The checkpoint is written in place after every epoch (atomically, by the trainer), so it is
            // checked with the outputs but not part of the final rename.
            string ckpt = output + ".ckpt";
            plan.Input("--data", path);
            plan.Check();
            CheckCheckpoint(ckpt, resuming);
            OutputPlan.RemoveStaleTemporaries(ckpt);
            using var run = DistributedRun.Start(p.GetValue(distributed), p.GetValue(bucket), ctx);
            var trainClock = System.Diagnostics.Stopwatch.StartNew();
            string settings = training.Settings(p, options, TrainDefaults) + (chosen is null ? "" : Environment.NewLine + chosen);
            var f = TrainWithProgress(run.Context, path, options, ckpt, resuming, asJson, run.Parallel, settings, ResumeCommand(p));
            run.Report(asJson ? ctx.Err : ctx.Out, trainClock.Elapsed);
            if (!run.IsRoot) return Cli.Ok;   // rank 0 writes the model and reports
            f.Save(modelOut.Temp);
            if (historyOut != null) HistoryPlot.Write(historyOut.Temp, f.History, $"{Path.GetFileName(path)}: {options.Cell} forecaster training");
            plan.Commit();
            File.Delete(ckpt);
            var set = f.LoadData(path);
            WarnIfWorseOnValidation(asJson ? ctx.Err : ctx.Out, f, set);
            var report = HasTest(f) ? f.Evaluate(set) : null;
            if (asJson) ctx.Out.WriteLine(report != null ? Reports.Json(report, new() { ["model"] = output }) : "{\"model\":\"" + output + "\"}");
            else
            {
                if (report != null) Reports.Table(ctx, report);
                ctx.Out.WriteLine($"wrote {output}");
                if (historyPng != null) ctx.Out.WriteLine($"wrote {historyPng}");
            }
            return report != null && failIfWorse.Get(p) ? FailIfWorse(ctx, report) : Cli.Ok;
        });
        return cmd;
    }

    /// <summary>
    /// A checkpoint left by an earlier run is never overwritten silently: without --resume it is an error
    /// that says how to continue it; with --resume and none there, training starts from scratch (said so).
    /// </summary>
    private static void CheckCheckpoint(string ckpt, bool resume)
    {
        if (Directory.Exists(ckpt)) throw new GyreDataException($"checkpoint path '{ckpt}' is a folder");
        if (File.Exists(ckpt) && !resume)
            throw new GyreDataException($"'{ckpt}' holds the checkpoint of an unfinished run: add --resume to continue it, or delete it to start over");
    }

    /// <summary>The command line as given, with --resume added: what Ctrl-C tells the user to run.</summary>
    private static string ResumeCommand(ParseResult p)
    {
        var words = p.Tokens.Select(t => t.Value).Where(w => w != "--resume").Select(w => w.Any(char.IsWhiteSpace) || w.Length == 0 ? $"\"{w}\"" : w);
        return "gyre " + string.Join(" ", words) + " --resume";
    }

    private static bool HasTest(Forecaster f) =>
        SplitSpec.Parse(f.Options.Split) is var s && s.Test > 0;

    private static Command Eval(CliContext ctx)
    {
        var model = new Option<string>("--model") { Description = "Model file", Required = true };
        var data = new Option<string>("--data") { Description = "CSV file with the training columns", Required = true };
        var scale = new Option<string>("--eval-scale") { Description = "raw | scaled", DefaultValueFactory = _ => "raw" };
        scale.AcceptOnlyFromAmong("raw", "scaled");
        var backtest = UserInput.Int("--backtest", "K rolling origins at the end of the data instead of the test split", min: 1);
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var reading = new ReadingOptions();
        var plot = new PlotOptions("Also write a PNG of each series with forecasts from origins across the test part and the train/validation/test split marked");
        var cmd = new Command("eval", "Evaluate a model on the test split (or a rolling backtest) beside naive baselines");
        var failIfWorse = new FailIfWorseOption();
        cmd.Options.Add(model); cmd.Options.Add(data); cmd.Options.Add(scale); cmd.Options.Add(backtest); cmd.Options.Add(json); failIfWorse.AddTo(cmd);
        reading.AddTo(cmd); plot.AddTo(cmd);
        cmd.SetAction(p =>
        {
            string modelPath = RequireFile("--model", p.GetValue(model)!), path = RequireFile("--data", p.GetValue(data)!);
            string? png = p.GetValue(plot.Path);
            using var plan = new OutputPlan();
            var pngOut = png is null ? null : plan.Add("--plot", png);
            plan.Input("--model", modelPath);
            plan.Input("--data", path);
            plan.Check();
            var f = Forecaster.Load(modelPath);
            var set = f.LoadData(path, reading.Adjust(p));
            Describe(p.GetValue(json) ? ctx.Err : ctx.Out, set);
            if (p.GetValue(plot.Path) is not null) ForecastPlot.CheckSelection(set, plot.Selection(p));
            bool raw = p.GetValue(scale) == "raw";
            var report = p.GetValue(backtest) is { } k ? f.Backtest(set, k, raw) : f.Evaluate(set, raw);
            if (pngOut is not null)
            {
                var plotted = EvalPlot.Write(pngOut.Temp, f, set, plot.Selection(p));
                plan.Commit();
                (p.GetValue(json) ? ctx.Err : ctx.Out).WriteLine(plotted.Describe(png!));
            }
            if (p.GetValue(json)) ctx.Out.WriteLine(Reports.Json(report, png is null ? [] : new() { ["plot"] = png }));
            else Reports.Table(ctx, report);
            return failIfWorse.Get(p) ? FailIfWorse(ctx, report) : Cli.Ok;
        });
        return cmd;
    }

    private static Command Predict(CliContext ctx)
    {
        var model = new Option<string>("--model") { Description = "Model file", Required = true };
        var data = new Option<string>("--data") { Description = "CSV file whose last rows are the lookback", Required = true };
        var future = new Option<string?>("--future-data") { Description = "CSV with the known-future covariates (--future-features) over the horizon, per series" };
        var outPath = new Option<string>("--out") { Description = "Forecast CSV", DefaultValueFactory = _ => "forecast.csv" };
        var plot = new PlotOptions("Also write a PNG of history, forecast and every quantile band, one panel per series and target");
        var json = new Option<bool>("--json") { Description = "Print one JSON object with the forecast rows (logs go to stderr)" };
        var paths = UserInput.Int("--paths", "Distribution models: also write this many of the --samples sample paths (columns {target}_path1…, a \"paths\" entry per JSON row)", min: 0, max: 1_000_000);
        var sampling = new Option<string?>("--sampling") { Description = "Distribution models: 'copula' (default: paths coupled over the horizon by the correlation the model estimated on its validation windows) or 'independent' (each step drawn on its own)" };
        sampling.AcceptOnlyFromAmong("copula", "independent");
        var reading = new ReadingOptions();
        var cmd = new Command("predict", "Forecast the horizon after the end of each series");
        cmd.Options.Add(model); cmd.Options.Add(data); cmd.Options.Add(future); cmd.Options.Add(outPath); cmd.Options.Add(json);
        cmd.Options.Add(paths); cmd.Options.Add(sampling);
        plot.AddTo(cmd); reading.AddTo(cmd);
        cmd.SetAction(p =>
        {
            bool asJson = p.GetValue(json);
            var log = asJson ? ctx.Err : ctx.Out;
            string modelPath = RequireFile("--model", p.GetValue(model)!), dataPath = RequireFile("--data", p.GetValue(data)!);
            string? futurePath = p.GetValue(future) is { } fp ? RequireFile("--future-data", fp) : null;
            using var plan = new OutputPlan();
            var csv = plan.Add("--out", p.GetValue(outPath)!);
            var png = p.GetValue(plot.Path) is { } plotPath ? plan.Add("--plot", plotPath) : null;
            plan.Input("--model", modelPath);
            plan.Input("--data", dataPath);
            if (futurePath != null) plan.Input("--future-data", futurePath);
            plan.Check();
            var f = Forecaster.Load(modelPath);
            var adjust = reading.Adjust(p);
            var set = f.LoadData(dataPath, adjust);
            Describe(log, set);
            if (p.GetValue(plot.Path) is not null) ForecastPlot.CheckSelection(set, plot.Selection(p));
            var futureSet = futurePath != null ? f.LoadFutureData(futurePath, adjust) : null;
            var pathSampling = p.GetValue(sampling) == "independent" ? PathSampling.Independent : PathSampling.Copula;
            if (f.Distribution is not null && pathSampling == PathSampling.Copula)
                log.WriteLine(f.Copula is { } cop
                    ? $"sample paths: gaussian copula over the {cop.Horizon} steps from {cop.Windows} validation vectors (shrinkage {cop.Shrinkage:F3}, mean lag-1 correlation {cop.MeanLagOneCorrelation():F3})"
                    : "sample paths: independent steps (the model holds no copula: trained without a validation split or before copulas were estimated)");
            var table = f.Predict(set, futureSet, pathSampling, p.GetValue(paths) ?? 0);
            string offset = set.ReadInfo?.OffsetSuffix ?? "";
            ForecastCsv.Write(csv.Temp, table, offset);
            var plotted = png != null ? ForecastPlot.Write(png.Temp, set, table, f.Options.Lookback * 3, plot.Selection(p)) : null;
            plan.Commit();
            log.WriteLine($"wrote {csv.Path} ({table.Rows.Count} rows)");
            if (png != null) log.WriteLine(plotted!.Describe(png.Path));
            if (asJson) ctx.Out.WriteLine(Reports.ForecastJson(table, offset, new() { ["model"] = modelPath, ["forecast_csv"] = csv.Path, ["plot"] = png?.Path }));
            return Cli.Ok;
        });
        return cmd;
    }

    /// <summary>One line when the trained model's validation MSE is above seasonal naive's on the same windows.</summary>
    internal static void WarnIfWorseOnValidation(TextWriter log, Forecaster f, SeriesSet set)
    {
        if (f.EvaluateValidation(set) is not { } v) return;
        var s = v.Baselines["seasonal_naive"];
        if (v.Metrics.Mse > s.Mse)
            log.WriteLine($"gyre: warning: on the validation split the model is worse than seasonal naive (season {v.Season}): MSE {v.Metrics.Mse:G4} vs {s.Mse:G4} (scaled)");
    }

    /// <summary>The one line saying how the data file was read (dialect, time column, frequency, gaps).</summary>
    internal static void Describe(TextWriter log, SeriesSet set)
    {
        if (set.ReadInfo is { } info) log.WriteLine($"read {info.Describe(set.Source)}");
    }

    private static Command Inspect(CliContext ctx)
    {
        var model = new Option<string>("--model") { Description = "Model file", Required = true };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("inspect", "Show a model's configuration, data columns, scaler statistics and training history");
        cmd.Options.Add(model); cmd.Options.Add(json);
        cmd.SetAction(p =>
        {
            var f = Forecaster.Load(RequireFile("--model", p.GetValue(model)!));
            if (p.GetValue(json)) ctx.Out.WriteLine(Reports.InspectJson(f));
            else Reports.Inspect(ctx, f);
            return Cli.Ok;
        });
        return cmd;
    }

    /// <summary>An input file the user named: it exists and is a file (one line naming the option otherwise).</summary>
    internal static string RequireFile(string option, string path)
    {
        if (File.Exists(path)) return path;
        if (Directory.Exists(path)) throw new GyreDataException($"{option}: '{path}' is a folder, not a file");
        throw new GyreDataException("file not found", path);
    }

    /// <summary>Prints a warning line for a legal but lossy choice (stderr, so --json output stays clean).</summary>
    internal static Action<string> Warn(CliContext ctx) => message => ctx.Err.WriteLine($"gyre: warning: {message}");

    /// <summary>`--fail-if-worse`: exit 1 when the model's MASE is not below every baseline's.</summary>
    private sealed class FailIfWorseOption
    {
        private readonly Option<bool> _option = new("--fail-if-worse")
        {
            Description = "Exit with code 1 when the model's test MASE is not better than both naive baselines (for CI gates)",
        };

        public void AddTo(Command cmd) => cmd.Options.Add(_option);
        public bool Get(ParseResult p) => p.GetValue(_option);
    }

    private static int FailIfWorse(CliContext ctx, EvaluationReport report)
    {
        var (name, best) = report.Baselines.MinBy(b => b.Value.Mase);
        if (report.Metrics.Mase < best.Mase) return Cli.Ok;
        ctx.Err.WriteLine($"gyre: model MASE {report.Metrics.Mase:G4} is not better than the {name.Replace('_', ' ')} baseline's {best.Mase:G4} (--fail-if-worse)");
        return Cli.WorseThanBaseline;
    }

    /// <summary>
    /// Fits with a progress bar on a terminal, plain log lines otherwise (to stderr under --json). Says first how the
    /// file reads and which settings apply, then per epoch the losses (both in the scaler's space) and an ETA that
    /// counts early stopping, and at the end whether early stopping ended the run and which epoch was restored.
    /// Ctrl-C stops after the current epoch and says how to resume (<paramref name="resumeCommand"/>).
    /// </summary>
    internal static Forecaster TrainWithProgress(CliContext ctx, string data, ForecastOptions options, string? checkpoint, bool resume, bool json,
        Training.DataParallel? parallel = null, string? settings = null, string? resumeCommand = null)
    {
        if (!File.Exists(data)) throw new GyreDataException("file not found", data);
        var log = json ? ctx.Err : ctx.Out;
        var cancel = ctx.Cancel;
        // Say how the file reads before spending time on it: a wrong guess (no time column, day/month order) shows at once.
        Describe(log, CsvLoader.Load(data, Forecaster.CsvOptionsFor(options)));
        if (settings is not null) log.WriteLine(settings);
        using var interrupt = new Interrupt(log, ctx.Cancel);
        var eta = new EarlyStopEta(options);
        try
        {
            Forecaster f;
            if (ctx.Interactive && !json)
            {
                Forecaster? result = null;
                ctx.Console.Progress().AutoClear(false).Columns(
                        new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                    .Start(progress =>
                    {
                        var task = progress.AddTask("training", maxValue: Math.Max(options.Epochs, 1));
                        string last = "";
                        result = Forecaster.Fit(data, options, e =>
                        {
                            eta.Observe(e);
                            last = $" (last epoch loss {e.TrainLoss:F4}" + (e.ValLoss is { } v ? $" val {v:F4}" : "") + $"{eta.EarlyStopNote()}{e.SkippedNote()})";
                            task.Value = e.Epoch;
                        }, checkpoint, resume, interrupt.Token, progress: new BatchProgress(b =>
                        {
                            task.Description = Markup.Escape($"epoch {b.Epoch}/{b.Epochs} batch {b.Batch}/{b.Batches} loss {b.Loss:F4}{last}");
                            task.Value = b.Epoch - 1 + (double)b.Batch / b.Batches;
                        }), parallel: parallel);
                        task.Value = task.MaxValue;
                    });
                f = result!;
            }
            else
            {
                f = Forecaster.Fit(data, options, e =>
                {
                    eta.Observe(e);
                    log.WriteLine($"epoch {e.Epoch}/{options.Epochs}  loss {e.TrainLoss:F5}" + (e.ValLoss is { } v ? $"  val {v:F5}" : "")
                        + $"  lr {e.LearningRate:G3}  {e.Seconds:F2}s  eta {eta.Remaining():F0}s{eta.EarlyStopNote()}{e.SkippedNote()}{(e.Best ? "  *" : "")}");
                }, checkpoint, resume, interrupt.Token, parallel: parallel);
            }
            if (EarlyStopEta.Summary(f.History, options, f.Soup) is { } summary) log.WriteLine(summary);
            return f;
        }
        catch (OperationCanceledException)
        {
            int done = eta.Epochs;
            log.WriteLine(checkpoint is not null && resumeCommand is not null
                ? $"interrupted after epoch {done} of {options.Epochs}; the checkpoint {checkpoint} keeps it: resume with `{resumeCommand}`"
                : $"interrupted after epoch {done} of {options.Epochs}; this job keeps no checkpoint (train with `gyre forecast train --out FILE` to resume runs)");
            throw;
        }
    }

    /// <summary>First Ctrl-C: cancel after the current epoch (the checkpoint stays whole); a second one ends the process.</summary>
    private sealed class Interrupt : IDisposable
    {
        private readonly CancellationTokenSource _cts;
        private readonly TextWriter _log;
        public CancellationToken Token => _cts.Token;

        /// <param name="outer">The caller's cancellation (tests, an embedding host), honoured like Ctrl-C.</param>
        public Interrupt(TextWriter log, CancellationToken outer)
        {
            _cts = CancellationTokenSource.CreateLinkedTokenSource(outer);
            _log = log;
            Console.CancelKeyPress += OnCancel;
        }

        private void OnCancel(object? sender, ConsoleCancelEventArgs e)
        {
            if (_cts.IsCancellationRequested) return;
            e.Cancel = true;
            _log.WriteLine("stopping after this epoch (Ctrl-C again to quit at once)");
            _cts.Cancel();
        }

        public void Dispose()
        {
            Console.CancelKeyPress -= OnCancel;
            _cts.Dispose();
        }
    }

    /// <summary>
    /// Time left, counting early stopping: the full run's time at the mean epoch time so far, and the epoch at which
    /// early stopping ends the run unless validation improves (patience epochs after the best one).
    /// </summary>
    private sealed class EarlyStopEta(ForecastOptions options)
    {
        private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
        private int _best, _first = -1;
        private bool _validated;
        public int Epochs { get; private set; }

        public void Observe(Training.EpochRecord e)
        {
            if (_first < 0) _first = e.Epoch;
            Epochs = e.Epoch;
            if (e.Best) _best = e.Epoch;
            _validated = e.ValLoss is not null;
        }

        private double PerEpoch => _clock.Elapsed.TotalSeconds / Math.Max(1, Epochs - _first + 1);

        public double Remaining() => PerEpoch * (options.Epochs - Epochs);

        /// <summary>The epoch early stopping ends the run at unless validation improves; 0 when it cannot come first.</summary>
        public int StopEpoch => _validated && options.Patience > 0 && _best + options.Patience < options.Epochs ? _best + options.Patience : 0;

        public string EarlyStopNote() => StopEpoch > 0
            ? $" (or {PerEpoch * (StopEpoch - Epochs):F0}s: early stop at epoch {StopEpoch} unless val improves)"
            : "";

        /// <summary>Whether early stopping ended the run, and which epoch's weights were restored (or which soup of epochs,
        /// <paramref name="soup"/>); null when the last epoch stands.</summary>
        public static string? Summary(IReadOnlyList<Training.EpochRecord> history, ForecastOptions o, Training.SoupReport? soup = null)
        {
            if (history.Count == 0) return null;
            int best = history.LastOrDefault(e => e.Best)?.Epoch ?? history[^1].Epoch;
            var bestRecord = history[best - history[0].Epoch];
            string loss = bestRecord.ValLoss is { } v ? $"val {v:F5}" : $"loss {bestRecord.TrainLoss:F5}";
            bool early = history.Count < o.Epochs && o.Patience > 0 && history[^1].ValLoss is not null;
            string stop = early ? $"stopped at epoch {history[^1].Epoch} of {o.Epochs}: no validation improvement for {o.Patience} epochs (--patience); " : "";
            if (soup is not null) return stop + soup.Describe();
            if (o.Select == "soup") stop += "no validation data to judge a soup by (--select soup): ";
            if (early) return $"{stop}best epoch {best} ({loss}) restored";
            return best != history[^1].Epoch ? $"{stop}best epoch {best} of {history[^1].Epoch} ({loss}) restored" : null;
        }
    }

    /// <summary>Renders the trainer's per-batch progress synchronously (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class BatchProgress(Action<Gyre.Training.TrainingProgress> report) : IProgress<Gyre.Training.TrainingProgress>
    {
        public void Report(Gyre.Training.TrainingProgress value) => report(value);
    }
}
