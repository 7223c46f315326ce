using System.Globalization;
using System.Runtime.Intrinsics.X86;

namespace Gyre.Kernels;

/// <summary>Per-core data cache sizes in bytes and where they were read from ("sysfs", "cpuid", "cpuid legacy" or "default").
/// L3 is informative only (the blocking reads L1d and L2): the legacy AMD leaf may give the whole socket's.</summary>
public sealed record CacheSizes(int L1Data, int L2, int L3, string Source)
{
    /// <summary>Sizes assumed when neither sysfs nor CPUID answers: 32 KiB L1d and 512 KiB L2, at or below every
    /// x86 and Arm server core of the last decade, so blocks derived from them fit wherever the code runs.</summary>
    public static CacheSizes Default { get; } = new(32 * 1024, 512 * 1024, 0, "default");

    /// <summary>The machine's sizes: sysfs (Linux) first, then CPUID (x86), then <see cref="Default"/>.</summary>
    public static CacheSizes Detect() => FromSysfs("/sys/devices/system/cpu/cpu0/cache") ?? FromCpuid() ?? FromAmdLegacyCpuid() ?? Default;

    /// <summary>
    /// Reads index*/{level,type,size} under <paramref name="dir"/> (e.g. "1", "Data", "48K"); null when there is
    /// no such folder or it names no level-1 data cache and level-2 cache.
    /// </summary>
    public static CacheSizes? FromSysfs(string dir)
    {
        int l1 = 0, l2 = 0, l3 = 0;
        try
        {
            if (!Directory.Exists(dir)) return null;
            foreach (var index in Directory.EnumerateDirectories(dir, "index*"))
            {
                string level = ReadTrimmed(Path.Combine(index, "level")), type = ReadTrimmed(Path.Combine(index, "type"));
                int size = ParseSize(ReadTrimmed(Path.Combine(index, "size")));
                if (size <= 0 || type == "Instruction") continue;
                if (level == "1" && type == "Data") l1 = size;
                else if (level == "2") l2 = size;
                else if (level == "3") l3 = size;
            }
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
        return l1 > 0 && l2 > 0 ? new CacheSizes(l1, l2, l3, "sysfs") : null;

        static string ReadTrimmed(string path) => File.Exists(path) ? File.ReadAllText(path).Trim() : "";
    }

    /// <summary>"48K" → 49152, "2048K" / "2M" → 2097152, "512" → 512; 0 when it is not a size.</summary>
    public static int ParseSize(string text)
    {
        if (text.Length == 0) return 0;
        long unit = char.ToUpperInvariant(text[^1]) switch { 'K' => 1024, 'M' => 1024 * 1024, 'G' => 1024 * 1024 * 1024, _ => 1 };
        var digits = unit == 1 ? text : text[..^1];
        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long value)) return 0;
        long bytes = value * unit;
        return bytes is > 0 and <= int.MaxValue ? (int)bytes : 0;
    }

    /// <summary>
    /// x86 deterministic cache parameters: leaf 4 (Intel) or 0x8000001D (AMD), one sub-leaf per cache, size =
    /// ways · partitions · line size · sets. Null off x86 or when the leaf lists no L1d and L2.
    /// </summary>
    public static CacheSizes? FromCpuid()
    {
        if (!X86Base.IsSupported) return null;
        bool amd = IsAmd();
        int leaf = amd ? unchecked((int)0x8000001D) : 4;
        int maxLeaf = amd ? X86Base.CpuId(unchecked((int)0x80000000), 0).Eax : X86Base.CpuId(0, 0).Eax;
        if ((uint)maxLeaf < (uint)leaf) return null;
        int l1 = 0, l2 = 0, l3 = 0;
        for (int sub = 0; sub < 16; sub++)
        {
            var (a, b, c, _) = X86Base.CpuId(leaf, sub);
            int type = a & 0x1F, level = (a >> 5) & 0x7;
            if (type == 0) break;
            if (type == 2) continue; // instruction cache
            long size = (long)(((b >> 22) & 0x3FF) + 1) * (((b >> 12) & 0x3FF) + 1) * ((b & 0xFFF) + 1) * ((long)(uint)c + 1);
            if (size <= 0 || size > int.MaxValue) continue;
            if (level == 1 && type == 1) l1 = (int)size;
            else if (level == 2) l2 = (int)size;
            else if (level == 3) l3 = (int)size;
        }
        return l1 > 0 && l2 > 0 ? new CacheSizes(l1, l2, l3, "cpuid") : null;
    }

    /// <summary>
    /// AMD's older cache leaves, which some hypervisors fill while they zero 0x8000001D (a Zen 5 VM, 2026-12-02: no
    /// sysfs cache folder, 0x8000001D all zero, 0x80000005/6 giving 48 KiB L1d and 1 MiB L2): L1d from 0x80000005 ECX,
    /// L2 and L3 from 0x80000006 ECX and EDX. Null off AMD x86 or when the leaves are absent or empty.
    /// </summary>
    public static CacheSizes? FromAmdLegacyCpuid()
    {
        if (!X86Base.IsSupported || !IsAmd()) return null;
        if ((uint)X86Base.CpuId(unchecked((int)0x80000000), 0).Eax < 0x80000006u) return null;
        var l1 = X86Base.CpuId(unchecked((int)0x80000005), 0);
        var l2 = X86Base.CpuId(unchecked((int)0x80000006), 0);
        return FromAmdLegacyRegisters((uint)l1.Ecx, (uint)l2.Ecx, (uint)l2.Edx);
    }

    /// <summary>Whether CPUID's vendor is "AuthenticAMD" (x86 only).</summary>
    private static bool IsAmd()
    {
        var (_, ebx, ecx, edx) = X86Base.CpuId(0, 0);
        return ebx == 0x68747541 && edx == 0x69746E65 && ecx == 0x444D4163;
    }

    /// <summary>The sizes in leaves 0x80000005 ECX (L1d KiB in bits 31:24), 0x80000006 ECX (L2 KiB in bits 31:16) and
    /// EDX (L3 in 512 KiB units in bits 31:18); null unless both L1d and L2 are given.</summary>
    public static CacheSizes? FromAmdLegacyRegisters(uint ecx5, uint ecx6, uint edx6)
    {
        long l1 = (long)(ecx5 >> 24) * 1024, l2 = (long)(ecx6 >> 16) * 1024, l3 = (long)(edx6 >> 18) * 512 * 1024;
        if (l1 <= 0 || l2 <= 0) return null;
        return new CacheSizes((int)l1, (int)l2, l3 <= int.MaxValue ? (int)l3 : 0, "cpuid legacy");
    }

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"L1d {L1Data / 1024} KiB, L2 {L2 / 1024} KiB, L3 {(L3 > 0 ? $"{L3 / 1024} KiB" : "unknown")} ({Source})");
}

/// <summary>
/// The GEMM's cache blocking: K blocks of at most <see cref="KC"/>, A strips of <see cref="MC"/> rows. Results never
/// depend on it (each element of C is one FMA chain in K order; blocks only decide when the chain is stored and
/// reloaded), only the speed does.
/// </summary>
public sealed record GemmBlocking(int KC, int MC, CacheSizes Caches)
{
    /// <summary>Shortest and longest K block: below 64 the C tile's loads and stores outweigh its FMAs; above 1024
    /// the packed A strip no longer fits any L2.</summary>
    public const int MinKC = 64, MaxKC = 1024;
    /// <summary>Most rows of one A strip: the work of a strip is also the unit the team shares out.</summary>
    public const int MaxMC = 480;

    /// <summary>
    /// The rule. The tile loop sweeps every MR-row tile of a packed A strip [MC, KC] over one packed B panel
    /// [KC, NR], panel after panel. The micro-kernel needs 4·NR bytes of B per MR·NR/16 FMAs (256 B per 24 FMAs
    /// with AVX-512), a quarter of what L2 delivers per cycle on the cores measured, so the B panel may live in L2
    /// and KC can be long (fewer reloads of the C tile); L1d must hold the A tile the kernel walks beside it:
    /// <code>
    /// KC = min(L2 / 8 / (4·NR), L1d / 2 / (4·MR))   rounded down to 16, within [MinKC, MaxKC]
    /// MC = L2 / 4 / (4·KC)                           rounded down to MR, within [MR, MaxMC]
    /// </code>
    /// so B panel, A strip and C rows share L2 with room to spare. Zen 5 (48 KiB L1d, 1 MiB L2), AVX-512: KC 512,
    /// MC 126; Emerald Rapids (48 KiB, 2 MiB): KC 1024, MC 126; the default (32 KiB, 512 KiB): KC 256, MC 126.
    /// BLIS's rule (the B panel in half of L1d: KC = 96 on Zen 5, MC then up to L2) measured 2–10 % slower on
    /// square and projection-shaped products on Zen 5 (bench/README.md), which is why the panel goes to L2 here.
    /// </summary>
    public static GemmBlocking Derive(CacheSizes caches, int nr, int mr)
    {
        ArgumentNullException.ThrowIfNull(caches);
        if (nr < 1 || mr < 1) throw new ArgumentOutOfRangeException(nameof(nr), $"tile {mr}x{nr} must be positive");
        long byPanel = caches.L2 / 8 / (4L * nr);
        long byTile = caches.L1Data / 2 / (4L * mr);
        int kc = (int)Math.Clamp(Math.Min(byPanel, byTile) / 16 * 16, MinKC, MaxKC);
        long byStrip = caches.L2 / 4 / (4L * kc);
        int mc = (int)Math.Clamp(byStrip / mr * mr, mr, MaxMC / mr * mr);
        return new GemmBlocking(kc, mc, caches);
    }

    /// <inheritdoc/>
    public override string ToString() => $"KC {KC}, MC {MC} from {Caches}";
}
