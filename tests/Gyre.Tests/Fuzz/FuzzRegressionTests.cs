using Gyre.Fuzz;
using Xunit;

namespace Gyre.Tests.Fuzz;

/// <summary>
/// Every input the fuzzers once broke a reader with (fuzz/regressions/TARGET/) and every seed (fuzz/corpus/TARGET/)
/// goes through the same entry point the fuzzer calls: it is read or rejected with the reader's documented
/// exception, and reading it allocates a bounded amount, whatever sizes the file declares.
/// </summary>
public sealed class FuzzRegressionTests
{
    private static string Root => Path.Combine(AppContext.BaseDirectory, "Fuzz");

    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        foreach (var target in FuzzTargets.All.Keys)
        {
            string dir = Path.Combine(Root, target);
            if (!Directory.Exists(dir)) continue;
            foreach (var file in Directory.GetFiles(dir).Order(StringComparer.Ordinal)) data.Add(target, Path.GetFileName(file));
        }
        return data;
    }

    [Fact]
    public void Every_target_has_seeds_and_the_fixed_findings_are_here()
    {
        foreach (var target in FuzzTargets.All.Keys)
            Assert.True(Directory.Exists(Path.Combine(Root, target)) && Directory.GetFiles(Path.Combine(Root, target)).Length >= 3, $"no seeds for {target}");
        Assert.Contains("lone-surrogate-1", Directory.GetFiles(Path.Combine(Root, "safetensors")).Select(Path.GetFileName));
        Assert.Contains("config-beyond-tensors", Directory.GetFiles(Path.Combine(Root, "model")).Select(Path.GetFileName));
        Assert.Contains("invalid-utf8-1", Directory.GetFiles(Path.Combine(Root, "serve")).Select(Path.GetFileName));
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Input_is_read_or_rejected_cleanly_with_bounded_allocation(string target, string file)
    {
        byte[] bytes = File.ReadAllBytes(Path.Combine(Root, target, file));
        long before = GC.GetAllocatedBytesForCurrentThread();
        FuzzTargets.All[target](bytes);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // The inputs are a few KB; a reader that trusted a declared size would allocate far more than this.
        Assert.True(allocated < 64L << 20, $"{target}/{file}: {allocated} bytes allocated for a {bytes.Length}-byte input");
    }
}
