using System.CommandLine;
using System.Globalization;
using Gyre.Cli.Output;
using Gyre.Data;
using Gyre.Forecasting;
using Spectre.Console;

namespace Gyre.Cli.Commands;

/// <summary>
/// `gyre forecast tune`: successive-halving search (<see cref="ForecastTuner"/>) on the validation split, within
/// --trials or --budget; prints the trials as they finish and a table at the end, writes the best model (whose
/// file holds its options) and prints the `forecast train` command that retrains it.
/// </summary>
internal static class ForecastTuneCommand
{
    public static Command Create(CliContext ctx)
    {
        var training = new TrainingOptions();
        var data = new Option<string>("--data") { Description = "CSV file (header row; a time column is detected)", Required = true };
        var outPath = new Option<string>("--out") { Description = "Model file for the best trial", DefaultValueFactory = _ => "tuned.gyre" };
        var trials = UserInput.Int("--trials", "Configurations drawn at the first rung", min: 1, max: 10_000);
        var budget = new Option<string?>("--budget") { Description = "Wall-clock budget, e.g. 10m, 90s, 1h: no new rung starts after it (default: none)" };
        var maxEpochs = UserInput.Int("--max-epochs", "Length of each trial's run (its schedule); rungs stop it after 2, 6, 18, … epochs and the survivors resume", min: 1, max: 100_000);
        training.ShowDefaults(ForecastCommand.TrainDefaults, "default");
        var cmd = new Command("tune", "Search lookback, hidden, layers, patch, dropout, lr, norm and cell on the validation split (successive halving) and save the best model");
        cmd.Options.Add(data); training.AddTo(cmd); cmd.Options.Add(outPath); cmd.Options.Add(trials); cmd.Options.Add(budget); cmd.Options.Add(maxEpochs);
        cmd.SetAction(p =>
        {
            string path = ForecastCommand.RequireFile("--data", p.GetValue(data)!), output = p.GetValue(outPath)!;
            var options = training.Apply(p, ForecastCommand.TrainDefaults, ForecastCommand.Warn(ctx));
            (options, _) = ForecastDefaults.FromData(path, options, lookback: !training.Given(p, training.Lookback), patch: false);
            var settings = new TuneSettings
            {
                Trials = p.GetValue(trials) ?? 9, Budget = p.GetValue(budget) is { } text ? ParseBudget(text) : null,
                MaxEpochs = p.GetValue(maxEpochs) ?? options.Epochs, Seed = options.Seed,
            };
            using var plan = new OutputPlan();
            var modelOut = plan.Add("--out", output);
            plan.Input("--data", path);
            plan.Check();
            ctx.Out.WriteLine($"tuning on the validation split: {settings.Trials} configurations, successive halving (η = {settings.Eta}) from {settings.MinEpochs} to {settings.MaxEpochs} epochs"
                + (settings.Budget is { } b ? $", budget {b.TotalSeconds:F0} s" : "") + $", seed {settings.Seed}");
            var (best, all) = ForecastTuner.Tune(path, options, settings, t => ctx.Out.WriteLine(
                $"trial {t.Id} rung {t.Rung}: {Describe(t.Options)} — {t.Epochs} epochs, val {t.ValLoss:G5} ({t.Seconds:F1} s)"), ctx.Cancel);
            best.Save(modelOut.Temp);
            plan.Commit();
            var table = new Table().AddColumns("trial", "rung", "epochs", "lookback", "hidden", "layers", "patch", "dropout", "lr", "norm", "cell", "val loss", "seconds");
            foreach (var t in all.OrderBy(t => t.Id).ThenBy(t => t.Rung))
            {
                var o = t.Options;
                table.AddRow(t.Id.ToString(CultureInfo.InvariantCulture), t.Rung.ToString(CultureInfo.InvariantCulture), t.Epochs.ToString(CultureInfo.InvariantCulture),
                    o.Lookback.ToString(CultureInfo.InvariantCulture), o.Hidden.ToString(CultureInfo.InvariantCulture), o.Layers.ToString(CultureInfo.InvariantCulture),
                    o.Patch > 1 ? o.Patch.ToString(CultureInfo.InvariantCulture) : "-", o.Dropout.ToString(CultureInfo.InvariantCulture),
                    o.LearningRate.ToString(CultureInfo.InvariantCulture), o.Normalization, Markup.Escape(o.Cell), t.ValLoss.ToString("G5", CultureInfo.InvariantCulture),
                    t.Seconds.ToString("F1", CultureInfo.InvariantCulture));
            }
            ctx.Console.Write(table);
            var bo = best.Options;
            int trained = best.History.Count;
            ctx.Out.WriteLine($"best: {Describe(bo)}, {trained} of a {bo.Epochs}-epoch run; wrote {output} (its options are in the file: gyre forecast inspect --model {output})");
            ctx.Out.WriteLine($"retrain with: gyre forecast train --data {path} [the data and protocol options given here] {Describe(bo)} --epochs {bo.Epochs} --patience {bo.Patience} --seed {bo.Seed}"
                + (trained < bo.Epochs && best.History.Count > 0 && !StoppedEarly(best, bo) ? $" (the search stopped it after {trained} epochs)" : ""));
            var set = best.LoadData(path);
            if (SplitSpec.Parse(bo.Split).Test > 0) Reports.Table(ctx, best.Evaluate(set));
            return Cli.Ok;
        });
        return cmd;
    }

    /// <summary>Whether early stopping (patience epochs without a better validation loss) ended the trial's run.</summary>
    private static bool StoppedEarly(Forecaster f, ForecastOptions o)
    {
        var h = f.History;
        int best = h.FindLastIndex(e => e.Best);
        return o.Patience > 0 && h.Count - 1 - best >= o.Patience;
    }

    private static string Describe(ForecastOptions o) => string.Create(CultureInfo.InvariantCulture,
        $"--lookback {o.Lookback} --hidden {o.Hidden} --layers {o.Layers} --patch {o.Patch} --dropout {o.Dropout} --lr {o.LearningRate} --norm {o.Normalization} --cell {o.Cell}");

    /// <summary>"90s", "10m", "1.5h" or plain seconds → a time span (one-line error naming --budget otherwise).</summary>
    internal static TimeSpan ParseBudget(string text)
    {
        string t = text.Trim().ToLowerInvariant();
        double unit = t.EndsWith('h') ? 3600 : t.EndsWith('m') ? 60 : 1;
        string number = t.TrimEnd('h', 'm', 's');
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !(v > 0) || double.IsInfinity(v))
            throw new GyreDataException($"--budget: '{text}' is not a duration such as 90s, 10m or 1h");
        return TimeSpan.FromSeconds(v * unit);
    }
}
