using Gyre.Kernels;
using Xunit;

namespace Gyre.Tests.Kernels;

/// <summary>
/// The GEMM's cache blocking: the derivation rule for known cores and odd caches, reading sysfs, and that a
/// blocking changes no bit of any result.
/// </summary>
[Trait("Category", "Kernels")]
[Collection(nameof(GemmTuningCollection))]
public class GemmBlockingTests
{
    private const int K = 1024;

    [Theory]
    // name, L1d, L2, NR, MR → KC, MC
    [InlineData("Zen 5 (48K L1d)", 48 * K, 1024 * K, 64, 6, 512, 126)]
    [InlineData("Zen 5 (32K L1d)", 32 * K, 1024 * K, 64, 6, 512, 126)]
    [InlineData("Emerald Rapids", 48 * K, 2048 * K, 64, 6, 1024, 126)]
    [InlineData("default caches", 32 * K, 512 * K, 64, 6, 256, 126)]
    [InlineData("AVX2 tile, default caches", 32 * K, 512 * K, 16, 6, 672, 48)]
    [InlineData("tiny caches", 4 * K, 32 * K, 64, 6, 64, 30)]
    [InlineData("huge caches", 1024 * K, 64 * 1024 * K, 64, 6, 1024, 480)]
    public void DerivationFollowsTheRule(string name, int l1, int l2, int nr, int mr, int kc, int mc)
    {
        var b = GemmBlocking.Derive(new CacheSizes(l1, l2, 0, "test"), nr, mr);
        Assert.True(b.KC == kc && b.MC == mc, $"{name}: KC {b.KC} MC {b.MC}, expected {kc} {mc}");
        Assert.Equal(0, b.MC % mr);
        Assert.Equal(0, b.KC % 16);
        if (b.KC > GemmBlocking.MinKC)
        {
            // Unclamped: the B panel in an eighth of L2, the A tile in half of L1d, the A strip in a quarter of L2.
            Assert.True(4L * b.KC * nr <= l2 / 8, $"{name}: B panel {4L * b.KC * nr} B");
            Assert.True(4L * b.KC * mr <= l1 / 2, $"{name}: A tile {4L * b.KC * mr} B");
        }
        if (b.MC > mr && b.MC < GemmBlocking.MaxMC) Assert.True(4L * b.MC * b.KC <= l2 / 4, $"{name}: A strip {4L * b.MC * b.KC} B");
    }

    [Theory]
    [InlineData("48K", 48 * K)]
    [InlineData("1024K", 1024 * K)]
    [InlineData("2M", 2048 * K)]
    [InlineData("512", 512)]
    [InlineData("", 0)]
    [InlineData("K", 0)]
    [InlineData("-4K", 0)]
    [InlineData("12Q", 0)]
    [InlineData("99999999M", 0)]
    public void SizesParseAsSysfsWritesThem(string text, int bytes) => Assert.Equal(bytes, CacheSizes.ParseSize(text));

    [Fact]
    public void SysfsCacheFoldersAreRead()
    {
        string dir = Path.Combine(Path.GetTempPath(), "gyre-cache-" + Guid.NewGuid().ToString("N"));
        try
        {
            Write(dir, 0, "1", "Data", "48K");
            Write(dir, 1, "1", "Instruction", "32K");
            Write(dir, 2, "2", "Unified", "1024K");
            Write(dir, 3, "3", "Unified", "32768K");
            var c = CacheSizes.FromSysfs(dir);
            Assert.Equal(new CacheSizes(48 * K, 1024 * K, 32 * 1024 * K, "sysfs"), c);

            // An L1d without an L2 (or the reverse) is not enough to block for: the caller falls back.
            Directory.Delete(Path.Combine(dir, "index2"), recursive: true);
            Assert.Null(CacheSizes.FromSysfs(dir));
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
        Assert.Null(CacheSizes.FromSysfs(dir));

        static void Write(string root, int i, string level, string type, string size)
        {
            string d = Path.Combine(root, $"index{i}");
            Directory.CreateDirectory(d);
            File.WriteAllText(Path.Combine(d, "level"), level + "\n");
            File.WriteAllText(Path.Combine(d, "type"), type + "\n");
            File.WriteAllText(Path.Combine(d, "size"), size + "\n");
        }
    }

    [Fact]
    public void AmdLegacyLeavesAreDecoded()
    {
        // The registers of a Zen 5 VM whose hypervisor zeroes leaf 0x8000001D (2026-12-02).
        var caches = CacheSizes.FromAmdLegacyRegisters(0x300C0140, 0x04006140, 0x0FE09140);
        Assert.NotNull(caches);
        Assert.Equal(48 * 1024, caches!.L1Data);
        Assert.Equal(1024 * 1024, caches.L2);
        Assert.Equal(1016 * 512 * 1024, caches.L3);
        Assert.Equal(new GemmBlocking(512, 126, caches), GemmBlocking.Derive(caches, 64, 6));
        // Empty leaves (another hypervisor) give nothing, so detection falls through to the default.
        Assert.Null(CacheSizes.FromAmdLegacyRegisters(0, 0, 0));
        Assert.Null(CacheSizes.FromAmdLegacyRegisters(0x300C0140, 0, 0));
    }

    [Fact]
    public void DetectionAlwaysGivesUsableSizes()
    {
        var c = CacheSizes.Detect();
        Assert.True(c.L1Data > 0 && c.L2 > 0, c.ToString());
        Assert.Contains(c.Source, new[] { "sysfs", "cpuid", "cpuid legacy", "default" });
        var cpuid = CacheSizes.FromCpuid();
        if (cpuid is not null) Assert.True(cpuid.L1Data > 0 && cpuid.L2 >= cpuid.L1Data, cpuid.ToString());
    }

    [Theory]
    [MemberData(nameof(GemmTests.TransCombos), MemberType = typeof(GemmTests))]
    public void BlockingChangesNoBit(bool transA, bool transB)
    {
        var saved = Gemm.Blocking;
        using var _ = GemmTuning.ForceBlocked();
        var rng = new Random(7);
        int[][] shapes = [[97, 70, 1100], [130, 131, 513], [7, 200, 300], [203, 65, 64]];
        GemmBlocking[] blockings =
        [
            new(64, 6, CacheSizes.Default), new(80, 30, CacheSizes.Default), new(512, 126, CacheSizes.Default),
            new(1024, 480, CacheSizes.Default),
        ];
        try
        {
            foreach (var s in shapes)
            {
                int m = s[0], n = s[1], k = s[2];
                var a = new float[m * k]; var b = new float[k * n]; var c0 = new float[m * n];
                foreach (var x in new[] { a, b, c0 }) for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble() * 2f - 1f;
                float[]? expected = null;
                foreach (var blocking in blockings)
                    foreach (int threads in new[] { 1, 2 })
                    {
                        Gemm.Blocking = blocking;
                        var c = (float[])c0.Clone();
                        using var team = new WorkerTeam(threads);
                        Gemm.Multiply(transA, transB, m, n, k, a, transA ? m : k, b, transB ? k : n, c, n, accumulate: true, team);
                        if (expected is null) { expected = c; continue; }
                        for (int i = 0; i < c.Length; i++)
                            if (BitConverter.SingleToInt32Bits(c[i]) != BitConverter.SingleToInt32Bits(expected[i]))
                                Assert.Fail($"[{m}, {n}, {k}] {blocking.KC}/{blocking.MC} on {threads}: C[{i}] {c[i]:R} vs {expected[i]:R}");
                    }
            }
        }
        finally { Gemm.Blocking = saved; }
    }
}
