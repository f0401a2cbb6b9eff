using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Snn.Core.Native;

/// <summary>
/// A parallel loop for the raw-memory kernels (neuron scan, fused activations, error summary) that runs
/// on the same OpenMP thread team as libtorch's CPU operators, through <c>GOMP_parallel</c> of the
/// libgomp that libtorch itself loaded.
/// <para>
/// Why: after every parallel torch operator, libgomp's worker threads spin for a while waiting for the
/// next one. A .NET <see cref="Parallel"/> loop started right after a convolution therefore shares a
/// core with a spinning OpenMP thread on a machine with as many workers as cores, and the kernel runs at
/// about half speed until the spin ends (measured: on 2 cores, training the clip network with
/// OMP_WAIT_POLICY=PASSIVE lowered the clip / ReLU epoch ratio from 1.10 to 1.04, while every torch
/// operator got slower). Running the kernel on the team itself, as torch's own elementwise operators do,
/// removes the contention without slowing torch.
/// </para>
/// Where libgomp is not found (other platforms, other libtorch builds) the loop falls back to
/// <see cref="Parallel.For(int, int, ParallelOptions, Action{int})"/>. Work items are handed out one at a
/// time from a shared counter, so the results of a work item never depend on which thread ran it.
/// </summary>
public static unsafe class TorchThreads
{
    private static readonly delegate* unmanaged<delegate* unmanaged<IntPtr, void>, IntPtr, uint, uint, void> GompParallel = FindGompParallel();

    /// <summary>Whether the loop runs on libtorch's OpenMP team (false: the .NET thread pool).</summary>
    public static bool UsesTorchTeam => GompParallel != null;

    /// <summary>The workers a loop may use: the threads torch uses, at most the cores.</summary>
    public static int Workers => Math.Max(1, Math.Min(get_num_threads(), Environment.ProcessorCount));

    /// <summary>
    /// Runs <paramref name="body"/>(i) for i = 0 .. <paramref name="count"/> - 1, in parallel over at most
    /// <see cref="Workers"/> threads (inline when there is one worker or one item). The first exception
    /// thrown by a work item stops the hand-out of further items and is rethrown here.
    /// </summary>
    /// <param name="count">Work items, &gt;= 0.</param>
    /// <param name="body">The work item; must be safe to run concurrently for different i.</param>
    public static void For(int count, Action<int> body)
    {
        var workers = Math.Min(Workers, count);
        if (workers <= 1)
        {
            for (var i = 0; i < count; i++)
            {
                body(i);
            }

            return;
        }

        if (GompParallel == null)
        {
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = workers }, body);
            return;
        }

        var work = new Work(count, body);
        var handle = GCHandle.Alloc(work);
        try
        {
            GompParallel(&Worker, GCHandle.ToIntPtr(handle), (uint)workers, 0);
        }
        finally
        {
            handle.Free();
        }

        if (work.Error is { } error)
        {
            ExceptionDispatchInfoThrow(error);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ExceptionDispatchInfoThrow(Exception error) =>
        System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();

    /// <summary>The body every thread of the team runs: take items until none are left.</summary>
    [UnmanagedCallersOnly]
    private static void Worker(IntPtr data)
    {
        // Nothing may escape into native code: an exception here is recorded and ends the hand-out.
        try
        {
            var work = (Work)GCHandle.FromIntPtr(data).Target!;
            while (true)
            {
                var i = Interlocked.Increment(ref work.Next) - 1;
                if (i >= work.Count)
                {
                    return;
                }

                try
                {
                    work.Body(i);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref work.Error, e, null);
                    Volatile.Write(ref work.Next, work.Count);
                    return;
                }
            }
        }
        catch
        {
            // GCHandle misuse cannot happen here (the handle lives until GOMP_parallel returns).
        }
    }

    /// <summary>
    /// GOMP_parallel of the libgomp mapped into this process next to libtorch_cpu (found through
    /// /proc/self/maps, Linux only), or null.
    /// </summary>
    private static delegate* unmanaged<delegate* unmanaged<IntPtr, void>, IntPtr, uint, uint, void> FindGompParallel()
    {
        if (Environment.GetEnvironmentVariable("SNN_KERNEL_THREADS") == "dotnet" || !OperatingSystem.IsLinux())
        {
            return null;
        }

        try
        {
            // Make sure libtorch is loaded (any torch call does it), then look for it among the mapped files.
            _ = get_num_threads();
            var paths = File.ReadLines("/proc/self/maps")
                .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(f => f.Length >= 6)
                .Select(f => f[5])
                .Distinct()
                .ToList();
            var torchCpu = paths.FirstOrDefault(p => Path.GetFileName(p).StartsWith("libtorch_cpu", StringComparison.Ordinal));
            if (torchCpu is null || !NativeLibrary.TryLoad(torchCpu, out var library))
            {
                return null;
            }

            // dlsym on libtorch_cpu's handle searches its dependencies: the libgomp libtorch uses.
            return NativeLibrary.TryGetExport(library, "GOMP_parallel", out var address)
                ? (delegate* unmanaged<delegate* unmanaged<IntPtr, void>, IntPtr, uint, uint, void>)address
                : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DllNotFoundException or BadImageFormatException)
        {
            return null;
        }
    }

    private sealed class Work(int count, Action<int> body)
    {
        public readonly int Count = count;
        public readonly Action<int> Body = body;
        public int Next;
        public Exception? Error;
    }
}
