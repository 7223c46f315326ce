using System.Diagnostics;
using System.Threading.Channels;

namespace Gyre.Serve;

/// <summary>
/// Dynamic batching for one model: the first waiting request opens a batch, which takes every request that
/// arrives within the batch delay (up to the batch limit); the batch runs as one <see cref="ServedModel.Step"/>
/// (for stepping models one batched recurrent step) on the batching loop's thread, so a model never runs twice at
/// once. A stream appears at most once per batch: its gate (<see cref="StreamTable"/>) admits one request at a time.
/// </summary>
public sealed class Batcher : IAsyncDisposable
{
    private sealed record Call(StreamState State, Observations Input, TaskCompletionSource<StepResult> Done);

    private readonly ServedModel _model;
    private readonly ServeOptions _options;
    private readonly ServerMetrics _metrics;
    private readonly Channel<Call> _queue = Channel.CreateUnbounded<Call>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _loop;
    private readonly Action<string> _log;
    private int _arriving;                         // requests for this model between their arrival and Submit

    public Batcher(ServedModel model, ServeOptions options, ServerMetrics metrics, Action<string> log)
    {
        _model = model; _options = options; _metrics = metrics; _log = log;
        _loop = Task.Factory.StartNew(Loop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    /// <summary>A request for this model has arrived and will <see cref="Submit"/> (or <see cref="Withdraw"/>) soon:
    /// an open batch waits for it, up to the batch delay.</summary>
    public void Announce() => Interlocked.Increment(ref _arriving);

    /// <summary>An announced request will not be submitted (it was refused).</summary>
    public void Withdraw() => Interlocked.Decrement(ref _arriving);

    /// <summary>Queues one announced stream's observations; completes with the model's answer.</summary>
    public Task<StepResult> Submit(StreamState state, Observations input)
    {
        Withdraw();
        var call = new Call(state, input, new TaskCompletionSource<StepResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(call)) throw new ServeException(503, "the server is shutting down");
        return call.Done.Task;
    }

    private async Task Loop()
    {
        var reader = _queue.Reader;
        var batch = new List<Call>(_options.MaxBatch);
        while (await reader.WaitToReadAsync())
        {
            batch.Clear();
            if (!reader.TryRead(out var first)) continue;
            batch.Add(first);
            long opened = Stopwatch.GetTimestamp();
            var spin = new SpinWait();
            while (batch.Count < _options.MaxBatch)
            {
                if (reader.TryRead(out var next)) { batch.Add(next); continue; }
                if (Volatile.Read(ref _arriving) <= 0) break;          // nothing on its way: run now
                var left = _options.MaxBatchDelay - Stopwatch.GetElapsedTime(opened);
                if (left <= TimeSpan.Zero) break;
                // Sub-millisecond waits spin, yielding the core more and more (a timer cannot wait less than about a
                // millisecond); longer ones sleep until a request arrives or the delay ends.
                if (left < TimeSpan.FromMilliseconds(2)) { spin.SpinOnce(sleep1Threshold: -1); continue; }
                var arrived = reader.WaitToReadAsync().AsTask();
                if (await Task.WhenAny(arrived, Task.Delay(left)) != arrived) break;
                if (!await arrived) break;
            }
            Run(batch);
        }
    }

    private void Run(List<Call> batch)
    {
        _metrics.BatchSize.WithLabels(_model.Name).Observe(batch.Count);
        try
        {
            var results = _model.Run([.. batch.Select(c => (c.State, c.Input))]);
            for (int i = 0; i < batch.Count; i++) batch[i].Done.SetResult(results[i]);
        }
        catch (ServeException e)
        {
            foreach (var c in batch) c.Done.TrySetException(e);
        }
        catch (Data.GyreDataException e)
        {
            foreach (var c in batch) c.Done.TrySetException(new ServeException(400, e.Message));
        }
        catch (Exception e)
        {
            _log($"internal error in model '{_model.Name}': {e}");
            foreach (var c in batch) c.Done.TrySetException(new InvalidOperationException($"internal error in model '{_model.Name}' (logged by the server)", e));
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop;
    }
}
