using TorchSharp;

namespace MLNetDeep.Runtime;

/// <summary>Where tensors live during training and scoring.</summary>
public enum ComputeDevice
{
    /// <summary>CUDA when TorchSharp reports it available, otherwise the CPU.</summary>
    Auto,
    /// <summary>The CPU (the tested path; same seed gives the same weights).</summary>
    Cpu,
    /// <summary>An NVIDIA GPU; needs a TorchSharp-cuda backend package in the application.</summary>
    Cuda,
}

internal static class DeviceResolver
{
    public static torch.Device Resolve(ComputeDevice requested)
    {
        TorchRuntime.EnsureLoaded();
        switch (requested)
        {
            case ComputeDevice.Cpu:
                return torch.CPU;
            case ComputeDevice.Auto:
                return CudaAvailable() ? torch.CUDA : torch.CPU;
            case ComputeDevice.Cuda:
                if (!CudaAvailable())
                    throw new InvalidOperationException(
                        "Device = ComputeDevice.Cuda was requested but TorchSharp reports no usable CUDA device. " +
                        "Reference TorchSharp-cuda-linux or TorchSharp-cuda-windows instead of TorchSharp-cpu in the application, " +
                        "check the NVIDIA driver, or use ComputeDevice.Auto / ComputeDevice.Cpu.");
                return torch.CUDA;
            default:
                throw new ArgumentOutOfRangeException(nameof(requested), requested, "Unknown ComputeDevice.");
        }
    }

    private static bool CudaAvailable()
    {
        try { return torch.cuda.is_available(); }
        catch (Exception) { return false; }
    }
}
