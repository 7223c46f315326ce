using System.CommandLine;
using Gyre.Data;
using Gyre.Serve;

namespace Gyre.Cli.Commands;

/// <summary>
/// `gyre serve --model NAME=path.gyre [--model …] [--port 8000] [--grpc-port 0] [--host 127.0.0.1]`: the models behind
/// the Open Inference Protocol v2 (REST, and gRPC on --grpc-port when it is not 0) with per-stream state (<see cref="InferenceServer"/>) until SIGTERM or Ctrl-C,
/// which let the requests in flight finish.
/// </summary>
internal static class ServeCommand
{
    public static Command Create(CliContext ctx)
    {
        var model = new Option<string[]>("--model") { Description = "A model to serve as NAME=path.gyre (any job; repeat for more)", Required = true, AllowMultipleArgumentsPerToken = false };
        var port = UserInput.Int("--port", "HTTP port (0: any free port; default 8000)", min: 0, max: 65535);
        var grpcPort = UserInput.Int("--grpc-port", "Port of the protocol's gRPC service, HTTP/2 cleartext (default 0: off)", min: 0, max: 65535);
        var host = new Option<string?>("--host") { Description = "Address to listen on (default 127.0.0.1, loopback only)" };
        var ttl = UserInput.Float("--stream-ttl", "Seconds a stream may stay idle before it is dropped (default 600)", 0, float.MaxValue, minExclusive: true);
        var maxStreams = UserInput.Int("--max-streams", "Live streams at most, over all models (default 10000)", min: 1);
        var delay = UserInput.Float("--max-batch-delay", "Milliseconds the first request of a batch waits for others (default 1; 0: no wait)", 0, 10_000);
        var maxBatch = UserInput.Int("--max-batch", "Requests per batched step at most (default 256)", min: 1);
        var maxBody = UserInput.Int("--max-body", "Request body bytes at most (default 4194304)", min: 1);
        var maxElements = UserInput.Int("--max-elements", "Elements per input tensor at most (default 1048576)", min: 1);
        var maxRows = UserInput.Int("--max-stream-rows", "Rows a classify stream that keeps its whole case may hold (default 100000)", min: 1);
        var cmd = new Command("serve", "Serve models over the Open Inference Protocol v2 (REST) with per-stream recurrent state");
        foreach (var o in new Option[] { model, port, grpcPort, host, ttl, maxStreams, delay, maxBatch, maxBody, maxElements, maxRows }) cmd.Options.Add(o);
        cmd.SetAction(p =>
        {
            var d = new ServeOptions();
            var models = p.GetValue(model)!.Select(ParseModel).ToArray();
            var options = d with
            {
                Models = models,
                Port = p.GetValue(port) ?? d.Port,
                GrpcPort = p.GetValue(grpcPort) is > 0 and int g ? g : null,
                Host = p.GetValue(host) ?? d.Host,
                StreamTtl = p.GetValue(ttl) is { } s ? TimeSpan.FromSeconds(s) : d.StreamTtl,
                MaxStreams = p.GetValue(maxStreams) ?? d.MaxStreams,
                MaxBatchDelay = p.GetValue(delay) is { } ms ? TimeSpan.FromMilliseconds(ms) : d.MaxBatchDelay,
                MaxBatch = p.GetValue(maxBatch) ?? d.MaxBatch,
                MaxBodyBytes = p.GetValue(maxBody) ?? d.MaxBodyBytes,
                MaxElements = p.GetValue(maxElements) ?? d.MaxElements,
                MaxStreamRows = p.GetValue(maxRows) ?? d.MaxStreamRows,
            };
            try { options.Validate(); }
            catch (ArgumentException e) { throw new GyreDataException(e.Message); }
            return Run(options, ctx).GetAwaiter().GetResult();
        });
        return cmd;
    }

    private static (string Name, string Path) ParseModel(string text)
    {
        int eq = text.IndexOf('=');
        if (eq <= 0 || eq == text.Length - 1) throw new GyreDataException($"--model '{text}': expected NAME=path.gyre");
        return (text[..eq], ForecastCommand.RequireFile("--model", text[(eq + 1)..]));
    }

    private static async Task<int> Run(ServeOptions options, CliContext ctx)
    {
        InferenceServer server;
        try { server = await InferenceServer.StartAsync(options, line => ctx.Err.WriteLine(line)); }
        catch (ArgumentException e) { throw new GyreDataException(e.Message); }
        catch (IOException e) { throw new GyreDataException($"cannot listen on {options.Host}:{options.Port}{(options.GrpcPort is { } g ? $" (gRPC :{g})" : "")}: {e.Message}"); }
        await using (server)
        {
            foreach (var m in server.Models.Values)
                ctx.Out.WriteLine($"{m.Name}: {m.Job} model {m.Path}, {m.StreamKind} streams ({m.StreamDescription})");
            ctx.Out.WriteLine($"listening on {server.Address} — models at {server.Address}v2/models/NAME, OpenAPI at {server.Address}openapi.json; SIGTERM or Ctrl-C stops");
            if (server.GrpcAddress is { } grpc) ctx.Out.WriteLine($"gRPC (inference.GRPCInferenceService, HTTP/2 cleartext) on {grpc}");
            ctx.Out.Flush();
            try { await server.WaitForShutdownAsync(ctx.Cancel); }
            catch (OperationCanceledException) { }
            ctx.Err.WriteLine("gyre serve: stopping (requests in flight finish)");
        }
        return Cli.Ok;
    }
}
