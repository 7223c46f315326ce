namespace Gyre.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 1 && args[0] == "--version")
        {
            Console.WriteLine(typeof(Gyre.Tensors.Tensor).Assembly.GetName().Version);
            return 0;
        }
        Console.Error.WriteLine("gyre: no command yet");
        return 2;
    }
}
