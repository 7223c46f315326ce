using Gyre.Anomaly;
using Gyre.Tests.Data;
using Xunit;

namespace Gyre.Tests.Anomaly;

public sealed class AnomalyEventsTests
{
    [Fact]
    public void Alarms_within_the_gap_merge_and_keep_their_peak()
    {
        double[] s = [0, 5, 0, 0, 7, 0, 0, 0, 0, 6, 0, 9];
        var e = AnomalyEvents.Find(s, 1.0, mergeGap: 3);
        Assert.Equal([new AnomalyEvent(1, 4, 4, 7), new AnomalyEvent(9, 11, 11, 9)], e);
        Assert.Equal(4, AnomalyEvents.Find(s, 1.0, mergeGap: 0).Count);
        Assert.Equal([new AnomalyEvent(4, 4, 4, 7), new AnomalyEvent(9, 11, 11, 9)], AnomalyEvents.Find(s, 1.0, 3, from: 2));
    }

    [Fact]
    public void Nab_labels_map_to_rows_and_windows_outside_the_data_are_refused()
    {
        using var tmp = new TempFiles();
        string path = tmp.Write("l.json", """{"anomaly_windows": [["2020-01-01 00:10:00.000000", "2020-01-01 00:20:00.000000"]]}""");
        var times = Enumerable.Range(0, 10).Select(i => new DateTime(2020, 1, 1).AddMinutes(5 * i)).ToArray();
        var w = AnomalyLabels.ToRows(AnomalyLabels.Load(path), times, path);
        Assert.Equal([new RowWindow(2, 4)], w);
        string late = tmp.Write("late.json", """[["2020-01-01 00:30:00", "2020-01-01 02:00:00"]]""");
        var e = Assert.Throws<Gyre.Data.GyreDataException>(() => AnomalyLabels.ToRows(AnomalyLabels.Load(late), times, late));
        Assert.Contains("late.json", e.Message);
        Assert.Contains("outside the data", e.Message);
    }
}
