using Gyre.Data;
using Xunit;

namespace Gyre.Tests.Data;

public sealed class TsLoaderTests : IDisposable
{
    private readonly TempFiles _tmp = new();
    public void Dispose() => _tmp.Dispose();

    private static string Bundled(string name) => TempFiles.Bundled(Path.Combine("classification", name));

    [Theory]
    [InlineData("GunPoint_TRAIN.ts", "GunPoint", 50, 150, 150, 2)]
    [InlineData("GunPoint_TEST.ts", "GunPoint", 150, 150, 150, 2)]
    [InlineData("ArrowHead_TRAIN.ts", "ArrowHead", 36, 251, 251, 3)]
    [InlineData("ArrowHead_TEST.ts", "ArrowHead", 175, 251, 251, 3)]
    [InlineData("PLAID_TRAIN.ts", "PLAID", 537, 100, 1344, 11)]
    [InlineData("PLAID_TEST.ts", "PLAID", 537, 134, 1000, 11)]
    public void Reads_every_bundled_classification_file(string file, string name, int cases, int minLength, int maxLength, int classes)
    {
        var set = TsLoader.Load(Bundled(file));
        Assert.Equal(name, set.Name);
        Assert.Equal(LabelKind.Classification, set.Task);
        Assert.Equal(1, set.Channels);
        Assert.Equal(cases, set.Cases.Count);
        Assert.Equal(minLength, set.MinLength);
        Assert.Equal(maxLength, set.MaxLength);
        Assert.Equal(classes, set.Classes().Length);
        Assert.All(set.Cases, c => Assert.Contains(c.Label!, set.Classes()));
        Assert.All(set.Cases, c => Assert.All(c.Values, v => Assert.True(float.IsFinite(v))));
        // Every data line of the file is one case, in order, and its first value is read exactly.
        var lines = File.ReadAllLines(Bundled(file));
        int dataStart = Array.FindIndex(lines, l => l.Trim().Equals("@data", StringComparison.OrdinalIgnoreCase)) + 1;
        var data = lines.Skip(dataStart).Where(l => l.Trim().Length > 0).ToArray();
        Assert.Equal(cases, data.Length);
        for (int i = 0; i < cases; i += 37)
        {
            var fields = data[i].Split(':');
            Assert.Equal(fields[^1].Trim(), set.Cases[i].Label);
            var values = fields[0].Split(',');
            Assert.Equal(values.Length, set.Cases[i].Length);
            Assert.Equal(float.Parse(values[^1], System.Globalization.CultureInfo.InvariantCulture), set.Cases[i].Values[^1]);
        }
    }

    [Fact]
    public void Bundled_class_counts_match_the_source_notes()
    {
        var gun = TsLoader.Load(Bundled("GunPoint_TRAIN.ts"));
        Assert.Equal(new[] { "1", "2" }, gun.Classes());
        Assert.Equal(24, gun.Cases.Count(c => c.Label == "1"));
        var plaid = TsLoader.Load(Bundled("PLAID_TRAIN.ts"));
        Assert.Equal(Enumerable.Range(0, 11).Select(i => i.ToString()), plaid.Classes());
        Assert.Equal(88, plaid.Cases.Count(c => c.Label == "1"));
    }

    [Fact]
    public void Reads_multivariate_unequal_lengths_and_regression_targets()
    {
        string p = _tmp.Write("m.ts", "# comment\n@problemName Demo\n@dimensions 2\n@equalLength false\n@classLabel true a b\n@data\n1,2,3:4,5,6:a\n\n7,8:9,10:b\n");
        var set = TsLoader.Load(p);
        Assert.Equal(2, set.Channels);
        Assert.Equal(new[] { 1f, 4f, 2f, 5f, 3f, 6f }, set.Cases[0].Values);   // [T, C]
        Assert.Equal(2, set.Cases[1].Length);
        Assert.Equal(9, set.Cases[1].Line);
        string r = _tmp.Write("r.ts", "@problemName RUL\n@univariate true\n@targetLabel true\n@data\n1,2,3:12.5\n4,5:-3\n");
        var reg = TsLoader.Load(r);
        Assert.Equal(LabelKind.Regression, reg.Task);
        Assert.Equal(new[] { 12.5, -3 }, reg.Cases.Select(c => c.Target));
        Assert.Empty(reg.Classes());
    }

    [Fact]
    public void Missing_values_are_refused_without_fill_and_filled_with_it()
    {
        string p = _tmp.Write("q.ts", "@univariate true\n@missing true\n@classLabel true x y\n@data\n1,2,3:x\n1,?,5:y\n");
        var e = Assert.Throws<GyreDataException>(() => TsLoader.Load(p));
        Assert.Equal("q.ts: case 2 (line 6), dimension 1: missing value '?' at step 2 (choose a fill mode: --fill linear or ffill)", e.Message);
        Assert.Equal(new[] { 1f, 3f, 5f }, TsLoader.Load(p, FillMode.Linear).Cases[1].Values);
        Assert.Equal(new[] { 1f, 1f, 5f }, TsLoader.Load(p, FillMode.Ffill).Cases[1].Values);
        string all = _tmp.Write("all.ts", "@univariate true\n@classLabel true x\n@data\n?,NaN:x\n");
        Assert.Contains("case 1 (line 4), dimension 1: every value is missing", Assert.Throws<GyreDataException>(() => TsLoader.Load(all, FillMode.Linear)).Message);
    }

    [Theory]
    [InlineData("@univariate maybe\n@classLabel true a\n@data\n1:a\n", "line 1", "malformed header @univariate: expects true or false, got 'maybe'")]
    [InlineData("@classLabel true\n@data\n1:a\n", "line 1", "@classLabel true must list the class names")]
    [InlineData("@seriesLength ten\n@classLabel true a\n@data\n1:a\n", "line 1", "expects a positive integer")]
    [InlineData("@colour blue\n@classLabel true a\n@data\n1:a\n", "line 1", "unknown header line '@colour'")]
    [InlineData("@classLabel true a\n1,2:a\n", "line 2", "data before the @data line")]
    [InlineData("@classLabel true a\n", null, "malformed header: no @data line")]
    [InlineData("@classLabel true a\n@data\n", null, "no cases after @data")]
    [InlineData("@classLabel true a\n@data\n1:a\n@univariate true\n", "line 4", "header line '@univariate true' after @data")]
    [InlineData("@univariate true\n@data\n1,2\n", null, "neither @classLabel true nor @targetLabel true")]
    [InlineData("@timeStamps true\n@classLabel true a\n@data\n(0,1):a\n", "line 1", "not supported")]
    [InlineData("@classLabel true a b\n@data\n1,2:3,4:a\n5,6:b\n", null, "case 2 (line 4): mixed dimensions: 1 dimension, expected 2 plus the label")]
    [InlineData("@dimensions 2\n@classLabel true a\n@data\n1,2:3:a\n", null, "case 1 (line 4), dimension 2: 1 values, dimension 1 has 2")]
    [InlineData("@univariate true\n@classLabel true a b\n@data\n1,2:a\n1,2:c\n", null, "case 2 (line 5): class label 'c' is not declared in @classLabel (a b)")]
    [InlineData("@univariate true\n@classLabel true a\n@data\n1,x:a\n", null, "case 1 (line 4), dimension 1: non-numeric value 'x' at step 2")]
    [InlineData("@univariate true\n@equalLength true\n@classLabel true a\n@data\n1,2:a\n1,2,3:a\n", null, "case 2 (line 6): 3 values per dimension, case 1 has 2 (@equalLength true)")]
    [InlineData("@univariate true\n@seriesLength 3\n@classLabel true a\n@data\n1,2:a\n", null, "case 1 (line 5): 2 values per dimension, @seriesLength says 3")]
    [InlineData("@univariate true\n@targetLabel true\n@data\n1,2:abc\n", null, "case 1 (line 4): target 'abc' is not a finite number")]
    [InlineData("@univariate true\n@classLabel true a\n@data\n:a\n", null, "case 1 (line 4), dimension 1: no values")]
    public void Bad_files_get_one_line_naming_the_file_and_place(string content, string? where, string message)
    {
        string p = _tmp.Write("bad.ts", content);
        var e = Assert.Throws<GyreDataException>(() => TsLoader.Load(p));
        Assert.DoesNotContain('\n', e.Message);
        Assert.StartsWith("bad.ts: ", e.Message);
        if (where is not null) Assert.Contains(where, e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Empty_and_missing_files()
    {
        Assert.Equal("empty.ts: empty file", Assert.Throws<GyreDataException>(() => TsLoader.Load(_tmp.Write("empty.ts", ""))).Message);
        Assert.Contains("file not found", Assert.Throws<GyreDataException>(() => TsLoader.Load(Path.Combine(_tmp.Dir, "nope.ts"))).Message);
    }
}
