using System.Runtime.InteropServices;

namespace Snn.Core.Native;

/// <summary>
/// Caps the instruction set of oneDNN (libtorch's convolution and batch-norm kernels on the CPU) at
/// AVX2 unless the user chose one. On the 2-core AMD EPYC machines this project runs on (AVX-512
/// with VNNI and BF16), libtorch 2.10's oneDNN AVX-512 kernels gave a small conv / batch-norm / ReLU
/// network gradients that differed from run to run with the same seed and, in about half of the
/// runs, were not finite after two SGD steps, single-threaded too (measured 2026-12-02, tests'
/// smallSpecBn on 512 Fashion-MNIST images; capped at AVX2: identical and finite in every run).
/// Capping ATen's own kernels (ATEN_CPU_CAPABILITY=avx2) did not help; capping oneDNN did.
/// </summary>
public static partial class OneDnnIsa
{
    /// <summary>The variable oneDNN reads once, at its first use, for its highest instruction set.</summary>
    public const string Variable = "DNNL_MAX_CPU_ISA";

    /// <summary>The newer spelling of <see cref="Variable"/>; either one set by the user wins.</summary>
    public const string NewVariable = "ONEDNN_MAX_CPU_ISA";

    /// <summary>The cap applied: oneDNN's name of the AVX2 instruction set.</summary>
    public const string Cap = "AVX2";

    /// <summary>
    /// Sets <see cref="Variable"/> = <see cref="Cap"/> in the process's native environment (where oneDNN
    /// reads it; .NET's Environment.SetEnvironmentVariable does not reach it on Unix) unless the user set
    /// <see cref="Variable"/> or <see cref="NewVariable"/> (set DNNL_MAX_CPU_ISA=ALL to lift the cap).
    /// Must run before the first convolution; a later call changes nothing oneDNN has already read.
    /// </summary>
    /// <returns>True when it set the cap, false when the user's setting stands or the OS is not Linux.</returns>
    public static bool CapUnlessSet()
    {
        if (!OperatingSystem.IsLinux()
            || Environment.GetEnvironmentVariable(Variable) is not null
            || Environment.GetEnvironmentVariable(NewVariable) is not null)
        {
            return false;
        }

        return SetEnv(Variable, Cap, 0) == 0;
    }

    /// <summary>
    /// Turns libtorch's NNPACK convolutions off (at::globalContext().setUserEnabledNNPACK(false)), when
    /// libtorch_cpu is loaded and exports both symbols; returns whether it did. With oneDNN capped, libtorch
    /// asks NNPACK for the float32 convolutions oneDNN took before, and NNPACK fails to start on these
    /// machines with one "Could not initialize NNPACK! Reason: Unsupported hardware" line per convolution
    /// (thousands in a test run); libtorch's own kernels compute them either way.
    /// </summary>
    public static unsafe bool DisableNnpack()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            var torchCpu = File.ReadLines("/proc/self/maps")
                .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(f => f.Length >= 6 && Path.GetFileName(f[5]).StartsWith("libtorch_cpu", StringComparison.Ordinal))
                .Select(f => f[5])
                .FirstOrDefault();
            if (torchCpu is null
                || !NativeLibrary.TryLoad(torchCpu, out var library)
                || !NativeLibrary.TryGetExport(library, "_ZN2at13globalContextEv", out var globalContext)
                || !NativeLibrary.TryGetExport(library, "_ZN2at7Context20setUserEnabledNNPACKEb", out var setEnabled))
            {
                return false;
            }

            var context = ((delegate* unmanaged<IntPtr>)globalContext)();
            ((delegate* unmanaged<IntPtr, byte, void>)setEnabled)(context, 0);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
