using Xunit;

namespace Gyre.Tests.Cli;

/// <summary>`gyre classify` with gated memory units: trains on the bundled GunPoint data, shows them in inspect and
/// --help, and rejects bad values with one line.</summary>
public sealed class GmuCommandTests : IDisposable
{
    private readonly CliFolder _dir = new();
    public void Dispose() => _dir.Dispose();

    private static string GunPoint => Path.Combine(AppContext.BaseDirectory, "Fixtures", "Data", "classification", "GunPoint_TRAIN.ts");

    [Fact]
    public void Classify_train_with_gmu_runs_on_the_bundled_data()
    {
        _dir.Ok(["classify", "train", "--data", GunPoint, "--out", _dir["g.gyre"], "--layers", "2", "--gmu", "1", "--gmu-memory", "0",
            "--hidden", "8", "--epochs", "1", "--augment", "0", "--no-baselines"]);
        var inspect = _dir.Ok("classify", "inspect", "--model", _dir["g.gyre"]).Out;
        Assert.Contains("1 GMU (memory: layer 0)", inspect);
        foreach (var help in new[] { _dir.Run("classify", "train", "--help").Out, _dir.Run("classify", "--help").Out })
        {
            Assert.Contains("--gmu ", help); Assert.Contains("--gmu-memory", help);
        }
    }

    [Fact]
    public void Bad_gmu_values_get_one_line()
    {
        string[] Train(params string[] extra) => ["classify", "train", "--data", GunPoint, "--out", _dir["m.gyre"], "--epochs", "1", .. extra];
        _dir.Fails(Train("--gmu", "-1"), "--gmu must be in 0..64, got -1");
        _dir.Fails(Train("--gmu-memory", "0"), "--gmu-memory 0 needs --gmu 1 or more");
        _dir.Fails(Train("--gmu", "1", "--layers", "2", "--gmu-memory", "2"), "--gmu-memory must name a recurrent layer in 0..1");
    }
}
