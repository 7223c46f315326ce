Console.WriteLine("Gyre micro-benchmarks: see bench/README.md");
