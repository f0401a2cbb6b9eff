using System.Globalization;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Snn.Core.Native;

/// <summary>
/// The devices a run can ask for, by name: <c>cpu</c>, <c>cuda</c> (the first GPU) or <c>cuda:N</c>.
/// <see cref="Resolve"/> parses a name and checks that this process can run on that device, so a run
/// that asks for a GPU the build cannot use fails at once, with the package it would need, rather than
/// inside libtorch after the data was read.
/// <para>
/// This toolkit references TorchSharp's CPU backend (the package TorchSharp-cpu). Running on an NVIDIA GPU
/// needs, in its place, <see cref="CudaPackageLinux"/> (which brings libtorch-cuda-12.8-linux-x64) or
/// <see cref="CudaPackageWindows"/>, of the same TorchSharp version, and a CUDA driver.
/// </para>
/// </summary>
public static class ComputeDevices
{
    /// <summary>The NuGet package of TorchSharp with libtorch's CUDA backend for Linux.</summary>
    public const string CudaPackageLinux = "TorchSharp-cuda-linux";

    /// <summary>The NuGet package of TorchSharp with libtorch's CUDA backend for Windows.</summary>
    public const string CudaPackageWindows = "TorchSharp-cuda-windows";

    private static readonly Lazy<bool> CudaBackend = new(LoadsCudaBackend);

    /// <summary>The CPU.</summary>
    public static Device Cpu { get; } = new(DeviceType.CPU);

    /// <summary>
    /// Whether libtorch's CUDA backend is present in this process's TorchSharp build (false with TorchSharp-cpu).
    /// Checked once, by looking for libtorch_cuda beside TorchSharp, without touching any GPU.
    /// </summary>
    public static bool HasCudaBackend => CudaBackend.Value;

    /// <summary>Parses a device name: <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c> (N &gt;= 0), case-insensitive.</summary>
    /// <param name="device">The name as a user wrote it, e.g. in <c>--device</c> or an experiment's <c>"device"</c>.</param>
    /// <exception cref="ArgumentException">Any other text, naming it and the accepted forms.</exception>
    public static Device Parse(string device)
    {
        var text = (device ?? "").Trim().ToLowerInvariant();
        if (text == "cpu")
        {
            return Cpu;
        }

        if (text == "cuda")
        {
            return new Device(DeviceType.CUDA, 0);
        }

        if (text.StartsWith("cuda:", StringComparison.Ordinal)
            && int.TryParse(text.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
        {
            return new Device(DeviceType.CUDA, index);
        }

        throw new ArgumentException($"device = \"{device}\" is not a device: expected cpu, cuda or cuda:N (N = 0, 1, ...)", nameof(device));
    }

    /// <summary>
    /// <see cref="Parse"/> then <see cref="EnsureAvailable"/>: the device, if this process can run on it.
    /// </summary>
    /// <param name="device">cpu, cuda or cuda:N.</param>
    /// <exception cref="ArgumentException">Not a device name, or a device this process cannot use (the message names the package a GPU needs).</exception>
    public static Device Resolve(string device)
    {
        var parsed = Parse(device);
        EnsureAvailable(parsed, nameof(device));
        return parsed;
    }

    /// <summary>
    /// Checks that tensors can be placed on <paramref name="device"/>: always for the CPU; for CUDA, only when the
    /// CUDA backend is present (<see cref="HasCudaBackend"/>), a driver finds a GPU, and the index is below the
    /// number of GPUs.
    /// </summary>
    /// <param name="device">The device.</param>
    /// <param name="name">The argument or setting named in the error (default "device").</param>
    /// <exception cref="ArgumentException">The device is not usable here, saying why and what would make it usable.</exception>
    public static void EnsureAvailable(Device device, string name = "device")
    {
        ArgumentNullException.ThrowIfNull(device);
        if (device.type == DeviceType.CPU)
        {
            return;
        }

        if (device.type != DeviceType.CUDA)
        {
            throw new ArgumentException($"{name} = {device} is not supported: expected cpu or cuda[:N]", name);
        }

        if (!HasCudaBackend)
        {
            throw new ArgumentException(
                $"{name} = {device} cannot be used: this build references TorchSharp's CPU backend only (TorchSharp-cpu). "
                + $"A GPU run needs the package {CudaPackageLinux} (it brings libtorch-cuda-12.8-linux-x64; on Windows {CudaPackageWindows}) "
                + "of the same TorchSharp version in place of TorchSharp-cpu, and an NVIDIA driver; or run with the device cpu",
                name);
        }

        if (!cuda.is_available())
        {
            throw new ArgumentException(
                $"{name} = {device} cannot be used: libtorch's CUDA backend is present but finds no GPU (check the NVIDIA driver and CUDA_VISIBLE_DEVICES); or run with the device cpu",
                name);
        }

        var count = cuda.device_count();
        if (device.index >= count)
        {
            throw new ArgumentException($"{name} = {device} is out of range: this machine has {count} GPU(s), cuda:0 to cuda:{count - 1}", name);
        }
    }

    /// <summary>
    /// Whether libtorch_cuda is among the native libraries beside TorchSharp (where the CUDA packages put it): a file
    /// check, so that asking loads no GPU library.
    /// </summary>
    private static bool LoadsCudaBackend()
    {
        var name = OperatingSystem.IsWindows() ? "torch_cuda.dll" : "libtorch_cuda.so";
        return new[] { AppContext.BaseDirectory, Path.GetDirectoryName(typeof(torch).Assembly.Location) ?? "" }
            .Where(d => d.Length > 0)
            .SelectMany(d => new[] { d, Path.Combine(d, "runtimes", RuntimeInformation.RuntimeIdentifier, "native") })
            .Any(d => File.Exists(Path.Combine(d, name)));
    }
}
