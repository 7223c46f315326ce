using SharpFuzz;

namespace Gyre.Fuzz;

/// <summary>
/// `dotnet Gyre.Fuzz.dll TARGET` runs TARGET under AFL++ (SharpFuzz's out-of-process loop);
/// `dotnet Gyre.Fuzz.dll TARGET FILE…` runs each file once in-process (triage and replay);
/// `dotnet Gyre.Fuzz.dll seeds DIR` writes the seed corpora.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args is ["seeds", var root])
        {
            Seeds.Write(root);
            return 0;
        }
        if (args.Length == 0 || !FuzzTargets.All.TryGetValue(args[0], out var target))
        {
            Console.Error.WriteLine($"usage: Gyre.Fuzz {{{string.Join('|', FuzzTargets.All.Keys)}}} [FILE…]");
            return 2;
        }
        if (args.Length > 1)
        {
            foreach (var file in args.Skip(1))
            {
                target(File.ReadAllBytes(file));
                Console.WriteLine($"{file}: ok");
            }
            return 0;
        }
        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            target(copy.ToArray());
        });
        return 0;
    }
}
