using System.Text.Json;
using Gyre.Cells;

namespace Gyre.Benchmarks;

/// <summary>
/// One registered cell as the cells table shows it (README, <c>gyre bench cells</c>), read from its definition only:
/// its equation line, its states with their widths, the form of its recurrent weight and how it exports to ONNX.
/// </summary>
/// <param name="Cell">The cell's text form (name and options).</param>
/// <param name="Equation"><see cref="CellDefinition.Equation"/>.</param>
/// <param name="States">"h, c" with widths where a state is not H wide ("h [P], c").</param>
/// <param name="Recurrent">"dense [3H, H]", "diagonal [H]", "block-diagonal [n, G·H/n, H/n]" or "none", plus any
/// extra per-unit parameters.</param>
/// <param name="Onnx">The native operator, or "Scan over the step".</param>
public sealed record CellDescription(string Cell, string Equation, string States, string Recurrent, string Onnx)
{
    /// <summary>The description of <paramref name="cell"/> (symbolic H: the shapes are those of any hidden size).</summary>
    public static CellDescription Of(CellDefinition cell)
    {
        // Widths and shapes at two hidden sizes tell which dimensions are H (they scale) and which are fixed.
        const int a = 96, b = 192;
        string Dim(int x, int y) => x == y ? x.ToString(System.Globalization.CultureInfo.InvariantCulture)
            : y == 2 * x && x % a == 0 ? (x / a == 1 ? "H" : $"{x / a}H") : "?";
        var states = string.Join(", ", Enumerable.Range(0, cell.States).Select(j =>
            cell.StateWidth(j, a) == a && cell.StateWidth(j, b) == b ? cell.StateNames[j] : $"{cell.StateNames[j]} [{Dim(cell.StateWidth(j, a), cell.StateWidth(j, b))}]"));
        var sa = cell.RecurrentWeightShape(a);
        var sb = cell.RecurrentWeightShape(b);
        string form = cell.Recurrent switch
        {
            RecurrentWeights.Dense => "dense",
            RecurrentWeights.Diagonal => "diagonal",
            RecurrentWeights.BlockDiagonal => "block-diagonal",
            _ => "none",
        };
        string recurrent = sa is null || sb is null ? form : $"{form} [{string.Join(", ", sa.Zip(sb, Dim))}]";
        for (int e = 0; e < cell.ExtraParameters.Count; e++)
            recurrent += $"; {cell.ExtraParameters[e].Name} [{string.Join(", ", cell.ExtraParameterShape(e, a).Zip(cell.ExtraParameterShape(e, b), Dim))}]";
        return new(cell.ToString(), cell.Equation, states, recurrent, cell.Onnx?.OpType ?? "Scan over the step");
    }

    /// <summary>One JSON object: cell, equation, states, recurrent, onnx.</summary>
    public string ToJson() => JsonSerializer.Serialize(new Dictionary<string, string>
    {
        ["cell"] = Cell, ["equation"] = Equation, ["states"] = States, ["recurrent"] = Recurrent, ["onnx"] = Onnx,
    }, Readable);

    // Keep ⊙, σ, ′ readable in the JSON lines (they are data for a markdown table, not HTML).
    private static readonly JsonSerializerOptions Readable = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
