namespace Gyre.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        using var interrupt = new CancellationTokenSource();
        // The first Ctrl-C asks the command to stop at a safe point (training: after the epoch and its
        // checkpoint, so --resume continues it); a second one ends the process at once.
        Console.CancelKeyPress += (_, e) =>
        {
            if (interrupt.IsCancellationRequested) return;
            e.Cancel = true;
            Console.Error.WriteLine("gyre: stopping after the current step (Ctrl-C again to stop now)");
            interrupt.Cancel();
        };
        return Cli.Run(args, Console.Out, Console.Error, interrupt.Token);
    }
}
