using System.Collections.Concurrent;

namespace Gyre.Serve;

/// <summary>
/// The live streams of every model, keyed by model and sequence id (Triton's sequence-batcher parameters). One
/// request per stream runs at a time (<see cref="Entry.Gate"/>); a stream idle longer than the TTL is dropped, and
/// its next request is told so. Thread-safe.
/// </summary>
public sealed class StreamTable(ServeOptions options, ServerMetrics metrics, TimeProvider clock)
{
    private readonly ConcurrentDictionary<(string Model, string Id), Entry> _live = new();
    private readonly ConcurrentDictionary<(string Model, string Id), byte> _expired = new();   // recently expired, for the message
    private int _count;

    /// <summary>A live stream: its state, the gate that serialises its requests, when it was last used.</summary>
    public sealed class Entry(StreamState state, long now)
    {
        public StreamState State { get; } = state;
        public SemaphoreSlim Gate { get; } = new(1, 1);
        public long LastUsed = now;
        public volatile bool Removed;
    }

    public int Count => Volatile.Read(ref _count);

    private long Now => clock.GetTimestamp();

    private bool Idle(Entry e) => clock.GetElapsedTime(Interlocked.Read(ref e.LastUsed), Now) > options.StreamTtl;

    /// <summary>The stream <paramref name="id"/> of <paramref name="model"/>: a fresh one when <paramref name="start"/>
    /// (replacing any live one), else the live one; the caller then holds its gate.</summary>
    public async Task<Entry> AcquireAsync(ServedModel model, string id, bool start, CancellationToken cancel)
    {
        var key = (model.Name, id);
        while (true)
        {
            Entry e;
            if (start)
            {
                if (_live.TryGetValue(key, out var old)) Remove(key, old);
                if (Interlocked.Increment(ref _count) > options.MaxStreams)
                {
                    Interlocked.Decrement(ref _count);
                    SweepExpired();
                    if (Interlocked.Increment(ref _count) > options.MaxStreams)
                    {
                        Interlocked.Decrement(ref _count);
                        throw new ServeException(503, $"the server holds {options.MaxStreams} live sequences (--max-streams): end one with sequence_end or let idle ones expire (--stream-ttl {options.StreamTtl.TotalSeconds:G4} s)");
                    }
                }
                e = new Entry(model.NewStream(), Now);
                if (!_live.TryAdd(key, e)) { Interlocked.Decrement(ref _count); continue; }   // a concurrent start won: start over
                _expired.TryRemove(key, out _);
                metrics.LiveStreams.Set(Count);
            }
            else if (!_live.TryGetValue(key, out e!) || Idle(e))
            {
                if (e != null && Idle(e)) Expire(key, e);
                bool expired = _expired.ContainsKey(key);
                throw new ServeException(400, expired
                    ? $"sequence '{id}' of model '{model.Name}' expired after more than {options.StreamTtl.TotalSeconds:G4} s idle (--stream-ttl): start it again with sequence_start"
                    : $"sequence '{id}' of model '{model.Name}' is not live: its first request needs parameters.sequence_start = true");
            }
            await e.Gate.WaitAsync(cancel);
            if (!e.Removed) { Interlocked.Exchange(ref e.LastUsed, Now); return e; }
            e.Gate.Release();                            // ended or replaced while we waited: look again
            if (start) continue;
        }
    }

    /// <summary>Releases a stream after its request; <paramref name="end"/> drops it (sequence_end).</summary>
    public void Release(ServedModel model, string id, Entry e, bool end)
    {
        Interlocked.Exchange(ref e.LastUsed, Now);
        if (end) Remove((model.Name, id), e);
        e.Gate.Release();
    }

    /// <summary>Drops every stream idle longer than the TTL.</summary>
    public void SweepExpired()
    {
        foreach (var (key, e) in _live)
            if (Idle(e)) Expire(key, e);
    }

    private void Expire((string, string) key, Entry e)
    {
        if (!Remove(key, e)) return;
        metrics.ExpiredStreams.Inc();
        if (_expired.Count > 100_000) _expired.Clear();   // the names of expired streams are only for a clearer message
        _expired[key] = 0;
    }

    private bool Remove((string, string) key, Entry e)
    {
        if (!_live.TryRemove(new KeyValuePair<(string, string), Entry>(key, e))) return false;
        e.Removed = true;
        Interlocked.Decrement(ref _count);
        metrics.LiveStreams.Set(Count);
        return true;
    }
}
