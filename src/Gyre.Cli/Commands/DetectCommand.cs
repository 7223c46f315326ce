using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Gyre.Anomaly;
using Gyre.Cli.Output;
using Gyre.Data;
using Spectre.Console;

namespace Gyre.Cli.Commands;

/// <summary>
/// `gyre detect` — anomalies in time series: a scorer fitted on the first rows only, an unsupervised threshold
/// (extreme-value theory on the training scores, or a contamination quantile), alarms merged into events, and
/// with labels the NAB score. Without a subcommand: the bundled NAB art_daily_jumpsup run.
/// </summary>
internal static class DetectCommand
{
    internal static string Bundled(string name) => Path.Combine(AppContext.BaseDirectory, "Data", name);

    /// <summary>Scored rows a threshold is fitted from, at the least.</summary>
    internal const int MinCalibrationRows = 30;

    /// <summary>Options shared by the bundled run, `run` and `train`.</summary>
    private sealed class DetectOptions
    {
        public readonly Option<string?> Target = new("--target") { Description = "Target column(s) C,… (default: every numeric column)" };
        public readonly Option<string?> TimeCol = new("--time-col") { Description = "Time column (default: detected)" };
        public readonly Option<string> Method = new("--method") { Description = $"Scorer: {string.Join(" | ", AnomalyScorers.Names)}", DefaultValueFactory = _ => AnomalyScorers.Default };
        public readonly Option<double?> TrainFraction = new("--train-fraction") { Description = "Fraction of rows (from the start) to fit on; default NAB's probationary period, 15 % (at most 750 rows)" };
        public readonly Option<double> Risk = new("--risk") { Description = "Risk of the extreme-value threshold (probability a normal score exceeds it)", DefaultValueFactory = _ => 1e-4 };
        public readonly Option<double?> Contamination = new("--contamination") { Description = "Threshold at the (1 − p) quantile of the training scores instead" };
        public readonly Option<int?> MergeGap = new("--merge-gap") { Description = "Alarms at most this many rows apart form one event (default 1 % of the rows)" };
        public readonly Option<int> Smooth = new("--smooth") { Description = "Average each score over the last k rows (1 = off)", DefaultValueFactory = _ => 10 };
        public readonly Option<double> Level = new("--evt-level") { Description = "Initial quantile of the EVT fit", DefaultValueFactory = _ => PeaksOverThreshold.DefaultInitialLevel };
        public readonly Option<int> Hidden = new("--hidden") { Description = "Hidden units of the recurrent scorers", DefaultValueFactory = _ => 32 };
        public readonly Option<int> Epochs = new("--epochs") { Description = "Training epochs of the recurrent scorers", DefaultValueFactory = _ => 10 };
        public readonly Option<string> Cell = new("--cell") { Description = $"Recurrent cell of the learned scorers: {string.Join(" | ", Cells.CellRegistry.Names)}; options as name(k=v,…)", DefaultValueFactory = _ => Cells.CellRegistry.Default };
        public readonly Option<int?> Layers = UserInput.Int("--layers", "Recurrent layers K of the learned scorers' encoder (and decoder) (default 1)", min: 1, max: 64);
        public readonly Option<int?> Gmu = UserInput.Int("--gmu", "Gated memory units (SambaY) after the recurrent layers: z = σ(W·z + b) ⊙ m, m read from the --gmu-memory layer (default 0: none)", min: 0, max: Models.EncoderStack.MaxGmu);
        public readonly Option<int?> GmuMemory = UserInput.Int("--gmu-memory", "Recurrent layer (0-based) whose output the GMUs read as memory m (default: the last)", min: 0, max: 63);
        public readonly Option<bool?> Bidirectional = UserInput.Flag("--bidirectional", "The forecast scorer's encoder reads its lookback in both directions (--method forecast only)");
        public readonly Option<int?> Window = new("--window") { Description = "Context rows of the scorer (rolling z-score window, model lookback)" };
        public readonly Option<ulong> Seed = new("--seed") { Description = "Random seed", DefaultValueFactory = _ => 1UL };
        public readonly Option<string?> OnNan = UserInput.OnNan();
        public readonly Option<bool> NoProfile = new("--no-phase-profile") { Description = "One threshold for every time of day (default: judge each score against the training days' scores at the same phase of the day)" };

        public void AddTo(Command c)
        {
            foreach (Option o in new Option[] { Target, TimeCol, Method, TrainFraction, Risk, Contamination, MergeGap, Smooth, Level, Hidden, Epochs, Cell, Layers, Bidirectional, Gmu, GmuMemory, Window, Seed, OnNan, NoProfile }) c.Options.Add(o);
        }

        /// <summary>The scorer settings the options give, with the encoder's stack checked (one line naming the option).</summary>
        public ScorerSettings Scorer(ParseResult p)
        {
            int? layers = p.GetValue(Layers), memory = p.GetValue(GmuMemory);
            int gmu = p.GetValue(Gmu) ?? 0;
            if (Models.EncoderStack.Problem(layers ?? 1, gmu, memory) is { } bad) throw new GyreDataException(bad);
            return new ScorerSettings(p.GetValue(Window), p.GetValue(Seed), p.GetValue(Cell)!, p.GetValue(Hidden), p.GetValue(Epochs))
            {
                OnNan = UserInput.NanPolicy(p, OnNan), Layers = layers, Gmu = gmu, GmuMemory = memory, Bidirectional = p.GetValue(Bidirectional) == true,
            };
        }

        public DetectionOptions Threshold(ParseResult p) =>
            new() { Smooth = p.GetValue(Smooth), InitialLevel = p.GetValue(Level), Risk = p.GetValue(Risk), Contamination = p.GetValue(Contamination), MergeGap = p.GetValue(MergeGap),
                PhaseProfile = !p.GetValue(NoProfile) };
    }

    public static Command Create(CliContext ctx)
    {
        var o = new DetectOptions();
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var outDir = new Option<string>("--out-dir") { Description = "Folder for the bundled run's scores, events and plot", DefaultValueFactory = _ => "gyre-output" };
        var cmd = new Command("detect", "Find anomalies in time series (recurrent forecast residuals or reconstruction errors, EVT thresholds, NAB scoring). Without a subcommand: the bundled NAB art_daily_jumpsup run.");
        o.AddTo(cmd);
        cmd.Options.Add(json);
        cmd.Options.Add(outDir);
        cmd.SetAction(p =>
        {
            string dir = p.GetValue(outDir)!;
            Directory.CreateDirectory(dir);
            var job = new Job(Bundled("art_daily_jumpsup.csv"), p.GetValue(o.Target) ?? "value", p.GetValue(o.TimeCol), Bundled("art_daily_jumpsup.labels.json"),
                Path.Combine(dir, "jumpsup-scores.csv"), Path.Combine(dir, "jumpsup-events.csv"), Path.Combine(dir, "jumpsup-anomalies.png"), p.GetValue(json));
            if (!job.Json) ctx.Out.WriteLine("gyre detect: bundled run — NAB art_daily_jumpsup.csv (Numenta Anomaly Benchmark, MIT), one labelled window");
            return RunJob(ctx, job, p, o);
        });
        cmd.Subcommands.Add(Run(ctx));
        cmd.Subcommands.Add(TrainCmd(ctx));
        cmd.Subcommands.Add(ScoreCmd(ctx));
        return cmd;
    }

    private sealed record Job(string Data, string? Target, string? TimeCol, string? Labels, string? Scores, string? Events, string? Plot, bool Json,
        string? Model = null);

    private static Command Run(CliContext ctx)
    {
        var o = new DetectOptions();
        var data = new Option<string>("--data") { Description = "CSV file (header row)", Required = true };
        var outPath = new Option<string>("--out") { Description = "Scores CSV to write", Required = true };
        var events = new Option<string?>("--events") { Description = "Also write the events as CSV" };
        var plot = new Option<string?>("--plot") { Description = "Also write a PNG of series, score, threshold, events and labelled windows" };
        var labels = new Option<string?>("--labels") { Description = "NAB-style labels JSON: windows hit, false events and NAB scores" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("run", "Fit on the first rows, score every row, threshold and report events (and NAB metrics with --labels)");
        cmd.Options.Add(data); o.AddTo(cmd); cmd.Options.Add(outPath); cmd.Options.Add(events); cmd.Options.Add(plot); cmd.Options.Add(labels); cmd.Options.Add(json);
        cmd.SetAction(p => RunJob(ctx, new Job(p.GetValue(data)!, p.GetValue(o.Target), p.GetValue(o.TimeCol), p.GetValue(labels),
            p.GetValue(outPath), p.GetValue(events), p.GetValue(plot), p.GetValue(json)), p, o));
        return cmd;
    }

    private static int RunJob(CliContext ctx, Job job, ParseResult p, DetectOptions o)
    {
        // Everything the user could get wrong is checked before any fitting.
        using var plan = PlanOutputs(job);
        var thresholds = o.Threshold(p);
        thresholds.Validate();
        string method = p.GetValue(o.Method)!;
        var loaded = Load(job.Data, job.Target, job.TimeCol);
        int rows = loaded.Rows;
        var windows = job.Labels is null ? [] : LoadWindows(job.Labels, loaded.Times, job.Data);
        double? fraction = p.GetValue(o.TrainFraction);
        if (fraction is { } f && !(f > 0 && f < 1)) throw new GyreDataException($"--train-fraction {f} is not in (0, 1)");
        int trainRows = AnomalyDetection.TrainRows(rows, fraction);
        var settings = o.Scorer(p);
        // The autoencoder's bottleneck is its encoder's last forward state, and the baselines have no encoder.
        if (settings.Bidirectional && method != "forecast") throw new GyreDataException($"--bidirectional applies to --method forecast, not {method}");
        var scorer = AnomalyScorers.Create(method, settings);
        if (job.Model != null && scorer is not LearnedScorer) throw new ArgumentException($"--method {method} has nothing to save: train a forecast or reconstruction model");
        var baselines = AnomalyScorers.Baselines(settings).Where(b => b.Name != scorer.Name).ToList();
        foreach (var s in baselines.Prepend(scorer))
            if (trainRows - s.Warmup < MinCalibrationRows)
                throw new GyreDataException($"{rows} rows give {trainRows} training rows ({(fraction is null ? "NAB's probationary 15 %" : $"--train-fraction {fraction}")}); "
                    + $"the {s.Name} scorer needs at least {s.Warmup + MinCalibrationRows}", job.Data);

        var log = job.Json ? ctx.Err : ctx.Out;
        log.WriteLine($"{Path.GetFileName(job.Data)}: {string.Join(", ", loaded.Targets)}, {rows} rows; fitting {scorer.Name} on the first {trainRows}");
        var series = new SeriesInput(loaded.Values, loaded.Channels, SeriesInput.DailyPhase(loaded.Times), 2);
        var main = AnomalyDetection.Run(scorer, series, trainRows, thresholds, loaded.Times);
        var others = baselines.Select(b => AnomalyDetection.Run(b, series, trainRows, thresholds, loaded.Times)).ToList();

        var outputs = Outputs(job, loaded, main, windows);
        if (job.Model is { } model)
            outputs.Add((model, tmp => DetectorFile.Save(tmp, new FittedDetector(scorer, main.Threshold,
                [.. baselines.Zip(others, (b, d) => (b, d.Threshold, d.Profile))], loaded.Targets, thresholds, settings, main.Profile))));
        WriteOutputs(plan, outputs);
        Report(ctx, job, loaded, main, others, windows, thresholds);
        if (job.Model != null && !job.Json) ctx.Out.WriteLine($"wrote {job.Model}");
        return Cli.Ok;
    }

    private static Command TrainCmd(CliContext ctx)
    {
        var o = new DetectOptions();
        var data = new Option<string>("--data") { Description = "CSV file (header row)", Required = true };
        var outPath = new Option<string>("--out") { Description = "Model file to write", Required = true };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("train", "Fit a learned scorer on the first rows and save it with its threshold and baselines (then `detect score`)");
        cmd.Options.Add(data); o.AddTo(cmd); cmd.Options.Add(outPath); cmd.Options.Add(json);
        cmd.SetAction(p => RunJob(ctx, new Job(p.GetValue(data)!, p.GetValue(o.Target), p.GetValue(o.TimeCol), null, null, null, null, p.GetValue(json),
            p.GetValue(outPath)), p, o));
        return cmd;
    }

    private static Command ScoreCmd(CliContext ctx)
    {
        var model = new Option<string>("--model") { Description = "Model file from `detect train`", Required = true };
        var data = new Option<string>("--data") { Description = "CSV file with the trained columns", Required = true };
        var timeCol = new Option<string?>("--time-col") { Description = "Time column (default: detected)" };
        var outPath = new Option<string>("--out") { Description = "Scores CSV to write", Required = true };
        var events = new Option<string?>("--events") { Description = "Also write the events as CSV" };
        var plot = new Option<string?>("--plot") { Description = "Also write a PNG of series, score, threshold, events and labelled windows" };
        var labels = new Option<string?>("--labels") { Description = "NAB-style labels JSON: windows hit, false events and NAB scores" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("score", "Score new data with a saved detector and its stored threshold (every row after the scorer's context)");
        foreach (Option opt in new Option[] { model, data, timeCol, outPath, events, plot, labels, json }) cmd.Options.Add(opt);
        cmd.SetAction(p =>
        {
            var job = new Job(p.GetValue(data)!, null, p.GetValue(timeCol), p.GetValue(labels), p.GetValue(outPath), p.GetValue(events), p.GetValue(plot), p.GetValue(json));
            using var plan = PlanOutputs(job, ("--model", p.GetValue(model)!));
            var d = DetectorFile.Load(p.GetValue(model)!);
            var loaded = Load(job.Data, string.Join(',', d.Targets), job.TimeCol);
            var windows = job.Labels is null ? [] : LoadWindows(job.Labels, loaded.Times, job.Data);
            var series = new SeriesInput(loaded.Values, loaded.Channels, SeriesInput.DailyPhase(loaded.Times), 2);
            foreach (var s in d.Baselines.Select(b => b.Scorer).Prepend(d.Scorer))
                if (loaded.Rows <= s.Warmup) throw new GyreDataException($"{loaded.Rows} rows do not exceed the {s.Name} scorer's context of {s.Warmup}", job.Data);
            var main = AnomalyDetection.Apply(d.Scorer, series, d.Threshold, d.Options, d.Profile, loaded.Times);
            var others = d.Baselines.Select(b => AnomalyDetection.Apply(b.Scorer, series, b.Threshold, d.Options, b.Profile, loaded.Times)).ToList();
            WriteOutputs(plan, Outputs(job, loaded, main, windows));
            Report(ctx, job, loaded, main, others, windows, d.Options);
            return Cli.Ok;
        });
        return cmd;
    }

    /// <summary>The job's outputs, checked (folders, clashes, inputs) before any work starts.</summary>
    private static OutputPlan PlanOutputs(Job job, params (string Option, string Path)[] inputs)
    {
        var plan = new OutputPlan();
        try
        {
            foreach (var (path, option) in new[] { (job.Scores, "--out"), (job.Events, "--events"), (job.Plot, "--plot"), (job.Model, "--out") })
                if (path is not null) plan.Add(option, path);
            plan.Input("--data", job.Data);
            foreach (var (option, path) in inputs) plan.Input(option, path);
            plan.Check();
            return plan;
        }
        catch
        {
            plan.Dispose();
            throw;
        }
    }

    /// <summary>Writes every output to its temporary, then publishes them all.</summary>
    private static void WriteOutputs(OutputPlan plan, IEnumerable<(string Path, Action<string> Write)> outputs)
    {
        foreach (var (path, write) in outputs) write(plan.TempFor(path));
        plan.Commit();
    }

    private static List<(string, Action<string>)> Outputs(Job job, Loaded d, Detection main, IReadOnlyList<RowWindow> windows)
    {
        var list = new List<(string, Action<string>)>();
        if (job.Scores is { } s) list.Add((s, tmp => AnomalyOutput.WriteScores(tmp, d.Times, d.Targets, d.Values, main)));
        if (job.Events is { } e) list.Add((e, tmp => AnomalyOutput.WriteEvents(tmp, d.Times, main)));
        if (job.Plot is { } png) list.Add((png, tmp => AnomalyOutput.WritePlot(tmp, d.Times, d.Targets[0], d.Values, d.Channels, main, windows)));
        return list;
    }

    internal sealed record Loaded(string[] Targets, DateTime[]? Times, float[] Values, int Channels, int Rows);

    internal static Loaded Load(string path, string? target, string? timeCol)
    {
        var set = CsvLoader.Load(path, new CsvOptions { TimeColumn = timeCol, Targets = target is null ? null : CsvOptions.ParseColumnList(target) });
        if (set.Series.Count != 1) throw new GyreDataException("expected one series", path);
        var s = set.Series[0];
        var targets = set.TargetColumns.ToArray();
        int c = targets.Length, k = set.ColumnCount;
        var values = new float[s.Length * c];   // [T, C]
        for (int t = 0; t < s.Length; t++)
            for (int j = 0; j < c; j++) values[t * c + j] = s.Values[t * k + j];
        return new Loaded(targets, s.Times, values, c, s.Length);
    }

    private static List<RowWindow> LoadWindows(string labels, DateTime[]? times, string data)
    {
        if (times is null) throw new GyreDataException("--labels needs a time column (none detected; name it with --time-col)", data);
        return AnomalyLabels.ToRows(AnomalyLabels.Load(labels), times, labels);
    }

    private static void Report(CliContext ctx, Job job, Loaded d, Detection main, List<Detection> others, IReadOnlyList<RowWindow> windows, DetectionOptions t)
    {
        bool labelled = job.Labels is not null;
        string Time(int row) => AnomalyOutput.Time(d.Times, row);
        string rule = t.Contamination is { } p ? $"contamination {p.ToString("G3", CultureInfo.InvariantCulture)}" : $"EVT, risk {t.Risk.ToString("G3", CultureInfo.InvariantCulture)}";
        if (main.Profile is { } profile) rule += $"; phase-of-day profile, ratio {profile.Ratio.ToString("G3", CultureInfo.InvariantCulture)}";
        if (job.Json)
        {
            JsonObject Metrics(Detection det)
            {
                var r = AnomalyDetection.Evaluate(det, windows);
                var m = new JsonObject { ["windows"] = windows.Count, ["windows_hit"] = r[0].WindowsHit, ["false_events"] = r[0].FalseDetections };
                foreach (var x in r) m["nab_" + x.Profile] = x.Normalized is { } v ? Math.Round(v, 4) : null;
                return m;
            }
            JsonArray Events(Detection det) => [.. det.Events.Select(e => (JsonNode)new JsonObject
            {
                ["start"] = Time(e.Start), ["end"] = Time(e.End), ["peak"] = Time(e.Peak), ["score"] = Math.Round(e.Score, 6),
            })];
            var root = new JsonObject { ["method"] = main.Scorer, ["events"] = Events(main), ["threshold"] = Math.Round(main.Threshold, 6), ["threshold_rule"] = rule };
            if (labelled) root["metrics"] = Metrics(main);
            var b = new JsonObject();
            foreach (var o in others)
            {
                var entry = new JsonObject { ["events"] = Events(o), ["threshold"] = Math.Round(o.Threshold, 6) };
                if (labelled) entry["metrics"] = Metrics(o);
                b[o.Scorer] = entry;
            }
            root["baselines"] = b;
            if (job.Scores is not null) root["scores_csv"] = job.Scores;
            if (job.Events is not null) root["events_csv"] = job.Events;
            if (job.Plot is not null) root["plot"] = job.Plot;
            ctx.Out.WriteLine(root.ToJsonString());
            return;
        }
        ctx.Out.WriteLine($"{main.Scorer}: threshold {main.Threshold:G4} ({rule}), {main.Events.Count} event(s) after row {main.From}");
        if (main.Events.Count > 0)
        {
            var et = new Table().AddColumn("start").AddColumn("end").AddColumn("peak").AddColumn(new TableColumn("score").RightAligned());
            foreach (var e in main.Events) et.AddRow(Time(e.Start), Time(e.End), Time(e.Peak), e.Score.ToString("G4", CultureInfo.InvariantCulture));
            ctx.Console.Write(et);
        }
        foreach (var w in windows)
            ctx.Out.WriteLine($"labelled window {Time(w.Start)} to {Time(w.End)}: {(main.Events.Any(e => e.Start <= w.End && e.End >= w.Start) ? "hit" : "missed")}");
        var ct = new Table().AddColumn("detector").AddColumn(new TableColumn("threshold").RightAligned()).AddColumn(new TableColumn("events").RightAligned());
        if (labelled)
            foreach (var h in new[] { "hit", "false", "NAB", "low FP", "low FN" }) ct.AddColumn(new TableColumn(h).RightAligned());
        foreach (var det in others.Prepend(main))
        {
            var cells = new List<string> { det == main ? det.Scorer : $"{det.Scorer} (base)", det.Threshold.ToString("G4", CultureInfo.InvariantCulture), det.Events.Count.ToString(CultureInfo.InvariantCulture) };
            if (labelled)
            {
                var r = AnomalyDetection.Evaluate(det, windows);
                cells.Add($"{r[0].WindowsHit}/{r[0].Windows}");
                cells.Add(r[0].FalseDetections.ToString(CultureInfo.InvariantCulture));
                cells.AddRange(r.Select(x => x.Normalized is { } v ? v.ToString("F1", CultureInfo.InvariantCulture) : "—"));
            }
            ct.AddRow([.. cells]);
        }
        ctx.Console.Write(ct);
        if (labelled) ctx.Out.WriteLine("hit = labelled windows with an event, false = events outside every window, NAB = normalised NAB score (standard, reward-low-FP, reward-low-FN profiles; null detector 0, perfect 100)");
        foreach (var path in new[] { job.Scores, job.Events, job.Plot }.OfType<string>()) ctx.Out.WriteLine($"wrote {path}");
    }
}
