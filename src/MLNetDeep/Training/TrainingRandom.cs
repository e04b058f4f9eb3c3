using TorchSharp;
using static TorchSharp.torch;

namespace MLNetDeep.Training;

/// <summary>
/// One training run's own stream of torch random numbers. LibTorch's CPU generator is one per process, and weight
/// initialisation, dropout and augmentation draw from it; two fits running at once would interleave their draws and
/// get different weights than alone. Work that draws runs inside <see cref="Use{T}"/>, which puts this run's generator
/// state into the process generator under a process-wide lock (only when another run used it last) and keeps it there
/// until another run needs the generator, so concurrent fits each see exactly the stream a sequential fit sees.
/// </summary>
internal sealed class TrainingRandom : IDisposable
{
    private static readonly object Gate = new();
    private static TrainingRandom? _installed; // whose state the process generator holds now
    private byte[] _state;

    public TrainingRandom(int seed)
    {
        lock (Gate)
        {
            Evict();
            random.manual_seed(seed);
            _state = ReadGlobal();
        }
    }

    /// <summary>Runs <paramref name="work"/> with this run's generator state in the process generator.</summary>
    public T Use<T>(Func<T> work)
    {
        lock (Gate)
        {
            Install();
            return work();
        }
    }

    /// <summary>Runs <paramref name="work"/> with this run's generator state in the process generator.</summary>
    public void Use(Action work)
    {
        lock (Gate)
        {
            Install();
            work();
        }
    }

    /// <summary>A copy of the run's generator state (for checkpoints).</summary>
    public byte[] GetState()
    {
        lock (Gate)
        {
            if (ReferenceEquals(_installed, this)) _state = ReadGlobal();
            return _state.ToArray();
        }
    }

    /// <summary>Size in bytes of a generator state (what <see cref="SetState"/> accepts).</summary>
    public int StateSize { get { lock (Gate) return _state.Length; } }

    /// <summary>Puts back a state from <see cref="GetState"/>; refuses one of the wrong size before LibTorch sees it.</summary>
    public void SetState(byte[] state)
    {
        lock (Gate)
        {
            if (state.Length != _state.Length)
                throw new InvalidDataException($"A random-generator state has {state.Length} bytes; LibTorch's CPU generator state has {_state.Length}.");
            _state = state.ToArray();
            if (ReferenceEquals(_installed, this)) WriteGlobal(_state);
        }
    }

    private void Install()
    {
        if (ReferenceEquals(_installed, this)) return;
        Evict();
        WriteGlobal(_state);
        _installed = this;
    }

    /// <summary>Takes the process generator's state back into the run that installed it.</summary>
    private static void Evict()
    {
        if (_installed is { } owner) owner._state = ReadGlobal();
        _installed = null;
    }

    private static byte[] ReadGlobal()
    {
        using var t = random.get_rng_state();
        return t.data<byte>().ToArray();
    }

    private static void WriteGlobal(byte[] state)
    {
        using var t = tensor(state, dtype: ScalarType.Byte);
        random.set_rng_state(t);
    }

    public void Dispose()
    {
        lock (Gate)
        {
            if (ReferenceEquals(_installed, this)) _installed = null;
        }
    }
}
