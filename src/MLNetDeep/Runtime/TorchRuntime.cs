using System.Runtime.InteropServices;
using TorchSharp;

namespace MLNetDeep.Runtime;

/// <summary>
/// Loads LibTorch once and turns TorchSharp's load failures into an exception that names the real
/// cause and the fix (TorchSharp itself reports a missing backend package even when the backend is
/// present but its native dependencies are not).
/// </summary>
public static class TorchRuntime
{
    private static readonly object Gate = new();
    private static bool _loaded;

    /// <summary>The libstdc++ symbol version TorchSharp 0.107's native library needs.</summary>
    internal const string RequiredGlibcxx = "GLIBCXX_3.4.32";

    /// <summary>Initialises LibTorch for the CPU (and tunes glibc's malloc for it: see <see cref="NativeAllocator"/>); throws <see cref="TorchBackendException"/> with the cause and fix.</summary>
    public static void EnsureLoaded()
    {
        if (_loaded) return;
        lock (Gate)
        {
            if (_loaded) return;
            NativeAllocator.TuneOnce();
            try
            {
                torch.InitializeDeviceType(DeviceType.CPU);
            }
            catch (Exception e) when (e is not TorchBackendException)
            {
                throw new TorchBackendException(Diagnose(e, FindLibStdCxx()), e);
            }
            _loaded = true;
        }
    }

    /// <summary>Builds the message for a LibTorch load failure. Public for tests.</summary>
    internal static string Diagnose(Exception failure, string? libStdCxxPath)
    {
        if (RuntimeInformation.IsOSPlatform(OSPlatform.Linux) && libStdCxxPath is not null
            && File.Exists(libStdCxxPath) && !FileContains(libStdCxxPath, RequiredGlibcxx))
        {
            return $"TorchSharp could not load LibTorch because the system C++ runtime is too old: {libStdCxxPath} " +
                   $"lacks {RequiredGlibcxx} (TorchSharp 0.107 needs the libstdc++ of GCC 13 or newer). " +
                   "On Debian 12 run scripts/setup.sh from the MLNetDeep repository (it installs Debian 13's libstdc++6), " +
                   "or use Ubuntu 24.04 / Debian 13, which need nothing. " +
                   $"TorchSharp's own message was: {failure.Message}";
        }
        return "TorchSharp could not load LibTorch. The application must reference one LibTorch backend package: " +
               "TorchSharp-cpu for CPU, or TorchSharp-cuda-linux / TorchSharp-cuda-windows for NVIDIA GPUs " +
               "(the MLNetDeep library itself references only the managed TorchSharp bindings). " +
               $"TorchSharp's own message was: {failure.Message}";
    }

    internal static string? FindLibStdCxx()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux)) return null;
        string[] candidates =
        {
            "/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/lib/aarch64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
        };
        return candidates.FirstOrDefault(File.Exists);
    }

    internal static bool FileContains(string path, string ascii)
    {
        byte[] needle = System.Text.Encoding.ASCII.GetBytes(ascii);
        byte[] bytes = File.ReadAllBytes(path);
        return bytes.AsSpan().IndexOf(needle) >= 0;
    }
}

/// <summary>LibTorch could not be loaded; the message says why and how to fix it.</summary>
public sealed class TorchBackendException : Exception
{
    internal TorchBackendException(string message, Exception inner) : base(message, inner) { }
}
