using Gyre.Data;
using Xunit;

namespace Gyre.Tests.Data;

public sealed class LongCsvSequencesTests : IDisposable
{
    private readonly TempFiles _tmp = new();
    public void Dispose() => _tmp.Dispose();

    private static LongCsvOptions Options(string? time = "t") => new() { IdColumn = "id", LabelColumn = "label", TimeColumn = time };

    [Fact]
    public void Groups_rows_by_id_orders_by_time_and_keeps_first_appearance_order()
    {
        string p = _tmp.Write("l.csv", "id,t,x,y,label\nb,2,5,50,dog\na,1,1,10,cat\nb,1,4,40,dog\na,2,2,20,cat\na,3,3,30,cat\n");
        var set = LongCsvSequences.Load(p, Options());
        Assert.Equal(2, set.Channels);
        Assert.Equal(new[] { "b", "a" }, set.Cases.Select(c => c.Id));
        Assert.Equal(new[] { 4f, 40f, 5f, 50f }, set.Cases[0].Values);    // sorted by t: [T, C]
        Assert.Equal(new[] { 1f, 10f, 2f, 20f, 3f, 30f }, set.Cases[1].Values);
        Assert.Equal(new[] { "cat", "dog" }, set.Classes());
        var xOnly = LongCsvSequences.Load(p, Options() with { Features = ["y"] });
        Assert.Equal(new[] { 40f, 50f }, xOnly.Cases[0].Values);
    }

    [Fact]
    public void Regression_targets_and_fill()
    {
        string p = _tmp.Write("r.csv", "id,x,rul\n1,1,9\n1,,9\n1,3,9\n2,4,7\n");
        var e = Assert.Throws<GyreDataException>(() => LongCsvSequences.Load(p, new() { IdColumn = "id", LabelColumn = "rul", Task = LabelKind.Regression }));
        Assert.Equal("r.csv: data row 2 (line 3), column 'x': missing value '' (choose a fill mode: --fill linear or ffill)", e.Message);
        var set = LongCsvSequences.Load(p, new() { IdColumn = "id", LabelColumn = "rul", Task = LabelKind.Regression, Fill = FillMode.Linear });
        Assert.Equal(new[] { 1f, 2f, 3f }, set.Cases[0].Values);
        Assert.Equal(new[] { 9.0, 7.0 }, set.Cases.Select(c => c.Target));
    }

    [Theory]
    [InlineData("id,t,x,label\na,1,1,cat\na,2,2,dog\n", "data row 2 (line 3), column 'label': case 'a' changes label from 'cat' to 'dog'")]
    [InlineData("id,t,x,label\na,1,1,cat\na,1,2,cat\n", "data row 2 (line 3), column 't': duplicate time in case 'a'")]
    [InlineData("id,t,x,label\na,1,oops,cat\n", "data row 1 (line 2), column 'x': non-numeric value 'oops'")]
    [InlineData("id,t,x\na,1,1\n", "unknown label column 'label'")]
    [InlineData("id,t,x,label\n", "header only")]
    public void Bad_input_names_file_row_and_column(string content, string message)
    {
        string p = _tmp.Write("bad.csv", content);
        var e = Assert.Throws<GyreDataException>(() => LongCsvSequences.Load(p, Options()));
        Assert.StartsWith("bad.csv: ", e.Message);
        Assert.Contains(message, e.Message);
    }
}
