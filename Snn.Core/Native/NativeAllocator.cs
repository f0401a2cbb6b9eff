using System.Runtime.InteropServices;

namespace Snn.Core.Native;

/// <summary>
/// Tunes glibc's malloc, which backs libtorch's CPU tensors, so that the large buffers a training
/// step or a simulated time step frees are reused by the next one instead of going back to the
/// kernel and being faulted in (and zeroed) again.
/// <para>
/// By default glibc serves blocks above a dynamic threshold (128 KiB, raised up to 32 MiB as mapped
/// blocks are freed) with their own mmap, and returns heap memory above 2 x that threshold to the
/// kernel. Tensors of tens of MB then often come back as fresh pages: in one `snn bench` simulation
/// process the minor page faults varied from 0.8 to 2.5 million between identical runs, with the
/// time spent in the kernel (2.3 to 7.4 s) and the simulation time following them. This sets a fixed
/// mmap threshold of <see cref="MmapThreshold"/> (the largest glibc accepts) and a trim threshold of
/// <see cref="TrimThreshold"/>, applied once per process when Snn.Core loads, on Linux with glibc;
/// SNN_MALLOC=default leaves malloc untouched. The price is memory: up to the trim threshold of freed
/// heap stays with the process.
/// </para>
/// </summary>
public static class NativeAllocator
{
    /// <summary>Blocks of at most 32 MiB come from the heap (glibc's upper limit for M_MMAP_THRESHOLD on 64-bit).</summary>
    public const int MmapThreshold = 32 << 20;

    /// <summary>Free memory at the top of the heap is returned to the kernel only beyond 512 MiB.</summary>
    public const int TrimThreshold = 512 << 20;

    private const int MTrimThreshold = -1;
    private const int MMmapThreshold = -3;

    private static int configured;

    /// <summary>Whether <see cref="Configure"/> changed malloc's settings in this process.</summary>
    public static bool Tuned { get; private set; }

    /// <summary>
    /// Applies the settings once per process (later calls do nothing). Does nothing off Linux, when
    /// SNN_MALLOC=default, or when the C library has no mallopt (e.g. musl).
    /// </summary>
    public static void Configure()
    {
        if (Interlocked.Exchange(ref configured, 1) != 0
            || !OperatingSystem.IsLinux()
            || Environment.GetEnvironmentVariable("SNN_MALLOC") == "default")
        {
            return;
        }

        try
        {
            Tuned = mallopt(MMmapThreshold, MmapThreshold) == 1 & mallopt(MTrimThreshold, TrimThreshold) == 1;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            Tuned = false;
        }
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int mallopt(int param, int value);
}
