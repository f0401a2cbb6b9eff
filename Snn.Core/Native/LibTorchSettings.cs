using System.Runtime.InteropServices;

namespace Snn.Core.Native;

/// <summary>
/// Process-wide libtorch settings that Snn.Core makes once libtorch is loaded (Linux only), through
/// symbols libtorch exports:
/// <list type="bullet">
/// <item><b>Zero-filled CPU allocations</b> (c10's flag <c>caffe2_cpu_allocator_do_zero_fill</c>). libtorch
/// 2.10 hands float32 convolutions to oneDNN, which stores channels in blocks of 8 (AVX2) or 16 (AVX-512)
/// and pads a channel count that is not a multiple of the block. Its convolutions read that padding in
/// buffers libtorch allocates without initialising them, so whatever the memory held before reaches the
/// gradients of the layers below. Measured on this project's machines (AMD EPYC, AVX-512): a network with
/// 4-channel convolutions (the tests' smallSpecBn) got non-finite gradients in 30 of 106 fresh runs of the CLI (oneDNN at AVX2)
/// under load, and in every run when libtorch filled each new allocation with NaN junk
/// (<c>caffe2_cpu_allocator_do_junk_fill</c>); with zero fill, in none, at either instruction set. The bench
/// network (fmnist-vgg: 32 to 128 channels after a 1-channel input) was not affected. Zeros are
/// what the padding must hold. The fill costs a memset per allocation: the bench network's training step
/// took 118 to 145 ms against 102 to 110 ms without it (AVX-512, idle, 2 cores, three runs each). <c>SNN_ZERO_FILL=0</c> opts out.</item>
/// <item><b>NNPACK off</b> (<c>at::globalContext().setUserEnabledNNPACK(false)</c>): where oneDNN does not take a
/// convolution libtorch asks NNPACK, which cannot start on these machines and prints "Could not initialize
/// NNPACK! Reason: Unsupported hardware" once per convolution; libtorch's own kernels compute it instead.</item>
/// </list>
/// </summary>
public static class LibTorchSettings
{
    /// <summary>The environment variable that opts out of zero-filled allocations when set to 0.</summary>
    public const string ZeroFillVariable = "SNN_ZERO_FILL";

    /// <summary>c10's flag: memset every new CPU allocation to zero.</summary>
    public const string ZeroFillFlag = "FLAGS_caffe2_cpu_allocator_do_zero_fill";

    /// <summary>c10's flag: fill every new CPU allocation with a NaN pattern (used by the tests to expose reads of uninitialised memory).</summary>
    public const string JunkFillFlag = "FLAGS_caffe2_cpu_allocator_do_junk_fill";

    private static int _applied;

    /// <summary>Whether <see cref="Apply"/> turned zero fill on in this process.</summary>
    public static bool ZeroFillApplied { get; private set; }

    /// <summary>Whether <see cref="Apply"/> turned NNPACK off in this process.</summary>
    public static bool NnpackDisabled { get; private set; }

    /// <summary>
    /// Turns zero fill on (unless <see cref="ZeroFillVariable"/> is 0) and NNPACK off, once per process;
    /// later calls do nothing. Loads libtorch if it is not loaded yet (after <see cref="TorchNativeLibraries.Preload"/>).
    /// Where a library or symbol is not found (other platforms or libtorch builds) the setting is skipped.
    /// </summary>
    public static void Apply()
    {
        if (Interlocked.Exchange(ref _applied, 1) != 0 || !OperatingSystem.IsLinux() || !LibTorchLoaded())
        {
            return;
        }

        if (Environment.GetEnvironmentVariable(ZeroFillVariable) != "0")
        {
            ZeroFillApplied = SetAllocatorFlag(ZeroFillFlag, true);
        }

        NnpackDisabled = DisableNnpack();
    }

    /// <summary>
    /// Makes TorchSharp load libtorch (any torch call does) unless <see cref="TorchNativeLibraries.Preload"/>
    /// already did; false where that fails (TorchSharp then reports the failure when a tensor is first made).
    /// </summary>
    private static bool LibTorchLoaded()
    {
        try
        {
            _ = TorchSharp.torch.get_num_threads();
            return true;
        }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or NotSupportedException)
        {
            return false;
        }
    }

    /// <summary>The value of one of c10's allocator flags (<see cref="ZeroFillFlag"/>, <see cref="JunkFillFlag"/>), or null where it cannot be found.</summary>
    /// <param name="flag">The exported name of a bool flag of libc10.</param>
    public static bool? AllocatorFlag(string flag) =>
        FlagAddress(flag) is { } address ? Marshal.ReadByte(address) != 0 : null;

    /// <summary>
    /// Sets one of c10's allocator flags for every later CPU allocation in this process; returns false where
    /// it cannot be found. Process-wide: tests that change it must not run beside others.
    /// </summary>
    /// <param name="flag">The exported name of a bool flag of libc10.</param>
    /// <param name="value">The new value.</param>
    public static bool SetAllocatorFlag(string flag, bool value)
    {
        if (FlagAddress(flag) is not { } address)
        {
            return false;
        }

        Marshal.WriteByte(address, value ? (byte)1 : (byte)0);
        return true;
    }

    private static nint? FlagAddress(string flag) => Export(Library("libc10.so", exact: true), flag);

    private static unsafe bool DisableNnpack()
    {
        var torchCpu = Library("libtorch_cpu", exact: false);
        if (Export(torchCpu, "_ZN2at13globalContextEv") is not { } globalContext
            || Export(torchCpu, "_ZN2at7Context20setUserEnabledNNPACKEb") is not { } setEnabled)
        {
            return false;
        }

        var context = ((delegate* unmanaged<IntPtr>)globalContext)();
        ((delegate* unmanaged<IntPtr, byte, void>)setEnabled)(context, 0);
        return true;
    }

    /// <summary>
    /// The handle of the mapped library whose file name is <paramref name="name"/> (or starts with it, unless
    /// <paramref name="exact"/>), from <see cref="TorchNativeLibraries.MappedFiles"/>; null where none is mapped.
    /// </summary>
    private static nint? Library(string name, bool exact)
    {
        var path = TorchNativeLibraries.MappedFiles()
            .FirstOrDefault(p => exact ? Path.GetFileName(p) == name : Path.GetFileName(p).StartsWith(name, StringComparison.Ordinal));
        return path is not null && NativeLibrary.TryLoad(path, out var handle) ? handle : null;
    }

    private static nint? Export(nint? library, string symbol) =>
        library is { } handle && NativeLibrary.TryGetExport(handle, symbol, out var address) ? address : null;
}
