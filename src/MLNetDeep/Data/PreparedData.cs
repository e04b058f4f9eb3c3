using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using MLNetDeep.Runtime;
using MLNetDeep.Tasks;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetDeep.Data;

/// <summary>
/// What the training loop reads, in every data mode: the batches of an in-memory or streaming set, prepared
/// <see cref="Depth"/> batches ahead on a background thread (or on the training thread when 0), then — on the training
/// thread, inside the loop's dispose scope — moved to the device and turned into network inputs (uint8 → float32,
/// <see cref="ByteScaling"/>). The loop itself doesn't know which.
/// </summary>
/// <remarks>
/// TorchSharp's dispose scopes are per thread: the worker builds each batch inside a scope of its own, detaches the
/// batch's tensors from it (the scope frees everything else the batch took to make) and hands them over; the training
/// thread attaches them to its current scope, so they go with the batch as tensors made there would. The worker runs
/// LibTorch with one intra-op thread (as PyTorch's DataLoader workers do), so it never competes with the training
/// thread's thread team.
/// </remarks>
internal sealed class PreparedData : ITrainingData
{
    private readonly ITrainingData _inner;
    private readonly ByteScaling? _scaling;
    private readonly Device _device;
    private readonly CancellationToken _token;
    private BatchWorker? _worker;

    /// <param name="inner">The set (owned: disposed with this).</param>
    /// <param name="depth">Batches prepared ahead (0 = on the training thread).</param>
    /// <param name="scaling">Applied to the features when the feature column holds bytes; null otherwise.</param>
    /// <param name="device">Where the batches go.</param>
    /// <param name="token">The run's cancellation: the worker stops, and a wait for a batch ends.</param>
    public PreparedData(ITrainingData inner, int depth, ByteScaling? scaling, Device device, CancellationToken token)
    {
        _inner = inner; Depth = depth; _scaling = scaling; _device = device; _token = token;
    }

    /// <summary>Batches prepared ahead.</summary>
    public int Depth { get; }
    /// <summary>The set underneath (in memory or streaming).</summary>
    public ITrainingData Inner => _inner;

    public long Count => _inner.Count;
    public HeadSpec Spec => _inner.Spec;
    public float[] RawLabels => _inner.RawLabels;
    public long LongestRow => _inner.LongestRow;

    public IEnumerable<Batch> Epoch(int epoch, BatchPlan plan) => Prepare(() => _inner.Epoch(epoch, plan));

    public IEnumerable<Batch> InOrder(long chunk) => Prepare(() => _inner.InOrder(chunk));

    private IEnumerable<Batch> Prepare(Func<IEnumerable<Batch>> batches)
    {
        // One worker thread serves this set's passes one after another (a thread per epoch cost memory every epoch); a
        // pass started while another is still being read is prepared on the calling thread.
        var stream = Depth == 0 ? null : (_worker ??= new BatchWorker()).TryStart(batches, Depth, _token);
        if (stream is null)
        {
            foreach (var batch in batches()) yield return ToInput(batch);
            yield break;
        }
        using (stream)
            while (stream.Next() is Batch batch) yield return ToInput(batch);
    }

    /// <summary>The batch on the device, its features as the network's float input.</summary>
    private Batch ToInput(Batch b)
    {
        var features = b.Features.to(_device);
        if (_scaling is not null) features = _scaling.Apply(features);
        return new Batch(features, b.Lengths?.to(_device), b.Labels.to(_device), b.Weights?.to(_device), b.Count);
    }

    public void Dispose()
    {
        _worker?.Dispose();
        _inner.Dispose();
    }
}

/// <summary>
/// A background thread that prepares the batches of one pass at a time (<see cref="BatchStream"/>), with one LibTorch
/// intra-op thread. It lives as long as the set it serves.
/// </summary>
internal sealed class BatchWorker : IDisposable
{
    private static int _live;
    private readonly BlockingCollection<BatchStream> _passes = new();
    private readonly Thread _thread;
    private BatchStream? _current;

    /// <summary>Worker threads alive in the process (for tests: every one ends when its set is disposed).</summary>
    internal static int Live => Volatile.Read(ref _live);

    public BatchWorker()
    {
        Interlocked.Increment(ref _live);
        _thread = TorchThreads.StartSingleThreaded(() =>
        {
            foreach (var pass in _passes.GetConsumingEnumerable()) pass.Run();
        }, "MLNetDeep batch preparation");
    }

    /// <summary>Starts preparing a pass's batches; null when the previous pass is still being read (then the caller prepares them).</summary>
    public BatchStream? TryStart(Func<IEnumerable<Batch>> batches, int depth, CancellationToken token)
    {
        if (_current is { Finished: false }) return null;
        _current = new BatchStream(batches, depth, token);
        _passes.Add(_current);
        return _current;
    }

    public void Dispose()
    {
        _current?.Dispose();
        _passes.CompleteAdding();
        _thread.Join();
        _passes.Dispose();
        Interlocked.Decrement(ref _live);
    }
}

/// <summary>
/// One pass's batches, prepared on the worker into a bounded queue. <see cref="Next"/> hands them over on the calling
/// thread (attached to its dispose scope); an exception on the worker is rethrown there, in order, with its stack;
/// cancellation (the run's token, or disposing this) stops the worker between batches.
/// </summary>
internal sealed class BatchStream : IDisposable
{
    private readonly Func<IEnumerable<Batch>> _batches;
    private readonly BlockingCollection<(Batch? Batch, ExceptionDispatchInfo? Error)> _queue;
    private readonly CancellationTokenSource _stop;
    private readonly CancellationToken _token;
    private readonly ManualResetEventSlim _ran = new();
    private bool _disposed;

    public BatchStream(Func<IEnumerable<Batch>> batches, int depth, CancellationToken token)
    {
        _batches = batches;
        _token = token;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(token);
        _queue = new(depth);
    }

    /// <summary>True once the consumer is done with this pass (disposed).</summary>
    public bool Finished => _disposed;

    /// <summary>The next batch (null at the end), attached to the calling thread's current dispose scope.</summary>
    public Batch? Next()
    {
        if (!_queue.TryTake(out var item, Timeout.Infinite, _token)) return null;
        item.Error?.Throw();
        var b = item.Batch!.Value;
        if (torch.CurrentDisposeScope is { } scope) scope.Attach(Tensors(b));
        return b;
    }

    /// <summary>On the worker: enumerates the pass into the queue until it ends, fails or is stopped.</summary>
    internal void Run()
    {
        var token = _stop.Token;
        try
        {
            using var e = _batches().GetEnumerator();
            while (!token.IsCancellationRequested)
            {
                Batch batch;
                using (var scope = NewDisposeScope())
                {
                    if (!e.MoveNext()) break;
                    batch = e.Current;
                    scope.Detach(Tensors(batch)); // the batch outlives the scope; what it took to make it does not
                }
                try { _queue.Add((batch, null), token); }
                catch (OperationCanceledException) { Free(batch); break; }
            }
        }
        catch (Exception error)
        {
            try { _queue.Add((null, ExceptionDispatchInfo.Capture(error)), token); }
            catch (OperationCanceledException) { } // nobody is waiting any more
        }
        finally
        {
            _queue.CompleteAdding();
            _ran.Set();
        }
    }

    private static IEnumerable<IDisposable> Tensors(Batch b)
    {
        yield return b.Features;
        if (b.Lengths is not null) yield return b.Lengths;
        yield return b.Labels;
        if (b.Weights is not null) yield return b.Weights;
    }

    private static void Free(Batch b)
    {
        foreach (var t in Tensors(b)) t.Dispose();
    }

    /// <summary>Stops the pass, frees the batches prepared that nobody took, and waits until the worker is done with it.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _stop.Cancel();
        while (_queue.TryTake(out var item)) if (item.Batch is Batch b) Free(b);
        _ran.Wait();
        while (_queue.TryTake(out var item)) if (item.Batch is Batch b) Free(b);
        _queue.Dispose();
        _stop.Dispose();
        _ran.Dispose();
    }
}
