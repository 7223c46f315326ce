using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit;

namespace Gyre.Tests.Cli;

/// <summary>`gyre serve`: bad options and model files are one line and exit 2; a running server stops cleanly on SIGTERM.</summary>
public sealed class ServeCommandTests : IDisposable
{
    private readonly CliFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Bad_models_and_options_are_one_line_and_exit_2()
    {
        string csv = _dir.Daily("d.csv", 30);
        _dir.Fails(["serve", "--model", "m"], "--model 'm': expected NAME=path.gyre");
        _dir.Fails(["serve", "--model", "m=" + _dir["missing.gyre"]], "missing.gyre");
        _dir.Fails(["serve", "--model", "m=" + csv], "d.csv", "not a Gyre model");
        _dir.Fails(["serve", "--model", "a b=" + csv], "model name 'a b'");
        _dir.Fails(["serve", "--model", "m=" + csv, "--port", "70000"], "--port must be");
        _dir.Fails(["serve", "--model", "m=" + csv, "--max-streams", "0"], "--max-streams must be");
        _dir.Fails(["serve", "--model", "m=" + csv, "--grpc-port", "70000"], "--grpc-port must be");
        _dir.Fails(["serve", "--model", "m=" + csv, "--port", "9000", "--grpc-port", "9000"], "--grpc-port 9000 is the HTTP --port too");
    }

    [Fact]
    public async Task A_server_answers_then_stops_on_sigterm_with_exit_code_0()
    {
        if (!OperatingSystem.IsLinux()) return;   // SIGTERM through kill(1); CI and development run Linux
        string gun = Path.Combine(AppContext.BaseDirectory, "Fixtures", "Data", "classification", "GunPoint_TRAIN.ts");
        _dir.Ok("classify", "train", "--data", gun, "--hidden", "8", "--epochs", "1", "--augment", "0", "--out", _dir["c.gyre"]);
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // --grpc-port 0 is "off", so the gRPC service gets a port that was free a moment ago.
        int grpcPort;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0)) { probe.Start(); grpcPort = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port; }
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "Gyre.Cli.dll"), "serve", "--model", "gun=" + _dir["c.gyre"], "--port", "0",
                     "--grpc-port", grpcPort.ToString(System.Globalization.CultureInfo.InvariantCulture) })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var listening = new TaskCompletionSource<string>();
        var grpc = new TaskCompletionSource<string>();
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line && Regex.Match(line, @"listening on (http://127\.0\.0\.1:\d+/)") is { Success: true } m) listening.TrySetResult(m.Groups[1].Value);
            if (e.Data is { } text && Regex.Match(text, @"gRPC .* on (http://127\.0\.0\.1:\d+/)") is { Success: true } g) grpc.TrySetResult(g.Groups[1].Value);
        };
        p.BeginOutputReadLine();
        var err = p.StandardError.ReadToEndAsync();
        try
        {
            string address = await listening.Task.WaitAsync(TimeSpan.FromSeconds(120));
            using (var http = new HttpClient { BaseAddress = new Uri(address) })
            {
                string meta = await http.GetStringAsync("v2/models/gun");
                Assert.Contains("\"platform\":\"gyre_classify\"", meta);
            }
            string grpcAddress = await grpc.Task.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.EndsWith($":{grpcPort}/", grpcAddress);
            using (var channel = Grpc.Net.Client.GrpcChannel.ForAddress(grpcAddress))
            {
                var client = new Gyre.Serve.Grpc.GRPCInferenceService.GRPCInferenceServiceClient(channel);
                var meta = await client.ModelMetadataAsync(new Gyre.Serve.Grpc.ModelMetadataRequest { Name = "gun" });
                Assert.Equal("gyre_classify", meta.Platform);
            }
            using (var kill = Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) kill.WaitForExit();
            await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(0, p.ExitCode);
            Assert.Contains("stopping", await err);
        }
        finally
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
        }
    }
}
