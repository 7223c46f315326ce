if (args is ["gates", ..]) return Gyre.Bench.GateBench.Run(args[1..]);
Console.WriteLine("Gyre micro-benchmarks: see bench/README.md");
return 0;
